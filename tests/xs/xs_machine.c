/*
** xs_machine.c
** Start a real XS machine (xsnap) that dials a loopback listener, and talk
** xsbug with it through wire_parser and wire_command, never waiting unbounded.
*/
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xs_machine.h"

/* A test session is a few hundred KiB at most; more means a runaway peer. */
#define XM_MAX_STREAM (64u << 20)

static int fail(xm_peer *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, sizeof p->err, fmt, ap);
  va_end(ap);
  return -1;
}

double xm_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int on_message(void *ud, const wire_msg *m) {
  xm_peer *p = ud;
  if (p->qhead + p->qlen == p->qcap) {
    if (p->qhead > 0) { /* slide the taken slots out first */
      memmove(p->queue, p->queue + p->qhead, p->qlen * sizeof *p->queue);
      p->qhead = 0;
    } else {
      size_t cap = p->qcap ? 2 * p->qcap : 16;
      xm_msg *q = realloc(p->queue, cap * sizeof *q);
      if (q == NULL) return 1;
      p->queue = q;
      p->qcap = cap;
    }
  }
  xm_msg *slot = &p->queue[p->qhead + p->qlen];
  slot->items = xt_copy(m->items);
  if (slot->items == NULL && m->items != NULL) return 1;
  slot->wrapped = m->wrapped;
  slot->seq = m->seq;
  slot->offset = m->offset;
  slot->length = m->length;
  p->qlen++;
  return 0;
}

static void set_quickack(xm_peer *p) {
  int one = 1;
  if (p->quickack)
    (void)setsockopt(p->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

static int parse_failed(xm_peer *p, enum wire_status st) {
  const wire_error *e = wire_parser_error(p->parser);
  wire_buf near;
  wire_buf_init(&near);
  uint64_t from = e->offset > 60 ? e->offset - 60 : 0;
  uint64_t to = e->offset + 40 < p->in.len ? e->offset + 40 : p->in.len;
  if (from < to) xt_quote(&near, p->in.data + from, (size_t)(to - from));
  wire_buf_put(&near, "", 1);
  fail(p, "wire_parser rejected the machine's bytes: %s (%s) at stream offset %llu "
          "in message %llu; bytes around it: \"%s\"",
       wire_status_name(st), e->text, (unsigned long long)e->offset,
       (unsigned long long)e->msg_seq, near.oom ? "?" : near.data);
  wire_buf_free(&near);
  return -1;
}

/* Wait up to timeout_ms for bytes and take what one recv returns. 1 if
** bytes came, 0 if none came in time, -1 on error (p->err set). */
static int read_some(xm_peer *p, int timeout_ms) {
  char buf[65536];
  struct pollfd pfd = {p->fd, POLLIN, 0};
  int r = poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms);
  if (r < 0 && errno != EINTR) return fail(p, "poll: %s", strerror(errno));
  if (r <= 0) return 0;
  ssize_t n = recv(p->fd, buf, sizeof buf, 0);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return 0;
    return fail(p, "recv from the machine: %s", strerror(errno));
  }
  if (n == 0) {
    p->eof = 1;
    if (p->parse) {
      enum wire_status st = wire_parser_finish(p->parser);
      if (st != WIRE_OK) return parse_failed(p, st);
    }
    return 1;
  }
  if (p->in.len + (size_t)n > XM_MAX_STREAM)
    return fail(p, "the machine sent more than %u bytes; giving up", XM_MAX_STREAM);
  wire_buf_put(&p->in, buf, (size_t)n);
  if (p->in.oom) return fail(p, "out of memory recording the stream");
  p->reads++;
  set_quickack(p); /* the kernel drops back to delayed ACKs on its own */
  if (p->parse) {
    enum wire_status st = wire_parser_feed(p->parser, buf, (size_t)n);
    if (st != WIRE_OK) return parse_failed(p, st);
  }
  return 1;
}

static int reap(xm_peer *p, int block) {
  if (p->pid <= 0) return 1;
  int status;
  pid_t r = waitpid(p->pid, &status, block ? 0 : WNOHANG);
  if (r == p->pid) {
    p->status = status;
    p->pid = 0;
    return 1;
  }
  return 0;
}

int xm_start(xm_peer *p, char *const argv[], int quickack, int parse, int timeout_ms) {
  memset(p, 0, sizeof *p);
  p->listen_fd = p->fd = -1;
  p->quickack = quickack;
  p->parse = parse;
  wire_buf_init(&p->in);
  wire_buf_init(&p->out);
  if ((p->parser = wire_parser_new(NULL, on_message, p)) == NULL)
    return fail(p, "out of memory creating the parser");

  p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p->listen_fd < 0) return fail(p, "socket: %s", strerror(errno));
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0; /* the kernel picks a free port */
  socklen_t alen = sizeof a;
  if (bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
      listen(p->listen_fd, 1) < 0 ||
      getsockname(p->listen_fd, (struct sockaddr *)&a, &alen) < 0)
    return fail(p, "listening on 127.0.0.1: %s", strerror(errno));
  char host[32];
  snprintf(host, sizeof host, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));

  snprintf(p->outpath, sizeof p->outpath, "/tmp/amber-xs-peer-XXXXXX");
  int out = mkstemp(p->outpath);
  if (out < 0) {
    p->outpath[0] = 0;
    return fail(p, "mkstemp for the machine's output: %s", strerror(errno));
  }
  pid_t parent = getpid();
  p->pid = fork();
  if (p->pid < 0) {
    p->pid = 0;
    close(out);
    return fail(p, "fork: %s", strerror(errno));
  }
  if (p->pid == 0) {
    /* if the test dies, the machine must too: parked on a closed socket
    ** it would spin at 100 % CPU forever */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    dup2(out, 1);
    dup2(out, 2);
    close(out);
    setenv("XSBUG_HOST", host, 1);
    execv(argv[0], argv);
    dprintf(2, "xs_peer: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(out);

  double deadline = xm_now_ms() + timeout_ms;
  for (;;) {
    struct pollfd pfd = {p->listen_fd, POLLIN, 0};
    if (poll(&pfd, 1, 50) > 0) break;
    if (reap(p, 0)) {
      char *o = xm_output(p);
      fail(p, "%s exited (status %d) without connecting to %s; its output: %.300s",
           argv[0], p->status, host, o ? o : "");
      free(o);
      return -1;
    }
    if (xm_now_ms() > deadline)
      return fail(p, "%s did not connect to XSBUG_HOST=%s within %d ms (is it a debug build?)",
                  argv[0], host, timeout_ms);
  }
  p->fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (p->fd < 0) return fail(p, "accept: %s", strerror(errno));
  int one = 1;
  if (setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
    return fail(p, "TCP_NODELAY: %s", strerror(errno));
  set_quickack(p);
  return 0;
}

int xm_next(xm_peer *p, int timeout_ms, xm_msg *m) {
  double deadline = xm_now_ms() + timeout_ms;
  for (;;) {
    if (p->qlen) {
      *m = p->queue[p->qhead++];
      p->qlen--;
      if (p->qlen == 0) p->qhead = 0;
      return 0;
    }
    if (p->eof)
      return fail(p, "the machine closed the connection while a message was awaited "
                     "(%zu bytes received in all)", p->in.len);
    double left = deadline - xm_now_ms();
    if (left <= 0)
      return fail(p, "no complete message within %d ms (%zu bytes received in all)",
                  timeout_ms, p->in.len);
    if (read_some(p, (int)left + 1) < 0) return -1;
  }
}

int xm_send(xm_peer *p, const char *name, const char *attr, const char *value) {
  wire_buf cmd;
  wire_buf_init(&cmd);
  wire_command(&cmd, name, attr, value);
  if (cmd.oom) {
    wire_buf_free(&cmd);
    return fail(p, "out of memory writing <%s/>", name);
  }
  size_t done = 0;
  while (done < cmd.len) {
    ssize_t n = send(p->fd, cmd.data + done, cmd.len - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail(p, "sending <%s/> to the machine: %s", name, strerror(errno));
      wire_buf_free(&cmd);
      return -1;
    }
    done += (size_t)n;
  }
  wire_buf_put(&p->out, cmd.data, cmd.len);
  wire_buf_free(&cmd);
  return 0;
}

int xm_wait_quiet(xm_peer *p, int quiet_ms, int timeout_ms) {
  double deadline = xm_now_ms() + timeout_ms;
  while (!p->eof) {
    int r = read_some(p, quiet_ms);
    if (r < 0) return -1;
    if (r == 0) return 0;
    if (xm_now_ms() > deadline)
      return fail(p, "the machine kept sending for %d ms", timeout_ms);
  }
  return 0;
}

int xm_wait_eof(xm_peer *p, int timeout_ms) {
  double deadline = xm_now_ms() + timeout_ms;
  while (!p->eof) {
    double left = deadline - xm_now_ms();
    if (left <= 0)
      return fail(p, "the machine did not close the connection within %d ms", timeout_ms);
    if (read_some(p, (int)left + 1) < 0) return -1;
  }
  return 0;
}

int xm_wait_exit(xm_peer *p, int timeout_ms) {
  double deadline = xm_now_ms() + timeout_ms;
  while (!reap(p, 0)) {
    if (xm_now_ms() > deadline)
      return fail(p, "the machine did not exit within %d ms", timeout_ms);
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

char *xm_output(const xm_peer *p) {
  if (!p->outpath[0]) return NULL;
  FILE *f = fopen(p->outpath, "rb");
  if (f == NULL) return NULL;
  size_t cap = 65536, len;
  char *s = malloc(cap + 1);
  if (s == NULL) {
    fclose(f);
    return NULL;
  }
  len = fread(s, 1, cap, f); /* the peer scripts print a few lines */
  s[len] = 0;
  fclose(f);
  return s;
}

void xm_close(xm_peer *p) {
  if (p->pid > 0) {
    kill(p->pid, SIGKILL);
    reap(p, 1);
  }
  if (p->fd >= 0) close(p->fd);
  if (p->listen_fd >= 0) close(p->listen_fd);
  p->fd = p->listen_fd = -1;
  if (p->outpath[0]) unlink(p->outpath);
  p->outpath[0] = 0;
  for (size_t i = 0; i < p->qlen; i++) xt_free(p->queue[p->qhead + i].items);
  free(p->queue);
  p->queue = NULL;
  p->qlen = p->qhead = p->qcap = 0;
  if (p->parser) wire_parser_free(p->parser);
  p->parser = NULL;
  wire_buf_free(&p->in);
  wire_buf_free(&p->out);
}
