/*
** buf.c
** wire_buf: the growable byte buffer every writer in protocol/ appends to.
** Out-of-memory is sticky (b->oom), so callers check once, at the end.
*/
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "wire_internal.h"

void wire_buf_init(wire_buf *b) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
  b->bin = 0;
  b->frame = b->mark = 0;
}

void wire_buf_free(wire_buf *b) {
  free(b->data);
  wire_buf_init(b);
}

/* Grow geometrically so appending n bytes one at a time costs O(n). Once oom
** is set every later reserve fails: a buffer never ends up with a hole. */
int wire_buf_reserve(wire_buf *b, size_t n) {
  size_t need, cap;
  char *p;
  if (b->oom) return -1;
  if (b->cap - b->len >= n) return 0;
  if (n > SIZE_MAX - b->len) { b->oom = 1; return -1; }
  need = b->len + n;
  cap = b->cap ? b->cap : 256;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) { cap = need; break; }
    cap *= 2;
  }
  p = realloc(b->data, cap);
  if (p == NULL) { b->oom = 1; return -1; }
  b->data = p;
  b->cap = cap;
  return 0;
}

void wire_buf_put(wire_buf *b, const void *p, size_t n) {
  if (n == 0 || WIRE_RESERVE(b, n) != 0) return;
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void wire_buf_puts(wire_buf *b, const char *s) {
  wire_buf_put(b, s, strlen(s));
}
