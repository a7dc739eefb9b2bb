/*
** serve_http.c
** The HTTP side of `amber serve` on libwebsockets: the token check, request
** bodies (bounded), the JSON API replies written in chunks as the socket
** allows, heap analyses handed to the worker pool and answered when they
** are done, and the viewer's static files (no path traversal).
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "serve_impl.h"

#define HTTP_TX_CHUNK 32768

/* A request as it arrived, owned: what api_handle needs. */
typedef struct http_request {
  int method;                  /* LWSHUMETH_* */
  char *path;                  /* decoded request path */
  wire_buf argbuf;             /* "name\0value\0" pairs */
  size_t nargs;
  wire_buf body;
} http_request;

typedef struct api_job api_job;

typedef struct http_pss {
  http_request rq;
  int too_big;
  api_job *job;                /* the analysis answering rq, while it runs */
  int answer_ready;            /* the job is done: reply with answer */
  api_response answer;
  wire_buf reply;              /* headers are written first, then this */
  size_t sent;
  int replying;
  int close_after;
} http_pss;

/* A heap analysis on a worker, or the check of a snapshot about to be
** restored. The worker reads rq and writes rs (or verified); wsi belongs
** to the loop thread, which clears it when the connection closes first
** (the job is then orphaned: it runs to its end and is dropped). */
struct api_job {
  serve_job job;               /* first: the pool's part */
  struct lws *wsi;             /* who waits for the answer; NULL once gone */
  uint64_t queued_ms;
  http_request rq;
  api_response rs;
  int verify_first;            /* check verified.snap, then answer on the loop */
  api_verified verified;
};

static void request_free(http_request *rq) {
  free(rq->path);
  wire_buf_free(&rq->argbuf);
  wire_buf_free(&rq->body);
  memset(rq, 0, sizeof *rq);
}

static void pss_reset(http_pss *p) {
  if (p->job) p->job->wsi = NULL;    /* orphan it: it frees itself when done */
  request_free(&p->rq);
  wire_buf_free(&p->answer.body);
  wire_buf_free(&p->reply);
  memset(p, 0, sizeof *p);
}

/* ---- replies ----------------------------------------------------------- */

/* Write the status line and headers, then queue body (taken over). */
static int reply(struct lws *wsi, http_pss *p, int status, const char *ctype,
                 wire_buf *body, int close_after) {
  unsigned char hbuf[LWS_PRE + 1024];
  unsigned char *start = hbuf + LWS_PRE, *q = start, *end = hbuf + sizeof hbuf - 1;
  wire_buf_free(&p->reply);
  p->reply = *body;
  wire_buf_init(body);
  p->sent = 0;
  p->replying = 1;
  p->close_after = close_after;
  if (lws_add_http_common_headers(wsi, (unsigned)status, ctype, p->reply.len, &q, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                   (const unsigned char *)"no-store", 8, &q, end) ||
      lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                  (const unsigned char *)"nosniff", 7, &q, end))
    return -1;
  if (status == 401 &&
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
                                   (const unsigned char *)"Bearer", 6, &q, end))
    return -1;
  if (close_after &&
      lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                   (const unsigned char *)"close", 5, &q, end))
    return -1;
  if (lws_finalize_write_http_header(wsi, start, &q, end)) return -1;
  lws_callback_on_writable(wsi);
  return 0;
}

static int reply_error(struct lws *wsi, http_pss *p, int status, const char *what,
                       const char *hint, int close_after) {
  api_response rs;
  wire_buf_init(&rs.body);
  api_error(&rs, status, what, hint);
  int r = reply(wsi, p, status, "application/json", &rs.body, close_after);
  wire_buf_free(&rs.body);
  return r;
}

static int write_more(struct lws *wsi, http_pss *p) {
  static unsigned char buf[LWS_PRE + HTTP_TX_CHUNK];
  size_t left = p->reply.len - p->sent;
  size_t n = left < HTTP_TX_CHUNK ? left : HTTP_TX_CHUNK;
  int final = n == left;
  if (n) memcpy(buf + LWS_PRE, p->reply.data + p->sent, n);
  if (lws_write(wsi, buf + LWS_PRE, n,
                final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
    return -1;
  p->sent += n;
  if (!final) {
    lws_callback_on_writable(wsi);
    return 0;
  }
  int close_after = p->close_after;
  pss_reset(p);
  if (close_after) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- requests ---------------------------------------------------------- */

/* Constant-time comparison, so the token cannot be guessed byte by byte. */
static int same_secret(const char *a, size_t alen, const char *b) {
  size_t blen = strlen(b);
  unsigned diff = (unsigned)(alen ^ blen);
  for (size_t i = 0; i < alen; i++) diff |= (unsigned char)a[i] ^ (unsigned char)b[i % (blen ? blen : 1)];
  return diff == 0;
}

static const char *arg_of(const http_pss *p, const char *name) {
  const char *s = p->rq.argbuf.data;
  for (size_t i = 0; i < p->rq.nargs; i++) {
    const char *v = s + strlen(s) + 1;
    if (strcmp(s, name) == 0) return v;
    s = v + strlen(v) + 1;
  }
  return NULL;
}

static int authorized(struct lws *wsi, const http_pss *p, const char *token) {
  if (!token || !*token) return 1;
  char h[512];
  int n = lws_hdr_copy(wsi, h, sizeof h, WSI_TOKEN_HTTP_AUTHORIZATION);
  if (n > 7 && strncmp(h, "Bearer ", 7) == 0 && same_secret(h + 7, (size_t)n - 7, token))
    return 1;
  const char *q = arg_of(p, "token");
  return q && same_secret(q, strlen(q), token);
}

/* Keep the decoded query arguments ("name=value" fragments). */
static void collect_args(struct lws *wsi, http_pss *p) {
  char frag[4096];
  http_request *rq = &p->rq;
  for (int i = 0; rq->nargs < API_MAX_ARGS; i++) {
    int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) break;
    char *eq = memchr(frag, '=', (size_t)n);
    size_t nl = eq ? (size_t)(eq - frag) : (size_t)n;
    wire_buf_put(&rq->argbuf, frag, nl);
    wire_buf_put(&rq->argbuf, "", 1);
    if (eq) wire_buf_put(&rq->argbuf, eq + 1, (size_t)n - nl - 1);
    wire_buf_put(&rq->argbuf, "", 1);
    rq->nargs++;
  }
}

/* The API's view of a request (pointing into it and into args). */
static void api_request_of(const http_request *in, api_arg args[API_MAX_ARGS],
                           api_request *rq) {
  const char *s = in->argbuf.data;
  for (size_t i = 0; i < in->nargs; i++) {
    args[i].name = s;
    args[i].value = s + strlen(s) + 1;
    s = args[i].value + strlen(args[i].value) + 1;
  }
  static const char *const names[] = { "GET", "POST", "OPTIONS", "PUT", "PATCH",
                                       "DELETE", "CONNECT", "HEAD" };
  rq->method = in->method >= 0 && in->method < 8 ? names[in->method] : "?";
  rq->path = in->path;
  rq->args = args;
  rq->nargs = in->nargs;
  rq->body = in->body.data ? in->body.data : "";
  rq->body_len = in->body.len;
}

/* ---- heap analyses on the workers ---------------------------------------- */

/* On a worker: the machines are out of reach (hub NULL), which is all
** api_runs_off_loop requests need. */
static void api_job_run(serve_job *sj, store *st) {
  api_job *j = (api_job *)sj;
  if (j->verify_first) {
    char hex[17];
    api_verified *v = &j->verified;
    v->status = store_verify(st, v->snap, hex);
    if (v->status != STORE_OK) snprintf(v->err, sizeof v->err, "%s", store_errmsg(st));
    return;
  }
  api_arg args[API_MAX_ARGS];
  api_request rq;
  api_request_of(&j->rq, args, &rq);
  api_ctx c;
  memset(&c, 0, sizeof c);
  c.st = st;
  api_handle(&c, &rq, &j->rs);
}

/* Log that the client of an analysis (or of a restore being checked) left
** before its answer was ready; the path is printed with anything but
** printable ASCII escaped. */
static void note_orphan(const char *method, const char *path, uint64_t ms) {
  fprintf(stderr, "amber: http: the client of %s ", method);
  for (size_t i = 0; path[i] && i < 200; i++) {
    unsigned char c = (unsigned char)path[i];
    if (c >= 0x20 && c < 0x7F && c != '\\') fputc(c, stderr);
    else fprintf(stderr, "\\x%02x", c);
  }
  fprintf(stderr, " left before its answer was ready; dropped it after %llu ms\n",
          (unsigned long long)ms);
}

/* On the loop thread: hand the answer to its connection, which writes it
** when writable; or drop it if the connection is gone. */
static void api_job_finish(serve_job *sj, int ran) {
  api_job *j = (api_job *)sj;
  if (ran && j->wsi && j->verify_first) {
    /* the restore itself touches the machines: here, on the loop */
    serve_state *sv = serve_current;
    api_arg args[API_MAX_ARGS];
    api_request rq;
    api_request_of(&j->rq, args, &rq);
    api_ctx c = sv->api;
    c.verified = &j->verified;
    wire_buf_free(&j->rs.body);
    api_handle(&c, &rq, &j->rs);
  }
  if (j->wsi) {
    http_pss *p = lws_wsi_user(j->wsi);
    assert(p && p->job == j);
    p->job = NULL;
    if (ran) {
      p->answer = j->rs;
      wire_buf_init(&j->rs.body);
      p->answer_ready = 1;
      lws_rx_flow_control(j->wsi, 1);
      lws_callback_on_writable(j->wsi);
    }
  } else if (ran && !serve_current->o->quiet) {
    note_orphan(j->verify_first ? "POST" : "GET", j->rq.path, serve_mono_ms() - j->queued_ms);
  }
  request_free(&j->rq);
  wire_buf_free(&j->rs.body);
  free(j);
}

/* Queue the request for a worker (with verify_snap > 0: only the check of
** that snapshot); the connection waits for api_job_finish. */
static int answer_later(struct lws *wsi, http_pss *p, int64_t verify_snap) {
  serve_state *sv = serve_current;
  api_job *j = calloc(1, sizeof *j);
  if (!j) return reply_error(wsi, p, 500, "out of memory", NULL, 1);
  j->job.run = api_job_run;
  j->job.finish = api_job_finish;
  j->verify_first = verify_snap > 0;
  j->verified.snap = verify_snap;
  j->wsi = wsi;
  j->queued_ms = serve_mono_ms();
  j->rq = p->rq;                   /* taken over */
  memset(&p->rq, 0, sizeof p->rq);
  wire_buf_init(&j->rs.body);
  p->job = j;
  /* Nothing is read while the answer is pending. lws would not consume it
  ** anyway, so a client that closed would make every poll return at once;
  ** without POLLIN, a reset shows as a hang-up and closes the connection
  ** (the job is then orphaned). And the connection waits as long as the
  ** analysis takes: lws would otherwise drop it after 5 s. */
  lws_rx_flow_control(wsi, 0);
  lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
  serve_work_queue(sv->work, &j->job, 0);
  return 0;
}

static int answer_api(struct lws *wsi, http_pss *p) {
  serve_state *sv = serve_current;
  api_arg args[API_MAX_ARGS];
  api_request rq;
  api_request_of(&p->rq, args, &rq);
  int64_t snap = 0;
  if (sv->work && api_runs_off_loop(&rq)) return answer_later(wsi, p, 0);
  if (sv->work && api_verifies_first(&rq, &snap)) return answer_later(wsi, p, snap);
  api_response rs;
  api_handle(&sv->api, &rq, &rs);
  int r = reply(wsi, p, rs.status, "application/json", &rs.body, 0);
  wire_buf_free(&rs.body);
  return r;
}

static const char *mime_of(const char *path) {
  static const char *const map[][2] = {
    { ".html", "text/html; charset=utf-8" }, { ".htm", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" }, { ".mjs", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" }, { ".json", "application/json" },
    { ".map", "application/json" }, { ".svg", "image/svg+xml" },
    { ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".jpeg", "image/jpeg" },
    { ".gif", "image/gif" }, { ".ico", "image/x-icon" }, { ".webp", "image/webp" },
    { ".woff", "font/woff" }, { ".woff2", "font/woff2" }, { ".wasm", "application/wasm" },
    { ".txt", "text/plain; charset=utf-8" }, { ".md", "text/plain; charset=utf-8" },
  };
  const char *dot = strrchr(path, '.');
  if (dot && !strchr(dot, '/'))
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
      if (strcasecmp(dot, map[i][0]) == 0) return map[i][1];
  return "application/octet-stream";
}

static const char no_viewer_page[] =
  "<!doctype html><meta charset=utf-8><title>amber</title>"
  "<h1>amber</h1><p>The viewer is not installed in this server's viewer folder. "
  "The JSON API is here:</p><ul>"
  "<li><a href=\"/api\">/api</a> (the endpoints)</li>"
  "<li><a href=\"/api/machines\">/api/machines</a></li>"
  "<li><a href=\"/api/snapshots\">/api/snapshots</a></li></ul>";

/* A file under the viewer folder. Path segments ".." are refused, and the
** resolved file must still lie inside the folder (symlinks included). */
static int answer_static(struct lws *wsi, http_pss *p) {
  serve_state *sv = serve_current;
  const char *path = p->rq.path;
  const char *rel = path;
  while (*rel == '/') rel++;
  if (strstr(path, "..") || strchr(path, '\\') || strlen(path) > 1024)
    return reply_error(wsi, p, 404, "no such file", NULL, 0);
  char want[PATH_MAX + 1100], real[PATH_MAX];
  int is_index = *rel == 0;
  snprintf(want, sizeof want, "%s/%s%s", sv->viewer, rel,
           *rel == 0 || rel[strlen(rel) - 1] == '/' ? "index.html" : "");
  struct stat stt;
  if (sv->viewer[0] && realpath(want, real) && stat(real, &stt) == 0 &&
      S_ISDIR(stt.st_mode)) {
    /* A folder: its index.html. */
    snprintf(want, sizeof want, "%s/index.html", real);
    if (!realpath(want, real)) real[0] = 0;
  } else if (!sv->viewer[0] || !realpath(want, real)) {
    real[0] = 0;
  }
  size_t vl = strlen(sv->viewer);
  if (!real[0] || strncmp(real, sv->viewer, vl) != 0 || real[vl] != '/' ||
      stat(real, &stt) != 0 || !S_ISREG(stt.st_mode)) {
    if (is_index) {
      wire_buf b;
      wire_buf_init(&b);
      wire_buf_put(&b, no_viewer_page, sizeof no_viewer_page - 1);
      int r = reply(wsi, p, 200, "text/html; charset=utf-8", &b, 0);
      wire_buf_free(&b);
      return r;
    }
    return reply_error(wsi, p, 404, "no such file", "the API lives under /api", 0);
  }
  int n = lws_serve_http_file(wsi, real, mime_of(real), NULL, 0);
  if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) return -1;
  return 0;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                        void *user, void *in, size_t len) {
  http_pss *p = user;
  serve_state *sv = serve_current;
  /* lws_cancel_service from a worker: deliver what the workers finished. */
  if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
    if (sv && sv->work) serve_work_deliver(sv->work);
    return 0;
  }
  /* A connection that closes before sending a request has no state. */
  if (!p) return lws_callback_http_dummy(wsi, reason, user, in, len);
  switch (reason) {
  case LWS_CALLBACK_HTTP: {
    pss_reset(p);
    char *uri = NULL;
    int ulen = 0;
    int method = lws_http_get_uri_and_method(wsi, &uri, &ulen);
    p->rq.method = method;
    p->rq.path = strndup(in ? (const char *)in : "/", in ? strlen(in) : 1);
    if (!p->rq.path) return -1;
    collect_args(wsi, p);
    if (!authorized(wsi, p, sv->o->token))
      return reply_error(wsi, p, 401, "this server needs a token",
                         "send 'Authorization: Bearer TOKEN' or add ?token=TOKEN", 1);
    const char *path = p->rq.path;
    int is_api = strncmp(path, "/api", 4) == 0 && (path[4] == 0 || path[4] == '/');
    if (method == LWSHUMETH_POST || method == LWSHUMETH_PUT ||
        method == LWSHUMETH_PATCH) {
      char cl[32];
      if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
          strtoull(cl, NULL, 10) > API_MAX_BODY)
        return reply_error(wsi, p, 413, "the request body is too large",
                           "request bodies are limited to 1 MiB", 1);
      if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        return 0;                  /* the body follows; answer at its end */
      if (!is_api) return reply_error(wsi, p, 405, "only GET is served here", NULL, 0);
      return answer_api(wsi, p);
    }
    if (is_api) return answer_api(wsi, p);
    if (method != LWSHUMETH_GET && method != LWSHUMETH_HEAD)
      return reply_error(wsi, p, 405, "only GET is served here", NULL, 0);
    return answer_static(wsi, p);
  }
  case LWS_CALLBACK_HTTP_BODY:
    if (p->too_big) return 0;
    if (p->rq.body.len + len > API_MAX_BODY) {
      p->too_big = 1;
      wire_buf_free(&p->rq.body);
      return 0;
    }
    wire_buf_put(&p->rq.body, in, len);
    return 0;
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    if (p->too_big || p->rq.body.oom)
      return reply_error(wsi, p, 413, "the request body is too large",
                         "request bodies are limited to 1 MiB", 1);
    if (strncmp(p->rq.path ? p->rq.path : "", "/api", 4) != 0)
      return reply_error(wsi, p, 405, "only GET is served here", NULL, 0);
    return answer_api(wsi, p);
  case LWS_CALLBACK_HTTP_WRITEABLE:
    if (p->answer_ready) {
      /* A worker's answer: headers now, the body as the socket drains. */
      p->answer_ready = 0;
      int r = reply(wsi, p, p->answer.status, "application/json", &p->answer.body, 0);
      wire_buf_free(&p->answer.body);
      return r;
    }
    if (!p->replying) break;
    return write_more(wsi, p);
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    pss_reset(p);
    break;
  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols serve_http_protocols[2] = {
  { "http", http_callback, sizeof(http_pss), 0, 0, NULL, 0 },
  { NULL, NULL, 0, 0, 0, NULL, 0 }
};
