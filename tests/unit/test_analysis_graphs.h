/*
** test_analysis_graphs.h
** Hand-built graphs for the analysis tests: a compact edge list such as
** "0>1 1>2 2~3" (">" strong, "~" weak) turned into a graph.
*/
#ifndef TEST_ANALYSIS_GRAPHS_H
#define TEST_ANALYSIS_GRAPHS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "graph.h"

typedef struct tg_edge {
  unsigned from, to;
  int weak;
} tg_edge;

/* Parse "a>b a~b …" into edges; returns the count. */
static inline size_t tg_parse(const char *spec, tg_edge *out, size_t max) {
  size_t n = 0;
  const char *p = spec;
  while (*p) {
    while (*p == ' ') p++;
    if (!*p) break;
    char *end;
    unsigned long a = strtoul(p, &end, 10);
    char op = *end;
    unsigned long b = strtoul(end + 1, &end, 10);
    if (n < max) out[n++] = (tg_edge){(unsigned)a, (unsigned)b, op == '~'};
    p = end;
  }
  return n;
}

/* A graph of n nodes: node 0 is the root, the others tables (or kinds[v]
** when given) of sizes[v] bytes (10 each when sizes is NULL). Edges from
** the root are root edges; the others fields named after their target,
** weak edges of kind "weak". */
static inline graph *tg_build_kinds(unsigned n, const char *spec,
                             const uint64_t *sizes, const char *const *kinds,
                             const char *const *types) {
  static tg_edge edges[4096];
  size_t m = tg_parse(spec, edges, 4096);
  graph_builder *b = graph_builder_new(GRAPH_IDENTITY, n, m);
  if (!b) return NULL;
  for (unsigned v = 0; v < n; v++) {
    wire_node node;
    memset(&node, 0, sizeof node);
    node.id = v;
    node.kind = v == 0 ? "root" : kinds ? kinds[v] : "table";
    if (types && types[v]) {
      node.type = types[v];
      node.type_len = strlen(types[v]);
    }
    node.size = v == 0 ? 0 : sizes ? sizes[v] : 10;
    node.has_size = 1;
    node.addr = 0x1000 + v * 16;
    node.has_addr = v != 0;
    if (graph_builder_node(b, &node)) {
      fprintf(stderr, "%s\n", graph_builder_error(b));
      graph_builder_free(b);
      return NULL;
    }
    for (size_t i = 0; i < m; i++) {
      if (edges[i].from != v) continue;
      char name[16];
      snprintf(name, sizeof name, "f%u", edges[i].to);
      wire_edge e;
      memset(&e, 0, sizeof e);
      e.kind = edges[i].weak ? "weak" : v == 0 ? "root" : "field";
      e.name = name;
      e.name_len = strlen(name);
      e.value.type = WIRE_V_REF;
      e.value.u.ref = edges[i].to;
      if (graph_builder_edge(b, &e)) {
        fprintf(stderr, "%s\n", graph_builder_error(b));
        graph_builder_free(b);
        return NULL;
      }
    }
  }
  char err[200];
  graph *g = graph_builder_finish(b, err, sizeof err);
  if (!g) fprintf(stderr, "%s\n", err);
  return g;
}

static inline graph *tg_build(unsigned n, const char *spec, const uint64_t *sizes) {
  return tg_build_kinds(n, spec, sizes, NULL, NULL);
}

/* A node of a hand-written heap: edges as "field NAME VALUE", "index N
** VALUE", "key KEY VALUE", "root NAME VALUE", or "KIND VALUE", values in
** the protocol's syntax (@3, i:42, true …). */
typedef struct tg_node {
  const char *kind, *type, *value, *mode;
  uint64_t addr, size;
  const char *edges[8];
} tg_node;

static inline int tg_value(const char *s, wire_value *v) {
  return wire_value_parse(s, strlen(s), v);
}

/* Build a graph (with GRAPH_IDENTITY) from n heap nodes, ids in order. */
static inline graph *tg_heap(const tg_node *h, size_t n) {
  graph_builder *b = graph_builder_new(GRAPH_IDENTITY, n, 0);
  for (size_t i = 0; i < n && b; i++) {
    wire_node node;
    memset(&node, 0, sizeof node);
    node.id = i;
    node.kind = h[i].kind;
    if (h[i].type) { node.type = h[i].type; node.type_len = strlen(h[i].type); }
    if (h[i].value) {
      node.value = h[i].value;
      node.value_len = strlen(h[i].value);
      node.has_value = 1;
    }
    node.mode = h[i].mode;
    node.addr = h[i].addr;
    node.has_addr = h[i].addr != 0;
    node.size = h[i].size;
    node.has_size = 1;
    if (graph_builder_node(b, &node)) break;
    for (int k = 0; k < 8 && h[i].edges[k]; k++) {
      char kind[32], a[64], c[64];
      int got = sscanf(h[i].edges[k], "%31s %63s %63s", kind, a, c);
      wire_edge e;
      memset(&e, 0, sizeof e);
      e.kind = strcmp(kind, "field") == 0 ? "field"
             : strcmp(kind, "index") == 0 ? "index"
             : strcmp(kind, "key") == 0 ? "key"
             : strcmp(kind, "root") == 0 ? "root"
             : strcmp(kind, "metatable") == 0 ? "metatable"
             : strcmp(kind, "upvalue") == 0 ? "upvalue" : "internal";
      if (got == 2) {
        tg_value(a, &e.value);
      } else if (strcmp(kind, "index") == 0) {
        e.index = strtoll(a, NULL, 10);
        e.has_index = 1;
        tg_value(c, &e.value);
      } else if (strcmp(kind, "key") == 0) {
        tg_value(a, &e.key);
        tg_value(c, &e.value);
      } else {
        e.name = strstr(h[i].edges[k], a);
        e.name_len = strlen(a);
        tg_value(c, &e.value);
      }
      if (graph_builder_edge(b, &e)) break;
    }
  }
  char err[200];
  graph *g = b ? graph_builder_finish(b, err, sizeof err) : NULL;
  if (!g) fprintf(stderr, "tg_heap: %s\n", b ? err : "out of memory");
  return g;
}

#endif
