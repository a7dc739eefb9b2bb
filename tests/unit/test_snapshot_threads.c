/*
** test_snapshot_threads.c
** Threads in the walk: every coroutine status, the frames of running,
** suspended and failed coroutines with their functions, locals and
** varargs, an unstarted coroutine's body, and the running thread's stack
** seen from a C function Lua called (as the agent's hook does).
*/
#include "test_snapshot_graph.h"

static wire_buf taken;   /* what snap() wrote */
static int snap_level;   /* stack_level for snap() */

/* snap(...): a snapshot of the calling thread, as the agent takes one. */
static int snap(lua_State *L) {
  const char *roots[] = {"globals", "stack", "threads"};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.roots = roots;
  req.nroots = 3;
  req.stack_level = snap_level;
  wire_buf_reset(&taken);
  int top = lua_gettop(L);
  const char *err;
  if (alua_snapshot(L, &req, &taken, NULL, &err) != 0)
    return luaL_error(L, "snapshot failed: %s", err);
  if (lua_gettop(L) != top) return luaL_error(L, "snapshot moved the stack");
  return 0;
}

static lua_State *snap_state(int level) {
  lua_State *L = tg_state();
  lua_pushcfunction(L, snap);
  lua_setglobal(L, "snap");
  wire_buf_init(&taken);
  snap_level = level;
  return L;
}

static tg_node *frame_at(tg_graph *g, tg_node *thread, int level) {
  tg_edge *e = tg_edge_index(thread, "frame", level);
  if (e == NULL) fail_msg("no frame %d", level);
  tg_node *f = tg_target(g, e);
  assert_string_equal(f->kind, "frame");
  return f;
}

static tg_edge *local_named(tg_node *frame, const char *name) {
  tg_edge *e = tg_edge_named(frame, "local", name);
  if (e == NULL) fail_msg("no local %s", name);
  return e;
}

static void test_suspended_coroutine_frames_locals_and_varargs(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "co = coroutine.create(function(a, ...)\n"
            "  local x = a * 2\n"
            "  local t = {tag = 's'}\n"
            "  coroutine.yield(x, 'out')\n"
            "end)\n"
            "coroutine.resume(co, 21, 'va1', 'va2')");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *co = tg_path(&g, "globals", "co");
  assert_string_equal(co->kind, "thread");
  assert_string_equal(co->status, "suspended");
  assert_true(co->size > 200);
  /* level 0 is coroutine.yield itself (resume took the yielded values) */
  tg_node *y = frame_at(&g, co, 0);
  tg_node *yf = tg_target(&g, tg_edge_kind(y, "function"));
  assert_string_equal(yf->kind, "exit");
  assert_string_equal(yf->name, "coroutine.yield");
  assert_string_equal(y->name, "yield");
  /* level 1 is the body */
  tg_node *f = frame_at(&g, co, 1);
  assert_string_equal(tg_target(&g, tg_edge_kind(f, "function"))->kind, "function");
  assert_true(f->has_line);
  assert_int_equal(f->line, 4);
  assert_non_null(strstr(f->source, "coroutine.create"));
  assert_int_equal(local_named(f, "a")->value.u.i, 21);
  assert_int_equal(local_named(f, "a")->index, 1);
  assert_int_equal(local_named(f, "x")->value.u.i, 42);
  tg_node *t = tg_target(&g, local_named(f, "t"));
  assert_string_equal(tg_target(&g, tg_edge_named(t, "field", "tag"))->value, "s");
  tg_edge *v1 = tg_edge_index(f, "vararg", 1), *v2 = tg_edge_index(f, "vararg", 2);
  assert_non_null(v1);
  assert_string_equal(tg_target(&g, v1)->value, "va1");
  assert_string_equal(tg_target(&g, v2)->value, "va2");
  assert_null(tg_edge_index(f, "vararg", 3));
  assert_null(tg_edge_index(co, "frame", 2));
  tg_free(&g);
  lua_close(L);
}

static void test_unstarted_dead_and_failed_coroutines(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "unstarted = coroutine.create(function(a) return a end)\n"
            "finished = coroutine.create(function() return 1 end)\n"
            "coroutine.resume(finished)\n"
            "failed = coroutine.create(function() local boom = 'b'; error('x') end)\n"
            "coroutine.resume(failed)");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *u = tg_path(&g, "globals", "unstarted");
  assert_string_equal(u->status, "unstarted");
  assert_string_equal(tg_target(&g, tg_edge_kind(u, "function"))->kind, "function");
  assert_null(tg_edge_kind(u, "frame"));
  tg_node *d = tg_path(&g, "globals", "finished");
  assert_string_equal(d->status, "dead");
  assert_int_equal(d->nedges, 0);
  tg_node *f = tg_path(&g, "globals", "failed");
  assert_string_equal(f->status, "dead");
  /* a coroutine that died of an error keeps its stack for inspection */
  int found = 0;
  for (int lv = 0; lv < 4 && tg_edge_index(f, "frame", lv); lv++) {
    tg_node *fr = frame_at(&g, f, lv);
    if (tg_edge_named(fr, "local", "boom")) found = 1;
  }
  assert_true(found);
  tg_free(&g);
  lua_close(L);
}

static void test_running_and_normal_threads_seen_from_inside(void **state) {
  (void)state;
  lua_State *L = snap_state(0);
  tg_run(L, "outer = coroutine.create(function()\n"
            "  local inner = coroutine.create(function(k) local mine = k; snap() end)\n"
            "  inner_ref = inner\n"
            "  coroutine.resume(inner, 'key')\n"
            "end)\n"
            "coroutine.resume(outer)");
  tg_graph g;
  tg_parse(&g, taken.data, taken.len);
  assert_false(g.errored);
  tg_node *stack = tg_target(&g, tg_edge_named(&g.nodes[0], "root", "stack"));
  assert_string_equal(stack->status, "running");
  assert_int_equal(tg_path(&g, "globals", "inner_ref")->id, stack->id);
  assert_string_equal(tg_path(&g, "globals", "outer")->status, "normal");
  tg_node *main = tg_target(&g, tg_edge_named(&g.nodes[0], "root", "threads"));
  assert_string_equal(main->status, "normal");
  /* level 0 is snap (a global's C function), level 1 the inner body */
  tg_node *f0 = frame_at(&g, stack, 0);
  assert_string_equal(tg_target(&g, tg_edge_kind(f0, "function"))->name, "snap");
  assert_null(tg_edge_kind(f0, "local"));  /* snap() had no arguments */
  tg_node *f1 = frame_at(&g, stack, 1);
  assert_string_equal(tg_target(&g, local_named(f1, "mine"))->value, "key");
  tg_free(&g);
  wire_buf_free(&taken);
  lua_close(L);
}

static void test_running_frame_shows_only_the_callers_values(void **state) {
  (void)state;
  lua_State *L = snap_state(0);
  tg_run(L, "wide = {} for i = 1, 500 do wide[i] = {} end\n"
            "local function f() local here = 'h'; snap(7, 8) end f()");
  tg_graph g;
  tg_parse(&g, taken.data, taken.len);
  tg_node *stack = tg_target(&g, tg_edge_named(&g.nodes[0], "root", "stack"));
  tg_node *f0 = frame_at(&g, stack, 0);
  /* exactly snap's two arguments: the walk's own anchors are not locals */
  size_t locals = 0;
  for (size_t i = 0; i < f0->nedges; i++) locals += strcmp(f0->edges[i].kind, "local") == 0;
  assert_int_equal(locals, 2);
  assert_int_equal(tg_edge_index(f0, "local", 1)->value.u.i, 7);
  assert_int_equal(tg_edge_index(f0, "local", 2)->value.u.i, 8);
  tg_node *f1 = frame_at(&g, stack, 1);
  assert_string_equal(f1->name, "f");
  assert_string_equal(tg_target(&g, local_named(f1, "here"))->value, "h");
  tg_node *f2 = frame_at(&g, stack, 2);
  assert_string_equal(f2->name, "main chunk");
  tg_free(&g);
  wire_buf_free(&taken);
  lua_close(L);
}

static void test_stack_level_skips_the_agents_own_frames(void **state) {
  (void)state;
  lua_State *L = snap_state(1);
  tg_run(L, "local function work(n) local acc = n + 1; snap() end work(41)");
  tg_graph g;
  tg_parse(&g, taken.data, taken.len);
  tg_node *stack = tg_target(&g, tg_edge_named(&g.nodes[0], "root", "stack"));
  assert_null(tg_edge_index(stack, "frame", 0));
  tg_node *f1 = frame_at(&g, stack, 1);
  assert_string_equal(f1->name, "work");
  assert_int_equal(local_named(f1, "acc")->value.u.i, 42);
  assert_int_equal(local_named(f1, "n")->value.u.i, 41);
  tg_free(&g);
  wire_buf_free(&taken);
  lua_close(L);
}

static void test_stack_thread_other_than_the_caller(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "co = coroutine.create(function() local deep = 'd'; coroutine.yield() end)\n"
            "coroutine.resume(co)");
  lua_getglobal(L, "co");
  lua_State *co = lua_tothread(L, -1);
  lua_pop(L, 1);
  const char *roots[] = {"stack"};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.roots = roots;
  req.nroots = 1;
  req.stack_thread = co;
  req.stack_level = 1;  /* skip yield */
  wire_buf out;
  wire_buf_init(&out);
  tg_graph g;
  tg_snap_req(L, &req, &g, &out, NULL);
  tg_node *stack = tg_target(&g, tg_edge_named(&g.nodes[0], "root", "stack"));
  assert_string_equal(stack->status, "suspended");
  assert_null(tg_edge_index(stack, "frame", 0));
  assert_string_equal(tg_target(&g, local_named(frame_at(&g, stack, 1), "deep"))->value, "d");
  assert_int_equal(lua_gettop(co), 0);  /* the coroutine's stack is as it was */
  wire_buf_free(&out);
  tg_free(&g);
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_suspended_coroutine_frames_locals_and_varargs),
      cmocka_unit_test(test_unstarted_dead_and_failed_coroutines),
      cmocka_unit_test(test_running_and_normal_threads_seen_from_inside),
      cmocka_unit_test(test_running_frame_shows_only_the_callers_values),
      cmocka_unit_test(test_stack_level_skips_the_agents_own_frames),
      cmocka_unit_test(test_stack_thread_other_than_the_caller),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
