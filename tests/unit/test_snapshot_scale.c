/*
** test_snapshot_scale.c
** The walk is iterative and linear: a 1,000,000-deep chain of tables and
** 100,000 coroutines snapshot without recursion; frontiers wider than a
** Lua stack move to helper threads and give the very same graph.
*/
#include "test_snapshot_graph.h"

static void snap_path(lua_State *L, const char *root, tg_graph *g,
                      alua_stats *st, size_t anchor_slots) {
  const char *roots[] = {root};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.roots = roots;
  req.nroots = 1;
  req.anchor_slots = anchor_slots;
  wire_buf out;
  wire_buf_init(&out);
  tg_snap_req(L, &req, g, &out, st);
  wire_buf_free(&out);
}

/* A streaming reader for big snapshots: it checks ids and recomputes the
** hash as it goes, counts what the tests ask about, and never builds the
** graph in memory (which would cost more than the snapshot). */
typedef struct scan {
  wire_buf scratch;
  wire_hash hash;
  uint64_t nodes, threads, suspended, frames, protos;
  uint64_t links, falses;  /* chain: node i's "next" is node i + 1, or false */
  int64_t max_x;           /* coroutines: the largest local x */
  int chain;               /* check "next" fields */
  int ended, bad;
  char sent[17];
} scan;

static void scan_edge(scan *c, const wire_node *n, const wire_edge *e) {
  if (c->chain && strcmp(e->kind, "field") == 0 && e->name_len == 4 &&
      memcmp(e->name, "next", 4) == 0) {
    if (e->value.type == WIRE_V_REF && e->value.u.ref == n->id + 1) c->links++;
    else if (e->value.type == WIRE_V_BOOL) c->falses++;
    else c->bad = 1;
  }
  if (strcmp(e->kind, "local") == 0 && e->name_len == 1 && e->name[0] == 'x' &&
      e->value.type == WIRE_V_INT && e->value.u.i > c->max_x)
    c->max_x = e->value.u.i;
}

static int scan_message(void *ud, const wire_msg *m) {
  scan *c = ud;
  for (const wire_elem *it = m->items; it; it = it->next) {
    if (strcmp(it->name, "snapshot-end") == 0) {
      size_t len;
      const char *h = wire_get(it, "hash", &len);
      if (h && len == 16) memcpy(c->sent, h, 17);
      c->ended = 1;
    }
    if (strcmp(it->name, "graph") != 0) continue;
    for (const wire_elem *ne = it->children; ne; ne = ne->next) {
      wire_node n;
      int cont;
      const char *why;
      if (wire_node_read(ne, &n, &cont, &c->scratch, &why) != 0) { c->bad = 1; continue; }
      if (!cont) {
        if (n.id != c->nodes) c->bad = 1;
        c->nodes++;
        c->threads += strcmp(n.kind, "thread") == 0;
        c->suspended += n.status && strcmp(n.status, "suspended") == 0;
        c->frames += strcmp(n.kind, "frame") == 0;
        c->protos += strcmp(n.kind, "proto") == 0;
        wire_hash_node(&c->hash, &n);
      }
      wire_edges edges;
      wire_edge e;
      int r;
      wire_edges_begin(ne, &edges);
      while ((r = wire_edges_next(&edges, &e)) != 0) {
        if (r < 0) { c->bad = 1; break; }
        wire_hash_edge(&c->hash, &e);
        scan_edge(c, &n, &e);
      }
    }
  }
  return 0;
}

/* Snapshot one path root and scan the result. */
static void snap_scan(lua_State *L, const char *root, int chain, scan *c,
                      alua_stats *st) {
  const char *roots[] = {root};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.roots = roots;
  req.nroots = 1;
  wire_buf out;
  wire_buf_init(&out);
  const char *err;
  assert_int_equal(alua_snapshot(L, &req, &out, st, &err), 0);
  memset(c, 0, sizeof *c);
  c->chain = chain;
  wire_buf_init(&c->scratch);
  wire_hash_init(&c->hash);
  wire_parser *p = wire_parser_new(NULL, scan_message, c);
  assert_int_equal(wire_parser_feed(p, out.data, out.len), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  wire_parser_free(p);
  wire_buf_free(&c->scratch);
  assert_false(c->bad);
  assert_true(c->ended);
  char h[17];
  wire_hash_hex(&c->hash, h);
  assert_string_equal(h, c->sent);
  assert_string_equal(h, st->hash);
  wire_buf_free(&out);
}

static void test_million_deep_chain_needs_no_recursion(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "local t = false for i = 1, 1000000 do t = {next = t} end chain = t");
  scan c;
  alua_stats st;
  snap_scan(L, "path:chain", 1, &c, &st);
  assert_int_equal(c.nodes, 1000001);  /* the root and the chain */
  assert_int_equal(c.links, 999999);   /* each table points at the next id */
  assert_int_equal(c.falses, 1);       /* and the last one ends it */
  print_message("1e6 chain: snapshot %.0f ms, %.1f MB\n", st.pause_ms,
                (double)st.bytes / 1e6);
  lua_close(L);
}

static void test_hundred_thousand_coroutines(void **state) {
  (void)state;
  lua_State *L = tg_state();
  /* (a short chunk name: every frame node carries its function's source) */
  tg_run(L, "local body = load('return function(a) local x = a "
            "coroutine.yield(x) end', '=co')()\n"
            "cos = {} for i = 1, 100000 do\n"
            "  local co = coroutine.create(body)\n"
            "  coroutine.resume(co, i) cos[i] = co end");
  scan c;
  alua_stats st;
  snap_scan(L, "path:cos", 0, &c, &st);
  assert_int_equal(c.threads, 100000);
  assert_int_equal(c.suspended, 100000);
  assert_int_equal(c.frames, 200000);  /* yield + body each */
  assert_int_equal(c.protos, 1);
  assert_int_equal(c.max_x, 100000);
  print_message("1e5 coroutines: snapshot %.0f ms\n", st.pause_ms);
  lua_close(L);
}

static void test_helper_threads_give_the_same_graph(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "wide = {} for i = 1, 5000 do wide[i] = {i, tostring(i), {}} end");
  tg_graph a, b;
  alua_stats sa, sb;
  snap_path(L, "path:wide", &a, &sa, 0);
  snap_path(L, "path:wide", &b, &sb, 700);  /* about 15 helper threads */
  assert_string_equal(sa.hash, sb.hash);
  assert_int_equal(a.n, b.n);
  assert_int_equal(a.n, 1 + 1 + 5000 * 3);
  tg_free(&a);
  tg_free(&b);
  lua_close(L);
}

static void test_frontier_too_wide_fails_cleanly(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "wide = {} for i = 1, 2000 do wide[i] = {} end");
  const char *roots[] = {"path:wide"};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.id = 9;
  req.roots = roots;
  req.nroots = 1;
  req.anchor_slots = 10;  /* 64 stacks of 10 cannot hold 2000 */
  wire_buf out;
  wire_buf_init(&out);
  const char *err = NULL;
  int top = lua_gettop(L);
  assert_int_equal(alua_snapshot(L, &req, &out, NULL, &err), -1);
  assert_non_null(strstr(err, "too wide"));
  assert_int_equal(lua_gettop(L), top);
  assert_int_equal(lua_gc(L, LUA_GCISRUNNING, 0), 1);
  tg_graph g;
  tg_parse(&g, out.data, out.len);
  assert_true(g.errored);
  assert_false(g.begun);  /* the partial snapshot was dropped */
  tg_free(&g);
  /* the VM still works, and a normal snapshot still succeeds */
  tg_run(L, "wide[1].x = 1");
  wire_buf_reset(&out);
  req.anchor_slots = 0;
  assert_int_equal(alua_snapshot(L, &req, &out, NULL, &err), 0);
  wire_buf_free(&out);
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_million_deep_chain_needs_no_recursion),
      cmocka_unit_test(test_hundred_thousand_coroutines),
      cmocka_unit_test(test_helper_threads_give_the_same_graph),
      cmocka_unit_test(test_frontier_too_wide_fails_cleanly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
