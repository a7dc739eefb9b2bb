/*
** snapshot.h
** The Lua heap walk: a side-effect-free, iterative snapshot of a lua_State
** encoded as amber protocol messages (docs/protocol.md, section 5).
** Internal to agent/; hosts use agent/amber.h.
*/
#ifndef AMBER_LUA_SNAPSHOT_H
#define AMBER_LUA_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include "wire.h"

/* What to snapshot. Roots are "globals", "registry", "loaded", "stack",
** "threads", or "path:a.b.c" (a dotted path from the globals, followed
** with raw access). Exits are dotted paths; the objects they name are not
** walked and become exit nodes. NULL/0 roots means the default set
** globals, registry, stack. */
typedef struct alua_request {
  uint64_t id;               /* echoed in every message */
  const char *label;         /* optional */
  const char *machine;       /* machine name for snapshot-begin */
  const char *reason;        /* "request" (default), "break" or "crash" */
  const char *error;         /* crash: the error value as text */
  const char *traceback;     /* crash: the traceback */
  const char *const *roots; size_t nroots;
  const char *const *exits; size_t nexits;
  size_t batch_bytes;        /* target bytes per graph message; 0 = 256 KiB */
  int binary;                /* graph batches as binary frames (for a peer
                                that accepts them, and capture files) */
  lua_State *stack_thread;   /* whose frames form the "stack" root; NULL = L */
  int stack_level;           /* first level captured (skips the agent's own) */
  size_t anchor_slots;       /* values waiting per Lua stack before a helper
                                thread takes more; 0 = as many as Lua allows
                                (tests set it low to exercise helpers) */
  /* Where each finished graph batch goes while the walk runs (a socket),
  ** so the peer reads as the VM is walked and out stays one batch long.
  ** Called with out holding complete messages only; it takes them all
  ** (leaves out empty) and returns 0, or returns -1 with *why to end the
  ** snapshot. NULL: the whole snapshot is appended to out. */
  int (*sink)(void *ud, wire_buf *out, const char **why);
  void *sink_ud;
} alua_request;

/* What a snapshot cost and found. */
typedef struct alua_stats {
  uint64_t nodes, edges, stubs, exits;
  uint64_t bytes;            /* bytes appended to out */
  double pause_ms;           /* time the VM was held by the walk + encoding */
  char hash[17];             /* the content hash sent in snapshot-end */
} alua_stats;

/* Walk L's heap and append the whole snapshot (snapshot-begin, graph
** batches, snapshot-end) to out as complete messages, or all that the
** request's sink did not take. No Lua code runs and the collector's state
** is restored. Returns 0, or -1 with *err set (then out ends with a
** snapshot-error message: the snapshot's partial bytes are dropped, or,
** when a sink took some, follow it). st may be NULL. */
int alua_snapshot(lua_State *L, const alua_request *req, wire_buf *out,
                  alua_stats *st, const char **err);

#endif
