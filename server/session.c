/*
** session.c
** The session hub and a session's life: open, feed bytes through its own
** wire_parser, route each message item to the debugger views and to the
** store's ingest, queue output, time out stuck snapshots, close.
*/
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "session_impl.h"

int64_t session_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t session_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int sbytes_set(sbytes *b, const char *p, size_t len) {
  char *c = malloc(len + 1);
  if (!c) return -1;
  if (len) memcpy(c, p, len);
  c[len] = 0;
  free(b->p);
  b->p = c;
  b->n = len;
  return 0;
}

void sbytes_free(sbytes *b) {
  free(b->p);
  b->p = NULL;
  b->n = 0;
}

/* Print VM-supplied bytes on stderr with control and non-ASCII bytes
** escaped, so a machine cannot write to the operator's terminal. */
static void put_safe(const char *p, size_t n, size_t max) {
  for (size_t i = 0; i < n && i < max; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c < 0x7F && c != '\\') fputc(c, stderr);
    else fprintf(stderr, "\\x%02x", c);
  }
  if (n > max) fputs("...", stderr);
}

void session_note(const session *s, const char *fmt, ...) {
  if (s->hub->cfg.quiet) return;
  fprintf(stderr, "amber: machine %llu", (unsigned long long)s->id);
  if (s->name.p) {
    fputs(" (", stderr);
    put_safe(s->name.p, s->name.n, 80);
    fputs(")", stderr);
  }
  fputs(": ", stderr);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

session_hub *session_hub_new(const session_config *cfg) {
  session_hub *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->cfg = *cfg;
  if (!h->cfg.answer_timeout_s) h->cfg.answer_timeout_s = 60;
  if (!h->cfg.stall_timeout_s) h->cfg.stall_timeout_s = 120;
  if (!h->cfg.contention_timeout_s) h->cfg.contention_timeout_s = 5;
  h->next_session_id = 1;
  h->next_request_id = 1;
  return h;
}

void session_hub_free(session_hub *h) {
  if (!h) return;
  while (h->sessions) session_close(h->sessions, "the server is shutting down");
  session_request *r = h->requests;
  while (r) {
    session_request *next = r->next;
    request_free(r);
    r = next;
  }
  free(h);
}

size_t session_hub_count(const session_hub *h) { return h->count; }

static int on_message(void *ud, const wire_msg *m) {
  session *s = ud;
  s->msgs++;
  for (const wire_elem *it = m->items; it; it = it->next) {
    if (strcmp(it->name, "snapshot-begin") == 0) request_on_begin(s, it);
    else if (strcmp(it->name, "snapshot-end") == 0 ||
             strcmp(it->name, "snapshot-error") == 0)
      request_on_end(s, it);
    session_on_item(s, it);
    if (s->restoring) restore_on_item(s, it);
    if (store_ingest_wants(it)) {
      /* Failures end that snapshot only (the done callback reports them);
      ** the machine stays connected. */
      store_ingest_item(s->ingest, it);
      if (s->current) {
        s->current->nodes = store_ingest_nodes(s->ingest);
        s->current->edges = store_ingest_edges(s->ingest);
        s->current->activity_ms = session_mono_ms();
      }
    }
  }
  return 0;
}

session *session_open(session_hub *h, void *conn, const char *peer) {
  session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->hub = h;
  s->conn = conn;
  s->id = h->next_session_id++;
  snprintf(s->peer, sizeof s->peer, "%s", peer ? peer : "?");
  s->connected_wall_ms = session_wall_ms();
  s->last_rx_ms = session_mono_ms();
  s->pid = -1;
  s->break_line = -1;
  wire_buf_init(&s->out);
  wire_buf_init(&s->frames);
  wire_buf_init(&s->local);
  wire_buf_init(&s->global);
  wire_buf_init(&s->grammar);
  wire_buf_init(&s->breakpoints);
  wire_limits lim;
  wire_limits_default(&lim);
  if (h->cfg.max_message) lim.max_message = h->cfg.max_message;
  if (h->cfg.max_attr) lim.max_attr = h->cfg.max_attr;
  s->parser = wire_parser_new(&lim, on_message, s);
  s->ingest = store_ingest_new(h->cfg.st, NULL);
  if (!s->parser || !s->ingest) {
    if (s->parser) wire_parser_free(s->parser);
    if (s->ingest) store_ingest_free(s->ingest);
    free(s);
    return NULL;
  }
  store_ingest_on_done(s->ingest, request_on_done, s);
  s->next = h->sessions;
  if (h->sessions) h->sessions->prev = s;
  h->sessions = s;
  h->count++;
  session_note(s, "connected from %s", s->peer);
  return s;
}

int session_feed(session *s, const void *data, size_t n) {
  s->bytes_in += n;
  s->last_rx_ms = session_mono_ms();
  enum wire_status st = wire_parser_feed(s->parser, data, n);
  if (st == WIRE_OK) return 0;
  const wire_error *e = wire_parser_error(s->parser);
  session_note(s, "dropping the connection: %s at byte %llu (message #%llu at "
               "byte %llu): %s", wire_status_name(e->code),
               (unsigned long long)e->offset, (unsigned long long)e->msg_seq,
               (unsigned long long)e->msg_offset, e->text);
  return -1;
}

void session_output(session *s, const char **p, size_t *n) {
  *p = s->out.data + s->out_off;
  *n = s->out.len - s->out_off;
}

void session_output_done(session *s, size_t n) {
  assert(n <= s->out.len - s->out_off);
  s->out_off += n;
  if (s->out_off == s->out.len) {
    wire_buf_reset(&s->out);
    s->out_off = 0;
  }
  /* A restore streams as the socket drains: the next batches now. */
  if (s->restoring) restore_pump(s);
}

void session_send(session *s, const wire_buf *cmd) {
  if (s->out_off > 0 && s->out_off == s->out.len) {
    wire_buf_reset(&s->out);
    s->out_off = 0;
  } else if (s->out_off > 0 && s->out_off >= s->out.len / 2) {
    /* A queue that never empties (a restore keeps it topped up) would
    ** otherwise keep every byte ever sent. */
    memmove(s->out.data, s->out.data + s->out_off, s->out.len - s->out_off);
    s->out.len -= s->out_off;
    s->out_off = 0;
  }
  wire_buf_put(&s->out, cmd->data, cmd->len);
  if (s->hub->cfg.io.want_write) s->hub->cfg.io.want_write(s->conn);
}

void session_close(session *s, const char *why) {
  session_hub *h = s->hub;
  session_note(s, "disconnected (%s)", why);
  /* The ingest's done callback fails the request of a snapshot cut off
  ** midway; after it, nothing refers to s. */
  store_ingest_abort(s->ingest, why);
  store_ingest_free(s->ingest);
  s->ingest = NULL;
  request_detach(s);
  wire_parser_free(s->parser);
  session_state_free(s);
  wire_buf_free(&s->out);
  if (s->prev) s->prev->next = s->next;
  else h->sessions = s->next;
  if (s->next) s->next->prev = s->prev;
  h->count--;
  free(s);
}

void session_hub_logout_all(session_hub *h) {
  wire_buf b;
  wire_buf_init(&b);
  wire_command(&b, "logout", NULL, NULL);
  for (session *s = h->sessions; s; s = s->next) session_send(s, &b);
  wire_buf_free(&b);
}

size_t session_hub_pending_output(const session_hub *h) {
  size_t n = 0;
  for (const session *s = h->sessions; s; s = s->next) n += s->out.len - s->out_off;
  return n;
}

/* The store writes one snapshot at a time; the others wait, spooled, until
** it commits. A machine that goes quiet in the middle of its snapshot would
** hold everyone up until the stall timeout, so while finished snapshots
** wait, a silent one is given only the contention timeout. */
static int others_wait(const session_hub *h) {
  for (const session_request *r = h->requests; r; r = r->next)
    if (r->s && r->state == REQUEST_RECEIVING && r->ended) return 1;
  return 0;
}

void session_hub_tick(session_hub *h, uint64_t now_ms) {
  int contended = others_wait(h);
  for (session_request *r = h->requests; r; r = r->next) {
    if (!r->s) continue;
    uint64_t idle = now_ms - r->activity_ms;
    if (r->kind != REQUEST_SNAPSHOT) {
      /* Code may run as long as it likes (a resumed main loop); a restore
      ** must keep moving. */
      if ((r->state == REQUEST_SENT || r->state == REQUEST_RESTORING) &&
          idle > h->cfg.stall_timeout_s * 1000ull) {
        char why[200];
        snprintf(why, sizeof why, r->state == REQUEST_SENT
                 ? "the machine stopped reading the restore for %u s"
                 : "the machine did not answer the restore within %u s",
                 h->cfg.stall_timeout_s);
        request_fail(r, why);
      }
      continue;
    }
    if (r->state == REQUEST_RECEIVING && !r->ended && contended &&
        idle > h->cfg.contention_timeout_s * 1000ull) {
      char why[200];
      snprintf(why, sizeof why, "the machine sent nothing for %u s while other "
               "machines' snapshots waited for the database; ask again",
               h->cfg.contention_timeout_s);
      store_ingest_abort(r->s->ingest, why);
      if (r->state == REQUEST_RECEIVING) request_fail(r, why);
      continue;
    }
    if (r->state == REQUEST_SENT && idle > h->cfg.answer_timeout_s * 1000ull) {
      char why[160];
      snprintf(why, sizeof why, "the machine did not answer within %u s (it "
               "answers only at safe points: is it blocked in C code?)",
               h->cfg.answer_timeout_s);
      request_fail(r, why);
    } else if (r->state == REQUEST_RECEIVING &&
               idle > h->cfg.stall_timeout_s * 1000ull) {
      char why[160];
      snprintf(why, sizeof why, "the machine stopped sending the snapshot for "
               "%u s", h->cfg.stall_timeout_s);
      /* The done callback marks the request failed. */
      store_ingest_abort(r->s->ingest, why);
      if (r->state == REQUEST_RECEIVING) request_fail(r, why);
    }
  }
  request_trim(h);
}

session *session_find(session_hub *h, uint64_t id) {
  for (session *s = h->sessions; s; s = s->next)
    if (s->id == id) return s;
  return NULL;
}

session *session_reachable(session_hub *h, uint64_t id, const char *hint,
                           int *status, char *err, size_t errlen) {
  session *s = session_find(h, id);
  if (!s) {
    snprintf(err, errlen, "no machine %" PRIu64 " is connected (GET /api/machines "
             "lists them)", id);
    *status = SESSION_ENOTFOUND;
    return NULL;
  }
  if (s->out.len - s->out_off > SESSION_OUT_MAX) {
    snprintf(err, errlen, "machine %" PRIu64 " is not reading its commands "
             "(too many queued); %s", id, hint);
    *status = SESSION_ECONFLICT;
    return NULL;
  }
  return s;
}
