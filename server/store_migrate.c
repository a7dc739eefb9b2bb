/*
** store_migrate.c
** Schema version 4 packs nodes into page rows and lets edge chunks span
** nodes. This rewrites a version-3 database's node rows (with their
** inline edges) and chunk rows into those formats, in one pass over each
** table in key order, inside the migration's transaction.
*/
#include <string.h>

#include "store_impl.h"

typedef struct migration {
  store *s;
  sqlite3_stmt *nodes, *chunks, *ins_page, *ins_chunk, *count;
  int chunk_row;             /* the chunk statement holds an unread row */
  int64_t snap;              /* the snapshot being rewritten, 0 before any */
  uint64_t next_id, pos;     /* the next node id and edge position due */
  uint64_t edges;            /* the snapshot's edge count */
  wire_buf page, chunk;
  uint64_t pfirst, pcount, pe0;
  int pending;               /* the last node in page waits for its count */
  size_t nedges_at;
  uint64_t ne0;
  uint64_t cstart, ccount;
} migration;

static int oom(migration *m) {
  return store_fail(m->s, STORE_ENOMEM, "out of memory migrating to schema 4");
}

static int step_done(migration *m, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? STORE_OK : store_fail_sql(m->s, rc, "migrating to schema 4");
}

static int flush_page(migration *m) {
  if (!m->pcount) return STORE_OK;
  if (m->page.oom) return oom(m);
  sqlite3_bind_int64(m->ins_page, 1, store_rid(m->snap, m->pfirst));
  sqlite3_bind_int64(m->ins_page, 2, (int64_t)m->pcount);
  sqlite3_bind_int64(m->ins_page, 3, (int64_t)m->pe0);
  sqlite3_bind_blob64(m->ins_page, 4, m->page.data, m->page.len, SQLITE_STATIC);
  wire_buf_reset(&m->page);
  m->pcount = 0;
  return step_done(m, m->ins_page);
}

static int flush_chunk(migration *m) {
  if (!m->ccount) return STORE_OK;
  if (m->chunk.oom) return oom(m);
  sqlite3_bind_int64(m->ins_chunk, 1, store_rid(m->snap, m->cstart));
  sqlite3_bind_int64(m->ins_chunk, 2, (int64_t)m->ccount);
  sqlite3_bind_blob64(m->ins_chunk, 3, m->chunk.data, m->chunk.len, SQLITE_STATIC);
  wire_buf_reset(&m->chunk);
  m->cstart += m->ccount;
  m->ccount = 0;
  return step_done(m, m->ins_chunk);
}

/* Append n packed edges (bytes p, len) that start at position `at`. */
static int add_edges(migration *m, uint64_t at, const void *p, size_t len,
                     uint64_t n, uint64_t id) {
  if (at != m->pos || n > STORE_CHUNK_EDGES)
    return store_corrupt(m->s, m->snap, "node", id, "its edges are out of order");
  int rc = STORE_OK;
  if (m->ccount && (m->ccount + n > STORE_CHUNK_EDGES ||
                    m->chunk.len + len > STORE_CHUNK_BYTES))
    rc = flush_chunk(m);
  if (!m->ccount) m->cstart = at;
  wire_buf_put(&m->chunk, p, len);
  m->ccount += n;
  m->pos += n;
  return rc;
}

/* Old chunk rows of this snapshot before position `until`. */
static int drain_chunks(migration *m, uint64_t until) {
  int rc = STORE_OK;
  while (!rc) {
    if (!m->chunk_row) {
      int src = sqlite3_step(m->chunks);
      if (src == SQLITE_DONE) return STORE_OK;
      if (src != SQLITE_ROW) return store_fail_sql(m->s, src, "migrating to schema 4");
      m->chunk_row = 1;
    }
    int64_t rid = sqlite3_column_int64(m->chunks, 0);
    if (rid >= store_rid(m->snap, until) || (rid >> STORE_SHIFT) != m->snap) {
      if ((rid >> STORE_SHIFT) < m->snap)
        return store_corrupt(m->s, rid >> STORE_SHIFT, "edge chunk",
                             (uint64_t)rid & (STORE_MAX_IDS - 1), "it has no node");
      return STORE_OK;
    }
    int64_t n = sqlite3_column_int64(m->chunks, 1);
    if (n <= 0 || sqlite3_column_type(m->chunks, 2) != SQLITE_BLOB)
      return store_corrupt(m->s, m->snap, "edge chunk",
                           (uint64_t)rid & (STORE_MAX_IDS - 1), "the row is damaged");
    rc = add_edges(m, (uint64_t)rid & (STORE_MAX_IDS - 1), sqlite3_column_blob(m->chunks, 2),
                   (size_t)sqlite3_column_bytes(m->chunks, 2), (uint64_t)n,
                   m->next_id ? m->next_id - 1 : 0);
    m->chunk_row = 0;
  }
  return rc;
}

/* The current node has all its edges (up to position `end`). */
static int finish_node(migration *m, uint64_t end) {
  int rc = drain_chunks(m, end);
  if (rc || !m->pending) return rc;
  if (m->pos != end)
    return store_corrupt(m->s, m->snap, "node", m->next_id - 1, "its edges are missing");
  store_node_set_edges(&m->page, m->nedges_at, end - m->ne0);
  m->pending = 0;
  return STORE_OK;
}

static int end_snapshot(migration *m) {
  if (!m->snap) return STORE_OK;
  int rc = finish_node(m, m->edges);
  if (!rc) rc = flush_page(m);
  if (!rc) rc = flush_chunk(m);
  return rc;
}

static int begin_snapshot(migration *m, int64_t snap) {
  int rc = end_snapshot(m);
  if (rc) return rc;
  m->snap = snap;
  m->next_id = m->pos = m->pcount = m->ccount = m->cstart = 0;
  m->pending = 0;
  sqlite3_bind_int64(m->count, 1, snap);
  int src = sqlite3_step(m->count);
  m->edges = src == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(m->count, 0) : 0;
  sqlite3_reset(m->count);
  if (src != SQLITE_ROW && src != SQLITE_DONE)
    return store_fail_sql(m->s, src, "migrating to schema 4");
  return STORE_OK;
}

/* A byte-string column: NULL stays absent. */
static const char *bytes(sqlite3_stmt *st, int i, size_t *n) {
  *n = 0;
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return NULL;
  const char *p = sqlite3_column_blob(st, i);
  *n = (size_t)sqlite3_column_bytes(st, i);
  return p ? p : "";
}

static const char *word(sqlite3_stmt *st, int i) {
  if (sqlite3_column_type(st, i) != SQLITE_TEXT) return NULL;
  const char *w = (const char *)sqlite3_column_text(st, i);
  return w && w[0] && strlen(w) == (size_t)sqlite3_column_bytes(st, i) ? w : NULL;
}

static int one_node(migration *m) {
  sqlite3_stmt *st = m->nodes;
  int64_t rid = sqlite3_column_int64(st, 0);
  int rc = STORE_OK;
  if ((rid >> STORE_SHIFT) != m->snap) rc = begin_snapshot(m, rid >> STORE_SHIFT);
  if (rc) return rc;
  wire_node n;
  memset(&n, 0, sizeof n);
  n.id = (uint64_t)rid & (STORE_MAX_IDS - 1);
  int64_t e0 = sqlite3_column_int64(st, 7), en = sqlite3_column_int64(st, 8);
  n.kind = word(st, 1);
  if (n.id != m->next_id || !n.kind || e0 < 0 || en < 0 || en > STORE_CHUNK_EDGES ||
      (sqlite3_column_type(st, 4) != SQLITE_NULL && !(n.mode = word(st, 4))) ||
      (sqlite3_column_type(st, 5) != SQLITE_NULL && !(n.status = word(st, 5))))
    return store_corrupt(m->s, m->snap, "node", n.id, "the row is damaged");
  if ((rc = finish_node(m, (uint64_t)e0))) return rc;
  if ((n.has_size = sqlite3_column_type(st, 2) == SQLITE_INTEGER))
    n.size = (uint64_t)sqlite3_column_int64(st, 2);
  if ((n.has_addr = sqlite3_column_type(st, 3) == SQLITE_INTEGER))
    n.addr = (uint64_t)sqlite3_column_int64(st, 3);
  if ((n.has_line = sqlite3_column_type(st, 6) == SQLITE_INTEGER))
    n.line = sqlite3_column_int64(st, 6);
  n.type = bytes(st, 9, &n.type_len);
  n.name = bytes(st, 10, &n.name_len);
  n.source = bytes(st, 11, &n.source_len);
  n.value = bytes(st, 12, &n.value_len);
  n.has_value = n.value != NULL;
  n.payload = bytes(st, 13, &n.payload_len);
  n.has_payload = n.payload != NULL;
  size_t about = n.type_len + n.name_len + n.value_len + n.payload_len + n.source_len + 64;
  if (m->pcount == STORE_PAGE_NODES ||
      (m->pcount && m->page.len + about > STORE_PAGE_BYTES))
    if ((rc = flush_page(m))) return rc;
  if (!m->pcount) {
    m->pfirst = n.id;
    m->pe0 = (uint64_t)e0;
  }
  m->nedges_at = store_node_encode(&m->page, &n);
  if (m->page.oom) return oom(m);
  m->pcount++;
  m->pending = 1;
  m->ne0 = (uint64_t)e0;
  m->next_id++;
  if (en) {
    size_t len;
    const char *p = bytes(st, 14, &len);
    if (!p) return store_corrupt(m->s, m->snap, "node", n.id, "its packed edges are missing");
    rc = add_edges(m, (uint64_t)e0, p, len, (uint64_t)en, n.id);
  }
  return rc;
}

int store_migrate_v4(store *s) {
  migration m;
  memset(&m, 0, sizeof m);
  m.s = s;
  wire_buf_init(&m.page);
  wire_buf_init(&m.chunk);
  m.nodes = store_prepare(s, "SELECT rid, kind, size, addr, mode, status, line, e0, en,"
                             " type, name, source, value, payload, edges FROM nodes ORDER BY rid");
  m.chunks = store_prepare(s, "SELECT rid, n, data FROM edges ORDER BY rid");
  m.ins_page = store_prepare(s, "INSERT INTO pages(rid, n, e0, data) VALUES(?1,?2,?3,?4)");
  m.ins_chunk = store_prepare(s, "INSERT INTO chunks(rid, n, data) VALUES(?1,?2,?3)");
  m.count = store_prepare(s, "SELECT edges FROM snapshots WHERE id = ?1");
  int rc = m.nodes && m.chunks && m.ins_page && m.ins_chunk && m.count ? STORE_OK : STORE_ESQL;
  while (!rc) {
    int src = sqlite3_step(m.nodes);
    if (src == SQLITE_DONE) break;
    if (src != SQLITE_ROW) rc = store_fail_sql(s, src, "migrating to schema 4");
    else rc = one_node(&m);
  }
  if (!rc) rc = end_snapshot(&m);
  if (!rc && (m.chunk_row || sqlite3_step(m.chunks) == SQLITE_ROW))
    rc = store_fail(s, STORE_ECORRUPT, "migrating to schema 4: an edge chunk row "
                    "belongs to no node; the database is damaged");
  sqlite3_finalize(m.nodes);
  sqlite3_finalize(m.chunks);
  sqlite3_finalize(m.ins_page);
  sqlite3_finalize(m.ins_chunk);
  sqlite3_finalize(m.count);
  wire_buf_free(&m.page);
  wire_buf_free(&m.chunk);
  return rc;
}
