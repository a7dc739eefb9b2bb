/*
** analysis_summary.c
** Summary of a snapshot by (kind, type) — count, shallow and retained
** bytes — and the top retainers by retained size.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis.h"

/* Rows are found by a (kind, type) key in an open-addressing table. */
typedef struct rowmap {
  uint64_t *key;
  uint32_t *row;   /* row index + 1; 0 = empty */
  uint32_t nslot;
} rowmap;

static uint64_t row_key(const graph *g, graph_id v) {
  return ((uint64_t)g->type[v] << 8) | g->kind[v];
}

/* Row of node v, adding one if new; UINT32_MAX if out of memory. */
static uint32_t row_of(rowmap *m, analysis_summary *s, uint64_t key,
                       size_t *cap) {
  uint32_t j = (uint32_t)graph_mix(0, key) & (m->nslot - 1);
  while (m->row[j]) {
    if (m->key[j] == key) return m->row[j] - 1;
    j = (j + 1) & (m->nslot - 1);
  }
  if ((s->nrows + 1) * 2 > m->nslot) { /* keep the table half empty */
    uint32_t nslot = m->nslot * 2;
    uint64_t *k2 = calloc(nslot, sizeof *k2);
    uint32_t *r2 = calloc(nslot, sizeof *r2);
    if (!k2 || !r2) {
      free(k2); free(r2);
      return UINT32_MAX;
    }
    for (uint32_t i = 0; i < m->nslot; i++) {
      if (!m->row[i]) continue;
      uint32_t t = (uint32_t)graph_mix(0, m->key[i]) & (nslot - 1);
      while (r2[t]) t = (t + 1) & (nslot - 1);
      k2[t] = m->key[i];
      r2[t] = m->row[i];
    }
    free(m->key); free(m->row);
    m->key = k2; m->row = r2; m->nslot = nslot;
    return row_of(m, s, key, cap);
  }
  if (s->nrows == *cap) {
    size_t c = *cap ? *cap * 2 : 64;
    analysis_type *rows = realloc(s->rows, c * sizeof *rows);
    if (!rows) return UINT32_MAX;
    s->rows = rows;
    *cap = c;
  }
  analysis_type *r = &s->rows[s->nrows];
  memset(r, 0, sizeof *r);
  r->kind = (uint32_t)(key & 0xFF);
  r->type = (uint32_t)(key >> 8);
  m->key[j] = key;
  m->row[j] = (uint32_t)++s->nrows;
  return (uint32_t)(s->nrows - 1);
}

/* Add to each row the retained sizes of its nodes that no other node of
** the same row dominates: a depth-first walk of the dominator tree keeps,
** per row, how many of the current node's dominators belong to it. */
static int add_retained(const graph *g, const analysis_dom *d,
                        const uint32_t *rowid, analysis_summary *s) {
  size_t n = g->n;
  uint32_t *coff = calloc(n + 1, sizeof *coff);
  uint32_t *kids = malloc((n ? n : 1) * sizeof *kids);
  uint32_t *cur = malloc((n ? n : 1) * sizeof *cur);
  uint32_t *stack = malloc((n ? n : 1) * sizeof *stack);
  uint32_t *open = calloc(s->nrows ? s->nrows : 1, sizeof *open);
  if (!coff || !kids || !cur || !stack || !open) {
    free(coff); free(kids); free(cur); free(stack); free(open);
    return -1;
  }
  /* Children of v in the dominator tree: kids[coff[v] .. coff[v+1]). */
  for (graph_id v = 1; v < g->n; v++)
    if (d->idom[v] != GRAPH_NONE) coff[d->idom[v] + 1]++;
  for (size_t v = 0; v < n; v++) coff[v + 1] += coff[v];
  memcpy(cur, coff, n * sizeof *cur);
  for (graph_id v = 1; v < g->n; v++)
    if (d->idom[v] != GRAPH_NONE) kids[cur[d->idom[v]]++] = v;
  memcpy(cur, coff, n * sizeof *cur);
  uint32_t sp = 0;
  stack[sp++] = GRAPH_ROOT;
  while (sp) {
    graph_id v = stack[sp - 1];
    if (cur[v] < coff[v + 1]) {
      graph_id w = kids[cur[v]++];
      uint32_t r = rowid[w];
      if (open[r] == 0) s->rows[r].retained += d->retained[w];
      open[r]++;
      stack[sp++] = w;
    } else {
      if (v != GRAPH_ROOT) open[rowid[v]]--;
      sp--;
    }
  }
  free(coff); free(kids); free(cur); free(stack); free(open);
  return 0;
}

static int cmp_rows(const void *pa, const void *pb) {
  const analysis_type *a = pa, *b = pb;
  if (a->retained != b->retained) return a->retained > b->retained ? -1 : 1;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
  return a->type < b->type ? -1 : a->type > b->type;
}

int analysis_summarize(const graph *g, const analysis_dom *d,
                       analysis_summary *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  assert(d->n == g->n);
  rowmap m = {calloc(64, 8), calloc(64, 4), 64};
  uint32_t *rowid = malloc((g->n ? g->n : 1) * sizeof *rowid);
  size_t cap = 0;
  if (!m.key || !m.row || !rowid) goto oom;
  s->nodes = g->n - 1;
  s->edges = g->m;
  s->reachable = d->reachable ? d->reachable - 1 : 0;
  for (graph_id v = 1; v < g->n; v++) {
    uint32_t r = row_of(&m, s, row_key(g, v), &cap);
    if (r == UINT32_MAX) goto oom;
    rowid[v] = r;
    s->rows[r].count++;
    s->rows[r].shallow += g->size[v];
    s->shallow += g->size[v];
    /* Nodes no strong path reaches are roots of their own. */
    if (d->idom[v] == GRAPH_NONE) s->rows[r].retained += d->retained[v];
  }
  rowid[GRAPH_ROOT] = UINT32_MAX;
  if (add_retained(g, d, rowid, s)) goto oom;
  if (s->nrows) qsort(s->rows, s->nrows, sizeof *s->rows, cmp_rows);
  free(m.key); free(m.row); free(rowid);
  return 0;
oom:
  free(m.key); free(m.row); free(rowid);
  analysis_summary_free(s);
  snprintf(err, errlen, "out of memory summarising %u nodes", g->n);
  return -1;
}

void analysis_summary_free(analysis_summary *s) {
  free(s->rows);
  memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- */
/* Top retainers                                                     */
/* ---------------------------------------------------------------- */

/* 1 if node a ranks below node b: smaller retained, or equal and later. */
static int ranks_below(const analysis_dom *d, graph_id a, graph_id b) {
  if (d->retained[a] != d->retained[b]) return d->retained[a] < d->retained[b];
  return a > b;
}

/* Restore the min-heap (lowest rank at 0) below position i. */
static void sift_down(const analysis_dom *d, graph_id *h, size_t k, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, lo = i;
    if (l < k && ranks_below(d, h[l], h[lo])) lo = l;
    if (r < k && ranks_below(d, h[r], h[lo])) lo = r;
    if (lo == i) return;
    graph_id t = h[i]; h[i] = h[lo]; h[lo] = t;
    i = lo;
  }
}

size_t analysis_top(const analysis_dom *d, uint64_t offset, size_t limit,
                    graph_id *out) {
  if (d->n <= 1 || limit == 0 || offset >= d->n - 1) return 0;
  uint64_t want = offset + limit;
  size_t k = want < d->n - 1 ? (size_t)want : d->n - 1;
  graph_id *h = malloc(k * sizeof *h);
  if (!h) return 0;
  size_t used = 0;
  for (graph_id v = 1; v < d->n; v++) {
    if (used < k) {
      h[used++] = v;
      if (used == k)
        for (size_t i = k / 2 + 1; i-- > 0;) sift_down(d, h, k, i);
    } else if (ranks_below(d, h[0], v)) {
      h[0] = v;
      sift_down(d, h, k, 0);
    }
  }
  if (used < k) { /* fewer nodes than asked: heapify what there is */
    k = used;
    for (size_t i = k / 2 + 1; i-- > 0;) sift_down(d, h, k, i);
  }
  /* Pop the lowest to the back: h ends up sorted best first. */
  for (size_t end = k; end > 1; end--) {
    graph_id t = h[0]; h[0] = h[end - 1]; h[end - 1] = t;
    sift_down(d, h, end - 1, 0);
  }
  size_t got = 0;
  for (size_t i = (size_t)offset; i < k && got < limit; i++) out[got++] = h[i];
  free(h);
  return got;
}
