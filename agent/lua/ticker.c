/*
** ticker.c
** Polling without a standing hook. In Lua 5.4 any count hook sends every
** instruction through luaG_traceexec (measured: +80% on a tight loop), so
** an idle agent keeps no hook at all. A small thread watches the socket;
** when the agent has work (bytes from the server, bytes to send, a
** reconnect due) it signals the VM's thread, whose handler arms a one-shot
** count hook with lua_sethook (which Lua allows in a signal handler). The
** VM then polls at its next instruction, a safe point.
*/
#include "alua.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLOTS 64          /* agents in one process using the ticker */

/* What the signal handler may read: plain atomics, no locks. */
typedef struct slot {
  atomic_uintptr_t owner;     /* pthread_self() of the VM's thread; 0 free */
  _Atomic(lua_State *) L;
  atomic_int mask;            /* hook mask the VM needs besides the count */
  atomic_int armed;           /* the handler armed a one-shot count hook */
} slot;

struct alua_ticker {
  pthread_t thread;
  slot *slot;
  int sig;
  unsigned interval_ms;
  atomic_int stop;
  atomic_int fd;              /* the socket, -1 when not connected */
  atomic_int want_write;      /* bytes are queued */
  atomic_uint_fast64_t wake_at; /* when down: time of the next attempt */
  atomic_uint_fast64_t gen;   /* bumped by each poll of the VM */
};

static slot slots[MAX_SLOTS];
static struct sigaction previous;
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static int installed_sig;

static void on_signal(int sig, siginfo_t *si, void *uc) {
  int saved = errno, i, ours = 0;
  uintptr_t me = (uintptr_t)pthread_self();
  for (i = 0; i < MAX_SLOTS; i++) {
    if (atomic_load(&slots[i].owner) != me) continue;
    lua_State *L = atomic_load(&slots[i].L);
    if (L == NULL) continue;
    atomic_store(&slots[i].armed, 1);
    lua_sethook(L, alua_hook, atomic_load(&slots[i].mask) | LUA_MASKCOUNT, 1);
    ours = 1;
  }
  /* Not sent by us: the host's own handler, if it had one, gets it. */
  if (!(ours && si && si->si_code == SI_TKILL && si->si_pid == getpid())) {
    if (previous.sa_flags & SA_SIGINFO) {
      if (previous.sa_sigaction) previous.sa_sigaction(sig, si, uc);
    } else if (previous.sa_handler != SIG_DFL &&
               previous.sa_handler != SIG_IGN && previous.sa_handler) {
      previous.sa_handler(sig);
    }
  }
  errno = saved;
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(installed_sig, &sa, &previous);
}

static uint64_t now_ms(void) { return aconn_now_ms(); }

static void nap(unsigned ms) {
  struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

/* Wait until the VM polled since the last signal; 0 when it did. */
static int wait_for_poll(alua_ticker *t, uint64_t gen) {
  while (!atomic_load(&t->stop)) {
    if (atomic_load(&t->gen) != gen) return 0;
    nap(1);
  }
  return -1;
}

static void *run(void *ud) {
  alua_ticker *t = ud;
  pthread_t vm = (pthread_t)atomic_load(&t->slot->owner);
  while (!atomic_load(&t->stop)) {
    uint64_t gen = atomic_load(&t->gen);
    int fd = atomic_load(&t->fd), work = 0;
    if (fd >= 0) {
      struct pollfd p = { fd, POLLIN, 0 };
      if (atomic_load(&t->want_write)) p.events |= POLLOUT;
      work = poll(&p, 1, (int)t->interval_ms) > 0;
    } else {
      uint64_t now = now_ms(), at = atomic_load(&t->wake_at);
      if (now >= at) work = 1;
      else nap(at - now < t->interval_ms ? (unsigned)(at - now)
                                         : t->interval_ms);
    }
    if (!work || atomic_load(&t->stop)) continue;
    pthread_kill(vm, t->sig);
    if (wait_for_poll(t, gen) != 0) break;
    /* Commands wait at most an interval; a queue being drained is served
    ** as fast as the socket takes it (each poll costs the VM a few µs). */
    if (!atomic_load(&t->want_write)) nap(t->interval_ms);
  }
  return NULL;
}

alua_ticker *alua_ticker_start(amber_agent *a, int sig) {
  alua_ticker *t;
  int i;
  if (sig <= 0) return NULL;
  if (installed_sig == 0) installed_sig = sig;
  if (sig != installed_sig) return NULL;    /* one signal per process */
  pthread_once(&installed, install);
  t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  for (i = 0; i < MAX_SLOTS; i++) {
    uintptr_t free_owner = 0;
    if (atomic_compare_exchange_strong(&slots[i].owner, &free_owner,
                                       (uintptr_t)pthread_self()))
      break;
  }
  if (i == MAX_SLOTS) {
    free(t);
    return NULL;
  }
  t->slot = &slots[i];
  atomic_store(&t->slot->L, a->L);
  atomic_store(&t->slot->mask, 0);
  atomic_store(&t->slot->armed, 0);
  t->sig = sig;
  t->interval_ms = a->opt.poll_ms ? a->opt.poll_ms : 10;
  atomic_store(&t->fd, -1);
  atomic_store(&t->wake_at, 0);
  if (pthread_create(&t->thread, NULL, run, t) != 0) {
    atomic_store(&t->slot->L, NULL);
    atomic_store(&t->slot->owner, 0);
    free(t);
    return NULL;
  }
  return t;
}

void alua_ticker_stop(alua_ticker *t) {
  if (t == NULL) return;
  atomic_store(&t->stop, 1);
  pthread_join(t->thread, NULL);
  atomic_store(&t->slot->L, NULL);
  atomic_store(&t->slot->owner, 0);
  free(t);
}

void alua_ticker_note(alua_ticker *t, aconn *c, int mask) {
  if (t == NULL) return;
  atomic_store(&t->slot->mask, mask & ~LUA_MASKCOUNT);
  atomic_store(&t->fd, aconn_state_get(c) == ACONN_DOWN ? -1 : aconn_fd(c));
  atomic_store(&t->want_write, aconn_pending(c) > 0 ||
                               aconn_state_get(c) == ACONN_CONNECTING);
  atomic_store(&t->wake_at, aconn_next_attempt(c));
  atomic_fetch_add(&t->gen, 1);
}

int alua_ticker_take_arm(alua_ticker *t) {
  return t ? atomic_exchange(&t->slot->armed, 0) : 0;
}
