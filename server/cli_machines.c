/*
** cli_machines.c
** `amber machines`: the machines connected to a running server, read from
** its HTTP API; and finding one machine by id or name for other commands.
*/
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
  "usage: amber machines [--server URL] [--token TOKEN] [--json]\n"
  "\n"
  "List the machines connected to a running `amber serve`.\n"
  "\n"
  "  --server URL   the server's HTTP address (default $AMBER_SERVER or\n"
  "                 http://127.0.0.1:8080)\n"
  "  --token TOKEN  its token, if it has one (default $AMBER_TOKEN)\n"
  "  --json         print the API's JSON reply as is\n"
  "\n"
  "Exit: 0 ok, 2 bad arguments, 3 no server answers.\n";

static void put_str(const json_value *o, const char *key, size_t max) {
  const json_value *v = json_get(o, key);
  if (v && v->type == JSON_STRING) cli_put_bytes(stdout, v->str, v->len, max);
  else fputs("-", stdout);
}

int cli_find_machine(const char *server, const char *token, const char *spec,
                     int64_t *id) {
  json_doc *d;
  int rc = cli_api(server, token, "GET", "/api/machines", NULL, 0, &d);
  if (rc != CLI_OK) return rc;
  int64_t want = -1, found = -1;
  int matches = 0;
  cli_parse_id(spec, &want);
  for (const json_value *m = json_root(d)->child; m; m = m->next) {
    int64_t mid;
    if (json_get_i64(m, "id", -1, &mid) != 0) continue;
    const char *name = json_get_str(m, "name");
    if (mid == want || (name && strcmp(name, spec) == 0)) {
      if (found != mid) matches++;
      found = mid;
      if (mid == want) { matches = 1; break; }
    }
  }
  json_doc_free(d);
  if (matches == 1) {
    *id = found;
    return CLI_OK;
  }
  if (matches == 0)
    fprintf(stderr, "amber: no connected machine is called '%s' (`amber machines` "
            "lists them)\n", spec);
  else
    fprintf(stderr, "amber: several machines are called '%s': give its id "
            "(`amber machines` lists them)\n", spec);
  return CLI_FAIL;
}

int cli_machines(int argc, char **argv) {
  static const struct option opts[] = {
    { "server", required_argument, 0, 's' }, { "token", required_argument, 0, 't' },
    { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
  const char *server = cli_default_server(), *token = cli_default_token();
  int json = 0, c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 's': server = optarg; break;
    case 't': token = optarg; break;
    case 'j': json = 1; break;
    case 'h': fputs(usage, stdout); return CLI_OK;
    default: fprintf(stderr, "try: amber machines --help\n"); return CLI_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "amber machines: unexpected argument '%s'\n", argv[optind]);
    return CLI_USAGE;
  }
  json_doc *d;
  int rc = cli_api(server, token, "GET", "/api/machines", NULL, 0, &d);
  if (rc != CLI_OK) return rc;
  const json_value *list = json_root(d);
  if (json) {
    cli_print_json(list);
    json_doc_free(d);
    return CLI_OK;
  }
  if (!list->count) {
    printf("no machines connected to %s\n", server);
    json_doc_free(d);
    return CLI_OK;
  }
  printf("%-4s %-24s %-6s %-8s %-18s %s\n", "ID", "NAME", "VM", "STATE", "FEATURES", "PEER");
  for (const json_value *m = list->child; m; m = m->next) {
    int64_t mid = -1;
    json_get_i64(m, "id", -1, &mid);
    printf("%-4" PRId64 " ", mid);
    const char *name = json_get_str(m, "name");
    size_t nl = name ? strlen(name) : 1;
    put_str(m, "name", 24);
    printf("%*s ", nl < 24 ? (int)(24 - nl) : 0, "");
    const char *vm = json_get_str(m, "vm");
    printf("%-6.6s %-8.8s ", vm ? vm : "-", json_get_str(m, "state") ? json_get_str(m, "state") : "-");
    char feats[64] = "";
    const json_value *f = json_get(m, "features");
    for (const json_value *x = f ? f->child : NULL; x; x = x->next)
      if (x->type == JSON_STRING && strlen(feats) + x->len + 2 < sizeof feats) {
        if (feats[0]) strcat(feats, ",");
        strcat(feats, x->str);
      }
    printf("%-18s ", feats[0] ? feats : "-");
    put_str(m, "peer", 64);
    const json_value *br = json_get(m, "break");
    if (br && br->type == JSON_OBJECT) {
      int64_t line = -1;
      json_get_i64(br, "line", -1, &line);
      fputs("  parked at ", stdout);
      put_str(br, "path", 80);
      printf(":%" PRId64, line);
    }
    fputc('\n', stdout);
  }
  json_doc_free(d);
  return CLI_OK;
}
