/*
** test_restore_util.h
** Shared by the restore tests: fresh states, snapshots taken with
** alua_snapshot, restores, and the canonical-form comparison that proves a
** round trip gave back an isomorphic graph.
*/
#ifndef TEST_RESTORE_UTIL_H
#define TEST_RESTORE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "restore.h"
#include "snapshot.h"
#include "wire.h"

static const char *const tr_globals_registry[] = {"globals", "registry"};
static const char *const tr_globals_only[] = {"globals"};

static inline lua_State *tr_state(void)
{
  lua_State *L = luaL_newstate();
  assert_non_null(L);
  luaL_openlibs(L);
  return L;
}

/* Run Lua source in L; a failure fails the test with Lua's message. */
static inline void tr_run(lua_State *L, const char *src)
{
  if (luaL_dostring(L, src) != LUA_OK)
    fail_msg("Lua error: %s", lua_tostring(L, -1));
  lua_settop(L, 0);
}

/* The value of a Lua expression in L as a string (tostring'd). */
static inline char *tr_eval(lua_State *L, const char *expr)
{
  char src[1024];
  snprintf(src, sizeof src, "return tostring(%s)", expr);
  if (luaL_dostring(L, src) != LUA_OK)
    fail_msg("Lua error in %s: %s", expr, lua_tostring(L, -1));
  char *s = strdup(lua_tostring(L, -1));
  lua_settop(L, 0);
  return s;
}

static inline void tr_expect(lua_State *L, const char *expr,
                             const char *want)
{
  char *got = tr_eval(L, expr);
  if (strcmp(got, want) != 0)
    fail_msg("%s: expected %s, got %s", expr, want, got);
  free(got);
}

/* Snapshot L with these roots (id 1) into out, as a capture file holds it. */
static inline void tr_snapshot_id(lua_State *L, const char *const *roots,
                                  size_t nroots, uint64_t id, wire_buf *out)
{
  alua_request req;
  const char *err = NULL;
  memset(&req, 0, sizeof req);
  req.id = id;
  req.roots = roots;
  req.nroots = nroots;
  req.machine = "test";
  if (alua_snapshot(L, &req, out, NULL, &err) != 0)
    fail_msg("snapshot failed: %s", err ? err : "?");
}

static inline void tr_snapshot(lua_State *L, const char *const *roots,
                               size_t nroots, wire_buf *out)
{
  tr_snapshot_id(L, roots, nroots, 1, out);
}

/* Read a snapshot stream's records into g, verified as restore verifies
** them (ids, references, counts and content hash). */
typedef struct tr_reader {
  alua_graph *g;
  char err[256];
  int ended;
} tr_reader;

static inline int tr_on_message(void *ud, const wire_msg *m)
{
  tr_reader *r = ud;
  for (const wire_elem *it = m->items; it; it = it->next) {
    if (r->err[0]) return 1;
    if (strcmp(it->name, "graph") == 0) {
      alua_graph_add_batch(r->g, it, r->err, sizeof r->err);
    } else if (strcmp(it->name, "snapshot-end") == 0) {
      uint64_t nodes = 0, edges = 0;
      size_t len;
      wire_get_u64(it, "nodes", &nodes);
      wire_get_u64(it, "edges", &edges);
      const char *hash = wire_get(it, "hash", &len);
      if (alua_graph_finish(r->g, nodes, edges, hash, r->err, sizeof r->err)
          == 0)
        alua_graph_check_hash(r->g, r->err, sizeof r->err);
      r->ended = 1;
    }
  }
  return 0;
}

static inline void tr_read_graph(const wire_buf *bytes, alua_graph *g)
{
  tr_reader r;
  memset(&r, 0, sizeof r);
  r.g = g;
  alua_graph_init(g, 0, 0);
  wire_parser *p = wire_parser_new(NULL, tr_on_message, &r);
  assert_non_null(p);
  enum wire_status st = wire_parser_feed(p, bytes->data, bytes->len);
  if (st == WIRE_OK) st = wire_parser_finish(p);
  wire_parser_free(p);
  if (r.err[0]) fail_msg("reading the snapshot: %s", r.err);
  assert_int_equal(st, WIRE_OK);
  assert_true(r.ended);
}

/* The canonical form of L's heap from these roots (malloc'd text). */
static inline char *tr_canon(lua_State *L, const char *const *roots,
                             size_t nroots)
{
  wire_buf bytes, text;
  alua_graph g;
  wire_buf_init(&bytes);
  wire_buf_init(&text);
  tr_snapshot(L, roots, nroots, &bytes);
  tr_read_graph(&bytes, &g);
  assert_int_equal(alua_graph_canon(&g, &text), 0);
  wire_buf_put(&text, "", 1);
  alua_graph_free(&g);
  wire_buf_free(&bytes);
  return text.data;
}

/* Fail with the first line where two canonical forms differ. */
static inline void tr_same_canon(const char *a, const char *b)
{
  if (strcmp(a, b) == 0) return;
  size_t line = 1;
  const char *pa = a, *pb = b;
  while (*pa && *pa == *pb) {
    if (*pa == '\n') line++;
    pa++;
    pb++;
  }
  const char *la = pa, *lb = pb;
  while (la > a && la[-1] != '\n') la--;
  while (lb > b && lb[-1] != '\n') lb--;
  fail_msg("graphs differ at canonical line %zu:\n  before: %.200s\n  after:  "
           "%.200s", line, la, lb);
}

/* Restore the snapshot bytes into L; fails the test on error. */
static inline void tr_restore(lua_State *L, const wire_buf *bytes,
                              const alua_restore_opts *o,
                              alua_restore_report *rep)
{
  alua_restore_report_init(rep);
  if (alua_restore_bytes(L, bytes->data, bytes->len, 0, o, rep) != 0)
    fail_msg("restore failed: %s", rep->error);
}

/* Snapshot src, restore it into a fresh state (trusted, merge), and check
** that the fresh state snapshots to the same canonical graph. Returns the
** fresh state; rep gets the restore's report. */
static inline lua_State *tr_round_trip(lua_State *src,
                                       const char *const *roots,
                                       size_t nroots, alua_restore_report *rep)
{
  wire_buf bytes;
  alua_restore_opts o;
  memset(&o, 0, sizeof o);
  o.trust_bytecode = 1;
  wire_buf_init(&bytes);
  tr_snapshot(src, roots, nroots, &bytes);
  lua_State *dst = tr_state();
  tr_restore(dst, &bytes, &o, rep);
  wire_buf_free(&bytes);
  char *before = tr_canon(src, roots, nroots);
  char *after = tr_canon(dst, roots, nroots);
  tr_same_canon(before, after);
  free(before);
  free(after);
  return dst;
}

/* 1 if some listed placeholder's reason contains needle. */
static inline int tr_has_placeholder(const alua_restore_report *rep,
                                     const char *needle)
{
  for (size_t i = 0; i < rep->nlisted; i++)
    if (strstr(rep->placeholders[i].why, needle)) return 1;
  return 0;
}

#endif
