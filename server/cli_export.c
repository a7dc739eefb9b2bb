/*
** cli_export.c
** `amber export SNAP`: a snapshot, or the part reached from one node, as
** JSON lines or Graphviz DOT (formats in docs/store.md), streamed.
*/
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
  "usage: amber export SNAP [--format jsonl|dot] [--from NODE-OR-PATH]\n"
  "                    [--depth N] [--max-nodes N] [-o FILE] [--db FILE]\n"
  "\n"
  "Write snapshot SNAP as JSON lines (one node with its edges per line) or as\n"
  "a Graphviz graph (docs/store.md, \"Export\"). With --from, only the nodes\n"
  "reached from that node within --depth edges. Progress on a terminal.\n"
  "\n"
  "  --format F       jsonl (default) or dot\n"
  "  --from NODE      a node id or a path (globals.app)\n"
  "  --depth N        edges to follow from --from (default 3)\n"
  "  --max-nodes N    stop after N nodes (default: all; 10000 with --from)\n"
  "  -o FILE          write to FILE instead of stdout\n"
  "  --db FILE        default $AMBER_DB or amber.db\n"
  "\n"
  "Exit: 0 ok, 1 no such snapshot or node, or a write failed, 2 bad arguments,\n"
  "3 no database.\n";

int cli_export(int argc, char **argv) {
  static const struct option opts[] = {
    { "db", required_argument, 0, 'd' }, { "format", required_argument, 0, 'f' },
    { "from", required_argument, 0, 'F' }, { "depth", required_argument, 0, 'D' },
    { "max-nodes", required_argument, 0, 'n' }, { "output", required_argument, 0, 'o' },
    { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
  const char *db = cli_default_db(), *from = NULL, *out = NULL;
  store_export_opts eo;
  memset(&eo, 0, sizeof eo);
  eo.format = STORE_JSONL;
  eo.from = -1;
  eo.depth = 3;
  int64_t v;
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 'f':
      if (strcmp(optarg, "jsonl") == 0) eo.format = STORE_JSONL;
      else if (strcmp(optarg, "dot") == 0) eo.format = STORE_DOT;
      else {
        fprintf(stderr, "amber export: --format is jsonl or dot, not '%s'\n", optarg);
        return CLI_USAGE;
      }
      break;
    case 'F': from = optarg; break;
    case 'D':
    case 'n':
      if (cli_parse_id(optarg, &v) || (c == 'D' && v > 1000000)) {
        fprintf(stderr, "amber export: '%s' is not a usable number\n", optarg);
        return CLI_USAGE;
      }
      if (c == 'D') eo.depth = (unsigned)v;
      else eo.max_nodes = (uint64_t)v;
      break;
    case 'o': out = optarg; break;
    case 'h': fputs(usage, stdout); return CLI_OK;
    default: fprintf(stderr, "try: amber export --help\n"); return CLI_USAGE;
    }
  }
  int64_t snap;
  if (optind != argc - 1 || cli_parse_id(argv[optind], &snap)) {
    fprintf(stderr, "amber export: give one snapshot id (try amber export --help)\n");
    return CLI_USAGE;
  }
  store *st;
  int rc = cli_open_store(db, 1, &st);
  if (rc != CLI_OK) return rc;
  int s = STORE_OK;
  if (from) {
    const char *idtext = from[0] == '@' ? from + 1 : from;
    if (cli_parse_id(idtext, &eo.from) != 0) {
      wire_value val;
      s = store_resolve(st, snap, from, strlen(from), &val, NULL);
      if (s == STORE_OK && val.type != WIRE_V_REF) {
        fprintf(stderr, "amber export: %s is a scalar, not a node\n", from);
        store_close(st);
        return CLI_FAIL;
      }
      eo.from = s == STORE_OK ? (int64_t)val.u.ref : -1;
    }
  }
  FILE *f = stdout;
  if (s == STORE_OK && out && !(f = fopen(out, "w"))) {
    fprintf(stderr, "amber export: cannot write %s: %s\n", out, strerror(errno));
    store_close(st);
    return CLI_FAIL;
  }
  eo.progress = cli_progress_cb;
  eo.progress_ud = (void *)"export";
  if (s == STORE_OK) s = store_export_file(st, snap, &eo, f);
  cli_progress_end();
  if (f != stdout && fclose(f) != 0 && s == STORE_OK) {
    fprintf(stderr, "amber export: writing %s failed: %s\n", out, strerror(errno));
    rc = CLI_FAIL;
  }
  if (s != STORE_OK) rc = cli_store_error(st, s, "export");
  store_close(st);
  return rc;
}
