/*
** walk_funcs.c
** Functions in the Lua heap walk: Lua closures (their prototype and their
** upvalue cells, shared by lua_upvalueid), prototypes (lua_dump with debug
** info, deduplicated by content), and C closures no module names.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "walk.h"

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud) {
  (void)L;
  walk *w = ud;
  if (w->dumpcap - w->dumplen < sz) {
    size_t ncap = w->dumpcap ? w->dumpcap : 4096;
    while (ncap - w->dumplen < sz) ncap *= 2;
    char *nd = realloc(w->dump, ncap);
    if (nd == NULL) return 1;
    w->dump = nd;
    w->dumpcap = ncap;
  }
  if (sz == 1) w->dump[w->dumplen] = *(const char *)p;  /* most pieces */
  else memcpy(w->dump + w->dumplen, p, sz);
  w->dumplen += sz;
  return 0;
}

int walk_lfunction(walk *w, uint64_t id, int f, uint64_t addr) {
  lua_State *L = w->L;
  lua_Debug ar;
  lua_pushvalue(L, f);
  lua_getinfo(L, ">u", &ar);
  lua_pushvalue(L, f);
  w->dumplen = 0;
  int bad = lua_dump(L, dump_writer, w, 0);
  lua_pop(L, 1);
  if (bad) return walk_oom(w);
  uint64_t pid = walk_proto_find(w);
  if (pid == UINT64_MAX) {
    /* a new prototype: only now its source ('S' formats a short_src) */
    lua_Debug src;
    lua_pushvalue(L, f);
    lua_getinfo(L, ">S", &src);
    pid = walk_proto_add(w, src.source, src.source ? src.srclen : 0,
                         src.linedefined);
    if (pid == UINT64_MAX) return walk_oom(w);
  }

  wire_node n;
  walk_node_init(&n, id, "function", addr);
  n.size = 32 + 8 * (uint64_t)ar.nups;
  n.has_size = 1;
  walk_node(w, &n);
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = "prototype";
  e.value.type = WIRE_V_REF;
  e.value.u.ref = pid;
  walk_edge(w, &e);

  for (int i = 1; i <= ar.nups; i++) {
    const char *name = lua_getupvalue(L, f, i);
    if (name == NULL) break;
    /* The cell is the node, so closures sharing a variable share it. */
    uintptr_t cell = (uintptr_t)lua_upvalueid(L, f, i);
    uint64_t info = walk_map_get(&w->map, cell, WALK_TAG_UPVAL), uid;
    if (info) {
      uid = WALK_INFO_VALUE(info);
    } else {
      wire_value v;
      if (walk_value(w, -1, &v) != 0) {
        lua_pop(L, 1);
        return -1;
      }
      uint64_t *slot = walk_map_slot(&w->map, cell, WALK_TAG_UPVAL);
      walk_item *it = slot ? walk_item_new(w, WALK_UPVALUE, cell) : NULL;
      if (it == NULL) {
        lua_pop(L, 1);
        return walk_oom(w);
      }
      it->u.value = v;
      uid = w->next_id - 1;
      *slot = ((uint64_t)WALK_TAG_UPVAL << 60) | uid;
    }
    lua_pop(L, 1);
    memset(&e, 0, sizeof e);
    e.kind = "upvalue";
    e.name = name;
    e.name_len = strlen(name);
    e.has_index = 1;
    e.index = i;
    e.value.type = WIRE_V_REF;
    e.value.u.ref = uid;
    walk_edge(w, &e);
  }
  walk_node_end(w);
  return 0;
}

/* A C closure no module names: its upvalues are plain values (C closures
** do not share cells), written as upvalue edges by number. */
int walk_cfunction(walk *w, uint64_t id, int f, uint64_t addr) {
  lua_State *L = w->L;
  int nups = 0;
  while (lua_getupvalue(L, f, nups + 1) != NULL) {
    lua_pop(L, 1);
    nups++;
  }
  wire_node n;
  walk_node_init(&n, id, "cfunction", addr);
  n.size = 32 + 16 * (uint64_t)nups;
  n.has_size = 1;
  walk_node(w, &n);
  for (int i = 1; i <= nups; i++) {
    lua_getupvalue(L, f, i);
    int r = walk_edge_to(w, "upvalue", NULL, 0, 1, i, -1);
    lua_pop(L, 1);
    if (r != 0) return -1;
  }
  walk_node_end(w);
  return 0;
}

void walk_proto_node(walk *w, const walk_item *it, uint64_t id) {
  const walk_proto *p = &w->protos[it->u.proto];
  wire_node n;
  char why[64];
  walk_node_init(&n, id, "proto", 0);
  n.size = 120 + p->len;  /* sizeof(Proto) plus about its dump's bytes */
  n.has_size = 1;
  if (p->len <= WALK_MAX_PAYLOAD) {
    n.payload = p->dump;
    n.payload_len = p->len;
    n.has_payload = 1;
  } else {
    snprintf(why, sizeof why, "bytecode omitted: %zu bytes", p->len);
    n.name = why;
    n.name_len = strlen(why);
  }
  if (p->src) {
    n.source = p->src;
    n.source_len = p->srclen;
  }
  n.line = p->line;
  n.has_line = 1;
  walk_node(w, &n);
  walk_node_end(w);
}

void walk_upvalue_node(walk *w, const walk_item *it, uint64_t id) {
  wire_node n;
  walk_node_init(&n, id, "upvalue", it->addr);
  n.size = 40;
  n.has_size = 1;
  walk_node(w, &n);
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = "value";
  e.value = it->u.value;
  walk_edge(w, &e);
  walk_node_end(w);
}
