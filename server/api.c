/*
** api.c
** The API's front: split the path, dispatch to the machines, requests and
** snapshots handlers, and the shared helpers for errors and arguments.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

#define API_MAX_SEGMENTS 8

void api_error(api_response *rs, int status, const char *what, const char *hint) {
  json_writer w;
  wire_buf_reset(&rs->body);
  json_init(&w, &rs->body);
  json_object_begin(&w);
  json_kv_str(&w, "error", what);
  json_kv_str(&w, "hint", hint);
  json_object_end(&w);
  rs->status = status;
}

void api_store_error(api_response *rs, store *st, int status) {
  int http;
  const char *hint;
  switch (status) {
  case STORE_ENOTFOUND:
    http = 404;
    hint = "GET /api/snapshots lists the snapshots; node ids start at 0 (the root)";
    break;
  case STORE_EUSAGE:
    http = 400;
    hint = "see docs/api.md for the parameters and docs/store.md for paths";
    break;
  case STORE_EBUSY:
    http = 503;
    hint = "the database is locked by another process; try again";
    break;
  case STORE_ECORRUPT:
    http = 500;
    hint = "a stored row is damaged; `amber list` and store_verify tell which snapshot";
    break;
  default:
    http = 500;
    hint = "see the server's log";
    break;
  }
  const char *msg = st ? store_errmsg(st) : NULL;
  api_error(rs, http, msg && *msg ? msg : store_status_name(status), hint);
}

const char *api_arg_get(const api_request *rq, const char *name) {
  for (size_t i = 0; i < rq->nargs; i++)
    if (strcmp(rq->args[i].name, name) == 0) return rq->args[i].value;
  return NULL;
}

int api_arg_u64(const api_request *rq, api_response *rs, const char *name,
                uint64_t dflt, uint64_t *out) {
  const char *v = api_arg_get(rq, name);
  if (!v || !*v) { *out = dflt; return 0; }
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno || *end || *v == '-') {
    char what[160];
    snprintf(what, sizeof what, "query argument %s=%.40s is not a non-negative "
             "integer", name, v);
    api_error(rs, 400, what, NULL);
    return -1;
  }
  *out = x;
  return 0;
}

int api_page(const api_request *rq, api_response *rs, uint64_t *offset,
             uint64_t *limit) {
  if (api_arg_u64(rq, rs, "offset", 0, offset)) return -1;
  if (api_arg_u64(rq, rs, "limit", API_PAGE_DEFAULT, limit)) return -1;
  if (*limit == 0 || *limit > API_PAGE_MAX) *limit = API_PAGE_MAX;
  return 0;
}

/* GET /api: what is here. */
static void api_index(api_ctx *c, api_response *rs) {
  json_writer w;
  json_init(&w, &rs->body);
  json_object_begin(&w);
  json_kv_str(&w, "service", "amber");
  json_kv_uint(&w, "machines", session_hub_count(c->hub));
  json_kv_str(&w, "machine_host", c->machine_host);
  json_keyz(&w, "machine_port");
  if (c->machine_port > 0) json_int(&w, c->machine_port);
  else json_null(&w);
  json_keyz(&w, "endpoints");
  json_array_begin(&w);
  static const char *const eps[] = {
    "GET /api/machines", "GET /api/machines/:id", "GET /api/machines/:id/log",
    "POST /api/machines/:id/snapshot", "POST /api/machines/:id/run",
    "POST /api/machines/:id/{go,step,step-inside,step-outside,abort,logout,select,toggle,breakpoints}",
    "GET /api/requests", "GET /api/requests/:id", "GET /api/snapshots",
    "GET /api/snapshots/:id", "POST /api/snapshots/:id/restore",
    "GET /api/snapshots/:id/nodes/:nid",
    "GET /api/snapshots/:id/node?path=", "GET /api/snapshots/:id/nodes/:nid/children",
    "GET /api/snapshots/:id/nodes/:nid/retainers", "GET /api/snapshots/:id/search",
    "GET /api/snapshots/:id/frames", "GET /api/snapshots/:id/summary",
    "GET /api/snapshots/:id/top", "GET /api/snapshots/:id/nodes/:nid/dominators",
    "GET /api/snapshots/:id/nodes/:nid/paths", "GET /api/diff?a=&b=",
    "GET /api/leaks?baseline=&target=&final=", NULL };
  for (int i = 0; eps[i]; i++) json_stringz(&w, eps[i]);
  json_array_end(&w);
  json_kv_str(&w, "docs", "docs/api.md");
  json_object_end(&w);
  rs->status = 200;
}

/* Split path at '/' into seg[] (pointers into copy, a private copy the
** caller frees). Returns the number of segments, or -1 if there are more
** than API_MAX_SEGMENTS (or no memory: *copy is then NULL). */
static int split_path(const char *path, char **copy, char *seg[API_MAX_SEGMENTS]) {
  size_t plen = strlen(path);
  *copy = malloc(plen + 1);
  if (!*copy) return -1;
  memcpy(*copy, path, plen + 1);
  int nseg = 0;
  char *save = NULL;
  for (char *p = strtok_r(*copy, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
    if (nseg == API_MAX_SEGMENTS) return -1;
    seg[nseg++] = p;
  }
  return nseg;
}

int api_runs_off_loop(const api_request *rq) {
  if (strcmp(rq->method, "GET") != 0) return 0;
  char *copy, *seg[API_MAX_SEGMENTS];
  int n = split_path(rq->path, &copy, seg), slow = 0;
  if (n >= 2 && strcmp(seg[0], "api") == 0) {
    const char *what = seg[1];
    if (n == 2) slow = strcmp(what, "diff") == 0 || strcmp(what, "leaks") == 0;
    else if (strcmp(what, "snapshots") == 0 && n == 4)
      slow = strcmp(seg[3], "summary") == 0 || strcmp(seg[3], "top") == 0;
    else if (strcmp(what, "snapshots") == 0 && n == 6 && strcmp(seg[3], "nodes") == 0)
      slow = strcmp(seg[5], "dominators") == 0 || strcmp(seg[5], "paths") == 0;
  }
  free(copy);
  return slow;
}

int api_parse_num(const char *s, int64_t *out) {
  if (!s || !*s || *s == '-') return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

int api_verifies_first(const api_request *rq, int64_t *snap) {
  if (strcmp(rq->method, "POST") != 0) return 0;
  char *copy, *seg[API_MAX_SEGMENTS];
  int n = split_path(rq->path, &copy, seg), yes = 0;
  int64_t id;
  if (n == 4 && strcmp(seg[0], "api") == 0 && strcmp(seg[1], "snapshots") == 0 &&
      strcmp(seg[3], "restore") == 0 && api_parse_num(seg[2], &id) == 0 && id > 0) {
    *snap = id;
    yes = 1;
  }
  free(copy);
  return yes;
}

void api_handle(api_ctx *c, const api_request *rq, api_response *rs) {
  wire_buf_init(&rs->body);
  rs->status = 500;
  if (rq->body_len > API_MAX_BODY) {
    api_error(rs, 413, "the request body is too large",
              "request bodies are limited to 1 MiB");
    return;
  }
  /* Off the loop there are no machines: only the analysis routes run. */
  if (!c->hub && !api_runs_off_loop(rq)) {
    api_error(rs, 500, "this request cannot be answered off the event loop",
              "see the server's log");
    return;
  }
  char *copy, *seg[API_MAX_SEGMENTS];
  int nseg = split_path(rq->path, &copy, seg);
  if (!copy) { api_error(rs, 500, "out of memory", NULL); return; }
  if (nseg <= 0 || strcmp(seg[0], "api") != 0) {
    api_error(rs, 404, "no such API endpoint", "GET /api lists the endpoints");
  } else if (nseg == 1) {
    if (strcmp(rq->method, "GET") == 0) api_index(c, rs);
    else api_error(rs, 405, "use GET", NULL);
  } else if (strcmp(seg[1], "machines") == 0) {
    api_machines(c, rq, rs, seg + 2, nseg - 2);
  } else if (strcmp(seg[1], "requests") == 0) {
    api_requests(c, rq, rs, seg + 2, nseg - 2);
  } else if (strcmp(seg[1], "snapshots") == 0) {
    api_snapshots(c, rq, rs, seg + 2, nseg - 2);
  } else if (strcmp(seg[1], "diff") == 0 && nseg == 2) {
    api_diff(c, rq, rs);
  } else if (strcmp(seg[1], "leaks") == 0 && nseg == 2) {
    api_leaks(c, rq, rs);
  } else {
    api_error(rs, 404, "no such API endpoint", "GET /api lists the endpoints");
  }
  free(copy);
  if (rs->body.oom) {
    wire_buf_free(&rs->body);
    api_error(rs, 500, "out of memory building the reply", NULL);
  }
}
