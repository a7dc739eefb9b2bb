/*
** cli_restore.c
** `amber restore SNAPSHOT`: start fresh amber-lua VMs (or use a connected
** machine), have the server stream the snapshot into each, then run code
** in the restored state, or park it for the debugger (post-mortem).
*/
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
  "usage: amber restore SNAPSHOT [--mode merge|replace] [--run CODE] [--inspect]\n"
  "                     [--clone N] [--machine ID] [--trust-bytecode]\n"
  "                     [--timeout SECONDS] [--server URL] [--token T]\n"
  "\n"
  "Restore a stored snapshot into fresh Lua VMs and resume it. Without\n"
  "--machine, starts N (--clone, default 1) `amber-lua --serve` processes\n"
  "attached to the server's machine port, waits for their logins, and has the\n"
  "server stream the snapshot into each (a progress line on a terminal). Then:\n"
  "  --run CODE     run Lua CODE in each restored VM and print what it prints\n"
  "                 and returns (e.g. --run 'return counter()')\n"
  "  --inspect      leave each VM alive, parked at a break for the debugger,\n"
  "                 with the snapshot's frames in the locals `crash` and\n"
  "                 `frames`; prints how to look at it (post-mortem)\n"
  "  (neither)      print the restore's outcome and log the VMs out\n"
  "\n"
  "  --mode M       merge (default: the snapshot's globals join the fresh\n"
  "                 VM's) or replace (the globals table is restored whole)\n"
  "  --clone N      restore the same snapshot into N independent VMs (1-64)\n"
  "  --machine ID   restore into this connected machine instead of starting\n"
  "                 one (it must announce restore, and run for --run)\n"
  "  --trust-bytecode  with --machine: you vouch for the snapshot's function\n"
  "                 bytecode (the machine must trust it too); VMs started here\n"
  "                 trust it anyway (see below)\n"
  "  --timeout S    give up waiting after S seconds (default 600)\n"
  "  --server URL   default $AMBER_SERVER or http://127.0.0.1:8080\n"
  "  --token T      default $AMBER_TOKEN\n"
  "\n"
  "Trust: the server streams only snapshots whose rows still hash to the hash\n"
  "they were stored with. A VM started here exists only to receive that\n"
  "verified snapshot, so it loads its bytecode (amber-lua --trust-bytecode);\n"
  "a machine started by someone else is given bytecode only with\n"
  "--trust-bytecode, and loads it only if it was started with it.\n"
  "amber-lua is taken from $AMBER_LUA, else next to this amber, else $PATH.\n"
  "\n"
  "Exit: 0 ok, 1 refused or failed (the code raised, the hash does not check\n"
  "out), 2 bad arguments, 3 no server answers.\n";

#define MAX_CLONES 64

typedef struct vm {
  pid_t pid;          /* a VM started here, or 0 */
  int64_t machine;    /* its machine id on the server */
  int64_t request;    /* its restore request */
  int finished, ok;
  json_doc *outcome;  /* its finished request, until reported */
} vm;

typedef struct job {
  const char *server, *token;
  int64_t snap;
  vm vms[MAX_CLONES];
  int n;
  long timeout_s;
  struct timespec t0;
} job;

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static long elapsed_s(const job *j) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long)(now.tv_sec - j->t0.tv_sec);
}

/* Stop waiting? (Ctrl-C or the timeout.) Says why once. */
static int give_up(const job *j, const char *waiting_for) {
  if (interrupted) {
    fprintf(stderr, "amber: interrupted while waiting for %s\n", waiting_for);
    return 1;
  }
  if (elapsed_s(j) > j->timeout_s) {
    fprintf(stderr, "amber: gave up after %ld s waiting for %s (--timeout)\n",
            j->timeout_s, waiting_for);
    return 1;
  }
  return 0;
}

/* ---- starting VMs ----------------------------------------------------- */

/* amber-lua: $AMBER_LUA, else beside this program, else from $PATH. */
static const char *find_lua(char *buf, size_t n) {
  const char *e = getenv("AMBER_LUA");
  if (e && *e) return e;
  char self[PATH_MAX];
  if (cli_exe_dir(self, sizeof self)) {
    snprintf(buf, n, "%s/amber-lua", self);
    if (access(buf, X_OK) == 0) return buf;
  }
  return "amber-lua";
}

/* Start one VM in its own session, so it can outlive us (--inspect) and
** a Ctrl-C meant for us does not reach it; it owns no terminal. */
static pid_t spawn_vm(const char *lua, const char *addr, const char *name) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  setsid();
  int fd = open("/dev/null", O_RDWR);
  if (fd >= 0) {
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2) close(fd);
  }
  char *argv[] = { (char *)lua, (char *)"--attach", (char *)addr,
                   (char *)"--serve", (char *)"--trust-bytecode",
                   (char *)"--name", (char *)name, NULL };
  if (strchr(lua, '/')) execv(lua, argv);
  else execvp(lua, argv);
  _exit(127);
}

/* Kill and reap the VMs started here (on failure, or when they linger). */
static void stop_vms(job *j) {
  for (int i = 0; i < j->n; i++) {
    if (j->vms[i].pid <= 0) continue;
    kill(j->vms[i].pid, SIGKILL);
    waitpid(j->vms[i].pid, NULL, 0);
    j->vms[i].pid = 0;
  }
}

/* Wait until every VM started here has logged in; fills their machine ids. */
static int wait_logins(job *j, const char *lua) {
  for (;;) {
    int missing = 0;
    for (int i = 0; i < j->n; i++) {
      int st;
      if (j->vms[i].machine >= 0) continue;
      if (waitpid(j->vms[i].pid, &st, WNOHANG) == j->vms[i].pid) {
        j->vms[i].pid = 0;
        fprintf(stderr, "amber: %s exited (%s %d) before logging in to the server; "
                "run `%s --attach HOST:PORT --serve --verbose` by hand to see why\n",
                lua, WIFEXITED(st) ? "status" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), lua);
        return CLI_FAIL;
      }
      missing++;
    }
    if (!missing) return CLI_OK;
    json_doc *d;
    int rc = cli_api(j->server, j->token, "GET", "/api/machines", NULL, 0, &d);
    if (rc != CLI_OK) return rc;
    for (const json_value *m = json_root(d)->child; m; m = m->next) {
      int64_t pid = -1, id = -1;
      json_get_i64(m, "pid", -1, &pid);
      json_get_i64(m, "id", -1, &id);
      for (int i = 0; i < j->n; i++)
        if (j->vms[i].machine < 0 && j->vms[i].pid > 0 && pid == j->vms[i].pid)
          j->vms[i].machine = id;
    }
    json_doc_free(d);
    if (give_up(j, "the new VMs to log in")) return CLI_FAIL;
    sleep_ms(20);
  }
}

static int start_vms(job *j, int n) {
  json_doc *d;
  int rc = cli_api(j->server, j->token, "GET", "/api", NULL, 0, &d);
  if (rc != CLI_OK) return rc;
  const char *host = json_get_str(json_root(d), "machine_host");
  int64_t port = -1;
  json_get_i64(json_root(d), "machine_port", -1, &port);
  if (port <= 0 || port > 65535) {
    json_doc_free(d);
    fprintf(stderr, "amber: the server does not say which port machines connect "
            "to (an older amber serve?); start a VM yourself with amber-lua "
            "--attach HOST:PORT --serve and pass --machine ID\n");
    return CLI_FAIL;
  }
  char addr[300];
  /* A server listening on every address is reached on loopback. */
  snprintf(addr, sizeof addr, "%s:%d",
           !host || !strcmp(host, "0.0.0.0") ? "127.0.0.1" : host, (int)port);
  json_doc_free(d);
  char buf[PATH_MAX + 16];
  const char *lua = find_lua(buf, sizeof buf);
  j->n = n;
  for (int i = 0; i < n; i++) {
    char name[64];
    snprintf(name, sizeof name, "restore-%" PRId64 "-%d", j->snap, i + 1);
    j->vms[i].machine = -1;
    j->vms[i].pid = spawn_vm(lua, addr, name);
    if (j->vms[i].pid < 0) {
      fprintf(stderr, "amber: cannot start %s: %s\n", lua, strerror(errno));
      j->vms[i].pid = 0;
      return CLI_FAIL;
    }
  }
  return wait_logins(j, lua);
}

/* ---- restoring and running -------------------------------------------- */

static int post_json(const job *j, const char *path, const wire_buf *body,
                     int64_t *req) {
  json_doc *d;
  int rc = cli_api(j->server, j->token, "POST", path, body->data, body->len, &d);
  if (rc != CLI_OK) return rc;
  *req = -1;
  json_get_i64(json_root(d), "id", -1, req);
  json_doc_free(d);
  if (*req < 0) {
    fprintf(stderr, "amber: the server's reply has no request id\n");
    return CLI_FAIL;
  }
  return CLI_OK;
}

static int ask_restore(const job *j, vm *v, const char *mode, const char *code) {
  wire_buf body;
  json_writer w;
  wire_buf_init(&body);
  json_init(&w, &body);
  json_object_begin(&w);
  json_kv_int(&w, "machine", v->machine);
  json_kv_str(&w, "mode", mode);
  if (code) json_kv_str(&w, "run", code);
  json_object_end(&w);
  char path[96];
  snprintf(path, sizeof path, "/api/snapshots/%" PRId64 "/restore", j->snap);
  int rc = post_json(j, path, &body, &v->request);
  wire_buf_free(&body);
  return rc;
}

static int ask_run(const job *j, vm *v, const char *code) {
  wire_buf body;
  json_writer w;
  wire_buf_init(&body);
  json_init(&w, &body);
  json_object_begin(&w);
  json_kv_str(&w, "code", code);
  json_object_end(&w);
  char path[96];
  snprintf(path, sizeof path, "/api/machines/%" PRId64 "/run", v->machine);
  int rc = post_json(j, path, &body, &v->request);
  wire_buf_free(&body);
  v->finished = 0;
  return rc;
}

/* Text a VM printed or returned: tabs and line breaks as they are, every
** other control byte or invalid UTF-8 escaped (cli_put_bytes). */
static void put_text(FILE *f, const char *p, size_t n, size_t max) {
  size_t i = 0, start = 0;
  if (n > max) n = max;
  for (; i < n; i++) {
    if (p[i] != '\t' && p[i] != '\n') continue;
    cli_put_bytes(f, p + start, i - start, SIZE_MAX);
    fputc(p[i], f);
    start = i + 1;
  }
  cli_put_bytes(f, p + start, n - start, SIZE_MAX);
}

/* Print what a finished request says: its run's output and result, or why
** it failed. prefix tells clones apart. */
static void report(const json_value *r, const char *prefix, int show_result) {
  const json_value *run = json_get(r, "run");
  const char *state = json_get_str(r, "state");
  int failed = state && strcmp(state, "failed") == 0;
  if (run && run->type == JSON_OBJECT) {
    const json_value *out = json_get(run, "output");
    for (const json_value *l = out ? out->child : NULL; l; l = l->next) {
      fputs(prefix, stdout);
      put_text(stdout, l->str, l->len, SIZE_MAX);
      fputc('\n', stdout);
    }
    const json_value *res = json_get(run, "result");
    const json_value *ok = json_get(run, "ok");
    if (res && res->type == JSON_STRING && ok && ok->type == JSON_TRUE &&
        show_result && res->len) {
      fputs(prefix, stdout);
      put_text(stdout, res->str, res->len, SIZE_MAX);
      fputc('\n', stdout);
    } else if (res && res->type == JSON_STRING && ok && ok->type == JSON_FALSE) {
      fprintf(stderr, "amber: %sthe code raised an error:\n", prefix);
      put_text(stderr, res->str, res->len, 16384);
      fputc('\n', stderr);
      return;
    }
  }
  if (failed) {
    const char *err = json_get_str(r, "error");
    fprintf(stderr, "amber: %s%s\n", prefix, err ? err : "failed (no reason given)");
  }
}

/* Follow every VM's request to its end; progress on a terminal. Returns
** CLI_OK if all ended well. show_result: print run results. */
/* Forget outcomes not yet reported (follow gives up early). */
static void drop_outcomes(job *j) {
  for (int i = 0; i < j->n; i++) {
    json_doc_free(j->vms[i].outcome);
    j->vms[i].outcome = NULL;
  }
}

static int follow(job *j, const char *what, int show_result) {
  int all_ok = 1, reported = 0;
  for (;;) {
    uint64_t nodes = 0, edges = 0;
    int pending = 0;
    for (int i = 0; i < j->n; i++) {
      vm *v = &j->vms[i];
      if (v->finished) continue;
      char path[64];
      snprintf(path, sizeof path, "/api/requests/%" PRId64, v->request);
      json_doc *d;
      int rc = cli_api(j->server, j->token, "GET", path, NULL, 0, &d);
      if (rc != CLI_OK) { cli_progress_end(); drop_outcomes(j); return rc; }
      const json_value *r = json_root(d);
      const char *state = json_get_str(r, "state");
      int64_t n = 0, e = 0;
      json_get_i64(r, "nodes", 0, &n);
      json_get_i64(r, "edges", 0, &e);
      nodes += (uint64_t)n;
      edges += (uint64_t)e;
      if (state && (!strcmp(state, "done") || !strcmp(state, "failed"))) {
        v->finished = 1;
        v->ok = !strcmp(state, "done");
        if (!v->ok) all_ok = 0;
        v->outcome = d;               /* reported in clone order, below */
      } else {
        pending++;
        json_doc_free(d);
      }
    }
    /* Clones report in their order, whichever finished first, so the
    ** output of --clone N is the same from run to run. */
    if (reported < j->n && j->vms[reported].outcome) cli_progress_end();
    for (; reported < j->n && j->vms[reported].finished; reported++) {
      vm *v = &j->vms[reported];
      char prefix[32] = "";
      if (!v->outcome) continue;      /* finished before this call */
      if (j->n > 1) snprintf(prefix, sizeof prefix, "[%d] ", reported + 1);
      report(json_root(v->outcome), prefix, show_result);
      json_doc_free(v->outcome);
      v->outcome = NULL;
    }
    if (!pending) break;
    cli_progress(what, nodes, edges);
    if (give_up(j, "the restore to finish")) {
      cli_progress_end();
      drop_outcomes(j);
      return CLI_FAIL;
    }
    sleep_ms(20);
  }
  cli_progress_end();
  return all_ok ? CLI_OK : CLI_FAIL;
}

/* A textual account of the frames restore published (registry
** "amber.crash"), for --inspect. */
static const char frames_code[] =
  "local c = debug.getregistry()['amber.crash']\n"
  "if not c then return 'no frames in this snapshot' end\n"
  "local out = {}\n"
  "for _, f in ipairs(c.frames or {}) do\n"
  "  out[#out + 1] = string.format('frame %d: %s (%s:%s)', f.level,\n"
  "    tostring(f.name), tostring(f.source), tostring(f.line))\n"
  "  for _, l in ipairs(f.locals or {}) do\n"
  "    local v = l.value\n"
  "    if type(v) == 'string' then v = string.format('%q', v) else v = tostring(v) end\n"
  "    if not tostring(l.name):find('^%(') then\n"   /* not (temporary) … */
  "      out[#out + 1] = '  local ' .. tostring(l.name) .. ' = ' .. v\n"
  "    end\n"
  "  end\n"
  "end\n"
  "return table.concat(out, '\\n')\n";

/* Park at a break whose frame holds the post-mortem data as locals, so the
** debugger's locals view shows them. Returns when the debugger says go. */
static const char park_code[] =
  "local crash = debug.getregistry()['amber.crash']\n"
  "local frames = crash and crash.frames\n"
  "return require('amber').breakpoint('restored snapshot: post-mortem')\n";

/* Wait until machine id is parked at a break. */
static int wait_parked(job *j, const vm *v) {
  char path[64];
  snprintf(path, sizeof path, "/api/machines/%" PRId64, v->machine);
  for (;;) {
    json_doc *d;
    int rc = cli_api(j->server, j->token, "GET", path, NULL, 0, &d);
    if (rc != CLI_OK) return rc;
    const char *state = json_get_str(json_root(d), "state");
    int parked = state && !strcmp(state, "parked");
    json_doc_free(d);
    if (parked) return CLI_OK;
    if (give_up(j, "the VM to park")) return CLI_FAIL;
    sleep_ms(20);
  }
}

static int inspect(job *j) {
  for (int i = 0; i < j->n; i++) {
    vm *v = &j->vms[i];
    char prefix[32] = "";
    if (j->n > 1) snprintf(prefix, sizeof prefix, "[%d] ", i + 1);
    int rc = ask_run(j, v, frames_code);
    if (rc != CLI_OK) return rc;
    job one = *j;
    one.n = 1;
    one.vms[0] = *v;
    rc = follow(&one, "frames  ", 1);
    if (rc != CLI_OK) return rc;
    if ((rc = ask_run(j, v, park_code)) != CLI_OK) return rc;
    if ((rc = wait_parked(j, v)) != CLI_OK) return rc;
    fprintf(stderr,
            "amber: %smachine %" PRId64 "%s holds snapshot %" PRId64 ", parked at a "
            "break; the locals `crash` and `frames` hold its frames. Look at it:\n"
            "  amber machines\n"
            "  curl %s/api/machines/%" PRId64 "            (frames, locals, globals)\n"
            "  curl -X POST %s/api/machines/%" PRId64 "/toggle -d '{\"id\":\"@ID\"}'"
            "   (expand an object)\n"
            "  amber snapshot %" PRId64 " --wait             (snapshot it again)\n"
            "  curl -X POST %s/api/machines/%" PRId64 "/go   (resume; then "
            "POST .../run {\"code\":…} runs code in it)\n"
            "  curl -X POST %s/api/machines/%" PRId64 "/logout   (end it)\n",
            prefix, v->machine, v->pid > 0 ? "" : " (yours)", j->snap,
            j->server, v->machine, j->server, v->machine, v->machine, j->server,
            v->machine, j->server, v->machine);
    printf("%" PRId64 "\n", v->machine);
  }
  return CLI_OK;
}

/* Log out the VMs started here and reap them. */
static void logout_vms(job *j) {
  for (int i = 0; i < j->n; i++) {
    if (j->vms[i].pid <= 0 || j->vms[i].machine < 0) continue;
    char path[64];
    json_doc *d;
    snprintf(path, sizeof path, "/api/machines/%" PRId64 "/logout", j->vms[i].machine);
    if (cli_api(j->server, j->token, "POST", path, NULL, 0, &d) == CLI_OK)
      json_doc_free(d);
  }
  for (int i = 0; i < j->n; i++) {
    for (int t = 0; j->vms[i].pid > 0 && t < 250; t++) {
      if (waitpid(j->vms[i].pid, NULL, WNOHANG) == j->vms[i].pid) j->vms[i].pid = 0;
      else sleep_ms(20);
    }
  }
  stop_vms(j);                         /* any that did not go in 5 s */
}

/* With --machine: a machine someone else started gets bytecode only if
** the user vouches for it. */
static int check_bytecode(const job *j, int trust, int64_t machine) {
  char path[96];
  json_doc *d;
  snprintf(path, sizeof path, "/api/snapshots/%" PRId64 "/search?kind=proto&limit=1",
           j->snap);
  int rc = cli_api(j->server, j->token, "GET", path, NULL, 0, &d);
  if (rc != CLI_OK) return rc;
  int64_t count = 0;
  json_get_i64(json_root(d), "count", 0, &count);
  json_doc_free(d);
  if (count > 0 && !trust) {
    fprintf(stderr, "amber: snapshot %" PRId64 " carries function bytecode, and "
            "machine %" PRId64 " was not started by amber restore; loading bytecode "
            "that is not what the snapshot stored can crash or take over a VM. If "
            "you trust this snapshot, pass --trust-bytecode (the machine must also "
            "run with --trust-bytecode), or leave out --machine to restore into a "
            "fresh VM\n", j->snap, machine);
    return CLI_FAIL;
  }
  return CLI_OK;
}

int cli_restore(int argc, char **argv) {
  static const struct option opts[] = {
    { "mode", required_argument, 0, 'm' }, { "run", required_argument, 0, 'r' },
    { "inspect", no_argument, 0, 'i' }, { "clone", required_argument, 0, 'c' },
    { "machine", required_argument, 0, 'M' },
    { "trust-bytecode", no_argument, 0, 'B' },
    { "timeout", required_argument, 0, 'T' }, { "server", required_argument, 0, 's' },
    { "token", required_argument, 0, 't' }, { "help", no_argument, 0, 'h' },
    { 0, 0, 0, 0 } };
  job j;
  memset(&j, 0, sizeof j);
  j.server = cli_default_server();
  j.token = cli_default_token();
  const char *mode = "merge", *code = NULL, *machine = NULL;
  int do_inspect = 0, trust = 0, c;
  int64_t clones = 1, timeout = 600;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'm':
      if (strcmp(optarg, "merge") && strcmp(optarg, "replace")) {
        fprintf(stderr, "amber restore: --mode is merge or replace\n");
        return CLI_USAGE;
      }
      mode = optarg;
      break;
    case 'r': code = optarg; break;
    case 'i': do_inspect = 1; break;
    case 'c':
      if (cli_parse_id(optarg, &clones) || clones < 1 || clones > MAX_CLONES) {
        fprintf(stderr, "amber restore: --clone wants a number from 1 to %d\n",
                MAX_CLONES);
        return CLI_USAGE;
      }
      break;
    case 'M': machine = optarg; break;
    case 'B': trust = 1; break;
    case 'T':
      if (cli_parse_id(optarg, &timeout) || timeout == 0) {
        fprintf(stderr, "amber restore: --timeout wants a number of seconds\n");
        return CLI_USAGE;
      }
      break;
    case 's': j.server = optarg; break;
    case 't': j.token = optarg; break;
    case 'h': fputs(usage, stdout); return CLI_OK;
    default: fprintf(stderr, "try: amber restore --help\n"); return CLI_USAGE;
    }
  }
  if (optind != argc - 1 || cli_parse_id(argv[optind], &j.snap)) {
    fprintf(stderr, "amber restore: give exactly one SNAPSHOT id (try amber "
            "restore --help)\n");
    return CLI_USAGE;
  }
  if (machine && clones > 1) {
    fprintf(stderr, "amber restore: --clone starts VMs; it cannot be used with "
            "--machine\n");
    return CLI_USAGE;
  }
  j.timeout_s = (long)timeout;
  clock_gettime(CLOCK_MONOTONIC, &j.t0);

  char path[64];
  json_doc *d;
  snprintf(path, sizeof path, "/api/snapshots/%" PRId64, j.snap);
  int rc = cli_api(j.server, j.token, "GET", path, NULL, 0, &d);
  if (rc != CLI_OK) return rc;
  const char *error = json_get_str(json_root(d), "error");
  if (error && do_inspect) {
    fputs("amber: the snapshot's error: ", stderr);
    cli_put_bytes(stderr, error, strlen(error), 4096);
    fputc('\n', stderr);
  }
  json_doc_free(d);

  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  interrupted = 0;
  if (machine) {
    int64_t id;
    if ((rc = cli_find_machine(j.server, j.token, machine, &id)) != CLI_OK) goto out;
    if ((rc = check_bytecode(&j, trust, id)) != CLI_OK) goto out;
    j.n = 1;
    j.vms[0].machine = id;
  } else if ((rc = start_vms(&j, (int)clones)) != CLI_OK) {
    goto out;
  }
  for (int i = 0; i < j.n; i++)
    if ((rc = ask_restore(&j, &j.vms[i], mode, code)) != CLI_OK) goto out;
  rc = follow(&j, "restore ", 1);
  if (rc != CLI_OK) goto out;
  if (do_inspect) {
    rc = inspect(&j);
    if (rc == CLI_OK)
      for (int i = 0; i < j.n; i++) j.vms[i].pid = 0;   /* they live on */
  } else if (!code) {
    for (int i = 0; i < j.n; i++)
      fprintf(stderr, "amber: snapshot %" PRId64 " restored into machine %" PRId64
              "\n", j.snap, j.vms[i].machine);
  }
out:
  if (!do_inspect || rc != CLI_OK) logout_vms(&j);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  return rc;
}
