/*
** walk_anchor.c
** The anchor FIFO: Lua values discovered by the walk and not yet encoded
** wait on a Lua stack, in discovery order, so they stay reachable and can
** be pushed again when their turn comes.
**
** Why this is safe: the collector is stopped, and every value queued here
** sits in a stack slot, which the collector treats as a root, so not even
** an emergency collection (run by Lua when an allocation fails) can free
** it. Growing a stack is invisible to Lua code; allocating a table would
** not be. Lua caps one stack at LUAI_MAXSTACK slots, so when L's budget is
** spent the FIFO continues on helper threads, each anchored in a slot of L
** reserved up front; they are made only for frontiers of hundreds of
** thousands of objects, and become garbage when the walk ends.
*/
#include <assert.h>
#include "walk.h"

/* Slots kept free above the FIFO for a node's temporaries. */
#define TEMP_SLOTS 16
/* Slots kept below LUAI_MAXSTACK on every stack, for Lua's own needs. */
#define MARGIN 2000

static int seg_capacity(walk *w, int seg0) {
  size_t want = w->req->anchor_slots;
  int max = seg0 ? LUAI_MAXSTACK / 2 : LUAI_MAXSTACK - MARGIN;
  if (seg0 && max > LUAI_MAXSTACK - MARGIN - w->hbase) max = LUAI_MAXSTACK - MARGIN - w->hbase;
  if (max < 1) max = 1;
  if (want == 0 || want > (size_t)max) return max;
  return (int)want;
}

int walk_anchor_init(walk *w) {
  lua_State *L = w->L;
  if (!lua_checkstack(L, WALK_MAX_SEGS + TEMP_SLOTS)) {
    w->err = "the Lua stack cannot grow (out of memory, or the caller's "
             "stack is at LUAI_MAXSTACK): free some memory or stack";
    return -1;
  }
  w->hbase = lua_gettop(L) + 1;
  for (int i = 1; i < WALK_MAX_SEGS; i++) lua_pushnil(L);
  walk_seg *s = &w->segs[0];
  s->T = L;
  s->base = s->head = s->tail = lua_gettop(L) + 1;
  s->cap = seg_capacity(w, 1);
  w->seg0cap = s->cap;
  w->nsegs = 1;
  w->seghead = w->segtail = 0;
  return 0;
}

static int make_thread(lua_State *L) {
  lua_newthread(L);
  return 1;
}

/* Make segment k usable as the new tail, creating its helper thread. */
static int open_segment(walk *w, int k) {
  lua_State *L = w->L;
  if (k >= WALK_MAX_SEGS) {
    w->err = "walk frontier too wide: more objects wait at once than 64 "
             "Lua stacks hold; snapshot a smaller part (path roots, exits)";
    return -1;
  }
  if (k == w->nsegs) {
    if (!lua_checkstack(L, 2)) return walk_oom(w);
    lua_State *T;
    /* A protected call catches Lua's memory error; but a call hook would
    ** run Lua code on it, so with one set we allocate unprotected. */
    if (lua_gethookmask(L) & (LUA_MASKCALL | LUA_MASKRET)) {
      T = lua_newthread(L);
    } else {
      lua_pushcfunction(L, make_thread);
      if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        return walk_oom(w);
      }
      T = lua_tothread(L, -1);
    }
    lua_replace(L, w->hbase + k - 1);
    walk_seg *s = &w->segs[k];
    s->T = T;
    s->base = s->head = s->tail = 1;
    s->cap = seg_capacity(w, 0);
    w->nsegs++;
  }
  assert(w->segs[k].head == w->segs[k].tail);
  w->segtail = k;
  return 0;
}

int walk_anchor_push(walk *w, int idx) {
  lua_State *L = w->L;
  idx = lua_absindex(L, idx);
  for (;;) {
    walk_seg *s = &w->segs[w->segtail];
    if (s->tail - s->base < s->cap) {
      if (w->segtail == 0) {
        if (lua_checkstack(L, TEMP_SLOTS)) {
          /* The copy goes under the node's temporaries, which keep their
          ** positions relative to the top. */
          int ntemp = lua_gettop(L) - (s->tail - 1);
          lua_pushvalue(L, idx);
          if (ntemp > 0) lua_rotate(L, s->tail, 1);
          s->tail++;
          return 0;
        }
      } else if (lua_checkstack(s->T, 2) && lua_checkstack(L, 1)) {
        /* 2: a slot stays free for walk_anchor_front's copy */
        lua_pushvalue(L, idx);
        lua_xmove(L, s->T, 1);
        s->tail++;
        return 0;
      }
    }
    if (open_segment(w, w->segtail + 1) != 0) return -1;
  }
}

int walk_anchor_front(walk *w) {
  walk_seg *s = &w->segs[w->seghead];
  assert(s->head < s->tail);
  if (w->seghead == 0) {
    w->front_temp = 0;
    return s->head;
  }
  /* walk_anchor_push left the helper a free slot; L has its node slots. */
  lua_pushvalue(s->T, s->head);
  lua_xmove(s->T, w->L, 1);
  w->front_temp = 1;
  return lua_gettop(w->L);
}

void walk_anchor_pop(walk *w) {
  lua_State *L = w->L;
  walk_seg *s = &w->segs[w->seghead];
  if (w->front_temp) {
    lua_pop(L, 1);
    w->front_temp = 0;
  }
  s->head++;
  if (s->head < s->tail) return;
  /* the segment is drained */
  if (w->seghead == 0) lua_settop(L, s->base - 1);
  else lua_settop(s->T, 0);
  s->head = s->tail = s->base;
  if (w->seghead == w->segtail) {
    w->seghead = w->segtail = 0;  /* all empty: start over on L */
  } else {
    w->seghead++;
  }
}

void walk_anchor_compact(walk *w) {
  walk_seg *s = &w->segs[w->seghead];
  int used = s->head - s->base, live = s->tail - s->head;
  if (used < 1024 || used < live) return;
  lua_State *T = s->T;
  for (int i = 0; i < live; i++) lua_copy(T, s->head + i, s->base + i);
  lua_settop(T, s->base + live - 1);
  s->head = s->base;
  s->tail = s->base + live;
}
