/*
** test_store_runs.c
** Edge runs <r> (docs/protocol.md 5.4) in the store's ingest: a stream
** with runs stores exactly the rows and hash of the same graph written as
** single <e> edges, at any split of its bytes; malformed runs store nothing.
*/
#include "test_store_util.h"

#define ITEMS 9000   /* array entries: three runs of at most 4096, a batch cut */
#define STRINGS 40

/* The i-th array value (1-based): every kind a run may carry. */
static wire_value item(int64_t i) {
  wire_value v;
  memset(&v, 0, sizeof v);
  switch (i % 5) {
  case 0: v.type = WIRE_V_INT; v.u.i = i * 7 - 30000; break;
  case 1: v.type = WIRE_V_FLOAT; v.u.f = (double)i / 3.0; break;
  case 2: v.type = WIRE_V_BOOL; v.u.b = (int)(i & 8); break;
  case 3: v.type = WIRE_V_REF; v.u.ref = 2 + (uint64_t)(i % STRINGS); break;
  default: v.type = WIRE_V_NIL; break;
  }
  return v;
}

/* Write entries [from, to] of the array as runs or as single edges. */
static void items(tstream *t, int64_t from, int64_t to, int runs) {
  static wire_value v[WIRE_RUN_MAX];
  while (from <= to) {
    size_t n = 0;
    for (; from + (int64_t)n <= to && n < WIRE_RUN_MAX; n++)
      v[n] = item(from + (int64_t)n);
    if (runs) ts_run(t, from, v, n);
    else for (size_t k = 0; k < n; k++) ts_edge(t, te_index(from + (int64_t)k, v[k]));
    from += (int64_t)n;
  }
}

/* root -> table 1 {name = "s0", [1..ITEMS] = item(i), tail = true} -> strings */
static void build_graph(tstream *t, const char *id, int runs) {
  ts_begin(t, id, NULL);
  ts_root(t);
  wire_node table = tn("table");
  table.size = 56 + 16 * ITEMS, table.has_size = 1;
  table.addr = 0x55d0c1a2b3c0u, table.has_addr = 1;
  ts_node(t, table);
  ts_edge(t, te_field("name", tv_ref(2)));
  items(t, 1, 1000, runs);
  ts_batch(t);  /* the node goes on in a continuation */
  items(t, 1001, ITEMS, runs);
  wire_value yes = {WIRE_V_BOOL, {0}};
  yes.u.b = 1;
  ts_edge(t, te_field("tail", yes));
  for (int k = 0; k < STRINGS; k++) {
    char s[16];
    wire_node n = tn("string");
    snprintf(s, sizeof s, "s%d", k);
    n.value = s, n.value_len = strlen(s), n.has_value = 1;
    ts_node(t, n);
  }
  ts_end(t);
}

static int64_t ingest_ok(tdb *d, const wire_buf *b, size_t step) {
  tresults tr;
  memset(&tr, 0, sizeof tr);
  store_ingest *in = tf_ingest(d->s, &tr);
  assert_int_equal(tf_feed(in, b->data, b->len, step, 1), WIRE_OK);
  store_ingest_free(in);
  assert_int_equal(tr.n, 1);
  if (tr.status[0] != STORE_OK) fail_msg("ingest failed: %s", tr.msg[0]);
  return tr.snap[0];
}

/* Rows of one snapshot that the other lacks, in table (columns keyed by
** position, the snapshot's bits masked off). */
static int64_t rows_missing(store *s, const char *select, int64_t a, int64_t b) {
  char sql[1024];
  sqlite3_stmt *st;
  snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s EXCEPT %s)", select, select);
  /* the second SELECT names ?2 instead of ?1 */
  char *second = strstr(sql, " EXCEPT ") + 8;
  char *q = strstr(second, "?1");
  assert_non_null(q);
  q[1] = '2';
  assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_int64(st, 1, a);
  sqlite3_bind_int64(st, 2, b);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

#define MASK "1099511627775"
static const char *const selects[] = {
  "SELECT rid & " MASK ", n, e0, data FROM pages WHERE rid >> 40 = ?1",
  "SELECT rid & " MASK ", n, data FROM edges WHERE rid >> 40 = ?1",
  "SELECT target & " MASK ", pos & " MASK ", src FROM refs WHERE target >> 40 = ?1",
};

static void assert_same_rows(store *s, int64_t a, int64_t b) {
  assert_int_equal(store_index(s, a, NULL, NULL), STORE_OK);
  assert_int_equal(store_index(s, b, NULL, NULL), STORE_OK);
  for (size_t k = 0; k < sizeof selects / sizeof *selects; k++) {
    assert_int_equal(rows_missing(s, selects[k], a, b), 0);
    assert_int_equal(rows_missing(s, selects[k], b, a), 0);
  }
  store_snapshot sa, sb;
  assert_int_equal(store_snapshot_get(s, a, &sa), STORE_OK);
  assert_int_equal(store_snapshot_get(s, b, &sb), STORE_OK);
  assert_true(sa.nodes == sb.nodes && sa.edges == sb.edges && sa.bytes == sb.bytes);
  assert_string_equal(sa.hash, sb.hash);
  store_snapshot_release(&sa);
  store_snapshot_release(&sb);
}

static void test_runs_store_the_rows_and_hash_of_single_edges(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream single, runs;
  ts_init(&single);
  ts_init(&runs);
  build_graph(&single, "1", 0);
  build_graph(&runs, "2", 1);
  assert_null(strstr(single.b.data, "<r "));
  assert_non_null(strstr(runs.b.data, "<r k=\"index\" i=\"1001\" v=\""));
  assert_true(runs.b.len * 2 < single.b.len);
  char hs[17], hr[17];
  wire_hash_hex(&single.h, hs);
  wire_hash_hex(&runs.h, hr);
  assert_string_equal(hs, hr);  /* the hash is over the expanded edges */

  int64_t a = ingest_ok(&d, &single.b, 0), b = ingest_ok(&d, &runs.b, 0);
  store_snapshot sn;
  assert_int_equal(store_snapshot_get(d.s, b, &sn), STORE_OK);
  assert_int_equal(sn.nodes, 2 + STRINGS);
  assert_int_equal(sn.edges, 1 + 1 + ITEMS + 1);
  assert_string_equal(sn.hash, hr);
  store_snapshot_release(&sn);
  assert_same_rows(d.s, a, b);
  char again[17];
  assert_int_equal(store_verify(d.s, b, again), STORE_OK);
  assert_string_equal(again, hr);
  ts_free(&single);
  ts_free(&runs);
  tdb_close(&d);
}

/* A small stream with runs, fed one byte, then 2, 3 … 64 bytes at a time. */
static void test_runs_split_at_every_byte_boundary_ingest_the_same(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  ts_begin(&t, "1", NULL);
  ts_node(&t, tn("root"));
  wire_edge e = te_kind("root", tv_ref(1));
  e.name = "g", e.name_len = 1;
  ts_edge(&t, e);
  ts_node(&t, tn("table"));
  wire_value v[12];
  for (int i = 0; i < 12; i++) {
    v[i] = item(i + 1);
    if (v[i].type == WIRE_V_REF) v[i] = tv_ref(1);  /* a cycle to the table */
  }
  ts_run(&t, -5, v, 12);
  ts_run(&t, INT64_MAX - 1, v, 2);
  ts_end(&t);
  int64_t first = ingest_ok(&d, &t.b, 0);
  for (size_t step = 1; step <= 64; step++) {
    int64_t again = ingest_ok(&d, &t.b, step);
    assert_same_rows(d.s, first, again);
  }
  ts_free(&t);
  tdb_close(&d);
}

/* A snapshot whose only fault is run: refused with words in the message,
** and not a row of it stored. */
static void expect_refused(const char *run, const char *words) {
  tdb d;
  tdb_open(&d);
  wire_buf b;
  wire_buf_init(&b);
  wire_buf_puts(&b, "\r\n<xsbug><snapshot-begin id=\"3\"/></xsbug>\r\n"
                    "\r\n<xsbug><graph id=\"3\" seq=\"0\"><n i=\"0\" k=\"root\">"
                    "<e k=\"root\" n=\"g\" v=\"@1\"/></n><n i=\"1\" k=\"table\">");
  wire_buf_puts(&b, run);
  wire_buf_puts(&b, "</n></graph></xsbug>\r\n\r\n<xsbug><snapshot-end id=\"3\" "
                    "nodes=\"2\" edges=\"3\" hash=\"0000000000000000\"/></xsbug>\r\n");
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &b, &tr), 1);
  if (tr.status[0] != STORE_EPROTO || strstr(tr.msg[0], words) == NULL)
    fail_msg("%s: got %s: %s", run, store_status_name(tr.status[0]), tr.msg[0]);
  assert_int_equal(tdb_count(d.s), 0);
  assert_int_equal(tdb_rows(d.s, "pages"), 0);
  assert_int_equal(tdb_rows(d.s, "edges"), 0);
  assert_int_equal(tdb_rows(d.s, "refs"), 0);
  wire_buf_free(&b);
  tdb_close(&d);
}

static void test_malformed_runs_store_nothing(void **state) {
  (void)state;
  expect_refused("<r k=\"index\" i=\"1\" v=\"\"/>", "empty run");
  expect_refused("<r k=\"index\" i=\"1\"/>", "empty run");
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:1 i:x\"/>", "not a valid value");
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:1 bogus\"/>", "not a valid value");
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:1  i:2\"/>", "single spaces");
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:1 \"/>", "single spaces");
  expect_refused("<r k=\"index\" i=\"9223372036854775807\" v=\"i:1 i:2\"/>",
                 "past the largest");
  expect_refused("<r k=\"index\" v=\"i:1\"/>", "first index");
  expect_refused("<r k=\"index\" i=\"01\" v=\"i:1\"/>", "first index");
  expect_refused("<r i=\"1\" v=\"i:1\"/>", "kind");
  expect_refused("<r k=\"index\" n=\"x\" i=\"1\" v=\"i:1\"/>", "no name");
  expect_refused("<q k=\"index\" i=\"1\" v=\"i:1\"/>", "<e> or <r>");
  /* one value more than WIRE_RUN_MAX */
  wire_buf b;
  wire_buf_init(&b);
  wire_buf_puts(&b, "<r k=\"index\" i=\"1\" v=\"nil");
  for (int i = 0; i < WIRE_RUN_MAX; i++) wire_buf_puts(&b, " nil");
  wire_buf_puts(&b, "\"/>");
  wire_buf_put(&b, "", 1);
  expect_refused(b.data, "more than 4096");
  wire_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_runs_store_the_rows_and_hash_of_single_edges),
    cmocka_unit_test(test_runs_split_at_every_byte_boundary_ingest_the_same),
    cmocka_unit_test(test_malformed_runs_store_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
