/*
** cli_common.c
** Helpers shared by the subcommands: defaults, opening the store, calling
** the HTTP API, terminal-safe output and progress lines.
*/
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "http_client.h"

const char *cli_default_db(void) {
  const char *e = getenv("AMBER_DB");
  return e && *e ? e : "amber.db";
}

const char *cli_default_server(void) {
  const char *e = getenv("AMBER_SERVER");
  return e && *e ? e : "http://127.0.0.1:8080";
}

const char *cli_default_token(void) {
  const char *e = getenv("AMBER_TOKEN");
  return e && *e ? e : NULL;
}

int cli_parse_id(const char *s, int64_t *out) {
  if (!s || !*s || *s == '-' || *s == '+') return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

int cli_open_store(const char *path, int readonly, store **out) {
  struct stat st;
  if (readonly && stat(path, &st) != 0) {
    fprintf(stderr, "amber: no database at %s (give one with --db FILE; "
            "`amber serve` or `amber import` creates it)\n", path);
    return CLI_UNREACHABLE;
  }
  char err[512];
  int rc = store_open(out, path, readonly ? STORE_READONLY : 0, err, sizeof err);
  if (rc != STORE_OK) {
    fprintf(stderr, "amber: %s\n", err);
    return CLI_UNREACHABLE;
  }
  return CLI_OK;
}

int cli_store_error(store *st, int status, const char *doing) {
  const char *msg = st ? store_errmsg(st) : NULL;
  fprintf(stderr, "amber: %s: %s\n", doing,
          msg && *msg ? msg : store_status_name(status));
  return status == STORE_EBUSY ? CLI_UNREACHABLE : CLI_FAIL;
}

int cli_api(const char *server, const char *token, const char *method,
            const char *path, const char *body, size_t body_len,
            json_doc **out) {
  http_reply r;
  char err[512];
  *out = NULL;
  enum http_client_result hr = http_request(server, method, path, body, body_len,
                                            token, 10000, &r, err, sizeof err);
  if (hr == HTTP_CLIENT_EURL) {
    fprintf(stderr, "amber: %s\n", err);
    return CLI_USAGE;
  }
  if (hr != HTTP_CLIENT_OK) {
    fprintf(stderr, "amber: %s (is `amber serve` running? give its address with "
            "--server http://HOST:PORT)\n", err);
    return CLI_UNREACHABLE;
  }
  char perr[160];
  json_doc *d = json_parse(r.body.data ? r.body.data : "", r.body.len, perr, sizeof perr);
  int rc = CLI_OK;
  if (r.status < 200 || r.status > 299) {
    const json_value *root = d ? json_root(d) : NULL;
    const char *what = json_get_str(root, "error"), *hint = json_get_str(root, "hint");
    fprintf(stderr, "amber: the server says (%d): %s%s%s\n", r.status,
            what ? what : "error", hint ? "\n  hint: " : "", hint ? hint : "");
    rc = r.status == 401 ? CLI_USAGE : CLI_FAIL;
    json_doc_free(d);
  } else if (!d) {
    fprintf(stderr, "amber: the server's reply is not JSON: %s\n", perr);
    rc = CLI_FAIL;
  } else {
    *out = d;
  }
  http_reply_free(&r);
  return rc;
}

void cli_print_json(const json_value *v) {
  wire_buf b;
  json_writer w;
  wire_buf_init(&b);
  json_init(&w, &b);
  json_emit(&w, v);
  if (b.data) fwrite(b.data, 1, b.len, stdout);
  fputc('\n', stdout);
  wire_buf_free(&b);
}

/* Length of a valid UTF-8 sequence of a printable character at p, or 0. */
static size_t utf8_ok(const unsigned char *p, size_t n) {
  if (p[0] < 0xC2 || p[0] > 0xF4) return 0;
  size_t len = p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : 4;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++)
    if ((p[i] & 0xC0) != 0x80) return 0;
  if (len == 3 && p[0] == 0xE0 && p[1] < 0xA0) return 0;
  if (len == 3 && p[0] == 0xED && p[1] >= 0xA0) return 0;
  if (len == 4 && p[0] == 0xF0 && p[1] < 0x90) return 0;
  if (len == 4 && p[0] == 0xF4 && p[1] >= 0x90) return 0;
  if (len == 2 && p[0] == 0xC2 && p[1] < 0xA0) return 0; /* C1 controls */
  return len;
}

void cli_put_bytes(FILE *f, const char *s, size_t n, size_t max) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, lim = n < max ? n : max;
  while (i < lim) {
    if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\') {
      fputc(p[i], f);
      i++;
      continue;
    }
    size_t u = p[i] >= 0x80 ? utf8_ok(p + i, lim - i) : 0;
    if (u) {
      fwrite(p + i, 1, u, f);
      i += u;
    } else if (p[i] == '\\') {
      fputs("\\\\", f);
      i++;
    } else if (p[i] == '\n') {
      fputs("\\n", f);
      i++;
    } else if (p[i] == '\t') {
      fputs("\\t", f);
      i++;
    } else {
      fprintf(f, "\\x%02x", p[i]);
      i++;
    }
  }
  if (n > max) fputs("…", f);
}

void cli_put_value(FILE *f, const wire_value *v) {
  switch (v->type) {
  case WIRE_V_NONE: fputs("(none)", f); break;
  case WIRE_V_NIL: fputs("nil", f); break;
  case WIRE_V_BOOL: fputs(v->u.b ? "true" : "false", f); break;
  case WIRE_V_INT: fprintf(f, "%" PRId64, v->u.i); break;
  case WIRE_V_FLOAT:
    if (isnan(v->u.f)) fputs("nan", f);
    else if (isinf(v->u.f)) fputs(v->u.f < 0 ? "-inf" : "inf", f);
    else if (v->u.f == 0 && signbit(v->u.f)) fputs("-0.0", f);
    else {
      char t[40];
      for (int prec = 15; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v->u.f);
        if (strtod(t, NULL) == v->u.f) break;
      }
      /* Keep floats recognisable: 1.0, not 1. */
      fputs(t, f);
      if (!strpbrk(t, ".eEn")) fputs(".0", f);
    }
    break;
  case WIRE_V_REF: fprintf(f, "@%" PRIu64, v->u.ref); break;
  }
}

const char *cli_human_size(uint64_t b, char buf[32]) {
  static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
  double x = (double)b;
  int u = 0;
  while (x >= 1024 && u < 4) { x /= 1024; u++; }
  if (u == 0) snprintf(buf, 32, "%" PRIu64 " B", b);
  else snprintf(buf, 32, "%.1f %s", x, units[u]);
  return buf;
}

const char *cli_time(int64_t ms, char buf[32]) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (ms <= 0 || !localtime_r(&t, &tm)) snprintf(buf, 32, "-");
  else strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

static int progress_shown;

void cli_progress(const char *what, uint64_t nodes, uint64_t edges) {
  static int tty = -1;
  if (tty < 0) tty = isatty(STDERR_FILENO);
  if (!tty) return;
  /* A bar that fills logarithmically: sizes are not known in advance. */
  int fill = nodes ? (int)(log10((double)nodes + 1) * 4) : 0;
  if (fill > 28) fill = 28;
  char bar[29];
  memset(bar, '#', (size_t)fill);
  memset(bar + fill, '.', (size_t)(28 - fill));
  bar[28] = 0;
  fprintf(stderr, "\r%s [%s] %" PRIu64 " nodes, %" PRIu64 " edges\033[K", what,
          bar, nodes, edges);
  fflush(stderr);
  progress_shown = 1;
}

void cli_progress_end(void) {
  if (progress_shown) fputc('\n', stderr);
  progress_shown = 0;
}

void cli_progress_cb(void *ud, uint64_t nodes, uint64_t edges) {
  cli_progress(ud ? (const char *)ud : "", nodes, edges);
}

static char program[PATH_MAX];

void cli_set_program(const char *argv0) {
  /* a path as run (not /proc/self/exe: under valgrind that is valgrind) */
  if (argv0 && strchr(argv0, '/') && realpath(argv0, program)) return;
  snprintf(program, sizeof program, "/proc/self/exe");
}

const char *cli_program(void) {
  return program[0] ? program : "/proc/self/exe";
}

const char *cli_exe_dir(char *buf, size_t n) {
  if (n < 2) return NULL;
  ssize_t len = readlink("/proc/self/exe", buf, n - 1);
  if (len <= 0 || (size_t)len >= n - 1) return NULL;   /* failed, or cut */
  buf[len] = 0;
  char *slash = strrchr(buf, '/');
  if (!slash) return NULL;
  *slash = 0;
  return buf;
}
