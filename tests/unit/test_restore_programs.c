/*
** test_restore_programs.c
** Programs keep working on restored state: a VM that has required
** lua-penlight and lua-dkjson and built state is snapshotted, restored into
** a fresh VM, and the same workload gives the same output in both.
*/
#include "test_restore_util.h"


/* State spread over penlight classes (List, OrderedMap), plain tables and
** closures; the workload goes through dkjson, pl.tablex and pl.stringx. */
static const char program[] =
  "local List = require 'pl.List'\n"
  "local tablex = require 'pl.tablex'\n"
  "local OrderedMap = require 'pl.OrderedMap'\n"
  "local stringx = require 'pl.stringx'\n"
  "local json = require 'dkjson'\n"
  "state = {items = List{3, 1, 2}, map = OrderedMap(), count = 0, words = {}}\n"
  "state.map:set('beta', 2); state.map:set('alpha', 1)\n"
  "local order = {keyorder = {'a', 'c', 'count', 'items', 'keys', 'words'}}\n"
  "function workload(n)\n"
  "  for i = 1, n do\n"
  "    state.count = state.count + 1\n"
  "    state.items:append(state.count * 7 % 11)\n"
  "    state.map:set('k' .. state.count, state.count * state.count)\n"
  "    state.words[#state.words + 1] = stringx.capitalize('word' .. i)\n"
  "  end\n"
  "  local sorted = state.items:clone():sort()\n"
  "  local out = {}\n"
  "  out[#out + 1] = json.encode({items = {table.unpack(sorted)},\n"
  "    count = state.count, keys = {table.unpack(state.map:keys())},\n"
  "    words = state.words}, order)\n"
  "  out[#out + 1] = tostring(tablex.reduce('+', sorted))\n"
  "  out[#out + 1] = tostring(List.range(1, 5):map(function(x) return x * x "
  "end))\n"
  "  out[#out + 1] = json.encode((json.decode("
  "'{\"a\":[1,2,{\"b\":null}],\"c\":\"\\\\u00e9\"}')), order)\n"
  "  return table.concat(out, '\\n')\n"
  "end\n"
  "workload(3)\n";

static void test_penlight_and_dkjson_workload_gives_the_same_output(
    void **state)
{
  (void)state;
  lua_State *L = tr_state();
  tr_run(L, program);
  alua_restore_report rep;
  lua_State *R = tr_round_trip(L, tr_globals_registry, 2, &rep);
  assert_int_equal(rep.nplaceholders, 0);
  char *want = tr_eval(L, "workload(5)");
  char *got = tr_eval(R, "workload(5)");
  assert_string_equal(got, want);
  assert_non_null(strstr(got, "\"count\":8"));
  free(want);
  free(got);
  /* require answers with the restored modules, not fresh copies. */
  tr_expect(R, "getmetatable(state.items) == require('pl.List')", "true");
  tr_expect(R, "package.loaded.dkjson.version ~= nil", "true");
  /* Both VMs go on the same way. */
  want = tr_eval(L, "workload(2)");
  got = tr_eval(R, "workload(2)");
  assert_string_equal(got, want);
  free(want);
  free(got);
  alua_restore_report_free(&rep);
  lua_close(R);
  lua_close(L);
}

static void test_restored_program_restores_again(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  tr_run(L, program);
  alua_restore_report rep;
  lua_State *R1 = tr_round_trip(L, tr_globals_registry, 2, &rep);
  alua_restore_report_free(&rep);
  tr_run(R1, "workload(4)");
  lua_State *R2 = tr_round_trip(R1, tr_globals_registry, 2, &rep);
  alua_restore_report_free(&rep);
  char *want = tr_eval(R1, "workload(1)");
  char *got = tr_eval(R2, "workload(1)");
  assert_string_equal(got, want);
  free(want);
  free(got);
  lua_close(R2);
  lua_close(R1);
  lua_close(L);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_penlight_and_dkjson_workload_gives_the_same_output),
    cmocka_unit_test(test_restored_program_restores_again),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
