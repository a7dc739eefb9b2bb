/*
** restore_build.c
** Rebuild a snapshot graph in a lua_State: every node is created, then
** every edge set, then metatables; restore_bind.c rebinds the roots. The
** content hash is checked on a second thread meanwhile.
*/
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include "restore.h"

/* The content hash is checked beside the build, on a second thread: it
** reads the graph, as the build does, and neither writes it. Until its
** verdict is in, nothing the snapshot holds gets to run or to touch the
** fresh VM's own objects: no host callback sees its bytes, no metatable
** is set (a __gc would mark an object for finalisation), no root is
** rebound. What was built by then is unreachable garbage if the hash does
** not check out. Bytecode is loaded before the verdict, but never run:
** the factories restore makes from it only close over it. */
typedef struct alua_hash_check {
  const alua_graph *g;
  pthread_t thread;
  int running;         /* started, not yet joined */
  int bad;             /* the hash did not check out: err says how */
  char err[256];
} alua_hash_check;

static void *hash_run(void *ud)
{
  alua_hash_check *hc = ud;
  hc->bad = alua_graph_check_hash(hc->g, hc->err, sizeof hc->err) != 0;
  return NULL;
}

static void hash_start(alua_hash_check *hc, const alua_graph *g)
{
  memset(hc, 0, sizeof *hc);
  hc->g = g;
  if (!g->has_want) return;
  if (pthread_create(&hc->thread, NULL, hash_run, hc) == 0)
    hc->running = 1;
  else
    hash_run(hc);                   /* no thread to spare: check it here */
}

/* Wait for the verdict: 0 if the hash checks out. */
static int hash_verdict(alua_hash_check *hc)
{
  if (hc->running) {
    pthread_join(hc->thread, NULL);
    hc->running = 0;
  }
  return hc->bad ? -1 : 0;
}

/* Go on only with a snapshot whose hash checked out. */
static void build_trusted(alua_build *b)
{
  if (hash_verdict(b->hash)) luaL_error(b->L, "%s", b->hash->err);
}

/* Upvalue ownership, per upvalue node: the closure (or the cell made for
** it) whose upvalue n holds the node's cell, packed as id * 256 + n; 0 if
** no closure was made with it yet (no closure has id 0: that is the root). */
#define OWNER(id, n) ((id) * 256 + (uint64_t)(n))
#define OWNER_ID(o) ((o) / 256)
#define OWNER_N(o) ((int)((o) % 256))

#define ISFRESH(p, n) ((p)->fresh[((n) - 1) / 8] & (1u << (((n) - 1) % 8)))

void alua_build_push(alua_build *b, uint64_t id)
{
  lua_rawgeti(b->L, b->objs, (lua_Integer)id + 1);
}

void alua_build_push_value(alua_build *b, uint8_t vtype, const alua_scalar *v)
{
  lua_State *L = b->L;
  switch (vtype) {
  case WIRE_V_BOOL: lua_pushboolean(L, v->b); break;
  case WIRE_V_INT: lua_pushinteger(L, (lua_Integer)v->i); break;
  case WIRE_V_FLOAT: lua_pushnumber(L, (lua_Number)v->f); break;
  case WIRE_V_REF:
    alua_build_push(b, v->ref);
    if (b->role[v->ref] == ALUA_ROLE_HOLDER) {
      b->role[v->ref] = ALUA_ROLE_PLACED;
      lua_pushvalue(L, -1);
      lua_rawget(L, b->holders);
      alua_build_report(b, v->ref, lua_tostring(L, -1));
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, b->placed);
    }
    break;
  default: lua_pushnil(L); break;
  }
}

void alua_build_report(alua_build *b, uint64_t id, const char *why)
{
  alua_restore_report *r = b->rep;
  r->nplaceholders++;
  if (r->placeholders && r->nlisted < ALUA_RESTORE_LISTED) {
    alua_placeholder *p = &r->placeholders[r->nlisted++];
    p->node = id;
    snprintf(p->why, sizeof p->why, "%s", why);
  }
}

const alua_gedge *alua_build_edge(const alua_build *b, uint64_t id,
                                  enum alua_ekind k, const char *name)
{
  const alua_gnode *n = &b->g->nodes[id];
  const alua_gedge *e = b->g->edges + n->edge0;
  size_t want = name ? strlen(name) : 0;
  for (uint32_t i = 0; i < n->nedges; i++, e++) {
    if (e->kind != k) continue;
    if (!name) return e;
    size_t len;
    const char *s = alua_graph_ename(b->g, e, &len);
    if (s && len == want && memcmp(s, name, len) == 0) return e;
  }
  return NULL;
}

/* Remember the object on top of the stack as node id's (pops it). */
static void store(alua_build *b, uint64_t id)
{
  lua_rawseti(b->L, b->objs, (lua_Integer)id + 1);
}

/* Record the object on top of the stack as a placeholder for node id; it
** is reported once something restored refers to it. */
static void held(alua_build *b, uint64_t id, const char *why)
{
  lua_State *L = b->L;
  lua_pushvalue(L, -1);
  lua_pushstring(L, why);
  lua_rawset(L, b->holders);
  b->role[id] = ALUA_ROLE_HOLDER;
}

/* Push the documented placeholder for something Lua cannot rebuild: a
** table {reason=, kind=, node=} whose metatable's __name is
** "amber.placeholder". */
static void push_holder(alua_build *b, uint64_t id, const char *why)
{
  lua_State *L = b->L;
  lua_createtable(L, 0, 3);
  lua_pushstring(L, why);
  lua_setfield(L, -2, "reason");
  lua_pushstring(L, alua_nkind_name(b->g->nodes[id].kind));
  lua_setfield(L, -2, "kind");
  lua_pushinteger(L, (lua_Integer)id);
  lua_setfield(L, -2, "node");
  lua_pushvalue(L, b->holder_mt);
  lua_setmetatable(L, -2);
  held(b, id, why);
}

static void table_sizes(const alua_build *b, uint64_t id, int *narr, int *nrec)
{
  const alua_gnode *n = &b->g->nodes[id];
  const alua_gedge *e = b->g->edges + n->edge0;
  uint64_t na = 0, nr = 0;
  for (uint32_t i = 0; i < n->nedges; i++, e++) {
    if (e->kind == ALUA_E_INDEX && e->key.i >= 1 && e->key.i <= n->nedges)
      na++;
    else if (e->kind == ALUA_E_INDEX || e->kind == ALUA_E_FIELD ||
             e->kind == ALUA_E_KEY)
      nr++;
  }
  *narr = na > INT_MAX ? INT_MAX : (int)na;
  *nrec = nr > INT_MAX ? INT_MAX : (int)nr;
}

/* Whether node id's metatable has a C function as __gc or __close, in the
** snapshot or (for a metatable that is the fresh host's) in the fresh VM. */
static int has_c_finaliser(alua_build *b, uint64_t id)
{
  static const char *const names[] = {"__gc", "__close"};
  lua_State *L = b->L;
  const alua_gedge *mt = alua_build_edge(b, id, ALUA_E_METATABLE, NULL);
  if (!mt || mt->vtype != WIRE_V_REF ||
      b->g->nodes[mt->val.ref].kind != ALUA_N_TABLE)
    return 0;
  uint64_t m = mt->val.ref;
  for (int i = 0; i < 2; i++) {
    const alua_gedge *f = alua_build_edge(b, m, ALUA_E_FIELD, names[i]);
    uint8_t k = f && f->vtype == WIRE_V_REF ? b->g->nodes[f->val.ref].kind
                                            : ALUA_N_OTHER;
    if (k == ALUA_N_EXIT || k == ALUA_N_CFUNCTION || k == ALUA_N_STUB)
      return 1;
    if (b->role[m] == ALUA_ROLE_FRESH) {
      alua_build_push(b, m);
      lua_pushstring(L, names[i]);
      lua_rawget(L, -2);
      int c = lua_iscfunction(L, -1);
      lua_pop(L, 2);
      if (c) return 1;
    }
  }
  return 0;
}

static void create_userdata(alua_build *b, uint64_t id, const alua_ninfo *in)
{
  lua_State *L = b->L;
  const alua_gnode *n = &b->g->nodes[id];
  int verdict = ALUA_UD_DEFAULT;
  char why[160];
  if (b->o->userdata && (in->has & ALUA_HAS_TYPE)) {
    int top = lua_gettop(L);
    build_trusted(b);
    verdict = b->o->userdata(L, b->o->userdata_ud, in->type, in->type_len,
                             in->payload, in->payload_len);
    if (verdict == ALUA_UD_REBUILT) {
      if (lua_gettop(L) != top + 1)
        luaL_error(L, "node %I: the host's userdata callback must push "
                   "exactly one value", (lua_Integer)id);
      b->role[id] = ALUA_ROLE_HOST;
      return;
    }
    lua_settop(L, top);
  }
  if (!(in->has & ALUA_HAS_PAYLOAD)) {
    push_holder(b, id, "the snapshot did not capture this userdata's bytes "
                "(too big)");
    return;
  }
  if ((in->has & ALUA_HAS_TYPE) && in->type_len == strlen(LUA_FILEHANDLE) &&
      memcmp(in->type, LUA_FILEHANDLE, in->type_len) == 0) {
    /* Its bytes are a FILE pointer of the old process: a closed file of the
    ** io library is the faithful stand-in. */
    luaL_Stream *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->f = NULL;
    s->closef = NULL;
    luaL_setmetatable(L, LUA_FILEHANDLE);
    held(b, id, "an open file cannot move between processes: restored as "
         "a closed file");
    return;
  }
  if (verdict != ALUA_UD_COPY && has_c_finaliser(b, id)) {
    snprintf(why, sizeof why, "userdata '%.*s' has a C finaliser: its bytes "
             "may point into the old process; rebuild it in the host",
             (int)(in->type_len > 40 ? 40 : in->type_len),
             in->type ? in->type : "");
    push_holder(b, id, why);
    return;
  }
  int nuv = 0;
  const alua_gedge *e = b->g->edges + n->edge0;
  for (uint32_t i = 0; i < n->nedges; i++, e++)
    if (e->kind == ALUA_E_USERVALUE && e->key.i > nuv) nuv = (int)e->key.i;
  void *p = lua_newuserdatauv(L, in->payload_len, nuv);
  if (in->payload_len) memcpy(p, in->payload, in->payload_len);
}

static void create_thread(alua_build *b, uint64_t id, const alua_ninfo *in)
{
  const char *st = in->status ? in->status : "";
  if (strcmp(st, "dead") == 0 || strcmp(st, "unstarted") == 0) {
    lua_newthread(b->L);
    return;
  }
  /* The public API cannot rebuild frames of a running function. A dead
  ** coroutine keeps type() and fails resume cleanly; amber.crash keeps the
  ** frames for inspection. */
  char why[120];
  snprintf(why, sizeof why, "coroutine %.16s inside a function cannot be "
           "rebuilt: restored as a dead coroutine", *st ? st : "(no status)");
  lua_newthread(b->L);
  held(b, id, why);
}

/* A prototype's object is its factory; one whose bytecode the snapshot
** left out (too big) has none, and its closures become placeholders. */
static void create_proto(alua_build *b, uint64_t id, const alua_ninfo *in)
{
  char why[160];
  if (!(in->has & ALUA_HAS_PAYLOAD)) {
    lua_pushnil(b->L);
    return;
  }
  alua_proto *p = &b->protos[b->aux[id]];
  if (alua_code_inspect(&b->code, in->payload, in->payload_len, p, why,
                        sizeof why))
    luaL_error(b->L, "node %I: %s", (lua_Integer)id, why);
  alua_code_push_factory(b->L, &b->code, in->payload, in->payload_len);
}

/* The shape of a coroutine.wrap function: a C closure whose one upvalue
** is a coroutine. Its C function has no name to resolve, but the fresh
** VM's coroutine.wrap makes the same closure. */
static int is_wrap(const alua_build *b, uint64_t id)
{
  const alua_gnode *n = &b->g->nodes[id];
  const alua_gedge *e = b->g->edges + n->edge0;
  return n->kind == ALUA_N_CFUNCTION && n->nedges == 1 &&
         e->kind == ALUA_E_UPVALUE && e->has_index && e->key.i == 1 &&
         e->vtype == WIRE_V_REF &&
         b->g->nodes[e->val.ref].kind == ALUA_N_THREAD;
}

/* Phase one: an object for every node that is not a closure. */
static void create_node(alua_build *b, uint64_t id)
{
  lua_State *L = b->L;
  alua_ninfo in;
  char why[160];
  int narr, nrec;
  if (b->role[id] == ALUA_ROLE_FRESH) return;
  switch ((enum alua_nkind)b->g->nodes[id].kind) {
  case ALUA_N_TABLE:                  /* most nodes: no field is needed */
    table_sizes(b, id, &narr, &nrec);
    lua_createtable(L, narr, nrec);
    store(b, id);
    return;
  case ALUA_N_FUNCTION: case ALUA_N_UPVALUE:
    return;                           /* closures come next, cells on demand */
  case ALUA_N_STRING: {
    size_t len;
    const char *v = alua_graph_value(b->g, id, &len);
    if (!v) break;                    /* a placeholder, below */
    lua_pushlstring(L, v, len);
    store(b, id);
    return;
  }
  default:
    break;
  }
  alua_graph_node(b->g, id, &in);
  switch ((enum alua_nkind)b->g->nodes[id].kind) {
  case ALUA_N_ROOT:
    luaL_error(L, "node %I: only node 0 may be the root", (lua_Integer)id);
    return;
  case ALUA_N_TABLE: case ALUA_N_FUNCTION: case ALUA_N_UPVALUE:
    return;                           /* done above */
  case ALUA_N_STRING:                 /* one without its bytes */
    push_holder(b, id, "the snapshot did not capture this string's bytes "
                "(too long)");
    break;
  case ALUA_N_USERDATA:
    create_userdata(b, id, &in);
    break;
  case ALUA_N_THREAD:
    create_thread(b, id, &in);
    break;
  case ALUA_N_FRAME:
    lua_createtable(L, 0, 6);
    if (in.has & ALUA_HAS_NAME) {
      lua_pushlstring(L, in.name, in.name_len);
      lua_setfield(L, -2, "name");
    }
    if (in.has & ALUA_HAS_SRC) {
      lua_pushlstring(L, in.src, in.src_len);
      lua_setfield(L, -2, "source");
    }
    if (in.has & ALUA_HAS_LINE) {
      lua_pushinteger(L, (lua_Integer)in.line);
      lua_setfield(L, -2, "line");
    }
    break;
  case ALUA_N_PROTO:
    create_proto(b, id, &in);
    break;
  case ALUA_N_EXIT: case ALUA_N_CFUNCTION:
    if (b->role[id] == ALUA_ROLE_HOST) return;   /* matched in the plan */
    if ((in.has & ALUA_HAS_NAME) && alua_bind_exit(b, in.name, in.name_len)) {
      b->role[id] = ALUA_ROLE_HOST;
      break;
    }
    if (is_wrap(b, id) && alua_bind_exit(b, "coroutine.wrap", 14)) {
      /* A wrap of a throwaway function; its coroutine is swapped for the
      ** restored one when edges are set. */
      lua_pushvalue(L, b->cellmaker);
      lua_call(L, 1, 1);
      break;
    }
    if (in.has & ALUA_HAS_NAME)
      snprintf(why, sizeof why, "'%.*s' is not in the fresh VM: open the "
               "library that provides it", (int)(in.name_len > 60 ? 60
               : in.name_len), in.name);
    else
      snprintf(why, sizeof why, "a C function without a name cannot be "
               "rebuilt outside its library");
    push_holder(b, id, why);
    break;
  case ALUA_N_STUB:
    snprintf(why, sizeof why, "not captured by the snapshot: %.80s",
             in.status ? in.status : "no reason given");
    push_holder(b, id, why);
    break;
  case ALUA_N_OTHER:
    snprintf(why, sizeof why, "a '%.40s' node has no Lua counterpart",
             in.kind_text ? in.kind_text : "?");
    push_holder(b, id, why);
    break;
  }
  store(b, id);
}

/* Give upvalue n of the closure at fi the cell of upvalue node u: the first
** closure to use a node owns its cell (if that cell is its own), later ones
** join it. */
static void bind_upvalue(alua_build *b, int fi, int n, uint64_t u,
                         uint64_t self, const alua_proto *p)
{
  lua_State *L = b->L;
  uint64_t own = b->aux[u];
  if (!own && ISFRESH(p, n)) {
    b->aux[u] = OWNER(self, n);
    return;
  }
  if (!own) {
    lua_pushvalue(L, b->cellmaker);
    lua_call(L, 0, 1);
    lua_pushvalue(L, -1);
    store(b, u);
    b->aux[u] = own = OWNER(u, 1);
  } else {
    alua_build_push(b, OWNER_ID(own));
  }
  lua_upvaluejoin(L, fi, n, -1, OWNER_N(own));
  lua_pop(L, 1);
}

/* Phase two: closures, each from its prototype's factory, with upvalue
** cells shared exactly as the upvalue nodes say. */
static void create_closure(alua_build *b, uint64_t id)
{
  lua_State *L = b->L;
  const alua_gedge *pe = alua_build_edge(b, id, ALUA_E_PROTOTYPE, NULL);
  if (!pe) {
    push_holder(b, id, "a Lua function without a prototype");
    store(b, id);
    return;
  }
  uint64_t pid = pe->val.ref;
  const alua_proto *p = &b->protos[b->aux[pid]];
  alua_build_push(b, pid);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    push_holder(b, id, "the snapshot did not capture this function's "
                "bytecode (too big)");
    store(b, id);
    return;
  }
  lua_call(L, 0, 1);
  int fi = lua_gettop(L);
  uint8_t seen[32] = {0};
  const alua_gnode *n = &b->g->nodes[id];
  const alua_gedge *e = b->g->edges + n->edge0;
  for (uint32_t i = 0; i < n->nedges; i++, e++) {
    if (e->kind != ALUA_E_UPVALUE) continue;
    if (e->key.i < 1 || e->key.i > (int64_t)p->nup)
      luaL_error(L, "node %I: upvalue %I is out of range (its prototype "
                 "has %d)", (lua_Integer)id, (lua_Integer)e->key.i,
                 (int)p->nup);
    int k = (int)e->key.i;
    seen[(k - 1) / 8] |= (uint8_t)(1u << ((k - 1) % 8));
    bind_upvalue(b, fi, k, e->val.ref, id, p);
  }
  /* An upvalue the snapshot did not list must still not share a cell the
  ** factory hands to every closure it makes. */
  for (unsigned k = 1; k <= p->nup; k++) {
    if ((seen[(k - 1) / 8] & (1u << ((k - 1) % 8))) || ISFRESH(p, k)) continue;
    lua_pushvalue(L, b->cellmaker);
    lua_call(L, 0, 1);
    lua_upvaluejoin(L, fi, (int)k, -1, 1);
    lua_pop(L, 1);
  }
  store(b, id);
}

/* Push a field name as a Lua string, from the recent ones if it is there. */
static void push_field_name(alua_build *b, const char *s, size_t len)
{
  lua_State *L = b->L;
  if (len == 0 || len > 40) {         /* past Lua's short strings */
    lua_pushlstring(L, s, len);
    return;
  }
  unsigned slot = (unsigned)(len * 31 + (unsigned char)s[0] * 7 +
                             (unsigned char)s[len - 1]) % ALUA_RECENT_NAMES;
  if (b->recent[slot].len == len && memcmp(b->recent[slot].s, s, len) == 0) {
    lua_rawgeti(L, b->fieldnames, slot + 1);
    return;
  }
  lua_pushlstring(L, s, len);
  lua_pushvalue(L, -1);
  lua_rawseti(L, b->fieldnames, slot + 1);
  b->recent[slot].s = s;
  b->recent[slot].len = len;
}

static void set_key_value(alua_build *b, int t, const alua_gedge *e,
                          uint64_t id)
{
  lua_State *L = b->L;
  size_t len;
  const char *s;
  switch (e->kind) {
  case ALUA_E_FIELD:
    s = alua_graph_ename(b->g, e, &len);
    push_field_name(b, s, len);
    break;
  case ALUA_E_INDEX:
    lua_pushinteger(L, (lua_Integer)e->key.i);
    break;
  case ALUA_E_KEY:
    alua_build_push_value(b, e->ktype, &e->key);
    if (lua_isnil(L, -1))
      luaL_error(L, "node %I: a table key restored as nil", (lua_Integer)id);
    break;
  default:
    return;
  }
  alua_build_push_value(b, e->vtype, &e->val);
  lua_rawset(L, t);
}

/* The values an unstarted coroutine was created with: its body, then any
** arguments, in stack order. */
static void fill_thread(alua_build *b, uint64_t id, int ti)
{
  lua_State *L = b->L;
  lua_State *co = lua_tothread(L, ti);
  const alua_gnode *n = &b->g->nodes[id];
  const alua_gedge *e = b->g->edges + n->edge0;
  const alua_gedge *fn = alua_build_edge(b, id, ALUA_E_FUNCTION, NULL);
  alua_ninfo in;
  alua_graph_node(b->g, id, &in);
  if (!in.status || strcmp(in.status, "unstarted") != 0) return;
  if (fn) {
    alua_build_push_value(b, fn->vtype, &fn->val);
    lua_xmove(L, co, 1);
  }
  /* Stack edges arrive in slot order from the walker; keep that order. */
  for (uint32_t i = 0; i < n->nedges; i++, e++) {
    if (e->kind != ALUA_E_STACK) continue;
    if (!lua_checkstack(co, 1))
      luaL_error(L, "node %I: a coroutine stack too deep to restore",
                 (lua_Integer)id);
    alua_build_push_value(b, e->vtype, &e->val);
    lua_xmove(L, co, 1);
  }
}

static void append_to(lua_State *L, int t, const char *field)
{
  /* value on top: t[field][#+1] = value */
  if (lua_getfield(L, t, field) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, t, field);
  }
  lua_insert(L, -2);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  lua_pop(L, 1);
}

/* A frame is data for inspection: its function, and its locals as a list
** of {name=, slot=, value=} so that nil values and repeated names stay. */
static void fill_frame(alua_build *b, uint64_t id, int fi)
{
  lua_State *L = b->L;
  const alua_gnode *n = &b->g->nodes[id];
  const alua_gedge *e = b->g->edges + n->edge0;
  for (uint32_t i = 0; i < n->nedges; i++, e++) {
    size_t len;
    const char *s;
    switch (e->kind) {
    case ALUA_E_FUNCTION:
      alua_build_push_value(b, e->vtype, &e->val);
      lua_setfield(L, fi, "func");
      break;
    case ALUA_E_LOCAL:
      lua_createtable(L, 0, 3);
      if ((s = alua_graph_ename(b->g, e, &len))) {
        lua_pushlstring(L, s, len);
        lua_setfield(L, -2, "name");
      }
      if (e->has_index) {
        lua_pushinteger(L, (lua_Integer)e->key.i);
        lua_setfield(L, -2, "slot");
      }
      alua_build_push_value(b, e->vtype, &e->val);
      lua_setfield(L, -2, "value");
      append_to(L, fi, "locals");
      break;
    case ALUA_E_VARARG:
      alua_build_push_value(b, e->vtype, &e->val);
      append_to(L, fi, "varargs");
      break;
    default:
      break;
    }
  }
}

/* Phase three: the edges of every object restore made itself. */
static void fill_node(alua_build *b, uint64_t id)
{
  lua_State *L = b->L;
  const alua_gnode *n = &b->g->nodes[id];
  if (n->nedges == 0 ||
      (b->role[id] != ALUA_ROLE_NEW && n->kind != ALUA_N_UPVALUE))
    return;
  const alua_gedge *e = b->g->edges + n->edge0;
  alua_build_push(b, id);
  int t = lua_gettop(L);
  switch ((enum alua_nkind)n->kind) {
  case ALUA_N_TABLE:
    for (uint32_t i = 0; i < n->nedges; i++, e++) {
      if (e->kind == ALUA_E_INDEX && e->vtype == WIRE_V_NIL) continue;
      set_key_value(b, t, e, id);
    }
    break;
  case ALUA_N_USERDATA:
    for (uint32_t i = 0; i < n->nedges; i++, e++) {
      if (e->kind != ALUA_E_USERVALUE) continue;
      alua_build_push_value(b, e->vtype, &e->val);
      lua_setiuservalue(L, t, (int)e->key.i);
    }
    break;
  case ALUA_N_UPVALUE:
    lua_pop(L, 1);                  /* its object, if any, is a cell */
    if (!b->aux[id]) break;         /* no restored closure uses it */
    for (uint32_t i = 0; i < n->nedges; i++, e++) {
      if (e->kind != ALUA_E_VALUE) continue;
      alua_build_push(b, OWNER_ID(b->aux[id]));
      alua_build_push_value(b, e->vtype, &e->val);
      lua_setupvalue(L, -2, OWNER_N(b->aux[id]));
      lua_pop(L, 1);
    }
    return;
  case ALUA_N_THREAD:
    fill_thread(b, id, t);
    break;
  case ALUA_N_CFUNCTION:
    assert(is_wrap(b, id));
    alua_build_push_value(b, e->vtype, &e->val);
    lua_setupvalue(L, t, 1);
    break;
  case ALUA_N_FRAME:
    fill_frame(b, id, t);
    break;
  default:
    break;
  }
  lua_settop(L, t - 1);
}

/* Phase four: metatables, once every table is full, so that a __gc field
** is present when lua_setmetatable marks the object for finalisation. */
static void set_metatable(alua_build *b, uint64_t id)
{
  lua_State *L = b->L;
  uint8_t k = b->g->nodes[id].kind;
  if (b->role[id] != ALUA_ROLE_NEW ||
      (k != ALUA_N_TABLE && k != ALUA_N_USERDATA))
    return;
  const alua_gedge *e = alua_build_edge(b, id, ALUA_E_METATABLE, NULL);
  if (!e) return;
  alua_build_push(b, id);
  alua_build_push_value(b, e->vtype, &e->val);
  if (lua_istable(L, -1)) {
    lua_setmetatable(L, -2);
  } else {
    alua_build_report(b, id, "its metatable did not come back as a table; "
                      "left without one");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static int build_main(lua_State *L)
{
  alua_build *b = lua_touserdata(L, 1);
  const alua_graph *g = b->g;
  lua_settop(L, 0);
  luaL_checkstack(L, 40, "restore");
  alua_code_init(&b->code, L);
  lua_createtable(L, g->nnodes > INT_MAX ? INT_MAX : (int)g->nnodes, 0);
  b->objs = lua_gettop(L);
  lua_newtable(L);
  b->images = lua_gettop(L);
  lua_newtable(L);
  b->holders = lua_gettop(L);
  lua_newtable(L);
  b->placed = lua_gettop(L);
  if (luaL_loadstring(L, "return function() local v return function() "
                      "return v end end") != LUA_OK)
    lua_error(L);
  lua_call(L, 0, 1);
  b->cellmaker = lua_gettop(L);
  lua_createtable(L, 0, 1);
  lua_pushstring(L, "amber.placeholder");
  lua_setfield(L, -2, "__name");
  b->holder_mt = lua_gettop(L);
  lua_createtable(L, ALUA_RECENT_NAMES, 0);
  b->fieldnames = lua_gettop(L);

  alua_bind_plan(b);
  for (uint64_t id = 1; id < g->nnodes; id++) create_node(b, id);
  for (uint64_t id = 1; id < g->nnodes; id++)
    if (g->nodes[id].kind == ALUA_N_FUNCTION &&
        b->role[id] != ALUA_ROLE_FRESH)
      create_closure(b, id);
  for (uint64_t id = 1; id < g->nnodes; id++) fill_node(b, id);
  build_trusted(b);
  for (uint64_t id = 1; id < g->nnodes; id++) set_metatable(b, id);
  b->binding = 1;
  alua_bind_roots(b);
  return 0;
}

/* ---- checks that need no Lua state ---------------------------------- */

static int value_kind(uint8_t k)
{
  return k != ALUA_N_ROOT && k != ALUA_N_PROTO && k != ALUA_N_UPVALUE;
}

static int fail(alua_restore_report *r, const char *fmt, uint64_t id,
                const char *what)
{
  snprintf(r->error, sizeof r->error, fmt, (unsigned long long)id, what);
  return -1;
}

/* Every edge restore will follow points at a node of a kind it can use, so
** the build never meets a malformed reference half way. */
static int check_edges(const alua_graph *g, alua_restore_report *r)
{
  for (uint64_t id = 0; id < g->nnodes; id++) {
    const alua_gnode *n = &g->nodes[id];
    const alua_gedge *e = g->edges + n->edge0;
    for (uint32_t i = 0; i < n->nedges; i++, e++) {
      uint8_t tk = e->vtype == WIRE_V_REF ? g->nodes[e->val.ref].kind : 255;
      switch (e->kind) {
      case ALUA_E_PROTOTYPE:
        if (n->kind == ALUA_N_FUNCTION && tk != ALUA_N_PROTO)
          return fail(r, "node %llu: its %s edge does not point at a "
                      "proto node", id, "prototype");
        continue;
      case ALUA_E_UPVALUE:
        if (n->kind != ALUA_N_FUNCTION) continue;
        if (tk != ALUA_N_UPVALUE || !e->has_index)
          return fail(r, "node %llu: an %s edge must have i and point at an "
                      "upvalue node", id, "upvalue");
        continue;
      case ALUA_E_INDEX:
        if (!e->has_index)
          return fail(r, "node %llu: an %s edge without i", id, "index");
        break;
      case ALUA_E_FIELD:
        if (!e->name)
          return fail(r, "node %llu: a %s edge without its name n", id,
                      "field");
        break;
      case ALUA_E_KEY:
        if (e->ktype == WIRE_V_NONE || e->ktype == WIRE_V_NIL ||
            (e->ktype == WIRE_V_FLOAT && isnan(e->key.f)))
          return fail(r, "node %llu: a %s edge needs a key that Lua allows "
                      "(not nil or NaN)", id, "key");
        if (e->ktype == WIRE_V_REF && !value_kind(g->nodes[e->key.ref].kind))
          return fail(r, "node %llu: a %s refers to a node that is not a "
                      "value", id, "key");
        break;
      case ALUA_E_USERVALUE:
        if (n->kind == ALUA_N_USERDATA &&
            (!e->has_index || e->key.i < 1 || e->key.i > 65535))
          return fail(r, "node %llu: a %s edge needs i from 1 to 65535", id,
                      "uservalue");
        break;
      case ALUA_E_METATABLE: case ALUA_E_VALUE: case ALUA_E_LOCAL:
      case ALUA_E_VARARG: case ALUA_E_STACK: case ALUA_E_FUNCTION:
      case ALUA_E_ROOT:
        break;
      default:
        continue;                   /* not followed by restore */
      }
      if (tk != 255 && !value_kind(tk))
        return fail(r, "node %llu: an edge's value refers to a %s node, "
                    "which is not a value", id, alua_nkind_name(tk));
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

void alua_restore_report_init(alua_restore_report *r)
{
  memset(r, 0, sizeof *r);
}

void alua_restore_report_free(alua_restore_report *r)
{
  free(r->placeholders);
  r->placeholders = NULL;
  r->nlisted = 0;
}

int alua_restore_graph(lua_State *L, const alua_graph *g,
                       const alua_restore_opts *o,
                       const alua_restore_origin *origin,
                       alua_restore_report *rep)
{
  static const alua_restore_opts defaults;
  alua_build b;
  alua_hash_check hc;
  double t0 = now_ms();
  int rc = -1;
  if (!o) o = &defaults;
  rep->nodes = g->nnodes;
  rep->edges = g->nedges;
  rep->error[0] = 0;
  memset(&b, 0, sizeof b);
  if (!g->finished) {
    snprintf(rep->error, sizeof rep->error, "the graph is not complete");
    return -1;
  }
  hash_start(&hc, g);
  if (g->nbytecode && !o->trust_bytecode) {
    snprintf(rep->error, sizeof rep->error, "refusing to load the "
             "snapshot's bytecode (%llu functions) from an untrusted source: "
             "bytecode can crash or subvert the VM; pass --trust-bytecode "
             "only for snapshots you made", (unsigned long long)g->nbytecode);
    goto done;
  }
  if (check_edges(g, rep)) goto done;
  b.hash = &hc;
  b.L = L;
  b.g = g;
  b.o = o;
  b.origin = origin;
  b.rep = rep;
  b.role = calloc(g->nnodes, 1);
  b.aux = calloc(g->nnodes, sizeof *b.aux);
  for (uint64_t id = 0; id < g->nnodes; id++)
    if (g->nodes[id].kind == ALUA_N_PROTO) b.nprotos++;
  b.protos = calloc(b.nprotos ? b.nprotos : 1, sizeof *b.protos);
  if (!rep->placeholders)
    rep->placeholders = calloc(ALUA_RESTORE_LISTED, sizeof *rep->placeholders);
  if (!b.role || !b.aux || !b.protos || !rep->placeholders) {
    snprintf(rep->error, sizeof rep->error, "out of memory for a graph of "
             "%llu nodes", (unsigned long long)g->nnodes);
    goto done;
  }
  for (uint64_t id = 0, k = 0; id < g->nnodes; id++)
    if (g->nodes[id].kind == ALUA_N_PROTO) b.aux[id] = k++;
  b.globals = b.registry = b.loaded = b.mainthread = ALUA_NO_NODE;
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 8)) {
    snprintf(rep->error, sizeof rep->error, "no room on the Lua stack");
    goto done;
  }
  /* No finaliser runs mid-restore, and the collector does not walk a
  ** heap that is only growing. */
  int gc_was_running = lua_gc(L, LUA_GCISRUNNING);
  lua_gc(L, LUA_GCSTOP);
  lua_pushcfunction(L, build_main);
  lua_pushlightuserdata(L, &b);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    snprintf(rep->error, sizeof rep->error, "%s%s",
             msg ? msg : "an error without a message",
             b.binding ? " (while rebinding roots: some globals may already "
                         "be merged)"
                       : "; nothing was rebound, the VM is as it was");
  } else {
    rc = 0;
  }
  lua_settop(L, top);
  if (gc_was_running) lua_gc(L, LUA_GCRESTART);
done:
  /* whatever else went wrong, a snapshot that does not hash as announced
  ** is the cause to report */
  if (hash_verdict(&hc)) {
    snprintf(rep->error, sizeof rep->error, "%s", hc.err);
    rc = -1;
  }
  free(b.role);
  free(b.aux);
  free(b.protos);
  rep->build_ms = now_ms() - t0;
  return rc;
}
