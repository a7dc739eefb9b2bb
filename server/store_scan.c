/*
** store_scan.c
** Reading a whole snapshot back in order (nodes by id, each with its edges
** in sequence), and store_verify, which recomputes the content hash from
** the rows alone exactly as the ingest computed it from the stream.
*/
#include <string.h>

#include "store_impl.h"

typedef struct scan {
  store *s;
  int64_t snap;
  uint64_t nodes, edges;
  sqlite3_stmt *nst;   /* node rows in id order, with their inline edges */
  sqlite3_stmt *next;  /* e0 of the following node, one step ahead */
  sqlite3_stmt *cst;   /* chunk rows in position order */
  uint64_t epos;       /* position of the next edge */
} scan;

static int short_rows(scan *c, const char *what, uint64_t got, uint64_t want) {
  return store_fail(c->s, STORE_ECORRUPT, "snapshot %lld has %llu %s but "
                    "its count says %llu; the database is damaged",
                    (long long)c->snap, (unsigned long long)got, what,
                    (unsigned long long)want);
}

/* Decode count edges of node `from` from p[n]; positions go on from epos. */
static int decode(scan *c, uint64_t from, uint64_t e0, const void *p, size_t n,
                  uint64_t count, store_edge_fn on_edge, void *ud) {
  store_chunk ch;
  store_chunk_init(&ch, p, n, count);
  while (ch.left) {
    store_edge e;
    const char *why;
    memset(&e, 0, sizeof e);
    if (store_chunk_next(&ch, &e.e, &why))
      return store_corrupt(c->s, c->snap, "edge", c->epos, why);
    e.from = from;
    e.seq = c->epos++ - e0;
    if (on_edge(ud, &e)) return store_fail(c->s, STORE_ESTOPPED, "stopped");
  }
  if (ch.p != ch.end)
    return store_corrupt(c->s, c->snap, "edge", c->epos - 1,
                         "packed edges have bytes left over");
  return STORE_OK;
}

/* The chunk rows of node `from`, which must continue at c->epos. */
static int scan_chunks(scan *c, uint64_t from, uint64_t e0, uint64_t e1,
                       store_edge_fn on_edge, void *ud) {
  while (c->epos < e1) {
    int rc = sqlite3_step(c->cst);
    if (rc == SQLITE_DONE) return store_corrupt(c->s, c->snap, "edge", c->epos, "its chunk is missing");
    if (rc != SQLITE_ROW) return store_fail_sql(c->s, rc, "reading edges");
    uint64_t at = (uint64_t)sqlite3_column_int64(c->cst, 0) & (STORE_MAX_IDS - 1);
    int64_t n = sqlite3_column_int64(c->cst, 2);
    if (at != c->epos)
      return store_corrupt(c->s, c->snap, "edge", c->epos, "its chunk is missing");
    if (sqlite3_column_int64(c->cst, 1) != (int64_t)from || n <= 0 ||
        (uint64_t)n > e1 - c->epos || sqlite3_column_type(c->cst, 3) != SQLITE_BLOB)
      return store_corrupt(c->s, c->snap, "edge", c->epos, "its chunk row is damaged");
    rc = decode(c, from, e0, sqlite3_column_blob(c->cst, 3),
                (size_t)sqlite3_column_bytes(c->cst, 3), (uint64_t)n, on_edge, ud);
    if (rc) return rc;
  }
  return STORE_OK;
}

static int scan_run(scan *c, unsigned flags, store_node_fn on_node,
                    store_edge_fn on_edge, void *ud) {
  store *s = c->s;
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT %s%s FROM nodes WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid",
           (flags & STORE_SCAN_LIGHT) ? STORE_NODE_COLS_LIGHT : STORE_NODE_COLS,
           on_edge ? ", edges" : "");
  c->nst = store_prepare(s, sql);
  c->next = store_prepare(s, "SELECT e0 FROM nodes WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid");
  c->cst = on_edge ? store_prepare(s, "SELECT rid, src, n, data FROM edges"
                                   " WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid")
                   : NULL;
  if (!c->nst || !c->next || (on_edge && !c->cst)) return STORE_ESQL;
  int64_t lo = store_rid(c->snap, 0), hi = store_rid(c->snap, STORE_MAX_IDS - 1);
  sqlite3_bind_int64(c->nst, 1, lo);
  sqlite3_bind_int64(c->nst, 2, hi);
  sqlite3_bind_int64(c->next, 1, lo + 1);
  sqlite3_bind_int64(c->next, 2, hi);
  if (c->cst) {
    sqlite3_bind_int64(c->cst, 1, lo);
    sqlite3_bind_int64(c->cst, 2, hi);
  }
  uint64_t id = 0;
  int rc;
  while ((rc = sqlite3_step(c->nst)) == SQLITE_ROW) {
    uint64_t at = (uint64_t)sqlite3_column_int64(c->nst, NC_RID) & (STORE_MAX_IDS - 1);
    if (at != id || id >= c->nodes)
      return store_fail(s, STORE_ECORRUPT, "snapshot %lld: node %llu is "
                        "missing or extra; the database is damaged",
                        (long long)c->snap, (unsigned long long)id);
    uint64_t e1 = c->edges;
    int nrc = sqlite3_step(c->next);
    if (nrc == SQLITE_ROW) {
      int64_t v = sqlite3_column_int64(c->next, 0);
      e1 = v < 0 ? 0 : (uint64_t)v;
    } else if (nrc != SQLITE_DONE) {
      return store_fail_sql(s, nrc, "reading nodes");
    }
    store_node n;
    if ((rc = store_read_node(s, c->nst, c->snap, e1, &n))) return rc;
    uint64_t e0 = e1 - n.nedges;
    uint64_t en = (uint64_t)sqlite3_column_int64(c->nst, NC_EN);
    if (e0 != c->epos)
      return store_fail(s, STORE_ECORRUPT, "snapshot %lld, node %llu: its "
                        "edges do not follow the previous node's; the "
                        "database is damaged", (long long)c->snap,
                        (unsigned long long)id);
    if (on_node && on_node(ud, &n)) return store_fail(s, STORE_ESTOPPED, "stopped");
    if (on_edge) {
      int bt = sqlite3_column_type(c->nst, NC_EDGES);
      if (bt != SQLITE_BLOB && !(bt == SQLITE_NULL && en == 0))
        return store_corrupt(s, c->snap, "node", id, "its packed edges are damaged");
      if (en && (rc = decode(c, id, e0, sqlite3_column_blob(c->nst, NC_EDGES),
                             (size_t)sqlite3_column_bytes(c->nst, NC_EDGES), en,
                             on_edge, ud)))
        return rc;
      if ((rc = scan_chunks(c, id, e0, e1, on_edge, ud))) return rc;
    } else {
      c->epos = e1;
    }
    id++;
  }
  if (rc != SQLITE_DONE) return store_fail_sql(s, rc, "reading nodes");
  if (id != c->nodes) return short_rows(c, "node rows", id, c->nodes);
  if (c->epos != c->edges) return short_rows(c, "edges", c->epos, c->edges);
  if (c->cst && sqlite3_step(c->cst) == SQLITE_ROW)
    return store_fail(s, STORE_ECORRUPT, "snapshot %lld has more edges than "
                      "its count says; the database is damaged",
                      (long long)c->snap);
  return STORE_OK;
}

int store_scan(store *s, int64_t snap, unsigned flags, store_node_fn on_node,
               store_edge_fn on_edge, void *ud) {
  scan c;
  memset(&c, 0, sizeof c);
  c.s = s;
  c.snap = snap;
  int rc = store_snapshot_counts(s, snap, &c.nodes, &c.edges);
  if (!rc) rc = scan_run(&c, flags, on_node, on_edge, ud);
  sqlite3_finalize(c.nst);
  sqlite3_finalize(c.next);
  sqlite3_finalize(c.cst);
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
