/*
** breakpoints.h
** The breakpoint table: (path, line) pairs set by the debugger, with a
** lookup cheap enough to run on every line event. VM-neutral; internal.
*/
#ifndef AMBER_BREAKPOINTS_H
#define AMBER_BREAKPOINTS_H

#include <stddef.h>
#include <stdint.h>

#define ABPT_MAX 4096          /* breakpoints kept; more are refused */

typedef struct abpt_entry {
  char *path;                  /* normalised: no leading "@" or "./" */
  size_t len;
  int line;
} abpt_entry;

typedef struct abpt_table {
  abpt_entry *v;
  size_t n, cap;
  uint64_t lines[16];          /* bit (line % 1024): some breakpoint may be
                                  on a line congruent to it */
} abpt_table;

void abpt_init(abpt_table *t);
void abpt_free(abpt_table *t);
/* Add a breakpoint (no duplicate). 0, or -1 when full or out of memory. */
int abpt_set(abpt_table *t, const char *path, size_t len, int line);
/* Remove one; 1 if it was there, else 0. */
int abpt_clear(abpt_table *t, const char *path, size_t len, int line);
void abpt_clear_all(abpt_table *t);
#define abpt_count(t) ((t)->n)
/* 0 when no breakpoint can be on line: the fast rejection. */
#define abpt_maybe(t, line) \
  ((t)->lines[((unsigned)(line) & 1023u) >> 6] >> ((unsigned)(line) & 63u) & 1u)
/* 1 if a breakpoint matches a source at line. A breakpoint path matches
** when it equals the source, or one ends with "/" + the other (so "app.lua"
** matches "/srv/app.lua"). source may start with "@" as Lua writes it. */
int abpt_match(const abpt_table *t, const char *source, size_t len, int line);

#endif
