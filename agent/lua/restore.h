/*
** restore.h
** Restore: rebuild a stored snapshot graph (docs/protocol.md, section 5)
** inside a fresh lua_State. Internal to agent/; hosts use agent/amber.h.
** docs/lua-agent.md, "Restore", describes what comes back and how.
*/
#ifndef AMBER_LUA_RESTORE_H
#define AMBER_LUA_RESTORE_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include "wire.h"

/* ------------------------------------------------------------------ */
/* Buffered graph records                                              */
/* ------------------------------------------------------------------ */

/* Node kinds restore knows; anything else is ALUA_N_OTHER. */
enum alua_nkind {
  ALUA_N_ROOT, ALUA_N_TABLE, ALUA_N_FUNCTION, ALUA_N_PROTO, ALUA_N_CFUNCTION,
  ALUA_N_UPVALUE, ALUA_N_STRING, ALUA_N_USERDATA, ALUA_N_THREAD,
  ALUA_N_FRAME, ALUA_N_EXIT, ALUA_N_STUB, ALUA_N_OTHER
};

/* Edge kinds restore knows; anything else is ALUA_E_OTHER. */
enum alua_ekind {
  ALUA_E_ROOT, ALUA_E_FIELD, ALUA_E_INDEX, ALUA_E_KEY, ALUA_E_METATABLE,
  ALUA_E_UPVALUE, ALUA_E_VALUE, ALUA_E_PROTOTYPE, ALUA_E_USERVALUE,
  ALUA_E_FRAME, ALUA_E_FUNCTION, ALUA_E_LOCAL, ALUA_E_VARARG, ALUA_E_STACK,
  ALUA_E_ENVIRONMENT, ALUA_E_INTERNAL, ALUA_E_OTHER
};

/* A key or value as an edge holds it; which member is live is given by
** the wire_vtype stored beside it. */
typedef union alua_scalar {
  int64_t i;
  double f;
  uint64_t ref;
  int b;
} alua_scalar;

/* One edge, 24 bytes: graphs of millions of edges are held until every
** node exists (edges may point forward). */
typedef struct alua_gedge {
  uint32_t name;      /* 1 + offset of the name in the names arena; 0 = none */
  uint8_t kind;       /* enum alua_ekind */
  uint8_t ktype;      /* enum wire_vtype of key (WIRE_V_NONE if no key) */
  uint8_t vtype;      /* enum wire_vtype of val */
  uint8_t has_index;  /* key.i holds the edge's integer "i" */
  alua_scalar key;
  alua_scalar val;
} alua_gedge;

/* One node: where its edges and its own fields are. */
typedef struct alua_gnode {
  uint64_t edge0;     /* index of its first edge */
  uint64_t fields;    /* offset of its encoded fields in the fields arena */
  uint32_t nedges;
  uint8_t kind;       /* enum alua_nkind */
} alua_gnode;

/* A node's own fields, decoded. Pointers borrow from the graph. */
typedef struct alua_ninfo {
  const char *kind_text;            /* only for ALUA_N_OTHER */
  const char *type; size_t type_len;
  const char *name; size_t name_len;
  const char *value; size_t value_len;
  const char *payload; size_t payload_len;
  const char *mode, *status;        /* NUL-terminated, or NULL */
  const char *src; size_t src_len;
  int64_t line;
  unsigned has;                     /* ALUA_HAS_* bits */
} alua_ninfo;

#define ALUA_HAS_TYPE    0x01u
#define ALUA_HAS_NAME    0x02u
#define ALUA_HAS_VALUE   0x04u
#define ALUA_HAS_PAYLOAD 0x08u
#define ALUA_HAS_MODE    0x10u
#define ALUA_HAS_STATUS  0x20u
#define ALUA_HAS_SRC     0x40u
#define ALUA_HAS_LINE    0x80u
#define ALUA_HAS_KIND    0x100u

/* The kind of an edge whose kind restore does not know, kept only so the
** content hash can be taken from the records (they are rare). */
typedef struct alua_okind {
  uint64_t edge;      /* its index in edges */
  uint32_t text;      /* 1 + offset of the kind in the names arena; 0 = none */
} alua_okind;

/* The records of one snapshot, checked as they arrive: ids in order, sizes
** bounded. The content hash is taken from the records once they are all
** here (alua_graph_check_hash), so that it can run beside the build.
** Nothing here touches a Lua state. */
typedef struct alua_graph {
  alua_gnode *nodes; uint64_t nnodes, capnodes;
  alua_gedge *edges; uint64_t nedges, capedges;
  alua_okind *okinds; uint64_t nokinds, capokinds;
  wire_buf fields;    /* encoded node fields */
  wire_buf names;     /* edge names: 4-byte length, then the bytes */
  wire_buf scratch;   /* payload decoding */
  uint64_t max_nodes, max_edges;
  uint64_t nbytecode; /* nodes that carry bytecode */
  uint64_t unknown_edges;
  char want[41];      /* the hash the end message announced (cut to 40) */
  int has_want;
  int finished;       /* alua_graph_finish succeeded */
} alua_graph;

/* Defaults for the bounds on what one restore may hold. */
#define ALUA_RESTORE_MAX_NODES ((uint64_t)64 << 20)
#define ALUA_RESTORE_MAX_EDGES ((uint64_t)256 << 20)

/* Start an empty graph; 0 max_* mean the defaults above. */
void alua_graph_init(alua_graph *g, uint64_t max_nodes, uint64_t max_edges);
/* Release everything the graph holds. */
void alua_graph_free(alua_graph *g);
/* Add one <n> element (a node or a continuation) with its <e> and <r>
** children (a run adds the edges it stands for).
** Returns 0, or -1 with the reason in err. */
int alua_graph_add(alua_graph *g, const wire_elem *n, char *err, size_t errlen);
/* The same, one record at a time, as a graph consumer of the parser gets
** them (wire_parser_graph): a node (cont: more edges of the last one), then
** its edges. 0 or -1. */
int alua_graph_add_node(alua_graph *g, const wire_node *nd, int cont,
                        char *err, size_t errlen);
int alua_graph_add_edge(alua_graph *g, const wire_edge *we, char *err,
                        size_t errlen);
/* Word a node or an edge that could not be read (why) into err, as
** alua_graph_add does. Return -1. */
int alua_graph_bad_node(const alua_graph *g, const char *why, char *err,
                        size_t errlen);
int alua_graph_bad_edge(const alua_graph *g, const char *why, char *err,
                        size_t errlen);
/* Add the <n> children of a <graph> item. Same result as alua_graph_add. */
int alua_graph_add_batch(alua_graph *g, const wire_elem *graph, char *err,
                         size_t errlen);
/* Check the graph is whole: counts as announced, every reference names a
** node, node 0 is the root; keep the announced hash (NULL: none) for
** alua_graph_check_hash. Returns 0, or -1 with the reason in err (a hash
** mismatch, if there is one, being the reason given). */
int alua_graph_finish(alua_graph *g, uint64_t nodes, uint64_t edges,
                      const char *hash, char *err, size_t errlen);
/* Whether the records hash to what the end message announced (always, if
** it announced none). Reads g only: safe beside other readers of g.
** Returns 0, or -1 with the reason in err. */
int alua_graph_check_hash(const alua_graph *g, char *err, size_t errlen);
/* Decode node id's own fields into out. */
void alua_graph_node(const alua_graph *g, uint64_t id, alua_ninfo *out);
/* Node id's value v (a string's bytes), or NULL if it has none; the
** one field alua_graph_node would give, found without the others. */
const char *alua_graph_value(const alua_graph *g, uint64_t id, size_t *len);
/* An edge's name, or NULL; *len gets its length. */
const char *alua_graph_ename(const alua_graph *g, const alua_gedge *e,
                             size_t *len);
/* The content hash of the records (docs/protocol.md section 7), as 16
** hex digits: the same bytes the writer fed, rebuilt from what is kept. */
void alua_graph_hash_hex(const alua_graph *g, char out[17]);
/* The wire spelling of a node or edge kind restore knows ("table",
** "field"…; "other" for the rest). */
const char *alua_nkind_name(enum alua_nkind k);
const char *alua_ekind_name(enum alua_ekind k);

/* Append g's canonical form to out: nodes numbered breadth-first from the
** root along edges sorted by label, ids, addresses and sizes left out, so
** two isomorphic graphs give the same text. 0, or -1 out of memory. */
int alua_graph_canon(const alua_graph *g, wire_buf *out);

/* ------------------------------------------------------------------ */
/* Rebuilding a graph in a lua_State                                   */
/* ------------------------------------------------------------------ */

/* Rebuild a host object for a userdata whose class is type. Return
** ALUA_UD_REBUILT after pushing it; ALUA_UD_COPY to have restore copy the
** stored bytes (the host vouches they hold no pointers); ALUA_UD_DEFAULT to
** leave it to restore, which copies the bytes unless the type has a C
** finaliser (__gc or __close), whose bytes likely point into the old
** process: those become placeholders. Runs inside restore's protected
** call; it may raise Lua errors. */
typedef int (*alua_userdata_fn)(lua_State *L, void *ud, const char *type,
                                size_t type_len, const void *bytes, size_t len);

#define ALUA_UD_DEFAULT 0
#define ALUA_UD_REBUILT 1
#define ALUA_UD_COPY 2

/* How to restore. All zero means: merge into the fresh globals, refuse
** bytecode, copy userdata bytes, default bounds. */
typedef struct alua_restore_opts {
  int replace;               /* restore the globals table whole (else merge) */
  int trust_bytecode;        /* allow lua_load of the snapshot's bytecode */
  alua_userdata_fn userdata; /* host objects by type name, or NULL */
  void *userdata_ud;
  uint64_t max_nodes, max_edges; /* 0: ALUA_RESTORE_MAX_* */
} alua_restore_opts;

/* Something that came back as a documented placeholder, and why. */
typedef struct alua_placeholder {
  uint64_t node;
  char why[120];
} alua_placeholder;

/* What a restore did. Free with alua_restore_report_free. */
typedef struct alua_restore_report {
  uint64_t id, nodes, edges;
  uint64_t nplaceholders;          /* all of them */
  alua_placeholder *placeholders;  /* the first ALUA_RESTORE_LISTED */
  size_t nlisted;
  double read_ms, build_ms;        /* records in, objects out */
  char error[256];                 /* "" on success */
} alua_restore_report;

#define ALUA_RESTORE_LISTED 256

/* Empty r, ready for a restore. */
void alua_restore_report_init(alua_restore_report *r);
/* Release the list r holds. */
void alua_restore_report_free(alua_restore_report *r);

/* What a crash capture says besides its graph (all may be NULL). */
typedef struct alua_restore_origin {
  const char *reason, *error, *traceback;
} alua_restore_origin;

/* Copy the reason, error and traceback attributes of e (a snapshot-begin
** or a restore) into o; absent ones stay NULL. -1 if memory ran out. */
int alua_origin_read(alua_restore_origin *o, const wire_elem *e);
/* Free what alua_origin_read copied and empty o. */
void alua_origin_free(alua_restore_origin *o);

/* Rebuild the finished graph g in L: create every node, set every edge,
** rebind the roots (docs/lua-agent.md, "Restore"). Runs protected: on
** failure L is left usable, nothing is rebound, and rep->error says why.
** Returns 0 or -1. */
int alua_restore_graph(lua_State *L, const alua_graph *g,
                       const alua_restore_opts *o,
                       const alua_restore_origin *origin,
                       alua_restore_report *rep);

/* ------------------------------------------------------------------ */
/* Shared between the restore files                                    */
/* ------------------------------------------------------------------ */

/* What restore knows of the running Lua's bytecode (restore_code.c). */
typedef struct alua_code {
  char header[64];           /* lua_dump's header on this build */
  size_t header_len;
  uint32_t op_closure;       /* CLOSURE A=0 Bx=0 */
  uint32_t op_return;        /* RETURN A=0 B=2 C=0 k=1 */
  int can_share;             /* closures can share one loaded prototype */
} alua_code;

/* One prototype's payload, inspected. */
typedef struct alua_proto {
  unsigned nup;              /* upvalues of its closures */
  uint8_t fresh[32];         /* bit n-1 set: a new closure's upvalue n is a
                                cell of its own, shared with nothing */
} alua_proto;

/* Learn the running Lua's dump header and instruction encoding by dumping
** a template function. Raises Lua errors (memory); run it protected. */
void alua_code_init(alua_code *c, lua_State *L);
/* Check a payload was dumped by this Lua build and read its upvalue
** descriptors. 0, or -1 with the reason in err. */
int alua_code_inspect(const alua_code *c, const void *p, size_t n,
                      alua_proto *info, char *err, size_t errlen);
/* Push a factory for a payload alua_code_inspect accepted: each call
** returns a new closure of its prototype, all sharing that one prototype
** when the build allows (c->can_share), else each a fresh lua_load.
** Raises on a load error. */
void alua_code_push_factory(lua_State *L, const alua_code *c, const void *p,
                            size_t n);

/* What each node becomes, decided before anything is created. */
enum alua_role {
  ALUA_ROLE_NEW = 0,   /* created by restore, edges set by restore */
  ALUA_ROLE_FRESH,     /* the fresh VM's own object (globals, a library…);
                          its entries are merged in last */
  ALUA_ROLE_HOST,      /* the fresh VM's by name (an exit), or host-rebuilt */
  ALUA_ROLE_HOLDER,    /* a placeholder: its edges are not restored */
  ALUA_ROLE_PLACED,    /* a placeholder something refers to (reported) */
  ALUA_ROLE_NONE       /* no Lua value: the root, protos, upvalue cells */
};

#define ALUA_NO_NODE UINT64_MAX

/* One restore in progress (restore_build.c, restore_bind.c). Lua objects
** live in tables on the stack, C arrays beside them are per node. */
/* Field names kept as Lua strings while edges are set: most tables of a
** heap share a few field names, and a lookup here is cheaper than
** interning the name again. */
#define ALUA_RECENT_NAMES 64

typedef struct alua_build {
  lua_State *L;
  const alua_graph *g;
  const alua_restore_opts *o;
  const alua_restore_origin *origin;
  alua_restore_report *rep;
  int objs;            /* stack index: objs[id + 1] = node id's object */
  int images;          /* stack index: fresh objects already mapped (keys) */
  int holders;         /* stack index: placeholder object -> why */
  int placed;          /* stack index: the same, for those in use */
  int cellmaker;       /* stack index: returns a closure with a new cell */
  int holder_mt;       /* stack index: the placeholders' metatable */
  int fieldnames;      /* stack index: Lua strings of recent field names */
  struct { const char *s; size_t len; } recent[ALUA_RECENT_NAMES];
  uint8_t *role;       /* enum alua_role per node */
  uint64_t *aux;       /* per node: upvalue owner, proto number, or for a
                          fresh table 1 if all its tables are the host's */
  alua_proto *protos;
  uint64_t nprotos;
  alua_code code;
  uint64_t globals, registry, loaded, mainthread; /* or ALUA_NO_NODE */
  int binding;         /* set once the fresh VM's own objects change */
  struct alua_hash_check *hash; /* the content hash, checked beside */
} alua_build;

/* Push node id's object (nil for none). */
void alua_build_push(alua_build *b, uint64_t id);
/* Push an edge value: a scalar, or the object of the node it names. A
** placeholder pushed this way is one the restored state holds: it is
** reported then, so a stub nothing restored refers to costs nothing. */
void alua_build_push_value(alua_build *b, uint8_t vtype, const alua_scalar *v);
/* Report something restore could not bring back as it was, and why. */
void alua_build_report(alua_build *b, uint64_t id, const char *why);
/* The first edge of node id of kind k whose name is name (NULL: any), or
** NULL. */
const alua_gedge *alua_build_edge(const alua_build *b, uint64_t id,
                                  enum alua_ekind k, const char *name);
/* Decide which nodes are the fresh VM's own objects (restore_bind.c). */
void alua_bind_plan(alua_build *b);
/* Push the fresh VM's object named by a dotted exit path; 0 (nothing
** pushed) if the fresh VM has nothing there. */
int alua_bind_exit(alua_build *b, const char *path, size_t len);
/* Merge into the fresh objects, rebind roots, and expose frames and
** placeholders (the last step of a restore). */
void alua_bind_roots(alua_build *b);

/* ------------------------------------------------------------------ */
/* Streamed restore (the command loop) and capture files               */
/* ------------------------------------------------------------------ */

typedef struct alua_restore alua_restore;

/* Start a restore from a <restore id mode> item; mode overrides o->replace.
** NULL with the reason in err if the item is malformed or memory ran out. */
alua_restore *alua_restore_begin(const wire_elem *item,
                                 const alua_restore_opts *o, char *err,
                                 size_t errlen);
/* The id the debugger chose for r. */
uint64_t alua_restore_id(const alua_restore *r);
/* Add a <graph> batch. 0, or -1: the error is kept and answered at the end. */
int alua_restore_batch(alua_restore *r, const wire_elem *item);
/* Finish with <restore-end>: verify counts and hash, rebuild into L, and
** append <restore-done> or <restore-error> to reply. rep may be NULL.
** Returns 0 or -1. */
int alua_restore_end(alua_restore *r, lua_State *L, const wire_elem *item,
                     wire_buf *reply, alua_restore_report *rep);
/* Drop a restore, finished or not. */
void alua_restore_free(alua_restore *r);
/* For a command loop: route one debugger item. Returns 1 if it belonged to
** a restore (any answer is appended to reply), 0 if it is not restore's.
** *slot holds the restore in progress between calls. */
int alua_restore_dispatch(alua_restore **slot, lua_State *L,
                          const wire_elem *item, const alua_restore_opts *o,
                          wire_buf *reply);
/* Append <restore-error id text> to reply. */
void alua_restore_reply_error(wire_buf *reply, uint64_t id, const char *text);

/* Restore snapshot id (0: the last complete one) from a capture file's
** bytes: the file is untrusted, so bytecode needs o->trust_bytecode.
** Returns 0, or -1 with rep->error set. */
int alua_restore_bytes(lua_State *L, const void *p, size_t n, uint64_t id,
                       const alua_restore_opts *o, alua_restore_report *rep);
/* The same, reading the capture file at path. */
int alua_restore_file(lua_State *L, const char *path, uint64_t id,
                      const alua_restore_opts *o, alua_restore_report *rep);

/* Lua function amber.restore(path [, {trust=, mode=, id=}]): restores a
** capture file into the calling state. Returns a report table, or nil and
** the error text. For the amber module's function list. */
int alua_restore_l(lua_State *L);

#endif
