/*
** store_index.c
** The lookup indexes of a snapshot: its retainers (refs), nodes by VM
** address (addrs), by type name (types) and the rare kinds people look
** for (kinds). They are built after the snapshot's commit, not during its
** ingest: one row per reference and per node, in no useful order, cost
** more than the rest of an ingest together. Queries work without them, by
** reading the snapshot in order; the indexes make them direct.
*/
#include <string.h>

#include "store_impl.h"

/* Rows copied from the temporary tables per write transaction: a writer
** that waits for the lock (an ingest) waits about this long at most. */
#define INDEX_STEP 20000

int store_indexed(store *s, int64_t snap) {
  sqlite3_stmt *st = store_prepare(s, "SELECT indexed FROM snapshots WHERE id = ?1");
  if (!st) return 0;
  sqlite3_bind_int64(st, 1, snap);
  int yes = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
  sqlite3_finalize(st);
  return yes;
}

/* What the scan collects: the rows, in temporary tables of this
** connection (which take no lock on the database). */
typedef struct indexer {
  store *s;
  int64_t snap;
  store_batch refs, addrs, types, kinds;
  int rc;
  uint64_t nodes, edges;
  store_progress_fn progress;
  void *ud;
} indexer;

static int is_rare(const char *kind) {
  return !strcmp(kind, "thread") || !strcmp(kind, "frame") ||
         !strcmp(kind, "exit") || !strcmp(kind, "stub");
}

/* A row (snap, key, id) of addrs, types or kinds: the key is an integer
** (p NULL, the address in v), bytes, or a word. */
static int key_row(indexer *x, store_batch *b, const char *p, size_t n,
                   uint64_t v, int word, uint64_t id) {
  int rc = store_batch_row(x->s, b, n);
  if (rc) return rc;
  store_batch_int(b, x->snap);
  if (word) store_batch_text(b, p);
  else if (p) store_batch_blob(b, n ? p : "", n);
  else store_batch_int(b, (int64_t)v);
  store_batch_int(b, (int64_t)id);
  return store_batch_row_end(x->s, b);
}

static int on_node(void *ud, const store_node *node) {
  indexer *x = ud;
  const wire_node *n = &node->n;
  int rc = STORE_OK;
  if (n->has_addr) rc = key_row(x, &x->addrs, NULL, 0, n->addr, 0, n->id);
  if (!rc && n->type) rc = key_row(x, &x->types, n->type, n->type_len, 0, 0, n->id);
  if (!rc && is_rare(n->kind)) rc = key_row(x, &x->kinds, n->kind, 0, 0, 1, n->id);
  if ((++x->nodes & 0xffff) == 0 && x->progress) x->progress(x->ud, x->nodes, x->edges);
  return (x->rc = rc) != STORE_OK;
}

static int ref_row(indexer *x, uint64_t target, uint64_t pos, uint64_t src) {
  int rc = store_batch_row(x->s, &x->refs, 0);
  if (rc) return rc;
  store_batch_int(&x->refs, store_rid(x->snap, target));
  store_batch_int(&x->refs, store_rid(x->snap, pos));
  store_batch_int(&x->refs, (int64_t)src);
  return store_batch_row_end(x->s, &x->refs);
}

static int on_edge(void *ud, const store_edge *e) {
  indexer *x = ud;
  const wire_value *v = &e->e.value, *k = &e->e.key;
  uint64_t pos = x->edges++;
  int rc = STORE_OK;
  if (v->type == WIRE_V_REF && v->u.ref < STORE_MAX_IDS)
    rc = ref_row(x, v->u.ref, pos, e->from);
  if (!rc && k->type == WIRE_V_REF && k->u.ref < STORE_MAX_IDS &&
      !(v->type == WIRE_V_REF && v->u.ref == k->u.ref))
    rc = ref_row(x, k->u.ref, pos, e->from);
  return (x->rc = rc) != STORE_OK;
}

static const char temp_tables[] =
    "CREATE TEMP TABLE IF NOT EXISTS ix_refs(a INTEGER, b INTEGER, c INTEGER);"
    "CREATE TEMP TABLE IF NOT EXISTS ix_addrs(a INTEGER, b INTEGER, c INTEGER);"
    "CREATE TEMP TABLE IF NOT EXISTS ix_types(a INTEGER, b BLOB, c INTEGER);"
    "CREATE TEMP TABLE IF NOT EXISTS ix_kinds(a INTEGER, b TEXT, c INTEGER);"
    "DELETE FROM temp.ix_refs; DELETE FROM temp.ix_addrs;"
    "DELETE FROM temp.ix_types; DELETE FROM temp.ix_kinds;";

/* Read the snapshot once, collecting its index rows. */
static int collect(indexer *x) {
  store *s = x->s;
  int rc = store_exec(s, temp_tables);
  if (!rc) rc = store_batch_prepare(s, &x->refs, "INSERT INTO temp.ix_refs(a, b, c)", 3, "indexing");
  if (!rc) rc = store_batch_prepare(s, &x->addrs, "INSERT INTO temp.ix_addrs(a, b, c)", 3, "indexing");
  if (!rc) rc = store_batch_prepare(s, &x->types, "INSERT INTO temp.ix_types(a, b, c)", 3, "indexing");
  if (!rc) rc = store_batch_prepare(s, &x->kinds, "INSERT INTO temp.ix_kinds(a, b, c)", 3, "indexing");
  /* one read transaction: the rows read are one committed state, and the
  ** temporary tables are written without a journal per statement */
  if (!rc) rc = store_exec(s, "BEGIN");
  if (rc) return rc;
  rc = store_scan(s, x->snap, 0, on_node, on_edge, x);
  if (rc == STORE_ESTOPPED && x->rc) rc = x->rc;
  if (!rc) rc = store_batch_flush(s, &x->refs);
  if (!rc) rc = store_batch_flush(s, &x->addrs);
  if (!rc) rc = store_batch_flush(s, &x->types);
  if (!rc) rc = store_batch_flush(s, &x->kinds);
  if (!rc) rc = store_exec(s, "COMMIT");
  if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* Copy the collected rows into the index tables a step at a time, then
** mark the snapshot indexed. A snapshot deleted meanwhile loses what was
** copied for it. */
static int copy_rows(indexer *x) {
  static const char *const copy[] = {
    "INSERT OR IGNORE INTO refs(target, pos, src) SELECT a, b, c FROM temp.ix_refs"
    " WHERE rowid BETWEEN ?1 AND ?2",
    "INSERT OR IGNORE INTO addrs(snap, addr, id) SELECT a, b, c FROM temp.ix_addrs"
    " WHERE rowid BETWEEN ?1 AND ?2",
    "INSERT OR IGNORE INTO types(snap, type, id) SELECT a, b, c FROM temp.ix_types"
    " WHERE rowid BETWEEN ?1 AND ?2",
    "INSERT OR IGNORE INTO kinds(snap, kind, id) SELECT a, b, c FROM temp.ix_kinds"
    " WHERE rowid BETWEEN ?1 AND ?2"};
  static const char *const count[] = {
    "SELECT max(rowid) FROM temp.ix_refs", "SELECT max(rowid) FROM temp.ix_addrs",
    "SELECT max(rowid) FROM temp.ix_types", "SELECT max(rowid) FROM temp.ix_kinds"};
  store *s = x->s;
  int rc = STORE_OK;
  for (int t = 0; !rc && t < 4; t++) {
    sqlite3_stmt *n = store_prepare(s, count[t]);
    sqlite3_stmt *st = n ? store_prepare(s, copy[t]) : NULL;
    int64_t rows = 0;
    if (!st) rc = STORE_ESQL;
    else if (sqlite3_step(n) == SQLITE_ROW) rows = sqlite3_column_int64(n, 0);
    for (int64_t at = 1; !rc && at <= rows; at += INDEX_STEP) {
      if ((rc = store_exec(s, "BEGIN IMMEDIATE"))) break;
      if (!store_snapshot_exists(s, x->snap)) rc = STORE_ENOTFOUND;
      sqlite3_reset(st);
      sqlite3_bind_int64(st, 1, at);
      sqlite3_bind_int64(st, 2, at + INDEX_STEP - 1);
      int src = rc ? SQLITE_DONE : sqlite3_step(st);
      if (!rc && src != SQLITE_DONE) rc = store_fail_sql(s, src, "indexing");
      if (!rc) rc = store_exec(s, "COMMIT");
      if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_finalize(n);
    sqlite3_finalize(st);
  }
  if (!rc && !(rc = store_exec(s, "BEGIN IMMEDIATE"))) {
    sqlite3_stmt *st = store_prepare(s, "UPDATE snapshots SET indexed = 1 WHERE id = ?1");
    if (!st) rc = STORE_ESQL;
    else {
      sqlite3_bind_int64(st, 1, x->snap);
      int src = sqlite3_step(st);
      if (src != SQLITE_DONE) rc = store_fail_sql(s, src, "indexing");
      else if (sqlite3_changes(s->db) != 1) rc = STORE_ENOTFOUND;
      sqlite3_finalize(st);
    }
    if (!rc) rc = store_exec(s, "COMMIT");
    if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  }
  if (rc == STORE_ENOTFOUND) {
    /* deleted while being indexed: remove what was copied for it */
    store_index_drop(s, x->snap);
    rc = store_fail(s, STORE_ENOTFOUND, "snapshot %lld was deleted while it "
                    "was being indexed", (long long)x->snap);
  }
  return rc;
}

int store_index(store *s, int64_t snap, store_progress_fn progress, void *ud) {
  if (s->flags & STORE_READONLY)
    return store_fail(s, STORE_EUSAGE, "the store is open read-only; open it "
                      "writable to index snapshot %lld", (long long)snap);
  if (s->writer)
    return store_fail(s, STORE_EBUSY, "a snapshot is being written; index "
                      "snapshot %lld when it has finished", (long long)snap);
  uint64_t nodes, edges;
  int rc = store_snapshot_counts(s, snap, &nodes, &edges);
  if (rc || store_indexed(s, snap)) return rc;
  indexer x;
  memset(&x, 0, sizeof x);
  x.s = s;
  x.snap = snap;
  x.progress = progress;
  x.ud = ud;
  rc = collect(&x);
  store_batch_finalize(&x.refs);
  store_batch_finalize(&x.addrs);
  store_batch_finalize(&x.types);
  store_batch_finalize(&x.kinds);
  if (!rc) rc = copy_rows(&x);
  /* the temporary rows go now, not at close: they can be many */
  sqlite3_exec(s->db, "DELETE FROM temp.ix_refs; DELETE FROM temp.ix_addrs;"
               "DELETE FROM temp.ix_types; DELETE FROM temp.ix_kinds;",
               NULL, NULL, NULL);
  if (!rc && progress) progress(ud, nodes, edges);
  return rc;
}

int store_index_drop(store *s, int64_t snap) {
  static const char *const sql[] = {
    "DELETE FROM refs WHERE target BETWEEN ?1 AND ?2",
    "DELETE FROM addrs WHERE snap = ?3", "DELETE FROM types WHERE snap = ?3",
    "DELETE FROM kinds WHERE snap = ?3"};
  int rc = STORE_OK;
  for (size_t i = 0; !rc && i < sizeof sql / sizeof *sql; i++) {
    sqlite3_stmt *st = store_prepare(s, sql[i]);
    if (!st) return STORE_ESQL;
    if (i == 0) {
      sqlite3_bind_int64(st, 1, store_rid(snap, 0));
      sqlite3_bind_int64(st, 2, store_rid(snap, STORE_MAX_IDS - 1));
    } else {
      sqlite3_bind_int64(st, 3, snap);
    }
    int src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE) rc = store_fail_sql(s, src, "dropping an index");
  }
  return rc;
}
