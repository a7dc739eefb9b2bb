/*
** serve_prepare.c
** After each snapshot the server stores, a background job builds its
** lookup indexes and computes its analysis (`amber prepare`), so that
** retainers and searches use the indexes and the viewer's first summary,
** top list or dominator view reads kept results. The analysis loads the
** whole graph (about 75 bytes a node), so the job runs it in a child
** process: the server's memory does not grow with the snapshots it
** analyses, and a crash or a failed allocation there costs the job only.
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis.h"
#include "json.h"
#include "serve_impl.h"

extern char **environ;

typedef struct prepare_job {
  serve_job job;               /* first: the pool's part */
  int64_t snap;
  int quiet;
  const char *exe, *db_path;   /* the server's options outlive the pool */
  atomic_int child;            /* pid while the child runs, else 0 */
  /* written by the worker */
  int status, computed, kept, in_process;
  uint64_t ms;
  char err[512];
} prepare_job;

/* What the child wrote (its --json line on success, its error otherwise),
** read whole; at most n - 1 bytes are kept. */
static void read_all(int fd, char *buf, size_t n) {
  size_t len = 0;
  for (;;) {
    char tmp[512];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    size_t keep = (size_t)r < n - 1 - len ? (size_t)r : n - 1 - len;
    memcpy(buf + len, tmp, keep);
    len += keep;
  }
  buf[len] = '\0';
}

/* Run `amber prepare --json --db PATH SNAP` as a child of this very
** program and wait for it. 0 if it ran (j->status says how it went), -1
** if it could not be started (the caller then works in this process). */
static int run_child(prepare_job *j) {
  char id[32], out[1024];
  snprintf(id, sizeof id, "%lld", (long long)j->snap);
  char *argv[] = { "amber", "prepare", "--json", "--db", (char *)j->db_path, id, NULL };
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  /* the machines' and the clients' sockets stay with the server */
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_init(&at);
  /* workers block SIGINT and SIGTERM; the child must not inherit that */
  sigset_t none, dflt;
  sigemptyset(&none);
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGINT);
  sigaddset(&dflt, SIGTERM);
  sigaddset(&dflt, SIGPIPE);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &dflt);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int rc = posix_spawn(&pid, j->exe, &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }
  atomic_store(&j->child, (int)pid);
  read_all(fds[0], out, sizeof out);
  close(fds[0]);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
  atomic_store(&j->child, 0);

  /* stderr's reason (unbuffered) comes before stdout's JSON line */
  char *line = strstr(out, "{\"id\"");
  json_doc *d = line ? json_parse(line, strcspn(line, "\n"), NULL, 0) : NULL;
  const json_value *v = d ? json_root(d) : NULL;
  const char *status = v ? json_get_str(v, "status") : NULL;
  if (line) *line = '\0';
  out[strcspn(out, "\n")] = '\0';
  if (v && WIFEXITED(ws) && WEXITSTATUS(ws) == 0 && !status) {
    const json_value *c = json_get(v, "computed"), *k = json_get(v, "kept");
    int64_t ms = 0;
    json_get_i64(v, "ms", 0, &ms);
    j->status = STORE_OK;
    j->computed = c && c->type == JSON_TRUE;
    j->kept = k && k->type == JSON_TRUE;
    j->ms = (uint64_t)ms;
  } else if (status && strcmp(status, store_status_name(STORE_ENOTFOUND)) == 0) {
    /* deleted before its turn came: nothing to index or analyse */
    j->status = STORE_OK;
    j->quiet = 1;
  } else {
    j->status = STORE_EIO;
    if (WIFSIGNALED(ws))
      snprintf(j->err, sizeof j->err, "amber prepare was killed by signal %d%s%.400s",
               WTERMSIG(ws), out[0] ? ": " : "", out);
    else
      snprintf(j->err, sizeof j->err, "%.500s", out[0] ? out : "amber prepare "
               "failed without saying why");
  }
  json_doc_free(d);
  return 0;
}

/* The same work on this thread's connection, when no child can be had. */
static void run_here(prepare_job *j, store *st) {
  uint64_t t0 = serve_mono_ms();
  j->in_process = 1;
  j->status = store_index(st, j->snap, NULL, NULL);
  if (j->status == STORE_ENOTFOUND) {
    j->status = STORE_OK;
    j->quiet = 1;
    return;
  }
  if (j->status != STORE_OK) {
    snprintf(j->err, sizeof j->err, "indexing: %s", store_errmsg(st));
    return;
  }
  j->status = analysis_prepare(st, j->snap, &j->computed, j->err, sizeof j->err);
  j->ms = serve_mono_ms() - t0;
  j->kept = j->status == STORE_OK && analysis_kept(st, j->snap);
}

static void prepare_run(serve_job *sj, store *st) {
  prepare_job *j = (prepare_job *)sj;
  /* The loop's commits leave their pages in the WAL (STORE_INGEST):
  ** they are copied into the database here, off the snapshots' path. A
  ** failure only lets the WAL grow until the next checkpoint. */
  store_checkpoint(st);
  if (!j->exe || run_child(j) != 0) run_here(j, st);
}

static void prepare_interrupt(serve_job *sj) {
  prepare_job *j = (prepare_job *)sj;
  int pid = atomic_load(&j->child);
  if (pid > 0) kill((pid_t)pid, SIGTERM);
}

/* Say how it went (a failure even with --quiet); abandoned at shutdown,
** it says nothing: the first request computes it. */
static void prepare_finish(serve_job *sj, int ran) {
  prepare_job *j = (prepare_job *)sj;
  long long snap = (long long)j->snap;
  unsigned long long ms = (unsigned long long)j->ms;
  if (ran && j->status != STORE_OK)
    fprintf(stderr, "amber: analysing snapshot #%lld failed: %s\n", snap,
            j->err[0] ? j->err : store_status_name(j->status));
  else if (ran && !j->quiet && !j->kept)
    fprintf(stderr, "amber: snapshot #%lld analysed in %llu ms but not kept (the "
            "database was busy, or the snapshot is too large to keep): requests "
            "compute it again\n", snap, ms);
  else if (ran && !j->quiet && !j->computed)
    fprintf(stderr, "amber: snapshot #%lld was already analysed\n", snap);
  else if (ran && !j->quiet)
    fprintf(stderr, "amber: snapshot #%lld analysed in %llu ms%s: its summary, top "
            "list and dominators are ready\n", snap, ms,
            j->in_process && j->exe ? " (in the server: no child process could "
            "be started)" : "");
  free(j);
}

void serve_prepare_queue(serve_state *sv, int64_t snap) {
  if (!sv->work) return;
  prepare_job *j = calloc(1, sizeof *j);
  if (!j) return;              /* then the first request computes it */
  j->job.run = prepare_run;
  j->job.finish = prepare_finish;
  j->job.interrupt = prepare_interrupt;
  j->snap = snap;
  j->quiet = sv->o->quiet;
  j->exe = sv->o->prepare_exe;
  j->db_path = sv->o->db_path;
  serve_work_queue(sv->work, &j->job, 1);
}
