/*
** cli_wire.c
** `amber wire`: the protocol room's amber-wire tool (print the messages of
** a capture), run from the folder this amber lives in.
*/
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_wire(int argc, char **argv) {
  char exe[PATH_MAX], tool[PATH_MAX + 16];
  if (!cli_exe_dir(exe, sizeof exe)) {
    fprintf(stderr, "amber wire: cannot find this program's folder; run amber-wire\n");
    return CLI_FAIL;
  }
  snprintf(tool, sizeof tool, "%s/amber-wire", exe);
  argv[0] = tool;
  (void)argc;
  execv(tool, argv);
  fprintf(stderr, "amber wire: cannot run %s: %s (build it with make, or run "
          "amber-wire from your PATH)\n", tool, strerror(errno));
  return CLI_FAIL;
}
