/*
** test_snapshot_runs.c
** The walk sends consecutive integer keys as edge runs <r> (docs/protocol.md
** 5.4): the array part in one run per gap-free stretch, lone keys as <e>,
** runs cut at WIRE_RUN_MAX and at full batches; counts and hash are those
** of the expanded edges.
*/
#include "test_snapshot_graph.h"

/* Snapshot the table at global `t` alone; out keeps the bytes, NUL-ended. */
static void snap_t(lua_State *L, tg_graph *g, wire_buf *out, size_t batch) {
  const char *roots[] = {"path:t"};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.id = 1;
  req.roots = roots;
  req.nroots = 1;
  req.batch_bytes = batch;
  wire_buf_init(out);
  tg_snap_req(L, &req, g, out, NULL);
  wire_buf_put(out, "", 1);
  assert_false(out->oom);
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void test_array_part_goes_out_as_one_run(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "t = {10, 20, 30, 2.5, true}");
  tg_graph g;
  wire_buf out;
  snap_t(L, &g, &out, 0);
  assert_non_null(strstr(out.data,
      "<r k=\"index\" i=\"1\" v=\"i:10 i:20 i:30 f:0x1.4p+1 true\"/>"));
  assert_null(strstr(out.data, "<e k=\"index\""));
  tg_node *t = tg_target(&g, tg_edge_kind(&g.nodes[0], "root"));
  assert_int_equal(t->nedges, 5);
  assert_true(tg_edge_index(t, "index", 3)->value.u.i == 30);
  assert_int_equal(tg_edge_index(t, "index", 5)->value.type, WIRE_V_BOOL);
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}

/* A hole ends a run; a key with no neighbour is an ordinary <e>. */
static void test_holes_split_runs_and_lone_keys_stay_edges(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "t = {1, 2, 3, nil, 5, 6}; t[100] = 'x'; t.name = 7");
  tg_graph g;
  wire_buf out;
  snap_t(L, &g, &out, 0);
  assert_non_null(strstr(out.data, "<r k=\"index\" i=\"1\" v=\"i:1 i:2 i:3\"/>"
                                   "<r k=\"index\" i=\"5\" v=\"i:5 i:6\"/>"));
  assert_non_null(strstr(out.data, "<e k=\"index\" i=\"100\" v=\"@"));
  assert_int_equal(count_of(out.data, "<r "), 2);
  tg_node *t = tg_target(&g, tg_edge_kind(&g.nodes[0], "root"));
  assert_int_equal(t->nedges, 7);
  assert_null(tg_edge_index(t, "index", 4));
  assert_true(tg_edge_named(t, "field", "name")->value.u.i == 7);
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}

/* Edges of other kinds close the run before them, so order is kept. */
static void test_runs_keep_their_place_among_other_edges(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "t = setmetatable({7, 8, 9, [2.5] = 1, k = 'v'}, {})");
  tg_graph g;
  wire_buf out;
  snap_t(L, &g, &out, 0);
  tg_node *t = tg_target(&g, tg_edge_kind(&g.nodes[0], "root"));
  assert_int_equal(t->nedges, 6);
  assert_string_equal(t->edges[0].kind, "metatable");
  for (int i = 1; i <= 3; i++) {
    assert_string_equal(t->edges[i].kind, "index");
    assert_true(t->edges[i].index == i);
    assert_true(t->edges[i].value.u.i == 6 + i);
  }
  assert_non_null(strstr(out.data, "v=\"i:7 i:8 i:9\"/>"));
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}

static void test_runs_stop_at_the_largest_run_length(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "t = {} for i = 1, 10000 do t[i] = -i end");
  tg_graph g;
  wire_buf out;
  snap_t(L, &g, &out, 0);
  assert_int_equal(count_of(out.data, "<r "), 3);
  assert_non_null(strstr(out.data, "<r k=\"index\" i=\"4097\" v=\"i:-4097 "));
  assert_non_null(strstr(out.data, "<r k=\"index\" i=\"8193\" v=\"i:-8193 "));
  tg_node *t = tg_target(&g, tg_edge_kind(&g.nodes[0], "root"));
  assert_int_equal(t->nedges, 10000);
  for (int64_t i = 1; i <= 10000; i++)
    assert_true(t->edges[i - 1].index == i && t->edges[i - 1].value.u.i == -i);
  assert_int_equal(g.end_edges, 10001);  /* with the root's edge */
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}

/* Whatever order the hash part gives, no run wraps past the largest
** integer, and every extreme key comes back. */
static void test_extreme_integer_keys_never_wrap_a_run(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "t = {[math.maxinteger] = 1, [math.mininteger] = 2,"
            " [math.maxinteger - 1] = 3, [-1] = 4, [0] = 5}");
  tg_graph g;
  wire_buf out;
  snap_t(L, &g, &out, 0);
  tg_node *t = tg_target(&g, tg_edge_kind(&g.nodes[0], "root"));
  assert_int_equal(t->nedges, 5);
  assert_true(tg_edge_index(t, "index", INT64_MAX)->value.u.i == 1);
  assert_true(tg_edge_index(t, "index", INT64_MIN)->value.u.i == 2);
  assert_true(tg_edge_index(t, "index", INT64_MAX - 1)->value.u.i == 3);
  assert_true(tg_edge_index(t, "index", -1)->value.u.i == 4);
  assert_true(tg_edge_index(t, "index", 0)->value.u.i == 5);
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}

/* Runs of tables (references) in small batches: every batch stays near
** its size, and the graph read back is whole. */
static void test_runs_of_references_respect_small_batches(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "t = {} for i = 1, 3000 do t[i] = {i} end");
  tg_graph g;
  wire_buf out;
  snap_t(L, &g, &out, 2048);
  assert_true(g.batches > 10);
  /* t's 3000 references (~18 KB) span several batches: one run in each */
  assert_true(g.runs >= 6 && g.continuations >= g.runs - 1);
  tg_node *t = tg_target(&g, tg_edge_kind(&g.nodes[0], "root"));
  assert_int_equal(t->nedges, 3000);
  for (int64_t i = 1; i <= 3000; i++) {
    tg_node *item = tg_target(&g, tg_edge_index(t, "index", i));
    assert_true(tg_edge_index(item, "index", 1)->value.u.i == i);
  }
  /* no message is much over the batch size: a run ends where it is full */
  for (const char *p = out.data, *q; (q = strstr(p, "</xsbug>")) != NULL; p = q + 1)
    assert_true((size_t)(q - p) < 2048 + 512);
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}

/* The run example of docs/protocol.md section 6, addresses aside. */
static void test_documented_run_example_is_what_the_walk_writes(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "list = {10, 20, 30, 'hi\\0there'}");
  const char *roots[] = {"path:list"};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.id = 2;
  req.roots = roots;
  req.nroots = 1;
  tg_graph g;
  wire_buf out;
  wire_buf_init(&out);
  tg_snap_req(L, &req, &g, &out, NULL);
  wire_buf_put(&out, "", 1);
  const char *p = strstr(out.data, "<graph id=\"2\" seq=\"0\"><n i=\"0\" k=\"root\">"
                                   "<e k=\"root\" n=\"path:list\" v=\"@1\"/></n>"
                                   "<n i=\"1\" k=\"table\" s=\"120\" a=\"");
  assert_non_null(p);
  p = strstr(p, "\"><r k=\"index\" i=\"1\" v=\"i:10 i:20 i:30 @2\"/></n>"
                "<n i=\"2\" k=\"string\" s=\"33\" a=\"");
  assert_non_null(p);
  assert_non_null(strstr(p, "\" v=\"hi&#xF700;there\"></n></graph></xsbug>\r\n"
                            "\r\n<xsbug><snapshot-end id=\"2\" nodes=\"3\" edges=\"5\" "
                            "hash=\"98cd52d91425d9a1\"/></xsbug>\r\n"));
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_array_part_goes_out_as_one_run),
      cmocka_unit_test(test_holes_split_runs_and_lone_keys_stay_edges),
      cmocka_unit_test(test_runs_keep_their_place_among_other_edges),
      cmocka_unit_test(test_runs_stop_at_the_largest_run_length),
      cmocka_unit_test(test_extreme_integer_keys_never_wrap_a_run),
      cmocka_unit_test(test_runs_of_references_respect_small_batches),
      cmocka_unit_test(test_documented_run_example_is_what_the_walk_writes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
