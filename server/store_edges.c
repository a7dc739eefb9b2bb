/*
** store_edges.c
** A cursor over one node's edges, read from the chunk rows that hold them.
** It can start at any edge: one key lookup finds the chunk, so paging
** children costs the same everywhere.
*/
#include <string.h>

#include "store_impl.h"

static int bad(store_ecur *c, const char *why) {
  return store_corrupt(c->s, c->snap, "edge", c->pos, why);
}

/* Load the next chunk row, which must hold c->pos: the first one may start
** before it (its earlier edges are decoded, not delivered), the ones after
** must start exactly there. */
static int next_chunk(store_ecur *c, int first) {
  int rc = sqlite3_step(c->cst);
  if (rc == SQLITE_DONE) return bad(c, "its chunk is missing");
  if (rc != SQLITE_ROW) return store_fail_sql(c->s, rc, "reading edges");
  uint64_t at = (uint64_t)sqlite3_column_int64(c->cst, 0) & (STORE_MAX_IDS - 1);
  int64_t n = sqlite3_column_int64(c->cst, 1);
  if (at > c->pos || n <= 0 || n > STORE_CHUNK_EDGES ||
      sqlite3_column_type(c->cst, 2) != SQLITE_BLOB)
    return bad(c, "its chunk row is damaged");
  if (at + (uint64_t)n <= c->pos || (!first && at != c->pos))
    return bad(c, "its chunk is missing");
  store_chunk_init(&c->c, sqlite3_column_blob(c->cst, 2),
                   (size_t)sqlite3_column_bytes(c->cst, 2), (uint64_t)n);
  /* edges of the chunk before the cursor's: decoded, not delivered */
  for (uint64_t k = at; k < c->pos; k++) {
    wire_edge e;
    const char *why;
    if (store_chunk_next(&c->c, &e, &why)) return bad(c, why);
  }
  return STORE_OK;
}

int store_ecur_open(store_ecur *c, store *s, int64_t snap, uint64_t node,
                    uint64_t e0, uint64_t nedges, uint64_t skip) {
  memset(c, 0, sizeof *c);
  c->s = s;
  c->snap = snap;
  c->node = node;
  c->e0 = e0;
  c->nedges = nedges;
  if (skip > nedges) skip = nedges;
  c->pos = e0 + skip;
  if (skip == nedges) return STORE_OK;
  /* The chunk holding pos is the last one starting at or before it. */
  sqlite3_stmt *st = store_prepare(s,
      "SELECT max(rid) FROM edges WHERE rid BETWEEN ?1 AND ?2");
  if (!st) return STORE_ESQL;
  sqlite3_bind_int64(st, 1, store_rid(snap, 0));
  sqlite3_bind_int64(st, 2, store_rid(snap, c->pos));
  int rc = sqlite3_step(st);
  int ok = rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER;
  int64_t start = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return store_fail_sql(s, rc, "reading edges");
  if (!ok) return bad(c, "its chunk is missing");
  c->cst = store_prepare(s, "SELECT rid, n, data FROM edges"
                            " WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid");
  if (!c->cst) return STORE_ESQL;
  sqlite3_bind_int64(c->cst, 1, start);
  sqlite3_bind_int64(c->cst, 2, store_rid(snap, e0 + nedges - 1));
  return next_chunk(c, 1);
}

int store_ecur_open_node(store_ecur *c, store *s, int64_t snap, uint64_t node,
                         uint64_t skip) {
  store_pages p;
  store_node n;
  uint64_t e0 = 0;
  memset(c, 0, sizeof *c);
  int rc = store_pages_open(&p, s, snap);
  if (!rc) rc = store_pages_node(&p, node, &n, &e0);
  store_pages_close(&p);
  return rc ? rc : store_ecur_open(c, s, snap, node, e0, n.nedges, skip);
}

int store_ecur_next(store_ecur *c, store_edge *out, int *got) {
  *got = 0;
  if (c->pos >= c->e0 + c->nedges) return STORE_OK;
  if (c->c.left == 0) {
    if (c->c.p != c->c.end) return bad(c, "packed edges have bytes left over");
    int rc = next_chunk(c, 0);
    if (rc) return rc;
  }
  const char *why;
  memset(out, 0, sizeof *out);
  if (store_chunk_next(&c->c, &out->e, &why)) return bad(c, why);
  out->from = c->node;
  out->seq = c->pos - c->e0;
  c->pos++;
  *got = 1;
  return STORE_OK;
}

void store_ecur_close(store_ecur *c) {
  sqlite3_finalize(c->cst);
  c->cst = NULL;
}
