/*
** restore_graph.c
** Buffered snapshot records for restore: <n>/<e> elements checked as they
** arrive, kept compactly until the whole graph is here, and hashed from
** what is kept, so that the hash can be checked beside the build.
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

/* Kinds by their first letter, then the rest of the word, compared here:
** this runs for every record, and a call to strcmp per candidate costs
** more than the rest of storing an edge. */
static int same(const char *a, const char *b)
{
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

#define IS(k, w) same((k), (w))

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

/* The wire spellings of the kinds above, by enum value. */
static const char *const nkind_names[] = {
  "root", "table", "function", "proto", "cfunction", "upvalue", "string",
  "userdata", "thread", "frame", "exit", "stub", "other"
};

static const char *const ekind_names[] = {
  "root", "field", "index", "key", "metatable", "upvalue", "value",
  "prototype", "uservalue", "frame", "function", "local", "vararg", "stack",
  "environment", "internal", "other"
};

const char *alua_nkind_name(enum alua_nkind k)
{
  return (unsigned)k <= ALUA_N_OTHER ? nkind_names[k] : "other";
}

const char *alua_ekind_name(enum alua_ekind k)
{
  return (unsigned)k <= ALUA_E_OTHER ? ekind_names[k] : "other";
}

void alua_graph_init(alua_graph *g, uint64_t max_nodes, uint64_t max_edges)
{
  memset(g, 0, sizeof *g);
  wire_buf_init(&g->fields);
  wire_buf_init(&g->names);
  wire_buf_init(&g->scratch);
  g->max_nodes = max_nodes ? max_nodes : ALUA_RESTORE_MAX_NODES;
  g->max_edges = max_edges ? max_edges : ALUA_RESTORE_MAX_EDGES;
}

void alua_graph_free(alua_graph *g)
{
  free(g->nodes);
  free(g->edges);
  free(g->okinds);
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
  if (wire_buf_reserve(b, 4 + n) != 0) return;   /* b->oom tells */
  char *o = b->data + b->len;
  memcpy(o, &len, 4);
  if (n <= 16)                        /* names are short: no call */
    for (size_t i = 0; i < n; i++) o[4 + i] = ((const char *)p)[i];
  else
    memcpy(o + 4, p, n);
  b->len += 4 + n;
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

/* The length-prefixed fields in the order encode_fields writes them. */
static const unsigned field_order[] = {ALUA_HAS_KIND, ALUA_HAS_TYPE,
                                       ALUA_HAS_NAME, ALUA_HAS_VALUE,
                                       ALUA_HAS_PAYLOAD, ALUA_HAS_MODE,
                                       ALUA_HAS_STATUS, ALUA_HAS_SRC};

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
  for (unsigned i = 0; i < 8; i++) {
    if (!(mask & field_order[i])) continue;
    uint32_t len;
    memcpy(&len, p, 4);
    *dst[i] = p + 4;
    if (lens[i]) *lens[i] = len;
    p += 4 + len;
  }
  if (mask & ALUA_HAS_LINE) memcpy(&out->line, p, 8);
}

const char *alua_graph_value(const alua_graph *g, uint64_t id, size_t *len)
{
  assert(id < g->nnodes);
  const char *p = g->fields.data + g->nodes[id].fields;
  uint16_t mask;
  uint32_t n;
  memcpy(&mask, p, 2);
  p += 2;
  if (!(mask & ALUA_HAS_VALUE)) return NULL;
  for (unsigned i = 0; field_order[i] != ALUA_HAS_VALUE; i++) {
    if (!(mask & field_order[i])) continue;   /* skip the fields before it */
    memcpy(&n, p, 4);
    p += 4 + n;
  }
  memcpy(&n, p, 4);
  *len = n;
  return p + 4;
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

/* Keep s[0..n) in the names arena; *at gets 1 + its offset. */
static int name_add(alua_graph *g, const char *s, size_t n, uint32_t *at)
{
  if (n > UINT32_MAX || g->names.len + n + 4 >= UINT32_MAX) return -1;
  *at = (uint32_t)g->names.len + 1;
  put_field(&g->names, s, n);
  return g->names.oom ? -1 : 0;
}

int alua_graph_add_edge(alua_graph *g, const wire_edge *we, char *err,
                        size_t errlen)
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
  if (e->kind == ALUA_E_OTHER) {
    g->unknown_edges++;
    if (grow((void **)&g->okinds, &g->capokinds, g->nokinds + 1,
             sizeof *g->okinds))
      return fail(err, errlen, "out of memory for edge kinds");
    alua_okind *ok = &g->okinds[g->nokinds];
    ok->edge = g->nedges;
    ok->text = 0;
    /* kept with its NUL: the hash takes it as the C string it was */
    if (we->kind && name_add(g, we->kind, strlen(we->kind) + 1, &ok->text))
      return fail(err, errlen, "out of memory for edge kinds");
    g->nokinds++;
  }
  if (we->name && name_add(g, we->name, we->name_len, &e->name))
    return fail(err, errlen, "%s", g->names.oom ? "out of memory for edge "
                "names" : "edge names exceed 4 GiB");
  if (we->has_index) {
    e->has_index = 1;
    e->key.i = we->index;
  } else if (we->key.type != WIRE_V_NONE) {
    e->ktype = (uint8_t)we->key.type;
    memcpy(&e->key, &we->key.u, sizeof e->key);
  }
  e->vtype = (uint8_t)we->value.type;
  memcpy(&e->val, &we->value.u, sizeof e->val);
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
    if (alua_graph_add_edge(g, &we, err, errlen)) return -1;
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

/* A kept edge as the reader gave it: kind, name, index, key and value. */
static void edge_as_read(const alua_graph *g, const alua_gedge *e,
                         const char *kind, wire_edge *we)
{
  memset(we, 0, sizeof *we);
  we->kind = kind;
  we->name = alua_graph_ename(g, e, &we->name_len);
  if (e->has_index) {
    we->has_index = 1;
    we->index = e->key.i;
  } else if (e->ktype != WIRE_V_NONE) {
    we->key.type = (enum wire_vtype)e->ktype;
    memcpy(&we->key.u, &e->key, sizeof e->key);
  }
  we->value.type = (enum wire_vtype)e->vtype;
  memcpy(&we->value.u, &e->val, sizeof e->val);
}

/* The hash is fed what the writer fed: a kept value is the one value its
** text spelled, and there is one spelling per value (docs/protocol.md
** section 7), so formatting it again gives the bytes that were read. */
void alua_graph_hash_hex(const alua_graph *g, char out[17])
{
  wire_hash h;
  uint64_t ok = 0;
  wire_hash_init(&h);
  for (uint64_t id = 0; id < g->nnodes; id++) {
    const alua_gnode *n = &g->nodes[id];
    alua_ninfo in;
    wire_node nd;
    alua_graph_node(g, id, &in);
    memset(&nd, 0, sizeof nd);
    nd.id = id;
    nd.kind = n->kind == ALUA_N_OTHER ? in.kind_text : nkind_names[n->kind];
    nd.type = in.type; nd.type_len = in.type_len;
    nd.name = in.name; nd.name_len = in.name_len;
    nd.has_value = (in.has & ALUA_HAS_VALUE) != 0;
    nd.value = in.value; nd.value_len = in.value_len;
    nd.has_payload = (in.has & ALUA_HAS_PAYLOAD) != 0;
    nd.payload = in.payload; nd.payload_len = in.payload_len;
    nd.mode = in.mode;
    nd.status = in.status;
    nd.source = in.src; nd.source_len = in.src_len;
    nd.has_line = (in.has & ALUA_HAS_LINE) != 0;
    nd.line = in.line;
    wire_hash_node(&h, &nd);
    const alua_gedge *e = g->edges + n->edge0;
    for (uint64_t k = n->edge0; k < n->edge0 + n->nedges; k++, e++) {
      const char *kind;
      wire_edge we;
      if (e->kind != ALUA_E_OTHER) {
        kind = ekind_names[e->kind];
      } else {
        size_t len;
        /* okinds are in edge order: the next one is this edge's */
        assert(ok < g->nokinds && g->okinds[ok].edge == k);
        alua_gedge named = {.name = g->okinds[ok++].text};
        kind = alua_graph_ename(g, &named, &len);
      }
      edge_as_read(g, e, kind, &we);
      wire_hash_edge(&h, &we);
    }
  }
  wire_hash_hex(&h, out);
}

int alua_graph_check_hash(const alua_graph *g, char *err, size_t errlen)
{
  char got[17];
  if (!g->has_want) return 0;
  alua_graph_hash_hex(g, got);
  if (strcmp(got, g->want) != 0)
    return fail(err, errlen, "hash mismatch: the records hash to %s but "
                "the end message says %.40s; the snapshot was altered or "
                "damaged, so nothing was loaded", got, g->want);
  return 0;
}

/* A graph that is not sound is refused; if its hash does not check out
** either, that is the cause worth reporting. */
static int unsound(const alua_graph *g, char *err, size_t errlen)
{
  (void)alua_graph_check_hash(g, err, errlen);   /* rewords err if so */
  return -1;
}

int alua_graph_finish(alua_graph *g, uint64_t nodes, uint64_t edges,
                      const char *hash, char *err, size_t errlen)
{
  if (g->nnodes != nodes || g->nedges != edges)
    return fail(err, errlen, "incomplete graph: the end message announces "
                "%llu nodes and %llu edges, %llu and %llu arrived",
                (unsigned long long)nodes, (unsigned long long)edges,
                (unsigned long long)g->nnodes, (unsigned long long)g->nedges);
  g->has_want = hash != NULL;
  if (hash) snprintf(g->want, sizeof g->want, "%s", hash);
  if (g->nnodes == 0 || g->nodes[0].kind != ALUA_N_ROOT) {
    fail(err, errlen, "node 0 must be the root");
    return unsound(g, err, errlen);
  }
  for (uint64_t i = 0; i < g->nedges; i++) {
    const alua_gedge *e = &g->edges[i];
    if ((e->vtype == WIRE_V_REF && e->val.ref >= g->nnodes) ||
        (e->ktype == WIRE_V_REF && e->key.ref >= g->nnodes)) {
      fail(err, errlen, "edge %llu refers to a node that does not exist (the "
           "graph has %llu nodes)", (unsigned long long)i,
           (unsigned long long)g->nnodes);
      return unsound(g, err, errlen);
    }
  }
  g->finished = 1;
  return 0;
}
