/*
** analysis_json.c
** JSON renderings of the analyses of one snapshot for the HTTP API:
** summary, top retainers, dominator tree, retainers and paths, paged.
** docs/analysis.md, "JSON", shows every shape.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis_json.h"

/* Dominators listed above a node before the list is cut. */
#define CHAIN_MAX 1000

uint64_t analysis_json_page(uint64_t limit) {
  if (limit == 0) return 100;
  return limit > 10000 ? 10000 : limit;
}

void analysis_json_node_fields(json_writer *w, store *s, int64_t snap,
                               uint64_t id) {
  store_node sn;
  if (store_node_get(s, snap, id, &sn) != STORE_OK) return;
  const wire_node *n = &sn.n;
  json_kv_str(w, "kind", n->kind);
  if (n->type) json_kv_bytes(w, "type", n->type, n->type_len);
  if (n->name) json_kv_bytes(w, "name", n->name, n->name_len);
  if (n->has_value) {
    json_kv_bytes(w, "value", n->value,
                  n->value_len < ANALYSIS_JSON_PREVIEW ? n->value_len
                                                  : ANALYSIS_JSON_PREVIEW);
    json_kv_uint(w, "value_len", n->value_len);
  }
  json_kv_uint(w, "shallow", n->has_size ? n->size : 0);
  store_node_release(&sn);
}

/* {id, kind, type, name, value (preview), shallow} of node id. */
static void node_brief(json_writer *w, store *s, int64_t snap, uint64_t id) {
  json_object_begin(w);
  json_kv_uint(w, "id", id);
  analysis_json_node_fields(w, s, snap, id);
  json_object_end(w);
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
  int rc = analysis_summary_rows(s, snap, offset, analysis_json_page(limit), row_json, &rw,
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
  limit = analysis_json_page(limit);
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
    analysis_json_node_fields(w, s, snap, ids[i]);
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
  limit = analysis_json_page(limit);
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
    analysis_json_node_fields(w, s, snap, kids[i].id);
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
  rc = store_retainers(s, snap, node, offset, analysis_json_page(limit), on_retainer, &c);
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
