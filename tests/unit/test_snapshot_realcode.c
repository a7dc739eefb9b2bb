/*
** test_snapshot_realcode.c
** The walk on code nobody here wrote: Debian's lua-penlight and
** lua-dkjson loaded and used in a VM, then snapshotted. Counts must be
** plausible, every function's bytecode must load back, and the VM must go
** on working exactly as before.
*/
#include "test_snapshot_graph.h"

static lua_State *loaded_state(void) {
  lua_State *L = tg_state();
  tg_run(L, "pretty = require 'pl.pretty'\n"
            "List = require 'pl.List'\n"
            "tablex = require 'pl.tablex'\n"
            "stringx = require 'pl.stringx'\n"
            "class = require 'pl.class'\n"
            "json = require 'dkjson'\n"
            "Animal = class()\n"
            "function Animal:_init(name) self.name = name end\n"
            "function Animal:speak() return self.name .. ' speaks' end\n"
            "pet = Animal('rex')\n"
            "items = List {3, 1, 2}:sort()\n"
            "doc = json.decode('{\"a\": [1, 2.5, \"x\", null, true], \"b\": {\"c\": \"d\"}}')\n"
            "text = json.encode({list = {1, 2, 3}, name = 'amber'}, {keyorder = {'name', 'list'}})\n"
            "dump = pretty.write({x = 1, y = {2, 3}}, '')");
  return L;
}

static void test_penlight_and_dkjson_snapshot_plausibly(void **state) {
  (void)state;
  lua_State *L = loaded_state();
  tg_graph g;
  alua_stats st;
  alua_request req;
  memset(&req, 0, sizeof req);
  wire_buf out;
  wire_buf_init(&out);
  tg_snap_req(L, &req, &g, &out, &st);
  size_t tables = tg_count(&g, "table"), functions = tg_count(&g, "function");
  size_t protos = tg_count(&g, "proto"), strings = tg_count(&g, "string");
  print_message("penlight + dkjson: %zu nodes, %llu edges, %zu tables, %zu functions, "
                "%zu protos, %zu strings, %zu exits, %zu stubs, %.1f KB, %.1f ms\n",
                g.n, (unsigned long long)st.edges, tables, functions, protos, strings,
                tg_count(&g, "exit"), tg_count(&g, "stub"), (double)out.len / 1024,
                st.pause_ms);
  /* An independent count, by Lua code run after the snapshot: the
  ** objects reachable from _G, the registry and the string metatable,
  ** not looking inside C functions a library module names (exits). */
  tg_run(L, "local seen, q, counts = {}, {_G, debug.getregistry(), getmetatable('')}, {}\n"
            "local named = {}\n"
            "for m, t in next, package.loaded do\n"
            "  if m ~= '_G' and type(t) == 'table' then for _, f in next, t do\n"
            "    if type(f) == 'function' and debug.getinfo(f, 'S').what == 'C' then\n"
            "      named[f] = true end end end end\n"
            "for _, v in ipairs(q) do seen[v] = true end\n"
            "local function add(v)\n"
            "  local t = type(v)\n"
            "  if t ~= 'nil' and t ~= 'number' and t ~= 'boolean' and not seen[v] then\n"
            "    seen[v] = true; q[#q + 1] = v end end\n"
            "local i = 1\n"
            "while i <= #q do\n"
            "  local v = q[i]; i = i + 1\n"
            "  local t = type(v)\n"
            "  counts[t] = (counts[t] or 0) + 1\n"
            "  if t == 'table' then\n"
            "    for k, x in next, v do add(x); if type(k) ~= 'string' then add(k) end end\n"
            "    add(debug.getmetatable(v))\n"
            "  elseif t == 'userdata' then\n"
            "    add(debug.getmetatable(v))\n"
            "    local j = 1\n"
            "    while true do local x, ok = debug.getuservalue(v, j)\n"
            "      if not ok then break end add(x); j = j + 1 end\n"
            "  elseif t == 'function' and not named[v] then\n"
            "    local j = 1\n"
            "    while true do local n, x = debug.getupvalue(v, j)\n"
            "      if not n then break end add(x); j = j + 1 end\n"
            "  end\n"
            "end\n"
            "lua_counts = counts");
  lua_getglobal(L, "lua_counts");
  lua_getfield(L, -1, "table");
  lua_getfield(L, -2, "function");
  lua_getfield(L, -3, "string");
  lua_getfield(L, -4, "userdata");
  size_t lua_tables = (size_t)lua_tointeger(L, -4), lua_functions = (size_t)lua_tointeger(L, -3);
  size_t lua_strings = (size_t)lua_tointeger(L, -2), lua_userdata = (size_t)lua_tointeger(L, -1);
  lua_pop(L, 5);
  assert_int_equal(tables, lua_tables);
  assert_int_equal(strings, lua_strings);
  size_t light = 0, cstubs = 0;
  for (size_t i = 0; i < g.n; i++) {
    if (strcmp(g.nodes[i].kind, "stub") != 0) continue;
    light += strcmp(g.nodes[i].status, "light userdata") == 0;
    cstubs += strcmp(g.nodes[i].status, "unnamed C function") == 0;
  }
  /* type() calls light userdata "userdata" too */
  assert_int_equal(tg_count(&g, "userdata") + light, lua_userdata);
  /* C functions are exits when a module names them, stubs or cfunction
  ** nodes when none does */
  assert_int_equal(functions + tg_count(&g, "cfunction") + tg_count(&g, "exit") +
                   cstubs, lua_functions);
  assert_in_range(functions, 200, 5000);
  assert_in_range(protos, 200, functions);
  /* what the program built is there, as built */
  tg_node *pet = tg_path(&g, "globals", "pet");
  assert_string_equal(tg_target(&g, tg_edge_named(pet, "field", "name"))->value, "rex");
  tg_node *cls = tg_target(&g, tg_edge_kind(pet, "metatable"));
  assert_non_null(tg_edge_named(cls, "field", "speak"));
  tg_node *items = tg_path(&g, "globals", "items");
  assert_int_equal(tg_edge_index(items, "index", 1)->value.u.i, 1);
  assert_int_equal(tg_edge_index(items, "index", 3)->value.u.i, 3);
  tg_node *a = tg_path(&g, "globals", "doc.a");
  assert_true(tg_edge_index(a, "index", 2)->value.u.f == 2.5);
  assert_string_equal(tg_path(&g, "globals", "text")->value,
                      "{\"name\":\"amber\",\"list\":[1,2,3]}");
  /* the modules are reached through package.loaded as well */
  tg_node *loaded = tg_path(&g, "registry", "_LOADED");
  assert_non_null(tg_edge_named(loaded, "field", "pl.pretty"));
  assert_non_null(tg_edge_named(loaded, "field", "dkjson"));
  assert_string_equal(tg_target(&g, tg_edge_named(tg_path(&g, "globals", "json"), "field", "quotestring"))->kind, "function");
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}

static void test_every_real_proto_loads_back(void **state) {
  (void)state;
  lua_State *L = loaded_state();
  tg_graph g;
  tg_snap(L, &g, NULL);
  lua_State *F = luaL_newstate();
  size_t loaded = 0;
  for (size_t i = 0; i < g.n; i++) {
    tg_node *n = &g.nodes[i];
    if (strcmp(n->kind, "proto") != 0) continue;
    assert_true(n->has_payload);
    if (luaL_loadbufferx(F, (const char *)n->payload, n->payload_len, "p", "b") != LUA_OK)
      fail_msg("proto %zu does not load: %s", i, lua_tostring(F, -1));
    /* with its debug info: the source it came from is the node's */
    lua_Debug ar;
    lua_getinfo(F, ">S", &ar);
    assert_int_equal(ar.linedefined, n->line);
    assert_int_equal(ar.srclen, n->source_len);
    assert_memory_equal(ar.source, n->source, n->source_len);
    loaded++;
  }
  lua_close(F);
  assert_true(loaded > 200);
  tg_free(&g);
  lua_close(L);
}

static void test_real_program_runs_on_after_snapshots(void **state) {
  (void)state;
  lua_State *L = loaded_state();
  for (int i = 0; i < 3; i++) {
    tg_graph g;
    tg_snap(L, &g, "globals", "registry", "stack", "loaded", "threads", NULL);
    tg_free(&g);
  }
  tg_run(L, "assert(pet:speak() == 'rex speaks')\n"
            "assert(json.encode(doc.b) == '{\"c\":\"d\"}')\n"
            "assert(tostring(items) == '{1,2,3}')\n"
            "assert(stringx.split('a,b', ',')[2] == 'b')\n"
            "collectgarbage() collectgarbage()");
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_penlight_and_dkjson_snapshot_plausibly),
      cmocka_unit_test(test_every_real_proto_loads_back),
      cmocka_unit_test(test_real_program_runs_on_after_snapshots),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
