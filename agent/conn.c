/*
** conn.c
** The agent's connection: non-blocking connect, bounded outgoing queue,
** incremental reading through the wire parser, reconnect with backoff.
** Nothing here may block the VM longer than the caller's wait_ms.
*/
#include "conn.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ADDRS 8
#define READ_CHUNK 65536
#define READ_BUDGET (1u << 20)  /* bytes read per poll, so a chatty server
                                   cannot hold the VM */
#define QUEUE_KEEP (4u << 20)   /* queue memory kept once it is empty */

struct aconn {
  char address[300];
  struct sockaddr_storage addrs[MAX_ADDRS];
  socklen_t addrlens[MAX_ADDRS];
  int naddrs, next_addr;
  aconn_config cfg;
  enum aconn_state state;
  int fd;
  uint64_t next_try;        /* when DOWN: time of the next attempt */
  uint64_t connect_started; /* when CONNECTING */
  unsigned backoff;         /* delay used after the next failure */
  wire_buf out;             /* queued bytes; out.data[sent..len) unsent */
  size_t sent;
  wire_parser *parser;
  wire_on_message on_msg;
  aconn_on_state on_state;
  void *ud;
  int in_feed, drop_pending;
  char drop_why[1024];
  char last_error[1024];
  aconn_stats stats;
};

uint64_t aconn_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void aconn_config_default(aconn_config *c) {
  c->backoff_min_ms = 100;
  c->backoff_max_ms = 5000;
  c->queue_max = (size_t)256 << 20;
  c->connect_timeout_ms = 3000;
}

unsigned aconn_backoff_next(unsigned cur, unsigned min, unsigned max) {
  unsigned next;
  if (min == 0) min = 1;
  if (max < min) max = min;
  next = cur > max / 2 ? max : cur * 2;
  if (next < min) next = min;
  return next > max ? max : next;
}

int aconn_split_address(const char *addr, char *host, size_t hostlen,
                        char *port, size_t portlen, const char **why) {
  const char *colon, *h = addr;
  size_t hl;
  if (addr == NULL || *addr == '\0') {
    *why = "empty address: give host:port, e.g. 127.0.0.1:5002";
    return -1;
  }
  if (*addr == '[') {               /* [v6]:port */
    const char *close = strchr(addr, ']');
    if (close == NULL || close[1] != ':') {
      *why = "bad IPv6 address: write it as [::1]:5002";
      return -1;
    }
    h = addr + 1;
    hl = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(addr, ':');
    if (colon == NULL) {
      *why = "address has no port: write host:port, e.g. 127.0.0.1:5002";
      return -1;
    }
    hl = (size_t)(colon - addr);
  }
  if (hl == 0 || hl >= hostlen) {
    *why = hl == 0 ? "address has no host: write host:port"
                   : "host name too long";
    return -1;
  }
  const char *p = colon + 1;
  size_t pl = strlen(p);
  if (pl == 0 || pl >= portlen || strspn(p, "0123456789") != pl ||
      atol(p) < 1 || atol(p) > 65535) {
    *why = "port must be a number from 1 to 65535";
    return -1;
  }
  memcpy(host, h, hl);
  host[hl] = '\0';
  memcpy(port, p, pl + 1);
  return 0;
}

aconn *aconn_new(const char *address, const aconn_config *cfg,
                 wire_on_message on_msg, aconn_on_state on_state, void *ud,
                 char *err, size_t errlen) {
  char host[256], port[16];
  const char *why;
  struct addrinfo hints, *res = NULL, *ai;
  int rc;
  aconn *c;

  if (aconn_split_address(address, host, sizeof host, port, sizeof port,
                          &why) != 0) {
    snprintf(err, errlen, "amber: bad server address '%s': %s",
             address ? address : "", why);
    return NULL;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    snprintf(err, errlen, "amber: cannot resolve '%s': %s", host,
             gai_strerror(rc));
    return NULL;
  }
  c = calloc(1, sizeof *c);
  if (c == NULL) {
    freeaddrinfo(res);
    snprintf(err, errlen, "amber: out of memory");
    return NULL;
  }
  snprintf(c->address, sizeof c->address, "%s", address);
  for (ai = res; ai && c->naddrs < MAX_ADDRS; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof c->addrs[0]) continue;
    memcpy(&c->addrs[c->naddrs], ai->ai_addr, ai->ai_addrlen);
    c->addrlens[c->naddrs++] = (socklen_t)ai->ai_addrlen;
  }
  freeaddrinfo(res);
  if (c->naddrs == 0) {
    free(c);
    snprintf(err, errlen, "amber: '%s' resolves to no usable address",
             host);
    return NULL;
  }
  if (cfg) c->cfg = *cfg; else aconn_config_default(&c->cfg);
  if (c->cfg.backoff_min_ms == 0) c->cfg.backoff_min_ms = 1;
  if (c->cfg.backoff_max_ms < c->cfg.backoff_min_ms)
    c->cfg.backoff_max_ms = c->cfg.backoff_min_ms;
  c->backoff = c->cfg.backoff_min_ms;
  c->fd = -1;
  c->state = ACONN_DOWN;
  c->next_try = 0;                  /* first attempt at the first poll */
  c->on_msg = on_msg;
  c->on_state = on_state;
  c->ud = ud;
  wire_buf_init(&c->out);
  return c;
}

static void set_error(aconn *c, const char *what, int e) {
  if (e)
    snprintf(c->last_error, sizeof c->last_error, "%s %s: %s", what,
             c->address, strerror(e));
  else
    snprintf(c->last_error, sizeof c->last_error, "%s %s", what, c->address);
}

/* Forget the socket and schedule the next attempt. */
static void go_down(aconn *c) {
  int was_up = c->state == ACONN_UP;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->state = ACONN_DOWN;
  c->next_try = aconn_now_ms() + c->backoff;
  c->backoff = aconn_backoff_next(c->backoff, c->cfg.backoff_min_ms,
                                  c->cfg.backoff_max_ms);
  wire_buf_reset(&c->out);          /* half a message is useless to a new */
  c->sent = 0;                      /* server: the queue starts over */
  if (c->parser) wire_parser_free(c->parser);
  c->parser = NULL;
  if (was_up) {
    c->stats.disconnects++;
    if (c->on_state) c->on_state(c->ud, 0);
  }
}

static void come_up(aconn *c) {
  c->state = ACONN_UP;
  c->backoff = c->cfg.backoff_min_ms;
  c->stats.connects++;
  c->last_error[0] = '\0';
  c->parser = wire_parser_new(NULL, c->on_msg, c->ud);
  if (c->parser == NULL) {
    set_error(c, "out of memory for the parser of", 0);
    go_down(c);
    return;
  }
  if (c->on_state) c->on_state(c->ud, 1);
}

static void start_connect(aconn *c) {
  const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[c->next_addr];
  socklen_t len = c->addrlens[c->next_addr];
  int one = 1, fd;
  c->next_addr = (c->next_addr + 1) % c->naddrs;
  c->stats.attempts++;
  fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    set_error(c, "cannot make a socket for", errno);
    go_down(c);
    return;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  if (connect(fd, sa, len) == 0) {
    come_up(c);
  } else if (errno == EINPROGRESS) {
    c->state = ACONN_CONNECTING;
    c->connect_started = aconn_now_ms();
  } else {
    set_error(c, "cannot connect to", errno);
    go_down(c);
  }
}

/* A pending connect finished (or not yet). */
static void check_connect(aconn *c) {
  int e = 0;
  socklen_t el = sizeof e;
  struct pollfd p = { c->fd, POLLOUT, 0 };
  if (poll(&p, 1, 0) <= 0) {
    if (aconn_now_ms() - c->connect_started > c->cfg.connect_timeout_ms) {
      set_error(c, "timed out connecting to", 0);
      go_down(c);
    }
    return;
  }
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0) e = errno;
  if (e != 0) {
    set_error(c, "cannot connect to", e);
    go_down(c);
    return;
  }
  come_up(c);
}

/* The connection failed. Inside a feed the parser is in use, so going
** down waits, as aconn_drop does, until the read ends. */
static void fail(aconn *c, const char *what, int e) {
  set_error(c, what, e);
  if (!c->in_feed) {
    go_down(c);
    return;
  }
  c->drop_pending = 1;
  snprintf(c->drop_why, sizeof c->drop_why, "%s", c->last_error);
}

/* Send what the socket takes now (also inside a feed: a snapshot asked
** by a message is sent while it is walked). */
static void do_send(aconn *c) {
  while (c->state == ACONN_UP && !c->drop_pending && c->sent < c->out.len) {
    ssize_t n = send(c->fd, c->out.data + c->sent, c->out.len - c->sent,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c->sent += (size_t)n;
      c->stats.bytes_sent += (uint64_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      fail(c, "lost the connection to", n < 0 ? errno : 0);
      return;
    }
  }
  if (c->sent == c->out.len) {
    /* a backlog of a big snapshot gives its memory back once sent */
    if (c->out.cap > QUEUE_KEEP) wire_buf_free(&c->out);
    wire_buf_reset(&c->out);
    c->sent = 0;
  } else if (c->sent > (c->out.len >> 1) && c->sent > 65536) {
    memmove(c->out.data, c->out.data + c->sent, c->out.len - c->sent);
    c->out.len -= c->sent;
    c->sent = 0;
  }
}

static void do_recv(aconn *c) {
  char buf[READ_CHUNK];
  size_t budget = READ_BUDGET;
  while (c->state == ACONN_UP && budget > 0 && !c->drop_pending) {
    ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      enum wire_status st;
      c->stats.bytes_received += (uint64_t)n;
      budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
      c->in_feed = 1;
      st = wire_parser_feed(c->parser, buf, (size_t)n);
      c->in_feed = 0;
      if (st != WIRE_OK && !c->drop_pending) {
        const wire_error *we = wire_parser_error(c->parser);
        snprintf(c->last_error, sizeof c->last_error,
                 "the server at %s sent a bad message (%s at byte %llu); "
                 "reconnecting", c->address, we->text,
                 (unsigned long long)we->offset);
        go_down(c);
        return;
      }
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      set_error(c, n == 0 ? "the server closed the connection:"
                          : "lost the connection to", n < 0 ? errno : 0);
      go_down(c);
      return;
    }
  }
}

enum aconn_state aconn_poll(aconn *c, int wait_ms) {
  uint64_t now = aconn_now_ms();
  assert(!c->in_feed);
  if (c->state == ACONN_DOWN && now >= c->next_try) start_connect(c);
  if (c->state == ACONN_CONNECTING) {
    if (wait_ms > 0) {
      struct pollfd p = { c->fd, POLLOUT, 0 };
      poll(&p, 1, wait_ms);
    }
    check_connect(c);
  } else if (c->state == ACONN_DOWN && wait_ms > 0) {
    uint64_t until = c->next_try - now;
    if (until > (uint64_t)wait_ms) until = (uint64_t)wait_ms;
    if (until > 0) poll(NULL, 0, (int)until);
    return c->state;
  }
  if (c->state != ACONN_UP) return c->state;
  if (wait_ms > 0) {
    struct pollfd p = { c->fd, POLLIN, 0 };
    if (c->sent < c->out.len) p.events |= POLLOUT;
    if (poll(&p, 1, wait_ms) < 0 && errno != EINTR) return c->state;
  }
  do_send(c);
  do_recv(c);
  if (c->drop_pending) {
    c->drop_pending = 0;
    snprintf(c->last_error, sizeof c->last_error, "%s", c->drop_why);
    go_down(c);
  }
  do_send(c);                       /* replies made by the commands */
  return c->state;
}

static int room_for(aconn *c, size_t n) {
  if (c->state != ACONN_UP || c->drop_pending) {
    c->stats.messages_dropped++;
    return -1;
  }
  if (n > aconn_room(c)) {
    c->stats.messages_dropped++;
    return -2;
  }
  return 0;
}

int aconn_send(aconn *c, const void *p, size_t n) {
  int rc = room_for(c, n);
  if (rc != 0) return rc;
  wire_buf_put(&c->out, p, n);
  if (c->out.oom) {
    c->out.oom = 0;
    c->stats.messages_dropped++;
    return -2;
  }
  do_send(c);
  return 0;
}

int aconn_send_buf(aconn *c, wire_buf *b) {
  int rc = room_for(c, b->len);
  if (rc == 0 && c->sent == c->out.len) {
    wire_buf t = c->out;            /* queue empty: take b's memory */
    c->out = *b;
    c->sent = 0;
    *b = t;
    wire_buf_reset(b);
    do_send(c);
    return 0;
  }
  if (rc == 0) rc = aconn_send(c, b->data, b->len);
  wire_buf_reset(b);
  return rc;
}

/* Send without reading until at most left bytes wait or timeout_ms
** passed. 0 if so, -1 otherwise. */
static int send_until(aconn *c, size_t left, int timeout_ms) {
  uint64_t end = aconn_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
  do_send(c);
  while (c->state == ACONN_UP && !c->drop_pending && aconn_pending(c) > left) {
    uint64_t now = aconn_now_ms();
    struct pollfd p = { c->fd, POLLOUT, 0 };
    if (now >= end) break;
    poll(&p, 1, (int)(end - now));
    do_send(c);
  }
  return c->state == ACONN_UP && !c->drop_pending && aconn_pending(c) <= left
             ? 0 : -1;
}

int aconn_flush(aconn *c, int timeout_ms) { return send_until(c, 0, timeout_ms); }

int aconn_wait_room(aconn *c, size_t n, int timeout_ms) {
  if (n > c->cfg.queue_max) return -1;
  return send_until(c, c->cfg.queue_max - n, timeout_ms);
}

void aconn_drop(aconn *c, const char *why) {
  if (c->in_feed) {
    c->drop_pending = 1;
    snprintf(c->drop_why, sizeof c->drop_why, "%s", why ? why : "");
    return;
  }
  snprintf(c->last_error, sizeof c->last_error, "%s", why ? why : "");
  if (c->state != ACONN_DOWN) go_down(c);
}

void aconn_free(aconn *c) {
  if (c == NULL) return;
  assert(!c->in_feed);
  if (c->fd >= 0) close(c->fd);
  if (c->parser) wire_parser_free(c->parser);
  wire_buf_free(&c->out);
  free(c);
}

enum aconn_state aconn_state_get(const aconn *c) { return c->state; }
size_t aconn_pending(const aconn *c) { return c->out.len - c->sent; }
size_t aconn_room(const aconn *c) {
  size_t p = aconn_pending(c);
  return p >= c->cfg.queue_max ? 0 : c->cfg.queue_max - p;
}
const aconn_stats *aconn_stats_get(const aconn *c) { return &c->stats; }
const char *aconn_last_error(const aconn *c) { return c->last_error; }
const char *aconn_address(const aconn *c) { return c->address; }
int aconn_fd(const aconn *c) { return c->fd; }
uint64_t aconn_next_attempt(const aconn *c) { return c->next_try; }
