/*
** analysis_dom.c
** Dominator tree and retained sizes by Semi-NCA (Georgiadis, Tarjan and
** Werneck), iterative throughout so chains of any depth work.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis.h"

/*
** Work arrays are indexed by DFS preorder number ("pre"), 0 = the root,
** except num and the predecessor offsets, which are indexed by node. Memory is the
** point of the arrangement below: at the peak we hold 28 bytes per node
** (seven 4-byte entries) plus one 4-byte predecessor per strong edge, and
** arrays are reused as soon as their first job is done.
*/

static void *xalloc(size_t n, size_t sz) {
  return malloc(n ? n * sz : 1);
}

/* Marks of the depth-first search. */
#define SEEN 1u /* numbered */
#define HELD 2u /* some node holds it by a strong reference */

/* Number from start, a child of parent_pre in the DFS tree. stack holds
** (pre, next edge) pairs, so resuming a node touches only its top. */
static uint32_t dfs_from(const graph *g, graph_id start, uint32_t parent_pre,
                         uint8_t *mark, graph_id *vertex, uint32_t *parent,
                         uint32_t *stack, uint32_t k) {
  uint32_t sp = 1;
  mark[start] |= SEEN;
  vertex[k] = start;
  parent[k] = parent_pre;
  stack[0] = k++;
  stack[1] = g->first[start];
  while (sp) {
    uint32_t *top = &stack[2 * (sp - 1)];
    graph_id v = vertex[top[0]];
    uint32_t e = top[1], end = g->first[v + 1];
    while (e < end && (graph_edge_is_weak(g, e) || (mark[g->to[e]] & SEEN)))
      e++;
    if (e == end) {
      sp--;
      continue;
    }
    top[1] = e + 1;
    graph_id w = g->to[e];
    mark[w] |= SEEN;
    vertex[k] = w;
    parent[k] = top[0];
    stack[2 * sp] = k++;
    stack[2 * sp + 1] = g->first[w];
    sp++;
  }
  return k;
}

/*
** Depth-first search over strong references: first from the root, then
** from every node nothing holds strongly (reached only through weak
** references: collectable). Those hang off the root as if it held them,
** so each retains what only it holds, as Chrome DevTools counts it. Fills
** vertex (pre -> node), parent (pre -> pre) and num (node -> pre,
** GRAPH_NONE if never reached: strong cycles held only weakly). stack is
** scratch of 2 * g->n entries. Returns the number numbered, and in
** *strong those the root reaches by strong references alone; 0 if out of
** memory.
*/
static uint32_t dfs(const graph *g, uint32_t *num, graph_id *vertex,
                    uint32_t *parent, uint32_t *stack, uint32_t *strong) {
  /* A byte per node stays in cache where a 4-byte number would not. */
  uint8_t *mark = calloc(g->n ? g->n : 1, 1);
  if (!mark) return 0;
  for (uint32_t e = 0; e < g->m; e++)
    if (!graph_edge_is_weak(g, e)) mark[g->to[e]] |= HELD;
  uint32_t k = dfs_from(g, GRAPH_ROOT, 0, mark, vertex, parent, stack, 0);
  *strong = k;
  for (graph_id v = 1; v < g->n; v++)
    if (!(mark[v] & (SEEN | HELD)))
      k = dfs_from(g, v, 0, mark, vertex, parent, stack, k);
  free(mark);
  memset(num, 0xFF, (size_t)g->n * sizeof *num);
  for (uint32_t p = 0; p < k; p++) num[vertex[p]] = p;
  return k;
}

/*
** Predecessors by strong references: the preorder numbers of the nodes
** holding node v are rsrc[roff[v] .. roff[v+1]). Indexed by node, so the
** edges are read in storage order and each source's number comes from a
** sequential read of num: no per-edge lookup of the target's number,
** which, random as it is, was most of the cost. The nodes the second
** search started from (numbered from strong on, with the root as parent)
** get the root as their one predecessor.
*/
static int predecessors(const graph *g, const uint32_t *num,
                        const graph_id *vertex, uint32_t r, uint32_t strong,
                        const uint32_t *parent, uint32_t **roff_out,
                        uint32_t **rsrc_out) {
  size_t n = g->n;
  uint32_t *roff = calloc(n + 1, sizeof *roff);
  if (!roff) return -1;
  uint64_t total = 0;
  for (graph_id v = 0; v < g->n; v++) {
    if (num[v] == GRAPH_NONE) continue;
    for (uint32_t e = g->first[v]; e < g->first[v + 1]; e++)
      if (!graph_edge_is_weak(g, e)) {
        roff[g->to[e] + 1]++;
        total++;
      }
  }
  for (uint32_t p = strong; p < r; p++)
    if (parent[p] == 0) {
      assert(roff[vertex[p] + 1] == 0);
      roff[vertex[p] + 1] = 1;
      total++;
    }
  for (size_t v = 0; v < n; v++) roff[v + 1] += roff[v];
  assert(roff[n] == total);
  uint32_t *rsrc = xalloc(total, sizeof *rsrc);
  if (!rsrc) {
    free(roff);
    return -1;
  }
  /* Fill back to front so roff[v+1] ends at the start of v's range. */
  for (uint32_t p = strong; p < r; p++)
    if (parent[p] == 0) rsrc[--roff[vertex[p] + 1]] = 0;
  for (graph_id v = g->n; v-- > 0;) {
    uint32_t p = num[v];
    if (p == GRAPH_NONE) continue;
    for (uint32_t e = g->first[v + 1]; e-- > g->first[v];)
      if (!graph_edge_is_weak(g, e)) rsrc[--roff[g->to[e] + 1]] = p;
  }
  memmove(roff, roff + 1, n * sizeof *roff);
  roff[n] = (uint32_t)total;
  *roff_out = roff;
  *rsrc_out = rsrc;
  return 0;
}

/* The vertex of minimum semidominator on the forest path from v up to,
** but not including, its tree root, compressing the path on the way.
** Vertices numbered above w are linked (processed), the others are roots. */
static uint32_t eval(uint32_t v, uint32_t w, uint32_t *ancestor,
                     uint32_t *label, const uint32_t *semi, uint32_t *stack) {
  if (v <= w) return v;
  uint32_t sp = 0, x = v;
  while (ancestor[x] > w) {
    stack[sp++] = x;
    x = ancestor[x];
  }
  while (sp) {
    uint32_t y = stack[--sp], a = ancestor[y];
    if (semi[label[a]] < semi[label[y]]) label[y] = label[a];
    ancestor[y] = ancestor[a];
  }
  return label[v];
}

int analysis_dominators(const graph *g, analysis_dom *d, char *err,
                        size_t errlen) {
  memset(d, 0, sizeof *d);
  size_t n = g->n;
  uint32_t *num = xalloc(n, 4), *vertex = xalloc(n, 4), *parent = xalloc(n, 4);
  uint32_t *pairs = xalloc(n, 8);
  uint32_t *roff = NULL, *rsrc = NULL, *semi = NULL;
  uint64_t *ret = NULL;
  if (!num || !vertex || !parent || !pairs) goto oom;
  uint32_t strong = 0;
  uint32_t r = dfs(g, num, vertex, parent, pairs, &strong);
  if (r == 0 ||
      predecessors(g, num, vertex, r, strong, parent, &roff, &rsrc))
    goto oom;

  /* num becomes label; the DFS stack becomes ancestor and eval's stack. */
  uint32_t *label = num, *ancestor = pairs, *stack = pairs + n;
  semi = xalloc(r, 4);
  if (!semi) goto oom;
  for (uint32_t p = 0; p < r; p++) semi[p] = label[p] = p;
  for (uint32_t w = r; w-- > 1;) {
    uint32_t s = semi[w];
    graph_id v = vertex[w];
    for (uint32_t i = roff[v]; i < roff[v + 1]; i++) {
      uint32_t u = eval(rsrc[i], w, ancestor, label, semi, stack);
      if (semi[u] < s) s = semi[u];
    }
    semi[w] = s;
    ancestor[w] = parent[w];
  }
  free(roff); roff = NULL;
  free(rsrc); rsrc = NULL;

  /* NCA pass: parent becomes idom, in pre space. */
  uint32_t *idom = parent;
  for (uint32_t w = 1; w < r; w++) {
    uint32_t x = idom[w];
    while (x > semi[w]) x = idom[x];
    idom[w] = x;
  }
  free(semi); semi = NULL;

  /* Retained sizes: each vertex adds its total to its dominator's, children
  ** before parents (reverse preorder). */
  ret = xalloc(r, 8);
  if (!ret) goto oom;
  for (uint32_t p = 0; p < r; p++) ret[p] = g->size[vertex[p]];
  for (uint32_t w = r; w-- > 1;) ret[idom[w]] += ret[w];

  /* Back to node space; nodes never numbered retain only themselves. */
  d->n = g->n;
  d->reachable = strong;
  d->idom = label;         /* reuse: num's n entries, label is done */
  d->retained = xalloc(n, 8);
  if (!d->retained) goto oom;
  for (graph_id v = 0; v < g->n; v++) {
    d->idom[v] = GRAPH_NONE;
    d->retained[v] = g->size[v];
  }
  for (uint32_t p = 1; p < r; p++) {
    d->idom[vertex[p]] = vertex[idom[p]];
    d->retained[vertex[p]] = ret[p];
  }
  d->retained[GRAPH_ROOT] = ret[0];
  free(ret);
  free(vertex);
  free(parent);
  free(pairs);
  return 0;

oom:
  free(num); free(vertex); free(parent); free(pairs);
  free(roff); free(rsrc); free(semi); free(ret);
  free(d->retained);
  memset(d, 0, sizeof *d);
  snprintf(err, errlen, "out of memory computing dominators of %zu nodes "
           "(about %zu MB needed)", n, (n * 40 + (size_t)g->m * 4) >> 20);
  return -1;
}

void analysis_dom_free(analysis_dom *d) {
  free(d->idom);
  free(d->retained);
  memset(d, 0, sizeof *d);
}

int analysis_dominates(const analysis_dom *d, graph_id a, graph_id b) {
  if (a >= d->n || b >= d->n) return 0;
  if (b != GRAPH_ROOT && d->idom[b] == GRAPH_NONE) return a == b;
  for (graph_id x = b; x != GRAPH_NONE; x = d->idom[x])
    if (x == a) return 1;
  return 0;
}
