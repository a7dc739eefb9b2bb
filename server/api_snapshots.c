/*
** api_snapshots.c
** /api/snapshots: stored snapshots, their nodes by id or by path, children
** and retainers, search, and the frames of break and crash snapshots. All
** reads go through the store's API on the reader handle.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

typedef struct rows {
  json_writer *w;
  store *st;
  int64_t snap;
  uint64_t skip;      /* rows still to skip (offset emulation) */
  uint64_t count;
  int64_t last;       /* last node id / edge position seen */
  int full, payload;
  unsigned edge_flags;  /* API_EDGE_* summaries to include */
} rows;

static int flag(const api_request *rq, const char *name) {
  const char *v = api_arg_get(rq, name);
  return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static int on_snapshot(void *ud, const store_snapshot *s) {
  rows *r = ud;
  api_snapshot_json(r->w, s);
  r->count++;
  return 0;
}

static int on_edge(void *ud, const store_edge *e) {
  rows *r = ud;
  api_edge_json(r->w, r->st, r->snap, e, r->edge_flags);
  r->count++;
  return 0;
}

static int on_node(void *ud, const store_node *n) {
  rows *r = ud;
  r->last = (int64_t)n->n.id;
  if (r->skip) { r->skip--; return 0; }
  api_node_json(r->w, n, r->full, r->payload);
  r->count++;
  return 0;
}

static int on_found_edge(void *ud, const store_edge *e) {
  rows *r = ud;
  r->last = store_edge_pos(r->st, r->snap, e);
  if (r->skip) { r->skip--; return 0; }
  api_edge_json(r->w, r->st, r->snap, e, r->edge_flags);
  r->count++;
  return 0;
}

static void list_snapshots(api_ctx *c, const api_request *rq, api_response *rs) {
  uint64_t offset, limit, machine;
  if (api_page(rq, rs, &offset, &limit) ||
      api_arg_u64(rq, rs, "machine", 0, &machine))
    return;
  json_writer w;
  json_init(&w, &rs->body);
  rows r = { &w, c->st, 0, 0, 0, -1, 0, 0, 0 };
  json_object_begin(&w);
  json_kv_uint(&w, "offset", offset);
  json_kv_uint(&w, "limit", limit);
  json_keyz(&w, "snapshots");
  json_array_begin(&w);
  int st = store_snapshots(c->st, (int64_t)machine, offset, limit, on_snapshot, &r);
  if (st != STORE_OK) { api_store_error(rs, c->st, st); return; }
  json_array_end(&w);
  json_kv_uint(&w, "count", r.count);
  json_object_end(&w);
  rs->status = 200;
}

static void get_snapshot(api_ctx *c, api_response *rs, int64_t snap) {
  store_snapshot s;
  int st = store_snapshot_get(c->st, snap, &s);
  if (st != STORE_OK) { api_store_error(rs, c->st, st); return; }
  json_writer w;
  json_init(&w, &rs->body);
  api_snapshot_json(&w, &s);
  store_snapshot_release(&s);
  rs->status = 200;
}

static void get_node(api_ctx *c, const api_request *rq, api_response *rs,
                     int64_t snap, uint64_t id) {
  store_node n;
  int st = store_node_get(c->st, snap, id, &n);
  if (st != STORE_OK) { api_store_error(rs, c->st, st); return; }
  json_writer w;
  json_init(&w, &rs->body);
  api_node_json(&w, &n, flag(rq, "full"), flag(rq, "payload"));
  store_node_release(&n);
  rs->status = 200;
}

static void node_by_path(api_ctx *c, const api_request *rq, api_response *rs,
                         int64_t snap) {
  const char *path = api_arg_get(rq, "path");
  if (!path || !*path) {
    api_error(rs, 400, "give the path as ?path=...",
              "e.g. ?path=globals.app.state or ?path=stack.frame[0].local.x "
              "(docs/store.md, \"Paths\")");
    return;
  }
  wire_value v;
  store_edge via;
  int st = store_resolve(c->st, snap, path, strlen(path), &v, &via);
  if (st != STORE_OK) { api_store_error(rs, c->st, st); return; }
  if (v.type == WIRE_V_REF) {
    get_node(c, rq, rs, snap, v.u.ref);
    return;
  }
  /* A path that ends at an inline scalar: give the value and where it sits. */
  json_writer w;
  json_init(&w, &rs->body);
  json_object_begin(&w);
  json_kv_str(&w, "path", path);
  json_keyz(&w, "value");
  api_value_json(&w, &v);
  json_kv_uint(&w, "from", via.from);
  json_kv_uint(&w, "seq", via.seq);
  json_object_end(&w);
  rs->status = 200;
}

static void edges_of(api_ctx *c, const api_request *rq, api_response *rs,
                     int64_t snap, uint64_t id, int retainers) {
  uint64_t offset, limit;
  if (api_page(rq, rs, &offset, &limit)) return;
  store_node n;
  int st = store_node_get(c->st, snap, id, &n);
  if (st != STORE_OK) { api_store_error(rs, c->st, st); return; }
  uint64_t total = n.nedges;
  store_node_release(&n);
  json_writer w;
  json_init(&w, &rs->body);
  rows r = { &w, c->st, snap, 0, 0, -1, 0, 0,
             retainers ? API_EDGE_SOURCE : API_EDGE_TARGET };
  json_object_begin(&w);
  json_kv_uint(&w, "node", id);
  json_kv_uint(&w, "offset", offset);
  json_kv_uint(&w, "limit", limit);
  if (!retainers) json_kv_uint(&w, "total", total);
  json_keyz(&w, "edges");
  json_array_begin(&w);
  st = retainers ? store_retainers(c->st, snap, id, offset, limit, on_edge, &r)
                 : store_children(c->st, snap, id, offset, limit, on_edge, &r);
  if (st != STORE_OK) { api_store_error(rs, c->st, st); return; }
  json_array_end(&w);
  json_kv_uint(&w, "count", r.count);
  json_object_end(&w);
  rs->status = 200;
}

static void search(api_ctx *c, const api_request *rq, api_response *rs,
                   int64_t snap) {
  uint64_t offset, limit;
  if (api_page(rq, rs, &offset, &limit)) return;
  int64_t after = -1;
  const char *a = api_arg_get(rq, "after");
  if (a && *a && api_parse_num(a, &after)) {
    api_error(rs, 400, "after= must be a node id (or edge position) from the "
              "previous page's next_after", NULL);
    return;
  }
  const char *field = api_arg_get(rq, "field");
  store_search q = { 0 };
  q.kind = api_arg_get(rq, "kind");
  q.type = api_arg_get(rq, "type");
  q.text = api_arg_get(rq, "name");
  if (q.kind && !*q.kind) q.kind = NULL;
  if (q.type && !*q.type) q.type = NULL;
  if (q.text && !*q.text) q.text = NULL;
  if (q.type) q.type_len = strlen(q.type);
  if (q.text) q.text_len = strlen(q.text);
  if (!field && !q.kind && !q.type && !q.text) {
    api_error(rs, 400, "give at least one of kind=, type=, name= (a prefix of a "
              "string value or node name) or field= (a prefix of edge names)",
              "e.g. /search?type=Player&limit=50");
    return;
  }
  /* An offset costs a scan of the skipped rows; next_after does not. */
  if (offset > 100000) {
    api_error(rs, 400, "offset is limited to 100000 in search",
              "page with after=<next_after of the previous page>");
    return;
  }
  json_writer w;
  json_init(&w, &rs->body);
  rows r = { &w, c->st, snap, offset, 0, -1, flag(rq, "full"), 0,
             API_EDGE_SOURCE | API_EDGE_TARGET };
  json_object_begin(&w);
  json_keyz(&w, field ? "edges" : "nodes");
  json_array_begin(&w);
  int st = field ? store_find_edges(c->st, snap, field, strlen(field), after,
                                    limit + offset, on_found_edge, &r)
                 : store_find_nodes(c->st, snap, &q, after, limit + offset,
                                    on_node, &r);
  if (st != STORE_OK) { api_store_error(rs, c->st, st); return; }
  json_array_end(&w);
  json_kv_uint(&w, "count", r.count);
  json_keyz(&w, "next_after");
  if (r.count == limit && r.last >= 0) json_int(&w, r.last);
  else json_null(&w);
  json_object_end(&w);
  rs->status = 200;
}

/* Frames with their locals: collected first, since listing a frame's
** locals is a second query. */
typedef struct frame_rec {
  uint64_t thread, node;
  int64_t level, line;
  int has_line;
  char *name, *source;
  size_t name_len, source_len;
} frame_rec;

typedef struct frames_acc {
  frame_rec *v;
  size_t n, cap;
  int oom;
} frames_acc;

#define API_MAX_FRAMES 4096
#define API_MAX_LOCALS 1000

static char *dup_bytes(const char *p, size_t n) {
  if (!p) return NULL;
  char *c = malloc(n + 1);
  if (c) {
    memcpy(c, p, n);
    c[n] = 0;
  }
  return c;
}

static int on_frame(void *ud, const store_frame *f) {
  frames_acc *a = ud;
  if (a->n == API_MAX_FRAMES) return 1;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 16;
    frame_rec *v = realloc(a->v, cap * sizeof *v);
    if (!v) { a->oom = 1; return 1; }
    a->v = v;
    a->cap = cap;
  }
  frame_rec *r = &a->v[a->n++];
  r->thread = f->thread;
  r->node = f->node;
  r->level = f->level;
  r->line = f->line;
  r->has_line = f->has_line;
  r->name = dup_bytes(f->name, f->name_len);
  r->name_len = f->name_len;
  r->source = dup_bytes(f->source, f->source_len);
  r->source_len = f->source_len;
  return 0;
}

static void frames(api_ctx *c, api_response *rs, int64_t snap) {
  store_snapshot s;
  int st = store_snapshot_get(c->st, snap, &s);
  if (st != STORE_OK) { api_store_error(rs, c->st, st); return; }
  frames_acc acc = { 0 };
  st = store_frames(c->st, snap, on_frame, &acc);
  if (acc.oom) {
    api_error(rs, 500, "out of memory listing frames", NULL);
  } else if (st != STORE_OK && st != STORE_ESTOPPED) {
    api_store_error(rs, c->st, st);
  } else {
    json_writer w;
    json_init(&w, &rs->body);
    json_object_begin(&w);
    json_kv_int(&w, "snapshot", snap);
    json_kv_str(&w, "reason", s.reason);
    json_kv_bytes(&w, "error", s.error, s.error_len);
    json_kv_bytes(&w, "traceback", s.traceback, s.traceback_len);
    json_kv_bool(&w, "truncated", st == STORE_ESTOPPED);
    json_keyz(&w, "frames");
    json_array_begin(&w);
    for (size_t i = 0; i < acc.n; i++) {
      frame_rec *f = &acc.v[i];
      json_object_begin(&w);
      json_kv_uint(&w, "thread", f->thread);
      json_kv_int(&w, "level", f->level);
      json_kv_uint(&w, "node", f->node);
      json_kv_bytes(&w, "function", f->name, f->name_len);
      json_kv_bytes(&w, "source", f->source, f->source_len);
      json_keyz(&w, "line");
      if (f->has_line) json_int(&w, f->line);
      else json_null(&w);
      json_keyz(&w, "locals");
      json_array_begin(&w);
      rows r = { &w, c->st, snap, 0, 0, -1, 0, 0, API_EDGE_TARGET };
      int lst = store_children(c->st, snap, f->node, 0, API_MAX_LOCALS, on_edge, &r);
      json_array_end(&w);
      if (lst != STORE_OK) json_kv_str(&w, "locals_error", store_errmsg(c->st));
      json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
    rs->status = 200;
  }
  for (size_t i = 0; i < acc.n; i++) {
    free(acc.v[i].name);
    free(acc.v[i].source);
  }
  free(acc.v);
  store_snapshot_release(&s);
}

void api_snapshots(api_ctx *c, const api_request *rq, api_response *rs,
                   char **seg, int nseg) {
  if (nseg == 2 && strcmp(seg[1], "restore") == 0) {
    int64_t snap;
    if (strcmp(rq->method, "POST") != 0) {
      api_error(rs, 405, "a restore is asked with POST", NULL);
    } else if (api_parse_num(seg[0], &snap)) {
      api_error(rs, 404, "snapshot ids are numbers", "GET /api/snapshots lists them");
    } else {
      api_restore(c, rq, rs, snap);
    }
    return;
  }
  if (strcmp(rq->method, "GET") != 0) {
    api_error(rs, 405, "snapshots are read with GET", NULL);
    return;
  }
  if (nseg == 0) { list_snapshots(c, rq, rs); return; }
  int64_t snap, nid;
  if (api_parse_num(seg[0], &snap)) {
    api_error(rs, 404, "snapshot ids are numbers", "GET /api/snapshots lists them");
    return;
  }
  if (nseg == 1) { get_snapshot(c, rs, snap); return; }
  const char *what = seg[1];
  if (nseg == 2 && strcmp(what, "node") == 0) { node_by_path(c, rq, rs, snap); return; }
  if (nseg == 2 && strcmp(what, "search") == 0) { search(c, rq, rs, snap); return; }
  if (nseg == 2 && strcmp(what, "frames") == 0) { frames(c, rs, snap); return; }
  if (nseg == 2 && (strcmp(what, "summary") == 0 || strcmp(what, "top") == 0)) {
    api_analysis_snapshot(c, rq, rs, snap, what);
    return;
  }
  if (strcmp(what, "nodes") == 0 && nseg >= 3) {
    if (api_parse_num(seg[2], &nid)) {
      api_error(rs, 404, "node ids are numbers", "node 0 is the snapshot's root");
      return;
    }
    if (nseg == 3) { get_node(c, rq, rs, snap, (uint64_t)nid); return; }
    if (nseg == 4 && strcmp(seg[3], "children") == 0) {
      edges_of(c, rq, rs, snap, (uint64_t)nid, 0);
      return;
    }
    if (nseg == 4 && strcmp(seg[3], "retainers") == 0) {
      edges_of(c, rq, rs, snap, (uint64_t)nid, 1);
      return;
    }
    if (nseg == 4 && (strcmp(seg[3], "dominators") == 0 || strcmp(seg[3], "paths") == 0)) {
      api_analysis_node(c, rq, rs, snap, (uint64_t)nid, seg[3]);
      return;
    }
  }
  api_error(rs, 404, "no such API endpoint", "GET /api lists the endpoints");
}
