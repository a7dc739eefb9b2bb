/*
** analysis_store.c
** Analyses of stored snapshots: loading the graph through the store's scan,
** and the side tables that keep each snapshot's dominators, retained sizes
** and summary so they are computed once (docs/analysis.md, "Storage").
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>
#include "analysis.h"

/* Bump when what the side tables hold changes: older rows are recomputed. */
#define ANALYSIS_VERSION 1
/* A node's retained size is 8 bytes of a blob, and SQLite's blobs stop at
** 10^9 bytes: bigger snapshots are analysed but not cached. */
#define CACHE_MAX_NODES 120000000u

static const char *const schema =
  "CREATE TABLE IF NOT EXISTS analysis_snapshots("
  " snapshot INTEGER PRIMARY KEY,"
  " version INTEGER NOT NULL,"
  " hash TEXT NOT NULL,"
  " nodes INTEGER NOT NULL, edges INTEGER NOT NULL, refs INTEGER NOT NULL,"
  " reachable INTEGER NOT NULL, shallow INTEGER NOT NULL, ms REAL NOT NULL,"
  " idom BLOB NOT NULL, retained BLOB NOT NULL);"
  "CREATE TABLE IF NOT EXISTS analysis_types("
  " snapshot INTEGER NOT NULL, rank INTEGER NOT NULL,"
  " kind TEXT NOT NULL, type BLOB,"
  " count INTEGER NOT NULL, shallow INTEGER NOT NULL, retained INTEGER NOT NULL,"
  " PRIMARY KEY(snapshot, rank)) WITHOUT ROWID;";

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Copy the store's message for a failed call. */
static int store_error(store *s, int rc, char *err, size_t errlen) {
  snprintf(err, errlen, "%s", store_errmsg(s));
  return rc;
}

/* ---------------------------------------------------------------- */
/* Loading                                                           */
/* ---------------------------------------------------------------- */

typedef struct loader {
  graph_builder *b;
  int failed;
} loader;

static int on_node(void *ud, const store_node *n) {
  loader *l = ud;
  if (graph_builder_node(l->b, &n->n)) l->failed = 1;
  return l->failed;
}

static int on_edge(void *ud, const store_edge *e) {
  loader *l = ud;
  if (graph_builder_edge(l->b, &e->e)) l->failed = 1;
  return l->failed;
}

int analysis_load(store *s, int64_t snap, unsigned flags, graph **out,
                  char *err, size_t errlen) {
  *out = NULL;
  store_snapshot info;
  int rc = store_snapshot_get(s, snap, &info);
  if (rc) return store_error(s, rc, err, errlen);
  uint64_t nodes = info.nodes, edges = info.edges;
  store_snapshot_release(&info);
  if (nodes > GRAPH_MAX_NODES || edges > GRAPH_MAX_EDGES) {
    snprintf(err, errlen, "snapshot %lld has %llu nodes and %llu edges; "
             "analysis handles at most %u of each", (long long)snap,
             (unsigned long long)nodes, (unsigned long long)edges,
             GRAPH_MAX_NODES);
    return STORE_ELIMIT;
  }
  loader l = {graph_builder_new(flags, nodes, edges), 0};
  if (!l.b) {
    snprintf(err, errlen, "out of memory loading snapshot %lld (%llu nodes)",
             (long long)snap, (unsigned long long)nodes);
    return STORE_ENOMEM;
  }
  rc = store_scan(s, snap, (flags & GRAPH_IDENTITY) ? 0 : STORE_SCAN_LIGHT,
                  on_node, on_edge, &l);
  if (l.failed) {
    snprintf(err, errlen, "snapshot %lld: %s", (long long)snap,
             graph_builder_error(l.b));
    graph_builder_free(l.b);
    return STORE_ECORRUPT;
  }
  if (rc) {
    graph_builder_free(l.b);
    return store_error(s, rc, err, errlen);
  }
  char why[200];
  *out = graph_builder_finish(l.b, why, sizeof why);
  if (!*out) {
    snprintf(err, errlen, "snapshot %lld: %s", (long long)snap, why);
    return STORE_ECORRUPT;
  }
  return STORE_OK;
}

/* ---------------------------------------------------------------- */
/* Side tables                                                       */
/* ---------------------------------------------------------------- */

/* Make the side tables exist; 0, or -1 if the database cannot be written
** (read-only, busy): the caller then computes without keeping. */
static int cache_tables(sqlite3 *db) {
  if (sqlite3_db_readonly(db, "main") != 0) return -1;
  return sqlite3_exec(db, schema, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* Read the cached dominators of snap into d (NULL: only check). Returns
** 1 if a fresh row was found, 0 if none or stale, -1 on a damaged row. */
static int cache_read(sqlite3 *db, const store_snapshot *info,
                      analysis_dom *d) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, d
        ? "SELECT version, hash, nodes, reachable, idom, retained FROM"
          " analysis_snapshots WHERE snapshot=?1"
        : "SELECT version, hash, nodes, reachable FROM analysis_snapshots"
          " WHERE snapshot=?1", -1, &st, NULL) != SQLITE_OK) {
    sqlite3_finalize(st);
    return 0; /* no table yet */
  }
  sqlite3_bind_int64(st, 1, info->id);
  int found = 0;
  if (sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_int(st, 0) == ANALYSIS_VERSION &&
      strcmp((const char *)sqlite3_column_text(st, 1), info->hash) == 0 &&
      (uint64_t)sqlite3_column_int64(st, 2) == info->nodes) {
    found = 1;
    if (d) {
      size_t n = (size_t)info->nodes;
      const unsigned char *idom = sqlite3_column_blob(st, 4);
      size_t ilen = (size_t)sqlite3_column_bytes(st, 4);
      const unsigned char *ret = sqlite3_column_blob(st, 5);
      size_t rlen = (size_t)sqlite3_column_bytes(st, 5);
      if (ilen != n * 4 || rlen != n * 8 || !n) {
        found = -1;
      } else {
        memset(d, 0, sizeof *d);
        d->idom = malloc(n * 4);
        d->retained = malloc(n * 8);
        if (!d->idom || !d->retained) {
          analysis_dom_free(d);
          found = 0; /* recompute; that will report the shortage */
        } else {
          d->n = (uint32_t)n;
          d->reachable = (uint32_t)sqlite3_column_int64(st, 3);
          for (size_t v = 0; v < n; v++) {
            d->idom[v] = get_u32(idom + 4 * v);
            d->retained[v] = get_u64(ret + 8 * v);
            if (d->idom[v] != GRAPH_NONE && d->idom[v] >= n) found = -1;
          }
          if (found < 0) analysis_dom_free(d);
        }
      }
    }
  }
  sqlite3_finalize(st);
  return found;
}

/* Keep what was computed. Failure to write (busy, read-only, full disk)
** only costs the next caller a recomputation, so it is not an error. */
static void cache_write(sqlite3 *db, const store_snapshot *info,
                        const graph *g, const analysis_dom *d,
                        const analysis_summary *sum, double ms) {
  if (g->n > CACHE_MAX_NODES || cache_tables(db)) return;
  size_t n = g->n;
  unsigned char *idom = malloc(n * 4), *ret = malloc(n * 8);
  sqlite3_stmt *st = NULL;
  if (!idom || !ret) goto done;
  for (size_t v = 0; v < n; v++) {
    put_u32(idom + 4 * v, d->idom[v]);
    put_u64(ret + 8 * v, d->retained[v]);
  }
  /* A savepoint nests inside a transaction the connection may have open. */
  if (sqlite3_exec(db, "SAVEPOINT analysis", NULL, NULL, NULL) != SQLITE_OK)
    goto done;
  int ok = 1;
  char del[160];
  snprintf(del, sizeof del, "DELETE FROM analysis_snapshots WHERE snapshot=%lld;"
           "DELETE FROM analysis_types WHERE snapshot=%lld;",
           (long long)info->id, (long long)info->id);
  ok = sqlite3_exec(db, del, NULL, NULL, NULL) == SQLITE_OK;
  if (ok && sqlite3_prepare_v2(db, "INSERT INTO analysis_snapshots VALUES"
                               "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)", -1,
                               &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, info->id);
    sqlite3_bind_int(st, 2, ANALYSIS_VERSION);
    sqlite3_bind_text(st, 3, info->hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)g->n);
    sqlite3_bind_int64(st, 5, (int64_t)info->edges);
    sqlite3_bind_int64(st, 6, (int64_t)g->m);
    sqlite3_bind_int64(st, 7, (int64_t)d->reachable);
    sqlite3_bind_int64(st, 8, (int64_t)g->total_size);
    sqlite3_bind_double(st, 9, ms);
    sqlite3_bind_blob64(st, 10, idom, n * 4, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 11, ret, n * 8, SQLITE_STATIC);
    ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    st = NULL;
  } else {
    ok = 0;
  }
  if (ok && sqlite3_prepare_v2(db, "INSERT INTO analysis_types VALUES"
                               "(?1,?2,?3,?4,?5,?6,?7)", -1, &st, NULL)
            == SQLITE_OK) {
    for (size_t i = 0; ok && i < sum->nrows; i++) {
      const analysis_type *r = &sum->rows[i];
      sqlite3_bind_int64(st, 1, info->id);
      sqlite3_bind_int64(st, 2, (int64_t)i);
      sqlite3_bind_text(st, 3, g->kinds.name[r->kind], -1, SQLITE_STATIC);
      if (r->type)
        sqlite3_bind_blob(st, 4, g->types.name[r->type],
                          (int)g->types.len[r->type], SQLITE_STATIC);
      else
        sqlite3_bind_null(st, 4);
      sqlite3_bind_int64(st, 5, (int64_t)r->count);
      sqlite3_bind_int64(st, 6, (int64_t)r->shallow);
      sqlite3_bind_int64(st, 7, (int64_t)r->retained);
      ok = sqlite3_step(st) == SQLITE_DONE;
      sqlite3_reset(st);
    }
  } else {
    ok = 0;
  }
  if (ok) {
    sqlite3_exec(db, "RELEASE analysis", NULL, NULL, NULL);
  } else {
    sqlite3_exec(db, "ROLLBACK TO analysis", NULL, NULL, NULL);
    sqlite3_exec(db, "RELEASE analysis", NULL, NULL, NULL);
  }
done:
  sqlite3_finalize(st);
  free(idom);
  free(ret);
}

/* Load, compute and keep: the graph, its dominators and its summary. */
static int compute_all(store *s, const store_snapshot *info, graph **gout,
                       analysis_dom *d, analysis_summary *sum, char *err,
                       size_t errlen) {
  graph *g;
  int rc = analysis_load(s, info->id, 0, &g, err, errlen);
  if (rc) return rc;
  double t0 = now_ms();
  if (analysis_dominators(g, d, err, errlen)) {
    graph_free(g);
    return STORE_ENOMEM;
  }
  if (analysis_summarize(g, d, sum, err, errlen)) {
    analysis_dom_free(d);
    graph_free(g);
    return STORE_ENOMEM;
  }
  cache_write(store_db(s), info, g, d, sum, now_ms() - t0);
  *gout = g;
  return STORE_OK;
}

/* Analyses being computed in this process, by database file and snapshot.
** The server analyses every stored snapshot on a worker; a viewer asking
** for it meanwhile, on another worker, would compute it a second time (the
** same seconds and memory again). Instead it waits for the first and reads
** what that one kept. */
typedef struct inflight {
  struct inflight *next;
  const char *db;       /* the database file (valid while its owner computes) */
  int64_t snap;
} inflight;

static pthread_mutex_t inflight_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inflight_cv = PTHREAD_COND_INITIALIZER;
static inflight *inflight_list;

static int inflight_same(const inflight *f, const char *db, int64_t snap) {
  return f->snap == snap && strcmp(f->db, db) == 0;
}

/* Wait while another thread computes snap of s's database, then take the
** turn: 1 (the caller calls release after), or 0 for a database that is
** this connection's own (temporary or in memory): nothing to wait for. */
static int claim(store *s, int64_t snap, inflight *me) {
  const char *db = sqlite3_db_filename(store_db(s), "main");
  if (db == NULL || *db == '\0') return 0;
  pthread_mutex_lock(&inflight_mu);
  for (;;) {
    const inflight *f = inflight_list;
    while (f && !inflight_same(f, db, snap)) f = f->next;
    if (!f) break;
    pthread_cond_wait(&inflight_cv, &inflight_mu);
  }
  me->db = db;
  me->snap = snap;
  me->next = inflight_list;
  inflight_list = me;
  pthread_mutex_unlock(&inflight_mu);
  return 1;
}

static void release(inflight *me) {
  pthread_mutex_lock(&inflight_mu);
  inflight **pp = &inflight_list;
  while (*pp != me) pp = &(*pp)->next;
  *pp = me->next;
  pthread_cond_broadcast(&inflight_cv);
  pthread_mutex_unlock(&inflight_mu);
}

/* The same, keeping only the dominators (into d, when not NULL). */
static int compute(store *s, const store_snapshot *info, analysis_dom *d,
                   char *err, size_t errlen) {
  graph *g;
  analysis_dom dom;
  analysis_summary sum;
  int rc = compute_all(s, info, &g, &dom, &sum, err, errlen);
  if (rc) return rc;
  analysis_summary_free(&sum);
  graph_free(g);
  if (d) *d = dom;
  else analysis_dom_free(&dom);
  return STORE_OK;
}

/* What is kept for the snapshot (the dominators into d, when not NULL), or
** else computed and kept: by one thread of the process at a time, so one
** that waited reads what the other kept. */
static int kept_or_compute(store *s, const store_snapshot *info, analysis_dom *d,
                           int *computed, char *err, size_t errlen) {
  sqlite3 *db = store_db(s);
  inflight me;
  int rc = STORE_OK, mine;
  if (cache_read(db, info, d) == 1) return STORE_OK;
  mine = claim(s, info->id, &me);
  if (!mine || cache_read(db, info, d) != 1) {
    rc = compute(s, info, d, err, errlen);
    if (!rc && computed) *computed = 1;
  }
  if (mine) release(&me);
  return rc;
}

int analysis_prepare(store *s, int64_t snap, int *computed, char *err,
                     size_t errlen) {
  if (computed) *computed = 0;
  store_snapshot info;
  int rc = store_snapshot_get(s, snap, &info);
  if (rc) return store_error(s, rc, err, errlen);
  rc = kept_or_compute(s, &info, NULL, computed, err, errlen);
  store_snapshot_release(&info);
  return rc;
}

int analysis_kept(store *s, int64_t snap) {
  store_snapshot info;
  if (store_snapshot_get(s, snap, &info) != STORE_OK) return 0;
  int kept = cache_read(store_db(s), &info, NULL) == 1;
  store_snapshot_release(&info);
  return kept;
}

int analysis_get_dom(store *s, int64_t snap, analysis_dom *d, char *err,
                     size_t errlen) {
  memset(d, 0, sizeof *d);
  store_snapshot info;
  int rc = store_snapshot_get(s, snap, &info);
  if (rc) return store_error(s, rc, err, errlen);
  rc = kept_or_compute(s, &info, d, NULL, err, errlen);
  store_snapshot_release(&info);
  return rc;
}

void analysis_forget(store *s, int64_t snap) {
  sqlite3 *db = store_db(s);
  char sql[160];
  if (sqlite3_db_readonly(db, "main") != 0) return;
  snprintf(sql, sizeof sql, "DELETE FROM analysis_snapshots WHERE snapshot=%lld;"
           "DELETE FROM analysis_types WHERE snapshot=%lld;", (long long)snap,
           (long long)snap);
  sqlite3_exec(db, sql, NULL, NULL, NULL); /* no tables yet: nothing kept */
}

/* Rows from a summary computed in memory (a database we cannot write). */
static void summary_emit(const graph *g, const analysis_summary *sum,
                         uint64_t offset, uint64_t limit, analysis_row_fn fn,
                         void *ud, analysis_totals *totals) {
  totals->nodes = sum->nodes;
  totals->refs = sum->edges;
  totals->reachable = sum->reachable;
  totals->shallow = sum->shallow;
  totals->rows = sum->nrows;
  for (uint64_t i = offset; i < sum->nrows && (!limit || i - offset < limit);
       i++) {
    const analysis_type *t = &sum->rows[i];
    analysis_row r = {g->kinds.name[t->kind],
                      t->type ? g->types.name[t->type] : NULL,
                      t->type ? g->types.len[t->type] : 0, t->count,
                      t->shallow, t->retained};
    if (fn(ud, &r)) break;
  }
}

/* Rows from the side tables; -1 if they do not hold snap. */
static int summary_stored(sqlite3 *db, int64_t snap, uint64_t offset,
                          uint64_t limit, analysis_row_fn fn, void *ud,
                          analysis_totals *totals, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT nodes, refs, reachable, shallow,"
                         " (SELECT count(*) FROM analysis_types WHERE"
                         " snapshot=?1) FROM analysis_snapshots WHERE"
                         " snapshot=?1", -1, &st, NULL) != SQLITE_OK ||
      (sqlite3_bind_int64(st, 1, snap), sqlite3_step(st)) != SQLITE_ROW) {
    sqlite3_finalize(st);
    return -1;
  }
  totals->nodes = (uint64_t)sqlite3_column_int64(st, 0) - 1;
  totals->refs = (uint64_t)sqlite3_column_int64(st, 1);
  totals->reachable = (uint64_t)sqlite3_column_int64(st, 2) - 1;
  totals->shallow = (uint64_t)sqlite3_column_int64(st, 3);
  totals->rows = (uint64_t)sqlite3_column_int64(st, 4);
  sqlite3_finalize(st);
  if (sqlite3_prepare_v2(db, "SELECT kind, type, count, shallow, retained"
                         " FROM analysis_types WHERE snapshot=?1 AND rank>=?2"
                         " ORDER BY rank LIMIT ?3", -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "reading the summary: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return STORE_ESQL;
  }
  sqlite3_bind_int64(st, 1, snap);
  sqlite3_bind_int64(st, 2, offset > INT64_MAX ? INT64_MAX : (int64_t)offset);
  sqlite3_bind_int64(st, 3, limit && limit < INT64_MAX ? (int64_t)limit : -1);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    analysis_row r;
    r.kind = (const char *)sqlite3_column_text(st, 0);
    r.type = sqlite3_column_blob(st, 1);
    r.type_len = (size_t)sqlite3_column_bytes(st, 1);
    r.count = (uint64_t)sqlite3_column_int64(st, 2);
    r.shallow = (uint64_t)sqlite3_column_int64(st, 3);
    r.retained = (uint64_t)sqlite3_column_int64(st, 4);
    if (!r.type) r.type_len = 0;
    if (fn(ud, &r)) break;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    snprintf(err, errlen, "reading the summary: %s", sqlite3_errmsg(db));
    return STORE_ESQL;
  }
  return STORE_OK;
}

int analysis_summary_rows(store *s, int64_t snap, uint64_t offset,
                          uint64_t limit, analysis_row_fn fn, void *ud,
                          analysis_totals *totals, char *err,
                          size_t errlen) {
  memset(totals, 0, sizeof *totals);
  store_snapshot info;
  int rc = store_snapshot_get(s, snap, &info);
  if (rc) return store_error(s, rc, err, errlen);
  sqlite3 *db = store_db(s);
  inflight me;
  int mine = 0;
  for (;;) {
    if (cache_read(db, &info, NULL) == 1) {
      rc = summary_stored(db, snap, offset, limit, fn, ud, totals, err, errlen);
      if (rc >= 0) {
        if (mine) release(&me);
        store_snapshot_release(&info);
        return rc;
      }
    }
    /* not kept: wait for whoever computes it now, and look once more */
    if (mine || !(mine = claim(s, snap, &me))) break;
  }
  graph *g;
  analysis_dom d;
  analysis_summary sum;
  rc = compute_all(s, &info, &g, &d, &sum, err, errlen);
  if (mine) release(&me);
  store_snapshot_release(&info);
  if (rc) return rc;
  summary_emit(g, &sum, offset, limit, fn, ud, totals);
  analysis_summary_free(&sum);
  analysis_dom_free(&d);
  graph_free(g);
  return STORE_OK;
}
