/*
** conn.h
** The agent's connection to its server: a non-blocking TCP socket that
** never stalls the VM, a bounded outgoing queue, and reconnection with
** capped exponential backoff. VM-neutral; internal to agent/.
*/
#ifndef AMBER_CONN_H
#define AMBER_CONN_H

#include <stddef.h>
#include <stdint.h>
#include "wire.h"

typedef struct aconn_config {
  unsigned backoff_min_ms;   /* first delay after a failure (100) */
  unsigned backoff_max_ms;   /* cap (5000) */
  size_t queue_max;          /* unsent bytes allowed (256 MiB) */
  unsigned connect_timeout_ms; /* give up on a pending connect (3000) */
} aconn_config;

enum aconn_state { ACONN_DOWN, ACONN_CONNECTING, ACONN_UP };

/* Counters for tests and status displays. */
typedef struct aconn_stats {
  uint64_t attempts, connects, disconnects;
  uint64_t bytes_sent, bytes_received, messages_dropped;
} aconn_stats;

typedef struct aconn aconn;

/* Called when a connection comes up (to queue the login) and, with up=0,
** when it goes down. */
typedef void (*aconn_on_state)(void *ud, int up);

/* Fill c with the defaults. */
void aconn_config_default(aconn_config *c);
/* Split "host:port" or "[v6]:port" into its parts. Returns 0, or -1 with
** a reason in *why. */
int aconn_split_address(const char *addr, char *host, size_t hostlen,
                        char *port, size_t portlen, const char **why);
/* The delay after cur: doubled, clamped to [min, max]. */
unsigned aconn_backoff_next(unsigned cur, unsigned min, unsigned max);

/* A connection to address. It resolves the address now (numeric
** addresses never block) and makes its first attempt at the next poll.
** on_msg receives every message the server sends. NULL with err on a bad
** address or out of memory. */
aconn *aconn_new(const char *address, const aconn_config *cfg,
                 wire_on_message on_msg, aconn_on_state on_state, void *ud,
                 char *err, size_t errlen);
/* Close and free. Unsent bytes are lost: flush first if they matter. */
void aconn_free(aconn *c);
/* Make progress: connect when due, send what the socket takes, read and
** dispatch what arrived. Waits at most wait_ms for something to happen
** (0: never blocks). Returns the state afterwards. */
enum aconn_state aconn_poll(aconn *c, int wait_ms);
/* Queue one whole message. 0, or -1 when not connected (dropped), or -2
** when it would overflow queue_max (dropped). */
int aconn_send(aconn *c, const void *p, size_t n);
/* Queue b's bytes, taking its memory when the queue is empty (no copy);
** b is left empty either way. Same results as aconn_send. */
int aconn_send_buf(aconn *c, wire_buf *b);
/* Send without reading until the queue is empty or timeout_ms passed.
** 0 if drained, -1 otherwise. */
int aconn_flush(aconn *c, int timeout_ms);
/* Send without reading until n more bytes fit the queue or timeout_ms
** passed; safe inside on_msg. 0 if they fit, -1 otherwise (or when the
** connection is down). */
int aconn_wait_room(aconn *c, size_t n, int timeout_ms);
/* Drop the connection; the next attempt comes after the backoff. why is
** kept as the last error. Safe inside on_msg: it then takes effect when
** the current read ends. */
void aconn_drop(aconn *c, const char *why);

enum aconn_state aconn_state_get(const aconn *c);
size_t aconn_pending(const aconn *c);
size_t aconn_room(const aconn *c);
const aconn_stats *aconn_stats_get(const aconn *c);
/* Last connection error in plain words, or "" if none. */
const char *aconn_last_error(const aconn *c);
/* The address as given. */
const char *aconn_address(const aconn *c);
/* The socket while connecting or connected, else -1. */
int aconn_fd(const aconn *c);
/* When DOWN: the monotonic time (ms) of the next connection attempt. */
uint64_t aconn_next_attempt(const aconn *c);
/* Milliseconds on a monotonic clock. */
uint64_t aconn_now_ms(void);

#endif
