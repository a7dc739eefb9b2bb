/*
** store_row.c
** How nodes sit in SQLite rows and come back out, with the checks that
** turn a damaged row into a clear error instead of a crash; snapshot
** counts and edge positions, which every query starts from.
*/
#include <assert.h>
#include <string.h>

#include "store_impl.h"

/* A byte-string column: NULL stays absent (p = NULL), an empty BLOB is
** present and empty (p = ""), which SQLite would otherwise blur. */
static int column_bytes(sqlite3_stmt *st, int i, const char **p, size_t *n) {
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_NULL:
    *p = NULL;
    *n = 0;
    return 0;
  case SQLITE_BLOB:
  case SQLITE_TEXT:
    *p = (const char *)sqlite3_column_blob(st, i);
    *n = (size_t)sqlite3_column_bytes(st, i);
    if (!*p) *p = "";
    return 0;
  default:
    return -1;
  }
}

/* A short text column (kind, mode, status): text without NULs. */
static int column_word(sqlite3_stmt *st, int i, int allow_null,
                       const char **p) {
  int t = sqlite3_column_type(st, i);
  if (t == SQLITE_NULL && allow_null) {
    *p = NULL;
    return 0;
  }
  if (t != SQLITE_TEXT) return -1;
  *p = (const char *)sqlite3_column_text(st, i);
  return *p && strlen(*p) == (size_t)sqlite3_column_bytes(st, i) ? 0 : -1;
}

int store_corrupt(store *s, int64_t snap, const char *what, uint64_t id,
                  const char *why) {
  return store_fail(s, STORE_ECORRUPT,
                    "snapshot %lld, %s %llu: %s; the row is damaged, so export "
                    "what is readable or take the snapshot again",
                    (long long)snap, what, (unsigned long long)id, why);
}

int store_read_node(store *s, sqlite3_stmt *st, int64_t snap,
                    uint64_t next_e0, store_node *out) {
  memset(out, 0, sizeof *out);
  wire_node *n = &out->n;
  uint64_t id = (uint64_t)sqlite3_column_int64(st, NC_RID) & (STORE_MAX_IDS - 1);
  out->snapshot = snap;
  n->id = id;
  const char *why = NULL;
  const char *value;
  size_t value_len;
  if (column_word(st, NC_KIND, 0, &n->kind) || !n->kind[0]) why = "kind is not a word";
  else if (column_bytes(st, NC_TYPE, &n->type, &n->type_len)) why = "type is not bytes";
  else if (column_bytes(st, NC_NAME, &n->name, &n->name_len)) why = "name is not bytes";
  else if (column_bytes(st, NC_VALUE, &value, &value_len)) why = "value is not bytes";
  else if (column_bytes(st, NC_PAYLOAD, (const char **)&n->payload, &n->payload_len))
    why = "payload is not bytes";
  else if (column_word(st, NC_MODE, 1, &n->mode)) why = "weak mode is not a word";
  else if (column_word(st, NC_STATUS, 1, &n->status)) why = "status is not a word";
  else if (column_bytes(st, NC_SOURCE, &n->source, &n->source_len)) why = "source is not bytes";
  else if (sqlite3_column_type(st, NC_E0) != SQLITE_INTEGER ||
           sqlite3_column_type(st, NC_EN) != SQLITE_INTEGER)
    why = "its edge positions are missing";
  if (why) return store_corrupt(s, snap, "node", id, why);
  n->value = value;
  n->value_len = value_len;
  n->has_value = value != NULL;
  n->has_payload = n->payload != NULL;
  if (sqlite3_column_type(st, NC_SIZE) == SQLITE_INTEGER) {
    n->size = (uint64_t)sqlite3_column_int64(st, NC_SIZE);
    n->has_size = 1;
  }
  if (sqlite3_column_type(st, NC_ADDR) == SQLITE_INTEGER) {
    n->addr = (uint64_t)sqlite3_column_int64(st, NC_ADDR);
    n->has_addr = 1;
  }
  if (sqlite3_column_type(st, NC_LINE) == SQLITE_INTEGER) {
    n->line = sqlite3_column_int64(st, NC_LINE);
    n->has_line = 1;
  }
  int64_t e0 = sqlite3_column_int64(st, NC_E0), en = sqlite3_column_int64(st, NC_EN);
  if (e0 < 0 || (uint64_t)e0 > next_e0 || en < 0 || (uint64_t)en > next_e0 - (uint64_t)e0)
    return store_corrupt(s, snap, "node", id, "its edges are out of order");
  out->nedges = next_e0 - (uint64_t)e0;
  return STORE_OK;
}

int store_snapshot_counts(store *s, int64_t snap, uint64_t *nodes,
                          uint64_t *edges) {
  sqlite3_stmt *st = store_prepare(s,
      "SELECT nodes, edges FROM snapshots WHERE id=?1 AND state='complete'");
  if (!st) return STORE_ESQL;
  sqlite3_bind_int64(st, 1, snap);
  int rc = sqlite3_step(st), status = STORE_OK;
  if (rc == SQLITE_ROW) {
    int64_t n = sqlite3_column_int64(st, 0), e = sqlite3_column_int64(st, 1);
    if (n < 0 || e < 0 || (uint64_t)n > STORE_MAX_IDS || (uint64_t)e > STORE_MAX_IDS)
      status = store_fail(s, STORE_ECORRUPT, "snapshot %lld: its counts are "
                          "damaged; delete it and take it again", (long long)snap);
    *nodes = (uint64_t)n;
    *edges = (uint64_t)e;
  } else if (rc == SQLITE_DONE) {
    status = store_fail(s, STORE_ENOTFOUND, "no snapshot %lld; `amber list` "
                        "shows the stored ones", (long long)snap);
  } else {
    status = store_fail_sql(s, rc, "looking up a snapshot");
  }
  sqlite3_finalize(st);
  return status;
}

int store_node_e0(store *s, int64_t snap, uint64_t id, uint64_t nodes,
                  uint64_t edges, uint64_t *e0) {
  if (id >= nodes) {
    *e0 = edges;
    return STORE_OK;
  }
  sqlite3_stmt *st = store_prepare(s, "SELECT e0 FROM nodes WHERE rid=?1");
  if (!st) return STORE_ESQL;
  sqlite3_bind_int64(st, 1, store_rid(snap, id));
  int rc = sqlite3_step(st), status = STORE_OK;
  if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER &&
      sqlite3_column_int64(st, 0) >= 0 &&
      (uint64_t)sqlite3_column_int64(st, 0) <= edges)
    *e0 = (uint64_t)sqlite3_column_int64(st, 0);
  else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    status = store_corrupt(s, snap, "node", id, rc == SQLITE_ROW
                     ? "its first edge is damaged" : "the row is missing");
  else
    status = store_fail_sql(s, rc, "looking up a node");
  sqlite3_finalize(st);
  return status;
}
