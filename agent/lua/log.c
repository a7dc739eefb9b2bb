/*
** log.c
** Log capture: print (and one function the host names) are wrapped so
** that what they print is also sent to the server as <log>. The wrapper
** calls the original, so output on stdout is unchanged.
*/
#include "alua.h"

#include <lauxlib.h>
#include <string.h>

#define MAX_LOG (64u << 10)        /* bytes sent per <log> */

static const char log_key = 'L';   /* registry: records of what we wrapped */

void alua_log_text(lua_State *L, int first, int last) {
  luaL_Buffer B;
  int i;
  luaL_buffinit(L, &B);
  for (i = first; i <= last; i++) {
    if (i > first) luaL_addchar(&B, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&B);
  }
  luaL_pushresult(&B);
}

void alua_log_send(amber_agent *a, lua_State *L) {
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  if (a && s && amber_connected(a))
    amber_log(a, s, len > MAX_LOG ? MAX_LOG : len);
}

/* The wrapper: upvalue 1 is the original function. */
static int logged(lua_State *L) {
  int n = lua_gettop(L);
  amber_agent *a = alua_agent_of(L);
  if (a && amber_connected(a)) {
    alua_log_text(L, 1, n);
    alua_log_send(a, L);
    lua_pop(L, 1);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

/* Push the table holding field `path`'s last part, following a dotted path
** from the globals with raw access; *field gets the last part. 0 if any
** step is not a table. */
static int find_parent(lua_State *L, const char *path, const char **field,
                       size_t *flen) {
  const char *dot;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  while ((dot = strchr(path, '.')) != NULL) {
    if (lua_type(L, -1) != LUA_TTABLE) break;
    lua_pushlstring(L, path, (size_t)(dot - path));
    lua_rawget(L, -2);
    lua_remove(L, -2);
    path = dot + 1;
  }
  *field = path;
  *flen = strlen(path);
  if (lua_type(L, -1) != LUA_TTABLE || *flen == 0) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* Wrap parent[field] and remember {parent, field, wrapper, original}. */
static void wrap(lua_State *L, const char *path) {
  const char *field;
  size_t flen;
  if (!find_parent(L, path, &field, &flen)) return;
  lua_pushlstring(L, field, flen);          /* parent field */
  lua_pushvalue(L, -1);
  lua_rawget(L, -3);                        /* parent field original */
  if (lua_type(L, -1) != LUA_TFUNCTION ||
      (lua_tocfunction(L, -1) == logged)) {
    lua_pop(L, 3);
    return;
  }
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, logged, 1);           /* parent field orig wrapper */
  lua_pushvalue(L, -3);
  lua_pushvalue(L, -2);
  lua_rawset(L, -6);                        /* parent[field] = wrapper */
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &log_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &log_key);
  }                                         /* … wrapper records */
  lua_createtable(L, 4, 0);
  lua_pushvalue(L, -6); lua_rawseti(L, -2, 1);
  lua_pushvalue(L, -5); lua_rawseti(L, -2, 2);
  lua_pushvalue(L, -3); lua_rawseti(L, -2, 3);
  lua_pushvalue(L, -4); lua_rawseti(L, -2, 4);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 5);
}

void alua_log_install(amber_agent *a, lua_State *L) {
  if (!lua_checkstack(L, 12)) return;
  if (a->opt.capture_print) wrap(L, "print");
  if (a->opt.log_function && *a->opt.log_function)
    wrap(L, a->opt.log_function);
}

void alua_log_remove(amber_agent *a, lua_State *L) {
  lua_Integer i, n;
  (void)a;
  if (!lua_checkstack(L, 8)) return;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &log_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  n = (lua_Integer)lua_rawlen(L, -1);
  for (i = n; i >= 1; i--) {                /* undo in reverse order */
    lua_rawgeti(L, -1, i);                  /* records rec */
    lua_rawgeti(L, -1, 1);                  /* rec parent */
    lua_rawgeti(L, -2, 2);                  /* rec parent field */
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);                      /* … field current */
    lua_rawgeti(L, -4, 3);                  /* … field current wrapper */
    if (lua_rawequal(L, -1, -2)) {          /* still ours: put it back */
      lua_pop(L, 2);
      lua_rawgeti(L, -3, 4);
      lua_rawset(L, -3);
    } else {
      lua_pop(L, 3);
    }
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &log_key);
}
