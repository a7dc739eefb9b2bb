/*
** analysis_json.c
** JSON renderings of the analyses for the HTTP API: summary, top
** retainers, dominator tree, paths, diff and leaks, each paged.
** docs/analysis.md, "JSON", shows every shape.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis.h"
#include "api.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 10000
/* Bytes of a string value shown beside a node. */
#define PREVIEW 120
/* Dominators listed above a node before the list is cut. */
#define CHAIN_MAX 1000

static uint64_t page(uint64_t limit) {
  if (limit == 0) return PAGE_DEFAULT;
  return limit > PAGE_MAX ? PAGE_MAX : limit;
}

/* {id, kind, type, name, value (preview), size} of node id, or null. */
static void node_brief(json_writer *w, store *s, int64_t snap, uint64_t id) {
  store_node sn;
  if (store_node_get(s, snap, id, &sn) != STORE_OK) {
    json_null(w);
    return;
  }
  const wire_node *n = &sn.n;
  json_object_begin(w);
  json_kv_uint(w, "id", n->id);
  json_kv_str(w, "kind", n->kind);
  if (n->type) json_kv_bytes(w, "type", n->type, n->type_len);
  if (n->name) json_kv_bytes(w, "name", n->name, n->name_len);
  if (n->has_value) {
    json_kv_bytes(w, "value", n->value,
                  n->value_len < PREVIEW ? n->value_len : PREVIEW);
    json_kv_uint(w, "value_len", n->value_len);
  }
  if (n->has_size) json_kv_uint(w, "size", n->size);
  json_object_end(w);
  store_node_release(&sn);
}

/* Node fields inline in the current object (for list entries). */
static void node_fields(json_writer *w, store *s, int64_t snap, uint64_t id) {
  store_node sn;
  if (store_node_get(s, snap, id, &sn) != STORE_OK) return;
  const wire_node *n = &sn.n;
  json_kv_str(w, "kind", n->kind);
  if (n->type) json_kv_bytes(w, "type", n->type, n->type_len);
  if (n->name) json_kv_bytes(w, "name", n->name, n->name_len);
  if (n->has_value) {
    json_kv_bytes(w, "value", n->value,
                  n->value_len < PREVIEW ? n->value_len : PREVIEW);
    json_kv_uint(w, "value_len", n->value_len);
  }
  json_kv_uint(w, "shallow", n->has_size ? n->size : 0);
  store_node_release(&sn);
}

/* ---------------------------------------------------------------- */
/* Summary, top, dominators                                          */
/* ---------------------------------------------------------------- */

static int row_json(void *ud, const analysis_row *r) {
  json_writer *w = ud;
  json_object_begin(w);
  json_kv_str(w, "kind", r->kind);
  if (r->type) json_kv_bytes(w, "type", r->type, r->type_len);
  else json_kv_null(w, "type");
  json_kv_uint(w, "count", r->count);
  json_kv_uint(w, "shallow", r->shallow);
  json_kv_uint(w, "retained", r->retained);
  json_object_end(w);
  return 0;
}

int analysis_summary_json(store *s, int64_t snap, json_writer *w,
                          uint64_t offset, uint64_t limit, char *err,
                          size_t errlen) {
  /* Rows are rendered into a separate buffer: the totals come first in
  ** the object but are known only once the rows have been read. */
  wire_buf rows;
  json_writer rw;
  wire_buf_init(&rows);
  json_init(&rw, &rows);
  json_array_begin(&rw);
  analysis_totals t;
  int rc = analysis_summary_rows(s, snap, offset, page(limit), row_json, &rw,
                                 &t, err, errlen);
  json_array_end(&rw);
  if (rc == STORE_OK && !json_ok(&rw)) {
    snprintf(err, errlen, "out of memory writing the summary");
    rc = STORE_ENOMEM;
  }
  if (rc == STORE_OK) {
    json_object_begin(w);
    json_kv_int(w, "snapshot", snap);
    json_kv_uint(w, "nodes", t.nodes);
    json_kv_uint(w, "edges", t.refs);
    json_kv_uint(w, "reachable", t.reachable);
    json_kv_uint(w, "shallow", t.shallow);
    json_kv_uint(w, "total", t.rows);
    json_kv_uint(w, "offset", offset);
    json_keyz(w, "types");
    json_raw(w, rows.data, rows.len);
    json_object_end(w);
  }
  wire_buf_free(&rows);
  return rc;
}

int analysis_top_json(store *s, int64_t snap, json_writer *w,
                      uint64_t offset, uint64_t limit, char *err,
                      size_t errlen) {
  analysis_dom d;
  int rc = analysis_get_dom(s, snap, &d, err, errlen);
  if (rc) return rc;
  limit = page(limit);
  graph_id *ids = malloc(limit * sizeof *ids);
  if (!ids) {
    analysis_dom_free(&d);
    snprintf(err, errlen, "out of memory listing top retainers");
    return STORE_ENOMEM;
  }
  size_t k = analysis_top(&d, offset, (size_t)limit, ids);
  json_object_begin(w);
  json_kv_int(w, "snapshot", snap);
  json_kv_uint(w, "total", d.n ? d.n - 1 : 0);
  json_kv_uint(w, "offset", offset);
  json_keyz(w, "nodes");
  json_array_begin(w);
  for (size_t i = 0; i < k; i++) {
    json_object_begin(w);
    json_kv_uint(w, "id", ids[i]);
    node_fields(w, s, snap, ids[i]);
    json_kv_uint(w, "retained", d.retained[ids[i]]);
    if (d.idom[ids[i]] == GRAPH_NONE) json_kv_null(w, "idom");
    else json_kv_uint(w, "idom", d.idom[ids[i]]);
    json_object_end(w);
  }
  json_array_end(w);
  json_object_end(w);
  free(ids);
  analysis_dom_free(&d);
  return STORE_OK;
}

/* Nodes ordered by retained size, largest first, ties by id. */
typedef struct ranked {
  uint64_t retained;
  graph_id id;
} ranked;

static int cmp_ranked(const void *pa, const void *pb) {
  const ranked *a = pa, *b = pb;
  if (a->retained != b->retained) return a->retained > b->retained ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

int analysis_dominator_json(store *s, int64_t snap, uint64_t node,
                            json_writer *w, uint64_t offset, uint64_t limit,
                            char *err, size_t errlen) {
  analysis_dom d;
  int rc = analysis_get_dom(s, snap, &d, err, errlen);
  if (rc) return rc;
  if (node >= d.n) {
    snprintf(err, errlen, "snapshot %lld has no node %llu (it has %u)",
             (long long)snap, (unsigned long long)node, d.n);
    analysis_dom_free(&d);
    return STORE_ENOTFOUND;
  }
  graph_id v = (graph_id)node;
  size_t nkids = 0;
  for (graph_id x = 0; x < d.n; x++) nkids += d.idom[x] == v;
  ranked *kids = malloc((nkids ? nkids : 1) * sizeof *kids);
  if (!kids) {
    analysis_dom_free(&d);
    snprintf(err, errlen, "out of memory listing dominated nodes");
    return STORE_ENOMEM;
  }
  nkids = 0;
  for (graph_id x = 0; x < d.n; x++)
    if (d.idom[x] == v) kids[nkids++] = (ranked){d.retained[x], x};
  qsort(kids, nkids, sizeof *kids, cmp_ranked);
  limit = page(limit);
  json_object_begin(w);
  json_kv_int(w, "snapshot", snap);
  json_kv_uint(w, "node", node);
  json_kv_uint(w, "retained", d.retained[v]);
  if (d.idom[v] == GRAPH_NONE) json_kv_null(w, "idom");
  else json_kv_uint(w, "idom", d.idom[v]);
  json_kv_bool(w, "reachable", v == GRAPH_ROOT || d.idom[v] != GRAPH_NONE);
  json_keyz(w, "dominators");
  json_array_begin(w);
  unsigned depth = 0;
  graph_id x = d.idom[v];
  for (; x != GRAPH_NONE && depth < CHAIN_MAX; x = d.idom[x], depth++)
    json_uint(w, x);
  json_array_end(w);
  json_kv_bool(w, "dominators_truncated", x != GRAPH_NONE);
  json_kv_uint(w, "total", nkids);
  json_kv_uint(w, "offset", offset);
  json_keyz(w, "dominated");
  json_array_begin(w);
  for (uint64_t i = offset; i < nkids && i - offset < limit; i++) {
    json_object_begin(w);
    json_kv_uint(w, "id", kids[i].id);
    node_fields(w, s, snap, kids[i].id);
    json_kv_uint(w, "retained", kids[i].retained);
    json_object_end(w);
  }
  json_array_end(w);
  json_object_end(w);
  free(kids);
  analysis_dom_free(&d);
  return STORE_OK;
}

typedef struct retainer_ctx {
  json_writer *w;
  store *s;
  int64_t snap;
  const analysis_dom *d;
  graph_id node;
} retainer_ctx;

static int on_retainer(void *ud, const store_edge *se) {
  retainer_ctx *c = ud;
  json_writer *w = c->w;
  json_object_begin(w);
  json_keyz(w, "edge");
  api_edge_json(w, c->s, c->snap, se, API_EDGE_SOURCE);
  if (se->from < c->d->n) {
    json_kv_uint(w, "retained", c->d->retained[se->from]);
    json_kv_bool(w, "dominator", c->d->idom[c->node] == se->from);
  }
  json_object_end(w);
  return 0;
}

int analysis_retainers_json(store *s, int64_t snap, uint64_t node,
                            json_writer *w, uint64_t offset, uint64_t limit,
                            char *err, size_t errlen) {
  analysis_dom d;
  int rc = analysis_get_dom(s, snap, &d, err, errlen);
  if (rc) return rc;
  if (node >= d.n) {
    snprintf(err, errlen, "snapshot %lld has no node %llu (it has %u)",
             (long long)snap, (unsigned long long)node, d.n);
    analysis_dom_free(&d);
    return STORE_ENOTFOUND;
  }
  /* Rendered apart first: a failing store call must not leave half an
  ** object in w. */
  wire_buf list;
  json_writer lw;
  wire_buf_init(&list);
  json_init(&lw, &list);
  json_array_begin(&lw);
  retainer_ctx c = {&lw, s, snap, &d, (graph_id)node};
  rc = store_retainers(s, snap, node, offset, page(limit), on_retainer, &c);
  json_array_end(&lw);
  if (rc) {
    snprintf(err, errlen, "%s", store_errmsg(s));
  } else if (!json_ok(&lw)) {
    snprintf(err, errlen, "out of memory listing retainers");
    rc = STORE_ENOMEM;
  } else {
    json_object_begin(w);
    json_kv_int(w, "snapshot", snap);
    json_kv_uint(w, "node", node);
    json_kv_uint(w, "retained", d.retained[node]);
    if (d.idom[node] == GRAPH_NONE) json_kv_null(w, "idom");
    else json_kv_uint(w, "idom", d.idom[node]);
    json_kv_uint(w, "offset", offset);
    json_keyz(w, "retainers");
    json_raw(w, list.data, list.len);
    json_object_end(w);
  }
  wire_buf_free(&list);
  analysis_dom_free(&d);
  return rc;
}

/* ---------------------------------------------------------------- */
/* Paths                                                             */
/* ---------------------------------------------------------------- */

/* One path: its text and its steps, each the store's edge with a short
** summary of where it leads. */
static int path_json(json_writer *w, store *s, int64_t snap, const graph *g,
                     const analysis_path *p) {
  wire_buf text, scratch;
  wire_buf_init(&text);
  wire_buf_init(&scratch);
  int rc = analysis_path_text(s, snap, g, p, &text);
  json_object_begin(w);
  json_kv_bytes(w, "path", text.data ? text.data : "", text.len);
  json_kv_uint(w, "length", p->len);
  json_kv_bool(w, "steps_elided", p->len > ANALYSIS_PATH_SHOWN);
  json_keyz(w, "steps");
  json_array_begin(w);
  for (uint32_t i = 0; rc == STORE_OK && i < p->len; i++) {
    if (p->len > ANALYSIS_PATH_SHOWN && i == ANALYSIS_PATH_SHOWN / 2) {
      i += p->len - ANALYSIS_PATH_SHOWN - 1; /* the middle of a long chain */
      continue;
    }
    store_edge se;
    rc = analysis_edge_record(s, snap, g, p->edge[i], &se, &scratch);
    if (rc) break;
    json_object_begin(w);
    json_kv_uint(w, "from", se.from);
    json_kv_uint(w, "to", g->to[p->edge[i]]);
    json_kv_uint(w, "seq", se.seq);
    json_kv_str(w, "kind", graph_ekind_name(graph_ekind_of(g, p->edge[i])));
    if (se.e.name) json_kv_bytes(w, "name", se.e.name, se.e.name_len);
    if (se.e.has_index) json_kv_int(w, "index", se.e.index);
    if (se.e.key.type != WIRE_V_NONE) {
      json_keyz(w, "key");
      api_value_json(w, &se.e.key);
    }
    json_kv_bool(w, "weak", graph_edge_is_weak(g, p->edge[i]));
    json_keyz(w, "target");
    node_brief(w, s, snap, g->to[p->edge[i]]);
    json_object_end(w);
  }
  json_array_end(w);
  json_object_end(w);
  wire_buf_free(&text);
  wire_buf_free(&scratch);
  return rc;
}

int analysis_path_json(store *s, int64_t snap, uint64_t node, unsigned max,
                       unsigned flags, json_writer *w, char *err,
                       size_t errlen) {
  graph *g;
  int rc = analysis_load(s, snap, 0, &g, err, errlen);
  if (rc) return rc;
  if (node >= g->n) {
    snprintf(err, errlen, "snapshot %lld has no node %llu (it has %u)",
             (long long)snap, (unsigned long long)node, g->n);
    graph_free(g);
    return STORE_ENOTFOUND;
  }
  analysis_paths ps;
  if (analysis_find_paths(g, (graph_id)node, max ? max : 5, flags, &ps, err,
                          errlen)) {
    graph_free(g);
    return STORE_ENOMEM;
  }
  json_object_begin(w);
  json_kv_int(w, "snapshot", snap);
  json_kv_uint(w, "node", node);
  json_kv_bool(w, "strong_only", (flags & ANALYSIS_STRONG_ONLY) != 0);
  json_keyz(w, "target");
  node_brief(w, s, snap, node);
  json_keyz(w, "paths");
  json_array_begin(w);
  for (size_t k = 0; rc == STORE_OK && k < ps.count; k++)
    rc = path_json(w, s, snap, g, &ps.path[k]);
  json_array_end(w);
  json_object_end(w);
  if (rc) snprintf(err, errlen, "%s", store_errmsg(s));
  analysis_paths_free(&ps);
  graph_free(g);
  return rc;
}

/* ---------------------------------------------------------------- */
/* Diff                                                              */
/* ---------------------------------------------------------------- */

/* An edge of one side reduced to what the comparison needs: the key it
** sits under and its value, with node ids seen through the pairing. */
typedef struct field {
  uint64_t key, value;
  uint64_t seq;
} field;

typedef struct field_list {
  field *f;
  size_t n, cap;
  const graph_id *partner; /* a's nodes -> b's, or NULL for b's own */
  const graph_id *back;    /* b's nodes -> a's (to spot unmatched ones) */
  int failed;
} field_list;

static uint64_t node_seen(const field_list *l, uint64_t id) {
  if (l->partner) {
    graph_id p = l->partner[id];
    return p == GRAPH_NONE ? ((uint64_t)1 << 62) | id : p;
  }
  return l->back[id] == GRAPH_NONE ? ((uint64_t)1 << 61) | id : id;
}

static uint64_t value_hash(const field_list *l, uint64_t h,
                           const wire_value *v) {
  if (v->type == WIRE_V_REF) return graph_mix(graph_mix(h, 99), node_seen(l, v->u.ref));
  uint64_t bits = 0;
  switch (v->type) {
  case WIRE_V_BOOL: bits = (uint64_t)v->u.b; break;
  case WIRE_V_INT: bits = (uint64_t)v->u.i; break;
  case WIRE_V_FLOAT: memcpy(&bits, &v->u.f, 8); break;
  default: break;
  }
  return graph_mix(graph_mix(h, (uint64_t)v->type), bits);
}

static int on_field(void *ud, const store_edge *se) {
  field_list *l = ud;
  const wire_edge *e = &se->e;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    field *f = realloc(l->f, cap * sizeof *f);
    if (!f) {
      l->failed = 1;
      return 1;
    }
    l->f = f;
    l->cap = cap;
  }
  uint64_t key = graph_hash(5, e->kind, strlen(e->kind));
  if (e->name) key = graph_hash(key ^ 1, e->name, e->name_len);
  if (e->has_index) key = graph_mix(key ^ 2, (uint64_t)e->index);
  if (e->key.type != WIRE_V_NONE) key = value_hash(l, key ^ 3, &e->key);
  l->f[l->n++] = (field){key, value_hash(l, 7, &e->value), se->seq};
  return 0;
}

static int cmp_field(const void *pa, const void *pb) {
  const field *a = pa, *b = pb;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

typedef struct one_edge {
  json_writer *w;
  store *s;
  int64_t snap;
  int written;
} one_edge;

static int on_one_edge(void *ud, const store_edge *se) {
  one_edge *o = ud;
  api_edge_json(o->w, o->s, o->snap, se, API_EDGE_TARGET);
  o->written = 1;
  return 1;
}

/* The edge at seq of node id, as the API renders edges; null if gone. */
static void edge_at(json_writer *w, store *s, int64_t snap, uint64_t id,
                    uint64_t seq) {
  one_edge o = {w, s, snap, 0};
  store_children(s, snap, id, seq, 1, on_one_edge, &o);
  if (!o.written) json_null(w);
}

/* The fields of a changed node that differ: removed, added or changed
** values under the same key; at most max of them, and their count. */
static int fields_json(json_writer *w, store *s, const analysis_diff *d,
                       int64_t sa, int64_t sb, graph_id v, graph_id x,
                       unsigned max) {
  field_list la = {0}, lb = {0};
  la.partner = d->a2b;
  lb.back = d->b2a;
  store_children(s, sa, v, 0, 0, on_field, &la);
  store_children(s, sb, x, 0, 0, on_field, &lb);
  if (la.failed || lb.failed) {
    free(la.f); free(lb.f);
    return STORE_ENOMEM;
  }
  qsort(la.f, la.n, sizeof *la.f, cmp_field);
  qsort(lb.f, lb.n, sizeof *lb.f, cmp_field);
  size_t i = 0, j = 0, shown = 0, total = 0;
  json_keyz(w, "fields");
  json_array_begin(w);
  while (i < la.n || j < lb.n) {
    const field *fa = i < la.n ? &la.f[i] : NULL;
    const field *fb = j < lb.n ? &lb.f[j] : NULL;
    int take_a = fa && (!fb || fa->key < fb->key);
    int take_b = fb && (!fa || fb->key < fa->key);
    if (!take_a && !take_b && fa->value == fb->value) { /* unchanged */
      i++; j++;
      continue;
    }
    total++;
    if (shown < max) {
      shown++;
      json_object_begin(w);
      json_keyz(w, "old");
      if (take_b) json_null(w);
      else edge_at(w, s, sa, v, fa->seq);
      json_keyz(w, "new");
      if (take_a) json_null(w);
      else edge_at(w, s, sb, x, fb->seq);
      json_object_end(w);
    }
    if (!take_b) i++;
    if (!take_a) j++;
  }
  json_array_end(w);
  json_kv_uint(w, "fields_total", total);
  free(la.f);
  free(lb.f);
  return STORE_OK;
}

static const char *mode_name(enum analysis_match_mode m) {
  return m == ANALYSIS_MATCH_ADDRESS ? "address" : "path";
}

static const char *state_name(enum analysis_state st) {
  static const char *const names[] = {"same", "changed", "added", "removed"};
  return names[st];
}

static void diff_types_json(json_writer *w, const analysis_diff *d) {
  json_keyz(w, "types");
  json_array_begin(w);
  for (size_t i = 0; i < d->ntypes; i++) {
    const analysis_diff_type *t = &d->types[i];
    if (!t->added && !t->removed && !t->changed) continue;
    json_object_begin(w);
    json_kv_str(w, "kind", t->kind);
    if (*t->type) json_kv_str(w, "type", t->type);
    else json_kv_null(w, "type");
    json_kv_uint(w, "count_a", t->count_a);
    json_kv_uint(w, "count_b", t->count_b);
    json_kv_uint(w, "size_a", t->size_a);
    json_kv_uint(w, "size_b", t->size_b);
    json_kv_uint(w, "added", t->added);
    json_kv_uint(w, "removed", t->removed);
    json_kv_uint(w, "changed", t->changed);
    json_kv_uint(w, "added_size", t->added_size);
    json_kv_uint(w, "removed_size", t->removed_size);
    json_object_end(w);
  }
  json_array_end(w);
}

/* Load two snapshots with identity for matching (flags: GRAPH_PORTABLE
** when they come from different processes). */
static int load_pair(store *s, int64_t a, int64_t b, unsigned flags,
                     graph **ga, graph **gb, char *err, size_t errlen) {
  int rc = analysis_load(s, a, GRAPH_IDENTITY | flags, ga, err, errlen);
  if (rc) return rc;
  rc = analysis_load(s, b, GRAPH_IDENTITY | flags, gb, err, errlen);
  if (rc) {
    graph_free(*ga);
    *ga = NULL;
  }
  return rc;
}

int analysis_diff_json(store *s, int64_t a, int64_t b,
                       const analysis_diff_opts *o, json_writer *w,
                       uint64_t offset, uint64_t limit, char *err,
                       size_t errlen) {
  analysis_diff_opts dflt = {ANALYSIS_MATCH_AUTO,
                             (1 << ANALYSIS_ADDED) | (1 << ANALYSIS_REMOVED) |
                             (1 << ANALYSIS_CHANGED), 20};
  if (!o) o = &dflt;
  int show = o->show ? o->show : dflt.show;
  unsigned max_fields = o->max_fields ? o->max_fields : 20;
  enum analysis_match_mode mode = o->mode;
  if (mode == ANALYSIS_MATCH_AUTO) mode = analysis_auto_mode(s, a, b);
  graph *ga, *gb;
  int rc = load_pair(s, a, b, mode == ANALYSIS_MATCH_PATH ? GRAPH_PORTABLE : 0,
                     &ga, &gb, err, errlen);
  if (rc) return rc;
  analysis_diff d;
  if (analysis_diff_graphs(ga, gb, mode, &d, err, errlen)) {
    graph_free(ga);
    graph_free(gb);
    return STORE_ENOMEM;
  }
  limit = page(limit);
  uint64_t total = 0;
  if (show & (1 << ANALYSIS_REMOVED)) total += d.removed;
  if (show & (1 << ANALYSIS_CHANGED)) total += d.changed;
  if (show & (1 << ANALYSIS_ADDED)) total += d.added;
  json_object_begin(w);
  json_kv_int(w, "a", a);
  json_kv_int(w, "b", b);
  json_kv_str(w, "match", mode_name(mode));
  json_kv_uint(w, "matched_by_address", d.matched_by_address);
  json_kv_uint(w, "matched_by_path", d.matched_by_path);
  json_kv_uint(w, "same", d.same);
  json_kv_uint(w, "changed", d.changed);
  json_kv_uint(w, "added", d.added);
  json_kv_uint(w, "removed", d.removed);
  json_kv_uint(w, "added_size", d.added_size);
  json_kv_uint(w, "removed_size", d.removed_size);
  diff_types_json(w, &d);
  json_kv_uint(w, "total", total);
  json_kv_uint(w, "offset", offset);
  json_keyz(w, "nodes");
  json_array_begin(w);
  /* Walk the listed states in order (removed, changed, added), counting
  ** positions so that a page starts where the previous one ended. */
  uint64_t pos = 0, shown = 0;
  static const enum analysis_state order[] = {ANALYSIS_REMOVED,
                                              ANALYSIS_CHANGED, ANALYSIS_ADDED};
  for (int k = 0; k < 3 && shown < limit && rc == STORE_OK; k++) {
    enum analysis_state want = order[k];
    if (!(show & (1 << want))) continue;
    const graph *g = want == ANALYSIS_REMOVED ? ga : gb;
    for (graph_id v = 1; v < g->n && shown < limit && rc == STORE_OK; v++) {
      enum analysis_state st = want == ANALYSIS_REMOVED
                               ? (d.a2b[v] == GRAPH_NONE ? ANALYSIS_REMOVED
                                                         : ANALYSIS_SAME)
                               : analysis_diff_state_b(&d, v);
      if (st != want) continue;
      if (pos++ < offset) continue;
      shown++;
      graph_id va = want == ANALYSIS_REMOVED ? v : d.b2a[v];
      graph_id vb = want == ANALYSIS_REMOVED ? GRAPH_NONE : v;
      json_object_begin(w);
      json_kv_str(w, "state", state_name(st));
      if (va == GRAPH_NONE) json_kv_null(w, "a");
      else json_kv_uint(w, "a", va);
      if (vb == GRAPH_NONE) json_kv_null(w, "b");
      else json_kv_uint(w, "b", vb);
      if (vb != GRAPH_NONE) node_fields(w, s, b, vb);
      else node_fields(w, s, a, va);
      if (st == ANALYSIS_CHANGED) {
        json_kv_uint(w, "shallow_a", ga->size[va]);
        rc = fields_json(w, s, &d, a, b, va, vb, max_fields);
        if (rc) snprintf(err, errlen, "out of memory comparing fields");
      }
      json_object_end(w);
    }
  }
  json_array_end(w);
  json_object_end(w);
  analysis_diff_free(&d);
  graph_free(ga);
  graph_free(gb);
  return rc;
}

/* ---------------------------------------------------------------- */
/* Leaks                                                             */
/* ---------------------------------------------------------------- */

typedef struct leak_type {
  const char *kind, *type;
  uint64_t count, size;
} leak_type;

static int cmp_leak_type(const void *pa, const void *pb) {
  const leak_type *a = pa, *b = pb;
  if (a->size != b->size) return a->size > b->size ? -1 : 1;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  int c = strcmp(a->kind, b->kind);
  return c ? c : strcmp(a->type, b->type);
}

int analysis_leaks_json(store *s, int64_t baseline, int64_t target,
                        int64_t final, json_writer *w, uint64_t offset,
                        uint64_t limit, char *err, size_t errlen) {
  graph *ga = NULL, *gb = NULL, *gc = NULL;
  int rc = load_pair(s, baseline, target, 0, &ga, &gb, err, errlen);
  if (rc) return rc;
  rc = analysis_load(s, final, GRAPH_IDENTITY, &gc, err, errlen);
  graph_id *ids = NULL;
  size_t n = 0;
  uint32_t *via = NULL;
  leak_type *types = NULL;
  size_t ntypes = 0;
  if (rc) goto done;
  if (analysis_leaks(ga, gb, gc, analysis_auto_mode(s, baseline, target),
                     analysis_auto_mode(s, target, final), &ids, &n, err,
                     errlen) ||
      analysis_bfs_tree(gb, 0, &via, err, errlen)) {
    rc = STORE_ENOMEM;
    goto done;
  }
  /* By type: few distinct (kind, type) pairs, so a sorted scan is enough. */
  uint64_t size = 0;
  types = calloc(n ? n : 1, sizeof *types);
  if (!types) {
    rc = STORE_ENOMEM;
    snprintf(err, errlen, "out of memory grouping leaks");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    const char *k = graph_kind_name(gb, ids[i]), *t = graph_type_name(gb, ids[i]);
    size += gb->size[ids[i]];
    size_t j = 0;
    while (j < ntypes && (types[j].kind != k || types[j].type != t)) j++;
    if (j == ntypes) types[ntypes++] = (leak_type){k, t, 0, 0};
    types[j].count++;
    types[j].size += gb->size[ids[i]];
  }
  qsort(types, ntypes, sizeof *types, cmp_leak_type);
  limit = page(limit);
  json_object_begin(w);
  json_kv_int(w, "baseline", baseline);
  json_kv_int(w, "target", target);
  json_kv_int(w, "final", final);
  json_kv_uint(w, "total", n);
  json_kv_uint(w, "size", size);
  json_keyz(w, "types");
  json_array_begin(w);
  for (size_t j = 0; j < ntypes; j++) {
    json_object_begin(w);
    json_kv_str(w, "kind", types[j].kind);
    if (*types[j].type) json_kv_str(w, "type", types[j].type);
    else json_kv_null(w, "type");
    json_kv_uint(w, "count", types[j].count);
    json_kv_uint(w, "size", types[j].size);
    json_object_end(w);
  }
  json_array_end(w);
  json_kv_uint(w, "offset", offset);
  json_keyz(w, "nodes");
  json_array_begin(w);
  wire_buf text;
  wire_buf_init(&text);
  for (uint64_t i = offset; i < n && i - offset < limit && rc == STORE_OK; i++) {
    analysis_path p;
    json_object_begin(w);
    json_kv_uint(w, "id", ids[i]);
    node_fields(w, s, target, ids[i]);
    if (analysis_tree_path(gb, via, ids[i], &p)) {
      rc = STORE_ENOMEM;
    } else if (p.len) {
      wire_buf_reset(&text);
      rc = analysis_path_text(s, target, gb, &p, &text);
      if (rc == STORE_OK)
        json_kv_bytes(w, "path", text.data ? text.data : "", text.len);
    } else {
      json_kv_null(w, "path");
    }
    free(p.edge);
    json_object_end(w);
  }
  wire_buf_free(&text);
  json_array_end(w);
  json_object_end(w);
  if (rc) snprintf(err, errlen, "%s", rc == STORE_ENOMEM
                   ? "out of memory listing leaks" : store_errmsg(s));
done:
  free(types);
  free(via);
  free(ids);
  graph_free(ga);
  graph_free(gb);
  graph_free(gc);
  return rc;
}
