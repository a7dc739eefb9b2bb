/*
** test_snapshot_values.c
** The Lua heap walk, value by value: every kind of Lua value becomes the
** node or scalar docs/protocol.md section 5 says, exactly.
*/
#include <math.h>
#include "test_snapshot_graph.h"

static void test_integers_floats_and_specials_are_exact(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "v = {i = 42, neg = -7, maxi = math.maxinteger, mini = math.mininteger,"
            " half = 0.5, three = 3.0, nan = 0/0, inf = 1/0, ninf = -1/0,"
            " nzero = -0.0, pzero = 0.0, t = true, f = false}");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_edge *e;
  e = tg_path_edge(&g, "globals", "v", "i");
  assert_int_equal(e->value.type, WIRE_V_INT);
  assert_int_equal(e->value.u.i, 42);
  e = tg_path_edge(&g, "globals", "v", "neg");
  assert_int_equal(e->value.u.i, -7);
  e = tg_path_edge(&g, "globals", "v", "maxi");
  assert_int_equal(e->value.type, WIRE_V_INT);
  assert_true(e->value.u.i == INT64_MAX);
  e = tg_path_edge(&g, "globals", "v", "mini");
  assert_true(e->value.u.i == INT64_MIN);
  e = tg_path_edge(&g, "globals", "v", "half");
  assert_int_equal(e->value.type, WIRE_V_FLOAT);
  assert_true(e->value.u.f == 0.5);
  e = tg_path_edge(&g, "globals", "v", "three");
  assert_int_equal(e->value.type, WIRE_V_FLOAT);  /* 3.0 stays a float */
  assert_true(e->value.u.f == 3.0);
  e = tg_path_edge(&g, "globals", "v", "nan");
  assert_int_equal(e->value.type, WIRE_V_FLOAT);
  assert_true(isnan(e->value.u.f));
  e = tg_path_edge(&g, "globals", "v", "inf");
  assert_true(isinf(e->value.u.f) && e->value.u.f > 0);
  e = tg_path_edge(&g, "globals", "v", "ninf");
  assert_true(isinf(e->value.u.f) && e->value.u.f < 0);
  e = tg_path_edge(&g, "globals", "v", "nzero");
  assert_true(e->value.u.f == 0.0 && signbit(e->value.u.f));
  e = tg_path_edge(&g, "globals", "v", "pzero");
  assert_true(e->value.u.f == 0.0 && !signbit(e->value.u.f));
  e = tg_path_edge(&g, "globals", "v", "t");
  assert_int_equal(e->value.type, WIRE_V_BOOL);
  assert_true(e->value.u.b);
  e = tg_path_edge(&g, "globals", "v", "f");
  assert_false(e->value.u.b);
  tg_free(&g);
  lua_close(L);
}

static void test_strings_keep_nul_and_invalid_utf8_bytes(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "s = {a = 'hi\\0there', b = '\\xff\\xfe\\x80', c = '', "
            "d = '\\u{F700}x&<>\"', e = string.rep('z', 100000)}");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *n = tg_target(&g, tg_path_edge(&g, "globals", "s", "a"));
  assert_string_equal(n->kind, "string");
  assert_int_equal(n->value_len, 8);
  assert_memory_equal(n->value, "hi\0there", 8);
  assert_int_equal(n->size, 24 + 8 + 1);
  n = tg_target(&g, tg_path_edge(&g, "globals", "s", "b"));
  assert_int_equal(n->value_len, 3);
  assert_memory_equal(n->value, "\xff\xfe\x80", 3);
  n = tg_target(&g, tg_path_edge(&g, "globals", "s", "c"));
  assert_true(n->has_value);
  assert_int_equal(n->value_len, 0);
  n = tg_target(&g, tg_path_edge(&g, "globals", "s", "d"));
  assert_int_equal(n->value_len, 8);
  assert_memory_equal(n->value, "\xef\x9c\x80x&<>\"", 8);
  n = tg_target(&g, tg_path_edge(&g, "globals", "s", "e"));
  assert_int_equal(n->value_len, 100000);
  tg_free(&g);
  lua_close(L);
}

static void test_string_keys_with_odd_bytes_are_field_names(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "k = {['a\\0b'] = 1, ['\\xff'] = 2}");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *k = tg_path(&g, "globals", "k");
  int seen = 0;
  for (size_t i = 0; i < k->nedges; i++) {
    tg_edge *e = &k->edges[i];
    if (e->name_len == 3 && memcmp(e->name, "a\0b", 3) == 0) {
      assert_int_equal(e->value.u.i, 1);
      seen |= 1;
    }
    if (e->name_len == 1 && (unsigned char)e->name[0] == 0xff) {
      assert_int_equal(e->value.u.i, 2);
      seen |= 2;
    }
  }
  assert_int_equal(seen, 3);
  tg_free(&g);
  lua_close(L);
}

static void test_one_string_object_is_one_node(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "local s = string.rep('shared', 3); a = {x = s, y = s}");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_edge *x = tg_path_edge(&g, "globals", "a", "x");
  tg_edge *y = tg_path_edge(&g, "globals", "a", "y");
  assert_int_equal(x->value.u.ref, y->value.u.ref);
  tg_free(&g);
  lua_close(L);
}

static void test_table_keys_of_every_type(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "kt = {}; m = {[kt] = 'tab', [1.5] = 'flt', [true] = 'yes', "
            "[7] = 'int', [print] = 'fn', [-0.0] = 'never'}; m[-0.0] = nil");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *m = tg_path(&g, "globals", "m");
  uint64_t kt = tg_path(&g, "globals", "kt")->id;
  int seen = 0;
  for (size_t i = 0; i < m->nedges; i++) {
    tg_edge *e = &m->edges[i];
    if (strcmp(e->kind, "index") == 0) {
      assert_int_equal(e->index, 7);
      seen |= 1;
    } else if (strcmp(e->kind, "key") == 0) {
      if (e->key.type == WIRE_V_REF && e->key.u.ref == kt) seen |= 2;
      else if (e->key.type == WIRE_V_FLOAT && e->key.u.f == 1.5) seen |= 4;
      else if (e->key.type == WIRE_V_BOOL && e->key.u.b) seen |= 8;
      else if (e->key.type == WIRE_V_REF &&
               strcmp(tg_node_at(&g, e->key.u.ref)->kind, "exit") == 0) seen |= 16;
      else fail_msg("unexpected key edge");
    }
  }
  assert_int_equal(seen, 31);
  tg_free(&g);
  lua_close(L);
}

static void test_table_size_follows_array_and_hash_parts(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "arr = {1, 2, 3, 4}; rec = {a = 1, b = 2, c = 3}; mixed = {10, 20, x = 1}; empty = {}");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  assert_int_equal(tg_path(&g, "globals", "arr")->size, 56 + 4 * 16);
  assert_int_equal(tg_path(&g, "globals", "rec")->size, 56 + 4 * 32);
  assert_int_equal(tg_path(&g, "globals", "mixed")->size, 56 + 2 * 16 + 1 * 32);
  assert_int_equal(tg_path(&g, "globals", "empty")->size, 56);
  tg_free(&g);
  lua_close(L);
}

static void test_weak_modes_come_from_raw_mode_field(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "wk = setmetatable({}, {__mode = 'k'}); wv = setmetatable({}, {__mode = 'v'});"
            "wkv = setmetatable({}, {__mode = 'vk'}); strong = setmetatable({}, {});"
            "hidden = setmetatable({}, setmetatable({}, {__index = function() return 'k' end}))");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  assert_string_equal(tg_path(&g, "globals", "wk")->mode, "k");
  assert_string_equal(tg_path(&g, "globals", "wv")->mode, "v");
  assert_string_equal(tg_path(&g, "globals", "wkv")->mode, "kv");
  assert_null(tg_path(&g, "globals", "strong")->mode);
  assert_null(tg_path(&g, "globals", "hidden")->mode);  /* no __index lookups */
  assert_non_null(tg_edge_kind(tg_path(&g, "globals", "wk"), "metatable"));
  tg_free(&g);
  lua_close(L);
}

static void test_metatable_name_types_tables(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "obj = setmetatable({}, {__name = 'Point'})");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *o = tg_path(&g, "globals", "obj");
  assert_string_equal(o->type, "Point");
  tg_node *mt = tg_target(&g, tg_edge_kind(o, "metatable"));
  assert_string_equal(mt->kind, "table");
  tg_free(&g);
  lua_close(L);
}

static void test_shared_upvalue_is_one_node(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "local n = 0; local other = 5\n"
            "inc = function() n = n + 1 end\n"
            "get = function() return n end\n"
            "third = function() return other end");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *inc = tg_path(&g, "globals", "inc");
  tg_node *get = tg_path(&g, "globals", "get");
  tg_node *third = tg_path(&g, "globals", "third");
  assert_string_equal(inc->kind, "function");
  tg_edge *ui = tg_edge_named(inc, "upvalue", "n");
  tg_edge *ug = tg_edge_named(get, "upvalue", "n");
  tg_edge *ut = tg_edge_named(third, "upvalue", "other");
  assert_non_null(ui);
  assert_int_equal(ui->index, 1);
  assert_int_equal(ui->value.u.ref, ug->value.u.ref);
  assert_true(ut->value.u.ref != ui->value.u.ref);
  tg_node *cell = tg_target(&g, ui);
  assert_string_equal(cell->kind, "upvalue");
  assert_int_equal(cell->size, 40);
  tg_edge *v = tg_edge_kind(cell, "value");
  assert_int_equal(v->value.type, WIRE_V_INT);
  assert_int_equal(v->value.u.i, 0);
  assert_int_equal(tg_edge_kind(tg_target(&g, ut), "value")->value.u.i, 5);
  tg_free(&g);
  lua_close(L);
}

static void test_closures_of_one_prototype_share_its_node(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "fs = {}; for i = 1, 10 do fs[i] = function() return i end end\n"
            "other = function() return 1 end");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *fs = tg_path(&g, "globals", "fs");
  uint64_t proto = UINT64_MAX;
  for (int i = 1; i <= 10; i++) {
    tg_node *f = tg_target(&g, tg_edge_index(fs, "index", i));
    uint64_t p = tg_edge_kind(f, "prototype")->value.u.ref;
    if (proto == UINT64_MAX) proto = p;
    assert_int_equal(p, proto);
  }
  tg_node *pn = tg_node_at(&g, proto);
  assert_string_equal(pn->kind, "proto");
  assert_true(pn->has_payload && pn->payload_len > 0);
  assert_true(pn->has_line);
  assert_int_equal(pn->line, 1);
  tg_node *other = tg_path(&g, "globals", "other");
  assert_true(tg_edge_kind(other, "prototype")->value.u.ref != proto);
  tg_free(&g);
  lua_close(L);
}

static void test_every_proto_payload_loads_back(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "local up = {}\nfunction outer(a, ...) local function inner(b) return a + b + #up end return inner end\n"
            "f2 = outer(1)");
  tg_graph g;
  tg_snap(L, &g, NULL);
  size_t protos = 0;
  lua_State *F = luaL_newstate();
  for (size_t i = 0; i < g.n; i++) {
    tg_node *n = &g.nodes[i];
    if (strcmp(n->kind, "proto") != 0) continue;
    protos++;
    int rc = luaL_loadbufferx(F, (const char *)n->payload, n->payload_len, "proto", "b");
    if (rc != LUA_OK) fail_msg("proto %zu does not load: %s", i, lua_tostring(F, -1));
    lua_pop(F, 1);
  }
  lua_close(F);
  assert_true(protos >= 2);  /* outer and inner; the chunk is gone */
  tg_free(&g);
  lua_close(L);
}

static void test_c_functions_are_named_exits(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "fmt = string.format; p = print; ins = table.insert;"
            "cc = coroutine.wrap(function() end)");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *fmt = tg_path(&g, "globals", "fmt");
  assert_string_equal(fmt->kind, "exit");
  assert_string_equal(fmt->name, "string.format");
  assert_string_equal(tg_path(&g, "globals", "p")->name, "print");
  assert_string_equal(tg_path(&g, "globals", "ins")->name, "table.insert");
  /* a C closure a global holds is state, not a library function: walked */
  tg_node *cc = tg_path(&g, "globals", "cc");
  assert_string_equal(cc->kind, "cfunction");
  assert_string_equal(tg_target(&g, tg_edge_index(cc, "upvalue", 1))->kind, "thread");
  /* one node per function, wherever it is reached from */
  assert_int_equal(tg_path(&g, "globals", "string.format")->id, fmt->id);
  tg_free(&g);
  lua_close(L);
}

static int secret_c(lua_State *L) {
  lua_pushinteger(L, 1);
  return 1;
}

static void test_unnamed_light_c_function_is_a_stub(void **state) {
  (void)state;
  lua_State *L = tg_state();
  lua_newtable(L);
  lua_pushcfunction(L, secret_c);
  lua_setfield(L, -2, "fn");
  lua_setglobal(L, "holder");
  tg_graph g;
  alua_stats st;
  alua_request req;
  memset(&req, 0, sizeof req);
  const char *roots[] = {"globals"};
  req.roots = roots;
  req.nroots = 1;
  wire_buf out;
  wire_buf_init(&out);
  tg_snap_req(L, &req, &g, &out, &st);
  tg_node *s = tg_path(&g, "globals", "holder.fn");
  assert_string_equal(s->kind, "stub");
  assert_string_equal(s->status, "unnamed C function");
  assert_true(st.stubs >= 1);
  assert_int_equal(st.nodes, g.n);
  wire_buf_free(&out);
  tg_free(&g);
  lua_close(L);
}

static void test_c_closure_keeps_upvalues_by_number(void **state) {
  (void)state;
  lua_State *L = tg_state();
  lua_pushinteger(L, 99);
  lua_pushstring(L, "up2");
  lua_pushcclosure(L, secret_c, 2);
  lua_newtable(L);  /* not a global: a global's C function is named by it */
  lua_insert(L, -2);
  lua_setfield(L, -2, "cc");
  lua_setglobal(L, "holder");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *cc = tg_path(&g, "globals", "holder.cc");
  assert_string_equal(cc->kind, "cfunction");
  assert_int_equal(cc->size, 32 + 2 * 16);
  tg_edge *u1 = tg_edge_index(cc, "upvalue", 1);
  assert_int_equal(u1->value.type, WIRE_V_INT);
  assert_int_equal(u1->value.u.i, 99);
  tg_node *s = tg_target(&g, tg_edge_index(cc, "upvalue", 2));
  assert_string_equal(s->value, "up2");
  tg_free(&g);
  lua_close(L);
}

static void test_light_userdata_is_a_stub(void **state) {
  (void)state;
  lua_State *L = tg_state();
  static int anchor;
  lua_pushlightuserdata(L, &anchor);
  lua_setglobal(L, "lud");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *s = tg_path(&g, "globals", "lud");
  assert_string_equal(s->kind, "stub");
  char want[64];
  snprintf(want, sizeof want, "lightuserdata@%llx",
           (unsigned long long)(uintptr_t)&anchor);
  assert_string_equal(s->name, want);
  tg_free(&g);
  lua_close(L);
}

static void test_userdata_bytes_user_values_and_name(void **state) {
  (void)state;
  lua_State *L = tg_state();
  unsigned char *u = lua_newuserdatauv(L, 5, 3);
  memcpy(u, "a\0b\xff", 5);
  luaL_newmetatable(L, "My.Type");
  lua_setmetatable(L, -2);
  lua_pushinteger(L, 11);
  lua_setiuservalue(L, -2, 1);
  lua_newtable(L);
  lua_setiuservalue(L, -2, 3);
  lua_setglobal(L, "ud");
  tg_graph g;
  tg_snap(L, &g, "globals", NULL);
  tg_node *n = tg_path(&g, "globals", "ud");
  assert_string_equal(n->kind, "userdata");
  assert_string_equal(n->type, "My.Type");
  assert_int_equal(n->payload_len, 5);
  assert_memory_equal(n->payload, "a\0b\xff", 5);
  assert_int_equal(n->size, 40 + 3 * 16 + 5);
  assert_int_equal(tg_edge_index(n, "uservalue", 1)->value.u.i, 11);
  assert_int_equal(tg_edge_index(n, "uservalue", 2)->value.type, WIRE_V_NIL);
  assert_string_equal(tg_target(&g, tg_edge_index(n, "uservalue", 3))->kind, "table");
  assert_non_null(tg_edge_kind(n, "metatable"));
  tg_free(&g);
  lua_close(L);
}

static void test_string_metatable_is_a_type_root(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_graph g;
  tg_snap(L, &g, NULL);
  tg_node *mt = tg_target(&g, tg_edge_named(&g.nodes[0], "root", "metatable:string"));
  assert_string_equal(mt->kind, "table");
  tg_node *idx = tg_target(&g, tg_edge_named(mt, "field", "__index"));
  assert_non_null(tg_edge_named(idx, "field", "format"));
  assert_null(tg_edge_named(&g.nodes[0], "root", "metatable:number"));
  tg_free(&g);
  lua_close(L);
}

static void test_roots_paths_and_exits(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "app = {state = {n = 1, cache = {big = true}}, other = {}}");
  const char *roots[] = {"path:app.state", "loaded", "path:app.missing"};
  const char *exits[] = {"app.state.cache", "io.stdout"};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.roots = roots;
  req.nroots = 3;
  req.exits = exits;
  req.nexits = 2;
  wire_buf out;
  wire_buf_init(&out);
  tg_graph g;
  alua_stats st;
  tg_snap_req(L, &req, &g, &out, &st);
  tg_node *state_ = tg_target(&g, tg_edge_named(&g.nodes[0], "root", "path:app.state"));
  assert_int_equal(tg_edge_named(state_, "field", "n")->value.u.i, 1);
  tg_node *cache = tg_target(&g, tg_edge_named(state_, "field", "cache"));
  assert_string_equal(cache->kind, "exit");
  assert_string_equal(cache->name, "app.state.cache");
  assert_int_equal(cache->nedges, 0);
  assert_int_equal(tg_edge_named(&g.nodes[0], "root", "path:app.missing")->value.type, WIRE_V_NIL);
  tg_node *io = tg_target(&g, tg_edge_named(tg_target(&g, tg_edge_named(&g.nodes[0], "root", "loaded")), "field", "io"));
  tg_node *so = tg_target(&g, tg_edge_named(io, "field", "stdout"));
  assert_string_equal(so->kind, "exit");
  assert_string_equal(so->name, "io.stdout");
  assert_true(st.exits >= 2);
  /* no globals root was asked for, so _G's own table was not walked */
  assert_null(tg_edge_named(&g.nodes[0], "root", "globals"));
  wire_buf_free(&out);
  tg_free(&g);
  lua_close(L);
}

static void test_unknown_root_is_a_clear_error(void **state) {
  (void)state;
  lua_State *L = tg_state();
  const char *roots[] = {"heap"};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.id = 5;
  req.roots = roots;
  req.nroots = 1;
  wire_buf out;
  wire_buf_init(&out);
  const char *err = NULL;
  assert_int_equal(alua_snapshot(L, &req, &out, NULL, &err), -1);
  assert_non_null(err);
  assert_non_null(strstr(err, "unknown root"));
  tg_graph g;
  tg_parse(&g, out.data, out.len);
  assert_true(g.errored);
  assert_non_null(strstr(g.error_text, "unknown root"));
  assert_int_equal(lua_gc(L, LUA_GCISRUNNING, 0), 1);
  tg_free(&g);
  wire_buf_free(&out);
  lua_close(L);
}

static void test_small_batches_split_nodes_with_continuations(void **state) {
  (void)state;
  lua_State *L = tg_state();
  tg_run(L, "big = {}; for i = 1, 20000 do big[i] = i * 2 end");
  const char *roots[] = {"globals"};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.roots = roots;
  req.nroots = 1;
  req.batch_bytes = 4096;
  wire_buf out;
  wire_buf_init(&out);
  tg_graph g;
  tg_snap_req(L, &req, &g, &out, NULL);
  assert_true(g.batches > 10);
  assert_true(g.continuations > 10);
  tg_node *big = tg_path(&g, "globals", "big");
  assert_int_equal(big->nedges, 20000);
  assert_int_equal(tg_edge_index(big, "index", 4321)->value.u.i, 8642);
  /* the array travels as runs, and a run ends where its batch is full */
  assert_true(g.runs >= g.continuations);
  for (int64_t i = 1; i <= 20000; i++)
    assert_true(tg_edge_index(big, "index", i)->value.u.i == 2 * i);
  wire_buf_free(&out);
  tg_free(&g);
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_integers_floats_and_specials_are_exact),
      cmocka_unit_test(test_strings_keep_nul_and_invalid_utf8_bytes),
      cmocka_unit_test(test_string_keys_with_odd_bytes_are_field_names),
      cmocka_unit_test(test_one_string_object_is_one_node),
      cmocka_unit_test(test_table_keys_of_every_type),
      cmocka_unit_test(test_table_size_follows_array_and_hash_parts),
      cmocka_unit_test(test_weak_modes_come_from_raw_mode_field),
      cmocka_unit_test(test_metatable_name_types_tables),
      cmocka_unit_test(test_shared_upvalue_is_one_node),
      cmocka_unit_test(test_closures_of_one_prototype_share_its_node),
      cmocka_unit_test(test_every_proto_payload_loads_back),
      cmocka_unit_test(test_c_functions_are_named_exits),
      cmocka_unit_test(test_unnamed_light_c_function_is_a_stub),
      cmocka_unit_test(test_c_closure_keeps_upvalues_by_number),
      cmocka_unit_test(test_light_userdata_is_a_stub),
      cmocka_unit_test(test_userdata_bytes_user_values_and_name),
      cmocka_unit_test(test_string_metatable_is_a_type_root),
      cmocka_unit_test(test_roots_paths_and_exits),
      cmocka_unit_test(test_unknown_root_is_a_clear_error),
      cmocka_unit_test(test_small_batches_split_nodes_with_continuations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
