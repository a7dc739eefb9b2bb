/*
** store_edges.c
** A cursor over one node's edges: the first ones packed in the node's own
** row, the rest in chunk rows keyed by their first edge's position. It can
** start at any edge, so paging children costs the same everywhere.
*/
#include <string.h>

#include "store_impl.h"

static int bad(store_ecur *c, const char *why) {
  return store_corrupt(c->s, c->snap, "edge", c->pos, why);
}

int store_ecur_open(store_ecur *c, store *s, int64_t snap, uint64_t node,
                    uint64_t nodes, uint64_t edges, uint64_t skip) {
  memset(c, 0, sizeof *c);
  c->s = s;
  c->snap = snap;
  c->node = node;
  uint64_t e1;
  int rc = store_node_e0(s, snap, node + 1, nodes, edges, &e1);
  if (rc) return rc;
  c->nst = store_prepare(s, "SELECT e0, en, edges FROM nodes WHERE rid=?1");
  if (!c->nst) return STORE_ESQL;
  sqlite3_bind_int64(c->nst, 1, store_rid(snap, node));
  rc = sqlite3_step(c->nst);
  if (rc != SQLITE_ROW)
    return rc == SQLITE_DONE ? store_corrupt(s, snap, "node", node, "the row is missing")
                             : store_fail_sql(s, rc, "reading edges");
  int64_t e0 = sqlite3_column_int64(c->nst, 0), en = sqlite3_column_int64(c->nst, 1);
  int bt = sqlite3_column_type(c->nst, 2);
  if (sqlite3_column_type(c->nst, 0) != SQLITE_INTEGER || e0 < 0 ||
      (uint64_t)e0 > e1 || en < 0 || (uint64_t)en > e1 - (uint64_t)e0 ||
      (bt != SQLITE_BLOB && !(bt == SQLITE_NULL && en == 0)))
    return store_corrupt(s, snap, "node", node, "its packed edges are damaged");
  c->e0 = (uint64_t)e0;
  c->en = (uint64_t)en;
  c->nedges = e1 - c->e0;
  if (skip > c->nedges) skip = c->nedges;
  c->pos = c->e0;
  if (skip < c->en) {
    store_chunk_init(&c->c, sqlite3_column_blob(c->nst, 2),
                     (size_t)sqlite3_column_bytes(c->nst, 2), c->en);
  } else if (skip < c->nedges) {
    /* Start at the chunk that holds edge e0 + skip. */
    sqlite3_stmt *st = store_prepare(s,
        "SELECT max(rid) FROM edges WHERE rid BETWEEN ?1 AND ?2");
    if (!st) return STORE_ESQL;
    sqlite3_bind_int64(st, 1, store_rid(snap, c->e0 + c->en));
    sqlite3_bind_int64(st, 2, store_rid(snap, c->e0 + skip));
    rc = sqlite3_step(st);
    int ok = rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER;
    uint64_t start = (uint64_t)sqlite3_column_int64(st, 0) & (STORE_MAX_IDS - 1);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return store_fail_sql(s, rc, "reading edges");
    c->pos = c->e0 + c->en;
    if (!ok) return bad(c, "its chunk is missing");
    c->pos = start;
  } else {
    c->pos = c->e0 + c->nedges;
  }
  while (c->pos < c->e0 + skip) {
    store_edge e;
    int got;
    if ((rc = store_ecur_next(c, &e, &got))) return rc;
  }
  return STORE_OK;
}

/* Load the chunk row that starts at c->pos. */
static int next_chunk(store_ecur *c) {
  store *s = c->s;
  if (!c->cst) {
    c->cst = store_prepare(s, "SELECT rid, src, n, data FROM edges"
                              " WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid");
    if (!c->cst) return STORE_ESQL;
    sqlite3_bind_int64(c->cst, 1, store_rid(c->snap, c->pos));
    sqlite3_bind_int64(c->cst, 2, store_rid(c->snap, c->e0 + c->nedges - 1));
  }
  int rc = sqlite3_step(c->cst);
  if (rc == SQLITE_DONE) return bad(c, "its chunk is missing");
  if (rc != SQLITE_ROW) return store_fail_sql(s, rc, "reading edges");
  int64_t n = sqlite3_column_int64(c->cst, 2);
  if ((uint64_t)(sqlite3_column_int64(c->cst, 0) & (int64_t)(STORE_MAX_IDS - 1)) != c->pos)
    return bad(c, "its chunk is missing");
  if (sqlite3_column_int64(c->cst, 1) != (int64_t)c->node || n <= 0 ||
      (uint64_t)n > c->e0 + c->nedges - c->pos ||
      sqlite3_column_type(c->cst, 3) != SQLITE_BLOB)
    return bad(c, "its chunk row is damaged");
  store_chunk_init(&c->c, sqlite3_column_blob(c->cst, 3),
                   (size_t)sqlite3_column_bytes(c->cst, 3), (uint64_t)n);
  return STORE_OK;
}

int store_ecur_next(store_ecur *c, store_edge *out, int *got) {
  *got = 0;
  if (c->pos >= c->e0 + c->nedges) return STORE_OK;
  if (c->c.left == 0) {
    int rc = next_chunk(c);
    if (rc) return rc;
  }
  const char *why;
  memset(out, 0, sizeof *out);
  if (store_chunk_next(&c->c, &out->e, &why)) return bad(c, why);
  if (c->c.left == 0 && c->c.p != c->c.end)
    return bad(c, "packed edges have bytes left over");
  out->from = c->node;
  out->seq = c->pos - c->e0;
  c->pos++;
  *got = 1;
  return STORE_OK;
}

void store_ecur_close(store_ecur *c) {
  sqlite3_finalize(c->nst);
  sqlite3_finalize(c->cst);
  c->nst = c->cst = NULL;
}
