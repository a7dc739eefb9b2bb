/*
** test_wire_frame_graph.c
** Graph batches read record by record (wire_parser_graph): a consumer gets
** the same records, the same refusals and the same errors at the same
** bytes as one that reads the message tree with wire_node_read and
** wire_edges_next, for every frame, split however, and for every frame
** damaged at any byte.
*/
#include "test_wire_util.h"

/* ---- one log for both readers ------------------------------------- */

static void put_hex(wire_buf *b, const void *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = p;
  size_t i;
  for (i = 0; i < n; i++) {
    char two[2] = {hex[s[i] >> 4], hex[s[i] & 15]};
    wire_buf_put(b, two, 2);
  }
}

static void put_field(wire_buf *b, const char *tag, const void *p, size_t n, int has) {
  wire_buf_puts(b, tag);
  if (has) put_hex(b, p, n);
  else wire_buf_puts(b, "-");
}

static void log_node(wire_buf *b, const wire_node *n, int cont) {
  char num[160];
  snprintf(num, sizeof num, "node %llu%s k=%s s=%d:%llu a=%d:%llx l=%d:%lld m=%s st=%s",
           (unsigned long long)n->id, cont ? " cont" : "", n->kind ? n->kind : "-",
           n->has_size, (unsigned long long)n->size, n->has_addr, (unsigned long long)n->addr,
           n->has_line, (long long)n->line, n->mode ? n->mode : "-", n->status ? n->status : "-");
  wire_buf_puts(b, num);
  put_field(b, " t=", n->type, n->type_len, n->type != NULL);
  put_field(b, " nm=", n->name, n->name_len, n->name != NULL);
  put_field(b, " v=", n->value, n->value_len, n->has_value);
  put_field(b, " p=", n->payload, n->payload_len, n->has_payload);
  put_field(b, " src=", n->source, n->source_len, n->source != NULL);
  wire_buf_puts(b, "\n");
}

static void log_edge(wire_buf *b, const wire_edge *e, const char *vtext, size_t vlen) {
  char num[96];
  snprintf(num, sizeof num, "edge k=%s i=%d:%lld key=%d v=%d", e->kind, e->has_index,
           (long long)e->index, (int)e->key.type, (int)e->value.type);
  wire_buf_puts(b, num);
  put_field(b, " n=", e->name, e->name_len, e->name != NULL);
  put_field(b, " vtext=", vtext, vlen, vtext != NULL);
  wire_buf_puts(b, "\n");
}

static void log_bad(wire_buf *b, int what, const char *element, const char *why) {
  char line[256];
  snprintf(line, sizeof line, "bad %d <%s> %s\n", what, element, why);
  wire_buf_puts(b, line);
}

/* The tree reader: what a consumer of messages does with a <graph>. */
static int tree_message(void *ud, const wire_msg *m) {
  wire_buf *b = ud;
  wire_buf scratch;
  const wire_elem *it, *n;
  wire_buf_init(&scratch);
  for (it = m->items; it != NULL; it = it->next) {
    if (strcmp(it->name, "graph") != 0) {
      wire_buf_puts(b, "item ");
      wire_buf_puts(b, it->name);
      wire_buf_puts(b, "\n");
      continue;
    }
    wire_buf_puts(b, "batch ");
    wire_buf_puts(b, wire_get(it, "id", NULL) ? wire_get(it, "id", NULL) : "-");
    wire_buf_puts(b, "\n");
    for (n = it->children; n != NULL; n = n->next) {
      wire_node nd;
      wire_edges es;
      wire_edge ed;
      const char *why;
      int cont, r;
      if (strcmp(n->name, "n") != 0) {
        log_bad(b, WIRE_GRAPH_BAD_CHILD, n->name, "a graph batch holds only node elements <n>");
        continue;
      }
      if (wire_node_read(n, &nd, &cont, &scratch, &why) != 0) {
        log_bad(b, WIRE_GRAPH_BAD_NODE, "n", why);
        continue;
      }
      log_node(b, &nd, cont);
      wire_edges_begin(n, &es);
      while ((r = wire_edges_next(&es, &ed)) != 0) {
        if (r > 0) log_edge(b, &ed, es.vtext, es.vlen);
        else log_bad(b, WIRE_GRAPH_BAD_EDGE, "?", es.why);
      }
    }
  }
  wire_buf_free(&scratch);
  return 0;
}

/* The record reader. Element names of bad edges are left out: the tree
** reader's iterator does not say which child failed. */
static int rec_batch(void *ud, const wire_elem *graph, const wire_msg *m) {
  wire_buf *b = ud;
  (void)m;
  assert_null(graph->children);
  wire_buf_puts(b, "batch ");
  wire_buf_puts(b, wire_get(graph, "id", NULL) ? wire_get(graph, "id", NULL) : "-");
  wire_buf_puts(b, "\n");
  return 0;
}

static int rec_node(void *ud, const wire_node *n, int cont) {
  log_node(ud, n, cont);
  return 0;
}

static int rec_edge(void *ud, const wire_edge *e, const char *vtext, size_t vlen) {
  log_edge(ud, e, vtext, vlen);
  return 0;
}

static int rec_bad(void *ud, int what, const char *element, const char *why) {
  log_bad(ud, what, what == WIRE_GRAPH_BAD_EDGE ? "?" : element, why);
  return 0;
}

static const wire_graph_fns rec_fns = {rec_batch, rec_node, rec_edge, rec_bad};

/* Parse s[0..n) in pieces of `step` bytes (0: whole) with either reader;
** return the log and the final status line. */
static const wire_limits *limits; /* for the next reads; NULL: defaults */

static char *read_with(const void *s, size_t n, size_t step, int records) {
  wire_buf b;
  wire_parser *p;
  enum wire_status st = WIRE_OK;
  size_t at = 0;
  char line[256];
  wire_buf_init(&b);
  p = wire_parser_new(limits, tree_message, &b);
  assert_non_null(p);
  if (records) wire_parser_graph(p, &rec_fns, &b);
  if (step == 0) step = n;
  while (st == WIRE_OK && at < n) {
    size_t k = n - at < step ? n - at : step;
    st = wire_parser_feed(p, (const char *)s + at, k);
    at += k;
  }
  if (st == WIRE_OK) st = wire_parser_finish(p);
  snprintf(line, sizeof line, "status %s %s\n", wire_status_name(st),
           st == WIRE_OK ? "" : wire_parser_error(p)->text);
  wire_buf_puts(&b, line);
  wire_buf_put(&b, "", 1);
  wire_parser_free(p);
  return b.data;
}

/* ---- the batches read --------------------------------------------- */

static void node(wire_buf *b, uint64_t id, const char *kind) {
  wire_node nd;
  memset(&nd, 0, sizeof nd);
  nd.id = id;
  nd.kind = kind;
  nd.has_size = 1;
  nd.size = 40 + id;
  nd.has_addr = 1;
  nd.addr = 0x55d0c1a2b3c0ull + id;
  wire_node_open(b, &nd);
}

static void edge(wire_buf *b, const char *kind, const char *name, wire_value v) {
  wire_edge ed;
  memset(&ed, 0, sizeof ed);
  ed.kind = kind;
  ed.name = name;
  ed.name_len = name ? strlen(name) : 0;
  ed.value = v;
  wire_edge_write(b, &ed);
}

static wire_value vint(int64_t i) {
  wire_value v = {WIRE_V_INT, {0}};
  v.u.i = i;
  return v;
}

static wire_value vref(uint64_t r) {
  wire_value v = {WIRE_V_REF, {0}};
  v.u.ref = r;
  return v;
}

/* A batch with every kind of record and field the writers make. */
static void write_batch(wire_buf *b) {
  char bytes[256], longk[300];
  wire_node nd;
  wire_edge ed;
  wire_value v;
  int i;
  for (i = 0; i < 256; i++) bytes[i] = (char)i;
  wire_frame_begin(b, 1);
  wire_open(b, "graph");
  wire_attr_u64(b, "id", 7);
  wire_attr_u64(b, "seq", 0);
  wire_open_end(b);
  node(b, 0, "root");
  edge(b, "root", "globals", vref(1));
  wire_node_close(b);
  node(b, 1, "table");
  memset(&ed, 0, sizeof ed);
  ed.kind = "key";
  ed.key.type = WIRE_V_FLOAT;
  ed.key.u.f = -0.0;
  ed.value = vref(2);
  wire_edge_write(b, &ed);
  ed.kind = "index";
  ed.key.type = WIRE_V_NONE;
  ed.has_index = 1;
  ed.index = -5;
  ed.value.type = WIRE_V_BOOL;
  ed.value.u.b = 1;
  wire_edge_write(b, &ed);
  edge(b, "field", "", vint(INT64_MIN));
  wire_run_open(b, "index", 1);
  v = vint(10);
  wire_run_value(b, &v);
  v.type = WIRE_V_NIL;
  wire_run_value(b, &v);
  v = vref(2);
  wire_run_value(b, &v);
  wire_run_close(b);
  wire_node_close(b);
  every_field_node(&nd, 2, bytes);
  nd.name = "n\0m";
  nd.name_len = 3;
  wire_node_open(b, &nd);
  wire_node_close(b);
  wire_node_continue(b, 1);
  edge(b, "field", "late", vint(3));
  wire_node_close(b);
  node(b, 3, "a-kind-restore-does-not-know");
  wire_node_close(b);
  /* kinds that just fit the record reader's stack room, and longer ones,
  ** which take the parser's buffer */
  memset(longk, 'q', sizeof longk - 1);
  longk[sizeof longk - 1] = '\0';
  node(b, 4, longk + sizeof longk - 256);
  edge(b, longk + sizeof longk - 256, NULL, vint(1));
  wire_node_close(b);
  node(b, 5, longk);
  edge(b, longk, NULL, vint(2));
  wire_node_close(b);
  wire_close(b, "graph");
  wire_frame_end(b);
}

/* What the writers never make, built token by token: literal attribute
** names, text, elements under an edge, a child of <graph> that is not a
** node, a child of a node that is not an edge, refused records. Then an
** item after the batch. */
static size_t odd_batch(unsigned char *out) {
  static const unsigned char body[] = {
    1,
    1, 0x81, 2, 0x93, 1, '9',                         /* <graph id="9"> */
    3, 2, 'h', 'i',                                   /* text */
    1, 0x82, 2, 0x85, 1, '4', 2, 0x86, 5, 't', 'a', 'b', 'l', 'e',
    2, 3, 'x', 't', 'r', 2, 'o', 'k',                 /* <n i=4 k=table xtr=ok> */
    3, 1, ' ',
    1, 0x83, 2, 0x86, 5, 'f', 'i', 'e', 'l', 'd', 2, 0x8b, 3, 'i', ':', '1',
    2, 1, 'q', 0,                                     /* <e k v q=""> */
    1, 3, 's', 'u', 'b', 4,                           /* <sub/> inside the edge */
    4,
    1, 1, 'w', 4,                                     /* <w/>: not an edge */
    1, 0x83, 2, 0x8b, 3, 'i', ':', '2', 4,            /* <e v>: no kind */
    1, 0x84, 2, 0x86, 1, 'i', 2, 0x85, 1, '1', 2, 0x8b, 7, 'i', ':', '1', ' ', 'b', 'a', 'd', 4,
    4,                                                /* </n> */
    1, 1, 'z', 4,                                     /* <z/> in the batch */
    1, 0x82, 2, 0x85, 1, '5', 4,                      /* <n i=5>: no kind */
    1, 0x83, 2, 0x86, 1, 'x', 2, 0x8b, 3, 'i', ':', '7', 4, /* its edge: skipped */
    1, 0x82, 2, 0x85, 1, '6', 2, 0x86, 1, 'x', 2, 0x91, 1, '1', 4, /* c=1 with k */
    4,                                                /* </graph> */
    1, 2, 'g', 'o', 4,                                /* <go/> */
  };
  out[0] = 0;
  out[1] = (unsigned char)sizeof body;
  out[2] = out[3] = out[4] = 0;
  memcpy(out + 5, body, sizeof body);
  return sizeof body + 5;
}

/* The status line that ends a log. */
static const char *last_line(const char *log) {
  const char *end = log + strlen(log) - 1, *p = end;
  while (p > log && p[-1] != '\n') p--;
  return p;
}

/* The same outcome: the same error, or no error and the same records. A
** frame found bad part-way may have handed over records before the bad
** byte (the consumer drops its batch), so only the error is compared then. */
static void expect_same(const void *s, size_t n, size_t step) {
  char *tree = read_with(s, n, step, 0), *rec = read_with(s, n, step, 1);
  const char *ts = last_line(tree), *rs = last_line(rec);
  assert_string_equal(rs, ts);
  if (strncmp(ts, "status ok", 9) == 0) assert_string_equal(rec, tree);
  free(tree);
  free(rec);
}

static void test_records_are_those_of_the_tree(void **state) {
  wire_buf b;
  unsigned char odd[512];
  size_t n;
  char *log;
  (void)state;
  wire_buf_init(&b);
  write_batch(&b);
  wire_buf_puts(&b, "<xsbug><go/></xsbug>");
  write_batch(&b);
  assert_false(b.oom);
  expect_same(b.data, b.len, 0);
  log = read_with(b.data, b.len, 0, 1);
  assert_non_null(strstr(log, "node 1 cont"));
  assert_non_null(strstr(log, "edge k=index i=1:3 key=0 v=5 n=- vtext=4032\n")); /* the run's "@2" */
  assert_string_equal(last_line(log), "status ok \n");
  free(log);
  n = odd_batch(odd);
  expect_same(odd, n, 0);
  log = read_with(odd, n, 0, 1);
  assert_non_null(strstr(log, "bad 0 <z>"));
  assert_non_null(strstr(log, "bad 2 <?> a node holds only edges"));
  assert_non_null(strstr(log, "bad 1 <n> node without a kind k"));
  assert_non_null(strstr(log, "item go\n"));
  free(log);
  wire_buf_free(&b);
}

static void test_records_under_any_split(void **state) {
  wire_buf b;
  size_t step;
  (void)state;
  wire_buf_init(&b);
  write_batch(&b);
  for (step = 1; step <= 64; step += step < 8 ? 1 : 13) expect_same(b.data, b.len, step);
  wire_buf_free(&b);
}

/* Every byte of a batch replaced by values that matter to the tokens:
** both readers accept the same frames, give the same records, and refuse
** the others with the same error at the same byte. */
static void test_damage_anywhere_gives_the_same_outcome(void **state) {
  static const unsigned char subst[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x30,
                                        0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x95, 0xff};
  wire_buf b;
  unsigned char odd[512];
  size_t k, j, n;
  (void)state;
  wire_buf_init(&b);
  write_batch(&b);
  for (k = 5; k < b.len; k++) {
    unsigned char keep = (unsigned char)b.data[k];
    for (j = 0; j < sizeof subst; j++) {
      b.data[k] = (char)subst[j];
      expect_same(b.data, b.len, 0);
    }
    b.data[k] = (char)keep;
  }
  n = odd_batch(odd);
  for (k = 5; k < n; k++) {
    unsigned char keep = odd[k];
    for (j = 0; j < sizeof subst; j++) {
      odd[k] = subst[j];
      expect_same(odd, n, 0);
    }
    odd[k] = keep;
  }
  /* cut short: the frame's length promises more than there is */
  for (k = 6; k < b.len; k++) expect_same(b.data, k, 0);
  wire_buf_free(&b);
}

/* Limits hold as they do for trees: nesting (the odd batch nests an
** element five deep, <xsbug> counted) and the length of values and text. */
static void test_limits(void **state) {
  wire_limits lim;
  unsigned char odd[512];
  size_t n = odd_batch(odd);
  char *log;
  unsigned depth;
  (void)state;
  wire_limits_default(&lim);
  limits = &lim;
  for (depth = 1; depth <= 6; depth++) {
    lim.max_depth = depth;
    expect_same(odd, n, 0);
  }
  lim.max_depth = 4;
  log = read_with(odd, n, 0, 1);
  assert_non_null(strstr(last_line(log), "deeper than limits.max_depth"));
  free(log);
  wire_limits_default(&lim);
  for (lim.max_attr = 0; lim.max_attr <= 8; lim.max_attr++) expect_same(odd, n, 0);
  limits = NULL;
}

/* A consumer may pass over a batch (it is still checked) or stop. */
static int skip_batch(void *ud, const wire_elem *graph, const wire_msg *m) {
  (void)ud;
  (void)graph;
  (void)m;
  return WIRE_GRAPH_SKIP;
}

static int take_batch(void *ud, const wire_elem *graph, const wire_msg *m) {
  (void)ud;
  (void)graph;
  (void)m;
  return 0;
}

/* Counts nodes; asks to stop at the second. */
static int count_node(void *ud, const wire_node *n, int cont) {
  (void)n;
  (void)cont;
  return ++*(int *)ud == 2;
}

static int any_edge(void *ud, const wire_edge *e, const char *vtext, size_t vlen) {
  (void)ud;
  (void)e;
  (void)vtext;
  (void)vlen;
  return 0;
}

static int any_bad(void *ud, int what, const char *element, const char *why) {
  (void)ud;
  (void)what;
  (void)element;
  (void)why;
  return 1;
}

static int no_message(void *ud, const wire_msg *m) {
  (void)ud;
  (void)m;
  return 0;
}

static enum wire_status feed_with(const wire_graph_fns *fns, int *nodes, const wire_buf *b) {
  wire_parser *p = wire_parser_new(NULL, no_message, NULL);
  enum wire_status st;
  assert_non_null(p);
  wire_parser_graph(p, fns, nodes);
  st = wire_parser_feed(p, b->data, b->len);
  wire_parser_free(p);
  return st;
}

static void test_skip_and_stop(void **state) {
  static const wire_graph_fns skipper = {skip_batch, count_node, any_edge, any_bad};
  static const wire_graph_fns taker = {take_batch, count_node, any_edge, any_bad};
  wire_buf b;
  int nodes = 0;
  (void)state;
  wire_buf_init(&b);
  write_batch(&b);
  assert_int_equal(feed_with(&skipper, &nodes, &b), WIRE_OK);
  assert_int_equal(nodes, 0);
  assert_int_equal(feed_with(&taker, &nodes, &b), WIRE_ESTOPPED);
  assert_int_equal(nodes, 2);
  /* a batch passed over is still checked: an unknown token in it fails */
  b.data[b.len - 2] = 0x07;
  nodes = 0;
  assert_int_equal(feed_with(&skipper, &nodes, &b), WIRE_ESYNTAX);
  assert_int_equal(nodes, 0);
  wire_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_records_are_those_of_the_tree),
    cmocka_unit_test(test_records_under_any_split),
    cmocka_unit_test(test_damage_anywhere_gives_the_same_outcome),
    cmocka_unit_test(test_limits),
    cmocka_unit_test(test_skip_and_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
