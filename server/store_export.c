/*
** store_export.c
** Export of a snapshot or of the subgraph around one node, streamed in
** bounded memory: JSON lines (one object per node with its edges) and
** Graphviz DOT. Both formats are specified in docs/store.md, "Export".
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

#define FLUSH_AT 65536
#define DOT_PREVIEW 40        /* bytes of a string shown in a DOT label */
#define SUBGRAPH_DEFAULT 10000

typedef struct exporter {
  store *s;
  int64_t snap;
  const store_export_opts *o;
  store_write_fn w;
  void *wud;
  wire_buf b;
  int failed;                /* the sink refused bytes */
  uint64_t nodes, edges;     /* written so far */
  int open;                  /* a JSON node line awaits its closing */
  uint64_t cur;              /* node whose edges are being written */
  /* Subgraph: the visited set (open addressing over id + 1) and the
  ** breadth-first queue, both bounded by max_nodes. */
  uint64_t *seen; size_t nseen_slots; uint64_t nseen;
  uint64_t *queue; unsigned *depth; size_t qhead, qtail;
  uint64_t limit;
  unsigned cur_depth;
  int cut;                   /* nodes were left out by the limit */
  int more;                  /* DOT: an edge points at a node left out */
  int whole;
} exporter;

static void flush(exporter *x) {
  if (x->b.len && !x->failed && x->w(x->wud, x->b.data, x->b.len)) x->failed = 1;
  wire_buf_reset(&x->b);
}

static void put(exporter *x, const char *s) {
  wire_buf_puts(&x->b, s);
  if (x->b.len >= FLUSH_AT) flush(x);
}

static void putf_u64(exporter *x, uint64_t v) {
  char t[24];
  snprintf(t, sizeof t, "%" PRIu64, v);
  put(x, t);
}

static void putf_i64(exporter *x, int64_t v) {
  char t[24];
  snprintf(t, sizeof t, "%" PRId64, v);
  put(x, t);
}

/* Length of the valid, shortest-form UTF-8 sequence at p, or 0. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (!k || c > 0xF4 || n < k) return 0;
  for (size_t i = 1; i < k; i++)
    if ((p[i] & 0xC0) != 0x80) return 0;
  uint32_t cp = k == 2 ? (c & 0x1F) : k == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t i = 1; i < k; i++) cp = cp << 6 | (p[i] & 0x3F);
  if ((k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  /* U+F700..U+F7FF carries raw bytes, so one in the data is escaped. */
  if (cp >= 0xF700 && cp <= 0xF7FF) return 0;
  return k;
}

/* A JSON string of arbitrary bytes: UTF-8 as itself, every other byte b
** as \uF7bb (docs/store.md), the way the protocol maps them. */
static void put_json_bytes(exporter *x, const char *p, size_t n) {
  const unsigned char *u = (const unsigned char *)p;
  wire_buf_put(&x->b, "\"", 1);
  for (size_t i = 0; i < n;) {
    size_t k = utf8_len(u + i, n - i);
    char t[8];
    if (k == 1 && u[i] >= 0x20 && u[i] != '"' && u[i] != '\\') {
      wire_buf_put(&x->b, u + i, 1);
    } else if (k == 1) {
      static const char *esc[] = {"\\\"", "\\\\", "\\n", "\\t", "\\r"};
      const char *e = u[i] == '"' ? esc[0] : u[i] == '\\' ? esc[1]
                    : u[i] == '\n' ? esc[2] : u[i] == '\t' ? esc[3]
                    : u[i] == '\r' ? esc[4] : NULL;
      if (!e) snprintf(t, sizeof t, "\\u%04x", u[i]), e = t;
      wire_buf_puts(&x->b, e);
    } else if (k) {
      wire_buf_put(&x->b, u + i, k);
    } else {
      snprintf(t, sizeof t, "\\uf7%02x", u[i]);
      wire_buf_puts(&x->b, t);
      k = 1;
    }
    i += k;
    if (x->b.len >= FLUSH_AT) flush(x);
  }
  wire_buf_put(&x->b, "\"", 1);
}

static void put_json_str(exporter *x, const char *s) {
  put_json_bytes(x, s, strlen(s));
}

static void put_key(exporter *x, const char *k) {
  put(x, ",\"");
  put(x, k);
  put(x, "\":");
}

static void put_value(exporter *x, const wire_value *v) {
  wire_buf_put(&x->b, "\"", 1);
  wire_value_format(&x->b, v);
  wire_buf_put(&x->b, "\"", 1);
}

/* A DOT label piece: printable UTF-8 as itself, the rest as \xNN text. */
static void put_dot_bytes(exporter *x, const char *p, size_t n, size_t max) {
  const unsigned char *u = (const unsigned char *)p;
  size_t i = 0;
  while (i < n && i < max) {
    size_t k = utf8_len(u + i, n - i);
    char t[8];
    if (k == 1 && (u[i] == '"' || u[i] == '\\')) {
      t[0] = '\\', t[1] = (char)u[i], t[2] = 0;
      wire_buf_puts(&x->b, t);
    } else if (k == 1 && (u[i] < 0x20 || u[i] == 0x7f)) {
      snprintf(t, sizeof t, "\\\\x%02x", u[i]);
      wire_buf_puts(&x->b, t);
    } else if (k) {
      wire_buf_put(&x->b, u + i, k);
    } else {
      snprintf(t, sizeof t, "\\\\x%02x", u[i]);
      wire_buf_puts(&x->b, t);
      k = 1;
    }
    i += k;
  }
  if (i < n) wire_buf_puts(&x->b, "...");
}

/* ------------------------------------------------------------------ */
/* The subgraph's bookkeeping                                          */
/* ------------------------------------------------------------------ */

static int seen_has(const exporter *x, uint64_t id) {
  if (x->whole) return id < x->limit;
  size_t mask = x->nseen_slots - 1, i = (size_t)(id * 0x9E3779B97F4A7C15u) & mask;
  while (x->seen[i]) {
    if (x->seen[i] == id + 1) return 1;
    i = (i + 1) & mask;
  }
  return 0;
}

/* Admit node id to the subgraph if there is room: 1 if it is (now) in. */
static int admit(exporter *x, uint64_t id, unsigned depth) {
  if (seen_has(x, id)) return 1;
  if (x->nseen >= x->limit) {
    x->cut = 1;
    return 0;
  }
  size_t mask = x->nseen_slots - 1, i = (size_t)(id * 0x9E3779B97F4A7C15u) & mask;
  while (x->seen[i]) i = (i + 1) & mask;
  x->seen[i] = id + 1;
  x->nseen++;
  x->queue[x->qtail] = id;
  x->depth[x->qtail] = depth;
  x->qtail++;
  return 1;
}

/* ------------------------------------------------------------------ */
/* Records                                                             */
/* ------------------------------------------------------------------ */

static void progress(exporter *x) {
  if (x->o->progress && (x->nodes & 4095) == 0)
    x->o->progress(x->o->progress_ud, x->nodes, x->edges);
}

static void close_json_node(exporter *x) {
  if (x->open) put(x, "]}\n");
  x->open = 0;
}

static void json_node(exporter *x, const store_node *sn) {
  const wire_node *n = &sn->n;
  close_json_node(x);
  put(x, "{\"id\":");
  putf_u64(x, n->id);
  put_key(x, "kind");
  put_json_str(x, n->kind);
  if (n->type) put_key(x, "type"), put_json_bytes(x, n->type, n->type_len);
  if (n->name) put_key(x, "name"), put_json_bytes(x, n->name, n->name_len);
  if (n->has_size) put_key(x, "size"), putf_u64(x, n->size);
  if (n->has_addr) {
    char t[24];
    snprintf(t, sizeof t, "\"%" PRIx64 "\"", n->addr);
    put_key(x, "addr");
    put(x, t);
  }
  if (n->has_value) put_key(x, "value"), put_json_bytes(x, n->value, n->value_len);
  if (n->has_payload) {
    put_key(x, "payload");
    wire_buf_put(&x->b, "\"", 1);
    wire_base64_encode(&x->b, n->payload, n->payload_len);
    wire_buf_put(&x->b, "\"", 1);
  }
  if (n->mode) put_key(x, "mode"), put_json_str(x, n->mode);
  if (n->status) put_key(x, "status"), put_json_str(x, n->status);
  if (n->source) put_key(x, "source"), put_json_bytes(x, n->source, n->source_len);
  if (n->has_line) put_key(x, "line"), putf_i64(x, n->line);
  put(x, ",\"edges\":[");
  x->open = 1;
}

static void json_edge(exporter *x, const store_edge *se) {
  const wire_edge *e = &se->e;
  put(x, se->seq ? ",{\"kind\":" : "{\"kind\":");
  put_json_str(x, e->kind);
  if (e->name) put_key(x, "name"), put_json_bytes(x, e->name, e->name_len);
  if (e->has_index) put_key(x, "index"), putf_i64(x, e->index);
  if (e->key.type != WIRE_V_NONE) put_key(x, "key"), put_value(x, &e->key);
  put_key(x, "value");
  put_value(x, &e->value);
  put(x, "}");
}

static void dot_node(exporter *x, const store_node *sn) {
  const wire_node *n = &sn->n;
  put(x, "  n");
  putf_u64(x, n->id);
  put(x, " [label=\"");
  put_dot_bytes(x, n->kind, strlen(n->kind), 64);
  if (n->type) put(x, " "), put_dot_bytes(x, n->type, n->type_len, DOT_PREVIEW);
  if (n->name) put(x, "\\n"), put_dot_bytes(x, n->name, n->name_len, DOT_PREVIEW);
  if (n->has_value) {
    put(x, "\\n\\\"");
    put_dot_bytes(x, n->value, n->value_len, DOT_PREVIEW);
    put(x, "\\\"");
  }
  put(x, "\\n#");
  putf_u64(x, n->id);
  put(x, "\"];\n");
}

static void dot_edge(exporter *x, const store_edge *se) {
  const wire_edge *e = &se->e;
  char from[48];
  snprintf(from, sizeof from, "  n%" PRIu64 " -> ", se->from);
  if (e->value.type == WIRE_V_REF) {
    put(x, from);
    if (seen_has(x, e->value.u.ref)) {
      put(x, "n");
      putf_u64(x, e->value.u.ref);
    } else {
      put(x, "more");
      x->more = 1;
    }
  } else {
    /* A scalar gets a small node of its own per edge. */
    put(x, "  s");
    putf_u64(x, se->from);
    put(x, "_");
    putf_u64(x, se->seq);
    put(x, " [shape=plaintext,label=\"");
    wire_value_format(&x->b, &e->value);
    put(x, "\"];\n");
    put(x, from);
    put(x, "s");
    putf_u64(x, se->from);
    put(x, "_");
    putf_u64(x, se->seq);
  }
  put(x, " [label=\"");
  if (e->name) put_dot_bytes(x, e->name, e->name_len, DOT_PREVIEW);
  else if (e->has_index) putf_i64(x, e->index), put(x, " ");
  if (e->key.type != WIRE_V_NONE) put(x, "["), wire_value_format(&x->b, &e->key), put(x, "]");
  if (!e->name && !e->has_index && e->key.type == WIRE_V_NONE)
    put_dot_bytes(x, e->kind, strlen(e->kind), 64);
  put(x, "\"];\n");
}

static int on_node(void *ud, const store_node *n) {
  exporter *x = ud;
  if (x->whole && n->n.id >= x->limit) {
    x->cut = 1;
    return 1;
  }
  x->cur = n->n.id;
  if (x->o->format == STORE_JSONL) json_node(x, n);
  else dot_node(x, n);
  x->nodes++;
  progress(x);
  return x->failed || x->b.oom;
}

static int on_edge(void *ud, const store_edge *e) {
  exporter *x = ud;
  if (!x->whole && e->e.value.type == WIRE_V_REF && x->cur_depth < x->o->depth)
    admit(x, e->e.value.u.ref, x->cur_depth + 1);
  if (!x->whole && e->e.key.type == WIRE_V_REF && x->cur_depth < x->o->depth)
    admit(x, e->e.key.u.ref, x->cur_depth + 1);
  if (x->o->format == STORE_JSONL) json_edge(x, e);
  else dot_edge(x, e);
  x->edges++;
  return x->failed || x->b.oom;
}

/* ------------------------------------------------------------------ */
/* Header, body, trailer                                               */
/* ------------------------------------------------------------------ */

static void header(exporter *x, const store_snapshot *sn) {
  if (x->o->format == STORE_JSONL) {
    put(x, "{\"amber\":\"snapshot\",\"format\":1,\"snapshot\":");
    putf_i64(x, sn->id);
    put_key(x, "machine"), put_json_bytes(x, sn->machine_name, sn->machine_name_len);
    if (sn->label) put_key(x, "label"), put_json_bytes(x, sn->label, sn->label_len);
    put_key(x, "vm"), put_json_str(x, sn->vm);
    put_key(x, "version"), put_json_str(x, sn->version);
    put_key(x, "time"), putf_i64(x, sn->time_ms);
    put_key(x, "reason"), put_json_str(x, sn->reason);
    put_key(x, "nodes"), putf_u64(x, sn->nodes);
    put_key(x, "edges"), putf_u64(x, sn->edges);
    put_key(x, "bytes"), putf_u64(x, sn->bytes);
    put_key(x, "hash"), put_json_str(x, sn->hash);
    if (sn->error) put_key(x, "error"), put_json_bytes(x, sn->error, sn->error_len);
    if (sn->traceback)
      put_key(x, "traceback"), put_json_bytes(x, sn->traceback, sn->traceback_len);
    if (!x->whole) {
      put_key(x, "from"), putf_i64(x, x->o->from);
      put_key(x, "depth"), putf_u64(x, x->o->depth);
    }
    put(x, "}\n");
  } else {
    put(x, "digraph \"amber snapshot ");
    putf_i64(x, sn->id);
    put(x, "\" {\n  // machine \"");
    put_dot_bytes(x, sn->machine_name, sn->machine_name_len, 80);
    put(x, "\", ");
    putf_u64(x, sn->nodes);
    put(x, " nodes, ");
    putf_u64(x, sn->edges);
    put(x, " edges, hash ");
    put(x, sn->hash);
    put(x, "\n  node [shape=box, fontname=\"monospace\"];\n"
           "  edge [fontname=\"monospace\"];\n");
  }
}

static void trailer(exporter *x) {
  if (x->o->format == STORE_JSONL) {
    close_json_node(x);
    put(x, "{\"end\":true,\"nodes\":");
    putf_u64(x, x->nodes);
    put(x, ",\"edges\":");
    putf_u64(x, x->edges);
    put(x, x->cut ? ",\"complete\":false}\n" : ",\"complete\":true}\n");
  } else {
    if (x->more) put(x, "  more [shape=plaintext, label=\"... (not exported)\"];\n");
    put(x, "}\n");
  }
}

/* Breadth first from o->from: each node, then its edges, which admit the
** next ring of nodes. */
static int subgraph(exporter *x) {
  size_t slots = 16;
  while (slots < x->limit * 2) slots *= 2;
  x->seen = calloc(slots, sizeof *x->seen);
  x->queue = malloc(x->limit * sizeof *x->queue);
  x->depth = malloc(x->limit * sizeof *x->depth);
  if (!x->seen || !x->queue || !x->depth)
    return store_fail(x->s, STORE_ENOMEM, "out of memory for a subgraph of "
                      "%llu nodes; ask for fewer", (unsigned long long)x->limit);
  x->nseen_slots = slots;
  admit(x, (uint64_t)x->o->from, 0);
  int rc = STORE_OK;
  while (!rc && x->qhead < x->qtail) {
    uint64_t id = x->queue[x->qhead];
    x->cur_depth = x->depth[x->qhead++];
    store_node n;
    rc = store_node_get(x->s, x->snap, id, &n);
    if (rc) break;
    int stop = on_node(x, &n);
    store_node_release(&n);
    if (stop) break;
    rc = store_children(x->s, x->snap, id, 0, 0, on_edge, x);
  }
  return rc;
}

int store_export(store *s, int64_t snap, const store_export_opts *o,
                 store_write_fn w, void *wud) {
  if (o->format != STORE_JSONL && o->format != STORE_DOT)
    return store_fail(s, STORE_EUSAGE, "unknown export format %d; use jsonl "
                      "or dot", (int)o->format);
  store_snapshot sn;
  int rc = store_snapshot_get(s, snap, &sn);
  if (rc) return rc;
  if (o->from >= 0 && (uint64_t)o->from >= sn.nodes) {
    store_snapshot_release(&sn);
    return store_fail(s, STORE_ENOTFOUND, "snapshot %lld has no node %lld to "
                      "export from", (long long)snap, (long long)o->from);
  }
  exporter x;
  memset(&x, 0, sizeof x);
  x.s = s;
  x.snap = snap;
  x.o = o;
  x.w = w;
  x.wud = wud;
  x.whole = o->from < 0;
  x.limit = o->max_nodes ? o->max_nodes
                         : x.whole ? sn.nodes : SUBGRAPH_DEFAULT;
  wire_buf_init(&x.b);
  header(&x, &sn);
  if (x.whole) {
    rc = store_scan(s, snap, 0, on_node, on_edge, &x);
    if (rc == STORE_ESTOPPED && x.cut && !x.failed && !x.b.oom) rc = STORE_OK;
  } else {
    rc = subgraph(&x);
  }
  if (!rc) trailer(&x);
  flush(&x);
  if (!rc && x.b.oom) rc = store_fail(s, STORE_ENOMEM, "out of memory exporting");
  if ((!rc || rc == STORE_ESTOPPED) && x.failed)
    rc = store_fail(s, STORE_EIO, "writing the export of snapshot %lld "
                    "failed; check the output file and disk space",
                    (long long)snap);
  if (!rc && o->progress) o->progress(o->progress_ud, x.nodes, x.edges);
  wire_buf_free(&x.b);
  free(x.seen);
  free(x.queue);
  free(x.depth);
  store_snapshot_release(&sn);
  return rc;
}

static int write_file(void *ud, const void *p, size_t n) {
  return fwrite(p, 1, n, ud) != n;
}

int store_export_file(store *s, int64_t snap, const store_export_opts *o,
                      FILE *f) {
  int rc = store_export(s, snap, o, write_file, f);
  if (!rc && fflush(f))
    rc = store_fail(s, STORE_EIO, "writing the export of snapshot %lld "
                    "failed; check the output file and disk space",
                    (long long)snap);
  return rc;
}
