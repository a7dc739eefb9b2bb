/*
** xs_check.c
** Reporting for the XS peer test: "ok N - …" lines, and a failure that
** shows the machine's output and kills it, so no machine outlives the test.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_check.h"

xm_peer xc_peer = {.fd = -1, .listen_fd = -1};
static int checks;

_Noreturn void xc_die(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "xs_peer: FAIL: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  char *out = xm_output(&xc_peer);
  if (out && out[0]) {
    size_t n = strlen(out);
    fprintf(stderr, "  the machine's output%s:\n%s\n", n > 2000 ? " (end)" : "",
            out + (n > 2000 ? n - 2000 : 0));
  }
  free(out);
  xm_close(&xc_peer); /* kills the machine if it still runs */
  exit(1);
}

/* Fail with what the message looked like, so the log shows the real bytes. */
_Noreturn void xc_die_at(const xt_node *n, const char *fmt, ...) {
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  wire_buf d;
  wire_buf_init(&d);
  xt_dump(&d, n);
  wire_buf_put(&d, "", 1);
  xc_die("%s\n  in: %.2000s", why, d.oom ? "?" : d.data);
}

void xc_ok(const char *fmt, ...) {
  va_list ap;
  checks++;
  printf("ok %d - ", checks);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

int xc_passed(void) { return checks; }

int xc_ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), t = strlen(tail);
  return n >= t && strcmp(s + n - t, tail) == 0;
}
