/*
** test_restore_code.c
** Bytecode for restore: payloads are checked against the running Lua
** build, and one loaded prototype makes every closure restore needs.
*/
#include "test_restore_util.h"

static int dump_to(lua_State *L, const void *p, size_t n, void *ud)
{
  (void)L;
  wire_buf_put(ud, p, n);
  return 0;
}

/* The dump of the function src's chunk returns. */
static void dump_inner(lua_State *L, const char *src, wire_buf *out)
{
  if (luaL_loadstring(L, src) != LUA_OK) fail_msg("%s", lua_tostring(L, -1));
  lua_call(L, 0, 1);
  wire_buf_init(out);
  assert_int_equal(lua_dump(L, dump_to, out, 0), 0);
  lua_pop(L, 1);
}

static int init_code(lua_State *L)
{
  alua_code_init(lua_touserdata(L, 1), L);
  return 0;
}

static void code_of(lua_State *L, alua_code *c)
{
  lua_pushcfunction(L, init_code);
  lua_pushlightuserdata(L, c);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) fail_msg("%s", lua_tostring(L, -1));
}

static const char counter[] =
  "local n = 0 return function() n = n + 1 return n end";

static void test_this_lua_lets_closures_share_a_prototype(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  alua_code c;
  code_of(L, &c);
  assert_true(c.can_share);
  assert_int_equal(c.header_len, 31);
  lua_close(L);
}

static void test_factory_closures_cost_a_closure_not_a_prototype(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  alua_code c;
  alua_proto p;
  char err[160];
  wire_buf dump;
  code_of(L, &c);
  dump_inner(L, counter, &dump);
  assert_int_equal(alua_code_inspect(&c, dump.data, dump.len, &p, err,
                                     sizeof err), 0);
  assert_int_equal(p.nup, 1);
  lua_gc(L, LUA_GCCOLLECT);
  lua_gc(L, LUA_GCSTOP);
  alua_code_push_factory(L, &c, dump.data, dump.len);
  lua_createtable(L, 1000, 0);
  int before = lua_gc(L, LUA_GCCOUNT) * 1024 + lua_gc(L, LUA_GCCOUNTB);
  for (int i = 1; i <= 1000; i++) {
    lua_pushvalue(L, -2);
    lua_call(L, 0, 1);
    lua_rawseti(L, -2, i);
  }
  int grown = lua_gc(L, LUA_GCCOUNT) * 1024 + lua_gc(L, LUA_GCCOUNTB) - before;
  /* A Lua closure with one upvalue and its cell: 40 + 40 bytes; a
  ** prototype with its code, constants and debug information is far more. */
  assert_true(grown < 1000 * 120);
  /* Each closure dumps to exactly the payload it came from. */
  lua_rawgeti(L, -1, 1000);
  wire_buf again;
  wire_buf_init(&again);
  assert_int_equal(lua_dump(L, dump_to, &again, 0), 0);
  assert_int_equal(again.len, dump.len);
  assert_memory_equal(again.data, dump.data, dump.len);
  wire_buf_free(&again);
  wire_buf_free(&dump);
  lua_close(L);
}

static void test_payload_from_another_build_is_refused(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  alua_code c;
  alua_proto p;
  char err[160];
  wire_buf dump;
  code_of(L, &c);
  dump_inner(L, counter, &dump);
  dump.data[14] = 4;              /* sizeof(lua_Number) on some other build */
  assert_int_equal(alua_code_inspect(&c, dump.data, dump.len, &p, err,
                                     sizeof err), -1);
  assert_non_null(strstr(err, "not dumped by this Lua build"));
  wire_buf_free(&dump);
  lua_close(L);
}

static void test_truncated_payload_is_refused(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  alua_code c;
  alua_proto p;
  char err[160];
  wire_buf dump;
  code_of(L, &c);
  dump_inner(L, counter, &dump);
  for (size_t cut = c.header_len + 1; cut < dump.len; cut += 7) {
    assert_int_equal(alua_code_inspect(&c, dump.data, cut, &p, err,
                                       sizeof err), -1);
    assert_non_null(strstr(err, "malformed or truncated"));
  }
  wire_buf_free(&dump);
  lua_close(L);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_this_lua_lets_closures_share_a_prototype),
    cmocka_unit_test(test_factory_closures_cost_a_closure_not_a_prototype),
    cmocka_unit_test(test_payload_from_another_build_is_refused),
    cmocka_unit_test(test_truncated_payload_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
