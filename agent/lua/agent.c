/*
** agent.c
** The agent record behind amber.h: attach and detach, where an agent is
** kept (the registry), polling, the login, and snapshots to the server.
*/
#include "alua.h"

#include <lauxlib.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "restore.h"
#include "snapshot.h"

static const char agent_key = 'A';   /* registry[&agent_key] = userdata */
#define AGENT_META "amber.agent"

/* The last agent attached from this thread: lets the hook skip the
** registry lookup in the common one-state program. */
static _Thread_local amber_agent *solo;

void amber_options_init(amber_options *o) {
  memset(o, 0, sizeof *o);
  o->poll_signal = SIGURG;
  o->hook_count = 0;
  o->poll_ms = 10;
  o->backoff_min_ms = 100;
  o->backoff_max_ms = 5000;
  o->queue_max = (size_t)256 << 20;
  o->flush_ms = 3000;
  o->capture_print = 1;
  o->crash_capture = 1;
}

/* Every live agent. A registry entry is trusted only if it names one of
** these and belongs to this state: a snapshot restored into a fresh state
** may carry a copy of the entry, pointer bytes and all. */
#define MAX_AGENTS 256
static _Atomic(amber_agent *) live[MAX_AGENTS];

static int live_add(amber_agent *a) {
  int i;
  for (i = 0; i < MAX_AGENTS; i++) {
    amber_agent *none = NULL;
    if (atomic_compare_exchange_strong(&live[i], &none, a)) return 0;
  }
  return -1;
}

static void live_remove(amber_agent *a) {
  int i;
  for (i = 0; i < MAX_AGENTS; i++) {
    amber_agent *expect = a;
    if (atomic_compare_exchange_strong(&live[i], &expect, NULL)) return;
  }
}

static int is_live(const amber_agent *a, const void *registry) {
  int i;
  for (i = 0; i < MAX_AGENTS; i++)
    if (atomic_load(&live[i]) == a) return a->registry == registry;
  return 0;
}

amber_agent *alua_agent_of(lua_State *L) {
  amber_agent **ud, *a;
  const void *registry = lua_topointer(L, LUA_REGISTRYINDEX);
  if (solo && solo->registry == registry) return solo;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &agent_key) != LUA_TUSERDATA) {
    lua_pop(L, 1);
    return NULL;
  }
  ud = luaL_testudata(L, -1, AGENT_META);
  a = ud && lua_rawlen(L, -1) == sizeof *ud ? *ud : NULL;
  lua_pop(L, 1);
  return a && is_live(a, registry) ? a : NULL;
}

amber_agent *amber_get(lua_State *L) { return alua_agent_of(L); }

void alua_login(const char *name, int run, wire_buf *b) {
  wire_msg_begin(b);
  wire_open(b, "login");
  wire_attr_str(b, "name", name && *name ? name : "lua");
  wire_attr_str(b, "value", LUA_RELEASE);
  wire_attr_str(b, "vm", "lua");
  wire_attr_str(b, "version", LUA_VERSION_MAJOR "." LUA_VERSION_MINOR "."
                              LUA_VERSION_RELEASE);
  wire_attr_i64(b, "pid", (int64_t)getpid());
  wire_attr_str(b, "features", run ? "snapshot restore run binary"
                                    : "snapshot restore binary");
  wire_empty_end(b);
  wire_msg_end(b);
}

/* ---- what the debugger core asks of the VM ----------------------------- */

static void vm_frames(void *ud, wire_buf *out) { alua_view_frames(ud, out); }
static void vm_local(void *ud, wire_buf *out) { alua_view_local(ud, out); }
static void vm_global(void *ud, wire_buf *out) { alua_view_global(ud, out); }
static int vm_select(void *ud, uint64_t id) { return alua_view_select(ud, id); }

static void vm_snapshot(void *ud, const acmd_snapshot *req, int parked) {
  amber_agent *a = ud;
  amber_snapshot_opts s;
  char err[512];
  lua_State *L = parked ? a->park_L : (a->cur_L ? a->cur_L : a->L);
  memset(&s, 0, sizeof s);
  s.label = req->label;
  s.roots = req->roots;
  s.nroots = req->nroots;
  s.exits = req->exits;
  s.nexits = req->nexits;
  s.level = parked ? a->park_base : a->cur_level;
  if (alua_snapshot_to_server(a, L, s.level, parked ? "break" : "request",
                              &s, req->id, NULL, err, sizeof err) != 0 &&
      a->opt.verbose)
    fprintf(stderr, "%s\n", err);
}

/* <restore>, <graph>, <restore-end>: rebuilt into the running state. */
static void vm_restore(void *ud, const acmd *cmd) {
  amber_agent *a = ud;
  lua_State *L = a->park_L ? a->park_L : (a->cur_L ? a->cur_L : a->L);
  alua_restore_opts o;
  wire_buf reply;
  memset(&o, 0, sizeof o);
  o.trust_bytecode = a->opt.trust_bytecode;
  wire_buf_init(&reply);
  alua_restore_dispatch(&a->restore, L, cmd->elem, &o, &reply);
  if (reply.len) aconn_send_buf(a->conn, &reply);
  wire_buf_free(&reply);
}

static void vm_run(void *ud, const acmd *cmd) { alua_run_queue(ud, cmd); }

static const adbg_vm vm_ops = {
  vm_frames, vm_local, vm_global, vm_select, vm_snapshot, vm_restore, vm_run
};

static int on_message(void *ud, const wire_msg *m) {
  amber_agent *a = ud;
  return adbg_on_message(&a->dbg, m);
}

static void on_state(void *ud, int up) {
  amber_agent *a = ud;
  if (up) aconn_send(a->conn, a->login.data, a->login.len);
  if (a->opt.verbose && up != a->was_up)
    fprintf(stderr, up ? "amber: connected to %s\n"
                       : "amber: %s; retrying with backoff\n",
            up ? aconn_address(a->conn) : aconn_last_error(a->conn));
  a->was_up = up;
  if (!up && a->restore) {            /* half a restore is worth nothing */
    alua_restore_free(a->restore);
    a->restore = NULL;
  }
  adbg_on_state(&a->dbg, up);
}

/* ---- attach and detach -------------------------------------------------- */

static void copy_str(char *dst, size_t n, const char **field) {
  if (*field == NULL) return;
  snprintf(dst, n, "%s", *field);
  *field = dst;
}

/* Free everything; from_gc: the registry entry is being collected. */
static void agent_free(amber_agent *a, int from_gc) {
  lua_State *L = a->L;
  alua_ticker_stop(a->ticker);        /* no signal may arm a hook for us now */
  a->ticker = NULL;
  if (a->conn && aconn_state_get(a->conn) == ACONN_UP && !a->dbg.logout)
    aconn_flush(a->conn, (int)a->opt.flush_ms);
  if (a->conn) {
    alua_log_remove(a, L);
    alua_hook_remove(a, L);
  }
  if (!from_gc) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &agent_key) == LUA_TUSERDATA) {
      amber_agent **ud = lua_touserdata(L, -1);
      *ud = NULL;
    }
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &agent_key);
  }
  if (solo == a) solo = NULL;
  live_remove(a);
  alua_restore_free(a->restore);
  free(a->run_code);
  aconn_free(a->conn);
  adbg_free(&a->dbg);
  wire_buf_free(&a->login);
  free(a);
}

static int agent_gc(lua_State *L) {
  amber_agent **ud = luaL_checkudata(L, 1, AGENT_META);
  amber_agent *a = *ud;
  *ud = NULL;
  if (a) agent_free(a, 1);
  return 0;
}

amber_agent *amber_attach(lua_State *L, const char *address,
                          const amber_options *o, char *err, size_t errlen) {
  amber_agent *a, **ud;
  if (alua_agent_of(L)) {
    snprintf(err, errlen, "amber: this Lua state already has an agent; "
             "detach it first (amber.detach())");
    return NULL;
  }
  if (!lua_checkstack(L, 4)) {
    snprintf(err, errlen, "amber: no Lua stack space to attach");
    return NULL;
  }
  a = calloc(1, sizeof *a);
  if (a == NULL) {
    snprintf(err, errlen, "amber: out of memory");
    return NULL;
  }
  if (live_add(a) != 0) {
    free(a);
    snprintf(err, errlen, "amber: more than %d agents in one process",
             MAX_AGENTS);
    return NULL;
  }
  if (o) a->opt = *o; else amber_options_init(&a->opt);
  copy_str(a->name, sizeof a->name, &a->opt.name);
  copy_str(a->log_function, sizeof a->log_function, &a->opt.log_function);
  copy_str(a->capture_path, sizeof a->capture_path, &a->opt.capture_path);
  if (a->opt.poll_ms == 0) a->opt.poll_ms = 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  a->L = lua_tothread(L, -1);
  lua_pop(L, 1);
  a->registry = lua_topointer(L, LUA_REGISTRYINDEX);
  adbg_init(&a->dbg, &vm_ops, a);
  a->dbg.verbose = a->opt.verbose;
  wire_buf_init(&a->login);
  alua_login(a->opt.name, a->opt.allow_run, &a->login);
  if (address) {
    aconn_config cfg;
    aconn_config_default(&cfg);
    cfg.backoff_min_ms = a->opt.backoff_min_ms;
    cfg.backoff_max_ms = a->opt.backoff_max_ms;
    if (a->opt.queue_max) cfg.queue_max = a->opt.queue_max;
    a->conn = aconn_new(address, &cfg, on_message, on_state, a, err, errlen);
    if (a->conn == NULL) {
      adbg_free(&a->dbg);
      wire_buf_free(&a->login);
      live_remove(a);
      free(a);
      return NULL;
    }
    a->dbg.conn = a->conn;
  }
  ud = lua_newuserdatauv(L, sizeof *ud, 0);
  *ud = a;
  if (luaL_newmetatable(L, AGENT_META)) {
    lua_pushcfunction(L, agent_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &agent_key);
  solo = a;
  if (a->conn) {
    alua_log_install(a, L);
    if (a->opt.poll_signal && a->opt.hook_count == 0) {
      a->ticker = alua_ticker_start(a, a->opt.poll_signal);
      if (a->ticker == NULL) {
        a->opt.hook_count = 1000;     /* no watcher: poll from a count hook */
        if (a->opt.verbose)
          fprintf(stderr, "amber: cannot watch the socket with signal %d; "
                  "polling from a count hook instead\n", a->opt.poll_signal);
      }
    }
    /* The first attempt starts now. A login wait parks before it, so a go
    ** answering the login is never taken for a command while running. */
    if (a->opt.login_wait_ms) adbg_wait_login(&a->dbg, a->opt.login_wait_ms);
    else adbg_poll(&a->dbg, 0);
    alua_hook_sync(a, L);
    if (a->opt.login_wait_ms) {
      if (a->dbg.logout) {
        agent_free(a, 0);
        snprintf(err, errlen, "amber: the server logged the agent out");
        return NULL;
      }
    }
  }
  return a;
}

void amber_detach(amber_agent *a) {
  if (a) agent_free(a, 0);
}

/* ---- polling ------------------------------------------------------------- */

amber_agent *alua_poll_from(amber_agent *a, lua_State *L, int level,
                            int wait) {
  lua_State *prev_L;
  int prev_level;
  if (a->conn == NULL || a->busy) return a;
  a->busy = 1;
  prev_L = a->cur_L;
  prev_level = a->cur_level;
  a->cur_L = L;
  a->cur_level = level;
  adbg_poll(&a->dbg, wait);
  alua_ticker_note(a->ticker, a->conn, alua_hook_mask(a));
  a->cur_L = prev_L;
  a->cur_level = prev_level;
  a->busy = 0;
  if (a->dbg.logout) {
    agent_free(a, 0);
    return NULL;
  }
  if (a->seen_version != a->dbg.version) alua_hook_sync(a, L);
  return a;
}

int amber_poll(amber_agent *a) {
  a = alua_poll_from(a, a->L, 0, 0);
  if (a) a = alua_run_pending(a, a->L);
  return a ? amber_connected(a) : 0;
}

int amber_connected(const amber_agent *a) {
  return a->conn != NULL && aconn_state_get(a->conn) == ACONN_UP;
}

size_t amber_pending(const amber_agent *a) {
  return a->conn ? aconn_pending(a->conn) : 0;
}

int amber_flush(amber_agent *a, unsigned timeout_ms) {
  if (a->conn == NULL) return -1;
  if (aconn_state_get(a->conn) != ACONN_UP) adbg_poll(&a->dbg, 0);
  return aconn_flush(a->conn, (int)timeout_ms);
}

int amber_log(amber_agent *a, const char *text, size_t len) {
  wire_buf b;
  int rc;
  if (!amber_connected(a)) return -1;
  wire_buf_init(&b);
  wire_msg_begin(&b);
  wire_open(&b, "log");
  wire_open_end(&b);
  wire_text(&b, text, len);
  wire_close(&b, "log");
  wire_msg_end(&b);
  rc = b.oom ? -1 : aconn_send_buf(a->conn, &b);
  wire_buf_free(&b);
  if (aconn_pending(a->conn) > 0)
    alua_ticker_note(a->ticker, a->conn, alua_hook_mask(a));
  return rc;
}

/* ---- snapshots to the server --------------------------------------------- */

static void send_snapshot_error(amber_agent *a, uint64_t id, const char *why) {
  wire_buf b;
  wire_buf_init(&b);
  wire_msg_begin(&b);
  wire_open(&b, "snapshot-error");
  wire_attr_u64(&b, "id", id);
  wire_attr_str(&b, "text", why);
  wire_empty_end(&b);
  wire_msg_end(&b);
  aconn_send_buf(a->conn, &b);
  wire_buf_free(&b);
}

/* The walk's sink: each finished batch goes to the server while the VM is
** still walked, so the server ingests meanwhile and the agent holds no
** copy of the snapshot. When the queue is full the VM (paused anyway)
** waits up to flush_ms for the server to take some; a server that does
** not, or a lost connection, ends the snapshot instead of the VM's run. */
static int send_batch(void *ud, wire_buf *out, const char **why) {
  amber_agent *a = ud;
  if (aconn_room(a->conn) < out->len &&
      aconn_wait_room(a->conn, out->len, (int)a->opt.flush_ms) != 0) {
    *why = amber_connected(a)
               ? "the server did not take the snapshot's bytes in time "
                 "(flush_ms): it is overloaded, or raise queue_max"
               : "lost the connection to the server during the snapshot";
    return -1;
  }
  if (aconn_send_buf(a->conn, out) != 0) {
    *why = "lost the connection to the server during the snapshot";
    return -1;
  }
  return 0;
}

int alua_snapshot_to_server(amber_agent *a, lua_State *L, int level,
                            const char *reason, const amber_snapshot_opts *s,
                            uint64_t id, amber_snapshot_info *info,
                            char *err, size_t errlen) {
  alua_request r;
  alua_stats st;
  wire_buf b;
  const char *why = NULL;
  int rc;
  if (!amber_connected(a)) {
    snprintf(err, errlen, "amber: not connected to a server%s%s; start one "
             "(amber serve) or snapshot to a file (file=...)",
             a->conn ? " at " : "", a->conn ? aconn_address(a->conn) : "");
    return -1;
  }
  memset(&r, 0, sizeof r);
  memset(&st, 0, sizeof st);
  r.id = id;
  r.label = s ? s->label : NULL;
  r.machine = a->opt.name ? a->opt.name : "lua";
  r.reason = reason;
  if (s) {
    r.roots = s->roots; r.nroots = s->nroots;
    r.exits = s->exits; r.nexits = s->nexits;
  }
  r.stack_thread = L;
  r.stack_level = level;
  r.binary = a->dbg.peer_binary;
  r.sink = send_batch;
  r.sink_ud = a;
  wire_buf_init(&b);
  rc = alua_snapshot(L, &r, &b, &st, &why);
  if (b.oom) {
    wire_buf_free(&b);
    snprintf(err, errlen, "amber: out of memory encoding snapshot %llu",
             (unsigned long long)id);
    send_snapshot_error(a, id, err);
    return -1;
  }
  if (b.len > aconn_room(a->conn) &&
      aconn_wait_room(a->conn, b.len, (int)a->opt.flush_ms) != 0) {
    /* The server may hold part of the snapshot: cut off, it discards it. */
    snprintf(err, errlen, "amber: snapshot %llu: the server did not take "
             "its last %zu bytes within flush_ms (%u ms); the connection is "
             "dropped so it discards the rest", (unsigned long long)id,
             b.len, a->opt.flush_ms);
    wire_buf_free(&b);
    aconn_drop(a->conn, err);
    return -1;
  }
  aconn_send_buf(a->conn, &b);
  wire_buf_free(&b);
  alua_ticker_note(a->ticker, a->conn, alua_hook_mask(a));
  if (info) {
    info->id = id;
    info->nodes = st.nodes;
    info->edges = st.edges;
    info->bytes = st.bytes;
    info->pause_ms = st.pause_ms;
    memcpy(info->hash, st.hash, sizeof info->hash);
  }
  if (rc != 0) {
    snprintf(err, errlen, "amber: snapshot %llu failed: %s",
             (unsigned long long)id, why ? why : "unknown reason");
    return -1;
  }
  return 0;
}

int amber_snapshot(amber_agent *a, lua_State *L, const amber_snapshot_opts *s,
                   amber_snapshot_info *info, char *err, size_t errlen) {
  if (amber_connected(a) == 0) adbg_poll(&a->dbg, 0);
  return alua_snapshot_to_server(a, L, s ? s->level : 0, "request", s,
                                 alua_next_id(), info, err, errlen);
}
