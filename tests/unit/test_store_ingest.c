/*
** test_store_ingest.c
** The store's streaming ingest: every field and value kind comes back
** exactly; every kind of broken stream leaves no trace and keeps what was
** stored before; concurrent ingests take turns through the spool.
*/
#include <math.h>

#include "test_store_util.h"

/* Nodes to a page row at most (STORE_PAGE_NODES in server/store_impl.h). */
#define STORE_TEST_PAGE 256

/* ---- a snapshot with every kind of field and value ------------------ */

#define MAXREC 64

typedef struct expect {
  wire_node nodes[MAXREC];
  wire_edge edges[MAXREC];
  uint64_t edge_from[MAXREC];
  int nnodes, nedges;
} expect;

static void x_node(tstream *t, expect *x, wire_node n) {
  n.id = (uint64_t)x->nnodes;
  x->nodes[x->nnodes++] = n;
  ts_node(t, n);
}

static void x_edge(tstream *t, expect *x, wire_edge e) {
  x->edge_from[x->nedges] = (uint64_t)x->nnodes - 1;
  x->edges[x->nedges++] = e;
  ts_edge(t, e);
}

static const char payload[] = "\x1bLua\x54\x00\x19\x93\r\n\x1a\n\x00\xff";
static const char str3[] = "hi\0there\xff";
static const char nul_name[] = "a\0b";

/* Build the snapshot: root, a table of scalars, a registry whose edges
** span two batches, strings with NULs, a function with bytecode, a thread
** with a frame and locals, an exit, a userdata. */
static void build_everything(tstream *t, expect *x, const char *id) {
  memset(x, 0, sizeof *x);
  ts_begin(t, id, "label", "every kind", "reason", "crash", "error",
           "app.lua:42: boom\x01", "traceback", "stack traceback:\n\t[C]", NULL);
  x_node(t, x, tn("root"));
  wire_edge e = te_kind("root", tv_ref(1));
  e.name = "globals", e.name_len = 7;
  x_edge(t, x, e);
  e.name = "registry", e.name_len = 8, e.value = tv_ref(2);
  x_edge(t, x, e);
  e.name = "stack", e.name_len = 5, e.value = tv_ref(6);
  x_edge(t, x, e);

  wire_node n = tn("table");
  n.type = "Point", n.type_len = 5;
  n.size = 56, n.has_size = 1;
  n.addr = 0xffff55d0c1a2b3c0ull, n.has_addr = 1;
  n.mode = "k";
  x_node(t, x, n); /* 1 */
  x_edge(t, x, te_field("i_max", tv_int(INT64_MAX)));
  x_edge(t, x, te_field("i_min", tv_int(INT64_MIN)));
  x_edge(t, x, te_field("zero", tv_int(0)));
  x_edge(t, x, te_field("nan", tv_float(NAN)));
  x_edge(t, x, te_field("negzero", tv_float(-0.0)));
  x_edge(t, x, te_field("inf", tv_float(INFINITY)));
  x_edge(t, x, te_field("ninf", tv_float(-INFINITY)));
  x_edge(t, x, te_field("tiny", tv_float(4.9e-324)));
  x_edge(t, x, te_field("half", tv_float(0.5)));
  wire_value v = {WIRE_V_BOOL, {0}};
  v.u.b = 1;
  x_edge(t, x, te_field("yes", v));
  v.u.b = 0;
  x_edge(t, x, te_field("no", v));
  v.type = WIRE_V_NIL;
  x_edge(t, x, te_field("nothing", v));
  e = te_field("", tv_int(1));
  e.name = nul_name, e.name_len = 3;
  x_edge(t, x, e);
  e = te_field("", tv_ref(3));
  e.name = "\xff\xfe\xef\x9c\x80", e.name_len = 5;
  x_edge(t, x, e);
  x_edge(t, x, te_index(1, tv_ref(3)));
  x_edge(t, x, te_index(-5, tv_int(7)));
  e = te_kind("key", tv_ref(4));
  e.key = tv_ref(2); /* a table as a key */
  x_edge(t, x, e);
  e.key = tv_float(1.5);
  e.value = tv_ref(3);
  x_edge(t, x, e);
  e.key.type = WIRE_V_BOOL, e.key.u.b = 1;
  e.value = tv_float(NAN);
  x_edge(t, x, e);
  x_edge(t, x, te_kind("metatable", tv_ref(2)));

  x_node(t, x, tn("table")); /* 2: edges span a batch boundary */
  for (int i = 1; i <= 3; i++) x_edge(t, x, te_index(i, tv_int(i * 10)));
  ts_batch(t);
  for (int i = 4; i <= 6; i++) x_edge(t, x, te_index(i, tv_int(i * 10)));
  ts_batch(t);

  n = tn("string"); /* 3 */
  n.value = str3, n.value_len = sizeof str3 - 1, n.has_value = 1;
  n.size = 34, n.has_size = 1;
  x_node(t, x, n);
  n = tn("string"); /* 4: empty, with an empty (present) type */
  n.value = "", n.value_len = 0, n.has_value = 1;
  n.type = "", n.type_len = 0;
  x_node(t, x, n);
  n = tn("function"); /* 5 */
  n.payload = payload, n.payload_len = sizeof payload - 1, n.has_payload = 1;
  n.source = "@app.lua", n.source_len = 8;
  n.line = 12, n.has_line = 1;
  x_node(t, x, n);
  n = tn("thread"); /* 6 */
  n.status = "suspended";
  x_node(t, x, n);
  e = te_kind("frame", tv_ref(8));
  e.index = 0, e.has_index = 1;
  x_edge(t, x, e);
  n = tn("exit"); /* 7 */
  n.name = "string.format", n.name_len = 13;
  x_node(t, x, n);
  n = tn("frame"); /* 8 */
  n.name = "tick", n.name_len = 4;
  n.source = "app.lua", n.source_len = 7;
  n.line = -1, n.has_line = 1;
  x_node(t, x, n);
  x_edge(t, x, te_kind("function", tv_ref(5)));
  e = te_kind("local", tv_int(1));
  e.name = "x", e.name_len = 1, e.index = 1, e.has_index = 1;
  x_edge(t, x, e);
  e.name = "s", e.index = 2, e.value = tv_ref(3);
  x_edge(t, x, e);
  e.name = "(temporary)", e.name_len = 11, e.index = 3, e.value = tv_ref(7);
  x_edge(t, x, e);
  n = tn("userdata"); /* 9 */
  n.type = "FILE*", n.type_len = 5;
  n.payload = "", n.payload_len = 0, n.has_payload = 1;
  x_node(t, x, n);
  ts_end(t);
}

static void same_bytes(const char *a, size_t an, const char *b, size_t bn) {
  assert_true((a == NULL) == (b == NULL));
  if (!a) return;
  assert_int_equal(an, bn);
  assert_memory_equal(a, b, an);
}

static void same_value(const wire_value *a, const wire_value *b) {
  assert_int_equal(a->type, b->type);
  switch (a->type) {
  case WIRE_V_BOOL: assert_int_equal(a->u.b, b->u.b); break;
  case WIRE_V_INT: assert_true(a->u.i == b->u.i); break;
  case WIRE_V_FLOAT: assert_memory_equal(&a->u.f, &b->u.f, sizeof(double)); break;
  case WIRE_V_REF: assert_true(a->u.ref == b->u.ref); break;
  default: break;
  }
}

static void same_node(const wire_node *a, const wire_node *b) {
  assert_true(a->id == b->id);
  assert_string_equal(a->kind, b->kind);
  same_bytes(a->type, a->type_len, b->type, b->type_len);
  same_bytes(a->name, a->name_len, b->name, b->name_len);
  assert_int_equal(a->has_size, b->has_size);
  if (a->has_size) assert_true(a->size == b->size);
  assert_int_equal(a->has_addr, b->has_addr);
  if (a->has_addr) assert_true(a->addr == b->addr);
  assert_int_equal(a->has_value, b->has_value);
  if (a->has_value) same_bytes(a->value, a->value_len, b->value, b->value_len);
  assert_int_equal(a->has_payload, b->has_payload);
  if (a->has_payload)
    same_bytes(a->payload, a->payload_len, b->payload, b->payload_len);
  assert_true((a->mode == NULL) == (b->mode == NULL));
  if (a->mode) assert_string_equal(a->mode, b->mode);
  assert_true((a->status == NULL) == (b->status == NULL));
  if (a->status) assert_string_equal(a->status, b->status);
  same_bytes(a->source, a->source_len, b->source, b->source_len);
  assert_int_equal(a->has_line, b->has_line);
  if (a->has_line) assert_true(a->line == b->line);
}

static void same_edge(const wire_edge *a, const wire_edge *b) {
  assert_string_equal(a->kind, b->kind);
  same_bytes(a->name, a->name_len, b->name, b->name_len);
  assert_int_equal(a->has_index, b->has_index);
  if (a->has_index) assert_true(a->index == b->index);
  same_value(&a->key, &b->key);
  same_value(&a->value, &b->value);
}

typedef struct checker {
  const expect *x;
  int node, edge;
  uint64_t seq;
} checker;

static int check_node(void *ud, const store_node *n) {
  checker *c = ud;
  assert_true(c->node < c->x->nnodes);
  same_node(&c->x->nodes[c->node], &n->n);
  int count = 0;
  for (int i = 0; i < c->x->nedges; i++) count += c->x->edge_from[i] == n->n.id;
  assert_int_equal(n->nedges, count);
  c->node++;
  c->seq = 0;
  return 0;
}

static int check_edge(void *ud, const store_edge *e) {
  checker *c = ud;
  assert_true(c->edge < c->x->nedges);
  assert_true(e->from == c->x->edge_from[c->edge]);
  assert_true(e->seq == c->seq++);
  same_edge(&c->x->edges[c->edge], &e->e);
  c->edge++;
  return 0;
}

static void test_every_field_and_value_comes_back_exactly(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  expect x;
  ts_init(&t);
  ts_login(&t, "every.lua", 4242);
  build_everything(&t, &x, "7");
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 1);
  assert_int_equal(tr.status[0], STORE_OK);
  int64_t id = tr.snap[0];
  assert_true(id > 0);
  assert_true(tr.progress_calls >= 3); /* one per batch */
  assert_int_equal(tr.last_nodes, x.nnodes);

  checker c = {&x, 0, 0, 0};
  assert_int_equal(store_scan(d.s, id, 0, check_node, check_edge, &c), STORE_OK);
  assert_int_equal(c.node, x.nnodes);
  assert_int_equal(c.edge, x.nedges);

  store_snapshot sn;
  assert_int_equal(store_snapshot_get(d.s, id, &sn), STORE_OK);
  assert_int_equal(sn.nodes, x.nnodes);
  assert_int_equal(sn.edges, x.nedges);
  assert_int_equal(sn.bytes, 56 + 34);
  char hex[17];
  wire_hash_hex(&t.h, hex);
  assert_string_equal(sn.hash, hex);
  assert_string_equal(sn.wire_id, "7");
  assert_string_equal(sn.reason, "crash");
  assert_string_equal(sn.vm, "lua");
  assert_string_equal(sn.version, "5.4.6");
  assert_true(sn.time_ms == 1795000000123ll);
  same_bytes(sn.label, sn.label_len, "every kind", 10);
  same_bytes(sn.machine_name, sn.machine_name_len, "every.lua", 9);
  same_bytes(sn.error, sn.error_len, "app.lua:42: boom\x01", 17);
  assert_non_null(sn.traceback);
  store_snapshot_release(&sn);

  char again[17];
  assert_int_equal(store_verify(d.s, id, again), STORE_OK);
  assert_string_equal(again, hex);

  /* One node read alone, with its owned copy. */
  store_node n;
  assert_int_equal(store_node_get(d.s, id, 3, &n), STORE_OK);
  same_node(&x.nodes[3], &n.n);
  store_node_release(&n);
  ts_free(&t);
  tdb_close(&d);
}

static void test_split_at_every_byte_boundary_still_ingests(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  expect x;
  ts_init(&t);
  build_everything(&t, &x, "1");
  tresults tr;
  memset(&tr, 0, sizeof tr);
  store_ingest *in = tf_ingest(d.s, &tr);
  assert_int_equal(tf_feed(in, t.b.data, t.b.len, 1, 1), WIRE_OK);
  store_ingest_free(in);
  assert_int_equal(tr.n, 1);
  assert_int_equal(tr.status[0], STORE_OK);
  assert_int_equal(store_verify(d.s, tr.snap[0], NULL), STORE_OK);
  ts_free(&t);
  tdb_close(&d);
}

typedef struct pager { uint64_t n; int64_t first_index, last_index; uint64_t first_seq; } pager;

static int page_edge(void *ud, const store_edge *e) {
  pager *p = ud;
  if (!p->n) p->first_index = e->e.index, p->first_seq = e->seq;
  p->last_index = e->e.index;
  p->n++;
  return 0;
}

static void test_large_nodes_split_into_chunks_read_back_exactly(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  ts_begin(&t, "big", NULL);
  ts_root(&t);
  ts_node(&t, tn("table")); /* 10000 edges: inline, then chunks by count */
  for (int i = 1; i <= 10000; i++) {
    ts_edge(&t, te_index(i, i % 7 ? tv_int(i) : tv_ref(2)));
    if (i % 3000 == 0) ts_batch(&t);
  }
  static char longname[30000];
  memset(longname, 'x', sizeof longname);
  ts_node(&t, tn("table")); /* 2: names so long that chunks end by size */
  for (int i = 0; i < 8; i++) {
    wire_edge f = te_field("", tv_int(i));
    f.name = longname, f.name_len = sizeof longname - (size_t)i;
    ts_edge(&t, f);
  }
  ts_end(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 1);
  assert_int_equal(tr.status[0], STORE_OK);
  assert_true(tdb_rows(d.s, "edges") >= 5); /* 3 by count, several by size */
  assert_int_equal(store_verify(d.s, tr.snap[0], NULL), STORE_OK);
  uint64_t offsets[] = {0, 63, 64, 4159, 4160, 8255, 9000, 9999, 10000};
  for (size_t k = 0; k < sizeof offsets / sizeof *offsets; k++) {
    pager p = {0, 0, 0, 0};
    assert_int_equal(store_children(d.s, tr.snap[0], 1, offsets[k], 5, page_edge, &p),
                     STORE_OK);
    uint64_t want = offsets[k] + 5 <= 10000 ? 5 : 10000 - offsets[k];
    assert_int_equal(p.n, want);
    if (want) {
      assert_true(p.first_seq == offsets[k]);
      assert_true(p.first_index == (int64_t)offsets[k] + 1);
      assert_true(p.last_index == (int64_t)(offsets[k] + want));
    }
  }
  pager p = {0, 0, 0, 0};
  assert_int_equal(store_children(d.s, tr.snap[0], 2, 5, 0, page_edge, &p), STORE_OK);
  assert_int_equal(p.n, 3);
  p.n = 0;
  assert_int_equal(store_retainers(d.s, tr.snap[0], 2, 1000, 0, page_edge, &p), STORE_OK);
  assert_int_equal(p.n, 10000 / 7 - 1000);
  assert_true(p.first_index == 7 * 1001);
  ts_free(&t);
  tdb_close(&d);
}

/* Packed edges write an index one past the previous edge's as "the next"
** (schema 5): every index sequence (runs, gaps, repeats, negatives, the
** extremes, edges without an index between) reads back exactly from any
** offset, across chunks; a chunk whose first edge claims "the next" is
** refused as corrupt. */
#define NEXT_EDGES 5000
static int64_t next_idx[NEXT_EDGES];
static int next_has[NEXT_EDGES];

typedef struct next_seen { uint64_t n, from; int bad; } next_seen;

static int next_edge(void *ud, const store_edge *e) {
  next_seen *c = ud;
  uint64_t k = c->from + c->n++;
  if (k >= NEXT_EDGES || e->e.has_index != next_has[k] ||
      (next_has[k] && e->e.index != next_idx[k]))
    c->bad = 1;
  return 0;
}

static void test_indices_one_apart_are_stored_as_the_next(void **state) {
  static const int64_t head[] = {1, 2, 3, 4, 5, 5, 4, 10, -3, -2, -1, 0, 1,
                                 INT64_MAX - 1, INT64_MAX, INT64_MIN, INT64_MIN + 1};
  (void)state;
  size_t n = 0;
  for (size_t k = 0; k < sizeof head / sizeof *head; k++, n++)
    next_idx[n] = head[k], next_has[n] = 1;
  next_has[n++] = 0; /* a field between */
  for (int64_t i = 7; n < NEXT_EDGES; i++, n++) {
    next_idx[n] = i, next_has[n] = 1;
    if (n % 1000 == 999) next_has[n] = 0;
  }
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  ts_begin(&t, "next", NULL);
  ts_root(&t);
  ts_node(&t, tn("table"));
  for (size_t k = 0; k < NEXT_EDGES; k++)
    ts_edge(&t, next_has[k] ? te_index(next_idx[k], tv_int((int64_t)k))
                            : te_field("f", tv_int((int64_t)k)));
  ts_end(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 1);
  assert_int_equal(tr.status[0], STORE_OK);
  assert_int_equal(store_verify(d.s, tr.snap[0], NULL), STORE_OK);
  /* about 4 bytes an edge, not 6: the indices in a row are not written */
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(store_db(d.s), "SELECT sum(length(data)) FROM edges",
                                      -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_true(sqlite3_column_int64(st, 0) < 5 * NEXT_EDGES);
  sqlite3_finalize(st);
  static const uint64_t offsets[] = {0, 1, 5, 16, 17, 18, 999, 4095, 4096, 4097, 4999};
  for (size_t k = 0; k < sizeof offsets / sizeof *offsets; k++) {
    next_seen c = {0, offsets[k], 0};
    assert_int_equal(store_children(d.s, tr.snap[0], 1, offsets[k], 0, next_edge, &c),
                     STORE_OK);
    assert_false(c.bad);
    assert_int_equal(c.n, NEXT_EDGES - offsets[k]);
  }
  /* set "the next" on the first edge of the first chunk */
  assert_int_equal(sqlite3_prepare_v2(store_db(d.s), "SELECT rid, data FROM edges "
                                      "ORDER BY rid LIMIT 1", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  sqlite3_int64 rid = sqlite3_column_int64(st, 0);
  int len = sqlite3_column_bytes(st, 1);
  unsigned char *data = malloc((size_t)len);
  assert_non_null(data);
  memcpy(data, sqlite3_column_blob(st, 1), (size_t)len);
  sqlite3_finalize(st);
  data[0] |= 0x80;
  assert_int_equal(sqlite3_prepare_v2(store_db(d.s), "UPDATE edges SET data=?1 WHERE rid=?2",
                                      -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_blob(st, 1, data, len, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, rid);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  free(data);
  next_seen c = {0, 0, 0};
  assert_int_equal(store_children(d.s, tr.snap[0], 0, 0, 0, next_edge, &c), STORE_ECORRUPT);
  assert_int_equal(store_verify(d.s, tr.snap[0], NULL), STORE_ECORRUPT);
  ts_free(&t);
  tdb_close(&d);
}

/* ---- broken streams -------------------------------------------------- */

/* A small good snapshot: root -> table with a string. */
static void build_small(tstream *t, const char *id) {
  ts_begin(t, id, NULL);
  ts_root(t);
  ts_node(t, tn("table"));
  ts_edge(t, te_field("s", tv_ref(2)));
  ts_edge(t, te_field("n", tv_int(3)));
  wire_node n = tn("string");
  n.value = "x", n.value_len = 1, n.has_value = 1;
  ts_node(t, n);
}

typedef struct ids_found { uint64_t n, id; } ids_found;

static int found_id(void *ud, const store_node *n) {
  ids_found *f = ud;
  f->n++;
  f->id = n->n.id;
  return 0;
}

/* A list of n strings: most short, every 40th too big to be copied into a
** batch of rows (it binds straight into SQLite), every 7th big enough that
** a few of them end a batch early. Each string is retained twice. */
static char big_value[300 * 1024];
static void build_strings(tstream *t, const char *id, int n) {
  memset(big_value, 'v', sizeof big_value);
  ts_begin(t, id, NULL);
  ts_root(t);
  ts_node(t, tn("table"));
  for (int i = 0; i < n; i++) ts_edge(t, te_index(i + 1, tv_ref(2 + (uint64_t)i)));
  for (int i = 0; i < n; i++) {
    wire_node s = tn("string");
    char text[32];
    s.value = text, s.has_value = 1;
    s.value_len = (size_t)snprintf(text, sizeof text, "s%d", i);
    if (i % 40 == 39) s.value = big_value, s.value_len = sizeof big_value - (size_t)i;
    else if (i % 7 == 6) s.value = big_value, s.value_len = 100 * 1024 + (size_t)i;
    s.addr = 0x7f0000001000ull + 64 * (uint64_t)(n - i), s.has_addr = 1;
    ts_node(t, s);
    ts_edge(t, te_field("self", tv_ref(2 + (uint64_t)i)));
    if (i % 50 == 49) ts_batch(t);
  }
}

typedef struct lengths { uint64_t n, bytes; } lengths;

static int sum_value(void *ud, const store_node *n) {
  lengths *l = ud;
  l->n++;
  l->bytes += n->n.value_len;
  return 0;
}

static void test_many_rows_and_big_rows_come_back_exactly(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  enum { N = 300 };
  build_strings(&t, "rows", N);
  ts_end(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 1);
  assert_int_equal(tr.status[0], STORE_OK);
  /* the big strings have page rows of their own; small nodes share them */
  assert_true(tdb_rows(d.s, "pages") > (N + 2 + STORE_TEST_PAGE - 1) / STORE_TEST_PAGE);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(store_db(d.s), "SELECT count(*) FROM pages WHERE"
                   " n > 1 AND length(data) > 65536 + 1024", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int64(st, 0), 0);
  sqlite3_finalize(st);
  assert_int_equal(store_index(d.s, tr.snap[0], NULL, NULL), STORE_OK);
  assert_int_equal(tdb_rows(d.s, "refs"), 1 + 2 * N);
  assert_int_equal(store_verify(d.s, tr.snap[0], NULL), STORE_OK);
  lengths want = {0, 0}, got = {0, 0};
  for (int i = 0; i < N; i++) {
    want.n++;
    want.bytes += i % 40 == 39 ? sizeof big_value - (size_t)i
                : i % 7 == 6 ? 100 * 1024 + (size_t)i
                : (size_t)snprintf(NULL, 0, "s%d", i);
  }
  store_search q;
  memset(&q, 0, sizeof q);
  q.kind = "string";
  assert_int_equal(store_find_nodes(d.s, tr.snap[0], &q, -1, 0, sum_value, &got),
                   STORE_OK);
  assert_true(got.n == want.n && got.bytes == want.bytes);
  for (int i = 0; i < N; i += 13) {
    pager p = {0, 0, 0, 0};
    assert_int_equal(store_retainers(d.s, tr.snap[0], 2 + (uint64_t)i, 0, 0,
                                     page_edge, &p), STORE_OK);
    assert_int_equal(p.n, 2);
    memset(&q, 0, sizeof q);
    q.has_addr = 1, q.addr = 0x7f0000001000ull + 64 * (uint64_t)(N - i);
    ids_found f = {0, 0};
    assert_int_equal(store_find_nodes(d.s, tr.snap[0], &q, -1, 0, found_id, &f),
                     STORE_OK);
    assert_true(f.n == 1 && f.id == 2 + (uint64_t)i);
  }
  ts_free(&t);
  tdb_close(&d);
}

/* Rows held for a batch when a snapshot fails are dropped with it: the
** next snapshot's transaction must not write them. */
static void test_rows_held_by_a_failed_snapshot_are_dropped(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  build_strings(&t, "bad", 100);
  ts_end_with(&t, 1, 0, NULL);        /* fails at its end: a count mismatch */
  build_strings(&t, "cut", 90);       /* fails midway: the machine goes away */
  ts_close_graph(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  store_ingest *in = tf_ingest(d.s, &tr);
  assert_int_equal(tf_feed(in, t.b.data, t.b.len, 0, 1), WIRE_OK);
  assert_true(store_ingest_open(in));
  store_ingest_abort(in, "the machine disconnected");
  ts_free(&t);
  ts_init(&t);
  build_small(&t, "good");
  ts_end(&t);
  assert_int_equal(tf_feed(in, t.b.data, t.b.len, 0, 1), WIRE_OK);
  store_ingest_free(in);
  assert_int_equal(tr.n, 3);
  assert_int_equal(tr.status[0], STORE_ECOUNT);
  assert_int_equal(tr.status[1], STORE_EABORTED);
  assert_int_equal(tr.status[2], STORE_OK);
  assert_int_equal(tdb_count(d.s), 1);
  assert_int_equal(tdb_nodes(d.s), 3);
  assert_int_equal(store_index(d.s, tr.snap[2], NULL, NULL), STORE_OK);
  assert_int_equal(tdb_rows(d.s, "refs"), 2);
  assert_int_equal(store_verify(d.s, tr.snap[2], NULL), STORE_OK);
  ts_free(&t);
  tdb_close(&d);
}

/* Store one good snapshot, then feed bad; check the outcome and that the
** good one is untouched and nothing else was written. */
static void expect_nothing_stored(const wire_buf *bad, int status,
                                  const char *words, int finish) {
  tdb d;
  tdb_open(&d);
  tstream good;
  ts_init(&good);
  build_small(&good, "1");
  ts_end(&good);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &good.b, &tr), 1);
  assert_int_equal(tr.status[0], STORE_OK);
  int64_t nodes = tdb_rows(d.s, "pages"), edges = tdb_rows(d.s, "edges");
  int64_t snaps = tdb_rows(d.s, "snapshots"), machines = tdb_rows(d.s, "machines");

  tresults bad_tr;
  memset(&bad_tr, 0, sizeof bad_tr);
  store_ingest *in = tf_ingest(d.s, &bad_tr);
  tf_feed(in, bad->data, bad->len, 7, finish);
  if (store_ingest_open(in)) store_ingest_abort(in, "the machine disconnected");
  store_ingest_free(in);
  assert_int_equal(bad_tr.n, 1);
  if (bad_tr.status[0] != status)
    fprintf(stderr, "got %s: %s\n", store_status_name(bad_tr.status[0]), bad_tr.msg[0]);
  assert_int_equal(bad_tr.status[0], status);
  assert_non_null(strstr(bad_tr.msg[0], words));
  assert_non_null(strstr(bad_tr.msg[0], "nothing"));

  assert_int_equal(tdb_count(d.s), 1);
  assert_true(tdb_rows(d.s, "pages") == nodes);
  assert_true(tdb_rows(d.s, "edges") == edges);
  assert_true(tdb_rows(d.s, "snapshots") == snaps);
  assert_true(tdb_rows(d.s, "machines") == machines);
  assert_int_equal(store_verify(d.s, tr.snap[0], NULL), STORE_OK);
  ts_free(&good);
  tdb_close(&d);
}

static void test_hash_mismatch_stores_nothing(void **state) {
  (void)state;
  tstream t;
  ts_init(&t);
  build_small(&t, "2");
  ts_end_with(&t, 0, 0, "0123456789abcdef");
  expect_nothing_stored(&t.b, STORE_EHASH, "hash", 1);
  ts_free(&t);
}

static void test_count_mismatch_stores_nothing(void **state) {
  (void)state;
  tstream t;
  ts_init(&t);
  build_small(&t, "2");
  ts_end_with(&t, 1, 0, NULL);
  expect_nothing_stored(&t.b, STORE_ECOUNT, "counted", 1);
  ts_free(&t);
  ts_init(&t);
  build_small(&t, "2");
  ts_end_with(&t, 0, -1, NULL);
  expect_nothing_stored(&t.b, STORE_ECOUNT, "edges", 1);
  ts_free(&t);
}

static void test_dangling_reference_stores_nothing(void **state) {
  (void)state;
  tstream t;
  ts_init(&t);
  build_small(&t, "2");
  ts_edge(&t, te_field("ghost", tv_ref(3)));
  ts_end(&t);
  expect_nothing_stored(&t.b, STORE_EDANGLING, "node 3", 1);
  ts_free(&t);
}

static void test_stream_cut_off_midway_stores_nothing(void **state) {
  (void)state;
  tstream t;
  ts_init(&t);
  build_small(&t, "2");
  ts_end(&t);
  /* Cut inside the last graph message. */
  wire_buf cut;
  wire_buf_init(&cut);
  const char *end = strstr(t.b.data, "snapshot-end");
  assert_non_null(end);
  wire_buf_put(&cut, t.b.data, (size_t)(end - t.b.data) - 40);
  expect_nothing_stored(&cut, STORE_EABORTED, "disconnected", 0);
  wire_buf_free(&cut);
  ts_free(&t);
}

static void test_snapshot_error_stores_nothing(void **state) {
  (void)state;
  tstream t;
  ts_init(&t);
  build_small(&t, "2");
  ts_error(&t, "out of memory in the agent");
  expect_nothing_stored(&t.b, STORE_EREMOTE, "out of memory in the agent", 1);
  ts_free(&t);
}

static void test_ids_out_of_order_store_nothing(void **state) {
  (void)state;
  tstream t;
  ts_init(&t);
  build_small(&t, "2");
  wire_node n = tn("table");
  n.id = 5; /* 3 was due */
  ts_node(&t, n);
  ts_end(&t);
  expect_nothing_stored(&t.b, STORE_EPROTO, "node 5 arrived where node 3", 1);
  ts_free(&t);
}

static void test_bad_value_and_lost_batch_store_nothing(void **state) {
  (void)state;
  static const char bad_value[] =
      "\r\n<xsbug><snapshot-begin id=\"3\"/></xsbug>\r\n"
      "\r\n<xsbug><graph id=\"3\" seq=\"0\"><n i=\"0\" k=\"root\">"
      "<e k=\"root\" n=\"g\" v=\"bogus\"/></n></graph></xsbug>\r\n"
      "\r\n<xsbug><snapshot-end id=\"3\" nodes=\"1\" edges=\"1\" hash=\"0000000000000000\"/></xsbug>\r\n";
  wire_buf b;
  wire_buf_init(&b);
  wire_buf_puts(&b, bad_value);
  expect_nothing_stored(&b, STORE_EPROTO, "target v is not a valid value", 1);
  wire_buf_free(&b);

  static const char lost_batch[] =
      "\r\n<xsbug><snapshot-begin id=\"3\"/></xsbug>\r\n"
      "\r\n<xsbug><graph id=\"3\" seq=\"0\"><n i=\"0\" k=\"root\"/></graph></xsbug>\r\n"
      "\r\n<xsbug><graph id=\"3\" seq=\"2\"><n i=\"1\" k=\"table\"/></graph></xsbug>\r\n"
      "\r\n<xsbug><snapshot-end id=\"3\" nodes=\"2\" edges=\"0\" hash=\"0000000000000000\"/></xsbug>\r\n";
  wire_buf_init(&b);
  wire_buf_puts(&b, lost_batch);
  expect_nothing_stored(&b, STORE_EPROTO, "batch 2 arrived where batch 1", 1);
  wire_buf_free(&b);
}

static void test_continuation_of_another_node_stores_nothing(void **state) {
  (void)state;
  static const char stream[] =
      "\r\n<xsbug><snapshot-begin id=\"4\"/></xsbug>\r\n"
      "\r\n<xsbug><graph id=\"4\" seq=\"0\"><n i=\"0\" k=\"root\"/><n i=\"1\" k=\"table\"/></graph></xsbug>\r\n"
      "\r\n<xsbug><graph id=\"4\" seq=\"1\"><n i=\"0\" c=\"1\"><e k=\"root\" v=\"@1\"/></n></graph></xsbug>\r\n"
      "\r\n<xsbug><snapshot-end id=\"4\" nodes=\"2\" edges=\"1\" hash=\"0000000000000000\"/></xsbug>\r\n";
  wire_buf b;
  wire_buf_init(&b);
  wire_buf_puts(&b, stream);
  expect_nothing_stored(&b, STORE_EPROTO, "continuation of node 0", 1);
  wire_buf_free(&b);
}

static void test_ingest_recovers_after_a_failed_snapshot(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  build_small(&t, "1");
  ts_end_with(&t, 0, 0, "ffffffffffffffff");
  build_small(&t, "2");
  ts_end(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 2);
  assert_int_equal(tr.status[0], STORE_EHASH);
  assert_int_equal(tr.status[1], STORE_OK);
  assert_int_equal(tdb_count(d.s), 1);
  assert_int_equal(store_verify(d.s, tr.snap[1], NULL), STORE_OK);
  ts_free(&t);
  tdb_close(&d);
}

static void test_graph_without_begin_is_refused_and_ignored(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  static const char stream[] =
      "\r\n<xsbug><graph id=\"9\" seq=\"0\"><n i=\"0\" k=\"root\"/></graph></xsbug>\r\n";
  tresults tr;
  memset(&tr, 0, sizeof tr);
  store_ingest *in = tf_ingest(d.s, &tr);
  tfeed f = {in, 0};
  wire_parser *p = wire_parser_new(NULL, tf_message, &f);
  assert_int_equal(wire_parser_feed(p, stream, sizeof stream - 1), WIRE_OK);
  wire_parser_free(p);
  assert_int_equal(f.first_rc, STORE_EPROTO);
  assert_non_null(strstr(store_ingest_errmsg(in), "did not begin"));
  assert_int_equal(tr.n, 0);
  store_ingest_free(in);
  assert_int_equal(tdb_rows(d.s, "pages"), 0);
  tdb_close(&d);
}

/* ---- concurrent ingests ----------------------------------------------- */

/* Split a stream into its messages' byte ranges, to interleave two. */
typedef struct msgs { size_t at[64]; size_t n; } msgs;

static void split_msgs(const wire_buf *b, msgs *m) {
  m->n = 0;
  const char *p = b->data, *end = b->data + b->len;
  while (p < end) {
    const char *q = strstr(p + 2, "\r\n\r\n<xsbug>");
    m->at[m->n++] = (size_t)(p - b->data);
    if (!q) break;
    p = q + 2;
  }
  m->at[m->n] = b->len;
}

static void feed_msg(store_ingest *in, const wire_buf *b, const msgs *m, size_t k) {
  assert_int_equal(tf_feed(in, b->data + m->at[k], m->at[k + 1] - m->at[k], 0, 1),
                   WIRE_OK);
}

static void test_second_machine_waits_in_spool_then_commits(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream a, b;
  ts_init(&a);
  ts_init(&b);
  build_small(&a, "1");
  ts_end(&a);
  expect x;
  build_everything(&b, &x, "1");
  msgs ma, mb;
  split_msgs(&a.b, &ma);
  split_msgs(&b.b, &mb);
  tresults ta, tb;
  memset(&ta, 0, sizeof ta);
  memset(&tb, 0, sizeof tb);
  store_ingest *ia = tf_ingest(d.s, &ta), *ib = tf_ingest(d.s, &tb);

  assert_false(store_writing(d.s));
  feed_msg(ia, &a.b, &ma, 0); /* A begins and writes */
  assert_true(store_writing(d.s));
  for (size_t k = 0; k < mb.n; k++) feed_msg(ib, &b.b, &mb, k); /* all of B */
  assert_int_equal(tb.n, 0);   /* B waits for A */
  assert_int_equal(tb.last_nodes, x.nnodes); /* but progress is visible */
  assert_true(store_ingest_open(ia));
  assert_int_equal(tdb_count(d.s), 0);
  for (size_t k = 1; k < ma.n; k++) feed_msg(ia, &a.b, &ma, k);
  assert_int_equal(ta.n, 1);
  assert_int_equal(ta.status[0], STORE_OK);
  assert_int_equal(tb.n, 1);   /* B was written as soon as A committed */
  assert_int_equal(tb.status[0], STORE_OK);
  assert_true(tb.snap[0] > ta.snap[0]);
  assert_false(store_writing(d.s));
  checker c = {&x, 0, 0, 0};
  assert_int_equal(store_scan(d.s, tb.snap[0], 0, check_node, check_edge, &c), STORE_OK);
  assert_int_equal(store_verify(d.s, tb.snap[0], NULL), STORE_OK);
  assert_int_equal(store_verify(d.s, ta.snap[0], NULL), STORE_OK);
  store_ingest_free(ia);
  store_ingest_free(ib);
  ts_free(&a);
  ts_free(&b);
  tdb_close(&d);
}

static void test_spooled_complete_snapshot_survives_its_session(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream a, b, c;
  ts_init(&a);
  ts_init(&b);
  ts_init(&c);
  build_small(&a, "1");
  ts_end(&a);
  build_small(&b, "1");
  ts_end(&b);
  build_small(&c, "1"); /* C never ends */
  ts_close_graph(&c);
  msgs ma;
  split_msgs(&a.b, &ma);
  tresults ta, tb, tc;
  memset(&ta, 0, sizeof ta);
  memset(&tb, 0, sizeof tb);
  memset(&tc, 0, sizeof tc);
  store_ingest *ia = tf_ingest(d.s, &ta), *ib = tf_ingest(d.s, &tb),
               *ic = tf_ingest(d.s, &tc);
  feed_msg(ia, &a.b, &ma, 0);
  assert_int_equal(tf_feed(ib, b.b.data, b.b.len, 0, 1), WIRE_OK);
  assert_int_equal(tf_feed(ic, c.b.data, c.b.len, 0, 1), WIRE_OK);
  store_ingest_free(ib);  /* disconnected after sending all of it */
  store_ingest_abort(ic, "the machine disconnected");
  for (size_t k = 1; k < ma.n; k++) feed_msg(ia, &a.b, &ma, k);
  assert_int_equal(ta.status[0], STORE_OK);
  assert_int_equal(tb.n, 0);               /* freed: no callback */
  assert_int_equal(tc.n, 1);
  assert_int_equal(tc.status[0], STORE_EABORTED);
  assert_int_equal(tdb_count(d.s), 2);     /* A and B, not C */
  store_ingest_free(ia);
  store_ingest_free(ic);
  ts_free(&a);
  ts_free(&b);
  ts_free(&c);
  tdb_close(&d);
}

static store_ingest *self_freeing;
static void free_in_callback(void *ud, const store_ingest_result *r) {
  tr_done(ud, r);
  store_ingest_free(self_freeing);
  self_freeing = NULL;
}

static void test_done_callback_may_free_its_ingest(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  build_small(&t, "1");
  ts_end(&t);
  build_small(&t, "2"); /* never read: the ingest is gone */
  ts_end(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  self_freeing = store_ingest_new(d.s, NULL);
  store_ingest_on_done(self_freeing, free_in_callback, &tr);
  wire_parser *p = wire_parser_new(NULL, tf_message, &(tfeed){self_freeing, 0});
  const char *second = strstr(t.b.data + 10, "\r\n<xsbug><snapshot-begin");
  assert_int_equal(wire_parser_feed(p, t.b.data, (size_t)(second - t.b.data)), WIRE_OK);
  wire_parser_free(p);
  assert_null(self_freeing);
  assert_int_equal(tr.n, 1);
  assert_int_equal(tr.status[0], STORE_OK);
  ts_free(&t);
  tdb_close(&d);
}

static void test_closing_the_store_rolls_back_open_ingests(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  build_small(&t, "1");
  ts_close_graph(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  store_ingest *in = tf_ingest(d.s, &tr);
  assert_int_equal(tf_feed(in, t.b.data, t.b.len, 0, 1), WIRE_OK);
  store_close(d.s);
  assert_int_equal(tr.n, 1);
  assert_int_equal(tr.status[0], STORE_EABORTED);
  wire_buf_reset(&t.b);
  ts_end(&t);
  /* The ingest outlives the store: it refuses politely. */
  assert_int_equal(tf_feed(in, t.b.data, t.b.len, 0, 1), WIRE_OK);
  store_ingest_free(in);
  char err[256];
  assert_int_equal(store_open(&d.s, d.path, 0, err, sizeof err), STORE_OK);
  assert_int_equal(tdb_count(d.s), 0);
  assert_int_equal(tdb_rows(d.s, "pages"), 0);
  ts_free(&t);
  tdb_close(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_field_and_value_comes_back_exactly),
    cmocka_unit_test(test_split_at_every_byte_boundary_still_ingests),
    cmocka_unit_test(test_large_nodes_split_into_chunks_read_back_exactly),
    cmocka_unit_test(test_indices_one_apart_are_stored_as_the_next),
    cmocka_unit_test(test_many_rows_and_big_rows_come_back_exactly),
    cmocka_unit_test(test_rows_held_by_a_failed_snapshot_are_dropped),
    cmocka_unit_test(test_hash_mismatch_stores_nothing),
    cmocka_unit_test(test_count_mismatch_stores_nothing),
    cmocka_unit_test(test_dangling_reference_stores_nothing),
    cmocka_unit_test(test_stream_cut_off_midway_stores_nothing),
    cmocka_unit_test(test_snapshot_error_stores_nothing),
    cmocka_unit_test(test_ids_out_of_order_store_nothing),
    cmocka_unit_test(test_bad_value_and_lost_batch_store_nothing),
    cmocka_unit_test(test_continuation_of_another_node_stores_nothing),
    cmocka_unit_test(test_ingest_recovers_after_a_failed_snapshot),
    cmocka_unit_test(test_graph_without_begin_is_refused_and_ignored),
    cmocka_unit_test(test_second_machine_waits_in_spool_then_commits),
    cmocka_unit_test(test_spooled_complete_snapshot_survives_its_session),
    cmocka_unit_test(test_done_callback_may_free_its_ingest),
    cmocka_unit_test(test_closing_the_store_rolls_back_open_ingests),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
