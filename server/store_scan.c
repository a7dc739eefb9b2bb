/*
** store_scan.c
** Reading a whole snapshot back in order (nodes by id from their pages,
** each with its edges in sequence from the chunks), and store_verify, which recomputes the content hash from
** the rows alone exactly as the ingest computed it from the stream.
*/
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* The reader's position: statements kept open between calls, and where in
** the current node's edges it stopped. Blobs the decoders point into stay
** valid because their statement is not stepped while they are read. */
struct store_reader {
  store *s;
  int64_t snap;
  unsigned flags;
  int with_edges;
  uint64_t nodes, edges;  /* the snapshot's counts */
  sqlite3_stmt *pst;      /* page rows in id order */
  sqlite3_stmt *cst;      /* chunk rows in position order */
  store_page pg;          /* the page being decoded */
  uint64_t id;            /* the next node to read */
  uint64_t epos;          /* position of the next edge */
  int in_node;            /* node id - 1 was delivered; its edges go on */
  uint64_t cur, e0, e1;   /* that node and its edge positions [e0, e1) */
  store_chunk ch;         /* the chunk being decoded */
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
  int rc;
  *out = NULL;
  if (!r) return store_fail(s, STORE_ENOMEM, "out of memory reading snapshot %lld",
                            (long long)snap);
  r->s = s;
  r->snap = snap;
  r->flags = flags;
  r->with_edges = !(flags & STORE_SCAN_NO_EDGES);
  rc = store_snapshot_counts(s, snap, &r->nodes, &r->edges);
  if (rc) {
    free(r);
    return rc;
  }
  r->pst = store_prepare(s, "SELECT rid, n, e0, data FROM pages"
                            " WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid");
  r->cst = r->with_edges ? store_prepare(s, "SELECT rid, n, data FROM edges"
                                         " WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid")
                         : NULL;
  if (!r->pst || (r->with_edges && !r->cst)) {
    store_reader_close(r);
    return STORE_ESQL;
  }
  int64_t lo = store_rid(snap, 0), hi = store_rid(snap, STORE_MAX_IDS - 1);
  sqlite3_bind_int64(r->pst, 1, lo);
  sqlite3_bind_int64(r->pst, 2, hi);
  if (r->cst) {
    sqlite3_bind_int64(r->cst, 1, lo);
    sqlite3_bind_int64(r->cst, 2, hi);
  }
  *out = r;
  return STORE_OK;
}

void store_reader_close(store_reader *r) {
  if (!r) return;
  sqlite3_finalize(r->pst);
  sqlite3_finalize(r->cst);
  free(r);
}

/* The next chunk row, which must start at epos. */
static int next_chunk(store_reader *r) {
  int rc = sqlite3_step(r->cst);
  if (rc == SQLITE_DONE) return store_corrupt(r->s, r->snap, "edge", r->epos, "its chunk is missing");
  if (rc != SQLITE_ROW) return store_fail_sql(r->s, rc, "reading edges");
  uint64_t at = (uint64_t)sqlite3_column_int64(r->cst, 0) & (STORE_MAX_IDS - 1);
  int64_t n = sqlite3_column_int64(r->cst, 1);
  if (at != r->epos)
    return store_corrupt(r->s, r->snap, "edge", r->epos, "its chunk is missing");
  if (n <= 0 || n > STORE_CHUNK_EDGES || (uint64_t)n > r->edges - r->epos ||
      sqlite3_column_type(r->cst, 2) != SQLITE_BLOB)
    return store_corrupt(r->s, r->snap, "edge", r->epos, "its chunk row is damaged");
  store_chunk_init(&r->ch, sqlite3_column_blob(r->cst, 2),
                   (size_t)sqlite3_column_bytes(r->cst, 2), (uint64_t)n);
  return STORE_OK;
}

/* The next page row, which must start at node r->id. */
static int next_page(store_reader *r) {
  store *s = r->s;
  int rc = sqlite3_step(r->pst);
  if (rc == SQLITE_DONE)
    return store_fail(s, STORE_ECORRUPT, "snapshot %lld: node %llu is missing "
                      "(its count says %llu); the database is damaged",
                      (long long)r->snap, (unsigned long long)r->id,
                      (unsigned long long)r->nodes);
  if (rc != SQLITE_ROW) return store_fail_sql(s, rc, "reading nodes");
  uint64_t at = (uint64_t)sqlite3_column_int64(r->pst, 0) & (STORE_MAX_IDS - 1);
  int64_t n = sqlite3_column_int64(r->pst, 1), e0 = sqlite3_column_int64(r->pst, 2);
  if (at != r->id)
    return store_fail(s, STORE_ECORRUPT, "snapshot %lld: node %llu is "
                      "missing or extra; the database is damaged",
                      (long long)r->snap, (unsigned long long)r->id);
  if (n <= 0 || n > STORE_PAGE_NODES || (uint64_t)n > r->nodes - r->id ||
      sqlite3_column_type(r->pst, 3) != SQLITE_BLOB)
    return store_corrupt(s, r->snap, "node", r->id, "its page row is damaged");
  if (e0 < 0 || (uint64_t)e0 != r->epos)
    return store_fail(s, STORE_ECORRUPT, "snapshot %lld, node %llu: its "
                      "edges do not follow the previous node's; the "
                      "database is damaged", (long long)r->snap,
                      (unsigned long long)r->id);
  store_page_init(&r->pg, sqlite3_column_blob(r->pst, 3),
                  (size_t)sqlite3_column_bytes(r->pst, 3), r->id, (uint64_t)n,
                  (uint64_t)e0);
  return STORE_OK;
}

/* Read the next node and make it current: STORE_OK, READ_END after the
** last one (everything checked), or an error status. */
#define READ_END (-1)
static int next_node(store_reader *r, store_node *n) {
  store *s = r->s;
  int rc;
  if (r->id == r->nodes) {
    if (!r->pg.left && r->pg.p != r->pg.end)
      return store_corrupt(s, r->snap, "node", r->id - 1, "packed nodes have bytes left over");
    if (r->cst && !r->ch.left && r->ch.p != r->ch.end)
      return store_corrupt(s, r->snap, "edge", r->epos - 1, "packed edges have bytes left over");
    if (r->pg.left || sqlite3_step(r->pst) == SQLITE_ROW)
      return store_fail(s, STORE_ECORRUPT, "snapshot %lld has more nodes than "
                        "its count says; the database is damaged", (long long)r->snap);
    if (r->epos != r->edges) return short_rows(r, "edges", r->epos, r->edges);
    if (r->cst && (r->ch.left || sqlite3_step(r->cst) == SQLITE_ROW))
      return store_fail(s, STORE_ECORRUPT, "snapshot %lld has more edges than "
                        "its count says; the database is damaged", (long long)r->snap);
    return READ_END;
  }
  if (!r->pg.left) {
    if (r->pg.p != r->pg.end)
      return store_corrupt(s, r->snap, "node", r->id - 1, "packed nodes have bytes left over");
    if ((rc = next_page(r))) return rc;
  }
  const char *why;
  uint64_t e0;
  if (store_page_next(&r->pg, n, &e0, &why)) return store_corrupt(s, r->snap, "node", r->id, why);
  n->snapshot = r->snap;
  if (e0 != r->epos || n->nedges > r->edges - e0)
    return store_fail(s, STORE_ECORRUPT, "snapshot %lld, node %llu: its "
                      "edges do not follow the previous node's; the "
                      "database is damaged", (long long)r->snap,
                      (unsigned long long)r->id);
  if (r->flags & STORE_SCAN_LIGHT) {
    n->n.value = NULL, n->n.value_len = 0, n->n.has_value = 0;
    n->n.payload = NULL, n->n.payload_len = 0, n->n.has_payload = 0;
  }
  r->cur = r->id++;
  r->e0 = e0;
  r->e1 = e0 + n->nedges;
  if (!r->with_edges) {
    r->epos = r->e1;
    return STORE_OK;
  }
  r->in_node = 1;
  return STORE_OK;
}

int store_reader_next(store_reader *r, store_node_fn on_node, store_edge_fn on_edge,
                      void *ud) {
  int rc;
  if (r->done) return STORE_OK;
  for (;;) {
    while (r->in_node) {
      if (r->epos == r->e1) {
        r->in_node = 0;
        break;
      }
      if (!r->ch.left) {
        if (r->ch.p != r->ch.end)
          return store_corrupt(r->s, r->snap, "edge", r->epos - 1,
                               "packed edges have bytes left over");
        if ((rc = next_chunk(r))) return rc;
      }
      store_edge e;
      const char *why;
      memset(&e, 0, sizeof e);
      if (store_chunk_next(&r->ch, &e.e, &why))
        return store_corrupt(r->s, r->snap, "edge", r->epos, why);
      e.from = r->cur;
      e.seq = r->epos++ - r->e0;
      if (on_edge && on_edge(ud, &e)) return store_fail(r->s, STORE_ESTOPPED, "stopped");
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
