/*
** hook.c
** The agent's Lua hook. Count events poll the socket at a safe point: a
** one-shot count armed by the ticker (ticker.c), or a standing count hook
** when hook_count asks for one (polling at most every poll_ms). Line events,
** on only while breakpoints or a step need them, stop the VM at breaks.
*/
#include "alua.h"

#include <signal.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

static volatile sig_atomic_t interrupted;
static const char step_key = 'S';   /* registry: the thread a step left */

/* A cheap clock: the hook reads it every hook_count instructions. */
static uint64_t coarse_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int alua_hook_mask(const amber_agent *a) {
  int mask = a->opt.hook_count ? LUA_MASKCOUNT : 0;
  if (adbg_wants_lines(&a->dbg)) mask |= LUA_MASKLINE;
  return mask;
}

static void set_mask(amber_agent *a, lua_State *L, int mask) {
  if (lua_gethook(L) == alua_hook && lua_gethookmask(L) == mask) return;
  if (mask == 0 && lua_gethook(L) != alua_hook) return;
  lua_sethook(L, mask ? alua_hook : NULL, mask, (int)a->opt.hook_count);
}

void alua_hook_sync(amber_agent *a, lua_State *L) {
  int mask = alua_hook_mask(a);
  a->seen_version = a->dbg.version;
  set_mask(a, a->L, mask);
  if (L && L != a->L) set_mask(a, L, mask);
  if (a->conn) alua_ticker_note(a->ticker, a->conn, mask);
}

void alua_hook_remove(amber_agent *a, lua_State *L) {
  if (lua_gethook(a->L) == alua_hook) lua_sethook(a->L, NULL, 0, 0);
  if (L && L != a->L && lua_gethook(L) == alua_hook) lua_sethook(L, NULL, 0, 0);
}

void alua_interrupt(lua_State *L) {
  interrupted = 1;
  lua_sethook(L, alua_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE |
                            LUA_MASKCOUNT, 1);
}

/* Number of levels on L's stack: lua_getstack is linear in the level, so
** search instead of counting one by one. */
static int stack_depth(lua_State *L) {
  lua_Debug ar;
  int lo = 0, hi = 1;
  while (lua_getstack(L, hi, &ar)) {
    lo = hi;
    if (hi > (1 << 28)) break;
    hi *= 2;
  }
  while (hi - lo > 1) {               /* level lo exists, level hi does not */
    int mid = lo + (hi - lo) / 2;
    if (lua_getstack(L, mid, &ar)) lo = mid; else hi = mid;
  }
  return lua_getstack(L, 0, &ar) ? lo + 1 : 0;
}

/* Is the thread a step started from still waiting on a coroutine it
** resumed (so we are nested inside it)? */
static int origin_waiting(lua_State *L, lua_State **origin) {
  lua_Debug ar;
  lua_State *o;
  *origin = NULL;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &step_key) != LUA_TTHREAD) {
    lua_pop(L, 1);
    return 0;
  }
  o = lua_tothread(L, -1);
  lua_pop(L, 1);
  *origin = o;
  return lua_status(o) == LUA_OK && lua_getstack(o, 0, &ar);
}

amber_agent *alua_park(amber_agent *a, lua_State *L, int base,
                       const char *text, size_t text_len) {
  lua_Debug ar;
  const char *path = NULL;
  size_t path_len = 0;
  int level, sel = base, line = 0;
  if (!amber_connected(a) || !lua_checkstack(L, 8)) return a;
  /* The break is shown at, and selects, the first level that has a line
  ** (below an error's C function, say). */
  for (level = base; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0) {
      path = alua_source_path(&ar, &path_len);
      line = ar.currentline;
      sel = level;
      break;
    }
  }
  lua_pushthread(L);                  /* keep the thread alive for steps */
  lua_rawsetp(L, LUA_REGISTRYINDEX, &step_key);
  a->park_L = L;
  a->park_base = base;
  a->park_sel = sel;
  a->busy++;
  adbg_park_at(&a->dbg, path, path_len, line, text, text_len, L,
               stack_depth(L) - base);
  a->busy--;
  a->park_L = NULL;
  if (a->dbg.logout) {
    amber_detach(a);
    return NULL;
  }
  alua_hook_sync(a, L);
  return a;
}

static void line_event(amber_agent *a, lua_State *L, lua_Debug *ar) {
  const adbg *d = &a->dbg;
  const char *why = NULL;
  if (d->step != ADBG_RUN) {
    lua_State *origin;
    int waiting = origin_waiting(L, &origin);
    int same = origin == L || (origin == NULL && d->step == ADBG_STEP_INTO);
    if (adbg_step_done(d, same, waiting, same ? stack_depth(L) : 0))
      why = "step";
  }
  if (why == NULL && abpt_count(&d->bpts) &&
      abpt_maybe(&d->bpts, ar->currentline)) {
    lua_getinfo(L, "S", ar);
    if (abpt_match(&d->bpts, ar->source, ar->srclen, ar->currentline))
      why = "breakpoint";
  }
  if (why) alua_park(a, L, 0, why, strlen(why));
}

void alua_hook(lua_State *L, lua_Debug *ar) {
  amber_agent *a;
  if (interrupted) {
    interrupted = 0;
    a = alua_agent_of(L);
    if (a && a->conn) alua_hook_sync(a, L);
    else lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
    return;
  }
  a = alua_agent_of(L);
  if (a == NULL || a->conn == NULL) {   /* detached: this thread forgot */
    lua_sethook(L, NULL, 0, 0);
    return;
  }
  if (a->busy) return;
  if (ar->event == LUA_HOOKCOUNT) {
    /* The ticker's one-shot arm polls at once (it rate-limits itself); a
    ** standing count hook polls at most every poll_ms. */
    if (!alua_ticker_take_arm(a->ticker)) {
      uint64_t now = coarse_ms();
      if (now < a->next_poll || a->opt.hook_count == 0) goto sync;
      a->next_poll = now + a->opt.poll_ms;
    }
    a = alua_poll_from(a, L, 0, 0);
  } else if (ar->event == LUA_HOOKLINE) {
    line_event(a, L, ar);
    a = alua_agent_of(L);
  }
sync:
  if (a && (lua_gethookmask(L) != alua_hook_mask(a) ||
            a->seen_version != a->dbg.version))
    alua_hook_sync(a, L);
}

int amber_break(amber_agent *a, lua_State *L, int level, const char *message) {
  const char *text = message ? message : "debugger";
  if (a == NULL || !amber_connected(a)) return 0;
  alua_park(a, L, level, text, strlen(text));
  return 1;
}
