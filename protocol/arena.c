/*
** arena.c
** A bump allocator for one parsed message: the tree of elements, attributes
** and strings is freed in one step when the message has been delivered.
** The bump itself is inline (wire_internal.h); blocks are managed here.
*/
#include <stdlib.h>

#include "wire_internal.h"

struct wire_arena_block {
  wire_arena_block *next;
  size_t size;
  /* data follows, aligned like the struct's largest member */
  uint64_t data[];
};

#define ARENA_BLOCK 65536

void wire_arena_init(wire_arena *a) {
  a->head = NULL;
  a->cur = a->lim = NULL;
  a->used = 0;
  a->held = 0;
}

void *wire_arena_alloc_slow(wire_arena *a, size_t n) {
  wire_arena_block *blk;
  size_t size;
  if (n > SIZE_MAX / 2) return NULL;
  n = (n + WIRE_ARENA_ALIGN - 1) & ~(size_t)(WIRE_ARENA_ALIGN - 1);
  if (a->cur != NULL && (size_t)(a->lim - a->cur) >= n) {
    /* wire_arena_alloc sends only what does not fit; kept for safety */
    void *p = a->cur;
    a->cur += n;
    a->used += n;
    return p;
  }
  size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
  blk = malloc(sizeof *blk + size);
  if (blk == NULL) return NULL;
  blk->size = size;
  a->held += sizeof *blk + size;
  a->used += n;
  if (size > ARENA_BLOCK && a->head != NULL) {
    /* a big object gets a block of its own behind the current one, so the
    ** current block's free space stays usable */
    blk->next = a->head->next;
    a->head->next = blk;
    return blk->data;
  }
  blk->next = a->head;
  a->head = blk;
  a->cur = (char *)blk->data + n;
  a->lim = (char *)blk->data + size;
  return blk->data;
}

void wire_arena_reset(wire_arena *a) {
  wire_arena_block *keep = NULL, *b = a->head, *next;
  a->held = 0;
  for (; b != NULL; b = next) {
    next = b->next;
    if (keep == NULL && b->size == ARENA_BLOCK) {
      keep = b;
      keep->next = NULL;
      a->held = sizeof *b + b->size;
    } else {
      free(b);
    }
  }
  a->head = keep;
  a->cur = keep != NULL ? (char *)keep->data : NULL;
  a->lim = keep != NULL ? (char *)keep->data + keep->size : NULL;
  a->used = 0;
}

void wire_arena_free(wire_arena *a) {
  wire_arena_block *b = a->head, *next;
  for (; b != NULL; b = next) {
    next = b->next;
    free(b);
  }
  wire_arena_init(a);
}
