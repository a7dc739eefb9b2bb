/*
** store_ingest_impl.h
** The ingest object shared by store_ingest.c (writing snapshots) and
** store_spool.c (holding a machine's items while another ingest writes).
*/
#ifndef AMBER_STORE_INGEST_IMPL_H
#define AMBER_STORE_INGEST_IMPL_H

#include <stdio.h>
#include "store_impl.h"

/* Requests remembered per ingest (store_ingest_request). */
#define INGEST_REQUESTS 8
/* Longest snapshot id attribute accepted. */
#define INGEST_MAX_ID 64
/* Item name of the abort marker written into a spool; only a replay reads
** it (store_ingest_direct ignores it from the wire). */
#define INGEST_ABORT_MARKER "amber-spool-abort"

enum ingest_state {
  IN_IDLE,    /* no snapshot open */
  IN_BEGUN,   /* snapshot-begin seen, transaction not yet started */
  IN_DIRECT,  /* writing rows of an open snapshot */
  IN_DISCARD  /* the open snapshot failed; its items are ignored */
};

typedef struct ingest_request {
  char *wire_id, *roots, *exits;
} ingest_request;

struct store_ingest {
  store *s;                        /* NULL once the store was closed */
  store_ingest *next_live, *prev_live;
  store_ingest *next_wait;
  /* The machine, from store_ingest_new or a login item. */
  char *m_name; size_t m_name_len;
  char *m_vm, *m_version;
  int64_t m_pid;
  ingest_request reqs[INGEST_REQUESTS];
  int next_req;
  store_done_fn done; void *done_ud;
  store_progress_fn progress; void *progress_ud;
  /* The open snapshot. */
  enum ingest_state state;
  char wire_id[INGEST_MAX_ID + 1];
  int64_t snap;
  uint64_t nodes, edges, bytes, batch;
  uint64_t max_ref;                /* one past the largest node referenced */
  uint64_t cur; int has_cur;       /* last node, for continuations */
  wire_hash hash;
  wire_buf scratch;                /* decoded payloads */
  /* Nodes collect packed in a page, edges in a chunk; each is stored as
  ** one row when full. The current node's edge count is written into its
  ** record when its last edge has arrived. */
  wire_buf pbuf;                   /* packed nodes not yet stored */
  uint64_t pfirst, pcount, pe0;    /* first node, count, its first edge */
  int pending;                     /* the last node in pbuf is current */
  size_t nedges_at;                /* where its edge count goes */
  uint64_t ne0;                    /* its first edge's position */
  wire_buf cbuf;                   /* packed edges not yet stored */
  uint64_t cstart, ccount;         /* first position and count in cbuf */
  store_edge_prev cprev;           /* the last edge in cbuf */
  char err[512];
  /* Lifetime: calls in progress, and whether the owner freed it. */
  int busy, dead;
  /* Spooling (store_spool.c). */
  int waiting;                     /* in the store's queue; items go to spool */
  int replaying;
  int spool_open;                  /* a spooled snapshot has not ended */
  int spool_broken;                /* writing the spool failed */
  uint64_t spool_complete;         /* spooled snapshots that ended */
  FILE *spool;
  wire_buf sbuf;
};

void store_ingest_enter(store_ingest *in);
int store_ingest_leave(store_ingest *in, int rc);
/* Handle an item now, as the writer. */
int store_ingest_direct(store_ingest *in, const wire_elem *e);
/* Replace the machine identity used for the next snapshots. */
int store_ingest_set_machine(store_ingest *in, const store_machine_info *m);
/* Tell the done callback / progress callback, if any. */
void store_ingest_report(store_ingest *in, int status, const char *message);
void store_ingest_report_progress(store_ingest *in);
/* Free for good, or once spooled complete snapshots are written. */
void store_ingest_destroy(store_ingest *in);
void store_ingest_unlink(store_ingest *in);
void store_ingest_release_memory(store_ingest *in);

/* store_spool.c */
int store_ingest_spool_begin(store_ingest *in, const wire_elem *e);
int store_ingest_spool_item(store_ingest *in, const wire_elem *e);
void store_ingest_spool_abort(store_ingest *in, const char *why);
/* Called when the owner frees a waiting ingest: 1 if the store keeps it
** to write complete spooled snapshots later, 0 if it can go now. */
int store_ingest_spool_orphan(store_ingest *in);

#endif
