/*
** wire.h
** amber's wire protocol: xsbug XML framing, exact escaping, and the snapshot
** graph records that travel in it. This header is the only door into
** protocol/; no other room parses or writes XML itself.
** See docs/protocol.md for the format this code implements.
*/
#ifndef AMBER_WIRE_H
#define AMBER_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Growable byte buffer                                                */
/* ------------------------------------------------------------------ */

/* A byte buffer that grows as needed. On allocation failure it sets oom,
** drops further writes and keeps what it had, so writers need check only
** once, at the end. */
typedef struct wire_buf {
  char *data;
  size_t len, cap;
  int oom;
  int bin;       /* inside wire_frame_begin/end: elements go out binary */
  size_t frame;  /* where the open frame's length field is */
  size_t mark;   /* where an open run's values begin (binary frames) */
} wire_buf;

/* Initialise an empty buffer (no allocation yet). */
void wire_buf_init(wire_buf *b);
/* Release the buffer's memory and make it empty again. */
void wire_buf_free(wire_buf *b);
/* Make room for n more bytes; returns 0, or -1 (and sets oom) on failure. */
int wire_buf_reserve(wire_buf *b, size_t n);
/* Append n bytes. */
void wire_buf_put(wire_buf *b, const void *p, size_t n);
/* Append a NUL-terminated string (without its NUL). */
void wire_buf_puts(wire_buf *b, const char *s);
/* Forget the contents (and any open frame) but keep the memory. */
#define wire_buf_reset(b) ((b)->len = 0, (b)->oom = 0, (b)->bin = 0)

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

/* Every byte string written through these functions round-trips exactly
** through the parser, all 256 byte values included (docs/protocol.md,
** "Escaping"). Element and attribute names are trusted ASCII identifiers. */

/* Start a machine-to-debugger message: "\r\n<xsbug>". */
void wire_msg_begin(wire_buf *b);
/* End it: "</xsbug>\r\n". */
void wire_msg_end(wire_buf *b);
/* "<name" — attributes follow, then wire_open_end or wire_empty_end. */
void wire_open(wire_buf *b, const char *name);
/* Attribute with arbitrary bytes as its value. */
void wire_attr(wire_buf *b, const char *name, const void *value, size_t len);
/* Attribute from a NUL-terminated string. */
void wire_attr_str(wire_buf *b, const char *name, const char *value);
/* Attribute with a signed / unsigned decimal integer value. */
void wire_attr_i64(wire_buf *b, const char *name, int64_t v);
void wire_attr_u64(wire_buf *b, const char *name, uint64_t v);
/* Attribute with binary bytes, base64-encoded. */
void wire_attr_base64(wire_buf *b, const char *name, const void *p, size_t n);
/* ">" after the attributes of an element that has content. */
void wire_open_end(wire_buf *b);
/* "/>" after the attributes of an empty element. */
void wire_empty_end(wire_buf *b);
/* "</name>". */
void wire_close(wire_buf *b, const char *name);
/* Character data with arbitrary bytes. */
void wire_text(wire_buf *b, const void *p, size_t n);
/* Append p escaped for an attribute value (quot=1) or text (quot=0). */
void wire_escape(wire_buf *b, const void *p, size_t n, int quot);
/* A bare debugger-to-machine command as xsbug sends it: "\r\n<name/>\r\n",
** with one optional attribute (pass NULL for none). XS reads only path,
** line and id, and ids must be "@" + uppercase hex. */
void wire_command(wire_buf *b, const char *name, const char *attr,
                  const char *value);
/* The same with any attributes: wire_command_open(b, "set-breakpoint"),
** wire_attr_str(b, "path", p), wire_attr_i64(b, "line", l),
** wire_command_close(b) gives "\r\n<set-breakpoint path=".." line=".."/>\r\n". */
void wire_command_open(wire_buf *b, const char *name);
void wire_command_close(wire_buf *b);

/* Binary frames (docs/protocol.md 1.1): the same elements and attributes,
** as length-prefixed tokens instead of XML text, so neither side escapes,
** scans or validates text. Between wire_frame_begin and wire_frame_end the
** element writers above (wire_open, wire_attr*, wire_open_end,
** wire_empty_end, wire_close, wire_text) and the graph writers below write
** tokens; the parser turns a frame into the same tree the XML would give.
** wrapped=1: a machine-to-debugger message, whose items follow (as
** wire_msg_begin); 0: one bare element (a debugger-to-machine command).
** Only for peers that announced the "binary" feature. */
void wire_frame_begin(wire_buf *b, int wrapped);
/* End the frame: its length goes into its header. */
void wire_frame_end(wire_buf *b);

/* Base64 (RFC 4648, with padding). decode returns 0, or -1 on bad input. */
void wire_base64_encode(wire_buf *b, const void *p, size_t n);
int wire_base64_decode(wire_buf *out, const char *s, size_t n);

/* ------------------------------------------------------------------ */
/* Parsed messages                                                     */
/* ------------------------------------------------------------------ */

/* An attribute: name and decoded value bytes (NUL-terminated as well, but
** the value may contain NULs: use len). */
typedef struct wire_attr_t {
  const char *name;
  const char *value;
  size_t len;
} wire_attr_t;

/* An element of a message tree. text is all character data directly
** inside the element, decoded and concatenated (NUL-terminated; use
** text_len). Children are a singly linked list. */
typedef struct wire_elem {
  const char *name;
  wire_attr_t *attrs;
  size_t nattrs;
  const char *text;
  size_t text_len;
  struct wire_elem *children; /* first child, or NULL */
  struct wire_elem *next;     /* next sibling, or NULL */
  struct wire_elem *parent;   /* NULL for a top-level item */
} wire_elem;

/* One message. A wrapped message "<xsbug>A B</xsbug>" has items A, B; a
** bare command "<go/>" has the single item go. */
typedef struct wire_msg {
  wire_elem *items;  /* first item; iterate with ->next */
  int wrapped;       /* 1 if it came inside <xsbug> */
  int binary;        /* 1 if it came as a binary frame */
  uint64_t seq;      /* 0 for the stream's first message, 1 for the next … */
  uint64_t offset;   /* byte offset of the message's '<' in the stream */
  uint64_t length;   /* bytes from offset to the end of its closing tag */
} wire_msg;

/* Value of attribute name, or NULL if absent; *len gets its length. */
const char *wire_get(const wire_elem *e, const char *name, size_t *len);
/* Attribute as an integer: 0 on success, -1 if absent or not a decimal
** integer in its one spelling (no "+", no leading zeros, in range). */
int wire_get_i64(const wire_elem *e, const char *name, int64_t *out);
int wire_get_u64(const wire_elem *e, const char *name, uint64_t *out);
/* First child element called name, or NULL. */
const wire_elem *wire_child(const wire_elem *e, const char *name);

/* Append a one-line, ASCII-only rendering of m (its items as XML): every
** non-ASCII character as &#xHHHH;, control bytes and invalid UTF-8 as the
** U+F7xx references of docs/protocol.md, TAB/LF/CR as references too; so
** it is safe to print and parses back to the same message. */
void wire_msg_render(wire_buf *b, const wire_msg *m);
/* The same for one element and its subtree. */
void wire_elem_render(wire_buf *b, const wire_elem *e);

/* ------------------------------------------------------------------ */
/* Incremental parser                                                  */
/* ------------------------------------------------------------------ */

enum wire_status {
  WIRE_OK = 0,
  WIRE_ESYNTAX,   /* not well-formed XML */
  WIRE_ETOOBIG,   /* message longer than limits.max_message */
  WIRE_EATTR,     /* attribute value or text run longer than max_attr */
  WIRE_EDEPTH,    /* elements nested deeper than max_depth */
  WIRE_EDTD,      /* a DTD declaration: "<!" and an uppercase letter */
  WIRE_ETRUNC,    /* stream ended inside a message or markup */
  WIRE_ENOMEM,    /* allocation failed */
  WIRE_ESTOPPED   /* the message callback asked to stop */
};

typedef struct wire_limits {
  size_t max_message; /* bytes in one message (default 64 MiB) */
  size_t max_attr;    /* bytes in one attribute value, or between two tags (default 32 MiB) */
  unsigned max_depth; /* element nesting inside a message (default 64) */
} wire_limits;

/* Fill l with the defaults above. */
void wire_limits_default(wire_limits *l);

/* Where and why parsing failed. offset is the stream offset of the byte
** that failed; msg_offset/msg_seq identify the message it belonged to. */
typedef struct wire_error {
  enum wire_status code;
  uint64_t offset;
  uint64_t msg_offset;
  uint64_t msg_seq;
  char text[192];
} wire_error;

/* Called for each complete message. m and everything it points to are
** valid only during the call. Return 0 to go on, nonzero to stop (the
** feed then returns WIRE_ESTOPPED). */
typedef int (*wire_on_message)(void *ud, const wire_msg *m);

typedef struct wire_parser wire_parser;

/* A new parser; lim may be NULL for the defaults. NULL if out of memory. */
wire_parser *wire_parser_new(const wire_limits *lim, wire_on_message cb,
                             void *ud);
/* Feed the next n bytes of the stream (any split, even one byte at a
** time). Returns WIRE_OK or the error that stopped it; after an error,
** feeding more returns the same error until wire_parser_resync (the bytes
** are kept, up to max(max_message, 1 MiB) of them, and rescanned after
** it). The callback must not feed, finish, resync or free its own parser. */
enum wire_status wire_parser_feed(wire_parser *p, const void *data, size_t n);
/* Tell the parser the stream has ended: WIRE_ETRUNC if a message was
** left incomplete, else WIRE_OK. */
enum wire_status wire_parser_finish(wire_parser *p);
/* The last error (code WIRE_OK if none). */
const wire_error *wire_parser_error(const wire_parser *p);
/* Drop the failed message and skip input up to the next "<xsbug>", where
** parsing starts again. Bytes already fed after the error are rescanned
** (from the byte after the error, or from the first byte of the feed that
** found it if the failed token began earlier). After WIRE_ESTOPPED nothing
** is skipped: parsing goes on right after the message the callback stopped
** at. Does nothing when there is no error. */
void wire_parser_resync(wire_parser *p);
/* Total bytes fed so far. */
uint64_t wire_parser_offset(const wire_parser *p);
/* Bytes of memory the parser holds now, expat's included: stays bounded by
** its limits whatever the input (see docs/protocol.md, "Limits"). */
size_t wire_parser_memory(const wire_parser *p);
/* Bytes of unfinished markup handed to expat again so far: expat rescans a
** tag it has only part of, so this measures that extra work (it stays
** linear in the input however the stream is split). For tests and benches. */
uint64_t wire_parser_rescanned(const wire_parser *p);
/* Free the parser and everything it owns. */
void wire_parser_free(wire_parser *p);
/* Short English name of a status ("syntax error", …). */
const char *wire_status_name(enum wire_status s);

/* ------------------------------------------------------------------ */
/* Graph records (snapshot and restore payloads)                        */
/* ------------------------------------------------------------------ */

/* A scalar or reference as carried by edges: nil, booleans, integers,
** floats (exact, including NaN, ±inf and -0.0) and node references. */
enum wire_vtype {
  WIRE_V_NONE = 0, /* absent */
  WIRE_V_NIL,
  WIRE_V_BOOL,
  WIRE_V_INT,
  WIRE_V_FLOAT,
  WIRE_V_REF
};

typedef struct wire_value {
  enum wire_vtype type;
  union {
    int b;
    int64_t i;
    double f;
    uint64_t ref; /* node id */
  } u;
} wire_value;

/* Parse the textual form ("nil", "true", "i:42", "f:0x1.8p+1", "@17").
** Returns 0, or -1 if s is not a valid value. */
int wire_value_parse(const char *s, size_t n, wire_value *v);
/* Append the textual form of v (plain ASCII; needs no escaping). */
void wire_value_format(wire_buf *b, const wire_value *v);

/* A node's own fields (everything but its edges). Pointers are borrowed.
** has_* flags say which optional fields are present. */
typedef struct wire_node {
  uint64_t id;
  const char *kind;                 /* "table", "function", … */
  const char *type; size_t type_len; /* type or class name, or NULL */
  const char *name; size_t name_len; /* exit or frame name, or NULL */
  uint64_t size; int has_size;      /* shallow size in bytes */
  uint64_t addr; int has_addr;      /* VM address */
  const char *value; size_t value_len; int has_value; /* string bytes */
  const void *payload; size_t payload_len; int has_payload; /* binary */
  const char *mode;                 /* weak mode "k", "v", "kv", or NULL */
  const char *status;               /* coroutine status, or NULL */
  const char *source; size_t source_len; /* frame/function source, or NULL */
  int64_t line; int has_line;       /* frame current line */
} wire_node;

/* An edge from the node it is written under. */
typedef struct wire_edge {
  const char *kind;                  /* "field", "index", "key", … */
  const char *name; size_t name_len; /* string key / variable name, or NULL */
  int64_t index; int has_index;      /* integer key / slot number */
  wire_value key;                    /* other keys; WIRE_V_NONE if absent */
  wire_value value;                  /* the target */
} wire_edge;

/* Write "<n …>" for node (its edges follow, then wire_node_close). */
void wire_node_open(wire_buf *b, const wire_node *node);
/* Write "<n i=ID c=1>": more edges of node id, continuing the previous
** element for it (a node whose edges span batches). */
void wire_node_continue(wire_buf *b, uint64_t id);
/* Write one edge element. */
void wire_edge_write(wire_buf *b, const wire_edge *edge);
/* Write "</n>". */
void wire_node_close(wire_buf *b);

/* Read a node element's fields into node. Pointers refer into e, except
** the decoded payload, which goes into scratch (reset first). Returns 0,
** or -1 with a reason in *why if the element is not a valid node.
** *cont is set to 1 for a continuation element. Attributes it does not
** know are ignored, so later versions may add fields. */
int wire_node_read(const wire_elem *e, wire_node *node, int *cont,
                   wire_buf *scratch, const char **why);
/* Read an edge element; same conventions. */
int wire_edge_read(const wire_elem *e, wire_edge *edge, const char **why);

/* ---- edge runs (docs/protocol.md 5.4) ---------------------------------
** <r k="KIND" i="FIRST" v="V1 V2 … Vn"/> inside a node stands for n edges
** of kind KIND with indices FIRST … FIRST+n-1 and values V1 … Vn, exactly
** as if they were written as n <e> elements there. Writers use runs for
** consecutive integer keys; readers take both forms. */

/* Most values one run may carry; a longer run is invalid input. */
#define WIRE_RUN_MAX 4096

/* Write '<r k="kind" i="first" v="': then 1 to WIRE_RUN_MAX values with
** wire_run_value, then wire_run_close. The caller keeps count: the run
** must fit its batch and first + n - 1 must not pass INT64_MAX. */
void wire_run_open(wire_buf *b, const char *kind, int64_t first);
/* Append the next value of the open run. */
void wire_run_value(wire_buf *b, const wire_value *v);
/* End the open run: '"/>'. */
void wire_run_close(wire_buf *b);

/* A run being read. vtext/vlen hold the text of the value last returned,
** which is its one canonical spelling (for wire_hash_edge_text). */
typedef struct wire_run {
  const char *kind;
  size_t klen;
  int64_t next;            /* index of the edge last returned (then the next) */
  size_t count;            /* edges returned so far */
  const char *p, *end;     /* values not yet read */
  const char *vtext;
  size_t vlen;
  /* the decimal text of the last edge's index, counted up rather than
  ** formatted each time (for wire_hash_run_edge) */
  char itext[24];
  size_t ilen;
  /* the hash's bytes for the fields before the index, once assembled
  ** (hplen 0: not yet) */
  char hprefix[64];
  size_t hplen;
  const char *why;         /* why wire_run_next returned -1 */
} wire_run;

/* Start reading a run element <r>. 0, or -1 with the reason in *why: not
** <r>, no kind, no valid first index i, no values, spaces at either end, a
** name or key given. Pointers refer into e. */
int wire_run_begin(const wire_elem *e, wire_run *it, const char **why);
/* The run's next edge (kind, index, value; no name, no key): 1, or 0 when
** the run is over, or -1 (reason in it->why) if the value is not valid, or
** is past WIRE_RUN_MAX values or past index INT64_MAX. */
int wire_run_next(wire_run *it, wire_edge *edge);

/* Every edge of a node element, <e> and <r> alike, in order. */
typedef struct wire_edges {
  const wire_elem *child;  /* the next child to read */
  wire_run run;
  int in_run;
  const char *vtext;       /* canonical text of the value last returned */
  size_t vlen;
  const char *why;         /* why wire_edges_next returned -1 */
} wire_edges;

/* Start iterating the edges of node element n (an <n>, or a continuation). */
void wire_edges_begin(const wire_elem *n, wire_edges *it);
/* The next edge: 1, 0 at the end, or -1 with the reason in it->why (a
** child that is neither <e> nor <r>, a malformed edge or run). */
int wire_edges_next(wire_edges *it, wire_edge *edge);

/* The content hash of a graph (docs/protocol.md, "Content hash"): fed
** each node's fields then its edges, nodes in id order. Addresses and
** sizes are not hashed. */
typedef struct wire_hash {
  uint64_t h;       /* state */
  uint64_t pending; /* bytes not yet forming a whole word */
  unsigned npending;
} wire_hash;
void wire_hash_init(wire_hash *h);
void wire_hash_node(wire_hash *h, const wire_node *node);
void wire_hash_edge(wire_hash *h, const wire_edge *edge);
/* The same, for a reader that already holds the canonical text of the
** edge's value (wire_run.vtext, wire_edges.vtext): it is hashed as is, not
** formatted again. vtext NULL means: format it (as wire_hash_edge). */
void wire_hash_edge_text(wire_hash *h, const wire_edge *edge,
                         const char *vtext, size_t vlen);
/* The edge wire_run_next just returned from run r: the same as
** wire_hash_edge_text with r's value text, but what every edge of a run
** shares is not measured or formatted again. */
void wire_hash_run_edge(wire_hash *h, wire_run *r, const wire_edge *edge);
/* Write the digest as 16 lowercase hex digits plus NUL into out[17]. */
void wire_hash_hex(const wire_hash *h, char out[17]);

/* ------------------------------------------------------------------ */
/* Graph batches read record by record (binary frames)                 */
/* ------------------------------------------------------------------ */

/* What a parser hands a graph consumer (wire_parser_graph). Each callback
** returns 0 to go on or nonzero to stop the parser (WIRE_ESTOPPED), like
** the message callback; what they are given is valid during the call. */
typedef struct wire_graph_fns {
  /* A batch's <graph> element (attributes, no children), before its
  ** records: 0 to read them, WIRE_GRAPH_SKIP to pass over them, or
  ** anything else to stop. m has the frame's seq and offset, no items. */
  int (*batch)(void *ud, const wire_elem *graph, const wire_msg *m);
  /* A node element <n> as wire_node_read reads it; cont for a
  ** continuation <n i c="1">. Its edges follow. */
  int (*node)(void *ud, const wire_node *n, int cont);
  /* One edge of the node given last, runs expanded, as wire_edges_next
  ** gives it, with vtext[0..vlen) its value's text (for the hash). */
  int (*edge)(void *ud, const wire_edge *e, const char *vtext, size_t vlen);
  /* A record that cannot be read (what: WIRE_GRAPH_BAD_*): element is
  ** its name, why says what is wrong, as the tree readers say it. */
  int (*bad)(void *ud, int what, const char *element, const char *why);
} wire_graph_fns;

#define WIRE_GRAPH_SKIP 1

/* What wire_graph_fns.bad is told about. */
enum {
  WIRE_GRAPH_BAD_CHILD, /* a child of <graph> that is not <n> */
  WIRE_GRAPH_BAD_NODE,  /* an <n> that wire_node_read refuses */
  WIRE_GRAPH_BAD_EDGE   /* an <e> or <r> the edge readers refuse, or
                           a child of <n> that is neither */
};

/* Have p hand the records of every binary frame whose first item is a
** <graph> to fns, as they are read, instead of building that item's tree
** (the other items of such a frame still reach the message callback, as a
** message without it). Checked exactly as the tree is: a frame found bad
** after some records were handed over still fails, and the consumer must
** drop its batch. fns NULL goes back to trees. docs/protocol.md 1.1. */
void wire_parser_graph(wire_parser *p, const wire_graph_fns *fns, void *ud);

#endif
