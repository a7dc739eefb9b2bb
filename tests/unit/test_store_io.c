/*
** test_store_io.c
** Import of capture files (same result as a socket; a truncated or
** damaged capture keeps only whole snapshots), export in JSON lines and
** DOT (checked by a small JSON checker and decoded back), and readers
** working while another connection writes.
*/
#include <math.h>
#include <signal.h>
#include <sys/wait.h>

#include "test_store_util.h"

/* Two snapshots of a little program, with awkward bytes and floats. */
static void build_capture(tstream *t) {
  ts_login(t, "capture.lua", 77);
  for (int k = 1; k <= 2; k++) {
    ts_begin(t, k == 1 ? "1" : "2", "label", "cap\xff", NULL);
    ts_root(t);
    wire_node n = tn("table");
    n.type = "Inv\"entory", n.type_len = 10;
    n.addr = 0x5616e0a4c2b0, n.has_addr = 1, n.size = 88, n.has_size = 1;
    ts_node(t, n);
    ts_edge(t, te_field("s", tv_ref(2)));
    ts_edge(t, te_field("nan", tv_float(NAN)));
    ts_edge(t, te_field("negzero", tv_float(-0.0)));
    ts_edge(t, te_field("big", tv_int(INT64_MIN)));
    wire_edge w = te_field("", tv_int(k));
    w.name = "\x01\xc3\x28\xef\x9c\x81", w.name_len = 6;
    ts_edge(t, w);
    ts_batch(t);
    for (int i = 1; i <= 10; i++) ts_edge(t, te_index(i, tv_ref(i % 3)));
    wire_edge kk = te_kind("key", tv_ref(2));
    kk.key = tv_ref(1);
    ts_edge(t, kk);
    n = tn("string");
    n.value = "he said \"hi\\\"\n\0\xe2\x82\xac\xff", n.value_len = 19, n.has_value = 1;
    ts_node(t, n);
    n = tn("function");
    n.payload = "\x1bLua\0\xff", n.payload_len = 6, n.has_payload = 1;
    ts_node(t, n);
    ts_end(t);
  }
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

typedef struct sink { wire_buf b; int fail_after; } sink;

static int to_sink(void *ud, const void *p, size_t n) {
  sink *s = ud;
  if (s->fail_after >= 0 && s->b.len + n > (size_t)s->fail_after) return 1;
  wire_buf_put(&s->b, p, n);
  return 0;
}

static void export_to(store *s, int64_t snap, store_export_opts *o, sink *out) {
  wire_buf_init(&out->b);
  out->fail_after = -1;
  int rc = store_export(s, snap, o, to_sink, out);
  if (rc) fprintf(stderr, "%s\n", store_errmsg(s));
  assert_int_equal(rc, STORE_OK);
  assert_false(out->b.oom);
  wire_buf_put(&out->b, "", 1); /* a NUL for string functions */
  out->b.len--;
}

static void test_import_stores_what_a_socket_would(void **state) {
  (void)state;
  tdb a, b;
  tdb_open(&a);
  tdb_open(&b);
  tstream t;
  ts_init(&t);
  build_capture(&t);
  char path[128];
  snprintf(path, sizeof path, "%s/capture.bin", a.dir);
  write_file(path, t.b.data, t.b.len);
  int64_t *ids;
  size_t nids;
  assert_int_equal(store_import_file(a.s, path, &ids, &nids, NULL, NULL), STORE_OK);
  assert_int_equal(nids, 2);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(b.s, &t.b, &tr), 2);
  for (int k = 0; k < 2; k++) {
    assert_true(ids[k] == tr.snap[k]);
    store_export_opts o = {STORE_JSONL, -1, 0, 0, NULL, NULL};
    sink x, y;
    export_to(a.s, ids[k], &o, &x);
    export_to(b.s, tr.snap[k], &o, &y);
    assert_int_equal(x.b.len, y.b.len);
    assert_memory_equal(x.b.data, y.b.data, x.b.len);
    wire_buf_free(&x.b);
    wire_buf_free(&y.b);
    assert_int_equal(store_verify(a.s, ids[k], NULL), STORE_OK);
  }
  free(ids);
  assert_int_equal(store_import_file(a.s, "/nonexistent.bin", &ids, &nids, NULL, NULL), STORE_EIO);
  assert_non_null(strstr(store_errmsg(a.s), "/nonexistent.bin"));
  free(ids);
  ts_free(&t);
  tdb_close(&a);
  tdb_close(&b);
}

static size_t count_in(const char *p, size_t n, const char *what) {
  size_t k = 0, w = strlen(what);
  for (size_t i = 0; i + w <= n; i++) k += !memcmp(p + i, what, w);
  return k;
}

static void test_truncated_capture_keeps_only_whole_snapshots(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  build_capture(&t);
  char path[128];
  snprintf(path, sizeof path, "%s/cut.bin", d.dir);
  size_t total_snaps = 0, total_nodes = 0;
  for (size_t cut = 0; cut <= t.b.len; cut += 37) {
    write_file(path, t.b.data, cut);
    int64_t *ids;
    size_t nids;
    int rc = store_import_file(d.s, path, &ids, &nids, NULL, NULL);
    /* A snapshot counts once its end message is whole. */
    size_t ends = 0;
    for (const char *p = t.b.data; (p = strstr(p, "<snapshot-end")) && p < t.b.data + cut; p++) {
      const char *close = strstr(p, "</xsbug>");
      if (close && (size_t)(close - t.b.data) + 8 <= cut) ends++;
    }
    assert_int_equal(nids, ends);
    size_t begins = count_in(t.b.data, cut, "<snapshot-begin");
    const char *last = t.b.data;
    for (const char *p = t.b.data; (p = strstr(p, "</xsbug>")) && (size_t)(p - t.b.data) + 8 <= cut; p++)
      last = p + 8;
    int partial = memchr(last, '<', cut - (size_t)(last - t.b.data)) != NULL;
    if (begins > ends || partial) {
      assert_true(rc == STORE_ETRUNC);
      assert_non_null(strstr(store_errmsg(d.s), "byte"));
    } else {
      assert_int_equal(rc, STORE_OK);
    }
    total_snaps += nids;
    total_nodes += nids * 4;
    free(ids);
  }
  assert_int_equal(tdb_count(d.s), total_snaps);
  assert_true(tdb_nodes(d.s) == (int64_t)total_nodes);
  assert_true(tdb_rows(d.s, "snapshots") == (int64_t)total_snaps);

  /* Garbage inside the second snapshot: the first stays. */
  wire_buf bad;
  wire_buf_init(&bad);
  const char *second = strstr(t.b.data, "<xsbug><graph id=\"2\"");
  assert_non_null(second);
  wire_buf_put(&bad, t.b.data, (size_t)(second - t.b.data) + 20);
  wire_buf_puts(&bad, "<<<garbage");
  write_file(path, bad.data, bad.len);
  int64_t *ids;
  size_t nids;
  assert_int_equal(store_import_file(d.s, path, &ids, &nids, NULL, NULL), STORE_EPROTO);
  assert_int_equal(nids, 1);
  assert_non_null(strstr(store_errmsg(d.s), "damaged at byte"));
  assert_non_null(strstr(store_errmsg(d.s), "was not stored"));
  free(ids);
  wire_buf_free(&bad);
  ts_free(&t);
  tdb_close(&d);
}

/* ---- a small JSON checker --------------------------------------------- */

typedef struct jp { const char *p, *end; wire_buf str; } jp;

static void ws(jp *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t')) j->p++;
}

static int hex4(const char *p, unsigned *out) {
  *out = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (v < 0) return -1;
    *out = *out << 4 | (unsigned)v;
  }
  return 0;
}

/* A string, decoded by docs/store.md's rule into j->str. */
static int jstring(jp *j) {
  wire_buf_reset(&j->str);
  if (j->p >= j->end || *j->p++ != '"') return -1;
  while (j->p < j->end && *j->p != '"') {
    unsigned char c = (unsigned char)*j->p++;
    if (c < 0x20) return -1;
    if (c != '\\') {
      /* A raw U+F7xx would be ambiguous: the exporter never writes one. */
      if (c == 0xef && j->end - j->p >= 2 && ((unsigned char)j->p[0] & 0xfc) == 0x9c)
        return -1;
      wire_buf_put(&j->str, &c, 1);
      continue;
    }
    if (j->p >= j->end) return -1;
    char e = *j->p++;
    const char *simple = strchr("\"\\/bfnrt", e);
    if (e && simple) {
      static const char to[] = "\"\\/\b\f\n\r\t";
      wire_buf_put(&j->str, &to[simple - "\"\\/bfnrt"], 1);
    } else if (e == 'u') {
      unsigned u;
      if (j->end - j->p < 4 || hex4(j->p, &u)) return -1;
      j->p += 4;
      if (u >= 0xF700 && u <= 0xF7FF) {
        char byte = (char)(u - 0xF700);
        wire_buf_put(&j->str, &byte, 1);
      } else if (u < 0x80) {
        char byte = (char)u;
        wire_buf_put(&j->str, &byte, 1);
      } else {
        return -1; /* the exporter escapes nothing else */
      }
    } else {
      return -1;
    }
  }
  if (j->p >= j->end) return -1;
  j->p++;
  return 0;
}

static int jvalue(jp *j, int depth);

static int jnumber(jp *j) {
  const char *s = j->p;
  if (j->p < j->end && *j->p == '-') j->p++;
  if (j->p >= j->end || *j->p < '0' || *j->p > '9') return -1;
  if (*j->p == '0') j->p++;
  else while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  return j->p > s ? 0 : -1;
}

static int jvalue(jp *j, int depth) {
  ws(j);
  if (j->p >= j->end || depth > 8) return -1;
  char c = *j->p;
  if (c == '"') return jstring(j);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) return j->p++, 0;
    for (;;) {
      if (c == '{') {
        ws(j);
        if (jstring(j)) return -1;
        ws(j);
        if (j->p >= j->end || *j->p++ != ':') return -1;
      }
      if (jvalue(j, depth + 1)) return -1;
      ws(j);
      if (j->p >= j->end) return -1;
      if (*j->p == ',') { j->p++; continue; }
      if (*j->p == close) return j->p++, 0;
      return -1;
    }
  }
  if (!strncmp(j->p, "true", 4)) return j->p += 4, 0;
  if (!strncmp(j->p, "false", 5)) return j->p += 5, 0;
  if (!strncmp(j->p, "null", 4)) return j->p += 4, 0;
  return jnumber(j);
}

/* The decoded string after "key": in line, or NULL. */
static const wire_buf *jfield(jp *j, const char *line, size_t n, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *at = strstr(line, pat);
  if (!at || at >= line + n) return NULL;
  j->p = at + strlen(pat) - 1;
  j->end = line + n;
  return jstring(j) ? NULL : &j->str;
}

static void test_jsonl_export_is_valid_json_and_decodes_exactly(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  build_capture(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 2);
  uint64_t calls = 0;
  store_export_opts o = {STORE_JSONL, -1, 0, 0, tr_progress, &tr};
  sink x;
  calls = tr.progress_calls;
  export_to(d.s, tr.snap[0], &o, &x);
  assert_true(tr.progress_calls > calls);

  jp j;
  memset(&j, 0, sizeof j);
  wire_buf_init(&j.str);
  int lines = 0;
  const char *line = x.b.data, *end = x.b.data + x.b.len;
  while (line < end) {
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    assert_non_null(nl);
    j.p = line;
    j.end = nl;
    assert_int_equal(jvalue(&j, 0), 0);
    ws(&j);
    assert_true(j.p == nl);
    size_t n = (size_t)(nl - line);
    if (lines == 0) {
      assert_non_null(strstr(line, "\"amber\":\"snapshot\""));
      const wire_buf *label = jfield(&j, line, n, "label");
      assert_non_null(label);
      assert_int_equal(label->len, 4);
      assert_memory_equal(label->data, "cap\xff", 4);
    }
    if (lines == 2) { /* the table */
      const wire_buf *type = jfield(&j, line, n, "type");
      assert_non_null(type);
      assert_memory_equal(type->data, "Inv\"entory", 10);
      assert_non_null(strstr(line, "\"addr\":\"5616e0a4c2b0\""));
      assert_non_null(strstr(line, "\"value\":\"f:nan\""));
      assert_non_null(strstr(line, "\"value\":\"f:-0x0p+0\""));
      assert_non_null(strstr(line, "\"value\":\"i:-9223372036854775808\""));
      assert_non_null(strstr(line, "\"key\":\"@1\",\"value\":\"@2\""));
      const char *big = strstr(line, "\"value\":\"i:-9223372036854775808\"");
      const wire_buf *name = jfield(&j, big, n - (size_t)(big - line), "name");
      assert_non_null(name);
      assert_int_equal(name->len, 6);
      assert_memory_equal(name->data, "\x01\xc3\x28\xef\x9c\x81", 6);
    }
    if (lines == 3) { /* the string */
      const wire_buf *v = jfield(&j, line, n, "value");
      assert_non_null(v);
      assert_int_equal(v->len, 19);
      assert_memory_equal(v->data, "he said \"hi\\\"\n\0\xe2\x82\xac\xff", 19);
    }
    if (lines == 4) assert_non_null(strstr(line, "\"payload\":\"G0x1YQD/\""));
    lines++;
    line = nl + 1;
  }
  assert_int_equal(lines, 1 + 4 + 1);
  assert_non_null(strstr(x.b.data, "{\"end\":true,\"nodes\":4,\"edges\":17,\"complete\":true}\n"));
  wire_buf_free(&x.b);

  /* A subgraph: node 1 and what it points at, then a cut one. */
  store_export_opts sub = {STORE_JSONL, 1, 1, 0, NULL, NULL};
  export_to(d.s, tr.snap[0], &sub, &x);
  assert_non_null(strstr(x.b.data, "\"from\":1,\"depth\":1"));
  assert_non_null(strstr(x.b.data, "\"nodes\":3,\"edges\":17,\"complete\":true"));
  wire_buf_free(&x.b);
  sub.max_nodes = 2;
  export_to(d.s, tr.snap[0], &sub, &x);
  assert_non_null(strstr(x.b.data, "\"nodes\":2,\"edges\":16,\"complete\":false"));
  wire_buf_free(&x.b);
  o.max_nodes = 2; /* a whole export cut short */
  export_to(d.s, tr.snap[0], &o, &x);
  assert_non_null(strstr(x.b.data, "\"nodes\":2,\"edges\":17,\"complete\":false"));
  wire_buf_free(&x.b);

  /* A sink that fails, and a node that does not exist. */
  wire_buf_init(&x.b);
  x.fail_after = 100;
  o.max_nodes = 0;
  assert_int_equal(store_export(d.s, tr.snap[0], &o, to_sink, &x), STORE_EIO);
  wire_buf_free(&x.b);
  sub.from = 99;
  assert_int_equal(store_export(d.s, tr.snap[0], &sub, to_sink, &x), STORE_ENOTFOUND);
  wire_buf_free(&j.str);
  ts_free(&t);
  tdb_close(&d);
}

static void test_dot_export_declares_every_node_it_links(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  build_capture(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 2);
  for (int variant = 0; variant < 3; variant++) {
    store_export_opts o = {STORE_DOT, variant ? 1 : -1, variant == 2 ? 0u : 1u, 0, NULL, NULL};
    sink x;
    export_to(d.s, tr.snap[1], &o, &x);
    assert_int_equal(strncmp(x.b.data, "digraph \"amber snapshot ", 24), 0);
    assert_int_equal(strcmp(x.b.data + x.b.len - 2, "}\n"), 0);
    /* Each line: balanced quotes (escaped ones aside); every edge's ends
    ** are declared somewhere. */
    char *line = x.b.data;
    int edges = 0;
    while (*line) {
      char *nl = strchr(line, '\n');
      assert_non_null(nl);
      *nl = 0;
      int quotes = 0;
      for (char *p = line; *p; p++) {
        if (*p == '\\' && p[1]) p++;
        else if (*p == '"') quotes++;
      }
      assert_int_equal(quotes % 2, 0);
      char a[32], b[32];
      if (sscanf(line, "  %31s -> %31s", a, b) == 2) {
        char decl[40];
        *nl = '\n';
        snprintf(decl, sizeof decl, "\n  %s [", b);
        assert_non_null(strstr(x.b.data, decl));
        snprintf(decl, sizeof decl, "\n  %s [", a);
        assert_non_null(strstr(x.b.data, decl));
        *nl = 0;
        edges++;
      }
      *nl = '\n';
      line = nl + 1;
    }
    assert_int_equal(edges, variant == 2 ? 16 : 17);
    if (variant == 2) assert_non_null(strstr(x.b.data, "  more [shape=plaintext"));
    assert_non_null(strstr(x.b.data, "Inv\\\"entory"));
    if (variant == 0) assert_non_null(strstr(x.b.data, "\\\\xff"));
    if (variant == 0 && system("command -v dot >/dev/null 2>&1") == 0) {
      char path[128], cmd[300];
      snprintf(path, sizeof path, "%s/g.dot", d.dir);
      write_file(path, x.b.data, x.b.len);
      snprintf(cmd, sizeof cmd, "dot -Tcanon '%s' >/dev/null", path);
      assert_int_equal(system(cmd), 0);
    }
    wire_buf_free(&x.b);
  }
  ts_free(&t);
  tdb_close(&d);
}

/* ---- two connections ------------------------------------------------------ */

static void test_reader_works_while_another_connection_writes(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  build_capture(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  const char *second = strstr(t.b.data, "\r\n<xsbug><snapshot-begin id=\"2\"");
  const char *second_end = strstr(second, "<snapshot-end");
  assert_non_null(second_end);
  store_ingest *in = tf_ingest(d.s, &tr);
  /* The first snapshot, then the second up to before its end. */
  assert_int_equal(tf_feed(in, t.b.data, (size_t)(second_end - t.b.data) - 9, 0, 1), WIRE_OK);
  assert_int_equal(tr.n, 1);
  assert_true(store_ingest_open(in));

  store *r;
  char err[256];
  assert_int_equal(store_open(&r, d.path, STORE_READONLY, err, sizeof err), STORE_OK);
  assert_int_equal(tdb_count(r), 1);              /* only the committed one */
  assert_int_equal(store_verify(r, tr.snap[0], NULL), STORE_OK);
  wire_value v;
  assert_int_equal(store_resolve(r, tr.snap[0], "globals.s", 9, &v, NULL), STORE_OK);

  /* A second writer gives up after its busy timeout, with a clear error. */
  store *w2;
  assert_int_equal(store_open(&w2, d.path, 0, err, sizeof err), STORE_OK);
  store_set_busy_timeout(w2, 50);
  tstream t2;
  ts_init(&t2);
  ts_begin(&t2, "9", NULL);
  ts_node(&t2, tn("root"));
  ts_end(&t2);
  tresults tr2;
  memset(&tr2, 0, sizeof tr2);
  assert_int_equal(tf_ingest_all(w2, &t2.b, &tr2), 1);
  assert_int_equal(tr2.status[0], STORE_EBUSY);
  assert_non_null(strstr(tr2.msg[0], "locked by another process"));
  store_close(w2);
  ts_free(&t2);

  assert_int_equal(tf_feed(in, second_end - 9, t.b.len - (size_t)(second_end - 9 - t.b.data), 0, 1),
                   WIRE_OK);
  assert_int_equal(tr.n, 2);
  assert_int_equal(tr.status[1], STORE_OK);
  assert_int_equal(tdb_count(r), 2);              /* visible once committed */
  assert_int_equal(store_verify(r, tr.snap[1], NULL), STORE_OK);
  store_close(r);
  store_ingest_free(in);
  ts_free(&t);
  tdb_close(&d);
}

static void test_killed_writer_leaves_no_partial_snapshot(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  tstream t;
  ts_init(&t);
  build_capture(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  const char *second = strstr(t.b.data, "\r\n<xsbug><snapshot-begin id=\"2\"");
  const char *second_end = strstr(second, "<snapshot-end");
  /* The first snapshot commits; the process dies inside the second. */
  assert_int_equal(tf_ingest_all(d.s, &(wire_buf){.data = t.b.data, .len = (size_t)(second - t.b.data)}, &tr), 1);
  int64_t nodes = tdb_rows(d.s, "pages"), edges = tdb_rows(d.s, "edges");
  store_close(d.s);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    store *s;
    char err[256];
    if (store_open(&s, d.path, 0, err, sizeof err)) _exit(3);
    tresults ctr;
    memset(&ctr, 0, sizeof ctr);
    store_ingest *in = store_ingest_new(s, NULL);
    tf_feed(in, second, (size_t)(second_end - second) - 9, 0, 1);
    if (!store_ingest_open(in) || !store_writing(s)) _exit(4);
    kill(getpid(), SIGKILL);
    _exit(5);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  char err[256];
  assert_int_equal(store_open(&d.s, d.path, 0, err, sizeof err), STORE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(store_db(d.s), "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  assert_int_equal(tdb_count(d.s), 1);
  assert_int_equal(tdb_rows(d.s, "snapshots"), 1);
  assert_true(tdb_rows(d.s, "pages") == nodes);
  assert_true(tdb_rows(d.s, "edges") == edges);
  assert_int_equal(store_verify(d.s, tr.snap[0], NULL), STORE_OK);
  ts_free(&t);
  tdb_close(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_import_stores_what_a_socket_would),
    cmocka_unit_test(test_truncated_capture_keeps_only_whole_snapshots),
    cmocka_unit_test(test_jsonl_export_is_valid_json_and_decodes_exactly),
    cmocka_unit_test(test_dot_export_declares_every_node_it_links),
    cmocka_unit_test(test_reader_works_while_another_connection_writes),
    cmocka_unit_test(test_killed_writer_leaves_no_partial_snapshot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
