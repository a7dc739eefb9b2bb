/*
** amber_lua_main.c
** amber-lua: a Lua 5.4 interpreter like `lua` with amber's agent built in.
** XSBUG_HOST=host:port or --attach connects it to a server; an uncaught
** error is captured with its live frames (to the server, else a file).
*/
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "alua.h"
#include "amber.h"

static const char *progname = "amber-lua";
static lua_State *globalL;          /* for the signal and exit handlers */

typedef struct options {
  int script;                       /* argv index of the script, or argc */
  int interactive, version, no_env, has_e;
  const char *attach, *capture, *name;
  int break_on_error, verbose, trust_bytecode, serve;
  unsigned wait_ms;
} options;

static void usage(FILE *f) {
  fprintf(f,
    "usage: %s [options] [script [args]]\n"
    "Lua " LUA_VERSION_MAJOR "." LUA_VERSION_MINOR " with amber's agent.\n"
    "  -e stat            run the string stat\n"
    "  -i                 enter interactive mode after the script\n"
    "  -l mod             require mod into global mod (-l g=mod: into g)\n"
    "  -v                 show version information\n"
    "  -E                 ignore LUA_INIT and LUA_PATH/LUA_CPATH\n"
    "  -W                 turn warnings on\n"
    "  --                 stop handling options\n"
    "  -                  run stdin and stop handling options\n"
    "  --attach HOST:PORT connect to an amber server or xsbug (also: the\n"
    "                     XSBUG_HOST environment variable)\n"
    "  --wait MS          after the login, wait up to MS for the server's go\n"
    "                     (so breakpoints are set before the script starts)\n"
    "  --capture FILE     where an uncaught error is captured when no server\n"
    "                     is connected (default $AMBER_CAPTURE, else\n"
    "                     amber-crash-PID.xsbug); 'off' disables captures\n"
    "  --break-on-error   stop at uncaught errors while a debugger is attached\n"
    "  --trust-bytecode   let the server restore snapshots with function\n"
    "                     bytecode into this VM (refused otherwise)\n"
    "  --serve            after the options (and the script, if any), be an\n"
    "                     idle VM that serves the server: restores, run\n"
    "                     requests, snapshots, until logout or disconnect\n"
    "  --name NAME        the machine name in the login (default: the\n"
    "                     script's file name, or amber-lua with --serve)\n"
    "  --verbose          report connection changes on stderr\n"
    "  --help             show this help\n", progname);
}

static void message(const char *msg) {
  fprintf(stderr, "%s: %s\n", progname, msg);
  fflush(stderr);
}

/* Report a failed status: the message is at the top of the stack. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    message(msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

static void on_sigint(int sig) {
  signal(sig, SIG_DFL);               /* a second Ctrl-C kills, as in lua */
  if (globalL) alua_interrupt(globalL);
}

/* Call the function below narg arguments under handler h, with Ctrl-C
** turned into a Lua error while it runs. */
static int docall_with(lua_State *L, int narg, int nres, lua_CFunction h) {
  int base = lua_gettop(L) - narg, status;
  lua_pushcfunction(L, h);
  lua_insert(L, base);
  signal(SIGINT, on_sigint);
  status = lua_pcall(L, narg, nres, base);
  signal(SIGINT, SIG_DFL);
  lua_remove(L, base);
  return status;
}

static int docall(lua_State *L, int narg, int nres) {
  return docall_with(L, narg, nres, amber_msgh);
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l mod or -l g=mod */
static int dolibrary(lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *mod = eq ? eq + 1 : spec;
  int status;
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  status = docall(L, 1, 1);
  if (status == LUA_OK) {
    if (eq) lua_pushlstring(L, spec, (size_t)(eq - spec));
    else lua_pushstring(L, mod);
    lua_insert(L, -2);
    lua_setglobal(L, lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  return report(L, status);
}

/* arg: the script at 0, its arguments after, everything before negative. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  int i;
  if (script == argc) script = 0;
  lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0,
                  script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int run_script(lua_State *L, char **argv, int argc, int script) {
  const char *fname = argv[script];
  int status, n, i;
  if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0)
    fname = NULL;                      /* stdin */
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    n = argc - script - 1;
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (i = 1; i <= n; i++) lua_pushstring(L, argv[script + i]);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}

/* ---- the interactive loop ----------------------------------------------- */

/* Read a line from fd 0 without stdio, serving the agent while waiting so
** the server can still break or snapshot an idle interpreter. */
static char *read_line(lua_State *L, const char *prompt) {
  static char buf[1 << 16];
  static size_t have;                /* bytes buffered after the last line */
  static char line[(1 << 16) + 1];
  fputs(prompt, stdout);
  fflush(stdout);
  for (;;) {
    char *nl = memchr(buf, '\n', have);
    ssize_t n;
    if (nl || have == sizeof buf) {
      size_t len = nl ? (size_t)(nl - buf) : have;
      memcpy(line, buf, len);
      line[len] = '\0';
      if (nl) len++;
      memmove(buf, buf + len, have - len);
      have -= len;
      return line;
    }
    {
      amber_agent *a = amber_get(L);
      struct pollfd p = { 0, POLLIN, 0 };
      if (a && a->conn) {
        if (poll(&p, 1, 50) == 0) { amber_poll(a); continue; }
      }
    }
    n = read(0, buf + have, sizeof buf - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (have == 0) return NULL;
      memcpy(line, buf, have);
      line[have] = '\0';
      have = 0;
      return line;
    }
    have += (size_t)n;
  }
}

static const char *prompt(lua_State *L, int first) {
  const char *p;
  lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2");
  p = lua_tostring(L, -1);
  lua_pop(L, 1);
  return p ? p : first ? "> " : ">> ";
}

/* Incomplete input: the syntax error is about reaching the end. */
static int incomplete(lua_State *L, int status) {
  size_t len;
  const char *msg;
  if (status != LUA_ERRSYNTAX) return 0;
  msg = lua_tolstring(L, -1, &len);
  return len >= 5 && strcmp(msg + len - 5, "<eof>") == 0;
}

static void repl(lua_State *L) {
  char *line;
  const char *p = prompt(L, 1);
  while ((line = read_line(L, p)) != NULL) {
    int status, top = lua_gettop(L);
    lua_pushfstring(L, "return %s", line);
    status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1),
                             "=stdin");
    lua_remove(L, -2);
    if (status != LUA_OK) {           /* not an expression: a statement */
      lua_pop(L, 1);
      lua_pushstring(L, line);
      for (;;) {
        size_t len;
        const char *src = lua_tolstring(L, -1, &len);
        status = luaL_loadbuffer(L, src, len, "=stdin");
        if (!incomplete(L, status)) break;
        lua_pop(L, 1);
        if ((line = read_line(L, prompt(L, 0))) == NULL) break;
        lua_pushfstring(L, "\n%s", line);
        lua_concat(L, 2);
      }
      lua_remove(L, -2);
    }
    if (status == LUA_OK) status = docall_with(L, 0, LUA_MULTRET, alua_traceback);
    if (status == LUA_OK && lua_gettop(L) > top) {
      int n = lua_gettop(L) - top;
      luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
      lua_getglobal(L, "print");
      lua_insert(L, top + 1);
      if (lua_pcall(L, n, 0, 0) != LUA_OK)
        message(lua_pushfstring(L, "error calling 'print' (%s)",
                                lua_tostring(L, -1)));
    } else {
      report(L, status);
    }
    lua_settop(L, top);
    p = prompt(L, 1);
  }
  fputc('\n', stdout);
  fflush(stdout);
}

/* ---- start-up --------------------------------------------------------------- */

/* amber's own options that take a value. */
static int takes_value(const char *a) {
  return strcmp(a, "--attach") == 0 || strcmp(a, "--capture") == 0 ||
         strcmp(a, "--wait") == 0 || strcmp(a, "--name") == 0;
}

/* Check the options and find the script; -e/-l/-W run later, in order. */
static int parse(int argc, char **argv, options *o) {
  int i;
  memset(o, 0, sizeof *o);
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-') break;
    if (strcmp(a, "-") == 0) break;  /* the script is stdin */
    if (strcmp(a, "--") == 0) { i++; break; }
    if (strcmp(a, "-i") == 0) { o->interactive = o->version = 1; continue; }
    if (strcmp(a, "-v") == 0) { o->version = 1; continue; }
    if (strcmp(a, "-E") == 0) { o->no_env = 1; continue; }
    if (strcmp(a, "-W") == 0) continue;
    if (strcmp(a, "--help") == 0) { usage(stdout); exit(EXIT_SUCCESS); }
    if (strcmp(a, "--break-on-error") == 0) { o->break_on_error = 1; continue; }
    if (strcmp(a, "--verbose") == 0) { o->verbose = 1; continue; }
    if (strcmp(a, "--trust-bytecode") == 0) { o->trust_bytecode = 1; continue; }
    if (strcmp(a, "--serve") == 0) { o->serve = 1; continue; }
    if (a[1] == 'e') o->has_e = 1;
    if ((a[1] == 'e' || a[1] == 'l') && a[2] == '\0') {
      if (++i == argc) {
        fprintf(stderr, "%s: '%s' needs an argument\n", progname, a);
        return -1;
      }
      continue;
    }
    if (a[1] == 'e' || a[1] == 'l') continue;       /* -estat, -lmod */
    if (takes_value(a)) {
      if (i + 1 == argc) {
        fprintf(stderr, "%s: '%s' needs an argument\n", progname, a);
        return -1;
      }
      if (a[2] == 'a') o->attach = argv[++i];
      else if (a[2] == 'c') o->capture = argv[++i];
      else if (a[2] == 'n') o->name = argv[++i];
      else o->wait_ms = (unsigned)strtoul(argv[++i], NULL, 10);
      continue;
    }
    fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
    return -1;
  }
  o->script = i;
  return 0;
}

/* Run -e, -l and -W in command-line order; stop at the first error. */
static int run_options(lua_State *L, int argc, char **argv, int script) {
  int i;
  for (i = 1; i < script; i++) {
    const char *a = argv[i];
    int status = LUA_OK;
    if (takes_value(a)) {
      i++;
      continue;
    }
    if (strcmp(a, "-W") == 0) {
      lua_warning(L, "@on", 0);
    } else if (a[0] == '-' && (a[1] == 'e' || a[1] == 'l')) {
      const char *arg = a[2] ? a + 2 : argv[++i];
      status = a[1] == 'e' ? dostring(L, arg, "=(command line)")
                           : dolibrary(L, arg);
    }
    if (status != LUA_OK) return status;
  }
  (void)argc;
  return LUA_OK;
}

static int run_init(lua_State *L) {
  const char *name = "=LUA_INIT_5_4";
  const char *init = getenv("LUA_INIT_5_4");
  if (init == NULL) {
    name = "=LUA_INIT";
    init = getenv("LUA_INIT");
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dochunk(L, luaL_loadfile(L, init + 1));
  return dostring(L, init, name);
}

static void flush_at_exit(void) {
  amber_agent *a = globalL ? amber_get(globalL) : NULL;
  if (a && amber_connected(a)) amber_flush(a, a->opt.flush_ms);
}

static const char *machine_name(const options *o, int argc, char **argv,
                                int script) {
  const char *s, *slash;
  if (o->name) return o->name;
  if (script == argc && o->serve) return "amber-lua";
  if (script == argc || strcmp(argv[script], "-") == 0) return "stdin";
  s = argv[script];
  slash = strrchr(s, '/');
  return slash ? slash + 1 : s;
}

/* --serve: block on the connection until the server is done with us.
** Returns 0 after a logout, -1 if the server could not be reached or
** went away. */
static int serve(lua_State *L) {
  amber_agent *a = amber_get(L);
  int rc;
  if (a == NULL || a->conn == NULL) {
    message("--serve needs a server: give --attach HOST:PORT (or XSBUG_HOST)");
    return -1;
  }
  /* The module a snapshot's exits name (amber.poll …) is there to rebind,
  ** as it was in the program that was snapshotted; no global is set. */
  luaL_requiref(L, "amber", alua_open, 0);
  lua_pop(L, 1);
  rc = amber_serve(a, 10000);
  if (rc < 0) {
    message(lua_pushfstring(L, "cannot reach the server at %s within 10 s (%s); "
                            "is amber serve running?", aconn_address(a->conn),
                            aconn_last_error(a->conn)));
    lua_pop(L, 1);
    return -1;
  }
  if (rc > 0) {
    message("the server closed the connection");
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  options o;
  amber_options ao;
  lua_State *L;
  char err[512];
  const char *addr;
  int status = LUA_OK, tty = isatty(0);
  if (argv[0] && argv[0][0]) progname = argv[0];
  if (parse(argc, argv, &o) != 0) {
    usage(stderr);
    return EXIT_FAILURE;
  }
  if (o.version) printf("%s\namber agent %s\n", LUA_COPYRIGHT, AMBER_VERSION);
  L = luaL_newstate();
  if (L == NULL) {
    message("cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  globalL = L;
  if (o.no_env) {
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, alua_open);
  lua_setfield(L, -2, "amber");
  lua_pop(L, 1);
  create_arg_table(L, argv, argc, o.script);

  amber_options_init(&ao);
  ao.name = machine_name(&o, argc, argv, o.script);
  ao.capture_path = o.capture;
  ao.break_on_error = o.break_on_error;
  ao.verbose = o.verbose;
  ao.trust_bytecode = o.trust_bytecode;
  ao.login_wait_ms = o.wait_ms;
  ao.allow_run = o.serve;
  addr = o.attach ? o.attach : getenv("XSBUG_HOST");
  if (addr && *addr == '\0') addr = NULL;
  if (amber_attach(L, addr, &ao, err, sizeof err) == NULL) {
    message(err);                     /* a bad address: run on, offline */
    if (addr) amber_attach(L, NULL, &ao, err, sizeof err);
  }
  atexit(flush_at_exit);

  if (!o.no_env) status = run_init(L);
  if (status == LUA_OK) status = run_options(L, argc, argv, o.script);
  if (status == LUA_OK) {
    if (o.script < argc) {
      status = run_script(L, argv, argc, o.script);
    } else if (o.serve) {
      /* A fresh VM for the server: no script, no stdin. */
    } else if (!o.has_e && !o.version && tty) {
      printf("%s\namber agent %s\n", LUA_COPYRIGHT, AMBER_VERSION);
      repl(L);
    } else if (!o.has_e && !o.version) {
      status = dochunk(L, luaL_loadfile(L, NULL));
    }
  }
  if (status == LUA_OK && o.serve && serve(L) != 0) status = LUA_ERRRUN;
  if (status == LUA_OK && o.interactive) repl(L);
  globalL = NULL;
  lua_close(L);
  return status == LUA_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}
