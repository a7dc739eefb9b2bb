/*
** test_restore_vm.c
** How a restore meets the fresh VM: exits by name, merge and replace of
** the globals, path and type-metatable roots, coroutines, userdata and
** files, placeholders, and amber.crash for post-mortem inspection.
*/
#include "test_restore_util.h"

static const alua_restore_opts trusted = {.trust_bytecode = 1};

/* Snapshot src with roots, restore into dst with o; rep gets the report. */
static void move_state(lua_State *src, lua_State *dst, const char *const *roots,
                       size_t nroots, const alua_restore_opts *o,
                       alua_restore_report *rep)
{
  wire_buf bytes;
  wire_buf_init(&bytes);
  tr_snapshot(src, roots, nroots, &bytes);
  tr_restore(dst, &bytes, o, rep);
  wire_buf_free(&bytes);
}

static void test_exits_resolve_to_the_fresh_vms_functions(void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state();
  tr_run(L, "fmt = string.format\n"
            "out = io.stdout\n"
            "lib = {len = string.len, insert = table.insert}\n");
  tr_run(R, "fresh_format = string.format; fresh_stdout = io.stdout");
  alua_restore_report rep;
  move_state(L, R, tr_globals_registry, 2, &trusted, &rep);
  tr_expect(R, "rawequal(fmt, fresh_format) and rawequal(fmt, string.format)",
            "true");
  tr_expect(R, "rawequal(out, fresh_stdout) and io.type(out)", "file");
  tr_expect(R, "lib.len('abc') .. fmt('%03d', 7)", "3007");
  /* The libraries are the fresh VM's own tables, not copies. */
  tr_expect(R, "getmetatable('').__index == string", "true");
  tr_expect(R, "package.loaded.string == string", "true");
  assert_int_equal(rep.nplaceholders, 0);
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static int custom_c_function(lua_State *L)
{
  lua_pushinteger(L, 7);
  return 1;
}

static void test_missing_library_becomes_a_reported_placeholder(void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state();
  /* A host library the fresh VM does not open. */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_newtable(L);
  lua_pushcfunction(L, custom_c_function);
  lua_setfield(L, -2, "seven");
  lua_pushvalue(L, -1);
  lua_setglobal(L, "hostlib");
  lua_setfield(L, -2, "hostlib");
  lua_pop(L, 1);
  tr_run(L, "seven = hostlib.seven");
  alua_restore_report rep;
  move_state(L, R, tr_globals_only, 1, &trusted, &rep);
  assert_true(rep.nplaceholders >= 1);
  assert_true(tr_has_placeholder(&rep, "hostlib.seven"));
  tr_expect(R, "getmetatable(seven).__name", "amber.placeholder");
  tr_expect(R, "seven.reason:match('hostlib.seven') ~= nil", "true");
  tr_expect(R, "debug.getregistry()['amber.placeholders'][seven] == "
               "seven.reason", "true");
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static void test_merge_keeps_fresh_globals_and_replace_drops_them(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  tr_run(L, "shared = 'snapshot'; only_snap = 1");
  lua_State *M = tr_state(), *P = tr_state();
  const char *fresh = "shared = 'fresh'; only_fresh = 2";
  tr_run(M, fresh);
  tr_run(P, fresh);
  alua_restore_report rep;
  move_state(L, M, tr_globals_registry, 2, &trusted, &rep);
  alua_restore_report_free(&rep);
  tr_expect(M, "shared .. ' ' .. only_snap .. ' ' .. only_fresh",
            "snapshot 1 2");
  alua_restore_opts replace = trusted;
  replace.replace = 1;
  move_state(L, P, tr_globals_registry, 2, &replace, &rep);
  alua_restore_report_free(&rep);
  tr_expect(P, "shared .. ' ' .. only_snap .. ' ' .. tostring(only_fresh)",
            "snapshot 1 nil");
  tr_expect(P, "type(print) .. type(string.rep)", "functionfunction");
  lua_close(P);
  lua_close(M);
  lua_close(L);
}

static void test_path_root_is_rebound_under_the_globals(void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state();
  tr_run(L, "app = {state = {level = 3, name = 'demo'}, noise = {}}");
  static const char *const roots[] = {"path:app.state"};
  alua_restore_report rep;
  move_state(L, R, roots, 1, &trusted, &rep);
  tr_expect(R, "app.state.level .. app.state.name", "3demo");
  tr_expect(R, "app.noise", "nil");
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static void test_type_metatables_come_back(void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state();
  tr_run(L, "debug.setmetatable(0, {__index = {double = function(x) "
            "return 2 * x end}})\n"
            "string.shout = function(s) return s:upper() .. '!' end");
  alua_restore_report rep;
  move_state(L, R, tr_globals_registry, 2, &trusted, &rep);
  tr_expect(R, "(21):double()", "42");
  tr_expect(R, "('hey'):shout()", "HEY!");
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static void test_unstarted_and_dead_coroutines_are_restored(void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state();
  tr_run(L, "local base = 10\n"
            "fresh = coroutine.create(function(a) local b = coroutine.yield(a "
            "+ base) return a + b end)\n"
            "done = coroutine.create(function() return 1 end)\n"
            "coroutine.resume(done)\n"
            "gen = {next = coroutine.wrap(function() coroutine.yield('w') "
            "end)}\n");
  alua_restore_report rep;
  move_state(L, R, tr_globals_registry, 2, &trusted, &rep);
  tr_expect(R, "coroutine.status(fresh) .. ' ' .. coroutine.status(done)",
            "suspended dead");
  tr_expect(R, "select(2, coroutine.resume(fresh, 5))", "15");
  tr_expect(R, "select(2, coroutine.resume(fresh, 100))", "105");
  tr_expect(R, "gen.next()", "w");
  tr_expect(R, "coroutine.resume(done)", "false");
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static void test_suspended_coroutine_is_a_dead_placeholder_with_frames(
    void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state();
  tr_run(L, "co = coroutine.create(function(x) local secret = x * 2 "
            "coroutine.yield(secret) end)\n"
            "coroutine.resume(co, 21)\n");
  alua_restore_report rep;
  move_state(L, R, tr_globals_registry, 2, &trusted, &rep);
  assert_int_equal(rep.nplaceholders, 1);
  assert_true(tr_has_placeholder(&rep, "coroutine suspended"));
  tr_expect(R, "type(co) .. ' ' .. coroutine.status(co)", "thread dead");
  tr_expect(R, "debug.getregistry()['amber.placeholders'][co]:match("
               "'suspended') ~= nil", "true");
  /* Its frames stay readable as data. */
  tr_run(R, "crash = debug.getregistry()['amber.crash']\n"
            "for _, t in ipairs(crash.threads) do\n"
            "  if t.thread == co then frames = t.frames end\n"
            "end\n"
            "for _, l in ipairs(frames[#frames].locals) do\n"
            "  if l.name == 'secret' then secret = l.value end\n"
            "end\n");
  tr_expect(R, "secret", "42");
  tr_expect(R, "type(frames[#frames].func)", "function");
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static void test_crash_snapshot_exposes_error_frames_and_locals(void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state();
  tr_run(L, "function handler(req) local user = req.user local n = #user "
            "coroutine.yield() end\n"
            "co = coroutine.create(handler)\n"
            "coroutine.resume(co, {user = 'ada'})\n");
  lua_getglobal(L, "co");
  alua_request req;
  memset(&req, 0, sizeof req);
  req.id = 5;
  req.reason = "crash";
  req.error = "app.lua:1: attempt to index a nil value";
  req.traceback = "stack traceback:\n\tapp.lua:1: in function 'handler'";
  req.stack_thread = lua_tothread(L, -1);
  static const char *const roots[] = {"globals", "stack"};
  req.roots = roots;
  req.nroots = 2;
  wire_buf bytes;
  wire_buf_init(&bytes);
  const char *err = NULL;
  assert_int_equal(alua_snapshot(L, &req, &bytes, NULL, &err), 0);
  lua_pop(L, 1);
  alua_restore_report rep;
  tr_restore(R, &bytes, &trusted, &rep);
  tr_run(R, "crash = debug.getregistry()['amber.crash']");
  tr_expect(R, "crash.reason", "crash");
  tr_expect(R, "crash.error", "app.lua:1: attempt to index a nil value");
  tr_expect(R, "crash.traceback:match('handler') ~= nil", "true");
  tr_expect(R, "crash.frames == crash.threads[1].frames", "true");
  tr_run(R, "for _, f in ipairs(crash.frames) do if f.func == handler then "
            "h = f end end\n"
            "for _, l in ipairs(h.locals) do vars = (vars or '') .. l.name .. "
            "'=' .. tostring(type(l.value) == 'table' and l.value.user or "
            "l.value) .. ' ' end\n");
  tr_expect(R, "vars", "req=ada user=ada n=3 ");
  tr_expect(R, "crash.frames[1].name .. ' ' .. crash.frames[1].source",
            "yield =[C]");
  alua_restore_report_free(&rep);
  wire_buf_free(&bytes);
  lua_close(R);
  lua_close(L);
}

static void push_point(lua_State *L, int32_t x, int32_t y)
{
  int32_t *p = lua_newuserdatauv(L, 2 * sizeof *p, 2);
  p[0] = x;
  p[1] = y;
  lua_pushliteral(L, "first user value");
  lua_setiuservalue(L, -2, 1);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 2);
  luaL_setmetatable(L, "test.point");
}

static int point_x(lua_State *L)
{
  int32_t *p = luaL_checkudata(L, 1, "test.point");
  lua_pushinteger(L, p[0] + 100 * p[1]);
  return 1;
}

static void open_points(lua_State *L)
{
  luaL_newmetatable(L, "test.point");
  lua_newtable(L);
  lua_pushcfunction(L, point_x);
  lua_setfield(L, -2, "value");
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushcfunction(L, point_x);
  lua_setfield(L, -2, "value");
  lua_setglobal(L, "points");
}

static void test_userdata_bytes_and_user_values_come_back(void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state();
  open_points(L);
  open_points(R);
  push_point(L, 3, 4);
  lua_setglobal(L, "pt");
  tr_run(L, "uv2 = select(1, debug.getuservalue(pt, 2)); uv2.tag = 'x'");
  alua_restore_report rep;
  move_state(L, R, tr_globals_registry, 2, &trusted, &rep);
  /* The fresh VM's registered metatable is the one the userdata gets. */
  tr_expect(R, "getmetatable(pt) == debug.getregistry()['test.point']",
            "true");
  tr_expect(R, "points.value(pt)", "403");
  tr_expect(R, "debug.getuservalue(pt, 1)", "first user value");
  tr_expect(R, "debug.getuservalue(pt, 2) == uv2 and uv2.tag", "x");
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static int rebuilt_calls;

static int rebuild_point(lua_State *L, void *ud, const char *type,
                         size_t type_len, const void *bytes, size_t len)
{
  (void)ud;
  if (type_len != 10 || memcmp(type, "test.point", 10) != 0)
    return ALUA_UD_DEFAULT;
  assert_int_equal(len, 8);
  int32_t xy[2];
  memcpy(xy, bytes, 8);
  rebuilt_calls++;
  push_point(L, xy[1], xy[0]);   /* visibly the host's own rebuild */
  return ALUA_UD_REBUILT;
}

static void test_host_callback_rebuilds_userdata_by_type(void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state();
  open_points(L);
  open_points(R);
  push_point(L, 3, 4);
  lua_setglobal(L, "pt");
  alua_restore_opts o = trusted;
  o.userdata = rebuild_point;
  rebuilt_calls = 0;
  alua_restore_report rep;
  move_state(L, R, tr_globals_registry, 2, &o, &rep);
  assert_int_equal(rebuilt_calls, 1);
  tr_expect(R, "points.value(pt)", "304");
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static int handle_gc_calls;

/* A handle type whose bytes are a pointer, freed by a C finaliser. */
static int handle_gc(lua_State *L)
{
  void **p = luaL_checkudata(L, 1, "test.handle");
  free(*p);
  *p = NULL;
  handle_gc_calls++;
  return 0;
}

static void open_handles(lua_State *L)
{
  luaL_newmetatable(L, "test.handle");
  lua_pushcfunction(L, handle_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
}

static int copy_handles(lua_State *L, void *ud, const char *type,
                        size_t type_len, const void *bytes, size_t len)
{
  (void)L; (void)ud; (void)type; (void)type_len; (void)bytes; (void)len;
  void **p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = malloc(16);               /* the host's own resource, made anew */
  luaL_setmetatable(L, "test.handle");
  return ALUA_UD_REBUILT;
}

static void test_userdata_with_a_c_finaliser_needs_the_host(void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state(), *H = tr_state();
  open_handles(L);
  open_handles(R);
  open_handles(H);
  void **p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = malloc(16);
  luaL_setmetatable(L, "test.handle");
  lua_setglobal(L, "h");
  alua_restore_report rep;
  move_state(L, R, tr_globals_registry, 2, &trusted, &rep);
  assert_true(tr_has_placeholder(&rep, "C finaliser"));
  tr_expect(R, "getmetatable(h).__name", "amber.placeholder");
  alua_restore_report_free(&rep);
  alua_restore_opts o = trusted;
  o.userdata = copy_handles;
  move_state(L, H, tr_globals_registry, 2, &o, &rep);
  assert_int_equal(rep.nplaceholders, 0);
  tr_expect(H, "getmetatable(h) == debug.getregistry()['test.handle']", "true");
  alua_restore_report_free(&rep);
  handle_gc_calls = 0;
  lua_close(R);                  /* the placeholder: no finaliser runs */
  assert_int_equal(handle_gc_calls, 0);
  lua_close(H);
  lua_close(L);
  assert_int_equal(handle_gc_calls, 2);
}

static void test_open_file_comes_back_closed_and_reported(void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state();
  tr_run(L, "f = io.tmpfile(); f:write('data')");
  alua_restore_report rep;
  move_state(L, R, tr_globals_registry, 2, &trusted, &rep);
  tr_expect(R, "io.type(f)", "closed file");
  tr_expect(R, "pcall(f.write, f, 'x')", "false");
  assert_true(tr_has_placeholder(&rep, "closed file"));
  tr_run(R, "f = nil; collectgarbage(); collectgarbage()");  /* no crash */
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_exits_resolve_to_the_fresh_vms_functions),
    cmocka_unit_test(test_missing_library_becomes_a_reported_placeholder),
    cmocka_unit_test(test_merge_keeps_fresh_globals_and_replace_drops_them),
    cmocka_unit_test(test_path_root_is_rebound_under_the_globals),
    cmocka_unit_test(test_type_metatables_come_back),
    cmocka_unit_test(test_unstarted_and_dead_coroutines_are_restored),
    cmocka_unit_test(
        test_suspended_coroutine_is_a_dead_placeholder_with_frames),
    cmocka_unit_test(test_crash_snapshot_exposes_error_frames_and_locals),
    cmocka_unit_test(test_userdata_bytes_and_user_values_come_back),
    cmocka_unit_test(test_host_callback_rebuilds_userdata_by_type),
    cmocka_unit_test(test_userdata_with_a_c_finaliser_needs_the_host),
    cmocka_unit_test(test_open_file_comes_back_closed_and_reported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
