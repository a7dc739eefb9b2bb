/*
** analysis_path.c
** Shortest paths from the root to a node, breadth first: one per last
** retainer, so that each answer shows a different reason it is alive.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis.h"

graph_id analysis_edge_source(const graph *g, uint32_t e) {
  /* The last v with first[v] <= e; nodes without edges share offsets, and
  ** the last of a run is the one that owns e. */
  uint32_t lo = 0, hi = g->n; /* answer in [lo, hi) */
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (g->first[mid] <= e) lo = mid;
    else hi = mid;
  }
  return lo;
}

/* A candidate last edge into the target, ranked by path length. */
typedef struct cand {
  uint32_t len, edge;
  graph_id from;
} cand;

static int cand_before(const cand *a, const cand *b) {
  if (a->len != b->len) return a->len < b->len;
  if (a->from != b->from) return a->from < b->from;
  return a->edge < b->edge;
}

int analysis_find_paths(const graph *g, graph_id target, unsigned max,
                        unsigned flags, analysis_paths *out, char *err,
                        size_t errlen) {
  memset(out, 0, sizeof *out);
  if (target >= g->n) {
    snprintf(err, errlen, "node %u is not in this snapshot (it has %u nodes)",
             target, g->n);
    return -1;
  }
  if (max == 0) max = 1;
  if (max > ANALYSIS_MAX_PATHS) max = ANALYSIS_MAX_PATHS;
  out->path = calloc(max, sizeof *out->path);
  if (!out->path) goto oom;
  if (target == GRAPH_ROOT) {
    out->count = 1; /* the root is where every path starts: the empty one */
    return 0;
  }
  size_t n = g->n;
  uint32_t *via = malloc(n * sizeof *via);   /* edge that reached v */
  uint32_t *dist = malloc(n * sizeof *dist);
  graph_id *queue = malloc(n * sizeof *queue);
  cand *best = malloc(max * sizeof *best);
  if (!via || !dist || !queue || !best) {
    free(via); free(dist); free(queue); free(best);
    goto oom;
  }
  /* Breadth first from the root, never through the target: the paths to
  ** its retainers are then simple paths that end at the target. */
  memset(via, 0xFF, n * sizeof *via);
  memset(dist, 0xFF, n * sizeof *dist);
  size_t head = 0, tail = 0;
  dist[GRAPH_ROOT] = 0;
  queue[tail++] = GRAPH_ROOT;
  while (head < tail) {
    graph_id v = queue[head++];
    if (v == target) continue;
    for (uint32_t e = g->first[v]; e < g->first[v + 1]; e++) {
      if ((flags & ANALYSIS_STRONG_ONLY) && graph_edge_is_weak(g, e)) continue;
      graph_id w = g->to[e];
      if (dist[w] != UINT32_MAX) continue;
      dist[w] = dist[v] + 1;
      via[w] = e;
      queue[tail++] = w;
    }
  }
  /* Every edge into the target from a reached node other than itself is
  ** a candidate; keep the max shortest, in order. */
  size_t nbest = 0;
  if (dist[target] != UINT32_MAX) {
    for (graph_id v = 0; v < g->n; v++) {
      if (v == target || dist[v] == UINT32_MAX) continue;
      for (uint32_t e = g->first[v]; e < g->first[v + 1]; e++) {
        if (g->to[e] != target) continue;
        if ((flags & ANALYSIS_STRONG_ONLY) && graph_edge_is_weak(g, e)) continue;
        cand c = {dist[v] + 1, e, v};
        if (nbest == max && !cand_before(&c, &best[max - 1])) continue;
        size_t i = nbest < max ? nbest++ : max - 1;
        while (i > 0 && cand_before(&c, &best[i - 1])) {
          best[i] = best[i - 1];
          i--;
        }
        best[i] = c;
      }
    }
  }
  for (size_t k = 0; k < nbest; k++) {
    analysis_path *p = &out->path[k];
    p->len = best[k].len;
    p->edge = malloc(p->len * sizeof *p->edge);
    if (!p->edge) {
      free(via); free(dist); free(queue); free(best);
      goto oom;
    }
    out->count = k + 1;
    uint32_t i = p->len;
    p->edge[--i] = best[k].edge;
    for (graph_id v = best[k].from; v != GRAPH_ROOT; v = analysis_edge_source(g, via[v]))
      p->edge[--i] = via[v];
  }
  free(via); free(dist); free(queue); free(best);
  return 0;
oom:
  analysis_paths_free(out);
  snprintf(err, errlen, "out of memory searching paths in %u nodes", g->n);
  return -1;
}

void analysis_paths_free(analysis_paths *p) {
  if (p->path)
    for (size_t k = 0; k < p->count; k++) free(p->path[k].edge);
  free(p->path);
  memset(p, 0, sizeof *p);
}

int analysis_bfs_tree(const graph *g, unsigned flags, uint32_t **via_out,
                      char *err, size_t errlen) {
  size_t n = g->n;
  uint32_t *via = malloc(n * sizeof *via);
  graph_id *queue = malloc(n * sizeof *queue);
  if (!via || !queue) {
    free(via); free(queue);
    *via_out = NULL;
    snprintf(err, errlen, "out of memory searching paths in %u nodes", g->n);
    return -1;
  }
  memset(via, 0xFF, n * sizeof *via);
  size_t head = 0, tail = 0;
  queue[tail++] = GRAPH_ROOT;
  while (head < tail) {
    graph_id v = queue[head++];
    for (uint32_t e = g->first[v]; e < g->first[v + 1]; e++) {
      if ((flags & ANALYSIS_STRONG_ONLY) && graph_edge_is_weak(g, e)) continue;
      graph_id w = g->to[e];
      if (w == GRAPH_ROOT || via[w] != UINT32_MAX) continue;
      via[w] = e;
      queue[tail++] = w;
    }
  }
  free(queue);
  *via_out = via;
  return 0;
}

int analysis_tree_path(const graph *g, const uint32_t *via, graph_id v,
                       analysis_path *out) {
  out->len = 0;
  out->edge = NULL;
  if (v != GRAPH_ROOT && via[v] == UINT32_MAX) return 0;
  uint32_t len = 0;
  for (graph_id x = v; x != GRAPH_ROOT; x = analysis_edge_source(g, via[x]))
    len++;
  out->edge = malloc((len ? len : 1) * sizeof *out->edge);
  if (!out->edge) return -1;
  out->len = len;
  for (graph_id x = v; x != GRAPH_ROOT; x = analysis_edge_source(g, via[x]))
    out->edge[--len] = via[x];
  return 0;
}
