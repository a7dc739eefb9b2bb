/*
** command.h
** Debugger-to-machine commands decoded from parsed wire items: the xsbug
** core (go, step, breakpoints, select, toggle …) and amber's snapshot
** and run requests. VM-neutral; internal to agent/.
*/
#ifndef AMBER_COMMAND_H
#define AMBER_COMMAND_H

#include <stddef.h>
#include <stdint.h>
#include "wire.h"

#define ACMD_MAX_PATH 4096     /* bytes in a breakpoint or root path */
#define ACMD_MAX_ROOTS 64
#define ACMD_MAX_EXITS 1024
#define ACMD_MAX_LABEL 1024
#define ACMD_MAX_CODE (1u << 20) /* bytes of Lua source in one <run> */

enum acmd_kind {
  ACMD_UNKNOWN = 0,
  ACMD_GO, ACMD_STEP, ACMD_STEP_INSIDE, ACMD_STEP_OUTSIDE,
  ACMD_ABORT, ACMD_LOGOUT,
  ACMD_SET_BREAKPOINT, ACMD_CLEAR_BREAKPOINT, ACMD_CLEAR_ALL_BREAKPOINTS,
  ACMD_SET_ALL_BREAKPOINTS,
  ACMD_SELECT, ACMD_TOGGLE,
  ACMD_SNAPSHOT,
  ACMD_RESTORE,              /* restore, graph, restore-end (section 5.5) */
  ACMD_RUN,                  /* run code in the VM (section 5.7) */
  ACMD_ACCEPT                /* what the debugger accepts (section 5.8) */
};

/* One command. Pointers borrow from the item and live as long as it. */
typedef struct acmd {
  enum acmd_kind kind;
  const wire_elem *elem;     /* the item itself */
  const char *path; size_t path_len; /* breakpoints */
  int64_t line;
  uint64_t id;               /* select/toggle: the @HEX id; snapshot, run: id */
  const char *code; size_t code_len; /* run: the source (may hold NULs) */
  int binary;                /* accept: the debugger reads binary frames */
} acmd;

/* Decode one item. Returns 0, or -1 with a reason in *why for an item that
** is malformed (a known command with missing or bad attributes); unknown
** element names give kind ACMD_UNKNOWN and 0. */
int acmd_decode(const wire_elem *e, acmd *c, const char **why);

/* Parse "@HEX" (xsbug ids; either case accepted). 0, or -1 if not an id. */
int acmd_parse_id(const char *s, size_t n, uint64_t *id);
/* Write "@" + UPPERCASE hex of id into out (at least 18 bytes). */
void acmd_format_id(uint64_t id, char out[18]);

/* A snapshot request turned into the walker's vocabulary: roots as
** "globals" … or "path:a.b", exits as dotted paths. Strings live in the
** struct's own storage. */
typedef struct acmd_snapshot {
  uint64_t id;
  const char *label;         /* NULL if none */
  const char *roots[ACMD_MAX_ROOTS]; size_t nroots;
  const char *exits[ACMD_MAX_EXITS]; size_t nexits;
  wire_buf store;
} acmd_snapshot;

void acmd_snapshot_init(acmd_snapshot *s);
void acmd_snapshot_free(acmd_snapshot *s);
/* Fill s from a <snapshot> element. 0, or -1 with a reason in *why (bad
** id, unknown root name, too many roots or exits, path too long). */
int acmd_snapshot_decode(const wire_elem *e, acmd_snapshot *s,
                         const char **why);

#endif
