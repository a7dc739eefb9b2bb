/*
** store_query.c
** Lookups for people and the API: snapshots and machines, one node, its
** children and retainers (paged), searches, and the frames of a break or
** crash snapshot.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

#define SNAPSHOT_COLS \
  "s.id, s.machine, m.name, s.wire_id, s.label, s.vm, s.version, s.time," \
  " s.stored, s.reason, s.roots, s.exits, s.nodes, s.edges, s.bytes," \
  " s.hash, s.error, s.traceback, s.indexed"

/* SQLite's LIMIT -1 means no limit. */
static int64_t sql_limit(uint64_t limit) {
  return limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
}

static int64_t sql_offset(uint64_t offset) {
  return offset > INT64_MAX ? INT64_MAX : (int64_t)offset;
}

static const char *col_text(sqlite3_stmt *st, int i) {
  const char *p = (const char *)sqlite3_column_text(st, i);
  return p ? p : "";
}

static const char *col_blob(sqlite3_stmt *st, int i, size_t *n) {
  *n = 0;
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return NULL;
  const char *p = (const char *)sqlite3_column_blob(st, i);
  *n = (size_t)sqlite3_column_bytes(st, i);
  return p ? p : "";
}

static void read_snapshot(sqlite3_stmt *st, store_snapshot *o) {
  memset(o, 0, sizeof *o);
  o->id = sqlite3_column_int64(st, 0);
  o->machine = sqlite3_column_int64(st, 1);
  o->machine_name = col_blob(st, 2, &o->machine_name_len);
  if (!o->machine_name) o->machine_name = "";
  o->wire_id = col_text(st, 3);
  o->label = col_blob(st, 4, &o->label_len);
  o->vm = col_text(st, 5);
  o->version = col_text(st, 6);
  o->time_ms = sqlite3_column_int64(st, 7);
  o->stored_ms = sqlite3_column_int64(st, 8);
  o->reason = col_text(st, 9);
  o->roots = col_text(st, 10);
  o->exits = col_text(st, 11);
  o->nodes = (uint64_t)sqlite3_column_int64(st, 12);
  o->edges = (uint64_t)sqlite3_column_int64(st, 13);
  o->bytes = (uint64_t)sqlite3_column_int64(st, 14);
  snprintf(o->hash, sizeof o->hash, "%s", col_text(st, 15));
  o->error = col_blob(st, 16, &o->error_len);
  o->traceback = col_blob(st, 17, &o->traceback_len);
  o->indexed = sqlite3_column_int(st, 18) == 1;
}

/* Step st, handing each row to per_row; shared loop of every query. */
static int each_row(store *s, sqlite3_stmt *st, const char *doing,
                    int (*per_row)(store *, sqlite3_stmt *, void *), void *ctx) {
  int rc, status = STORE_OK;
  while (!status && (rc = sqlite3_step(st)) == SQLITE_ROW)
    status = per_row(s, st, ctx);
  if (!status && rc != SQLITE_DONE) status = store_fail_sql(s, rc, doing);
  sqlite3_finalize(st);
  return status;
}

typedef struct snap_ctx { store_snapshot_fn fn; void *ud; } snap_ctx;

static int snapshot_row(store *s, sqlite3_stmt *st, void *p) {
  snap_ctx *c = p;
  store_snapshot snap;
  read_snapshot(st, &snap);
  if (c->fn(c->ud, &snap)) return store_fail(s, STORE_ESTOPPED, "stopped");
  return STORE_OK;
}

int store_snapshots(store *s, int64_t machine, uint64_t offset,
                    uint64_t limit, store_snapshot_fn fn, void *ud) {
  sqlite3_stmt *st = store_prepare(s,
      "SELECT " SNAPSHOT_COLS " FROM snapshots s JOIN machines m ON"
      " m.id = s.machine WHERE s.state='complete' AND (?1 <= 0 OR"
      " s.machine = ?1) ORDER BY s.id DESC LIMIT ?2 OFFSET ?3");
  if (!st) return STORE_ESQL;
  sqlite3_bind_int64(st, 1, machine);
  sqlite3_bind_int64(st, 2, sql_limit(limit));
  sqlite3_bind_int64(st, 3, sql_offset(offset));
  snap_ctx c = {fn, ud};
  return each_row(s, st, "listing snapshots", snapshot_row, &c);
}

/* Copy n bytes (plus a NUL) to *at and advance it; returns the copy. */
static const char *copy_out(char **at, const char *p, size_t n) {
  if (!p) return NULL;
  char *d = *at;
  if (n) memcpy(d, p, n);
  d[n] = 0;
  *at += n + 1;
  return d;
}

int store_snapshot_get(store *s, int64_t id, store_snapshot *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = store_prepare(s,
      "SELECT " SNAPSHOT_COLS " FROM snapshots s JOIN machines m ON"
      " m.id = s.machine WHERE s.id=?1 AND s.state='complete'");
  if (!st) return STORE_ESQL;
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
      return store_fail(s, STORE_ENOTFOUND, "no snapshot %lld; `amber list` "
                        "shows the stored ones", (long long)id);
    return store_fail_sql(s, rc, "reading a snapshot");
  }
  store_snapshot b;
  read_snapshot(st, &b);
  size_t need = b.machine_name_len + b.label_len + b.error_len +
                b.traceback_len + strlen(b.wire_id) + strlen(b.vm) +
                strlen(b.version) + strlen(b.reason) + strlen(b.roots) +
                strlen(b.exits) + 10;
  char *mem = malloc(need), *at = mem;
  if (!mem) {
    sqlite3_finalize(st);
    return store_fail(s, STORE_ENOMEM, "out of memory reading snapshot %lld",
                      (long long)id);
  }
  *out = b;
  out->mem_ = mem;
  out->machine_name = copy_out(&at, b.machine_name, b.machine_name_len);
  out->label = copy_out(&at, b.label, b.label_len);
  out->error = copy_out(&at, b.error, b.error_len);
  out->traceback = copy_out(&at, b.traceback, b.traceback_len);
  out->wire_id = copy_out(&at, b.wire_id, strlen(b.wire_id));
  out->vm = copy_out(&at, b.vm, strlen(b.vm));
  out->version = copy_out(&at, b.version, strlen(b.version));
  out->reason = copy_out(&at, b.reason, strlen(b.reason));
  out->roots = copy_out(&at, b.roots, strlen(b.roots));
  out->exits = copy_out(&at, b.exits, strlen(b.exits));
  assert((size_t)(at - mem) <= need);
  sqlite3_finalize(st);
  return STORE_OK;
}

void store_snapshot_release(store_snapshot *snap) {
  free(snap->mem_);
  memset(snap, 0, sizeof *snap);
}

int store_snapshot_delete(store *s, int64_t id) {
  if (s->writer)
    return store_fail(s, STORE_EBUSY, "a snapshot is being written; delete "
                      "snapshot %lld when it has finished", (long long)id);
  uint64_t nodes, edges;
  int rc = store_snapshot_counts(s, id, &nodes, &edges);
  if (rc) return rc;
  sqlite3_stmt *st = NULL;
  int src = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (src != SQLITE_OK) return store_fail_sql(s, src, "deleting a snapshot");
  const char *sql[] = {
    "DELETE FROM pages WHERE rid BETWEEN ?1 AND ?2",
    "DELETE FROM edges WHERE rid BETWEEN ?1 AND ?2",
    "DELETE FROM refs WHERE target BETWEEN ?1 AND ?2",
    "DELETE FROM addrs WHERE snap = ?3",
    "DELETE FROM types WHERE snap = ?3",
    "DELETE FROM kinds WHERE snap = ?3",
    "DELETE FROM snapshots WHERE id = ?3",
    "DELETE FROM machines WHERE id NOT IN (SELECT machine FROM snapshots)"};
  for (size_t i = 0; !rc && i < sizeof sql / sizeof *sql; i++) {
    if (!(st = store_prepare(s, sql[i]))) {
      rc = STORE_ESQL;
      break;
    }
    sqlite3_bind_int64(st, 1, store_rid(id, 0));
    sqlite3_bind_int64(st, 2, store_rid(id, STORE_MAX_IDS - 1));
    sqlite3_bind_int64(st, 3, id);
    src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE) rc = store_fail_sql(s, src, "deleting a snapshot");
  }
  src = sqlite3_exec(s->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
  if (!rc && src != SQLITE_OK) rc = store_fail_sql(s, src, "deleting a snapshot");
  return rc;
}

typedef struct machine_ctx { store_machine_fn fn; void *ud; } machine_ctx;

static int machine_row(store *s, sqlite3_stmt *st, void *p) {
  machine_ctx *c = p;
  store_machine m;
  memset(&m, 0, sizeof m);
  m.id = sqlite3_column_int64(st, 0);
  m.name = col_blob(st, 1, &m.name_len);
  if (!m.name) m.name = "";
  m.vm = col_text(st, 2);
  m.version = col_text(st, 3);
  m.pid = sqlite3_column_int64(st, 4);
  m.first_seen_ms = sqlite3_column_int64(st, 5);
  m.last_seen_ms = sqlite3_column_int64(st, 6);
  m.snapshots = (uint64_t)sqlite3_column_int64(st, 7);
  if (c->fn(c->ud, &m)) return store_fail(s, STORE_ESTOPPED, "stopped");
  return STORE_OK;
}

int store_machines(store *s, store_machine_fn fn, void *ud) {
  sqlite3_stmt *st = store_prepare(s,
      "SELECT m.id, m.name, m.vm, m.version, m.pid, m.first_seen,"
      " m.last_seen, (SELECT count(*) FROM snapshots s WHERE s.machine = m.id"
      " AND s.state='complete') AS n FROM machines m WHERE n > 0"
      " ORDER BY m.last_seen DESC, m.id DESC");
  if (!st) return STORE_ESQL;
  machine_ctx c = {fn, ud};
  return each_row(s, st, "listing machines", machine_row, &c);
}

/* ------------------------------------------------------------------ */
/* Nodes and edges                                                     */
/* ------------------------------------------------------------------ */

static int no_node(store *s, int64_t snap, uint64_t id, uint64_t nodes) {
  return store_fail(s, STORE_ENOTFOUND, "snapshot %lld has no node %llu "
                    "(its nodes are 0 to %llu)", (long long)snap,
                    (unsigned long long)id,
                    (unsigned long long)(nodes ? nodes - 1 : 0));
}

int store_node_get(store *s, int64_t snap, uint64_t id, store_node *out) {
  memset(out, 0, sizeof *out);
  store_pages pg;
  store_node b;
  uint64_t e0;
  int rc = store_pages_open(&pg, s, snap);
  if (!rc && id >= pg.nodes) rc = no_node(s, snap, id, pg.nodes);
  if (!rc) rc = store_pages_node(&pg, id, &b, &e0);
  if (!rc) {
    wire_node *n = &b.n;
    size_t need = strlen(n->kind) + n->type_len + n->name_len + n->value_len +
                  n->payload_len + n->source_len +
                  (n->mode ? strlen(n->mode) : 0) +
                  (n->status ? strlen(n->status) : 0) + 8;
    char *mem = malloc(need), *at = mem;
    if (!mem) {
      rc = store_fail(s, STORE_ENOMEM, "out of memory reading node %llu",
                      (unsigned long long)id);
    } else {
      *out = b;
      out->mem_ = mem;
      out->n.kind = copy_out(&at, n->kind, strlen(n->kind));
      out->n.type = copy_out(&at, n->type, n->type_len);
      out->n.name = copy_out(&at, n->name, n->name_len);
      out->n.value = copy_out(&at, n->value, n->value_len);
      out->n.payload = copy_out(&at, n->payload, n->payload_len);
      out->n.source = copy_out(&at, n->source, n->source_len);
      out->n.mode = copy_out(&at, n->mode, n->mode ? strlen(n->mode) : 0);
      out->n.status = copy_out(&at, n->status, n->status ? strlen(n->status) : 0);
    }
  }
  store_pages_close(&pg);
  return rc;
}

void store_node_release(store_node *node) {
  free(node->mem_);
  memset(node, 0, sizeof *node);
}

int store_children(store *s, int64_t snap, uint64_t id, uint64_t offset,
                   uint64_t limit, store_edge_fn fn, void *ud) {
  uint64_t nodes, edges;
  int rc = store_snapshot_counts(s, snap, &nodes, &edges);
  if (rc) return rc;
  if (id >= nodes) return no_node(s, snap, id, nodes);
  store_ecur c;
  rc = store_ecur_open_node(&c, s, snap, id, offset);
  for (uint64_t k = 0; !rc && (!limit || k < limit); k++) {
    store_edge e;
    int got;
    if ((rc = store_ecur_next(&c, &e, &got)) || !got) break;
    if (fn(ud, &e)) rc = store_fail(s, STORE_ESTOPPED, "stopped");
  }
  store_ecur_close(&c);
  return rc;
}

static int refers_to(const wire_edge *e, uint64_t id) {
  return (e->value.type == WIRE_V_REF && e->value.u.ref == id) ||
         (e->key.type == WIRE_V_REF && e->key.u.ref == id);
}

/* The edge at position pos, which leaves node src, if it refers to id. */
static int retainer(store_pages *pg, uint64_t id, uint64_t src, uint64_t pos,
                    store_edge_fn fn, void *ud) {
  store *s = pg->s;
  store_node n;
  uint64_t e0 = 0;
  int rc = src < pg->nodes ? store_pages_node(pg, src, &n, &e0)
                           : store_corrupt(s, pg->snap, "reference to node", id,
                                           "it names no source node");
  if (rc) return rc;
  if (pos < e0 || pos - e0 >= n.nedges)
    return store_corrupt(s, pg->snap, "reference to node", id, "it names an "
                         "edge its source does not have");
  store_ecur c;
  store_edge e;
  int got = 0;
  rc = store_ecur_open(&c, s, pg->snap, src, e0, n.nedges, pos - e0);
  if (!rc) rc = store_ecur_next(&c, &e, &got);
  if (!rc && (!got || !refers_to(&e.e, id)))
    rc = store_corrupt(s, pg->snap, "reference to node", id, "its edge does "
                       "not refer to it");
  if (!rc && fn(ud, &e)) rc = store_fail(s, STORE_ESTOPPED, "stopped");
  store_ecur_close(&c);
  return rc;
}

/* Retainers without the index (not built yet): every edge, in order. */
typedef struct retain_ctx {
  uint64_t id, skip, limit, found;
  store_edge_fn fn;
  void *ud;
} retain_ctx;

static int retain_edge(void *ud, const store_edge *e) {
  retain_ctx *c = ud;
  if (!refers_to(&e->e, c->id)) return 0;
  if (c->skip) {
    c->skip--;
    return 0;
  }
  if (c->fn(c->ud, e)) return 1;
  return ++c->found == c->limit;
}

int store_retainers(store *s, int64_t snap, uint64_t id, uint64_t offset,
                    uint64_t limit, store_edge_fn fn, void *ud) {
  store_pages pg;
  int rc = store_pages_open(&pg, s, snap);
  if (!rc && id >= pg.nodes) rc = no_node(s, snap, id, pg.nodes);
  if (!rc && !store_indexed(s, snap)) {
    retain_ctx c = {id, offset, limit, 0, fn, ud};
    rc = store_scan(s, snap, STORE_SCAN_LIGHT, NULL, retain_edge, &c);
    if (rc == STORE_ESTOPPED && c.limit && c.found == c.limit) rc = STORE_OK;
    store_pages_close(&pg);
    return rc;
  }
  /* refs holds one row per edge that refers to a node, as value or key. */
  sqlite3_stmt *st = rc ? NULL : store_prepare(s,
      "SELECT pos, src FROM refs WHERE target = ?1 ORDER BY pos"
      " LIMIT ?2 OFFSET ?3");
  if (!rc && !st) rc = STORE_ESQL;
  if (st) {
    sqlite3_bind_int64(st, 1, store_rid(snap, id));
    sqlite3_bind_int64(st, 2, sql_limit(limit));
    sqlite3_bind_int64(st, 3, sql_offset(offset));
    int src;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
      uint64_t pos = (uint64_t)sqlite3_column_int64(st, 0) & (STORE_MAX_IDS - 1);
      int64_t from = sqlite3_column_int64(st, 1);
      rc = retainer(&pg, id, from < 0 ? UINT64_MAX : (uint64_t)from, pos, fn, ud);
    }
    if (!rc && src != SQLITE_DONE) rc = store_fail_sql(s, src, "finding retainers");
    sqlite3_finalize(st);
  }
  store_pages_close(&pg);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Search                                                              */
/* ------------------------------------------------------------------ */

static int prefix_of(const char *p, size_t n, const char *pre, size_t len) {
  return p && n >= len && !memcmp(p, pre, len);
}

static int wanted(const store_search *q, const wire_node *n) {
  return !q ||
         ((!q->kind || !strcmp(n->kind, q->kind)) &&
          (!q->type || (n->type && n->type_len == q->type_len &&
                        !memcmp(n->type, q->type, q->type_len))) &&
          (!q->text || prefix_of(n->value, n->value_len, q->text, q->text_len) ||
           prefix_of(n->name, n->name_len, q->text, q->text_len)) &&
          (!q->has_addr || (n->has_addr && n->addr == q->addr)));
}

/* The lookup index that narrows q best, as a query for candidate ids in
** order from `first`; NULL if none applies (then every node is one). */
static sqlite3_stmt *candidates(store *s, int64_t snap, const store_search *q,
                                uint64_t first, int *rc) {
  static const char *const rare[] = {"thread", "frame", "exit", "stub"};
  const char *table = NULL;
  *rc = STORE_OK;
  if (!q || !store_indexed(s, snap)) return NULL;
  if (q->has_addr) table = "addrs WHERE snap = ?1 AND addr = ?2";
  else if (q->type) table = "types WHERE snap = ?1 AND type = ?2";
  for (size_t i = 0; !table && q->kind && i < sizeof rare / sizeof *rare; i++)
    if (!strcmp(q->kind, rare[i])) table = "kinds WHERE snap = ?1 AND kind = ?2";
  if (!table) return NULL;
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT id FROM %s AND id >= ?3 ORDER BY id", table);
  sqlite3_stmt *st = store_prepare(s, sql);
  if (!st) {
    *rc = STORE_ESQL;
    return NULL;
  }
  sqlite3_bind_int64(st, 1, snap);
  if (q->has_addr) sqlite3_bind_int64(st, 2, (int64_t)q->addr);
  else if (q->type)
    sqlite3_bind_blob64(st, 2, q->type_len ? q->type : "", q->type_len, SQLITE_STATIC);
  else sqlite3_bind_text(st, 2, q->kind, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, (int64_t)(first > INT64_MAX ? INT64_MAX : first));
  return st;
}

int store_find_nodes(store *s, int64_t snap, const store_search *q,
                     int64_t after, uint64_t limit, store_node_fn fn,
                     void *ud) {
  store_pages pg;
  int rc = store_pages_open(&pg, s, snap);
  if (rc) {
    store_pages_close(&pg);
    return rc;
  }
  uint64_t id = after < 0 ? 0 : (uint64_t)after + 1, found = 0;
  sqlite3_stmt *st = candidates(s, snap, q, id, &rc);
  while (!rc && (!limit || found < limit)) {
    if (st) {
      int src = sqlite3_step(st);
      if (src == SQLITE_DONE) break;
      if (src != SQLITE_ROW) {
        rc = store_fail_sql(s, src, "searching nodes");
        break;
      }
      int64_t v = sqlite3_column_int64(st, 0);
      if (v < 0 || (uint64_t)v >= pg.nodes) {
        rc = store_corrupt(s, snap, "index entry for node", (uint64_t)v,
                           "no such node");
        break;
      }
      id = (uint64_t)v;
    } else if (id >= pg.nodes) {
      break;
    }
    store_node n;
    uint64_t e0;
    if ((rc = store_pages_node(&pg, id++, &n, &e0))) break;
    if (!wanted(q, &n.n)) continue;
    found++;
    if (fn(ud, &n)) rc = store_fail(s, STORE_ESTOPPED, "stopped");
  }
  sqlite3_finalize(st);
  store_pages_close(&pg);
  return rc;
}

typedef struct find_ctx {
  const char *prefix;
  size_t len;
  uint64_t pos, first, limit, found;
  store_edge_fn fn;
  void *ud;
} find_ctx;

static int find_edge(void *ud, const store_edge *e) {
  find_ctx *c = ud;
  uint64_t pos = c->pos++;
  if (pos < c->first || !e->e.name || e->e.name_len < c->len ||
      memcmp(e->e.name, c->prefix, c->len))
    return 0;
  if (c->fn(c->ud, e)) return 1;
  return ++c->found == c->limit;
}

int store_find_edges(store *s, int64_t snap, const char *prefix,
                     size_t prefix_len, int64_t after, uint64_t limit,
                     store_edge_fn fn, void *ud) {
  /* Names are inside packed edges: a search reads the snapshot's edges
  ** in order (one pass, no index to slow every ingest down). */
  find_ctx c = {prefix ? prefix : "", prefix ? prefix_len : 0, 0,
                after < 0 ? 0 : (uint64_t)after + 1, limit, 0, fn, ud};
  int rc = store_scan(s, snap, STORE_SCAN_LIGHT, NULL, find_edge, &c);
  if (rc == STORE_ESTOPPED && c.limit && c.found == c.limit) rc = STORE_OK;
  return rc;
}

int64_t store_edge_pos(store *s, int64_t snap, const store_edge *edge) {
  store_pages pg;
  store_node n;
  uint64_t e0 = 0;
  int rc = store_pages_open(&pg, s, snap);
  if (!rc) rc = edge->from < pg.nodes ? store_pages_node(&pg, edge->from, &n, &e0)
                                      : STORE_ENOTFOUND;
  store_pages_close(&pg);
  return rc ? -1 : (int64_t)(e0 + edge->seq);
}

/* ------------------------------------------------------------------ */
/* Frames                                                              */
/* ------------------------------------------------------------------ */

/* A frame edge of a thread: read the frame node and report it. */
static int frame_of(store_pages *pg, const store_edge *e, store_frame_fn fn,
                    void *ud) {
  store_frame f;
  store_node n;
  uint64_t e0;
  memset(&f, 0, sizeof f);
  f.thread = e->from;
  f.level = e->e.has_index ? e->e.index : (int64_t)e->seq;
  f.node = e->e.value.u.ref;
  int rc = store_pages_node(pg, f.node, &n, &e0);
  if (rc) return rc;
  if (strcmp(n.n.kind, "frame")) return STORE_OK; /* not a frame node: not a frame */
  f.name = n.n.name;
  f.name_len = n.n.name_len;
  f.source = n.n.source;
  f.source_len = n.n.source_len;
  f.line = n.n.line;
  f.has_line = n.n.has_line;
  return fn(ud, &f) ? store_fail(pg->s, STORE_ESTOPPED, "stopped") : STORE_OK;
}

typedef struct frames_ctx {
  store_pages *pg;       /* frame nodes */
  store_frame_fn fn;
  void *ud;
  int rc;
} frames_ctx;

/* A thread: report the frames its `frame` edges list. */
static int thread_frames(void *ud, const store_node *t) {
  frames_ctx *c = ud;
  store *s = c->pg->s;
  if (strcmp(t->n.kind, "thread")) return 0;
  store_ecur ec;
  int rc = store_ecur_open_node(&ec, s, c->pg->snap, t->n.id, 0);
  for (int got = 1; !rc && got;) {
    store_edge e;
    rc = store_ecur_next(&ec, &e, &got);
    if (!rc && got && !strcmp(e.e.kind, "frame") && e.e.value.type == WIRE_V_REF &&
        e.e.value.u.ref < c->pg->nodes)
      rc = frame_of(c->pg, &e, c->fn, c->ud);
  }
  store_ecur_close(&ec);
  c->rc = rc;
  return rc != STORE_OK;
}

int store_frames(store *s, int64_t snap, store_frame_fn fn, void *ud) {
  store_pages pg;
  int rc = store_pages_open(&pg, s, snap);
  frames_ctx c = {&pg, fn, ud, STORE_OK};
  /* Threads in id order (by the kind index once built); each lists its
  ** frames as `frame` edges, innermost first. */
  store_search q = {0};
  q.kind = "thread";
  if (!rc) rc = store_find_nodes(s, snap, &q, -1, 0, thread_frames, &c);
  if (rc == STORE_ESTOPPED && c.rc) rc = c.rc;
  store_pages_close(&pg);
  return rc;
}
