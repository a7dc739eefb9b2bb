/*
** test_analysis_diff.c
** Pairing nodes of two snapshots and what the diff concludes: addresses
** reused by other objects, table keys that are objects, ambiguous labels,
** reordered fields, strings by content, and the three-way leak filter.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "analysis.h"
#include "test_analysis_graphs.h"

#define COUNT(a) (sizeof a / sizeof a[0])

static analysis_diff diff(const graph *a, const graph *b,
                          enum analysis_match_mode mode) {
  analysis_diff d;
  char err[200];
  assert_int_equal(analysis_diff_graphs(a, b, mode, &d, err, sizeof err), 0);
  return d;
}

/* Fields listed in another order (a table rehashed) are no change. */
static void test_reordered_fields_are_not_a_change(void **state) {
  (void)state;
  tg_node a[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field x i:1", "field y @2", "index 1 f:0x1p-1"}},
    {"string", 0, "s", 0, 0x20, 25, {0}},
  };
  tg_node b[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"index 1 f:0x1p-1", "field y @2", "field x i:1"}},
    {"string", 0, "s", 0, 0x20, 25, {0}},
  };
  graph *ga = tg_heap(a, COUNT(a)), *gb = tg_heap(b, COUNT(b));
  for (int mode = ANALYSIS_MATCH_ADDRESS; mode <= ANALYSIS_MATCH_PATH; mode++) {
    analysis_diff d = diff(ga, gb, (enum analysis_match_mode)mode);
    assert_int_equal(d.same, 2);
    assert_int_equal(d.changed + d.added + d.removed, 0);
    analysis_diff_free(&d);
  }
  graph_free(ga);
  graph_free(gb);
}

/* Integer 1 and float 1.0 are different values; so are 0.0 and -0.0. */
static void test_scalars_compare_exactly(void **state) {
  (void)state;
  tg_node a[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field x i:1"}},
    {"table", 0, 0, 0, 0x20, 56, {"field z f:0x0p+0"}},
  };
  tg_node b[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field x f:0x1p+0"}},
    {"table", 0, 0, 0, 0x20, 56, {"field z f:-0x0p+0"}},
  };
  graph *ga = tg_heap(a, COUNT(a)), *gb = tg_heap(b, COUNT(b));
  analysis_diff d = diff(ga, gb, ANALYSIS_MATCH_ADDRESS);
  assert_int_equal(d.changed, 2);
  assert_int_equal(analysis_diff_state_b(&d, 1), ANALYSIS_CHANGED);
  assert_int_equal(analysis_diff_state_b(&d, 2), ANALYSIS_CHANGED);
  analysis_diff_free(&d);
  graph_free(ga);
  graph_free(gb);
}

/* The collector freed a table and a string, and new ones took their
** addresses: a table where a string was, another string where one was. */
static void test_reused_addresses_do_not_pair_different_objects(void **state) {
  (void)state;
  tg_node a[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field a @2", "field b @3"}},
    {"string", 0, "old text", 0, 0x20, 32, {0}},
    {"string", 0, "gone", 0, 0x30, 28, {0}},
  };
  tg_node b[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field a @2", "field c @3"}},
    {"string", 0, "new text", 0, 0x20, 32, {0}},
    {"table", 0, 0, 0, 0x30, 56, {0}},
  };
  graph *ga = tg_heap(a, COUNT(a)), *gb = tg_heap(b, COUNT(b));
  analysis_diff d = diff(ga, gb, ANALYSIS_MATCH_ADDRESS);
  assert_int_equal(d.a2b[2], GRAPH_NONE);
  assert_int_equal(d.a2b[3], GRAPH_NONE);
  assert_int_equal(d.removed, 2);
  assert_int_equal(d.added, 2);
  assert_int_equal(d.changed, 1);
  assert_int_equal(d.matched_by_address, 1);
  analysis_diff_free(&d);
  graph_free(ga);
  graph_free(gb);
}

/* Two nodes of one snapshot claiming one address: the address pairs
** neither; the path still pairs the one it can. */
static void test_an_address_two_nodes_share_pairs_neither(void **state) {
  (void)state;
  tg_node a[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field x @2", "field y @3"}},
    {"table", 0, 0, 0, 0x20, 56, {0}},
    {"table", 0, 0, 0, 0x20, 56, {0}},
  };
  tg_node b[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field x @2"}},
    {"table", 0, 0, 0, 0x20, 56, {0}},
  };
  graph *ga = tg_heap(a, COUNT(a)), *gb = tg_heap(b, COUNT(b));
  analysis_diff d = diff(ga, gb, ANALYSIS_MATCH_ADDRESS);
  assert_int_equal(d.matched_by_address, 1);
  assert_int_equal(d.a2b[2], 2); /* by path: globals.x */
  assert_int_equal(d.a2b[3], GRAPH_NONE);
  analysis_diff_free(&d);
  /* and the other way round */
  d = diff(gb, ga, ANALYSIS_MATCH_ADDRESS);
  assert_int_equal(d.matched_by_address, 1);
  assert_int_equal(d.a2b[2], 2);
  analysis_diff_free(&d);
  graph_free(ga);
  graph_free(gb);
}

/* t[k] = v with k a table: by path, the entry pairs through its key once
** the key is paired (here through globals.k), and a new value under the
** same key is a change of t, not of the key. */
static void test_entries_keyed_by_objects_pair_through_their_keys(void **state) {
  (void)state;
  tg_node a[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field k @2", "field t @3", "field k2 @5"}},
    {"table", "Key", 0, 0, 0x20, 56, {0}},
    {"table", 0, 0, 0, 0x30, 88, {"key @2 @4", "key @5 i:7"}},
    {"table", "Val", 0, 0, 0x40, 56, {"field n i:1"}},
    {"table", "Key", 0, 0, 0x50, 56, {0}},
  };
  tg_node b[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x110, 56, {"field k @2", "field t @3", "field k2 @5"}},
    {"table", "Key", 0, 0, 0x120, 56, {0}},
    {"table", 0, 0, 0, 0x130, 88, {"key @5 i:8", "key @2 @4"}},
    {"table", "Val", 0, 0, 0x140, 56, {"field n i:1"}},
    {"table", "Key", 0, 0, 0x150, 56, {0}},
  };
  graph *ga = tg_heap(a, COUNT(a)), *gb = tg_heap(b, COUNT(b));
  analysis_diff d = diff(ga, gb, ANALYSIS_MATCH_PATH);
  assert_int_equal(d.a2b[2], 2);
  assert_int_equal(d.a2b[4], 4);  /* the value under key k */
  assert_int_equal(d.added + d.removed, 0);
  /* t[k2] went from 7 to 8: t changed, nothing else did. */
  assert_int_equal(d.changed, 1);
  assert_int_equal(analysis_diff_state_b(&d, 3), ANALYSIS_CHANGED);
  analysis_diff_free(&d);
  graph_free(ga);
  graph_free(gb);
}

/* Another process: a registry entry keyed by a light userdata (a stub
** whose name holds an address) pairs by the key's content once addresses
** are left out; an entry keyed by a table that the search reaches only
** later (through globals.z) pairs on the second round. */
static graph *heap_portable(const tg_node *h, size_t n) {
  /* tg_heap with GRAPH_PORTABLE: rebuild through a builder by hand. */
  graph_builder *b = graph_builder_new(GRAPH_IDENTITY | GRAPH_PORTABLE, n, 0);
  graph *g0 = tg_heap(h, n); /* reuse its parsing to know it is valid */
  assert_non_null(g0);
  graph_free(g0);
  for (size_t i = 0; i < n; i++) {
    wire_node node;
    memset(&node, 0, sizeof node);
    node.id = i;
    node.kind = h[i].kind;
    if (h[i].type) { node.name = h[i].type; node.name_len = strlen(h[i].type); }
    node.addr = h[i].addr;
    node.has_addr = h[i].addr != 0;
    assert_int_equal(graph_builder_node(b, &node), 0);
    for (int k = 0; k < 8 && h[i].edges[k]; k++) {
      char kind[32], x[64], y[64];
      wire_edge e;
      memset(&e, 0, sizeof e);
      int got = sscanf(h[i].edges[k], "%31s %63s %63s", kind, x, y);
      e.kind = strcmp(kind, "key") == 0 ? "key" : strcmp(kind, "root") == 0
               ? "root" : "field";
      if (strcmp(kind, "key") == 0) {
        assert_int_equal(got, 3);
        tg_value(x, &e.key);
        tg_value(y, &e.value);
      } else {
        e.name = strstr(h[i].edges[k], x);
        e.name_len = strlen(x);
        tg_value(y, &e.value);
      }
      assert_int_equal(graph_builder_edge(b, &e), 0);
    }
  }
  char err[200];
  graph *g = graph_builder_finish(b, err, sizeof err);
  assert_non_null(g);
  return g;
}

static void test_other_processes_pair_keys_by_content_and_later_rounds(void **state) {
  (void)state;
  /* type holds the stub's name here (heap_portable puts it in nm) */
  tg_node a[] = {
    {"root", 0, 0, 0, 0, 0, {"root registry @1", "root globals @4"}},
    {"table", 0, 0, 0, 0x10, 0, {"key @2 @3", "key @6 @7"}},
    {"stub", "lightuserdata@55cffb429980", 0, 0, 0, 0, {0}},
    {"userdata", 0, 0, 0, 0x30, 0, {0}},
    {"table", 0, 0, 0, 0x40, 0, {"field z @5"}},
    {"table", 0, 0, 0, 0x50, 0, {"field k @6"}},
    {"table", 0, 0, 0, 0x60, 0, {0}},
    {"table", 0, 0, 0, 0x70, 0, {"field data i:1"}},
  };
  tg_node b[COUNT(a)];
  memcpy(b, a, sizeof b);
  b[2].type = "lightuserdata@7fa24b3f7dc0";
  for (size_t i = 0; i < COUNT(b); i++)
    if (b[i].addr) b[i].addr += 0x1000;
  graph *ga = heap_portable(a, COUNT(a)), *gb = heap_portable(b, COUNT(b));
  analysis_diff d = diff(ga, gb, ANALYSIS_MATCH_PATH);
  assert_int_equal(d.a2b[2], 2); /* the light userdata key */
  assert_int_equal(d.a2b[3], 3); /* the agent's userdata under it */
  assert_int_equal(d.a2b[6], 6); /* globals.z.k, a key of the registry */
  assert_int_equal(d.a2b[7], 7); /* paired once its key was */
  assert_int_equal(d.changed + d.added + d.removed, 0);
  analysis_diff_free(&d);
  graph_free(ga);
  graph_free(gb);
}

/* Two edges with one label (internal, unnamed) identify nothing: their
** targets stay unpaired rather than risk pairing the wrong ones. */
static void test_ambiguous_labels_pair_nothing(void **state) {
  (void)state;
  tg_node a[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"userdata", 0, 0, 0, 0x10, 40, {"internal @2", "internal @3"}},
    {"table", 0, 0, 0, 0x20, 56, {"field x i:1"}},
    {"table", 0, 0, 0, 0x30, 56, {"field x i:2"}},
  };
  graph *ga = tg_heap(a, COUNT(a)), *gb = tg_heap(a, COUNT(a));
  analysis_diff d = diff(ga, gb, ANALYSIS_MATCH_PATH);
  assert_int_equal(d.a2b[1], 1);
  assert_int_equal(d.a2b[2], GRAPH_NONE);
  assert_int_equal(d.a2b[3], GRAPH_NONE);
  assert_int_equal(d.removed, 2);
  assert_int_equal(d.added, 2);
  analysis_diff_free(&d);
  /* With addresses (the same process) they pair, and nothing changed. */
  d = diff(ga, gb, ANALYSIS_MATCH_ADDRESS);
  assert_int_equal(d.same, 3);
  analysis_diff_free(&d);
  graph_free(ga);
  graph_free(gb);
}

/* A string moved from one field to another is the same string; the
** table that holds it changed. */
static void test_strings_pair_by_content_wherever_they_are(void **state) {
  (void)state;
  tg_node a[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field a @2"}},
    {"string", 0, "hello", 0, 0x20, 30, {0}},
  };
  tg_node b[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"string", 0, "hello", 0, 0x920, 30, {0}},
    {"table", 0, 0, 0, 0x910, 56, {"field b @1"}},
  };
  b[0].edges[0] = "root globals @2";
  graph *ga = tg_heap(a, COUNT(a)), *gb = tg_heap(b, COUNT(b));
  analysis_diff d = diff(ga, gb, ANALYSIS_MATCH_PATH);
  assert_int_equal(d.a2b[2], 1);
  assert_int_equal(d.a2b[1], 2);
  assert_int_equal(d.changed, 1);
  assert_int_equal(d.same, 1);
  analysis_diff_free(&d);
  graph_free(ga);
  graph_free(gb);
}

/* Baseline, target, final: what target added and final still has. */
static void test_leaks_are_new_in_target_and_alive_in_final(void **state) {
  (void)state;
  tg_node a[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field cache @2"}},
    {"table", 0, 0, 0, 0x20, 56, {0}},
  };
  tg_node b[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field cache @2", "field tmp @4"}},
    {"table", 0, 0, 0, 0x20, 56, {"index 1 @3"}},
    {"table", "Session", 0, 0, 0x30, 72, {0}},
    {"table", 0, 0, 0, 0x40, 56, {0}},
  };
  tg_node c[] = {
    {"root", 0, 0, 0, 0, 0, {"root globals @1"}},
    {"table", 0, 0, 0, 0x10, 56, {"field cache @2"}},
    {"table", 0, 0, 0, 0x20, 56, {"index 1 @3", "index 2 @4"}},
    {"table", "Session", 0, 0, 0x30, 72, {0}},
    {"table", "Session", 0, 0, 0x50, 72, {0}},
  };
  graph *ga = tg_heap(a, COUNT(a)), *gb = tg_heap(b, COUNT(b)),
        *gc = tg_heap(c, COUNT(c));
  graph_id *ids;
  size_t n;
  char err[200];
  for (int mode = ANALYSIS_MATCH_ADDRESS; mode <= ANALYSIS_MATCH_PATH; mode++) {
    assert_int_equal(analysis_leaks(ga, gb, gc, (enum analysis_match_mode)mode,
                                    (enum analysis_match_mode)mode, &ids, &n,
                                    err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 3); /* the first Session; tmp died, the second
                                    Session came after target */
    free(ids);
  }
  graph_free(ga);
  graph_free(gb);
  graph_free(gc);
}

/* Matching needs identity; graphs built without it are refused. */
static void test_matching_refuses_graphs_without_identity(void **state) {
  (void)state;
  graph_builder *b = graph_builder_new(0, 0, 0);
  wire_node n;
  memset(&n, 0, sizeof n);
  n.kind = "root";
  assert_int_equal(graph_builder_node(b, &n), 0);
  char err[200];
  graph *g = graph_builder_finish(b, err, sizeof err);
  analysis_diff d;
  assert_int_equal(analysis_diff_graphs(g, g, ANALYSIS_MATCH_PATH, &d, err,
                                        sizeof err), -1);
  assert_non_null(strstr(err, "GRAPH_IDENTITY"));
  graph_free(g);
}

/* Bad input to the builder: ids out of order, dangling references. */
static void test_damaged_graphs_are_refused_with_a_reason(void **state) {
  (void)state;
  char err[200];
  graph_builder *b = graph_builder_new(0, 0, 0);
  wire_node n;
  memset(&n, 0, sizeof n);
  n.kind = "root";
  n.id = 1;
  assert_int_equal(graph_builder_node(b, &n), -1);
  assert_non_null(strstr(graph_builder_error(b), "not dense"));
  graph_builder_free(b);
  b = graph_builder_new(0, 0, 0);
  n.id = 0;
  assert_int_equal(graph_builder_node(b, &n), 0);
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = "root";
  e.value.type = WIRE_V_REF;
  e.value.u.ref = 7;
  assert_int_equal(graph_builder_edge(b, &e), 0);
  assert_null(graph_builder_finish(b, err, sizeof err));
  assert_non_null(strstr(err, "refers to node 7"));
  b = graph_builder_new(0, 0, 0);
  assert_int_equal(graph_builder_edge(b, &e), -1);
  graph_builder_free(b);
  b = graph_builder_new(0, 0, 0);
  assert_null(graph_builder_finish(b, err, sizeof err));
  assert_non_null(strstr(err, "no nodes"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reordered_fields_are_not_a_change),
    cmocka_unit_test(test_scalars_compare_exactly),
    cmocka_unit_test(test_reused_addresses_do_not_pair_different_objects),
    cmocka_unit_test(test_an_address_two_nodes_share_pairs_neither),
    cmocka_unit_test(test_entries_keyed_by_objects_pair_through_their_keys),
    cmocka_unit_test(test_other_processes_pair_keys_by_content_and_later_rounds),
    cmocka_unit_test(test_ambiguous_labels_pair_nothing),
    cmocka_unit_test(test_strings_pair_by_content_wherever_they_are),
    cmocka_unit_test(test_leaks_are_new_in_target_and_alive_in_final),
    cmocka_unit_test(test_matching_refuses_graphs_without_identity),
    cmocka_unit_test(test_damaged_graphs_are_refused_with_a_reason),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
