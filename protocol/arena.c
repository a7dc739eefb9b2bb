/*
** arena.c
** A bump allocator for one parsed message: the tree of elements, attributes
** and strings is freed in one step when the message has been delivered.
*/
#include <assert.h>
#include <stdlib.h>

#include "wire_internal.h"

struct wire_arena_block {
  wire_arena_block *next;
  size_t size, used;
  /* data follows, aligned like the struct's largest member */
  uint64_t data[];
};

#define ARENA_BLOCK 65536
#define ARENA_ALIGN 8

void wire_arena_init(wire_arena *a) {
  a->head = NULL;
  a->used = 0;
  a->held = 0;
}

void *wire_arena_alloc(wire_arena *a, size_t n) {
  wire_arena_block *blk = a->head;
  void *p;
  if (n > SIZE_MAX / 2) return NULL;
  n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (blk == NULL || blk->size - blk->used < n) {
    size_t size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
    blk = malloc(sizeof *blk + size);
    if (blk == NULL) return NULL;
    blk->size = size;
    blk->used = 0;
    if (size > ARENA_BLOCK && a->head != NULL) {
      /* a big object gets a block of its own behind the current one, so the
      ** current block's free space stays usable */
      blk->next = a->head->next;
      a->head->next = blk;
    } else {
      blk->next = a->head;
      a->head = blk;
    }
    a->held += sizeof *blk + size;
  }
  p = (char *)blk->data + blk->used;
  blk->used += n;
  a->used += n;
  return p;
}

char *wire_arena_peek(wire_arena *a, size_t *room) {
  wire_arena_block *blk = a->head;
  if (blk == NULL) { *room = 0; return NULL; }
  *room = blk->size - blk->used;
  return (char *)blk->data + blk->used;
}

void wire_arena_commit(wire_arena *a, size_t n) {
  assert(a->head != NULL && a->head->size - a->head->used >= n);
  n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (n > a->head->size - a->head->used) n = a->head->size - a->head->used;
  a->head->used += n;
  a->used += n;
}

void wire_arena_reset(wire_arena *a) {
  wire_arena_block *keep = NULL, *b = a->head, *next;
  a->held = 0;
  for (; b != NULL; b = next) {
    next = b->next;
    if (keep == NULL && b->size == ARENA_BLOCK) {
      keep = b;
      keep->used = 0;
      keep->next = NULL;
      a->held = sizeof *b + b->size;
    } else {
      free(b);
    }
  }
  a->head = keep;
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
