/*
** test_restore_hash.c
** The content hash restore takes from the records it keeps: it equals the
** writer's for every field, kind and value a record can hold, and any
** change to a record changes it. Its verdict comes while the objects are
** built, so: a snapshot that does not check out runs nothing of its own,
** shows no host callback its bytes, sets no metatable and binds no root.
*/
#include <math.h>
#include "test_restore_util.h"

/* ---- the hash from kept records ------------------------------------- */

typedef struct both {
  alua_graph g;
  wire_hash h;        /* what the writer feeds */
  char err[256];
} both;

static void add_node(both *b, const wire_node *n)
{
  wire_hash_node(&b->h, n);
  if (alua_graph_add_node(&b->g, n, 0, b->err, sizeof b->err))
    fail_msg("node %llu refused: %s", (unsigned long long)n->id, b->err);
}

static void add_edge(both *b, const wire_edge *e)
{
  wire_hash_edge(&b->h, e);
  if (alua_graph_add_edge(&b->g, e, b->err, sizeof b->err))
    fail_msg("edge refused: %s", b->err);
}

/* Values of each type; the rest of the union is zero. */
static wire_value val(enum wire_vtype t) { return (wire_value){.type = t}; }
static wire_value fval(double f) { return (wire_value){WIRE_V_FLOAT, {.f = f}}; }
static wire_value ival(int64_t i) { return (wire_value){WIRE_V_INT, {.i = i}}; }
static wire_value rval(uint64_t r) { return (wire_value){WIRE_V_REF, {.ref = r}}; }
static wire_value bval(int b) { return (wire_value){WIRE_V_BOOL, {.b = b}}; }

/* One graph with every field a node can have, kinds restore does not
** know (nodes and edges, the unknown edges between known ones and across
** nodes), names empty and absent, and keys and values of every type. */
static void build_everything(both *b)
{
  static const char payload[5] = {0x1b, 'L', 0, 'a', (char)0xff};
  wire_node n;
  wire_edge e;
  alua_graph_init(&b->g, 0, 0);
  wire_hash_init(&b->h);

  memset(&n, 0, sizeof n);
  n.id = 0;
  n.kind = "root";
  add_node(b, &n);
  memset(&e, 0, sizeof e);
  e.kind = "root";
  e.name = "globals";
  e.name_len = 7;
  e.value = rval(1);
  add_edge(b, &e);
  e.kind = "xs-slot";               /* unknown, right after a known one */
  e.name = "";
  e.name_len = 0;
  e.value = rval(2);
  add_edge(b, &e);

  memset(&n, 0, sizeof n);
  n.id = 1;
  n.kind = "table";
  n.type = "Thing";
  n.type_len = 5;
  n.mode = "kv";
  add_node(b, &n);
  const wire_value keys[] = {bval(1), bval(0), ival(-7), fval(0.5),
                             fval(-0.0), fval(INFINITY), fval(-INFINITY),
                             fval(NAN), fval(5e-324), rval(2)};
  const wire_value vals[] = {val(WIRE_V_NIL), bval(1), ival(INT64_MIN),
                             fval(1.0 / 3), rval(0), fval(NAN), ival(0),
                             bval(0), fval(-1e300), rval(1)};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    memset(&e, 0, sizeof e);
    e.kind = i % 3 == 2 ? "weird-kind" : "key";
    e.key = keys[i];
    e.value = vals[i];
    add_edge(b, &e);
  }
  memset(&e, 0, sizeof e);
  e.kind = "index";
  e.has_index = 1;
  e.index = INT64_MAX;
  e.value = ival(1);
  add_edge(b, &e);
  e.kind = "field";
  e.has_index = 0;
  e.name = "with\0nul";
  e.name_len = 8;
  add_edge(b, &e);

  memset(&n, 0, sizeof n);
  n.id = 2;
  n.kind = "xs-object";             /* a kind restore does not know */
  n.name = "exit.path";
  n.name_len = 9;
  n.has_value = 1;
  n.value = "";
  n.value_len = 0;
  n.has_payload = 1;
  n.payload = payload;
  n.payload_len = sizeof payload;
  n.status = "suspended";
  n.source = "@x.lua";
  n.source_len = 6;
  n.has_line = 1;
  n.line = -3;
  n.has_size = 1;                   /* sizes and addresses are not hashed */
  n.size = 99;
  n.has_addr = 1;
  n.addr = 0xdead;
  add_node(b, &n);
  memset(&e, 0, sizeof e);
  e.kind = "another-unknown";
  e.has_index = 1;
  e.index = -1;
  e.value = val(WIRE_V_NIL);
  add_edge(b, &e);

  memset(&n, 0, sizeof n);
  n.id = 3;
  n.kind = "string";
  n.has_value = 1;
  n.value = "a\0b";
  n.value_len = 3;
  add_node(b, &n);
}

static void test_hash_from_records_is_the_writers(void **state)
{
  (void)state;
  both b;
  char got[17], want[17];
  build_everything(&b);
  alua_graph_hash_hex(&b.g, got);
  wire_hash_hex(&b.h, want);
  assert_string_equal(got, want);
  /* a value found alone is the one all fields decoded give */
  for (uint64_t id = 0; id < b.g.nnodes; id++) {
    alua_ninfo in;
    size_t len = 99;
    const char *v = alua_graph_value(&b.g, id, &len);
    alua_graph_node(&b.g, id, &in);
    if (!(in.has & ALUA_HAS_VALUE)) {
      assert_null(v);
      continue;
    }
    assert_ptr_equal(v, in.value);
    assert_int_equal(len, in.value_len);
  }
  assert_int_equal(alua_graph_finish(&b.g, 4, b.g.nedges, want, b.err,
                                     sizeof b.err), 0);
  assert_int_equal(alua_graph_check_hash(&b.g, b.err, sizeof b.err), 0);
  alua_graph_free(&b.g);
}

static void test_hash_from_records_sees_any_change(void **state)
{
  (void)state;
  both b;
  char before[17], after[17];
  build_everything(&b);
  alua_graph_hash_hex(&b.g, before);
  /* one kept thing changed at a time: an edge's value, key, name and an
  ** unknown kind's text; a node's kind */
  alua_gedge *e = &b.g.edges[5];   /* key 0.5, value 1/3 */
  uint8_t vt = e->vtype;
  e->vtype = WIRE_V_BOOL;
  alua_graph_hash_hex(&b.g, after);
  assert_string_not_equal(before, after);
  e->vtype = vt;
  e->key.f = 0.25;
  alua_graph_hash_hex(&b.g, after);
  assert_string_not_equal(before, after);
  e->key.f = 0.5;
  alua_graph_hash_hex(&b.g, after);
  assert_string_equal(before, after);
  char *kind = b.g.names.data + b.g.okinds[0].text - 1 + 4;
  kind[0] = 'X';
  alua_graph_hash_hex(&b.g, after);
  assert_string_not_equal(before, after);
  kind[0] = 'x';
  b.g.nodes[3].kind = ALUA_N_TABLE;
  alua_graph_hash_hex(&b.g, after);
  assert_string_not_equal(before, after);
  b.g.nodes[3].kind = ALUA_N_STRING;

  /* announced otherwise: refused with both hashes named */
  assert_int_equal(alua_graph_finish(&b.g, 4, b.g.nedges, "0123456789abcdef",
                                     b.err, sizeof b.err), 0);
  assert_int_equal(alua_graph_check_hash(&b.g, b.err, sizeof b.err), -1);
  assert_non_null(strstr(b.err, "hash mismatch"));
  assert_non_null(strstr(b.err, before));
  assert_non_null(strstr(b.err, "0123456789abcdef"));
  /* none announced: nothing to check */
  assert_int_equal(alua_graph_finish(&b.g, 4, b.g.nedges, NULL, b.err,
                                     sizeof b.err), 0);
  assert_int_equal(alua_graph_check_hash(&b.g, b.err, sizeof b.err), 0);
  alua_graph_free(&b.g);
}

static void test_unsound_graph_with_bad_hash_names_the_hash(void **state)
{
  (void)state;
  both b;
  build_everything(&b);
  b.g.edges[0].val.ref = 999;       /* a reference to no node */
  assert_int_equal(alua_graph_finish(&b.g, 4, b.g.nedges, "0123456789abcdef",
                                     b.err, sizeof b.err), -1);
  assert_non_null(strstr(b.err, "hash mismatch"));
  char good[17];
  alua_graph_hash_hex(&b.g, good);
  assert_int_equal(alua_graph_finish(&b.g, 4, b.g.nedges, good, b.err,
                                     sizeof b.err), -1);
  assert_non_null(strstr(b.err, "does not exist"));
  alua_graph_free(&b.g);
}

/* ---- the verdict gates what the snapshot may do --------------------- */

static const char program[] =
  "sentinel = 'keep-me'\n"
  "holder = setmetatable({}, {__gc = function() gc_ran = true end,\n"
  "                           __index = function() return 'meta' end})\n"
  "file = io.tmpfile()\n";

static int callback_calls;

static int count_userdata(lua_State *L, void *ud, const char *type,
                          size_t type_len, const void *bytes, size_t len)
{
  (void)L; (void)ud; (void)type; (void)type_len; (void)bytes; (void)len;
  callback_calls++;
  return ALUA_UD_DEFAULT;
}

static int restore_program(lua_State *R, int alter, char *err, size_t errlen)
{
  lua_State *L = tr_state();
  wire_buf bytes;
  alua_restore_opts o;
  alua_restore_report rep;
  tr_run(L, program);
  wire_buf_init(&bytes);
  tr_snapshot(L, tr_globals_only, 1, &bytes);
  lua_close(L);
  if (alter) {
    char *at = memmem(bytes.data, bytes.len, "keep-me", 7);
    assert_non_null(at);
    at[5] = 'M';                    /* still a sound record: only the hash */
  }
  memset(&o, 0, sizeof o);
  o.trust_bytecode = 1;
  o.userdata = count_userdata;
  alua_restore_report_init(&rep);
  int rc = alua_restore_bytes(R, bytes.data, bytes.len, 0, &o, &rep);
  snprintf(err, errlen, "%s", rep.error);
  alua_restore_report_free(&rep);
  wire_buf_free(&bytes);
  return rc;
}

static void test_sound_snapshot_reaches_callbacks_and_metatables(void **state)
{
  (void)state;
  char err[256];
  lua_State *R = tr_state();
  callback_calls = 0;
  if (restore_program(R, 0, err, sizeof err)) fail_msg("restore: %s", err);
  assert_true(callback_calls > 0);
  tr_expect(R, "sentinel", "keep-me");
  tr_expect(R, "holder.anything", "meta");
  tr_run(R, "holder = nil collectgarbage() collectgarbage()");
  tr_expect(R, "gc_ran", "true");
  lua_close(R);
}

static void test_altered_snapshot_runs_and_binds_nothing(void **state)
{
  (void)state;
  char err[256];
  lua_State *R = tr_state();
  callback_calls = 0;
  assert_int_equal(restore_program(R, 1, err, sizeof err), -1);
  if (!strstr(err, "hash mismatch")) fail_msg("expected a mismatch: %s", err);
  assert_int_equal(callback_calls, 0);
  tr_expect(R, "sentinel", "nil");
  tr_expect(R, "holder", "nil");
  /* what was built is garbage, and no finaliser of the snapshot's runs */
  tr_run(R, "collectgarbage() collectgarbage()");
  tr_expect(R, "gc_ran", "nil");
  tr_expect(R, "('vm still works'):upper()", "VM STILL WORKS");
  lua_close(R);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hash_from_records_is_the_writers),
    cmocka_unit_test(test_hash_from_records_sees_any_change),
    cmocka_unit_test(test_unsound_graph_with_bad_hash_names_the_hash),
    cmocka_unit_test(test_sound_snapshot_reaches_callbacks_and_metatables),
    cmocka_unit_test(test_altered_snapshot_runs_and_binds_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
