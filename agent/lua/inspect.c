/*
** inspect.c
** xsbug views of a stopped Lua VM: <frames>, <local> (locals and upvalues
** of the selected frame) and <global>, as <property> trees. Raw access
** only: no metamethod runs and no number is converted in place.
*/
#include "alua.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAX_FRAMES 1000     /* frames listed */
#define MAX_PROPS 20000     /* properties in one reply */
#define MAX_CHILDREN 1000   /* properties shown under one object */
#define MAX_DEPTH 24        /* nested expansions */
#define MAX_STRING 1024     /* bytes of a string value shown */
#define MAX_KEY 256         /* bytes of a key shown */

typedef struct view {
  lua_State *L;
  const adbg *d;
  wire_buf *out;
  wire_buf tmp;                      /* a quoted string value */
  size_t props;
  int depth;
  const void *open[MAX_DEPTH + 1];   /* objects being expanded, outermost */
  char names[MAX_DEPTH + 1][64];     /* first, for xsbug's cycle paths */
} view;

const char *alua_source_path(const lua_Debug *ar, size_t *len) {
  if (ar->source && (ar->source[0] == '@' || ar->source[0] == '=')) {
    *len = ar->srclen - 1;
    return ar->source + 1;
  }
  *len = strlen(ar->short_src);
  return ar->short_src;
}

static void format_number(lua_State *L, int idx, char *buf, size_t n) {
  if (lua_isinteger(L, idx)) {
    snprintf(buf, n, "%" PRId64, (int64_t)lua_tointeger(L, idx));
  } else {
    double v = (double)lua_tonumber(L, idx);
    snprintf(buf, n, "%.14g", v);
    if (buf[strspn(buf, "-0123456789")] == '\0')   /* looks like an int */
      strncat(buf, ".0", n - strlen(buf) - 1);
  }
}

static void id_text(const void *p, char out[18]) {
  acmd_format_id((uint64_t)(uintptr_t)p, out);
}

/* The name a table key is shown under. Numbers are formatted, never
** converted in place (that would break lua_next). */
static void key_name(lua_State *L, int idx, char *buf, size_t n,
                     const char **name, size_t *len) {
  char num[64];
  switch (lua_type(L, idx)) {
  case LUA_TSTRING:
    *name = lua_tolstring(L, idx, len);
    if (*len > MAX_KEY) *len = MAX_KEY;
    return;
  case LUA_TNUMBER:
    format_number(L, idx, num, sizeof num);
    snprintf(buf, n, "[%s]", num);
    break;
  case LUA_TBOOLEAN:
    snprintf(buf, n, "[%s]", lua_toboolean(L, idx) ? "true" : "false");
    break;
  default: {
    char id[18];
    id_text(lua_topointer(L, idx), id);
    snprintf(buf, n, "[%s %s]", lua_typename(L, lua_type(L, idx)), id);
  }
  }
  *name = buf;
  *len = strlen(buf);
}

static void prop_open(view *v, char flag, const char *name, size_t nlen) {
  char flags[4] = { flag, ' ', ' ', '\0' };
  wire_open(v->out, "property");
  wire_attr_str(v->out, "flags", flags);
  wire_attr(v->out, "name", name, nlen);
}

static void prop_scalar(view *v, const char *name, size_t nlen,
                        const char *value, size_t vlen) {
  v->props++;
  prop_open(v, ' ', name, nlen);
  wire_attr(v->out, "value", value, vlen);
  wire_empty_end(v->out);
}

static void write_value(view *v, const char *name, size_t nlen, int idx);

static void write_more(view *v, size_t shown, size_t total) {
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%zu of %zu shown", shown, total);
  prop_scalar(v, "(more)", 6, buf, (size_t)n);
}

static void table_children(view *v, int t) {
  lua_State *L = v->L;
  size_t shown = 0, total = 0;
  t = lua_absindex(L, t);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    total++;
    if (shown < MAX_CHILDREN && v->props < MAX_PROPS) {
      char buf[96];
      const char *name;
      size_t len;
      key_name(L, -2, buf, sizeof buf, &name, &len);
      write_value(v, name, len, -1);
      shown++;
    }
    lua_pop(L, 1);
  }
  if (shown < total) write_more(v, shown, total);
  if (lua_getmetatable(L, t)) {
    write_value(v, "(metatable)", 11, -1);
    lua_pop(L, 1);
  }
}

static void function_children(view *v, int f) {
  lua_State *L = v->L;
  lua_Debug ar;
  const char *name;
  int i;
  char buf[600];
  f = lua_absindex(L, f);
  for (i = 1; (name = lua_getupvalue(L, f, i)) != NULL; i++) {
    if (*name == '\0') {
      snprintf(buf, sizeof buf, "(upvalue %d)", i);
      name = buf;
    }
    if (v->props < MAX_PROPS) write_value(v, name, strlen(name), -1);
    lua_pop(L, 1);
  }
  lua_pushvalue(L, f);
  lua_getinfo(L, ">S", &ar);
  if (ar.what[0] == 'C') {
    prop_scalar(v, "(source)", 8, "C", 1);
  } else {
    size_t len;
    const char *src = alua_source_path(&ar, &len);
    int n = snprintf(buf, sizeof buf, "%.*s:%d", (int)(len > 512 ? 512 : len),
                     src, ar.linedefined);
    prop_scalar(v, "(source)", 8, buf, (size_t)n);
  }
}

static void userdata_children(view *v, int u) {
  lua_State *L = v->L;
  char buf[64];
  int i, n;
  u = lua_absindex(L, u);
  n = snprintf(buf, sizeof buf, "%zu", (size_t)lua_rawlen(L, u));
  prop_scalar(v, "(size)", 6, buf, (size_t)n);
  if (lua_getmetatable(L, u)) {
    write_value(v, "(metatable)", 11, -1);
    lua_pop(L, 1);
  }
  for (i = 1; i <= 255 && lua_getiuservalue(L, u, i) != LUA_TNONE; i++) {
    n = snprintf(buf, sizeof buf, "(uservalue %d)", i);
    write_value(v, buf, (size_t)n, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);                      /* the LUA_TNONE getiuservalue pushed */
}

static const char *thread_status(view *v, lua_State *co) {
  lua_Debug ar;
  if (co == v->L) return "running";
  switch (lua_status(co)) {
  case LUA_YIELD: return "suspended";
  case LUA_OK:
    if (lua_getstack(co, 0, &ar)) return "normal";
    return lua_gettop(co) == 0 ? "dead" : "suspended";
  default: return "dead";
  }
}

/* xsbug shows an object met again inside its own expansion by the path of
** names that leads to it, instead of expanding it forever. */
static int cycle_path(view *v, const void *p, char *buf, size_t n) {
  int i, j;
  size_t len = 0;
  for (i = 0; i < v->depth; i++)
    if (v->open[i] == p) break;
  if (i == v->depth) return 0;
  buf[0] = '\0';
  for (j = 0; j <= i && len + 2 < n; j++) {
    int w = snprintf(buf + len, n - len, "%s%s", j ? "." : "", v->names[j]);
    if (w < 0) break;
    len += (size_t)w;
  }
  return 1;
}

static void write_object(view *v, const char *name, size_t nlen, int idx) {
  lua_State *L = v->L;
  const void *p = lua_topointer(L, idx);
  char id[18], path[512];
  int t = lua_type(L, idx);
  id_text(p, id);
  if (cycle_path(v, p, path, sizeof path)) {
    prop_scalar(v, name, nlen, path, strlen(path));
    return;
  }
  if (!adbg_expanded(v->d, (uint64_t)(uintptr_t)p) || v->depth >= MAX_DEPTH ||
      !lua_checkstack(L, 8)) {
    v->props++;
    prop_open(v, '+', name, nlen);
    wire_attr_str(v->out, "value", id);
    wire_empty_end(v->out);
    return;
  }
  v->props++;
  prop_open(v, '-', name, nlen);
  wire_attr_str(v->out, "value", id);
  wire_open_end(v->out);
  v->open[v->depth] = p;
  snprintf(v->names[v->depth], sizeof v->names[0], "%.*s",
           (int)(nlen > 63 ? 63 : nlen), name);
  v->depth++;
  idx = lua_absindex(L, idx);
  if (t == LUA_TTABLE) table_children(v, idx);
  else if (t == LUA_TFUNCTION) function_children(v, idx);
  else if (t == LUA_TUSERDATA) userdata_children(v, idx);
  else if (t == LUA_TTHREAD) {
    const char *st = thread_status(v, lua_tothread(L, idx));
    prop_scalar(v, "(status)", 8, st, strlen(st));
  }
  v->depth--;
  wire_close(v->out, "property");
}

static void write_value(view *v, const char *name, size_t nlen, int idx) {
  lua_State *L = v->L;
  char buf[64];
  if (v->props >= MAX_PROPS) return;
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    prop_scalar(v, name, nlen, "nil", 3);
    break;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx)) prop_scalar(v, name, nlen, "true", 4);
    else prop_scalar(v, name, nlen, "false", 5);
    break;
  case LUA_TNUMBER:
    format_number(L, idx, buf, sizeof buf);
    prop_scalar(v, name, nlen, buf, strlen(buf));
    break;
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    int cut = len > MAX_STRING;
    /* quoted, as xsbug shows strings; a cut one ends with an ellipsis */
    wire_buf_reset(&v->tmp);
    wire_buf_put(&v->tmp, "'", 1);
    wire_buf_put(&v->tmp, s, cut ? MAX_STRING : len);
    wire_buf_puts(&v->tmp, cut ? "\xe2\x80\xa6'" : "'");
    prop_scalar(v, name, nlen, v->tmp.data, v->tmp.len);
    break;
  }
  case LUA_TLIGHTUSERDATA: {
    int n = snprintf(buf, sizeof buf, "lightuserdata %p",
                     lua_touserdata(L, idx));
    prop_scalar(v, name, nlen, buf, (size_t)n);
    break;
  }
  default:
    write_object(v, name, nlen, idx);
  }
}

static void view_init(view *v, amber_agent *a, lua_State *L, wire_buf *out) {
  memset(v, 0, sizeof *v);
  v->L = L;
  v->d = &a->dbg;
  v->out = out;
  wire_buf_init(&v->tmp);
}

/* How a frame is named: as Lua's traceback names it. */
static void frame_name(lua_Debug *ar, char *buf, size_t n) {
  size_t len;
  const char *src;
  if (ar->name) {
    snprintf(buf, n, "%s", ar->name);
  } else if (ar->what[0] == 'm') {
    snprintf(buf, n, "main chunk");
  } else if (ar->what[0] == 'C') {
    snprintf(buf, n, "(C function)");
  } else {
    src = alua_source_path(ar, &len);
    snprintf(buf, n, "function <%.*s:%d>", (int)(len > 200 ? 200 : len), src,
             ar->linedefined);
  }
}

static void frame_attrs(wire_buf *out, lua_Debug *ar, int id) {
  char name[300], idtext[18];
  frame_name(ar, name, sizeof name);
  acmd_format_id((uint64_t)id, idtext);
  wire_attr_str(out, "name", name);
  wire_attr_str(out, "value", idtext);
  if (ar->currentline > 0) {
    size_t len;
    const char *path = alua_source_path(ar, &len);
    wire_attr(out, "path", path, len);
    wire_attr_i64(out, "line", ar->currentline);
  }
}

void alua_view_frames(amber_agent *a, wire_buf *out) {
  lua_State *L = a->park_L;
  lua_Debug ar;
  int level;
  wire_msg_begin(out);
  wire_open(out, "frames");
  wire_open_end(out);
  for (level = a->park_base; L && level - a->park_base < MAX_FRAMES &&
                             lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "nSl", &ar);
    wire_open(out, "frame");
    frame_attrs(out, &ar, level - a->park_base + 1);
    wire_empty_end(out);
  }
  wire_close(out, "frames");
  wire_msg_end(out);
}

int alua_view_select(amber_agent *a, uint64_t id) {
  lua_Debug ar;
  if (a->park_L == NULL || id < 1 || id > MAX_FRAMES) return -1;
  if (!lua_getstack(a->park_L, a->park_base + (int)id - 1, &ar)) return -1;
  a->park_sel = a->park_base + (int)id - 1;
  return 0;
}

void alua_view_local(amber_agent *a, wire_buf *out) {
  lua_State *L = a->park_L;
  lua_Debug ar;
  view v;
  const char *name;
  int i;
  wire_msg_begin(out);
  wire_open(out, "local");
  if (L == NULL || !lua_getstack(L, a->park_sel, &ar) ||
      !lua_checkstack(L, 8)) {
    wire_empty_end(out);
    wire_msg_end(out);
    return;
  }
  lua_getinfo(L, "nSlf", &ar);        /* pushes the frame's function */
  frame_attrs(out, &ar, a->park_sel - a->park_base + 1);
  wire_open_end(out);
  view_init(&v, a, L, out);
  for (i = 1; (name = lua_getlocal(L, &ar, i)) != NULL; i++) {
    if (name[0] != '(') write_value(&v, name, strlen(name), -1);
    lua_pop(L, 1);
  }
  for (i = 1; (name = lua_getlocal(L, &ar, -i)) != NULL; i++) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "(vararg %d)", i);
    write_value(&v, buf, (size_t)n, -1);
    lua_pop(L, 1);
  }
  for (i = 1; (name = lua_getupvalue(L, -1, i)) != NULL; i++) {
    char buf[32];
    if (*name == '\0') {
      snprintf(buf, sizeof buf, "(upvalue %d)", i);
      name = buf;
    }
    write_value(&v, name, strlen(name), -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  wire_buf_free(&v.tmp);
  wire_close(out, "local");
  wire_msg_end(out);
}

void alua_view_global(amber_agent *a, wire_buf *out) {
  lua_State *L = a->park_L ? a->park_L : a->L;
  view v;
  wire_msg_begin(out);
  wire_open(out, "global");
  wire_open_end(out);
  if (lua_checkstack(L, 8)) {
    view_init(&v, a, L, out);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    if (lua_type(L, -1) == LUA_TTABLE) {
      v.open[0] = lua_topointer(L, -1);
      snprintf(v.names[0], sizeof v.names[0], "_G");
      v.depth = 1;
      table_children(&v, -1);
    }
    lua_pop(L, 1);
    wire_buf_free(&v.tmp);
  }
  wire_close(out, "global");
  wire_msg_end(out);
}
