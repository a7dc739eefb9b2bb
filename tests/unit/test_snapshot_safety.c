/*
** test_snapshot_safety.c
** The walk has no side effects: no metamethod, finalizer, hook or other
** Lua code runs; the collector's state (running or stopped, incremental or
** generational) is put back; an unchanged VM snapshots to the same bytes.
*/
#include "test_snapshot_graph.h"

static int calls;  /* every instrumented metamethod bumps it */

static int counted(lua_State *L) {
  calls++;
  lua_pushinteger(L, 1);
  return 1;
}

static const char *const events[] = {
    "__index", "__newindex", "__pairs", "__len", "__eq", "__lt", "__le",
    "__concat", "__call", "__tostring", "__gc", "__close", "__unm", "__add",
    "__name", "__metatable", NULL};

/* A metatable on the stack whose every event is the counting function;
** __mode and __name are plain strings as Lua wants them. */
static void push_trap_metatable(lua_State *L, const char *mode) {
  lua_newtable(L);
  for (int i = 0; events[i]; i++) {
    if (strcmp(events[i], "__name") == 0) lua_pushstring(L, "Trap");
    else lua_pushcfunction(L, counted);
    lua_setfield(L, -2, events[i]);
  }
  if (mode) {
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
  }
}

/* A heap full of traps: tables, weak tables, userdata with user values,
** the string and number metatables, a coroutine holding a to-be-closed
** variable, objects awaiting finalization, and a debug hook. */
static lua_State *trapped_state(void) {
  lua_State *L = tg_state();
  lua_pushcfunction(L, counted);
  lua_setglobal(L, "count");
  lua_newtable(L);
  push_trap_metatable(L, NULL);
  lua_setmetatable(L, -2);
  lua_setglobal(L, "plain");
  for (int i = 0; i < 3; i++) {
    lua_newtable(L);
    lua_pushinteger(L, 1);
    lua_newtable(L);
    lua_settable(L, -3);
    push_trap_metatable(L, i == 0 ? "k" : i == 1 ? "v" : "kv");
    lua_setmetatable(L, -2);
    lua_setglobal(L, i == 0 ? "weak_k" : i == 1 ? "weak_v" : "weak_kv");
  }
  lua_newuserdatauv(L, 16, 2);
  push_trap_metatable(L, NULL);
  lua_setmetatable(L, -2);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);
  lua_setglobal(L, "ud");
  lua_pushstring(L, "");
  lua_getmetatable(L, -1);
  lua_pushcfunction(L, counted);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 2);
  lua_pushinteger(L, 0);
  push_trap_metatable(L, NULL);
  lua_setmetatable(L, -2);  /* debug.setmetatable(0, trap) */
  lua_pop(L, 1);
  tg_run(L, "local trap = debug.getmetatable(plain)\n"
            "co = coroutine.create(function()\n"
            "  local guard <close> = setmetatable({}, trap)\n"
            "  coroutine.yield(1)\n"
            "end)\n"
            "coroutine.resume(co)\n"
            "for i = 1, 50 do setmetatable({}, trap) end  -- garbage to finalize\n"
            "keys = {[setmetatable({}, trap)] = setmetatable({}, trap)}");
  return L;
}

static void hook(lua_State *L, lua_Debug *ar) {
  (void)L;
  (void)ar;
  calls++;
}

static void test_no_metamethod_finalizer_or_hook_runs(void **state) {
  (void)state;
  lua_State *L = trapped_state();
  calls = 0;
  lua_sethook(L, hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
  tg_graph g;
  tg_snap(L, &g, "globals", "registry", "stack", "loaded", "threads", NULL);
  assert_int_equal(calls, 0);
  /* the traps were walked, not skipped */
  tg_node *plain = tg_path(&g, "globals", "plain");
  assert_string_equal(plain->type, "Trap");
  assert_string_equal(tg_path(&g, "globals", "weak_kv")->mode, "kv");
  assert_string_equal(tg_path(&g, "globals", "co")->status, "suspended");
  assert_non_null(tg_edge_named(&g.nodes[0], "root", "metatable:number"));
  tg_free(&g);
  lua_sethook(L, NULL, 0, 0);
  lua_close(L);
}

static void test_helper_threads_made_under_a_call_hook_run_no_hook(void **state) {
  (void)state;
  lua_State *L = trapped_state();
  tg_run(L, "wide = {} for i = 1, 3000 do wide[i] = {i} end");
  calls = 0;
  lua_sethook(L, hook, LUA_MASKCALL | LUA_MASKRET, 0);
  const char *roots[] = {"globals"};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.roots = roots;
  req.nroots = 1;
  req.anchor_slots = 500;  /* forces helper threads */
  wire_buf out;
  wire_buf_init(&out);
  tg_graph g;
  tg_snap_req(L, &req, &g, &out, NULL);
  assert_int_equal(calls, 0);
  assert_int_equal(tg_path(&g, "globals", "wide")->nedges, 3000);
  lua_sethook(L, NULL, 0, 0);
  wire_buf_free(&out);
  tg_free(&g);
  lua_close(L);
}

static void check_gc_state(int running, int generational) {
  lua_State *L = trapped_state();
  lua_gc(L, generational ? LUA_GCGEN : LUA_GCINC, 0, 0);
  if (!running) lua_gc(L, LUA_GCSTOP, 0);
  tg_graph g;
  tg_snap(L, &g, NULL);
  tg_free(&g);
  assert_int_equal(lua_gc(L, LUA_GCISRUNNING, 0), running);
  /* switching to the mode we expect returns the mode it was in */
  int was = lua_gc(L, generational ? LUA_GCGEN : LUA_GCINC, 0, 0);
  assert_int_equal(was, generational ? LUA_GCGEN : LUA_GCINC);
  lua_gc(L, LUA_GCRESTART, 0);
  lua_close(L);
}

static void test_collector_running_incremental_is_restored(void **state) {
  (void)state;
  check_gc_state(1, 0);
}

static void test_collector_stopped_incremental_is_restored(void **state) {
  (void)state;
  check_gc_state(0, 0);
}

static void test_collector_running_generational_is_restored(void **state) {
  (void)state;
  check_gc_state(1, 1);
}

static void test_collector_stopped_generational_is_restored(void **state) {
  (void)state;
  check_gc_state(0, 1);
}

/* Blank out the digits of time="…" so two snapshots can be compared. */
static void blank_time(wire_buf *b) {
  char *t = memmem(b->data, b->len, " time=\"", 7);
  assert_non_null(t);
  for (t += 7; *t != '"'; t++) *t = '0';
}

static void test_unchanged_vm_snapshots_identically(void **state) {
  (void)state;
  lua_State *L = trapped_state();
  tg_run(L, "local up = {1, 2.5, 'x'}\n"
            "fns = {function() return up end, function() return up end}\n"
            "co2 = coroutine.wrap(function(...) coroutine.yield(...) end); co2(1, 2)\n"
            "nested = {a = {b = {c = {}}}}; nested.a.b.c.back = nested");
  alua_request req;
  memset(&req, 0, sizeof req);
  req.id = 3;
  wire_buf a, b;
  wire_buf_init(&a);
  wire_buf_init(&b);
  alua_stats sa, sb;
  const char *err;
  calls = 0;
  assert_int_equal(alua_snapshot(L, &req, &a, &sa, &err), 0);
  assert_int_equal(alua_snapshot(L, &req, &b, &sb, &err), 0);
  assert_int_equal(calls, 0);
  assert_string_equal(sa.hash, sb.hash);
  assert_int_equal(sa.nodes, sb.nodes);
  assert_int_equal(sa.edges, sb.edges);
  assert_int_equal(a.len, b.len);
  blank_time(&a);
  blank_time(&b);
  assert_memory_equal(a.data, b.data, a.len);
  /* and a third after the VM ran on, collected and changed: different */
  tg_run(L, "collectgarbage() nested.extra = 1");
  wire_buf c;
  wire_buf_init(&c);
  alua_stats sc;
  assert_int_equal(alua_snapshot(L, &req, &c, &sc, &err), 0);
  assert_string_not_equal(sa.hash, sc.hash);
  wire_buf_free(&a);
  wire_buf_free(&b);
  wire_buf_free(&c);
  lua_close(L);
}

static void test_stats_match_what_was_sent(void **state) {
  (void)state;
  lua_State *L = trapped_state();
  alua_request req;
  memset(&req, 0, sizeof req);
  wire_buf out;
  wire_buf_init(&out);
  wire_buf_puts(&out, "earlier bytes stay");
  size_t before = out.len;
  alua_stats st;
  tg_graph g;
  const char *err;
  assert_int_equal(alua_snapshot(L, &req, &out, &st, &err), 0);
  assert_int_equal(st.bytes, out.len - before);
  assert_memory_equal(out.data, "earlier bytes stay", before);
  tg_parse(&g, out.data + before, out.len - before);
  assert_int_equal(st.nodes, g.n);
  assert_int_equal(st.edges, g.end_edges);
  assert_string_equal(st.hash, g.hash);
  assert_true(st.pause_ms > 0);
  assert_true(st.stubs > 0);  /* the counting C function */
  size_t stubs = tg_count(&g, "stub"), exits = tg_count(&g, "exit");
  assert_int_equal(st.stubs, stubs);
  assert_int_equal(st.exits, exits);
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}

static void test_request_fields_reach_snapshot_begin(void **state) {
  (void)state;
  lua_State *L = tg_state();
  alua_request req;
  memset(&req, 0, sizeof req);
  req.id = 77;
  req.label = "before <reload> & \"after\"";
  req.reason = "crash";
  req.error = "boom";
  req.traceback = "stack traceback:\n\t[C]: in ?";
  wire_buf out;
  wire_buf_init(&out);
  tg_graph g;
  tg_snap_req(L, &req, &g, &out, NULL);
  assert_string_equal(g.label, "before <reload> & \"after\"");
  assert_string_equal(g.reason, "crash");
  assert_true(g.time > 1600000000000ull);
  assert_non_null(memmem(out.data, out.len, "<graph id=\"77\"", 14));
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}


/* An allocator that fails the first large allocation after being armed,
** as a VM with a memory limit would. */
static int fail_armed, failures;

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if (fail_armed && nsize > 64 * 1024) {
    fail_armed = 0;
    failures++;
    return NULL;  /* Lua now runs an emergency collection and retries */
  }
  return realloc(ptr, nsize);
}

static void test_allocation_failure_mid_walk_is_survived(void **state) {
  (void)state;
  lua_State *L = lua_newstate(limited_alloc, NULL);
  luaL_openlibs(L);
  /* pad makes the walk large enough to hash on a helper thread; weak's
  ** userdata (its hash record points at its bytes) is held by nothing
  ** else; inner's 6000 children grow the walk's stack: that growth fails,
  ** and Lua runs an emergency collection in the middle of the walk. */
  tg_run(L, "pad = {} for i = 1, 70000 do pad[i] = i end\n"
            "weak = setmetatable({}, {__mode = 'v'})\n"
            "wide = {inner = {}} for i = 1, 6000 do wide.inner[i] = {} end");
  lua_getglobal(L, "weak");
  memset(lua_newuserdatauv(L, 4096, 0), 0x5a, 4096);
  lua_rawseti(L, -2, 1);
  lua_pop(L, 1);  /* no collection runs before the snapshot: no Lua code */
  const char *roots[] = {"path:pad", "path:weak", "path:wide"};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.roots = roots;
  req.nroots = 3;
  wire_buf out;
  wire_buf_init(&out);
  tg_graph g;
  failures = 0;
  fail_armed = 1;
  tg_snap_req(L, &req, &g, &out, NULL);  /* parses and checks the hash */
  fail_armed = 0;
  assert_int_equal(failures, 1);
  tg_node *ud = tg_target(&g, tg_edge_index(tg_target(&g, tg_edge_named(&g.nodes[0], "root", "path:weak")), "index", 1));
  assert_int_equal(ud->payload_len, 4096);
  assert_int_equal(ud->payload[4095], 0x5a);
  assert_int_equal(tg_target(&g, tg_edge_named(&g.nodes[0], "root", "path:pad"))->nedges, 70000);
  tg_node *wide = tg_target(&g, tg_edge_named(&g.nodes[0], "root", "path:wide"));
  assert_int_equal(tg_target(&g, tg_edge_named(wide, "field", "inner"))->nedges, 6000);
  /* the allocator is the VM's own again */
  void *aud;
  assert_true(lua_getallocf(L, &aud) == limited_alloc);
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_metamethod_finalizer_or_hook_runs),
      cmocka_unit_test(test_helper_threads_made_under_a_call_hook_run_no_hook),
      cmocka_unit_test(test_collector_running_incremental_is_restored),
      cmocka_unit_test(test_collector_stopped_incremental_is_restored),
      cmocka_unit_test(test_collector_running_generational_is_restored),
      cmocka_unit_test(test_collector_stopped_generational_is_restored),
      cmocka_unit_test(test_unchanged_vm_snapshots_identically),
      cmocka_unit_test(test_stats_match_what_was_sent),
      cmocka_unit_test(test_request_fields_reach_snapshot_begin),
      cmocka_unit_test(test_allocation_failure_mid_walk_is_survived),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
