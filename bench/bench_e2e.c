/*
** bench_e2e.c
** End to end: a snapshot asked through the HTTP API of a real `amber serve`
** (forked) from a real amber-lua process, until the API reports it stored
** — VM pause + transfer + parse + ingest + commit — against the VM pause
** of alua_snapshot on the same heap in this process (the baseline). Also
** the server's peak RSS (VmHWM) per workload, against the idle server's.
** To show where the time goes, the same bytes are also imported from a
** capture file straight into a store (no sockets, no event loop), and
** replayed into the server over a socket as fast as it reads them (the
** server's path without the agent).
** Usage: bench_e2e [--quick] [NAME-FILTER]   (prints RESULT lines, medians)
*/
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "http_client.h"
#include "json.h"
#include "snapshot.h"
#include "store.h"

typedef struct workload {
  const char *name;
  const char *setup;   /* Lua code that builds global `data` */
  int runs;
  int quick;           /* part of --quick */
} workload;

static const workload workloads[] = {
  { "e2e_1e6_ints", "data = {} for i = 1, 1000000 do data[i] = i end", 5, 1 },
  { "e2e_1e5_nodes", "data = {} for i = 1, 50000 do "
    "data[i] = {x = i, y = i * 0.5, name = 'n' .. i} end", 5, 1 },
  { "e2e_1e6_nodes", "data = {} for i = 1, 500000 do "
    "data[i] = {x = i, y = i * 0.5, name = 'n' .. i} end", 3, 0 },
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
  struct timespec ts = { (time_t)(ms / 1000), (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6) };
  nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

/* VmHWM of process pid, in KiB (-1 if unreadable). */
static long vm_hwm_kb(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kb = atol(line + 6);
  if (f) fclose(f);
  return kb;
}

/* The baseline: alua_snapshot of the same heap, here, with binary frames
** as the agent sends them to amber's server. The last run's bytes, behind
** a login, become a capture file at capture. */
static double vm_pause(const workload *wl, uint64_t *nodes, const char *capture) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (luaL_dostring(L, wl->setup) != LUA_OK) {
    fprintf(stderr, "bench_e2e: %s\n", lua_tostring(L, -1));
    exit(1);
  }
  double t[9];
  const char *roots[] = { "path:data" };
  for (int r = 0; r < wl->runs; r++) {
    alua_request req;
    memset(&req, 0, sizeof req);
    req.id = 1;
    req.roots = roots;
    req.nroots = 1;
    req.binary = 1;
    wire_buf out;
    wire_buf_init(&out);
    alua_stats st;
    const char *err = NULL;
    if (alua_snapshot(L, &req, &out, &st, &err) != 0) {
      fprintf(stderr, "bench_e2e: alua_snapshot: %s\n", err ? err : "?");
      exit(1);
    }
    t[r] = st.pause_ms;
    *nodes = st.nodes;
    if (r == wl->runs - 1) {
      wire_buf login;
      wire_buf_init(&login);
      wire_msg_begin(&login);
      wire_open(&login, "login");
      wire_attr_str(&login, "name", "bench.lua");
      wire_attr_str(&login, "vm", "lua");
      wire_attr_str(&login, "features", "snapshot");
      wire_empty_end(&login);
      wire_msg_end(&login);
      FILE *f = fopen(capture, "wb");
      if (!f || fwrite(login.data, 1, login.len, f) != login.len ||
          fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0) {
        fprintf(stderr, "bench_e2e: cannot write %s\n", capture);
        exit(1);
      }
      wire_buf_free(&login);
    }
    wire_buf_free(&out);
  }
  lua_close(L);
  return median(t, wl->runs);
}

/* The same snapshot imported from a capture into a fresh store. */
static double import_ms(const char *capture, int runs) {
  double t[9];
  char db[PATH_MAX + 16];
  snprintf(db, sizeof db, "%s.db", capture);
  for (int r = 0; r < runs; r++) {
    unlink(db);
    store *st;
    char err[256];
    if (store_open(&st, db, 0, err, sizeof err) != STORE_OK) {
      fprintf(stderr, "bench_e2e: %s\n", err);
      exit(1);
    }
    int64_t *ids = NULL;
    size_t nids = 0;
    double t0 = now_ms();
    int rc = store_import_file(st, capture, &ids, &nids, NULL, NULL);
    t[r] = now_ms() - t0;
    free(ids);
    store_close(st);
    if (rc != STORE_OK) {
      fprintf(stderr, "bench_e2e: importing the capture failed (%s)\n", store_status_name(rc));
      exit(1);
    }
  }
  char p[PATH_MAX + 32];
  unlink(db);
  snprintf(p, sizeof p, "%s-wal", db);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", db);
  unlink(p);
  return median(t, runs);
}

typedef struct server {
  pid_t pid, lua;
  char url[64], db[PATH_MAX];
  int mport;
} server;

static int http_json(const server *s, const char *method, const char *path,
                     const char *body, json_doc **out) {
  http_reply r;
  *out = NULL;
  if (http_request(s->url, method, path, body, body ? strlen(body) : 0, NULL, 60000,
                   &r, NULL, 0) != HTTP_CLIENT_OK)
    return -1;
  int status = r.status;
  *out = json_parse(r.body.data ? r.body.data : "", r.body.len, NULL, 0);
  http_reply_free(&r);
  return *out ? status : -1;
}

static void start(server *s, const char *amber, const char *lua_path,
                  const workload *wl) {
  memset(s, 0, sizeof s[0]);
  s->mport = free_port();
  int hport = free_port();
  snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", hport);
  snprintf(s->db, sizeof s->db, "%s/amber-bench-e2e-%d.db",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  unlink(s->db);
  /* A fresh process (not a fork of this one, whose pages would count in
  ** its RSS). */
  s->pid = fork();
  if (s->pid == 0) {
    char mp[16], hp[16];
    snprintf(mp, sizeof mp, "%d", s->mport);
    snprintf(hp, sizeof hp, "%d", hport);
    execl(amber, amber, "serve", "--quiet", "--db", s->db, "--machines", mp, "--http",
          hp, (char *)NULL);
    _exit(127);
  }
  json_doc *d = NULL;
  for (int i = 0; i < 200 && http_json(s, "GET", "/api", NULL, &d) != 200; i++) {
    json_doc_free(d);
    d = NULL;
    sleep_ms(20);
  }
  json_doc_free(d);
  /* The machine: amber-lua builds the heap, says so, then keeps running
  ** Lua code so the agent's hook answers requests. */
  int fds[2];
  if (pipe(fds) != 0) exit(1);
  s->lua = fork();
  if (s->lua == 0) {
    char host[64], code[1024];
    snprintf(host, sizeof host, "127.0.0.1:%d", s->mport);
    setenv("XSBUG_HOST", host, 1);
    snprintf(code, sizeof code, "%s io.write('ready\\n') io.flush() "
             "while true do local x = 0 for i = 1, 10000 do x = x + i end end", wl->setup);
    dup2(fds[1], 1);
    close(fds[0]);
    execl(lua_path, lua_path, "-e", code, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char buf[16] = "";
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  if (n < 5 || strncmp(buf, "ready", 5) != 0) {
    fprintf(stderr, "bench_e2e: %s did not start\n", lua_path);
    exit(1);
  }
  for (int i = 0; i < 200; i++) {
    http_json(s, "GET", "/api/machines", NULL, &d);
    size_t count = d ? json_root(d)->count : 0;
    json_doc_free(d);
    if (count == 1) return;
    sleep_ms(20);
  }
  fprintf(stderr, "bench_e2e: the machine did not connect\n");
  exit(1);
}

static void stop(server *s) {
  kill(s->lua, SIGKILL);
  waitpid(s->lua, NULL, 0);
  kill(s->pid, SIGTERM);
  waitpid(s->pid, NULL, 0);
  char p[PATH_MAX + 8];
  unlink(s->db);
  snprintf(p, sizeof p, "%s-wal", s->db);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", s->db);
  unlink(p);
}

/* Fields 4 (ppid) and 14-17 (utime, stime, cutime, cstime) of
** /proc/pid/stat, counted after the command name's closing paren. */
static int proc_stat(pid_t pid, long long *ppid, long long *ticks) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  long long ut = 0, st = 0, cut = 0, cst = 0;
  if (!p || sscanf(p + 2, "%*c %lld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld %lld %lld",
                   ppid, &ut, &st, &cut, &cst) != 5)
    return -1;
  *ticks = ut + st + cut + cst;
  return 0;
}

/* CPU time, in clock ticks, of the process, its children that ended and
** those still running (the server analyses in a child, amber prepare). */
static long long cpu_ticks(pid_t pid) {
  long long ppid, total = 0, t;
  if (proc_stat(pid, &ppid, &total) != 0) return 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
        proc_stat((pid_t)atoi(e->d_name), &ppid, &t) == 0 && ppid == pid)
      total += t;
  if (d) closedir(d);
  return total;
}

/* Wait until the server has finished the background work of the last
** snapshot (indexing and analysis, by its workers' child processes): the
** CPU time of the server and its children stops growing for 100 ms. Returns the ms waited. Each measured snapshot then
** starts on an idle server, as a snapshot taken by a person would. */
static double wait_idle(const server *s) {
  double t0 = now_ms();
  long long last = cpu_ticks(s->pid);
  for (int still = 0; still < 2 && now_ms() - t0 < 60000;) {
    sleep_ms(50);
    long long now = cpu_ticks(s->pid);
    still = now == last ? still + 1 : 0;
    last = now;
  }
  return now_ms() - t0 - 100;
}

/* Snapshots listed (up to one page of 10000). */
static int64_t stored_count(const server *s) {
  json_doc *d;
  int64_t n = -1;
  if (http_json(s, "GET", "/api/snapshots?limit=0", NULL, &d) == 200)
    json_get_i64(json_root(d), "count", -1, &n);
  json_doc_free(d);
  return n;
}

/* Delete what the runs stored, so every run ingests into a database of
** the same size (as the import baseline does). */
static void forget_all(const server *s) {
  store *st;
  char err[256];
  if (store_open(&st, s->db, 0, err, sizeof err) != STORE_OK) {
    fprintf(stderr, "bench_e2e: %s\n", err);
    exit(1);
  }
  json_doc *d;
  if (http_json(s, "GET", "/api/snapshots?limit=0", NULL, &d) == 200)
    for (const json_value *v = json_get(json_root(d), "snapshots")->child; v; v = v->next) {
      int64_t id = -1;
      json_get_i64(v, "id", -1, &id);
      if (id > 0) store_snapshot_delete(st, id);
    }
  json_doc_free(d);
  store_close(st);
}

/* The capture's bytes sent to the machine port as one machine would send
** an unasked snapshot: ms from the first byte to the snapshot listed. */
static double replay(const server *s, const char *capture) {
  FILE *f = fopen(capture, "rb");
  if (!f) exit(1);
  int64_t before = stored_count(s);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)s->mport);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) exit(1);
  static char buf[1 << 16];
  size_t n;
  double t0 = now_ms();
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    for (size_t off = 0; off < n;) {
      ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
      if (w <= 0) exit(1);
      off += (size_t)w;
    }
  fclose(f);
  while (stored_count(s) <= before) sleep_ms(5);
  double t = now_ms() - t0;
  close(fd);
  return t;
}

/* One snapshot through the API: ms from the request to "done". */
static double one(const server *s, uint64_t *nodes) {
  json_doc *d;
  double t0 = now_ms();
  if (http_json(s, "POST", "/api/machines/1/snapshot", "{\"roots\":[\"data\"]}", &d) != 202) {
    fprintf(stderr, "bench_e2e: the snapshot request was refused\n");
    exit(1);
  }
  int64_t req = -1;
  json_get_i64(json_root(d), "id", -1, &req);
  json_doc_free(d);
  char path[64];
  snprintf(path, sizeof path, "/api/requests/%lld", (long long)req);
  for (;;) {
    if (http_json(s, "GET", path, NULL, &d) != 200) exit(1);
    const char *st = json_get_str(json_root(d), "state");
    if (st && strcmp(st, "done") == 0) {
      double t = now_ms() - t0;
      int64_t n = 0;
      json_get_i64(json_root(d), "nodes", 0, &n);
      *nodes = (uint64_t)n;
      json_doc_free(d);
      return t;
    }
    if (st && strcmp(st, "failed") == 0) {
      fprintf(stderr, "bench_e2e: the snapshot failed: %s\n",
              json_get_str(json_root(d), "error"));
      exit(1);
    }
    json_doc_free(d);
    /* Each look costs the server an HTTP request on its one thread. */
    sleep_ms(5);
  }
}

int main(int argc, char **argv) {
  int quick = 0;
  const char *filter = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = 1;
    else filter = argv[i];
  }
  signal(SIGPIPE, SIG_IGN);
  char exe[PATH_MAX], lua_path[PATH_MAX + 32], amber[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return 1;
  exe[n] = 0;
  *strrchr(exe, '/') = 0;
  snprintf(lua_path, sizeof lua_path, "%s/../amber-lua", exe);
  snprintf(amber, sizeof amber, "%s/../amber", exe);
  if (access(lua_path, X_OK) != 0 || access(amber, X_OK) != 0) {
    fprintf(stderr, "bench_e2e: %s or %s is missing; build them first\n", lua_path, amber);
    return 1;
  }
  /* peak RSS of the first workload with records and of the last, to show
  ** that it does not grow with the snapshot's size */
  double rss_small = 0, rss_big = 0;
  const char *small = NULL, *big = NULL;
  for (size_t w = 0; w < sizeof workloads / sizeof workloads[0]; w++) {
    const workload *wl = &workloads[w];
    if ((quick && !wl->quick) || (filter && !strstr(wl->name, filter))) continue;
    uint64_t vm_nodes = 0, nodes = 0;
    char capture[PATH_MAX];
    snprintf(capture, sizeof capture, "%s/amber-bench-e2e-%d.xsbug",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    double pause = vm_pause(wl, &vm_nodes, capture);
    double imp = import_ms(capture, wl->runs);
    server s;
    start(&s, amber, lua_path, wl);
    long idle_kb = vm_hwm_kb(s.pid);
    double t[9], tr[9], bg[9];
    for (int r = 0; r < wl->runs; r++) {
      t[r] = one(&s, &nodes);
      bg[r] = wait_idle(&s);
      forget_all(&s);
    }
    for (int r = 0; r < wl->runs; r++) {
      tr[r] = replay(&s, capture);
      wait_idle(&s);
      forget_all(&s);
    }
    long peak_kb = vm_hwm_kb(s.pid);
    stop(&s);
    unlink(capture);
    double e2e = median(t, wl->runs), rep = median(tr, wl->runs), back = median(bg, wl->runs);
    printf("RESULT name=%s metric=time value=%.1f unit=ms baseline=%.1f target=3 "
           "better=lower\n", wl->name, e2e, pause);
    printf("RESULT name=%s_server_path metric=time value=%.1f unit=ms baseline=%.1f\n",
           wl->name, rep, imp);
    printf("RESULT name=%s_background metric=time value=%.1f unit=ms\n", wl->name, back);
    printf("RESULT name=%s metric=peak_rss value=%.1f unit=MB baseline=%.1f\n", wl->name,
           peak_kb / 1024.0, idle_kb / 1024.0);
    if (strstr(wl->name, "nodes")) {
      if (!small) small = wl->name, rss_small = peak_kb / 1024.0;
      else big = wl->name, rss_big = peak_kb / 1024.0;
    }
    fprintf(stderr, "bench_e2e: %s: %llu nodes stored (%llu walked here); end to end "
            "%.1f ms = %.2fx the VM pause of %.1f ms; the same bytes replayed into "
            "the server %.1f ms, imported from a file %.1f ms; indexed and analysed "
            "in the background within %.0f ms after; server peak RSS %.1f "
            "MB (idle %.1f MB)\n", wl->name, (unsigned long long)nodes,
            (unsigned long long)vm_nodes, e2e, e2e / pause, pause, rep, imp, back,
            peak_kb / 1024.0, idle_kb / 1024.0);
    fflush(stdout);
  }
  if (small && big) {
    /* 10x the nodes: at most a quarter more memory */
    printf("RESULT name=e2e_rss_growth metric=peak_rss value=%.1f unit=MB "
           "baseline=%.1f target=1.25 better=lower\n", rss_big, rss_small);
    fprintf(stderr, "bench_e2e: server peak RSS %.1f MB for %s, %.1f MB for %s\n",
            rss_big, big, rss_small, small);
  }
  return 0;
}
