/*
** api_machines.c
** /api/machines and /api/requests: connected machines, their debugger
** state and log, commands relayed to them, snapshot requests, and
** restores (POST /api/snapshots/:id/restore) and runs.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

static int parse_id(const char *s, uint64_t *out) {
  if (!s || !*s || *s == '-') return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

/* Map a session status to a reply: errors get {"error","hint"}. */
static void session_reply(api_response *rs, int status, const char *err) {
  if (status == SESSION_OK || status == SESSION_ACCEPTED) {
    rs->status = status;
    return;
  }
  const char *hint = NULL;
  if (status == SESSION_ENOTFOUND) hint = "GET /api/machines lists the connected machines";
  api_error(rs, status, err, hint);
}

/* Parse the body as a JSON object; NULL body is an empty object. Returns
** the document (or NULL for an empty body) and sets *bad on error. */
static json_doc *body_json(const api_request *rq, api_response *rs, int *bad) {
  *bad = 0;
  size_t i = 0;
  while (i < rq->body_len && (rq->body[i] == ' ' || rq->body[i] == '\n' ||
                              rq->body[i] == '\r' || rq->body[i] == '\t'))
    i++;
  if (i == rq->body_len) return NULL;
  char err[160];
  json_doc *d = json_parse(rq->body, rq->body_len, err, sizeof err);
  if (!d || json_root(d)->type != JSON_OBJECT) {
    char what[220];
    snprintf(what, sizeof what, "the body is not a JSON object%s%s", d ? "" : ": ",
             d ? "" : err);
    api_error(rs, 400, what, "send Content-Type: application/json with an object body");
    json_doc_free(d);
    *bad = 1;
    return NULL;
  }
  return d;
}

/* A JSON array of strings into list[max]; returns the count or -1. */
static int string_list(const json_value *v, const char **list, size_t max) {
  if (!v) return 0;
  if (v->type == JSON_STRING) { list[0] = v->str; return 1; }
  if (v->type != JSON_ARRAY || v->count > max) return -1;
  int n = 0;
  for (const json_value *c = v->child; c; c = c->next) {
    if (c->type != JSON_STRING || memchr(c->str, 0, c->len)) return -1;
    list[n++] = c->str;
  }
  return n;
}

static void post_snapshot(api_ctx *c, const api_request *rq, api_response *rs,
                          uint64_t id) {
  int bad;
  json_doc *d = body_json(rq, rs, &bad);
  if (bad) return;
  const json_value *o = d ? json_root(d) : NULL;
  const char *roots[SESSION_MAX_ROOTS], *exits[SESSION_MAX_ROOTS];
  int nr = string_list(json_get(o, "roots"), roots, SESSION_MAX_ROOTS);
  int ne = string_list(json_get(o, "exits"), exits, SESSION_MAX_ROOTS);
  const json_value *label = json_get(o, "label");
  if (nr < 0 || ne < 0 || (label && label->type != JSON_STRING)) {
    api_error(rs, 400, "\"roots\" and \"exits\" must be arrays of strings (at most 64) "
              "and \"label\" a string",
              "e.g. {\"roots\":[\"globals\",\"app.state\"],\"exits\":[\"io.stdout\"],"
              "\"label\":\"before\"}");
    json_doc_free(d);
    return;
  }
  session_snapshot_args a = { roots, (size_t)nr, exits, (size_t)ne,
                              label ? label->str : NULL, label ? label->len : 0 };
  char err[400];
  uint64_t req = 0;
  int st = session_snapshot(c->hub, id, &a, &req, err, sizeof err);
  json_doc_free(d);
  if (st != SESSION_ACCEPTED) { session_reply(rs, st, err); return; }
  json_writer w;
  json_init(&w, &rs->body);
  session_request_json(c->hub, req, &w);
  rs->status = 202;
}

/* The reply to an accepted restore or run: the request. */
static void accepted(api_ctx *c, api_response *rs, uint64_t req) {
  json_writer w;
  json_init(&w, &rs->body);
  session_request_json(c->hub, req, &w);
  rs->status = 202;
}

static void post_run(api_ctx *c, const api_request *rq, api_response *rs,
                     uint64_t id) {
  int bad;
  json_doc *d = body_json(rq, rs, &bad);
  if (bad) return;
  const json_value *code = json_get(d ? json_root(d) : NULL, "code");
  if (!code || code->type != JSON_STRING) {
    api_error(rs, 400, "\"code\" must be a string of Lua source",
              "e.g. {\"code\":\"return counter()\"}");
    json_doc_free(d);
    return;
  }
  char err[400];
  uint64_t req = 0;
  int st = session_run(c->hub, id, code->str, code->len, &req, err, sizeof err);
  json_doc_free(d);
  if (st != SESSION_ACCEPTED) { session_reply(rs, st, err); return; }
  accepted(c, rs, req);
}

void api_restore(api_ctx *c, const api_request *rq, api_response *rs,
                 int64_t snap) {
  int bad;
  json_doc *d = body_json(rq, rs, &bad);
  if (bad) return;
  const json_value *o = d ? json_root(d) : NULL;
  const json_value *code = json_get(o, "run");
  const char *mode = json_get_str(o, "mode");
  int64_t machine = -1;
  if (json_get_i64(o, "machine", -1, &machine) || machine < 0 ||
      (json_get(o, "mode") && (!mode || (strcmp(mode, "merge") && strcmp(mode, "replace")))) ||
      (code && code->type != JSON_STRING)) {
    api_error(rs, 400, "a restore needs {\"machine\": ID} (a connected machine's "
              "id), \"mode\" \"merge\" or \"replace\" if given, and \"run\" a "
              "string of Lua source if given",
              "e.g. {\"machine\":3,\"mode\":\"merge\",\"run\":\"return counter()\"}");
    json_doc_free(d);
    return;
  }
  session_restore_args a = { snap, mode && strcmp(mode, "replace") == 0,
                             code ? code->str : NULL, code ? code->len : 0, 0 };
  char err[600];
  uint64_t req = 0;
  /* Checked on a worker already (api_verifies_first): refused here if its
  ** rows do not hash to what was stored; other failures (no such snapshot)
  ** are left to session_restore to report as it always does. */
  const api_verified *v = c->verified && c->verified->snap == snap ? c->verified : NULL;
  if (v && (v->status == STORE_EHASH || v->status == STORE_ECORRUPT)) {
    snprintf(err, sizeof err, "refusing to restore snapshot %" PRId64 ": %s", snap, v->err);
    json_doc_free(d);
    session_reply(rs, SESSION_ECONFLICT, err);
    return;
  }
  a.verified = v && v->status == STORE_OK;
  int st = session_restore(c->hub, (uint64_t)machine, &a, &req, err, sizeof err);
  json_doc_free(d);
  if (st != SESSION_ACCEPTED) { session_reply(rs, st, err); return; }
  accepted(c, rs, req);
}

static void post_command(api_ctx *c, const api_request *rq, api_response *rs,
                         uint64_t id, const char *cmd) {
  int bad;
  json_doc *d = body_json(rq, rs, &bad);
  if (bad) return;
  char err[400];
  int st = session_command(c->hub, id, cmd, d ? json_root(d) : NULL, err, sizeof err);
  json_doc_free(d);
  if (st != SESSION_ACCEPTED) { session_reply(rs, st, err); return; }
  json_writer w;
  json_init(&w, &rs->body);
  json_object_begin(&w);
  json_kv_uint(&w, "machine", id);
  json_kv_str(&w, "command", cmd);
  json_kv_str(&w, "state", "sent");
  json_object_end(&w);
  rs->status = 202;
}

void api_machines(api_ctx *c, const api_request *rq, api_response *rs,
                  char **seg, int nseg) {
  int get = strcmp(rq->method, "GET") == 0, post = strcmp(rq->method, "POST") == 0;
  json_writer w;
  json_init(&w, &rs->body);
  if (nseg == 0) {
    if (!get) { api_error(rs, 405, "use GET", NULL); return; }
    session_machines_json(c->hub, &w);
    rs->status = 200;
    return;
  }
  uint64_t id;
  if (parse_id(seg[0], &id)) {
    api_error(rs, 404, "machine ids are numbers", "GET /api/machines lists them");
    return;
  }
  if (nseg == 1) {
    if (!get) { api_error(rs, 405, "use GET", NULL); return; }
    session_reply(rs, session_machine_json(c->hub, id, &w), "no such machine is connected");
    return;
  }
  if (nseg != 2) {
    api_error(rs, 404, "no such API endpoint", "GET /api lists the endpoints");
    return;
  }
  if (strcmp(seg[1], "log") == 0) {
    if (!get) { api_error(rs, 405, "use GET", NULL); return; }
    uint64_t offset, limit;
    if (api_arg_u64(rq, rs, "offset", 0, &offset) ||
        api_arg_u64(rq, rs, "limit", 0, &limit))
      return;
    session_reply(rs, session_log_json(c->hub, id, offset, limit, &w),
                  "no such machine is connected");
    return;
  }
  if (!post) {
    api_error(rs, 405, "commands and snapshot requests use POST", NULL);
    return;
  }
  if (strcmp(seg[1], "snapshot") == 0) post_snapshot(c, rq, rs, id);
  else if (strcmp(seg[1], "run") == 0) post_run(c, rq, rs, id);
  else post_command(c, rq, rs, id, seg[1]);
}

void api_requests(api_ctx *c, const api_request *rq, api_response *rs,
                  char **seg, int nseg) {
  json_writer w;
  json_init(&w, &rs->body);
  if (strcmp(rq->method, "GET") != 0) { api_error(rs, 405, "use GET", NULL); return; }
  if (nseg == 0) {
    session_requests_json(c->hub, &w);
    rs->status = 200;
    return;
  }
  uint64_t id;
  if (nseg != 1 || parse_id(seg[0], &id)) {
    api_error(rs, 404, "no such API endpoint", "GET /api/requests/:id with a number");
    return;
  }
  if (session_request_json(c->hub, id, &w) != SESSION_OK) {
    api_error(rs, 404, "no such request",
              "request ids come from POST /api/machines/:id/snapshot; the server "
              "forgets them when it restarts");
    return;
  }
  rs->status = 200;
}
