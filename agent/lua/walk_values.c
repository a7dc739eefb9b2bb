/*
** walk_values.c
** Per-kind encoding of the Lua heap walk: how a value becomes an edge
** target (scalars inline, objects by id), and how tables, userdata,
** strings, exits and stubs become nodes (functions: walk_funcs.c). Only
** raw access: no metamethod can run, no number is converted in place.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "walk.h"

/* A string larger than this is not inlined: escaped, it may grow eightfold
** and must stay under the wire's 32 MiB attribute limit. */
#define MAX_STRING (3u << 20)

unsigned walk_tag(lua_State *L, int idx) {
  int t = lua_type(L, idx);
  if (t == LUA_TFUNCTION && lua_iscfunction(L, idx)) {
    /* A C closure always has upvalues; a light C function has none. */
    if (lua_getupvalue(L, idx, 1) == NULL) return WALK_TAG_LIGHTCF;
    lua_pop(L, 1);
  }
  return (unsigned)t;
}

/* The node id of the object at idx, queued as a new node if unseen. */
static int intern(walk *w, int idx, int type, uint64_t *id) {
  lua_State *L = w->L;
  unsigned tag = type == LUA_TFUNCTION ? walk_tag(L, idx) : (unsigned)type;
  const void *p = lua_topointer(L, idx);
  uint64_t *info = walk_map_slot(&w->map, (uintptr_t)p, tag);
  if (info == NULL) return walk_oom(w);
  if (*info != 0 && !(*info & WALK_INFO_NAMED)) {
    *id = WALK_INFO_VALUE(*info);
    return 0;
  }
  uint64_t named = *info;
  *id = w->next_id;
  *info = ((uint64_t)tag << 60) | *id;
  /* info may move from here on: walk_item_new does not touch the map */
  walk_item *it;
  if (named) {
    it = walk_item_new(w, WALK_EXIT, (uintptr_t)p);
    if (it == NULL) return walk_oom(w);
    it->u.name = (uint32_t)WALK_INFO_VALUE(named);
    w->st.exits++;
    return 0;
  }
  switch (tag) {
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);  /* a string: no conversion */
    it = walk_item_new(w, WALK_STRING, (uintptr_t)p);
    if (it == NULL) return walk_oom(w);
    it->u.str.len = len;
    it->u.str.p = NULL;
    if (len <= MAX_STRING) {
      /* Copied: written later, and the copy cannot dangle whatever an
      ** emergency collection does to weak tables meanwhile. */
      const char *c = walk_arena_put(&w->strings, s, len);
      if (c == NULL) return walk_oom(w);
      w->items[w->qtail - 1].u.str.p = c;
    }
    return 0;
  }
  case LUA_TTABLE: it = walk_item_new(w, WALK_TABLE, (uintptr_t)p); break;
  case LUA_TUSERDATA: it = walk_item_new(w, WALK_USERDATA, (uintptr_t)p); break;
  case LUA_TTHREAD: it = walk_item_new(w, WALK_THREAD, (uintptr_t)p); break;
  case LUA_TFUNCTION:
    it = walk_item_new(w, lua_iscfunction(L, idx) ? WALK_CFUNC : WALK_LFUNC,
                       (uintptr_t)p);
    break;
  case WALK_TAG_LIGHTCF:
  case LUA_TLIGHTUSERDATA:
    it = walk_item_new(w, WALK_STUB, (uintptr_t)p);
    if (it == NULL) return walk_oom(w);
    it->stub = tag == WALK_TAG_LIGHTCF ? WALK_STUB_CFUNC : WALK_STUB_LIGHTUD;
    w->st.stubs++;
    return 0;
  default:
    assert(0 && "not an object");
    return walk_oom(w);
  }
  if (it == NULL) return walk_oom(w);
  return walk_anchor_push(w, idx);
}

int walk_value(walk *w, int idx, wire_value *v) {
  lua_State *L = w->L;
  int t = lua_type(L, idx);
  switch (t) {
  case LUA_TNIL: v->type = WIRE_V_NIL; return 0;
  case LUA_TBOOLEAN:
    v->type = WIRE_V_BOOL;
    v->u.b = lua_toboolean(L, idx);
    return 0;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      v->type = WIRE_V_INT;
      v->u.i = (int64_t)lua_tointegerx(L, idx, NULL);
    } else {
      v->type = WIRE_V_FLOAT;
      v->u.f = (double)lua_tonumberx(L, idx, NULL);
    }
    return 0;
  default:
    v->type = WIRE_V_REF;
    return intern(w, idx, t, &v->u.ref);
  }
}

/* ---- metatables ---------------------------------------------------- */

/* __name and __mode of the metatable at the top, read by raw traversal
** and cached per metatable. NULL if out of memory. */
static const struct walk_mt *mt_info(walk *w) {
  lua_State *L = w->L;
  uintptr_t key = (uintptr_t)lua_topointer(L, -1);
  uint64_t info = walk_map_get(&w->mtinfo, key, LUA_TTABLE);
  if (info) return &w->mts[WALK_INFO_VALUE(info)];
  if (w->nmts == w->mtcap) {
    size_t ncap = w->mtcap ? w->mtcap * 2 : 32;
    struct walk_mt *nm = realloc(w->mts, ncap * sizeof *nm);
    if (nm == NULL) return NULL;
    w->mts = nm;
    w->mtcap = ncap;
  }
  struct walk_mt m = {NULL, 0, NULL};
  int mt = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, mt)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
      size_t kl, vl;
      const char *k = lua_tolstring(L, -2, &kl);
      const char *v = lua_tolstring(L, -1, &vl);
      if (kl == 6 && memcmp(k, "__name", 6) == 0 && vl <= MAX_STRING) {
        m.name = walk_arena_put(&w->keep, v, vl);
        m.len = vl;
        if (m.name == NULL) {
          lua_pop(L, 2);
          return NULL;
        }
      } else if (kl == 6 && memcmp(k, "__mode", 6) == 0) {
        int wk = memchr(v, 'k', vl) != NULL, wv = memchr(v, 'v', vl) != NULL;
        m.mode = wk && wv ? "kv" : wk ? "k" : wv ? "v" : NULL;
      }
    }
    lua_pop(L, 1);
  }
  uint64_t *slot = walk_map_slot(&w->mtinfo, key, LUA_TTABLE);
  if (slot == NULL) return NULL;
  *slot = ((uint64_t)LUA_TTABLE << 60) | w->nmts;
  w->mts[w->nmts] = m;
  return &w->mts[w->nmts++];
}

/* ---- edges --------------------------------------------------------- */

int walk_edge_to(walk *w, const char *kind, const char *name, size_t nlen,
                   int has_index, int64_t index, int idx) {
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = kind;
  e.name = name;
  e.name_len = nlen;
  e.has_index = has_index;
  e.index = index;
  if (walk_value(w, idx, &e.value) != 0) return -1;
  walk_edge(w, &e);
  return 0;
}

/* The metatable edge of the value at idx, if it has a metatable. */
static int metatable_edge(walk *w, int idx) {
  lua_State *L = w->L;
  if (!lua_getmetatable(L, idx)) return 0;
  int r = walk_edge_to(w, "metatable", NULL, 0, 0, 0, -1);
  lua_pop(L, 1);
  return r;
}

void walk_node_init(wire_node *n, uint64_t id, const char *kind,
                      uint64_t addr) {
  memset(n, 0, sizeof *n);
  n->id = id;
  n->kind = kind;
  if (addr) {
    n->addr = addr;
    n->has_addr = 1;
  }
}

/* ---- tables -------------------------------------------------------- */

/* Tables of at most this many entries are read once: their keys and values
** wait on the stack (as node temporaries, addressed from the top, which an
** anchor push does not move) while the node's size is worked out. Larger
** ones take a counting pass first: a stack cannot hold them all. */
#define TABLE_HELD 8

/* Encode one entry: the key at kidx, the value at kidx + 1 (both relative
** to the top, kidx < -1). */
static int encode_entry(walk *w, int kidx) {
  lua_State *L = w->L;
  wire_value v;
  if (lua_isinteger(L, kidx)) {  /* first: the commonest key by far */
    /* consecutive ones (the array part, in order) go out as runs */
    if (walk_value(w, kidx + 1, &v) != 0) return -1;
    walk_index(w, (int64_t)lua_tointegerx(L, kidx, NULL), &v);
    return 0;
  }
  wire_edge e;
  memset(&e, 0, sizeof e);
  if (lua_type(L, kidx) == LUA_TSTRING) {
    e.kind = "field";
    e.name = lua_tolstring(L, kidx, &e.name_len);  /* a string key: safe */
  } else {
    e.kind = "key";  /* float, boolean or object */
    if (walk_value(w, kidx, &e.key) != 0) return -1;
  }
  if (walk_value(w, kidx + 1, &e.value) != 0) return -1;
  walk_edge(w, &e);
  return 0;
}

static int encode_table(walk *w, uint64_t id, int t, uint64_t addr) {
  lua_State *L = w->L;
  wire_node n;
  walk_node_init(&n, id, "table", addr);
  int has_mt = lua_getmetatable(L, t);  /* kept for its edge */
  if (has_mt) {
    const struct walk_mt *mi = mt_info(w);
    if (mi == NULL) return walk_oom(w);
    n.type = mi->name;
    n.type_len = mi->len;
    n.mode = mi->mode;
  }
  /* Sizes need the entry count before the node is written. The array part
  ** is estimated as the run of keys 1, 2, 3... that lua_next yields first
  ** (it walks the array part first, in order). Not lua_rawlen: luaH_getn
  ** caches a border hint in the table, which can change what a later #t
  ** returns for a table with holes. The hash part is estimated as the next
  ** power of two at or above the remaining entries. While the table is
  ** small its entries stay on the stack, so it is read only once. */
  uint64_t count = 0, arr = 0;
  int held = lua_checkstack(L, 2 * TABLE_HELD + 4), base = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    count++;
    if (arr + 1 == count && lua_isinteger(L, -2) &&
        lua_tointegerx(L, -2, NULL) == (lua_Integer)count)
      arr++;
    if (held && count <= TABLE_HELD) {
      lua_pushvalue(L, -2);  /* the pair stays; a copy of the key goes on */
      continue;
    }
    lua_pop(L, 1);
    if (held) {              /* too many: let the held pairs go */
      lua_replace(L, base + 1);
      lua_settop(L, base + 1);
      held = 0;
    }
  }
  uint64_t rest = count - arr, hslots = 0;
  if (rest) for (hslots = 1; hslots < rest; hslots <<= 1) {}
  n.size = 56 + 16 * arr + 32 * hslots;
  n.has_size = 1;
  walk_node(w, &n);

  int npairs = held ? (int)count : 0, r = 0;
  if (has_mt)
    r = walk_edge_to(w, "metatable", NULL, 0, 0, 0, -(2 * npairs + 1));
  if (r == 0 && held) {
    for (int i = 0; i < npairs && r == 0; i++)
      r = encode_entry(w, -2 * (npairs - i));
  } else if (r == 0) {
    lua_pushnil(L);
    while (r == 0 && lua_next(L, t)) {
      r = encode_entry(w, -2);
      lua_pop(L, 1);
    }
    if (r != 0) lua_pop(L, 1);  /* the key lua_next left */
  }
  lua_pop(L, 2 * npairs + has_mt);
  if (r != 0) return -1;
  walk_node_end(w);
  return 0;
}

/* ---- userdata ------------------------------------------------------ */

static int encode_userdata(walk *w, uint64_t id, int u, uint64_t addr) {
  lua_State *L = w->L;
  size_t len = lua_rawlen(L, u);
  const void *bytes = lua_touserdata(L, u);
  int nuv = 0;
  while (lua_getiuservalue(L, u, nuv + 1) != LUA_TNONE) {
    lua_pop(L, 1);
    nuv++;
  }
  lua_pop(L, 1);  /* the nil pushed for the missing one */
  wire_node n;
  walk_node_init(&n, id, "userdata", addr);
  if (lua_getmetatable(L, u)) {
    const struct walk_mt *mi = mt_info(w);
    if (mi == NULL) return walk_oom(w);
    n.type = mi->name;
    n.type_len = mi->len;
    lua_pop(L, 1);
  }
  n.size = 40 + 16 * (uint64_t)nuv + len;
  n.has_size = 1;
  char why[64];
  if (len <= WALK_MAX_PAYLOAD) {
    n.payload = bytes;
    n.payload_len = len;
    n.has_payload = 1;
  } else {
    snprintf(why, sizeof why, "payload omitted: %zu bytes", len);
    n.name = why;
    n.name_len = strlen(why);
  }
  walk_node(w, &n);
  if (metatable_edge(w, u) != 0) return -1;
  for (int i = 1; i <= nuv; i++) {
    lua_getiuservalue(L, u, i);
    int r = walk_edge_to(w, "uservalue", NULL, 0, 1, i, -1);
    lua_pop(L, 1);
    if (r != 0) return -1;
  }
  walk_node_end(w);
  return 0;
}

/* ---- leaves -------------------------------------------------------- */

static void encode_string(walk *w, const walk_item *it, uint64_t id) {
  wire_node n;
  char why[64];
  walk_node_init(&n, id, "string", it->addr);
  n.size = 24 + it->u.str.len + 1;
  n.has_size = 1;
  if (it->u.str.p) {
    n.value = it->u.str.p;
    n.value_len = it->u.str.len;
    n.has_value = 1;
  } else {
    snprintf(why, sizeof why, "value omitted: %zu bytes", it->u.str.len);
    n.name = why;
    n.name_len = strlen(why);
  }
  walk_node(w, &n);
  walk_node_end(w);
  /* a hashing helper may still read earlier strings' bytes */
  if (it->u.str.p && w->hasher == NULL)
    walk_arena_release_before(&w->strings, it->u.str.p);
}

static void encode_exit(walk *w, const walk_item *it, uint64_t id) {
  const walk_name *nm = &w->names[it->u.name];
  wire_node n;
  walk_node_init(&n, id, "exit", it->addr);
  n.name = nm->s;
  n.name_len = nm->len;
  walk_node(w, &n);
  walk_node_end(w);
}

static void encode_stub(walk *w, const walk_item *it, uint64_t id) {
  wire_node n;
  char nm[64];
  walk_node_init(&n, id, "stub", it->addr);
  switch (it->stub) {
  case WALK_STUB_CFUNC:
    n.status = "unnamed C function";
    snprintf(nm, sizeof nm, "cfunction@%llx", (unsigned long long)it->addr);
    break;
  case WALK_STUB_LIGHTUD:
    n.status = "light userdata";
    snprintf(nm, sizeof nm, "lightuserdata@%llx", (unsigned long long)it->addr);
    break;
  case WALK_STUB_FRAMES:
    n.status = "frames omitted";
    snprintf(nm, sizeof nm, "frames deeper than %d levels", WALK_MAX_FRAMES);
    break;
  default:
    n.status = "coroutine stack full";
    snprintf(nm, sizeof nm, "values not captured");
    break;
  }
  n.name = nm;
  n.name_len = strlen(nm);
  walk_node(w, &n);
  walk_node_end(w);
}

int walk_stub_edge(walk *w, const char *kind, int64_t i, enum walk_stub why) {
  walk_item *it = walk_item_new(w, WALK_STUB, 0);
  if (it == NULL) return walk_oom(w);
  it->stub = (uint8_t)why;
  w->st.stubs++;
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = kind;
  e.has_index = i >= 0;
  e.index = i;
  e.value.type = WIRE_V_REF;
  e.value.u.ref = w->next_id - 1;
  walk_edge(w, &e);
  return 0;
}

int walk_encode(walk *w, const walk_item *it, uint64_t id, int idx) {
  switch (it->kind) {
  case WALK_TABLE: return encode_table(w, id, idx, it->addr);
  case WALK_LFUNC: return walk_lfunction(w, id, idx, it->addr);
  case WALK_CFUNC: return walk_cfunction(w, id, idx, it->addr);
  case WALK_USERDATA: return encode_userdata(w, id, idx, it->addr);
  case WALK_THREAD: return walk_thread(w, it, id, idx);
  case WALK_FRAME: return walk_frame(w, it, id, idx);
  case WALK_STRING: encode_string(w, it, id); return 0;
  case WALK_PROTO: walk_proto_node(w, it, id); return 0;
  case WALK_UPVALUE: walk_upvalue_node(w, it, id); return 0;
  case WALK_EXIT: encode_exit(w, it, id); return 0;
  case WALK_STUB: encode_stub(w, it, id); return 0;
  }
  assert(0 && "unknown item kind");
  return -1;
}
