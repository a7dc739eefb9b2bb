/*
** test_serve_work.c
** The server's worker pool (serve_work.h) without a server: jobs run on
** worker threads with their own read-write connections, results come back
** only through the loop's deliver, waiting jobs pass background ones, and
** shutting down abandons what is queued. Also which API requests may run
** off the event loop (api_runs_off_loop), and that nothing else does.
*/
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "api.h"
#include "serve_work.h"

/* ---- a stand-in for the event loop ------------------------------------- */

/* What the "loop" (the test's main thread) and the jobs share. */
typedef struct loop {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  unsigned wakes;           /* wake() calls so far */
  int gate_open;            /* gate jobs wait for this */
  unsigned running;         /* jobs inside run() now */
  unsigned ran;             /* run() calls finished */
  char order[32];           /* names of the jobs in the order they ran */
  size_t norder;
} loop;

static loop L;
static pthread_t main_thread;
static char db_path[64];

static void wake(void *ud) {
  loop *l = ud;
  pthread_mutex_lock(&l->mu);
  l->wakes++;
  pthread_cond_broadcast(&l->cond);
  pthread_mutex_unlock(&l->mu);
}

static struct timespec deadline(int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
  return ts;
}

/* Wait (10 s at most) until the workers have woken the loop n times. */
static void wait_wakes(unsigned n) {
  struct timespec until = deadline(10000);
  pthread_mutex_lock(&L.mu);
  while (L.wakes < n && pthread_cond_timedwait(&L.cond, &L.mu, &until) == 0) {}
  unsigned got = L.wakes;
  pthread_mutex_unlock(&L.mu);
  assert_true(got >= n);
}

static void open_gate(void) {
  pthread_mutex_lock(&L.mu);
  L.gate_open = 1;
  pthread_cond_broadcast(&L.cond);
  pthread_mutex_unlock(&L.mu);
}

/* ---- a job that records where and how it ran ---------------------------- */

typedef struct test_job {
  serve_job job;
  char name;
  int gate;                 /* wait in run() until the gate opens */
  unsigned meet;            /* wait in run() until this many jobs run at once */
  /* written by run */
  int ran_on_worker;
  store *st;
  int writable;
  int met;                  /* meet was reached */
} test_job;

static void job_run(serve_job *sj, store *st) {
  test_job *j = (test_job *)sj;
  j->ran_on_worker = !pthread_equal(pthread_self(), main_thread);
  j->st = st;
  j->writable = sqlite3_db_readonly(store_db(st), "main") == 0;
  pthread_mutex_lock(&L.mu);
  L.running++;
  L.order[L.norder++] = j->name;
  pthread_cond_broadcast(&L.cond);
  struct timespec until = deadline(5000);
  while (j->gate && !L.gate_open &&
         pthread_cond_timedwait(&L.cond, &L.mu, &until) == 0) {}
  while (j->meet && L.running < j->meet &&
         pthread_cond_timedwait(&L.cond, &L.mu, &until) == 0) {}
  j->met = L.running >= j->meet;
  pthread_mutex_unlock(&L.mu);
  /* Stay until every job that should meet this one has seen it. */
  if (j->meet) usleep(50000);
  pthread_mutex_lock(&L.mu);
  L.running--;
  L.ran++;
  pthread_mutex_unlock(&L.mu);
}

/* Where each finished job's results go, by name ('a' + i). */
typedef struct result {
  int finished, ran, on_loop, ran_on_worker, writable, met;
  store *st;
} result;
static result results[16];

static void job_finish(serve_job *sj, int ran) {
  test_job *j = (test_job *)sj;
  result *r = &results[j->name - 'a'];
  r->finished++;
  r->ran = ran;
  r->on_loop = pthread_equal(pthread_self(), main_thread);
  r->ran_on_worker = j->ran_on_worker;
  r->writable = j->writable;
  r->met = j->met;
  r->st = j->st;
  free(j);
}

static serve_job *new_job(char name, int gate, unsigned meet) {
  test_job *j = calloc(1, sizeof *j);
  assert_non_null(j);
  j->job.run = job_run;
  j->job.finish = job_finish;
  j->name = name;
  j->gate = gate;
  j->meet = meet;
  return &j->job;
}

static serve_work *start(unsigned n) {
  char err[512];
  serve_work *w = serve_work_start(db_path, n, wake, &L, err, sizeof err);
  if (!w) fail_msg("serve_work_start: %s", err);
  return w;
}

static int setup(void **state) {
  (void)state;
  memset(&L, 0, sizeof L);
  pthread_mutex_init(&L.mu, NULL);
  pthread_cond_init(&L.cond, NULL);
  memset(results, 0, sizeof results);
  main_thread = pthread_self();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pthread_cond_destroy(&L.cond);
  pthread_mutex_destroy(&L.mu);
  return 0;
}

/* ---- tests: the pool ---------------------------------------------------- */

static void test_jobs_run_at_once_on_workers_with_their_own_connections(void **state) {
  (void)state;
  serve_work *w = start(2);
  /* Each waits until both run: only two threads at once can finish them. */
  serve_work_queue(w, new_job('a', 0, 2), 0);
  serve_work_queue(w, new_job('b', 0, 2), 0);
  wait_wakes(2);
  serve_work_deliver(w);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(results[i].finished, 1);
    assert_int_equal(results[i].ran, 1);
    assert_true(results[i].met);
    assert_true(results[i].ran_on_worker);
    assert_true(results[i].writable);   /* so the analysis cache is kept */
    assert_non_null(results[i].st);
  }
  assert_ptr_not_equal(results[0].st, results[1].st);
  serve_work_free(w);
}

static void test_results_come_back_only_through_deliver_on_the_loop(void **state) {
  (void)state;
  serve_work *w = start(2);
  serve_work_queue(w, new_job('a', 0, 0), 0);
  serve_work_queue(w, new_job('b', 0, 0), 1);
  wait_wakes(2);
  /* Done, but nothing is finished until the loop asks. */
  assert_int_equal(results[0].finished, 0);
  assert_int_equal(results[1].finished, 0);
  serve_work_deliver(w);
  assert_int_equal(results[0].finished, 1);
  assert_int_equal(results[1].finished, 1);
  assert_true(results[0].on_loop);
  assert_true(results[1].on_loop);
  serve_work_deliver(w);                  /* nothing twice */
  assert_int_equal(results[0].finished, 1);
  serve_work_free(w);
}

static void test_waiting_jobs_pass_background_ones(void **state) {
  (void)state;
  serve_work *w = start(1);
  serve_work_queue(w, new_job('a', 1, 0), 0);    /* holds the only worker */
  pthread_mutex_lock(&L.mu);
  while (L.running == 0) pthread_cond_wait(&L.cond, &L.mu);
  pthread_mutex_unlock(&L.mu);
  serve_work_queue(w, new_job('b', 0, 0), 1);
  serve_work_queue(w, new_job('c', 0, 0), 0);
  serve_work_queue(w, new_job('d', 0, 0), 1);
  serve_work_queue(w, new_job('e', 0, 0), 0);
  open_gate();
  wait_wakes(5);
  serve_work_deliver(w);
  assert_int_equal(L.norder, 5);
  assert_memory_equal(L.order, "acebd", 5);
  serve_work_free(w);
}

static void *open_gate_later(void *ud) {
  (void)ud;
  usleep(100000);
  open_gate();
  return NULL;
}

static void test_shutdown_joins_the_workers_and_abandons_what_is_queued(void **state) {
  (void)state;
  serve_work *w = start(1);
  serve_work_queue(w, new_job('a', 1, 0), 0);
  pthread_mutex_lock(&L.mu);
  while (L.running == 0) pthread_cond_wait(&L.cond, &L.mu);
  pthread_mutex_unlock(&L.mu);
  serve_work_queue(w, new_job('b', 0, 0), 0);
  serve_work_queue(w, new_job('c', 0, 0), 1);
  pthread_t t;
  pthread_create(&t, NULL, open_gate_later, NULL);
  serve_work_free(w);   /* returns once the running job ends */
  pthread_join(t, NULL);
  assert_int_equal(L.ran, 1);             /* only the one that had begun */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(results[i].finished, 1);
    assert_int_equal(results[i].ran, 0);  /* none is delivered */
    assert_true(results[i].on_loop);
  }
}

static void test_a_database_that_cannot_be_opened_starts_nothing(void **state) {
  (void)state;
  char err[512] = "";
  serve_work *w = serve_work_start("/nonexistent-dir/amber.db", 2, wake, &L, err,
                                   sizeof err);
  assert_null(w);
  assert_non_null(strstr(err, "cannot open"));
}

/* ---- tests: which requests run off the loop ----------------------------- */

static int off_loop(const char *method, const char *path) {
  api_request rq;
  memset(&rq, 0, sizeof rq);
  rq.method = method;
  rq.path = path;
  rq.body = "";
  return api_runs_off_loop(&rq);
}

static void test_only_heap_analyses_run_off_the_loop(void **state) {
  (void)state;
  assert_true(off_loop("GET", "/api/snapshots/3/summary"));
  assert_true(off_loop("GET", "/api/snapshots/3/top"));
  assert_true(off_loop("GET", "/api/snapshots/3/nodes/17/dominators"));
  assert_true(off_loop("GET", "/api/snapshots/3/nodes/17/paths"));
  assert_true(off_loop("GET", "/api/diff"));
  assert_true(off_loop("GET", "/api/leaks"));
  assert_true(off_loop("GET", "//api//snapshots/3/summary/"));  /* as routed */
  /* Fast reads, the machines, and anything not a GET stay on the loop. */
  assert_false(off_loop("GET", "/api"));
  assert_false(off_loop("GET", "/api/machines"));
  assert_false(off_loop("GET", "/api/machines/1"));
  assert_false(off_loop("GET", "/api/requests/1"));
  assert_false(off_loop("GET", "/api/snapshots"));
  assert_false(off_loop("GET", "/api/snapshots/3"));
  assert_false(off_loop("GET", "/api/snapshots/3/nodes/17"));
  assert_false(off_loop("GET", "/api/snapshots/3/nodes/17/retainers"));
  assert_false(off_loop("GET", "/api/snapshots/3/summary/extra"));
  assert_false(off_loop("GET", "/api/snapshots/summary"));
  assert_false(off_loop("GET", "/api/diff/1"));
  assert_false(off_loop("POST", "/api/diff"));
  assert_false(off_loop("POST", "/api/snapshots/3/restore"));
  assert_false(off_loop("GET", "/diff"));
  assert_false(off_loop("GET", "/api/snapshots/3/nodes/17/dominators/a/b/c"));
}

/* Off the loop the hub is NULL: a request that would need it is refused,
** never run. */
static void test_without_machines_other_requests_are_refused(void **state) {
  (void)state;
  store *st;
  char err[512];
  assert_int_equal(store_open(&st, db_path, 0, err, sizeof err), STORE_OK);
  api_ctx c;
  memset(&c, 0, sizeof c);
  c.st = st;
  static const char *const paths[] = { "/api", "/api/machines", "/api/requests",
                                       "/api/machines/1/log", NULL };
  for (int i = 0; paths[i]; i++) {
    api_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = "GET";
    rq.path = paths[i];
    rq.body = "";
    api_response rs;
    api_handle(&c, &rq, &rs);
    assert_int_equal(rs.status, 500);
    wire_buf_free(&rs.body);
  }
  /* An analysis answers (here: no such snapshot). */
  api_request rq;
  memset(&rq, 0, sizeof rq);
  rq.method = "GET";
  rq.path = "/api/snapshots/99/summary";
  rq.body = "";
  api_response rs;
  api_handle(&c, &rq, &rs);
  assert_int_equal(rs.status, 404);
  wire_buf_free(&rs.body);
  store_close(st);
}

int main(void) {
  snprintf(db_path, sizeof db_path, "/tmp/amber-test-work-%d.db", (int)getpid());
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_jobs_run_at_once_on_workers_with_their_own_connections, setup, teardown),
    cmocka_unit_test_setup_teardown(test_results_come_back_only_through_deliver_on_the_loop, setup, teardown),
    cmocka_unit_test_setup_teardown(test_waiting_jobs_pass_background_ones, setup, teardown),
    cmocka_unit_test_setup_teardown(test_shutdown_joins_the_workers_and_abandons_what_is_queued, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_database_that_cannot_be_opened_starts_nothing, setup, teardown),
    cmocka_unit_test(test_only_heap_analyses_run_off_the_loop),
    cmocka_unit_test_setup_teardown(test_without_machines_other_requests_are_refused, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char p[96];
  unlink(db_path);
  snprintf(p, sizeof p, "%s-wal", db_path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", db_path);
  unlink(p);
  return rc;
}
