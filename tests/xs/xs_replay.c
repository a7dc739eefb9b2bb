/*
** xs_replay.c
** Captured XS streams (tests/xs/fixtures) through wire_parser: the result
** must not depend on how the bytes are cut, down to one byte at a time.
*/
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "xs_check.h"
#include "xs_tree.h"

#define FIXTURE_MAX (1u << 20)

typedef struct replay {
  wire_buf result;     /* canonical text of everything the parser said */
  const char *data;    /* the fixture, for the independent check */
  int verify;          /* check each message against the raw bytes */
  const char *name;
  size_t messages;
} replay;

static int on_replay(void *ud, const wire_msg *m) {
  replay *r = ud;
  char head[128];
  snprintf(head, sizeof head, "msg %llu @%llu+%llu %s: ", (unsigned long long)m->seq,
           (unsigned long long)m->offset, (unsigned long long)m->length,
           m->wrapped ? "wrapped" : "bare");
  wire_buf_puts(&r->result, head);
  xt_dump_wire(&r->result, m->items);
  wire_buf_puts(&r->result, "\n");
  if (r->verify) {
    xt_node *items = xt_copy(m->items);
    if (items == NULL && m->items) xc_die("out of memory");
    xm_msg xm = {items, m->wrapped, m->seq, m->offset, m->length};
    char why[768];
    xt_node *scanned = xt_scan_xs(r->data + m->offset, (size_t)m->length, why, sizeof why);
    if (scanned == NULL) xc_die("%s message %llu: the independent reader fails: %s", r->name,
                             (unsigned long long)m->seq, why);
    if (xt_compare(xm.items, m->wrapped ? scanned->children : scanned, why, sizeof why))
      xc_die("%s message %llu: wire_parser and the raw bytes disagree: %s", r->name,
          (unsigned long long)m->seq, why);
    xt_free(scanned);
    xt_free(items);
  }
  r->messages++;
  return 0;
}

static void note_status(replay *r, wire_parser *p, enum wire_status st) {
  const wire_error *e = wire_parser_error(p);
  char line[160];
  snprintf(line, sizeof line, "error %s at %llu (message %llu at %llu)\n", wire_status_name(st),
           (unsigned long long)e->offset, (unsigned long long)e->msg_seq,
           (unsigned long long)e->msg_offset);
  wire_buf_puts(&r->result, line);
}

/* Feed data in chunks cut at cuts[0] < cuts[1] < … (ncuts of them);
** step > 0 instead feeds step bytes at a time. After an error the parser
** resynchronises, as `amber wire --resync` does, and the replay goes on. */
static void run_replay(replay *r, const char *data, size_t n, const size_t *cuts, size_t ncuts,
                       size_t step) {
  wire_buf_reset(&r->result);
  r->data = data;
  r->messages = 0;
  wire_parser *p = wire_parser_new(NULL, on_replay, r);
  if (p == NULL) xc_die("out of memory");
  size_t at = 0, k = 0;
  while (at < n) {
    size_t end = step ? (at + step < n ? at + step : n) : (k < ncuts ? cuts[k++] : n);
    enum wire_status st = wire_parser_feed(p, data + at, end - at);
    if (st != WIRE_OK) {
      note_status(r, p, st);
      wire_parser_resync(p);
    }
    at = end;
  }
  enum wire_status st = wire_parser_finish(p);
  if (st != WIRE_OK) note_status(r, p, st);
  wire_parser_free(p);
  wire_buf_put(&r->result, "", 1); /* keep it a C string for printing */
  if (r->result.oom) xc_die("out of memory");
  r->result.len--;
}

static void same_result(const replay *whole, const replay *part, const char *name, const char *how) {
  if (whole->result.len == part->result.len &&
      memcmp(whole->result.data, part->result.data, whole->result.len) == 0)
    return;
  size_t i = 0;
  while (i < whole->result.len && i < part->result.len && whole->result.data[i] == part->result.data[i]) i++;
  size_t from = i > 80 ? i - 80 : 0;
  xc_die("%s: feeding it %s gives a different result than feeding it whole, from character %zu:\n"
      "  whole: %.200s\n  split: %.200s", name, how, i,
      whole->result.data + from, part->result.data + from);
}

static char *read_fixture(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) xc_die("cannot open %s", path);
  char *data = malloc(FIXTURE_MAX);
  if (data == NULL) xc_die("out of memory");
  *n = fread(data, 1, FIXTURE_MAX, f);
  if (!feof(f)) xc_die("%s is larger than %u bytes; fixtures are meant to be small", path, FIXTURE_MAX);
  fclose(f);
  return data;
}

static void replay_fixture(const char *dir, const char *name) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t n;
  char *data = read_fixture(path, &n);
  if (n < 2) xc_die("%s is empty", path);
  /* malformed-* fixtures hold XS output that is not well-formed XML: the
  ** parser must survive them the same way at every split, nothing more */
  int malformed = strncmp(name, "malformed-", 10) == 0;
  replay whole = {.verify = !malformed, .name = name}, part = {.name = name};
  wire_buf_init(&whole.result);
  wire_buf_init(&part.result);
  run_replay(&whole, data, n, NULL, 0, 0);
  if (!malformed && (whole.messages == 0 || strstr(whole.result.data, "\nerror ") ||
                     strncmp(whole.result.data, "error ", 6) == 0))
    xc_die("%s: the parser rejected well-formed XS output:\n%.2000s", name, whole.result.data);
  if (malformed && !strstr(whole.result.data, "error "))
    printf("note: %s was accepted whole\n", name);
  for (size_t k = 1; k < n; k++) {
    run_replay(&part, data, n, &k, 1, 0);
    char how[64];
    snprintf(how, sizeof how, "in two chunks cut at byte %zu", k);
    same_result(&whole, &part, name, how);
  }
  run_replay(&part, data, n, NULL, 0, 1);
  same_result(&whole, &part, name, "one byte at a time");
  wire_buf_free(&part.result);
  xc_ok("%s: %zu bytes, %zu messages%s; same result cut at each of %zu byte boundaries and byte by byte",
     name, n, whole.messages, malformed ? " (malformed: errors included in the comparison)"
                                        : ", each identical to the raw bytes decoded independently",
     n - 1);
  wire_buf_free(&whole.result);
  free(data);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void xc_fixtures(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) xc_die("cannot open the fixture directory %s", dir);
  char *names[64];
  size_t count = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (!xc_ends_with(e->d_name, ".machine") && !xc_ends_with(e->d_name, ".debugger")) continue;
    if (count == sizeof names / sizeof names[0]) xc_die("more than 64 fixtures in %s", dir);
    if ((names[count++] = strdup(e->d_name)) == NULL) xc_die("out of memory");
  }
  closedir(d);
  if (count == 0) xc_die("no *.machine or *.debugger fixtures in %s", dir);
  qsort(names, count, sizeof names[0], cmp_names);
  for (size_t i = 0; i < count; i++) {
    replay_fixture(dir, names[i]);
    free(names[i]);
  }
}
