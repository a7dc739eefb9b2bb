/*
** serve.c
** Code the debugger asks a VM to run (<run id code>, docs/protocol.md 5.7),
** and amber_serve: the loop of a fresh, idle VM that waits for a restore
** and then for code that resumes the restored program.
*/
#include "alua.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

/* Bytes of results or error text sent back in one <run-done>. */
#define RUN_TEXT_MAX 65536

void alua_run_queue(amber_agent *a, const acmd *cmd) {
  char *copy;
  if (!a->opt.allow_run) {
    static const char why[] = "this VM does not run code for the debugger "
      "(its host did not allow it; amber-lua --serve does)";
    adbg_run_done(&a->dbg, cmd->id, 0, why, sizeof why - 1);
    return;
  }
  if (a->run_code != NULL) {
    static const char why[] = "another run is waiting to start; send this "
      "one after its run-done";
    adbg_run_done(&a->dbg, cmd->id, 0, why, sizeof why - 1);
    return;
  }
  copy = malloc(cmd->code_len + 1);
  if (copy == NULL) {
    static const char why[] = "out of memory queueing the code";
    adbg_run_done(&a->dbg, cmd->id, 0, why, sizeof why - 1);
    return;
  }
  memcpy(copy, cmd->code, cmd->code_len);
  copy[cmd->code_len] = '\0';
  a->run_code = copy;
  a->run_len = cmd->code_len;
  a->run_id = cmd->id;
}

/* The results on the stack joined by tabs, as print writes them
** (__tostring may run, hence protected). */
static int join_results(lua_State *L) {
  int n = lua_gettop(L), i;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return 1;
}

amber_agent *alua_run_pending(amber_agent *a, lua_State *L) {
  char *code;
  size_t len, tlen;
  uint64_t id;
  const char *text;
  int top, status, ok;
  if (a->run_code == NULL || a->running || a->busy) return a;
  code = a->run_code;
  len = a->run_len;
  id = a->run_id;
  a->run_code = NULL;
  a->running = 1;
  top = lua_gettop(L);
  if (!lua_checkstack(L, 4)) {
    static const char why[] = "no Lua stack space to run the code";
    a->running = 0;
    free(code);
    adbg_run_done(&a->dbg, id, 0, why, sizeof why - 1);
    return a;
  }
  lua_pushcfunction(L, alua_traceback);
  /* Text only: bytecode from the network is loaded by restore alone,
  ** behind its hash check and trust rule. */
  status = luaL_loadbufferx(L, code, len, "=(run)", "t");
  free(code);
  if (status == LUA_OK) status = lua_pcall(L, 0, LUA_MULTRET, top + 1);
  ok = status == LUA_OK;
  if (ok) {
    int nres = lua_gettop(L) - (top + 1);
    lua_pushcfunction(L, join_results);
    lua_insert(L, top + 2);
    if (lua_pcall(L, nres, 1, 0) != LUA_OK) ok = 0;
  }
  text = lua_tolstring(L, -1, &tlen);
  if (text == NULL) {
    text = "(the error is not a string)";
    tlen = strlen(text);
  }
  /* The code may have detached the agent (amber.detach()): answer only if
  ** the same agent is still there. */
  if (alua_agent_of(L) != a) {
    lua_settop(L, top);
    return NULL;
  }
  a->running = 0;
  adbg_run_done(&a->dbg, id, ok, text, tlen > RUN_TEXT_MAX ? RUN_TEXT_MAX : tlen);
  lua_settop(L, top);
  if (a->conn && aconn_pending(a->conn) > 0)
    alua_ticker_note(a->ticker, a->conn, alua_hook_mask(a));
  return a;
}

int amber_serve(amber_agent *a, unsigned connect_ms) {
  lua_State *L = a->L;
  uint64_t deadline = aconn_now_ms() + connect_ms;
  int seen_up = 0;
  if (a->conn == NULL) return -1;
  for (;;) {
    /* Blocks in poll() on the socket: an idle VM costs no CPU. */
    a = alua_poll_from(a, L, 0, 1000);
    if (a == NULL) return 0;            /* logged out: the agent is gone */
    if (amber_connected(a)) {
      seen_up = 1;
    } else if (seen_up) {
      return 1;
    } else if (aconn_now_ms() >= deadline) {
      return -1;
    }
    a = alua_run_pending(a, L);
    if (a == NULL) return 0;
  }
}
