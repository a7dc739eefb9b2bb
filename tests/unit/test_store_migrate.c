/*
** test_store_migrate.c
** Schema versions: a version-1 database made by hand is migrated on open
** and its snapshots stay readable; newer, foreign and read-only cases are
** refused with clear messages; a failing step changes nothing.
*/
#include "test_store_util.h"

/* Version 1 exactly as released (docs/store.md, "Schema versions"). */
static const char v1_schema[] =
    "CREATE TABLE machines(id INTEGER PRIMARY KEY, name BLOB NOT NULL,"
    " vm TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '',"
    " pid INTEGER NOT NULL DEFAULT -1, first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL);"
    "CREATE INDEX machines_name ON machines(name, pid);"
    "CREATE TABLE snapshots(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " machine INTEGER NOT NULL REFERENCES machines(id), wire_id TEXT NOT NULL,"
    " label BLOB, vm TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '',"
    " time INTEGER NOT NULL DEFAULT 0, stored INTEGER NOT NULL DEFAULT 0,"
    " reason TEXT NOT NULL DEFAULT 'request', nodes INTEGER NOT NULL DEFAULT 0,"
    " edges INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
    " hash TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'ingesting');"
    "CREATE INDEX snapshots_machine ON snapshots(machine);"
    "CREATE TABLE nodes(rid INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
    " size INTEGER, addr INTEGER, mode TEXT, status TEXT, line INTEGER,"
    " e0 INTEGER NOT NULL, en INTEGER NOT NULL, type BLOB, name BLOB,"
    " source BLOB, value BLOB, payload BLOB, edges BLOB);"
    "CREATE INDEX nodes_addr ON nodes(addr) WHERE addr IS NOT NULL;"
    "CREATE INDEX nodes_thread ON nodes(rid) WHERE kind = 'thread';"
    "CREATE INDEX nodes_frame ON nodes(rid) WHERE kind = 'frame';"
    "CREATE INDEX nodes_exit ON nodes(rid) WHERE kind = 'exit';"
    "CREATE INDEX nodes_stub ON nodes(rid) WHERE kind = 'stub';"
    "CREATE TABLE edges(rid INTEGER PRIMARY KEY, src INTEGER NOT NULL,"
    " n INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE TABLE refs(target INTEGER NOT NULL, pos INTEGER NOT NULL,"
    " src INTEGER NOT NULL, PRIMARY KEY(target, pos)) WITHOUT ROWID;"
    "PRAGMA application_id = 1634558578;";

static void exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (rc) fprintf(stderr, "%s\n", err);
  sqlite3_free(err);
  assert_int_equal(rc, SQLITE_OK);
}

/* A v1 database holding one snapshot, written row by row: root -> table
** {n = 7, [table] = true}. Its hash is computed like an agent's. */
static void make_v1(const char *path, const char *extra_sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  exec(db, v1_schema);
  exec(db, "PRAGMA user_version = 1");
  if (extra_sql) exec(db, extra_sql);
  wire_hash h;
  wire_hash_init(&h);
  wire_node n0 = tn("root"), n1 = tn("table");
  n1.id = 1;
  wire_edge e0 = te_kind("root", tv_ref(1));
  e0.name = "globals", e0.name_len = 7;
  wire_edge e1 = te_field("n", tv_int(7));
  wire_edge e2 = te_kind("key", tv_ref(1));
  e2.value.type = WIRE_V_BOOL, e2.value.u.b = 1;
  e2.key = tv_ref(1);
  wire_hash_node(&h, &n0);
  wire_hash_edge(&h, &e0);
  wire_hash_node(&h, &n1);
  wire_hash_edge(&h, &e1);
  wire_hash_edge(&h, &e2);
  char hex[17], sql[1024];
  wire_hash_hex(&h, hex);
  long long b = 1ll << 40;
  /* Packed edges, by docs/store.md: root "globals" -> @1; then field "n"
  ** = i:7 and key @1 = true. */
  snprintf(sql, sizeof sql,
           "INSERT INTO machines VALUES(1, CAST('old.lua' AS BLOB), 'lua', '5.4.4', 9, 1, 2);"
           "INSERT INTO snapshots(id, machine, wire_id, vm, version, time, stored,"
           " reason, nodes, edges, bytes, hash, state) VALUES(1, 1, '1', 'lua',"
           " '5.4.4', 100, 200, 'request', 2, 3, 0, '%s', 'complete');"
           "INSERT INTO nodes(rid, kind, addr, e0, en, edges) VALUES"
           " (%lld, 'root', NULL, 0, 1, x'01c107676c6f62616c7301'),"
           " (%lld, 'table', 94656, 1, 2, x'0281016e0e047801');"
           "INSERT INTO refs VALUES(%lld, %lld, 0), (%lld, %lld, 1);",
           hex, b, b + 1, b + 1, b, b + 1, b + 2);
  exec(db, sql);
  sqlite3_close(db);
}

static int64_t user_version(store *s) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(store_db(s), "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static int count_edge(void *ud, const store_edge *e) {
  (void)e;
  (*(int *)ud)++;
  return 0;
}

static int count_node(void *ud, const store_node *n) {
  (void)n;
  (*(int *)ud)++;
  return 0;
}

static void test_version_1_database_is_migrated_and_readable(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  store_close(d.s);
  assert_int_equal(unlink(d.path), 0);
  make_v1(d.path, NULL);

  char err[512];
  assert_int_equal(store_open(&d.s, d.path, 0, err, sizeof err), STORE_OK);
  assert_int_equal(user_version(d.s), STORE_SCHEMA_VERSION);
  store_snapshot sn;
  assert_int_equal(store_snapshot_get(d.s, 1, &sn), STORE_OK);
  assert_string_equal(sn.roots, "");     /* new columns, default values */
  assert_null(sn.error);
  assert_int_equal(sn.nodes, 2);
  store_snapshot_release(&sn);
  assert_int_equal(store_verify(d.s, 1, NULL), STORE_OK);
  /* Retainers of the old rows: globals, and the table as its own key. */
  int n = 0;
  assert_int_equal(store_retainers(d.s, 1, 1, 0, 0, count_edge, &n), STORE_OK);
  assert_int_equal(n, 2);
  wire_value v;
  assert_int_equal(store_resolve(d.s, 1, "globals.n", 9, &v, NULL), STORE_OK);
  assert_true(v.type == WIRE_V_INT && v.u.i == 7);
  /* Version 4 packed the old rows into pages and chunks (the old tables
  ** are gone); the lookup indexes are built afterwards, and the address
  ** search finds the node with and without them. */
  store_search q;
  memset(&q, 0, sizeof q);
  q.has_addr = 1, q.addr = 94656;
  int found = 0;
  assert_int_equal(store_find_nodes(d.s, 1, &q, -1, 0, count_node, &found), STORE_OK);
  assert_int_equal(found, 1);
  assert_int_equal(store_indexed(d.s, 1), 0);
  assert_int_equal(store_index(d.s, 1, NULL, NULL), STORE_OK);
  found = 0;
  assert_int_equal(store_find_nodes(d.s, 1, &q, -1, 0, count_node, &found), STORE_OK);
  assert_int_equal(found, 1);
  n = 0;
  assert_int_equal(store_retainers(d.s, 1, 1, 0, 0, count_edge, &n), STORE_OK);
  assert_int_equal(n, 2);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(store_db(d.s), "SELECT (SELECT count(*) FROM"
                   " sqlite_master WHERE name = 'nodes'), (SELECT group_concat(name, ' ')"
                   " FROM pragma_table_info('edges'))", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 0);
  assert_string_equal((const char *)sqlite3_column_text(st, 1), "rid n data");
  sqlite3_finalize(st);

  /* New snapshots go in next to the old one. */
  tstream t;
  ts_init(&t);
  ts_begin(&t, "2", NULL);
  ts_node(&t, tn("root"));
  ts_end(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 1);
  assert_int_equal(tr.status[0], STORE_OK);
  assert_int_equal(tdb_count(d.s), 2);
  ts_free(&t);

  /* Opening again finds nothing to do. */
  store_close(d.s);
  assert_int_equal(store_open(&d.s, d.path, 0, err, sizeof err), STORE_OK);
  assert_int_equal(user_version(d.s), STORE_SCHEMA_VERSION);
  tdb_close(&d);
}

static void test_a_failing_migration_step_changes_nothing(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  store_close(d.s);
  assert_int_equal(unlink(d.path), 0);
  /* A column the step will try to add already exists. */
  make_v1(d.path, "ALTER TABLE snapshots ADD COLUMN traceback BLOB");
  char err[512];
  assert_int_not_equal(store_open(&d.s, d.path, 0, err, sizeof err), STORE_OK);
  assert_null(d.s);
  assert_non_null(strstr(err, "migrating to schema version 2"));
  sqlite3 *db;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_open(d.path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM"
                   " pragma_user_version), (SELECT count(*) FROM sqlite_master"
                   " WHERE name = 'nodes_type'), (SELECT count(*) FROM"
                   " pragma_table_info('snapshots') WHERE name = 'roots')",
                   -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 1);
  assert_int_equal(sqlite3_column_int(st, 1), 0);
  assert_int_equal(sqlite3_column_int(st, 2), 0); /* earlier ALTERs undone */
  sqlite3_finalize(st);
  sqlite3_close(db);
  tdb_close(&d);
}

static void test_newer_foreign_and_readonly_databases_are_refused(void **state) {
  (void)state;
  tdb d;
  tdb_open(&d);
  exec(store_db(d.s), "PRAGMA user_version = 99");
  store_close(d.s);
  char err[512];
  assert_int_equal(store_open(&d.s, d.path, 0, err, sizeof err), STORE_ENEWER);
  assert_non_null(strstr(err, "newer amber"));
  assert_non_null(strstr(err, "version 99"));

  assert_int_equal(unlink(d.path), 0);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(d.path, &db), SQLITE_OK);
  exec(db, "CREATE TABLE accounts(id INTEGER PRIMARY KEY)");
  sqlite3_close(db);
  assert_int_equal(store_open(&d.s, d.path, 0, err, sizeof err), STORE_ENOTAMBER);
  assert_non_null(strstr(err, "not amber's"));

  assert_int_equal(unlink(d.path), 0);
  make_v1(d.path, NULL);
  assert_int_equal(store_open(&d.s, d.path, STORE_READONLY, err, sizeof err), STORE_EUSAGE);
  assert_non_null(strstr(err, "needs an upgrade"));

  /* Once migrated, a read-only store reads but does not ingest. */
  assert_int_equal(store_open(&d.s, d.path, 0, err, sizeof err), STORE_OK);
  store_close(d.s);
  assert_int_equal(store_open(&d.s, d.path, STORE_READONLY, err, sizeof err), STORE_OK);
  assert_int_equal(store_verify(d.s, 1, NULL), STORE_OK);
  tstream t;
  ts_init(&t);
  ts_begin(&t, "2", NULL);
  ts_node(&t, tn("root"));
  ts_end(&t);
  tresults tr;
  memset(&tr, 0, sizeof tr);
  assert_int_equal(tf_ingest_all(d.s, &t.b, &tr), 1);
  assert_int_equal(tr.status[0], STORE_EUSAGE);
  assert_non_null(strstr(tr.msg[0], "read-only"));
  ts_free(&t);

  store_close(d.s);
  assert_int_equal(store_open(&d.s, "/nonexistent/dir/amber.db", 0, err, sizeof err), STORE_EIO);
  assert_non_null(strstr(err, "/nonexistent/dir/amber.db"));
  assert_int_equal(store_open(&d.s, d.path, 0, err, sizeof err), STORE_OK);
  tdb_close(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_version_1_database_is_migrated_and_readable),
    cmocka_unit_test(test_a_failing_migration_step_changes_nothing),
    cmocka_unit_test(test_newer_foreign_and_readonly_databases_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
