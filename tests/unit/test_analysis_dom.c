/*
** test_analysis_dom.c
** Dominators and retained sizes on hand-built graphs with known answers,
** on deep chains, and against a brute-force definition on random graphs.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "analysis.h"
#include "test_analysis_graphs.h"

static analysis_dom dom_of(const graph *g) {
  analysis_dom d;
  char err[200];
  assert_int_equal(analysis_dominators(g, &d, err, sizeof err), 0);
  return d;
}

/* root -> 1 -> {2, 3} -> 4: the join is dominated by the fork. */
static void test_diamond_join_is_dominated_by_the_fork(void **state) {
  (void)state;
  uint64_t sizes[] = {0, 1, 2, 4, 8};
  graph *g = tg_build(5, "0>1 1>2 1>3 2>4 3>4", sizes);
  analysis_dom d = dom_of(g);
  assert_int_equal(d.idom[1], 0);
  assert_int_equal(d.idom[2], 1);
  assert_int_equal(d.idom[3], 1);
  assert_int_equal(d.idom[4], 1);
  assert_int_equal(d.retained[4], 8);
  assert_int_equal(d.retained[2], 2);
  assert_int_equal(d.retained[3], 4);
  assert_int_equal(d.retained[1], 15);
  assert_int_equal(d.retained[0], 15);
  assert_int_equal(d.reachable, 5);
  assert_true(analysis_dominates(&d, 1, 4));
  assert_false(analysis_dominates(&d, 2, 4));
  analysis_dom_free(&d);
  graph_free(g);
}

/* A cycle 1 -> 2 -> 3 -> 1 entered at 1 and also from outside at 3. */
static void test_cycle_members_are_dominated_by_the_entry(void **state) {
  (void)state;
  uint64_t sizes[] = {0, 1, 10, 100, 1000};
  graph *g = tg_build(5, "0>1 1>2 2>3 3>1 0>4 4>3", sizes);
  analysis_dom d = dom_of(g);
  assert_int_equal(d.idom[1], 0); /* reached from 0 and, via 3, from 4 */
  assert_int_equal(d.idom[2], 1);
  assert_int_equal(d.idom[3], 0); /* reached through 2 and through 4 */
  assert_int_equal(d.idom[4], 0);
  assert_int_equal(d.retained[1], 11);
  assert_int_equal(d.retained[3], 100);
  assert_int_equal(d.retained[4], 1000);
  assert_int_equal(d.retained[0], 1111);
  analysis_dom_free(&d);
  graph_free(g);
}

/* Nodes no edge from the root reaches, even with edges among them. */
static void test_unreachable_nodes_retain_only_themselves(void **state) {
  (void)state;
  uint64_t sizes[] = {0, 5, 7, 9};
  graph *g = tg_build(4, "0>1 2>3 3>2 2>1", sizes);
  analysis_dom d = dom_of(g);
  assert_int_equal(d.reachable, 2);
  assert_int_equal(d.idom[2], GRAPH_NONE);
  assert_int_equal(d.idom[3], GRAPH_NONE);
  assert_int_equal(d.retained[2], 7);
  assert_int_equal(d.retained[3], 9);
  assert_int_equal(d.idom[1], 0);
  assert_int_equal(d.retained[0], 5);
  analysis_dom_free(&d);
  graph_free(g);
}

static void test_self_loops_change_nothing(void **state) {
  (void)state;
  uint64_t sizes[] = {0, 1, 2};
  graph *g = tg_build(3, "0>1 1>1 1>2 2>2", sizes);
  analysis_dom d = dom_of(g);
  assert_int_equal(d.idom[1], 0);
  assert_int_equal(d.idom[2], 1);
  assert_int_equal(d.retained[1], 3);
  analysis_dom_free(&d);
  graph_free(g);
}

/* Several roots (globals, registry, stack) hang off the synthetic root;
** an object both reach is dominated by the root alone. */
static void test_objects_shared_by_two_roots_belong_to_neither(void **state) {
  (void)state;
  uint64_t sizes[] = {0, 1, 2, 3, 4, 5};
  graph *g = tg_build(6, "0>1 0>2 0>3 1>4 2>4 3>5", sizes);
  analysis_dom d = dom_of(g);
  assert_int_equal(d.idom[4], 0);
  assert_int_equal(d.idom[5], 3);
  assert_int_equal(d.retained[1], 1);
  assert_int_equal(d.retained[2], 2);
  assert_int_equal(d.retained[3], 8);
  assert_int_equal(d.retained[0], 15);
  analysis_dom_free(&d);
  graph_free(g);
}

/* A cache holding 2 weakly: 2 is kept alive only by 3. */
static void test_weak_references_do_not_retain(void **state) {
  (void)state;
  uint64_t sizes[] = {0, 1, 100, 1, 50};
  graph *g = tg_build(5, "0>1 1~2 0>3 3>2 1~4", sizes);
  analysis_dom d = dom_of(g);
  assert_int_equal(d.idom[2], 3);
  assert_int_equal(d.retained[1], 1);
  assert_int_equal(d.retained[3], 101);
  /* Reached only through a weak reference: collectable, so it hangs off
  ** the root, retaining itself (and what only it would hold). */
  assert_int_equal(d.idom[4], GRAPH_ROOT);
  assert_int_equal(d.retained[4], 50);
  assert_int_equal(d.reachable, 4);
  assert_int_equal(d.retained[0], 152);
  analysis_dom_free(&d);
  graph_free(g);
}

/* A weak cache holds 2, which holds 3 and 4; 4 is also held by 5, in a
** garbage cycle 5 <-> 6 that only a weak reference reaches and that no
** search enters: its hold on 4 does not count. */
static void test_collectable_nodes_retain_what_only_they_hold(void **state) {
  (void)state;
  uint64_t sizes[] = {0, 1, 10, 20, 40, 80, 160};
  graph *g = tg_build(7, "0>1 1~2 2>3 2>4 1~5 5>6 6>5 5>4", sizes);
  analysis_dom d = dom_of(g);
  assert_int_equal(d.reachable, 2);
  assert_int_equal(d.idom[2], GRAPH_ROOT);
  assert_int_equal(d.idom[3], 2);
  assert_int_equal(d.idom[4], 2);
  assert_int_equal(d.retained[2], 70);
  /* The cycle has no entry nothing holds strongly: no dominator. */
  assert_int_equal(d.idom[5], GRAPH_NONE);
  assert_int_equal(d.idom[6], GRAPH_NONE);
  assert_int_equal(d.retained[5], 80);
  assert_int_equal(d.retained[0], 1 + 10 + 20 + 40);
  analysis_dom_free(&d);
  graph_free(g);
}

/* Entries of a table with weak values are weak; with weak keys, only the
** references to the keys are. */
static void test_weak_table_modes_mark_the_right_references(void **state) {
  (void)state;
  graph_builder *b = graph_builder_new(0, 0, 0);
  wire_node n;
  wire_edge e;
  memset(&n, 0, sizeof n);
  n.kind = "root";
  assert_int_equal(graph_builder_node(b, &n), 0);
  memset(&e, 0, sizeof e);
  e.kind = "root";
  e.value = (wire_value){.type = WIRE_V_REF, .u.ref = 1};
  assert_int_equal(graph_builder_edge(b, &e), 0);
  e.value.u.ref = 2;
  assert_int_equal(graph_builder_edge(b, &e), 0);
  const char *modes[] = {NULL, "v", "k"};
  for (unsigned v = 1; v <= 2; v++) {
    memset(&n, 0, sizeof n);
    n.id = v;
    n.kind = "table";
    n.mode = modes[v];
    assert_int_equal(graph_builder_node(b, &n), 0);
    memset(&e, 0, sizeof e);
    e.kind = "key";
    e.key = (wire_value){.type = WIRE_V_REF, .u.ref = 3};
    e.value = (wire_value){.type = WIRE_V_REF, .u.ref = 4};
    assert_int_equal(graph_builder_edge(b, &e), 0);
    memset(&e, 0, sizeof e);
    e.kind = "metatable";
    e.value = (wire_value){.type = WIRE_V_REF, .u.ref = 3};
    assert_int_equal(graph_builder_edge(b, &e), 0);
  }
  for (unsigned v = 3; v <= 4; v++) {
    memset(&n, 0, sizeof n);
    n.id = v;
    n.kind = "table";
    assert_int_equal(graph_builder_node(b, &n), 0);
  }
  char err[200];
  graph *g = graph_builder_finish(b, err, sizeof err);
  assert_non_null(g);
  uint32_t e1 = g->first[1], e2 = g->first[2];
  assert_int_equal(g->first[2] - e1, 3); /* keyref, value, metatable */
  assert_int_equal(graph_ekind_of(g, e1), GRAPH_E_KEYREF);
  assert_false(graph_edge_is_weak(g, e1));     /* "v": key strong */
  assert_true(graph_edge_is_weak(g, e1 + 1));  /* "v": value weak */
  assert_false(graph_edge_is_weak(g, e1 + 2)); /* metatable never weak */
  assert_true(graph_edge_is_weak(g, e2));      /* "k": key weak */
  assert_false(graph_edge_is_weak(g, e2 + 1)); /* "k": value strong */
  assert_false(graph_edge_is_weak(g, e2 + 2));
  graph_free(g);
}

/* 1.5 million tables each holding the next: no recursion anywhere. */
static void test_a_chain_of_1_5M_nodes_is_handled_iteratively(void **state) {
  (void)state;
  const uint32_t n = 1500000;
  graph_builder *b = graph_builder_new(0, n, n);
  wire_node node;
  wire_edge e;
  memset(&node, 0, sizeof node);
  memset(&e, 0, sizeof e);
  e.kind = "field";
  e.name = "next";
  e.name_len = 4;
  e.value.type = WIRE_V_REF;
  for (uint32_t v = 0; v < n; v++) {
    node.id = v;
    node.kind = v ? "table" : "root";
    node.size = v ? 1 : 0;
    node.has_size = 1;
    assert_int_equal(graph_builder_node(b, &node), 0);
    if (v + 1 < n) {
      e.value.u.ref = v + 1;
      assert_int_equal(graph_builder_edge(b, &e), 0);
    }
  }
  /* and a back edge from the end to the start: a cycle as deep */
  e.value.u.ref = 1;
  assert_int_equal(graph_builder_edge(b, &e), 0);
  char err[200];
  graph *g = graph_builder_finish(b, err, sizeof err);
  assert_non_null(g);
  analysis_dom d = dom_of(g);
  assert_int_equal(d.reachable, n);
  assert_int_equal(d.idom[n - 1], n - 2);
  assert_int_equal(d.retained[1], n - 1);
  assert_int_equal(d.retained[n / 2], n - n / 2);
  analysis_paths p;
  assert_int_equal(analysis_find_paths(g, n - 1, 3, 0, &p, err, sizeof err), 0);
  assert_int_equal(p.count, 1);
  assert_int_equal(p.path[0].len, n - 1);
  analysis_paths_free(&p);
  analysis_dom_free(&d);
  graph_free(g);
}

/* ---- brute force: v dominates w iff removing v cuts w off ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}

/* Nodes reachable from the root without entering cut, by strong edges
** and by the root's implicit hold on nodes no strong edge reaches. */
static void reach_without(const graph *g, graph_id cut, uint8_t *seen) {
  graph_id stack[256];
  uint8_t held[64] = {0};
  unsigned sp = 0;
  memset(seen, 0, g->n);
  if (cut == GRAPH_ROOT) return;
  for (uint32_t e = 0; e < g->m; e++)
    if (!graph_edge_is_weak(g, e)) held[g->to[e]] = 1;
  seen[0] = 1;
  stack[sp++] = 0;
  for (graph_id v = 1; v < g->n; v++)
    if (!held[v] && v != cut) {
      seen[v] = 1;
      stack[sp++] = v;
    }
  while (sp) {
    graph_id v = stack[--sp];
    for (uint32_t e = g->first[v]; e < g->first[v + 1]; e++) {
      graph_id w = g->to[e];
      if (graph_edge_is_weak(g, e) || w == cut || seen[w]) continue;
      seen[w] = 1;
      stack[sp++] = w;
    }
  }
}

static void test_random_graphs_agree_with_the_definition(void **state) {
  (void)state;
  char spec[4096];
  uint64_t sizes[64];
  uint8_t reach[64], cut[64][64];
  for (int round = 0; round < 400; round++) {
    unsigned n = 2 + rnd(40), m = rnd(n * 3);
    size_t len = 0;
    for (unsigned i = 0; i < m; i++) {
      unsigned a = rnd(n), b = rnd(n);
      len += (size_t)snprintf(spec + len, sizeof spec - len, "%u%c%u ", a,
                              rnd(6) ? '>' : '~', b);
    }
    spec[len] = 0;
    for (unsigned v = 0; v < n; v++) sizes[v] = 1 + rnd(1000);
    graph *g = tg_build(n, spec, sizes);
    assert_non_null(g);
    analysis_dom d = dom_of(g);
    reach_without(g, GRAPH_NONE, reach);
    for (unsigned v = 0; v < n; v++) reach_without(g, v, cut[v]);
    for (unsigned w = 0; w < n; w++) {
      if (!reach[w] || w == 0) {
        assert_int_equal(d.idom[w], GRAPH_NONE);
        continue;
      }
      /* The immediate dominator: the strict dominator that all the others
      ** dominate, i.e. the one whose own removal cuts off the fewest. */
      unsigned best = GRAPH_NONE, best_cut = ~0u;
      for (unsigned v = 0; v < n; v++) {
        if (v == w || cut[v][w]) continue; /* v does not dominate w */
        unsigned lost = 0;
        for (unsigned x = 0; x < n; x++) lost += reach[x] && !cut[v][x];
        if (lost < best_cut) { best_cut = lost; best = v; }
      }
      assert_int_equal(d.idom[w], best);
      /* Retained: everything whose removal of w cuts off, w included. */
      uint64_t ret = 0;
      for (unsigned x = 0; x < n; x++)
        if (reach[x] && !cut[w][x]) ret += g->size[x];
      assert_int_equal(d.retained[w], ret);
    }
    analysis_dom_free(&d);
    graph_free(g);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_diamond_join_is_dominated_by_the_fork),
    cmocka_unit_test(test_cycle_members_are_dominated_by_the_entry),
    cmocka_unit_test(test_unreachable_nodes_retain_only_themselves),
    cmocka_unit_test(test_self_loops_change_nothing),
    cmocka_unit_test(test_objects_shared_by_two_roots_belong_to_neither),
    cmocka_unit_test(test_weak_references_do_not_retain),
    cmocka_unit_test(test_collectable_nodes_retain_what_only_they_hold),
    cmocka_unit_test(test_weak_table_modes_mark_the_right_references),
    cmocka_unit_test(test_a_chain_of_1_5M_nodes_is_handled_iteratively),
    cmocka_unit_test(test_random_graphs_agree_with_the_definition),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
