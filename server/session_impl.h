/*
** session_impl.h
** Internals shared by session*.c: the hub, a session's state, snapshot
** requests. Nothing outside session*.c includes this; the door is session.h.
*/
#ifndef AMBER_SESSION_IMPL_H
#define AMBER_SESSION_IMPL_H

#include "session.h"

/* A byte string owned by the session (VM data: may hold NULs). */
typedef struct sbytes {
  char *p;   /* NUL-terminated as well; NULL when absent */
  size_t n;
} sbytes;

enum session_state { SESSION_CONNECTING, SESSION_RUNNING, SESSION_PARKED };
enum request_state { REQUEST_SENT, REQUEST_RECEIVING, REQUEST_DONE,
                     REQUEST_FAILED, REQUEST_RESTORING, REQUEST_RUNNING };
/* What a request asks of its machine. */
enum request_kind { REQUEST_SNAPSHOT, REQUEST_RESTORE, REQUEST_RUN };

/* Features a machine announced in its login. */
#define SESSION_F_SNAPSHOT 1u
#define SESSION_F_RESTORE  2u
#define SESSION_F_EVAL     4u
#define SESSION_F_RUN      8u
#define SESSION_F_BINARY  16u  /* takes and sends binary frames */

typedef struct restore_stream restore_stream;

typedef struct session_request {
  struct session_request *next;   /* hub list, newest first */
  uint64_t id;
  uint64_t machine_id;
  sbytes machine;                 /* the machine's name when asked */
  session *s;                     /* NULL once the machine is gone */
  char wire_id[32];               /* the id in the snapshot messages */
  enum request_state state;
  int unsolicited;                /* the machine sent it unasked (break, crash) */
  int ended;                      /* its snapshot-end (or -error) has arrived */
  char reason[16];
  sbytes label;
  uint64_t nodes, edges;
  int64_t snapshot;               /* the stored snapshot, when done */
  char *error;                    /* why it failed */
  int64_t created_wall_ms, finished_wall_ms;
  uint64_t activity_ms;           /* monotonic: last sign of progress */
  /* restore and run requests (restore_send.c) */
  enum request_kind kind;
  int replace;                    /* restore mode */
  uint64_t total_nodes, total_edges; /* of the snapshot being restored */
  restore_stream *stream;         /* batches still to produce, or NULL */
  uint64_t placeholders;          /* as the machine reported them */
  wire_buf placeholder_json;      /* the listed ones: JSON array items */
  sbytes code;                    /* the code to run after, or none */
  wire_buf output;                /* log lines while it ran: JSON strings */
  uint64_t output_lines;
  int output_cut;                 /* more lines came than were kept */
  sbytes result;                  /* run-done text */
  int run_ok;                     /* -1 until run-done */
} session_request;

typedef struct log_line {
  char *text;
  size_t len;
  int64_t wall_ms;
} log_line;

struct session {
  session_hub *hub;
  session *next, *prev;
  void *conn;
  uint64_t id;
  char peer[64];
  int64_t connected_wall_ms;
  wire_parser *parser;
  store_ingest *ingest;
  wire_buf out;                   /* commands not yet written */
  size_t out_off;
  int paused;
  /* login */
  int logged_in;
  sbytes name, title, vm, version, features;
  int64_t pid;
  unsigned feat;
  /* debugger state */
  enum session_state state;
  sbytes break_path, break_msg;
  int64_t break_line;
  wire_buf frames, local, global, grammar; /* JSON of the latest views */
  wire_buf breakpoints;           /* JSON array of what we set */
  /* log ring */
  log_line log[SESSION_LOG_LINES];
  uint64_t log_total;             /* lines ever received */
  uint64_t msgs, bytes_in;
  uint64_t last_rx_ms;
  session_request *current;       /* the snapshot being received */
  session_request *restoring;     /* the restore or run in flight */
};

struct session_hub {
  session_config cfg;
  session *sessions;
  size_t count;
  uint64_t next_session_id;
  session_request *requests;      /* newest first */
  size_t nrequests;
  uint64_t next_request_id;
};

/* Clocks: wall (ms since the epoch, for display) and monotonic (timeouts). */
int64_t session_wall_ms(void);
uint64_t session_mono_ms(void);

/* sbytes helpers: set to a copy (len bytes), and free. */
int sbytes_set(sbytes *b, const char *p, size_t len);
void sbytes_free(sbytes *b);

/* The connected machine with this id, or NULL. */
session *session_find(session_hub *h, uint64_t id);
/* The connected machine with this id if it is taking commands; else NULL,
** *status SESSION_ENOTFOUND or SESSION_ECONFLICT and the reason in err
** (hint ends the "not reading its commands" one). */
session *session_reachable(session_hub *h, uint64_t id, const char *hint,
                           int *status, char *err, size_t errlen);
/* Queue bytes for the machine and ask the connection to write them. */
void session_send(session *s, const wire_buf *cmd);
/* Log a line about machine s on stderr ("amber: machine 3 (app.lua): …"). */
void session_note(const session *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Debugger views (session_state.c): update from one item of a message. */
void session_on_item(session *s, const wire_elem *item);
/* Free what the state views hold. */
void session_state_free(session *s);
/* Write the machine summary / full state as JSON. */
void session_summary_json(const session *s, json_writer *w);

/* Snapshot requests (session_request.c). */
session_request *request_new(session_hub *h, session *s);
session_request *request_find(session_hub *h, uint64_t id);
/* A snapshot-begin arrived on s: match it to a sent request or record an
** unsolicited one. */
void request_on_begin(session *s, const wire_elem *item);
/* A snapshot-end or snapshot-error arrived on s (before the ingest sees it). */
void request_on_end(session *s, const wire_elem *item);
/* The ingest finished a snapshot (committed or failed). */
void request_on_done(void *ud, const store_ingest_result *r);
/* s is going away: detach its requests. */
void request_detach(session *s);
/* Fail request r with a message (copied). */
void request_fail(session_request *r, const char *why);
/* Request r finished well. */
void request_done(session_request *r);
/* Forget finished requests beyond SESSION_REQUESTS_KEPT. */
void request_trim(session_hub *h);
void request_json(const session_request *r, json_writer *w);
/* Release what a request owns, and the request. */
void request_free(session_request *r);

/* Restores and runs (restore_send.c). */
/* Produce restore batches for s while its output queue is short. */
void restore_pump(session *s);
/* An item from s that answers a restore or run (restore-done,
** restore-error, run-done) or is output of a run (log). */
void restore_on_item(session *s, const wire_elem *item);
/* r ends (done, failed, machine gone): drop its stream. */
void restore_release(session_request *r);
/* Restore and run fields of r as JSON (inside its object). */
void restore_json(const session_request *r, json_writer *w);

#endif
