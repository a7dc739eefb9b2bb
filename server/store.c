/*
** store.c
** Opening the snapshot store: SQLite pragmas, the schema, and the ordered
** migrations that bring an older database up to STORE_SCHEMA_VERSION.
*/
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_impl.h"

/* PRAGMA application_id of an amber database: "ambr". */
#define STORE_APP_ID 0x616d6272

/*
** The migrations, in order. Step k brings a database from version k-1 to
** version k; each runs inside the open's transaction, so a failed step
** leaves the database as it was. Never edit a released step: add a new one.
*/
typedef struct store_migration {
  int version;
  const char *what;
  const char *sql;
  int (*convert)(store *s);  /* then this, if the data must be rewritten */
  const char *after;         /* then this SQL, if any */
} store_migration;

static const store_migration migrations[] = {
  {1, "machines, snapshots, nodes with packed edges, chunks, references",
   "CREATE TABLE machines("
   " id INTEGER PRIMARY KEY,"
   " name BLOB NOT NULL,"
   " vm TEXT NOT NULL DEFAULT '',"
   " version TEXT NOT NULL DEFAULT '',"
   " pid INTEGER NOT NULL DEFAULT -1,"
   " first_seen INTEGER NOT NULL,"
   " last_seen INTEGER NOT NULL);"
   "CREATE INDEX machines_name ON machines(name, pid);"
   "CREATE TABLE snapshots("
   " id INTEGER PRIMARY KEY AUTOINCREMENT,"
   " machine INTEGER NOT NULL REFERENCES machines(id),"
   " wire_id TEXT NOT NULL,"
   " label BLOB,"
   " vm TEXT NOT NULL DEFAULT '',"
   " version TEXT NOT NULL DEFAULT '',"
   " time INTEGER NOT NULL DEFAULT 0,"
   " stored INTEGER NOT NULL DEFAULT 0,"
   " reason TEXT NOT NULL DEFAULT 'request',"
   " nodes INTEGER NOT NULL DEFAULT 0,"
   " edges INTEGER NOT NULL DEFAULT 0,"
   " bytes INTEGER NOT NULL DEFAULT 0,"
   " hash TEXT NOT NULL DEFAULT '',"
   " state TEXT NOT NULL DEFAULT 'ingesting');"
   "CREATE INDEX snapshots_machine ON snapshots(machine);"
   "CREATE TABLE nodes("
   " rid INTEGER PRIMARY KEY,"
   " kind TEXT NOT NULL,"
   " size INTEGER, addr INTEGER, mode TEXT, status TEXT, line INTEGER,"
   " e0 INTEGER NOT NULL,"
   " en INTEGER NOT NULL,"
   " type BLOB, name BLOB, source BLOB, value BLOB, payload BLOB,"
   " edges BLOB);"
   "CREATE INDEX nodes_addr ON nodes(addr) WHERE addr IS NOT NULL;"
   "CREATE INDEX nodes_thread ON nodes(rid) WHERE kind = 'thread';"
   "CREATE INDEX nodes_frame ON nodes(rid) WHERE kind = 'frame';"
   "CREATE INDEX nodes_exit ON nodes(rid) WHERE kind = 'exit';"
   "CREATE INDEX nodes_stub ON nodes(rid) WHERE kind = 'stub';"
   "CREATE TABLE edges("
   " rid INTEGER PRIMARY KEY,"
   " src INTEGER NOT NULL,"
   " n INTEGER NOT NULL,"
   " data BLOB NOT NULL);"
   "CREATE TABLE refs("
   " target INTEGER NOT NULL,"
   " pos INTEGER NOT NULL,"
   " src INTEGER NOT NULL,"
   " PRIMARY KEY(target, pos)) WITHOUT ROWID;", NULL, NULL},
  {2, "requested roots and exits, crash info, nodes by type name",
   "ALTER TABLE snapshots ADD COLUMN roots TEXT NOT NULL DEFAULT '';"
   "ALTER TABLE snapshots ADD COLUMN exits TEXT NOT NULL DEFAULT '';"
   "ALTER TABLE snapshots ADD COLUMN error BLOB;"
   "ALTER TABLE snapshots ADD COLUMN traceback BLOB;"
   "CREATE INDEX nodes_type ON nodes(type) WHERE type IS NOT NULL;", NULL, NULL},
  {3, "address and type indexes keyed by snapshot first, one index for the"
      " rare kinds",
   "DROP INDEX nodes_addr;"
   "DROP INDEX nodes_type;"
   "DROP INDEX nodes_thread;"
   "DROP INDEX nodes_frame;"
   "DROP INDEX nodes_exit;"
   "DROP INDEX nodes_stub;"
   "CREATE INDEX nodes_addr ON nodes(rid >> 40, addr) WHERE addr IS NOT NULL;"
   "CREATE INDEX nodes_type ON nodes(rid >> 40, type) WHERE type IS NOT NULL;"
   "CREATE INDEX nodes_rare ON nodes(kind, rid) WHERE kind = 'thread' OR"
   " kind = 'frame' OR kind = 'exit' OR kind = 'stub';", NULL, NULL},
  {4, "nodes packed in pages, edges in chunks spanning nodes, lookup indexes"
      " built after the commit",
   "CREATE TABLE pages("
   " rid INTEGER PRIMARY KEY,"
   " n INTEGER NOT NULL,"
   " e0 INTEGER NOT NULL,"
   " data BLOB NOT NULL);"
   "CREATE TABLE chunks("
   " rid INTEGER PRIMARY KEY,"
   " n INTEGER NOT NULL,"
   " data BLOB NOT NULL);"
   "ALTER TABLE snapshots ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;"
   "CREATE TABLE addrs("
   " snap INTEGER NOT NULL, addr INTEGER NOT NULL, id INTEGER NOT NULL,"
   " PRIMARY KEY(snap, addr, id)) WITHOUT ROWID;"
   "CREATE TABLE types("
   " snap INTEGER NOT NULL, type BLOB NOT NULL, id INTEGER NOT NULL,"
   " PRIMARY KEY(snap, type, id)) WITHOUT ROWID;"
   "CREATE TABLE kinds("
   " snap INTEGER NOT NULL, kind TEXT NOT NULL, id INTEGER NOT NULL,"
   " PRIMARY KEY(snap, kind, id)) WITHOUT ROWID;",
   store_migrate_v4,
   "DROP TABLE nodes;"
   "DROP TABLE edges;"
   "ALTER TABLE chunks RENAME TO edges;"},
  /* Only new rows use it, and a version 4 row reads the same: but an amber
  ** of version 4 would not read the new rows, so the number changes. */
  {5, "packed edges may write an index as the previous edge's plus one",
   "", NULL, NULL},
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static const char *const status_names[] = {
  "ok", "not found", "bad argument", "protocol error", "hash mismatch",
  "count mismatch", "dangling reference", "machine error", "aborted",
  "truncated", "corrupt row", "database from a newer amber",
  "not an amber database", "database busy", "limit exceeded",
  "SQLite error", "I/O error", "out of memory", "stopped"};

const char *store_status_name(int status) {
  if (status < 0 || status >= (int)(sizeof status_names / sizeof *status_names))
    return "unknown error";
  return status_names[status];
}

int store_fail(store *s, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
  return code;
}

int store_fail_sql(store *s, int rc, const char *doing) {
  const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return store_fail(s, STORE_EBUSY,
                      "%s: %s is locked by another process (%s); try again "
                      "when it has finished", doing, s->path, msg);
  case SQLITE_NOMEM:
    return store_fail(s, STORE_ENOMEM, "%s: out of memory", doing);
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    return store_fail(s, STORE_ECORRUPT,
                      "%s: %s is damaged (%s); check it with sqlite3 %s "
                      "'PRAGMA integrity_check'", doing, s->path, msg, s->path);
  case SQLITE_FULL:
  case SQLITE_IOERR:
  case SQLITE_CANTOPEN:
  case SQLITE_READONLY:
  case SQLITE_PERM:
    return store_fail(s, STORE_EIO, "%s: %s: %s", doing, s->path, msg);
  default:
    return store_fail(s, STORE_ESQL, "%s: %s", doing, msg);
  }
}

int store_exec(store *s, const char *sql) {
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? STORE_OK : store_fail_sql(s, rc, "running SQL");
}

sqlite3_stmt *store_prepare(store *s, const char *sql) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) {
    store_fail_sql(s, rc, "preparing a query");
    sqlite3_finalize(st);
    return NULL;
  }
  return st;
}

int64_t store_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *store_errmsg(const store *s) { return s ? s->err : "no store"; }
struct sqlite3 *store_db(store *s) { return s->db; }
int store_writing(const store *s) { return s->writer != NULL; }
void store_set_busy_timeout(store *s, int ms) { sqlite3_busy_timeout(s->db, ms); }

static int pragma_int(store *s, const char *sql, int64_t *out) {
  sqlite3_stmt *st = store_prepare(s, sql);
  if (!st) return s->err[0] ? STORE_ESQL : STORE_ENOMEM;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return store_fail_sql(s, rc, "reading the schema version");
  return STORE_OK;
}

/* Check what kind of file this is and whether this amber can use it. */
static int check_version(store *s, int64_t *version) {
  int64_t app = 0, tables = 0;
  int rc = pragma_int(s, "PRAGMA application_id", &app);
  if (!rc) rc = pragma_int(s, "PRAGMA user_version", version);
  if (!rc) rc = pragma_int(s, "SELECT count(*) FROM sqlite_master", &tables);
  if (rc) return rc;
  if ((app != 0 && app != STORE_APP_ID) || (app == 0 && tables > 0))
    return store_fail(s, STORE_ENOTAMBER,
                      "%s is a SQLite database but not amber's; give amber "
                      "another file with --db", s->path);
  if (*version > STORE_SCHEMA_VERSION)
    return store_fail(s, STORE_ENEWER,
                      "%s has schema version %lld, written by a newer amber "
                      "(this one knows up to %d); upgrade amber or use "
                      "another --db", s->path, (long long)*version,
                      STORE_SCHEMA_VERSION);
  return STORE_OK;
}

/* Apply the missing migration steps in one transaction. Another process
** may be migrating at the same time, so the version is read again once
** the write lock is held. */
static int migrate(store *s) {
  int64_t version = 0;
  int rc = check_version(s, &version);
  if (rc || version == STORE_SCHEMA_VERSION) return rc;
  if (s->flags & STORE_READONLY)
    return store_fail(s, STORE_EUSAGE,
                      "%s has schema version %lld and needs an upgrade to %d; "
                      "open it once without read-only mode (amber import or "
                      "amber serve does)", s->path, (long long)version,
                      STORE_SCHEMA_VERSION);
  rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) return store_fail_sql(s, rc, "starting the migration");
  rc = check_version(s, &version);
  for (int i = 0; !rc && i < NMIGRATIONS; i++) {
    assert(migrations[i].version == i + 1);
    if (migrations[i].version <= version) continue;
    const store_migration *m = &migrations[i];
    int src = sqlite3_exec(s->db, m->sql, NULL, NULL, NULL);
    if (src == SQLITE_OK && m->convert && (rc = m->convert(s))) break;
    if (src == SQLITE_OK && m->after)
      src = sqlite3_exec(s->db, m->after, NULL, NULL, NULL);
    if (src != SQLITE_OK) {
      char doing[160];
      snprintf(doing, sizeof doing, "migrating to schema version %d (%s)",
               migrations[i].version, migrations[i].what);
      rc = store_fail_sql(s, src, doing);
    }
  }
  if (!rc) {
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d; PRAGMA application_id=%d",
             STORE_SCHEMA_VERSION, STORE_APP_ID);
    rc = store_exec(s, sql);
  }
  if (!rc) {
    int crc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (crc != SQLITE_OK) rc = store_fail_sql(s, crc, "committing the migration");
  }
  if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* The ingest's statements, prepared once. */
static int prepare_writes(store *s) {
  s->ins_page = store_prepare(s,
      "INSERT INTO pages(rid, n, e0, data) VALUES(?1,?2,?3,?4)");
  s->ins_chunk = s->ins_page ? store_prepare(s,
      "INSERT INTO edges(rid, n, data) VALUES(?1,?2,?3)") : NULL;
  return s->ins_chunk ? STORE_OK : STORE_ESQL;
}

int store_open(store **out, const char *path, unsigned flags, char *err,
               size_t errlen) {
  *out = NULL;
  store *s = calloc(1, sizeof *s);
  char *p = path ? strdup(path) : NULL;
  if (!s || !p) {
    free(s);
    free(p);
    if (errlen) snprintf(err, errlen, "out of memory opening the store");
    return STORE_ENOMEM;
  }
  s->path = p;
  s->flags = flags;
  int oflags = (flags & STORE_READONLY)
                   ? SQLITE_OPEN_READONLY
                   : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  /* SQLite's allocation statistics take a global mutex per allocation
  ** and the store never reads them. This only works before SQLite first
  ** initialises; later it is a harmless no-op. */
  static int configured;
  if (!configured) {
    configured = 1;
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  }
  int rc = sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    rc = store_fail(s, STORE_EIO, "cannot open %s: %s; check the path and "
                    "its permissions", path,
                    s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
  } else {
    sqlite3_extended_result_codes(s->db, 0);
    sqlite3_busy_timeout(s->db, 5000);
    /* WAL lets readers (the CLI, the API) work while a snapshot is being
    ** written; NORMAL syncs at checkpoints only, which WAL makes safe
    ** against crashes (a power cut may lose the last commits, not the
    ** file). 32 MiB of page cache keeps the pages a query reads hot and
    ** is a connection's memory bound. */
    rc = store_exec(s, (flags & STORE_READONLY)
                           ? "PRAGMA cache_size=-32768"
                           : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                             " PRAGMA cache_size=-32768");
    /* 4 MiB: measured as fast as 32 for 1e6 nodes, and flat peak RSS */
    if (!rc && (flags & STORE_INGEST))
      rc = store_exec(s, "PRAGMA cache_size=-4096; PRAGMA wal_autocheckpoint=0");
    if (!rc) rc = migrate(s);
    if (!rc && !(flags & STORE_READONLY)) rc = prepare_writes(s);
  }
  if (rc) {
    if (errlen) snprintf(err, errlen, "%s", s->err);
    store_close(s);
    return rc;
  }
  *out = s;
  return STORE_OK;
}

int store_checkpoint(store *s) {
  int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                     NULL, NULL);
  if (rc == SQLITE_OK || rc == SQLITE_BUSY) return STORE_OK;
  return store_fail(s, STORE_EIO, "checkpointing %s: %s", s->path,
                    sqlite3_errmsg(s->db));
}

void store_close(store *s) {
  if (!s) return;
  store_ingests_detach(s);
  sqlite3_finalize(s->ins_page);
  sqlite3_finalize(s->ins_chunk);
  sqlite3_close(s->db);
  free(s->path);
  free(s);
}
