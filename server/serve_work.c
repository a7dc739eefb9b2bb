/*
** serve_work.c
** The server's worker pool: a queue guarded by one mutex, a few threads
** that each own a read-write store connection, and a done list that the
** loop thread drains after a wake-up.
*/
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_work.h"

/* A FIFO of jobs linked through serve_job.next. */
typedef struct job_list {
  serve_job *head, *tail;
} job_list;

typedef struct worker {
  struct serve_work *pool;
  store *st;                   /* this thread's own connection */
  serve_job *running;          /* guarded by the pool's mu */
  pthread_t thread;
  int started;
} worker;

struct serve_work {
  pthread_mutex_t mu;          /* guards the three lists and stopping; the
                               ** rest is set before the threads start */
  pthread_cond_t more;         /* a job was queued, or stopping was set */
  job_list now, background;    /* queued: someone waits / no one waits */
  job_list done;               /* run, not yet delivered */
  int stopping;
  serve_wake_fn wake;
  void *wake_ud;
  unsigned n;
  worker workers[];
};

static void list_push(job_list *l, serve_job *j) {
  j->next = NULL;
  if (l->tail) l->tail->next = j;
  else l->head = j;
  l->tail = j;
}

static serve_job *list_pop(job_list *l) {
  serve_job *j = l->head;
  if (j) {
    l->head = j->next;
    if (!l->head) l->tail = NULL;
    j->next = NULL;
  }
  return j;
}

/* Take the whole list, leaving it empty. */
static job_list list_take(job_list *l) {
  job_list all = *l;
  l->head = l->tail = NULL;
  return all;
}

static void *worker_main(void *ud) {
  worker *me = ud;
  serve_work *w = me->pool;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->stopping && !w->now.head && !w->background.head)
      pthread_cond_wait(&w->more, &w->mu);
    if (w->stopping) break;
    serve_job *j = list_pop(&w->now);
    if (!j) j = list_pop(&w->background);
    me->running = j;
    pthread_mutex_unlock(&w->mu);
    j->run(j, me->st);
    pthread_mutex_lock(&w->mu);
    me->running = NULL;
    list_push(&w->done, j);
    pthread_mutex_unlock(&w->mu);
    /* The loop outlives the workers (serve_work_free joins them before
    ** the server tears the loop down), so waking it here is safe. */
    w->wake(w->wake_ud);
    pthread_mutex_lock(&w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* Finish every job of l as abandoned. */
static void abandon(job_list l) {
  serve_job *j;
  while ((j = list_pop(&l))) j->finish(j, 0);
}

serve_work *serve_work_start(const char *db_path, unsigned nthreads,
                             serve_wake_fn wake, void *wake_ud, char *err,
                             size_t errlen) {
  if (nthreads == 0) nthreads = SERVE_WORKERS_DEFAULT;
  if (nthreads > SERVE_WORKERS_MAX) nthreads = SERVE_WORKERS_MAX;
  serve_work *w = calloc(1, sizeof *w + nthreads * sizeof(worker));
  if (!w) {
    snprintf(err, errlen, "out of memory starting the workers");
    return NULL;
  }
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->more, NULL);
  w->wake = wake;
  w->wake_ud = wake_ud;
  w->n = nthreads;
  /* Connections are opened here, on the caller's thread: store_open is
  ** not meant to race with itself. Each is then used by one thread only. */
  for (unsigned i = 0; i < nthreads; i++) {
    w->workers[i].pool = w;
    char why[400];
    if (store_open(&w->workers[i].st, db_path, 0, why, sizeof why) != STORE_OK) {
      snprintf(err, errlen, "a worker cannot open the database: %s", why);
      serve_work_free(w);
      return NULL;
    }
  }
  /* SIGINT and SIGTERM must reach the loop thread, whose poll they cut
  ** short: the workers inherit a mask that blocks them. */
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  int rc = 0;
  for (unsigned i = 0; i < nthreads && !rc; i++) {
    rc = pthread_create(&w->workers[i].thread, NULL, worker_main, &w->workers[i]);
    w->workers[i].started = rc == 0;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) {
    snprintf(err, errlen, "cannot start a worker thread: %s", strerror(rc));
    serve_work_free(w);
    return NULL;
  }
  return w;
}

void serve_work_queue(serve_work *w, serve_job *j, int background) {
  pthread_mutex_lock(&w->mu);
  list_push(background ? &w->background : &w->now, j);
  pthread_cond_signal(&w->more);
  pthread_mutex_unlock(&w->mu);
}

void serve_work_deliver(serve_work *w) {
  pthread_mutex_lock(&w->mu);
  job_list done = list_take(&w->done);
  pthread_mutex_unlock(&w->mu);
  /* Outside the lock: finish may queue more work. */
  serve_job *j;
  while ((j = list_pop(&done))) j->finish(j, 1);
}

void serve_work_free(serve_work *w) {
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_cond_broadcast(&w->more);
  /* A long scan stops at its next step instead of running to its end
  ** (the job then fails; it is abandoned anyway). The connections stay
  ** open until the threads are joined, as sqlite3_interrupt requires. */
  for (unsigned i = 0; i < w->n; i++) {
    worker *k = &w->workers[i];
    if (k->started) sqlite3_interrupt(store_db(k->st));
    if (k->running && k->running->interrupt) k->running->interrupt(k->running);
  }
  pthread_mutex_unlock(&w->mu);
  for (unsigned i = 0; i < w->n; i++)
    if (w->workers[i].started) pthread_join(w->workers[i].thread, NULL);
  /* No thread is left: the lists are the caller's alone now. */
  abandon(list_take(&w->done));
  abandon(list_take(&w->now));
  abandon(list_take(&w->background));
  for (unsigned i = 0; i < w->n; i++) store_close(w->workers[i].st);
  pthread_cond_destroy(&w->more);
  pthread_mutex_destroy(&w->mu);
  free(w);
}
