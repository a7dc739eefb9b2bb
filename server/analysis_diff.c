/*
** analysis_diff.c
** Pairing the nodes of two snapshots (by VM address, by content for
** strings and prototypes, by labelled paths from the root), and from the
** pairing: the diff by node and by type, and the three-snapshot leak filter.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis.h"

/* ---------------------------------------------------------------- */
/* Node compatibility                                                */
/* ---------------------------------------------------------------- */

/* Strings and prototypes cannot change: the same address holding other
** bytes is another object that reused the memory. */
static int immutable_kind(const char *k) {
  return strcmp(k, "string") == 0 || strcmp(k, "proto") == 0;
}

/* Two nodes can be the same object only with the same kind and type. */
static int compatible(const graph *a, graph_id v, const graph *b, graph_id w) {
  const char *ka = graph_kind_name(a, v);
  if (strcmp(ka, graph_kind_name(b, w)) != 0) return 0;
  if (strcmp(graph_type_name(a, v), graph_type_name(b, w)) != 0) return 0;
  if (immutable_kind(ka) && a->content[v] != b->content[w]) return 0;
  return 1;
}

typedef struct matcher {
  const graph *a, *b;
  graph_id *a2b, *b2a;
  graph_id *queue;     /* matched nodes of a, to propagate from */
  size_t qtail;
  uint64_t by_address, by_path;
} matcher;

static void pair(matcher *mt, graph_id v, graph_id w) {
  assert(mt->a2b[v] == GRAPH_NONE && mt->b2a[w] == GRAPH_NONE);
  mt->a2b[v] = w;
  mt->b2a[w] = v;
  mt->queue[mt->qtail++] = v;
}

/* ---------------------------------------------------------------- */
/* By address                                                        */
/* ---------------------------------------------------------------- */

/* Addresses of g's nodes: slot values are node + 1, or UINT32_MAX for an
** address two nodes share (trust neither). */
typedef struct addr_map {
  uint64_t *key;
  uint32_t *val;
  size_t nslot;
} addr_map;

static int addr_map_build(addr_map *am, const graph *g) {
  am->nslot = 64;
  while (am->nslot < (size_t)g->n * 2) am->nslot *= 2;
  am->key = calloc(am->nslot, sizeof *am->key);
  am->val = calloc(am->nslot, sizeof *am->val);
  if (!am->key || !am->val) return -1;
  for (graph_id v = 1; v < g->n; v++) {
    uint64_t ad = g->addr[v];
    if (!ad) continue;
    size_t j = graph_mix(0, ad) & (am->nslot - 1);
    while (am->val[j] && am->key[j] != ad) j = (j + 1) & (am->nslot - 1);
    if (am->val[j]) am->val[j] = UINT32_MAX;
    else { am->key[j] = ad; am->val[j] = v + 1; }
  }
  return 0;
}

/* The node at address ad, or GRAPH_NONE if none or shared. */
static graph_id addr_map_find(const addr_map *am, uint64_t ad) {
  size_t j = graph_mix(0, ad) & (am->nslot - 1);
  while (am->val[j] && am->key[j] != ad) j = (j + 1) & (am->nslot - 1);
  if (!am->val[j] || am->val[j] == UINT32_MAX) return GRAPH_NONE;
  return am->val[j] - 1;
}

static int match_addresses(matcher *mt) {
  const graph *a = mt->a, *b = mt->b;
  addr_map ma = {0}, mb = {0};
  int rc = -1;
  if (addr_map_build(&ma, a) || addr_map_build(&mb, b)) goto done;
  for (graph_id v = 1; v < a->n; v++) {
    uint64_t ad = a->addr[v];
    if (!ad || addr_map_find(&ma, ad) != v) continue; /* none, or shared */
    graph_id w = addr_map_find(&mb, ad);
    if (w == GRAPH_NONE || mt->b2a[w] != GRAPH_NONE || mt->a2b[v] != GRAPH_NONE)
      continue;
    if (!compatible(a, v, b, w)) continue;
    pair(mt, v, w);
    mt->by_address++;
  }
  rc = 0;
done:
  free(ma.key); free(ma.val); free(mb.key); free(mb.val);
  return rc;
}

/* ---------------------------------------------------------------- */
/* By content: strings and prototypes                                */
/* ---------------------------------------------------------------- */

typedef struct keyed {
  uint64_t key;
  graph_id id;
} keyed;

static int cmp_keyed(const void *pa, const void *pb) {
  const keyed *x = pa, *y = pb;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* Unmatched immutable nodes of g keyed by content, sorted. */
static keyed *immutables(const graph *g, const graph_id *partner, size_t *n) {
  size_t count = 0;
  for (graph_id v = 1; v < g->n; v++)
    if (partner[v] == GRAPH_NONE && immutable_kind(graph_kind_name(g, v)))
      count++;
  keyed *k = malloc((count ? count : 1) * sizeof *k);
  if (!k) return NULL;
  count = 0;
  for (graph_id v = 1; v < g->n; v++)
    if (partner[v] == GRAPH_NONE && immutable_kind(graph_kind_name(g, v)))
      k[count++] = (keyed){g->content[v], v};
  qsort(k, count, sizeof *k, cmp_keyed);
  *n = count;
  return k;
}

/* Equal strings are the same value wherever they sit: pair them by
** content, in id order where a content occurs more than once. */
static int match_contents(matcher *mt) {
  size_t na, nb;
  keyed *ka = immutables(mt->a, mt->a2b, &na);
  keyed *kb = immutables(mt->b, mt->b2a, &nb);
  if (!ka || !kb) {
    free(ka); free(kb);
    return -1;
  }
  size_t i = 0, j = 0;
  while (i < na && j < nb) {
    if (ka[i].key < kb[j].key) i++;
    else if (ka[i].key > kb[j].key) j++;
    else {
      if (compatible(mt->a, ka[i].id, mt->b, kb[j].id)) {
        pair(mt, ka[i].id, kb[j].id);
        mt->by_path++;
      }
      i++; j++;
    }
  }
  free(ka);
  free(kb);
  return 0;
}

/* ---------------------------------------------------------------- */
/* By path: propagate from matched nodes along equally labelled edges */
/* ---------------------------------------------------------------- */

/* Edges of one node by lookup key: a slot holds an edge + 1, or DUP when
** two edges share the key (such edges identify nothing). */
#define DUP UINT32_MAX
typedef struct edge_index {
  uint64_t *key;
  uint32_t *edge;
  size_t cap, used; /* used: slots in use this round (power of two) */
} edge_index;

#define KEYED_FLAG ((uint64_t)1 << 63)

/* How edges are keyed: by label (with object keys seen through the
** pairing), or, for entries keyed by objects not yet paired, by the key
** object's own content. */
enum { BY_LABEL, BY_KEY_CONTENT };
#define KEYSIG_FLAG ((uint64_t)1 << 62)

/* The key that identifies edge e of g among its siblings, or 0 if none
** does. partner maps g's nodes to the other side's; is_b says g is b, whose
** ids are used as they are. *unkeyed is set when an object-keyed entry
** cannot be keyed yet because its key has no partner. */
static uint64_t lookup_key(const graph *g, uint32_t e, uint32_t end,
                           const graph_id *partner, int is_b, int by,
                           int *unkeyed) {
  enum graph_ekind k = graph_ekind_of(g, e);
  if (k == GRAPH_E_KEYREF) {
    graph_id key = g->to[e];
    if (by == BY_KEY_CONTENT)
      return partner[key] == GRAPH_NONE
             ? KEYSIG_FLAG | graph_mix(g->content[key], 0x5349) : 0;
    if (g->label[e] != GRAPH_LABEL_KEYPAIR || e + 1 >= end) return 0;
    if (partner[key] == GRAPH_NONE) {
      if (unkeyed) *unkeyed = 1;
      return 0;
    }
    if (!is_b) key = partner[key];
    return KEYED_FLAG | graph_mix(GRAPH_LABEL_KEYOBJ, key);
  }
  if (by == BY_KEY_CONTENT) return 0;
  if (k == GRAPH_E_KEY && g->label[e] == GRAPH_LABEL_KEYOBJ) return 0;
  return ((uint64_t)k << 32) | g->label[e] | ((uint64_t)1 << 40);
}

static int index_build(edge_index *x, const graph *g, graph_id v,
                       const graph_id *partner, int is_b, int by) {
  uint32_t lo = g->first[v], hi = g->first[v + 1];
  size_t want = 16;
  while (want < (size_t)(hi - lo) * 2) want *= 2;
  if (want > x->cap) {
    free(x->key); free(x->edge);
    x->key = calloc(want, sizeof *x->key);
    x->edge = calloc(want, sizeof *x->edge);
    x->cap = want;
    if (!x->key || !x->edge) {
      free(x->key); free(x->edge);
      memset(x, 0, sizeof *x);
      return -1;
    }
  }
  x->used = want;
  for (uint32_t e = lo; e < hi; e++) {
    uint64_t key = lookup_key(g, e, hi, partner, is_b, by, NULL);
    if (!key) continue;
    size_t j = graph_mix(0, key) & (want - 1);
    while (x->edge[j] && x->key[j] != key) j = (j + 1) & (want - 1);
    if (x->edge[j]) x->edge[j] = DUP;
    else { x->key[j] = key; x->edge[j] = e + 1; }
  }
  return 0;
}

/* The edge with key, or UINT32_MAX if none or ambiguous. */
static uint32_t index_find(const edge_index *x, uint64_t key) {
  size_t j = graph_mix(0, key) & (x->used - 1);
  while (x->edge[j] && x->key[j] != key) j = (j + 1) & (x->used - 1);
  if (!x->edge[j] || x->edge[j] == DUP) return UINT32_MAX;
  return x->edge[j] - 1;
}

static void index_clear(edge_index *x) {
  memset(x->edge, 0, x->used * sizeof *x->edge);
}

/* One pass over matched v (a) and its partner w (b): pair the unmatched
** targets of edges whose key (as `by` makes keys) is unique on both
** sides. Returns the pairs made, or -1 if out of memory. */
static long pair_by(matcher *mt, graph_id v, int by, edge_index *xa,
                    edge_index *xb, int *unkeyed) {
  const graph *a = mt->a, *b = mt->b;
  graph_id w = mt->a2b[v];
  if (index_build(xa, a, v, mt->a2b, 0, by) ||
      index_build(xb, b, w, mt->b2a, 1, by))
    return -1;
  long made = 0;
  uint32_t hi = a->first[v + 1];
  for (uint32_t e = a->first[v]; e < hi; e++) {
    uint64_t key = lookup_key(a, e, hi, mt->a2b, 0, by, unkeyed);
    if (!key || index_find(xa, key) != e) continue; /* absent or twice */
    uint32_t f = index_find(xb, key);
    if (f == UINT32_MAX) continue;
    uint32_t ea = e, fb = f;
    if (key & KEYED_FLAG) { ea++; fb++; } /* the entry's value */
    graph_id x = a->to[ea], y = b->to[fb];
    if (mt->a2b[x] != GRAPH_NONE || mt->b2a[y] != GRAPH_NONE) continue;
    if (!compatible(a, x, b, y)) continue;
    pair(mt, x, y);
    mt->by_path++;
    made++;
  }
  index_clear(xa);
  index_clear(xb);
  return made;
}

/* Pair the children of matched v: first keys of object-keyed entries that
** nothing paired yet (a light userdata key, say) by their own content,
** then every edge by its label. *unkeyed: entries remain whose keys have
** no partner, so v is worth another look once more is paired. */
static int pair_children(matcher *mt, graph_id v, edge_index *xa,
                         edge_index *xb, int *unkeyed) {
  const graph *a = mt->a, *b = mt->b;
  graph_id w = mt->a2b[v];
  *unkeyed = 0;
  if (a->first[v] == a->first[v + 1] || b->first[w] == b->first[w + 1])
    return 0;
  int has_keys = 0;
  for (uint32_t e = a->first[v]; e < a->first[v + 1] && !has_keys; e++)
    has_keys = graph_ekind_of(a, e) == GRAPH_E_KEYREF &&
               mt->a2b[a->to[e]] == GRAPH_NONE;
  if (has_keys && pair_by(mt, v, BY_KEY_CONTENT, xa, xb, NULL) < 0) return -1;
  return pair_by(mt, v, BY_LABEL, xa, xb, unkeyed) < 0 ? -1 : 0;
}

/* Breadth first from the paired roots (queue order decides), then again
** for the nodes whose object keys were paired only later, until a round
** pairs nothing new. */
static int propagate(matcher *mt) {
  edge_index xa = {0}, xb = {0};
  graph_id *later = NULL;
  size_t nlater = 0, cap = 0, head = 0;
  int rc = 0;
  for (;;) {
    for (; head < mt->qtail && rc == 0; head++) {
      int unkeyed;
      graph_id v = mt->queue[head];
      rc = pair_children(mt, v, &xa, &xb, &unkeyed);
      if (rc == 0 && unkeyed) {
        if (nlater == cap) {
          size_t c = cap ? cap * 2 : 64;
          graph_id *l = realloc(later, c * sizeof *l);
          if (!l) { rc = -1; break; }
          later = l;
          cap = c;
        }
        later[nlater++] = v;
      }
    }
    if (rc || nlater == 0) break;
    size_t before = mt->qtail, keep = 0;
    for (size_t i = 0; i < nlater && rc == 0; i++) {
      int unkeyed;
      rc = pair_children(mt, later[i], &xa, &xb, &unkeyed);
      if (unkeyed) later[keep++] = later[i];
    }
    nlater = keep;
    if (mt->qtail == before) break; /* nothing new: the rest stays unpaired */
  }
  free(later);
  free(xa.key); free(xa.edge); free(xb.key); free(xb.edge);
  return rc;
}

int analysis_match(const graph *a, const graph *b,
                   enum analysis_match_mode mode, graph_id *a2b,
                   graph_id *b2a, uint64_t *by_address, uint64_t *by_path,
                   char *err, size_t errlen) {
  if (!a->addr || !b->addr) {
    snprintf(err, errlen, "matching needs graphs built with GRAPH_IDENTITY");
    return -1;
  }
  matcher mt = {a, b, a2b, b2a, malloc((a->n ? a->n : 1) * sizeof(graph_id)),
                0, 0, 0};
  if (!mt.queue) goto oom;
  memset(a2b, 0xFF, (size_t)a->n * sizeof *a2b);
  memset(b2a, 0xFF, (size_t)b->n * sizeof *b2a);
  pair(&mt, GRAPH_ROOT, GRAPH_ROOT);
  if (mode != ANALYSIS_MATCH_PATH && match_addresses(&mt)) goto oom;
  if (match_contents(&mt) || propagate(&mt)) goto oom;
  free(mt.queue);
  if (by_address) *by_address = mt.by_address;
  if (by_path) *by_path = mt.by_path;
  return 0;
oom:
  free(mt.queue);
  snprintf(err, errlen, "out of memory matching %u against %u nodes", a->n,
           b->n);
  return -1;
}

/* ---------------------------------------------------------------- */
/* Changes                                                           */
/* ---------------------------------------------------------------- */

#define UNMATCHED_A ((uint64_t)1 << 40)
#define UNMATCHED_B ((uint64_t)1 << 41)

/* Target t as both sides name it: b's id of its partner, or, without a
** partner, a value no id of the other side can equal. */
static uint64_t seen_as(graph_id t, const graph_id *partner, int is_b) {
  if (partner[t] == GRAPH_NONE) return (is_b ? UNMATCHED_B : UNMATCHED_A) | t;
  return is_b ? t : partner[t];
}

/* A node's state as one hash: its own content plus, for every reference,
** the reference's key and its target seen through the pairing. Summed, so
** the order of fields (which table iteration does not keep) is ignored. */
static uint64_t state_hash(const graph *g, graph_id v, const graph_id *partner,
                           int is_b) {
  uint64_t h = g->content[v];
  uint32_t hi = g->first[v + 1];
  for (uint32_t e = g->first[v]; e < hi; e++) {
    uint64_t t = seen_as(g->to[e], partner, is_b);
    if (graph_ekind_of(g, e) == GRAPH_E_KEYREF) {
      uint64_t x = graph_mix(graph_mix(GRAPH_LABEL_KEYPAIR, t), 11);
      if (g->label[e] == GRAPH_LABEL_KEYPAIR && e + 1 < hi)
        x = graph_mix(x, seen_as(g->to[++e], partner, is_b));
      else
        x = graph_mix(x, g->label[e]);
      h += graph_mix(x, 13);
      continue;
    }
    uint64_t key = ((uint64_t)graph_ekind_of(g, e) << 32) | g->label[e];
    h += graph_mix(graph_mix(key, t), 17);
  }
  return h;
}

/* Diff rows are keyed by kind and type names, which the two graphs
** intern separately. */
typedef struct typemap {
  analysis_diff_type *rows;
  size_t n, cap;
  uint32_t *slot; /* row + 1 */
  size_t nslot;
} typemap;

static analysis_diff_type *type_row(typemap *t, const char *kind,
                                    const char *type) {
  uint64_t h = graph_hash(graph_hash(3, kind, strlen(kind)), type, strlen(type));
  if ((t->n + 1) * 2 > t->nslot) {
    size_t nslot = t->nslot ? t->nslot * 2 : 64;
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (!slot) return NULL;
    for (size_t i = 0; i < t->n; i++) {
      const analysis_diff_type *r = &t->rows[i];
      uint64_t hh = graph_hash(graph_hash(3, r->kind, strlen(r->kind)), r->type,
                               strlen(r->type));
      size_t j = hh & (nslot - 1);
      while (slot[j]) j = (j + 1) & (nslot - 1);
      slot[j] = (uint32_t)i + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->nslot = nslot;
  }
  size_t j = h & (t->nslot - 1);
  while (t->slot[j]) {
    analysis_diff_type *r = &t->rows[t->slot[j] - 1];
    if (strcmp(r->kind, kind) == 0 && strcmp(r->type, type) == 0) return r;
    j = (j + 1) & (t->nslot - 1);
  }
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 32;
    analysis_diff_type *rows = realloc(t->rows, cap * sizeof *rows);
    if (!rows) return NULL;
    t->rows = rows;
    t->cap = cap;
  }
  analysis_diff_type *r = &t->rows[t->n];
  memset(r, 0, sizeof *r);
  r->kind = kind;
  r->type = type;
  t->slot[j] = (uint32_t)++t->n;
  return r;
}

static int cmp_diff_types(const void *pa, const void *pb) {
  const analysis_diff_type *x = pa, *y = pb;
  int64_t dx = (int64_t)(x->size_b - x->size_a), dy = (int64_t)(y->size_b - y->size_a);
  if (x->added_size != y->added_size) return x->added_size > y->added_size ? -1 : 1;
  if (dx != dy) return dx > dy ? -1 : 1;
  int c = strcmp(x->kind, y->kind);
  return c ? c : strcmp(x->type, y->type);
}

int analysis_diff_graphs(const graph *a, const graph *b,
                         enum analysis_match_mode mode, analysis_diff *d,
                         char *err, size_t errlen) {
  memset(d, 0, sizeof *d);
  assert(mode != ANALYSIS_MATCH_AUTO);
  d->a = a;
  d->b = b;
  d->mode = mode;
  d->a2b = malloc((a->n ? a->n : 1) * sizeof *d->a2b);
  d->b2a = malloc((b->n ? b->n : 1) * sizeof *d->b2a);
  typemap tm = {0};
  if (!d->a2b || !d->b2a) goto oom;
  if (analysis_match(a, b, mode, d->a2b, d->b2a, &d->matched_by_address,
                     &d->matched_by_path, err, errlen)) {
    analysis_diff_free(d);
    return -1;
  }
  for (graph_id v = 1; v < a->n; v++) {
    analysis_diff_type *r = type_row(&tm, graph_kind_name(a, v),
                                     graph_type_name(a, v));
    if (!r) goto oom;
    r->count_a++;
    r->size_a += a->size[v];
    if (d->a2b[v] == GRAPH_NONE) {
      r->removed++;
      r->removed_size += a->size[v];
      d->removed++;
      d->removed_size += a->size[v];
    }
  }
  for (graph_id w = 1; w < b->n; w++) {
    analysis_diff_type *r = type_row(&tm, graph_kind_name(b, w),
                                     graph_type_name(b, w));
    if (!r) goto oom;
    r->count_b++;
    r->size_b += b->size[w];
    switch (analysis_diff_state_b(d, w)) {
    case ANALYSIS_ADDED:
      r->added++;
      r->added_size += b->size[w];
      d->added++;
      d->added_size += b->size[w];
      break;
    case ANALYSIS_CHANGED:
      r->changed++;
      d->changed++;
      break;
    default:
      d->same++;
      break;
    }
  }
  if (tm.n) qsort(tm.rows, tm.n, sizeof *tm.rows, cmp_diff_types);
  free(tm.slot);
  d->types = tm.rows;
  d->ntypes = tm.n;
  return 0;
oom:
  free(tm.rows);
  free(tm.slot);
  analysis_diff_free(d);
  snprintf(err, errlen, "out of memory diffing %u and %u nodes", a->n, b->n);
  return -1;
}

enum analysis_state analysis_diff_state_b(const analysis_diff *d, graph_id w) {
  graph_id v = d->b2a[w];
  if (v == GRAPH_NONE) return ANALYSIS_ADDED;
  return state_hash(d->a, v, d->a2b, 0) == state_hash(d->b, w, d->b2a, 1)
         ? ANALYSIS_SAME : ANALYSIS_CHANGED;
}

enum analysis_state analysis_diff_state_a(const analysis_diff *d, graph_id v) {
  graph_id w = d->a2b[v];
  return w == GRAPH_NONE ? ANALYSIS_REMOVED : analysis_diff_state_b(d, w);
}

void analysis_diff_free(analysis_diff *d) {
  free(d->a2b);
  free(d->b2a);
  free(d->types);
  memset(d, 0, sizeof *d);
}

/* ---------------------------------------------------------------- */
/* Leaks                                                             */
/* ---------------------------------------------------------------- */

int analysis_leaks(const graph *baseline, const graph *target,
                   const graph *final, enum analysis_match_mode mode_ab,
                   enum analysis_match_mode mode_bc, graph_id **out,
                   size_t *count, char *err, size_t errlen) {
  *out = NULL;
  *count = 0;
  size_t na = baseline->n, nb = target->n, nc = final->n;
  graph_id *a2b = malloc(na * sizeof *a2b), *b2a = malloc(nb * sizeof *b2a);
  graph_id *b2c = malloc(nb * sizeof *b2c), *c2b = malloc(nc * sizeof *c2b);
  int rc = -1;
  if (!a2b || !b2a || !b2c || !c2b) {
    snprintf(err, errlen, "out of memory matching three snapshots");
    goto done;
  }
  if (analysis_match(baseline, target, mode_ab, a2b, b2a, NULL, NULL, err,
                     errlen) ||
      analysis_match(target, final, mode_bc, b2c, c2b, NULL, NULL, err,
                     errlen))
    goto done;
  size_t k = 0;
  for (graph_id w = 1; w < target->n; w++)
    if (b2a[w] == GRAPH_NONE && b2c[w] != GRAPH_NONE) k++;
  graph_id *ids = malloc((k ? k : 1) * sizeof *ids);
  if (!ids) {
    snprintf(err, errlen, "out of memory listing %zu leaked nodes", k);
    goto done;
  }
  k = 0;
  for (graph_id w = 1; w < target->n; w++)
    if (b2a[w] == GRAPH_NONE && b2c[w] != GRAPH_NONE) ids[k++] = w;
  *out = ids;
  *count = k;
  rc = 0;
done:
  free(a2b); free(b2a); free(b2c); free(c2b);
  return rc;
}
