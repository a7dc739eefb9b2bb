/*
** xs_machine.h
** A real XS machine under test: listen on a free loopback port, start xsnap
** with XSBUG_HOST pointing at it, and exchange xsbug messages with bounded
** waits. Everything received is fed to wire_parser as recv delivers it.
*/
#ifndef AMBER_XS_MACHINE_H
#define AMBER_XS_MACHINE_H

#include <stdint.h>
#include <sys/types.h>

#include "wire.h"
#include "xs_tree.h"

/* One parsed message, owned; offset and length locate its raw bytes in
** the peer's record of the stream (xm_peer.in). */
typedef struct xm_msg {
  xt_node *items;
  int wrapped;
  uint64_t seq, offset, length;
} xm_msg;

typedef struct xm_peer {
  pid_t pid;               /* the machine, or 0 once reaped */
  int status;              /* its wait status, once reaped */
  int listen_fd, fd;
  int quickack;            /* re-arm TCP_QUICKACK after every read */
  int parse;               /* 0: only record bytes (capturing malformed output) */
  int eof;                 /* the machine closed the connection */
  wire_parser *parser;
  xm_msg *queue;           /* parsed, not yet taken */
  size_t qhead, qlen, qcap;
  wire_buf in, out;        /* every byte received / sent */
  unsigned long reads;     /* reads that returned data */
  char outpath[64];        /* the machine's stdout and stderr */
  char err[512];           /* why the last call failed */
} xm_peer;

/* Listen on 127.0.0.1 (a free port), start argv (xsnap and its scripts)
** with XSBUG_HOST set, and accept its connection within timeout_ms.
** quickack: set TCP_QUICKACK on the socket. 0, or -1 with p->err set. */
int xm_start(xm_peer *p, char *const argv[], int quickack, int parse, int timeout_ms);
/* The next message, waiting at most timeout_ms. The caller owns m->items
** (xt_free). 0, or -1 on timeout, end of stream or a parse error. */
int xm_next(xm_peer *p, int timeout_ms, xm_msg *m);
/* Send a command written by wire_command (attr and value may be NULL). */
int xm_send(xm_peer *p, const char *name, const char *attr, const char *value);
/* Read until no byte arrived for quiet_ms, the stream ended, or timeout_ms
** passed (then -1). Used when capturing without parsing. */
int xm_wait_quiet(xm_peer *p, int quiet_ms, int timeout_ms);
/* Read until the machine closes the connection (messages are still parsed
** and queued). 0, or -1 after timeout_ms. */
int xm_wait_eof(xm_peer *p, int timeout_ms);
/* Wait for the machine to exit; 0 with p->status set, or -1 on timeout. */
int xm_wait_exit(xm_peer *p, int timeout_ms);
/* The machine's output so far (NUL-terminated, caller frees), or NULL. */
char *xm_output(const xm_peer *p);
/* Kill the machine if it still runs, close everything, free memory. */
void xm_close(xm_peer *p);

/* Milliseconds on a monotonic clock. */
double xm_now_ms(void);

#endif
