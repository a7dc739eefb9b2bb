/*
** xs_check.h
** How the XS peer test reports: a numbered "ok" line per passed check, and
** on the first failure a clear message, the machine's output, and its end.
*/
#ifndef AMBER_XS_CHECK_H
#define AMBER_XS_CHECK_H

#include "xs_machine.h"
#include "xs_tree.h"

/* The machine to kill (and whose output to show) when a check fails. */
extern xm_peer xc_peer;

/* Report a failure and exit 1, killing the machine if it still runs. */
_Noreturn void xc_die(const char *fmt, ...);
/* The same, showing the element n as it was parsed. */
_Noreturn void xc_die_at(const xt_node *n, const char *fmt, ...);
/* Report a passed check. */
void xc_ok(const char *fmt, ...);
/* Checks passed so far. */
int xc_passed(void);
/* 1 if s ends with tail. */
int xc_ends_with(const char *s, const char *tail);

/* Replay DIR's *.machine and *.debugger captures through wire_parser,
** whole, cut at every byte boundary and byte by byte (xs_replay.c). */
void xc_fixtures(const char *dir);

#endif
