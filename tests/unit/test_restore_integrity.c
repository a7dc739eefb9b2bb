/*
** test_restore_integrity.c
** Restore refuses what it must: altered records (content hash), untrusted
** bytecode, malformed graphs; a failed restore leaves the VM as it was; the
** streamed protocol answers restore-done or restore-error; capture files.
*/
#include <unistd.h>
#include "test_restore_util.h"

static const alua_restore_opts trusted = {.trust_bytecode = 1};
static const alua_restore_opts untrusted = {.trust_bytecode = 0};

/* ---- a hand-built snapshot stream, hashed as the protocol says -------- */

typedef struct gb {
  wire_buf out;
  wire_hash h;
  uint64_t nodes, edges;
  int open;
} gb;

static void gb_begin(gb *g)
{
  memset(g, 0, sizeof *g);
  wire_buf_init(&g->out);
  wire_hash_init(&g->h);
  wire_msg_begin(&g->out);
  wire_open(&g->out, "snapshot-begin");
  wire_attr_u64(&g->out, "id", 1);
  wire_attr_str(&g->out, "vm", "lua");
  wire_empty_end(&g->out);
  wire_msg_end(&g->out);
  wire_msg_begin(&g->out);
  wire_open(&g->out, "graph");
  wire_attr_u64(&g->out, "id", 1);
  wire_attr_u64(&g->out, "seq", 0);
  wire_open_end(&g->out);
}

static void gb_node(gb *g, uint64_t id, const char *kind, const char *value,
                    const void *payload, size_t plen)
{
  wire_node n;
  memset(&n, 0, sizeof n);
  n.id = id;
  n.kind = kind;
  if (value) {
    n.value = value;
    n.value_len = strlen(value);
    n.has_value = 1;
  }
  if (payload) {
    n.payload = payload;
    n.payload_len = plen;
    n.has_payload = 1;
  }
  if (g->open) wire_node_close(&g->out);
  wire_node_open(&g->out, &n);
  wire_hash_node(&g->h, &n);
  g->open = 1;
  g->nodes++;
}

static void gb_edge(gb *g, const char *kind, const char *name, wire_value key,
                    wire_value v)
{
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = kind;
  e.name = name;
  e.name_len = name ? strlen(name) : 0;
  e.key = key;
  e.value = v;
  wire_edge_write(&g->out, &e);
  wire_hash_edge(&g->h, &e);
  g->edges++;
}

static wire_value ref(uint64_t id)
{
  wire_value v = {.type = WIRE_V_REF, .u.ref = id};
  return v;
}

static const wire_value none = {.type = WIRE_V_NONE};

static void gb_end(gb *g)
{
  char hex[17];
  if (g->open) wire_node_close(&g->out);
  wire_close(&g->out, "graph");
  wire_msg_end(&g->out);
  wire_hash_hex(&g->h, hex);
  wire_msg_begin(&g->out);
  wire_open(&g->out, "snapshot-end");
  wire_attr_u64(&g->out, "id", 1);
  wire_attr_u64(&g->out, "nodes", g->nodes);
  wire_attr_u64(&g->out, "edges", g->edges);
  wire_attr_str(&g->out, "hash", hex);
  wire_empty_end(&g->out);
  wire_msg_end(&g->out);
}

/* Restore bytes into L expecting failure; fails the test unless the error
** mentions needle. */
static void expect_refusal(lua_State *L, const wire_buf *bytes,
                           const alua_restore_opts *o, const char *needle)
{
  alua_restore_report rep;
  alua_restore_report_init(&rep);
  assert_int_equal(alua_restore_bytes(L, bytes->data, bytes->len, 0, o, &rep),
                   -1);
  if (!strstr(rep.error, needle))
    fail_msg("expected an error about '%s', got: %s", needle, rep.error);
  alua_restore_report_free(&rep);
}

/* Replace the first occurrence of from by to (same length) in b. */
static void patch(wire_buf *b, const char *from, const char *to)
{
  size_t n = strlen(from);
  assert_int_equal(n, strlen(to));
  for (size_t i = 0; i + n <= b->len; i++)
    if (memcmp(b->data + i, from, n) == 0) {
      memcpy(b->data + i, to, n);
      return;
    }
  fail_msg("'%s' not found in the stream", from);
}

static void snapshot_program(wire_buf *bytes)
{
  lua_State *L = tr_state();
  tr_run(L, "sentinel = 'keep-me'\n"
            "function greet(n) return 'hello ' .. n end\n");
  wire_buf_init(bytes);
  tr_snapshot(L, tr_globals_only, 1, bytes);
  lua_close(L);
}

static void test_hash_mismatch_is_refused_before_anything_loads(void **state)
{
  (void)state;
  wire_buf bytes;
  snapshot_program(&bytes);
  char *h = strstr(bytes.data, "hash=\"");
  assert_non_null(h);
  h[6] = h[6] == '0' ? '1' : '0';
  lua_State *R = tr_state();
  expect_refusal(R, &bytes, &trusted, "hash mismatch");
  tr_expect(R, "sentinel", "nil");
  tr_expect(R, "greet", "nil");
  tr_expect(R, "('vm still works'):upper()", "VM STILL WORKS");
  lua_close(R);
  wire_buf_free(&bytes);
}

static void test_altered_record_is_refused(void **state)
{
  (void)state;
  wire_buf bytes;
  snapshot_program(&bytes);
  patch(&bytes, "keep-me", "keep-ME");
  lua_State *R = tr_state();
  expect_refusal(R, &bytes, &trusted, "hash mismatch");
  tr_expect(R, "sentinel", "nil");
  lua_close(R);
  wire_buf_free(&bytes);
}

static void test_untrusted_bytecode_is_refused_with_the_reason(void **state)
{
  (void)state;
  wire_buf bytes;
  snapshot_program(&bytes);
  lua_State *R = tr_state();
  expect_refusal(R, &bytes, &untrusted, "--trust-bytecode");
  expect_refusal(R, &bytes, &untrusted, "crash or subvert");
  tr_expect(R, "sentinel", "nil");
  lua_close(R);
  wire_buf_free(&bytes);
}

static void test_data_without_bytecode_needs_no_trust(void **state)
{
  (void)state;
  lua_State *L = tr_state(), *R = tr_state();
  tr_run(L, "config = {name = 'x', sizes = {1, 2, 3}}");
  wire_buf bytes;
  wire_buf_init(&bytes);
  tr_snapshot(L, tr_globals_only, 1, &bytes);
  alua_restore_report rep;
  tr_restore(R, &bytes, &untrusted, &rep);
  tr_expect(R, "config.name .. #config.sizes", "x3");
  alua_restore_report_free(&rep);
  wire_buf_free(&bytes);
  lua_close(R);
  lua_close(L);
}

static void test_failed_build_leaves_the_vm_as_it_was(void **state)
{
  (void)state;
  static const char junk[] = "\x1bLua but not bytecode from this build";
  gb g;
  gb_begin(&g);
  gb_node(&g, 0, "root", NULL, NULL, 0);
  gb_edge(&g, "root", "globals", none, ref(1));
  gb_node(&g, 1, "table", NULL, NULL, 0);
  gb_edge(&g, "field", "marker", none, ref(2));
  gb_edge(&g, "field", "f", none, ref(3));
  gb_node(&g, 2, "string", "restored", NULL, 0);
  gb_node(&g, 3, "function", NULL, NULL, 0);
  gb_edge(&g, "prototype", NULL, none, ref(4));
  gb_node(&g, 4, "proto", NULL, junk, sizeof junk - 1);
  gb_end(&g);
  lua_State *R = tr_state();
  tr_run(R, "before = 'untouched'");
  expect_refusal(R, &g.out, &trusted, "not dumped by this Lua build");
  expect_refusal(R, &g.out, &trusted, "the VM is as it was");
  tr_expect(R, "tostring(marker) .. ' ' .. before", "nil untouched");
  tr_run(R, "collectgarbage(); x = {} for i = 1, 100 do x[i] = i end");
  tr_expect(R, "#x", "100");
  lua_close(R);
  wire_buf_free(&g.out);
}

static void test_malformed_graphs_are_refused_with_reasons(void **state)
{
  (void)state;
  lua_State *R = tr_state();
  gb g;

  gb_begin(&g);                          /* a reference to no node */
  gb_node(&g, 0, "root", NULL, NULL, 0);
  gb_edge(&g, "root", "globals", none, ref(99));
  gb_end(&g);
  expect_refusal(R, &g.out, &trusted, "does not exist");
  wire_buf_free(&g.out);

  gb_begin(&g);                          /* ids with a gap */
  gb_node(&g, 0, "root", NULL, NULL, 0);
  gb_node(&g, 2, "table", NULL, NULL, 0);
  gb_end(&g);
  expect_refusal(R, &g.out, &trusted, "without gaps");
  wire_buf_free(&g.out);

  gb_begin(&g);                          /* a NaN table key */
  gb_node(&g, 0, "root", NULL, NULL, 0);
  gb_edge(&g, "root", "globals", none, ref(1));
  gb_node(&g, 1, "table", NULL, NULL, 0);
  wire_value nan = {.type = WIRE_V_FLOAT, .u.f = __builtin_nan("")};
  wire_value one = {.type = WIRE_V_INT, .u.i = 1};
  gb_edge(&g, "key", NULL, nan, one);
  gb_end(&g);
  expect_refusal(R, &g.out, &trusted, "not nil or NaN");
  wire_buf_free(&g.out);

  gb_begin(&g);                          /* a table field that is a proto */
  gb_node(&g, 0, "root", NULL, NULL, 0);
  gb_edge(&g, "root", "globals", none, ref(1));
  gb_node(&g, 1, "table", NULL, NULL, 0);
  gb_edge(&g, "field", "p", none, ref(2));
  gb_node(&g, 2, "proto", NULL, "x", 1);
  gb_end(&g);
  expect_refusal(R, &g.out, &trusted, "not a value");
  wire_buf_free(&g.out);

  tr_expect(R, "1 + 1", "2");
  lua_close(R);
}

static void test_capture_cut_before_its_end_is_refused(void **state)
{
  (void)state;
  wire_buf bytes;
  snapshot_program(&bytes);
  char *end = strstr(bytes.data, "<xsbug><snapshot-end");
  assert_non_null(end);
  bytes.len = (size_t)(end - bytes.data);
  lua_State *R = tr_state();
  expect_refusal(R, &bytes, &trusted, "no complete snapshot");
  lua_close(R);
  wire_buf_free(&bytes);
}

static void test_capture_with_two_snapshots_gives_the_last_or_the_named(
    void **state)
{
  (void)state;
  lua_State *L = tr_state();
  wire_buf bytes;
  wire_buf_init(&bytes);
  tr_run(L, "turn = 1");
  tr_snapshot_id(L, tr_globals_only, 1, 7, &bytes);
  tr_run(L, "turn = 2");
  tr_snapshot_id(L, tr_globals_only, 1, 8, &bytes);
  alua_restore_report rep;
  lua_State *A = tr_state(), *B = tr_state();
  alua_restore_report_init(&rep);
  assert_int_equal(alua_restore_bytes(A, bytes.data, bytes.len, 0, &trusted,
                                      &rep), 0);
  assert_int_equal(rep.id, 8);
  alua_restore_report_free(&rep);
  alua_restore_report_init(&rep);
  assert_int_equal(alua_restore_bytes(B, bytes.data, bytes.len, 7, &trusted,
                                      &rep), 0);
  alua_restore_report_free(&rep);
  tr_expect(A, "turn", "2");
  tr_expect(B, "turn", "1");
  lua_close(B);
  lua_close(A);
  lua_close(L);
  wire_buf_free(&bytes);
}

static void test_capture_file_restores_and_missing_file_is_explained(
    void **state)
{
  (void)state;
  wire_buf bytes;
  snapshot_program(&bytes);
  char path[] = "/tmp/amber-restore-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, bytes.data, bytes.len), (ssize_t)bytes.len);
  close(fd);
  lua_State *R = tr_state();
  alua_restore_report rep;
  alua_restore_report_init(&rep);
  assert_int_equal(alua_restore_file(R, path, 0, &trusted, &rep), 0);
  alua_restore_report_free(&rep);
  tr_expect(R, "greet('file')", "hello file");
  alua_restore_report_init(&rep);
  assert_int_equal(alua_restore_file(R, "/nonexistent/amber.xsbug", 0,
                                     &trusted, &rep), -1);
  assert_non_null(strstr(rep.error, "cannot open"));
  alua_restore_report_free(&rep);

  /* amber.restore() from Lua: untrusted by default, a report when trusted. */
  lua_State *S = tr_state();
  lua_pushcfunction(S, alua_restore_l);
  lua_setglobal(S, "restore");
  lua_pushstring(S, path);
  lua_setglobal(S, "path");
  tr_expect(S, "select(2, restore(path)):match('trust') ~= nil", "true");
  tr_run(S, "report = restore(path, {trust = true, mode = 'merge'})");
  tr_expect(S, "report.nodes > 0 and report.nplaceholders", "0");
  tr_expect(S, "greet('lua')", "hello lua");
  unlink(path);
  lua_close(S);
  lua_close(R);
  wire_buf_free(&bytes);
}

/* Random graphs, hashed correctly so that they reach the build: every one
** is restored or refused with a reason, and the VM survives. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static unsigned pick(unsigned n)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

static wire_value random_value(uint64_t nodes)
{
  wire_value v;
  memset(&v, 0, sizeof v);
  switch (pick(6)) {
  case 0: v.type = WIRE_V_NIL; break;
  case 1: v.type = WIRE_V_BOOL; v.u.b = (int)pick(2); break;
  case 2: v.type = WIRE_V_INT; v.u.i = (int64_t)pick(7) - 2; break;
  case 3: v.type = WIRE_V_FLOAT; v.u.f = pick(2) ? -0.0 : 0.5; break;
  default: v.type = WIRE_V_REF; v.u.ref = pick((unsigned)nodes); break;
  }
  return v;
}

static void test_random_graphs_are_restored_or_refused(void **state)
{
  (void)state;
  static const char *const kinds[] = {
    "table", "string", "table", "userdata", "table", "thread", "table",
    "frame", "table", "exit", "table", "stub", "table", "cfunction", "table",
    "function", "table", "object", "table", "upvalue"
  };
  static const char *const ekinds[] = {
    "field", "field", "index", "key", "metatable", "uservalue", "value",
    "upvalue", "function", "local", "vararg", "stack", "frame", "weird"
  };
  static const char *const names[] = {
    "globals", "registry", "loaded", "stack", "path:a.b", "metatable:number",
    "metatable:string", "_G", "package", "string", "FILE*", "_LOADED", "x"
  };
  static const char *const statuses[] = {
    "dead", "unstarted", "suspended", "running", "normal"
  };
  static const char *const exits[] = {
    "print", "string.format", "io.stdout", "no.such.thing",
    "package.searchers.2"
  };
  int built = 0, refused = 0;
  for (int round = 0; round < 300; round++) {
    uint64_t n = 2 + pick(24);
    gb g;
    gb_begin(&g);
    gb_node(&g, 0, "root", NULL, NULL, 0);
    for (unsigned e = pick(4) + 1; e; e--)
      gb_edge(&g, "root", names[pick(7)], none, random_value(n));
    for (uint64_t id = 1; id < n; id++) {
      /* Odd ids are tables, so that sane edges mostly point at values. */
      const char *k = id % 2 ? "table"
                             : kinds[pick(sizeof kinds / sizeof *kinds)];
      wire_node nd;
      memset(&nd, 0, sizeof nd);
      nd.id = id;
      nd.kind = k;
      if (strcmp(k, "string") == 0) {
        nd.value = names[pick(13)];
        nd.value_len = strlen(nd.value);
        nd.has_value = 1;
      } else if (strcmp(k, "userdata") == 0) {
        nd.payload = "12345678";
        nd.payload_len = pick(9);
        nd.has_payload = pick(4) != 0;
        nd.type = pick(2) ? "FILE*" : "thing";
        nd.type_len = strlen(nd.type);
      } else if (strcmp(k, "thread") == 0) {
        nd.status = statuses[pick(5)];
      } else if (strcmp(k, "exit") == 0 || strcmp(k, "cfunction") == 0) {
        nd.name = exits[pick(5)];
        nd.name_len = strlen(nd.name);
      }
      if (g.open) wire_node_close(&g.out);
      wire_node_open(&g.out, &nd);
      wire_hash_node(&g.h, &nd);
      g.open = 1;
      g.nodes++;
      for (unsigned e = pick(6); e; e--) {
        wire_edge ed;
        memset(&ed, 0, sizeof ed);
        ed.kind = ekinds[pick(sizeof ekinds / sizeof *ekinds)];
        ed.value = random_value(n);
        if (pick(8) == 0) {           /* anything at all */
          if (pick(2)) {
            ed.name = names[pick(13)];
            ed.name_len = strlen(ed.name);
          }
          if (pick(3) == 0) {
            ed.key = random_value(n);
          } else if (pick(2)) {
            ed.has_index = 1;
            ed.index = (int64_t)pick(5) - 1;
          }
        } else {                      /* what the edge kind asks for */
          if (strcmp(ed.kind, "key") == 0) {
            ed.key.type = WIRE_V_BOOL;
            ed.key.u.b = 1;
          } else if (strcmp(ed.kind, "field") == 0 || pick(4) == 0) {
            ed.name = names[pick(13)];
            ed.name_len = strlen(ed.name);
          }
          if (strcmp(ed.kind, "key") != 0 && strcmp(ed.kind, "field") != 0) {
            ed.has_index = 1;
            ed.index = 1 + (int64_t)pick(2);
          }
          if (ed.value.type == WIRE_V_REF && pick(4))
            ed.value.u.ref = 1 + pick((unsigned)n - 1) / 2 * 2;
        }
        wire_edge_write(&g.out, &ed);
        wire_hash_edge(&g.h, &ed);
        g.edges++;
      }
    }
    gb_end(&g);
    lua_State *R = tr_state();
    alua_restore_opts o = {.replace = (int)pick(2)};
    alua_restore_report rep;
    alua_restore_report_init(&rep);
    if (alua_restore_bytes(R, g.out.data, g.out.len, 0, &o, &rep) != 0) {
      assert_true(rep.error[0] != 0);
      refused++;
    } else {
      built++;
    }
    alua_restore_report_free(&rep);
    lua_gc(R, LUA_GCCOLLECT);
    assert_int_equal(luaL_dostring(R, "local t = {} for i = 1, 10 do t[i] = i "
                                      "end return #t"), LUA_OK);
    lua_close(R);
    wire_buf_free(&g.out);
  }
  /* Both paths were taken, the build's as well as the checks'. */
  fprintf(stderr, "random graphs: %d built, %d refused\n", built, refused);
  assert_true(built >= 30 && refused >= 30);
}

/* ---- the streamed protocol, as the command loop drives it -------------- */

typedef struct stream {
  lua_State *L;
  alua_restore *slot;
  wire_buf reply;
  const char *mode;
} stream;

static int dispatch_items(void *ud, const wire_msg *m)
{
  stream *s = ud;
  for (const wire_elem *it = m->items; it; it = it->next)
    alua_restore_dispatch(&s->slot, s->L, it, &trusted, &s->reply);
  return 0;
}

static void dispatch_text(stream *s, const char *text)
{
  wire_parser *p = wire_parser_new(NULL, dispatch_items, s);
  assert_non_null(p);
  assert_int_equal(wire_parser_feed(p, text, strlen(text)), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  wire_parser_free(p);
}

/* Turn a snapshot stream into the restore stream the server sends. */
static int as_restore(void *ud, const wire_msg *m)
{
  stream *s = ud;
  char text[256];
  for (const wire_elem *it = m->items; it; it = it->next) {
    if (strcmp(it->name, "snapshot-begin") == 0) {
      snprintf(text, sizeof text, "\r\n<restore id=\"1\" mode=\"%s\"/>\r\n",
               s->mode);
      dispatch_text(s, text);
    } else if (strcmp(it->name, "graph") == 0) {
      alua_restore_dispatch(&s->slot, s->L, it, &trusted, &s->reply);
    } else if (strcmp(it->name, "snapshot-end") == 0) {
      size_t n;
      snprintf(text, sizeof text, "\r\n<restore-end id=\"1\" nodes=\"%s\" "
               "edges=\"%s\" hash=\"%s\"/>\r\n", wire_get(it, "nodes", &n),
               wire_get(it, "edges", &n), wire_get(it, "hash", &n));
      dispatch_text(s, text);
    }
  }
  return 0;
}

static void stream_restore(stream *s, const wire_buf *bytes)
{
  wire_parser *p = wire_parser_new(NULL, as_restore, s);
  assert_non_null(p);
  assert_int_equal(wire_parser_feed(p, bytes->data, bytes->len), WIRE_OK);
  wire_parser_free(p);
}

/* The reply's one item, parsed: name and attributes are checked here. */
typedef struct answer {
  char name[32], text[256], why[160];
  uint64_t id, nodes, placeholders, ph_node;
  int nph;
} answer;

static int read_answer(void *ud, const wire_msg *m)
{
  answer *a = ud;
  const wire_elem *it = m->items;
  size_t n;
  const char *t;
  snprintf(a->name, sizeof a->name, "%s", it->name);
  wire_get_u64(it, "id", &a->id);
  wire_get_u64(it, "nodes", &a->nodes);
  wire_get_u64(it, "placeholders", &a->placeholders);
  if ((t = wire_get(it, "text", &n)))
    snprintf(a->text, sizeof a->text, "%s", t);
  for (const wire_elem *c = it->children; c; c = c->next) {
    a->nph++;
    wire_get_u64(c, "i", &a->ph_node);
    if ((t = wire_get(c, "why", &n))) snprintf(a->why, sizeof a->why, "%s", t);
  }
  return 0;
}

static void parse_answer(const wire_buf *reply, answer *a)
{
  memset(a, 0, sizeof *a);
  wire_parser *p = wire_parser_new(NULL, read_answer, a);
  assert_non_null(p);
  assert_int_equal(wire_parser_feed(p, reply->data, reply->len), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  wire_parser_free(p);
}

static void test_streamed_restore_answers_done_with_placeholders(void **state)
{
  (void)state;
  lua_State *L = tr_state();
  tr_run(L, "co = coroutine.create(function() coroutine.yield() end)\n"
            "coroutine.resume(co)\n"
            "greeting = 'streamed'\n");
  wire_buf bytes;
  wire_buf_init(&bytes);
  tr_snapshot(L, tr_globals_registry, 2, &bytes);
  stream s = {tr_state(), NULL, {0}, "merge"};
  wire_buf_init(&s.reply);
  stream_restore(&s, &bytes);
  assert_null(s.slot);
  answer a;
  parse_answer(&s.reply, &a);
  assert_string_equal(a.name, "restore-done");
  assert_int_equal(a.id, 1);
  assert_true(a.nodes > 100);
  assert_int_equal(a.placeholders, 1);
  assert_int_equal(a.nph, 1);
  assert_non_null(strstr(a.why, "coroutine suspended"));
  tr_expect(s.L, "greeting .. ' ' .. coroutine.status(co)", "streamed dead");
  lua_close(s.L);
  lua_close(L);
  wire_buf_free(&s.reply);
  wire_buf_free(&bytes);
}

static void test_streamed_restore_with_bad_hash_answers_error(void **state)
{
  (void)state;
  wire_buf bytes;
  snapshot_program(&bytes);
  char *h = strstr(bytes.data, "hash=\"");
  h[6] = h[6] == 'a' ? 'b' : 'a';
  stream s = {tr_state(), NULL, {0}, "replace"};
  wire_buf_init(&s.reply);
  stream_restore(&s, &bytes);
  answer a;
  parse_answer(&s.reply, &a);
  assert_string_equal(a.name, "restore-error");
  assert_int_equal(a.id, 1);
  assert_non_null(strstr(a.text, "hash mismatch"));
  tr_expect(s.L, "sentinel", "nil");
  lua_close(s.L);
  wire_buf_free(&s.reply);
  wire_buf_free(&bytes);
}

static void test_stray_or_malformed_restore_messages_are_answered(void **state)
{
  (void)state;
  stream s = {tr_state(), NULL, {0}, "merge"};
  answer a;
  wire_buf_init(&s.reply);
  dispatch_text(&s, "\r\n<restore-end id=\"4\" nodes=\"1\" edges=\"0\" "
                    "hash=\"0000000000000000\"/>\r\n");
  parse_answer(&s.reply, &a);
  assert_string_equal(a.name, "restore-error");
  assert_int_equal(a.id, 4);
  assert_non_null(strstr(a.text, "no restore in progress"));
  wire_buf_reset(&s.reply);
  dispatch_text(&s, "\r\n<restore id=\"5\" mode=\"sideways\"/>\r\n");
  parse_answer(&s.reply, &a);
  assert_string_equal(a.name, "restore-error");
  assert_non_null(strstr(a.text, "merge or replace"));
  assert_null(s.slot);
  /* Items that are not restore's are left to the command loop. */
  wire_buf_reset(&s.reply);
  dispatch_text(&s, "\r\n<go/>\r\n");
  assert_int_equal(s.reply.len, 0);
  lua_close(s.L);
  wire_buf_free(&s.reply);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hash_mismatch_is_refused_before_anything_loads),
    cmocka_unit_test(test_altered_record_is_refused),
    cmocka_unit_test(test_untrusted_bytecode_is_refused_with_the_reason),
    cmocka_unit_test(test_data_without_bytecode_needs_no_trust),
    cmocka_unit_test(test_failed_build_leaves_the_vm_as_it_was),
    cmocka_unit_test(test_malformed_graphs_are_refused_with_reasons),
    cmocka_unit_test(test_random_graphs_are_restored_or_refused),
    cmocka_unit_test(test_capture_cut_before_its_end_is_refused),
    cmocka_unit_test(
        test_capture_with_two_snapshots_gives_the_last_or_the_named),
    cmocka_unit_test(test_capture_file_restores_and_missing_file_is_explained),
    cmocka_unit_test(test_streamed_restore_answers_done_with_placeholders),
    cmocka_unit_test(test_streamed_restore_with_bad_hash_answers_error),
    cmocka_unit_test(test_stray_or_malformed_restore_messages_are_answered),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
