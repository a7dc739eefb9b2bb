/*
** store.h
** The snapshot store: object graphs in one SQLite file (WAL), streaming
** ingest of protocol messages, lookups, paths, import and export.
** docs/store.md describes the schema, its versions and the export formats.
*/
#ifndef AMBER_STORE_H
#define AMBER_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "wire.h"

struct sqlite3;

/* The schema version this amber writes (PRAGMA user_version). Older
** databases are migrated on open; newer ones are refused. */
#define STORE_SCHEMA_VERSION 5

/* Node ids and edge positions within one snapshot are below 2^40; a
** store holds snapshot ids below 2^23 (docs/store.md, "Row keys"). */
#define STORE_MAX_IDS ((uint64_t)1 << 40)
#define STORE_MAX_SNAPSHOTS ((int64_t)1 << 23)

enum store_status {
  STORE_OK = 0,
  STORE_ENOTFOUND, /* no such snapshot, node, or path step */
  STORE_EUSAGE,    /* a bad argument: malformed path, unknown format */
  STORE_EPROTO,    /* the stream broke the snapshot protocol */
  STORE_EHASH,     /* the content hash does not match */
  STORE_ECOUNT,    /* node or edge counts do not match */
  STORE_EDANGLING, /* a reference names no node of the snapshot */
  STORE_EREMOTE,   /* the machine sent snapshot-error */
  STORE_EABORTED,  /* the ingest was aborted (disconnect, shutdown) */
  STORE_ETRUNC,    /* a capture ended inside a message or a snapshot */
  STORE_ECORRUPT,  /* a stored row cannot be read back */
  STORE_ENEWER,    /* the database was written by a newer amber */
  STORE_ENOTAMBER, /* the file is not an amber database */
  STORE_EBUSY,     /* another process held the database too long */
  STORE_ELIMIT,    /* beyond STORE_MAX_IDS / STORE_MAX_SNAPSHOTS */
  STORE_ESQL,      /* any other SQLite error */
  STORE_EIO,       /* reading or writing a file failed */
  STORE_ENOMEM,
  STORE_ESTOPPED   /* a callback asked to stop */
};

/* Short English name of a status ("hash mismatch", …). */
const char *store_status_name(int status);

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

typedef struct store store;

/* Open flags. */
#define STORE_READONLY 1u /* never write; refuse a database that needs migrating */
/* A connection that streams snapshots in (amber serve's): a small page
** cache (an ingest appends; its pages are written once), so memory does
** not grow with a snapshot's size, and no WAL checkpoint at its commits
** (copying a big snapshot into the database would double its commit on
** the snapshot's path): another connection calls store_checkpoint. */
#define STORE_INGEST 2u

/* Open (creating if needed, unless read-only) the database at path, in
** WAL mode with a busy timeout, and migrate it to STORE_SCHEMA_VERSION.
** Returns STORE_OK and *out, or an error with a message in err[errlen]
** (*out is then NULL). */
int store_open(store **out, const char *path, unsigned flags, char *err,
               size_t errlen);
/* Copy what the WAL holds into the database as far as no reader or writer
** has to wait (a passive checkpoint). STORE_OK, or an error. */
int store_checkpoint(store *s);
/* Close the store; an unfinished ingest is rolled back first. */
void store_close(store *s);
/* Message of the last failed call on s, saying what to do next. */
const char *store_errmsg(const store *s);
/* The SQLite handle, for side tables of other server modules (analysis);
** never write the store's own tables through it. */
struct sqlite3 *store_db(store *s);
/* 1 while an ingest of s holds the write transaction: a write through
** store_db now would become part of that snapshot's transaction. */
int store_writing(const store *s);
/* How long a call waits for another process's lock (default 5000 ms). */
void store_set_busy_timeout(store *s, int ms);

/* ------------------------------------------------------------------ */
/* Rows                                                                */
/* ------------------------------------------------------------------ */

/* A snapshot's row. Strings are NUL-terminated as well (but byte strings
** may hold NULs: use the lengths). In callbacks they are valid only during
** the call; from store_snapshot_get they live until store_snapshot_release. */
typedef struct store_snapshot {
  int64_t id;
  int64_t machine;                 /* machines.id */
  const char *machine_name; size_t machine_name_len;
  const char *wire_id;             /* the id the snapshot messages carried */
  const char *label; size_t label_len;  /* NULL if none */
  const char *vm, *version;        /* "" if unknown */
  int64_t time_ms;                 /* the VM's clock, ms since the epoch */
  int64_t stored_ms;               /* the server's clock at commit */
  const char *reason;              /* "request", "break", "crash" */
  const char *roots, *exits;       /* requested; one per line; "" if unknown */
  uint64_t nodes, edges;
  uint64_t bytes;                  /* sum of shallow sizes */
  char hash[17];                   /* content hash, 16 hex digits */
  const char *error; size_t error_len;         /* crash: error value, or NULL */
  const char *traceback; size_t traceback_len; /* crash: traceback, or NULL */
  int indexed;                     /* its lookup indexes are built */
  void *mem_;                      /* owned copy (store_snapshot_get only) */
} store_snapshot;

/* A node. n holds its fields exactly as received (wire.h); pointers are
** borrowed in callbacks, owned after store_node_get. */
typedef struct store_node {
  int64_t snapshot;
  wire_node n;
  uint64_t nedges;                 /* edges leaving it */
  void *mem_;
} store_node;

/* An edge: the seq-th (from 0) edge of node from. */
typedef struct store_edge {
  uint64_t from;
  uint64_t seq;
  wire_edge e;
} store_edge;

/* A machine that has stored snapshots. */
typedef struct store_machine {
  int64_t id;
  const char *name; size_t name_len;
  const char *vm, *version;        /* "" if unknown */
  int64_t pid;                     /* -1 if unknown */
  int64_t first_seen_ms, last_seen_ms; /* server clock */
  uint64_t snapshots;
} store_machine;

/* A stack frame of a break or crash snapshot. Its locals, varargs and
** upvalues are the edges of the frame node (store_children). */
typedef struct store_frame {
  uint64_t thread;                 /* the thread node it belongs to */
  int64_t level;                   /* 0 = innermost */
  uint64_t node;                   /* the frame node */
  const char *name; size_t name_len;     /* function name, or NULL */
  const char *source; size_t source_len; /* or NULL */
  int64_t line; int has_line;
} store_frame;

/* Row callbacks: return 0 to go on, nonzero to stop (the call then
** returns STORE_ESTOPPED). */
typedef int (*store_snapshot_fn)(void *ud, const store_snapshot *snap);
typedef int (*store_machine_fn)(void *ud, const store_machine *m);
typedef int (*store_node_fn)(void *ud, const store_node *node);
typedef int (*store_edge_fn)(void *ud, const store_edge *edge);
typedef int (*store_frame_fn)(void *ud, const store_frame *frame);
/* Progress of a long call: nodes (and edges) handled so far. */
typedef void (*store_progress_fn)(void *ud, uint64_t nodes, uint64_t edges);

/* ------------------------------------------------------------------ */
/* Streaming ingest                                                    */
/* ------------------------------------------------------------------ */

typedef struct store_ingest store_ingest;

/* What the server knows about the machine from its login (all optional;
** a login item fed to the ingest fills the same fields). */
typedef struct store_machine_info {
  const char *name; size_t name_len;
  const char *vm, *version;
  int64_t pid;                     /* -1 if unknown */
} store_machine_info;

/* How one snapshot ended. status STORE_OK: committed as snapshot;
** otherwise rolled back, and message says why (never NULL). */
typedef struct store_ingest_result {
  int status;
  int64_t snapshot;
  const char *wire_id;
  uint64_t nodes, edges;           /* committed, or received before the failure */
  const char *message;
} store_ingest_result;
typedef void (*store_done_fn)(void *ud, const store_ingest_result *r);

/* A new ingest for one machine's stream; machine may be NULL. NULL if out
** of memory. Several ingests of one store may run at once: one writes,
** the others spool to a temporary file and catch up when it is free. */
store_ingest *store_ingest_new(store *s, const store_machine_info *machine);
/* Called once for every snapshot that began, when it commits or fails
** (possibly later than the item that ended it, if it was spooled). */
void store_ingest_on_done(store_ingest *in, store_done_fn fn, void *ud);
/* Called after each graph batch with the nodes and edges so far. */
void store_ingest_on_progress(store_ingest *in, store_progress_fn fn,
                              void *ud);
/* Record what the debugger asked for in the snapshot request wire_id:
** its roots ("globals", "path:app.state" …) and exit paths (copied). */
int store_ingest_request(store_ingest *in, const char *wire_id,
                         const char *const *roots, size_t nroots,
                         const char *const *exits, size_t nexits);
/* Feed one item of a message. login, snapshot-begin, graph, snapshot-end
** and snapshot-error are used; other items are ignored (STORE_OK). Returns
** STORE_OK, or the error that failed the open snapshot (rolled back; the
** done callback has the details, later items of it are ignored). */
int store_ingest_item(store_ingest *in, const wire_elem *item);
/* Feed every item of a message; returns the first error. */
int store_ingest_message(store_ingest *in, const wire_msg *m);
/* 1 if item is one the ingest uses. */
int store_ingest_wants(const wire_elem *item);
/* Roll back the open snapshot, if any (disconnect, bad stream): the done
** callback reports STORE_EABORTED with why. */
void store_ingest_abort(store_ingest *in, const char *why);
/* 1 while a snapshot has begun and not yet ended or failed. */
int store_ingest_open(const store_ingest *in);
/* Nodes and edges received of the open (or last) snapshot. */
uint64_t store_ingest_nodes(const store_ingest *in);
uint64_t store_ingest_edges(const store_ingest *in);
/* Message of the last error of this ingest ("" if none). */
const char *store_ingest_errmsg(const store_ingest *in);
/* Abort what is open and free the ingest. */
void store_ingest_free(store_ingest *in);

/* ------------------------------------------------------------------ */
/* Import                                                              */
/* ------------------------------------------------------------------ */

/* Import a capture file (docs/protocol.md 5.6) through the same ingest a
** socket uses. *ids gets the committed snapshots in file order (free()
** it; may be set even on error). A truncated or damaged capture keeps
** the snapshots completed before the damage, stores nothing of the broken
** one, and the error says at which byte it broke. */
int store_import_file(store *s, const char *path, int64_t **ids,
                      size_t *nids, store_progress_fn progress, void *ud);
/* The same for an open stream; name is used in messages. */
int store_import_stream(store *s, FILE *f, const char *name, int64_t **ids,
                        size_t *nids, store_progress_fn progress, void *ud);

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

/* Snapshots, newest first, skipping offset and at most limit of them
** (0 = no limit); machine > 0 keeps only that machine's. */
int store_snapshots(store *s, int64_t machine, uint64_t offset,
                    uint64_t limit, store_snapshot_fn fn, void *ud);
/* One snapshot into *out (release with store_snapshot_release). */
int store_snapshot_get(store *s, int64_t id, store_snapshot *out);
void store_snapshot_release(store_snapshot *snap);
/* Delete a snapshot and all its rows. */
int store_snapshot_delete(store *s, int64_t id);
/* Machines that have snapshots, most recently seen first. */
int store_machines(store *s, store_machine_fn fn, void *ud);

/* One node into *out (release with store_node_release). */
int store_node_get(store *s, int64_t snap, uint64_t id, store_node *out);
void store_node_release(store_node *node);
/* Edges of node id in order, skipping offset, at most limit (0 = all). */
int store_children(store *s, int64_t snap, uint64_t id, uint64_t offset,
                   uint64_t limit, store_edge_fn fn, void *ud);
/* Edges that point at node id, as value or as key, in (from, seq) order,
** skipping offset, at most limit (0 = all). */
int store_retainers(store *s, int64_t snap, uint64_t id, uint64_t offset,
                    uint64_t limit, store_edge_fn fn, void *ud);

/* Node search: every given filter must match (NULL / 0 = any). kind,
** type and addr match exactly; text is a prefix of the node's string
** value or name. Nodes come in id order, starting after node id after
** (-1 = from the first); page with the last id seen. */
typedef struct store_search {
  const char *kind;
  const char *type; size_t type_len;
  const char *text; size_t text_len;
  int has_addr; uint64_t addr;     /* VM address */
} store_search;
int store_find_nodes(store *s, int64_t snap, const store_search *q,
                     int64_t after, uint64_t limit, store_node_fn fn,
                     void *ud);
/* Edges whose name starts with prefix (field names, locals, upvalues…),
** in (from, seq) order, after the edge at position after (-1 = from the
** first; pass the last edge's store_edge_pos to page). */
int store_find_edges(store *s, int64_t snap, const char *prefix,
                     size_t prefix_len, int64_t after, uint64_t limit,
                     store_edge_fn fn, void *ud);
/* The position of an edge within its snapshot, for store_find_edges. */
int64_t store_edge_pos(store *s, int64_t snap, const store_edge *edge);

/* Resolve a path (docs/store.md, "Paths": `globals.app.state`,
** `registry._LOADED`, `list[3]`, `stack.frame[0].local.x`, `@17.name`) to
** the value it names: a node (type WIRE_V_REF) or an inline scalar. *via
** (may be NULL) gets the last edge followed: from, seq, index, key and
** value, but not its kind and name strings (kind, name NULL); for a bare
** `@17` from is 17 and seq UINT64_MAX. */
int store_resolve(store *s, int64_t snap, const char *path, size_t len,
                  wire_value *out, store_edge *via);

/* Frames of a break or crash snapshot: threads in id order, each one's
** frames as its `frame` edges list them (innermost first). The error and
** traceback of a crash are in its store_snapshot. */
int store_frames(store *s, int64_t snap, store_frame_fn fn, void *ud);

/* The lookup indexes of a snapshot (its retainers, nodes by address, by
** type, the rare kinds): 1 if built. Queries answer either way, by reading
** the snapshot in order until they are. */
int store_indexed(store *s, int64_t snap);
/* Build them (amber serve does after each commit, amber import after
** importing). The rows collect in a temporary table first, so the write
** lock is held only briefly at a time. progress may be NULL. */
int store_index(store *s, int64_t snap, store_progress_fn progress, void *ud);

/* Every node in id order, each followed by its edges in order: the
** snapshot exactly as it was received. Either callback may be NULL.
** STORE_SCAN_LIGHT leaves string values and payloads out (has_value,
** has_payload 0) for analyses that need only the shape. */
#define STORE_SCAN_LIGHT 1u
int store_scan(store *s, int64_t snap, unsigned flags, store_node_fn on_node,
               store_edge_fn on_edge, void *ud);

/* The same read a piece at a time, its statements kept open in between (a
** restore streams a snapshot as the machine's socket drains). A callback
** returning nonzero stops the read after that node or edge, which counts
** as read: store_reader_next returns STORE_ESTOPPED, and the next call goes
** on right after it (a node's remaining edges first). STORE_OK once all is
** read and checked; any other status is an error (then only close). Flags
** as store_scan, and STORE_SCAN_NO_EDGES to read nodes only. */
#define STORE_SCAN_NO_EDGES 2u
typedef struct store_reader store_reader;
int store_reader_open(store *s, int64_t snap, unsigned flags, store_reader **out);
int store_reader_next(store_reader *r, store_node_fn on_node, store_edge_fn on_edge,
                      void *ud);
void store_reader_close(store_reader *r);

/* Recompute the content hash from the stored rows, exactly as the ingest
** computed it, into hex[17] (may be NULL); STORE_OK if it matches the
** stored hash, STORE_EHASH if not (restore refuses such a snapshot). */
int store_verify(store *s, int64_t snap, char hex[17]);

/* ------------------------------------------------------------------ */
/* Export                                                              */
/* ------------------------------------------------------------------ */

enum store_format { STORE_JSONL = 1, STORE_DOT };

/* What to export: the whole snapshot (from < 0) or the nodes reached from
** node from within depth edges, breadth first; at most max_nodes nodes
** (0 = all for a whole snapshot, 10000 for a subgraph). */
typedef struct store_export_opts {
  enum store_format format;
  int64_t from;
  unsigned depth;
  uint64_t max_nodes;
  store_progress_fn progress; void *progress_ud;
} store_export_opts;

/* Output sink: write n bytes, return 0, or nonzero to stop with STORE_EIO. */
typedef int (*store_write_fn)(void *ud, const void *p, size_t n);

/* Stream snapshot snap in the chosen format (docs/store.md, "Export"),
** in bounded memory. */
int store_export(store *s, int64_t snap, const store_export_opts *o,
                 store_write_fn w, void *wud);
/* The same into a stdio stream. */
int store_export_file(store *s, int64_t snap, const store_export_opts *o,
                      FILE *f);

#endif
