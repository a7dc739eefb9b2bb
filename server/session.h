/*
** session.h
** Machine sessions: one per connected VM. Each parses its byte stream with
** its own wire_parser, keeps the machine's debugger state and log, relays
** commands, streams snapshots into the store and stored snapshots back to
** machines (restore, then run code). Knows nothing of sockets:
** the event loop (serve.c) feeds bytes in and drains bytes out.
*/
#ifndef AMBER_SESSION_H
#define AMBER_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include "json.h"
#include "store.h"

typedef struct session_hub session_hub;
typedef struct session session;

/* What a session asks of its connection. conn is the pointer given to
** session_open. */
typedef struct session_io {
  void (*want_write)(void *conn);        /* output is pending */
  void (*pause)(void *conn, int paused); /* stop (1) / resume (0) reading */
  void (*drop)(void *conn);              /* close the connection soon */
} session_io;

typedef struct session_config {
  store *st;                  /* where snapshots go (the hub's writer) */
  store *reader;              /* what restores read (NULL: st) */
  session_io io;
  int quiet;                  /* no progress lines on stderr */
  int hold_at_login;          /* leave machines parked at login (no <go/>) */
  unsigned answer_timeout_s;  /* a sent request must begin within this (default 60) */
  unsigned stall_timeout_s;   /* a snapshot in progress may pause this long (default 120) */
  size_t max_message;         /* wire limits per machine (0: protocol defaults) */
  size_t max_attr;
  unsigned contention_timeout_s; /* ... or this long while finished snapshots
                                 ** of other machines wait for the database
                                 ** (default 5) */
  /* A snapshot was committed as `snapshot` (may be NULL). */
  void (*stored)(void *ud, int64_t snapshot);
  void *stored_ud;
} session_config;

/* Bounds on what a machine can make the server keep. */
#define SESSION_LOG_LINES    1000     /* lines kept per machine */
#define SESSION_LOG_LINE_MAX 4096     /* bytes kept of one line */
#define SESSION_STATE_MAX    (4u << 20) /* bytes of JSON kept per view (locals…) */
#define SESSION_OUT_MAX      (1u << 20) /* queued command bytes per machine */
#define SESSION_REQUESTS_KEPT 1024    /* finished requests remembered */
#define SESSION_MAX_ROOTS    64       /* roots or exits in one request */
#define SESSION_RUN_OUTPUT   65536    /* bytes of a run's output kept */

session_hub *session_hub_new(const session_config *cfg);
/* Close every session (rolling back ingests) and free the hub. */
void session_hub_free(session_hub *h);
/* Periodic work: request and stall timeouts. now_ms: monotonic clock. */
void session_hub_tick(session_hub *h, uint64_t now_ms);
/* Number of connected machines. */
size_t session_hub_count(const session_hub *h);

/* A new machine connected from peer ("127.0.0.1:40000"). NULL if out of
** memory. */
session *session_open(session_hub *h, void *conn, const char *peer);
/* Bytes from the machine. Returns 0, or -1 if the connection must be
** dropped (malformed stream; the reason is logged). */
int session_feed(session *s, const void *data, size_t n);
/* Pending output: *p and *n (n == 0 when none). */
void session_output(session *s, const char **p, size_t *n);
/* n bytes of the pending output were written. */
void session_output_done(session *s, size_t n);
/* The connection is gone (why: for the log): roll back a snapshot in
** progress, fail its request, free the session. */
void session_close(session *s, const char *why);
/* Queue a detach command (<logout/>) for every machine, for shutdown. */
void session_hub_logout_all(session_hub *h);
/* Bytes queued for machines and not yet written. */
size_t session_hub_pending_output(const session_hub *h);

/* ---- for the HTTP API (api_machines.c) ---- */

/* Status codes the functions below return, as HTTP uses them. */
#define SESSION_OK        200
#define SESSION_ACCEPTED  202
#define SESSION_EINVAL    400
#define SESSION_ENOTFOUND 404
#define SESSION_ECONFLICT 409

/* JSON array of connected machines (summary of each). */
void session_machines_json(session_hub *h, json_writer *w);
/* JSON object with machine id's full state; SESSION_ENOTFOUND if none. */
int session_machine_json(session_hub *h, uint64_t id, json_writer *w);
/* JSON object with machine id's log lines [offset, offset+limit). */
int session_log_json(session_hub *h, uint64_t id, uint64_t offset,
                     uint64_t limit, json_writer *w);
/* Relay a debugger command (go, step, step-inside, step-outside, abort,
** select, toggle, breakpoints) with its JSON arguments (may be NULL).
** On failure err[errlen] says why and what to do. */
int session_command(session_hub *h, uint64_t id, const char *cmd,
                    const json_value *args, char *err, size_t errlen);

/* A snapshot request: roots are "globals", "registry", "loaded", "stack",
** "threads" or a dotted path ("path:a.b" or "a.b"); exits are dotted paths. */
typedef struct session_snapshot_args {
  const char *const *roots; size_t nroots;
  const char *const *exits; size_t nexits;
  const char *label;        /* may be NULL; bytes (may hold NULs) */
  size_t label_len;
} session_snapshot_args;

/* Queue a snapshot of machine id; *req_id gets the request's id. The
** request is sent when the store is free. SESSION_ECONFLICT if the machine
** did not announce the snapshot feature. */
int session_snapshot(session_hub *h, uint64_t id,
                     const session_snapshot_args *a, uint64_t *req_id,
                     char *err, size_t errlen);
/* A restore: stream stored snapshot `snapshot` into machine id, then
** optionally run code in it. */
typedef struct session_restore_args {
  int64_t snapshot;
  int replace;               /* mode replace (else merge) */
  const char *code;          /* Lua source to run after, or NULL */
  size_t code_len;
  int verified;              /* its rows were just checked (store_verify): not again */
} session_restore_args;

/* Queue a restore (docs/protocol.md 5.5) of a stored snapshot into machine
** id; *req_id gets the request. The snapshot's rows are verified against
** its hash first (unless a->verified): SESSION_ECONFLICT if they do not
** check out, or if the machine did not announce restore (and run, with
** code) or is busy with another restore; SESSION_ENOTFOUND for no such
** machine or snapshot. */
int session_restore(session_hub *h, uint64_t id,
                    const session_restore_args *a, uint64_t *req_id,
                    char *err, size_t errlen);
/* Queue Lua code to run in machine id (docs/protocol.md 5.7). */
int session_run(session_hub *h, uint64_t id, const char *code, size_t len,
                uint64_t *req_id, char *err, size_t errlen);

/* JSON object describing request id (state, nodes so far, snapshot id). */
int session_request_json(session_hub *h, uint64_t id, json_writer *w);
/* JSON array of recent requests, newest first. */
void session_requests_json(session_hub *h, json_writer *w);

#endif
