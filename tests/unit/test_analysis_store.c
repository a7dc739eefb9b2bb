/*
** test_analysis_store.c
** Analyses of stored snapshots, through the JSON the API serves: a known
** mutation diffed by address and by path, the leak filter, summary and
** its side tables, paths as text, top retainers and the dominator tree.
*/
#include <pthread.h>
#include "test_store_util.h"
#include "analysis.h"
#include "json.h"

/* A node of a hand-written heap: edges as "field name @N", "field name
** i:3", "index 2 @N", "root globals @N", "key @N @M", "metatable @N". */
typedef struct hnode {
  const char *kind, *type, *name, *value;
  uint64_t addr, size;
  const char *edges[6];
} hnode;

static wire_value parse_value(const char *s) {
  wire_value v;
  assert_int_equal(wire_value_parse(s, strlen(s), &v), 0);
  return v;
}

static void emit_heap(tstream *t, const char *wire_id, const hnode *h,
                      size_t n) {
  ts_begin(t, wire_id, NULL);
  for (size_t i = 0; i < n; i++) {
    wire_node node = tn(h[i].kind);
    node.id = i;
    if (h[i].type) { node.type = h[i].type; node.type_len = strlen(h[i].type); }
    if (h[i].name) { node.name = h[i].name; node.name_len = strlen(h[i].name); }
    if (h[i].value) {
      node.value = h[i].value;
      node.value_len = strlen(h[i].value);
      node.has_value = 1;
    }
    node.addr = h[i].addr;
    node.has_addr = h[i].addr != 0;
    node.size = h[i].size;
    node.has_size = 1;
    ts_node(t, node);
    for (int k = 0; k < 6 && h[i].edges[k]; k++) {
      char kind[32], a[64], b[64];
      int got = sscanf(h[i].edges[k], "%31s %63s %63s", kind, a, b);
      wire_edge e;
      memset(&e, 0, sizeof e);
      e.kind = strcmp(kind, "field") == 0 ? "field" : strcmp(kind, "index") == 0
               ? "index" : strcmp(kind, "root") == 0 ? "root" : strcmp(kind, "key") == 0
               ? "key" : "metatable";
      if (got == 2) {
        e.value = parse_value(a);
      } else if (strcmp(kind, "index") == 0) {
        e.index = strtoll(a, NULL, 10);
        e.has_index = 1;
        e.value = parse_value(b);
      } else if (strcmp(kind, "key") == 0) {
        e.key = parse_value(a);
        e.value = parse_value(b);
      } else {
        const char *nm = strstr(h[i].edges[k], a);
        e.name = nm;
        e.name_len = strlen(a);
        e.value = parse_value(b);
      }
      ts_edge(t, e);
    }
  }
  ts_end(t);
}

/* The program before: globals hold app (count 3, items [item1], label),
** an old table with a bulky string, print (an exit) and a name. */
static const hnode heap_a[] = {
  {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
  {"table", 0, 0, 0, 0x100, 120, {"field app @2", "field old @5", "field print @6", "field name @7"}},
  {"table", 0, 0, 0, 0x200, 88, {"field count i:3", "field items @3", "field label @8"}},
  {"table", 0, 0, 0, 0x300, 72, {"index 1 @4"}},
  {"table", "Item", 0, 0, 0x400, 56, {"field id i:1"}},
  {"table", 0, 0, 0, 0x500, 56, {"field payload @9"}},
  {"exit", 0, "print", 0, 0, 0, {0}},
  {"string", 0, 0, "demo", 0x700, 29, {0}},
  {"string", 0, 0, "v1", 0x800, 27, {0}},
  {"string", 0, 0, "bulky", 0x900, 30, {0}},
};

/* After: count 4, item2 appended, old dropped, a temp table added. */
static const hnode heap_b[] = {
  {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
  {"table", 0, 0, 0, 0x100, 120, {"field app @2", "field print @6", "field name @7", "field temp @9"}},
  {"table", 0, 0, 0, 0x200, 88, {"field count i:4", "field items @3", "field label @8"}},
  {"table", 0, 0, 0, 0x300, 88, {"index 1 @4", "index 2 @5"}},
  {"table", "Item", 0, 0, 0x400, 56, {"field id i:1"}},
  {"table", "Item", 0, 0, 0xA00, 56, {"field id i:2"}},
  {"exit", 0, "print", 0, 0, 0, {0}},
  {"string", 0, 0, "demo", 0x700, 29, {0}},
  {"string", 0, 0, "v1", 0x800, 27, {0}},
  {"table", 0, 0, 0, 0xB00, 40, {0}},
};

/* Later still: temp is gone again, item2 stays. */
static const hnode heap_c[] = {
  {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
  {"table", 0, 0, 0, 0x100, 120, {"field app @2", "field print @6", "field name @7"}},
  {"table", 0, 0, 0, 0x200, 88, {"field count i:5", "field items @3", "field label @8"}},
  {"table", 0, 0, 0, 0x300, 88, {"index 1 @4", "index 2 @5"}},
  {"table", "Item", 0, 0, 0x400, 56, {"field id i:1"}},
  {"table", "Item", 0, 0, 0xA00, 56, {"field id i:2"}},
  {"exit", 0, "print", 0, 0, 0, {0}},
  {"string", 0, 0, "demo", 0x700, 29, {0}},
  {"string", 0, 0, "v1", 0x800, 27, {0}},
};

#define COUNT(a) (sizeof a / sizeof a[0])

/* Import heaps into a fresh database: one login (pid) per call. */
static void import(tdb *db, int pid, const hnode *h, size_t n, const char *id,
                   int64_t *snap) {
  tstream t;
  tresults tr;
  memset(&tr, 0, sizeof tr);
  ts_init(&t);
  ts_login(&t, "demo.lua", pid);
  emit_heap(&t, id, h, n);
  assert_int_equal(tf_ingest_all(db->s, &t.b, &tr), 1);
  if (tr.status[0]) fprintf(stderr, "ingest: %s\n", tr.msg[0]);
  assert_int_equal(tr.status[0], STORE_OK);
  *snap = tr.snap[0];
  ts_free(&t);
}

/* Run a JSON function and parse what it wrote. */
typedef struct jout {
  wire_buf b;
  json_writer w;
  json_doc *doc;
  char err[512];
} jout;

static void jout_init(jout *j) {
  memset(j, 0, sizeof *j);
  wire_buf_init(&j->b);
  json_init(&j->w, &j->b);
}

static const json_value *jout_parse(jout *j) {
  char err[200];
  assert_true(json_ok(&j->w));
  j->doc = json_parse(j->b.data, j->b.len, err, sizeof err);
  if (!j->doc) fprintf(stderr, "bad JSON (%s): %.*s\n", err, (int)j->b.len, j->b.data);
  assert_non_null(j->doc);
  return json_root(j->doc);
}

static void jout_free(jout *j) {
  json_doc_free(j->doc);
  wire_buf_free(&j->b);
}

static int64_t geti(const json_value *o, const char *k) {
  int64_t v = -1;
  const json_value *x = json_get(o, k);
  assert_non_null(x);
  assert_int_equal(json_to_i64(x, &v), 0);
  return v;
}

static const json_value *nth(const json_value *arr, size_t i) {
  assert_non_null(arr);
  const json_value *c = arr->child;
  while (c && i--) c = c->next;
  assert_non_null(c);
  return c;
}

/* The name of a field change: from the edge that was, or that is. */
static const char *change_name(const json_value *f) {
  const json_value *e = json_get(f, "old");
  if (!e || e->type == JSON_NULL) e = json_get(f, "new");
  const char *n = json_get_str(e, "name");
  static char buf[32];
  if (n) return n;
  snprintf(buf, sizeof buf, "[%lld]", (long long)geti(e, "index"));
  return buf;
}

/* Check the diff of heap_a and heap_b, whatever matched them. */
static void check_mutation(const json_value *r) {
  assert_int_equal(geti(r, "removed"), 2);    /* old, "bulky" */
  assert_int_equal(geti(r, "added"), 2);      /* item2, temp */
  assert_int_equal(geti(r, "changed"), 3);    /* globals, app, items */
  assert_int_equal(geti(r, "same"), 4);       /* item1, print, 2 strings */
  assert_int_equal(geti(r, "added_size"), 96);
  assert_int_equal(geti(r, "removed_size"), 86);
  assert_int_equal(geti(r, "total"), 7);
  const json_value *nodes = json_get(r, "nodes");
  assert_int_equal(nodes->count, 7);
  /* removed first, in a's id order */
  assert_string_equal(json_get_str(nth(nodes, 0), "state"), "removed");
  assert_int_equal(geti(nth(nodes, 0), "a"), 5);
  assert_int_equal(geti(nth(nodes, 1), "a"), 9);
  assert_string_equal(json_get_str(nth(nodes, 1), "value"), "bulky");
  /* changed: globals lost old and gained temp; app's count went 3 -> 4;
  ** items gained [2] */
  const json_value *g = nth(nodes, 2), *app = nth(nodes, 3), *items = nth(nodes, 4);
  assert_string_equal(json_get_str(g, "state"), "changed");
  assert_int_equal(geti(g, "fields_total"), 2);
  assert_int_equal(geti(app, "b"), 2);
  assert_int_equal(geti(app, "fields_total"), 1);
  const json_value *f = nth(json_get(app, "fields"), 0);
  assert_string_equal(change_name(f), "count");
  assert_int_equal(geti(json_get(json_get(f, "old"), "value"), "value"), 3);
  assert_int_equal(geti(json_get(json_get(f, "new"), "value"), "value"), 4);
  assert_int_equal(geti(items, "fields_total"), 1);
  f = nth(json_get(items, "fields"), 0);
  assert_string_equal(change_name(f), "[2]");
  assert_int_equal(json_get(f, "old")->type, JSON_NULL);
  /* added, in b's id order */
  assert_string_equal(json_get_str(nth(nodes, 5), "state"), "added");
  assert_int_equal(geti(nth(nodes, 5), "b"), 5);
  assert_string_equal(json_get_str(nth(nodes, 5), "type"), "Item");
  assert_int_equal(geti(nth(nodes, 6), "b"), 9);
}

static void test_a_known_mutation_is_reported_exactly_by_address(void **state) {
  (void)state;
  tdb db;
  int64_t a, b;
  tdb_open(&db);
  import(&db, 100, heap_a, COUNT(heap_a), "1", &a);
  import(&db, 100, heap_b, COUNT(heap_b), "2", &b);
  assert_int_equal(analysis_auto_mode(db.s, a, b), ANALYSIS_MATCH_ADDRESS);
  jout j;
  jout_init(&j);
  int rc = analysis_diff_json(db.s, a, b, NULL, &j.w, 0, 0, j.err, sizeof j.err);
  assert_int_equal(rc, STORE_OK);
  const json_value *r = jout_parse(&j);
  assert_string_equal(json_get_str(r, "match"), "address");
  check_mutation(r);
  /* Types: Item gained one, plain tables lost one and gained one. */
  const json_value *t = nth(json_get(r, "types"), 0);
  assert_string_equal(json_get_str(t, "type"), "Item");
  assert_int_equal(geti(t, "added"), 1);
  assert_int_equal(geti(t, "count_a"), 1);
  assert_int_equal(geti(t, "count_b"), 2);
  jout_free(&j);
  tdb_close(&db);
}

/* The same heaps from another process (a restored copy): every address
** differs, and pairing goes by path from the roots and by content. */
static void test_a_known_mutation_is_reported_exactly_by_path(void **state) {
  (void)state;
  hnode moved[COUNT(heap_b)];
  memcpy(moved, heap_b, sizeof moved);
  for (size_t i = 0; i < COUNT(moved); i++)
    if (moved[i].addr) moved[i].addr += 0x7000000;
  tdb db;
  int64_t a, b;
  tdb_open(&db);
  import(&db, 100, heap_a, COUNT(heap_a), "1", &a);
  import(&db, 200, moved, COUNT(moved), "1", &b);
  assert_int_equal(analysis_auto_mode(db.s, a, b), ANALYSIS_MATCH_PATH);
  jout j;
  jout_init(&j);
  assert_int_equal(analysis_diff_json(db.s, a, b, NULL, &j.w, 0, 0, j.err,
                                      sizeof j.err), STORE_OK);
  const json_value *r = jout_parse(&j);
  assert_string_equal(json_get_str(r, "match"), "path");
  assert_int_equal(geti(r, "matched_by_address"), 0);
  check_mutation(r);
  jout_free(&j);
  /* Forcing addresses on unrelated processes pairs nothing but the
  ** root; strings still pair by content and nodes by path. */
  analysis_diff_opts o = {ANALYSIS_MATCH_ADDRESS, 0, 0};
  jout_init(&j);
  assert_int_equal(analysis_diff_json(db.s, a, b, &o, &j.w, 0, 1, j.err,
                                      sizeof j.err), STORE_OK);
  r = jout_parse(&j);
  assert_int_equal(geti(r, "matched_by_address"), 0);
  assert_int_equal(geti(r, "removed"), 2);
  assert_int_equal(json_get(r, "nodes")->count, 1); /* limit 1 */
  jout_free(&j);
  tdb_close(&db);
}

static void test_the_diff_pages_through_its_nodes(void **state) {
  (void)state;
  tdb db;
  int64_t a, b;
  tdb_open(&db);
  import(&db, 100, heap_a, COUNT(heap_a), "1", &a);
  import(&db, 100, heap_b, COUNT(heap_b), "2", &b);
  analysis_diff_opts o = {ANALYSIS_MATCH_AUTO, 1 << ANALYSIS_ADDED, 0};
  jout j;
  jout_init(&j);
  assert_int_equal(analysis_diff_json(db.s, a, b, &o, &j.w, 1, 5, j.err,
                                      sizeof j.err), STORE_OK);
  const json_value *r = jout_parse(&j);
  assert_int_equal(geti(r, "total"), 2);
  assert_int_equal(json_get(r, "nodes")->count, 1);
  assert_int_equal(geti(nth(json_get(r, "nodes"), 0), "b"), 9);
  jout_free(&j);
  tdb_close(&db);
}

static void test_leak_filter_keeps_what_appeared_and_stayed(void **state) {
  (void)state;
  tdb db;
  int64_t a, b, c;
  tdb_open(&db);
  import(&db, 100, heap_a, COUNT(heap_a), "1", &a);
  import(&db, 100, heap_b, COUNT(heap_b), "2", &b);
  import(&db, 100, heap_c, COUNT(heap_c), "3", &c);
  jout j;
  jout_init(&j);
  int rc = analysis_leaks_json(db.s, a, b, c, &j.w, 0, 0, j.err, sizeof j.err);
  if (rc) fprintf(stderr, "%s\n", j.err);
  assert_int_equal(rc, STORE_OK);
  const json_value *r = jout_parse(&j);
  assert_int_equal(geti(r, "total"), 1);
  assert_int_equal(geti(r, "size"), 56);
  const json_value *leak = nth(json_get(r, "nodes"), 0);
  assert_int_equal(geti(leak, "id"), 5);
  assert_string_equal(json_get_str(leak, "type"), "Item");
  assert_string_equal(json_get_str(leak, "path"), "globals.app.items[2]");
  assert_int_equal(geti(nth(json_get(r, "types"), 0), "count"), 1);
  jout_free(&j);
  tdb_close(&db);
}

static void test_summary_is_computed_once_and_kept(void **state) {
  (void)state;
  tdb db;
  int64_t a;
  tdb_open(&db);
  import(&db, 100, heap_a, COUNT(heap_a), "1", &a);
  char err[512];
  int computed = -1;
  assert_int_equal(analysis_kept(db.s, a), 0);
  assert_int_equal(analysis_prepare(db.s, a, &computed, err, sizeof err), STORE_OK);
  assert_int_equal(computed, 1);
  assert_int_equal(tdb_rows(db.s, "analysis_snapshots"), 1);
  assert_int_equal(analysis_kept(db.s, a), 1);
  assert_int_equal(analysis_kept(db.s, a + 1), 0);      /* no such snapshot */
  assert_int_equal(analysis_prepare(db.s, a, &computed, err, sizeof err), STORE_OK);
  assert_int_equal(computed, 0);
  jout j;
  jout_init(&j);
  assert_int_equal(analysis_summary_json(db.s, a, &j.w, 0, 0, err, sizeof err),
                   STORE_OK);
  const json_value *r = jout_parse(&j);
  assert_int_equal(geti(r, "nodes"), 9);
  assert_int_equal(geti(r, "shallow"), 120 + 88 + 72 + 56 + 56 + 29 + 27 + 30);
  assert_int_equal(geti(r, "total"), 4); /* table, Item table, string, exit */
  const json_value *top = nth(json_get(r, "types"), 0);
  assert_string_equal(json_get_str(top, "kind"), "table");
  assert_int_equal(json_get(top, "type")->type, JSON_NULL);
  assert_int_equal(geti(top, "count"), 4);
  /* globals retains everything below it: 478 bytes in all */
  assert_int_equal(geti(top, "retained"), 478);
  jout_free(&j);
  /* A damaged row is recomputed, not trusted. */
  assert_int_equal(sqlite3_exec(store_db(db.s), "UPDATE analysis_snapshots SET"
                                " retained = x'00'", NULL, NULL, NULL), SQLITE_OK);
  analysis_dom d;
  assert_int_equal(analysis_get_dom(db.s, a, &d, err, sizeof err), STORE_OK);
  assert_int_equal(d.retained[1], 478);
  analysis_dom_free(&d);
  /* Forgetting drops the rows. */
  analysis_forget(db.s, a);
  assert_int_equal(analysis_kept(db.s, a), 0);
  assert_int_equal(tdb_rows(db.s, "analysis_snapshots"), 0);
  assert_int_equal(tdb_rows(db.s, "analysis_types"), 0);
  tdb_close(&db);
}

/* Several threads (the server's workers) asking for the same snapshot's
** analysis at once: one computes it, the others wait and read what it kept. */
typedef struct prep_arg {
  const char *path;
  int64_t snap;
  int computed, rc;
  char err[512];
} prep_arg;

static void *prep_thread(void *ud) {
  prep_arg *a = ud;
  store *s;
  a->rc = store_open(&s, a->path, 0, a->err, sizeof a->err);
  if (a->rc == STORE_OK) {
    a->rc = analysis_prepare(s, a->snap, &a->computed, a->err, sizeof a->err);
    store_close(s);
  }
  return NULL;
}

static void test_one_snapshot_is_analysed_once_however_many_ask(void **state) {
  (void)state;
  enum { N = 200000, THREADS = 3 };
  tdb db;
  tstream t;
  tresults tr;
  tdb_open(&db);
  ts_init(&t);
  ts_login(&t, "chain.lua", 7);
  ts_begin(&t, "1", NULL);
  ts_node(&t, tn("root"));
  wire_edge root = te_kind("root", tv_ref(1));
  root.name = "globals";
  root.name_len = 7;
  ts_edge(&t, root);
  for (uint64_t i = 1; i <= N; i++) {
    if (i % 10000 == 0) ts_batch(&t);
    ts_node(&t, tn("table"));
    if (i < N) ts_edge(&t, te_field("next", tv_ref(i + 1)));
  }
  ts_end(&t);
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(db.s, &t.b, &tr), 1);
  assert_int_equal(tr.status[0], STORE_OK);
  ts_free(&t);

  pthread_t th[THREADS];
  prep_arg a[THREADS];
  int computed = 0;
  for (int i = 0; i < THREADS; i++) {
    memset(&a[i], 0, sizeof a[i]);
    a[i].path = db.path;
    a[i].snap = tr.snap[0];
    assert_int_equal(pthread_create(&th[i], NULL, prep_thread, &a[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    if (a[i].rc != STORE_OK) fprintf(stderr, "thread %d: %s\n", i, a[i].err);
    assert_int_equal(a[i].rc, STORE_OK);
    computed += a[i].computed;
  }
  assert_int_equal(computed, 1);
  assert_int_equal(analysis_kept(db.s, tr.snap[0]), 1);
  tdb_close(&db);
}

static void test_paths_read_as_store_paths(void **state) {
  (void)state;
  tdb db;
  int64_t b;
  tdb_open(&db);
  import(&db, 100, heap_b, COUNT(heap_b), "1", &b);
  jout j;
  jout_init(&j);
  assert_int_equal(analysis_path_json(db.s, b, 5, 3, 0, &j.w, j.err, sizeof j.err),
                   STORE_OK);
  const json_value *r = jout_parse(&j);
  const json_value *p = nth(json_get(r, "paths"), 0);
  assert_string_equal(json_get_str(p, "path"), "globals.app.items[2]");
  assert_int_equal(geti(p, "length"), 4);
  const json_value *last = nth(json_get(p, "steps"), 3);
  assert_int_equal(geti(last, "from"), 3);
  assert_int_equal(geti(last, "to"), 5);
  assert_int_equal(geti(last, "index"), 2);
  /* The text resolves back to the node through the store. */
  wire_value v;
  store_edge via;
  const char *text = json_get_str(p, "path");
  assert_int_equal(store_resolve(db.s, b, text, strlen(text), &v, &via), STORE_OK);
  assert_int_equal(v.u.ref, 5);
  jout_free(&j);
  jout_init(&j);
  assert_int_equal(analysis_path_json(db.s, b, 99, 3, 0, &j.w, j.err, sizeof j.err),
                   STORE_ENOTFOUND);
  jout_free(&j);
  tdb_close(&db);
}

/* A path down a chain of 500 tables shows its two ends, and says how many
** steps it leaves out. */
static void test_long_paths_show_their_ends(void **state) {
  (void)state;
  tdb db;
  tstream t;
  tresults tr;
  memset(&tr, 0, sizeof tr);
  tdb_open(&db);
  ts_init(&t);
  ts_login(&t, "chain.lua", 7);
  ts_begin(&t, "1", NULL);
  wire_node n = tn("root");
  ts_node(&t, n);
  ts_edge(&t, (wire_edge){.kind = "root", .name = "globals", .name_len = 7,
                          .value = tv_ref(1)});
  for (uint64_t v = 1; v <= 500; v++) {
    n = tn("table");
    n.id = v;
    n.size = 56;
    n.has_size = 1;
    ts_node(&t, n);
    if (v < 500) ts_edge(&t, te_field("next", tv_ref(v + 1)));
  }
  ts_end(&t);
  assert_int_equal(tf_ingest_all(db.s, &t.b, &tr), 1);
  assert_int_equal(tr.status[0], STORE_OK);
  jout j;
  jout_init(&j);
  assert_int_equal(analysis_path_json(db.s, tr.snap[0], 500, 1, 0, &j.w, j.err,
                                      sizeof j.err), STORE_OK);
  const json_value *p = nth(json_get(jout_parse(&j), "paths"), 0);
  assert_int_equal(geti(p, "length"), 500);
  assert_int_equal(json_get(p, "steps_elided")->type, JSON_TRUE);
  const json_value *steps = json_get(p, "steps");
  assert_int_equal(steps->count, ANALYSIS_PATH_SHOWN);
  assert_int_equal(geti(nth(steps, ANALYSIS_PATH_SHOWN - 1), "to"), 500);
  assert_int_equal(geti(nth(steps, ANALYSIS_PATH_SHOWN / 2), "from"), 400);
  const char *text = json_get_str(p, "path");
  assert_non_null(strstr(text, ".next…(300 steps)….next"));
  assert_int_equal(strncmp(text, "globals.next.next", 17), 0);
  jout_free(&j);
  ts_free(&t);
  tdb_close(&db);
}

static void test_top_and_dominated_nodes_by_retained_size(void **state) {
  (void)state;
  tdb db;
  int64_t a;
  tdb_open(&db);
  import(&db, 100, heap_a, COUNT(heap_a), "1", &a);
  jout j;
  jout_init(&j);
  assert_int_equal(analysis_top_json(db.s, a, &j.w, 0, 3, j.err, sizeof j.err),
                   STORE_OK);
  const json_value *r = jout_parse(&j);
  assert_int_equal(geti(r, "total"), 9);
  const json_value *n = json_get(r, "nodes");
  assert_int_equal(n->count, 3);
  assert_int_equal(geti(nth(n, 0), "id"), 1);   /* globals: 478 */
  assert_int_equal(geti(nth(n, 0), "retained"), 478);
  assert_int_equal(geti(nth(n, 1), "id"), 2);   /* app: 88+72+56+27 */
  assert_int_equal(geti(nth(n, 1), "retained"), 243);
  assert_int_equal(geti(nth(n, 2), "id"), 3);   /* items: 72+56 */
  jout_free(&j);
  jout_init(&j);
  assert_int_equal(analysis_dominator_json(db.s, a, 1, &j.w, 0, 0, j.err,
                                           sizeof j.err), STORE_OK);
  r = jout_parse(&j);
  assert_int_equal(geti(r, "idom"), 0);
  assert_int_equal(geti(r, "total"), 4); /* app, old, print, name */
  assert_int_equal(geti(nth(json_get(r, "dominated"), 0), "id"), 2);
  assert_int_equal(geti(nth(json_get(r, "dominated"), 1), "id"), 5);
  jout_free(&j);
  /* item1 is held by items[1] alone: that retainer is its dominator. */
  jout_init(&j);
  assert_int_equal(analysis_retainers_json(db.s, a, 4, &j.w, 0, 0, j.err,
                                           sizeof j.err), STORE_OK);
  r = jout_parse(&j);
  assert_int_equal(geti(r, "idom"), 3);
  const json_value *ret = nth(json_get(r, "retainers"), 0);
  assert_int_equal(json_get(r, "retainers")->count, 1);
  assert_int_equal(geti(ret, "retained"), 128);
  assert_int_equal(json_get(ret, "dominator")->type, JSON_TRUE);
  assert_int_equal(geti(json_get(ret, "edge"), "from"), 3);
  jout_free(&j);
  tdb_close(&db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_a_known_mutation_is_reported_exactly_by_address),
    cmocka_unit_test(test_a_known_mutation_is_reported_exactly_by_path),
    cmocka_unit_test(test_the_diff_pages_through_its_nodes),
    cmocka_unit_test(test_leak_filter_keeps_what_appeared_and_stayed),
    cmocka_unit_test(test_summary_is_computed_once_and_kept),
    cmocka_unit_test(test_one_snapshot_is_analysed_once_however_many_ask),
    cmocka_unit_test(test_paths_read_as_store_paths),
    cmocka_unit_test(test_top_and_dominated_nodes_by_retained_size),
    cmocka_unit_test(test_long_paths_show_their_ends),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
