/*
** restore_graph.c
** Buffered snapshot records for restore: <n>/<e> elements checked and
** hashed as they arrive, kept compactly until the whole graph is here.
*/
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restore.h"

/* Node fields are kept as a presence mask followed by the present fields,
** each a 4-byte length and its bytes (the line: 8 raw bytes). Most nodes
** have one or two fields, so this is far smaller than a fixed struct. */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  if (err && errlen) vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* Kinds by their first letter, then the whole word: this runs for every
** record, and a string compare per candidate costs more than the rest of
** reading an edge. */
#define IS(k, w) (strcmp((k), (w)) == 0)

static enum alua_nkind nkind_of(const char *k)
{
  switch (k[0]) {
  case 'r': if (IS(k, "root")) return ALUA_N_ROOT; break;
  case 't':
    if (IS(k, "table")) return ALUA_N_TABLE;
    if (IS(k, "thread")) return ALUA_N_THREAD;
    break;
  case 'f':
    if (IS(k, "function")) return ALUA_N_FUNCTION;
    if (IS(k, "frame")) return ALUA_N_FRAME;
    break;
  case 'p': if (IS(k, "proto")) return ALUA_N_PROTO; break;
  case 'c': if (IS(k, "cfunction")) return ALUA_N_CFUNCTION; break;
  case 'u':
    if (IS(k, "upvalue")) return ALUA_N_UPVALUE;
    if (IS(k, "userdata")) return ALUA_N_USERDATA;
    break;
  case 's':
    if (IS(k, "string")) return ALUA_N_STRING;
    if (IS(k, "stub")) return ALUA_N_STUB;
    break;
  case 'e': if (IS(k, "exit")) return ALUA_N_EXIT; break;
  }
  return ALUA_N_OTHER;
}

static enum alua_ekind ekind_of(const char *k)
{
  switch (k[0]) {
  case 'f':
    if (IS(k, "field")) return ALUA_E_FIELD;
    if (IS(k, "frame")) return ALUA_E_FRAME;
    if (IS(k, "function")) return ALUA_E_FUNCTION;
    break;
  case 'i':
    if (IS(k, "index")) return ALUA_E_INDEX;
    if (IS(k, "internal")) return ALUA_E_INTERNAL;
    break;
  case 'r': if (IS(k, "root")) return ALUA_E_ROOT; break;
  case 'k': if (IS(k, "key")) return ALUA_E_KEY; break;
  case 'm': if (IS(k, "metatable")) return ALUA_E_METATABLE; break;
  case 'u':
    if (IS(k, "upvalue")) return ALUA_E_UPVALUE;
    if (IS(k, "uservalue")) return ALUA_E_USERVALUE;
    break;
  case 'v':
    if (IS(k, "value")) return ALUA_E_VALUE;
    if (IS(k, "vararg")) return ALUA_E_VARARG;
    break;
  case 'p': if (IS(k, "prototype")) return ALUA_E_PROTOTYPE; break;
  case 'l': if (IS(k, "local")) return ALUA_E_LOCAL; break;
  case 's': if (IS(k, "stack")) return ALUA_E_STACK; break;
  case 'e': if (IS(k, "environment")) return ALUA_E_ENVIRONMENT; break;
  }
  return ALUA_E_OTHER;
}

#undef IS

void alua_graph_init(alua_graph *g, uint64_t max_nodes, uint64_t max_edges)
{
  memset(g, 0, sizeof *g);
  wire_buf_init(&g->fields);
  wire_buf_init(&g->names);
  wire_buf_init(&g->scratch);
  wire_hash_init(&g->hash);
  g->max_nodes = max_nodes ? max_nodes : ALUA_RESTORE_MAX_NODES;
  g->max_edges = max_edges ? max_edges : ALUA_RESTORE_MAX_EDGES;
}

void alua_graph_free(alua_graph *g)
{
  free(g->nodes);
  free(g->edges);
  wire_buf_free(&g->fields);
  wire_buf_free(&g->names);
  wire_buf_free(&g->scratch);
  memset(g, 0, sizeof *g);
}

static int grow(void **p, uint64_t *cap, uint64_t need, size_t size)
{
  if (need <= *cap) return 0;
  uint64_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  if (n > SIZE_MAX / size) return -1;
  void *q = realloc(*p, (size_t)n * size);
  if (!q) return -1;
  *p = q;
  *cap = n;
  return 0;
}

static void put_field(wire_buf *b, const void *p, size_t n)
{
  uint32_t len = (uint32_t)n;
  wire_buf_put(b, &len, 4);
  wire_buf_put(b, p, n);
}

static int encode_fields(alua_graph *g, const wire_node *nd, const char *kind)
{
  wire_buf *b = &g->fields;
  unsigned has = 0;
  size_t at = b->len;
  uint16_t mask = 0;
  wire_buf_put(b, &mask, 2);
#define FIELD(bit, cond, p, n) \
  if (cond) { if ((n) > UINT32_MAX) return -1; has |= bit; put_field(b, p, n); }
  FIELD(ALUA_HAS_KIND, kind != NULL, kind, kind ? strlen(kind) + 1 : 0);
  FIELD(ALUA_HAS_TYPE, nd->type != NULL, nd->type, nd->type_len);
  FIELD(ALUA_HAS_NAME, nd->name != NULL, nd->name, nd->name_len);
  FIELD(ALUA_HAS_VALUE, nd->has_value, nd->value, nd->value_len);
  FIELD(ALUA_HAS_PAYLOAD, nd->has_payload, nd->payload, nd->payload_len);
  FIELD(ALUA_HAS_MODE, nd->mode != NULL, nd->mode,
        nd->mode ? strlen(nd->mode) + 1 : 0);
  FIELD(ALUA_HAS_STATUS, nd->status != NULL, nd->status,
        nd->status ? strlen(nd->status) + 1 : 0);
  FIELD(ALUA_HAS_SRC, nd->source != NULL, nd->source, nd->source_len);
#undef FIELD
  if (nd->has_line) {
    has |= ALUA_HAS_LINE;
    wire_buf_put(b, &nd->line, 8);
  }
  if (b->oom) return -1;
  mask = (uint16_t)has;
  memcpy(b->data + at, &mask, 2);
  return 0;
}

void alua_graph_node(const alua_graph *g, uint64_t id, alua_ninfo *out)
{
  assert(id < g->nnodes);
  const char *p = g->fields.data + g->nodes[id].fields;
  uint16_t mask;
  memset(out, 0, sizeof *out);
  memcpy(&mask, p, 2);
  p += 2;
  out->has = mask;
  const char **dst[] = {&out->kind_text, &out->type, &out->name, &out->value,
                        &out->payload, &out->mode, &out->status, &out->src};
  size_t *lens[] = {NULL, &out->type_len, &out->name_len, &out->value_len,
                    &out->payload_len, NULL, NULL, &out->src_len};
  static const unsigned bits[] = {ALUA_HAS_KIND, ALUA_HAS_TYPE, ALUA_HAS_NAME,
                                  ALUA_HAS_VALUE, ALUA_HAS_PAYLOAD,
                                  ALUA_HAS_MODE, ALUA_HAS_STATUS, ALUA_HAS_SRC};
  for (unsigned i = 0; i < 8; i++) {
    if (!(mask & bits[i])) continue;
    uint32_t len;
    memcpy(&len, p, 4);
    *dst[i] = p + 4;
    if (lens[i]) *lens[i] = len;
    p += 4 + len;
  }
  if (mask & ALUA_HAS_LINE) memcpy(&out->line, p, 8);
}

/* Kind, mode and status are short NUL-terminated words, and the decoder
** hands them out as C strings: they are stored with their NUL. */
static int check_word(const char *w, const char *what, char *err, size_t n)
{
  if (w && strlen(w) > 64)
    return fail(err, n, "%s is longer than 64 bytes", what);
  return 0;
}

const char *alua_graph_ename(const alua_graph *g, const alua_gedge *e,
                             size_t *len)
{
  if (!e->name) { *len = 0; return NULL; }
  const char *p = g->names.data + (e->name - 1);
  uint32_t n;
  memcpy(&n, p, 4);
  *len = n;
  return p + 4;
}

int alua_graph_add_edge(alua_graph *g, const wire_edge *we, const char *vtext,
                        size_t vlen, char *err, size_t errlen)
{
  if (g->nnodes == 0)
    return fail(err, errlen, "an edge before any node");
  uint64_t node = g->nnodes - 1;
  if (g->nodes[node].nedges == UINT32_MAX)
    return fail(err, errlen, "node %llu has more than 2^32 edges",
                (unsigned long long)node);
  if (g->nedges >= g->max_edges)
    return fail(err, errlen, "more than %llu edges: the snapshot is too "
                "big for this restore (raise max_edges)",
                (unsigned long long)g->max_edges);
  if (we->has_index && we->key.type != WIRE_V_NONE)
    return fail(err, errlen, "node %llu: an edge has both i and key",
                (unsigned long long)node);
  if (we->value.type == WIRE_V_NONE)
    return fail(err, errlen, "node %llu: an edge has no value v",
                (unsigned long long)node);
  if (grow((void **)&g->edges, &g->capedges, g->nedges + 1, sizeof *g->edges))
    return fail(err, errlen, "out of memory holding %llu edges",
                (unsigned long long)g->nedges + 1);
  alua_gedge *e = &g->edges[g->nedges];
  memset(e, 0, sizeof *e);
  e->kind = (uint8_t)(we->kind ? ekind_of(we->kind) : ALUA_E_OTHER);
  if (e->kind == ALUA_E_OTHER) g->unknown_edges++;
  if (we->name) {
    if (we->name_len > UINT32_MAX ||
        g->names.len + we->name_len + 4 >= UINT32_MAX)
      return fail(err, errlen, "edge names exceed 4 GiB");
    e->name = (uint32_t)g->names.len + 1;
    put_field(&g->names, we->name, we->name_len);
    if (g->names.oom) return fail(err, errlen, "out of memory for edge names");
  }
  if (we->has_index) {
    e->has_index = 1;
    e->key.i = we->index;
  } else if (we->key.type != WIRE_V_NONE) {
    e->ktype = (uint8_t)we->key.type;
    memcpy(&e->key, &we->key.u, sizeof e->key);
  }
  e->vtype = (uint8_t)we->value.type;
  memcpy(&e->val, &we->value.u, sizeof e->val);
  wire_hash_edge_text(&g->hash, we, vtext, vlen);
  g->nedges++;
  g->nodes[node].nedges++;
  return 0;
}

int alua_graph_add_node(alua_graph *g, const wire_node *nd, int cont,
                        char *err, size_t errlen)
{
  uint64_t id = nd->id;
  if (cont) {
    if (g->nnodes == 0 || id != g->nnodes - 1)
      return fail(err, errlen, "continuation of node %llu does not follow "
                  "that node", (unsigned long long)id);
    return 0;
  }
  if (id != g->nnodes)
    return fail(err, errlen, "node ids must run 0, 1, 2… without gaps: "
                "expected %llu, got %llu", (unsigned long long)g->nnodes,
                (unsigned long long)id);
  if (g->nnodes >= g->max_nodes)
    return fail(err, errlen, "more than %llu nodes: the snapshot is too "
                "big for this restore (raise max_nodes)",
                (unsigned long long)g->max_nodes);
  if (!nd->kind) return fail(err, errlen, "node %llu has no kind k",
                             (unsigned long long)id);
  if (check_word(nd->kind, "a node kind", err, errlen) ||
      check_word(nd->mode, "a weak mode", err, errlen) ||
      check_word(nd->status, "a status", err, errlen))
    return -1;
  if (grow((void **)&g->nodes, &g->capnodes, id + 1, sizeof *g->nodes))
    return fail(err, errlen, "out of memory holding %llu nodes",
                (unsigned long long)id + 1);
  enum alua_nkind k = nkind_of(nd->kind);
  alua_gnode *gn = &g->nodes[id];
  gn->edge0 = g->nedges;
  gn->nedges = 0;
  gn->kind = (uint8_t)k;
  gn->fields = g->fields.len;
  if (encode_fields(g, nd, k == ALUA_N_OTHER ? nd->kind : NULL))
    return fail(err, errlen, "out of memory for node %llu's fields",
                (unsigned long long)id);
  if (nd->has_payload && (k == ALUA_N_PROTO || k == ALUA_N_FUNCTION))
    g->nbytecode++;
  wire_hash_node(&g->hash, nd);
  g->nnodes++;
  return 0;
}

int alua_graph_add(alua_graph *g, const wire_elem *n, char *err, size_t errlen)
{
  wire_node nd;
  int cont = 0;
  const char *why = "not a node";
  if (strcmp(n->name, "n") != 0)
    return fail(err, errlen, "unexpected <%s> in a graph batch", n->name);
  if (wire_node_read(n, &nd, &cont, &g->scratch, &why) != 0)
    return alua_graph_bad_node(g, why, err, errlen);
  if (alua_graph_add_node(g, &nd, cont, err, errlen)) return -1;
  /* <e> and runs <r> alike (docs/protocol.md 5.4) */
  wire_edges it;
  wire_edge we;
  int r;
  wire_edges_begin(n, &it);
  while ((r = wire_edges_next(&it, &we)) > 0)
    if (alua_graph_add_edge(g, &we, it.vtext, it.vlen, err, errlen)) return -1;
  if (r < 0) return alua_graph_bad_edge(g, it.why, err, errlen);
  return 0;
}

int alua_graph_bad_node(const alua_graph *g, const char *why, char *err,
                        size_t errlen)
{
  return fail(err, errlen, "bad node after id %llu: %s",
              (unsigned long long)(g->nnodes ? g->nnodes - 1 : 0), why);
}

int alua_graph_bad_edge(const alua_graph *g, const char *why, char *err,
                        size_t errlen)
{
  return fail(err, errlen, "node %llu: bad edge: %s",
              (unsigned long long)(g->nnodes ? g->nnodes - 1 : 0), why);
}

int alua_graph_add_batch(alua_graph *g, const wire_elem *graph, char *err,
                         size_t errlen)
{
  for (const wire_elem *n = graph->children; n; n = n->next)
    if (alua_graph_add(g, n, err, errlen)) return -1;
  return 0;
}

void alua_graph_hash_hex(const alua_graph *g, char out[17])
{
  wire_hash_hex(&g->hash, out);
}

int alua_graph_finish(alua_graph *g, uint64_t nodes, uint64_t edges,
                      const char *hash, char *err, size_t errlen)
{
  if (g->nnodes != nodes || g->nedges != edges)
    return fail(err, errlen, "incomplete graph: the end message announces "
                "%llu nodes and %llu edges, %llu and %llu arrived",
                (unsigned long long)nodes, (unsigned long long)edges,
                (unsigned long long)g->nnodes, (unsigned long long)g->nedges);
  if (g->nnodes == 0 || g->nodes[0].kind != ALUA_N_ROOT)
    return fail(err, errlen, "node 0 must be the root");
  if (hash) {
    char got[17];
    wire_hash_hex(&g->hash, got);
    if (strcmp(got, hash) != 0)
      return fail(err, errlen, "hash mismatch: the records hash to %s but "
                  "the end message says %.40s; the snapshot was altered or "
                  "damaged, so nothing was loaded", got, hash);
  }
  for (uint64_t i = 0; i < g->nedges; i++) {
    const alua_gedge *e = &g->edges[i];
    if ((e->vtype == WIRE_V_REF && e->val.ref >= g->nnodes) ||
        (e->ktype == WIRE_V_REF && e->key.ref >= g->nnodes))
      return fail(err, errlen, "edge %llu refers to a node that does not "
                  "exist (the graph has %llu nodes)", (unsigned long long)i,
                  (unsigned long long)g->nnodes);
  }
  g->finished = 1;
  return 0;
}
