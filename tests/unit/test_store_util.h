/*
** test_store_util.h
** Helpers for the store's tests: build snapshot streams with the protocol
** writer (hash and counts computed as an agent would), feed bytes through
** wire_parser into an ingest, and collect what the done callback reports.
*/
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store.h"
#include "wire.h"

/* ---- building streams ---------------------------------------------- */

typedef struct tstream {
  wire_buf b;
  wire_hash h;
  char id[32];
  uint64_t nodes, edges, batch;
  int in_graph, in_node;
  uint64_t cur;
} tstream;

static inline void ts_init(tstream *t) {
  memset(t, 0, sizeof *t);
  wire_buf_init(&t->b);
}

static inline void ts_free(tstream *t) { wire_buf_free(&t->b); }

static inline void ts_login(tstream *t, const char *name, int pid) {
  wire_msg_begin(&t->b);
  wire_open(&t->b, "login");
  wire_attr_str(&t->b, "name", name);
  wire_attr_str(&t->b, "value", "Lua 5.4.6");
  wire_attr_str(&t->b, "vm", "lua");
  wire_attr_i64(&t->b, "pid", pid);
  wire_attr_str(&t->b, "features", "snapshot restore");
  wire_empty_end(&t->b);
  wire_msg_end(&t->b);
}

/* snapshot-begin; extra is NULL or name, value, name, value …, NULL. */
static inline void ts_begin(tstream *t, const char *id, ...) {
  snprintf(t->id, sizeof t->id, "%s", id);
  t->nodes = t->edges = t->batch = 0;
  t->in_graph = t->in_node = 0;
  wire_hash_init(&t->h);
  wire_msg_begin(&t->b);
  wire_open(&t->b, "snapshot-begin");
  wire_attr_str(&t->b, "id", id);
  wire_attr_str(&t->b, "vm", "lua");
  wire_attr_str(&t->b, "version", "5.4.6");
  wire_attr_str(&t->b, "machine", "test.lua");
  wire_attr_str(&t->b, "time", "1795000000123");
  va_list ap;
  va_start(ap, id);
  const char *k;
  while ((k = va_arg(ap, const char *)) != NULL) {
    const char *v = va_arg(ap, const char *);
    wire_attr_str(&t->b, k, v);
  }
  va_end(ap);
  wire_empty_end(&t->b);
  wire_msg_end(&t->b);
}

static inline void ts_open_graph(tstream *t) {
  wire_msg_begin(&t->b);
  wire_open(&t->b, "graph");
  wire_attr_str(&t->b, "id", t->id);
  wire_attr_u64(&t->b, "seq", t->batch++);
  wire_open_end(&t->b);
  t->in_graph = 1;
}

/* Keep a NUL after the bytes, so tests may search them as a string. */
static inline void ts_terminate(tstream *t) {
  wire_buf_put(&t->b, "", 1);
  t->b.len--;
}

static inline void ts_close_graph(tstream *t) {
  if (t->in_node) wire_node_close(&t->b);
  wire_close(&t->b, "graph");
  wire_msg_end(&t->b);
  t->in_graph = 0;
  ts_terminate(t);
}

/* Start the next node (its id is the next in order unless forced). */
static inline void ts_node(tstream *t, wire_node n) {
  if (!t->in_graph) {
    ts_open_graph(t);
    t->in_node = 0;
  }
  if (t->in_node) wire_node_close(&t->b);
  if (n.id == 0 && t->nodes) n.id = t->nodes;
  wire_node_open(&t->b, &n);
  wire_hash_node(&t->h, &n);
  t->cur = n.id;
  t->nodes++;
  t->in_node = 1;
}

static inline void ts_edge(tstream *t, wire_edge e) {
  assert_true(t->in_node);
  wire_edge_write(&t->b, &e);
  wire_hash_edge(&t->h, &e);
  t->edges++;
}

/* A run of n "index" edges with indices first, first+1 … and values v, as
** an agent sends consecutive integer keys (docs/protocol.md 5.4); hashed
** and counted as the n edges it stands for. */
static inline void ts_run(tstream *t, int64_t first, const wire_value *v,
                          size_t n) {
  assert_true(t->in_node && n > 0);
  wire_run_open(&t->b, "index", first);
  for (size_t i = 0; i < n; i++) {
    wire_edge e;
    memset(&e, 0, sizeof e);
    e.kind = "index";
    e.index = first + (int64_t)i;
    e.has_index = 1;
    e.value = v[i];
    wire_run_value(&t->b, &v[i]);
    wire_hash_edge(&t->h, &e);
  }
  wire_run_close(&t->b);
  t->edges += n;
}

/* End the current graph message; an open node continues in the next. */
static inline void ts_batch(tstream *t) {
  int open = t->in_node;
  ts_close_graph(t);
  ts_open_graph(t);
  t->in_node = 0;
  if (open) {
    wire_node_continue(&t->b, t->cur);
    t->in_node = 1;
  }
}

/* snapshot-end with the counts and hash of what was written; the delta
** arguments falsify them for tests. */
static inline void ts_end_with(tstream *t, int64_t dnodes, int64_t dedges,
                               const char *hash) {
  if (t->in_graph) ts_close_graph(t);
  t->in_node = 0;
  char hex[17];
  wire_hash_hex(&t->h, hex);
  wire_msg_begin(&t->b);
  wire_open(&t->b, "snapshot-end");
  wire_attr_str(&t->b, "id", t->id);
  wire_attr_u64(&t->b, "nodes", t->nodes + (uint64_t)dnodes);
  wire_attr_u64(&t->b, "edges", t->edges + (uint64_t)dedges);
  wire_attr_str(&t->b, "hash", hash ? hash : hex);
  wire_empty_end(&t->b);
  wire_msg_end(&t->b);
  ts_terminate(t);
}

static inline void ts_end(tstream *t) { ts_end_with(t, 0, 0, NULL); }

static inline void ts_error(tstream *t, const char *why) {
  if (t->in_graph) ts_close_graph(t);
  wire_msg_begin(&t->b);
  wire_open(&t->b, "snapshot-error");
  wire_attr_str(&t->b, "id", t->id);
  wire_attr_str(&t->b, "text", why);
  wire_empty_end(&t->b);
  wire_msg_end(&t->b);
  ts_terminate(t);
}

/* Shorthands for records. */
static inline wire_node tn(const char *kind) {
  wire_node n;
  memset(&n, 0, sizeof n);
  n.kind = kind;
  return n;
}

static inline wire_value tv_ref(uint64_t id) {
  wire_value v = {WIRE_V_REF, {0}};
  v.u.ref = id;
  return v;
}

static inline wire_value tv_int(int64_t i) {
  wire_value v = {WIRE_V_INT, {0}};
  v.u.i = i;
  return v;
}

static inline wire_value tv_float(double f) {
  wire_value v = {WIRE_V_FLOAT, {0}};
  v.u.f = f;
  return v;
}

static inline wire_edge te_field(const char *name, wire_value v) {
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = "field";
  e.name = name;
  e.name_len = strlen(name);
  e.value = v;
  return e;
}

static inline wire_edge te_index(int64_t i, wire_value v) {
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = "index";
  e.index = i;
  e.has_index = 1;
  e.value = v;
  return e;
}

static inline wire_edge te_kind(const char *kind, wire_value v) {
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = kind;
  e.value = v;
  return e;
}


/* Node 0, the root, with its edge "globals" to node 1 (written next). */
static inline void ts_root(tstream *t) {
  wire_edge e = te_kind("root", tv_ref(1));
  e.name = "globals", e.name_len = 7;
  ts_node(t, tn("root"));
  ts_edge(t, e);
}

/* ---- feeding -------------------------------------------------------- */

#define TS_MAX_RESULTS 16

typedef struct tresults {
  int n;
  int status[TS_MAX_RESULTS];
  int64_t snap[TS_MAX_RESULTS];
  char msg[TS_MAX_RESULTS][512];
  uint64_t progress_calls, last_nodes;
} tresults;

static inline void tr_done(void *ud, const store_ingest_result *r) {
  tresults *tr = ud;
  assert_true(tr->n < TS_MAX_RESULTS);
  tr->status[tr->n] = r->status;
  tr->snap[tr->n] = r->snapshot;
  snprintf(tr->msg[tr->n], sizeof tr->msg[0], "%s", r->message);
  tr->n++;
}

static inline void tr_progress(void *ud, uint64_t nodes, uint64_t edges) {
  tresults *tr = ud;
  (void)edges;
  tr->progress_calls++;
  tr->last_nodes = nodes;
}

typedef struct tfeed {
  store_ingest *in;
  int first_rc;
} tfeed;

static inline int tf_message(void *ud, const wire_msg *m) {
  tfeed *f = ud;
  int rc = store_ingest_message(f->in, m);
  if (rc && !f->first_rc) f->first_rc = rc;
  return 0;
}

/* A new ingest that reports into tr. */
static inline store_ingest *tf_ingest(store *s, tresults *tr) {
  store_ingest *in = store_ingest_new(s, NULL);
  assert_non_null(in);
  store_ingest_on_done(in, tr_done, tr);
  store_ingest_on_progress(in, tr_progress, tr);
  return in;
}

/* Feed n bytes through a parser into in, split into chunks of step bytes
** (0 = all at once). Returns the parser's final status. */
static inline enum wire_status tf_feed(store_ingest *in, const void *p,
                                       size_t n, size_t step, int finish) {
  tfeed f = {in, 0};
  wire_parser *wp = wire_parser_new(NULL, tf_message, &f);
  assert_non_null(wp);
  enum wire_status ws = WIRE_OK;
  const char *c = p;
  if (!step) step = n ? n : 1;
  for (size_t at = 0; ws == WIRE_OK && at < n; at += step)
    ws = wire_parser_feed(wp, c + at, n - at < step ? n - at : step);
  if (ws == WIRE_OK && finish) ws = wire_parser_finish(wp);
  wire_parser_free(wp);
  return ws;
}

/* Ingest a whole stream into s with a fresh ingest; returns the number
** of done reports (in tr). */
static inline int tf_ingest_all(store *s, const wire_buf *b, tresults *tr) {
  store_ingest *in = tf_ingest(s, tr);
  tf_feed(in, b->data, b->len, 0, 1);
  store_ingest_free(in);
  return tr->n;
}

/* ---- the store ------------------------------------------------------ */

typedef struct tdb {
  char dir[64];
  char path[96];
  store *s;
} tdb;

static inline void tdb_open(tdb *d) {
  snprintf(d->dir, sizeof d->dir, "/tmp/amber-store-test-XXXXXX");
  assert_non_null(mkdtemp(d->dir));
  snprintf(d->path, sizeof d->path, "%s/amber.db", d->dir);
  char err[512];
  int rc = store_open(&d->s, d->path, 0, err, sizeof err);
  if (rc) fprintf(stderr, "store_open: %s\n", err);
  assert_int_equal(rc, STORE_OK);
}

static inline void tdb_close(tdb *d) {
  char cmd[160];
  store_close(d->s);
  d->s = NULL;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
  assert_int_equal(system(cmd), 0);
}

static inline int tcount_cb(void *ud, const store_snapshot *s) {
  (void)s;
  (*(int *)ud)++;
  return 0;
}

/* How many committed snapshots s lists. */
static inline int tdb_count(store *s) {
  int n = 0;
  assert_int_equal(store_snapshots(s, 0, 0, 0, tcount_cb, &n), STORE_OK);
  return n;
}

/* Rows of a table, all snapshots included (to prove rollbacks). */
#include <sqlite3.h>
static inline int64_t tdb_rows(store *s, const char *table) {
  char sql[96];
  sqlite3_stmt *st;
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

/* Nodes stored, all snapshots included: the counts of the page rows. */
static inline int64_t tdb_nodes(store *s) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(store_db(s), "SELECT coalesce(sum(n), 0) FROM pages",
                                      -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

#endif
