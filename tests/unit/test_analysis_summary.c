/*
** test_analysis_summary.c
** Summary by type (counts, shallow and retained bytes counted once) and
** the top retainers with paging.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "analysis.h"
#include "test_analysis_graphs.h"

static const analysis_type *row(const graph *g, const analysis_summary *s,
                                const char *kind, const char *type) {
  for (size_t i = 0; i < s->nrows; i++) {
    const analysis_type *r = &s->rows[i];
    const char *k = g->kinds.name[r->kind];
    const char *t = r->type ? g->types.name[r->type] : "";
    if (strcmp(k, kind) == 0 && strcmp(t, type) == 0) return r;
  }
  return NULL;
}

/* A linked list of 4 Node tables holding strings: the list's retained
** size is the head's, not the sum over its nodes (which counts the tail
** four times). */
static void test_nested_objects_of_one_type_are_counted_once(void **state) {
  (void)state;
  const char *kinds[] = {"root", "table", "table", "table", "table", "string",
                         "string", "string", "string", "table"};
  const char *types[] = {NULL, "Node", "Node", "Node", "Node", NULL, NULL,
                         NULL, NULL, NULL};
  uint64_t sizes[] = {0, 100, 100, 100, 100, 30, 30, 30, 30, 56};
  graph *g = tg_build_kinds(10, "0>1 1>2 2>3 3>4 1>5 2>6 3>7 4>8 0>9 9>4",
                            sizes, kinds, types);
  char err[200];
  analysis_dom d;
  analysis_summary s;
  assert_int_equal(analysis_dominators(g, &d, err, sizeof err), 0);
  assert_int_equal(analysis_summarize(g, &d, &s, err, sizeof err), 0);
  assert_int_equal(s.nodes, 9);
  assert_int_equal(s.shallow, 400 + 120 + 56);
  assert_int_equal(s.nrows, 3);
  const analysis_type *node = row(g, &s, "table", "Node");
  const analysis_type *str = row(g, &s, "string", "");
  const analysis_type *tab = row(g, &s, "table", "");
  assert_non_null(node);
  assert_non_null(str);
  assert_non_null(tab);
  assert_int_equal(node->count, 4);
  assert_int_equal(node->shallow, 400);
  /* 4 is shared with table 9: node 1 retains 1..3 and their strings; 4 and
  ** its string are a second top-level Node retention. */
  assert_int_equal(d.retained[1], 390);
  assert_int_equal(d.retained[4], 130);
  assert_int_equal(node->retained, 520);
  assert_int_equal(str->count, 4);
  assert_int_equal(str->retained, 120);
  assert_int_equal(tab->retained, 56);
  /* rows come largest retained first */
  assert_ptr_equal(&s.rows[0], node);
  analysis_summary_free(&s);
  analysis_dom_free(&d);
  graph_free(g);
}

/* Unreachable (weakly held) nodes still appear, retaining themselves. */
static void test_weakly_held_nodes_are_summarised(void **state) {
  (void)state;
  uint64_t sizes[] = {0, 10, 20};
  graph *g = tg_build(3, "0>1 1~2", sizes);
  char err[200];
  analysis_dom d;
  analysis_summary s;
  assert_int_equal(analysis_dominators(g, &d, err, sizeof err), 0);
  assert_int_equal(analysis_summarize(g, &d, &s, err, sizeof err), 0);
  assert_int_equal(s.nrows, 1);
  assert_int_equal(s.rows[0].count, 2);
  assert_int_equal(s.rows[0].retained, 30);
  assert_int_equal(s.reachable, 1);
  analysis_summary_free(&s);
  analysis_dom_free(&d);
  graph_free(g);
}

static void test_top_retainers_come_largest_first_and_page(void **state) {
  (void)state;
  /* A star: root holds 1..8; node v holds a leaf of size v*10 (9..16). */
  uint64_t sizes[17] = {0};
  char spec[512];
  size_t len = 0;
  for (unsigned v = 1; v <= 8; v++) {
    sizes[v] = 1;
    sizes[v + 8] = v * 10;
    len += (size_t)snprintf(spec + len, sizeof spec - len, "0>%u %u>%u ", v, v,
                            v + 8);
  }
  sizes[16] = 70; /* ties with node 7's leaf (70) and retains 70 like 15 */
  graph *g = tg_build(17, spec, sizes);
  char err[200];
  analysis_dom d;
  assert_int_equal(analysis_dominators(g, &d, err, sizeof err), 0);
  graph_id out[20];
  size_t k = analysis_top(&d, 0, 4, out);
  assert_int_equal(k, 4);
  /* 8 retains 71, 7 retains 71 (tie: lower id first), then 7's and 8's
  ** leaves (70 each, id order). */
  assert_int_equal(out[0], 7);
  assert_int_equal(out[1], 8);
  assert_int_equal(out[2], 15);
  assert_int_equal(out[3], 16);
  graph_id page[20];
  k = analysis_top(&d, 2, 3, page);
  assert_int_equal(k, 3);
  assert_int_equal(page[0], 15);
  assert_int_equal(page[1], 16);
  assert_int_equal(page[2], 6);
  /* Asking past the end returns what there is (16 nodes besides root). */
  assert_int_equal(analysis_top(&d, 14, 10, page), 2);
  assert_int_equal(analysis_top(&d, 16, 10, page), 0);
  assert_int_equal(analysis_top(&d, 0, 100, page), 16);
  analysis_dom_free(&d);
  graph_free(g);
}

/* A snapshot of nothing but its root: every analysis answers, emptily. */
static void test_a_snapshot_of_only_the_root_has_empty_answers(void **state) {
  (void)state;
  graph *g = tg_build(1, "", NULL);
  assert_non_null(g);
  char err[200];
  analysis_dom d;
  analysis_summary s;
  assert_int_equal(analysis_dominators(g, &d, err, sizeof err), 0);
  assert_int_equal(d.reachable, 1);
  assert_int_equal(d.retained[0], 0);
  assert_int_equal(analysis_summarize(g, &d, &s, err, sizeof err), 0);
  assert_int_equal(s.nrows, 0);
  assert_int_equal(s.nodes, 0);
  graph_id out[4];
  assert_int_equal(analysis_top(&d, 0, 4, out), 0);
  analysis_paths p;
  assert_int_equal(analysis_find_paths(g, 0, 3, 0, &p, err, sizeof err), 0);
  assert_int_equal(p.count, 1);
  analysis_paths_free(&p);
  analysis_summary_free(&s);
  analysis_dom_free(&d);
  graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_nested_objects_of_one_type_are_counted_once),
    cmocka_unit_test(test_weakly_held_nodes_are_summarised),
    cmocka_unit_test(test_top_retainers_come_largest_first_and_page),
    cmocka_unit_test(test_a_snapshot_of_only_the_root_has_empty_answers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
