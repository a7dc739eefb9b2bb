/*
** cli_prepare.c
** `amber prepare`: build a snapshot's lookup indexes and compute and keep
** its analysis, so retainers, searches and the viewer's first summary are
** fast. The server runs it in a child process after each snapshot it
** stores (serve_prepare.c): the graph it loads then never counts in the
** server's own memory.
*/
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "analysis.h"
#include "cli.h"

static const char usage[] =
  "usage: amber prepare [--db FILE] [--json] SNAPSHOT...\n"
  "\n"
  "Build the lookup indexes of each snapshot (retainers, search by type or\n"
  "address) and compute and keep its analysis (dominators, retained sizes,\n"
  "summary), as the server does after each snapshot it stores. Useful after\n"
  "`amber import`, or for a database written by an older amber.\n"
  "\n"
  "  --db FILE      the database (default $AMBER_DB or amber.db)\n"
  "  --json         one JSON object per snapshot: {\"id\", \"computed\",\n"
  "                 \"kept\", \"ms\"}, or {\"id\", \"status\"} when it failed\n"
  "                 (the reason goes to stderr)\n"
  "\n"
  "Exit: 0 done, 1 a snapshot is missing or failed, 2 bad arguments,\n"
  "3 the database cannot be opened or is busy.\n";

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Index and analyse one snapshot; prints the outcome. */
static int prepare_one(store *st, int64_t snap, int json) {
  uint64_t t0 = mono_ms();
  int computed = 0;
  char err[512] = "";
  int s = store_index(st, snap, cli_progress_cb, (void *)"indexing");
  cli_progress_end();
  if (s == STORE_OK) s = analysis_prepare(st, snap, &computed, err, sizeof err);
  else snprintf(err, sizeof err, "indexing: %s", store_errmsg(st));
  if (s != STORE_OK) {
    if (s == STORE_ENOTFOUND)
      snprintf(err, sizeof err, "there is no snapshot #%" PRId64 " (amber list "
               "shows them)", snap);
    fprintf(stderr, "amber prepare: snapshot #%" PRId64 ": %s\n", snap,
            err[0] ? err : store_status_name(s));
    if (json)
      printf("{\"id\":%" PRId64 ",\"status\":\"%s\"}\n", snap, store_status_name(s));
    return s == STORE_EBUSY ? CLI_UNREACHABLE : CLI_FAIL;
  }
  int kept = analysis_kept(st, snap);
  unsigned long long ms = (unsigned long long)(mono_ms() - t0);
  if (json)
    printf("{\"id\":%" PRId64 ",\"computed\":%s,\"kept\":%s,\"ms\":%llu}\n", snap,
           computed ? "true" : "false", kept ? "true" : "false", ms);
  else if (!kept)
    printf("snapshot #%" PRId64 ": indexed; analysed in %llu ms but not kept (the "
           "database is busy, or the snapshot is too large to keep)\n", snap, ms);
  else
    printf("snapshot #%" PRId64 ": indexed; %s in %llu ms\n", snap,
           computed ? "analysed" : "already analysed", ms);
  fflush(stdout);
  return CLI_OK;
}

int cli_prepare(int argc, char **argv) {
  static const struct option opts[] = {
    { "db", required_argument, 0, 'd' }, { "json", no_argument, 0, 'j' },
    { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
  const char *db = cli_default_db();
  int json = 0, c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 'j': json = 1; break;
    case 'h': fputs(usage, stdout); return CLI_OK;
    default: fprintf(stderr, "try: amber prepare --help\n"); return CLI_USAGE;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "amber prepare: name a snapshot id (amber list shows them)\n");
    return CLI_USAGE;
  }
  for (int i = optind; i < argc; i++) {
    int64_t id;
    if (cli_parse_id(argv[i], &id) || id <= 0) {
      fprintf(stderr, "amber prepare: '%s' is not a snapshot id\n", argv[i]);
      return CLI_USAGE;
    }
  }
  struct stat sb;
  if (stat(db, &sb) != 0) {
    fprintf(stderr, "amber prepare: there is no database at %s (--db FILE, or "
            "$AMBER_DB)\n", db);
    return CLI_UNREACHABLE;
  }
  store *st;
  int rc = cli_open_store(db, 0, &st);
  if (rc != CLI_OK) return rc;
  for (int i = optind; i < argc; i++) {
    int64_t id;
    cli_parse_id(argv[i], &id);
    int one = prepare_one(st, id, json);
    if (one != CLI_OK && rc == CLI_OK) rc = one;
  }
  store_close(st);
  return rc;
}
