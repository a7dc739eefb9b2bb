/*
** walk_hash.c
** The snapshot's content hash (wire_hash_*), computed beside the walk. The
** hash is sequential and costs as much as writing the XML, so once a walk
** proves large, its records are copied into a queue and a helper thread
** hashes them while the walk goes on: the VM pause drops by that share on
** a machine with a second core. Small walks, or no thread, hash inline.
**
** What the records point at must not change or go away before the helper
** reads it. The walk never frees Lua objects and no Lua code runs; only an
** emergency collection (Lua runs one when an allocation fails, even with
** the collector stopped) could free objects, so while the helper runs the
** VM's allocator is wrapped: a failing allocation first waits until the
** helper has caught up. Node names, which may live in the encoder's stack
** buffers, are copied into the record.
*/
#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "walk.h"

/* Records hashed inline before a helper is worth starting (making a
** thread costs about what hashing a few hundred records does). */
#define INLINE_RECORDS 16384
/* Bytes of records handed over at a time, and per queue chunk. */
#define PUBLISH_BYTES (256 * 1024)
#define QCHUNK_BYTES (1024 * 1024)
/* Chunks the helper may lag behind by before the walk waits for it: the
** queue's memory stays bounded whatever the machine's load. */
#define MAX_INFLIGHT 32

typedef struct hq_chunk {
  struct hq_chunk *next;
  size_t len;           /* bytes of records written */
  char data[QCHUNK_BYTES];
} hq_chunk;

enum { REC_NODE = 1, REC_EDGE = 2, REC_RUN = 3 };

/* A run of "index" edges (most edges of a big heap) travels as the text
** of its values, as written to the wire, after the record: a few bytes an
** edge, and the helper hashes that text without formatting it again. */
typedef struct hq_run {
  int64_t first;
  size_t len;
} hq_run;

typedef struct hq_rec {
  uint32_t type, size;  /* size of the whole record, 8-aligned */
  union {
    wire_node node;     /* node.name, if any, follows the node */
    wire_edge edge;
    hq_run run;         /* the values' text follows */
  } u;
} hq_rec;

#define NODE_REC (offsetof(hq_rec, u) + sizeof(wire_node))
#define EDGE_REC ((offsetof(hq_rec, u) + sizeof(wire_edge) + 7) & ~(size_t)7)
#define RUN_REC (offsetof(hq_rec, u) + sizeof(hq_run))

typedef struct walk_hasher walk_hasher;

struct walk_hasher {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  hq_chunk *head, *tail;   /* the helper frees from head, the walk fills tail */
  hq_chunk *spare;         /* chunks the helper is done with, for reuse:
                              fresh memory would cost page faults */
  unsigned inflight;       /* chunks from head to tail */
  hq_chunk *pub_chunk;     /* published up to (pub_chunk, pub_len) */
  size_t pub_len;
  hq_chunk *done_chunk;    /* hashed up to (done_chunk, done_len) */
  size_t done_len;
  size_t unpublished;
  int finished;            /* the walk has published its last record */
  wire_hash hash;          /* owned by the helper while it runs */
  lua_Alloc alloc;         /* the VM's own allocator, wrapped meanwhile */
  void *alloc_ud;
};

/* ---- the helper ---------------------------------------------------- */

/* Hash the edges of a run from its values' text: canonical values, as
** wire_run_value wrote them, separated by single spaces. Only the text
** and the index are read, so the value in the edge is left unset. */
static void hash_run(wire_hash *h, int64_t index, const char *p, size_t len) {
  const char *end = p + len;
  wire_edge e;
  assert(len > 0);
  memset(&e, 0, sizeof e);
  e.kind = "index";
  e.has_index = 1;
  e.index = index;
  for (;;) {
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    wire_hash_edge_text(h, &e, p, (size_t)((sp ? sp : end) - p));
    if (sp == NULL) break;
    e.index++;  /* another value follows: the run's indices fit */
    p = sp + 1;
  }
}

static void hash_rec(wire_hash *h, hq_rec *r) {
  if (r->type == REC_NODE) {
    if (r->u.node.name) r->u.node.name = (const char *)r + NODE_REC;
    wire_hash_node(h, &r->u.node);
  } else if (r->type == REC_RUN) {
    hash_run(h, r->u.run.first, (const char *)r + RUN_REC, r->u.run.len);
  } else {
    wire_hash_edge(h, &r->u.edge);
  }
}

static void *helper_main(void *arg) {
  walk_hasher *q = arg;
  hq_chunk *c = q->head;
  size_t at = 0;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (!(q->pub_chunk != c || q->pub_len > at) && !q->finished)
      pthread_cond_wait(&q->cv, &q->mu);
    hq_chunk *pc = q->pub_chunk;
    size_t pl = q->pub_len;
    if (pc == c && pl == at && q->finished) break;
    pthread_mutex_unlock(&q->mu);
    /* records up to (pc, pl) are complete and will not move */
    for (;;) {
      size_t end = c == pc ? pl : c->len;
      while (at < end) {
        hq_rec *r = (hq_rec *)(c->data + at);
        hash_rec(&q->hash, r);
        at += r->size;
      }
      if (c == pc) break;
      c = c->next;
      at = 0;
    }
    pthread_mutex_lock(&q->mu);
    /* recycle the chunks wholly behind us; the walk only touches the tail */
    while (q->head != c) {
      hq_chunk *old = q->head;
      q->head = old->next;
      old->next = q->spare;
      q->spare = old;
      q->inflight--;
    }
    q->done_chunk = c;
    q->done_len = at;
    pthread_cond_broadcast(&q->cv);
  }
  q->done_chunk = c;
  q->done_len = at;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

/* ---- the walk's side ----------------------------------------------- */

static void publish(walk_hasher *q) {
  pthread_mutex_lock(&q->mu);
  q->pub_chunk = q->tail;
  q->pub_len = q->tail->len;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
  q->unpublished = 0;
}

/* Wait until the helper has hashed everything published. */
static void drain(walk_hasher *q) {
  publish(q);
  pthread_mutex_lock(&q->mu);
  while (q->done_chunk != q->pub_chunk || q->done_len != q->pub_len)
    pthread_cond_wait(&q->cv, &q->mu);
  pthread_mutex_unlock(&q->mu);
}

/* The VM's allocator while the helper runs: before Lua answers a failed
** allocation with an emergency collection, let the helper catch up. */
static void *guarded_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  walk *w = ud;
  walk_hasher *q = w->hasher;
  void *p = q->alloc(q->alloc_ud, ptr, osize, nsize);
  if (p == NULL && nsize > 0) drain(q);
  return p;
}

/* Room for a record of n bytes at the tail; NULL if out of memory. */
static hq_rec *reserve(walk_hasher *q, size_t n) {
  if (QCHUNK_BYTES - q->tail->len < n) {
    publish(q);  /* the old tail is complete */
    pthread_mutex_lock(&q->mu);
    while (q->inflight >= MAX_INFLIGHT) pthread_cond_wait(&q->cv, &q->mu);
    hq_chunk *c = q->spare;
    if (c) q->spare = c->next;
    pthread_mutex_unlock(&q->mu);
    if (c == NULL && (c = malloc(sizeof *c)) == NULL) return NULL;
    c->next = NULL;
    c->len = 0;
    /* the helper may be reading the old tail: link under the lock */
    pthread_mutex_lock(&q->mu);
    q->tail->next = c;
    q->inflight++;
    pthread_mutex_unlock(&q->mu);
    q->tail = c;
  }
  return (hq_rec *)(q->tail->data + q->tail->len);
}

static void commit(walk_hasher *q, size_t n) {
  q->tail->len += n;
  q->unpublished += n;
  if (q->unpublished >= PUBLISH_BYTES) publish(q);
}

/* Start the helper: 0, or -1 (then hashing simply stays inline). */
static int start(walk *w) {
  walk_hasher *q = calloc(1, sizeof *q);
  if (q == NULL) return -1;
  q->head = q->tail = q->pub_chunk = q->done_chunk = malloc(sizeof *q->head);
  if (q->head == NULL) {
    free(q);
    return -1;
  }
  q->head->next = NULL;
  q->head->len = 0;
  q->inflight = 1;
  q->hash = w->hash;
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
  /* the helper takes no signal meant for the host's threads */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&q->thread, NULL, helper_main, q);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q->head);
    free(q);
    return -1;
  }
  q->alloc = lua_getallocf(w->L, &q->alloc_ud);
  w->hasher = q;
  lua_setallocf(w->L, guarded_alloc, w);
  return 0;
}

/* Count records hashed inline; the helper starts once, when they reach
** INLINE_RECORDS (if it cannot, hashing stays inline for good). */
static void hashed_inline(walk *w, uint64_t n) {
  uint64_t before = w->hashed;
  w->hashed += n;
  if (before < INLINE_RECORDS && w->hashed >= INLINE_RECORDS) start(w);
}

void walk_hash_node(walk *w, const wire_node *n) {
  walk_hasher *q = w->hasher;
  if (q == NULL) {
    wire_hash_node(&w->hash, n);
    hashed_inline(w, 1);
    return;
  }
  size_t name = n->name ? n->name_len : 0;
  size_t size = (NODE_REC + name + 7) & ~(size_t)7;
  hq_rec *r = size <= QCHUNK_BYTES ? reserve(q, size) : NULL;
  if (r == NULL) {  /* cannot queue it: catch up, then hash it here */
    drain(q);
    wire_hash_node(&q->hash, n);
    return;
  }
  r->type = REC_NODE;
  r->size = (uint32_t)size;
  r->u.node = *n;
  if (n->name) memcpy((char *)r + NODE_REC, n->name, name);
  commit(q, size);
}

void walk_hash_edge(walk *w, const wire_edge *e) {
  walk_hasher *q = w->hasher;
  if (q == NULL) {
    wire_hash_edge(&w->hash, e);
    hashed_inline(w, 1);
    return;
  }
  size_t size = EDGE_REC;
  hq_rec *r = reserve(q, size);
  if (r == NULL) {
    drain(q);
    wire_hash_edge(&q->hash, e);
    return;
  }
  r->type = REC_EDGE;
  r->size = (uint32_t)size;
  r->u.edge = *e;
  commit(q, size);
}

void walk_hash_run(walk *w, int64_t first, size_t n, const char *text,
                   size_t len) {
  walk_hasher *q = w->hasher;
  if (q == NULL) {
    hash_run(&w->hash, first, text, len);
    hashed_inline(w, n);
    return;
  }
  size_t size = (RUN_REC + len + 7) & ~(size_t)7;
  hq_rec *r = size <= QCHUNK_BYTES ? reserve(q, size) : NULL;
  if (r == NULL) {
    drain(q);
    hash_run(&q->hash, first, text, len);
    return;
  }
  r->type = REC_RUN;
  r->size = (uint32_t)size;
  r->u.run.first = first;
  r->u.run.len = len;
  memcpy((char *)r + RUN_REC, text, len);
  commit(q, size);
}

void walk_hash_finish(walk *w) {
  walk_hasher *q = w->hasher;
  if (q == NULL) return;
  lua_setallocf(w->L, q->alloc, q->alloc_ud);
  publish(q);
  pthread_mutex_lock(&q->mu);
  q->finished = 1;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
  pthread_join(q->thread, NULL);
  w->hash = q->hash;
  for (int list = 0; list < 2; list++) {
    hq_chunk *c = list ? q->spare : q->head;
    while (c) {
      hq_chunk *n = c->next;
      free(c);
      c = n;
    }
  }
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->mu);
  free(q);
  w->hasher = NULL;
}
