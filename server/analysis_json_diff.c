/*
** analysis_json_diff.c
** JSON renderings of the analyses across snapshots for the HTTP API: the
** diff of two (with the fields that changed) and the leak filter of three.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis_json.h"

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
  if (la.n) qsort(la.f, la.n, sizeof *la.f, cmp_field);
  if (lb.n) qsort(lb.f, lb.n, sizeof *lb.f, cmp_field);
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
  limit = analysis_json_page(limit);
  uint64_t total = 0;
  if (show & (1 << ANALYSIS_REMOVED)) total += d.removed;
  if (show & (1 << ANALYSIS_CHANGED)) total += d.changed;
  if (show & (1 << ANALYSIS_ADDED)) total += d.added;
  if (show & (1 << ANALYSIS_SAME)) total += d.same;
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
  /* Walk the listed states in order (removed, changed, added, same),
  ** counting positions so that a page starts where the previous one ended. */
  uint64_t pos = 0, shown = 0;
  static const enum analysis_state order[] = {
    ANALYSIS_REMOVED, ANALYSIS_CHANGED, ANALYSIS_ADDED, ANALYSIS_SAME};
  for (int k = 0; k < 4 && shown < limit && rc == STORE_OK; k++) {
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
      if (vb != GRAPH_NONE) analysis_json_node_fields(w, s, b, vb);
      else analysis_json_node_fields(w, s, a, va);
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
  limit = analysis_json_page(limit);
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
    analysis_json_node_fields(w, s, target, ids[i]);
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
