/*
** bench_ingest.c
** Store ingest (protocol bytes -> wire_parser -> store_ingest -> SQLite) on
** synthetic snapshots written as the agent writes them (arrays as edge
** runs), against a bare SQLite bulk insert of the same rows, and against
** the same snapshot with every edge as a single <e>; each run in a child
** process that reports its time and peak RSS. One workload is ingested
** into a store that already holds earlier snapshots of the same heap.
** Usage: bench_ingest [--quick] [--only store|bare|parse] [NAME-FILTER]
** (prints RESULT lines; --only runs one side, for profiling)
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

#include "store.h"
#include "wire.h"

/* ---- workloads ----------------------------------------------------- */

/* Records go to a sink: the capture writer or the bare inserter. */
typedef struct sink {
  void (*node)(struct sink *, const wire_node *);
  void (*edge)(struct sink *, const wire_edge *);
} sink;

typedef struct workload {
  const char *name;
  const char *what;
  void (*gen)(sink *, uint64_t);
  uint64_t n;
  double target_ms;   /* 3x Eris's persist time for the same heap; 0 = none */
  int runs;
  int history;        /* earlier snapshots of the same heap already stored */
} workload;

static wire_edge edge_of(const char *kind, wire_value v) {
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = kind;
  e.value = v;
  return e;
}

static wire_value ref(uint64_t id) {
  wire_value v = {WIRE_V_REF, {0}};
  v.u.ref = id;
  return v;
}

static wire_node node_of(uint64_t id, const char *kind, uint64_t size) {
  wire_node n;
  memset(&n, 0, sizeof n);
  n.id = id;
  n.kind = kind;
  n.size = size, n.has_size = 1;
  n.addr = 0x55d0c1a20000ull + id * 64, n.has_addr = 1;
  return n;
}

/* data = {} for i = 1, n do data[i] = i end */
static void gen_ints(sink *s, uint64_t n) {
  wire_node root = node_of(0, "root", 0);
  root.has_size = root.has_addr = 0;
  s->node(s, &root);
  wire_edge e = edge_of("root", ref(1));
  e.name = "globals", e.name_len = 7;
  s->edge(s, &e);
  wire_node t = node_of(1, "table", 56 + 16 * n);
  s->node(s, &t);
  for (uint64_t i = 1; i <= n; i++) {
    wire_edge x = edge_of("index", (wire_value){WIRE_V_INT, {0}});
    x.value.u.i = (int64_t)i;
    x.index = (int64_t)i, x.has_index = 1;
    s->edge(s, &x);
  }
}

/* data = {} for i = 1, n do data[i] = {x = i, y = i * 0.5, name = 'n' .. i} end */
static void gen_records(sink *s, uint64_t n) {
  wire_node root = node_of(0, "root", 0);
  root.has_size = root.has_addr = 0;
  s->node(s, &root);
  wire_edge e = edge_of("root", ref(1));
  e.name = "globals", e.name_len = 7;
  s->edge(s, &e);
  wire_node list = node_of(1, "table", 56 + 16 * n);
  s->node(s, &list);
  for (uint64_t i = 1; i <= n; i++) {
    wire_edge x = edge_of("index", ref(2 * i));
    x.index = (int64_t)i, x.has_index = 1;
    s->edge(s, &x);
  }
  for (uint64_t i = 1; i <= n; i++) {
    char str[32];
    int len = snprintf(str, sizeof str, "n%llu", (unsigned long long)i);
    wire_node rec = node_of(2 * i, "table", 56 + 4 * 32);
    s->node(s, &rec);
    wire_edge f = edge_of("field", (wire_value){WIRE_V_INT, {0}});
    f.value.u.i = (int64_t)i;
    f.name = "x", f.name_len = 1;
    s->edge(s, &f);
    f.value.type = WIRE_V_FLOAT;
    f.value.u.f = (double)i * 0.5;
    f.name = "y";
    s->edge(s, &f);
    f.value = ref(2 * i + 1);
    f.name = "name", f.name_len = 4;
    s->edge(s, &f);
    wire_node sn = node_of(2 * i + 1, "string", 24 + (uint64_t)len + 1);
    sn.value = str, sn.value_len = (size_t)len, sn.has_value = 1;
    s->node(s, &sn);
  }
}

static const workload workloads[] = {
  {"ingest_1e6_ints", "1 table + 1e6 integers", gen_ints, 1000000, 3 * 127, 5, 0},
  {"ingest_1e5_records", "1e5 records {x, y, name}", gen_records, 100000, 3 * 94, 5, 0},
  {"ingest_1e6_nodes", "5e5 records: 1e6 nodes", gen_records, 500000, 0, 3, 0},
  /* a VM snapshotted again: same addresses and types as the stored ones */
  {"ingest_1e5_records_5th", "1e5 records after 4 snapshots of them",
   gen_records, 100000, 0, 3, 4},
};

/* ---- the capture writer ---------------------------------------------- */

#define BATCH 262144 /* bytes per graph message, like amber's agent */

typedef struct capture {
  sink base;
  FILE *f;
  wire_buf b;
  wire_hash h;
  uint64_t nodes, edges, batch, cur;
  int in_node;
  int runs;               /* write consecutive index edges as runs <r> */
  unsigned run_len;       /* values in the open run, 0 if none */
  int64_t run_next;       /* the index that continues it */
} capture;

/* End the open run, if any: before any other element. */
static void cap_end_run(capture *c) {
  if (c->run_len) wire_run_close(&c->b);
  c->run_len = 0;
}

static void cap_flush(capture *c) {
  if (c->b.oom || fwrite(c->b.data, 1, c->b.len, c->f) != c->b.len) {
    fprintf(stderr, "bench_ingest: cannot write the capture file\n");
    exit(1);
  }
  wire_buf_reset(&c->b);
}

static void cap_open_graph(capture *c) {
  if (c->runs) wire_frame_begin(&c->b, 1);
  else wire_msg_begin(&c->b);
  wire_open(&c->b, "graph");
  wire_attr_str(&c->b, "id", "1");
  wire_attr_u64(&c->b, "seq", c->batch++);
  wire_open_end(&c->b);
}

static void cap_close_graph(capture *c) {
  cap_end_run(c);
  if (c->in_node) wire_node_close(&c->b);
  wire_close(&c->b, "graph");
  if (c->runs) wire_frame_end(&c->b);
  else wire_msg_end(&c->b);
  cap_flush(c);
}

/* A full batch ends before the next record; an open node continues. */
static void cap_maybe_split(capture *c) {
  if (c->b.len < BATCH) return;
  cap_close_graph(c);
  cap_open_graph(c);
  if (c->in_node) wire_node_continue(&c->b, c->cur);
}

static void cap_node(sink *s, const wire_node *n) {
  capture *c = (capture *)s;
  cap_end_run(c);
  cap_maybe_split(c);
  if (c->in_node) wire_node_close(&c->b);
  wire_node_open(&c->b, n);
  wire_hash_node(&c->h, n);
  c->in_node = 1;
  c->cur = n->id;
  c->nodes++;
}

/* As the agent writes them: consecutive integer keys travel as runs,
** which end at a gap, at WIRE_RUN_MAX values or where the batch is full. */
static void cap_edge(sink *s, const wire_edge *e) {
  capture *c = (capture *)s;
  int plain = c->runs && e->has_index && !e->name && e->key.type == WIRE_V_NONE &&
              !strcmp(e->kind, "index");
  if (plain && c->run_len && e->index == c->run_next && e->index < INT64_MAX &&
      c->run_len < WIRE_RUN_MAX && c->b.len < BATCH) {
    wire_run_value(&c->b, &e->value);
    c->run_len++;
  } else {
    cap_end_run(c);
    cap_maybe_split(c);
    if (plain && e->index < INT64_MAX) {
      wire_run_open(&c->b, "index", e->index);
      wire_run_value(&c->b, &e->value);
      c->run_len = 1;
    } else {
      wire_edge_write(&c->b, e);
    }
  }
  if (c->run_len) c->run_next = e->index + 1;
  wire_hash_edge(&c->h, e);
  c->edges++;
}

/* Write the workload's snapshot as an agent would send it to amber's server
** (runs=1: edge runs, graph batches in binary frames), or with every edge
** as a single <e> in XML, as agents did before runs and frames. */
static void write_capture(const workload *wl, const char *path, int runs,
                          uint64_t *nodes, uint64_t *edges, uint64_t *bytes) {
  capture c;
  memset(&c, 0, sizeof c);
  c.base.node = cap_node;
  c.base.edge = cap_edge;
  c.runs = runs;
  c.f = fopen(path, "wb");
  if (!c.f) {
    perror(path);
    exit(1);
  }
  wire_buf_init(&c.b);
  wire_hash_init(&c.h);
  wire_msg_begin(&c.b);
  wire_open(&c.b, "login");
  wire_attr_str(&c.b, "name", "bench.lua");
  wire_attr_str(&c.b, "vm", "lua");
  wire_attr_str(&c.b, "version", "5.4.6");
  wire_empty_end(&c.b);
  wire_msg_end(&c.b);
  wire_msg_begin(&c.b);
  wire_open(&c.b, "snapshot-begin");
  wire_attr_str(&c.b, "id", "1");
  wire_attr_str(&c.b, "reason", "request");
  wire_empty_end(&c.b);
  wire_msg_end(&c.b);
  cap_open_graph(&c);
  wl->gen(&c.base, wl->n);
  cap_close_graph(&c);
  char hex[17];
  wire_hash_hex(&c.h, hex);
  wire_msg_begin(&c.b);
  wire_open(&c.b, "snapshot-end");
  wire_attr_str(&c.b, "id", "1");
  wire_attr_u64(&c.b, "nodes", c.nodes);
  wire_attr_u64(&c.b, "edges", c.edges);
  wire_attr_str(&c.b, "hash", hex);
  wire_empty_end(&c.b);
  wire_msg_end(&c.b);
  cap_flush(&c);
  *bytes = (uint64_t)ftell(c.f);
  fclose(c.f);
  wire_buf_free(&c.b);
  *nodes = c.nodes;
  *edges = c.edges;
}

/* ---- the bare SQLite baseline ----------------------------------------- */

/* The same rows into tables without indexes, one transaction, two
** prepared statements: what SQLite itself costs for this data. */
typedef struct bare {
  sink base;
  sqlite3_stmt *n, *e;
  uint64_t nodes, edges, cur;
} bare;

static void bind_opt(sqlite3_stmt *st, int i, const void *p, size_t n, int has) {
  if (has) sqlite3_bind_blob(st, i, n ? p : "", (int)n, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

static void bare_node(sink *s, const wire_node *n) {
  bare *b = (bare *)s;
  sqlite3_stmt *st = b->n;
  sqlite3_bind_int64(st, 1, (int64_t)(1ull << 40 | n->id));
  sqlite3_bind_text(st, 2, n->kind, -1, SQLITE_STATIC);
  bind_opt(st, 3, n->type, n->type_len, n->type != NULL);
  if (n->has_size) sqlite3_bind_int64(st, 4, (int64_t)n->size);
  else sqlite3_bind_null(st, 4);
  if (n->has_addr) sqlite3_bind_int64(st, 5, (int64_t)n->addr);
  else sqlite3_bind_null(st, 5);
  bind_opt(st, 6, n->value, n->value_len, n->has_value);
  sqlite3_bind_int64(st, 7, (int64_t)b->edges);
  if (sqlite3_step(st) != SQLITE_DONE) exit(1);
  sqlite3_reset(st);
  b->cur = n->id;
  b->nodes++;
}

static void bare_edge(sink *s, const wire_edge *e) {
  bare *b = (bare *)s;
  sqlite3_stmt *st = b->e;
  sqlite3_bind_int64(st, 1, (int64_t)(1ull << 40 | b->edges));
  sqlite3_bind_int64(st, 2, (int64_t)b->cur);
  sqlite3_bind_text(st, 3, e->kind, -1, SQLITE_STATIC);
  bind_opt(st, 4, e->name, e->name_len, e->name != NULL);
  if (e->has_index) sqlite3_bind_int64(st, 5, e->index);
  else sqlite3_bind_null(st, 5);
  int64_t v = e->value.type == WIRE_V_REF ? (int64_t)e->value.u.ref : e->value.u.i;
  sqlite3_bind_int(st, 6, (int)e->value.type);
  sqlite3_bind_int64(st, 7, v);
  if (sqlite3_step(st) != SQLITE_DONE) exit(1);
  sqlite3_reset(st);
  b->edges++;
}

static void bare_run(const workload *wl, const char *path) {
  sqlite3 *db;
  bare b;
  memset(&b, 0, sizeof b);
  b.base.node = bare_node;
  b.base.edge = bare_edge;
  if (sqlite3_open(path, &db) ||
      sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                   " PRAGMA cache_size=-32768;"
                   "CREATE TABLE nodes(rid INTEGER PRIMARY KEY, kind, type,"
                   " size, addr, value, e0);"
                   "CREATE TABLE edges(rid INTEGER PRIMARY KEY, src, kind,"
                   " name, idx, vt, v);", NULL, NULL, NULL) ||
      sqlite3_prepare_v2(db, "INSERT INTO nodes VALUES(?1,?2,?3,?4,?5,?6,?7)",
                         -1, &b.n, NULL) ||
      sqlite3_prepare_v2(db, "INSERT INTO edges VALUES(?1,?2,?3,?4,?5,?6,?7)",
                         -1, &b.e, NULL) ||
      sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) {
    fprintf(stderr, "bench_ingest: baseline: %s\n", sqlite3_errmsg(db));
    exit(1);
  }
  wl->gen(&b.base, wl->n);
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) exit(1);
  sqlite3_finalize(b.n);
  sqlite3_finalize(b.e);
  sqlite3_close(db);
}

/* ---- runs in child processes ------------------------------------------ */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A line of /proc/self/status in kB ("VmHWM", "VmRSS"). */
static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  size_t k = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, k) && line[k] == ':') kb = atol(line + k + 1);
  if (f) fclose(f);
  return kb;
}

/* Wall time, and CPU time: on a shared machine the second is the steadier
** measure of the work done. */
typedef struct measure { double ms, cpu_ms; long hwm_kb, base_kb; int ok; } measure;

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

enum { RUN_STORE, RUN_BARE, RUN_PARSE };

static int count_msg(void *ud, const wire_msg *m) {
  (*(uint64_t *)ud) += m->length;
  return 0;
}

static void child(int mode, const workload *wl, const char *capture_path,
                  const char *db_path, int fd) {
  measure m = {0, 0, 0, 0, 0};
  m.base_kb = status_kb("VmRSS");
  if (mode == RUN_STORE) {
    store *s;
    char err[512];
    if (store_open(&s, db_path, 0, err, sizeof err)) {
      fprintf(stderr, "bench_ingest: %s\n", err);
      _exit(1);
    }
    int64_t *ids;
    size_t nids;
    for (int h = 0; h < wl->history; h++) {
      if (store_import_file(s, capture_path, &ids, &nids, NULL, NULL)) {
        fprintf(stderr, "bench_ingest: %s\n", store_errmsg(s));
        _exit(1);
      }
      free(ids);
    }
    m.base_kb = status_kb("VmRSS");
    double t0 = now_ms(), c0 = cpu_ms();
    int rc = store_import_file(s, capture_path, &ids, &nids, NULL, NULL);
    m.ms = now_ms() - t0;
    m.cpu_ms = cpu_ms() - c0;
    m.ok = rc == STORE_OK && nids == 1;
    if (!m.ok) fprintf(stderr, "bench_ingest: %s\n", store_errmsg(s));
    free(ids);
    store_close(s);
  } else if (mode == RUN_BARE) {
    double t0 = now_ms(), c0 = cpu_ms();
    bare_run(wl, db_path);
    m.ms = now_ms() - t0;
    m.cpu_ms = cpu_ms() - c0;
    m.ok = 1;
  } else {
    uint64_t seen = 0;
    wire_parser *p = wire_parser_new(NULL, count_msg, &seen);
    FILE *f = fopen(capture_path, "rb");
    static char buf[65536];
    size_t n;
    double t0 = now_ms(), c0 = cpu_ms();
    while (f && p && (n = fread(buf, 1, sizeof buf, f)) > 0)
      if (wire_parser_feed(p, buf, n) != WIRE_OK) break;
    m.ok = p && wire_parser_finish(p) == WIRE_OK && seen > 0;
    m.ms = now_ms() - t0;
    m.cpu_ms = cpu_ms() - c0;
    if (f) fclose(f);
    wire_parser_free(p);
  }
  m.hwm_kb = status_kb("VmHWM");
  if (write(fd, &m, sizeof m) != (ssize_t)sizeof m) _exit(1);
  _exit(m.ok ? 0 : 1);
}

static measure run(int mode, const workload *wl, const char *capture_path,
                   const char *dir, int k) {
  char db_path[200], cmd[700];
  snprintf(db_path, sizeof db_path, "%s/run%d.db", dir, k);
  int fds[2];
  measure m = {0, 0, 0, 0, 0};
  if (pipe(fds)) exit(1);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    child(mode, wl, capture_path, db_path, fds[1]);
  }
  close(fds[1]);
  int status;
  if (read(fds[0], &m, sizeof m) != (ssize_t)sizeof m) m.ok = 0;
  close(fds[0]);
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) m.ok = 0;
  snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", db_path, db_path, db_path);
  if (system(cmd)) m.ok = 0;
  return m;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  int quick = 0, only = -1;
  const char *filter = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--only") && i + 1 < argc)
      only = !strcmp(argv[++i], "store") ? RUN_STORE
           : !strcmp(argv[i], "bare") ? RUN_BARE : RUN_PARSE;
    else filter = argv[i];
  }
  char dir[] = "/tmp/amber-bench-ingest-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  int failed = 0;
  for (size_t w = 0; w < sizeof workloads / sizeof *workloads; w++) {
    const workload *wl = &workloads[w];
    if (filter && !strstr(wl->name, filter)) continue;
    char capture_path[256], single_path[256];
    snprintf(capture_path, sizeof capture_path, "%s/%s.capture", dir, wl->name);
    snprintf(single_path, sizeof single_path, "%s/%s.single", dir, wl->name);
    uint64_t nodes, edges, bytes, single_bytes;
    write_capture(wl, capture_path, 1, &nodes, &edges, &bytes);
    write_capture(wl, single_path, 0, &nodes, &edges, &single_bytes);
    int runs = quick ? 1 : wl->runs;
    double t_store[9], t_bare[9], c_store[9], c_bare[9], c_parse[9];
    double c_single[9], c_single_parse[9];
    long hwm = 0, base = 0, bare_hwm = 0;
    for (int r = 0; r < runs; r++) {
      measure skip = {0, 0, 0, 0, 1};
      measure ms = only < 0 || only == RUN_STORE ? run(RUN_STORE, wl, capture_path, dir, r) : skip;
      measure mb = only < 0 || only == RUN_BARE ? run(RUN_BARE, wl, capture_path, dir, r) : skip;
      measure mp = only < 0 || only == RUN_PARSE ? run(RUN_PARSE, wl, capture_path, dir, r) : skip;
      /* the same graph with every edge as <e>: what runs saved, same run */
      measure ss = only < 0 ? run(RUN_STORE, wl, single_path, dir, r) : skip;
      measure sp = only < 0 ? run(RUN_PARSE, wl, single_path, dir, r) : skip;
      if (!ms.ok || !mb.ok || !mp.ok || !ss.ok || !sp.ok) {
        fprintf(stderr, "bench_ingest: %s: run %d failed\n", wl->name, r);
        failed = 1;
        break;
      }
      t_store[r] = ms.ms;
      t_bare[r] = mb.ms;
      c_store[r] = ms.cpu_ms;
      c_bare[r] = mb.cpu_ms;
      c_parse[r] = mp.cpu_ms;
      c_single[r] = ss.cpu_ms;
      c_single_parse[r] = sp.cpu_ms;
      if (ms.hwm_kb > hwm) hwm = ms.hwm_kb, base = ms.base_kb;
      if (mb.hwm_kb > bare_hwm) bare_hwm = mb.hwm_kb;
    }
    if (failed) break;
    double s = median(t_store, runs), b = median(t_bare, runs);
    double cs = median(c_store, runs), cb = median(c_bare, runs), cp = median(c_parse, runs);
    if (wl->target_ms > 0)
      printf("RESULT name=%s metric=time value=%.1f unit=ms baseline=%.1f "
             "limit=%.0f better=lower\n", wl->name, s, b, wl->target_ms);
    else
      printf("RESULT name=%s metric=time value=%.1f unit=ms baseline=%.1f\n",
             wl->name, s, b);
    if (wl->target_ms > 0)
      printf("RESULT name=%s metric=cpu_time value=%.1f unit=ms baseline=%.1f "
             "limit=%.0f better=lower\n", wl->name, cs, cb, wl->target_ms);
    else
      printf("RESULT name=%s metric=cpu_time value=%.1f unit=ms baseline=%.1f\n",
             wl->name, cs, cb);
    if (nodes >= 1000)
      printf("RESULT name=%s metric=node_rate value=%.0f unit=nodes/s\n",
             wl->name, nodes / (s / 1e3));
    printf("RESULT name=%s metric=edge_rate value=%.0f unit=edges/s\n",
           wl->name, edges / (s / 1e3));
    printf("RESULT name=%s metric=peak_rss value=%.1f unit=MB baseline=%.1f\n",
           wl->name, hwm / 1024.0, bare_hwm / 1024.0);
    double csingle = median(c_single, runs), cpsingle = median(c_single_parse, runs);
    if (only < 0)
      printf("RESULT name=%s metric=cpu_time_vs_single_edges value=%.1f unit=ms "
             "baseline=%.1f better=lower\n", wl->name, cs, csingle);
    printf("RESULT name=%s metric=protocol_bytes_vs_single_edges value=%llu "
           "unit=bytes baseline=%llu better=lower\n", wl->name,
           (unsigned long long)bytes, (unsigned long long)single_bytes);
    fprintf(stderr, "bench_ingest: %s (%s): %llu nodes, %llu edges, %.1f MB of "
            "protocol; ingest %.1f ms wall, %.1f ms CPU = parse %.1f + store "
            "%.1f; bare SQLite insert of the same rows %.1f ms CPU (store "
            "part %.2fx of it); peak RSS %.1f MB (%.1f MB before the ingest)\n",
            wl->name, wl->what, (unsigned long long)nodes,
            (unsigned long long)edges, bytes / 1e6, s, cs, cp, cs - cp, cb,
            cb > 0 ? (cs - cp) / cb : 0, hwm / 1024.0, base / 1024.0);
    if (only < 0)
      fprintf(stderr, "bench_ingest: %s as single <e> edges (no runs): %.1f MB, "
              "%.1f ms CPU = parse %.1f + store %.1f\n", wl->name,
              single_bytes / 1e6, csingle, cpsingle, csingle - cpsingle);
    unlink(capture_path);
    unlink(single_path);
  }
  rmdir(dir);
  return failed;
}
