/*
** test_wire_runs.c
** Edge runs <r k i v="V1 V2 …"/> (docs/protocol.md 5.4): written and read
** back with every kind of value, at any split of the stream; the same edges
** and the same hash as when written as single <e>; malformed runs refused
** with a reason; the hash of a value's text equals the hash of its value.
*/
#include <float.h>
#include <math.h>

#include "test_wire_util.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Du;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Every kind of value a run may carry, the extremes included. */
static wire_value sample(size_t k) {
  static const double floats[] = {0.5, -0.0, 0.0, DBL_MAX, DBL_TRUE_MIN, 1e-300};
  wire_value v;
  memset(&v, 0, sizeof v);
  switch (k % 9) {
  case 0: v.type = WIRE_V_INT; v.u.i = (int64_t)k - 50; break;
  case 1: v.type = WIRE_V_INT; v.u.i = k % 2 ? INT64_MIN : INT64_MAX; break;
  case 2: v.type = WIRE_V_FLOAT; v.u.f = floats[k % 6]; break;
  case 3: v.type = WIRE_V_FLOAT; v.u.f = k % 2 ? NAN : -INFINITY; break;
  case 4: v.type = WIRE_V_BOOL; v.u.b = (int)(k & 1); break;
  case 5: v.type = WIRE_V_NIL; break;
  case 6: v.type = WIRE_V_REF; v.u.ref = k; break;
  case 7: v.type = WIRE_V_REF; v.u.ref = UINT64_MAX; break;
  default: {
    uint64_t bits = rng();
    v.type = WIRE_V_FLOAT;
    memcpy(&v.u.f, &bits, sizeof v.u.f);
  }
  }
  return v;
}

static int same_value(const wire_value *a, const wire_value *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
  case WIRE_V_BOOL: return a->u.b == b->u.b;
  case WIRE_V_INT: return a->u.i == b->u.i;
  case WIRE_V_FLOAT:
    return isnan(a->u.f) ? isnan(b->u.f) : memcmp(&a->u.f, &b->u.f, sizeof(double)) == 0;
  case WIRE_V_REF: return a->u.ref == b->u.ref;
  default: return 1;
  }
}

/* ---- a graph written with runs, or with single edges ------------------ */

#define NVALUES 10000

typedef struct graph {
  wire_value v[NVALUES];
  int64_t first;         /* index of v[0] */
} graph;

static void make_graph(graph *g, int64_t first) {
  for (size_t k = 0; k < NVALUES; k++) g->v[k] = sample(k);
  g->first = first;
}

/* One node 0 with a field edge, the values as index edges (runs of at
** most WIRE_RUN_MAX, or single <e>), then another field edge; the node
** continues in a second batch halfway. */
static void write_graph(wire_buf *b, const graph *g, int runs) {
  wire_node n;
  wire_edge e;
  memset(&n, 0, sizeof n);
  n.kind = "table";
  memset(&e, 0, sizeof e);
  e.kind = "field"; e.name = "head"; e.name_len = 4;
  e.value.type = WIRE_V_NIL;
  wire_msg_begin(b);
  wire_open(b, "graph");
  wire_open_end(b);
  wire_node_open(b, &n);
  wire_edge_write(b, &e);
  for (size_t k = 0; k < NVALUES; ) {
    size_t end = k < NVALUES / 2 ? NVALUES / 2 : NVALUES;
    if (end - k > WIRE_RUN_MAX) end = k + WIRE_RUN_MAX;
    if (runs) {
      wire_run_open(b, "index", g->first + (int64_t)k);
      for (; k < end; k++) wire_run_value(b, &g->v[k]);
      wire_run_close(b);
    } else {
      wire_edge x;
      memset(&x, 0, sizeof x);
      x.kind = "index";
      x.has_index = 1;
      for (; k < end; k++) {
        x.index = g->first + (int64_t)k;
        x.value = g->v[k];
        wire_edge_write(b, &x);
      }
    }
    if (k == NVALUES / 2) {
      wire_node_close(b);
      wire_close(b, "graph");
      wire_msg_end(b);
      wire_msg_begin(b);
      wire_open(b, "graph");
      wire_open_end(b);
      wire_node_continue(b, 0);
    }
  }
  e.name = "tail"; e.name_len = 4;
  wire_edge_write(b, &e);
  wire_node_close(b);
  wire_close(b, "graph");
  wire_msg_end(b);
  assert_false(b->oom);
}

/* What a reader saw: every edge, in order, and the hash of the graph. */
typedef struct seen {
  wire_edge *edges;
  size_t n, cap;
  wire_hash h;
  char hex[17];
  int runs, bad;
  const char *why;
} seen;

static int read_graph(void *ud, const wire_msg *m) {
  seen *s = ud;
  wire_buf scratch;
  wire_buf_init(&scratch);
  for (const wire_elem *n = m->items->children; n; n = n->next) {
    wire_node node;
    wire_edges it;
    wire_edge e;
    int cont, r;
    if (wire_node_read(n, &node, &cont, &scratch, &s->why) != 0) { s->bad = 1; break; }
    if (!cont) wire_hash_node(&s->h, &node);
    for (const wire_elem *c = n->children; c; c = c->next) s->runs += c->name[0] == 'r';
    wire_edges_begin(n, &it);
    while ((r = wire_edges_next(&it, &e)) > 0) {
      if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->edges = realloc(s->edges, s->cap * sizeof *s->edges);
        assert_non_null(s->edges);
      }
      /* as the server's ingest hashes them */
      if (it.in_run) wire_hash_run_edge(&s->h, &it.run, &e);
      else wire_hash_edge_text(&s->h, &e, it.vtext, it.vlen);
      /* kinds and names point into the message, gone after it: keep what
      ** the test compares */
      e.kind = strcmp(e.kind, "index") == 0 ? "index" : "field";
      e.name = e.name != NULL ? "" : NULL;
      e.name_len = 0;
      s->edges[s->n++] = e;
    }
    if (r < 0) { s->bad = 1; s->why = it.why; break; }
  }
  wire_buf_free(&scratch);
  return 0;
}

/* Parse b fed in two pieces split at byte cut (0: whole) into s. */
static void read_stream(seen *s, const wire_buf *b, size_t cut) {
  memset(s, 0, sizeof *s);
  wire_hash_init(&s->h);
  wire_parser *p = wire_parser_new(NULL, read_graph, s);
  assert_non_null(p);
  if (cut) assert_int_equal(wire_parser_feed(p, b->data, cut), WIRE_OK);
  assert_int_equal(wire_parser_feed(p, b->data + cut, b->len - cut), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  wire_parser_free(p);
  if (s->bad) fail_msg("read failed: %s", s->why);
  wire_hash_hex(&s->h, s->hex);
}

static void check_seen(const seen *s, const graph *g) {
  assert_int_equal(s->n, NVALUES + 2);
  assert_string_equal(s->edges[0].kind, "field");
  assert_string_equal(s->edges[NVALUES + 1].kind, "field");
  for (size_t k = 0; k < NVALUES; k++) {
    const wire_edge *e = &s->edges[k + 1];
    assert_string_equal(e->kind, "index");
    assert_true(e->has_index && e->index == g->first + (int64_t)k);
    assert_null(e->name);
    assert_int_equal(e->key.type, WIRE_V_NONE);
    if (!same_value(&e->value, &g->v[k])) fail_msg("value %zu differs", k);
  }
}

static void test_runs_round_trip_every_kind_of_value(void **state) {
  static const int64_t firsts[] = {1, 0, -2500, INT64_MIN, INT64_MAX - NVALUES + 1};
  static graph g;
  (void)state;
  for (size_t f = 0; f < sizeof firsts / sizeof *firsts; f++) {
    wire_buf b;
    seen s;
    make_graph(&g, firsts[f]);
    wire_buf_init(&b);
    write_graph(&b, &g, 1);
    read_stream(&s, &b, 0);
    /* each half (5000 values) is cut at WIRE_RUN_MAX: 4096 + 904 */
    assert_int_equal(s.runs, 4);
    check_seen(&s, &g);
    free(s.edges);
    wire_buf_free(&b);
  }
}

/* The hash is over the expanded edges: both forms give one hash, which is
** the hash computed straight from the records. */
static void test_runs_and_single_edges_read_and_hash_the_same(void **state) {
  static graph g;
  wire_buf a, b;
  seen sa, sb;
  wire_hash h;
  wire_node n;
  wire_edge e;
  char hex[17];
  (void)state;
  make_graph(&g, 1);
  wire_buf_init(&a);
  wire_buf_init(&b);
  write_graph(&a, &g, 1);
  write_graph(&b, &g, 0);
  assert_true(a.len * 3 < b.len);
  read_stream(&sa, &a, 0);
  read_stream(&sb, &b, 0);
  assert_int_equal(sb.runs, 0);
  check_seen(&sa, &g);
  check_seen(&sb, &g);
  assert_string_equal(sa.hex, sb.hex);
  wire_hash_init(&h);
  memset(&n, 0, sizeof n);
  n.kind = "table";
  wire_hash_node(&h, &n);
  for (size_t k = 0; k < sb.n; k++) {
    e = sb.edges[k];
    if (e.name) e.name = k == 0 ? "head" : "tail", e.name_len = 4;
    wire_hash_edge(&h, &e);
  }
  wire_hash_hex(&h, hex);
  assert_string_equal(sa.hex, hex);
  free(sa.edges);
  free(sb.edges);
  wire_buf_free(&a);
  wire_buf_free(&b);
}

static void test_runs_split_at_every_byte_boundary_read_the_same(void **state) {
  wire_buf b;
  wire_value v[6];
  seen whole;
  (void)state;
  for (size_t k = 0; k < 6; k++) v[k] = sample(k * 3 + 1);
  wire_buf_init(&b);
  wire_msg_begin(&b);
  wire_buf_puts(&b, "<graph><n i=\"0\" k=\"t\">");
  wire_run_open(&b, "index", -3);
  for (size_t k = 0; k < 6; k++) wire_run_value(&b, &v[k]);
  wire_run_close(&b);
  wire_buf_puts(&b, "<e k=\"field\" n=\"x\" v=\"@1\"/>");
  wire_run_open(&b, "index", 9223372036854775806);
  wire_run_value(&b, &v[0]);
  wire_run_value(&b, &v[1]);
  wire_run_close(&b);
  wire_buf_puts(&b, "</n></graph>");
  wire_msg_end(&b);
  read_stream(&whole, &b, 0);
  assert_int_equal(whole.n, 9);
  assert_int_equal(whole.runs, 2);
  assert_true(whole.edges[8].index == INT64_MAX);
  for (size_t cut = 1; cut < b.len; cut++) {
    seen s;
    read_stream(&s, &b, cut);
    assert_int_equal(s.n, whole.n);
    for (size_t k = 0; k < s.n; k++) {
      assert_true(s.edges[k].index == whole.edges[k].index);
      assert_true(same_value(&s.edges[k].value, &whole.edges[k].value));
    }
    assert_string_equal(s.hex, whole.hex);
    free(s.edges);
  }
  free(whole.edges);
  wire_buf_free(&b);
}

static void test_run_written_is_what_the_documentation_shows(void **state) {
  wire_buf b;
  wire_value v[3];
  (void)state;
  memset(v, 0, sizeof v);
  v[0].type = WIRE_V_INT; v[0].u.i = 42;
  v[1].type = WIRE_V_REF; v[1].u.ref = 7;
  v[2].type = WIRE_V_FLOAT; v[2].u.f = 0.5;
  wire_buf_init(&b);
  wire_run_open(&b, "index", 1);
  for (int k = 0; k < 3; k++) wire_run_value(&b, &v[k]);
  wire_run_close(&b);
  wire_run_open(&b, "index", -1);
  wire_run_value(&b, &v[0]);
  wire_run_close(&b);
  wire_buf_put(&b, "", 1);
  assert_string_equal(b.data, "<r k=\"index\" i=\"1\" v=\"i:42 @7 f:0x1p-1\"/>"
                              "<r k=\"index\" i=\"-1\" v=\"i:42\"/>");
  wire_buf_free(&b);
}

/* docs/protocol.md section 6: the run example and the same graph with four
** <e> hash to the known answer given there. */
static void test_documented_run_example_hashes_as_its_expanded_edges(void **state) {
  static const char head[] =
    "\r\n<xsbug><graph id=\"2\" seq=\"0\"><n i=\"0\" k=\"root\"><e k=\"root\" "
    "n=\"path:list\" v=\"@1\"/></n><n i=\"1\" k=\"table\" s=\"120\" a=\"564e81083d50\">";
  static const char tail[] =
    "</n><n i=\"2\" k=\"string\" s=\"33\" a=\"564e81083c90\" v=\"hi&#xF700;there\">"
    "</n></graph></xsbug>\r\n";
  static const char *const edges[] = {
    "<r k=\"index\" i=\"1\" v=\"i:10 i:20 i:30 @2\"/>",
    "<e k=\"index\" i=\"1\" v=\"i:10\"/><e k=\"index\" i=\"2\" v=\"i:20\"/>"
    "<e k=\"index\" i=\"3\" v=\"i:30\"/><e k=\"index\" i=\"4\" v=\"@2\"/>",
    "<r k=\"index\" i=\"1\" v=\"i:10 i:20\"/><e k=\"index\" i=\"3\" v=\"i:30\"/>"
    "<r k=\"index\" i=\"4\" v=\"@2\"/>"};
  (void)state;
  for (size_t k = 0; k < 3; k++) {
    wire_buf b;
    seen s;
    wire_buf_init(&b);
    wire_buf_puts(&b, head);
    wire_buf_puts(&b, edges[k]);
    wire_buf_puts(&b, tail);
    read_stream(&s, &b, 0);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.hex, "98cd52d91425d9a1");
    free(s.edges);
    wire_buf_free(&b);
  }
}

/* ---- malformed runs ------------------------------------------------------ */

typedef struct bad_ctx {
  int failed, edges;
  const char *why;
} bad_ctx;

static int read_bad(void *ud, const wire_msg *m) {
  bad_ctx *c = ud;
  wire_edges it;
  wire_edge e;
  int r;
  wire_edges_begin(m->items, &it);
  while ((r = wire_edges_next(&it, &e)) > 0) c->edges++;
  c->failed = r < 0;
  c->why = c->failed ? it.why : NULL;
  return 0;
}

/* The node <n>…</n> holding xml must be refused with why_part. */
static void expect_refused(const char *xml, const char *why_part) {
  bad_ctx c;
  wire_buf b;
  memset(&c, 0, sizeof c);
  wire_buf_init(&b);
  wire_buf_puts(&b, "<n i=\"1\" k=\"t\">");
  wire_buf_puts(&b, xml);
  wire_buf_puts(&b, "</n>");
  wire_parser *p = wire_parser_new(NULL, read_bad, &c);
  assert_int_equal(wire_parser_feed(p, b.data, b.len), WIRE_OK);
  wire_parser_free(p);
  wire_buf_free(&b);
  if (!c.failed) fail_msg("accepted %s", xml);
  if (strstr(c.why, why_part) == NULL) fail_msg("%s: reason \"%s\"", xml, c.why);
}

static void expect_accepted(const char *xml, int edges) {
  bad_ctx c;
  memset(&c, 0, sizeof c);
  wire_parser *p = wire_parser_new(NULL, read_bad, &c);
  char node[256];
  snprintf(node, sizeof node, "<n i=\"1\" k=\"t\">%s</n>", xml);
  assert_int_equal(wire_parser_feed(p, node, strlen(node)), WIRE_OK);
  wire_parser_free(p);
  if (c.failed) fail_msg("refused %s: %s", xml, c.why);
  assert_int_equal(c.edges, edges);
}

static void test_malformed_runs_are_refused_with_a_reason(void **state) {
  wire_buf b;
  (void)state;
  expect_refused("<r k=\"index\" i=\"1\" v=\"\"/>", "empty run");
  expect_refused("<r k=\"index\" i=\"1\"/>", "empty run");
  expect_refused("<r k=\"index\" v=\"nil\"/>", "first index");
  expect_refused("<r k=\"index\" i=\"+1\" v=\"nil\"/>", "first index");
  expect_refused("<r k=\"index\" i=\"9223372036854775808\" v=\"nil\"/>", "first index");
  expect_refused("<r i=\"1\" v=\"nil\"/>", "kind");
  expect_refused("<r k=\"\" i=\"1\" v=\"nil\"/>", "kind");
  expect_refused("<r k=\"in&#xF700;dex\" i=\"1\" v=\"nil\"/>", "NUL");
  expect_refused("<r k=\"index\" i=\"1\" v=\" nil\"/>", "single spaces");
  expect_refused("<r k=\"index\" i=\"1\" v=\"nil \"/>", "single spaces");
  expect_refused("<r k=\"index\" i=\"1\" v=\"nil  nil\"/>", "two");
  expect_refused("<r k=\"index\" i=\"1\" v=\"nil&#9;nil\"/>", "not a valid value");
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:01\"/>", "not a valid value");
  expect_refused("<r k=\"index\" i=\"1\" v=\"nil f:1.5\"/>", "not a valid value");
  expect_refused("<r k=\"index\" i=\"1\" v=\"nil @\"/>", "not a valid value");
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:9223372036854775808\"/>", "not a valid value");
  /* what the fast path for small integers passes on must still be refused */
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:12x\"/>", "not a valid value");
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:1 i:\"/>", "not a valid value");
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:00\"/>", "not a valid value");
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:-0\"/>", "not a valid value");
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:99999999999999999999\"/>", "not a valid value");
  expect_refused("<r k=\"index\" i=\"1\" v=\"i:5  i:6\"/>", "two");
  expect_refused("<r k=\"index\" i=\"9223372036854775807\" v=\"nil nil\"/>", "past the largest");
  expect_refused("<r k=\"index\" i=\"9223372036854775000\" v=\"nil\"/>"
                 "<r k=\"index\" i=\"9223372036854775806\" v=\"nil nil nil\"/>",
                 "past the largest");
  expect_refused("<r k=\"index\" n=\"x\" i=\"1\" v=\"nil\"/>", "no name");
  expect_refused("<r k=\"index\" key=\"true\" i=\"1\" v=\"nil\"/>", "no name");
  expect_refused("<e k=\"index\" i=\"1\" v=\"nil\"/><x/>", "<e> or <r>");
  expect_refused("<e k=\"index\" i=\"1\" v=\"nil nil\"/>", "target v");
  /* WIRE_RUN_MAX values are a run; one more is not */
  wire_buf_init(&b);
  wire_buf_puts(&b, "<r k=\"index\" i=\"1\" v=\"nil");
  for (int k = 1; k < WIRE_RUN_MAX; k++) wire_buf_puts(&b, " nil");
  wire_buf_puts(&b, "\"/>");
  wire_buf_put(&b, "", 1);
  {
    bad_ctx c;
    wire_buf node;
    memset(&c, 0, sizeof c);
    wire_buf_init(&node);
    wire_buf_puts(&node, "<n i=\"1\" k=\"t\">");
    wire_buf_puts(&node, b.data);
    wire_buf_puts(&node, "</n>");
    wire_parser *p = wire_parser_new(NULL, read_bad, &c);
    assert_int_equal(wire_parser_feed(p, node.data, node.len), WIRE_OK);
    wire_parser_free(p);
    wire_buf_free(&node);
    assert_false(c.failed);
    assert_int_equal(c.edges, WIRE_RUN_MAX);
  }
  b.len -= 4; /* before '"/>' and the NUL */
  wire_buf_puts(&b, " nil\"/>");
  wire_buf_put(&b, "", 1);
  expect_refused(b.data, "more than 4096");
  wire_buf_free(&b);
}

static void test_runs_at_the_edges_of_the_rules_are_accepted(void **state) {
  (void)state;
  expect_accepted("<r k=\"index\" i=\"9223372036854775807\" v=\"nil\"/>", 1);
  expect_accepted("<r k=\"index\" i=\"9223372036854775806\" v=\"nil true\"/>", 2);
  expect_accepted("<r k=\"index\" i=\"-9223372036854775808\" v=\"false i:0\"/>", 2);
  /* other kinds, and attributes a later version may add, are fine */
  expect_accepted("<r k=\"uservalue\" i=\"1\" v=\"@3 @4\" later=\"x\"/>", 2);
  expect_accepted("", 0);
  expect_accepted("<e k=\"f\" n=\"a\" v=\"nil\"/><r k=\"index\" i=\"1\" v=\"nil\"/>"
                  "<e k=\"f\" n=\"b\" v=\"nil\"/>", 3);
}

/* Integers read by the fast path, and indices counted up as text: each
** edge reads as written and hashes as the same edge formatted anew, across
** carries (9 -> 10, 999999 -> 1000000), through zero, at the extremes. */
static const int64_t run_ints[] = {
  0, 1, 9, 10, 99, 100, 123456789012345678, 999999999999999999,
  1000000000000000000, INT64_MAX, -1, -10, INT64_MIN};
#define NRUN_INTS (sizeof run_ints / sizeof *run_ints)
#define NRUN (NRUN_INTS + 3)

typedef struct run_check {
  int64_t first;
  size_t seen;
} run_check;

static int check_run(void *ud, const wire_msg *m) {
  run_check *c = ud;
  wire_edges it;
  wire_edge e;
  int r;
  wire_edges_begin(m->items, &it);
  while ((r = wire_edges_next(&it, &e)) > 0) {
    size_t k = c->seen++;
    wire_hash a, h;
    char ha[17], hh[17];
    assert_true(it.in_run);
    assert_true(e.has_index && e.index == c->first + (int64_t)k);
    if (k < NRUN_INTS) {
      assert_int_equal(e.value.type, WIRE_V_INT);
      assert_true(e.value.u.i == run_ints[k]);
    }
    wire_hash_init(&a);
    wire_hash_init(&h);
    wire_hash_run_edge(&a, &it.run, &e);
    wire_hash_edge(&h, &e);
    wire_hash_hex(&a, ha);
    wire_hash_hex(&h, hh);
    if (strcmp(ha, hh) != 0)
      fail_msg("first %lld, edge %zu: %s != %s", (long long)c->first, k, ha, hh);
  }
  assert_int_equal(r, 0);
  return 0;
}

static void test_run_values_and_indices_read_and_hash_as_formatted(void **state) {
  static const int64_t firsts[] = {-7, 1, 5, 95, 999990, INT64_MAX - NRUN + 1, INT64_MIN};
  (void)state;
  for (size_t f = 0; f < sizeof firsts / sizeof *firsts; f++) {
    wire_buf b;
    run_check c = {firsts[f], 0};
    wire_buf_init(&b);
    wire_buf_puts(&b, "<n i=\"1\" k=\"t\">");
    wire_run_open(&b, "index", firsts[f]);
    for (size_t k = 0; k < NRUN; k++) {
      wire_value v;
      memset(&v, 0, sizeof v);
      v.type = WIRE_V_INT;
      if (k < NRUN_INTS) v.u.i = run_ints[k];
      else v = sample(k * 3 + 2); /* a float, a ref, nil */
      wire_run_value(&b, &v);
    }
    wire_run_close(&b);
    wire_buf_puts(&b, "</n>");
    wire_parser *p = wire_parser_new(NULL, check_run, &c);
    assert_non_null(p);
    assert_int_equal(wire_parser_feed(p, b.data, b.len), WIRE_OK);
    wire_parser_free(p);
    wire_buf_free(&b);
    assert_int_equal(c.seen, NRUN);
  }
}

/* ---- the hash of a value's text ------------------------------------------- */

/* wire_hash_edge_text with the canonical text of the value hashes exactly
** what wire_hash_edge does, for every kind of value and edge shape; so do
** edges too big for the fused path. */
static void test_hash_of_value_text_equals_hash_of_value(void **state) {
  static char big[2000];
  (void)state;
  memset(big, 'n', sizeof big);
  for (size_t k = 0; k < 20000; k++) {
    wire_edge e;
    wire_hash a, b;
    wire_buf text;
    char ha[17], hb[17];
    memset(&e, 0, sizeof e);
    e.kind = k % 3 ? "index" : "field";
    e.value = sample(k);
    if (k % 3 == 0) {
      e.name = big;
      e.name_len = k % 7 == 0 ? sizeof big : k % 40;
    } else {
      e.has_index = 1;
      e.index = (int64_t)(rng() >> (k % 64));
      if (k % 5 == 0) e.index = -e.index;
    }
    if (k % 11 == 0) e.key = sample(k + 1);
    wire_buf_init(&text);
    wire_value_format(&text, &e.value);
    wire_hash_init(&a);
    wire_hash_init(&b);
    /* start both at an odd byte so the edge straddles words */
    wire_hash_edge(&a, &e);
    wire_hash_edge(&b, &e);
    wire_hash_edge(&a, &e);
    wire_hash_edge_text(&b, &e, text.data, text.len);
    wire_hash_hex(&a, ha);
    wire_hash_hex(&b, hb);
    if (strcmp(ha, hb) != 0) fail_msg("edge %zu: %s != %s", k, ha, hb);
    wire_buf_free(&text);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_runs_round_trip_every_kind_of_value),
    cmocka_unit_test(test_runs_and_single_edges_read_and_hash_the_same),
    cmocka_unit_test(test_runs_split_at_every_byte_boundary_read_the_same),
    cmocka_unit_test(test_run_written_is_what_the_documentation_shows),
    cmocka_unit_test(test_documented_run_example_hashes_as_its_expanded_edges),
    cmocka_unit_test(test_malformed_runs_are_refused_with_a_reason),
    cmocka_unit_test(test_runs_at_the_edges_of_the_rules_are_accepted),
    cmocka_unit_test(test_run_values_and_indices_read_and_hash_as_formatted),
    cmocka_unit_test(test_hash_of_value_text_equals_hash_of_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
