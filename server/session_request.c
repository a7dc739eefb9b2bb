/*
** session_request.c
** Requests and their records (restores and runs: restore_send.c).
** Snapshot requests: sent to machines that announced `snapshot`, matched
** to the snapshot-begin that answers them, followed through the ingest to
** a stored snapshot id or a failure. Unasked snapshots (a break, a crash)
** get a request record too, so the API shows every snapshot in flight.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_impl.h"

session_request *request_new(session_hub *h, session *s) {
  session_request *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->id = h->next_request_id++;
  r->s = s;
  r->machine_id = s->id;
  if (s->name.p) sbytes_set(&r->machine, s->name.p, s->name.n);
  r->snapshot = -1;
  r->run_ok = -1;
  wire_buf_init(&r->placeholder_json);
  wire_buf_init(&r->output);
  r->created_wall_ms = session_wall_ms();
  r->activity_ms = session_mono_ms();
  r->next = h->requests;
  h->requests = r;
  h->nrequests++;
  return r;
}

session_request *request_find(session_hub *h, uint64_t id) {
  for (session_request *r = h->requests; r; r = r->next)
    if (r->id == id) return r;
  return NULL;
}

static const char *kind_name(enum request_kind k) {
  switch (k) {
  case REQUEST_SNAPSHOT: return "snapshot";
  case REQUEST_RESTORE: return "restore";
  case REQUEST_RUN: return "run";
  }
  return "?";
}

static void finish(session_request *r, enum request_state st) {
  r->state = st;
  r->finished_wall_ms = session_wall_ms();
  if (r->s && r->s->current == r) r->s->current = NULL;
  if (r->s && r->s->restoring == r) r->s->restoring = NULL;
  restore_release(r);
}

void request_fail(session_request *r, const char *why) {
  if (r->state == REQUEST_DONE || r->state == REQUEST_FAILED) return;
  free(r->error);
  r->error = strdup(why ? why : "failed");
  if (r->s) session_note(r->s, "%s request %" PRIu64 " failed: %s",
                         kind_name(r->kind), r->id, r->error ? r->error : "");
  finish(r, REQUEST_FAILED);
}

void request_done(session_request *r) {
  finish(r, REQUEST_DONE);
}

void request_on_begin(session *s, const wire_elem *item) {
  session_hub *h = s->hub;
  size_t len;
  const char *id = wire_get(item, "id", &len);
  char wid[sizeof ((session_request *)0)->wire_id] = "";
  if (id && len < sizeof wid && !memchr(id, 0, len)) memcpy(wid, id, len + 1);
  session_request *r = NULL;
  for (session_request *q = h->requests; q && wid[0]; q = q->next)
    if (q->s == s && q->kind == REQUEST_SNAPSHOT && q->state == REQUEST_SENT &&
        strcmp(q->wire_id, wid) == 0) {
      r = q;
      break;
    }
  if (!r) {
    r = request_new(h, s);
    if (!r) return;
    r->unsolicited = 1;
    memcpy(r->wire_id, wid, sizeof wid);
    const char *label = wire_get(item, "label", &len);
    if (label) sbytes_set(&r->label, label, len);
  }
  const char *reason = wire_get(item, "reason", &len);
  snprintf(r->reason, sizeof r->reason, "%.*s",
           reason ? (int)(len < sizeof r->reason ? len : sizeof r->reason - 1) : 7,
           reason ? reason : "request");
  r->state = REQUEST_RECEIVING;
  r->activity_ms = session_mono_ms();
  s->current = r;
}

void request_on_end(session *s, const wire_elem *item) {
  size_t len;
  const char *id = wire_get(item, "id", &len);
  for (session_request *q = s->hub->requests; q && id; q = q->next)
    if (q->s == s && q->kind == REQUEST_SNAPSHOT && q->state == REQUEST_RECEIVING &&
        strlen(q->wire_id) == len &&
        memcmp(q->wire_id, id, len) == 0)
      q->ended = 1;
}

void request_on_done(void *ud, const store_ingest_result *res) {
  session *s = ud;
  session_request *r = NULL;
  const char *wid = res->wire_id ? res->wire_id : "";
  for (session_request *q = s->hub->requests; q; q = q->next)
    if (q->s == s && q->kind == REQUEST_SNAPSHOT &&
        (q->state == REQUEST_RECEIVING || q->state == REQUEST_SENT) &&
        strcmp(q->wire_id, wid) == 0) {
      r = q;
      break;
    }
  if (!r) {
    /* A snapshot we saw no begin for (its begin failed to parse as one):
    ** record it so the outcome is visible. */
    r = request_new(s->hub, s);
    if (!r) return;
    r->unsolicited = 1;
    snprintf(r->wire_id, sizeof r->wire_id, "%s", wid);
  }
  r->nodes = res->nodes;
  r->edges = res->edges;
  if (res->status == STORE_OK) {
    r->snapshot = res->snapshot;
    session_note(s, "snapshot stored as #%" PRId64 " (%" PRIu64 " nodes, %" PRIu64
                 " edges, request %" PRIu64 ")", res->snapshot, res->nodes,
                 res->edges, r->id);
    finish(r, REQUEST_DONE);
    if (s->hub->cfg.stored) s->hub->cfg.stored(s->hub->cfg.stored_ud, res->snapshot);
  } else {
    request_fail(r, res->message);
  }
}

void request_detach(session *s) {
  for (session_request *r = s->hub->requests; r; r = r->next) {
    if (r->s != s) continue;
    if (r->state != REQUEST_DONE && r->state != REQUEST_FAILED)
      request_fail(r, r->kind == REQUEST_SNAPSHOT
                      ? "the machine disconnected before the snapshot ended"
                      : r->state == REQUEST_RUNNING
                      ? "the machine disconnected while the code ran"
                      : "the machine disconnected before the restore ended; "
                        "nothing of it was kept");
    r->s = NULL;
  }
  s->current = NULL;
  s->restoring = NULL;
}

void request_free(session_request *r) {
  restore_release(r);
  sbytes_free(&r->machine);
  sbytes_free(&r->label);
  sbytes_free(&r->code);
  sbytes_free(&r->result);
  wire_buf_free(&r->placeholder_json);
  wire_buf_free(&r->output);
  free(r->error);
  free(r);
}

void request_trim(session_hub *h) {
  if (h->nrequests <= SESSION_REQUESTS_KEPT) return;
  /* Keep the newest SESSION_REQUESTS_KEPT, and any still in flight. */
  size_t seen = 0;
  session_request **pp = &h->requests;
  while (*pp) {
    session_request *r = *pp;
    seen++;
    if (seen > SESSION_REQUESTS_KEPT &&
        (r->state == REQUEST_DONE || r->state == REQUEST_FAILED)) {
      *pp = r->next;
      request_free(r);
      h->nrequests--;
    } else {
      pp = &r->next;
    }
  }
}

static const char *request_state_name(enum request_state st) {
  switch (st) {
  case REQUEST_SENT: return "sent";
  case REQUEST_RECEIVING: return "receiving";
  case REQUEST_DONE: return "done";
  case REQUEST_FAILED: return "failed";
  case REQUEST_RESTORING: return "restoring";
  case REQUEST_RUNNING: return "running";
  }
  return "?";
}

void request_json(const session_request *r, json_writer *w) {
  json_object_begin(w);
  json_kv_uint(w, "id", r->id);
  json_kv_str(w, "kind", kind_name(r->kind));
  json_kv_uint(w, "machine", r->machine_id);
  json_kv_bytes(w, "machine_name", r->machine.p, r->machine.n);
  json_kv_str(w, "state", request_state_name(r->state));
  json_kv_bool(w, "unsolicited", r->unsolicited);
  json_kv_str(w, "reason", r->reason[0] ? r->reason : NULL);
  json_kv_bytes(w, "label", r->label.p, r->label.n);
  json_kv_str(w, "wire_id", r->wire_id);
  json_kv_uint(w, "nodes", r->nodes);
  json_kv_uint(w, "edges", r->edges);
  json_keyz(w, "snapshot");
  if (r->snapshot >= 0) json_int(w, r->snapshot);
  else json_null(w);
  json_kv_str(w, "error", r->error);
  json_kv_int(w, "created_at", r->created_wall_ms);
  json_keyz(w, "finished_at");
  if (r->finished_wall_ms) json_int(w, r->finished_wall_ms);
  else json_null(w);
  if (r->kind != REQUEST_SNAPSHOT) restore_json(r, w);
  json_object_end(w);
}

int session_request_json(session_hub *h, uint64_t id, json_writer *w) {
  session_request *r = request_find(h, id);
  if (!r) return SESSION_ENOTFOUND;
  request_json(r, w);
  return SESSION_OK;
}

void session_requests_json(session_hub *h, json_writer *w) {
  json_array_begin(w);
  for (session_request *r = h->requests; r; r = r->next) request_json(r, w);
  json_array_end(w);
}

static int named_root(const char *r) {
  static const char *const names[] = { "globals", "registry", "loaded", "stack",
                                       "threads", NULL };
  for (int i = 0; names[i]; i++)
    if (strcmp(r, names[i]) == 0) return 1;
  return 0;
}

/* A path must be a non-empty run of printable characters. */
static int valid_path(const char *p) {
  size_t n = strlen(p);
  if (n == 0 || n > 1024) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)p[i] < 0x20 || p[i] == 0x7F) return 0;
  return 1;
}

int session_snapshot(session_hub *h, uint64_t id,
                     const session_snapshot_args *a, uint64_t *req_id,
                     char *err, size_t errlen) {
  int status;
  session *s = session_reachable(h, id, "try again later", &status, err, errlen);
  if (!s) return status;
  if (!(s->feat & SESSION_F_SNAPSHOT)) {
    snprintf(err, errlen, "machine %" PRIu64 " did not announce the snapshot "
             "feature in its login (XS machines and plain xsbug clients cannot "
             "take snapshots; run Lua programs under amber-lua)", id);
    return SESSION_ECONFLICT;
  }
  if (a->nroots > SESSION_MAX_ROOTS || a->nexits > SESSION_MAX_ROOTS) {
    snprintf(err, errlen, "at most %d roots and %d exits per request",
             SESSION_MAX_ROOTS, SESSION_MAX_ROOTS);
    return SESSION_EINVAL;
  }
  if (a->label && a->label_len > 1024) {
    snprintf(err, errlen, "the label is longer than 1024 bytes");
    return SESSION_EINVAL;
  }
  /* Roots as the ingest records them: a name, or "path:" + dotted path. */
  const char *roots[SESSION_MAX_ROOTS];
  char *owned[SESSION_MAX_ROOTS] = { 0 };
  int rc = SESSION_OK;
  for (size_t i = 0; i < a->nroots; i++) {
    const char *r = a->roots[i];
    if (named_root(r)) { roots[i] = r; continue; }
    const char *path = strncmp(r, "path:", 5) == 0 ? r + 5 : r;
    if (!valid_path(path)) {
      snprintf(err, errlen, "root '%.100s' is neither globals, registry, loaded, "
               "stack, threads nor a dotted path like app.state", r);
      rc = SESSION_EINVAL;
      goto out;
    }
    size_t n = strlen(path);
    owned[i] = malloc(n + 6);
    if (!owned[i]) { snprintf(err, errlen, "out of memory"); rc = 500; goto out; }
    memcpy(owned[i], "path:", 5);
    memcpy(owned[i] + 5, path, n + 1);
    roots[i] = owned[i];
  }
  for (size_t i = 0; i < a->nexits; i++) {
    if (!valid_path(a->exits[i])) {
      snprintf(err, errlen, "exit '%.100s' is not a dotted path like io.stdout",
               a->exits[i]);
      rc = SESSION_EINVAL;
      goto out;
    }
  }
  session_request *r = request_new(h, s);
  if (!r) { snprintf(err, errlen, "out of memory"); rc = 500; goto out; }
  snprintf(r->wire_id, sizeof r->wire_id, "%" PRIu64, r->id);
  snprintf(r->reason, sizeof r->reason, "request");
  if (a->label) sbytes_set(&r->label, a->label, a->label_len);
  store_ingest_request(s->ingest, r->wire_id, roots, a->nroots, a->exits,
                       a->nexits);

  wire_buf b;
  wire_buf_init(&b);
  wire_buf_puts(&b, "\r\n");
  wire_open(&b, "snapshot");
  wire_attr_str(&b, "id", r->wire_id);
  if (a->label) wire_attr(&b, "label", a->label, a->label_len);
  if (a->nroots || a->nexits) {
    wire_open_end(&b);
    for (size_t i = 0; i < a->nroots; i++) {
      wire_open(&b, "root");
      if (strncmp(roots[i], "path:", 5) == 0) wire_attr_str(&b, "path", roots[i] + 5);
      else wire_attr_str(&b, "name", roots[i]);
      wire_empty_end(&b);
    }
    for (size_t i = 0; i < a->nexits; i++) {
      wire_open(&b, "exit");
      wire_attr_str(&b, "path", a->exits[i]);
      wire_empty_end(&b);
    }
    wire_close(&b, "snapshot");
  } else {
    wire_empty_end(&b);
  }
  wire_buf_puts(&b, "\r\n");
  if (b.oom) {
    wire_buf_free(&b);
    request_fail(r, "out of memory writing the request");
    snprintf(err, errlen, "out of memory");
    rc = 500;
    goto out;
  }
  session_send(s, &b);
  wire_buf_free(&b);
  r->state = REQUEST_SENT;
  *req_id = r->id;
  session_note(s, "snapshot request %" PRIu64 " sent", r->id);
  rc = SESSION_ACCEPTED;
out:
  for (size_t i = 0; i < a->nroots; i++) free(owned[i]);
  return rc;
}
