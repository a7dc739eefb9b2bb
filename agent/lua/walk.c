/*
** walk.c
** alua_snapshot: the driver of the Lua heap walk. Stops the collector,
** binds names, writes the root node, then encodes queued nodes in id
** order (breadth first) into ~256 KiB graph batches, hashing exactly the
** fields it writes, and puts the VM back as it found it.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lauxlib.h>
#include "walk.h"

#define DEFAULT_BATCH (256 * 1024)
/* Stack slots a node's encoding may use above the anchors. */
#define NODE_SLOTS 24

int walk_oom(walk *w) {
  if (w->err == NULL)
    w->err = "out of memory during the heap walk: free some memory, or "
             "snapshot less (a path root, or exits)";
  return -1;
}

/* ---- batches ------------------------------------------------------- */

static void batch_open(walk *w) {
  wire_buf *b = w->out;
  if (w->req->binary) wire_frame_begin(b, 1);
  else wire_msg_begin(b);
  wire_open(b, "graph");
  wire_attr_u64(b, "id", w->req->id);
  wire_attr_u64(b, "seq", w->seq++);
  wire_open_end(b);
  w->batch_start = b->len;
}

static void batch_close(walk *w) {
  wire_close(w->out, "graph");
  if (w->req->binary) wire_frame_end(w->out);
  else wire_msg_end(w->out);
}

#define batch_full(w) ((w)->out->len - (w)->batch_start >= (w)->batch_bytes)

/* End the full batch and begin the next; a sink takes what is finished.
** A sink that fails ends the walk as running out of memory would: writes
** are dropped from here on and the drain stops at the end of the node. */
static void batch_next(walk *w) {
  batch_close(w);
  if (w->req->sink && !w->out->oom) {
    const char *why = NULL;
    w->st.bytes += w->out->len - w->kept;
    if (w->req->sink(w->req->sink_ud, w->out, &why) != 0) {
      w->err = why ? why : "the snapshot's bytes could not be sent";
      w->out->oom = 1;
    }
    w->kept = 0;  /* what was in out before the snapshot is gone too */
  }
  batch_open(w);
}

void walk_node(walk *w, const wire_node *n) {
  assert(w->run == WALK_RUN_NONE);
  if (batch_full(w)) batch_next(w);
  wire_node_open(w->out, n);
  walk_hash_node(w, n);
  w->cur_id = n->id;
  w->st.nodes++;
}

/* Before an element of the current node: a full batch ends, and the node
** goes on in the next one as a continuation. */
static void edge_room(walk *w) {
  if (batch_full(w)) {
    wire_node_close(w->out);
    batch_next(w);
    wire_node_continue(w->out, w->cur_id);
  }
}

static void edge_out(walk *w, const wire_edge *e) {
  edge_room(w);
  wire_edge_write(w->out, e);
  walk_hash_edge(w, e);
  w->st.edges++;
}

/* Send what waits of the index edges: the held one as <e>, or the end of
** the open run. Every other element of the node goes after this. */
static void run_flush(walk *w) {
  if (w->run == WALK_RUN_HELD) {
    wire_edge e;
    memset(&e, 0, sizeof e);
    e.kind = "index";
    e.has_index = 1;
    e.index = w->run_last;
    e.value = w->held;
    edge_out(w, &e);
  } else if (w->run == WALK_RUN_OPEN && !w->out->oom) {
    /* each value is followed by a space: the last one is not text */
    wire_buf *b = w->out;
    walk_hash_run(w, w->run_last - (w->run_len - 1), w->run_len,
                  b->data + w->run_text, b->len - w->run_text - 1);
    wire_run_close(b);
  }
  w->run = WALK_RUN_NONE;
}

/* The run's edges are hashed when it closes, from the text written. */
static void run_value(walk *w, int64_t index, const wire_value *v) {
  wire_run_value(w->out, v);
  w->st.edges++;
  w->run_len++;
  w->run_last = index;
}

/* A run is only worth opening for two values or more, so the first index
** edge is held until the next shows whether it follows. A run ends at a
** gap, at WIRE_RUN_MAX values, or where the batch is full. */
void walk_index(walk *w, int64_t index, const wire_value *v) {
  int follows = w->run != WALK_RUN_NONE && w->run_last != INT64_MAX &&
                index == w->run_last + 1;
  if (follows && w->run == WALK_RUN_OPEN && w->run_len < WIRE_RUN_MAX &&
      !batch_full(w)) {
    run_value(w, index, v);
    return;
  }
  if (follows && w->run == WALK_RUN_HELD) {
    edge_room(w);
    wire_run_open(w->out, "index", w->run_last);
    w->run_text = w->out->len;
    w->run_len = 0;
    run_value(w, w->run_last, &w->held);
    run_value(w, index, v);
    w->run = WALK_RUN_OPEN;
    return;
  }
  run_flush(w);
  w->run = WALK_RUN_HELD;
  w->run_last = index;
  w->held = *v;
}

void walk_edge(walk *w, const wire_edge *e) {
  run_flush(w);
  edge_out(w, e);
}

void walk_node_end(walk *w) {
  run_flush(w);
  wire_node_close(w->out);
}

/* ---- roots --------------------------------------------------------- */

static const char *const default_roots[] = {"globals", "registry", "stack"};

static int root_known(const char *r) {
  static const char *const names[] = {"globals", "registry", "loaded",
                                      "stack", "threads"};
  if (r == NULL) return 0;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (strcmp(r, names[i]) == 0) return 1;
  return strncmp(r, "path:", 5) == 0 && r[5] != '\0';
}

/* Push the value a root names (nil if it names nothing). */
static void push_root(walk *w, const char *r) {
  lua_State *L = w->L;
  if (strcmp(r, "globals") == 0) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  } else if (strcmp(r, "registry") == 0) {
    lua_pushvalue(L, LUA_REGISTRYINDEX);
  } else if (strcmp(r, "loaded") == 0) {
    if (!walk_rawget_str(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE,
                         sizeof LUA_LOADED_TABLE - 1))
      lua_pushnil(L);
  } else if (strcmp(r, "threads") == 0) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  } else if (strcmp(r, "stack") == 0) {
    lua_State *T = w->stack_thread;
    if (T == L) {
      lua_pushthread(L);
    } else if (lua_checkstack(T, 1)) {
      lua_pushthread(T);
      lua_xmove(T, L, 1);
    } else {
      lua_pushnil(L);
    }
  } else {
    walk_push_path(L, r + 5);
  }
}

static int root_edge(walk *w, const char *name) {
  wire_edge e;
  memset(&e, 0, sizeof e);
  e.kind = "root";
  e.name = name;
  e.name_len = strlen(name);
  int r = walk_value(w, -1, &e.value);
  lua_pop(w->L, 1);
  if (r == 0) walk_edge(w, &e);
  return r;
}

static int probe_function(lua_State *L) {
  (void)L;
  return 0;
}

/* The metatables Lua keeps per type (strings have one; debug.setmetatable
** can give numbers, functions… one) hang off no table: they become roots
** named "metatable:TYPE" of any snapshot that includes the registry. */
static int type_metatables(walk *w) {
  lua_State *L = w->L;
  static const char *const names[] = {
      "metatable:nil", "metatable:boolean", "metatable:lightuserdata",
      "metatable:number", "metatable:string", "metatable:function",
      "metatable:thread"};
  for (int t = 0; t < 7; t++) {
    switch (t) {
    case 0: lua_pushnil(L); break;
    case 1: lua_pushboolean(L, 0); break;
    case 2: lua_pushlightuserdata(L, NULL); break;
    case 3: lua_pushinteger(L, 0); break;
    case 4: lua_pushliteral(L, "__index"); break;  /* always interned */
    case 5: lua_pushcfunction(L, probe_function); break;
    default: lua_pushthread(L); break;
    }
    int has = lua_getmetatable(L, -1);
    if (has) {
      if (root_edge(w, names[t]) != 0) {
        lua_pop(L, 1);
        return -1;
      }
    }
    lua_pop(L, 1);
  }
  return 0;
}

static int write_root(walk *w) {
  const alua_request *req = w->req;
  const char *const *roots = req->nroots ? req->roots : default_roots;
  size_t nroots = req->nroots ? req->nroots : 3;
  int registry = 0;
  wire_node n;
  memset(&n, 0, sizeof n);
  n.id = 0;
  n.kind = "root";
  walk_node(w, &n);
  for (size_t i = 0; i < nroots; i++) {
    push_root(w, roots[i]);
    if (root_edge(w, roots[i]) != 0) return -1;
    registry |= strcmp(roots[i], "registry") == 0;
  }
  if (registry && type_metatables(w) != 0) return -1;
  walk_node_end(w);
  return 0;
}

/* ---- messages ------------------------------------------------------ */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void write_begin(walk *w) {
  const alua_request *req = w->req;
  wire_buf *b = w->out;
  wire_msg_begin(b);
  wire_open(b, "snapshot-begin");
  wire_attr_u64(b, "id", req->id);
  wire_attr_str(b, "vm", "lua");
  wire_attr_str(b, "version", LUA_VERSION_MAJOR "." LUA_VERSION_MINOR "."
                              LUA_VERSION_RELEASE);
  if (req->machine) wire_attr_str(b, "machine", req->machine);
  wire_attr_u64(b, "time", now_ms());
  wire_attr_str(b, "reason", req->reason ? req->reason : "request");
  if (req->label) wire_attr_str(b, "label", req->label);
  if (req->error) wire_attr_str(b, "error", req->error);
  if (req->traceback) wire_attr_str(b, "traceback", req->traceback);
  wire_empty_end(b);
  wire_msg_end(b);
}

static void write_end(walk *w) {
  wire_buf *b = w->out;
  wire_msg_begin(b);
  wire_open(b, "snapshot-end");
  wire_attr_u64(b, "id", w->req->id);
  wire_attr_u64(b, "nodes", w->st.nodes);
  wire_attr_u64(b, "edges", w->st.edges);
  wire_attr_str(b, "hash", w->st.hash);
  wire_empty_end(b);
  wire_msg_end(b);
}

static void write_error(wire_buf *b, uint64_t id, const char *why) {
  wire_msg_begin(b);
  wire_open(b, "snapshot-error");
  wire_attr_u64(b, "id", id);
  wire_attr_str(b, "text", why);
  wire_empty_end(b);
  wire_msg_end(b);
}

/* ---- the walk ------------------------------------------------------ */

/* Encode queued nodes in id order until none is left. */
static int drain(walk *w) {
  lua_State *L = w->L;
  uint64_t id = 1;
  while (w->qhead < w->qtail) {
    walk_item it = w->items[w->qhead];  /* the queue may move meanwhile */
    if (!lua_checkstack(L, NODE_SLOTS)) {
      w->err = "the Lua stack cannot grow (out of memory): free some "
               "memory, or snapshot less (a path root, or exits)";
      return -1;
    }
    int anchored = walk_kind_anchored(it.kind);
    int idx = anchored ? walk_anchor_front(w) : 0;
    if (walk_encode(w, &it, id, idx) != 0) return -1;
    if (anchored) walk_anchor_pop(w);
    w->qhead++;
    id++;
    walk_anchor_compact(w);
    if (w->out->oom) return walk_oom(w);
  }
  assert(id == w->next_id);
  return 0;
}

static void walk_free(walk *w) {
  free(w->items);
  walk_map_free(&w->map);
  walk_map_free(&w->mtinfo);
  free(w->mts);
  free(w->protos);
  free(w->protoidx);
  free(w->dump);
  free(w->names);
  if (w->ref) lua_close(w->ref);
  walk_arena_free(&w->strings);
  walk_arena_free(&w->keep);
}

static double elapsed_ms(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

int alua_snapshot(lua_State *L, const alua_request *req, wire_buf *out,
                  alua_stats *st, const char **err) {
  assert(L != NULL && req != NULL && out != NULL);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  size_t out0 = out->len;
  walk w;
  memset(&w, 0, sizeof w);
  w.kept = out0;
  w.L = L;
  w.req = req;
  w.out = out;
  w.ltop0 = lua_gettop(L);
  w.stack_thread = req->stack_thread ? req->stack_thread : L;
  w.stack_level = req->stack_level > 0 ? req->stack_level : 0;
  w.batch_bytes = req->batch_bytes ? req->batch_bytes : DEFAULT_BATCH;
  w.next_id = 1;  /* 0 is the root */

  for (size_t i = 0; i < req->nroots; i++) {
    if (!root_known(req->roots[i])) {
      w.err = "unknown root: use globals, registry, loaded, stack, threads "
              "or path:a.b.c";
      break;
    }
  }

  /* No collection may run: it could call finalizers (Lua code) and free
  ** what the walk has seen. The mode (incremental or generational) is
  ** never touched: switching it in 5.4 can itself run a collection. */
  int gc_was_running = lua_gc(L, LUA_GCISRUNNING, 0);
  int rc = -1;
  if (w.err == NULL) {
    if (gc_was_running) lua_gc(L, LUA_GCSTOP, 0);
    /* Size the identity map's directory from the heap (about one object
    ** per 128 bytes): growing it rehashes every region. */
    size_t guess = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 / 128;
    if (guess > ((size_t)1 << 22)) guess = (size_t)1 << 22;
    if (walk_map_reserve(&w.map, guess) != 0) walk_oom(&w);
    else if (walk_anchor_init(&w) == 0 && walk_bind_names(&w) == 0) {
      write_begin(&w);
      wire_hash_init(&w.hash);
      batch_open(&w);
      int ok = write_root(&w) == 0 && drain(&w) == 0;
      walk_hash_finish(&w);
      if (ok) {
        batch_close(&w);
        wire_hash_hex(&w.hash, w.st.hash);
        write_end(&w);
        if (out->oom) walk_oom(&w);
        else rc = 0;
      }
    }
    lua_settop(L, w.ltop0);
    if (gc_was_running) lua_gc(L, LUA_GCRESTART, 0);
  }
  walk_free(&w);

  if (rc != 0) {
    /* Drop the partial snapshot, keep what came before; after a sink took
    ** batches the peer is told by the error that follows them. */
    out->len = w.kept;
    out->oom = 0;
    write_error(out, req->id, w.err);
    memset(w.st.hash, 0, sizeof w.st.hash);
  }
  w.st.bytes += out->len - w.kept;
  w.st.pause_ms = elapsed_ms(&t0);
  if (st) *st = w.st;
  if (err) *err = rc == 0 ? NULL : w.err;
  return rc;
}
