/*
** test_server_machine.c
** A fake machine for the server's end-to-end tests, and cmocka tests that
** run a real `amber serve` (forked) against it. Modes:
**   test_server_machine                      run the tests below
**   test_server_machine free-port            print a free loopback port
**   test_server_machine fake-machine OPTS    connect and behave (see usage)
**   test_server_machine json-get PATH        print a value of the JSON on stdin
**   test_server_machine capture FILE NODES …  write a capture file
**   test_server_machine http-leave PORT PATH MS  ask, wait, reset the connection
*/
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "api.h"
#include "http_client.h"
#include "json.h"
#include "serve.h"
#include "test_server_graph.h"
#include "wire.h"

/* ---- helpers ------------------------------------------------------------ */

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int connect_port(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* ---- the fake machine ---------------------------------------------------- */

typedef struct fm_opts {
  int port;
  const char *name, *features, *log;
  uint64_t nodes;
  size_t batch;
  long die_after_batches;    /* close the socket after this many batches (-1 never) */
  long batch_delay_ms;
  int malformed, stall, snapshot_error, parked;
  int die_on_graph;          /* close the socket at the first restore batch */
  long exit_after;           /* exit after this many snapshots (0 never) */
} fm_opts;

typedef struct fm {
  const fm_opts *o;
  int fd;
  long batches, snapshots;
  int quit;
} fm;

static int fm_emit(void *ud, const char *p, size_t n, int kind) {
  fm *m = ud;
  if (kind == 1 && m->o->die_after_batches >= 0 && m->batches >= m->o->die_after_batches) {
    printf("dying midway after %ld batches\n", m->batches);
    fflush(stdout);
    close(m->fd);
    _exit(0);
  }
  /* --snapshot-error: one batch, then give up as an agent that fails would. */
  if (kind == 1 && m->o->snapshot_error && m->batches >= 1) return 1;
  if (send_all(m->fd, p, n) != 0) return 1;
  if (kind == 1) {
    m->batches++;
    if (m->o->batch_delay_ms) sleep_ms(m->o->batch_delay_ms);
  }
  if (kind == 0 && m->o->stall) {
    printf("stalling after snapshot-begin\n");
    fflush(stdout);
    for (;;) sleep_ms(1000);
  }
  return 0;
}

static void fm_snapshot(fm *m, const char *id, const wire_elem *req) {
  size_t label_len = 0;
  const char *label = wire_get(req, "label", &label_len);
  tsg_opts o = { m->o->nodes, m->o->batch, id, label, label_len, NULL };
  m->batches = 0;
  int stopped = tsg_snapshot(&o, fm_emit, m);
  if (stopped && m->o->snapshot_error) {
    wire_buf b;
    wire_buf_init(&b);
    wire_msg_begin(&b);
    wire_open(&b, "snapshot-error");
    wire_attr_str(&b, "id", id);
    wire_attr_str(&b, "text", "the walk ran out of memory");
    wire_empty_end(&b);
    wire_msg_end(&b);
    send_all(m->fd, b.data, b.len);
    wire_buf_free(&b);
  }
  m->snapshots++;
  printf("snapshot %s sent (%llu nodes)\n", id, (unsigned long long)m->o->nodes);
  fflush(stdout);
  if (m->o->exit_after && m->snapshots >= m->o->exit_after) m->quit = 1;
}

static int fm_on_message(void *ud, const wire_msg *msg) {
  fm *m = ud;
  for (const wire_elem *e = msg->items; e; e = e->next) {
    size_t len;
    if (strcmp(e->name, "snapshot") == 0) {
      const char *id = wire_get(e, "id", &len);
      printf("command snapshot id=%s", id ? id : "?");
      for (const wire_elem *c = e->children; c; c = c->next) {
        const char *v = wire_get(c, "name", &len);
        if (!v) v = wire_get(c, "path", &len);
        printf(" %s=%s", c->name, v ? v : "?");
      }
      printf("\n");
      fflush(stdout);
      fm_snapshot(m, id ? id : "0", e);
    } else if (strcmp(e->name, "logout") == 0) {
      printf("command logout\n");
      m->quit = 1;
    } else if (strcmp(e->name, "graph") == 0 && m->o->die_on_graph) {
      printf("dying at the first restore batch\n");
      m->quit = 1;
      break;
    } else {
      const char *id = wire_get(e, "id", &len);
      const char *path = wire_get(e, "path", &len);
      const char *line = wire_get(e, "line", &len);
      printf("command %s", e->name);
      if (id) printf(" id=%s", id);
      if (path) printf(" path=%s", path);
      if (line) printf(" line=%s", line);
      for (const wire_elem *c = e->children; c; c = c->next) {
        const char *p = wire_get(c, "path", &len), *l = wire_get(c, "line", &len);
        printf(" %s=%s:%s", c->name, p ? p : "?", l ? l : "?");
      }
      printf("\n");
    }
    fflush(stdout);
  }
  return 0;
}

/* A break with frames, locals and globals, as an xsbug machine sends it. */
static void fm_park(wire_buf *b) {
  wire_msg_begin(b);
  wire_open(b, "break");
  wire_attr_str(b, "path", "fake.lua");
  wire_attr_i64(b, "line", 12);
  wire_open_end(b);
  wire_text(b, "breakpoint", 10);
  wire_close(b, "break");
  wire_msg_end(b);
  wire_msg_begin(b);
  wire_open(b, "frames");
  wire_open_end(b);
  wire_open(b, "frame");
  wire_attr_str(b, "name", "tick");
  wire_attr_str(b, "value", "@55D0C1A2B3C0");
  wire_attr_str(b, "path", "fake.lua");
  wire_attr_i64(b, "line", 12);
  wire_empty_end(b);
  wire_close(b, "frames");
  wire_msg_end(b);
  wire_msg_begin(b);
  wire_open(b, "local");
  wire_attr_str(b, "name", "tick");
  wire_attr_str(b, "value", "@55D0C1A2B3C0");
  wire_open_end(b);
  wire_open(b, "property");
  wire_attr_str(b, "flags", "-  ");
  wire_attr_str(b, "name", "count");
  wire_attr_str(b, "value", "3");
  wire_empty_end(b);
  wire_open(b, "property");
  wire_attr_str(b, "flags", "+  ");
  wire_attr_str(b, "name", "state");
  wire_attr_str(b, "value", "@55D0C1A2B400");
  wire_empty_end(b);
  wire_close(b, "local");
  wire_msg_end(b);
}

static int fake_machine(int argc, char **argv) {
  fm_opts o = { 0, "fake.lua", "snapshot restore", NULL, 1000, 65536, -1, 0, 0, 0, 0, 0, 0, 0 };
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(s) (strcmp(a, s) == 0 && v && ++i)
    if (ARG("--port")) o.port = atoi(v);
    else if (ARG("--name")) o.name = v;
    else if (ARG("--features")) o.features = v;
    else if (ARG("--log")) o.log = v;
    else if (ARG("--nodes")) o.nodes = strtoull(v, NULL, 10);
    else if (ARG("--batch")) o.batch = strtoull(v, NULL, 10);
    else if (ARG("--die-after-batches")) o.die_after_batches = atol(v);
    else if (ARG("--batch-delay-ms")) o.batch_delay_ms = atol(v);
    else if (ARG("--exit-after")) o.exit_after = atol(v);
    else if (strcmp(a, "--malformed") == 0) o.malformed = 1;
    else if (strcmp(a, "--stall") == 0) o.stall = 1;
    else if (strcmp(a, "--snapshot-error") == 0) o.snapshot_error = 1;
    else if (strcmp(a, "--parked") == 0) o.parked = 1;
    else if (strcmp(a, "--die-on-graph") == 0) o.die_on_graph = 1;
    else {
      fprintf(stderr, "fake-machine: unknown option %s\n", a);
      return 2;
    }
#undef ARG
  }
  if (!o.port) {
    fprintf(stderr, "usage: test_server_machine fake-machine --port PORT [--name N] "
            "[--features F] [--nodes N] [--batch BYTES] [--die-after-batches K] "
            "[--batch-delay-ms MS] [--exit-after K] [--malformed] [--stall] "
            "[--snapshot-error] [--parked] [--die-on-graph] [--log TEXT]\n");
    return 2;
  }
  fm m = { &o, -1, 0, 0, 0 };
  for (int tries = 0; tries < 50 && m.fd < 0; tries++) {
    m.fd = connect_port(o.port);
    if (m.fd < 0) sleep_ms(100);
  }
  if (m.fd < 0) {
    fprintf(stderr, "fake-machine: cannot connect to port %d\n", o.port);
    return 1;
  }
  wire_buf b;
  wire_buf_init(&b);
  tsg_login(&b, o.name, *o.features ? o.features : NULL);
  if (o.log) {
    wire_msg_begin(&b);
    wire_open(&b, "log");
    wire_open_end(&b);
    wire_text(&b, o.log, strlen(o.log));
    wire_close(&b, "log");
    wire_msg_end(&b);
  }
  if (o.parked) fm_park(&b);
  if (o.malformed) wire_buf_puts(&b, "\r\n<xsbug><log>unbalanced</logg></xsbug>\r\n");
  send_all(m.fd, b.data, b.len);
  wire_buf_free(&b);
  printf("logged in as %s\n", o.name);
  fflush(stdout);
  wire_parser *p = wire_parser_new(NULL, fm_on_message, &m);
  char buf[65536];
  while (!m.quit) {
    ssize_t r = recv(m.fd, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      printf("connection closed by the server\n");
      break;
    }
    if (wire_parser_feed(p, buf, (size_t)r) != WIRE_OK) {
      printf("bad command stream: %s\n", wire_parser_error(p)->text);
      break;
    }
  }
  fflush(stdout);
  wire_parser_free(p);
  close(m.fd);
  return 0;
}

/* ---- helpers for shell tests --------------------------------------------- */

/* json-get PATH: print the value at a dotted path of the JSON on stdin
** ("edges.0.value.text"; a trailing "#" prints an array's length). */
static int json_get_main(const char *path) {
  wire_buf in;
  wire_buf_init(&in);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) wire_buf_put(&in, buf, n);
  char err[160];
  json_doc *d = json_parse(in.data ? in.data : "", in.len, err, sizeof err);
  wire_buf_free(&in);
  if (!d) {
    fprintf(stderr, "json-get: %s\n", err);
    return 1;
  }
  const json_value *v = json_root(d);
  char seg[256];
  const char *p = path;
  int count = 0;
  while (*p && v) {
    size_t len = strcspn(p, ".");
    if (len >= sizeof seg) len = sizeof seg - 1;
    memcpy(seg, p, len);
    seg[len] = 0;
    p += len + (p[len] == '.');
    if (len && seg[len - 1] == '#' && !*p) {
      count = 1;
      seg[len - 1] = 0;
      if (!seg[0]) break;
    }
    if (v->type == JSON_ARRAY) {
      long i = atol(seg);
      const json_value *c = v->child;
      while (c && i-- > 0) c = c->next;
      v = c;
    } else {
      v = json_get(v, seg);
    }
  }
  int rc = 0;
  if (!v) {
    fprintf(stderr, "json-get: no %s\n", path);
    rc = 1;
  } else if (count) {
    printf("%zu\n", v->count);
  } else if (v->type == JSON_STRING) {
    fwrite(v->str, 1, v->len, stdout);
    fputc('\n', stdout);
  } else {
    wire_buf out;
    json_writer w;
    wire_buf_init(&out);
    json_init(&w, &out);
    json_emit(&w, v);
    fwrite(out.data, 1, out.len, stdout);
    fputc('\n', stdout);
    wire_buf_free(&out);
  }
  json_doc_free(d);
  return rc;
}

typedef struct capture {
  FILE *f;
  long long limit;   /* stop writing after this many bytes (-1: no limit) */
  long long written;
} capture;

static int capture_emit(void *ud, const char *p, size_t n, int kind) {
  capture *c = ud;
  (void)kind;
  if (c->limit >= 0 && c->written + (long long)n > c->limit) {
    fwrite(p, 1, (size_t)(c->limit - c->written), c->f);
    c->written = c->limit;
    return 1;
  }
  fwrite(p, 1, n, c->f);
  c->written += (long long)n;
  return 0;
}

/* capture FILE NODES [SNAPSHOTS [CUT-AT-BYTE]]: a capture file as an agent
** writes it: a login, then SNAPSHOTS snapshots; cut short if asked. */
static int capture_main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_server_machine capture FILE NODES [SNAPSHOTS [CUT-AT]]\n");
    return 2;
  }
  capture c = { fopen(argv[0], "wb"), argc > 3 ? atoll(argv[3]) : -1, 0 };
  if (!c.f) return 1;
  wire_buf b;
  wire_buf_init(&b);
  tsg_login(&b, "captured.lua", "snapshot restore");
  capture_emit(&c, b.data, b.len, 0);
  wire_buf_free(&b);
  long k = argc > 2 ? atol(argv[2]) : 1;
  for (long i = 0; i < k; i++) {
    char id[32];
    snprintf(id, sizeof id, "c%ld", i + 1);
    tsg_opts o = { strtoull(argv[1], NULL, 10), 65536, id, NULL, 0, "request" };
    if (tsg_snapshot(&o, capture_emit, &c)) break;
  }
  return fclose(c.f) == 0 ? 0 : 1;
}

/* http-leave PORT PATH MS: send GET PATH (then print "sent"), wait MS
** milliseconds, and leave with a reset (SO_LINGER 0), which the server sees
** at once, unlike a plain close while it has nothing to read. Prints what
** happened first: "left before the answer", "answered", or "closed by the
** server" (without an answer). */
static int http_leave_main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: test_server_machine http-leave PORT PATH MS\n");
    return 2;
  }
  int fd = connect_port(atoi(argv[0]));
  if (fd < 0) {
    fprintf(stderr, "http-leave: cannot connect to port %s\n", argv[0]);
    return 2;
  }
  char req[2048];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", argv[1]);
  if (send_all(fd, req, strlen(req)) != 0) return 2;
  puts("sent");
  fflush(stdout);
  struct pollfd pfd = { fd, POLLIN, 0 };
  const char *what = "left before the answer";
  if (poll(&pfd, 1, atoi(argv[2])) > 0) {
    char c;
    what = recv(fd, &c, 1, 0) > 0 ? "answered" : "closed by the server";
  }
  struct linger lg = { 1, 0 };
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
  puts(what);
  return 0;
}

/* ---- tests: a forked server --------------------------------------------- */

typedef struct server {
  pid_t pid;
  int mport, hport;
  char url[64];
  char db[64];
} server;

static server srv;

static int start_server(void **state) {
  (void)state;
  srv.mport = free_port();
  srv.hport = free_port();
  snprintf(srv.url, sizeof srv.url, "http://127.0.0.1:%d", srv.hport);
  snprintf(srv.db, sizeof srv.db, "/tmp/amber-test-server-%d.db", (int)getpid());
  unlink(srv.db);
  srv.pid = fork();
  if (srv.pid == 0) {
    serve_options o;
    memset(&o, 0, sizeof o);
    o.db_path = srv.db;
    o.machine_host = "127.0.0.1";
    o.machine_port = srv.mport;
    o.http_host = "127.0.0.1";
    o.http_port = srv.hport;
    o.quiet = 1;
    _exit(serve_run(&o));
  }
  for (int i = 0; i < 100; i++) {
    http_reply r;
    if (http_request(srv.url, "GET", "/api", NULL, 0, NULL, 1000, &r, NULL, 0) ==
        HTTP_CLIENT_OK) {
      http_reply_free(&r);
      return 0;
    }
    sleep_ms(50);
  }
  return -1;
}

static int stop_server(void **state) {
  (void)state;
  int st;
  kill(srv.pid, SIGTERM);
  waitpid(srv.pid, &st, 0);
  char p[96];
  unlink(srv.db);
  snprintf(p, sizeof p, "%s-wal", srv.db);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", srv.db);
  unlink(p);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static json_doc *api(const char *method, const char *path, const char *body,
                     int expect_status) {
  http_reply r;
  char err[256];
  assert_int_equal(http_request(srv.url, method, path, body, body ? strlen(body) : 0,
                                NULL, 5000, &r, err, sizeof err), HTTP_CLIENT_OK);
  if (r.status != expect_status) fprintf(stderr, "%s %s -> %d %s\n", method, path,
                                         r.status, r.body.data ? r.body.data : "");
  assert_int_equal(r.status, expect_status);
  json_doc *d = json_parse(r.body.data ? r.body.data : "", r.body.len, err, sizeof err);
  assert_non_null(d);
  http_reply_free(&r);
  return d;
}

static pid_t spawn_machine(const char *const *extra) {
  pid_t pid = fork();
  if (pid == 0) {
    char port[16];
    snprintf(port, sizeof port, "%d", srv.mport);
    const char *args[32] = { "--port", port };
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 31; i++) args[n++] = extra[i];
    if (!freopen("/dev/null", "w", stdout)) _exit(3);
    _exit(fake_machine(n, (char **)args));
  }
  return pid;
}

/* Wait until exactly n machines are logged in; returns the id of the newest. */
static int64_t wait_machines(size_t n) {
  for (int i = 0; i < 200; i++) {
    json_doc *d = api("GET", "/api/machines", NULL, 200);
    const json_value *list = json_root(d);
    size_t named = 0;
    int64_t id = -1;
    for (const json_value *m = list->child; m; m = m->next)
      if (json_get_str(m, "name")) {
        named++;
        json_get_i64(m, "id", -1, &id);
      }
    size_t total = list->count;
    json_doc_free(d);
    if (named == n && total == n) return id;
    sleep_ms(25);
  }
  fail_msg("machines did not log in");
  return -1;
}

static json_doc *wait_request(int64_t req, const char *final) {
  char path[64];
  snprintf(path, sizeof path, "/api/requests/%lld", (long long)req);
  for (int i = 0; i < 400; i++) {
    json_doc *d = api("GET", path, NULL, 200);
    const char *st = json_get_str(json_root(d), "state");
    if (st && (strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)) {
      if (strcmp(st, final) != 0)
        fprintf(stderr, "request %lld: %s (%s)\n", (long long)req, st,
                json_get_str(json_root(d), "error"));
      assert_string_equal(st, final);
      return d;
    }
    json_doc_free(d);
    sleep_ms(25);
  }
  fail_msg("request %lld never finished", (long long)req);
  return NULL;
}

static void test_api_index_and_unknown_paths_answer_json(void **state) {
  (void)state;
  json_doc *d = api("GET", "/api", NULL, 200);
  assert_string_equal(json_get_str(json_root(d), "service"), "amber");
  json_doc_free(d);
  d = api("GET", "/api/nowhere", NULL, 404);
  assert_non_null(json_get_str(json_root(d), "error"));
  assert_non_null(json_get_str(json_root(d), "hint"));
  json_doc_free(d);
  d = api("GET", "/api/snapshots/999", NULL, 404);
  json_doc_free(d);
  d = api("POST", "/api/machines/1/go", "{not json", 400);
  json_doc_free(d);
}

static void test_oversized_body_is_refused_with_413(void **state) {
  (void)state;
  size_t n = API_MAX_BODY + 16;
  char *big = malloc(n + 1);
  assert_non_null(big);
  memset(big, ' ', n);
  big[0] = '{';
  big[n - 1] = '}';
  big[n] = 0;
  json_doc *d = api("POST", "/api/machines/1/snapshot", big, 413);
  json_doc_free(d);
  free(big);
  /* The server still answers afterwards. */
  d = api("GET", "/api", NULL, 200);
  json_doc_free(d);
}

static void test_snapshot_of_fake_machine_is_stored_exactly(void **state) {
  (void)state;
  const char *args[] = { "--name", "exact.lua", "--nodes", "5000", "--batch", "4096", NULL };
  pid_t m = spawn_machine(args);
  int64_t mid = wait_machines(1);
  char path[128];
  snprintf(path, sizeof path, "/api/machines/%lld/snapshot", (long long)mid);
  json_doc *d = api("POST", path, "{\"roots\":[\"globals\"],\"label\":\"t\\u0000x\"}", 202);
  int64_t req = -1;
  json_get_i64(json_root(d), "id", -1, &req);
  json_doc_free(d);
  d = wait_request(req, "done");
  int64_t snap = -1, nodes = 0, edges = 0;
  json_get_i64(json_root(d), "snapshot", -1, &snap);
  json_get_i64(json_root(d), "nodes", 0, &nodes);
  json_get_i64(json_root(d), "edges", 0, &edges);
  json_doc_free(d);
  assert_true(snap > 0);
  assert_int_equal(nodes, 5000);
  assert_int_equal(edges, (int64_t)tsg_edges(5000));

  /* The string with a NUL, a stray byte and a real U+F700 comes back exact. */
  snprintf(path, sizeof path, "/api/snapshots/%lld/nodes/2", (long long)snap);
  d = api("GET", path, NULL, 200);
  const json_value *v = json_get(json_root(d), "value");
  assert_non_null(v);
  assert_int_equal(v->len, TSG_WEIRD_LEN);
  assert_memory_equal(v->str, TSG_WEIRD, TSG_WEIRD_LEN);
  json_doc_free(d);

  /* Scalars stay exact: NaN, -0.0, int64 max. */
  snprintf(path, sizeof path, "/api/snapshots/%lld/nodes/1/children?limit=6", (long long)snap);
  d = api("GET", path, NULL, 200);
  const json_value *e = json_get(json_root(d), "edges")->child;
  const char *want[] = { "42", "0.5", "nan", "-0.0", "9223372036854775807", NULL };
  for (int i = 0; want[i]; i++, e = e->next)
    assert_string_equal(json_get_str(json_get(e, "value"), "text"), want[i]);
  assert_string_equal(json_get_str(json_get(e, "value"), "type"), "ref");
  json_doc_free(d);

  /* The label with a NUL in it round-trips through the request. */
  snprintf(path, sizeof path, "/api/snapshots/%lld", (long long)snap);
  d = api("GET", path, NULL, 200);
  const json_value *label = json_get(json_root(d), "label");
  assert_int_equal(label->len, 3);
  assert_memory_equal(label->str, "t\0x", 3);
  json_doc_free(d);
  kill(m, SIGTERM);
  waitpid(m, NULL, 0);
}

static void test_malformed_machine_is_dropped_and_others_keep_working(void **state) {
  (void)state;
  const char *good[] = { "--name", "good.lua", "--nodes", "300", NULL };
  const char *bad[] = { "--name", "bad.lua", "--malformed", NULL };
  pid_t g = spawn_machine(good);
  int64_t gid = wait_machines(1);
  pid_t b = spawn_machine(bad);
  int st;
  waitpid(b, &st, 0);     /* the server closes it, so it ends by itself */
  assert_true(WIFEXITED(st));
  assert_int_equal(wait_machines(1), gid);
  json_doc *d;
  char path[128];
  snprintf(path, sizeof path, "/api/machines/%lld/snapshot", (long long)gid);
  d = api("POST", path, NULL, 202);
  int64_t req = -1;
  json_get_i64(json_root(d), "id", -1, &req);
  json_doc_free(d);
  d = wait_request(req, "done");
  json_doc_free(d);
  kill(g, SIGTERM);
  waitpid(g, NULL, 0);
}

static void test_restore_requests_are_checked_before_anything_is_sent(void **state) {
  (void)state;
  /* GET /api says where machines connect (amber restore starts VMs there). */
  json_doc *d = api("GET", "/api", NULL, 200);
  int64_t port = -1;
  json_get_i64(json_root(d), "machine_port", -1, &port);
  assert_int_equal(port, srv.mport);
  assert_string_equal(json_get_str(json_root(d), "machine_host"), "127.0.0.1");
  json_doc_free(d);

  const char *args[] = { "--name", "norestore.lua", "--features", "snapshot",
                         "--nodes", "200", NULL };
  pid_t m = spawn_machine(args);
  int64_t mid = wait_machines(1);
  char path[128], body[128];
  snprintf(path, sizeof path, "/api/machines/%lld/snapshot", (long long)mid);
  d = api("POST", path, NULL, 202);
  int64_t req = -1, snap = -1;
  json_get_i64(json_root(d), "id", -1, &req);
  json_doc_free(d);
  d = wait_request(req, "done");
  json_get_i64(json_root(d), "snapshot", -1, &snap);
  json_doc_free(d);

  snprintf(path, sizeof path, "/api/snapshots/%lld/restore", (long long)snap);
  snprintf(body, sizeof body, "{\"machine\":%lld}", (long long)mid);
  d = api("POST", path, body, 409);        /* it did not announce restore */
  assert_non_null(strstr(json_get_str(json_root(d), "error"), "restore feature"));
  json_doc_free(d);
  d = api("POST", path, "{\"machine\":999}", 404);
  json_doc_free(d);
  snprintf(body, sizeof body, "{\"machine\":%lld,\"mode\":\"fold\"}", (long long)mid);
  d = api("POST", path, body, 400);
  json_doc_free(d);
  d = api("POST", path, "{}", 400);
  json_doc_free(d);
  const char *args2[] = { "--name", "restorer.lua", NULL };
  pid_t m2 = spawn_machine(args2);
  wait_machines(2);
  int64_t mid2 = -1;
  d = api("GET", "/api/machines", NULL, 200);
  for (const json_value *x = json_root(d)->child; x; x = x->next)
    if (strcmp(json_get_str(x, "name"), "restorer.lua") == 0) json_get_i64(x, "id", -1, &mid2);
  json_doc_free(d);
  assert_true(mid2 > 0);
  snprintf(body, sizeof body, "{\"machine\":%lld}", (long long)mid2);
  d = api("POST", "/api/snapshots/999/restore", body, 404);   /* no such snapshot */
  json_doc_free(d);
  kill(m2, SIGTERM);
  waitpid(m2, NULL, 0);
  wait_machines(1);
  d = api("GET", path, NULL, 405);
  json_doc_free(d);
  snprintf(path, sizeof path, "/api/machines/%lld/run", (long long)mid);
  d = api("POST", path, "{\"code\":\"return 1\"}", 409);  /* no run feature */
  json_doc_free(d);
  d = api("POST", path, "{\"code\":7}", 400);
  json_doc_free(d);
  kill(m, SIGTERM);
  waitpid(m, NULL, 0);
}

static int server_tests(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_api_index_and_unknown_paths_answer_json),
    cmocka_unit_test(test_oversized_body_is_refused_with_413),
    cmocka_unit_test(test_snapshot_of_fake_machine_is_stored_exactly),
    cmocka_unit_test(test_malformed_machine_is_dropped_and_others_keep_working),
    cmocka_unit_test(test_restore_requests_are_checked_before_anything_is_sent),
  };
  return cmocka_run_group_tests(tests, start_server, stop_server);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 2 && strcmp(argv[1], "free-port") == 0) {
    int p = free_port();
    if (p < 0) return 1;
    printf("%d\n", p);
    return 0;
  }
  if (argc >= 2 && strcmp(argv[1], "fake-machine") == 0)
    return fake_machine(argc - 2, argv + 2);
  if (argc == 3 && strcmp(argv[1], "json-get") == 0) return json_get_main(argv[2]);
  if (argc >= 2 && strcmp(argv[1], "capture") == 0) return capture_main(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "http-leave") == 0)
    return http_leave_main(argc - 2, argv + 2);
  return server_tests();
}
