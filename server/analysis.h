/*
** analysis.h
** Heap analysis of snapshots: summary by type, dominators and retained
** sizes, paths from the roots, top retainers, diff of two snapshots, the
** three-snapshot leak filter, Chrome .heapsnapshot export; their JSON and
** command-line forms. docs/analysis.md gives the rules and the algorithms.
*/
#ifndef AMBER_ANALYSIS_H
#define AMBER_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "graph.h"
#include "json.h"
#include "store.h"

/* ------------------------------------------------------------------ */
/* Dominators and retained sizes (analysis_dom.c)                      */
/* ------------------------------------------------------------------ */

/* Only strong references retain: weak ones are left out. A node nothing
** holds strongly (reached only through weak references, so collectable)
** hangs off the root and retains what only it holds, as Chrome DevTools
** counts it. Nodes that still have no dominator (strong cycles held only
** weakly) have idom GRAPH_NONE and retain only themselves; the root has
** idom GRAPH_NONE too. */
typedef struct analysis_dom {
  uint32_t n;
  graph_id *idom;      /* per node: immediate dominator */
  uint64_t *retained;  /* per node: bytes freed if it were freed */
  uint32_t reachable;  /* nodes reached from the root by strong references */
} analysis_dom;

/* Compute d for g (Semi-NCA, iterative). 0, or -1 with err set. */
int analysis_dominators(const graph *g, analysis_dom *d, char *err,
                        size_t errlen);
void analysis_dom_free(analysis_dom *d);
/* 1 if a dominates b (every node dominates itself). Walks the tree. */
int analysis_dominates(const analysis_dom *d, graph_id a, graph_id b);

/* ------------------------------------------------------------------ */
/* Summary by type, top retainers (analysis_summary.c)                 */
/* ------------------------------------------------------------------ */

/* One row per (kind, type). retained counts each byte once: nodes
** dominated by another node of the same row add nothing. */
typedef struct analysis_type {
  uint32_t kind, type;      /* name indices in the graph (type 0 = none) */
  uint64_t count, shallow, retained;
} analysis_type;

typedef struct analysis_summary {
  analysis_type *rows;      /* largest retained first, then by count */
  size_t nrows;
  uint64_t nodes, edges, reachable, shallow;
} analysis_summary;

int analysis_summarize(const graph *g, const analysis_dom *d,
                       analysis_summary *s, char *err, size_t errlen);
void analysis_summary_free(analysis_summary *s);

/* The nodes with the largest retained sizes (root excluded; ties by id),
** skipping offset: writes at most limit ids to out, returns how many. */
size_t analysis_top(const analysis_dom *d, uint64_t offset, size_t limit,
                    graph_id *out);

/* ------------------------------------------------------------------ */
/* Paths from the root (analysis_path.c)                               */
/* ------------------------------------------------------------------ */

#define ANALYSIS_STRONG_ONLY 1u  /* ignore weak references */
#define ANALYSIS_MAX_PATHS 64    /* most paths one query returns */

/* A path as graph edge indices: edge[0] leaves the root, edge[len-1]
** reaches the target; each edge leaves the target of the one before. */
typedef struct analysis_path {
  uint32_t len;
  uint32_t *edge;
} analysis_path;

typedef struct analysis_paths {
  analysis_path *path;  /* shortest first */
  size_t count;
} analysis_paths;

/* Up to max shortest paths from the root to target, each through a
** different last retainer (breadth first; simple paths only). count is 0
** if nothing reaches target; the root itself has one empty path. */
int analysis_find_paths(const graph *g, graph_id target, unsigned max,
                        unsigned flags, analysis_paths *out, char *err,
                        size_t errlen);
void analysis_paths_free(analysis_paths *p);
/* The breadth-first tree from the root: (*via)[v] is the edge that first
** reached v, UINT32_MAX for the root and for nodes nothing reaches. free()
** it. 0, or -1 with err set. */
int analysis_bfs_tree(const graph *g, unsigned flags, uint32_t **via,
                      char *err, size_t errlen);
/* v's path in that tree into out (len 0 if none; free out->edge).
** 0, or -1 if out of memory. */
int analysis_tree_path(const graph *g, const uint32_t *via, graph_id v,
                       analysis_path *out);
/* The node an edge leaves (binary search in g->first). */
graph_id analysis_edge_source(const graph *g, uint32_t e);

/* ------------------------------------------------------------------ */
/* Matching, diff and leaks (analysis_diff.c)                          */
/* ------------------------------------------------------------------ */

/* How nodes of two snapshots are paired (docs/analysis.md, "Matching"). */
enum analysis_match_mode {
  ANALYSIS_MATCH_AUTO = 0, /* by address if the same process, else by path */
  ANALYSIS_MATCH_ADDRESS,  /* by VM address, then by path for the rest */
  ANALYSIS_MATCH_PATH      /* by path from the root only */
};

/* Node states in a diff. */
enum analysis_state {
  ANALYSIS_SAME = 0, ANALYSIS_CHANGED, ANALYSIS_ADDED, ANALYSIS_REMOVED
};

/* Counts and sizes of one (kind, type) in a diff. */
typedef struct analysis_diff_type {
  const char *kind, *type;   /* borrowed from the graphs */
  uint64_t count_a, count_b, size_a, size_b;
  uint64_t added, removed, changed, added_size, removed_size;
} analysis_diff_type;

/* The two graphs must be built with GRAPH_IDENTITY. */
typedef struct analysis_diff {
  const graph *a, *b;
  enum analysis_match_mode mode;  /* what was used (never AUTO) */
  graph_id *a2b, *b2a;             /* partner, or GRAPH_NONE */
  uint64_t matched_by_address, matched_by_path;
  uint64_t same, changed, added, removed;
  uint64_t added_size, removed_size;
  analysis_diff_type *types; size_t ntypes; /* most added bytes first */
} analysis_diff;

/* Pair the nodes of a and b. 0, or -1 with err set. */
int analysis_match(const graph *a, const graph *b,
                   enum analysis_match_mode mode, graph_id *a2b,
                   graph_id *b2a, uint64_t *by_address, uint64_t *by_path,
                   char *err, size_t errlen);
/* Diff a against b; mode must not be AUTO (the caller decides from the
** snapshots' machines). */
int analysis_diff_graphs(const graph *a, const graph *b,
                         enum analysis_match_mode mode, analysis_diff *d,
                         char *err, size_t errlen);
/* State of node v of b (ADDED, CHANGED, SAME) or of a (REMOVED, …). */
enum analysis_state analysis_diff_state_b(const analysis_diff *d, graph_id v);
enum analysis_state analysis_diff_state_a(const analysis_diff *d, graph_id v);
void analysis_diff_free(analysis_diff *d);

/* Leaks: nodes of target that no node of baseline matches and that a node
** of final still matches (created between baseline and target, alive at
** final). *out (free()) gets their ids in target, in id order. */
int analysis_leaks(const graph *baseline, const graph *target,
                   const graph *final, enum analysis_match_mode mode_ab,
                   enum analysis_match_mode mode_bc, graph_id **out,
                   size_t *count, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Stored snapshots (analysis_store.c)                                 */
/* ------------------------------------------------------------------ */

/* Every function below returns a store status (STORE_OK, STORE_ENOTFOUND
** for a missing snapshot or node, STORE_EUSAGE for a bad argument, …)
** and on failure a message in err[errlen] that says what to do. */

/* Build the graph of snapshot snap (flags: GRAPH_IDENTITY for diffs). */
int analysis_load(store *s, int64_t snap, unsigned flags, graph **out,
                  char *err, size_t errlen);

/* Dominators, retained sizes and the summary are computed once per
** snapshot and kept in side tables of the store's database (docs/
** analysis.md, "Storage"). Compute them now if they are missing or stale:
** call after an ingest, off the event loop, so that the first request is
** fast. *computed (may be NULL) is 1 if work was done. */
int analysis_prepare(store *s, int64_t snap, int *computed, char *err,
                     size_t errlen);
/* 1 if snap's results are kept and fresh (the next request reads them
** instead of computing), else 0: none, stale, or they could not be kept
** (a read-only or busy database, a snapshot too large to keep). */
int analysis_kept(store *s, int64_t snap);
/* The cached dominators of snap, computing them if needed. */
int analysis_get_dom(store *s, int64_t snap, analysis_dom *d, char *err,
                     size_t errlen);
/* Drop what is kept for snap: call when the snapshot is deleted. */
void analysis_forget(store *s, int64_t snap);

/* One row of a snapshot's summary by type; strings are valid during the
** callback only (type NULL when the nodes have none). */
typedef struct analysis_row {
  const char *kind;
  const char *type; size_t type_len;
  uint64_t count, shallow, retained;
} analysis_row;
typedef int (*analysis_row_fn)(void *ud, const analysis_row *r);
/* Whole-snapshot figures that come with a summary (the root not counted). */
typedef struct analysis_totals {
  uint64_t nodes, refs, reachable, shallow;
  uint64_t rows;            /* rows in the whole summary */
} analysis_totals;
/* Rows [offset, offset+limit) of snap's summary (limit 0 = all), largest
** retained first; fn returning nonzero stops early. */
int analysis_summary_rows(store *s, int64_t snap, uint64_t offset,
                          uint64_t limit, analysis_row_fn fn, void *ud,
                          analysis_totals *totals, char *err, size_t errlen);

/* Which snapshots of a machine's process two snapshots come from decides
** AUTO matching: the same machine row and process id means by address. */
enum analysis_match_mode analysis_auto_mode(store *s, int64_t a, int64_t b);
/* Steps of a path shown in text and JSON; a longer path shows its first
** and last halves of that, and how many steps lie between. */
#define ANALYSIS_PATH_SHOWN 200
/* A path as text in the store's path syntax (docs/store.md, "Paths"):
** `globals.app.cache[3]`; a step to a table's key object reads `{key @ID}`
** (the syntax has no such step). Appended to out. */
int analysis_path_text(store *s, int64_t snap, const graph *g,
                       const analysis_path *p, wire_buf *out);
/* The store edge behind graph edge e (its from and seq, label, value). */
int analysis_edge_record(store *s, int64_t snap, const graph *g, uint32_t e,
                         store_edge *out, wire_buf *scratch);

/* ------------------------------------------------------------------ */
/* JSON for the HTTP API (analysis_json.c)                             */
/* ------------------------------------------------------------------ */

/* Each writes one JSON object into w; lists are paged by offset/limit
** (limit 0 = the default page of 100; at most 10000) and say their total.
** docs/analysis.md, "JSON", shows every shape. */

/* {snapshot, nodes, edges, reachable, shallow, total, types:[{kind, type,
** count, shallow, retained}]} */
int analysis_summary_json(store *s, int64_t snap, json_writer *w,
                          uint64_t offset, uint64_t limit, char *err,
                          size_t errlen);
/* {snapshot, total, nodes:[{id, kind, type, shallow, retained, idom}]} */
int analysis_top_json(store *s, int64_t snap, json_writer *w,
                      uint64_t offset, uint64_t limit, char *err,
                      size_t errlen);
/* {snapshot, node, retained, idom, dominators:[ids up to the root],
** total, dominated:[{id, kind, type, shallow, retained}]} — the node's
** place in the dominator tree and the nodes it dominates directly. */
int analysis_dominator_json(store *s, int64_t snap, uint64_t node,
                            json_writer *w, uint64_t offset, uint64_t limit,
                            char *err, size_t errlen);
/* {snapshot, node, retained, idom, offset, retainers:[{edge, retained,
** dominator}]}: the edges that hold node (the store's retainers, paged;
** edge as the API renders it, with its source), each with the retained
** size of the node it leaves and whether that node is node's immediate
** dominator. */
int analysis_retainers_json(store *s, int64_t snap, uint64_t node,
                            json_writer *w, uint64_t offset, uint64_t limit,
                            char *err, size_t errlen);
/* {snapshot, node, paths:[[{from, kind, name|index|key, to, weak}…]…]}:
** up to max (≤ ANALYSIS_MAX_PATHS) shortest paths from the root. */
int analysis_path_json(store *s, int64_t snap, uint64_t node, unsigned max,
                       unsigned flags, json_writer *w, char *err,
                       size_t errlen);

/* What a diff lists. */
typedef struct analysis_diff_opts {
  enum analysis_match_mode mode;
  int show;                 /* bit set of 1 << enum analysis_state to list;
                               0 = removed, changed and added */
  unsigned max_fields;      /* field changes shown per changed node (default 20) */
} analysis_diff_opts;

/* {a, b, match, added, removed, changed, same, added_size, removed_size,
** types:[…], total, nodes:[{state, a, b, kind, type, shallow, fields:[{
** old, new}], fields_total}]}, old and new being edges as the API renders
** them (or null); nodes in the order removed, changed, added, same. */
int analysis_diff_json(store *s, int64_t a, int64_t b,
                       const analysis_diff_opts *o, json_writer *w,
                       uint64_t offset, uint64_t limit, char *err,
                       size_t errlen);
/* {baseline, target, final, total, size, types:[…], nodes:[{id, kind,
** type, size, path}]}: the leak filter, ids in target. */
int analysis_leaks_json(store *s, int64_t baseline, int64_t target,
                        int64_t final, json_writer *w, uint64_t offset,
                        uint64_t limit, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Chrome DevTools export (heapsnapshot.c)                             */
/* ------------------------------------------------------------------ */

/* Write snapshot snap as a Chrome .heapsnapshot (JSON with V8's full
** meta) through w (a nonzero return stops it: STORE_EIO), in bounded
** extra memory beyond the analysis graph; for an HTTP reply. */
int analysis_heapsnapshot_to(store *s, int64_t snap, store_write_fn w,
                             void *ud, char *err, size_t errlen);
/* The same into a stdio stream. */
int analysis_heapsnapshot(store *s, int64_t snap, FILE *f, char *err,
                          size_t errlen);

/* ------------------------------------------------------------------ */
/* Command line (cli_analysis.c)                                        */
/* ------------------------------------------------------------------ */

/* `amber diff A B`, `amber summary S`, `amber path S NODE`, `amber top S`,
** `amber leaks A B C`, `amber dominators S NODE`, `amber export-heapsnapshot
** S FILE`. argv[0] is the command name. Exit codes: 0 done, 1 failed
** (no such snapshot, damaged data), 2 usage error. */
int amber_cmd_diff(int argc, char **argv);
int amber_cmd_summary(int argc, char **argv);
int amber_cmd_path(int argc, char **argv);
int amber_cmd_top(int argc, char **argv);
int amber_cmd_leaks(int argc, char **argv);
int amber_cmd_dominators(int argc, char **argv);
int amber_cmd_export_heapsnapshot(int argc, char **argv);

#endif
