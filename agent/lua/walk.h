/*
** walk.h
** Internals of the Lua heap walk (walk*.c): the walk state, its node queue,
** identity map, byte arenas, anchor FIFO and hashing helper. The door is
** snapshot.h.
*/
#ifndef AMBER_LUA_WALK_H
#define AMBER_LUA_WALK_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include "snapshot.h"
#include "wire.h"

/* What a queued node is; decides how walk_values/walk_frames encode it. */
enum walk_kind {
  WALK_TABLE = 1, WALK_LFUNC, WALK_CFUNC, WALK_USERDATA, WALK_THREAD,
  WALK_FRAME, WALK_STRING, WALK_PROTO, WALK_UPVALUE, WALK_EXIT, WALK_STUB
};

/* The kinds whose Lua value waits in the anchor FIFO until encoded. */
#define walk_kind_anchored(k) ((k) <= WALK_FRAME)

/* Identity tags beside lua_type's: a light C function's pointer is code,
** an upvalue id is a cell, and neither may meet a heap object's address. */
#define WALK_TAG_LIGHTCF 9
#define WALK_TAG_UPVAL   10

/* Reasons a stub is written instead of a value. */
enum walk_stub {
  WALK_STUB_CFUNC = 1,  /* light C function that no module names */
  WALK_STUB_LIGHTUD,    /* light userdata */
  WALK_STUB_STACKFULL,  /* a coroutine's stack could not lend a slot */
  WALK_STUB_FRAMES      /* frames deeper than WALK_MAX_FRAMES */
};

/* Frames captured per thread: lua_getstack costs O(level), so a capture
** of n frames costs O(n^2); a stack overflow can hold 200,000 frames. */
#define WALK_MAX_FRAMES 10000

/* One node waiting for its turn to be written (ids are written in order,
** so the queue holds every node discovered and not yet written). */
typedef struct walk_item {
  uint8_t kind;          /* enum walk_kind */
  uint8_t stub;          /* enum walk_stub for WALK_STUB */
  uint32_t level;        /* WALK_FRAME: stack level */
  uint64_t addr;         /* VM address (lua_topointer / lua_upvalueid) */
  union {
    struct { const char *p; size_t len; } str; /* WALK_STRING: arena bytes */
    uint32_t proto;       /* WALK_PROTO: index in walk.protos */
    uint32_t name;        /* WALK_EXIT: index in walk.names */
    wire_value value;     /* WALK_UPVALUE: the cell's value */
  } u;
} walk_item;

/* The identity map from (address, tag) to node info (walk_map.c). info
** == 0 marks an empty slot; a used one holds tag << 60 | flags | value. */
#define WALK_PAGE_SLOTS 32

typedef struct walk_page {
  uint64_t info[WALK_PAGE_SLOTS];
  uint8_t low[WALK_PAGE_SLOTS];   /* the address bits below the slot */
} walk_page;

typedef struct walk_dirent {
  uint64_t region;
  walk_page **pages;              /* NULL: an empty directory entry */
} walk_dirent;

typedef struct walk_slot {
  uintptr_t key;
  uint64_t info;
} walk_slot;

typedef struct walk_map {
  walk_dirent *dir; size_t dircap, dircount;
  walk_page **last; uint64_t lastregion; /* the region met last */
  walk_page *pool; size_t poolleft;     /* pages are made in chunks */
  walk_page **chunks; size_t nchunks, chunkcap;
  walk_slot *spill; size_t spillcap, spillcount;
} walk_map;

#define WALK_INFO_TAG(i)   ((unsigned)((i) >> 60))
#define WALK_INFO_NAMED    ((uint64_t)1 << 59)  /* low bits: a walk.names index */
#define WALK_INFO_EXIT     ((uint64_t)1 << 58)  /* named by an exit path */
#define WALK_INFO_VALUE(i) ((i) & (((uint64_t)1 << 58) - 1))

/* Chunked byte storage whose pointers never move. A FIFO arena frees
** whole chunks once the reader has passed them. */
typedef struct walk_chunk {
  struct walk_chunk *next;
  size_t len, cap;
  char data[];
} walk_chunk;

typedef struct walk_arena {
  walk_chunk *first, *last;
  walk_chunk *spare;     /* a released chunk kept for reuse */
  size_t bytes;          /* bytes held in chunks, for the stats */
} walk_arena;

/* A distinct function prototype: its dump, deduplicated by content. */
typedef struct walk_proto {
  uint64_t hash, id;
  const char *dump; size_t len;   /* in walk.keep */
  const char *src; size_t srclen; /* in walk.keep */
  int line;                       /* linedefined */
} walk_proto;

/* A name bound before the walk: an exit path or a C function's home. */
typedef struct walk_name {
  const char *s; size_t len;      /* in walk.keep, NUL-terminated */
} walk_name;

/* A segment of the anchor FIFO: values at stack indices [head, tail) of T.
** Segment 0 lives on L above the caller's values; the others on helper
** threads, made only when L's stack budget is spent. */
typedef struct walk_seg {
  lua_State *T;
  int base, head, tail, cap;
} walk_seg;

#define WALK_MAX_SEGS 64

typedef struct walk {
  lua_State *L;
  const alua_request *req;
  wire_buf *out;
  const char *err;

  /* the queue: items[qhead, qtail) have ids next_id - (qtail - qhead) … */
  walk_item *items;
  size_t qhead, qtail, qcap;
  uint64_t next_id;      /* id the next discovered node gets */
  uint64_t cur_id;       /* node being written (for continuations) */

  walk_map map;          /* identity -> node id or pre-bound name */
  walk_map mtinfo;       /* metatable -> index in mts */
  struct walk_mt { const char *name; size_t len; const char *mode; } *mts;
  size_t nmts, mtcap;

  walk_proto *protos; size_t nprotos, protocap;
  uint32_t lastproto;    /* the prototype met last */
  uint32_t *protoidx; size_t protoidxcap; /* open addressing on hash */
  char *dump; size_t dumplen, dumpcap;    /* lua_dump scratch */
  uint64_t dumphash;     /* walk_hash_bytes of it, once computed */

  walk_name *names; size_t nnames, namecap;
  lua_State *ref;        /* a fresh VM naming the standard library, or NULL */

  walk_arena strings;    /* FIFO: string node bytes until written */
  walk_arena keep;       /* lives for the whole walk */

  /* anchor FIFO */
  walk_seg segs[WALK_MAX_SEGS];
  int nsegs, seghead, segtail;
  int hbase;             /* L slots reserved for helper threads */
  int seg0cap;           /* anchors L's stack may hold */
  int front_temp;        /* the front value was copied to L's top */

  /* the running thread's stack as the caller left it */
  int ltop0;
  lua_State *stack_thread;
  int stack_level;

  /* the batch being written; out[0..kept) is the caller's, from before
  ** the snapshot (0 once a sink has taken batches) */
  size_t batch_start, batch_bytes, kept;
  uint64_t seq;

  /* index edges of the current node on their way into runs (walk.c) */
  int run;               /* WALK_RUN_* */
  int64_t run_last;      /* index of the held edge, or the run's last */
  unsigned run_len;      /* values in the open run */
  size_t run_text;       /* where its values begin in the output */
  wire_value held;       /* the value of the held edge */

  wire_hash hash;
  uint64_t hashed;       /* records hashed inline so far */
  struct walk_hasher *hasher; /* the helper hashing, or NULL */
  alua_stats st;
} walk;

/* ---- walk_map.c ---------------------------------------------------- */

/* The info slot for (key, tag), inserted empty (0) if missing. NULL if out
** of memory. Pointers stay valid only until the next insertion. */
uint64_t *walk_map_slot(walk_map *m, uintptr_t key, unsigned tag);
/* The info for (key, tag), or 0 if absent. */
uint64_t walk_map_get(walk_map *m, uintptr_t key, unsigned tag);
/* Make room for n entries without growing; 0, or -1 if out of memory. */
int walk_map_reserve(walk_map *m, size_t n);
void walk_map_free(walk_map *m);

/* ---- walk_store.c -------------------------------------------------- */

/* Copy n bytes into the arena; NULL if out of memory. */
const char *walk_arena_put(walk_arena *a, const void *p, size_t n);
/* Free the FIFO arena's chunks that lie wholly before p (a pointer it gave). */
void walk_arena_release_before(walk_arena *a, const char *p);
void walk_arena_free(walk_arena *a);

/* 64-bit hash of bytes, for deduplicating prototypes. */
uint64_t walk_hash_bytes(const void *p, size_t n);

/* Append a new item with the next id; NULL if out of memory. */
walk_item *walk_item_new(walk *w, enum walk_kind kind, uint64_t addr);

/* The id of the proto node whose dump equals w->dump, or UINT64_MAX if
** there is none yet (prototypes are deduplicated by content). */
uint64_t walk_proto_find(walk *w);
/* Queue w->dump as a new proto node (after walk_proto_find missed); its
** id, or UINT64_MAX if out of memory. */
uint64_t walk_proto_add(walk *w, const char *src, size_t srclen, int line);

/* ---- walk_anchor.c ------------------------------------------------- */

/* Set up the FIFO on L's stack above the caller's values. */
int walk_anchor_init(walk *w);
/* Queue a copy of the value at L index idx; 0, or -1 with w->err set. */
int walk_anchor_push(walk *w, int idx);
/* The L index of the oldest queued value (copied to L's top if it lives on
** a helper thread). */
int walk_anchor_front(walk *w);
/* Drop the oldest value; L's top must be where walk_anchor_front left it. */
void walk_anchor_pop(walk *w);
/* Between nodes: reclaim consumed slots. */
void walk_anchor_compact(walk *w);

/* ---- walk_names.c -------------------------------------------------- */

/* Push t[key] found by raw traversal of the table at idx (no string is
** created in the VM); pushes nothing and returns 0 if absent. */
int walk_rawget_str(lua_State *L, int idx, const char *key, size_t len);
/* Push the value at a dotted path from the globals (raw), or nil. */
void walk_push_path(lua_State *L, const char *path);
/* Bind C functions to the names of their homes (package.loaded modules
** and _G, one level), then exits by path. 0, or -1 with w->err set. */
int walk_bind_names(walk *w);

/* ---- walk_values.c ------------------------------------------------- */

/* The identity tag of the value at idx: lua_type, or WALK_TAG_LIGHTCF. */
unsigned walk_tag(lua_State *L, int idx);

/* The value at L index idx as an edge target: scalars inline, objects by
** node id (queued if new). 0, or -1 with w->err set. */
int walk_value(walk *w, int idx, wire_value *v);
/* Payloads (userdata bytes, bytecode) larger than this are not inlined:
** base64 grows them by 4/3 and the wire's attribute limit is 32 MiB. */
#define WALK_MAX_PAYLOAD (16u << 20)

/* A node with just its id, kind and (if nonzero) address. */
void walk_node_init(wire_node *n, uint64_t id, const char *kind, uint64_t addr);
/* Write an edge of kind (name, index if has_index) to the value at idx. */
int walk_edge_to(walk *w, const char *kind, const char *name, size_t nlen,
                 int has_index, int64_t index, int idx);
/* A new stub node for why, and an edge of kind (with index i if >= 0) to it. */
int walk_stub_edge(walk *w, const char *kind, int64_t i, enum walk_stub why);
/* Write the node for item it, whose value (if anchored) is at L index idx. */
int walk_encode(walk *w, const walk_item *it, uint64_t id, int idx);

/* ---- walk_funcs.c -------------------------------------------------- */

/* Write a Lua closure's / C closure's node (value at L index idx). */
int walk_lfunction(walk *w, uint64_t id, int idx, uint64_t addr);
int walk_cfunction(walk *w, uint64_t id, int idx, uint64_t addr);
/* Write a prototype's / an upvalue cell's node from its queued item. */
void walk_proto_node(walk *w, const walk_item *it, uint64_t id);
void walk_upvalue_node(walk *w, const walk_item *it, uint64_t id);

/* ---- walk_frames.c ------------------------------------------------- */

/* Write a thread node (value at idx) and queue its frames. */
int walk_thread(walk *w, const walk_item *it, uint64_t id, int idx);
/* Write a frame node: level it->level of the thread at idx. */
int walk_frame(walk *w, const walk_item *it, uint64_t id, int idx);

/* ---- walk_hash.c --------------------------------------------------- */

/* Feed a node / an edge to the content hash (inline, or to the helper
** thread once the walk proves large). */
void walk_hash_node(walk *w, const wire_node *n);
void walk_hash_edge(walk *w, const wire_edge *e);
/* Feed the n "index" edges of a run, first index first, from the text of
** its values as written (canonical, single spaces between): the hash
** takes the text as it is, with no second formatting. */
void walk_hash_run(walk *w, int64_t first, size_t n, const char *text,
                   size_t len);
/* Wait for the helper, take its hash state, stop it and put the VM's
** allocator back. Must run before the walk returns, on every path. */
void walk_hash_finish(walk *w);

/* ---- walk.c -------------------------------------------------------- */

/* Where consecutive index edges stand: none pending, one held back (it
** starts a run if the next index follows it, else goes out as <e>), or a
** run <r> open in the output. */
enum { WALK_RUN_NONE, WALK_RUN_HELD, WALK_RUN_OPEN };

/* Begin a node: splits the batch if it is full, writes and hashes. */
void walk_node(walk *w, const wire_node *n);
/* Write and hash one edge of the current node. */
void walk_edge(walk *w, const wire_edge *e);
/* Write and hash an "index" edge (an integer key) of the current node:
** consecutive indices travel as runs (docs/protocol.md 5.4). */
void walk_index(walk *w, int64_t index, const wire_value *v);
/* Close the current node. */
void walk_node_end(walk *w);
/* Record an out-of-memory failure; returns -1. */
int walk_oom(walk *w);

#endif
