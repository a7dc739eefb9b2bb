/*
** cli_snapshot.c
** `amber snapshot MACHINE`: ask a running server to snapshot a connected
** machine, and with --wait follow the request to its stored snapshot id.
*/
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage[] =
  "usage: amber snapshot MACHINE [--root R]... [--exit E]... [--label L]\n"
  "                      [--wait] [--timeout SECONDS] [--server URL] [--token T]\n"
  "\n"
  "Ask the server to snapshot MACHINE (its id or name in `amber machines`).\n"
  "Prints the request id on stdout; with --wait, follows the request (a progress\n"
  "line on a terminal: nodes so far) and prints the stored snapshot's id instead.\n"
  "\n"
  "  --root R       what to walk: globals, registry, loaded, stack, threads, or a\n"
  "                 dotted path such as app.state (repeatable; default: globals,\n"
  "                 registry, stack)\n"
  "  --exit E       a dotted path where the walk stops, e.g. io.stdout (repeatable)\n"
  "  --label L      a label stored with the snapshot\n"
  "  --wait         wait until the snapshot is stored (or fails)\n"
  "  --timeout S    give up waiting after S seconds (default 600)\n"
  "  --server URL   default $AMBER_SERVER or http://127.0.0.1:8080\n"
  "  --token T      default $AMBER_TOKEN\n"
  "\n"
  "Exit: 0 ok, 1 refused or failed, 2 bad arguments, 3 no server answers.\n";

#define MAX_LIST 64

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static int follow(const char *server, const char *token, int64_t req, long timeout_s) {
  char path[64];
  snprintf(path, sizeof path, "/api/requests/%" PRId64, req);
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    json_doc *d;
    int rc = cli_api(server, token, "GET", path, NULL, 0, &d);
    if (rc != CLI_OK) { cli_progress_end(); return rc; }
    const json_value *r = json_root(d);
    const char *state = json_get_str(r, "state");
    int64_t nodes = 0, edges = 0, snap = -1;
    json_get_i64(r, "nodes", 0, &nodes);
    json_get_i64(r, "edges", 0, &edges);
    if (state && strcmp(state, "done") == 0 && json_get_i64(r, "snapshot", -1, &snap) == 0) {
      cli_progress((const char *)"snapshot", (uint64_t)nodes, (uint64_t)edges);
      cli_progress_end();
      fprintf(stderr, "amber: stored snapshot %" PRId64 " (%" PRId64 " nodes, %" PRId64
              " edges)\n", snap, nodes, edges);
      printf("%" PRId64 "\n", snap);
      json_doc_free(d);
      return CLI_OK;
    }
    if (state && strcmp(state, "failed") == 0) {
      cli_progress_end();
      const char *err = json_get_str(r, "error");
      fprintf(stderr, "amber: the snapshot failed: %s\n", err ? err : "(no reason given)");
      json_doc_free(d);
      return CLI_FAIL;
    }
    int waiting = state && strcmp(state, "sent") == 0;
    json_doc_free(d);
    cli_progress(waiting ? "waiting " : "snapshot", (uint64_t)nodes, (uint64_t)edges);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec > timeout_s) {
      cli_progress_end();
      fprintf(stderr, "amber: still not done after %ld s; request %" PRId64 " goes on "
              "(GET %s%s)\n", timeout_s, req, server, path);
      return CLI_FAIL;
    }
    sleep_ms(100);
  }
}

int cli_snapshot(int argc, char **argv) {
  static const struct option opts[] = {
    { "root", required_argument, 0, 'r' }, { "exit", required_argument, 0, 'e' },
    { "label", required_argument, 0, 'l' }, { "wait", no_argument, 0, 'w' },
    { "timeout", required_argument, 0, 'T' }, { "server", required_argument, 0, 's' },
    { "token", required_argument, 0, 't' }, { "help", no_argument, 0, 'h' },
    { 0, 0, 0, 0 } };
  const char *server = cli_default_server(), *token = cli_default_token();
  const char *roots[MAX_LIST], *exits[MAX_LIST], *label = NULL;
  int nroots = 0, nexits = 0, wait = 0, c;
  int64_t timeout = 600;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'r':
    case 'e':
      if ((c == 'r' ? nroots : nexits) == MAX_LIST) {
        fprintf(stderr, "amber snapshot: at most %d roots and %d exits\n", MAX_LIST, MAX_LIST);
        return CLI_USAGE;
      }
      if (c == 'r') roots[nroots++] = optarg;
      else exits[nexits++] = optarg;
      break;
    case 'l': label = optarg; break;
    case 'w': wait = 1; break;
    case 'T':
      if (cli_parse_id(optarg, &timeout) || timeout == 0) {
        fprintf(stderr, "amber snapshot: --timeout wants a number of seconds\n");
        return CLI_USAGE;
      }
      break;
    case 's': server = optarg; break;
    case 't': token = optarg; break;
    case 'h': fputs(usage, stdout); return CLI_OK;
    default: fprintf(stderr, "try: amber snapshot --help\n"); return CLI_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "amber snapshot: give exactly one MACHINE (try amber snapshot --help)\n");
    return CLI_USAGE;
  }
  int64_t mid;
  int rc = cli_find_machine(server, token, argv[optind], &mid);
  if (rc != CLI_OK) return rc;

  wire_buf body;
  json_writer w;
  wire_buf_init(&body);
  json_init(&w, &body);
  json_object_begin(&w);
  if (nroots) {
    json_keyz(&w, "roots");
    json_array_begin(&w);
    for (int i = 0; i < nroots; i++) json_stringz(&w, roots[i]);
    json_array_end(&w);
  }
  if (nexits) {
    json_keyz(&w, "exits");
    json_array_begin(&w);
    for (int i = 0; i < nexits; i++) json_stringz(&w, exits[i]);
    json_array_end(&w);
  }
  if (label) json_kv_str(&w, "label", label);
  json_object_end(&w);
  char path[64];
  snprintf(path, sizeof path, "/api/machines/%" PRId64 "/snapshot", mid);
  json_doc *d;
  rc = cli_api(server, token, "POST", path, body.data, body.len, &d);
  wire_buf_free(&body);
  if (rc != CLI_OK) return rc;
  int64_t req = -1;
  json_get_i64(json_root(d), "id", -1, &req);
  json_doc_free(d);
  if (req < 0) {
    fprintf(stderr, "amber: the server's reply has no request id\n");
    return CLI_FAIL;
  }
  if (!wait) {
    fprintf(stderr, "amber: snapshot request %" PRId64 " sent to machine %" PRId64
            " (follow it with GET %s/api/requests/%" PRId64 ")\n", req, mid, server, req);
    printf("%" PRId64 "\n", req);
    return CLI_OK;
  }
  return follow(server, token, req, (long)timeout);
}
