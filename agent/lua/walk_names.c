/*
** walk_names.c
** Names bound before the walk: raw dotted-path lookups, C functions named
** after the module field or global that holds them ("string.format"),
** and the exits a request names. Lookups traverse tables with lua_next
** and compare bytes, so no string is ever created inside the VM.
*/
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include "walk.h"

int walk_rawget_str(lua_State *L, int idx, const char *key, size_t len) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE || !lua_checkstack(L, 3)) return 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t kl;
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *k = lua_tolstring(L, -2, &kl);
      if (kl == len && memcmp(k, key, len) == 0) {
        lua_remove(L, -2);
        return 1;
      }
    }
    lua_pop(L, 1);
  }
  return 0;
}

void walk_push_path(lua_State *L, const char *path) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  const char *p = path;
  for (;;) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (!walk_rawget_str(L, -1, p, n)) {
      lua_pop(L, 1);
      lua_pushnil(L);
      return;
    }
    lua_remove(L, -2);
    if (dot == NULL) return;
    p = dot + 1;
  }
}

/* Store a name and return its index, or -1 if out of memory. */
static long add_name(walk *w, const char *a, size_t alen, const char *b,
                     size_t blen) {
  if (w->nnames == w->namecap) {
    size_t ncap = w->namecap ? w->namecap * 2 : 128;
    walk_name *nn = realloc(w->names, ncap * sizeof *nn);
    if (nn == NULL) return -1;
    w->names = nn;
    w->namecap = ncap;
  }
  char buf[256];
  const char *s;
  size_t len = alen + (b ? 1 + blen : 0);
  if (b == NULL) {
    s = walk_arena_put(&w->keep, a, alen);
  } else if (len <= sizeof buf) {
    memcpy(buf, a, alen);
    buf[alen] = '.';
    memcpy(buf + alen + 1, b, blen);
    s = walk_arena_put(&w->keep, buf, len);
  } else {
    return -2;  /* absurdly long module or field name: leave it unnamed */
  }
  if (s == NULL) return -1;
  w->names[w->nnames].s = s;
  w->names[w->nnames].len = len;
  return (long)w->nnames++;
}

/* Does a fresh VM with the standard libraries hold C function f at the
** global path name? Asked only when two names compete, so the reference
** VM (separate from the walked one) is made at most once, and rarely. */
static int canonical(walk *w, const walk_name *name, lua_CFunction f) {
  if (f == NULL) return 0;
  if (w->ref == NULL) {
    w->ref = luaL_newstate();
    if (w->ref == NULL) return 0;
    luaL_openlibs(w->ref);
  }
  walk_push_path(w->ref, name->s);
  int same = lua_tocfunction(w->ref, -1) == f;
  lua_pop(w->ref, 1);
  return same;
}

/* Is name a better than name b for C function f? The standard library's
** own name wins (print, not an alias p = print); then a library module's
** name ("string.format" over fmt = string.format); then the shorter; then
** bytewise order, so traversal order never decides. */
static int name_better(walk *w, const walk_name *a, const walk_name *b,
                       lua_CFunction f) {
  int ca = canonical(w, a, f), cb = canonical(w, b, f);
  if (ca != cb) return ca;
  int ma = memchr(a->s, '.', a->len) != NULL;
  int mb = memchr(b->s, '.', b->len) != NULL;
  if (ma != mb) return ma;
  if (a->len != b->len) return a->len < b->len;
  return memcmp(a->s, b->s, a->len) < 0;
}

/* Bind the value at the top of L to a name; exits replace C-function
** names, and between C-function names the better one wins. */
static int bind(walk *w, const char *a, size_t alen, const char *b,
                size_t blen, int exit) {
  lua_State *L = w->L;
  unsigned tag = walk_tag(L, -1);
  uintptr_t key = (uintptr_t)lua_topointer(L, -1);
  long k = add_name(w, a, alen, b, blen);
  if (k == -2) return 0;
  if (k < 0) return walk_oom(w);
  uint64_t *info = walk_map_slot(&w->map, key, tag);
  if (info == NULL) return walk_oom(w);
  if (*info != 0 && !exit) {
    const walk_name *old = &w->names[WALK_INFO_VALUE(*info)];
    if ((*info & WALK_INFO_EXIT) ||
        (old->len == w->names[k].len &&
         memcmp(old->s, w->names[k].s, old->len) == 0) ||
        !name_better(w, &w->names[k], old, lua_tocfunction(L, -1))) {
      w->nnames--;  /* the arena keeps the bytes; harmless */
      return 0;
    }
  }
  *info = ((uint64_t)tag << 60) | WALK_INFO_NAMED |
          (exit ? WALK_INFO_EXIT : 0) | (uint64_t)k;
  return 0;
}

/* Name every C function held by a string key of the table at idx. C
** closures carry state, so only a library module names them: one a global
** holds (coroutine.wrap's, say) is walked, its upvalues included. */
static int bind_fields(walk *w, int idx, const char *prefix, size_t plen,
                       int closures) {
  lua_State *L = w->L;
  idx = lua_absindex(L, idx);
  if (!lua_checkstack(L, 4)) return walk_oom(w);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_iscfunction(L, -1) &&
        (closures || walk_tag(L, -1) == WALK_TAG_LIGHTCF)) {
      size_t kl;
      const char *k = lua_tolstring(L, -2, &kl);
      int r = prefix ? bind(w, prefix, plen, k, kl, 0)
                     : bind(w, k, kl, NULL, 0, 0);
      if (r != 0) {
        lua_pop(L, 2);
        return -1;
      }
    }
    lua_pop(L, 1);
  }
  return 0;
}

int walk_bind_names(walk *w) {
  lua_State *L = w->L;
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 8)) return walk_oom(w);

  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  if (lua_type(L, -1) == LUA_TTABLE && bind_fields(w, -1, NULL, 0, 0) != 0)
    goto fail;
  lua_pop(L, 1);

  if (walk_rawget_str(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE,
                      sizeof LUA_LOADED_TABLE - 1)) {
    int loaded = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, loaded)) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TTABLE) {
        size_t ml;
        const char *m = lua_tolstring(L, -2, &ml);
        int isg = ml == 2 && memcmp(m, "_G", 2) == 0;
        if (bind_fields(w, -1, isg ? NULL : m, ml, !isg) != 0) goto fail;
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }

  for (size_t i = 0; i < w->req->nexits; i++) {
    const char *path = w->req->exits[i];
    if (path == NULL || *path == '\0') continue;
    walk_push_path(L, path);
    int t = lua_type(L, -1);
    /* Only values with an identity can be recognised when met again. */
    if (t == LUA_TTABLE || t == LUA_TFUNCTION || t == LUA_TUSERDATA ||
        t == LUA_TTHREAD || t == LUA_TLIGHTUSERDATA) {
      if (bind(w, path, strlen(path), NULL, 0, 1) != 0) goto fail;
    }
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  return 0;
fail:
  lua_settop(L, top);
  return -1;
}
