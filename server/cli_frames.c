/*
** cli_frames.c
** `amber frames SNAP`: the stack of a break or crash snapshot, each frame
** with its locals, varargs and upvalues; the error and traceback first.
*/
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
  "usage: amber frames SNAP [--db FILE] [--locals N]\n"
  "\n"
  "Show the stack frames captured in snapshot SNAP (a crash, a break, or any\n"
  "snapshot with the stack root), innermost first, with their locals.\n"
  "\n"
  "  --db FILE      default $AMBER_DB or amber.db\n"
  "  --locals N     locals shown per frame (default 50; 0 = all)\n"
  "\n"
  "Exit: 0 ok, 1 no such snapshot, 2 bad arguments, 3 no database.\n";

typedef struct frame_copy {
  uint64_t thread, node;
  int64_t level, line;
  int has_line;
  char *name, *source;
  size_t name_len, source_len;
} frame_copy;

typedef struct frames_ctx {
  frame_copy *v;
  size_t n, cap;
  store *st;
  int64_t snap;
} frames_ctx;

static char *dup_bytes(const char *p, size_t n) {
  if (!p) return NULL;
  char *c = malloc(n + 1);
  if (c) {
    memcpy(c, p, n);
    c[n] = 0;
  }
  return c;
}

static int on_frame(void *ud, const store_frame *f) {
  frames_ctx *c = ud;
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    frame_copy *v = realloc(c->v, cap * sizeof *v);
    if (!v) return 1;
    c->v = v;
    c->cap = cap;
  }
  frame_copy *r = &c->v[c->n++];
  r->thread = f->thread;
  r->node = f->node;
  r->level = f->level;
  r->line = f->line;
  r->has_line = f->has_line;
  r->name = dup_bytes(f->name, f->name_len);
  r->name_len = f->name_len;
  r->source = dup_bytes(f->source, f->source_len);
  r->source_len = f->source_len;
  return 0;
}

static int on_local(void *ud, const store_edge *se) {
  frames_ctx *c = ud;
  const wire_edge *e = &se->e;
  printf("      %-8s ", e->kind);
  if (e->name) cli_put_bytes(stdout, e->name, e->name_len, 60);
  else if (e->has_index) printf("[%" PRId64 "]", e->index);
  fputs(" = ", stdout);
  if (e->value.type == WIRE_V_REF) {
    store_node n;
    printf("#%" PRIu64, e->value.u.ref);
    if (store_node_get(c->st, c->snap, e->value.u.ref, &n) == STORE_OK) {
      printf(" %s", n.n.kind);
      if (n.n.type) {
        fputc(' ', stdout);
        cli_put_bytes(stdout, n.n.type, n.n.type_len, 60);
      }
      if (n.n.has_value) {
        fputs(" \"", stdout);
        cli_put_bytes(stdout, n.n.value, n.n.value_len, 80);
        fputc('"', stdout);
      }
      store_node_release(&n);
    }
  } else {
    cli_put_value(stdout, &e->value);
  }
  fputc('\n', stdout);
  return 0;
}

int cli_frames(int argc, char **argv) {
  static const struct option opts[] = {
    { "db", required_argument, 0, 'd' }, { "locals", required_argument, 0, 'l' },
    { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
  const char *db = cli_default_db();
  int64_t nlocals = 50;
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 'l':
      if (cli_parse_id(optarg, &nlocals)) {
        fprintf(stderr, "amber frames: --locals wants a number\n");
        return CLI_USAGE;
      }
      break;
    case 'h': fputs(usage, stdout); return CLI_OK;
    default: fprintf(stderr, "try: amber frames --help\n"); return CLI_USAGE;
    }
  }
  int64_t snap;
  if (optind != argc - 1 || cli_parse_id(argv[optind], &snap)) {
    fprintf(stderr, "amber frames: give one snapshot id (try amber frames --help)\n");
    return CLI_USAGE;
  }
  store *st;
  int rc = cli_open_store(db, 1, &st);
  if (rc != CLI_OK) return rc;
  store_snapshot s;
  int r = store_snapshot_get(st, snap, &s);
  if (r != STORE_OK) {
    rc = cli_store_error(st, r, "frames");
    store_close(st);
    return rc;
  }
  printf("snapshot %" PRId64 " (%s)\n", snap, s.reason ? s.reason : "?");
  if (s.error) {
    fputs("error: ", stdout);
    cli_put_bytes(stdout, s.error, s.error_len, 2000);
    fputc('\n', stdout);
  }
  if (s.traceback) {
    /* Tracebacks are multi-line: print line by line, each made safe. */
    fputs("traceback:\n", stdout);
    const char *p = s.traceback, *end = p + s.traceback_len;
    while (p < end) {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
      fputs("  ", stdout);
      cli_put_bytes(stdout, p, n, 400);
      fputc('\n', stdout);
      p += n + (nl ? 1 : 0);
    }
  }
  store_snapshot_release(&s);
  frames_ctx ctx = { NULL, 0, 0, st, snap };
  r = store_frames(st, snap, on_frame, &ctx);
  if (r != STORE_OK) {
    rc = cli_store_error(st, r, "listing frames");
  } else if (ctx.n == 0) {
    printf("(no frames: snapshot the stack root, or take it at a break or crash)\n");
  }
  uint64_t thread = UINT64_MAX;
  for (size_t i = 0; i < ctx.n && rc == CLI_OK; i++) {
    frame_copy *f = &ctx.v[i];
    if (f->thread != thread) {
      printf("thread #%" PRIu64 ":\n", f->thread);
      thread = f->thread;
    }
    printf("  [%" PRId64 "] ", f->level);
    if (f->name) cli_put_bytes(stdout, f->name, f->name_len, 80);
    else fputs("?", stdout);
    fputs("  ", stdout);
    if (f->source) cli_put_bytes(stdout, f->source, f->source_len, 120);
    if (f->has_line) printf(":%" PRId64, f->line);
    printf("  (node #%" PRIu64 ")\n", f->node);
    r = store_children(st, snap, f->node, 0, (uint64_t)nlocals, on_local, &ctx);
    if (r != STORE_OK) rc = cli_store_error(st, r, "listing locals");
  }
  for (size_t i = 0; i < ctx.n; i++) {
    free(ctx.v[i].name);
    free(ctx.v[i].source);
  }
  free(ctx.v);
  store_close(st);
  return rc;
}
