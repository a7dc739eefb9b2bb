/*
** walk_store.c
** C-side storage of the Lua heap walk: byte arenas, the queue of nodes
** waiting to be written, and prototypes deduplicated by their bytecode.
** Nothing here allocates inside the VM.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "walk.h"

/* ---- arenas -------------------------------------------------------- */

#define CHUNK_BYTES (256 * 1024)

const char *walk_arena_put(walk_arena *a, const void *p, size_t n) {
  walk_chunk *c = a->last;
  if (c == NULL || c->cap - c->len < n + 1) {
    size_t cap = n + 1 > CHUNK_BYTES ? n + 1 : CHUNK_BYTES;
    if (cap == CHUNK_BYTES && a->spare) {
      c = a->spare;  /* reuse: a fresh chunk would cost page faults */
      a->spare = NULL;
    } else {
      c = malloc(sizeof *c + cap);
      if (c == NULL) return NULL;
    }
    c->next = NULL;
    c->len = 0;
    c->cap = cap;
    if (a->last) a->last->next = c; else a->first = c;
    a->last = c;
    a->bytes += cap;
  }
  char *d = c->data + c->len;
  if (n) memcpy(d, p, n);
  d[n] = '\0';  /* names are used as C strings too */
  c->len += n + 1;
  return d;
}

void walk_arena_release_before(walk_arena *a, const char *p) {
  walk_chunk *c;
  while ((c = a->first) != NULL && c != a->last &&
         !(p >= c->data && p < c->data + c->cap)) {
    a->first = c->next;
    a->bytes -= c->cap;
    if (a->spare == NULL && c->cap == CHUNK_BYTES) a->spare = c;
    else free(c);
  }
}

void walk_arena_free(walk_arena *a) {
  walk_chunk *c = a->first;
  while (c) {
    walk_chunk *n = c->next;
    free(c);
    c = n;
  }
  free(a->spare);
  memset(a, 0, sizeof *a);
}

/* A word-at-a-time multiply-xorshift hash; bytecode dumps are compared
** exactly after a match, so this only needs to spread well. */
uint64_t walk_hash_bytes(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0x243F6A8885A308D3u ^ (uint64_t)n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDu;
    h ^= h >> 32;
    s += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, s, n);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53u;
  return h ^ (h >> 33);
}

/* ---- the node queue ------------------------------------------------ */

walk_item *walk_item_new(walk *w, enum walk_kind kind, uint64_t addr) {
  if (w->qtail == w->qcap) {
    if (w->qhead > w->qcap / 2) {  /* slide the live part down */
      memmove(w->items, w->items + w->qhead,
              (w->qtail - w->qhead) * sizeof *w->items);
      w->qtail -= w->qhead;
      w->qhead = 0;
    } else {
      size_t ncap = w->qcap ? w->qcap * 2 : 4096;
      walk_item *ni = realloc(w->items, ncap * sizeof *ni);
      if (ni == NULL) return NULL;
      w->items = ni;
      w->qcap = ncap;
    }
  }
  walk_item *it = &w->items[w->qtail++];
  memset(it, 0, sizeof *it);
  it->kind = (uint8_t)kind;
  it->addr = addr;
  w->next_id++;
  return it;
}

/* ---- prototypes ---------------------------------------------------- */

static int protoidx_grow(walk *w) {
  size_t ncap = w->protoidxcap ? w->protoidxcap * 2 : 256;
  uint32_t *ni = malloc(ncap * sizeof *ni);
  if (ni == NULL) return -1;
  for (size_t i = 0; i < ncap; i++) ni[i] = UINT32_MAX;
  for (size_t k = 0; k < w->nprotos; k++) {
    size_t j = (size_t)w->protos[k].hash & (ncap - 1);
    while (ni[j] != UINT32_MAX) j = (j + 1) & (ncap - 1);
    ni[j] = (uint32_t)k;
  }
  free(w->protoidx);
  w->protoidx = ni;
  w->protoidxcap = ncap;
  return 0;
}

uint64_t walk_proto_find(walk *w) {
  /* Closures of one prototype tend to come together (a table of them):
  ** the one met last is compared before anything is hashed. */
  if (w->nprotos) {
    const walk_proto *last = &w->protos[w->lastproto];
    if (last->len == w->dumplen && memcmp(last->dump, w->dump, last->len) == 0)
      return last->id;
  }
  w->dumphash = walk_hash_bytes(w->dump, w->dumplen);
  if (w->protoidxcap == 0) return UINT64_MAX;
  size_t mask = w->protoidxcap - 1, j = (size_t)w->dumphash & mask;
  for (; w->protoidx[j] != UINT32_MAX; j = (j + 1) & mask) {
    const walk_proto *p = &w->protos[w->protoidx[j]];
    if (p->hash == w->dumphash && p->len == w->dumplen &&
        memcmp(p->dump, w->dump, p->len) == 0) {
      w->lastproto = w->protoidx[j];
      return p->id;
    }
  }
  return UINT64_MAX;
}

uint64_t walk_proto_add(walk *w, const char *src, size_t srclen, int line) {
  uint64_t h = w->dumphash;
  if ((w->nprotos + 1) * 2 > w->protoidxcap && protoidx_grow(w) != 0)
    return UINT64_MAX;
  size_t mask = w->protoidxcap - 1, j = (size_t)h & mask;
  while (w->protoidx[j] != UINT32_MAX) j = (j + 1) & mask;
  if (w->nprotos == w->protocap) {
    size_t ncap = w->protocap ? w->protocap * 2 : 64;
    walk_proto *np = realloc(w->protos, ncap * sizeof *np);
    if (np == NULL) return UINT64_MAX;
    w->protos = np;
    w->protocap = ncap;
  }
  walk_proto *p = &w->protos[w->nprotos];
  p->hash = h;
  p->len = w->dumplen;
  p->dump = walk_arena_put(&w->keep, w->dump, w->dumplen);
  p->src = src ? walk_arena_put(&w->keep, src, srclen) : NULL;
  p->srclen = srclen;
  p->line = line;
  if (p->dump == NULL || (src && p->src == NULL)) return UINT64_MAX;
  walk_item *it = walk_item_new(w, WALK_PROTO, 0);
  if (it == NULL) return UINT64_MAX;
  it->u.proto = (uint32_t)w->nprotos;
  p->id = w->next_id - 1;
  w->lastproto = (uint32_t)w->nprotos;
  w->protoidx[j] = (uint32_t)w->nprotos++;
  return p->id;
}
