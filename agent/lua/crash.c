/*
** crash.c
** Post-mortem: a message handler that captures an uncaught error while
** its frames are still live (to the server, or else to a capture file),
** and capture files themselves: a login followed by snapshot messages.
*/
#include "alua.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "snapshot.h"

static atomic_uint_fast64_t last_id;
static _Thread_local char last_capture[ALUA_MAX_PATH + 32];

uint64_t alua_next_id(void) { return (uint64_t)atomic_fetch_add(&last_id, 1) + 1; }

const char *amber_last_capture(void) {
  return last_capture[0] ? last_capture : NULL;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int alua_capture_file(lua_State *L, const char *path, const char *login_name,
                      const char *reason, const char *error,
                      const char *traceback, const amber_snapshot_opts *s,
                      amber_snapshot_info *info, char *err, size_t errlen) {
  alua_request r;
  alua_stats st;
  wire_buf b;
  struct stat sb;
  const char *why = NULL;
  int fd, rc, e;
  memset(&r, 0, sizeof r);
  memset(&st, 0, sizeof st);
  r.id = alua_next_id();
  r.label = s ? s->label : NULL;
  r.machine = login_name && *login_name ? login_name : "lua";
  r.reason = reason;
  r.error = error;
  r.traceback = traceback;
  if (s) {
    r.roots = s->roots; r.nroots = s->nroots;
    r.exits = s->exits; r.nexits = s->nexits;
    r.stack_level = s->level;
  }
  r.stack_thread = L;
  r.binary = 1; /* read by amber import and restore, which take frames */
  fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "amber: cannot open capture file %s: %s", path,
             strerror(errno));
    return -1;
  }
  wire_buf_init(&b);
  if (fstat(fd, &sb) == 0 && sb.st_size == 0) alua_login(r.machine, 0, &b);
  rc = alua_snapshot(L, &r, &b, &st, &why);
  if (b.oom) {
    close(fd);
    wire_buf_free(&b);
    snprintf(err, errlen, "amber: out of memory encoding a snapshot for %s",
             path);
    return -1;
  }
  e = write_all(fd, b.data, b.len) == 0 ? 0 : errno;
  if (close(fd) != 0 && e == 0) e = errno;
  wire_buf_free(&b);
  if (e != 0) {
    snprintf(err, errlen, "amber: cannot write capture file %s: %s", path,
             strerror(e));
    return -1;
  }
  if (info) {
    info->id = r.id;
    info->nodes = st.nodes;
    info->edges = st.edges;
    info->bytes = st.bytes;
    info->pause_ms = st.pause_ms;
    memcpy(info->hash, st.hash, sizeof info->hash);
  }
  if (rc != 0) {
    snprintf(err, errlen, "amber: snapshot into %s failed: %s", path,
             why ? why : "unknown reason");
    return -1;
  }
  return 0;
}

int amber_snapshot_file(lua_State *L, const char *path,
                        const amber_snapshot_opts *s,
                        amber_snapshot_info *info, char *err, size_t errlen) {
  amber_agent *a = alua_agent_of(L);
  return alua_capture_file(L, path, a ? a->opt.name : NULL, "request", NULL,
                           NULL, s, info, err, errlen);
}

/* Where a crash goes when there is no server: the agent's capture_path,
** else $AMBER_CAPTURE, else amber-crash-<pid>.xsbug. "off" disables. */
static const char *crash_path(amber_agent *a, char *buf, size_t n) {
  const char *p = a && a->opt.capture_path ? a->opt.capture_path : NULL;
  if (p == NULL) p = getenv("AMBER_CAPTURE");
  if (p == NULL || *p == '\0') {
    snprintf(buf, n, "amber-crash-%ld.xsbug", (long)getpid());
    p = buf;
  }
  return strcmp(p, "off") == 0 ? NULL : p;
}

/* Capture the crash; the handler's own frame (level 0) is skipped. */
static void capture(lua_State *L, amber_agent *a, const char *msg,
                    const char *tb) {
  amber_snapshot_opts s;
  amber_snapshot_info info;
  char err[600], buf[64];
  const char *path;
  memset(&s, 0, sizeof s);
  memset(&info, 0, sizeof info);
  s.level = 1;
  last_capture[0] = '\0';
  if (a && amber_connected(a)) {
    alua_request r;
    alua_stats st;
    wire_buf b;
    const char *why = NULL;
    memset(&r, 0, sizeof r);
    memset(&st, 0, sizeof st);
    r.id = alua_next_id();
    r.machine = a->opt.name ? a->opt.name : "lua";
    r.reason = "crash";
    r.error = msg;
    r.traceback = tb;
    r.stack_thread = L;
    r.stack_level = 1;
    r.binary = a->dbg.peer_binary;
    wire_buf_init(&b);
    alua_snapshot(L, &r, &b, &st, &why);
    if (!b.oom && aconn_send_buf(a->conn, &b) == 0 &&
        aconn_flush(a->conn, (int)a->opt.flush_ms) == 0) {
      wire_buf_free(&b);
      snprintf(last_capture, sizeof last_capture, "server");
      fprintf(stderr, "amber: crash snapshot %llu (%llu nodes) sent to the "
              "server at %s\n", (unsigned long long)r.id,
              (unsigned long long)st.nodes, aconn_address(a->conn));
      return;
    }
    wire_buf_free(&b);
    fprintf(stderr, "amber: could not deliver the crash snapshot to %s "
            "within %u ms; writing a capture file instead\n",
            aconn_address(a->conn), a->opt.flush_ms);
  }
  path = crash_path(a, buf, sizeof buf);
  if (path == NULL) return;
  if (alua_capture_file(L, path, a ? a->opt.name : NULL, "crash", msg, tb, &s,
                        &info, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return;
  }
  snprintf(last_capture, sizeof last_capture, "%s", path);
  fprintf(stderr, "amber: crash captured in %s (%llu nodes, %llu edges); "
          "load it with: amber import %s\n", path,
          (unsigned long long)info.nodes, (unsigned long long)info.edges,
          path);
}

int alua_traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {                  /* as lua.c: __tostring, else a type */
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)",
                            luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int amber_msgh(lua_State *L) {
  amber_agent *a;
  const char *msg, *tb;
  alua_traceback(L);
  msg = lua_tostring(L, -2);          /* the message the traceback began with */
  tb = lua_tostring(L, -1);
  a = alua_agent_of(L);
  if (a && a->opt.break_on_error && amber_connected(a))
    a = alua_park(a, L, 1, msg, strlen(msg));
  if (a == NULL || a->opt.crash_capture) capture(L, a, msg, tb);
  return 1;
}

int amber_pcall(lua_State *L, int nargs, int nresults) {
  int base = lua_gettop(L) - nargs, rc;
  lua_pushcfunction(L, amber_msgh);
  lua_insert(L, base);
  rc = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  return rc;
}
