/*
** lmodule.c
** The `amber` Lua module: attach, poll, snapshot, detach, breakpoint, log,
** status, msgh, restore, and decode/messages to read capture files.
** luaopen_amber (amber_module.c) and amber-lua's preload both open it.
*/
#include "alua.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "restore.h"

#define MAX_CAPTURE ((size_t)1 << 30)   /* bytes amber.messages reads */

static int fail(lua_State *L, const char *err) {
  luaL_pushfail(L);
  lua_pushstring(L, err);
  return 2;
}

/* ---- options ------------------------------------------------------------ */

static unsigned opt_uint(lua_State *L, int t, const char *k, unsigned def) {
  lua_Integer v;
  int isnum;
  if (lua_getfield(L, t, k) == LUA_TNIL) { lua_pop(L, 1); return def; }
  v = lua_tointegerx(L, -1, &isnum);
  if (!isnum || v < 0 || v > 0x7fffffff)
    luaL_error(L, "amber: option '%s' must be a whole number from 0 up", k);
  lua_pop(L, 1);
  return (unsigned)v;
}

static int opt_bool(lua_State *L, int t, const char *k, int def) {
  int v;
  if (lua_getfield(L, t, k) == LUA_TNIL) { lua_pop(L, 1); return def; }
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* The string stays valid: the options table keeps it. */
static const char *opt_str(lua_State *L, int t, const char *k,
                           const char *def) {
  const char *s;
  int ty = lua_getfield(L, t, k);
  if (ty == LUA_TNIL) { lua_pop(L, 1); return def; }
  if (ty != LUA_TSTRING) luaL_error(L, "amber: option '%s' must be a string", k);
  s = lua_tostring(L, -1);
  lua_pop(L, 1);
  return s;
}

/* The machine name: the script's file name from arg[0], as lua sets it. */
static const char *script_name(lua_State *L) {
  const char *s = NULL, *slash;
  lua_getglobal(L, "arg");
  if (lua_type(L, -1) == LUA_TTABLE && lua_rawgeti(L, -1, 0) == LUA_TSTRING) {
    s = lua_tostring(L, -1);
    lua_pop(L, 1);
  } else if (lua_type(L, -1) == LUA_TTABLE) {
    lua_pop(L, 1);
  }
  lua_pop(L, 1);                      /* arg[0] stays alive in arg */
  if (s && (slash = strrchr(s, '/')) != NULL) s = slash + 1;
  return s && *s ? s : "lua";
}

/* amber.attach([address] [, options]) -> true | nil, error */
static int l_attach(lua_State *L) {
  const char *addr = luaL_optstring(L, 1, NULL);
  amber_agent *old = alua_agent_of(L), *a;
  amber_options o;
  char err[512];
  amber_options_init(&o);
  if (old && old->conn) {
    snprintf(err, sizeof err, "amber: already attached to %s; call "
             "amber.detach() first", aconn_address(old->conn));
    return fail(L, err);
  }
  if (old) o = old->opt;              /* amber-lua's offline agent: keep its
                                         name and capture settings */
  if (addr == NULL) addr = getenv("XSBUG_HOST");
  if (addr == NULL || *addr == '\0') addr = AMBER_DEFAULT_ADDRESS;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    o.name = opt_str(L, 2, "name", o.name);
    o.hook_count = opt_uint(L, 2, "hook_count", o.hook_count);
    o.poll_ms = opt_uint(L, 2, "poll_ms", o.poll_ms);
    o.backoff_min_ms = opt_uint(L, 2, "backoff_min_ms", o.backoff_min_ms);
    o.backoff_max_ms = opt_uint(L, 2, "backoff_max_ms", o.backoff_max_ms);
    o.queue_max = (size_t)opt_uint(L, 2, "queue_max", (unsigned)
                                   (o.queue_max > 0x7fffffff ? 0x7fffffff
                                                             : o.queue_max));
    o.flush_ms = opt_uint(L, 2, "flush_ms", o.flush_ms);
    o.login_wait_ms = opt_uint(L, 2, "wait_ms", o.login_wait_ms);
    o.capture_print = opt_bool(L, 2, "print", o.capture_print);
    o.log_function = opt_str(L, 2, "log", o.log_function);
    o.break_on_error = opt_bool(L, 2, "break_on_error", o.break_on_error);
    o.crash_capture = opt_bool(L, 2, "crash", o.crash_capture);
    o.capture_path = opt_str(L, 2, "capture", o.capture_path);
    o.verbose = opt_bool(L, 2, "verbose", o.verbose);
    o.trust_bytecode = opt_bool(L, 2, "trust_bytecode", o.trust_bytecode);
    o.allow_run = opt_bool(L, 2, "run", o.allow_run);
  }
  if (o.name == NULL) o.name = script_name(L);
  if (old) {
    /* the options point into old's arrays: copy them before freeing it */
    char name[ALUA_MAX_NAME], logf[ALUA_MAX_NAME], cap[ALUA_MAX_PATH];
    if (o.name) { snprintf(name, sizeof name, "%s", o.name); o.name = name; }
    if (o.log_function) {
      snprintf(logf, sizeof logf, "%s", o.log_function);
      o.log_function = logf;
    }
    if (o.capture_path) {
      snprintf(cap, sizeof cap, "%s", o.capture_path);
      o.capture_path = cap;
    }
    amber_detach(old);
    a = amber_attach(L, addr, &o, err, sizeof err);
  } else {
    a = amber_attach(L, addr, &o, err, sizeof err);
  }
  if (a == NULL) return fail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* amber.poll() -> connected */
static int l_poll(lua_State *L) {
  amber_agent *a = alua_agent_of(L);
  if (a) a = alua_poll_from(a, L, 1, 0);
  if (a) a = alua_run_pending(a, L);
  lua_pushboolean(L, a && amber_connected(a));
  return 1;
}

/* amber.detach() -> true */
static int l_detach(lua_State *L) {
  amber_agent *a = alua_agent_of(L);
  if (a && a->conn) amber_detach(a);
  lua_pushboolean(L, 1);
  return 1;
}

/* amber.breakpoint([message]) -> parked */
static int l_breakpoint(lua_State *L) {
  const char *msg = luaL_optstring(L, 1, "debugger");
  lua_pushboolean(L, amber_break(alua_agent_of(L), L, 1, msg));
  return 1;
}

/* amber.log(...) -> sent */
static int l_log(lua_State *L) {
  amber_agent *a = alua_agent_of(L);
  int sent = a && amber_connected(a);
  if (sent) {
    alua_log_text(L, 1, lua_gettop(L));
    alua_log_send(a, L);
  }
  lua_pushboolean(L, sent);
  return 1;
}

static void set_int(lua_State *L, const char *k, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* amber.status() -> table */
static int l_status(lua_State *L) {
  amber_agent *a = alua_agent_of(L);
  const char *cap = amber_last_capture();
  lua_createtable(L, 0, 12);
  lua_pushboolean(L, a != NULL && a->conn != NULL);
  lua_setfield(L, -2, "attached");
  lua_pushboolean(L, a != NULL && amber_connected(a));
  lua_setfield(L, -2, "connected");
  if (a && a->conn) {
    const aconn_stats *st = aconn_stats_get(a->conn);
    lua_pushstring(L, aconn_address(a->conn));
    lua_setfield(L, -2, "address");
    set_int(L, "pending", aconn_pending(a->conn));
    set_int(L, "attempts", st->attempts);
    set_int(L, "connects", st->connects);
    set_int(L, "disconnects", st->disconnects);
    set_int(L, "bytes_sent", st->bytes_sent);
    set_int(L, "bytes_received", st->bytes_received);
    set_int(L, "dropped", st->messages_dropped);
    set_int(L, "breakpoints", abpt_count(&a->dbg.bpts));
    lua_pushstring(L, aconn_last_error(a->conn));
    lua_setfield(L, -2, "last_error");
  }
  if (cap) {
    lua_pushstring(L, cap);
    lua_setfield(L, -2, "last_capture");
  }
  return 1;
}

/* ---- snapshots ----------------------------------------------------------- */

/* Strings of array t[k] into v (they stay alive in the options table). */
static size_t string_list(lua_State *L, int t, const char *k,
                          const char **v, size_t max) {
  size_t n = 0;
  lua_Integer i;
  if (lua_getfield(L, t, k) == LUA_TNIL) { lua_pop(L, 1); return 0; }
  if (!lua_istable(L, -1)) luaL_error(L, "amber: %s must be a list of strings", k);
  for (i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "amber: %s[%d] must be a string", k, (int)i);
    if (n == max) luaL_error(L, "amber: more than %d %s", (int)max, k);
    v[n++] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  return n;
}

/* amber.snapshot{file=, roots=, exits=, label=} -> info | nil, error */
static int l_snapshot(lua_State *L) {
  const char *roots[ACMD_MAX_ROOTS], *exits[ACMD_MAX_EXITS];
  const char *file = NULL;
  amber_snapshot_opts s;
  amber_snapshot_info info;
  amber_agent *a;
  char err[600];
  int rc;
  memset(&s, 0, sizeof s);
  memset(&info, 0, sizeof info);
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    file = opt_str(L, 1, "file", NULL);
    s.label = opt_str(L, 1, "label", NULL);
    s.nroots = string_list(L, 1, "roots", roots, ACMD_MAX_ROOTS);
    s.nexits = string_list(L, 1, "exits", exits, ACMD_MAX_EXITS);
    s.roots = roots;
    s.exits = exits;
  }
  s.level = 1;                        /* not amber.snapshot's own frame */
  if (file) {
    rc = amber_snapshot_file(L, file, &s, &info, err, sizeof err);
  } else if ((a = alua_agent_of(L)) != NULL && a->conn) {
    rc = amber_snapshot(a, L, &s, &info, err, sizeof err);
  } else {
    return fail(L, "amber: not attached; call amber.attach(\"host:port\") "
                   "first, or snapshot to a file with {file=...}");
  }
  if (rc != 0) return fail(L, err);
  lua_createtable(L, 0, 8);
  set_int(L, "id", info.id);
  set_int(L, "nodes", info.nodes);
  set_int(L, "edges", info.edges);
  set_int(L, "bytes", info.bytes);
  lua_pushnumber(L, info.pause_ms);
  lua_setfield(L, -2, "pause_ms");
  lua_pushstring(L, info.hash);
  lua_setfield(L, -2, "hash");
  if (file) {
    lua_pushstring(L, file);
    lua_setfield(L, -2, "file");
  }
  return 1;
}

/* ---- reading capture files ------------------------------------------------ */

/* Push element e as {name=, attr={…}, text=, [1..n] = children}. The depth
** is bounded by the parser's own nesting limit. */
static void push_elem(lua_State *L, const wire_elem *e) {
  const wire_elem *ch;
  size_t i;
  lua_Integer n = 0;
  luaL_checkstack(L, 4, "amber: capture nested too deeply");
  lua_createtable(L, 0, 3);
  lua_pushstring(L, e->name);
  lua_setfield(L, -2, "name");
  lua_createtable(L, 0, (int)e->nattrs);
  for (i = 0; i < e->nattrs; i++) {
    lua_pushlstring(L, e->attrs[i].value, e->attrs[i].len);
    lua_setfield(L, -2, e->attrs[i].name);
  }
  lua_setfield(L, -2, "attr");
  if (e->text_len > 0) {
    lua_pushlstring(L, e->text, e->text_len);
    lua_setfield(L, -2, "text");
  }
  for (ch = e->children; ch; ch = ch->next) {
    push_elem(L, ch);
    lua_rawseti(L, -2, ++n);
  }
}

static int on_decoded(void *ud, const wire_msg *m) {
  lua_State *L = ud;                  /* result list at the top */
  const wire_elem *e;
  lua_Integer n = 0;
  lua_createtable(L, 1, 1);
  lua_pushboolean(L, m->wrapped);
  lua_setfield(L, -2, "wrapped");
  for (e = m->items; e; e = e->next) {
    push_elem(L, e);
    lua_rawseti(L, -2, ++n);
  }
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  return 0;
}

/* Decode bytes into a list of messages; pushes it, or nil and an error. */
static int decode(lua_State *L, const char *p, size_t n, const char *what) {
  wire_parser *wp;
  enum wire_status st;
  lua_newtable(L);
  wp = wire_parser_new(NULL, on_decoded, L);
  if (wp == NULL) return fail(L, "amber: out of memory");
  st = wire_parser_feed(wp, p, n);
  if (st == WIRE_OK) st = wire_parser_finish(wp);
  if (st != WIRE_OK) {
    const wire_error *we = wire_parser_error(wp);
    lua_pushfstring(L, "amber: %s: %s at byte %I (message %I)", what,
                    we->text, (lua_Integer)we->offset,
                    (lua_Integer)we->msg_seq);
    wire_parser_free(wp);
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  wire_parser_free(wp);
  return 1;
}

/* amber.decode(bytes) -> messages | nil, error */
static int l_decode(lua_State *L) {
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  return decode(L, p, n, "decode");
}

/* amber.messages(path) -> messages | nil, error */
static int l_messages(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_Buffer B;
  char *chunk;
  size_t got, total = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return fail(L, lua_pushfstring(L, "amber: cannot open %s: %s", path,
                                   strerror(errno)));
  luaL_buffinit(L, &B);
  do {
    chunk = luaL_prepbuffer(&B);
    got = fread(chunk, 1, LUAL_BUFFERSIZE, f);
    luaL_addsize(&B, got);
    total += got;
  } while (got == LUAL_BUFFERSIZE && total < MAX_CAPTURE);
  fclose(f);
  if (total >= MAX_CAPTURE)
    return fail(L, "amber: capture file over 1 GiB; use amber-wire");
  luaL_pushresult(&B);
  {
    size_t n;
    const char *p = lua_tolstring(L, -1, &n);
    return decode(L, p, n, path);
  }
}

static int l_msgh(lua_State *L) { return amber_msgh(L); }

static const luaL_Reg funcs[] = {
  { "attach", l_attach },
  { "poll", l_poll },
  { "snapshot", l_snapshot },
  { "detach", l_detach },
  { "breakpoint", l_breakpoint },
  { "log", l_log },
  { "status", l_status },
  { "msgh", l_msgh },
  { "restore", alua_restore_l },
  { "decode", l_decode },
  { "messages", l_messages },
  { NULL, NULL }
};

int alua_open(lua_State *L) {
  luaL_newlib(L, funcs);
  lua_pushstring(L, AMBER_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
