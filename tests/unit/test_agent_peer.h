/*
** test_agent_peer.h
** A test debugger for the agent's unit tests: a loopback listener that
** parses what the agent sends with the wire parser and keeps each message
** as an owned tree, plus a thread that runs a Lua script under an agent.
*/
#ifndef TEST_AGENT_PEER_H
#define TEST_AGENT_PEER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "alua.h"
#include "amber.h"
#include "wire.h"

/* ---- owned copies of parsed elements -------------------------------------- */

typedef struct telem {
  char *name;
  char **attrs;              /* name, value, name, value … */
  size_t nattrs;
  char *text;
  size_t text_len;
  struct telem *children, *next;
} telem;

typedef struct tmsg {
  telem *items;
  int binary;                /* it came as a binary frame */
  struct tmsg *next;
} tmsg;

static inline char *tdup(const char *s, size_t n) {
  char *d = malloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static inline telem *telem_copy(const wire_elem *e) {
  telem *t = calloc(1, sizeof *t), **tail = &t->children;
  const wire_elem *ch;
  size_t i;
  t->name = tdup(e->name, strlen(e->name));
  t->nattrs = e->nattrs;
  t->attrs = calloc(2 * e->nattrs + 1, sizeof *t->attrs);
  for (i = 0; i < e->nattrs; i++) {
    t->attrs[2 * i] = tdup(e->attrs[i].name, strlen(e->attrs[i].name));
    t->attrs[2 * i + 1] = tdup(e->attrs[i].value, e->attrs[i].len);
  }
  t->text = tdup(e->text ? e->text : "", e->text ? e->text_len : 0);
  t->text_len = e->text ? e->text_len : 0;
  for (ch = e->children; ch; ch = ch->next) {
    *tail = telem_copy(ch);
    tail = &(*tail)->next;
  }
  return t;
}

static inline void telem_free(telem *t) {
  while (t) {
    telem *next = t->next;
    size_t i;
    for (i = 0; i < 2 * t->nattrs; i++) free(t->attrs[i]);
    free(t->attrs);
    free(t->name);
    free(t->text);
    telem_free(t->children);
    free(t);
    t = next;
  }
}

static inline void tmsg_free(tmsg *m) {
  if (m) { telem_free(m->items); free(m); }
}

static inline const char *tattr(const telem *e, const char *name) {
  size_t i;
  for (i = 0; e && i < e->nattrs; i++)
    if (strcmp(e->attrs[2 * i], name) == 0) return e->attrs[2 * i + 1];
  return NULL;
}

/* The first child (depth first, below e) called name whose attribute
** "name" is pname (pname NULL: any). */
static inline const telem *tfind(const telem *e, const char *name,
                                 const char *pname) {
  const telem *ch;
  for (ch = e ? e->children : NULL; ch; ch = ch->next) {
    const telem *f;
    const char *n = tattr(ch, "name");
    if (strcmp(ch->name, name) == 0 &&
        (pname == NULL || (n && strcmp(n, pname) == 0)))
      return ch;
    if ((f = tfind(ch, name, pname)) != NULL) return f;
  }
  return NULL;
}

static inline size_t tcount(const telem *e, const char *name) {
  size_t n = 0;
  const telem *ch;
  for (ch = e ? e->children : NULL; ch; ch = ch->next)
    if (strcmp(ch->name, name) == 0) n++;
  return n;
}

/* ---- the listener ----------------------------------------------------------- */

typedef struct peer {
  int lfd, fd, port;
  wire_parser *parser;
  tmsg *head, **tail;
  size_t bytes;              /* received on the current connection */
  int slow;                  /* bytes per read (0: as much as there is) */
} peer;

static inline uint64_t peer_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline int peer_on_message(void *ud, const wire_msg *m) {
  peer *p = ud;
  tmsg *t = calloc(1, sizeof *t);
  telem **tail = &t->items;
  const wire_elem *e;
  t->binary = m->binary;
  for (e = m->items; e; e = e->next) {
    *tail = telem_copy(e);
    tail = &(*tail)->next;
  }
  *p->tail = t;
  p->tail = &t->next;
  return 0;
}

/* Listen on 127.0.0.1:port (0: any free port); returns 0. */
static inline int peer_listen(peer *p, int port) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int one = 1;
  memset(p, 0, sizeof *p);
  p->fd = -1;
  p->tail = &p->head;
  p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p->lfd < 0) return -1;
  setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons((uint16_t)port);
  if (bind(p->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      listen(p->lfd, 4) != 0 ||
      getsockname(p->lfd, (struct sockaddr *)&sa, &len) != 0) {
    close(p->lfd);
    return -1;
  }
  p->port = ntohs(sa.sin_port);
  return 0;
}

static inline void peer_address(const peer *p, char *buf, size_t n) {
  snprintf(buf, n, "127.0.0.1:%d", p->port);
}

static inline void peer_drop_messages(peer *p) {
  while (p->head) {
    tmsg *m = p->head;
    p->head = m->next;
    tmsg_free(m);
  }
  p->tail = &p->head;
}

/* Accept one connection within timeout_ms; 0 on success. */
static inline int peer_accept(peer *p, int timeout_ms) {
  struct pollfd pf = { p->lfd, POLLIN, 0 };
  int one = 1;
  if (poll(&pf, 1, timeout_ms) <= 0) return -1;
  p->fd = accept(p->lfd, NULL, NULL);
  if (p->fd < 0) return -1;
  setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  p->parser = wire_parser_new(NULL, peer_on_message, p);
  p->bytes = 0;
  return p->parser ? 0 : -1;
}

/* Read what has arrived, waiting up to wait_ms. -1 when the agent closed. */
static inline int peer_read(peer *p, int wait_ms) {
  char buf[65536];
  struct pollfd pf = { p->fd, POLLIN, 0 };
  ssize_t n;
  size_t want = p->slow ? (size_t)p->slow : sizeof buf;
  if (p->fd < 0) return -1;
  if (poll(&pf, 1, wait_ms) <= 0) return 0;
  n = recv(p->fd, buf, want, 0);
  if (n <= 0) return -1;
  p->bytes += (size_t)n;
  return wire_parser_feed(p->parser, buf, (size_t)n) == WIRE_OK ? 1 : -2;
}

/* The next message whose first item is called name (others are dropped),
** within timeout_ms; the caller frees it. NULL on timeout or close. */
static inline tmsg *peer_wait(peer *p, const char *name, int timeout_ms) {
  uint64_t end = peer_now_ms() + (uint64_t)timeout_ms;
  for (;;) {
    while (p->head) {
      tmsg *m = p->head;
      p->head = m->next;
      if (p->head == NULL) p->tail = &p->head;
      m->next = NULL;
      if (m->items && strcmp(m->items->name, name) == 0) return m;
      tmsg_free(m);
    }
    uint64_t now = peer_now_ms();
    if (now >= end) return NULL;
    if (peer_read(p, (int)(end - now > 50 ? 50 : end - now)) < 0 &&
        p->head == NULL)
      return NULL;
  }
}

static inline void peer_send(peer *p, const char *cmd) {
  char buf[4096];
  int n = snprintf(buf, sizeof buf, "\r\n%s\r\n", cmd);
  ssize_t w = send(p->fd, buf, (size_t)n, MSG_NOSIGNAL);
  (void)w;
}

static inline void peer_hangup(peer *p) {
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  if (p->parser) wire_parser_free(p->parser);
  p->parser = NULL;
  peer_drop_messages(p);
}

static inline void peer_close(peer *p) {
  peer_hangup(p);
  if (p->lfd >= 0) close(p->lfd);
  p->lfd = -1;
}

/* ---- a Lua program running under an agent in its own thread ------------ */

typedef struct vm_run {
  pthread_t thread;
  const char *script;        /* source; chunk name "@t.lua" */
  char address[64];          /* "" = no agent */
  amber_options opt;
  int use_pcall_msgh;        /* run under amber_msgh */
  atomic_int stop;           /* the script's stop() returns this */
  atomic_long ticks;         /* the script's tick() counts here */
  atomic_int done;
  int status;
  char result[512];          /* tostring of the first result, or error */
  double seconds;            /* CPU time the script took in its thread */
} vm_run;

static inline double thread_cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int vm_stop(lua_State *L) {
  vm_run *r = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushboolean(L, atomic_load(&r->stop));
  return 1;
}

static inline int vm_tick(lua_State *L) {
  vm_run *r = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushinteger(L, (lua_Integer)atomic_fetch_add(&r->ticks, 1) + 1);
  return 1;
}

static inline void *vm_main(void *ud) {
  vm_run *r = ud;
  lua_State *L = luaL_newstate();
  char err[512];
  double t0;
  luaL_openlibs(L);
  luaL_requiref(L, "amber", alua_open, 1);
  lua_pop(L, 1);
  lua_pushlightuserdata(L, r);
  lua_pushcclosure(L, vm_stop, 1);
  lua_setglobal(L, "stop");
  lua_pushlightuserdata(L, r);
  lua_pushcclosure(L, vm_tick, 1);
  lua_setglobal(L, "tick");
  if (r->address[0] &&
      amber_attach(L, r->address, &r->opt, err, sizeof err) == NULL) {
    snprintf(r->result, sizeof r->result, "attach: %.400s", err);
    r->status = -1;
    lua_close(L);
    atomic_store(&r->done, 1);
    return NULL;
  }
  t0 = thread_cpu_seconds();
  r->status = luaL_loadbuffer(L, r->script, strlen(r->script), "@t.lua");
  if (r->status == LUA_OK)
    r->status = r->use_pcall_msgh ? amber_pcall(L, 0, 1) : lua_pcall(L, 0, 1, 0);
  r->seconds = thread_cpu_seconds() - t0;
  snprintf(r->result, sizeof r->result, "%s",
           luaL_tolstring(L, -1, NULL));
  lua_close(L);
  atomic_store(&r->done, 1);
  return NULL;
}

/* Start script under an agent attached to address (NULL: no agent);
** msgh: run it under amber_msgh, as amber-lua does. */
static inline void vm_start(vm_run *r, const char *script, const char *address,
                            const amber_options *o, int msgh) {
  memset(r, 0, sizeof *r);
  r->script = script;
  r->use_pcall_msgh = msgh;
  if (address) snprintf(r->address, sizeof r->address, "%s", address);
  if (o) r->opt = *o; else amber_options_init(&r->opt);
  pthread_create(&r->thread, NULL, vm_main, r);
}

/* Wait for the script to end (up to timeout_ms); 0 if it did. */
static inline int vm_join(vm_run *r, int timeout_ms) {
  uint64_t end = peer_now_ms() + (uint64_t)timeout_ms;
  while (!atomic_load(&r->done) && peer_now_ms() < end) usleep(2000);
  if (!atomic_load(&r->done)) return -1;
  pthread_join(r->thread, NULL);
  return 0;
}

#endif
