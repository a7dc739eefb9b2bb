/*
** graph.c
** Building the compact analysis graph from a snapshot's node and edge
** records, one node at a time in id order, as the store and the wire give them.
*/
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph.h"

struct graph_builder {
  graph *g;
  unsigned flags;
  uint64_t cap_n, cap_m;
  int have_node;     /* a node has been added: edges belong to it */
  unsigned weak;     /* weak mode of the current node: 1 = keys, 2 = values */
  uint64_t scalars;  /* content hash of the current node's scalar fields */
  char err[200];
};

#define WEAK_KEYS 1u
#define WEAK_VALUES 2u


static const char *const ekind_names[GRAPH_E_NKINDS] = {
  "other", "root", "field", "index", "key", "keyref", "metatable", "upvalue",
  "value", "prototype", "uservalue", "frame", "function", "local", "vararg",
  "stack", "environment", "internal", "weak", "exit"
};

/* ---------------------------------------------------------------- */
/* Hashing                                                           */
/* ---------------------------------------------------------------- */

uint64_t graph_mix(uint64_t h, uint64_t w) {
  h ^= w + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h *= 0xFF51AFD7ED558CCDull;
  return h ^ (h >> 32);
}

uint64_t graph_hash(uint64_t seed, const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = graph_mix(seed, n);
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = graph_mix(h, w);
    s += 8; n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = graph_mix(h, w ^ 0x80);
  }
  return h;
}

static uint64_t hash_value(uint64_t h, const wire_value *v) {
  uint64_t bits = 0;
  switch (v->type) {
  case WIRE_V_BOOL: bits = (uint64_t)(v->u.b != 0); break;
  case WIRE_V_INT: bits = (uint64_t)v->u.i; break;
  case WIRE_V_FLOAT: memcpy(&bits, &v->u.f, 8); break;
  case WIRE_V_REF: bits = v->u.ref; break;
  default: break;
  }
  return graph_mix(graph_mix(h, (uint64_t)v->type), bits);
}

/* ---------------------------------------------------------------- */
/* Interned names                                                    */
/* ---------------------------------------------------------------- */

static int names_grow_slots(graph_names *t) {
  uint32_t nslot = t->nslot ? t->nslot * 2 : 64;
  uint32_t *slot = calloc(nslot, sizeof *slot);
  if (!slot) return -1;
  for (uint32_t i = 1; i < t->count; i++) {
    uint32_t h = (uint32_t)graph_hash(0, t->name[i], t->len[i]);
    uint32_t j = h & (nslot - 1);
    while (slot[j]) j = (j + 1) & (nslot - 1);
    slot[j] = i;
  }
  free(t->slot);
  t->slot = slot;
  t->nslot = nslot;
  return 0;
}

uint32_t graph_names_intern(graph_names *t, const char *s, size_t n) {
  if (n > GRAPH_MAX_NAME) n = GRAPH_MAX_NAME;
  if (t->count == 0) { /* reserve index 0 for "none" */
    t->name = calloc(16, sizeof *t->name);
    t->len = calloc(16, sizeof *t->len);
    if (!t->name || !t->len) return 0;
    t->cap = 16;
    t->name[0] = NULL;
    t->count = 1;
  }
  if ((uint64_t)(t->count + 1) * 2 > t->nslot && names_grow_slots(t)) return 0;
  uint32_t h = (uint32_t)graph_hash(0, s, n);
  uint32_t j = h & (t->nslot - 1);
  while (t->slot[j]) {
    uint32_t i = t->slot[j];
    if (t->len[i] == n && memcmp(t->name[i], s, n) == 0) return i;
    j = (j + 1) & (t->nslot - 1);
  }
  if (t->count == UINT32_MAX - 1) return 0;
  if (t->count == t->cap) {
    uint32_t cap = t->cap * 2;
    char **name = realloc(t->name, cap * sizeof *name);
    if (!name) return 0;
    t->name = name;
    uint32_t *len = realloc(t->len, cap * sizeof *len);
    if (!len) return 0;
    t->len = len;
    t->cap = cap;
  }
  char *copy = malloc(n + 1);
  if (!copy) return 0;
  memcpy(copy, s, n);
  copy[n] = 0;
  t->name[t->count] = copy;
  t->len[t->count] = (uint32_t)n;
  t->slot[j] = t->count;
  return t->count++;
}

void graph_names_free(graph_names *t) {
  for (uint32_t i = 1; i < t->count; i++) free(t->name[i]);
  free(t->name);
  free(t->len);
  free(t->slot);
  memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- */
/* Builder                                                           */
/* ---------------------------------------------------------------- */

static int fail(graph_builder *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->err, sizeof b->err, fmt, ap);
  va_end(ap);
  return -1;
}

/* Resize *p to n elements of size sz (never to zero bytes). */
static int resize(void *pp, uint64_t n, size_t sz) {
  void **p = pp;
  if (n == 0) n = 1;
  if (n > SIZE_MAX / sz) return -1;
  void *q = realloc(*p, (size_t)n * sz);
  if (!q) return -1;
  *p = q;
  return 0;
}

static int grow_nodes(graph_builder *b, uint64_t cap) {
  graph *g = b->g;
  if (resize(&g->kind, cap, 1) || resize(&g->type, cap, 4) ||
      resize(&g->size, cap, 8) || resize(&g->first, cap + 1, 4))
    return fail(b, "out of memory for %llu nodes", (unsigned long long)cap);
  if ((b->flags & GRAPH_IDENTITY) &&
      (resize(&g->addr, cap, 8) || resize(&g->content, cap, 8)))
    return fail(b, "out of memory for %llu nodes", (unsigned long long)cap);
  b->cap_n = cap;
  return 0;
}

static int grow_edges(graph_builder *b, uint64_t cap) {
  graph *g = b->g;
  if (resize(&g->to, cap, 4) || resize(&g->ekind, cap, 1))
    return fail(b, "out of memory for %llu edges", (unsigned long long)cap);
  if ((b->flags & GRAPH_IDENTITY) && resize(&g->label, cap, 4))
    return fail(b, "out of memory for %llu edges", (unsigned long long)cap);
  b->cap_m = cap;
  return 0;
}

graph_builder *graph_builder_new(unsigned flags, uint64_t nodes_hint,
                                 uint64_t edges_hint) {
  graph_builder *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->g = calloc(1, sizeof *b->g);
  b->flags = flags;
  if (nodes_hint > GRAPH_MAX_NODES) nodes_hint = GRAPH_MAX_NODES;
  if (edges_hint > GRAPH_MAX_EDGES) edges_hint = GRAPH_MAX_EDGES;
  if (!b->g || grow_nodes(b, nodes_hint ? nodes_hint : 1024) ||
      grow_edges(b, edges_hint ? edges_hint : 4096)) {
    graph_builder_free(b);
    return NULL;
  }
  b->g->first[0] = 0;
  return b;
}

const char *graph_builder_error(const graph_builder *b) { return b->err; }

void graph_builder_free(graph_builder *b) {
  if (!b) return;
  graph_free(b->g);
  free(b);
}

/* Close the current node: its content hash gets its scalar fields. */
static void end_node(graph_builder *b) {
  graph *g = b->g;
  if (!b->have_node) return;
  if (g->content) g->content[g->n - 1] += b->scalars;
  g->first[g->n] = g->m;
}

static uint64_t hash_str(uint64_t h, const char *s, size_t n, int present) {
  if (!present || !s) return graph_mix(h, 0xA55A);
  return graph_hash(h, s, n);
}

/* Hash a name without the addresses it embeds: "@" and the hex digits
** after it are skipped. */
static uint64_t hash_portable(uint64_t h, const char *s, size_t n) {
  size_t i = 0, run = 0;
  while (i < n) {
    if (s[i] == '@') {
      h = graph_hash(h, s + run, i - run);
      i++;
      while (i < n && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                       (s[i] >= 'A' && s[i] <= 'F')))
        i++;
      run = i;
      continue;
    }
    i++;
  }
  return graph_hash(h, s + run, n - run);
}

int graph_builder_node(graph_builder *b, const wire_node *node) {
  graph *g = b->g;
  if (node->id != g->n)
    return fail(b, "snapshot node ids are not dense: expected node %u, got "
                "%llu (the snapshot is damaged; re-import it)", g->n,
                (unsigned long long)node->id);
  if (g->n >= GRAPH_MAX_NODES)
    return fail(b, "too many nodes for analysis (at most %u)", GRAPH_MAX_NODES);
  end_node(b);
  if (g->n == b->cap_n) {
    uint64_t cap = b->cap_n + b->cap_n / 2 + 1024;
    if (cap > GRAPH_MAX_NODES) cap = GRAPH_MAX_NODES;
    if (grow_nodes(b, cap)) return -1;
  }
  uint32_t v = g->n++;
  const char *k = node->kind ? node->kind : "";
  uint32_t kid = graph_names_intern(&g->kinds, k, strlen(k));
  if (kid == 0) return fail(b, "out of memory interning a kind name");
  if (kid > GRAPH_MAX_KINDS) kid = graph_names_intern(&g->kinds, "other", 5);
  g->kind[v] = (uint8_t)kid;
  g->type[v] = 0;
  if (node->type && node->type_len) {
    g->type[v] = graph_names_intern(&g->types, node->type, node->type_len);
    if (!g->type[v]) return fail(b, "out of memory interning a type name");
  }
  g->size[v] = node->has_size ? node->size : 0;
  g->total_size += g->size[v];
  g->first[v + 1] = g->m;
  b->weak = 0;
  if (node->mode) {
    if (strchr(node->mode, 'k')) b->weak |= WEAK_KEYS;
    if (strchr(node->mode, 'v')) b->weak |= WEAK_VALUES;
  }
  b->have_node = 1;
  b->scalars = 0;
  if (g->addr) {
    g->addr[v] = node->has_addr ? node->addr : 0;
    int portable = (b->flags & GRAPH_PORTABLE) != 0;
    uint64_t h = graph_hash(1, k, strlen(k));
    h = hash_str(h, node->type, node->type_len, node->type != NULL);
    if (portable && node->name)
      h = hash_portable(h, node->name, node->name_len);
    else
      h = hash_str(h, node->name, node->name_len, node->name != NULL);
    h = hash_str(h, node->value, node->value_len, node->has_value);
    if (!portable || strcmp(k, "userdata") != 0)
      h = hash_str(h, node->payload, node->payload_len, node->has_payload);
    h = hash_str(h, node->mode, node->mode ? strlen(node->mode) : 0,
                 node->mode != NULL);
    g->content[v] = h;
  }
  return 0;
}

static int add_ref(graph_builder *b, uint64_t target, unsigned ekind,
                   uint32_t label) {
  graph *g = b->g;
  if (target >= GRAPH_MAX_NODES)
    return fail(b, "edge of node %u names node %llu, beyond any snapshot",
                g->n - 1, (unsigned long long)target);
  if (g->m >= GRAPH_MAX_EDGES)
    return fail(b, "too many edges for analysis (at most %u)", GRAPH_MAX_EDGES);
  if (g->m == b->cap_m) {
    uint64_t cap = b->cap_m + b->cap_m / 2 + 4096;
    if (cap > GRAPH_MAX_EDGES) cap = GRAPH_MAX_EDGES;
    if (grow_edges(b, cap)) return -1;
  }
  g->to[g->m] = (graph_id)target;
  g->ekind[g->m] = (uint8_t)ekind;
  if (g->label) g->label[g->m] = label;
  g->m++;
  return 0;
}

/* The label of an edge: its kind and its key, whatever form the key has. */
static uint64_t edge_label(enum graph_ekind k, const wire_edge *e) {
  uint64_t h = graph_mix(2, (uint64_t)k);
  if (e->name) h = graph_hash(h ^ 1, e->name, e->name_len);
  if (e->has_index) h = graph_mix(h ^ 2, (uint64_t)e->index);
  if (e->key.type != WIRE_V_NONE && e->key.type != WIRE_V_REF)
    h = hash_value(h ^ 3, &e->key);
  return h;
}

int graph_builder_edge(graph_builder *b, const wire_edge *e) {
  if (!b->have_node) return fail(b, "an edge came before any node");
  enum graph_ekind k = graph_ekind_parse(e->kind ? e->kind : "");
  int entry = k == GRAPH_E_FIELD || k == GRAPH_E_INDEX || k == GRAPH_E_KEY;
  unsigned vweak = (k == GRAPH_E_WEAK || (entry && (b->weak & WEAK_VALUES)))
                   ? GRAPH_EDGE_WEAK : 0;
  int value_ref = e->value.type == WIRE_V_REF;
  if (k == GRAPH_E_KEY && e->key.type == WIRE_V_REF) {
    unsigned kweak = (b->weak & WEAK_KEYS) ? GRAPH_EDGE_WEAK : 0;
    uint32_t label = value_ref ? GRAPH_LABEL_KEYPAIR
                               : (uint32_t)hash_value(5, &e->value);
    if (label == GRAPH_LABEL_KEYPAIR && !value_ref) label ^= 1;
    if (add_ref(b, e->key.u.ref, GRAPH_E_KEYREF | kweak, label)) return -1;
    if (value_ref) return add_ref(b, e->value.u.ref, k | vweak, GRAPH_LABEL_KEYOBJ);
    return 0;
  }
  uint64_t label = edge_label(k, e);
  uint32_t l32 = (uint32_t)label;
  if (l32 == GRAPH_LABEL_KEYPAIR || l32 == GRAPH_LABEL_KEYOBJ) l32 ^= 2;
  if (value_ref) return add_ref(b, e->value.u.ref, k | vweak, l32);
  /* A scalar field: only its content matters, and only to the diff. The
  ** sum makes the node's hash independent of the order of its fields. */
  if (b->g->content) b->scalars += graph_mix(hash_value(label, &e->value), 7);
  return 0;
}

graph *graph_builder_finish(graph_builder *b, char *err, size_t errlen) {
  graph *g = b->g;
  end_node(b);
  if (g->n == 0) {
    snprintf(err, errlen, "the snapshot has no nodes (not even its root)");
    graph_builder_free(b);
    return NULL;
  }
  for (uint32_t e = 0; e < g->m; e++) {
    if (g->to[e] >= g->n) {
      uint32_t v = 0;
      while (g->first[v + 1] <= e) v++;
      snprintf(err, errlen, "node %u refers to node %u, but the snapshot has "
               "only %u nodes (it is damaged; re-import it)", v, g->to[e], g->n);
      graph_builder_free(b);
      return NULL;
    }
  }
  /* Give back what the growth over-allocated. */
  resize(&g->kind, g->n, 1);
  resize(&g->type, g->n, 4);
  resize(&g->size, g->n, 8);
  resize(&g->first, (uint64_t)g->n + 1, 4);
  resize(&g->to, g->m, 4);
  resize(&g->ekind, g->m, 1);
  if (g->addr) resize(&g->addr, g->n, 8);
  if (g->content) resize(&g->content, g->n, 8);
  if (g->label) resize(&g->label, g->m, 4);
  b->g = NULL;
  free(b);
  return g;
}

void graph_free(graph *g) {
  if (!g) return;
  free(g->kind); free(g->type); free(g->size); free(g->first);
  free(g->to); free(g->ekind);
  free(g->addr); free(g->content); free(g->label);
  graph_names_free(&g->kinds);
  graph_names_free(&g->types);
  free(g);
}

/* ---------------------------------------------------------------- */
/* Names                                                             */
/* ---------------------------------------------------------------- */

const char *graph_kind_name(const graph *g, graph_id v) {
  assert(v < g->n);
  return g->kind[v] ? g->kinds.name[g->kind[v]] : "";
}

const char *graph_type_name(const graph *g, graph_id v) {
  assert(v < g->n);
  return g->type[v] ? g->types.name[g->type[v]] : "";
}

const char *graph_ekind_name(enum graph_ekind k) {
  return (unsigned)k < GRAPH_E_NKINDS ? ekind_names[k] : "other";
}

enum graph_ekind graph_ekind_parse(const char *s) {
  for (int k = 1; k < GRAPH_E_NKINDS; k++)
    if (strcmp(s, ekind_names[k]) == 0) return (enum graph_ekind)k;
  return GRAPH_E_OTHER;
}

size_t graph_memory(const graph *g) {
  size_t n = g->n, m = g->m;
  size_t bytes = n * (1 + 4 + 8) + (n + 1) * 4 + m * (4 + 1);
  if (g->addr) bytes += n * 16 + m * 4;
  return bytes;
}
