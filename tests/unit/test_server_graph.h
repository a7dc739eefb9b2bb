/*
** test_server_graph.h
** A synthetic machine for the server's tests: its login, and snapshot
** streams of any size written with the protocol writer (content hash and
** counts computed as an agent does), emitted one message at a time.
*/
#ifndef TEST_SERVER_GRAPH_H
#define TEST_SERVER_GRAPH_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"

/* The bytes of the string node: a NUL, a byte that is not UTF-8, and a
** real U+F700 (which JSON must carry as its three bytes). */
#define TSG_WEIRD "hi\0there\xff\xef\x9c\x80"
#define TSG_WEIRD_LEN (sizeof TSG_WEIRD - 1)

typedef struct tsg_opts {
  uint64_t nodes;        /* at least 3 */
  size_t batch_bytes;    /* a graph message is closed past this size */
  const char *wire_id;
  const char *label;     /* may be NULL; label_len bytes */
  size_t label_len;
  const char *reason;    /* "request" if NULL */
} tsg_opts;

/* Called per complete message; kind 0 begin, 1 graph batch, 2 end. Return
** nonzero to stop (tsg_snapshot then returns 1). */
typedef int (*tsg_emit)(void *ud, const char *p, size_t n, int kind);

static inline void tsg_login(wire_buf *b, const char *name, const char *features) {
  wire_msg_begin(b);
  wire_open(b, "login");
  wire_attr_str(b, "name", name);
  wire_attr_str(b, "value", "Lua 5.4.4");
  wire_attr_str(b, "vm", "lua");
  wire_attr_str(b, "version", "5.4.4");
  wire_attr_i64(b, "pid", 4242);
  if (features) wire_attr_str(b, "features", features);
  wire_empty_end(b);
  wire_msg_end(b);
}

typedef struct tsg_state {
  const tsg_opts *o;
  wire_buf b;
  wire_hash h;
  uint64_t seq, edges;
  tsg_emit emit;
  void *ud;
  int stopped;
} tsg_state;

static inline void tsg_graph_open(tsg_state *s) {
  wire_msg_begin(&s->b);
  wire_open(&s->b, "graph");
  wire_attr_str(&s->b, "id", s->o->wire_id);
  wire_attr_u64(&s->b, "seq", s->seq++);
  wire_open_end(&s->b);
}

static inline void tsg_flush(tsg_state *s) {
  wire_close(&s->b, "graph");
  wire_msg_end(&s->b);
  if (!s->stopped && s->emit(s->ud, s->b.data, s->b.len, 1)) s->stopped = 1;
  wire_buf_reset(&s->b);
}

/* After an edge: start a new batch (continuing node id) when this one is full. */
static inline void tsg_maybe_split(tsg_state *s, uint64_t id, int more_edges) {
  if (s->b.len < s->o->batch_bytes || !more_edges) return;
  wire_node_close(&s->b);
  tsg_flush(s);
  tsg_graph_open(s);
  wire_node_continue(&s->b, id);
}

static inline void tsg_edge(tsg_state *s, const wire_edge *e) {
  wire_edge_write(&s->b, e);
  wire_hash_edge(&s->h, e);
  s->edges++;
}

static inline void tsg_node(tsg_state *s, const wire_node *n) {
  wire_node_open(&s->b, n);
  wire_hash_node(&s->h, n);
}

/* Node 0 root -> @1 "globals"; node 1 a table with scalar fields of every
** kind, a string field (@2) and index entries [k] = @(k+2); node 2 the
** string TSG_WEIRD; nodes 3.. tables {n = id, next = @(id+1)}. */
static inline int tsg_snapshot(const tsg_opts *o, tsg_emit emit, void *ud) {
  tsg_state s;
  memset(&s, 0, sizeof s);
  s.o = o;
  s.emit = emit;
  s.ud = ud;
  wire_buf_init(&s.b);
  wire_hash_init(&s.h);
  uint64_t N = o->nodes < 3 ? 3 : o->nodes;

  wire_msg_begin(&s.b);
  wire_open(&s.b, "snapshot-begin");
  wire_attr_str(&s.b, "id", o->wire_id);
  wire_attr_str(&s.b, "vm", "lua");
  wire_attr_str(&s.b, "version", "5.4.4");
  wire_attr_str(&s.b, "machine", "fake.lua");
  wire_attr_str(&s.b, "time", "1795000000123");
  wire_attr_str(&s.b, "reason", o->reason ? o->reason : "request");
  if (o->label) wire_attr(&s.b, "label", o->label, o->label_len);
  wire_empty_end(&s.b);
  wire_msg_end(&s.b);
  if (emit(ud, s.b.data, s.b.len, 0)) s.stopped = 1;
  wire_buf_reset(&s.b);
  tsg_graph_open(&s);

  wire_node n;
  wire_edge e;
  memset(&n, 0, sizeof n);
  n.id = 0;
  n.kind = "root";
  tsg_node(&s, &n);
  memset(&e, 0, sizeof e);
  e.kind = "root";
  e.name = "globals";
  e.name_len = 7;
  e.value.type = WIRE_V_REF;
  e.value.u.ref = 1;
  tsg_edge(&s, &e);
  wire_node_close(&s.b);

  memset(&n, 0, sizeof n);
  n.id = 1;
  n.kind = "table";
  n.size = 56;
  n.has_size = 1;
  n.addr = 0x55d0c1a2b3c0;
  n.has_addr = 1;
  tsg_node(&s, &n);
  static const char *const fields[] = { "answer", "half", "nan", "negzero", "big",
                                        "greeting" };
  for (int i = 0; i < 6; i++) {
    memset(&e, 0, sizeof e);
    e.kind = "field";
    e.name = fields[i];
    e.name_len = strlen(fields[i]);
    switch (i) {
    case 0: e.value.type = WIRE_V_INT; e.value.u.i = 42; break;
    case 1: e.value.type = WIRE_V_FLOAT; e.value.u.f = 0.5; break;
    case 2: wire_value_parse("f:nan", 5, &e.value); break;
    case 3: wire_value_parse("f:-0x0p+0", 9, &e.value); break;
    case 4: e.value.type = WIRE_V_INT; e.value.u.i = INT64_MAX; break;
    case 5: e.value.type = WIRE_V_REF; e.value.u.ref = 2; break;
    }
    tsg_edge(&s, &e);
  }
  for (uint64_t k = 1; k + 2 < N; k++) {
    memset(&e, 0, sizeof e);
    e.kind = "index";
    e.index = (int64_t)k;
    e.has_index = 1;
    e.value.type = WIRE_V_REF;
    e.value.u.ref = k + 2;
    tsg_edge(&s, &e);
    tsg_maybe_split(&s, 1, k + 3 < N);
  }
  wire_node_close(&s.b);

  memset(&n, 0, sizeof n);
  n.id = 2;
  n.kind = "string";
  n.value = TSG_WEIRD;
  n.value_len = TSG_WEIRD_LEN;
  n.has_value = 1;
  n.size = 24 + TSG_WEIRD_LEN + 1;
  n.has_size = 1;
  tsg_node(&s, &n);
  wire_node_close(&s.b);

  for (uint64_t id = 3; id < N && !s.stopped; id++) {
    if (s.b.len >= o->batch_bytes) {
      tsg_flush(&s);
      tsg_graph_open(&s);
    }
    memset(&n, 0, sizeof n);
    n.id = id;
    n.kind = "table";
    n.type = "Item";
    n.type_len = 4;
    n.size = 88;
    n.has_size = 1;
    n.addr = 0x7f0000000000ull + id * 64;
    n.has_addr = 1;
    tsg_node(&s, &n);
    memset(&e, 0, sizeof e);
    e.kind = "field";
    e.name = "n";
    e.name_len = 1;
    e.value.type = WIRE_V_INT;
    e.value.u.i = (int64_t)id;
    tsg_edge(&s, &e);
    if (id + 1 < N) {
      e.name = "next";
      e.name_len = 4;
      e.value.type = WIRE_V_REF;
      e.value.u.ref = id + 1;
      tsg_edge(&s, &e);
    }
    wire_node_close(&s.b);
  }
  tsg_flush(&s);

  char hex[17];
  wire_hash_hex(&s.h, hex);
  wire_msg_begin(&s.b);
  wire_open(&s.b, "snapshot-end");
  wire_attr_str(&s.b, "id", o->wire_id);
  wire_attr_u64(&s.b, "nodes", N);
  wire_attr_u64(&s.b, "edges", s.edges);
  wire_attr_str(&s.b, "hash", hex);
  wire_empty_end(&s.b);
  wire_msg_end(&s.b);
  if (!s.stopped && emit(ud, s.b.data, s.b.len, 2)) s.stopped = 1;
  wire_buf_free(&s.b);
  return s.stopped;
}

/* Edges of the synthetic graph with n nodes (n >= 3). */
static inline uint64_t tsg_edges(uint64_t n) {
  if (n <= 3) return 7;
  return 7 + (n - 3) + (n - 3) * 2 - 1;
}

#endif
