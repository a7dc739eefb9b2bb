/*
** bench_wire.c
** Benchmarks of protocol/: the writer encoding a snapshot-shaped graph
** (against a plain snprintf writer producing the same bytes), the
** incremental parser reading the ~50 MB stream (against expat alone, with
** no-op handlers, over the same bytes), and a run-heavy stream of big
** arrays read as edge runs against the same graph as single edges.
** Prints RESULT lines (bench/README.md).
*/
#include <expat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire.h"

#define RUNS 5
#define BATCH (256 * 1024)   /* the agent's batch size */
#define CHUNK 65536          /* bytes per read from a socket or file */
#define TARGET_BYTES (50u << 20)

/* ---- a deterministic snapshot-shaped workload ------------------------ */

typedef struct work {
  wire_node *nodes;
  size_t nnodes;
  wire_edge *edges;
  size_t *first_edge;      /* edges of node i: first_edge[i] .. first_edge[i+1] */
  size_t nedges;
  char *pool;              /* string bytes the records point into */
  size_t pool_len, pool_cap;
} work;

static uint64_t seed = 0x2545F4914F6CDD1Du;
static uint64_t rnd(void) {
  seed ^= seed << 13;
  seed ^= seed >> 7;
  seed ^= seed << 17;
  return seed;
}

static const char *const field_names[] = {"name", "x", "y", "count", "items", "next",
                                          "parent", "state", "id", "__index", "value",
                                          "callbacks", "ttl", "label"};
static const char *const words[] = {"alpha", "beta", "gamma", "delta", "player",
                                    "inventory", "sword", "\xc3\xa9t\xc3\xa9", "x < y",
                                    "a & b", "say \"hi\"", "tab\there", "line\nbreak",
                                    "nul\0byte", "\xff\xfe raw", "\xe2\x82\xac 5"};
static const size_t word_len[] = {5, 4, 5, 5, 6, 9, 5, 7, 5, 5, 8, 8, 10, 8, 6, 5};

static size_t pool_add(work *w, const char *s, size_t n) {
  size_t at;
  if (w->pool_len + n > w->pool_cap) {
    fprintf(stderr, "bench_wire: string pool too small\n");
    exit(2);
  }
  at = w->pool_len;
  memcpy(w->pool + at, s, n);
  w->pool_len += n;
  return at;
}

static void make_work(work *w, size_t nnodes) {
  size_t i, e = 0, cap_edges = nnodes * 8;
  static unsigned char code[160];
  memset(w, 0, sizeof *w);
  w->nodes = calloc(nnodes, sizeof *w->nodes);
  w->first_edge = calloc(nnodes + 1, sizeof *w->first_edge);
  w->edges = calloc(cap_edges, sizeof *w->edges);
  w->pool_cap = nnodes * 64 + (1u << 20);
  w->pool = malloc(w->pool_cap);
  if (!w->nodes || !w->first_edge || !w->edges || !w->pool) {
    fprintf(stderr, "bench_wire: out of memory making the workload\n");
    exit(2);
  }
  for (i = 0; i < sizeof code; i++) code[i] = (unsigned char)(rnd() >> 11);
  for (i = 0; i < nnodes; i++) {
    wire_node *n = &w->nodes[i];
    uint64_t r = rnd();
    size_t k, ne = 0;
    n->id = i;
    n->addr = 0x55d0c1a20000u + i * 64;
    n->has_addr = 1;
    n->has_size = 1;
    w->first_edge[i] = e;
    if (r % 10 < 4) {
      /* a string: a few words, some with bytes that need escaping */
      size_t parts = 1 + (r >> 8) % 4, start = w->pool_len;
      n->kind = "string";
      for (k = 0; k < parts; k++) {
        size_t wi = (r >> (12 + 4 * k)) % 16;
        if (wi >= 8 && (r >> 40) % 4 != 0) wi %= 8; /* escapes in 1 string of 4 */
        pool_add(w, words[wi], word_len[wi]);
        if (k + 1 < parts) pool_add(w, " ", 1);
      }
      n->value = w->pool + start;
      n->value_len = w->pool_len - start;
      n->has_value = 1;
      n->size = 24 + n->value_len + 1;
    } else if (r % 10 < 5) {
      /* a function prototype with its bytecode */
      n->kind = "proto";
      n->payload = code;
      n->payload_len = 40 + (r >> 8) % 120;
      n->has_payload = 1;
      n->source = "@game/world.lua";
      n->source_len = 15;
      n->line = (int64_t)((r >> 16) % 2000);
      n->has_line = 1;
      n->size = 120;
    } else {
      /* a table: fields and array items */
      n->kind = "table";
      if ((r >> 20) % 8 == 0) { n->type = "Player"; n->type_len = 6; }
      ne = 2 + (r >> 8) % 6;
      n->size = 56 + 32 * ne;
      for (k = 0; k < ne; k++) {
        wire_edge *ed = &w->edges[e++];
        uint64_t q = rnd();
        if (q % 3 == 0) {
          ed->kind = "index";
          ed->index = (int64_t)k + 1;
          ed->has_index = 1;
        } else {
          size_t f = (q >> 4) % (sizeof field_names / sizeof *field_names);
          ed->kind = "field";
          ed->name = field_names[f];
          ed->name_len = strlen(field_names[f]);
        }
        switch ((q >> 10) % 5) {
        case 0: ed->value.type = WIRE_V_INT; ed->value.u.i = (int64_t)(q >> 20) - (1 << 20); break;
        case 1: ed->value.type = WIRE_V_FLOAT; ed->value.u.f = (double)(q >> 11) / 1e7; break;
        case 2: ed->value.type = WIRE_V_BOOL; ed->value.u.b = (int)(q >> 30 & 1); break;
        default: ed->value.type = WIRE_V_REF; ed->value.u.ref = (q >> 24) % nnodes; break;
        }
      }
    }
  }
  w->first_edge[nnodes] = e;
  w->nnodes = nnodes;
  w->nedges = e;
}

/* ---- amber's writer, as the agent uses it ----------------------------- */

static void encode_amber(wire_buf *b, const work *w) {
  size_t i, e;
  size_t batch_start = b->len;
  int open = 0;
  uint64_t seq = 0;
  for (i = 0; i < w->nnodes; i++) {
    if (!open) {
      wire_msg_begin(b);
      wire_open(b, "graph");
      wire_attr_u64(b, "id", 1);
      wire_attr_u64(b, "seq", seq++);
      wire_open_end(b);
      open = 1;
    }
    wire_node_open(b, &w->nodes[i]);
    for (e = w->first_edge[i]; e < w->first_edge[i + 1]; e++) wire_edge_write(b, &w->edges[e]);
    wire_node_close(b);
    if (b->len - batch_start >= BATCH) {
      wire_close(b, "graph");
      wire_msg_end(b);
      open = 0;
      batch_start = b->len;
    }
  }
  if (open) {
    wire_close(b, "graph");
    wire_msg_end(b);
  }
}

/* ---- the baseline: the same bytes, written the obvious way ------------ */

static void naive_escape(wire_buf *b, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char tmp[16];
    int k;
    if (c == '&') k = snprintf(tmp, sizeof tmp, "&amp;");
    else if (c == '<') k = snprintf(tmp, sizeof tmp, "&lt;");
    else if (c == '>') k = snprintf(tmp, sizeof tmp, "&gt;");
    else if (c == '"') k = snprintf(tmp, sizeof tmp, "&quot;");
    else if (c == '\t' || c == '\n' || c == '\r') k = snprintf(tmp, sizeof tmp, "&#%d;", c);
    else if (c < 0x20 || c == 0x7f) k = snprintf(tmp, sizeof tmp, "&#xF7%02X;", c);
    else if (c < 0x80) { tmp[0] = (char)c; k = 1; }
    else {
      /* valid 2/3-byte UTF-8 (all this workload has) passes, else escape */
      size_t len = c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0, j;
      int ok = len > 0 && i + len <= n;
      for (j = 1; ok && j < len; j++) ok = ((unsigned char)s[i + j] & 0xC0) == 0x80;
      if (ok && len == 3 && c == 0xEF && (unsigned char)s[i + 1] >= 0x9C && (unsigned char)s[i + 1] <= 0x9F) ok = 0;
      if (ok) {
        memcpy(tmp, s + i, len);
        k = (int)len;
        i += len - 1;
      } else {
        k = snprintf(tmp, sizeof tmp, "&#xF7%02X;", c);
      }
    }
    wire_buf_put(b, tmp, (size_t)k);
  }
}

static void naive_attr(wire_buf *b, const char *name, const char *s, size_t n) {
  char tmp[64];
  int k = snprintf(tmp, sizeof tmp, " %s=\"", name);
  wire_buf_put(b, tmp, (size_t)k);
  naive_escape(b, s, n);
  wire_buf_put(b, "\"", 1);
}

static void naive_value(wire_buf *b, const char *name, const wire_value *v) {
  char tmp[96];
  int k = 0;
  switch (v->type) {
  case WIRE_V_NIL: k = snprintf(tmp, sizeof tmp, " %s=\"nil\"", name); break;
  case WIRE_V_BOOL: k = snprintf(tmp, sizeof tmp, " %s=\"%s\"", name, v->u.b ? "true" : "false"); break;
  case WIRE_V_INT: k = snprintf(tmp, sizeof tmp, " %s=\"i:%lld\"", name, (long long)v->u.i); break;
  case WIRE_V_FLOAT: k = snprintf(tmp, sizeof tmp, " %s=\"f:%a\"", name, v->u.f); break;
  case WIRE_V_REF: k = snprintf(tmp, sizeof tmp, " %s=\"@%llu\"", name, (unsigned long long)v->u.ref); break;
  case WIRE_V_NONE: return;
  }
  wire_buf_put(b, tmp, (size_t)k);
}

static void naive_base64(wire_buf *b, const unsigned char *p, size_t n) {
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i;
  for (i = 0; i < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    char q[4] = {al[v >> 18], al[v >> 12 & 63], i + 1 < n ? al[v >> 6 & 63] : '=',
                 i + 2 < n ? al[v & 63] : '='};
    wire_buf_put(b, q, 4);
  }
}

static void encode_naive(wire_buf *b, const work *w) {
  size_t i, e;
  size_t batch_start = b->len;
  int open = 0;
  unsigned long long seq = 0;
  char tmp[128];
  int k;
  for (i = 0; i < w->nnodes; i++) {
    const wire_node *n = &w->nodes[i];
    if (!open) {
      k = snprintf(tmp, sizeof tmp, "\r\n<xsbug><graph id=\"1\" seq=\"%llu\">", seq++);
      wire_buf_put(b, tmp, (size_t)k);
      open = 1;
    }
    k = snprintf(tmp, sizeof tmp, "<n i=\"%llu\" k=\"%s\"", (unsigned long long)n->id, n->kind);
    wire_buf_put(b, tmp, (size_t)k);
    if (n->type) naive_attr(b, "t", n->type, n->type_len);
    if (n->has_size) {
      k = snprintf(tmp, sizeof tmp, " s=\"%llu\"", (unsigned long long)n->size);
      wire_buf_put(b, tmp, (size_t)k);
    }
    if (n->has_addr) {
      k = snprintf(tmp, sizeof tmp, " a=\"%llx\"", (unsigned long long)n->addr);
      wire_buf_put(b, tmp, (size_t)k);
    }
    if (n->has_value) naive_attr(b, "v", n->value, n->value_len);
    if (n->has_payload) {
      wire_buf_put(b, " p=\"", 4);
      naive_base64(b, n->payload, n->payload_len);
      wire_buf_put(b, "\"", 1);
    }
    if (n->source) naive_attr(b, "src", n->source, n->source_len);
    if (n->has_line) {
      k = snprintf(tmp, sizeof tmp, " l=\"%lld\"", (long long)n->line);
      wire_buf_put(b, tmp, (size_t)k);
    }
    wire_buf_put(b, ">", 1);
    for (e = w->first_edge[i]; e < w->first_edge[i + 1]; e++) {
      const wire_edge *ed = &w->edges[e];
      k = snprintf(tmp, sizeof tmp, "<e k=\"%s\"", ed->kind);
      wire_buf_put(b, tmp, (size_t)k);
      if (ed->name) naive_attr(b, "n", ed->name, ed->name_len);
      if (ed->has_index) {
        k = snprintf(tmp, sizeof tmp, " i=\"%lld\"", (long long)ed->index);
        wire_buf_put(b, tmp, (size_t)k);
      }
      naive_value(b, "key", &ed->key);
      naive_value(b, "v", &ed->value);
      wire_buf_put(b, "/>", 2);
    }
    wire_buf_put(b, "</n>", 4);
    if (b->len - batch_start >= BATCH) {
      wire_buf_put(b, "</graph></xsbug>\r\n", 18);
      open = 0;
      batch_start = b->len;
    }
  }
  if (open) wire_buf_put(b, "</graph></xsbug>\r\n", 18);
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct count {
  uint64_t messages, items;
} count;

static int on_message(void *ud, const wire_msg *m) {
  count *c = ud;
  const wire_elem *it, *n;
  c->messages++;
  for (it = m->items; it != NULL; it = it->next)
    for (n = it->children; n != NULL; n = n->next) c->items++;
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double parse_amber(const wire_buf *s, count *c) {
  wire_parser *p = wire_parser_new(NULL, on_message, c);
  size_t off;
  double t0 = now();
  for (off = 0; off < s->len; off += CHUNK) {
    size_t n = s->len - off < CHUNK ? s->len - off : CHUNK;
    if (wire_parser_feed(p, s->data + off, n) != WIRE_OK) {
      fprintf(stderr, "bench_wire: parse failed: %s\n", wire_parser_error(p)->text);
      exit(1);
    }
  }
  if (wire_parser_finish(p) != WIRE_OK) {
    fprintf(stderr, "bench_wire: parse failed at the end\n");
    exit(1);
  }
  t0 = now() - t0;
  wire_parser_free(p);
  return t0;
}

static void XMLCALL noop_start(void *ud, const XML_Char *n, const XML_Char **a) { (void)ud; (void)n; (void)a; }
static void XMLCALL noop_end(void *ud, const XML_Char *n) { (void)ud; (void)n; }
static void XMLCALL noop_text(void *ud, const XML_Char *s, int len) { (void)ud; (void)s; (void)len; }

static double parse_expat(const wire_buf *s) {
  XML_Parser xp = XML_ParserCreate("UTF-8");
  size_t off;
  double t0 = now();
  XML_SetElementHandler(xp, noop_start, noop_end);
  XML_SetCharacterDataHandler(xp, noop_text);
  XML_Parse(xp, "<r>", 3, 0);
  for (off = 0; off < s->len; off += CHUNK) {
    size_t n = s->len - off < CHUNK ? s->len - off : CHUNK;
    if (XML_Parse(xp, s->data + off, (int)n, 0) != XML_STATUS_OK) {
      fprintf(stderr, "bench_wire: expat failed: %s\n", XML_ErrorString(XML_GetErrorCode(xp)));
      exit(1);
    }
  }
  if (XML_Parse(xp, "</r>", 4, 1) != XML_STATUS_OK) {
    fprintf(stderr, "bench_wire: expat failed at the end\n");
    exit(1);
  }
  t0 = now() - t0;
  XML_ParserFree(xp);
  return t0;
}

/* Read every record of every batch, as the server's ingest does. */
typedef struct ingest {
  wire_buf scratch;
  uint64_t nodes, edges;
  wire_hash hash;
} ingest;

static int on_graph(void *ud, const wire_msg *m) {
  ingest *g = ud;
  const wire_elem *graph = m->items, *n, *e;
  wire_node node;
  wire_edge edge;
  const char *why;
  int cont;
  for (n = graph->children; n != NULL; n = n->next) {
    if (wire_node_read(n, &node, &cont, &g->scratch, &why) != 0) {
      fprintf(stderr, "bench_wire: bad node: %s\n", why);
      exit(1);
    }
    if (!cont) wire_hash_node(&g->hash, &node);
    g->nodes++;
    for (e = n->children; e != NULL; e = e->next) {
      if (wire_edge_read(e, &edge, &why) != 0) {
        fprintf(stderr, "bench_wire: bad edge: %s\n", why);
        exit(1);
      }
      wire_hash_edge(&g->hash, &edge);
      g->edges++;
    }
  }
  return 0;
}

static double parse_ingest(const wire_buf *s, ingest *g) {
  wire_parser *p = wire_parser_new(NULL, on_graph, g);
  size_t off;
  double t0 = now();
  for (off = 0; off < s->len; off += CHUNK) {
    size_t n = s->len - off < CHUNK ? s->len - off : CHUNK;
    if (wire_parser_feed(p, s->data + off, n) != WIRE_OK) exit(1);
  }
  if (wire_parser_finish(p) != WIRE_OK) exit(1);
  t0 = now() - t0;
  wire_parser_free(p);
  return t0;
}

static double median(double *v, int n);

/* ---- a run-heavy workload: big arrays ----------------------------------- */

/* 250 arrays of 4000 entries (mostly integers, some floats and references),
** the shape of `data = {} for i = 1, N do data[i] = i end`: 1e6 index edges,
** written as edge runs <r> as the agent does, or as single <e> edges. */
#define ARRAYS 250
#define ARRAY_LEN 4000

static wire_value array_value(size_t a, size_t i) {
  wire_value v;
  memset(&v, 0, sizeof v);
  if (i % 8 == 0) { v.type = WIRE_V_REF; v.u.ref = 1 + (a * 7 + i) % ARRAYS; }
  else if (i % 8 == 1) { v.type = WIRE_V_FLOAT; v.u.f = (double)i / 8.0; }
  else { v.type = WIRE_V_INT; v.u.i = (int64_t)(a * ARRAY_LEN + i); }
  return v;
}

/* Batches of BATCH bytes, as the agent cuts them: a run ends where its
** batch is full, and the node goes on in a continuation. */
static void encode_arrays(wire_buf *b, int runs) {
  size_t a, i, batch_start;
  uint64_t seq = 0;
  wire_node n;
  wire_edge e;
  memset(&n, 0, sizeof n);
  memset(&e, 0, sizeof e);
  n.kind = "table";
  n.has_size = 1;
  n.size = 56 + 16 * ARRAY_LEN;
  e.kind = "index";
  e.has_index = 1;
  wire_msg_begin(b);
  wire_open(b, "graph");
  wire_attr_u64(b, "id", 1);
  wire_attr_u64(b, "seq", seq++);
  wire_open_end(b);
  batch_start = b->len;
  for (a = 0; a < ARRAYS; a++) {
    size_t in_run = 0;
    n.id = a + 1;
    wire_node_open(b, &n);
    for (i = 0; i < ARRAY_LEN; i++) {
      wire_value v = array_value(a, i);
      if (b->len - batch_start >= BATCH) {
        if (in_run) wire_run_close(b);
        in_run = 0;
        wire_node_close(b);
        wire_close(b, "graph");
        wire_msg_end(b);
        wire_msg_begin(b);
        wire_open(b, "graph");
        wire_attr_u64(b, "id", 1);
        wire_attr_u64(b, "seq", seq++);
        wire_open_end(b);
        batch_start = b->len;
        wire_node_continue(b, n.id);
      }
      if (!runs) {
        e.index = (int64_t)i + 1;
        e.value = v;
        wire_edge_write(b, &e);
        continue;
      }
      if (in_run == WIRE_RUN_MAX) {
        wire_run_close(b);
        in_run = 0;
      }
      if (in_run == 0) wire_run_open(b, "index", (int64_t)i + 1);
      wire_run_value(b, &v);
      in_run++;
    }
    if (in_run) wire_run_close(b);
    wire_node_close(b);
  }
  wire_close(b, "graph");
  wire_msg_end(b);
}

/* Read every edge, runs expanded, and hash it, as the store's ingest does. */
static int on_arrays(void *ud, const wire_msg *m) {
  ingest *g = ud;
  const wire_elem *n;
  wire_node node;
  wire_edge edge;
  wire_edges it;
  const char *why;
  int cont, r;
  for (n = m->items->children; n != NULL; n = n->next) {
    if (wire_node_read(n, &node, &cont, &g->scratch, &why) != 0) {
      fprintf(stderr, "bench_wire: bad node: %s\n", why);
      exit(1);
    }
    if (!cont) wire_hash_node(&g->hash, &node);
    g->nodes += !cont;
    wire_edges_begin(n, &it);
    while ((r = wire_edges_next(&it, &edge)) > 0) {
      wire_hash_edge_text(&g->hash, &edge, it.vtext, it.vlen);
      g->edges++;
    }
    if (r < 0) {
      fprintf(stderr, "bench_wire: bad edge: %s\n", it.why);
      exit(1);
    }
  }
  return 0;
}

static double read_arrays(const wire_buf *s, char hex[17]) {
  ingest g;
  wire_parser *p;
  size_t off;
  double t0;
  memset(&g, 0, sizeof g);
  wire_buf_init(&g.scratch);
  wire_hash_init(&g.hash);
  p = wire_parser_new(NULL, on_arrays, &g);
  t0 = now();
  for (off = 0; off < s->len; off += CHUNK) {
    size_t n = s->len - off < CHUNK ? s->len - off : CHUNK;
    if (wire_parser_feed(p, s->data + off, n) != WIRE_OK) exit(1);
  }
  if (wire_parser_finish(p) != WIRE_OK) exit(1);
  t0 = now() - t0;
  wire_parser_free(p);
  wire_buf_free(&g.scratch);
  if (g.nodes != ARRAYS || g.edges != (uint64_t)ARRAYS * ARRAY_LEN) {
    fprintf(stderr, "bench_wire: arrays read back as %llu nodes, %llu edges\n",
            (unsigned long long)g.nodes, (unsigned long long)g.edges);
    exit(1);
  }
  wire_hash_hex(&g.hash, hex);
  return t0;
}

/* Runs against single edges, both measured here on the same graph. */
static void bench_arrays(void) {
  wire_buf runs, single;
  double t_wr[RUNS], t_ws[RUNS], t_rr[RUNS], t_rs[RUNS];
  double edges = (double)ARRAYS * ARRAY_LEN;
  char hr[17], hs[17];
  int r;
  wire_buf_init(&runs);
  wire_buf_init(&single);
  for (r = 0; r < RUNS; r++) {
    double t0;
    wire_buf_reset(&runs);
    t0 = now();
    encode_arrays(&runs, 1);
    t_wr[r] = now() - t0;
    wire_buf_reset(&single);
    t0 = now();
    encode_arrays(&single, 0);
    t_ws[r] = now() - t0;
  }
  if (runs.oom || single.oom) { fprintf(stderr, "bench_wire: out of memory\n"); exit(2); }
  for (r = 0; r < RUNS; r++) {
    t_rr[r] = read_arrays(&runs, hr);
    t_rs[r] = read_arrays(&single, hs);
  }
  /* the hash is over the expanded edges: both forms must agree */
  if (strcmp(hr, hs) != 0) {
    fprintf(stderr, "bench_wire: runs hash to %s, single edges to %s\n", hr, hs);
    exit(1);
  }
  fprintf(stderr, "bench_wire: arrays: %.0f edges; %.1f MB as runs, %.1f MB as single "
          "edges; read %.1f ms vs %.1f ms\n", edges, (double)runs.len / 1e6,
          (double)single.len / 1e6, median(t_rr, RUNS) * 1e3, median(t_rs, RUNS) * 1e3);
  printf("RESULT name=wire_runs_write metric=encode_edges value=%.0f unit=edges/s baseline=%.0f target= better=higher\n",
         edges / median(t_wr, RUNS), edges / median(t_ws, RUNS));
  printf("RESULT name=wire_runs_read metric=parse_and_read_edges value=%.0f unit=edges/s baseline=%.0f target=2 better=higher\n",
         edges / median(t_rr, RUNS), edges / median(t_rs, RUNS));
  printf("RESULT name=wire_runs_bytes metric=stream_bytes value=%zu unit=bytes baseline=%zu target=0.5 better=lower\n",
         runs.len, single.len);
  wire_buf_free(&runs);
  wire_buf_free(&single);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(void) {
  work w;
  wire_buf amber, naive;
  double t_enc[RUNS], t_naive[RUNS], t_parse[RUNS], t_expat[RUNS], t_ingest[RUNS];
  double mb;
  size_t nnodes = 0;
  count c;
  int r;

  /* size the workload so the stream is about TARGET_BYTES */
  make_work(&w, 100000);
  wire_buf_init(&amber);
  encode_amber(&amber, &w);
  nnodes = (size_t)((double)TARGET_BYTES / (double)amber.len * 100000.0);
  free(w.nodes); free(w.edges); free(w.first_edge); free(w.pool);
  wire_buf_free(&amber);
  make_work(&w, nnodes);

  wire_buf_init(&amber);
  wire_buf_init(&naive);
  for (r = 0; r < RUNS; r++) {
    double t0;
    wire_buf_reset(&amber);
    t0 = now();
    encode_amber(&amber, &w);
    t_enc[r] = now() - t0;
    wire_buf_reset(&naive);
    t0 = now();
    encode_naive(&naive, &w);
    t_naive[r] = now() - t0;
  }
  if (amber.oom || naive.oom) { fprintf(stderr, "bench_wire: out of memory\n"); return 2; }
  /* the baseline is only fair if it writes exactly the same bytes */
  if (amber.len != naive.len || memcmp(amber.data, naive.data, amber.len) != 0) {
    size_t d = 0;
    while (d < amber.len && d < naive.len && amber.data[d] == naive.data[d]) d++;
    fprintf(stderr, "bench_wire: baseline writer output differs from amber's at byte %zu:\n"
            "amber: %.80s\nnaive: %.80s\n", d, amber.data + (d > 40 ? d - 40 : 0),
            naive.data + (d > 40 ? d - 40 : 0));
    return 1;
  }
  mb = (double)amber.len / 1e6;
  for (r = 0; r < RUNS; r++) {
    memset(&c, 0, sizeof c);
    t_parse[r] = parse_amber(&amber, &c);
    t_expat[r] = parse_expat(&amber);
  }
  for (r = 0; r < RUNS; r++) {
    ingest g;
    memset(&g, 0, sizeof g);
    wire_buf_init(&g.scratch);
    wire_hash_init(&g.hash);
    t_ingest[r] = parse_ingest(&amber, &g);
    wire_buf_free(&g.scratch);
    if (g.edges != w.nedges || g.nodes != w.nnodes) {
      fprintf(stderr, "bench_wire: read back %llu nodes, %llu edges\n",
              (unsigned long long)g.nodes, (unsigned long long)g.edges);
      return 1;
    }
  }
  fprintf(stderr, "bench_wire: %zu nodes, %zu edges, %.1f MB in %llu messages\n", w.nnodes,
          w.nedges, mb, (unsigned long long)c.messages);
  printf("RESULT name=wire_write metric=encode_nodes value=%.0f unit=nodes/s baseline=%.0f target=2 better=higher\n",
         (double)w.nnodes / median(t_enc, RUNS), (double)w.nnodes / median(t_naive, RUNS));
  printf("RESULT name=wire_write_bytes metric=encode_throughput value=%.1f unit=MB/s baseline=%.1f target= better=higher\n",
         mb / median(t_enc, RUNS), mb / median(t_naive, RUNS));
  printf("RESULT name=wire_parse metric=parse_throughput value=%.1f unit=MB/s baseline=%.1f target=0.5 better=higher\n",
         mb / median(t_parse, RUNS), mb / median(t_expat, RUNS));
  printf("RESULT name=wire_ingest metric=parse_and_read_records value=%.1f unit=MB/s baseline=%.1f target= better=higher\n",
         mb / median(t_ingest, RUNS), mb / median(t_expat, RUNS));
  free(w.nodes); free(w.edges); free(w.first_edge); free(w.pool);
  wire_buf_free(&amber);
  wire_buf_free(&naive);
  bench_arrays();
  return 0;
}
