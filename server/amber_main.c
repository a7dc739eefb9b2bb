/*
** amber_main.c
** The `amber` program: find the subcommand and run it. Each subcommand
** lives in its own cli_*.c and answers --help.
*/
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
  { "serve", cli_serve, "run the server: machines, HTTP JSON API, viewer" },
  { "machines", cli_machines, "list the machines connected to a running server" },
  { "snapshot", cli_snapshot, "ask the server to snapshot a connected machine" },
  { "list", cli_list, "list stored snapshots" },
  { "show", cli_show, "show a node (by id or path) and its edges" },
  { "frames", cli_frames, "show the stack and locals of a break or crash snapshot" },
  { "import", cli_import, "import a capture file" },
  { "prepare", cli_prepare, "index a snapshot and keep its analysis (as the server does)" },
  { "export", cli_export, "export a snapshot as JSON lines or Graphviz DOT" },
  { "restore", cli_restore, "restore a snapshot into fresh VMs; run code or inspect" },
  { "summary", amber_cmd_summary, "count, shallow and retained size by type" },
  { "top", amber_cmd_top, "the objects that keep the most memory alive" },
  { "path", amber_cmd_path, "the shortest paths from the roots to a node" },
  { "dominators", amber_cmd_dominators, "a node's place in the dominator tree" },
  { "diff", amber_cmd_diff, "what changed between two snapshots" },
  { "leaks", amber_cmd_leaks, "objects created between two snapshots, alive in a third" },
  { "export-heapsnapshot", amber_cmd_export_heapsnapshot,
    "a snapshot as a Chrome DevTools .heapsnapshot" },
  { "wire", cli_wire, "print the messages of a capture file (amber-wire)" },
  { NULL, NULL, NULL }
};

static void help(FILE *f) {
  fputs("usage: amber COMMAND [ARGS]   (amber COMMAND --help for each)\n\n", f);
  for (const command *c = commands; c->name; c++)
    fprintf(f, "  %-20s %s\n", c->name, c->summary);
  fputs("\nExit codes: 0 ok, 1 failure or not found, 2 usage, 3 cannot reach the\n"
        "server or the database. docs/cli.md has the details.\n", f);
}

int main(int argc, char **argv) {
  cli_set_program(argv[0]);
  if (argc < 2) {
    help(stderr);
    return CLI_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
    if (argc > 2)
      for (const command *c = commands; c->name; c++)
        if (strcmp(c->name, argv[2]) == 0) {
          char *args[] = { argv[2], (char *)"--help", NULL };
          return c->run(2, args);
        }
    help(stdout);
    return CLI_OK;
  }
  for (const command *c = commands; c->name; c++)
    if (strcmp(c->name, name) == 0) return c->run(argc - 1, argv + 1);
  fprintf(stderr, "amber: unknown command '%s'\n\n", name);
  help(stderr);
  return CLI_USAGE;
}
