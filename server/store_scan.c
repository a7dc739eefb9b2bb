/*
** store_scan.c
** Reading a whole snapshot back in order (nodes by id, each with its edges
** in sequence), and store_verify, which recomputes the content hash from
** the rows alone exactly as the ingest computed it from the stream.
*/
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* The reader's position: statements kept open between calls, and where in
** the current node's edges it stopped. Blobs the decoder points into stay
** valid because their statement is not stepped while they are read. */
struct store_reader {
  store *s;
  int64_t snap;
  int with_edges;
  uint64_t nodes, edges;  /* the snapshot's counts */
  sqlite3_stmt *nst;      /* node rows in id order, with their inline edges */
  sqlite3_stmt *next;     /* e0 of the following node, one step ahead */
  sqlite3_stmt *cst;      /* chunk rows in position order */
  uint64_t id;            /* the next node row to read */
  uint64_t epos;          /* position of the next edge */
  int in_node;            /* node id - 1 was delivered; its edges go on */
  uint64_t cur, e0, e1;   /* that node and its edge positions [e0, e1) */
  store_chunk ch;         /* its edges being decoded (inline or a chunk row) */
  int done;               /* everything was read and checked */
};

static int short_rows(store_reader *r, const char *what, uint64_t got, uint64_t want) {
  return store_fail(r->s, STORE_ECORRUPT, "snapshot %lld has %llu %s but "
                    "its count says %llu; the database is damaged",
                    (long long)r->snap, (unsigned long long)got, what,
                    (unsigned long long)want);
}

int store_reader_open(store *s, int64_t snap, unsigned flags, store_reader **out) {
  store_reader *r = calloc(1, sizeof *r);
  char sql[256];
  int rc;
  *out = NULL;
  if (!r) return store_fail(s, STORE_ENOMEM, "out of memory reading snapshot %lld",
                            (long long)snap);
  r->s = s;
  r->snap = snap;
  r->with_edges = !(flags & STORE_SCAN_NO_EDGES);
  rc = store_snapshot_counts(s, snap, &r->nodes, &r->edges);
  if (rc) {
    free(r);
    return rc;
  }
  snprintf(sql, sizeof sql, "SELECT %s%s FROM nodes WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid",
           (flags & STORE_SCAN_LIGHT) ? STORE_NODE_COLS_LIGHT : STORE_NODE_COLS,
           r->with_edges ? ", edges" : "");
  r->nst = store_prepare(s, sql);
  r->next = store_prepare(s, "SELECT e0 FROM nodes WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid");
  r->cst = r->with_edges ? store_prepare(s, "SELECT rid, src, n, data FROM edges"
                                         " WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid")
                         : NULL;
  if (!r->nst || !r->next || (r->with_edges && !r->cst)) {
    store_reader_close(r);
    return STORE_ESQL;
  }
  int64_t lo = store_rid(snap, 0), hi = store_rid(snap, STORE_MAX_IDS - 1);
  sqlite3_bind_int64(r->nst, 1, lo);
  sqlite3_bind_int64(r->nst, 2, hi);
  sqlite3_bind_int64(r->next, 1, lo + 1);
  sqlite3_bind_int64(r->next, 2, hi);
  if (r->cst) {
    sqlite3_bind_int64(r->cst, 1, lo);
    sqlite3_bind_int64(r->cst, 2, hi);
  }
  *out = r;
  return STORE_OK;
}

void store_reader_close(store_reader *r) {
  if (!r) return;
  sqlite3_finalize(r->nst);
  sqlite3_finalize(r->next);
  sqlite3_finalize(r->cst);
  free(r);
}

/* The next chunk row of the current node, which must continue at epos. */
static int next_chunk(store_reader *r) {
  int rc = sqlite3_step(r->cst);
  if (rc == SQLITE_DONE) return store_corrupt(r->s, r->snap, "edge", r->epos, "its chunk is missing");
  if (rc != SQLITE_ROW) return store_fail_sql(r->s, rc, "reading edges");
  uint64_t at = (uint64_t)sqlite3_column_int64(r->cst, 0) & (STORE_MAX_IDS - 1);
  int64_t n = sqlite3_column_int64(r->cst, 2);
  if (at != r->epos)
    return store_corrupt(r->s, r->snap, "edge", r->epos, "its chunk is missing");
  if (sqlite3_column_int64(r->cst, 1) != (int64_t)r->cur || n <= 0 ||
      (uint64_t)n > r->e1 - r->epos || sqlite3_column_type(r->cst, 3) != SQLITE_BLOB)
    return store_corrupt(r->s, r->snap, "edge", r->epos, "its chunk row is damaged");
  store_chunk_init(&r->ch, sqlite3_column_blob(r->cst, 3),
                   (size_t)sqlite3_column_bytes(r->cst, 3), (uint64_t)n);
  return STORE_OK;
}

/* Read the next node row and make it current: STORE_OK, READ_END after the
** last one (everything checked), or an error status. */
#define READ_END (-1)
static int next_node(store_reader *r, store_node *n) {
  store *s = r->s;
  int rc = sqlite3_step(r->nst);
  if (rc == SQLITE_DONE) {
    if (r->id != r->nodes) return short_rows(r, "node rows", r->id, r->nodes);
    if (r->with_edges && r->epos != r->edges) return short_rows(r, "edges", r->epos, r->edges);
    if (r->cst && sqlite3_step(r->cst) == SQLITE_ROW)
      return store_fail(s, STORE_ECORRUPT, "snapshot %lld has more edges than "
                        "its count says; the database is damaged", (long long)r->snap);
    return READ_END;
  }
  if (rc != SQLITE_ROW) return store_fail_sql(s, rc, "reading nodes");
  uint64_t at = (uint64_t)sqlite3_column_int64(r->nst, NC_RID) & (STORE_MAX_IDS - 1);
  if (at != r->id || r->id >= r->nodes)
    return store_fail(s, STORE_ECORRUPT, "snapshot %lld: node %llu is "
                      "missing or extra; the database is damaged",
                      (long long)r->snap, (unsigned long long)r->id);
  uint64_t e1 = r->edges;
  int nrc = sqlite3_step(r->next);
  if (nrc == SQLITE_ROW) {
    int64_t v = sqlite3_column_int64(r->next, 0);
    e1 = v < 0 ? 0 : (uint64_t)v;
  } else if (nrc != SQLITE_DONE) {
    return store_fail_sql(s, nrc, "reading nodes");
  }
  if ((rc = store_read_node(s, r->nst, r->snap, e1, n))) return rc;
  uint64_t e0 = e1 - n->nedges;
  if (e0 != r->epos)
    return store_fail(s, STORE_ECORRUPT, "snapshot %lld, node %llu: its "
                      "edges do not follow the previous node's; the "
                      "database is damaged", (long long)r->snap,
                      (unsigned long long)r->id);
  r->cur = r->id++;
  r->e0 = e0;
  r->e1 = e1;
  memset(&r->ch, 0, sizeof r->ch);
  if (!r->with_edges) {
    r->epos = e1;
    return STORE_OK;
  }
  uint64_t en = (uint64_t)sqlite3_column_int64(r->nst, NC_EN);
  int bt = sqlite3_column_type(r->nst, NC_EDGES);
  if (bt != SQLITE_BLOB && !(bt == SQLITE_NULL && en == 0))
    return store_corrupt(s, r->snap, "node", r->cur, "its packed edges are damaged");
  if (en > e1 - e0) return store_corrupt(s, r->snap, "node", r->cur, "its packed edges are damaged");
  if (en)
    store_chunk_init(&r->ch, sqlite3_column_blob(r->nst, NC_EDGES),
                     (size_t)sqlite3_column_bytes(r->nst, NC_EDGES), en);
  r->in_node = 1;
  return STORE_OK;
}

int store_reader_next(store_reader *r, store_node_fn on_node, store_edge_fn on_edge,
                      void *ud) {
  int rc;
  if (r->done) return STORE_OK;
  for (;;) {
    while (r->in_node) {
      if (r->ch.left) {
        store_edge e;
        const char *why;
        memset(&e, 0, sizeof e);
        if (store_chunk_next(&r->ch, &e.e, &why))
          return store_corrupt(r->s, r->snap, "edge", r->epos, why);
        e.from = r->cur;
        e.seq = r->epos++ - r->e0;
        if (on_edge && on_edge(ud, &e)) return store_fail(r->s, STORE_ESTOPPED, "stopped");
        continue;
      }
      if (r->ch.p != r->ch.end)
        return store_corrupt(r->s, r->snap, "edge", r->epos - 1,
                             "packed edges have bytes left over");
      if (r->epos < r->e1) {
        if ((rc = next_chunk(r))) return rc;
        continue;
      }
      r->in_node = 0;
    }
    store_node n;
    rc = next_node(r, &n);
    if (rc == READ_END) {
      r->done = 1;
      return STORE_OK;
    }
    if (rc) return rc;
    if (on_node && on_node(ud, &n)) return store_fail(r->s, STORE_ESTOPPED, "stopped");
  }
}

int store_scan(store *s, int64_t snap, unsigned flags, store_node_fn on_node,
               store_edge_fn on_edge, void *ud) {
  store_reader *r;
  int rc = store_reader_open(s, snap, flags | (on_edge ? 0 : STORE_SCAN_NO_EDGES), &r);
  if (rc) return rc;
  rc = store_reader_next(r, on_node, on_edge, ud);
  store_reader_close(r);
  return rc;
}

static int hash_node(void *ud, const store_node *n) {
  wire_hash_node(ud, &n->n);
  return 0;
}

static int hash_edge(void *ud, const store_edge *e) {
  wire_hash_edge(ud, &e->e);
  return 0;
}

int store_verify(store *s, int64_t snap, char hex[17]) {
  wire_hash h;
  char mine[17];
  store_snapshot info;
  wire_hash_init(&h);
  int rc = store_snapshot_get(s, snap, &info);
  if (rc) return rc;
  rc = store_scan(s, snap, 0, hash_node, hash_edge, &h);
  if (!rc) {
    wire_hash_hex(&h, mine);
    if (hex) memcpy(hex, mine, 17);
    if (strcmp(mine, info.hash))
      rc = store_fail(s, STORE_EHASH, "snapshot %lld: its rows hash to %s but "
                      "it was stored with hash %s; the database was changed "
                      "or damaged since, so do not restore it",
                      (long long)snap, mine, info.hash);
  }
  store_snapshot_release(&info);
  return rc;
}
