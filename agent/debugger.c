/*
** debugger.c
** The xsbug command loop. Commands arrive inside the parser's callback,
** so anything that could free the connection (abort) is deferred to
** adbg_poll; everything else takes effect at once, in stream order.
*/
#include "debugger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void adbg_init(adbg *d, const adbg_vm *vm, void *vm_ud) {
  memset(d, 0, sizeof *d);
  d->vm = vm;
  d->vm_ud = vm_ud;
  abpt_init(&d->bpts);
  wire_buf_init(&d->msg);
  acmd_snapshot_init(&d->snap);
}

void adbg_free(adbg *d) {
  abpt_free(&d->bpts);
  free(d->toggled);
  wire_buf_free(&d->msg);
  acmd_snapshot_free(&d->snap);
  memset(d, 0, sizeof *d);
}

int adbg_send(adbg *d, wire_buf *b) {
  if (d->conn == NULL) {
    wire_buf_reset(b);
    return -1;
  }
  return aconn_send_buf(d->conn, b);
}

/* ---- expanded objects: a sorted array, searched on every rendered object */

static size_t toggled_find(const adbg *d, uint64_t id, int *found) {
  size_t lo = 0, hi = d->ntoggled;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->toggled[mid] < id) lo = mid + 1; else hi = mid;
  }
  *found = lo < d->ntoggled && d->toggled[lo] == id;
  return lo;
}

int adbg_expanded(const adbg *d, uint64_t id) {
  int found;
  toggled_find(d, id, &found);
  return found;
}

static void toggle(adbg *d, uint64_t id) {
  int found;
  size_t at = toggled_find(d, id, &found);
  if (found) {
    memmove(d->toggled + at, d->toggled + at + 1,
            (d->ntoggled - at - 1) * sizeof *d->toggled);
    d->ntoggled--;
    return;
  }
  if (d->ntoggled == ADBG_MAX_TOGGLED) return;  /* bounded: ignore more */
  if (d->toggled == NULL) {
    d->toggled = malloc(ADBG_MAX_TOGGLED * sizeof *d->toggled);
    if (d->toggled == NULL) return;
  }
  memmove(d->toggled + at + 1, d->toggled + at,
          (d->ntoggled - at) * sizeof *d->toggled);
  d->toggled[at] = id;
  d->ntoggled++;
}

/* ---- replies -------------------------------------------------------- */

static void send_views(adbg *d, int frames, int local, int global) {
  if (frames) { d->vm->frames(d->vm_ud, &d->msg); adbg_send(d, &d->msg); }
  if (local) { d->vm->local(d->vm_ud, &d->msg); adbg_send(d, &d->msg); }
  if (global) { d->vm->global(d->vm_ud, &d->msg); adbg_send(d, &d->msg); }
}

static void send_error(adbg *d, const char *elem, uint64_t id,
                       const char *text) {
  wire_msg_begin(&d->msg);
  wire_open(&d->msg, elem);
  wire_attr_u64(&d->msg, "id", id);
  wire_attr_str(&d->msg, "text", text);
  wire_empty_end(&d->msg);
  wire_msg_end(&d->msg);
  adbg_send(d, &d->msg);
}

static void note(const adbg *d, const char *what, const char *why) {
  if (d->verbose) fprintf(stderr, "amber: ignored %s from the server: %s\n",
                          what, why);
}

void adbg_run_done(adbg *d, uint64_t id, int ok, const char *text,
                   size_t len) {
  wire_msg_begin(&d->msg);
  wire_open(&d->msg, "run-done");
  wire_attr_u64(&d->msg, "id", id);
  wire_attr_i64(&d->msg, "ok", ok ? 1 : 0);
  wire_open_end(&d->msg);
  wire_text(&d->msg, text, len);
  wire_close(&d->msg, "run-done");
  wire_msg_end(&d->msg);
  adbg_send(d, &d->msg);
}

/* ---- commands ------------------------------------------------------- */

#define RUN_REFUSED "this machine runs no code for the debugger (its login " \
  "did not announce the run feature; start a VM for it with amber-lua --serve)"

static void resume(adbg *d, enum adbg_step step) {
  if (d->park == ADBG_RUNNING) {
    /* A step while running is xsbug's pause: stop at the next line. */
    if (step != ADBG_RUN) {
      d->step = ADBG_STEP_INTO;
      d->version++;
    }
    return;
  }
  d->step = step;
  d->step_thread = d->park_thread;
  d->step_depth = d->park_depth;
  if (d->park == ADBG_AT_LOGIN && step != ADBG_RUN) d->step = ADBG_STEP_INTO;
  d->resume = 1;
  d->version++;
}

static void set_all_breakpoints(adbg *d, const wire_elem *e) {
  const wire_elem *ch;
  abpt_clear_all(&d->bpts);
  for (ch = e->children; ch; ch = ch->next) {
    acmd c;
    const char *why;
    if (strcmp(ch->name, "breakpoint") != 0) continue;
    memset(&c, 0, sizeof c);
    c.kind = ACMD_SET_BREAKPOINT;
    /* decode the child as a set-breakpoint to reuse the checks */
    {
      wire_elem copy = *ch;
      copy.name = "set-breakpoint";
      if (acmd_decode(&copy, &c, &why) != 0) {
        note(d, "a breakpoint", why);
        continue;
      }
    }
    if (abpt_set(&d->bpts, c.path, c.path_len, (int)c.line) != 0)
      note(d, "a breakpoint", "the table is full (4096)");
  }
}

static void run_command(adbg *d, const wire_elem *e) {
  acmd c;
  const char *why = NULL;
  if (acmd_decode(e, &c, &why) != 0) {
    if (c.kind == ACMD_SNAPSHOT || c.kind == ACMD_RUN) {
      uint64_t id = 0;
      wire_get_u64(e, "id", &id);
      if (c.kind == ACMD_SNAPSHOT) send_error(d, "snapshot-error", id, why);
      else adbg_run_done(d, id, 0, why, strlen(why));
    }
    note(d, e->name, why);
    return;
  }
  switch (c.kind) {
  case ACMD_GO: resume(d, ADBG_RUN); break;
  case ACMD_STEP: resume(d, ADBG_STEP_OVER); break;
  case ACMD_STEP_INSIDE: resume(d, ADBG_STEP_INTO); break;
  case ACMD_STEP_OUTSIDE: resume(d, ADBG_STEP_OUT); break;
  case ACMD_ABORT:
    d->abort = 1;
    d->resume = 1;
    break;
  case ACMD_LOGOUT:
    d->logout = 1;
    d->resume = 1;
    d->step = ADBG_RUN;
    break;
  case ACMD_SET_BREAKPOINT:
    if (abpt_set(&d->bpts, c.path, c.path_len, (int)c.line) != 0)
      note(d, "set-breakpoint", "the table is full (4096)");
    d->version++;
    break;
  case ACMD_CLEAR_BREAKPOINT:
    abpt_clear(&d->bpts, c.path, c.path_len, (int)c.line);
    d->version++;
    break;
  case ACMD_CLEAR_ALL_BREAKPOINTS:
    abpt_clear_all(&d->bpts);
    d->version++;
    break;
  case ACMD_SET_ALL_BREAKPOINTS:
    set_all_breakpoints(d, e);
    d->version++;
    break;
  case ACMD_SELECT:
    if (d->park != ADBG_AT_BREAK) { note(d, "select", "not at a break"); break; }
    if (d->vm->select(d->vm_ud, c.id) == 0) send_views(d, 0, 1, 0);
    else note(d, "select", "no frame has that id");
    break;
  case ACMD_TOGGLE:
    if (d->park != ADBG_AT_BREAK) { note(d, "toggle", "not at a break"); break; }
    toggle(d, c.id);
    send_views(d, 0, 1, 1);
    break;
  case ACMD_SNAPSHOT:
    if (acmd_snapshot_decode(e, &d->snap, &why) != 0) {
      send_error(d, "snapshot-error", c.id, why);
      break;
    }
    d->vm->snapshot(d->vm_ud, &d->snap, d->park == ADBG_AT_BREAK);
    break;
  case ACMD_RESTORE:
    if (d->vm->restore) {
      d->vm->restore(d->vm_ud, &c);
    } else if (strcmp(e->name, "restore") == 0) {
      uint64_t id = 0;
      wire_get_u64(e, "id", &id);
      send_error(d, "restore-error", id,
                 "this agent cannot restore (its login did not announce the "
                 "restore feature)");
    }
    break;
  case ACMD_RUN:
    if (d->vm->run) d->vm->run(d->vm_ud, &c);
    else adbg_run_done(d, c.id, 0, RUN_REFUSED, strlen(RUN_REFUSED));
    break;
  case ACMD_ACCEPT:
    d->peer_binary = c.binary;
    break;
  case ACMD_UNKNOWN:
    note(d, e->name, "unknown command");
    break;
  }
}

int adbg_on_message(void *ud, const wire_msg *m) {
  adbg *d = ud;
  const wire_elem *e;
  for (e = m->items; e; e = e->next) run_command(d, e);
  return 0;
}

void adbg_on_state(adbg *d, int up) {
  /* A new server knows nothing of the old one's breakpoints or expanded
  ** objects, and a VM without a server must run free: losing the server
  ** ends a park (coming up must not: a login wait starts before it). */
  abpt_clear_all(&d->bpts);
  d->ntoggled = 0;
  d->peer_binary = 0; /* a new debugger says again what it accepts */
  d->step = ADBG_RUN;
  if (!up && d->park != ADBG_RUNNING) d->resume = 1;
  d->version++;
}

enum aconn_state adbg_poll(adbg *d, int wait_ms) {
  enum aconn_state st;
  if (d->conn == NULL) return ACONN_DOWN;
  st = aconn_poll(d->conn, wait_ms);
  if (d->abort) {
    aconn_flush(d->conn, 1000);
    fprintf(stderr, "amber: the debugger sent <abort/>: ending the program\n");
    fflush(NULL);
    exit(EXIT_FAILURE);
  }
  return st;
}

void adbg_park_at(adbg *d, const char *path, size_t path_len, int64_t line,
                  const char *text, size_t text_len, const void *thread,
                  int depth) {
  if (d->conn == NULL || aconn_state_get(d->conn) != ACONN_UP) return;
  d->park = ADBG_AT_BREAK;
  d->park_thread = thread;
  d->park_depth = depth;
  d->resume = 0;
  d->step = ADBG_RUN;
  wire_msg_begin(&d->msg);
  wire_open(&d->msg, "break");
  if (path && line > 0) {
    wire_attr(&d->msg, "path", path, path_len);
    wire_attr_i64(&d->msg, "line", line);
  }
  wire_open_end(&d->msg);
  wire_text(&d->msg, text, text_len);
  wire_close(&d->msg, "break");
  wire_msg_end(&d->msg);
  adbg_send(d, &d->msg);
  send_views(d, 1, 1, 1);
  while (!d->resume && adbg_poll(d, 200) == ACONN_UP) {}
  d->park = ADBG_RUNNING;
  d->resume = 0;
}

void adbg_wait_login(adbg *d, unsigned ms) {
  uint64_t end = aconn_now_ms() + ms;
  if (d->conn == NULL) return;
  /* Parked from before the connection is up: a go that arrives with the
  ** login's reply must find the machine waiting for it. */
  d->park = ADBG_AT_LOGIN;
  d->park_thread = NULL;
  d->park_depth = 0;
  d->resume = 0;
  while (!d->resume) {
    uint64_t now = aconn_now_ms();
    if (now >= end) break;
    adbg_poll(d, (int)(end - now > 100 ? 100 : end - now));
  }
  d->park = ADBG_RUNNING;
  d->resume = 0;
}

int adbg_step_done(const adbg *d, int same_thread, int origin_waiting,
                   int depth) {
  switch (d->step) {
  case ADBG_RUN: return 0;
  case ADBG_STEP_INTO: return 1;
  case ADBG_STEP_OVER:
    return same_thread ? depth <= d->step_depth : !origin_waiting;
  case ADBG_STEP_OUT:
    return same_thread ? depth < d->step_depth : !origin_waiting;
  }
  return 0;
}
