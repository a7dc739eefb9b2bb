/*
** store_impl.h
** Internals shared by the store's files (store*.c): the handle, row keys
** and columns, packed edges and the edge cursor, and error reporting.
** Nothing outside store*.c includes this; the door is store.h.
*/
#ifndef AMBER_STORE_IMPL_H
#define AMBER_STORE_IMPL_H

#include <sqlite3.h>
#include "store.h"

/* Row keys: nodes, chunks and references are keyed by snapshot << 40 |
** position, so a snapshot's rows are one contiguous, append-ordered key
** range and need no separate (snapshot, id) index. Computed unsigned:
** callers check the snapshot exists (its id is below 2^23) first. */
#define STORE_SHIFT 40
#define store_rid(snap, pos) \
  ((int64_t)(((uint64_t)(snap) << STORE_SHIFT) | (uint64_t)(pos)))
_Static_assert(STORE_MAX_IDS == (uint64_t)1 << STORE_SHIFT,
               "row keys hold a position below STORE_MAX_IDS");
_Static_assert(STORE_MAX_SNAPSHOTS == (int64_t)1 << (63 - STORE_SHIFT),
               "row keys stay positive");

/* Packed nodes (store_page.c): a page row holds up to this many
** consecutive nodes, and ends early once it holds this many bytes (a node
** bigger than that has a page to itself). */
#define STORE_PAGE_NODES 256
#define STORE_PAGE_BYTES 65536

/* Packed edges (store_chunk.c): a chunk row holds up to this many
** consecutive edges, of one node or many, and ends early once it holds
** this many bytes. */
#define STORE_CHUNK_EDGES 4096
#define STORE_CHUNK_BYTES 65536

/* ---- multi-row inserts (store_batch.c) ---- */

/* Rows of one table collect in memory and go to SQLite this many to a
** statement: the fixed cost of a statement (a cursor opened and closed per
** index, the halt) was about half of what a node row cost. A batch is
** flushed early once it holds STORE_BATCH_BYTES; a row with more bytes
** than that is not copied but bound straight into a one-row statement. */
#define STORE_BATCH_ROWS 64
#define STORE_BATCH_BYTES 262144

typedef struct store_batch {
  sqlite3_stmt *one;        /* INSERT … VALUES(?,…): one row */
  sqlite3_stmt *many;       /* the same, STORE_BATCH_ROWS rows */
  int ncols;
  int col;                  /* next column of the row being added */
  int rows;                 /* complete rows held */
  int direct;               /* the row being added binds into `one` */
  wire_buf cells;           /* the rows held: tagged values */
  const char *what;         /* "storing nodes", for error messages */
} store_batch;

/* Prepare the statements for `head` ("INSERT OR FAIL INTO t(a, b)") with
** ncols columns. The conflict clause must not be ABORT (the default): a
** multi-row ABORT needs a statement journal, which costs more than the
** batch saves. Returns STORE_OK or an error set on s. */
int store_batch_prepare(store *s, store_batch *b, const char *head, int ncols,
                        const char *what);
void store_batch_finalize(store_batch *b);
/* Begin a row whose byte values add up to about `bytes`. */
int store_batch_row(store *s, store_batch *b, size_t bytes);
/* The row's values, in column order. Pointers must stay valid until
** store_batch_row_end; NULL stores NULL. */
void store_batch_null(store_batch *b);
void store_batch_int(store_batch *b, int64_t v);
void store_batch_blob(store_batch *b, const void *p, size_t n);
void store_batch_text(store_batch *b, const char *p);
/* End the row; it is inserted now or with its batch. */
int store_batch_row_end(store *s, store_batch *b);
/* Insert the rows held. */
int store_batch_flush(store *s, store_batch *b);
/* Drop the rows held (the transaction is being rolled back). */
void store_batch_clear(store_batch *b);

struct store {
  sqlite3 *db;
  char *path;
  unsigned flags;
  char err[512];
  /* Ingests alive on this store, the one holding the write transaction,
  ** and the ones waiting for it (first in first out). */
  store_ingest *ingests;
  store_ingest *writer;
  store_ingest *wait_head, *wait_tail;
  int draining;             /* guards store_writer_release against reentry */
  /* The writer's inserts, prepared once: page and chunk rows are few
  ** and big, so one at a time. */
  sqlite3_stmt *ins_page;
  sqlite3_stmt *ins_chunk;
};

/* Set s's error message (printf-style) and return code. */
int store_fail(store *s, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Map a SQLite result to a store status with a message naming what was
** being done. */
int store_fail_sql(store *s, int rc, const char *doing);
/* Run SQL without results; STORE_OK or an error set on s. */
int store_exec(store *s, const char *sql);
/* Prepare; NULL with the error set on s. */
sqlite3_stmt *store_prepare(store *s, const char *sql);
/* Milliseconds since the epoch, by the server's clock. */
int64_t store_now_ms(void);

/* Look up a committed snapshot's counts; STORE_ENOTFOUND with a message if
** there is none. */
int store_snapshot_counts(store *s, int64_t snap, uint64_t *nodes,
                          uint64_t *edges);

/* STORE_ECORRUPT with a message naming the row. */
int store_corrupt(store *s, int64_t snap, const char *what, uint64_t id,
                  const char *why);

/* ---- varints (store_chunk.c), shared by the packed formats ---- */

/* Append v as a LEB128 varint. */
void store_put_varint(wire_buf *b, uint64_t v);
/* Read a varint at *p (before end) into *v; -1 if it is cut short. */
int store_get_varint(const unsigned char **p, const unsigned char *end,
                     uint64_t *v);
/* Signed integers as varints: 0, -1, 1, -2 … become 0, 1, 2, 3 …. */
static inline uint64_t store_zigzag(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t store_unzigzag(uint64_t u) {
  return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* ---- packed nodes (store_page.c) ---- */

/* Append node n in the packed node format, with room for its edge count,
** which is not known until its last edge: returns where that goes. */
#define STORE_NEDGES_ROOM 6
size_t store_node_encode(wire_buf *b, const wire_node *n);
/* Write the edge count of the node encoded last in b, at `at`. */
void store_node_set_edges(wire_buf *b, size_t at, uint64_t nedges);

/* A decoder over the count nodes of a page row, the first being node
** `first` whose first edge is at position e0. */
typedef struct store_page {
  const unsigned char *p, *end;
  uint64_t left;
  uint64_t id;            /* the next node's id */
  uint64_t e0;            /* and its first edge's position */
} store_page;
void store_page_init(store_page *pg, const void *p, size_t n, uint64_t first,
                     uint64_t count, uint64_t e0);
/* Decode the next node (pg->left > 0) into *out, its strings pointing into
** the page; *e0 is its first edge's position. Returns 0, or -1 with the
** reason in *why. */
int store_page_next(store_page *pg, store_node *out, uint64_t *e0,
                    const char **why);

/* Random access to one snapshot's nodes: the page last read stays loaded,
** so nearby lookups cost no query. */
typedef struct store_pages {
  store *s;
  int64_t snap;
  uint64_t nodes, edges;  /* the snapshot's counts */
  sqlite3_stmt *st;       /* the loaded page's row */
  int loaded;
  uint64_t first, count, e0;
  store_page at;          /* decoding position within the loaded page */
} store_pages;
/* Open on a committed snapshot (STORE_ENOTFOUND if there is none). */
int store_pages_open(store_pages *p, store *s, int64_t snap);
/* Node id (< nodes) into *out, borrowing from the page until the next call;
** *e0 is its first edge's position. STORE_OK or an error set on s. */
int store_pages_node(store_pages *p, uint64_t id, store_node *out,
                     uint64_t *e0);
void store_pages_close(store_pages *p);

/* ---- packed edges (store_chunk.c) ---- */

/* The code of an edge kind name in the packed format, 0 if it has none. */
int store_edge_kind(const char *kind);
/* The edge encoded last in a chunk: an index one past its own is written
** as "the next" (reset it, zeroed, where a chunk begins). */
typedef struct store_edge_prev {
  int has_index;
  int64_t index;
} store_edge_prev;
/* Append edge e, whose kind has the code given, in the packed format. */
void store_edge_encode(wire_buf *b, const wire_edge *e, int code, store_edge_prev *prev);

/* A decoder over count packed edges in n bytes at p. */
typedef struct store_chunk {
  const unsigned char *p, *end;
  uint64_t left;
  int has_last;           /* the edge decoded last, for "the next index" */
  int64_t last;
} store_chunk;
void store_chunk_init(store_chunk *c, const void *p, size_t n, uint64_t count);
/* Decode the next edge (c->left > 0); its strings point into the chunk.
** Returns 0, or -1 with the reason in *why. */
int store_chunk_next(store_chunk *c, wire_edge *e, const char **why);

/* The edges of one node, in order, from the chunk rows that hold them
** (store_edges.c). */
typedef struct store_ecur {
  store *s;
  int64_t snap;
  uint64_t node, e0, nedges;
  uint64_t pos;          /* position of the next edge */
  sqlite3_stmt *cst;     /* chunk rows from the one holding pos on */
  store_chunk c;
} store_ecur;
/* Position a cursor at edge seq `skip` of the nedges edges of node `node`,
** the first at position e0 (store_pages_node tells both). */
int store_ecur_open(store_ecur *c, store *s, int64_t snap, uint64_t node,
                    uint64_t e0, uint64_t nedges, uint64_t skip);
/* The same, looking the node up first. */
int store_ecur_open_node(store_ecur *c, store *s, int64_t snap, uint64_t node,
                         uint64_t skip);
/* The next edge into *out (*got = 1), or the end (*got = 0). */
int store_ecur_next(store_ecur *c, store_edge *out, int *got);
void store_ecur_close(store_ecur *c);

/* 1 if snapshot snap is committed (state complete). */
int store_snapshot_exists(store *s, int64_t snap);
/* Delete the index rows of snapshot snap (store_index.c), inside the
** caller's transaction. */
int store_index_drop(store *s, int64_t snap);

/* Rewrite a version-3 database's nodes and edges in the packed formats of
** version 4 (store_migrate.c), inside the migration's transaction. */
int store_migrate_v4(store *s);

/* Writer hand-over between ingests of one store (store_ingest.c). */
void store_writer_release(store *s);
/* Abort and detach every ingest (store_close). */
void store_ingests_detach(store *s);

#endif
