/*
** cli_serve.c
** `amber serve`: parse the listener, database, token and viewer options
** and run the event loop (serve.c).
*/
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

static const char usage[] =
  "usage: amber serve [--db FILE] [--machines [HOST:]PORT] [--http [HOST:]PORT]\n"
  "                   [--token TOKEN] [--viewer DIR] [--quiet] [--hold]\n"
  "                   [--answer-timeout S] [--stall-timeout S]\n"
  "                   [--contention-timeout S] [--max-message BYTES]\n"
  "                   [--max-attr BYTES] [--workers N]\n"
  "\n"
  "Run the server: machines (Lua VMs under amber-lua, XS machines) connect to\n"
  "the machines port; people use the HTTP JSON API and the viewer.\n"
  "\n"
  "  --db FILE          SQLite database (default $AMBER_DB or amber.db)\n"
  "  --machines ADDR    machine listener (default 127.0.0.1:5002)\n"
  "  --http ADDR        HTTP listener (default 127.0.0.1:8080)\n"
  "  --token TOKEN      require 'Authorization: Bearer TOKEN' (or ?token=) on\n"
  "                     every HTTP request; needed to listen beyond loopback\n"
  "                     (default $AMBER_TOKEN)\n"
  "  --viewer DIR       static files to serve (default: the viewer/ folder of\n"
  "                     this amber, or $AMBER_VIEWER)\n"
  "  --quiet            only errors on stderr\n"
  "  --hold             leave machines parked after their login (XS machines,\n"
  "                     amber-lua --wait) until a go, so breakpoints can be set\n"
  "                     first; by default they are sent <go/> as xsbug does\n"
  "  --answer-timeout S a snapshot request fails if the machine has not begun\n"
  "                     answering within S seconds (default 60)\n"
  "  --stall-timeout S  a snapshot in progress fails if the machine sends\n"
  "                     nothing for S seconds (default 120)\n"
  "  --contention-timeout S  ... or for S seconds while other machines' finished\n"
  "                     snapshots wait for the database (default 5)\n"
  "  --max-message N    drop a machine that sends a message over N bytes\n"
  "                     (default 64 MiB; docs/protocol.md section 3)\n"
  "  --max-attr N       ... or an attribute value or text over N bytes\n"
  "                     (default 32 MiB)\n"
  "  --workers N        threads for heap analyses (summary, top, dominators,\n"
  "                     paths, diff, leaks) and for analysing each new snapshot,\n"
  "                     so the event loop never waits for them (default 2)\n"
  "\n"
  "Stops cleanly on Ctrl-C or SIGTERM. Exit: 0 ok, 1 cannot listen or open the\n"
  "database, 2 bad options (or a non-loopback address without a token).\n";

/* "PORT", "HOST:PORT" -> host (static storage) and port. */
static int parse_addr(const char *s, char *host, size_t hostlen, int *port) {
  const char *colon = strrchr(s, ':');
  const char *ps = colon ? colon + 1 : s;
  char *end;
  long p = strtol(ps, &end, 10);
  if (*ps == 0 || *end || p <= 0 || p > 65535) return -1;
  *port = (int)p;
  if (!colon) {
    snprintf(host, hostlen, "127.0.0.1");
  } else {
    size_t n = (size_t)(colon - s);
    if (n == 0 || n >= hostlen) return -1;
    memcpy(host, s, n);
    host[n] = 0;
  }
  return 0;
}

/* The viewer folder that belongs to this amber: next to the build or the
** installed prefix, else ./viewer. */
static const char *find_viewer(char *buf, size_t len) {
  const char *e = getenv("AMBER_VIEWER");
  if (e && *e) return e;
  char exe[PATH_MAX];
  if (cli_exe_dir(exe, sizeof exe)) {
    static const char *const rel[] = { "/../viewer", "/../share/amber/viewer" };
    for (int i = 0; i < 2; i++) {
      struct stat st;
      snprintf(buf, len, "%s%s", exe, rel[i]);
      if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode)) return buf;
    }
  }
  return "viewer";
}

int cli_serve(int argc, char **argv) {
  static const struct option opts[] = {
    { "db", required_argument, 0, 'd' }, { "machines", required_argument, 0, 'm' },
    { "http", required_argument, 0, 'H' }, { "token", required_argument, 0, 't' },
    { "viewer", required_argument, 0, 'v' }, { "quiet", no_argument, 0, 'q' },
    { "hold", no_argument, 0, 'L' },
    { "answer-timeout", required_argument, 0, 'A' },
    { "stall-timeout", required_argument, 0, 'S' },
    { "contention-timeout", required_argument, 0, 'C' },
    { "max-message", required_argument, 0, 'M' },
    { "max-attr", required_argument, 0, 'X' },
    { "workers", required_argument, 0, 'W' },
    { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
  char mhost[256] = "127.0.0.1", hhost[256] = "127.0.0.1", vbuf[PATH_MAX + 32];
  serve_options o;
  memset(&o, 0, sizeof o);
  o.db_path = cli_default_db();
  o.machine_host = mhost;
  o.machine_port = 5002;
  o.http_host = hhost;
  o.http_port = 8080;
  o.token = cli_default_token();
  o.viewer_dir = NULL;
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
    switch (c) {
    case 'd': o.db_path = optarg; break;
    case 'm':
      if (parse_addr(optarg, mhost, sizeof mhost, &o.machine_port)) {
        fprintf(stderr, "amber serve: --machines wants [HOST:]PORT, not '%s'\n", optarg);
        return CLI_USAGE;
      }
      break;
    case 'H':
      if (parse_addr(optarg, hhost, sizeof hhost, &o.http_port)) {
        fprintf(stderr, "amber serve: --http wants [HOST:]PORT, not '%s'\n", optarg);
        return CLI_USAGE;
      }
      break;
    case 't': o.token = optarg; break;
    case 'v': o.viewer_dir = optarg; break;
    case 'q': o.quiet = 1; break;
    case 'L': o.hold_at_login = 1; break;
    case 'A':
    case 'C':
    case 'S': {
      int64_t secs;
      if (cli_parse_id(optarg, &secs) || secs == 0 || secs > 86400) {
        fprintf(stderr, "amber serve: --%s wants seconds (1-86400), not '%s'\n",
                c == 'A' ? "answer-timeout" : c == 'C' ? "contention-timeout"
                : "stall-timeout", optarg);
        return CLI_USAGE;
      }
      if (c == 'A') o.answer_timeout_s = (unsigned)secs;
      else if (c == 'C') o.contention_timeout_s = (unsigned)secs;
      else o.stall_timeout_s = (unsigned)secs;
      break;
    }
    case 'M':
    case 'X': {
      int64_t bytes;
      if (cli_parse_id(optarg, &bytes) || bytes < 1024 || bytes > ((int64_t)1 << 32)) {
        fprintf(stderr, "amber serve: --%s wants a number of bytes (1024 to 4 GiB), "
                "not '%s'\n", c == 'M' ? "max-message" : "max-attr", optarg);
        return CLI_USAGE;
      }
      if (c == 'M') o.max_message = (size_t)bytes;
      else o.max_attr = (size_t)bytes;
      break;
    }
    case 'W': {
      int64_t n;
      if (cli_parse_id(optarg, &n) || n < 1 || n > SERVE_WORKERS_MAX) {
        fprintf(stderr, "amber serve: --workers wants a number of threads (1-%d), "
                "not '%s'\n", SERVE_WORKERS_MAX, optarg);
        return CLI_USAGE;
      }
      o.workers = (unsigned)n;
      break;
    }
    case 'h': fputs(usage, stdout); return CLI_OK;
    default: fprintf(stderr, "try: amber serve --help\n"); return CLI_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "amber serve: unexpected argument '%s' (try amber serve --help)\n",
            argv[optind]);
    return CLI_USAGE;
  }
  if (!o.viewer_dir) o.viewer_dir = find_viewer(vbuf, sizeof vbuf);
  /* this very program analyses new snapshots, in a child (serve_prepare.c) */
  o.prepare_exe = cli_program();
  return serve_run(&o);
}
