/*
** store_row.c
** What every read starts from: a committed snapshot's counts, and the
** error that names a damaged row instead of crashing on it.
*/

#include "store_impl.h"

int store_corrupt(store *s, int64_t snap, const char *what, uint64_t id,
                  const char *why) {
  return store_fail(s, STORE_ECORRUPT,
                    "snapshot %lld, %s %llu: %s; the row is damaged, so export "
                    "what is readable or take the snapshot again",
                    (long long)snap, what, (unsigned long long)id, why);
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

int store_snapshot_exists(store *s, int64_t snap) {
  sqlite3_stmt *st = store_prepare(s,
      "SELECT 1 FROM snapshots WHERE id=?1 AND state='complete'");
  if (!st) return 0;
  sqlite3_bind_int64(st, 1, snap);
  int yes = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return yes;
}
