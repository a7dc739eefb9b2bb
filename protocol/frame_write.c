/*
** frame_write.c
** Writing binary frames (docs/protocol.md 1.1): the header, and the tokens
** the element writers emit instead of XML while a frame is open. Values
** go out as their bytes with a length: nothing is escaped or scanned.
*/
#include <assert.h>
#include <string.h>

#include "wire_internal.h"

/* By code (enum wire_frame_code_t): the graph records' names first, they
** are nearly every name sent. */
const char *const wire_frame_names[] = {
  "xsbug", "graph", "n", "e", "r", "i", "k", "t", "nm", "s", "a", "v", "p",
  "m", "st", "src", "l", "c", "key", "id", "seq",
};
const unsigned char wire_frame_name_len[] = {
  5, 5, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 3, 1, 1, 3, 2, 3,
};
const unsigned wire_frame_nnames = sizeof wire_frame_names / sizeof *wire_frame_names;
_Static_assert(sizeof wire_frame_name_len == sizeof wire_frame_names / sizeof *wire_frame_names,
               "one length per dictionary name");
/* frame_read.c keeps a 32-bit mask of the dictionary names it has seen */
_Static_assert(sizeof wire_frame_name_len <= 32, "at most 32 dictionary names");
_Static_assert(sizeof wire_frame_name_len == WIRE_C_SEQ + 1, "a name for every code");

int wire_frame_code(const char *name, size_t n) {
  /* by length and first letter: the writers call this for every attribute */
  switch (n) {
  case 1:
    switch (name[0]) {
    case 'n': return WIRE_C_N;
    case 'e': return WIRE_C_E;
    case 'r': return WIRE_C_R;
    case 'i': return WIRE_C_I;
    case 'k': return WIRE_C_K;
    case 't': return WIRE_C_T;
    case 's': return WIRE_C_S;
    case 'a': return WIRE_C_A;
    case 'v': return WIRE_C_V;
    case 'p': return WIRE_C_P;
    case 'm': return WIRE_C_M;
    case 'l': return WIRE_C_L;
    case 'c': return WIRE_C_C;
    }
    return -1;
  case 2:
    if (name[0] == 'n' && name[1] == 'm') return WIRE_C_NM;
    if (name[0] == 's' && name[1] == 't') return WIRE_C_ST;
    if (name[0] == 'i' && name[1] == 'd') return WIRE_C_ID;
    return -1;
  case 3:
    if (memcmp(name, "src", 3) == 0) return WIRE_C_SRC;
    if (memcmp(name, "key", 3) == 0) return WIRE_C_KEY;
    if (memcmp(name, "seq", 3) == 0) return WIRE_C_SEQ;
    return -1;
  case 5:
    if (memcmp(name, "graph", 5) == 0) return WIRE_C_GRAPH;
    if (memcmp(name, "xsbug", 5) == 0) return WIRE_C_XSBUG;
    return -1;
  }
  return -1;
}

void wire_frame_byte(wire_buf *b, unsigned c) {
  if (WIRE_RESERVE(b, 1)) return;
  b->data[b->len++] = (char)c;
}

void wire_frame_len(wire_buf *b, size_t n) {
  if (WIRE_RESERVE(b, 10)) return;
  b->len = (size_t)(wire_frame_put_len(b->data + b->len, n) - b->data);
}

void wire_frame_name(wire_buf *b, const char *name, size_t n) {
  int code = wire_frame_code(name, n);
  if (code >= 0) {
    wire_frame_byte(b, 0x80u | (unsigned)code);
    return;
  }
  /* names are our own identifiers, never this long */
  assert(n >= 1 && n <= 127);
  if (WIRE_RESERVE(b, n + 1)) return;
  b->data[b->len] = (char)n;
  memcpy(b->data + b->len + 1, name, n);
  b->len += n + 1;
}

void wire_frame_attr(wire_buf *b, const char *name, size_t n, const void *v, size_t vlen) {
  int code = wire_frame_code(name, n);
  if (WIRE_RESERVE(b, n + vlen + 8)) return;
  if (code >= 0) {
    char *o = wire_frame_put_attr(b->data + b->len, (unsigned)code, v, vlen);
    b->len = (size_t)(o - b->data);
    return;
  }
  b->data[b->len++] = WIRE_T_ATTR;
  wire_frame_name(b, name, n);
  wire_frame_len(b, vlen);
  if (vlen > 0) memcpy(b->data + b->len, v, vlen);
  b->len += vlen;
}

void wire_frame_begin(wire_buf *b, int wrapped) {
  assert(!b->bin && "frames do not nest");
  if (WIRE_RESERVE(b, WIRE_FRAME_HEAD + 1)) return;
  b->data[b->len] = WIRE_FRAME_MARK;
  b->frame = b->len + 1;
  memset(b->data + b->frame, 0, 4);
  b->data[b->len + WIRE_FRAME_HEAD] = (char)(wrapped ? 1 : 0);
  b->len += WIRE_FRAME_HEAD + 1;
  b->bin = 1;
}

void wire_frame_end(wire_buf *b) {
  size_t n;
  unsigned char *o;
  assert(b->bin && "no frame is open");
  b->bin = 0;
  if (b->oom) return;
  n = b->len - b->frame - 4;
  if (n > UINT32_MAX) {
    /* cannot be said in the header: refuse rather than send garbage */
    b->oom = 1;
    return;
  }
  o = (unsigned char *)b->data + b->frame;
  o[0] = (unsigned char)n;
  o[1] = (unsigned char)(n >> 8);
  o[2] = (unsigned char)(n >> 16);
  o[3] = (unsigned char)(n >> 24);
}
