/*
** store_spool.c
** One writer at a time: SQLite has a single write transaction per
** database, so while one ingest writes a snapshot, other machines' items
** wait in a temporary file (memory stays bounded) and are replayed, in
** order, through the same ingest code when the writer is free.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "store_ingest_impl.h"

/* How many edges a child of a node stands for: a run <r> one per value
** (values are separated by single spaces and contain none), anything else
** one. Only for progress; the replay validates. */
static uint64_t edge_count(const wire_elem *d) {
  size_t n;
  const char *v;
  if (strcmp(d->name, "r") != 0 || !(v = wire_get(d, "v", &n)) || n == 0)
    return 1;
  uint64_t count = 1;
  for (const char *p = v, *end = v + n; (p = memchr(p, ' ', end - p)); p++)
    count++;
  return count;
}

/* Append one item as a message; on failure the spool is broken and the
** open spooled snapshot is reported failed. */
static int spool_write(store_ingest *in, const wire_elem *e) {
  if (in->spool_broken) return STORE_EIO;
  wire_buf_reset(&in->sbuf);
  wire_msg_begin(&in->sbuf);
  wire_elem_render(&in->sbuf, e);     /* parses back to the same item */
  wire_msg_end(&in->sbuf);
  if (!in->spool) in->spool = tmpfile();
  if (in->sbuf.oom || !in->spool ||
      fwrite(in->sbuf.data, 1, in->sbuf.len, in->spool) != in->sbuf.len) {
    in->spool_broken = 1;
    snprintf(in->err, sizeof in->err, "snapshot %s: could not hold it in a "
             "temporary file while another snapshot was being written (%s); "
             "nothing of it was stored: free disk space in $TMPDIR",
             in->wire_id, in->sbuf.oom ? "out of memory" : "write failed");
    if (in->spool_open) store_ingest_report(in, STORE_EIO, in->err);
    in->spool_open = 0;
    return STORE_EIO;
  }
  return STORE_OK;
}

int store_ingest_spool_begin(store_ingest *in, const wire_elem *e) {
  store *s = in->s;
  assert(!in->waiting && s->writer && s->writer != in);
  in->waiting = 1;
  in->next_wait = NULL;
  if (s->wait_tail) s->wait_tail->next_wait = in;
  else s->wait_head = in;
  s->wait_tail = in;
  in->spool_open = 1;
  return spool_write(in, e);
}

int store_ingest_spool_item(store_ingest *in, const wire_elem *e) {
  const char *name = e->name;
  if (in->spool_broken) {
    if (!strcmp(name, "snapshot-begin")) {
      size_t n;
      const char *id = wire_get(e, "id", &n);
      snprintf(in->wire_id, sizeof in->wire_id, "%.*s", id ? (int)(n > INGEST_MAX_ID ? INGEST_MAX_ID : n) : 1, id ? id : "?");
      snprintf(in->err, sizeof in->err, "snapshot %s: the temporary file that "
               "holds it could not be written; nothing was stored: free disk "
               "space in $TMPDIR", in->wire_id);
      store_ingest_report(in, STORE_EIO, in->err);
    }
    return STORE_EIO;
  }
  if (!strcmp(name, "snapshot-begin")) {
    size_t n;
    const char *id = wire_get(e, "id", &n);
    snprintf(in->wire_id, sizeof in->wire_id, "%.*s",
             id ? (int)(n > INGEST_MAX_ID ? INGEST_MAX_ID : n) : 0, id ? id : "");
    in->nodes = in->edges = 0;
    in->spool_open = 1;
  }
  int rc = spool_write(in, e);
  if (rc) return rc;
  if (!strcmp(name, "graph")) {
    /* Progress counts what arrived; the checks come at the replay. */
    for (const wire_elem *c = e->children; c; c = c->next) {
      if (!wire_get(c, "c", NULL)) in->nodes++;
      for (const wire_elem *d = c->children; d; d = d->next)
        in->edges += edge_count(d);
    }
    store_ingest_report_progress(in);
  } else if (!strcmp(name, "snapshot-end") || !strcmp(name, "snapshot-error")) {
    if (in->spool_open && !strcmp(name, "snapshot-end")) in->spool_complete++;
    in->spool_open = 0;
  }
  return STORE_OK;
}

void store_ingest_spool_abort(store_ingest *in, const char *why) {
  if (!in->spool_open) return;
  wire_elem marker;
  wire_attr_t attr = {"text", why, strlen(why)};
  memset(&marker, 0, sizeof marker);
  marker.name = INGEST_ABORT_MARKER;
  marker.attrs = &attr;
  marker.nattrs = 1;
  marker.text = "";
  spool_write(in, &marker);
  in->spool_open = 0;
}

static void unqueue(store *s, store_ingest *in) {
  store_ingest **pp = &s->wait_head, *prev = NULL;
  while (*pp && *pp != in) prev = *pp, pp = &(*pp)->next_wait;
  if (!*pp) return;
  *pp = in->next_wait;
  if (s->wait_tail == in) s->wait_tail = prev;
  in->next_wait = NULL;
  in->waiting = 0;
}

int store_ingest_spool_orphan(store_ingest *in) {
  if (in->spool_open) store_ingest_spool_abort(in, "the machine's session ended");
  if (in->spool_complete && !in->spool_broken) return 1;
  unqueue(in->s, in);
  return 0;
}

static int replay_message(void *ud, const wire_msg *m) {
  store_ingest *in = ud;
  for (const wire_elem *e = m->items; e; e = e->next) store_ingest_direct(in, e);
  return 0;
}

/* Feed the spool back through the direct path, then drop it. */
static void replay(store_ingest *in) {
  in->replaying = 1;
  in->state = IN_IDLE;
  FILE *f = in->spool;
  in->spool = NULL;
  int ok = f && fflush(f) == 0 && fseek(f, 0, SEEK_SET) == 0;
  /* Re-encoding may spell some bytes longer than the machine did, so the
  ** replay allows more than the socket's limits; what it reads was
  ** already checked against them once. */
  wire_limits lim;
  wire_limits_default(&lim);
  lim.max_message *= 4;
  lim.max_attr *= 4;
  wire_parser *p = ok ? wire_parser_new(&lim, replay_message, in) : NULL;
  if (p) {
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
      ok = wire_parser_feed(p, buf, n) == WIRE_OK;
    ok = ok && !ferror(f) && wire_parser_finish(p) == WIRE_OK;
    wire_parser_free(p);
  }
  if (f) fclose(f);
  in->spool_complete = 0;
  in->spool_broken = 0;
  in->replaying = 0;
  if (!ok && (in->state == IN_DIRECT || in->state == IN_BEGUN)) {
    snprintf(in->err, sizeof in->err, "snapshot %s: its temporary file could "
             "not be read back; nothing of it was stored", in->wire_id);
    store_ingest_abort(in, "its temporary file could not be read back");
  }
}

/*
** The writer is done: hand the write lock to the ingests that waited, in
** order. Replaying one may end its snapshot and release again; the
** draining flag turns that inner release into a plain reset, and the loop
** here goes on with the next in line.
*/
void store_writer_release(store *s) {
  s->writer = NULL;
  if (s->draining) return;
  s->draining = 1;
  while (!s->writer && s->wait_head) {
    store_ingest *in = s->wait_head;
    unqueue(s, in);
    store_ingest_enter(in);
    replay(in);
    if (in->dead && s->writer == in) store_ingest_abort(in, "the machine's session ended");
    store_ingest_leave(in, 0);
  }
  s->draining = 0;
}

void store_ingests_detach(store *s) {
  while (s->ingests) {
    store_ingest *in = s->ingests;
    store_ingest_enter(in);
    if (in->waiting) {
      unqueue(s, in);
      if (in->spool) fclose(in->spool);
      in->spool = NULL;
      if (in->spool_open || in->spool_complete) {
        snprintf(in->err, sizeof in->err, "snapshot %s: the store was closed "
                 "before it could be written; nothing of it was stored",
                 in->wire_id);
        store_ingest_report(in, STORE_EABORTED, in->err);
      }
      in->spool_open = 0;
      in->spool_complete = 0;
    } else if (in->state == IN_DIRECT || in->state == IN_BEGUN) {
      s->draining = 1; /* nothing may take the writer over now */
      store_ingest_abort(in, "the store was closed");
      s->draining = 0;
    }
    store_ingest_unlink(in);
    in->s = NULL;
    store_ingest_leave(in, 0);
  }
  s->writer = NULL;
  s->wait_head = s->wait_tail = NULL;
}
