/*
** cli_list.c
** `amber list`: the stored snapshots, newest first, read from the
** database directly (no server needed).
*/
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "api.h"

static const char usage[] =
  "usage: amber list [--db FILE] [--machine ID] [--offset N] [--limit N] [--json]\n"
  "\n"
  "List stored snapshots, newest first: id, machine, time, reason, node and\n"
  "edge counts, total shallow size, label.\n"
  "\n"
  "  --db FILE      the database (default $AMBER_DB or amber.db)\n"
  "  --machine ID   only this stored machine's snapshots\n"
  "  --offset N     skip the N newest (default 0)\n"
  "  --limit N      at most N (default 50; 0 = all)\n"
  "  --json         one JSON object per line (the API's form)\n"
  "\n"
  "Exit: 0 ok, 1 the database cannot be read, 2 bad arguments, 3 no database.\n";

typedef struct list_ctx {
  int json;
  uint64_t count;
} list_ctx;

static int on_snapshot(void *ud, const store_snapshot *s) {
  list_ctx *c = ud;
  c->count++;
  if (c->json) {
    wire_buf b;
    json_writer w;
    wire_buf_init(&b);
    json_init(&w, &b);
    api_snapshot_json(&w, s);
    if (b.data) fwrite(b.data, 1, b.len, stdout);
    fputc('\n', stdout);
    wire_buf_free(&b);
    return 0;
  }
  char t[32], sz[32];
  printf("%-5" PRId64 " ", s->id);
  size_t shown = s->machine_name_len < 20 ? s->machine_name_len : 20;
  cli_put_bytes(stdout, s->machine_name ? s->machine_name : "", shown, 20);
  printf("%*s %-19s %-8s %10" PRIu64 " %10" PRIu64 " %10s  ", (int)(20 - shown), "",
         cli_time(s->time_ms, t), s->reason ? s->reason : "-", s->nodes, s->edges,
         cli_human_size(s->bytes, sz));
  if (s->label) cli_put_bytes(stdout, s->label, s->label_len, 60);
  fputc('\n', stdout);
  return 0;
}

int cli_list(int argc, char **argv) {
  static const struct option opts[] = {
    { "db", required_argument, 0, 'd' }, { "machine", required_argument, 0, 'm' },
    { "offset", required_argument, 0, 'o' }, { "limit", required_argument, 0, 'l' },
    { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
  const char *db = cli_default_db();
  int64_t machine = 0, offset = 0, limit = 50;
  list_ctx ctx = { 0, 0 };
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 'm':
    case 'o':
    case 'l': {
      int64_t *dst = c == 'm' ? &machine : c == 'o' ? &offset : &limit;
      if (cli_parse_id(optarg, dst)) {
        fprintf(stderr, "amber list: '%s' is not a number\n", optarg);
        return CLI_USAGE;
      }
      break;
    }
    case 'j': ctx.json = 1; break;
    case 'h': fputs(usage, stdout); return CLI_OK;
    default: fprintf(stderr, "try: amber list --help\n"); return CLI_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "amber list: unexpected argument '%s'\n", argv[optind]);
    return CLI_USAGE;
  }
  store *st;
  int rc = cli_open_store(db, 1, &st);
  if (rc != CLI_OK) return rc;
  if (!ctx.json)
    printf("%-5s %-20s %-19s %-8s %10s %10s %10s  %s\n", "ID", "MACHINE", "TIME",
           "REASON", "NODES", "EDGES", "SIZE", "LABEL");
  int s = store_snapshots(st, machine, (uint64_t)offset, (uint64_t)limit, on_snapshot, &ctx);
  if (s != STORE_OK) rc = cli_store_error(st, s, "listing snapshots");
  else if (!ctx.json && ctx.count == 0) printf("(no snapshots in %s)\n", db);
  store_close(st);
  return rc;
}
