/*
** test_store_query.c
** Lookups on a stored snapshot: paths, paged children and retainers,
** searches, frames, machines, deletion, and what damaged rows and
** tampered rows do (clear errors, a failed verify — never a crash).
*/
#include "test_store_util.h"

static tdb d;
static int64_t snap;

static wire_edge named(const char *kind, const char *name, wire_value v) {
  wire_edge e = te_kind(kind, v);
  e.name = name;
  e.name_len = strlen(name);
  return e;
}

/* The application snapshot the tests query (ids in comments). */
static void build_app(tstream *t, const char *id) {
  ts_begin(t, id, "reason", "break", NULL);
  ts_node(t, tn("root")); /* 0 */
  ts_edge(t, named("root", "globals", tv_ref(1)));
  ts_edge(t, named("root", "registry", tv_ref(2)));
  ts_edge(t, named("root", "stack", tv_ref(3)));
  ts_node(t, tn("table")); /* 1 globals */
  ts_edge(t, te_field("app", tv_ref(4)));
  ts_edge(t, te_field("list", tv_ref(5)));
  ts_edge(t, te_field("print", tv_ref(6)));
  ts_edge(t, te_field("weird.name", tv_ref(7)));
  ts_edge(t, te_field("metatable", tv_int(9)));
  ts_edge(t, te_kind("metatable", tv_ref(8)));
  ts_node(t, tn("table")); /* 2 registry */
  ts_edge(t, te_field("_LOADED", tv_ref(9)));
  wire_node n = tn("thread"); /* 3 */
  n.status = "running";
  ts_node(t, n);
  wire_edge e = te_kind("frame", tv_ref(10));
  e.index = 0, e.has_index = 1;
  ts_edge(t, e);
  e.index = 1, e.value = tv_ref(11);
  ts_edge(t, e);
  n = tn("table"); /* 4 app */
  n.type = "App", n.type_len = 3;
  n.addr = 0x5616e0a4c2b0, n.has_addr = 1;
  ts_node(t, n);
  ts_edge(t, te_field("state", tv_ref(12)));
  ts_edge(t, te_field("count", tv_int(3)));
  ts_edge(t, te_field("name", tv_ref(7)));
  ts_edge(t, te_kind("metatable", tv_ref(8)));
  ts_node(t, tn("table")); /* 5 list: 25 entries, then two odd keys */
  for (int i = 1; i <= 25; i++) {
    ts_edge(t, te_index(i, tv_int(i * i)));
    if (i == 12) ts_batch(t);
  }
  e = te_kind("key", tv_ref(12));
  e.key.type = WIRE_V_BOOL, e.key.u.b = 1;
  ts_edge(t, e);
  e = te_kind("key", tv_int(1));
  e.key = tv_ref(4);
  ts_edge(t, e);
  n = tn("exit"); /* 6 */
  n.name = "print", n.name_len = 5;
  ts_node(t, n);
  n = tn("string"); /* 7 */
  n.value = "weird\0value", n.value_len = 11, n.has_value = 1;
  ts_node(t, n);
  ts_node(t, tn("table")); /* 8 metatable */
  ts_edge(t, te_field("__index", tv_ref(1)));
  ts_node(t, tn("table")); /* 9 _LOADED */
  ts_edge(t, te_field("app.util", tv_ref(4)));
  n = tn("frame"); /* 10 */
  n.name = "tick", n.name_len = 4, n.source = "app.lua", n.source_len = 7;
  n.line = 12, n.has_line = 1;
  ts_node(t, n);
  ts_edge(t, te_kind("function", tv_ref(13)));
  e = named("local", "x", tv_int(1));
  e.index = 1, e.has_index = 1;
  ts_edge(t, e);
  e = named("local", "s", tv_ref(7));
  e.index = 2, e.has_index = 1;
  ts_edge(t, e);
  n = tn("frame"); /* 11 */
  n.name = "main", n.name_len = 4, n.source = "app.lua", n.source_len = 7;
  n.line = 40, n.has_line = 1;
  ts_node(t, n);
  ts_edge(t, te_kind("function", tv_ref(13)));
  e = named("local", "app", tv_ref(4));
  e.index = 1, e.has_index = 1;
  ts_edge(t, e);
  ts_node(t, tn("table")); /* 12 state */
  ts_edge(t, te_field("hp", tv_int(10)));
  n = tn("function"); /* 13 */
  n.source = "@app.lua", n.source_len = 8;
  n.payload = "\x1bLua\0bytes", n.payload_len = 10, n.has_payload = 1;
  ts_node(t, n);
  ts_node(t, tn("table")); /* 14: edges beyond the inline ones, in a chunk */
  for (int i = 1; i <= 100; i++) ts_edge(t, te_index(i, tv_int(-i)));
  ts_end(t);
}

static int setup(void **state) {
  (void)state;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  ts_login(&t, "app.lua", 311);
  build_app(&t, "1");
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 1);
  if (tr.status[0]) fprintf(stderr, "%s\n", tr.msg[0]);
  assert_int_equal(tr.status[0], STORE_OK);
  snap = tr.snap[0];
  ts_free(&t);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tdb_close(&d);
  return 0;
}

/* ---- paths ------------------------------------------------------------ */

static void resolves_to(const char *path, wire_value want) {
  wire_value got;
  int rc = store_resolve(d.s, snap, path, strlen(path), &got, NULL);
  if (rc) fprintf(stderr, "%s: %s\n", path, store_errmsg(d.s));
  assert_int_equal(rc, STORE_OK);
  assert_int_equal(got.type, want.type);
  if (want.type == WIRE_V_REF) assert_true(got.u.ref == want.u.ref);
  if (want.type == WIRE_V_INT) assert_true(got.u.i == want.u.i);
}

static void fails_with(const char *path, int status, const char *words) {
  wire_value got;
  int rc = store_resolve(d.s, snap, path, strlen(path), &got, NULL);
  assert_int_equal(rc, status);
  if (!strstr(store_errmsg(d.s), words))
    fprintf(stderr, "message for %s: %s\n", path, store_errmsg(d.s));
  assert_non_null(strstr(store_errmsg(d.s), words));
}

static void test_paths_follow_fields_indexes_keys_and_frames(void **state) {
  (void)state;
  resolves_to("globals", tv_ref(1));
  resolves_to("globals.app.state", tv_ref(12));
  resolves_to("app.state", tv_ref(12));            /* a global by name */
  resolves_to("globals.app.count", tv_int(3));     /* ends at a scalar */
  resolves_to("registry._LOADED[\"app.util\"].count", tv_int(3));
  resolves_to("globals[\"weird.name\"]", tv_ref(7));
  resolves_to("[\"weird.name\"]", tv_ref(7));
  resolves_to("globals.list[3]", tv_int(9));
  resolves_to("globals.list[true]", tv_ref(12));
  resolves_to("globals.list[@4]", tv_int(1));
  resolves_to("stack.frame[0].local.x", tv_int(1));
  resolves_to("stack.frame[1].local.app.state.hp", tv_int(10));
  resolves_to("stack.frame[1].app.state", tv_ref(12));
  resolves_to("stack.frame[0].function", tv_ref(13));
  resolves_to("@8.__index.app", tv_ref(4));
  resolves_to("@13", tv_ref(13));
  resolves_to("globals.metatable", tv_int(9));      /* the field wins */
  resolves_to("globals[\"metatable\"]", tv_int(9));
  resolves_to("globals.app.metatable.__index", tv_ref(1)); /* the kind */

  store_edge via;
  wire_value v;
  assert_int_equal(store_resolve(d.s, snap, "globals.list[3]", 15, &v, &via), STORE_OK);
  assert_true(via.from == 5);
  assert_true(via.seq == 2);
  assert_int_equal(via.e.has_index, 1);
  assert_true(via.e.index == 3);
}

static void test_bad_paths_say_where_and_why(void **state) {
  (void)state;
  fails_with("globals.nope", STORE_ENOTFOUND, "`nope`");
  fails_with("globals.app.count.x", STORE_ENOTFOUND, "i:3");
  fails_with("globals..x", STORE_EUSAGE, "empty name");
  fails_with("globals.list[3", STORE_EUSAGE, "missing ]");
  fails_with("globals.list[\"x]", STORE_EUSAGE, "unterminated");
  fails_with("globals.list[what]", STORE_EUSAGE, "a key is");
  fails_with("@99", STORE_ENOTFOUND, "no node 99");
  fails_with("nosuchglobal", STORE_ENOTFOUND, "nosuchglobal");
  fails_with("stack.frame[7]", STORE_ENOTFOUND, "[7]");
  wire_value v;
  assert_int_equal(store_resolve(d.s, snap, "", 0, &v, NULL), STORE_EUSAGE);
  assert_int_equal(store_resolve(d.s, snap + 100, "globals", 7, &v, NULL), STORE_ENOTFOUND);
}

/* ---- children, retainers, search --------------------------------------- */

typedef struct edges_seen {
  int n;
  uint64_t from[64], seq[64];
  int64_t index[64];
  char name[64][16];
} edges_seen;

static int collect_edge(void *ud, const store_edge *e) {
  edges_seen *s = ud;
  assert_true(s->n < 64);
  s->from[s->n] = e->from;
  s->seq[s->n] = e->seq;
  s->index[s->n] = e->e.has_index ? e->e.index : -1;
  snprintf(s->name[s->n], sizeof s->name[0], "%.*s",
           e->e.name ? (int)e->e.name_len : 0, e->e.name ? e->e.name : "");
  s->n++;
  return 0;
}

static void test_children_come_in_pages_in_order(void **state) {
  (void)state;
  edges_seen s;
  memset(&s, 0, sizeof s);
  assert_int_equal(store_children(d.s, snap, 5, 20, 5, collect_edge, &s), STORE_OK);
  assert_int_equal(s.n, 5);
  for (int i = 0; i < 5; i++) {
    assert_true(s.seq[i] == (uint64_t)(20 + i));
    assert_true(s.index[i] == 21 + i);
  }
  memset(&s, 0, sizeof s);
  assert_int_equal(store_children(d.s, snap, 5, 25, 10, collect_edge, &s), STORE_OK);
  assert_int_equal(s.n, 2); /* the two odd keys */
  memset(&s, 0, sizeof s);
  assert_int_equal(store_children(d.s, snap, 5, 100, 10, collect_edge, &s), STORE_OK);
  assert_int_equal(s.n, 0);
  memset(&s, 0, sizeof s);
  assert_int_equal(store_children(d.s, snap, 6, 0, 0, collect_edge, &s), STORE_OK);
  assert_int_equal(s.n, 0); /* an exit has no edges */
  assert_int_equal(store_children(d.s, snap, 15, 0, 0, collect_edge, &s), STORE_ENOTFOUND);
  /* Across the end of the inline edges into the chunk row. */
  memset(&s, 0, sizeof s);
  assert_int_equal(store_children(d.s, snap, 14, 60, 10, collect_edge, &s), STORE_OK);
  assert_int_equal(s.n, 10);
  for (int i = 0; i < 10; i++) assert_true(s.index[i] == 61 + i && s.seq[i] == (uint64_t)(60 + i));
  memset(&s, 0, sizeof s);
  assert_int_equal(store_children(d.s, snap, 14, 90, 20, collect_edge, &s), STORE_OK);
  assert_int_equal(s.n, 10);
  assert_true(s.index[9] == 100);

  store_node n;
  assert_int_equal(store_node_get(d.s, snap, 5, &n), STORE_OK);
  assert_int_equal(n.nedges, 27);
  store_node_release(&n);
  assert_int_equal(store_node_get(d.s, snap, 15, &n), STORE_ENOTFOUND);
}

static void test_retainers_include_keys_and_page(void **state) {
  (void)state;
  edges_seen s;
  memset(&s, 0, sizeof s);
  assert_int_equal(store_retainers(d.s, snap, 4, 0, 0, collect_edge, &s), STORE_OK);
  /* globals.app, list[@4], _LOADED["app.util"], main's local app */
  assert_int_equal(s.n, 4);
  uint64_t from[] = {1, 5, 9, 11}, seq[] = {0, 26, 0, 1};
  for (int i = 0; i < 4; i++) {
    assert_true(s.from[i] == from[i]);
    assert_true(s.seq[i] == seq[i]);
  }
  memset(&s, 0, sizeof s);
  assert_int_equal(store_retainers(d.s, snap, 4, 1, 2, collect_edge, &s), STORE_OK);
  assert_int_equal(s.n, 2);
  assert_true(s.from[0] == 5 && s.from[1] == 9);
  memset(&s, 0, sizeof s);
  assert_int_equal(store_retainers(d.s, snap, 0, 0, 0, collect_edge, &s), STORE_OK);
  assert_int_equal(s.n, 0); /* nothing retains the root */
}

typedef struct ids { int n; uint64_t id[32]; } ids;

static int collect_node(void *ud, const store_node *n) {
  ids *s = ud;
  s->id[s->n++] = n->n.id;
  return 0;
}

static void test_search_by_kind_type_and_text_pages_by_id(void **state) {
  (void)state;
  ids s;
  store_search q;
  memset(&q, 0, sizeof q);
  q.kind = "frame";
  memset(&s, 0, sizeof s);
  assert_int_equal(store_find_nodes(d.s, snap, &q, -1, 0, collect_node, &s), STORE_OK);
  assert_int_equal(s.n, 2);
  assert_true(s.id[0] == 10 && s.id[1] == 11);

  memset(&q, 0, sizeof q);
  q.type = "App", q.type_len = 3;
  memset(&s, 0, sizeof s);
  assert_int_equal(store_find_nodes(d.s, snap, &q, -1, 0, collect_node, &s), STORE_OK);
  assert_int_equal(s.n, 1);
  assert_true(s.id[0] == 4);

  memset(&q, 0, sizeof q);
  q.text = "weird\0v", q.text_len = 7;
  memset(&s, 0, sizeof s);
  assert_int_equal(store_find_nodes(d.s, snap, &q, -1, 0, collect_node, &s), STORE_OK);
  assert_int_equal(s.n, 1);
  assert_true(s.id[0] == 7);
  q.text = "pri", q.text_len = 3; /* an exit's name */
  memset(&s, 0, sizeof s);
  assert_int_equal(store_find_nodes(d.s, snap, &q, -1, 0, collect_node, &s), STORE_OK);
  assert_int_equal(s.n, 1);
  assert_true(s.id[0] == 6);

  memset(&q, 0, sizeof q);
  q.kind = "table";
  memset(&s, 0, sizeof s);
  assert_int_equal(store_find_nodes(d.s, snap, &q, 4, 2, collect_node, &s), STORE_OK);
  assert_int_equal(s.n, 2);
  assert_true(s.id[0] == 5 && s.id[1] == 8);

  edges_seen e;
  memset(&e, 0, sizeof e);
  assert_int_equal(store_find_edges(d.s, snap, "app", 3, -1, 2, collect_edge, &e), STORE_OK);
  assert_int_equal(e.n, 2);
  assert_string_equal(e.name[0], "app");
  assert_string_equal(e.name[1], "app.util");
  store_edge last = {e.from[1], e.seq[1], {0}};
  int64_t pos = store_edge_pos(d.s, snap, &last);
  assert_true(pos > 0);
  memset(&e, 0, sizeof e);
  assert_int_equal(store_find_edges(d.s, snap, "app", 3, pos, 0, collect_edge, &e), STORE_OK);
  assert_int_equal(e.n, 1);
  assert_true(e.from[0] == 11);
}

/* ---- frames, machines, snapshots ----------------------------------------- */

typedef struct frames { int n; store_frame f[4]; char name[4][8]; } frames;

static int collect_frame(void *ud, const store_frame *f) {
  frames *s = ud;
  s->f[s->n] = *f;
  snprintf(s->name[s->n], 8, "%.*s", (int)f->name_len, f->name);
  s->n++;
  return 0;
}

static void test_frames_come_by_thread_and_level(void **state) {
  (void)state;
  frames s;
  memset(&s, 0, sizeof s);
  assert_int_equal(store_frames(d.s, snap, collect_frame, &s), STORE_OK);
  assert_int_equal(s.n, 2);
  assert_true(s.f[0].thread == 3 && s.f[0].level == 0 && s.f[0].node == 10);
  assert_string_equal(s.name[0], "tick");
  assert_true(s.f[0].has_line && s.f[0].line == 12);
  assert_true(s.f[1].level == 1 && s.f[1].node == 11);
  assert_string_equal(s.name[1], "main");
  edges_seen e;
  memset(&e, 0, sizeof e);
  assert_int_equal(store_children(d.s, snap, s.f[0].node, 0, 0, collect_edge, &e), STORE_OK);
  assert_int_equal(e.n, 3);
  assert_string_equal(e.name[1], "x");
}

static int collect_machine(void *ud, const store_machine *m) {
  store_machine *out = ud;
  *out = *m;
  out->name = NULL;
  out->vm = out->version = NULL;
  assert_memory_equal(m->name, "app.lua", 7);
  assert_string_equal(m->vm, "lua");
  return 0;
}

typedef struct snaps { int n; int64_t id[8]; } snaps;

static int collect_snap(void *ud, const store_snapshot *s) {
  snaps *o = ud;
  o->id[o->n++] = s->id;
  return 0;
}

/* Snapshots of one VM share addresses and type names; the address and
** type indexes begin with the snapshot, and a search sees its own nodes. */
static void test_search_by_address_and_type_stays_in_its_snapshot(void **state) {
  (void)state;
  tstream t;
  ts_init(&t);
  build_app(&t, "4");
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 1);
  assert_int_equal(tr.status[0], STORE_OK);
  int64_t other = tr.snap[0];
  ts_free(&t);
  int64_t both[] = {snap, other};
  for (int k = 0; k < 2; k++) {
    store_search q;
    ids s;
    memset(&q, 0, sizeof q);
    q.has_addr = 1, q.addr = 0x5616e0a4c2b0;
    memset(&s, 0, sizeof s);
    assert_int_equal(store_find_nodes(d.s, both[k], &q, -1, 0, collect_node, &s), STORE_OK);
    assert_int_equal(s.n, 1);
    assert_true(s.id[0] == 4);
    q.type = "App", q.type_len = 3;
    memset(&s, 0, sizeof s);
    assert_int_equal(store_find_nodes(d.s, both[k], &q, -1, 0, collect_node, &s), STORE_OK);
    assert_int_equal(s.n, 1);
    q.addr++;
    memset(&s, 0, sizeof s);
    assert_int_equal(store_find_nodes(d.s, both[k], &q, -1, 0, collect_node, &s), STORE_OK);
    assert_int_equal(s.n, 0);
    memset(&q, 0, sizeof q);
    q.type = "App", q.type_len = 3;
    memset(&s, 0, sizeof s);
    assert_int_equal(store_find_nodes(d.s, both[k], &q, -1, 0, collect_node, &s), STORE_OK);
    assert_int_equal(s.n, 1);
    assert_true(s.id[0] == 4);
  }
  /* The index lookup is a key search, not a scan. */
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(store_db(d.s), "EXPLAIN QUERY PLAN SELECT id"
                   " FROM addrs WHERE snap = ?1 AND addr = ?2 AND id >= ?3 ORDER BY id",
                   -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_non_null(strstr((const char *)sqlite3_column_text(st, 3), "SEARCH addrs USING PRIMARY KEY"));
  sqlite3_finalize(st);
  assert_int_equal(store_snapshot_delete(d.s, other), STORE_OK);
}

/* The same questions once the lookup indexes are built: the same answers,
** now from refs, addrs, types and kinds. */
static void test_indexes_give_the_same_answers(void **state) {
  assert_int_equal(store_indexed(d.s, snap), 0);
  assert_int_equal(store_index(d.s, snap, NULL, NULL), STORE_OK);
  assert_int_equal(store_indexed(d.s, snap), 1);
  assert_true(tdb_rows(d.s, "refs") > 0 && tdb_rows(d.s, "addrs") > 0 &&
              tdb_rows(d.s, "types") > 0 && tdb_rows(d.s, "kinds") > 0);
  /* built once: a second call finds it done */
  assert_int_equal(store_index(d.s, snap, NULL, NULL), STORE_OK);
  test_retainers_include_keys_and_page(state);
  test_search_by_kind_type_and_text_pages_by_id(state);
  test_frames_come_by_thread_and_level(state);
  test_search_by_address_and_type_stays_in_its_snapshot(state);

  /* deleting an indexed snapshot deletes its index rows, and only its */
  int64_t before[4] = {tdb_rows(d.s, "refs"), tdb_rows(d.s, "addrs"),
                       tdb_rows(d.s, "types"), tdb_rows(d.s, "kinds")};
  tstream t;
  ts_init(&t);
  build_app(&t, "11");
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 1);
  assert_int_equal(store_index(d.s, tr.snap[0], NULL, NULL), STORE_OK);
  assert_true(tdb_rows(d.s, "addrs") == 2 * before[1]);
  assert_int_equal(store_snapshot_delete(d.s, tr.snap[0]), STORE_OK);
  assert_true(tdb_rows(d.s, "refs") == before[0] && tdb_rows(d.s, "addrs") == before[1] &&
              tdb_rows(d.s, "types") == before[2] && tdb_rows(d.s, "kinds") == before[3]);
  assert_int_equal(store_index(d.s, tr.snap[0], NULL, NULL), STORE_ENOTFOUND);
  ts_free(&t);
}

static void test_machines_and_snapshot_pages_newest_first(void **state) {
  (void)state;
  store_machine m;
  memset(&m, 0, sizeof m);
  assert_int_equal(store_machines(d.s, collect_machine, &m), STORE_OK);
  assert_true(m.pid == 311);
  assert_int_equal(m.snapshots, 1);

  tstream t;
  ts_init(&t);
  build_app(&t, "2");
  build_app(&t, "3");
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 2);
  snaps s;
  memset(&s, 0, sizeof s);
  assert_int_equal(store_snapshots(d.s, 0, 1, 1, collect_snap, &s), STORE_OK);
  assert_int_equal(s.n, 1);
  assert_true(s.id[0] == tr.snap[0]);
  memset(&s, 0, sizeof s);
  assert_int_equal(store_snapshots(d.s, 0, 0, 0, collect_snap, &s), STORE_OK);
  assert_int_equal(s.n, 3);
  assert_true(s.id[0] == tr.snap[1] && s.id[2] == snap);

  /* Deleting one leaves the others whole. */
  assert_int_equal(store_snapshot_delete(d.s, tr.snap[0]), STORE_OK);
  assert_int_equal(tdb_count(d.s), 2);
  store_snapshot gone;
  assert_int_equal(store_snapshot_get(d.s, tr.snap[0], &gone), STORE_ENOTFOUND);
  assert_int_equal(store_verify(d.s, tr.snap[1], NULL), STORE_OK);
  assert_int_equal(store_verify(d.s, snap, NULL), STORE_OK);
  assert_int_equal(store_snapshot_delete(d.s, tr.snap[1]), STORE_OK);
  assert_int_equal(tdb_nodes(d.s), 15);
  ts_free(&t);
}

/* ---- damage --------------------------------------------------------------- */

static void sql(const char *q) {
  char *err = NULL;
  int rc = sqlite3_exec(store_db(d.s), q, NULL, NULL, &err);
  if (rc) fprintf(stderr, "%s: %s\n", q, err);
  sqlite3_free(err);
  assert_int_equal(rc, SQLITE_OK);
}

static int count_nodes(void *ud, const store_node *n) {
  (void)n;
  (*(int *)ud)++;
  return 0;
}

static int count_edges(void *ud, const store_edge *e) {
  (void)e;
  (*(int *)ud)++;
  return 0;
}

/* Run a damaging statement on a fresh copy of the snapshot, then expect
** every reader to fail with a clear message for that row. */
static void damaged(const char *fmt, const char *words) {
  tstream t;
  ts_init(&t);
  build_app(&t, "9");
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 1);
  int64_t id = tr.snap[0];
  char q[256];
  snprintf(q, sizeof q, fmt, (long long)(id << 40), (long long)(id << 40));
  sql(q);
  int n = 0;
  int rc = store_scan(d.s, id, 0, count_nodes, NULL, &n);
  if (rc == STORE_OK) rc = store_scan(d.s, id, 0, NULL, count_edges, &n);
  assert_int_equal(rc, STORE_ECORRUPT);
  if (!strstr(store_errmsg(d.s), words)) fprintf(stderr, "%s\n", store_errmsg(d.s));
  assert_non_null(strstr(store_errmsg(d.s), words));
  assert_int_equal(store_verify(d.s, id, NULL), STORE_ECORRUPT);
  assert_int_equal(store_snapshot_delete(d.s, id), STORE_OK);
  ts_free(&t);
}

static void test_damaged_rows_give_clear_errors(void **state) {
  (void)state;
  damaged("UPDATE pages SET data = CAST(x'7f' || substr(data, 2) AS BLOB) WHERE rid = %lld OR 0 = %lld",
          "node 0: unknown node kind code");
  damaged("UPDATE pages SET data = 3.5 WHERE rid = %lld OR 0 = %lld", "page row is damaged");
  damaged("UPDATE pages SET data = substr(data, 1, 3) WHERE rid = %lld OR 0 = %lld",
          "packed nodes end too early");
  damaged("UPDATE pages SET data = CAST(data || x'00' AS BLOB) WHERE rid = %lld OR 0 = %lld",
          "packed nodes have bytes left over");
  damaged("UPDATE edges SET data = substr(data, 1, 3) WHERE rid = %lld OR 0 = %lld",
          "packed edges end too early");
  damaged("UPDATE edges SET data = CAST(x'ff00' || substr(data, 3) AS BLOB) WHERE rid = %lld OR 0 = %lld",
          "edge 0: unknown edge kind code");
  damaged("UPDATE edges SET data = CAST(data || x'00' AS BLOB) WHERE rid = %lld OR 0 = %lld",
          "bytes left over");
  damaged("DELETE FROM pages WHERE rid = %lld OR 0 = %lld", "node 0 is missing");
  damaged("DELETE FROM edges WHERE rid >= %lld AND 0 < %lld", "chunk is missing");
  damaged("UPDATE edges SET n = n + 1 WHERE rid >= %lld AND 0 < %lld", "chunk row is damaged");
  damaged("UPDATE pages SET e0 = 1 WHERE rid = %lld OR 0 = %lld", "node 0");

  /* The lookups of one row say the same. */
  tstream t;
  ts_init(&t);
  build_app(&t, "10");
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 1);
  long long base = (long long)(tr.snap[0] << 40);
  char q[200];
  assert_int_equal(store_index(d.s, tr.snap[0], NULL, NULL), STORE_OK);
  snprintf(q, sizeof q, "UPDATE refs SET pos = pos + 1 WHERE target = %lld", base + 12);
  sql(q);
  edges_seen e;
  memset(&e, 0, sizeof e);
  assert_int_equal(store_retainers(d.s, tr.snap[0], 12, 0, 0, collect_edge, &e), STORE_ECORRUPT);
  assert_non_null(strstr(store_errmsg(d.s), "does not refer to it"));
  snprintf(q, sizeof q, "UPDATE edges SET data = substr(data, 1, 3) WHERE rid = %lld", base);
  sql(q);
  memset(&e, 0, sizeof e);
  assert_int_equal(store_children(d.s, tr.snap[0], 1, 0, 0, collect_edge, &e), STORE_ECORRUPT);
  assert_non_null(strstr(store_errmsg(d.s), "packed edges end too early"));
  wire_value v;
  assert_int_equal(store_resolve(d.s, tr.snap[0], "globals.app", 11, &v, NULL), STORE_ECORRUPT);
  store_node n;
  snprintf(q, sizeof q, "UPDATE pages SET data = substr(data, 1, 12) WHERE rid = %lld", base);
  sql(q);
  assert_int_equal(store_node_get(d.s, tr.snap[0], 3, &n), STORE_ECORRUPT);
  assert_int_equal(store_node_get(d.s, tr.snap[0], 0, &n), STORE_OK);
  store_node_release(&n);
  assert_int_equal(store_snapshot_delete(d.s, tr.snap[0]), STORE_OK);
  ts_free(&t);
}

/* ---- reading a snapshot in pieces ----------------------------------- */

typedef struct readlog {
  wire_buf b;
  unsigned every;    /* stop after every this many items (0: never) */
  unsigned count;
} readlog;

static int log_stop(readlog *l) {
  return l->every && ++l->count % l->every == 0;
}

static int log_node(void *ud, const store_node *n) {
  readlog *l = ud;
  char line[64];
  snprintf(line, sizeof line, "n%llu:%s/%llu ", (unsigned long long)n->n.id, n->n.kind,
           (unsigned long long)n->nedges);
  wire_buf_puts(&l->b, line);
  return log_stop(l);
}

static int log_edge(void *ud, const store_edge *e) {
  readlog *l = ud;
  char line[96];
  snprintf(line, sizeof line, "e%llu.%llu:%s:%lld ", (unsigned long long)e->from,
           (unsigned long long)e->seq, e->e.kind, (long long)e->e.index);
  wire_buf_puts(&l->b, line);
  return log_stop(l);
}

/* What a reader stopped after every `every` items delivers, all calls together. */
static char *read_in_pieces(unsigned every, unsigned flags, unsigned *calls) {
  readlog l;
  store_reader *r;
  int rc;
  memset(&l, 0, sizeof l);
  wire_buf_init(&l.b);
  l.every = every;
  *calls = 0;
  assert_int_equal(store_reader_open(d.s, snap, flags, &r), STORE_OK);
  do {
    rc = store_reader_next(r, log_node, (flags & STORE_SCAN_NO_EDGES) ? NULL : log_edge, &l);
    (*calls)++;
  } while (rc == STORE_ESTOPPED);
  assert_int_equal(rc, STORE_OK);
  /* once read, it stays read */
  size_t len = l.b.len;
  assert_int_equal(store_reader_next(r, log_node, log_edge, &l), STORE_OK);
  assert_int_equal(l.b.len, len);
  store_reader_close(r);
  wire_buf_put(&l.b, "", 1);
  return l.b.data;
}

static void test_a_reader_goes_on_where_it_stopped(void **state) {
  (void)state;
  readlog whole;
  memset(&whole, 0, sizeof whole);
  wire_buf_init(&whole.b);
  assert_int_equal(store_scan(d.s, snap, 0, log_node, log_edge, &whole), STORE_OK);
  wire_buf_put(&whole.b, "", 1);
  /* node 14's 100 edges: 64 inline, then a chunk row */
  assert_non_null(strstr(whole.b.data, "n14:table/100 e14.0:index:1 "));
  assert_non_null(strstr(whole.b.data, "e14.63:index:64 e14.64:index:65 "));
  assert_non_null(strstr(whole.b.data, "e14.99:index:100 "));
  static const unsigned everies[] = {1, 2, 7, 64, 65, 1000};
  for (size_t i = 0; i < sizeof everies / sizeof *everies; i++) {
    unsigned calls;
    char *got = read_in_pieces(everies[i], 0, &calls);
    if (strcmp(got, whole.b.data) != 0)
      fail_msg("stopping every %u items:\n%s\nwanted\n%s", everies[i], got, whole.b.data);
    if (everies[i] == 1) assert_true(calls > 150); /* 15 nodes and their edges */
    free(got);
  }
  /* nodes only */
  unsigned calls;
  char *nodes = read_in_pieces(3, STORE_SCAN_NO_EDGES, &calls);
  assert_null(strstr(nodes, " e"));
  assert_non_null(strstr(nodes, "n0:root/3 n1:table/6 "));
  assert_non_null(strstr(nodes, "n14:table/100 "));
  free(nodes);
  wire_buf_free(&whole.b);
}

static void test_verify_detects_a_tampered_row(void **state) {
  (void)state;
  char hex[17];
  assert_int_equal(store_verify(d.s, snap, hex), STORE_OK);
  /* globals.app.count: 3 becomes 4 inside the packed edges (field code 2,
  ** flags name|int, "count", zigzag 6 -> 8). */
  char q[240];
  snprintf(q, sizeof q, "UPDATE edges SET data = CAST(replace(data, x'028105636f756e7406',"
           " x'028105636f756e7408') AS BLOB) WHERE rid >> 40 = %lld", (long long)snap);
  sql(q);
  wire_value v;
  assert_int_equal(store_resolve(d.s, snap, "globals.app.count", 17, &v, NULL), STORE_OK);
  assert_true(v.type == WIRE_V_INT && v.u.i == 4);
  char after[17];
  assert_int_equal(store_verify(d.s, snap, after), STORE_EHASH);
  assert_string_not_equal(hex, after);
  assert_non_null(strstr(store_errmsg(d.s), "do not restore"));
  snprintf(q, sizeof q, "UPDATE edges SET data = CAST(replace(data, x'028105636f756e7408',"
           " x'028105636f756e7406') AS BLOB) WHERE rid >> 40 = %lld", (long long)snap);
  sql(q);
  assert_int_equal(store_verify(d.s, snap, NULL), STORE_OK);
  /* The bytecode. */
  snprintf(q, sizeof q, "UPDATE pages SET data = CAST(replace(data, x'1b4c7561', x'1b4c7562')"
           " AS BLOB) WHERE rid >> 40 = %lld", (long long)snap);
  sql(q);
  assert_int_equal(store_verify(d.s, snap, NULL), STORE_EHASH);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_paths_follow_fields_indexes_keys_and_frames),
    cmocka_unit_test(test_bad_paths_say_where_and_why),
    cmocka_unit_test(test_children_come_in_pages_in_order),
    cmocka_unit_test(test_retainers_include_keys_and_page),
    cmocka_unit_test(test_search_by_kind_type_and_text_pages_by_id),
    cmocka_unit_test(test_frames_come_by_thread_and_level),
    cmocka_unit_test(test_machines_and_snapshot_pages_newest_first),
    cmocka_unit_test(test_search_by_address_and_type_stays_in_its_snapshot),
    cmocka_unit_test(test_indexes_give_the_same_answers),
    cmocka_unit_test(test_damaged_rows_give_clear_errors),
    cmocka_unit_test(test_a_reader_goes_on_where_it_stopped),
    cmocka_unit_test(test_verify_detects_a_tampered_row),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
