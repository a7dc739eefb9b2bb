/*
** api.h
** The HTTP JSON API (docs/api.md), independent of the HTTP server: a
** request (method, decoded path, query arguments, body) in, a status and
** a JSON body out. serve_http.c connects it to libwebsockets.
*/
#ifndef AMBER_API_H
#define AMBER_API_H

#include <stddef.h>
#include "json.h"
#include "session.h"
#include "store.h"

/* Largest request body accepted (413 beyond). */
#define API_MAX_BODY (1u << 20)
/* Query arguments considered per request. */
#define API_MAX_ARGS 32
/* Default and largest page for paged lists. */
#define API_PAGE_DEFAULT 100
#define API_PAGE_MAX 10000
/* String values longer than this are cut in node replies unless ?full=1. */
#define API_VALUE_MAX 65536

typedef struct api_arg {
  const char *name;
  const char *value;
} api_arg;

typedef struct api_request {
  const char *method;          /* "GET", "POST", … */
  const char *path;            /* decoded, starting with "/api" */
  const api_arg *args; size_t nargs;
  const char *body; size_t body_len;
} api_request;

typedef struct api_response {
  int status;
  wire_buf body;               /* JSON; the caller frees it */
} api_response;

/* A snapshot's rows checked against its hash (store_verify) on a worker,
** before its restore request came to the loop (api_verifies_first). */
typedef struct api_verified {
  int64_t snap;
  int status;                  /* STORE_OK, STORE_EHASH, ... */
  char err[400];               /* store_errmsg, when not STORE_OK */
} api_verified;

/* What the API serves from: connected machines and a store handle for
** reading (never the one ingests write through). */
typedef struct api_ctx {
  session_hub *hub;            /* NULL off the event loop (api_runs_off_loop) */
  store *st;
  const char *machine_host;    /* where machines connect (GET /api says) */
  int machine_port;
  const api_verified *verified;  /* or NULL: the restore verifies inline */
} api_ctx;

/* Answer one request into rs (rs->body initialised by the call). */
void api_handle(api_ctx *c, const api_request *rq, api_response *rs);
/* 1 if rq is a heap analysis (summary, top, dominators, paths, diff,
** leaks): it may take seconds, reads only c->st and never the hub, so the
** server answers it on a worker thread with the worker's own store and a
** NULL hub. Off the loop, api_handle answers nothing else (500). */
int api_runs_off_loop(const api_request *rq);
/* 1 if rq restores stored snapshot *snap (POST /api/snapshots/:id/restore):
** checking its rows reads all of it, so the server does that on a worker
** first and then answers on the loop with the outcome in c->verified. */
int api_verifies_first(const api_request *rq, int64_t *snap);

/* ---- shared by api*.c ---- */

/* Set an error reply {"error": what, "hint": hint}. */
void api_error(api_response *rs, int status, const char *what, const char *hint);
/* Map a store status to an HTTP status and reply with the store's message. */
void api_store_error(api_response *rs, store *st, int status);
/* A non-negative decimal id in s: 0, or -1 if s is not one. */
int api_parse_num(const char *s, int64_t *out);
/* Query argument by name, or NULL. */
const char *api_arg_get(const api_request *rq, const char *name);
/* Unsigned query argument with a default; -1 (and a 400 reply) if bad. */
int api_arg_u64(const api_request *rq, api_response *rs, const char *name,
                uint64_t dflt, uint64_t *out);
/* offset and limit (limit capped to API_PAGE_MAX); -1 with a 400 reply. */
int api_page(const api_request *rq, api_response *rs, uint64_t *offset,
             uint64_t *limit);

/* Route handlers: seg[] are the path segments after "/api". */
void api_machines(api_ctx *c, const api_request *rq, api_response *rs,
                  char **seg, int nseg);
void api_requests(api_ctx *c, const api_request *rq, api_response *rs,
                  char **seg, int nseg);
void api_snapshots(api_ctx *c, const api_request *rq, api_response *rs,
                   char **seg, int nseg);
/* POST /api/snapshots/:id/restore {"machine", "mode", "run"}. */
void api_restore(api_ctx *c, const api_request *rq, api_response *rs,
                 int64_t snap);

/* Heap analysis (api_analysis.c): what is "summary" or "top" of a
** snapshot, "dominators" or "paths" of a node; diff and leaks take their
** snapshots as query arguments. */
void api_analysis_snapshot(api_ctx *c, const api_request *rq, api_response *rs,
                           int64_t snap, const char *what);
void api_analysis_node(api_ctx *c, const api_request *rq, api_response *rs,
                       int64_t snap, uint64_t node, const char *what);
void api_diff(api_ctx *c, const api_request *rq, api_response *rs);
void api_leaks(api_ctx *c, const api_request *rq, api_response *rs);

/* JSON renderings of store rows (api_json.c). */
void api_value_json(json_writer *w, const wire_value *v);
/* A node; value cut at API_VALUE_MAX unless full; payload as base64 if
** with_payload. */
void api_node_json(json_writer *w, const store_node *n, int full,
                   int with_payload);
/* An edge, with short summaries (looked up in st) of the node it points at
** (API_EDGE_TARGET: "target", "key_target") and/or of the node it leaves
** (API_EDGE_SOURCE: "source"). */
#define API_EDGE_TARGET 1u
#define API_EDGE_SOURCE 2u
void api_edge_json(json_writer *w, store *st, int64_t snap, const store_edge *e,
                   unsigned flags);
void api_snapshot_json(json_writer *w, const store_snapshot *s);

#endif
