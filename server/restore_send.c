/*
** restore_send.c
** Server-driven restore (docs/protocol.md 5.5) and run (5.7): a stored
** snapshot streamed to a machine in batches produced as its socket drains,
** the machine's answers followed to a request's end, and code run after.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_impl.h"

/* Bytes of one <graph> batch (a node's edges may overrun it by one edge),
** and the queued output below which the next batch is produced: memory
** stays bounded whatever the snapshot's size. */
#define RESTORE_BATCH_BYTES (128u << 10)
#define RESTORE_LOW_WATER (256u << 10)
/* Placeholders listed in a request (the machine lists up to 256). */
#define RESTORE_PLACEHOLDERS_KEPT 256

struct restore_stream {
  store *st;
  int64_t snap;
  char hash[17];
  store_reader *rd;    /* the snapshot, read in order as batches go out */
  uint64_t cur;        /* the node whose element is (or was last) open */
  uint64_t left;       /* its edges not yet sent: it continues next batch */
  int open;            /* its element is open in the batch being written */
  int finished;        /* every node and edge has been written */
  uint64_t seq;        /* of the next batch */
  wire_buf batch;
  int binary;          /* the machine takes binary frames */
};

void restore_release(session_request *r) {
  if (!r->stream) return;
  store_reader_close(r->stream->rd);
  wire_buf_free(&r->stream->batch);
  free(r->stream);
  r->stream = NULL;
}

static store *reader(session_hub *h) {
  return h->cfg.reader ? h->cfg.reader : h->cfg.st;
}

/* ---- producing batches ------------------------------------------------ */

/* The reader stops after the node or edge that fills the batch; a node
** whose edges are cut off goes on in the next batch as a continuation. */
typedef struct producer {
  session_request *r;
  restore_stream *rs;
} producer;

static int on_node(void *ud, const store_node *n) {
  producer *p = ud;
  restore_stream *rs = p->rs;
  if (rs->open) wire_node_close(&rs->batch);
  wire_node_open(&rs->batch, &n->n);
  rs->open = 1;
  rs->cur = n->n.id;
  rs->left = n->nedges;
  p->r->nodes++;
  return rs->batch.len >= RESTORE_BATCH_BYTES;
}

static int on_edge(void *ud, const store_edge *e) {
  producer *p = ud;
  restore_stream *rs = p->rs;
  wire_edge_write(&rs->batch, &e->e);
  rs->left--;
  p->r->edges++;
  return rs->batch.len >= RESTORE_BATCH_BYTES;
}

/* Fill rs->batch with the next <graph>. 0, or -1 with err set. */
static int produce(session_request *r, char *err, size_t errlen) {
  restore_stream *rs = r->stream;
  producer p = { r, rs };
  wire_buf *b = &rs->batch;
  wire_buf_reset(b);
  if (rs->binary) wire_frame_begin(b, 0);
  else wire_buf_puts(b, "\r\n");
  wire_open(b, "graph");
  wire_attr_str(b, "id", r->wire_id);
  wire_attr_u64(b, "seq", rs->seq++);
  wire_open_end(b);
  if (rs->left > 0) {
    wire_node_continue(b, rs->cur);
    rs->open = 1;
  }
  int rc = store_reader_next(rs->rd, on_node, on_edge, &p);
  if (rs->open) wire_node_close(b);
  rs->open = 0;
  if (rc == STORE_OK) {
    rs->finished = 1;
  } else if (rc != STORE_ESTOPPED) {
    snprintf(err, errlen, "reading snapshot %" PRId64 " failed: %s", rs->snap,
             store_errmsg(rs->st));
    return -1;
  }
  wire_close(b, "graph");
  if (rs->binary) wire_frame_end(b);
  else wire_buf_puts(b, "\r\n");
  if (b->oom) {
    snprintf(err, errlen, "out of memory writing a restore batch");
    return -1;
  }
  return 0;
}

static void send_end(session *s, session_request *r) {
  wire_buf b;
  wire_buf_init(&b);
  wire_command_open(&b, "restore-end");
  wire_attr_str(&b, "id", r->wire_id);
  wire_attr_u64(&b, "nodes", r->total_nodes);
  wire_attr_u64(&b, "edges", r->total_edges);
  wire_attr_str(&b, "hash", r->stream->hash);
  wire_command_close(&b);
  session_send(s, &b);
  wire_buf_free(&b);
}

void restore_pump(session *s) {
  session_request *r = s->restoring;
  while (r && r->stream && s->out.len - s->out_off < RESTORE_LOW_WATER) {
    restore_stream *rs = r->stream;
    if (rs->finished) {
      send_end(s, r);
      restore_release(r);
      r->state = REQUEST_RESTORING;
      r->activity_ms = session_mono_ms();
      session_note(s, "restore request %" PRIu64 ": %" PRIu64 " nodes, %" PRIu64
                   " edges sent", r->id, r->nodes, r->edges);
      return;
    }
    char err[400];
    if (produce(r, err, sizeof err)) {
      request_fail(r, err);
      return;
    }
    session_send(s, &rs->batch);
    r->activity_ms = session_mono_ms();
  }
}

/* ---- starting ------------------------------------------------------- */

static session *usable(session_hub *h, uint64_t id, unsigned need,
                       int *status, char *err, size_t errlen) {
  session *s = session_reachable(h, id, "try again later", status, err, errlen);
  if (!s) return NULL;
  if ((s->feat & need) != need) {
    snprintf(err, errlen, "machine %" PRIu64 " did not announce the %s feature in "
             "its login (start a fresh VM with amber-lua --attach HOST:PORT "
             "--serve, or let amber restore start one)", id,
             (need & ~s->feat & SESSION_F_RESTORE) ? "restore" : "run");
    *status = SESSION_ECONFLICT;
    return NULL;
  }
  if (s->restoring) {
    snprintf(err, errlen, "machine %" PRIu64 " is busy with request %" PRIu64
             " (a restore or run); wait for it to end", id, s->restoring->id);
    *status = SESSION_ECONFLICT;
    return NULL;
  }
  return s;
}

static void send_run(session *s, session_request *r) {
  wire_buf b;
  wire_buf_init(&b);
  wire_command_open(&b, "run");
  wire_attr_str(&b, "id", r->wire_id);
  wire_attr(&b, "code", r->code.p, r->code.n);
  wire_command_close(&b);
  session_send(s, &b);
  wire_buf_free(&b);
  r->state = REQUEST_RUNNING;
  r->activity_ms = session_mono_ms();
}

int session_restore(session_hub *h, uint64_t id, const session_restore_args *a,
                    uint64_t *req_id, char *err, size_t errlen) {
  int status;
  unsigned need = SESSION_F_RESTORE | (a->code ? SESSION_F_RUN : 0);
  session *s = usable(h, id, need, &status, err, errlen);
  if (!s) return status;
  if (a->code && a->code_len > SESSION_RUN_OUTPUT * 16) {
    snprintf(err, errlen, "the code is longer than 1 MiB");
    return SESSION_EINVAL;
  }
  store *st = reader(h);
  store_snapshot info;
  int rc = store_snapshot_get(st, a->snapshot, &info);
  if (rc) {
    snprintf(err, errlen, "%s", store_errmsg(st));
    return rc == STORE_ENOTFOUND ? SESSION_ENOTFOUND : 500;
  }
  /* Only rows that still hash to what was stored go out: the machine will
  ** load bytecode from them. (Reads the whole snapshot once; the machine
  ** checks the hash again as the records arrive.) */
  char hex[17];
  rc = a->verified ? STORE_OK : store_verify(st, a->snapshot, hex);
  if (rc) {
    snprintf(err, errlen, "refusing to restore snapshot %" PRId64 ": %s",
             a->snapshot, store_errmsg(st));
    store_snapshot_release(&info);
    return rc == STORE_EHASH || rc == STORE_ECORRUPT ? SESSION_ECONFLICT : 500;
  }
  session_request *r = request_new(h, s);
  restore_stream *rs = calloc(1, sizeof *rs);
  if (!r || !rs || (a->code && sbytes_set(&r->code, a->code, a->code_len))) {
    free(rs);
    if (r) request_fail(r, "out of memory");
    store_snapshot_release(&info);
    snprintf(err, errlen, "out of memory");
    return 500;
  }
  r->kind = REQUEST_RESTORE;
  r->replace = a->replace;
  r->snapshot = a->snapshot;
  r->total_nodes = info.nodes;
  r->total_edges = info.edges;
  snprintf(r->wire_id, sizeof r->wire_id, "%" PRIu64, r->id);
  snprintf(r->reason, sizeof r->reason, "%s", a->replace ? "replace" : "merge");
  rs->st = st;
  rs->snap = a->snapshot;
  memcpy(rs->hash, info.hash, sizeof rs->hash);
  wire_buf_init(&rs->batch);
  rs->binary = (s->feat & SESSION_F_BINARY) != 0;
  r->stream = rs;
  if ((rc = store_reader_open(st, a->snapshot, 0, &rs->rd)) != STORE_OK) {
    snprintf(err, errlen, "reading snapshot %" PRId64 ": %s", a->snapshot, store_errmsg(st));
    request_fail(r, err);
    store_snapshot_release(&info);
    return 500;
  }

  /* The snapshot's reason, error and traceback go along, so a restored
  ** crash knows what it died of (amber.crash in the fresh VM). */
  wire_buf b;
  wire_buf_init(&b);
  wire_command_open(&b, "restore");
  wire_attr_str(&b, "id", r->wire_id);
  wire_attr_str(&b, "mode", a->replace ? "replace" : "merge");
  if (info.reason && *info.reason) wire_attr_str(&b, "reason", info.reason);
  if (info.error) wire_attr(&b, "error", info.error, info.error_len);
  if (info.traceback)
    wire_attr(&b, "traceback", info.traceback, info.traceback_len);
  wire_command_close(&b);
  store_snapshot_release(&info);
  session_send(s, &b);
  wire_buf_free(&b);
  r->state = REQUEST_SENT;
  s->restoring = r;
  *req_id = r->id;
  session_note(s, "restore request %" PRIu64 ": snapshot %" PRId64 " (%" PRIu64
               " nodes, %" PRIu64 " edges, mode %s)", r->id, a->snapshot,
               r->total_nodes, r->total_edges, r->reason);
  restore_pump(s);
  return SESSION_ACCEPTED;
}

int session_run(session_hub *h, uint64_t id, const char *code, size_t len,
                uint64_t *req_id, char *err, size_t errlen) {
  int status;
  session *s = usable(h, id, SESSION_F_RUN, &status, err, errlen);
  if (!s) return status;
  session_request *r = request_new(h, s);
  if (!r || sbytes_set(&r->code, code, len)) {
    if (r) request_fail(r, "out of memory");
    snprintf(err, errlen, "out of memory");
    return 500;
  }
  r->kind = REQUEST_RUN;
  snprintf(r->wire_id, sizeof r->wire_id, "%" PRIu64, r->id);
  s->restoring = r;
  send_run(s, r);
  *req_id = r->id;
  return SESSION_ACCEPTED;
}

/* ---- answers ---------------------------------------------------------- */

static int same_id(const session_request *r, const wire_elem *item) {
  size_t len;
  const char *id = wire_get(item, "id", &len);
  return id && strlen(r->wire_id) == len && memcmp(r->wire_id, id, len) == 0;
}

/* Append a JSON string (with a comma before all but the first). */
static void json_item(wire_buf *b, const char *p, size_t n) {
  if (b->len) wire_buf_put(b, ",", 1);
  wire_buf_put(b, "\"", 1);
  json_escape(b, p, n);
  wire_buf_put(b, "\"", 1);
}

static void on_restore_done(session *s, session_request *r, const wire_elem *e) {
  wire_get_u64(e, "placeholders", &r->placeholders);
  size_t listed = 0;
  for (const wire_elem *c = e->children; c; c = c->next) {
    uint64_t node;
    size_t len;
    const char *why = wire_get(c, "why", &len);
    if (strcmp(c->name, "placeholder") != 0 || wire_get_u64(c, "i", &node) ||
        listed == RESTORE_PLACEHOLDERS_KEPT)
      continue;
    char head[48];
    snprintf(head, sizeof head, "%s{\"node\":%" PRIu64 ",\"why\":",
             r->placeholder_json.len ? "," : "", node);
    wire_buf_puts(&r->placeholder_json, head);
    wire_buf_put(&r->placeholder_json, "\"", 1);
    json_escape(&r->placeholder_json, why ? why : "", why ? (len > 200 ? 200 : len) : 0);
    wire_buf_puts(&r->placeholder_json, "\"}");
    listed++;
  }
  session_note(s, "restore request %" PRIu64 " done (%" PRIu64 " placeholders)",
               r->id, r->placeholders);
  if (r->code.p) send_run(s, r);
  else request_done(r);
}

static void on_run_done(session *s, session_request *r, const wire_elem *e) {
  int64_t ok = 0;
  wire_get_i64(e, "ok", &ok);
  size_t n = e->text_len > SESSION_RUN_OUTPUT ? SESSION_RUN_OUTPUT : e->text_len;
  sbytes_set(&r->result, e->text, n);
  r->run_ok = ok == 1;
  if (r->run_ok) {
    request_done(r);
    return;
  }
  /* The first line of a traceback says what went wrong. */
  const char *nl = memchr(e->text, '\n', n);
  size_t first = nl ? (size_t)(nl - e->text) : n;
  char why[600];
  snprintf(why, sizeof why, "the code raised an error: %.*s",
           (int)(first > 500 ? 500 : first), e->text);
  (void)s;
  request_fail(r, why);
}

void restore_on_item(session *s, const wire_elem *item) {
  session_request *r = s->restoring;
  const char *n = item->name;
  if (!r) return;
  if (strcmp(n, "log") == 0) {
    if (r->state != REQUEST_RUNNING) return;
    r->output_lines++;
    if (r->output.len + item->text_len > SESSION_RUN_OUTPUT) r->output_cut = 1;
    else json_item(&r->output, item->text, item->text_len);
    return;
  }
  int restore_reply = strcmp(n, "restore-done") == 0 || strcmp(n, "restore-error") == 0;
  int run_reply = strcmp(n, "run-done") == 0;
  if ((!restore_reply && !run_reply) || !same_id(r, item)) return;
  r->activity_ms = session_mono_ms();
  if (restore_reply && r->kind == REQUEST_RESTORE &&
      (r->state == REQUEST_SENT || r->state == REQUEST_RESTORING)) {
    if (n[8] == 'e') {            /* restore-error */
      size_t len;
      const char *text = wire_get(item, "text", &len);
      char why[600];
      snprintf(why, sizeof why, "the machine refused the restore: %.*s",
               text ? (int)(len > 500 ? 500 : len) : 13, text ? text : "(no reason)");
      request_fail(r, why);
    } else if (r->state == REQUEST_RESTORING) {
      on_restore_done(s, r, item);
    }
  } else if (run_reply && r->state == REQUEST_RUNNING) {
    on_run_done(s, r, item);
  }
}

void restore_json(const session_request *r, json_writer *w) {
  if (r->kind == REQUEST_RESTORE) {
    json_kv_str(w, "mode", r->replace ? "replace" : "merge");
    json_kv_uint(w, "total_nodes", r->total_nodes);
    json_kv_uint(w, "total_edges", r->total_edges);
    json_kv_uint(w, "placeholders", r->placeholders);
    json_keyz(w, "placeholder_list");
    json_array_begin(w);
    if (r->placeholder_json.len)
      json_raw(w, r->placeholder_json.data, r->placeholder_json.len);
    json_array_end(w);
  }
  json_keyz(w, "run");
  if (!r->code.p) {
    json_null(w);
    return;
  }
  json_object_begin(w);
  json_kv_bytes(w, "code", r->code.p, r->code.n > 4096 ? 4096 : r->code.n);
  json_keyz(w, "ok");
  if (r->run_ok < 0) json_null(w);
  else json_bool(w, r->run_ok);
  json_kv_bytes(w, "result", r->result.p, r->result.n);
  json_keyz(w, "output");
  json_array_begin(w);
  if (r->output.len) json_raw(w, r->output.data, r->output.len);
  json_array_end(w);
  json_kv_uint(w, "output_lines", r->output_lines);
  json_kv_bool(w, "output_truncated", r->output_cut);
  json_object_end(w);
}
