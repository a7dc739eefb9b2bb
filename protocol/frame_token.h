/*
** frame_token.h
** Reading the tokens of a binary frame's body (docs/protocol.md 1.1), shared
** by the two readers inside protocol/: frame_read.c, which builds message
** trees, and frame_graph.c, which reads graph batches record by record.
** Both check the same things in the same way, so a frame is accepted or
** refused, and at the same byte, whichever reads it.
*/
#ifndef AMBER_FRAME_TOKEN_H
#define AMBER_FRAME_TOKEN_H
#include "wire_internal.h"

/* A decoding error: its status, the body offset of the bad byte, why. */
typedef struct frame_error {
  enum wire_status code;
  size_t at;
  const char *why;
} frame_error;

static inline int frame_fail(frame_error *fe, enum wire_status code, size_t at,
                             const char *why) {
  fe->code = code;
  fe->at = at;
  fe->why = why;
  return -1;
}

/* LEB128 of at most 5 bytes (32 bits) at s[*i..n). Most lengths in a batch
** are one byte. */
static inline int frame_read_len(const unsigned char *s, size_t n, size_t *i, size_t *out) {
  uint64_t v = 0;
  unsigned k;
  if (*i < n && s[*i] < 0x80) {
    *out = s[(*i)++];
    return 0;
  }
  for (k = 0; k < 5; k++) {
    unsigned c;
    if (*i >= n) return -1;
    c = s[(*i)++];
    v |= (uint64_t)(c & 0x7F) << (7 * k);
    if ((c & 0x80) == 0) {
      if (v > UINT32_MAX) return -1;
      *out = (size_t)v;
      return 0;
    }
  }
  return -1;
}

static inline int frame_name_start(unsigned c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static inline int frame_name_char(unsigned c) {
  return frame_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* The rest of frame_read_name: a literal name, or an error. */
static int frame_read_literal(const unsigned char *s, size_t n, size_t *i, const char **name,
                              size_t *len, int *code, frame_error *fe) {
  size_t at = *i, k;
  unsigned c;
  if (at >= n) return frame_fail(fe, WIRE_ESYNTAX, at, "frame ends inside a name");
  c = s[at];
  if (c & 0x80) return frame_fail(fe, WIRE_ESYNTAX, at, "name code not in the dictionary");
  if (c == 0) return frame_fail(fe, WIRE_ESYNTAX, at, "empty name");
  if (n - at - 1 < c) return frame_fail(fe, WIRE_ESYNTAX, at, "frame ends inside a name");
  if (!frame_name_start(s[at + 1]))
    return frame_fail(fe, WIRE_ESYNTAX, at + 1, "name does not start with a letter, '_' or ':'");
  for (k = 2; k <= c; k++)
    if (!frame_name_char(s[at + k]))
      return frame_fail(fe, WIRE_ESYNTAX, at + k, "character not allowed in a name");
  if (wire_frame_code((const char *)s + at + 1, c) >= 0)
    return frame_fail(fe, WIRE_ESYNTAX, at, "literal name that the dictionary has: write its code");
  *code = -1;
  *name = (const char *)s + at + 1;
  *len = c;
  *i = at + 1 + c;
  return 0;
}

/* A name token: a dictionary name (static, NUL-terminated; *code gets its
** code) or a literal (*code = -1), which must be an ASCII XML name, so that
** the tree renders as XML, and not a dictionary name, so that each name has
** one spelling. Codes are nearly every name of a graph batch: they are
** read here, inline, and the rest out of line. */
static inline int frame_read_name(const unsigned char *s, size_t n, size_t *i,
                                  const char **name, size_t *len, int *code,
                                  frame_error *fe) {
  size_t at = *i;
  if (at < n && (s[at] & 0x80) && (s[at] & 0x7Fu) < wire_frame_nnames) {
    *code = s[at] & 0x7F;
    *name = wire_frame_names[*code];
    *len = wire_frame_name_len[*code];
    *i = at + 1;
    return 0;
  }
  return frame_read_literal(s, n, i, name, len, code, fe);
}

/* An attribute as it lies in the body. */
typedef struct frame_attr {
  const char *name, *value;
  size_t nlen, vlen;
  int code;     /* its dictionary code, or -1 for a literal name */
} frame_attr;

/* The attribute tokens that follow an element's name at s[*i..n), into
** fa[0..*na): at most WIRE_FRAME_MAX_ATTRS, values within lim->max_attr,
** no name twice. 0, or -1 with fe set. */
static inline int frame_read_attrs(const wire_limits *lim, const unsigned char *s, size_t n,
                                   size_t *i, frame_attr *fa, size_t *na, frame_error *fe) {
  uint32_t seen = 0; /* dictionary names among the attributes */
  size_t count = 0, k;
  while (*i < n && s[*i] == WIRE_T_ATTR) {
    size_t aat = (*i)++, vlen;
    frame_attr *a;
    if (count == WIRE_FRAME_MAX_ATTRS)
      return frame_fail(fe, WIRE_ESYNTAX, aat, "more than 64 attributes on one element");
    a = &fa[count];
    if (frame_read_name(s, n, i, &a->name, &a->nlen, &a->code, fe) != 0) return -1;
    if (frame_read_len(s, n, i, &vlen) != 0)
      return frame_fail(fe, WIRE_ESYNTAX, *i, "bad or truncated value length");
    if (vlen > lim->max_attr)
      return frame_fail(fe, WIRE_EATTR, *i, "attribute value longer than limits.max_attr");
    if (vlen > n - *i) return frame_fail(fe, WIRE_ESYNTAX, n, "frame ends inside an attribute value");
    a->value = (const char *)s + *i;
    a->vlen = vlen;
    *i += vlen;
    /* a name has one spelling, so codes and literals never clash */
    if (a->code >= 0) {
      if (seen & (UINT32_C(1) << a->code))
        return frame_fail(fe, WIRE_ESYNTAX, aat, "duplicate attribute");
      seen |= UINT32_C(1) << a->code;
    } else {
      for (k = 0; k < count; k++)
        if (fa[k].code < 0 && fa[k].nlen == a->nlen && memcmp(fa[k].name, a->name, a->nlen) == 0)
          return frame_fail(fe, WIRE_ESYNTAX, aat, "duplicate attribute");
    }
    count++;
  }
  *na = count;
  return 0;
}

/* A text token's length at s[*i..n) (the token byte already read), checked
** as the tree reader checks it; *i is left at the text's first byte. */
static inline int frame_read_text(const wire_limits *lim, const unsigned char *s, size_t n,
                                  size_t *i, size_t *len, frame_error *fe) {
  if (frame_read_len(s, n, i, len) != 0)
    return frame_fail(fe, WIRE_ESYNTAX, *i, "bad or truncated text length");
  if (*len > lim->max_attr) return frame_fail(fe, WIRE_EATTR, *i, "text longer than limits.max_attr");
  if (*len > n - *i) return frame_fail(fe, WIRE_ESYNTAX, n, "frame ends inside text");
  return 0;
}

/* Read graph batches record by record: body s[0..n), whose first item is a
** <graph>, through p's graph consumer (frame_graph.c). *next gets the body
** offset after the <graph> item. 0, or -1 with fe set; *stop is set if a
** consumer callback asked to stop. */
int wire_frame_graph(wire_parser *p, const unsigned char *s, size_t n, const wire_msg *m,
                     size_t *next, int *stop, frame_error *fe);
/* Build the items of body s[from..n) into a tree in p's arena, as the
** message m (frame_read.c). 0, or -1 with fe set. */
int wire_frame_decode(wire_parser *p, const unsigned char *s, size_t n, size_t from,
                      wire_msg *m, frame_error *fe);
/* An element with name and attributes fa[0..na), copied into p's arena,
** with no text and no children; NULL if out of memory. */
wire_elem *wire_frame_elem(wire_parser *p, const char *name, size_t nlen, int literal,
                           const frame_attr *fa, size_t na);

#endif
