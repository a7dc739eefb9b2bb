/*
** test_snapshot_graph.h
** Shared by the snapshot tests: a C-side reader of alua_snapshot's output
** (through wire.h's parser, as the server reads it) into an in-memory
** graph, checks of the protocol's invariants, and lookups for assertions.
*/
#ifndef TEST_SNAPSHOT_GRAPH_H
#define TEST_SNAPSHOT_GRAPH_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "snapshot.h"
#include "wire.h"

typedef struct tg_edge {
  char *kind;
  char *name; size_t name_len;  /* NULL if absent */
  int has_index; int64_t index;
  wire_value key, value;
} tg_edge;

typedef struct tg_node {
  uint64_t id;
  char *kind, *type, *name, *value, *mode, *status, *source;
  size_t type_len, name_len, value_len, source_len;
  unsigned char *payload; size_t payload_len;
  int has_value, has_payload, has_size, has_addr, has_line;
  uint64_t size, addr;
  int64_t line;
  tg_edge *edges; size_t nedges, ecap;
} tg_node;

typedef struct tg_graph {
  tg_node *nodes; size_t n, cap;
  int begun, ended, errored, bad;
  char bad_why[160];
  uint64_t end_nodes, end_edges, batches, continuations;
  uint64_t runs;                /* <r> elements read */
  char hash[17], computed[17];
  char *error_text;
  char *reason, *label;
  uint64_t time;
} tg_graph;

static inline char *tg_dup(const char *s, size_t n) {
  if (s == NULL) return NULL;
  char *d = malloc(n + 1);
  assert_non_null(d);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static inline void tg_fail(tg_graph *g, const char *why) {
  if (!g->bad) snprintf(g->bad_why, sizeof g->bad_why, "%s", why);
  g->bad = 1;
}

static inline void tg_add_edge(tg_node *nd, const wire_edge *e) {
  if (nd->nedges == nd->ecap) {
    nd->ecap = nd->ecap ? nd->ecap * 2 : 4;
    nd->edges = realloc(nd->edges, nd->ecap * sizeof *nd->edges);
    assert_non_null(nd->edges);
  }
  tg_edge *d = &nd->edges[nd->nedges++];
  d->kind = tg_dup(e->kind, strlen(e->kind));
  d->name = tg_dup(e->name, e->name_len);
  d->name_len = e->name_len;
  d->has_index = e->has_index;
  d->index = e->index;
  d->key = e->key;
  d->value = e->value;
}

static inline void tg_read_graph(tg_graph *g, const wire_elem *graph) {
  wire_buf scratch;
  wire_buf_init(&scratch);
  g->batches++;
  int first = 1;
  for (const wire_elem *ne = graph->children; ne; ne = ne->next) {
    if (strcmp(ne->name, "n") != 0) { tg_fail(g, "graph child is not <n>"); continue; }
    wire_node wn;
    int cont = 0;
    const char *why = NULL;
    if (wire_node_read(ne, &wn, &cont, &scratch, &why) != 0) { tg_fail(g, why ? why : "bad node"); continue; }
    tg_node *nd;
    if (cont) {
      g->continuations++;
      if (!first || g->n == 0 || g->nodes[g->n - 1].id != wn.id) tg_fail(g, "continuation out of place");
      if (g->n == 0) continue;
      nd = &g->nodes[g->n - 1];
    } else {
      if (wn.id != g->n) tg_fail(g, "node ids not consecutive from 0");
      if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 256;
        g->nodes = realloc(g->nodes, g->cap * sizeof *g->nodes);
        assert_non_null(g->nodes);
      }
      nd = &g->nodes[g->n++];
      memset(nd, 0, sizeof *nd);
      nd->id = wn.id;
      nd->kind = tg_dup(wn.kind, strlen(wn.kind));
      nd->type = tg_dup(wn.type, wn.type_len); nd->type_len = wn.type_len;
      nd->name = tg_dup(wn.name, wn.name_len); nd->name_len = wn.name_len;
      nd->has_value = wn.has_value;
      if (wn.has_value) { nd->value = tg_dup(wn.value, wn.value_len); nd->value_len = wn.value_len; }
      nd->has_payload = wn.has_payload;
      if (wn.has_payload) { nd->payload = (unsigned char *)tg_dup(wn.payload, wn.payload_len); nd->payload_len = wn.payload_len; }
      nd->mode = wn.mode ? tg_dup(wn.mode, strlen(wn.mode)) : NULL;
      nd->status = wn.status ? tg_dup(wn.status, strlen(wn.status)) : NULL;
      nd->source = tg_dup(wn.source, wn.source_len); nd->source_len = wn.source_len;
      nd->has_size = wn.has_size; nd->size = wn.size;
      nd->has_addr = wn.has_addr; nd->addr = wn.addr;
      nd->has_line = wn.has_line; nd->line = wn.line;
    }
    first = 0;
    /* <e> and runs <r> alike, runs expanded into their edges */
    wire_edges it;
    wire_edge we;
    int r;
    wire_edges_begin(ne, &it);
    while ((r = wire_edges_next(&it, &we)) != 0) {
      if (r < 0) { tg_fail(g, it.why ? it.why : "bad edge"); break; }
      tg_add_edge(nd, &we);
    }
    for (const wire_elem *ee = ne->children; ee; ee = ee->next) g->runs += ee->name[0] == 'r';
  }
  wire_buf_free(&scratch);
}

static inline int tg_on_message(void *ud, const wire_msg *m) {
  tg_graph *g = ud;
  for (const wire_elem *e = m->items; e; e = e->next) {
    size_t len;
    const char *s;
    if (strcmp(e->name, "snapshot-begin") == 0) {
      g->begun = 1;
      if ((s = wire_get(e, "reason", &len))) g->reason = tg_dup(s, len);
      if ((s = wire_get(e, "label", &len))) g->label = tg_dup(s, len);
      wire_get_u64(e, "time", &g->time);
    } else if (strcmp(e->name, "graph") == 0) {
      if (!g->begun || g->ended) tg_fail(g, "graph outside begin/end");
      tg_read_graph(g, e);
    } else if (strcmp(e->name, "snapshot-end") == 0) {
      g->ended = 1;
      wire_get_u64(e, "nodes", &g->end_nodes);
      wire_get_u64(e, "edges", &g->end_edges);
      if ((s = wire_get(e, "hash", &len)) && len == 16) memcpy(g->hash, s, 17);
    } else if (strcmp(e->name, "snapshot-error") == 0) {
      g->errored = 1;
      if ((s = wire_get(e, "text", &len))) g->error_text = tg_dup(s, len);
    } else {
      tg_fail(g, "unexpected message");
    }
  }
  return 0;
}

/* Recompute the content hash from the parsed graph, as the server does. */
static inline void tg_rehash(tg_graph *g) {
  wire_hash h;
  wire_hash_init(&h);
  for (size_t i = 0; i < g->n; i++) {
    tg_node *nd = &g->nodes[i];
    wire_node wn;
    memset(&wn, 0, sizeof wn);
    wn.id = nd->id; wn.kind = nd->kind;
    wn.type = nd->type; wn.type_len = nd->type_len;
    wn.name = nd->name; wn.name_len = nd->name_len;
    wn.value = nd->value; wn.value_len = nd->value_len; wn.has_value = nd->has_value;
    wn.payload = nd->payload; wn.payload_len = nd->payload_len; wn.has_payload = nd->has_payload;
    wn.mode = nd->mode; wn.status = nd->status;
    wn.source = nd->source; wn.source_len = nd->source_len;
    wn.line = nd->line; wn.has_line = nd->has_line;
    wire_hash_node(&h, &wn);
    for (size_t k = 0; k < nd->nedges; k++) {
      tg_edge *e = &nd->edges[k];
      wire_edge we;
      memset(&we, 0, sizeof we);
      we.kind = e->kind; we.name = e->name; we.name_len = e->name_len;
      we.has_index = e->has_index; we.index = e->index;
      we.key = e->key; we.value = e->value;
      wire_hash_edge(&h, &we);
    }
  }
  wire_hash_hex(&h, g->computed);
}

/* Parse bytes into g and check what every snapshot must satisfy. */
static inline void tg_parse(tg_graph *g, const char *data, size_t len) {
  memset(g, 0, sizeof *g);
  wire_parser *p = wire_parser_new(NULL, tg_on_message, g);
  assert_non_null(p);
  assert_int_equal(wire_parser_feed(p, data, len), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  wire_parser_free(p);
  if (g->errored) return;
  if (g->bad) fail_msg("malformed snapshot: %s", g->bad_why);
  assert_true(g->begun);
  assert_true(g->ended);
  assert_int_equal(g->end_nodes, g->n);
  uint64_t edges = 0;
  for (size_t i = 0; i < g->n; i++) {
    edges += g->nodes[i].nedges;
    for (size_t k = 0; k < g->nodes[i].nedges; k++) {
      const tg_edge *e = &g->nodes[i].edges[k];
      if (e->value.type == WIRE_V_REF && e->value.u.ref >= g->n)
        fail_msg("edge of node %zu refers to missing node %llu", i,
                 (unsigned long long)e->value.u.ref);
      if (e->key.type == WIRE_V_REF && e->key.u.ref >= g->n)
        fail_msg("key of node %zu refers to missing node", i);
    }
  }
  assert_int_equal(g->end_edges, edges);
  tg_rehash(g);
  assert_string_equal(g->computed, g->hash);
}

static inline void tg_free(tg_graph *g) {
  for (size_t i = 0; i < g->n; i++) {
    tg_node *nd = &g->nodes[i];
    for (size_t k = 0; k < nd->nedges; k++) {
      free(nd->edges[k].kind);
      free(nd->edges[k].name);
    }
    free(nd->edges);
    free(nd->kind); free(nd->type); free(nd->name); free(nd->value);
    free(nd->mode); free(nd->status); free(nd->source); free(nd->payload);
  }
  free(g->nodes);
  free(g->error_text);
  free(g->reason);
  free(g->label);
  memset(g, 0, sizeof *g);
}

/* ---- running Lua and snapshotting ------------------------------------ */

static inline lua_State *tg_state(void) {
  lua_State *L = luaL_newstate();
  assert_non_null(L);
  luaL_openlibs(L);
  return L;
}

static inline void tg_run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) != LUA_OK)
    fail_msg("Lua error: %s", lua_tostring(L, -1));
}

/* Snapshot L with req into g; asserts success. out keeps the bytes. */
static inline void tg_snap_req(lua_State *L, const alua_request *req,
                               tg_graph *g, wire_buf *out, alua_stats *st) {
  const char *err = NULL;
  int top = lua_gettop(L);
  int rc = alua_snapshot(L, req, out, st, &err);
  if (rc != 0) fail_msg("snapshot failed: %s", err ? err : "?");
  assert_int_equal(lua_gettop(L), top);
  tg_parse(g, out->data, out->len);
  assert_false(g->errored);
}

/* Snapshot with the given roots (NULL-terminated list; none = default). */
static inline void tg_snap(lua_State *L, tg_graph *g, ...) {
  const char *roots[16];
  size_t n = 0;
  va_list ap;
  va_start(ap, g);
  const char *r;
  while ((r = va_arg(ap, const char *)) != NULL && n < 16) roots[n++] = r;
  va_end(ap);
  alua_request req;
  memset(&req, 0, sizeof req);
  req.id = 1;
  req.roots = roots;
  req.nroots = n;
  wire_buf out;
  wire_buf_init(&out);
  tg_snap_req(L, &req, g, &out, NULL);
  wire_buf_free(&out);
}

/* ---- lookups --------------------------------------------------------- */

static inline tg_node *tg_node_at(tg_graph *g, uint64_t id) {
  if (id >= g->n) fail_msg("no node %llu", (unsigned long long)id);
  return &g->nodes[id];
}

/* The edge of node nd of kind with string name, or NULL. */
static inline tg_edge *tg_edge_named(tg_node *nd, const char *kind, const char *name) {
  size_t len = strlen(name);
  for (size_t k = 0; k < nd->nedges; k++) {
    tg_edge *e = &nd->edges[k];
    if (strcmp(e->kind, kind) == 0 && e->name && e->name_len == len &&
        memcmp(e->name, name, len) == 0)
      return e;
  }
  return NULL;
}

/* The edge of node nd of kind with integer index i, or NULL. */
static inline tg_edge *tg_edge_index(tg_node *nd, const char *kind, int64_t i) {
  for (size_t k = 0; k < nd->nedges; k++) {
    tg_edge *e = &nd->edges[k];
    if (strcmp(e->kind, kind) == 0 && e->has_index && e->index == i) return e;
  }
  return NULL;
}

/* The first edge of a kind, or NULL. */
static inline tg_edge *tg_edge_kind(tg_node *nd, const char *kind) {
  for (size_t k = 0; k < nd->nedges; k++)
    if (strcmp(nd->edges[k].kind, kind) == 0) return &nd->edges[k];
  return NULL;
}

/* The node an edge points to; fails if it is a scalar. */
static inline tg_node *tg_target(tg_graph *g, const tg_edge *e) {
  assert_non_null(e);
  if (e->value.type != WIRE_V_REF) fail_msg("edge %s is not a reference", e->kind);
  return tg_node_at(g, e->value.u.ref);
}

/* Follow a dotted path of fields from a root: tg_path(g, "globals", "a.b"). */
static inline tg_node *tg_path(tg_graph *g, const char *root, const char *path) {
  tg_node *nd = tg_target(g, tg_edge_named(&g->nodes[0], "root", root));
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = strtok(buf, "."); p; p = strtok(NULL, ".")) {
    tg_edge *e = tg_edge_named(nd, "field", p);
    if (e == NULL) fail_msg("no field %s on the path %s", p, path);
    nd = tg_target(g, e);
  }
  return nd;
}

/* The edge at a field path: the last component's edge. */
static inline tg_edge *tg_path_edge(tg_graph *g, const char *root, const char *parent,
                             const char *field) {
  tg_node *nd = parent && *parent ? tg_path(g, root, parent)
                                  : tg_target(g, tg_edge_named(&g->nodes[0], "root", root));
  tg_edge *e = tg_edge_named(nd, "field", field);
  if (e == NULL) fail_msg("no field %s", field);
  return e;
}

/* Count nodes of a kind. */
static inline size_t tg_count(tg_graph *g, const char *kind) {
  size_t c = 0;
  for (size_t i = 0; i < g->n; i++) c += strcmp(g->nodes[i].kind, kind) == 0;
  return c;
}

#endif
