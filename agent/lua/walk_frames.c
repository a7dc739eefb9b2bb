/*
** walk_frames.c
** Threads in the Lua heap walk: a coroutine's status and stack, one frame
** node per level with its function, locals and varargs (lua_getlocal), and
** an unstarted coroutine's function. Values pushed onto a coroutine by the
** debug API are moved to the walking thread at once.
*/
#include <limits.h>
#include <string.h>
#include "walk.h"

/* The status coroutine.status would report, seen from the walking thread. */
static const char *thread_status(walk *w, lua_State *T) {
  lua_Debug ar;
  if (T == w->L) return "running";
  switch (lua_status(T)) {
  case LUA_YIELD: return "suspended";
  case LUA_OK:
    if (lua_getstack(T, 0, &ar)) return "normal";  /* it resumed another */
    return lua_gettop(T) == 0 ? "dead" : "unstarted";
  default: return "dead";  /* finished with an error */
  }
}

static int first_level(walk *w, lua_State *T) {
  return T == w->stack_thread ? w->stack_level : 0;
}

/* The running thread's innermost frame reaches the stack top, where the
** walk's anchors sit: its locals stop where the caller's stack ended. */
static int local_limit(walk *w, lua_State *T, int level) {
  return T == w->L && level == 0 ? w->ltop0 : INT_MAX;
}

/* Push local n of frame ar of T onto L and return its name; NULL if there
** is none, or (with *full set) if T's stack cannot lend a slot. */
static const char *push_local(walk *w, lua_State *T, lua_Debug *ar, int n,
                              int *full) {
  if (T != w->L && !lua_checkstack(T, 1)) {
    *full = 1;
    return NULL;
  }
  const char *name = lua_getlocal(T, ar, n);
  if (name && T != w->L) lua_xmove(T, w->L, 1);
  return name;
}

/* Stack slots a frame uses as the debug API shows them: its function,
** its locals and temporaries, its varargs. */
static uint64_t frame_slots(walk *w, lua_State *T, lua_Debug *ar, int level) {
  uint64_t slots = 1;
  int full = 0, limit = local_limit(w, T, level);
  for (int n = 1; n <= limit && push_local(w, T, ar, n, &full); n++) {
    lua_pop(w->L, 1);
    slots++;
  }
  for (int n = -1; push_local(w, T, ar, n, &full); n--) {
    lua_pop(w->L, 1);
    slots++;
  }
  return slots;
}

int walk_thread(walk *w, const walk_item *it, uint64_t id, int idx) {
  lua_State *L = w->L, *T = lua_tothread(L, idx);
  const char *status = thread_status(w, T);
  int first = first_level(w, T), nlev = 0, more = 0;
  int unstarted = strcmp(status, "unstarted") == 0;
  uint64_t slots = 0;
  lua_Debug ar;
  while (lua_getstack(T, first + nlev, &ar)) {
    if (nlev == WALK_MAX_FRAMES) {
      more = 1;
      break;
    }
    slots += frame_slots(w, T, &ar, first + nlev);
    nlev++;
  }
  if (unstarted) slots += (uint64_t)lua_gettop(T);

  wire_node n;
  memset(&n, 0, sizeof n);
  n.id = id;
  n.kind = "thread";
  n.status = status;
  n.size = 200 + 16 * slots;
  n.has_size = 1;
  n.addr = it->addr;
  n.has_addr = 1;
  walk_node(w, &n);

  wire_edge e;
  for (int lv = 0; lv < nlev; lv++) {
    walk_item *f = walk_item_new(w, WALK_FRAME, 0);
    if (f == NULL) return walk_oom(w);
    f->level = (uint32_t)(first + lv);
    if (walk_anchor_push(w, idx) != 0) return -1;
    memset(&e, 0, sizeof e);
    e.kind = "frame";
    e.has_index = 1;
    e.index = first + lv;
    e.value.type = WIRE_V_REF;
    e.value.u.ref = w->next_id - 1;
    walk_edge(w, &e);
  }
  if (more && walk_stub_edge(w, "frame", first + nlev, WALK_STUB_FRAMES) != 0)
    return -1;
  if (unstarted) {
    /* slot 1 holds the body; any more are arguments pushed by the host */
    int top = lua_gettop(T);
    for (int i = 1; i <= top; i++) {
      if (!lua_checkstack(T, 1)) {
        if (walk_stub_edge(w, "stack", i, WALK_STUB_STACKFULL) != 0) return -1;
        break;
      }
      lua_pushvalue(T, i);
      lua_xmove(T, L, 1);
      memset(&e, 0, sizeof e);
      e.kind = i == 1 ? "function" : "stack";
      e.has_index = i > 1;
      e.index = i;
      int r = walk_value(w, -1, &e.value);
      lua_pop(L, 1);
      if (r != 0) return -1;
      walk_edge(w, &e);
    }
  }
  walk_node_end(w);
  return 0;
}

/* One edge from the value on top of L (index i if > 0), then pop it. */
static int local_edge(walk *w, const char *kind, const char *name, int i) {
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = kind;
  e.name = name;
  e.name_len = name ? strlen(name) : 0;
  e.has_index = i > 0;
  e.index = i;
  int r = walk_value(w, -1, &e.value);
  lua_pop(w->L, 1);
  if (r == 0) walk_edge(w, &e);
  return r;
}

int walk_frame(walk *w, const walk_item *it, uint64_t id, int idx) {
  lua_State *L = w->L, *T = lua_tothread(L, idx);
  int level = (int)it->level;
  lua_Debug ar;
  wire_node n;
  memset(&n, 0, sizeof n);
  n.id = id;
  n.kind = "frame";
  if (!lua_getstack(T, level, &ar)) {
    /* Cannot happen while no code runs; say so rather than guess. */
    n.name = "frame vanished during the walk";
    n.name_len = strlen(n.name);
    walk_node(w, &n);
    walk_node_end(w);
    return 0;
  }
  lua_getinfo(T, "nSl", &ar);
  if (ar.name) n.name = ar.name;
  else if (ar.what && strcmp(ar.what, "main") == 0) n.name = "main chunk";
  n.name_len = n.name ? strlen(n.name) : 0;
  n.source = ar.source;
  n.source_len = ar.source ? ar.srclen : 0;
  if (ar.currentline >= 0) {
    n.line = ar.currentline;
    n.has_line = 1;
  }
  walk_node(w, &n);

  if (T != L && !lua_checkstack(T, 1)) {
    int r = walk_stub_edge(w, "function", -1, WALK_STUB_STACKFULL);
    walk_node_end(w);
    return r;
  }
  lua_getinfo(T, "f", &ar);
  if (T != L) lua_xmove(T, L, 1);
  if (local_edge(w, "function", NULL, -1) != 0) return -1;

  int full = 0, limit = local_limit(w, T, level);
  const char *name;
  for (int k = 1; k <= limit && (name = push_local(w, T, &ar, k, &full)); k++)
    if (local_edge(w, "local", name, k) != 0) return -1;
  for (int k = 1; !full && (name = push_local(w, T, &ar, -k, &full)); k++)
    if (local_edge(w, "vararg", NULL, k) != 0) return -1;
  if (full && walk_stub_edge(w, "local", -1, WALK_STUB_STACKFULL) != 0)
    return -1;
  walk_node_end(w);
  return 0;
}
