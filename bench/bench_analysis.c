/*
** bench_analysis.c
** Summary, dominators and retained sizes on a synthetic heap of 1.5 M
** nodes and 5 M edges: time (median of runs) and peak memory per node,
** against a plain breadth-first walk over the same CSR arrays; then the
** same shape at 300 k nodes through SQLite: loading against a bare scan.
** Usage: bench_analysis [--quick | NODES EDGES]
*/
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "analysis.h"

#define RUNS 5

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Peak resident set (VmHWM) in bytes; reset_peak starts a new peak. */
static uint64_t peak_rss(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  uint64_t kb = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %lu kB", (unsigned long *)&kb) == 1) break;
  fclose(f);
  return kb * 1024;
}

static void reset_peak(void) {
  /* Hand freed heap pages back first, or they count against the peak. */
  malloc_trim(0);
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f) {
    fputs("5", f);
    fclose(f);
  }
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)((rng >> 11) % n);
}

/* Records go to a sink: the graph builder, or a protocol stream. */
typedef struct sink {
  void (*node)(struct sink *, const wire_node *);
  void (*edge)(struct sink *, const wire_edge *);
} sink;

/*
** The heap: every node hangs off a random earlier node (a random tree, so
** all are reachable and depths are realistic), one in 50 extends a long
** chain (a linked list 30 000 deep), and the remaining edges point at
** random nodes, a tenth of them from weak tables. 40 types, sizes 16-400.
*/
static int gen_heap(sink *out, uint32_t n, uint32_t m) {
  static const char *types[40];
  static char names[40][16];
  for (int t = 0; t < 40; t++) {
    snprintf(names[t], sizeof names[t], "Class%d", t);
    types[t] = names[t];
  }
  rng = 0x2545F4914F6CDD1Dull;
  uint32_t extra = m - (n - 1), chain_tail = 0;
  wire_node node;
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.value.type = WIRE_V_REF;
  /* Edges are listed under their source, so decide each node's children
  ** first: parent[v] for the tree, then random extra targets. */
  uint32_t *parent = malloc((size_t)n * sizeof *parent);
  uint32_t *count = calloc((size_t)n + 1, sizeof *count);
  uint32_t *kids = malloc((size_t)n * sizeof *kids);
  uint32_t *pos = malloc((size_t)n * sizeof *pos);
  if (!parent || !count || !kids || !pos) {
    free(parent); free(count); free(kids); free(pos);
    return -1;
  }
  for (uint32_t v = 1; v < n; v++) {
    if (v % 50 == 0 && chain_tail) parent[v] = chain_tail;
    else parent[v] = rnd(v);
    if (v % 50 == 0) chain_tail = v;
    count[parent[v] + 1]++;
  }
  for (uint32_t v = 0; v < n; v++) count[v + 1] += count[v];
  memcpy(pos, count, (size_t)n * sizeof *pos);
  for (uint32_t v = 1; v < n; v++) kids[pos[parent[v]]++] = v;
  free(pos);
  free(parent);
  uint32_t per = extra / (n - 1), rest = extra % (n - 1);
  for (uint32_t v = 0; v < n; v++) {
    memset(&node, 0, sizeof node);
    node.id = v;
    node.kind = v == 0 ? "root" : (v % 7 == 0 ? "string" : "table");
    if (v && v % 3 == 0) {
      node.type = types[rnd(40)];
      node.type_len = strlen(node.type);
    }
    node.size = v ? 16 + rnd(385) : 0;
    node.has_size = 1;
    node.addr = v ? 0x55d0c1a20000ull + (uint64_t)v * 64 : 0;
    node.has_addr = v != 0;
    node.mode = v % 10 == 5 ? "v" : NULL;
    out->node(out, &node);
    e.kind = v == 0 ? "root" : "field";
    e.name = v == 0 ? "globals" : "f";
    e.name_len = v == 0 ? 7 : 1;
    for (uint32_t k = count[v]; k < count[v + 1]; k++) {
      e.value.u.ref = kids[k];
      out->edge(out, &e);
    }
    if (v == 0) continue;
    uint32_t x = per + (v <= rest);
    e.kind = "index";
    e.name = NULL;
    e.name_len = 0;
    e.has_index = 1;
    for (uint32_t k = 0; k < x; k++) {
      e.index = (int64_t)k + 1;
      e.value.u.ref = 1 + rnd(n - 1);
      out->edge(out, &e);
    }
    e.has_index = 0;
  }
  free(kids);
  free(count);
  return 0;
}

typedef struct build_sink {
  sink s;
  graph_builder *b;
} build_sink;

static void build_node(sink *s, const wire_node *n) {
  graph_builder_node(((build_sink *)s)->b, n);
}

static void build_edge(sink *s, const wire_edge *e) {
  graph_builder_edge(((build_sink *)s)->b, e);
}

static graph *make_heap(uint32_t n, uint32_t m) {
  build_sink bs = {{build_node, build_edge}, graph_builder_new(0, n, m)};
  if (!bs.b || gen_heap(&bs.s, n, m)) {
    graph_builder_free(bs.b);
    return NULL;
  }
  char err[200];
  graph *g = graph_builder_finish(bs.b, err, sizeof err);
  if (!g) fprintf(stderr, "bench_analysis: %s\n", err);
  return g;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

/* ---- the same heap through the store ------------------------------ */

/* Writes the records as protocol messages and feeds them, a batch at a
** time, through wire_parser into a store ingest: what `amber import`
** does with a capture file. */
typedef struct stream_sink {
  sink s;
  wire_buf b;
  wire_hash h;
  wire_parser *p;
  store_ingest *in;
  uint64_t seq, nodes, edges;
  int in_node;
  int64_t snap;
  int status;
} stream_sink;

static int feed_message(void *ud, const wire_msg *m) {
  return store_ingest_message(ud, m) != STORE_OK;
}

static void feed(stream_sink *ss) {
  if (wire_parser_feed(ss->p, ss->b.data, ss->b.len) != WIRE_OK) ss->status = -1;
  wire_buf_reset(&ss->b);
}

static void graph_open(stream_sink *ss) {
  wire_msg_begin(&ss->b);
  wire_open(&ss->b, "graph");
  wire_attr_str(&ss->b, "id", "1");
  wire_attr_u64(&ss->b, "seq", ss->seq++);
  wire_open_end(&ss->b);
}

static void graph_close(stream_sink *ss) {
  if (ss->in_node) wire_node_close(&ss->b);
  ss->in_node = 0;
  wire_close(&ss->b, "graph");
  wire_msg_end(&ss->b);
  feed(ss);
}

static void stream_node(sink *s, const wire_node *n) {
  stream_sink *ss = (stream_sink *)s;
  if (ss->b.len > (256u << 10)) {
    graph_close(ss);
    graph_open(ss);
  }
  if (ss->in_node) wire_node_close(&ss->b);
  wire_node_open(&ss->b, n);
  wire_hash_node(&ss->h, n);
  ss->in_node = 1;
  ss->nodes++;
}

static void stream_edge(sink *s, const wire_edge *e) {
  stream_sink *ss = (stream_sink *)s;
  wire_edge_write(&ss->b, e);
  wire_hash_edge(&ss->h, e);
  ss->edges++;
}

static void on_done(void *ud, const store_ingest_result *r) {
  stream_sink *ss = ud;
  ss->snap = r->snapshot;
  if (r->status) {
    fprintf(stderr, "bench_analysis: ingest failed: %s\n", r->message);
    ss->status = -1;
  }
}

/* Store the heap as snapshot *snap of a fresh database in dir. */
static store *store_heap(const char *dir, uint32_t n, uint32_t m, int64_t *snap) {
  char path[256], err[512];
  snprintf(path, sizeof path, "%s/bench.db", dir);
  store *st;
  if (store_open(&st, path, 0, err, sizeof err)) {
    fprintf(stderr, "bench_analysis: %s\n", err);
    return NULL;
  }
  store_machine_info mi = {"bench.lua", 9, "lua", "5.4", 1};
  stream_sink ss;
  memset(&ss, 0, sizeof ss);
  ss.s.node = stream_node;
  ss.s.edge = stream_edge;
  ss.in = store_ingest_new(st, &mi);
  ss.p = wire_parser_new(NULL, feed_message, ss.in);
  wire_buf_init(&ss.b);
  wire_hash_init(&ss.h);
  store_ingest_on_done(ss.in, on_done, &ss);
  wire_msg_begin(&ss.b);
  wire_open(&ss.b, "snapshot-begin");
  wire_attr_str(&ss.b, "id", "1");
  wire_attr_str(&ss.b, "vm", "lua");
  wire_attr_str(&ss.b, "time", "1795000000123");
  wire_empty_end(&ss.b);
  wire_msg_end(&ss.b);
  graph_open(&ss);
  gen_heap(&ss.s, n, m);
  graph_close(&ss);
  char hex[17];
  wire_hash_hex(&ss.h, hex);
  wire_msg_begin(&ss.b);
  wire_open(&ss.b, "snapshot-end");
  wire_attr_str(&ss.b, "id", "1");
  wire_attr_u64(&ss.b, "nodes", ss.nodes);
  wire_attr_u64(&ss.b, "edges", ss.edges);
  wire_attr_str(&ss.b, "hash", hex);
  wire_empty_end(&ss.b);
  wire_msg_end(&ss.b);
  feed(&ss);
  wire_parser_finish(ss.p);
  wire_parser_free(ss.p);
  store_ingest_free(ss.in);
  wire_buf_free(&ss.b);
  if (ss.status || ss.snap <= 0) {
    store_close(st);
    return NULL;
  }
  *snap = ss.snap;
  return st;
}

static int count_node(void *ud, const store_node *n) {
  (void)n;
  ++*(uint64_t *)ud;
  return 0;
}

static int count_edge(void *ud, const store_edge *e) {
  (void)e;
  ++*(uint64_t *)ud;
  return 0;
}

static int skip_row(void *ud, const analysis_row *r) {
  (void)ud;
  (void)r;
  return 0;
}

/* Loading from SQLite (against a bare scan of the same rows) and the first
** and later summaries of a stored snapshot. */
static int bench_store(uint32_t n, uint32_t m) {
  char dir[] = "/tmp/amber-bench-analysis-XXXXXX", cmd[96], err[512];
  if (!mkdtemp(dir)) return -1;
  int64_t snap;
  double t0 = now_ms();
  store *st = store_heap(dir, n, m, &snap);
  if (!st) return -1;
  fprintf(stderr, "bench_analysis: stored %u nodes, %u edges in %.0f ms\n", n,
          m, now_ms() - t0);
  double t_scan[3], t_load[3], t_first[3], t_kept[3];
  for (int r = 0; r < 3; r++) {
    uint64_t rows = 0;
    t0 = now_ms();
    store_scan(st, snap, STORE_SCAN_LIGHT, count_node, count_edge, &rows);
    t_scan[r] = now_ms() - t0;
    graph *g;
    t0 = now_ms();
    if (analysis_load(st, snap, 0, &g, err, sizeof err)) {
      fprintf(stderr, "bench_analysis: %s\n", err);
      return -1;
    }
    t_load[r] = now_ms() - t0;
    graph_free(g);
    analysis_forget(st, snap);
    t0 = now_ms();
    if (analysis_prepare(st, snap, NULL, err, sizeof err)) {
      fprintf(stderr, "bench_analysis: %s\n", err);
      return -1;
    }
    t_first[r] = now_ms() - t0;
    analysis_totals tot;
    t0 = now_ms();
    analysis_summary_rows(st, snap, 0, 50, skip_row, NULL, &tot, err, sizeof err);
    t_kept[r] = now_ms() - t0;
  }
  store_close(st);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_analysis: could not remove %s\n", dir);
  printf("RESULT name=analysis_store_300k metric=load_time value=%.1f unit=ms "
         "baseline=%.1f target= better=lower\n", median(t_load, 3),
         median(t_scan, 3));
  printf("RESULT name=analysis_store_300k metric=first_summary_time value=%.1f "
         "unit=ms baseline=%.1f target= better=lower\n", median(t_first, 3),
         median(t_scan, 3));
  printf("RESULT name=analysis_store_300k metric=kept_summary_time value=%.2f "
         "unit=ms baseline= target=500 better=lower\n", median(t_kept, 3));
  return 0;
}

/* The baseline: breadth first over every strong reference. */
static uint32_t bfs(const graph *g) {
  uint8_t *seen = calloc(g->n, 1);
  graph_id *queue = malloc((size_t)g->n * sizeof *queue);
  size_t head = 0, tail = 0;
  seen[0] = 1;
  queue[tail++] = 0;
  while (head < tail) {
    graph_id v = queue[head++];
    for (uint32_t e = g->first[v]; e < g->first[v + 1]; e++) {
      if (graph_edge_is_weak(g, e)) continue;
      graph_id w = g->to[e];
      if (!seen[w]) {
        seen[w] = 1;
        queue[tail++] = w;
      }
    }
  }
  free(seen);
  free(queue);
  return (uint32_t)tail;
}

int main(int argc, char **argv) {
  uint32_t n = 1500000, m = 5000000;
  int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  if (quick) {
    n = 150000;
    m = 500000;
  } else if (argc > 2) {
    n = (uint32_t)strtoul(argv[1], NULL, 10);
    m = (uint32_t)strtoul(argv[2], NULL, 10);
  }
  if (n < 2 || m < n) {
    fprintf(stderr, "usage: bench_analysis [--quick | NODES EDGES] "
            "(EDGES >= NODES >= 2)\n");
    return 2;
  }
  graph *g = make_heap(n, m);
  if (!g) return 1;
  double t_bfs[RUNS], t_dom[RUNS], t_sum[RUNS], t_top[RUNS], t_all[RUNS];
  uint64_t peak = 0;
  char err[200];
  for (int r = 0; r < RUNS; r++) {
    double t0 = now_ms();
    uint32_t reached = bfs(g);
    t_bfs[r] = now_ms() - t0;
    reset_peak();
    t0 = now_ms();
    analysis_dom d;
    if (analysis_dominators(g, &d, err, sizeof err)) {
      fprintf(stderr, "bench_analysis: %s\n", err);
      return 1;
    }
    double t1 = now_ms();
    analysis_summary s;
    if (analysis_summarize(g, &d, &s, err, sizeof err)) {
      fprintf(stderr, "bench_analysis: %s\n", err);
      return 1;
    }
    double t2 = now_ms();
    graph_id top[100];
    size_t k = analysis_top(&d, 0, 100, top);
    double t3 = now_ms();
    uint64_t p = peak_rss();
    if (p > peak) peak = p;
    t_dom[r] = t1 - t0;
    t_sum[r] = t2 - t1;
    t_top[r] = t3 - t2;
    t_all[r] = t3 - t0;
    if (r == 0)
      fprintf(stderr, "bench_analysis: %u nodes, %u edges, %u reached by "
              "strong references, %u by dominators; %zu types; top node "
              "%u retains %llu of %llu bytes\n", g->n, g->m, reached,
              d.reachable, s.nrows, k ? top[0] : 0,
              k ? (unsigned long long)d.retained[top[0]] : 0ull,
              (unsigned long long)g->total_size);
    analysis_summary_free(&s);
    analysis_dom_free(&d);
  }
  double bfs_ms = median(t_bfs, RUNS);
  printf("RESULT name=analysis_1.5M metric=dominators_time value=%.1f unit=ms "
         "baseline=%.1f target= better=lower\n", median(t_dom, RUNS), bfs_ms);
  printf("RESULT name=analysis_1.5M metric=summary_time value=%.1f unit=ms "
         "baseline=%.1f target= better=lower\n", median(t_sum, RUNS), bfs_ms);
  printf("RESULT name=analysis_1.5M metric=top100_time value=%.1f unit=ms "
         "baseline=%.1f target= better=lower\n", median(t_top, RUNS), bfs_ms);
  printf("RESULT name=analysis_1.5M metric=total_time value=%.1f unit=ms "
         "baseline= target=2000 better=lower\n", median(t_all, RUNS));
  printf("RESULT name=analysis_1.5M metric=graph_memory value=%.1f "
         "unit=bytes/node baseline= target= better=lower\n",
         (double)graph_memory(g) / g->n);
  printf("RESULT name=analysis_1.5M metric=peak_memory value=%.1f "
         "unit=bytes/node baseline= target=100 better=lower\n",
         (double)peak / g->n);
  graph_free(g);
  fflush(stdout);
  if (!quick && bench_store(300000, 1000000)) {
    fprintf(stderr, "bench_analysis: the store benchmark failed\n");
    return 1;
  }
  return 0;
}
