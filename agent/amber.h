/*
** amber.h
** amber's in-VM agent for Lua 5.4: attach a lua_State to an amber server (or
** xsbug), debug it, snapshot its heap, and capture uncaught errors.
** This is the agent room's one door; docs/lua-agent.md explains the design.
*/
#ifndef AMBER_H
#define AMBER_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>

#define AMBER_VERSION "0.1.0"
#define AMBER_DEFAULT_ADDRESS "127.0.0.1:5002"

typedef struct amber_agent amber_agent;

/* How an agent behaves. Start from amber_options_init and change fields;
** strings are copied by amber_attach. */
typedef struct amber_options {
  const char *name;          /* machine name sent in the login ("lua") */
  int poll_signal;           /* signal a watcher thread sends the VM's
                                thread when the socket has work, to arm a
                                one-shot hook (SIGURG); 0 = none */
  unsigned hook_count;       /* > 0: a standing count hook every that many
                                instructions instead (0); costly in Lua
                                5.4, see docs/lua-agent.md */
  unsigned poll_ms;          /* least time between polls (10) */
  unsigned backoff_min_ms;   /* first reconnect delay (100) */
  unsigned backoff_max_ms;   /* reconnect delays double up to this (5000) */
  size_t queue_max;          /* bound on unsent bytes (256 MiB) */
  unsigned flush_ms;         /* bounded wait to deliver a crash snapshot or
                                the last bytes at detach (3000) */
  unsigned login_wait_ms;    /* wait this long at attach for the server to
                                answer the login with <go/> (0: don't) */
  int capture_print;         /* wrap the global print to also send <log> (1) */
  const char *log_function;  /* dotted global path of one more function
                                whose calls are sent as <log>, or NULL */
  int break_on_error;        /* park at uncaught errors seen by amber_msgh
                                while connected (0) */
  int crash_capture;         /* snapshot uncaught errors in amber_msgh (1) */
  const char *capture_path;  /* crash capture file when not connected;
                                NULL = $AMBER_CAPTURE, else
                                amber-crash-<pid>.xsbug in the cwd */
  int trust_bytecode;        /* let the server restore graphs that carry
                                function bytecode (0: refused) */
  int allow_run;             /* announce `run` and run the server's <run>
                                code at amber_serve / amber_poll (0) */
  int verbose;               /* report connection changes on stderr (0) */
} amber_options;

/* Fill o with the defaults shown above. */
void amber_options_init(amber_options *o);

/* Attach an agent to L's state. address is "host:port" (IPv6 as
** "[::1]:5002"); NULL makes an offline agent that only captures crashes
** and writes snapshot files. Never blocks on the network unless
** login_wait_ms is set. Returns NULL with a reason in err on failure, or if
** the state already has an agent. */
amber_agent *amber_attach(lua_State *L, const char *address,
                          const amber_options *o, char *err, size_t errlen);
/* The agent attached to L's state, or NULL. */
amber_agent *amber_get(lua_State *L);
/* Serve the connection once without blocking: reconnect when due, send
** queued bytes, run commands that arrived (and a queued <run>, with
** allow_run). Hosts with poll_signal and hook_count 0 call it from their
** own loop. Returns 1 while connected. */
int amber_poll(amber_agent *a);
/* 1 while logged in to a server, else 0. */
int amber_connected(const amber_agent *a);
/* Bytes queued but not yet sent. */
size_t amber_pending(const amber_agent *a);
/* Wait up to timeout_ms for the queue to drain; 0 when it did, else -1. */
int amber_flush(amber_agent *a, unsigned timeout_ms);
/* Send text as a <log> message (dropped while not connected). */
int amber_log(amber_agent *a, const char *text, size_t len);
/* Park as at a `debugger` statement: the server inspects the frames of L
** below the caller's level, and the call returns on go/step. Returns 1 if
** it parked, 0 if not connected. */
int amber_break(amber_agent *a, lua_State *L, int level, const char *message);
/* Flush for up to flush_ms, close the connection, remove hooks and the
** print wrapper, and free the agent. */
void amber_detach(amber_agent *a);
/* Be an idle VM that serves the server: block on the connection, handling
** commands (restore, run, snapshot …) until <logout/> (returns 0; a is
** then freed), the connection is lost after a login (returns 1; a lives
** on), or no connection came up within connect_ms (returns -1). */
int amber_serve(amber_agent *a, unsigned connect_ms);

/* ---- snapshots ---------------------------------------------------------- */

/* Roots: "globals", "registry", "loaded", "stack", "threads" or
** "path:a.b.c"; none = globals, registry, stack. Exits: dotted paths. */
typedef struct amber_snapshot_opts {
  const char *label;
  const char *const *roots; size_t nroots;
  const char *const *exits; size_t nexits;
  int level;                 /* first stack level captured (skip your own
                                C frames) */
} amber_snapshot_opts;

typedef struct amber_snapshot_info {
  uint64_t id, nodes, edges, bytes;
  double pause_ms;           /* time the VM was held */
  char hash[17];
} amber_snapshot_info;

/* Snapshot L's heap to the server: the walk runs now, its bytes leave from
** the queue across later polls. Returns 0, or -1 with a reason in err. */
int amber_snapshot(amber_agent *a, lua_State *L, const amber_snapshot_opts *s,
                   amber_snapshot_info *info, char *err, size_t errlen);
/* Append a snapshot of L to the capture file path, writing the login first
** when the file is new. Needs no agent. Returns 0, or -1 with err. */
int amber_snapshot_file(lua_State *L, const char *path,
                        const amber_snapshot_opts *s,
                        amber_snapshot_info *info, char *err, size_t errlen);

/* ---- post-mortem -------------------------------------------------------- */

/* A message handler for lua_pcall: while the failing frames are live it
** parks (break_on_error), captures the crash to the server or to a file,
** and returns the message with a traceback, as lua.c's handler does. */
int amber_msgh(lua_State *L);
/* lua_pcall with amber_msgh as the message handler. */
int amber_pcall(lua_State *L, int nargs, int nresults);
/* Where this thread's last crash capture went: a file path, "server", or
** NULL if none was made. */
const char *amber_last_capture(void);

#endif
