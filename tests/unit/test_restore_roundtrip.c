/*
** test_restore_roundtrip.c
** snapshot -> restore -> snapshot gives an isomorphic graph, and the
** restored state behaves as the original: scalars, cycles, tables as keys,
** closures and their shared upvalues, metatables, weak tables, userdata.
*/
#include "test_restore_util.h"

#define N(a) (sizeof(a) / sizeof *(a))

static void test_scalars_survive_exactly(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  tr_run(L, "nan, negz, inf, ninf = 0/0, -0.0, math.huge, -math.huge\n"
            "i, f = 1, 1.0\n"
            "big, small = math.maxinteger, math.mininteger\n"
            "s = 'hi\\0there\\xff\\xfe'\n"
            "flags = {true, false}\n");
  alua_restore_report rep;
  lua_State *R = tr_round_trip(L, tr_globals_registry, 2, &rep);
  tr_expect(R, "nan ~= nan", "true");
  tr_expect(R, "1/negz", "-inf");
  tr_expect(R, "math.type(negz)", "float");
  tr_expect(R, "inf == math.huge and ninf == -math.huge", "true");
  tr_expect(R, "math.type(i) .. ' ' .. math.type(f)", "integer float");
  tr_expect(R, "big == math.maxinteger and small == math.mininteger", "true");
  tr_expect(R, "s == 'hi\\0there\\xff\\xfe' and #s", "10");
  tr_expect(R, "flags[1] == true and flags[2] == false", "true");
  assert_int_equal(rep.nplaceholders, 0);
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static void test_cycles_and_tables_as_keys_come_back_equal(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  tr_run(L, "t = {name = 't'}\n"
            "t.self = t\n"
            "k1, k2 = {id = 1}, {id = 2}\n"
            "k1.back = t\n"
            "t[k1] = 'one'; t[k2] = k1\n"
            "t[1.5] = 'float key'; t[true] = 'bool key'\n"
            "ring = {}; local a, b, c = {}, {}, {}; a.n, b.n, c.n = b, c, a\n"
            "ring.start = a\n");
  alua_restore_report rep;
  lua_State *R = tr_round_trip(L, tr_globals_registry, 2, &rep);
  tr_expect(R, "t.self == t and k1.back == t", "true");
  tr_expect(R, "t[k1] .. ' ' .. t[k2].id", "one 1");
  tr_expect(R, "t[1.5] .. ', ' .. t[true]", "float key, bool key");
  tr_expect(R, "ring.start.n.n.n == ring.start", "true");
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static void test_closures_keep_shared_upvalues_and_prototypes(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  tr_run(L, "local function pair()\n"
            "  local n = 0\n"
            "  return function() n = n + 1 return n end,\n"
            "         function() return n end\n"
            "end\n"
            "inc, get = pair()\n"
            "inc2, get2 = pair()\n"
            "inc(); inc(); inc2()\n"
            "adders = {}\n"
            "for i = 1, 5 do adders[i] = function(x) return x + i end end\n");
  alua_restore_report rep;
  lua_State *R = tr_round_trip(L, tr_globals_only, 1, &rep);
  tr_expect(R, "get() .. ' ' .. get2()", "2 1");
  tr_expect(R, "inc() .. ' ' .. get() .. ' ' .. get2()", "3 3 1");
  tr_expect(R, "adders[3](10) .. ' ' .. adders[5](10)", "13 15");
  tr_expect(R, "debug.upvalueid(inc, 1) == debug.upvalueid(get, 1)", "true");
  tr_expect(R, "debug.upvalueid(inc, 1) ~= debug.upvalueid(inc2, 1)", "true");
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static void test_counter_restored_mid_count_continues(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  tr_run(L, "local function counter() local c = 0 return function() c = c + 1 "
            "return c end end\n"
            "tick = counter()\n"
            "for _ = 1, 41 do tick() end\n");
  alua_restore_report rep;
  lua_State *R = tr_round_trip(L, tr_globals_registry, 2, &rep);
  tr_expect(R, "tick()", "42");
  tr_expect(R, "tick()", "43");
  tr_expect(L, "tick()", "42");
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static void test_metatables_weak_modes_and_finalizers_come_back(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  tr_run(L, "Point = {}\n"
            "Point.__index = Point\n"
            "Point.__name = 'Point'\n"
            "function Point.norm2(p) return p.x * p.x + p.y * p.y end\n"
            "p = setmetatable({x = 3, y = 4}, Point)\n"
            "cache = setmetatable({}, {__mode = 'k'})\n"
            "vals = setmetatable({}, {__mode = 'kv'})\n"
            "cache[p] = 'kept while p lives'\n"
            "finalized = false\n"
            "doomed = setmetatable({}, {__gc = function() finalized = true "
            "end})\n");
  alua_restore_report rep;
  lua_State *R = tr_round_trip(L, tr_globals_registry, 2, &rep);
  tr_expect(R, "p:norm2()", "25");
  tr_expect(R, "getmetatable(cache).__mode .. getmetatable(vals).__mode",
            "kkv");
  tr_expect(R, "cache[p]", "kept while p lives");
  tr_run(R, "collectgarbage(); collectgarbage()");
  tr_expect(R, "cache[p] ~= nil", "true");
  /* A weak table really is weak again: a key nothing else holds goes. */
  tr_run(R, "cache[{}] = 1; collectgarbage(); collectgarbage()");
  tr_expect(R, "(function() local n = 0 for _ in pairs(cache) do n = n + 1 end "
               "return n end)()", "1");
  /* The finaliser was registered: the metatable was set after it was full. */
  tr_run(R, "doomed = nil; collectgarbage(); collectgarbage()");
  tr_expect(R, "finalized", "true");
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static void test_deep_chain_restores_without_recursion(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  tr_run(L, "chain = {}\n"
            "local t = chain\n"
            "for i = 1, 200000 do t.next = {i = i}; t = t.next end\n");
  wire_buf bytes;
  wire_buf_init(&bytes);
  tr_snapshot(L, tr_globals_only, 1, &bytes);
  lua_State *R = tr_state();
  alua_restore_opts o;
  memset(&o, 0, sizeof o);
  alua_restore_report rep;
  tr_restore(R, &bytes, &o, &rep);
  tr_expect(R, "(function() local n, t = 0, chain while t.next do n = n + 1 "
               "t = t.next end return n .. ' ' .. t.i end)()", "200000 200000");
  alua_restore_report_free(&rep);
  wire_buf_free(&bytes);
  lua_close(R);
  lua_close(L);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_scalars_survive_exactly),
    cmocka_unit_test(test_cycles_and_tables_as_keys_come_back_equal),
    cmocka_unit_test(test_closures_keep_shared_upvalues_and_prototypes),
    cmocka_unit_test(test_counter_restored_mid_count_continues),
    cmocka_unit_test(test_metatables_weak_modes_and_finalizers_come_back),
    cmocka_unit_test(test_deep_chain_restores_without_recursion),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
