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

/* A <graph> batch of the snapshot being read: it must be the next one.
** 0, or 1 (stop) with c->err set. */
static int batch_begins(capture *c, const wire_elem *graph, uint64_t id)
{
  uint64_t seq;
  if (wire_get_u64(graph, "seq", &seq) != 0 || seq != c->cur.next_seq)
    return cap_fail(c, "snapshot %llu: graph batches out of order%s", id, "");
  c->cur.next_seq++;
  return 0;
}

/* Batches in binary frames come record by record (wire_parser_graph). */
static int on_batch(void *ud, const wire_elem *graph, const wire_msg *m)
{
  capture *c = ud;
  uint64_t id;
  (void)m;
  if (!c->active || wire_get_u64(graph, "id", &id) != 0 || id != c->cur.id)
    return WIRE_GRAPH_SKIP;
  return batch_begins(c, graph, id);
}

static int on_node(void *ud, const wire_node *n, int cont)
{
  capture *c = ud;
  char why[200];
  if (alua_graph_add_node(&c->cur.g, n, cont, why, sizeof why))
    return cap_fail(c, "snapshot %llu: %s", c->cur.id, why);
  return 0;
}

/* The value's text (vtext) is not needed: the hash is taken from the kept
** values (alua_graph_hash_hex). */
static int on_edge(void *ud, const wire_edge *e, const char *vtext,
                   size_t vlen)
{
  capture *c = ud;
  char why[200];
  (void)vtext;
  (void)vlen;
  if (alua_graph_add_edge(&c->cur.g, e, why, sizeof why))
    return cap_fail(c, "snapshot %llu: %s", c->cur.id, why);
  return 0;
}

static int on_bad(void *ud, int what, const char *element, const char *why)
{
  capture *c = ud;
  char text[200];
  if (what == WIRE_GRAPH_BAD_CHILD)
    snprintf(text, sizeof text, "unexpected <%.40s> in a graph batch",
             element);
  else if (what == WIRE_GRAPH_BAD_NODE)
    alua_graph_bad_node(&c->cur.g, why, text, sizeof text);
  else
    alua_graph_bad_edge(&c->cur.g, why, text, sizeof text);
  return cap_fail(c, "snapshot %llu: %s", c->cur.id, text);
}

static const wire_graph_fns graph_fns = {on_batch, on_node, on_edge, on_bad};

/* One message of the capture; returns nonzero to stop reading. */
static int on_message(void *ud, const wire_msg *m)
{
  capture *c = ud;
  for (const wire_elem *it = m->items; it; it = it->next) {
    uint64_t id = 0, nodes, edges;
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
      if (batch_begins(c, it, id)) return 1;
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
/* The next piece of the capture: where it is, its length in *n (0 at the
** end). buf is 64 KiB the reader may fill; bytes already in memory are
** handed over where they are, in one piece, so frames are read in place. */
typedef const void *(*reader_fn)(void *ud, char *buf, size_t *n);

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
  wire_parser_graph(p, &graph_fns, &c);
  char *buf = malloc(1 << 16);
  enum wire_status st = WIRE_OK;
  size_t n;
  if (!buf) {
    snprintf(rep->error, sizeof rep->error, "out of memory for reading");
    goto done;
  }
  const void *piece;
  while (st == WIRE_OK && (piece = rd(rud, buf, &n)) != NULL && n > 0)
    st = wire_parser_feed(p, piece, n);
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

static const void *read_mem(void *ud, char *buf, size_t *n)
{
  memsrc *m = ud;
  const char *p = m->p;
  (void)buf;
  *n = m->n;
  m->p += m->n;
  m->n = 0;
  return p;
}

static const void *read_file(void *ud, char *buf, size_t *n)
{
  *n = fread(buf, 1, 1 << 16, (FILE *)ud);
  return buf;
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
