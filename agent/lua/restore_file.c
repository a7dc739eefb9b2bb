/*
** restore_file.c
** Restore from a capture file (the bytes an agent writes with no server),
** and amber.restore(), the Lua face of it.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include "restore.h"

/* One snapshot read from a capture: its records and what its begin
** message said. */
typedef struct capsnap {
  alua_graph g;
  uint64_t id, next_seq;
  alua_restore_origin origin;     /* what its snapshot-begin said */
} capsnap;

typedef struct capture {
  uint64_t want;       /* the snapshot asked for, 0 for the last whole one */
  const alua_restore_opts *o;
  capsnap cur;         /* being read */
  capsnap done;        /* the last complete one */
  int active, have_done, stop;
  char err[256];
} capture;

static void snap_free(capsnap *s)
{
  alua_graph_free(&s->g);
  alua_origin_free(&s->origin);
  memset(s, 0, sizeof *s);
}

static int cap_fail(capture *c, const char *fmt, uint64_t id, const char *why)
{
  snprintf(c->err, sizeof c->err, fmt, (unsigned long long)id, why);
  return 1;
}

/* One message of the capture; returns nonzero to stop reading. */
static int on_message(void *ud, const wire_msg *m)
{
  capture *c = ud;
  for (const wire_elem *it = m->items; it; it = it->next) {
    uint64_t id = 0, seq, nodes, edges;
    const char *n = it->name;
    int named = wire_get_u64(it, "id", &id) == 0;
    if (strcmp(n, "snapshot-begin") == 0) {
      if (!named || (c->want && id != c->want)) continue;
      snap_free(&c->cur);
      alua_graph_init(&c->cur.g, c->o->max_nodes, c->o->max_edges);
      c->cur.id = id;
      if (alua_origin_read(&c->cur.origin, it))
        return cap_fail(c, "snapshot %llu: out of memory%s", id, "");
      c->active = 1;
      continue;
    }
    if (!c->active || !named || id != c->cur.id) continue;
    if (strcmp(n, "graph") == 0) {
      if (wire_get_u64(it, "seq", &seq) != 0 || seq != c->cur.next_seq)
        return cap_fail(c, "snapshot %llu: graph batches out of order%s", id,
                        "");
      c->cur.next_seq++;
      char why[200];
      if (alua_graph_add_batch(&c->cur.g, it, why, sizeof why))
        return cap_fail(c, "snapshot %llu: %s", id, why);
    } else if (strcmp(n, "snapshot-end") == 0) {
      size_t hlen;
      const char *hash = wire_get(it, "hash", &hlen);
      char why[200];
      if (wire_get_u64(it, "nodes", &nodes) || wire_get_u64(it, "edges", &edges)
          || !hash)
        return cap_fail(c, "snapshot %llu: %s", id,
                        "its end message lacks nodes, edges or hash");
      if (alua_graph_finish(&c->cur.g, nodes, edges, hash, why, sizeof why))
        return cap_fail(c, "snapshot %llu: %s", id, why);
      snap_free(&c->done);
      c->done = c->cur;
      memset(&c->cur, 0, sizeof c->cur);
      c->have_done = 1;
      c->active = 0;
      if (c->want) {
        c->stop = 1;
        return 1;
      }
    } else if (strcmp(n, "snapshot-error") == 0) {
      snap_free(&c->cur);
      c->active = 0;
    }
  }
  return 0;
}

static double now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Feed bytes from read() into the parser, then rebuild what was chosen. */
typedef size_t (*reader_fn)(void *ud, void *buf, size_t n);

static int restore_stream(lua_State *L, reader_fn rd, void *rud, uint64_t id,
                          const alua_restore_opts *o, alua_restore_report *rep)
{
  static const alua_restore_opts defaults;
  capture c;
  double t0 = now_ms();
  int rc = -1;
  if (!o) o = &defaults;
  memset(&c, 0, sizeof c);
  c.want = id;
  c.o = o;
  rep->error[0] = 0;
  wire_parser *p = wire_parser_new(NULL, on_message, &c);
  if (!p) {
    snprintf(rep->error, sizeof rep->error, "out of memory for the parser");
    return -1;
  }
  char *buf = malloc(1 << 16);
  enum wire_status st = WIRE_OK;
  size_t n;
  if (!buf) {
    snprintf(rep->error, sizeof rep->error, "out of memory for reading");
    goto done;
  }
  while (st == WIRE_OK && (n = rd(rud, buf, 1 << 16)) > 0)
    st = wire_parser_feed(p, buf, n);
  if (st == WIRE_OK) st = wire_parser_finish(p);
  if (c.err[0]) {
    snprintf(rep->error, sizeof rep->error, "%s", c.err);
    goto done;
  }
  /* A capture cut short after a whole snapshot still restores that one. */
  if (st != WIRE_OK && !(st == WIRE_ESTOPPED && c.stop) &&
      !(st == WIRE_ETRUNC && c.have_done)) {
    snprintf(rep->error, sizeof rep->error, "the capture is not readable: "
             "%s", wire_parser_error(p)->text[0] ? wire_parser_error(p)->text
                                                 : wire_status_name(st));
    goto done;
  }
  if (!c.have_done) {
    if (id)
      snprintf(rep->error, sizeof rep->error, "the capture holds no complete "
               "snapshot %llu", (unsigned long long)id);
    else
      snprintf(rep->error, sizeof rep->error, "the capture holds no complete "
               "snapshot");
    goto done;
  }
  rep->id = c.done.id;
  rep->read_ms = now_ms() - t0;
  rc = alua_restore_graph(L, &c.done.g, o, &c.done.origin, rep);
done:
  free(buf);
  wire_parser_free(p);
  snap_free(&c.cur);
  snap_free(&c.done);
  return rc;
}

typedef struct memsrc {
  const char *p;
  size_t n;
} memsrc;

static size_t read_mem(void *ud, void *buf, size_t n)
{
  memsrc *m = ud;
  if (n > m->n) n = m->n;
  memcpy(buf, m->p, n);
  m->p += n;
  m->n -= n;
  return n;
}

static size_t read_file(void *ud, void *buf, size_t n)
{
  return fread(buf, 1, n, (FILE *)ud);
}

int alua_restore_bytes(lua_State *L, const void *p, size_t n, uint64_t id,
                       const alua_restore_opts *o, alua_restore_report *rep)
{
  memsrc m = {p, n};
  return restore_stream(L, read_mem, &m, id, o, rep);
}

int alua_restore_file(lua_State *L, const char *path, uint64_t id,
                      const alua_restore_opts *o, alua_restore_report *rep)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(rep->error, sizeof rep->error, "cannot open %.180s: %s", path,
             strerror(errno));
    return -1;
  }
  int rc = restore_stream(L, read_file, f, id, o, rep);
  if (ferror(f) && rc == 0) {
    snprintf(rep->error, sizeof rep->error, "reading %.180s failed", path);
    rc = -1;
  }
  fclose(f);
  return rc;
}

/* amber.restore(path [, {trust=, mode=, id=}]) -> report | nil, error */
int alua_restore_l(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  alua_restore_opts o;
  alua_restore_report rep;
  lua_Integer id = 0;
  memset(&o, 0, sizeof o);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "trust");
    o.trust_bytecode = lua_toboolean(L, -1);
    lua_getfield(L, 2, "mode");
    const char *mode = luaL_optstring(L, -1, "merge");
    if (strcmp(mode, "replace") == 0) o.replace = 1;
    else if (strcmp(mode, "merge") != 0)
      return luaL_error(L, "amber.restore: mode must be 'merge' or "
                        "'replace', not '%s'", mode);
    lua_getfield(L, 2, "id");
    id = luaL_optinteger(L, -1, 0);
    lua_pop(L, 3);
  }
  alua_restore_report_init(&rep);
  int rc = alua_restore_file(L, path, (uint64_t)id, &o, &rep);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushstring(L, rep.error);
    alua_restore_report_free(&rep);
    return 2;
  }
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)rep.id);
  lua_setfield(L, -2, "id");
  lua_pushinteger(L, (lua_Integer)rep.nodes);
  lua_setfield(L, -2, "nodes");
  lua_pushinteger(L, (lua_Integer)rep.edges);
  lua_setfield(L, -2, "edges");
  lua_pushnumber(L, rep.read_ms + rep.build_ms);
  lua_setfield(L, -2, "ms");
  lua_createtable(L, (int)rep.nlisted, 0);
  for (size_t i = 0; i < rep.nlisted; i++) {
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)rep.placeholders[i].node);
    lua_setfield(L, -2, "node");
    lua_pushstring(L, rep.placeholders[i].why);
    lua_setfield(L, -2, "why");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "placeholders");
  lua_pushinteger(L, (lua_Integer)rep.nplaceholders);
  lua_setfield(L, -2, "nplaceholders");
  alua_restore_report_free(&rep);
  return 1;
}
