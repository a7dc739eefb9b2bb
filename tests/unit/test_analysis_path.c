/*
** test_analysis_path.c
** Shortest paths from the root: through cycles, one per last retainer,
** with and without weak references, and for nodes nothing reaches.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "analysis.h"
#include "test_analysis_graphs.h"

/* The nodes a path visits after the root, as "1 2 3". */
static void path_nodes(const graph *g, const analysis_path *p, char *out,
                       size_t cap) {
  size_t len = 0;
  out[0] = 0;
  graph_id at = GRAPH_ROOT;
  for (uint32_t i = 0; i < p->len; i++) {
    assert_int_equal(analysis_edge_source(g, p->edge[i]), at);
    at = g->to[p->edge[i]];
    len += (size_t)snprintf(out + len, cap - len, i ? " %u" : "%u", at);
  }
}

static analysis_paths find(const graph *g, graph_id t, unsigned max,
                           unsigned flags) {
  analysis_paths p;
  char err[200];
  assert_int_equal(analysis_find_paths(g, t, max, flags, &p, err, sizeof err), 0);
  return p;
}

/* 1 -> 2 -> 3 -> 1 and 3 -> 4: the path to 4 goes round the cycle once,
** never twice, and the second answer comes through the other retainer. */
static void test_paths_through_cycles_are_simple_and_shortest(void **state) {
  (void)state;
  graph *g = tg_build(6, "0>1 1>2 2>3 3>1 3>4 0>5 5>3 2>4", NULL);
  analysis_paths p = find(g, 4, 5, 0);
  char s[128];
  assert_int_equal(p.count, 2);
  path_nodes(g, &p.path[0], s, sizeof s);
  assert_string_equal(s, "1 2 4");
  path_nodes(g, &p.path[1], s, sizeof s);
  assert_string_equal(s, "5 3 4");
  analysis_paths_free(&p);
  /* Into the cycle itself: 1 is reached from the root and from 3. */
  p = find(g, 1, 5, 0);
  assert_int_equal(p.count, 2);
  path_nodes(g, &p.path[0], s, sizeof s);
  assert_string_equal(s, "1");
  path_nodes(g, &p.path[1], s, sizeof s);
  assert_string_equal(s, "5 3 1");
  analysis_paths_free(&p);
  graph_free(g);
}

/* A retainer reachable only through the target gives no path. */
static void test_paths_never_pass_through_the_target(void **state) {
  (void)state;
  graph *g = tg_build(4, "0>1 1>2 2>1 2>3", NULL);
  analysis_paths p = find(g, 1, 5, 0);
  assert_int_equal(p.count, 1);
  assert_int_equal(p.path[0].len, 1);
  analysis_paths_free(&p);
  graph_free(g);
}

static void test_weak_references_are_skipped_on_request(void **state) {
  (void)state;
  graph *g = tg_build(5, "0>1 1~3 0>2 2>4 4>3", NULL);
  char s[128];
  analysis_paths p = find(g, 3, 5, 0);
  assert_int_equal(p.count, 2);
  path_nodes(g, &p.path[0], s, sizeof s);
  assert_string_equal(s, "1 3");
  analysis_paths_free(&p);
  p = find(g, 3, 5, ANALYSIS_STRONG_ONLY);
  assert_int_equal(p.count, 1);
  path_nodes(g, &p.path[0], s, sizeof s);
  assert_string_equal(s, "2 4 3");
  analysis_paths_free(&p);
  graph_free(g);
}

static void test_unreachable_nodes_have_no_path(void **state) {
  (void)state;
  graph *g = tg_build(4, "0>1 2>3 3>2", NULL);
  analysis_paths p = find(g, 3, 5, 0);
  assert_int_equal(p.count, 0);
  analysis_paths_free(&p);
  p = find(g, GRAPH_ROOT, 5, 0);
  assert_int_equal(p.count, 1);
  assert_int_equal(p.path[0].len, 0);
  analysis_paths_free(&p);
  char err[200];
  assert_int_equal(analysis_find_paths(g, 4, 5, 0, &p, err, sizeof err), -1);
  assert_non_null(strstr(err, "not in this snapshot"));
  graph_free(g);
}

/* A node with many retainers: only max paths, shortest first. */
static void test_the_number_of_paths_is_bounded(void **state) {
  (void)state;
  char spec[2048];
  size_t len = 0;
  /* root -> 1..40 -> 41 (target), and root -> 42 -> 43 -> 41 */
  for (unsigned v = 1; v <= 40; v++)
    len += (size_t)snprintf(spec + len, sizeof spec - len, "0>%u %u>41 ", v, v);
  snprintf(spec + len, sizeof spec - len, "0>42 42>43 43>41");
  graph *g = tg_build(44, spec, NULL);
  analysis_paths p = find(g, 41, 3, 0);
  assert_int_equal(p.count, 3);
  for (size_t k = 0; k < 3; k++) {
    assert_int_equal(p.path[k].len, 2);
    assert_int_equal(g->to[p.path[k].edge[0]], k + 1);
  }
  analysis_paths_free(&p);
  p = find(g, 41, 1000, 0); /* capped at ANALYSIS_MAX_PATHS */
  assert_int_equal(p.count, 41);
  assert_int_equal(p.path[40].len, 3);
  analysis_paths_free(&p);
  graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_paths_through_cycles_are_simple_and_shortest),
    cmocka_unit_test(test_paths_never_pass_through_the_target),
    cmocka_unit_test(test_weak_references_are_skipped_on_request),
    cmocka_unit_test(test_unreachable_nodes_have_no_path),
    cmocka_unit_test(test_the_number_of_paths_is_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
