/*
** cli_import.c
** `amber import FILE`: store the snapshots of a capture file (the bytes an
** agent writes with no server) through the same ingest a socket uses.
*/
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
  "usage: amber import FILE [--db FILE]\n"
  "\n"
  "Import a capture file (`amber-lua --capture`, a crash capture, or any\n"
  "recording of a machine's stream; `-` reads stdin). Prints the ids of the\n"
  "snapshots stored, one per line, then builds their lookup indexes\n"
  "(retainers, addresses, types). A damaged capture keeps the snapshots\n"
  "completed before the damage and nothing of the broken one.\n"
  "\n"
  "  --db FILE      default $AMBER_DB or amber.db (created if missing)\n"
  "\n"
  "Exit: 0 ok, 1 the capture is damaged or unreadable, 2 bad arguments, 3 the\n"
  "database cannot be opened.\n";

int cli_import(int argc, char **argv) {
  static const struct option opts[] = {
    { "db", required_argument, 0, 'd' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
  const char *db = cli_default_db();
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 'h': fputs(usage, stdout); return CLI_OK;
    default: fprintf(stderr, "try: amber import --help\n"); return CLI_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "amber import: give one capture file (try amber import --help)\n");
    return CLI_USAGE;
  }
  const char *file = argv[optind];
  store *st;
  int rc = cli_open_store(db, 0, &st);
  if (rc != CLI_OK) return rc;
  int64_t *ids = NULL;
  size_t nids = 0;
  int s = strcmp(file, "-") == 0
            ? store_import_stream(st, stdin, "stdin", &ids, &nids, cli_progress_cb,
                                  (void *)"import")
            : store_import_file(st, file, &ids, &nids, cli_progress_cb, (void *)"import");
  cli_progress_end();
  for (size_t i = 0; i < nids; i++) printf("%" PRId64 "\n", ids[i]);
  /* the lookup indexes now, as the server builds them after a commit */
  for (size_t i = 0; i < nids; i++) {
    int ix = store_index(st, ids[i], cli_progress_cb, (void *)"index");
    cli_progress_end();
    if (ix != STORE_OK)
      fprintf(stderr, "amber: snapshot %" PRId64 " is stored but not indexed (%s); "
              "retainers and searches read it whole until `amber serve` "
              "indexes it\n", ids[i], store_errmsg(st));
  }
  if (s != STORE_OK) {
    rc = cli_store_error(st, s, file);
    if (nids)
      fprintf(stderr, "amber: %zu snapshot(s) before the damage were stored\n", nids);
  } else {
    fprintf(stderr, "amber: imported %zu snapshot(s) from %s into %s\n", nids, file, db);
  }
  free(ids);
  store_close(st);
  return rc;
}
