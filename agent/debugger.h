/*
** debugger.h
** xsbug debugger semantics, VM-neutral: what each command does to the
** machine's state (breakpoints, stepping, expanded objects), the park loop
** that serves commands while the VM waits at a break, and snapshot and
** restore dispatch. A VM adapter supplies the views. Internal to agent/.
*/
#ifndef AMBER_DEBUGGER_H
#define AMBER_DEBUGGER_H

#include <stddef.h>
#include <stdint.h>
#include "breakpoints.h"
#include "command.h"
#include "conn.h"
#include "wire.h"

#define ADBG_MAX_TOGGLED 4096  /* expanded objects remembered */

/* What the VM adapter provides. Views append whole messages to out. */
typedef struct adbg_vm {
  void (*frames)(void *vm, wire_buf *out);
  void (*local)(void *vm, wire_buf *out);   /* the selected frame */
  void (*global)(void *vm, wire_buf *out);
  /* Make frame id current: 0, or -1 if there is none. */
  int (*select)(void *vm, uint64_t id);
  /* Answer a snapshot request (reply messages go to the connection). */
  void (*snapshot)(void *vm, const acmd_snapshot *req, int parked);
  /* Restore messages (section 5.5), or NULL if the VM cannot restore. */
  void (*restore)(void *vm, const acmd *cmd);
  /* A <run> request (section 5.7), or NULL if the VM runs no code. It
  ** arrives inside the parser: the adapter queues it and answers later. */
  void (*run)(void *vm, const acmd *cmd);
} adbg_vm;

enum adbg_step { ADBG_RUN = 0, ADBG_STEP_OVER, ADBG_STEP_INTO, ADBG_STEP_OUT };
enum adbg_park { ADBG_RUNNING = 0, ADBG_AT_BREAK, ADBG_AT_LOGIN };

typedef struct adbg {
  aconn *conn;               /* NULL for an offline agent */
  const adbg_vm *vm;
  void *vm_ud;
  int verbose;
  abpt_table bpts;
  uint64_t *toggled;         /* sorted ids of expanded objects */
  size_t ntoggled;
  enum adbg_step step;       /* what the next line event should do */
  const void *step_thread;   /* thread and depth the step started from */
  int step_depth;
  enum adbg_park park;
  const void *park_thread;
  int park_depth;
  int resume;                /* go/step/logout arrived: leave the park */
  int logout;                /* the server said logout: detach */
  int abort;                 /* the server said abort: end the program */
  uint64_t version;          /* bumps when breakpoints or stepping change */
  int peer_binary;           /* the debugger accepts binary frames (<accept>) */
  wire_buf msg;              /* scratch for replies */
  acmd_snapshot snap;
} adbg;

void adbg_init(adbg *d, const adbg_vm *vm, void *vm_ud);
void adbg_free(adbg *d);
/* The wire callback for the connection (ud is the adbg). */
int adbg_on_message(void *ud, const wire_msg *m);
/* Tell the debugger the connection came up or went down: going down
** forgets breakpoints, stepping and expansions, and resumes a park. */
void adbg_on_state(adbg *d, int up);
/* Poll the connection and carry out what the commands asked that cannot
** run inside the parser (abort). Returns the connection state. */
enum aconn_state adbg_poll(adbg *d, int wait_ms);
/* Queue a whole message from b (b is reset). */
int adbg_send(adbg *d, wire_buf *b);
/* Answer run request id: <run-done id ok>text</run-done>. */
void adbg_run_done(adbg *d, uint64_t id, int ok, const char *text,
                   size_t len);

/* Park at a break: send <break>, then frames, local and global, and serve
** commands until go, a step, logout, or the connection goes. thread and
** depth identify where the VM stopped, for stepping. */
void adbg_park_at(adbg *d, const char *path, size_t path_len, int64_t line,
                  const char *text, size_t text_len, const void *thread,
                  int depth);
/* Connect, log in, and wait for the server's go or step, for at most ms
** milliseconds in all (breakpoints sent meanwhile take effect). */
void adbg_wait_login(adbg *d, unsigned ms);

/* 1 when line events matter: breakpoints are set or a step is pending. */
#define adbg_wants_lines(d) ((d)->step != ADBG_RUN || abpt_count(&(d)->bpts))
/* 1 if a line event at depth ends the pending step. same_thread: the event
** is in the thread the step started from; else origin_waiting says whether
** that thread is still waiting on a coroutine it resumed (we are nested
** inside it) rather than having yielded or ended (we have left it). */
int adbg_step_done(const adbg *d, int same_thread, int origin_waiting,
                   int depth);
/* 1 if object id is expanded (toggled open). */
int adbg_expanded(const adbg *d, uint64_t id);

#endif
