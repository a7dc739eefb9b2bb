/*
** serve_work.h
** The server's worker pool: threads that run what would stall the event
** loop (heap analysis), each on its own connection to the database. Part
** of the serve room (serve_impl.h includes it); it knows nothing of HTTP.
*/
#ifndef AMBER_SERVE_WORK_H
#define AMBER_SERVE_WORK_H

#include <stddef.h>
#include "serve.h"
#include "store.h"

/* Work that would stall the event loop (heap analysis) runs on a few
** threads, each with its own read-write connection to the database. A job
** is queued by the loop thread, run on a worker, and handed back to the
** loop thread, which delivers its result. Only the queue handoff is shared
** between threads: run() touches nothing but its job and the worker's
** store; everything else about a job belongs to the loop thread. */
typedef struct serve_job serve_job;
struct serve_job {
  serve_job *next;                       /* the pool's lists */
  /* On a worker thread, with that worker's own store connection. */
  void (*run)(serve_job *j, store *st);
  /* On the loop thread, once: ran = 1 after run (deliver the result), 0
  ** when the pool shuts down first (or ran it but will not deliver).
  ** Frees the job. */
  void (*finish)(serve_job *j, int ran);
  /* Optional, on the loop thread while run() goes on at shutdown: make it
  ** return soon (for work that sqlite3_interrupt cannot reach). */
  void (*interrupt)(serve_job *j);
};

typedef struct serve_work serve_work;

/* Wakes the loop thread; called by a worker after a job is done (for the
** server: lws_cancel_service, so serve_work_deliver runs soon). */
typedef void (*serve_wake_fn)(void *ud);

/* Open nthreads connections to db_path (read-write, WAL, like the
** server's own) and start a thread for each (0: SERVE_WORKERS_DEFAULT, at
** most SERVE_WORKERS_MAX). NULL with a message in err[errlen] on failure
** (nothing is left running). */
serve_work *serve_work_start(const char *db_path, unsigned nthreads,
                             serve_wake_fn wake, void *wake_ud, char *err,
                             size_t errlen);
/* Queue j (the pool owns it until its finish). Jobs for someone waiting
** (background 0) run before background ones; each kind in order. */
void serve_work_queue(serve_work *w, serve_job *j, int background);
/* On the loop thread: finish(j, 1) every job done since the last call. */
void serve_work_deliver(serve_work *w);
/* Stop: interrupt what the workers are running, join them, finish(j, 0)
** every job not yet delivered, close the connections, free the pool. */
void serve_work_free(serve_work *w);

#endif
