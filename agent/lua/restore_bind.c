/*
** restore_bind.c
** Restore meets the fresh VM: which snapshot nodes are the fresh VM's own
** objects, exits resolved by name, and the roots rebound at the end.
*/
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include "restore.h"

#define ANY_TABLE 1   /* aux of a fresh table whose sub-tables are the host's */

static const char *const fixed_roots[] = {
  "globals", "registry", "loaded", "stack", "threads"
};

static int no_op(lua_State *L)
{
  (void)L;
  return 0;
}

/* Push a value of the type a "metatable:TYPE" root names; 0 if none. */
static int push_typed(lua_State *L, const char *name, size_t len)
{
  static const char *const types[] = {
    "nil", "boolean", "lightuserdata", "number", "string", "function",
    "thread"
  };
  if (len <= 10 || memcmp(name, "metatable:", 10) != 0) return 0;
  name += 10;
  len -= 10;
  for (int t = 0; t < 7; t++) {
    if (len != strlen(types[t]) || memcmp(name, types[t], len) != 0) continue;
    switch (t) {
    case 0: lua_pushnil(L); break;
    case 1: lua_pushboolean(L, 0); break;
    case 2: lua_pushlightuserdata(L, NULL); break;
    case 3: lua_pushinteger(L, 0); break;
    case 4: lua_pushliteral(L, ""); break;
    case 5: lua_pushcfunction(L, no_op); break;
    default: lua_pushthread(L); break;
    }
    return 1;
  }
  return 0;
}

static uint64_t ref_of(const alua_gedge *e)
{
  return e && e->vtype == WIRE_V_REF ? e->val.ref : ALUA_NO_NODE;
}

static uint64_t kind_or_none(const alua_build *b, uint64_t id, uint8_t kind)
{
  return id != ALUA_NO_NODE && b->g->nodes[id].kind == kind ? id
                                                            : ALUA_NO_NODE;
}

static const alua_gedge *index_edge(const alua_build *b, uint64_t id,
                                    int64_t i)
{
  const alua_gnode *n = &b->g->nodes[id];
  const alua_gedge *e = b->g->edges + n->edge0;
  for (uint32_t k = 0; k < n->nedges; k++, e++)
    if (e->kind == ALUA_E_INDEX && e->key.i == i) return e;
  return NULL;
}

/* Make node id stand for the object on top of the stack (popped), unless
** another node already does: one fresh object has one meaning. */
static int map_fresh(alua_build *b, uint64_t id)
{
  lua_State *L = b->L;
  if (id == ALUA_NO_NODE || b->role[id] == ALUA_ROLE_FRESH) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushvalue(L, -1);
  if (lua_rawget(L, b->images) != LUA_TNIL) {
    lua_pop(L, 2);
    return 0;
  }
  lua_pop(L, 1);
  lua_pushvalue(L, -1);
  lua_pushboolean(L, 1);
  lua_rawset(L, b->images);
  lua_rawseti(L, b->objs, (lua_Integer)id + 1);
  b->role[id] = ALUA_ROLE_FRESH;
  return 1;
}

/* A host library: a table of C functions (and data), no Lua function. */
static int is_host_lib(lua_State *L, int t)
{
  int cfuncs = 0;
  t = lua_absindex(L, t);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -1) == LUA_TFUNCTION) {
      if (!lua_iscfunction(L, -1)) {
        lua_pop(L, 2);
        return 0;
      }
      cfuncs++;
    }
    lua_pop(L, 1);
  }
  return cfuncs > 0;
}

/* Append id to the queue table at stack index q. */
static void enqueue(lua_State *L, int q, uint64_t id)
{
  lua_pushinteger(L, (lua_Integer)id);
  lua_rawseti(L, q, (lua_Integer)lua_rawlen(L, q) + 1);
}

/* The fresh object on top of the stack (popped) stands for node id: its
** metatable stands for the node's metatable, and is queued. */
static void map_metatable(alua_build *b, uint64_t id, int q)
{
  lua_State *L = b->L;
  const alua_gedge *e = alua_build_edge(b, id, ALUA_E_METATABLE, NULL);
  uint64_t v = kind_or_none(b, ref_of(e), ALUA_N_TABLE);
  if (v != ALUA_NO_NODE && b->role[v] == ALUA_ROLE_NEW &&
      lua_getmetatable(L, -1) && map_fresh(b, v)) {
    b->aux[v] = ANY_TABLE;
    enqueue(L, q, v);
  }
  lua_pop(L, 1);
}

/* Map the tables and userdata under a fresh table to the fresh VM's own,
** by field name: the registry's and a host library's sub-tables always,
** the globals' and package.loaded's only when they are host libraries.
** Tables mapped here are appended to the queue table at stack index q. */
static void map_children(alua_build *b, uint64_t id, int q)
{
  lua_State *L = b->L;
  const alua_gnode *n = &b->g->nodes[id];
  const alua_gedge *e = b->g->edges + n->edge0;
  alua_build_push(b, id);
  int f = lua_gettop(L);
  for (uint32_t i = 0; i < n->nedges; i++, e++) {
    uint64_t v = ref_of(e);
    if (v == ALUA_NO_NODE || b->role[v] != ALUA_ROLE_NEW) continue;
    uint8_t vk = b->g->nodes[v].kind;
    if (e->kind == ALUA_E_METATABLE) {
      /* A host table's metatable is the host's too (_CLIBS's __gc). */
      lua_pushvalue(L, f);
      map_metatable(b, id, q);
      continue;
    }
    if (e->kind != ALUA_E_FIELD) continue;
    if (vk != ALUA_N_TABLE && vk != ALUA_N_USERDATA) continue;
    size_t len;
    const char *s = alua_graph_ename(b->g, e, &len);
    lua_pushlstring(L, s, len);
    int t = lua_rawget(L, f);
    int ok = vk == ALUA_N_USERDATA ? t == LUA_TUSERDATA
           : t == LUA_TTABLE &&
             (b->aux[id] == ANY_TABLE || is_host_lib(L, -1));
    if (!ok) {
      lua_pop(L, 1);
      continue;
    }
    if (vk == ALUA_N_USERDATA) {
      /* io.stdout's metatable is the fresh io library's. */
      lua_pushvalue(L, -1);
      if (map_fresh(b, v)) map_metatable(b, v, q);
      else lua_pop(L, 1);
    } else if (map_fresh(b, v)) {
      b->aux[v] = ANY_TABLE;
      enqueue(L, q, v);
    }
  }
  lua_settop(L, f - 1);
}

/* Whether the C function at fi has the upvalues C node id has: each a
** scalar equal to it, a string with its bytes, or the fresh object a fresh
** node stands for. Anything else is state only the snapshot had. */
static int same_upvalues(alua_build *b, uint64_t id, int fi)
{
  lua_State *L = b->L;
  const alua_gnode *n = &b->g->nodes[id];
  const alua_gedge *e = b->g->edges + n->edge0;
  int ok = 1;
  for (uint32_t i = 0; i < n->nedges && ok; i++, e++) {
    if (e->kind != ALUA_E_UPVALUE || !e->has_index ||
        e->key.i != (int64_t)i + 1)
      return 0;
    if (!lua_getupvalue(L, fi, (int)i + 1)) return 0;
    if (e->vtype == WIRE_V_REF) {
      uint64_t v = e->val.ref;
      alua_ninfo in;
      if (b->role[v] == ALUA_ROLE_FRESH) {
        alua_build_push(b, v);
      } else if (b->g->nodes[v].kind == ALUA_N_STRING) {
        alua_graph_node(b->g, v, &in);
        lua_pushlstring(L, in.value ? in.value : "", in.value_len);
      } else {
        lua_pop(L, 1);
        return 0;
      }
    } else {
      alua_build_push_value(b, e->vtype, &e->val);
    }
    ok = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  return ok && !lua_getupvalue(L, fi, (int)n->nedges + 1);
}

/* C closures cannot be named once they are out of their library, but one
** that sits where the fresh VM has a C closure with the same upvalues
** (require under the globals, package.searchers[2]) is that closure. */
static void map_cclosures(alua_build *b)
{
  lua_State *L = b->L;
  const alua_graph *g = b->g;
  for (uint64_t id = 1; id < g->nnodes; id++) {
    if (b->role[id] != ALUA_ROLE_FRESH || g->nodes[id].kind != ALUA_N_TABLE)
      continue;
    const alua_gnode *n = &g->nodes[id];
    const alua_gedge *e = g->edges + n->edge0;
    alua_build_push(b, id);
    int f = lua_gettop(L);
    for (uint32_t i = 0; i < n->nedges; i++, e++) {
      uint64_t v = ref_of(e);
      if (v == ALUA_NO_NODE || g->nodes[v].kind != ALUA_N_CFUNCTION ||
          b->role[v] != ALUA_ROLE_NEW)
        continue;
      size_t len;
      const char *s = alua_graph_ename(g, e, &len);
      if (e->kind == ALUA_E_FIELD)
        lua_pushlstring(L, s, len);
      else if (e->kind == ALUA_E_INDEX)
        lua_pushinteger(L, (lua_Integer)e->key.i);
      else
        continue;
      lua_rawget(L, f);
      if (lua_iscfunction(L, -1) && same_upvalues(b, v, lua_gettop(L))) {
        lua_rawseti(L, b->objs, (lua_Integer)v + 1);
        b->role[v] = ALUA_ROLE_HOST;
      } else {
        lua_pop(L, 1);
      }
    }
    lua_settop(L, f - 1);
  }
}

void alua_bind_plan(alua_build *b)
{
  lua_State *L = b->L;
  const alua_graph *g = b->g;
  uint64_t globals = ALUA_NO_NODE, registry = ALUA_NO_NODE;
  uint64_t loaded = ALUA_NO_NODE, main = ALUA_NO_NODE;
  b->role[0] = ALUA_ROLE_NONE;
  for (uint64_t id = 0; id < g->nnodes; id++) {
    uint8_t k = g->nodes[id].kind;
    if (k == ALUA_N_PROTO || k == ALUA_N_UPVALUE) b->role[id] = ALUA_ROLE_NONE;
  }
  globals = ref_of(alua_build_edge(b, 0, ALUA_E_ROOT, "globals"));
  registry = ref_of(alua_build_edge(b, 0, ALUA_E_ROOT, "registry"));
  loaded = ref_of(alua_build_edge(b, 0, ALUA_E_ROOT, "loaded"));
  registry = kind_or_none(b, registry, ALUA_N_TABLE);
  if (registry != ALUA_NO_NODE) {
    main = ref_of(index_edge(b, registry, LUA_RIDX_MAINTHREAD));
    if (globals == ALUA_NO_NODE)
      globals = ref_of(index_edge(b, registry, LUA_RIDX_GLOBALS));
    if (loaded == ALUA_NO_NODE)
      loaded = ref_of(alua_build_edge(b, registry, ALUA_E_FIELD,
                                      LUA_LOADED_TABLE));
  }
  globals = kind_or_none(b, globals, ALUA_N_TABLE);
  if (loaded == ALUA_NO_NODE && globals != ALUA_NO_NODE) {
    uint64_t pkg = ref_of(alua_build_edge(b, globals, ALUA_E_FIELD,
                                          "package"));
    if (kind_or_none(b, pkg, ALUA_N_TABLE) != ALUA_NO_NODE)
      loaded = ref_of(alua_build_edge(b, pkg, ALUA_E_FIELD, "loaded"));
  }
  loaded = kind_or_none(b, loaded, ALUA_N_TABLE);
  main = kind_or_none(b, main, ALUA_N_THREAD);
  if (main == ALUA_NO_NODE) {
    /* No registry in the snapshot: the thread that was running it is the
    ** one the fresh VM's main thread stands for. */
    for (uint64_t id = 1; id < g->nnodes && main == ALUA_NO_NODE; id++) {
      alua_ninfo in;
      if (g->nodes[id].kind != ALUA_N_THREAD) continue;
      alua_graph_node(g, id, &in);
      if (in.status && strcmp(in.status, "running") == 0) main = id;
    }
  }

  /* Fresh tables whose children are still to be mapped, in order. */
  lua_newtable(L);
  int q = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  map_fresh(b, main);
  if (registry != ALUA_NO_NODE) {
    lua_pushvalue(L, LUA_REGISTRYINDEX);
    if (map_fresh(b, registry)) {
      b->aux[registry] = ANY_TABLE;
      enqueue(L, q, registry);
    }
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  if (map_fresh(b, globals)) enqueue(L, q, globals);
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE) {
    if (map_fresh(b, loaded)) enqueue(L, q, loaded);
  } else {
    lua_pop(L, 1);
  }
  /* The metatables Lua keeps per type: the fresh VM's own (the string
  ** library's) stand for the snapshot's. */
  const alua_gnode *root = &g->nodes[0];
  for (uint32_t i = 0; i < root->nedges; i++) {
    const alua_gedge *e = &g->edges[root->edge0 + i];
    size_t len;
    const char *s = alua_graph_ename(g, e, &len);
    uint64_t v = kind_or_none(b, ref_of(e), ALUA_N_TABLE);
    if (e->kind != ALUA_E_ROOT || !s || v == ALUA_NO_NODE ||
        !push_typed(L, s, len))
      continue;
    if (lua_getmetatable(L, -1) && map_fresh(b, v)) {
      b->aux[v] = ANY_TABLE;
      enqueue(L, q, v);
    }
    lua_pop(L, 1);
  }
  for (lua_Integer head = 1; head <= (lua_Integer)lua_rawlen(L, q); head++) {
    lua_rawgeti(L, q, head);
    uint64_t id = (uint64_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    map_children(b, id, q);
  }
  lua_pop(L, 1);
  map_cclosures(b);
  b->globals = globals;
  b->registry = registry;
  b->loaded = loaded;
  b->mainthread = main;
}

/* Follow the dotted path p[0..len) from the value on top of the stack, which
** it replaces; 1 if every step found something. Digits also try an
** integer key, so "package.searchers.2" works. */
static int walk_path(lua_State *L, const char *p, size_t len)
{
  size_t i = 0;
  while (i <= len) {
    size_t j = i;
    while (j < len && p[j] != '.') j++;
    if (!lua_istable(L, -1)) return 0;
    lua_pushlstring(L, p + i, j - i);
    if (lua_rawget(L, -2) == LUA_TNIL && j > i) {
      lua_Integer k = 0;
      size_t d = i;
      while (d < j && p[d] >= '0' && p[d] <= '9' && k < (LUA_MAXINTEGER / 10))
        k = k * 10 + (p[d++] - '0');
      if (d == j) {
        lua_pop(L, 1);
        lua_rawgeti(L, -1, k);
      }
    }
    lua_remove(L, -2);
    if (lua_isnil(L, -1)) return 0;
    i = j + 1;
  }
  return 1;
}

int alua_bind_exit(alua_build *b, const char *path, size_t len)
{
  lua_State *L = b->L;
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  if (walk_path(L, path, len)) return 1;
  lua_settop(L, top);
  /* Module names hold dots ("pl.utils"): try the longest loaded prefix. */
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE) {
    for (size_t end = len; end > 0; end--) {
      if (end < len && path[end] != '.') continue;
      lua_pushlstring(L, path, end);
      if (lua_rawget(L, top + 1) != LUA_TNIL &&
          (end == len || walk_path(L, path + end + 1, len - end - 1))) {
        lua_replace(L, top + 1);
        lua_settop(L, top + 1);
        return 1;
      }
      lua_settop(L, top + 1);
    }
  }
  lua_settop(L, top);
  return 0;
}

/* ---- the last step: merging into the fresh VM ------------------------ */

static int holder_ref(const alua_build *b, uint8_t type, const alua_scalar *v)
{
  return type == WIRE_V_REF && (b->role[v->ref] == ALUA_ROLE_HOLDER ||
                                b->role[v->ref] == ALUA_ROLE_PLACED);
}

/* An entry whose value is a placeholder. (One whose key is a placeholder
** is never merged into a fresh table: it could not be found again.) */
static int is_holder(const alua_build *b, const alua_gedge *e)
{
  return holder_ref(b, e->vtype, &e->val);
}

/* Push an entry edge's key; 0 (nothing pushed) if the edge is no entry of
** a fresh table. */
static int push_key(alua_build *b, const alua_gedge *e)
{
  size_t len;
  const char *s;
  switch (e->kind) {
  case ALUA_E_FIELD:
    s = alua_graph_ename(b->g, e, &len);
    lua_pushlstring(b->L, s, len);
    return 1;
  case ALUA_E_INDEX:
    lua_pushinteger(b->L, (lua_Integer)e->key.i);
    return 1;
  case ALUA_E_KEY:
    if (holder_ref(b, e->ktype, &e->key)) return 0;
    alua_build_push_value(b, e->ktype, &e->key);
    return 1;
  default:
    return 0;
  }
}

static void clear_table(lua_State *L, int t)
{
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushnil(L);
    lua_rawset(L, t);               /* clearing a field is allowed in next */
  }
}

/* The registry belongs to the fresh host: entries it lacks are added, its
** own stay, and integer keys (luaL_ref handles, the main thread, the
** globals) are the host's alone. */
static void merge_registry(alua_build *b, uint64_t id)
{
  lua_State *L = b->L;
  const alua_gnode *n = &b->g->nodes[id];
  const alua_gedge *e = b->g->edges + n->edge0;
  for (uint32_t i = 0; i < n->nedges; i++, e++) {
    if (e->kind == ALUA_E_INDEX || is_holder(b, e) || !push_key(b, e))
      continue;
    if (lua_isinteger(L, -1)) { lua_pop(L, 1); continue; }
    lua_pushvalue(L, -1);
    if (lua_rawget(L, LUA_REGISTRYINDEX) != LUA_TNIL) {
      lua_pop(L, 2);
      continue;
    }
    lua_pop(L, 1);
    alua_build_push_value(b, e->vtype, &e->val);
    lua_rawset(L, LUA_REGISTRYINDEX);
  }
}

/* Merge the snapshot's entries of a fresh table. The globals take every
** entry (merge: over the fresh ones; replace: into an emptied table, with
** the snapshot's metatable or none); host tables take entries but never a
** placeholder and keep their own metatable. */
static void merge_fresh(alua_build *b, uint64_t id)
{
  lua_State *L = b->L;
  const alua_gnode *n = &b->g->nodes[id];
  const alua_gedge *e = b->g->edges + n->edge0;
  int globals = id == b->globals;
  int replace = globals && b->o->replace;
  alua_build_push(b, id);
  int t = lua_gettop(L);
  if (replace) {
    clear_table(L, t);
    lua_pushnil(L);
    lua_setmetatable(L, t);
  }
  for (uint32_t i = 0; i < n->nedges; i++, e++) {
    if (e->kind == ALUA_E_METATABLE) {
      if (!globals) continue;
      alua_build_push_value(b, e->vtype, &e->val);
      if (lua_istable(L, -1)) lua_setmetatable(L, t);
      else lua_pop(L, 1);
      continue;
    }
    if (!push_key(b, e)) continue;
    if (is_holder(b, e) && !replace) {
      lua_pushvalue(L, -1);
      if (!globals || lua_rawget(L, t) != LUA_TNIL) {
        lua_settop(L, t);
        continue;
      }
      lua_pop(L, 1);
    }
    alua_build_push_value(b, e->vtype, &e->val);
    lua_rawset(L, t);
  }
  lua_settop(L, t - 1);
}

/* A "path:a.b" root goes back to its place under the globals;
** missing tables on the way are made. */
static void bind_path_root(alua_build *b, const alua_gedge *e)
{
  lua_State *L = b->L;
  size_t len;
  const char *p = alua_graph_ename(b->g, e, &len);
  char why[120];
  assert(len > 5 && memcmp(p, "path:", 5) == 0);
  p += 5;
  len -= 5;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  size_t i = 0;
  for (;;) {
    size_t j = i;
    while (j < len && p[j] != '.') j++;
    lua_pushlstring(L, p + i, j - i);
    if (j == len) {
      alua_build_push_value(b, e->vtype, &e->val);
      lua_rawset(L, -3);
      lua_pop(L, 1);
      return;
    }
    lua_pushvalue(L, -1);
    int t = lua_rawget(L, -3);
    if (t == LUA_TNIL) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -2);
      lua_pushvalue(L, -2);
      lua_rawset(L, -5);
    } else if (t != LUA_TTABLE) {
      snprintf(why, sizeof why, "root '%.*s' not rebound: '%.*s' is not a "
               "table in the fresh VM", (int)(len > 60 ? 60 : len), p,
               (int)(j > 40 ? 40 : j), p);
      alua_build_report(b, 0, why);
      lua_pop(L, 3);
      return;
    }
    lua_remove(L, -2);
    lua_remove(L, -2);
    i = j + 1;
  }
}

/* amber.crash: the frames and locals of every thread the snapshot holds,
** for post-mortem inspection (docs/lua-agent.md). */
static void bind_frames(alua_build *b)
{
  lua_State *L = b->L;
  const alua_graph *g = b->g;
  int nthreads = 0;
  lua_newtable(L);
  int crash = lua_gettop(L);
  lua_newtable(L);
  int threads = lua_gettop(L);
  const alua_gedge *st = alua_build_edge(b, 0, ALUA_E_ROOT, "stack");
  uint64_t first = ref_of(st);
  for (int pass = 0; pass < 2; pass++) {
    for (uint64_t id = 1; id < g->nnodes; id++) {
      if (g->nodes[id].kind != ALUA_N_THREAD) continue;
      if ((pass == 0) != (id == first)) continue;
      if (!alua_build_edge(b, id, ALUA_E_FRAME, NULL)) continue;
      alua_ninfo in;
      alua_graph_node(g, id, &in);
      lua_createtable(L, 0, 3);
      alua_build_push(b, id);
      lua_setfield(L, -2, "thread");
      if (in.status) {
        lua_pushstring(L, in.status);
        lua_setfield(L, -2, "status");
      }
      /* Frames innermost first, as the walker lists them; each knows its
      ** stack level (a crash capture skips the handler's own levels). */
      lua_newtable(L);
      const alua_gnode *n = &g->nodes[id];
      const alua_gedge *e = g->edges + n->edge0;
      lua_Integer nf = 0;
      for (uint32_t i = 0; i < n->nedges; i++, e++) {
        if (e->kind != ALUA_E_FRAME) continue;
        alua_build_push_value(b, e->vtype, &e->val);
        if (e->has_index && e->vtype == WIRE_V_REF &&
            g->nodes[e->val.ref].kind == ALUA_N_FRAME) {
          lua_pushinteger(L, (lua_Integer)e->key.i);
          lua_setfield(L, -2, "level");
        }
        lua_rawseti(L, -2, ++nf);
      }
      if (nthreads == 0) {
        lua_pushvalue(L, -1);
        lua_setfield(L, crash, "frames");
      }
      lua_setfield(L, -2, "frames");
      lua_rawseti(L, threads, ++nthreads);
    }
  }
  lua_setfield(L, crash, "threads");
  const alua_restore_origin *o = b->origin;
  const char *const fields[] = {"reason", "error", "traceback"};
  const char *const values[] = {o ? o->reason : NULL, o ? o->error : NULL,
                                o ? o->traceback : NULL};
  for (int i = 0; i < 3; i++) {
    if (!values[i]) continue;
    lua_pushstring(L, values[i]);
    lua_setfield(L, crash, fields[i]);
  }
  if (nthreads || (o && o->reason && strcmp(o->reason, "crash") == 0))
    lua_setfield(L, LUA_REGISTRYINDEX, "amber.crash");
  else
    lua_pop(L, 1);
}

/* Placeholders stay findable: registry["amber.placeholders"] maps each to
** its reason (weak keys), and their metatable is
** registry["amber.placeholder"]. */
static void bind_holders(alua_build *b)
{
  lua_State *L = b->L;
  lua_pushnil(L);
  if (!lua_next(L, b->placed)) return;
  lua_pop(L, 2);
  if (lua_getfield(L, LUA_REGISTRYINDEX, "amber.placeholder") == LUA_TNIL) {
    lua_pushvalue(L, b->holder_mt);
    lua_setfield(L, LUA_REGISTRYINDEX, "amber.placeholder");
  }
  lua_pop(L, 1);
  if (lua_getfield(L, LUA_REGISTRYINDEX, "amber.placeholders") != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "amber.placeholders");
  }
  int t = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, b->placed)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, t);
  }
  lua_pop(L, 1);
}

void alua_bind_roots(alua_build *b)
{
  const alua_graph *g = b->g;
  for (uint64_t id = 1; id < g->nnodes; id++) {
    if (b->role[id] != ALUA_ROLE_FRESH || g->nodes[id].kind != ALUA_N_TABLE)
      continue;
    if (id == b->registry) merge_registry(b, id);
    else merge_fresh(b, id);
  }
  const alua_gnode *root = &g->nodes[0];
  const alua_gedge *e = g->edges + root->edge0;
  for (uint32_t i = 0; i < root->nedges; i++, e++) {
    size_t len;
    const char *s = alua_graph_ename(g, e, &len);
    if (e->kind != ALUA_E_ROOT || !s || len == 0) continue;
    int fixed = 0;
    for (unsigned k = 0; k < sizeof fixed_roots / sizeof *fixed_roots; k++)
      if (len == strlen(fixed_roots[k]) && memcmp(s, fixed_roots[k], len) == 0)
        fixed = 1;
    if (fixed) continue;
    if (len > 5 && memcmp(s, "path:", 5) == 0) {
      bind_path_root(b, e);
    } else if (push_typed(b->L, s, len)) {
      /* A type metatable the fresh VM lacks (debug.setmetatable's). */
      alua_build_push_value(b, e->vtype, &e->val);
      if (e->vtype == WIRE_V_REF && b->role[e->val.ref] == ALUA_ROLE_NEW &&
          lua_istable(b->L, -1))
        lua_setmetatable(b->L, -2);
      else
        lua_pop(b->L, 1);
      lua_pop(b->L, 1);
    } else {
      char why[120];
      snprintf(why, sizeof why, "unknown root '%.*s' not rebound",
               (int)(len > 60 ? 60 : len), s);
      alua_build_report(b, 0, why);
    }
  }
  bind_frames(b);
  bind_holders(b);
}
