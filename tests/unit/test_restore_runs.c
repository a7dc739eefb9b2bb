/*
** test_restore_runs.c
** Restore reads edge runs <r> (docs/protocol.md 5.4): a capture whose
** arrays travel as runs restores exactly what the same capture written
** edge by edge restores; streamed restores take runs too, count their
** expanded edges, and refuse a malformed run leaving the VM untouched.
*/
#include "test_restore_util.h"

/* ---- expanding a capture's runs into single <e> edges ------------------ */

/* Re-encode an element; inside a node, runs become the edges they stand
** for. Depth is bounded by the parser's nesting limit. */
static void write_expanded(wire_buf *b, const wire_elem *e)
{
  wire_open(b, e->name);
  for (size_t i = 0; i < e->nattrs; i++)
    wire_attr(b, e->attrs[i].name, e->attrs[i].value, e->attrs[i].len);
  if (!e->children && !e->text_len) {
    wire_empty_end(b);
    return;
  }
  wire_open_end(b);
  if (e->text_len) wire_text(b, e->text, e->text_len);
  for (const wire_elem *c = e->children; c; c = c->next) {
    if (strcmp(c->name, "r") != 0) {
      write_expanded(b, c);
      continue;
    }
    wire_run run;
    wire_edge edge;
    const char *why;
    int r;
    if (wire_run_begin(c, &run, &why) != 0) fail_msg("bad run: %s", why);
    while ((r = wire_run_next(&run, &edge)) > 0) wire_edge_write(b, &edge);
    if (r < 0) fail_msg("bad run value: %s", run.why);
  }
  wire_close(b, e->name);
}

typedef struct expander {
  wire_buf out;
  uint64_t runs;
} expander;

static int expand_message(void *ud, const wire_msg *m)
{
  expander *x = ud;
  wire_msg_begin(&x->out);
  for (const wire_elem *it = m->items; it; it = it->next) {
    if (strcmp(it->name, "graph") == 0)
      for (const wire_elem *n = it->children; n; n = n->next)
        for (const wire_elem *c = n->children; c; c = c->next)
          x->runs += strcmp(c->name, "r") == 0;
    write_expanded(&x->out, it);
  }
  wire_msg_end(&x->out);
  return 0;
}

/* A copy of the capture in with no runs; returns how many runs it had. */
static uint64_t expand_capture(const wire_buf *in, wire_buf *out)
{
  expander x;
  memset(&x, 0, sizeof x);
  wire_buf_init(&x.out);
  wire_parser *p = wire_parser_new(NULL, expand_message, &x);
  assert_non_null(p);
  assert_int_equal(wire_parser_feed(p, in->data, in->len), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  wire_parser_free(p);
  assert_false(x.out.oom);
  *out = x.out;
  return x.runs;
}

static const char arrays[] =
  "ints = {} for i = 1, 10000 do ints[i] = i * 3 end\n"
  "mixed = {1, 2.5, 'three', true, {4}, print, -0.0, 1/0, math.mininteger}\n"
  "holes = {1, 2, nil, 4, 5}; holes[100] = 100; holes[101] = 101\n"
  "extreme = {[math.maxinteger - 1] = 'a', [math.maxinteger] = 'b', [-1] = 'c'}\n"
  "grid = {} for r = 1, 30 do grid[r] = {} for c = 1, 30 do grid[r][c] = r * c end end\n"
  "shared = {} for i = 1, 50 do shared[i] = grid[i % 30 + 1] end\n";

static void check_arrays(lua_State *L)
{
  tr_expect(L, "#ints .. ' ' .. ints[1] .. ' ' .. ints[4097] .. ' ' .. ints[10000]",
            "10000 3 12291 30000");
  tr_expect(L, "mixed[2] .. mixed[3] .. tostring(mixed[4]) .. mixed[5][1]",
            "2.5threetrue4");
  tr_expect(L, "mixed[6] == print and 1/mixed[7] == -1/0 and mixed[8] == 1/0"
               " and mixed[9] == math.mininteger", "true");
  tr_expect(L, "tostring(holes[3]) .. holes[4] .. holes[100] .. holes[101]",
            "nil4100101");
  tr_expect(L, "extreme[math.maxinteger - 1] .. extreme[math.maxinteger] .. extreme[-1]",
            "abc");
  tr_expect(L, "grid[7][9] .. ' ' .. tostring(shared[1] == grid[2])", "63 true");
}

static void test_run_and_single_edge_captures_restore_the_same(void **state)
{
  (void)state;
  lua_State *src = tr_state();
  tr_run(src, arrays);
  wire_buf runs, single;
  wire_buf_init(&runs);
  tr_snapshot(src, tr_globals_only, 1, &runs);
  uint64_t nruns = expand_capture(&runs, &single);
  assert_true(nruns > 30);
  assert_true(single.len > 3 * runs.len);

  alua_restore_opts o;
  memset(&o, 0, sizeof o);
  alua_restore_report ra, rb;
  lua_State *a = tr_state(), *b = tr_state();
  tr_restore(a, &runs, &o, &ra);
  tr_restore(b, &single, &o, &rb);
  assert_true(ra.nodes == rb.nodes && ra.edges == rb.edges);
  check_arrays(a);
  check_arrays(b);
  char *want = tr_canon(src, tr_globals_only, 1);
  char *got_a = tr_canon(a, tr_globals_only, 1);
  char *got_b = tr_canon(b, tr_globals_only, 1);
  tr_same_canon(want, got_a);
  tr_same_canon(want, got_b);
  free(want);
  free(got_a);
  free(got_b);
  alua_restore_report_free(&ra);
  alua_restore_report_free(&rb);
  lua_close(a);
  lua_close(b);
  lua_close(src);
  wire_buf_free(&runs);
  wire_buf_free(&single);
}

/* ---- streamed restores with hand-made runs ----------------------------- */

/* The restore stream of: globals {arr = {10, 20, 1.5, true, "hi"}}, its
** array as one run of text vals (or a single edge per entry if vals is
** NULL); end_edges adjusts the announced edge count. */
static void restore_stream(wire_buf *b, const char *vals, int64_t end_edges)
{
  static const wire_value v[] = {
    {WIRE_V_INT, {.i = 10}}, {WIRE_V_INT, {.i = 20}}, {WIRE_V_FLOAT, {.f = 1.5}},
    {WIRE_V_BOOL, {.b = 1}}, {WIRE_V_REF, {.ref = 3}}};
  wire_hash h;
  wire_node n;
  wire_edge e;
  char hex[17];
  wire_hash_init(&h);
  wire_buf_init(b);
  wire_command_open(b, "restore");
  wire_attr_str(b, "id", "1");
  wire_attr_str(b, "mode", "merge");
  wire_command_close(b);
  wire_buf_puts(b, "\r\n");
  wire_open(b, "graph");
  wire_attr_str(b, "id", "1");
  wire_attr_str(b, "seq", "0");
  wire_open_end(b);
  memset(&n, 0, sizeof n);
  n.kind = "root";
  wire_node_open(b, &n);
  wire_hash_node(&h, &n);
  memset(&e, 0, sizeof e);
  e.kind = "root"; e.name = "globals"; e.name_len = 7;
  e.value.type = WIRE_V_REF; e.value.u.ref = 1;
  wire_edge_write(b, &e);
  wire_hash_edge(&h, &e);
  wire_node_close(b);
  n.id = 1; n.kind = "table";
  wire_node_open(b, &n);
  wire_hash_node(&h, &n);
  e.kind = "field"; e.name = "arr"; e.name_len = 3; e.value.u.ref = 2;
  wire_edge_write(b, &e);
  wire_hash_edge(&h, &e);
  wire_node_close(b);
  n.id = 2;
  wire_node_open(b, &n);
  wire_hash_node(&h, &n);
  if (vals) {
    wire_buf_puts(b, "<r k=\"index\" i=\"1\" v=\"");
    wire_buf_puts(b, vals);
    wire_buf_puts(b, "\"/>");
  }
  memset(&e, 0, sizeof e);
  e.kind = "index";
  e.has_index = 1;
  for (int i = 0; i < 5; i++) {
    e.index = i + 1;
    e.value = v[i];
    if (!vals) wire_edge_write(b, &e);
    wire_hash_edge(&h, &e);
  }
  wire_node_close(b);
  memset(&n, 0, sizeof n);
  n.id = 3; n.kind = "string"; n.value = "hi"; n.value_len = 2; n.has_value = 1;
  wire_node_open(b, &n);
  wire_hash_node(&h, &n);
  wire_node_close(b);
  wire_close(b, "graph");
  wire_hash_hex(&h, hex);
  wire_command_open(b, "restore-end");
  wire_attr_str(b, "id", "1");
  wire_attr_str(b, "nodes", "4");
  wire_attr_i64(b, "edges", 7 + end_edges);
  wire_attr_str(b, "hash", hex);
  wire_command_close(b);
  assert_false(b->oom);
}

typedef struct session {
  lua_State *L;
  alua_restore *slot;
  wire_buf reply;
} session;

static int dispatch(void *ud, const wire_msg *m)
{
  session *s = ud;
  static const alua_restore_opts o;
  for (const wire_elem *it = m->items; it; it = it->next)
    assert_int_equal(alua_restore_dispatch(&s->slot, s->L, it, &o, &s->reply), 1);
  return 0;
}

/* Feed a restore stream to a fresh VM; the reply's text (NUL-ended). */
static void run_restore(session *s, const wire_buf *stream)
{
  s->L = tr_state();
  s->slot = NULL;
  wire_buf_init(&s->reply);
  wire_parser *p = wire_parser_new(NULL, dispatch, s);
  assert_non_null(p);
  assert_int_equal(wire_parser_feed(p, stream->data, stream->len), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  wire_parser_free(p);
  assert_null(s->slot);
  wire_buf_put(&s->reply, "", 1);
}

static void end_session(session *s)
{
  lua_close(s->L);
  wire_buf_free(&s->reply);
}

static void test_streamed_restore_takes_runs(void **state)
{
  (void)state;
  const char *forms[] = {"i:10 i:20 f:0x1.8p+0 true @3", NULL};
  for (int k = 0; k < 2; k++) {
    wire_buf stream;
    session s;
    restore_stream(&stream, forms[k], 0);
    run_restore(&s, &stream);
    if (!strstr(s.reply.data, "<restore-done id=\"1\" nodes=\"4\""))
      fail_msg("form %d: %s", k, s.reply.data);
    tr_expect(s.L, "#arr .. ' ' .. arr[1] + arr[2] .. ' ' .. arr[3] .. ' ' .."
                   " tostring(arr[4]) .. ' ' .. arr[5]", "5 30 1.5 true hi");
    end_session(&s);
    wire_buf_free(&stream);
  }
}

static void expect_error(const char *vals, int64_t end_edges, const char *words)
{
  wire_buf stream;
  session s;
  restore_stream(&stream, vals, end_edges);
  run_restore(&s, &stream);
  if (!strstr(s.reply.data, "<restore-error id=\"1\"") ||
      !strstr(s.reply.data, words))
    fail_msg("run \"%s\": %s", vals, s.reply.data);
  tr_expect(s.L, "arr", "nil");
  end_session(&s);
  wire_buf_free(&stream);
}

static void test_malformed_runs_are_refused_and_the_vm_untouched(void **state)
{
  (void)state;
  expect_error("i:10 i:20 f:1.5 true @3", 0, "not a valid value");
  expect_error("i:10 i:20  f:0x1.8p+0 true @3", 0, "single spaces");
  expect_error("", 0, "empty run");
  /* a run counts as the edges it stands for, not as one */
  expect_error("i:10 i:20 f:0x1.8p+0 true @3", -4, "incomplete graph");
  /* the values of a run are hashed: one changed is a hash mismatch */
  expect_error("i:10 i:21 f:0x1.8p+0 true @3", 0, "hash mismatch");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_run_and_single_edge_captures_restore_the_same),
    cmocka_unit_test(test_streamed_restore_takes_runs),
    cmocka_unit_test(test_malformed_runs_are_refused_and_the_vm_untouched),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
