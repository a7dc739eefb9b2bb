/*
** store_ingest.c
** Streaming ingest: protocol items (snapshot-begin, graph batches,
** snapshot-end / snapshot-error) go straight into SQLite, one transaction
** per snapshot, checked against the machine's counts and content hash.
*/
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_impl.h"
#include "store_ingest_impl.h"

#define MAX_WORD 256      /* vm, version, reason, wire id: labels, not data */
#define MAX_LABEL 65536   /* machine names and snapshot labels */

static void ingest_vfail(store_ingest *in, int code, const char *fmt,
                         va_list ap);

/* ------------------------------------------------------------------ */
/* Callbacks and the ingest's lifetime                                 */
/* ------------------------------------------------------------------ */

void store_ingest_enter(store_ingest *in) { in->busy++; }

/* Leave a call on in; if it was freed meanwhile, free it now. Returns rc. */
int store_ingest_leave(store_ingest *in, int rc) {
  assert(in->busy > 0);
  if (--in->busy == 0 && in->dead) store_ingest_destroy(in);
  return rc;
}

void store_ingest_report(store_ingest *in, int status, const char *message) {
  if (!in->done) return;
  store_ingest_result r;
  r.status = status;
  r.snapshot = status == STORE_OK ? in->snap : 0;
  r.wire_id = in->wire_id;
  r.nodes = in->nodes;
  r.edges = in->edges;
  r.message = message ? message : "";
  in->done(in->done_ud, &r);
}

void store_ingest_report_progress(store_ingest *in) {
  if (in->progress) in->progress(in->progress_ud, in->nodes, in->edges);
}

/* ------------------------------------------------------------------ */
/* Small readers of item attributes                                    */
/* ------------------------------------------------------------------ */

/* A short attribute without NULs (ids, vm names): NULL if absent, else
** its value; *bad set if present but unusable. */
static const char *word_attr(const wire_elem *e, const char *name, int *bad) {
  size_t n;
  const char *v = wire_get(e, name, &n);
  if (v && (n > MAX_WORD || memchr(v, 0, n))) *bad = 1;
  return v;
}

static char *dup_bytes(const char *p, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    if (n) memcpy(d, p, n);
    d[n] = 0;
  }
  return d;
}

/* ------------------------------------------------------------------ */
/* Transactions and rows                                               */
/* ------------------------------------------------------------------ */

/* End the open snapshot's transaction: commit or roll back, then give the
** write lock to whoever waits for it. */
static void finish_txn(store_ingest *in, int commit, int *rc) {
  store *s = in->s;
  assert(s->writer == in);
  if (commit) {
    int src = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (src != SQLITE_OK) {
      *rc = store_fail_sql(s, src, "committing the snapshot");
      commit = 0;
    }
  }
  if (!commit) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  in->state = IN_IDLE;
}

/* Fail the open snapshot: roll back what it wrote, ignore the rest of its
** items, tell the done callback. Returns code. */
static int ingest_fail(store_ingest *in, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int ingest_fail(store_ingest *in, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ingest_vfail(in, code, fmt, ap);
  va_end(ap);
  return code;
}

static void ingest_vfail(store_ingest *in, int code, const char *fmt,
                         va_list ap) {
  vsnprintf(in->err, sizeof in->err, fmt, ap);
  if (in->state != IN_DIRECT && in->state != IN_BEGUN) return;
  int wrote = in->state == IN_DIRECT;
  if (wrote) {
    int ignored = 0;
    finish_txn(in, 0, &ignored);
  }
  in->state = IN_DISCARD;
  store_ingest_report(in, code, in->err);
  if (wrote && in->s) store_writer_release(in->s);
}

static int machine_row(store_ingest *in, const wire_elem *begin,
                       int64_t now, int64_t *id) {
  store *s = in->s;
  size_t name_len = in->m_name_len;
  const char *name = in->m_name;
  if (!name) name = wire_get(begin, "machine", &name_len);
  if (!name) name = "", name_len = 0;
  int bad = 0;
  const char *vm = word_attr(begin, "vm", &bad);
  const char *version = word_attr(begin, "version", &bad);
  if (bad) return STORE_EPROTO;
  if (!vm) vm = in->m_vm ? in->m_vm : "";
  if (!version) version = in->m_version ? in->m_version : "";
  sqlite3_stmt *st = store_prepare(s,
      "SELECT id FROM machines WHERE name=?1 AND pid=?2 AND vm=?3");
  if (!st) return STORE_ESQL;
  sqlite3_bind_blob64(st, 1, name, name_len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, in->m_pid);
  sqlite3_bind_text(st, 3, vm, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  *id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return store_fail_sql(s, rc, "looking up the machine");
  st = store_prepare(s, *id
      ? "UPDATE machines SET last_seen=?5, version=?4 WHERE id=?6"
      : "INSERT INTO machines(name, pid, vm, version, first_seen, last_seen)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?5)");
  if (!st) return STORE_ESQL;
  sqlite3_bind_blob64(st, 1, name, name_len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, in->m_pid);
  sqlite3_bind_text(st, 3, vm, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, version, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, now);
  if (*id) sqlite3_bind_int64(st, 6, *id);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return store_fail_sql(s, rc, "recording the machine");
  if (!*id) *id = sqlite3_last_insert_rowid(s->db);
  return STORE_OK;
}

static void bind_bytes(sqlite3_stmt *st, int i, const void *p, size_t n,
                       int present) {
  if (!present) sqlite3_bind_null(st, i);
  else sqlite3_bind_blob64(st, i, n ? p : "", n, SQLITE_STATIC);
}

/* ------------------------------------------------------------------ */
/* The snapshot messages                                               */
/* ------------------------------------------------------------------ */

static int on_login(store_ingest *in, const wire_elem *e) {
  size_t n;
  const char *name = wire_get(e, "name", &n);
  int bad = 0;
  const char *vm = word_attr(e, "vm", &bad);
  const char *version = word_attr(e, "version", &bad);
  if (!version) version = word_attr(e, "value", &bad);
  int64_t pid = -1;
  if (wire_get(e, "pid", NULL) && wire_get_i64(e, "pid", &pid)) bad = 1;
  if (bad || (name && n > MAX_LABEL)) {
    snprintf(in->err, sizeof in->err, "login: an attribute is too long or not "
             "text; the machine's identity was not changed");
    return STORE_EPROTO;
  }
  store_machine_info info = {name, name ? n : 0, vm, version, pid};
  return store_ingest_set_machine(in, &info);
}

/* Look up what the debugger asked for this snapshot, if it said. */
static const ingest_request *find_request(store_ingest *in) {
  for (int i = 0; i < INGEST_REQUESTS; i++)
    if (in->reqs[i].wire_id && !strcmp(in->reqs[i].wire_id, in->wire_id))
      return &in->reqs[i];
  return NULL;
}

static int on_begin(store_ingest *in, const wire_elem *e) {
  store *s = in->s;
  int bad = 0;
  const char *id = word_attr(e, "id", &bad);
  if (in->state == IN_DIRECT || in->state == IN_BEGUN)
    ingest_fail(in, STORE_EPROTO, "snapshot %s never ended: snapshot %s began "
                "before it; nothing of it was stored", in->wire_id,
                id && !bad ? id : "?");
  in->state = IN_IDLE;
  if (!id || bad || !id[0] || strlen(id) > INGEST_MAX_ID) {
    snprintf(in->err, sizeof in->err, "snapshot-begin without a usable id "
             "attribute (1 to %d bytes of text); the machine's agent is "
             "broken", INGEST_MAX_ID);
    return STORE_EPROTO;
  }
  snprintf(in->wire_id, sizeof in->wire_id, "%s", id);
  in->nodes = in->edges = in->bytes = in->max_ref = in->batch = 0;
  in->has_cur = 0;
  in->pending = 0;
  in->pcount = in->ccount = in->cstart = 0;
  memset(&in->cprev, 0, sizeof in->cprev);
  wire_buf_reset(&in->pbuf);
  wire_buf_reset(&in->cbuf);
  in->snap = 0;
  wire_hash_init(&in->hash);
  if (s->writer && s->writer != in) return store_ingest_spool_begin(in, e);
  in->state = IN_BEGUN;
  if (s->flags & STORE_READONLY)
    return ingest_fail(in, STORE_EUSAGE, "snapshot %s: the store was opened "
                       "read-only; nothing was stored", in->wire_id);

  const char *reason = word_attr(e, "reason", &bad);
  const char *label, *err, *tb;
  size_t label_len, err_len, tb_len;
  label = wire_get(e, "label", &label_len);
  err = wire_get(e, "error", &err_len);
  tb = wire_get(e, "traceback", &tb_len);
  int64_t vmtime = 0;
  if (wire_get(e, "time", NULL) && wire_get_i64(e, "time", &vmtime)) bad = 1;
  if (bad || (label && label_len > MAX_LABEL))
    return ingest_fail(in, STORE_EPROTO, "snapshot %s: snapshot-begin has an "
                       "attribute that is too long or malformed; nothing was "
                       "stored", in->wire_id);

  int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    rc = store_fail_sql(s, rc, "starting the snapshot's transaction");
    return ingest_fail(in, rc, "snapshot %s: %s", in->wire_id, s->err);
  }
  s->writer = in;
  in->state = IN_DIRECT;
  int64_t now = store_now_ms(), machine = 0;
  rc = machine_row(in, e, now, &machine);
  if (rc == STORE_EPROTO)
    return ingest_fail(in, rc, "snapshot %s: vm or version attribute too long "
                       "or not text; nothing was stored", in->wire_id);
  if (rc) return ingest_fail(in, rc, "snapshot %s: %s", in->wire_id, s->err);
  sqlite3_stmt *st = store_prepare(s,
      "INSERT INTO snapshots(machine, wire_id, label, vm, version, time,"
      " stored, reason, error, traceback, state)"
      " SELECT ?1, ?2, ?3, vm, version, ?4, ?5, ?6, ?7, ?8, 'ingesting'"
      " FROM machines WHERE id=?1");
  if (!st) return ingest_fail(in, STORE_ESQL, "snapshot %s: %s", in->wire_id, s->err);
  sqlite3_bind_int64(st, 1, machine);
  sqlite3_bind_text(st, 2, in->wire_id, -1, SQLITE_STATIC);
  bind_bytes(st, 3, label, label_len, label != NULL);
  sqlite3_bind_int64(st, 4, vmtime);
  sqlite3_bind_int64(st, 5, now);
  sqlite3_bind_text(st, 6, reason ? reason : "request", -1, SQLITE_STATIC);
  bind_bytes(st, 7, err, err_len, err != NULL);
  bind_bytes(st, 8, tb, tb_len, tb != NULL);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    rc = store_fail_sql(s, rc, "recording the snapshot");
    return ingest_fail(in, rc, "snapshot %s: %s", in->wire_id, s->err);
  }
  in->snap = sqlite3_last_insert_rowid(s->db);
  if (in->snap <= 0 || in->snap >= STORE_MAX_SNAPSHOTS)
    return ingest_fail(in, STORE_ELIMIT, "snapshot %s: the store has used all "
                       "%lld snapshot ids; start a new database with --db",
                       in->wire_id, (long long)STORE_MAX_SNAPSHOTS);
  return STORE_OK;
}

/* The id attribute of a graph/end/error item decides whether it belongs
** to the open snapshot. Returns 1 to handle it, 0 to ignore it, or -1
** (error set) if it belongs to nothing. */
static int belongs(store_ingest *in, const wire_elem *e, int *rc) {
  size_t n;
  const char *id = wire_get(e, "id", &n);
  int same = id && n == strlen(in->wire_id) && !memcmp(id, in->wire_id, n);
  if (in->state == IN_DISCARD && same) return 0;
  if (in->state == IN_DIRECT && same) return 1;
  if (in->state == IN_DIRECT)
    *rc = ingest_fail(in, STORE_EPROTO, "snapshot %s: a <%s> for another "
                      "snapshot arrived before it ended; nothing of it was "
                      "stored", in->wire_id, e->name);
  else {
    snprintf(in->err, sizeof in->err, "<%s> for a snapshot that did not begin "
             "(or already failed); ignored", e->name);
    *rc = STORE_EPROTO;
  }
  return -1;
}

/* Store the page of packed nodes: they are all complete. */
static int flush_page(store_ingest *in) {
  if (!in->pcount) return STORE_OK;
  if (in->pbuf.oom) return STORE_ENOMEM;
  sqlite3_stmt *st = in->s->ins_page;
  sqlite3_bind_int64(st, 1, store_rid(in->snap, in->pfirst));
  sqlite3_bind_int64(st, 2, (int64_t)in->pcount);
  sqlite3_bind_int64(st, 3, (int64_t)in->pe0);
  sqlite3_bind_blob64(st, 4, in->pbuf.data, in->pbuf.len, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return store_fail_sql(in->s, rc, "storing nodes");
  wire_buf_reset(&in->pbuf);
  in->pcount = 0;
  return STORE_OK;
}

/* Store the chunk of packed edges. */
static int flush_chunk(store_ingest *in) {
  if (!in->ccount) return STORE_OK;
  if (in->cbuf.oom) return STORE_ENOMEM;
  sqlite3_stmt *st = in->s->ins_chunk;
  sqlite3_bind_int64(st, 1, store_rid(in->snap, in->cstart));
  sqlite3_bind_int64(st, 2, (int64_t)in->ccount);
  sqlite3_bind_blob64(st, 3, in->cbuf.data, in->cbuf.len, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return store_fail_sql(in->s, rc, "storing edges");
  wire_buf_reset(&in->cbuf);
  in->cstart = in->edges;
  in->ccount = 0;
  memset(&in->cprev, 0, sizeof in->cprev);
  return STORE_OK;
}

/* The current node has all its edges: write their count into its record. */
static void finish_node(store_ingest *in) {
  if (!in->pending) return;
  store_node_set_edges(&in->pbuf, in->nedges_at, in->edges - in->ne0);
  in->pending = 0;
}

/* Add node n to the page, which is stored first if n would not fit. */
static int pend_node(store_ingest *in, const wire_node *n) {
  size_t about = n->type_len + n->name_len + n->value_len + n->payload_len +
                 n->source_len + 64;
  if (in->pcount == STORE_PAGE_NODES ||
      (in->pcount && in->pbuf.len + about > STORE_PAGE_BYTES)) {
    int rc = flush_page(in);
    if (rc) return rc;
  }
  if (!in->pcount) {
    in->pfirst = n->id;
    in->pe0 = in->edges;
  }
  in->nedges_at = store_node_encode(&in->pbuf, n);
  if (in->pbuf.oom) return STORE_ENOMEM;
  in->pcount++;
  in->pending = 1;
  in->ne0 = in->edges;
  return STORE_OK;
}

static int add_edge(store_ingest *in, const wire_edge *e, int code) {
  store_edge_encode(&in->cbuf, e, code, &in->cprev);
  in->ccount++;
  in->edges++;
  if (in->ccount >= STORE_CHUNK_EDGES || in->cbuf.len >= STORE_CHUNK_BYTES)
    return flush_chunk(in);
  return STORE_OK;
}

static void note_ref(store_ingest *in, const wire_value *v) {
  if (v->type == WIRE_V_REF && v->u.ref + 1 > in->max_ref)
    in->max_ref = v->u.ref == UINT64_MAX ? UINT64_MAX : v->u.ref + 1;
}

static int on_node(store_ingest *in, const wire_elem *ne, uint64_t k) {
  wire_node node;
  int cont = 0;
  const char *why = "not a node";
  if (wire_node_read(ne, &node, &cont, &in->scratch, &why))
    return ingest_fail(in, STORE_EPROTO, "snapshot %s, batch %llu, element "
                       "%llu: %s; nothing of the snapshot was stored",
                       in->wire_id, (unsigned long long)in->batch,
                       (unsigned long long)k, why);
  if (cont) {
    if (!in->has_cur || node.id != in->cur)
      return ingest_fail(in, STORE_EPROTO, "snapshot %s: a continuation of "
                         "node %llu, but the last node sent was %s%llu; "
                         "nothing was stored", in->wire_id,
                         (unsigned long long)node.id, in->has_cur ? "" : "none ",
                         (unsigned long long)(in->has_cur ? in->cur : 0));
  } else {
    if (node.id != in->nodes)
      return ingest_fail(in, STORE_EPROTO, "snapshot %s: node %llu arrived "
                         "where node %llu was due (ids come in order from 0, "
                         "without gaps); nothing was stored", in->wire_id,
                         (unsigned long long)node.id,
                         (unsigned long long)in->nodes);
    if (node.id >= STORE_MAX_IDS)
      return ingest_fail(in, STORE_ELIMIT, "snapshot %s has more than %llu "
                         "nodes; nothing was stored", in->wire_id,
                         (unsigned long long)STORE_MAX_IDS);
    finish_node(in);
    int rc = pend_node(in, &node);
    if (rc == STORE_ENOMEM) snprintf(in->s->err, sizeof in->s->err, "out of memory");
    if (rc) return ingest_fail(in, rc, "snapshot %s: %s", in->wire_id, in->s->err);
    wire_hash_node(&in->hash, &node);
    in->cur = node.id;
    in->has_cur = 1;
    in->nodes++;
    if (node.has_size) in->bytes += node.size;
  }
  /* <e> elements and runs <r> alike: a run is stored as the edges it
  ** stands for (docs/protocol.md 5.4), so the rows do not depend on it */
  wire_edges it;
  wire_edge edge;
  int r, code = 0;
  /* the edges of a run share their kind's text: its code is looked up
  ** once (the pointer stays valid, and its text the same, within ne) */
  const char *kind = NULL;
  wire_edges_begin(ne, &it);
  while ((r = wire_edges_next(&it, &edge)) > 0) {
    if (in->edges >= STORE_MAX_IDS)
      return ingest_fail(in, STORE_ELIMIT, "snapshot %s has more than %llu "
                         "edges; nothing was stored", in->wire_id,
                         (unsigned long long)STORE_MAX_IDS);
    note_ref(in, &edge.key);
    note_ref(in, &edge.value);
    if (edge.kind != kind) code = store_edge_kind(kind = edge.kind);
    int rc = add_edge(in, &edge, code);
    if (rc == STORE_ENOMEM) snprintf(in->s->err, sizeof in->s->err, "out of memory");
    if (rc) return ingest_fail(in, rc, "snapshot %s: %s", in->wire_id, in->s->err);
    /* the reader hands over the value's text: hashed without formatting */
    if (it.in_run) wire_hash_run_edge(&in->hash, &it.run, &edge);
    else wire_hash_edge_text(&in->hash, &edge, it.vtext, it.vlen);
  }
  if (r < 0)
    return ingest_fail(in, STORE_EPROTO, "snapshot %s, node %llu, edge "
                       "%llu: %s; nothing was stored", in->wire_id,
                       (unsigned long long)in->cur,
                       (unsigned long long)in->edges, it.why);
  return STORE_OK;
}

static int on_graph(store_ingest *in, const wire_elem *e) {
  int rc = STORE_OK;
  int b = belongs(in, e, &rc);
  if (b <= 0) return rc;
  uint64_t seq;
  if (wire_get(e, "seq", NULL) && (wire_get_u64(e, "seq", &seq) || seq != in->batch))
    return ingest_fail(in, STORE_EPROTO, "snapshot %s: graph batch %s arrived "
                       "where batch %llu was due (a batch was lost or "
                       "repeated); nothing was stored", in->wire_id,
                       wire_get(e, "seq", NULL), (unsigned long long)in->batch);
  uint64_t k = 0;
  for (const wire_elem *c = e->children; c; c = c->next, k++) {
    if (strcmp(c->name, "n"))
      return ingest_fail(in, STORE_EPROTO, "snapshot %s, batch %llu: <%s> is "
                         "not a node; nothing was stored", in->wire_id,
                         (unsigned long long)in->batch, c->name);
    if ((rc = on_node(in, c, k))) return rc;
  }
  in->batch++;
  store_ingest_report_progress(in);
  return STORE_OK;
}

static int on_end(store_ingest *in, const wire_elem *e) {
  int rc = STORE_OK;
  int b = belongs(in, e, &rc);
  if (b == 0) in->state = IN_IDLE; /* the end of a failed snapshot */
  if (b <= 0) return rc;
  uint64_t nodes, edges;
  size_t hlen;
  const char *hash = wire_get(e, "hash", &hlen);
  char mine[17];
  wire_hash_hex(&in->hash, mine);
  if (wire_get_u64(e, "nodes", &nodes) || wire_get_u64(e, "edges", &edges) ||
      !hash || hlen != 16)
    return ingest_fail(in, STORE_EPROTO, "snapshot %s: snapshot-end needs "
                       "nodes, edges and a 16-digit hash; nothing was stored",
                       in->wire_id);
  if (nodes != in->nodes || edges != in->edges)
    return ingest_fail(in, STORE_ECOUNT, "snapshot %s: the machine counted "
                       "%llu nodes and %llu edges but %llu and %llu arrived; "
                       "nothing was stored, take the snapshot again",
                       in->wire_id, (unsigned long long)nodes,
                       (unsigned long long)edges, (unsigned long long)in->nodes,
                       (unsigned long long)in->edges);
  if (in->nodes == 0)
    return ingest_fail(in, STORE_EPROTO, "snapshot %s has no nodes (node 0 is "
                       "the root); nothing was stored", in->wire_id);
  if (in->max_ref > in->nodes)
    return ingest_fail(in, STORE_EDANGLING, "snapshot %s: an edge refers to "
                       "node %llu but the snapshot has only %llu nodes; "
                       "nothing was stored", in->wire_id,
                       (unsigned long long)(in->max_ref - 1),
                       (unsigned long long)in->nodes);
  finish_node(in);
  if (!(rc = flush_page(in))) rc = flush_chunk(in);
  if (rc)
    return ingest_fail(in, rc, "snapshot %s: %s", in->wire_id,
                       rc == STORE_ENOMEM ? "out of memory" : in->s->err);
  if (strncasecmp(hash, mine, 16))
    return ingest_fail(in, STORE_EHASH, "snapshot %s: content hash %.16s sent, "
                       "%s computed from what arrived; the stream was damaged, "
                       "nothing was stored", in->wire_id, hash, mine);
  const ingest_request *req = find_request(in);
  store *s = in->s;
  sqlite3_stmt *st = store_prepare(s,
      "UPDATE snapshots SET nodes=?1, edges=?2, bytes=?3, hash=?4,"
      " stored=?5, roots=?6, exits=?7, state='complete' WHERE id=?8");
  if (!st) return ingest_fail(in, STORE_ESQL, "snapshot %s: %s", in->wire_id, s->err);
  sqlite3_bind_int64(st, 1, (int64_t)in->nodes);
  sqlite3_bind_int64(st, 2, (int64_t)in->edges);
  sqlite3_bind_int64(st, 3, (int64_t)in->bytes);
  sqlite3_bind_text(st, 4, mine, 16, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, store_now_ms());
  sqlite3_bind_text(st, 6, req ? req->roots : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, req ? req->exits : "", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 8, in->snap);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    rc = store_fail_sql(s, rc, "completing the snapshot");
    return ingest_fail(in, rc, "snapshot %s: %s", in->wire_id, s->err);
  }
  rc = STORE_OK;
  finish_txn(in, 1, &rc);
  if (rc) {
    snprintf(in->err, sizeof in->err, "snapshot %s: %.400s", in->wire_id, s->err);
    store_ingest_report(in, rc, in->err);
  } else {
    in->err[0] = 0;
    store_ingest_report(in, STORE_OK, "");
  }
  store_writer_release(s);
  return rc;
}

static int on_error(store_ingest *in, const wire_elem *e) {
  int rc = STORE_OK;
  int b = belongs(in, e, &rc);
  if (b == 0) in->state = IN_IDLE;
  if (b <= 0) return rc;
  size_t n;
  const char *text = wire_get(e, "text", &n);
  int len = text ? (int)(n > 300 ? 300 : n) : 0;
  return ingest_fail(in, STORE_EREMOTE, "snapshot %s: the machine could not "
                     "finish it (%.*s); nothing was stored", in->wire_id, len,
                     text ? text : "no reason given");
}

/* The replayed abort marker of a spooled ingest (store_ingest_abort). */
static int on_abort_marker(store_ingest *in, const wire_elem *e) {
  size_t n;
  const char *why = wire_get(e, "text", &n);
  int len = why ? (int)(n > 300 ? 300 : n) : 0;
  if (in->state != IN_DIRECT) {
    in->state = IN_IDLE;
    return STORE_OK;
  }
  ingest_fail(in, STORE_EABORTED, "snapshot %s: %.*s; nothing of it was "
              "stored", in->wire_id, len, why ? why : "aborted");
  in->state = IN_IDLE;
  return STORE_EABORTED;
}

/* Handle one item now (not spooled). */
int store_ingest_direct(store_ingest *in, const wire_elem *e) {
  const char *name = e->name;
  if (!strcmp(name, "graph")) return on_graph(in, e);
  if (!strcmp(name, "snapshot-begin")) return on_begin(in, e);
  if (!strcmp(name, "snapshot-end")) return on_end(in, e);
  if (!strcmp(name, "snapshot-error")) return on_error(in, e);
  if (!strcmp(name, "login")) return on_login(in, e);
  if (in->replaying && !strcmp(name, INGEST_ABORT_MARKER))
    return on_abort_marker(in, e);
  return STORE_OK;
}

/* ------------------------------------------------------------------ */
/* Public entry points                                                 */
/* ------------------------------------------------------------------ */

int store_ingest_wants(const wire_elem *e) {
  const char *n = e->name;
  return !strcmp(n, "graph") || !strcmp(n, "snapshot-begin") ||
         !strcmp(n, "snapshot-end") || !strcmp(n, "snapshot-error") ||
         !strcmp(n, "login");
}

int store_ingest_item(store_ingest *in, const wire_elem *e) {
  if (!in->s) {
    snprintf(in->err, sizeof in->err, "the store was closed; nothing more "
             "can be ingested");
    return STORE_EABORTED;
  }
  if (!store_ingest_wants(e)) return STORE_OK;
  store_ingest_enter(in);
  int rc = in->waiting ? store_ingest_spool_item(in, e)
                       : store_ingest_direct(in, e);
  return store_ingest_leave(in, rc);
}

int store_ingest_message(store_ingest *in, const wire_msg *m) {
  int first = STORE_OK;
  store_ingest_enter(in);
  for (const wire_elem *e = m->items; e && !in->dead; e = e->next) {
    int rc = store_ingest_item(in, e);
    if (rc && !first) first = rc;
  }
  return store_ingest_leave(in, first);
}

void store_ingest_abort(store_ingest *in, const char *why) {
  if (!why) why = "aborted";
  if (!in->s) return;
  store_ingest_enter(in);
  if (in->waiting) {
    store_ingest_spool_abort(in, why);
  } else if (in->state == IN_DIRECT || in->state == IN_BEGUN) {
    ingest_fail(in, STORE_EABORTED, "snapshot %s: %s; nothing of it was "
                "stored", in->wire_id, why);
    in->state = IN_IDLE;
  } else {
    in->state = IN_IDLE;
  }
  store_ingest_leave(in, 0);
}

int store_ingest_open(const store_ingest *in) {
  return in->waiting ? in->spool_open
                     : in->state == IN_DIRECT || in->state == IN_BEGUN;
}

uint64_t store_ingest_nodes(const store_ingest *in) { return in->nodes; }
uint64_t store_ingest_edges(const store_ingest *in) { return in->edges; }
const char *store_ingest_errmsg(const store_ingest *in) { return in->err; }

void store_ingest_on_done(store_ingest *in, store_done_fn fn, void *ud) {
  in->done = fn;
  in->done_ud = ud;
}

void store_ingest_on_progress(store_ingest *in, store_progress_fn fn,
                              void *ud) {
  in->progress = fn;
  in->progress_ud = ud;
}

int store_ingest_set_machine(store_ingest *in, const store_machine_info *m) {
  char *name = NULL, *vm = NULL, *version = NULL;
  if (m->name && !(name = dup_bytes(m->name, m->name_len))) goto oom;
  if (m->vm && !(vm = dup_bytes(m->vm, strlen(m->vm)))) goto oom;
  if (m->version && !(version = dup_bytes(m->version, strlen(m->version))))
    goto oom;
  free(in->m_name);
  free(in->m_vm);
  free(in->m_version);
  in->m_name = name;
  in->m_name_len = m->name ? m->name_len : 0;
  in->m_vm = vm;
  in->m_version = version;
  in->m_pid = m->pid;
  return STORE_OK;
oom:
  free(name);
  free(vm);
  free(version);
  snprintf(in->err, sizeof in->err, "out of memory recording the machine");
  return STORE_ENOMEM;
}

/* Join list entries with newlines; NULL if out of memory. */
static char *join_lines(const char *const *v, size_t n) {
  size_t len = 1;
  for (size_t i = 0; i < n; i++) len += strlen(v[i]) + 1;
  char *out = malloc(len), *p = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    size_t k = strlen(v[i]);
    memcpy(p, v[i], k);
    p += k;
    if (i + 1 < n) *p++ = '\n';
  }
  *p = 0;
  return out;
}

int store_ingest_request(store_ingest *in, const char *wire_id,
                         const char *const *roots, size_t nroots,
                         const char *const *exits, size_t nexits) {
  ingest_request r = {strdup(wire_id), join_lines(roots, nroots),
                      join_lines(exits, nexits)};
  if (!r.wire_id || !r.roots || !r.exits) {
    free(r.wire_id);
    free(r.roots);
    free(r.exits);
    snprintf(in->err, sizeof in->err, "out of memory recording a request");
    return STORE_ENOMEM;
  }
  /* The oldest of a few remembered requests makes room: a machine answers
  ** requests in order, so only the last few can still be pending. */
  ingest_request *slot = &in->reqs[in->next_req];
  in->next_req = (in->next_req + 1) % INGEST_REQUESTS;
  free(slot->wire_id);
  free(slot->roots);
  free(slot->exits);
  *slot = r;
  return STORE_OK;
}

store_ingest *store_ingest_new(store *s, const store_machine_info *machine) {
  store_ingest *in = calloc(1, sizeof *in);
  if (!in) return NULL;
  in->s = s;
  in->m_pid = -1;
  wire_buf_init(&in->scratch);
  wire_buf_init(&in->sbuf);
  wire_buf_init(&in->pbuf);
  wire_buf_init(&in->cbuf);
  if (machine && store_ingest_set_machine(in, machine)) {
    free(in);
    return NULL;
  }
  in->next_live = s->ingests;
  if (s->ingests) s->ingests->prev_live = in;
  s->ingests = in;
  return in;
}

/* Free in for good: nothing may refer to it any more. */
void store_ingest_release_memory(store_ingest *in) {
  for (int i = 0; i < INGEST_REQUESTS; i++) {
    free(in->reqs[i].wire_id);
    free(in->reqs[i].roots);
    free(in->reqs[i].exits);
  }
  if (in->spool) fclose(in->spool);
  wire_buf_free(&in->scratch);
  wire_buf_free(&in->sbuf);
  wire_buf_free(&in->pbuf);
  wire_buf_free(&in->cbuf);
  free(in->m_name);
  free(in->m_vm);
  free(in->m_version);
  free(in);
}

void store_ingest_unlink(store_ingest *in) {
  store *s = in->s;
  if (!s) return;
  if (in->prev_live) in->prev_live->next_live = in->next_live;
  else s->ingests = in->next_live;
  if (in->next_live) in->next_live->prev_live = in->prev_live;
  in->next_live = in->prev_live = NULL;
}

/* Free now: roll back what is open (without callbacks: the owner asked
** for this), unless spooled snapshots are complete and wait to be
** written; then the store keeps the ingest until they are. */
void store_ingest_destroy(store_ingest *in) {
  in->done = NULL;
  in->progress = NULL;
  in->dead = 1;
  if (in->s && in->waiting && store_ingest_spool_orphan(in)) return;
  if (in->s && (in->state == IN_DIRECT || in->state == IN_BEGUN)) {
    int direct = in->state == IN_DIRECT;
    if (direct) {
      int ignored = 0;
      finish_txn(in, 0, &ignored);
    }
    in->state = IN_IDLE;
    store_ingest_unlink(in);
    store *s = in->s;
    in->s = NULL;
    store_ingest_release_memory(in);
    if (direct) store_writer_release(s);
    return;
  }
  store_ingest_unlink(in);
  store_ingest_release_memory(in);
}

void store_ingest_free(store_ingest *in) {
  if (!in) return;
  if (in->busy) {
    in->dead = 1;
    in->done = NULL;
    in->progress = NULL;
    return;
  }
  store_ingest_destroy(in);
}
