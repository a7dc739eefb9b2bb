/*
** wire_internal.h
** Shared internals of protocol/: number formatting, the U+F7xx decoder, the
** per-message arena and the pre-expat input filter. Not part of the door
** (wire.h); nothing outside protocol/ may include it.
*/
#ifndef AMBER_WIRE_INTERNAL_H
#define AMBER_WIRE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

/* wire_buf_reserve with the common case (room already there) inlined. */
#define WIRE_RESERVE(b, n) \
  ((b)->cap - (b)->len >= (size_t)(n) && !(b)->oom ? 0 : wire_buf_reserve((b), (n)))

/* ---- numbers (number.c) ------------------------------------------- */

/* Longest decimal form of a 64-bit integer, sign included. */
#define WIRE_NUM_MAX 20

/* Write v in decimal at dst (no NUL); return the number of bytes. */
size_t wire_num_u64(char *dst, uint64_t v);
size_t wire_num_i64(char *dst, int64_t v);
/* Write v in lowercase hex without leading zeros ("0" for 0). */
size_t wire_num_hex(char *dst, uint64_t v);
/* Strict parses of the whole of s[0..n): canonical decimal (no sign for
** u64, no "+", no leading zeros, no "-0") or 1-16 hex digits. 0 or -1. */
int wire_num_parse_u64(const char *s, size_t n, uint64_t *out);
int wire_num_parse_i64(const char *s, size_t n, int64_t *out);
int wire_num_parse_hex(const char *s, size_t n, uint64_t *out);

/* ---- values (value.c) ---------------------------------------------- */

/* Room for the longest textual form of a value ("f:-0x1.fffffffffffffp+1023"
** is 26 bytes). */
#define WIRE_VALUE_MAX 32

/* Write v's one textual form at o (room for WIRE_VALUE_MAX bytes, no NUL);
** return its length, 0 for WIRE_V_NONE. */
size_t wire_value_text(char *o, const wire_value *v);

/* ---- graph records (graph.c) -------------------------------------- */
/* wire_edge_read, also giving the text of the value v as read: the value
** parser accepts only its one spelling, so it can be hashed as is. */
int wire_edge_read_text(const wire_elem *e, wire_edge *edge, const char **vtext,
                        size_t *vlen, const char **why);

/* ---- escaping (escape.c) ------------------------------------------ */

/* What starts at s[0..n): the length of a valid, shortest-form UTF-8
** sequence of an XML character; WIRE_UTF8_F7 for one of U+F700..U+F7FF
** (valid, but it must be escaped byte by byte to stay exact); 0 if s[0]
** starts no such sequence; WIRE_UTF8_MORE if the n bytes are a valid
** beginning of one that needs more. */
#define WIRE_UTF8_F7   (-3)
#define WIRE_UTF8_MORE (-1)
int wire_utf8_check(const unsigned char *s, size_t n);
/* Escape p for an attribute value or text using ASCII only: every
** non-ASCII character as &#xHHHH; (for wire_msg_render). */
void wire_escape_ascii(wire_buf *b, const void *p, size_t n);
/* Decode the U+F700..U+F7FF scheme: copy s[0..n) to dst turning each such
** character back into its byte. dst needs n bytes; returns bytes written. */
size_t wire_unescape_f7(char *dst, const char *s, size_t n);

/* ---- binary frames (frame_write.c, frame_read.c) -------------------- */

/* docs/protocol.md 1.1. A frame is WIRE_FRAME_MARK, its body's length as 4
** bytes little-endian, and the body: a form byte (1 wrapped, 0 bare), then
** tokens. A name is one byte 0x80 | its number in the dictionary, or its
** length (1-127) and its bytes. Lengths are LEB128 of at most 5 bytes. */
#define WIRE_FRAME_MARK 0x00
#define WIRE_FRAME_HEAD 5
enum { WIRE_T_OPEN = 1, WIRE_T_ATTR = 2, WIRE_T_TEXT = 3, WIRE_T_END = 4 };
/* Most attributes one element of a frame may have. */
#define WIRE_FRAME_MAX_ATTRS 64

/* The dictionary: names with a one-byte code (the numbers are the protocol). */
enum wire_frame_code_t {
  WIRE_C_XSBUG, WIRE_C_GRAPH, WIRE_C_N, WIRE_C_E, WIRE_C_R, WIRE_C_I, WIRE_C_K, WIRE_C_T,
  WIRE_C_NM, WIRE_C_S, WIRE_C_A, WIRE_C_V, WIRE_C_P, WIRE_C_M, WIRE_C_ST, WIRE_C_SRC, WIRE_C_L,
  WIRE_C_C, WIRE_C_KEY, WIRE_C_ID, WIRE_C_SEQ
};
/* Their names and lengths, by code. */
extern const char *const wire_frame_names[];
extern const unsigned char wire_frame_name_len[];
extern const unsigned wire_frame_nnames;
/* Code of name[0..n) in the dictionary, or -1. */
int wire_frame_code(const char *name, size_t n);
/* Append a name token: its code, or its length and bytes. */
void wire_frame_name(wire_buf *b, const char *name, size_t n);
/* Append an attribute token with value v[0..vlen). */
void wire_frame_attr(wire_buf *b, const char *name, size_t n, const void *v, size_t vlen);
/* Write n as LEB128 at o (room for 5 bytes for a 32-bit n); return the
** byte after it. */
static inline char *wire_frame_put_len(char *o, size_t n) {
  while (n >= 0x80) {
    *o++ = (char)(0x80 | (n & 0x7F));
    n >>= 7;
  }
  *o++ = (char)n;
  return o;
}
/* Write an attribute token (dictionary name code, raw value v[0..n)) at o,
** which has room for n + 7 bytes; return the byte after it. */
static inline char *wire_frame_put_attr(char *o, unsigned code, const void *v, size_t n) {
  o[0] = WIRE_T_ATTR;
  o[1] = (char)(0x80 | code);
  o = wire_frame_put_len(o + 2, n);
  if (n > 0) memcpy(o, v, n);
  return o + n;
}
/* Append a LEB128 length. */
void wire_frame_len(wire_buf *b, size_t n);
/* Append one token byte. */
void wire_frame_byte(wire_buf *b, unsigned c);

/* ---- per-message arena (arena.c) ---------------------------------- */

typedef struct wire_arena_block wire_arena_block;
typedef struct wire_arena {
  wire_arena_block *head;  /* block being filled; older blocks follow */
  char *cur, *lim;         /* its free space (both NULL without a block) */
  size_t used;             /* bytes handed out since the last reset */
  size_t held;             /* bytes of memory held in blocks */
} wire_arena;

/* Allocations are rounded up to this, so the free space of a block is
** always a multiple of it. */
#define WIRE_ARENA_ALIGN 8

void wire_arena_init(wire_arena *a);
/* wire_arena_alloc when the current block has no room (or no block yet). */
void *wire_arena_alloc_slow(wire_arena *a, size_t n);
/* n bytes aligned for any pointer or 64-bit field, or NULL. The common case
** (room in the current block) is a pointer bump, inlined: a message tree is
** thousands of small allocations. */
static inline void *wire_arena_alloc(wire_arena *a, size_t n) {
  char *p = a->cur;
  if (p == NULL || n > (size_t)(a->lim - p)) return wire_arena_alloc_slow(a, n);
  /* the room is a multiple of the alignment, so the rounded n fits too */
  n = (n + WIRE_ARENA_ALIGN - 1) & ~(size_t)(WIRE_ARENA_ALIGN - 1);
  a->cur = p + n;
  a->used += n;
  return p;
}
/* The free space of the current block is cur..lim, to write into before
** knowing the size; then commit the n bytes used (n <= lim - cur). */
static inline void wire_arena_commit(wire_arena *a, size_t n) {
  n = (n + WIRE_ARENA_ALIGN - 1) & ~(size_t)(WIRE_ARENA_ALIGN - 1);
  if (n > (size_t)(a->lim - a->cur)) n = (size_t)(a->lim - a->cur);
  a->cur += n;
  a->used += n;
}
/* Forget everything; keep one small block so the next message needs no
** malloc, and give the rest back, so one huge message does not pin memory. */
void wire_arena_reset(wire_arena *a);
void wire_arena_free(wire_arena *a);

/* ---- input filter (filter.c) -------------------------------------- */

/* A repair: filtered bytes [fstart, fstart+flen) stand for original bytes
** [ostart, ostart+olen). Insertions have olen 0, deletions flen 0. */
typedef struct wire_repair {
  uint64_t fstart, ostart;
  uint64_t flen, olen;
} wire_repair;

/* A message as the filter saw it: offset of its '<' and one past its last
** byte (UINT64_MAX while it is still open). */
typedef struct wire_span {
  uint64_t start, end;
} wire_span;

/* The synthetic document element that turns the stream of top-level
** elements into one document for expat. */
#define WIRE_ROOT_OPEN "<amber-stream>"

typedef struct wire_filter {
  size_t max_message, max_attr;
  unsigned max_depth;
  size_t max_repairs;     /* repairs allowed in one message */

  int state;              /* F_* in filter.c */
  int ref_ret;            /* state to go back to after a reference */
  int prolog;             /* the synthetic root has not been emitted yet */
  unsigned depth;         /* open elements (synthetic root not counted) */
  unsigned k;             /* match counter of the current state */
  int sub;                /* after "<!": 1 comment, 2 CDATA section */
  int slash;              /* the last byte of a start tag was '/' */
  int in_msg;             /* inside a top-level element */
  int frame;              /* stopped at the mark of a binary frame */

  uint64_t pos;           /* original offset of the next byte */
  uint64_t fpos;          /* filtered offset of the next output byte */
  uint64_t lt_pos;        /* offset of the '<' of the current markup */
  uint64_t msg_start;     /* offset of the current message's '<' */
  uint64_t run_start;     /* offset of the current attribute value/text */
  int run_on;             /* counting a run against max_attr */
  uint64_t drop_from;     /* start of bytes being dropped, or UINT64_MAX */
  uint64_t tok_f;         /* filtered offset of the latest markup start */
  size_t msg_repairs;     /* repairs in the current message */

  char ref[16];           /* a character reference being read */
  unsigned nref;
  uint64_t ref_pos;

  /* repair map, oldest first; base maps offsets before the first entry */
  wire_repair *map;
  size_t nmap, capmap;
  uint64_t base_f, base_o;

  /* messages seen by the filter but not yet by the tree builder */
  wire_span *spans;
  size_t span_head, nspans, capspans;

  /* the filter's own error, if it stopped */
  enum wire_status err;
  uint64_t err_off;
  char err_text[160];
} wire_filter;

/* Worst-case output bytes for n input bytes: a byte that is not UTF-8
** becomes an 8-byte reference; up to 15 bytes held from earlier input, the
** synthetic root and a replayed "<xsbug " may come out as well. */
#define WIRE_FILTER_OUT(n) (8 * (n) + 64)

void wire_filter_init(wire_filter *f, const wire_limits *lim);
void wire_filter_free(wire_filter *f);
/* Start over at original offset pos: a fresh expat document. skip=1 drops
** input until the next "<xsbug" (resync); skip=0 goes on with whatever
** comes (after a message the callback stopped at). */
void wire_filter_restart(wire_filter *f, uint64_t pos, int skip);
/* Filter in[0..n) into out (room for WIRE_FILTER_OUT(n) bytes). Returns the
** bytes consumed: n, or fewer if the filter found an error (f->err). The
** bytes written are added to *olen. */
size_t wire_filter_run(wire_filter *f, const unsigned char *in, size_t n,
                       char *out, size_t *olen);
/* Record the filter's error (the first one wins). */
void wire_filter_fail(wire_filter *f, enum wire_status code, uint64_t off,
                      const char *text);
/* Note a repair in the offset map; counted ones count against max_repairs.
** 0, or -1 with the error set. */
int wire_filter_repair(wire_filter *f, uint64_t fstart, uint64_t ostart, uint64_t flen,
                       uint64_t olen, int counted);
/* Queue a message starting at stream offset start. 0, or -1 (ENOMEM). */
int wire_filter_span_push(wire_filter *f, uint64_t start);
/* Whether the stream could end here: no message, tag or reference open. */
int wire_filter_idle(const wire_filter *f);
/* 1 if the filter is inside markup (a tag, comment, CDATA, PI), not text. */
int wire_filter_in_markup(const wire_filter *f);
/* Original stream offset of filtered offset fo. */
uint64_t wire_filter_orig(const wire_filter *f, uint64_t fo);
/* Drop repairs that precede every offset expat may still report. */
void wire_filter_prune(wire_filter *f);
/* The parser has consumed n stream bytes (a binary frame's) that expat
** never sees: move on past them. 0, or -1 (ENOMEM, error set). */
int wire_filter_skip(wire_filter *f, uint64_t n);
/* Oldest message not yet taken by the tree builder, or NULL. */
wire_span *wire_filter_span(wire_filter *f);
/* Take it (the tree builder has delivered that message). */
void wire_filter_span_pop(wire_filter *f);

/* ---- the parser (parser.c: feeding and errors; tree.c: message trees) */

#include <expat.h>

struct wire_parser {
  XML_Parser xp;
  wire_limits lim;
  wire_on_message cb;
  void *ud;
  const wire_graph_fns *graph;  /* graph batches read record by record, or NULL */
  void *graph_ud;
  wire_buf gview;          /* C-string values of the graph record being read */
  wire_buf gpay;           /* its payload, decoded */
  wire_filter f;

  /* the message being built */
  wire_arena arena;
  size_t arena_budget;     /* arena bytes one message may use */
  wire_elem **stack;       /* open elements; stack[0] is the top-level one */
  wire_elem **last;        /* last child of each open element */
  wire_buf *text;          /* character data of each open element */
  unsigned depth, cap;     /* open elements below the synthetic root */
  int in_root;             /* expat has opened the synthetic root */
  uint64_t seq;            /* sequence number of the next message */

  /* why a handler stopped expat */
  int stopped;             /* the callback asked to stop */
  uint64_t stop_start, stop_end; /* the message it stopped after */
  enum wire_status herr;   /* a handler's own error (limit, memory) */
  const char *herr_text;

  uint64_t fed;            /* bytes fed so far */
  wire_error err;
  int err_in_msg;          /* the error fell inside a message */
  wire_buf saved;          /* bytes after an error, rescanned on resync */
  uint64_t saved_pos;      /* stream offset of saved.data[0] */
  int saved_lost;          /* some were dropped to bound memory */

  /* Filtered bytes not yet given to expat. Expat 2.5 rescans a token it
  ** has only part of from its start on every call, so a long tag fed in
  ** small pieces costs quadratic time; bytes inside markup are held back
  ** until the hold doubles (same token) or the markup ends. */
  wire_buf pend;           /* filtered bytes held back */
  wire_buf pend_orig;      /* the stream bytes they came from, for rescans */
  uint64_t pend_pos;       /* stream offset of pend_orig.data[0] */
  uint64_t pend_fstart;    /* filtered offset of pend.data[0] */
  size_t pend_limit;       /* flush when pend grows to this */
  uint64_t pend_tok;       /* the token that was open at the last flush */
  uint64_t rescanned;      /* see wire_parser_rescanned */

  size_t xmem;             /* bytes expat holds for this parser */

  /* a binary frame being read (frame_read.c) */
  int in_frame;            /* between its mark and its last byte */
  uint64_t frame_pos;      /* stream offset of its mark */
  unsigned char head[WIRE_FRAME_HEAD];
  unsigned nhead;          /* header bytes seen */
  size_t frame_len;        /* body bytes, once the header is whole */
  wire_buf frame;          /* body bytes gathered across feeds */
};

/* Install the tree-building handlers on p->xp (after create or reset). */
void wire_tree_install(wire_parser *p);
/* Forget the message being built (after an error or a delivery). */
void wire_tree_reset(wire_parser *p);
/* Free the tree builder's memory. */
void wire_tree_free(wire_parser *p);
/* Make room for one more open element (stack, last child, text). 0 or -1. */
int wire_tree_grow(wire_parser *p);
/* Read the binary frame starting (or going on) at d[0..n) of the feed,
** whose first byte is at stream offset pos; deliver it when whole. Returns
** the bytes consumed; on an error p->err is set and *from says where a
** resync would rescan. */
size_t wire_frame_take(wire_parser *p, const unsigned char *d, size_t n, uint64_t pos,
                       uint64_t *from);
/* Record a handler's error and stop expat. */
void wire_tree_fail(wire_parser *p, enum wire_status code, const char *text);

#endif
