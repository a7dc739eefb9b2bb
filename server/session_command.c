/*
** session_command.c
** Debugger commands relayed from the API to a machine, written as xsbug
** writes them (bare "\r\n<cmd …/>\r\n", double quotes, "@" + UPPERCASE hex
** ids) so that XS machines accept them too.
*/
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "session_impl.h"

/* Copy an object id ("@1a2b" or "1A2B") into out as "@" + uppercase hex.
** Returns 0, or -1 if it is not one. */
static int object_id(const char *in, char *out, size_t outlen) {
  if (!in) return -1;
  if (*in == '@') in++;
  size_t n = strlen(in);
  if (n == 0 || n + 2 > outlen) return -1;
  out[0] = '@';
  for (size_t i = 0; i < n; i++) {
    if (!isxdigit((unsigned char)in[i])) return -1;
    out[i + 1] = (char)toupper((unsigned char)in[i]);
  }
  out[n + 1] = 0;
  return 0;
}

/* One breakpoint {"path": "app.lua", "line": 12} as an element. */
static int breakpoint_elem(wire_buf *b, const char *elem, const json_value *bp,
                           char *err, size_t errlen) {
  const char *path = json_get_str(bp, "path");
  int64_t line;
  if (!path || !*path || json_get_i64(bp, "line", -1, &line) != 0 || line < 0) {
    snprintf(err, errlen, "a breakpoint needs a \"path\" string and a "
             "non-negative \"line\" number, e.g. {\"path\":\"app.lua\",\"line\":12}");
    return -1;
  }
  wire_open(b, elem);
  wire_attr_str(b, "path", path);
  wire_attr_i64(b, "line", line);
  wire_empty_end(b);
  return 0;
}

static int bare(wire_buf *b, const char *elem, const json_value *bp, char *err,
                size_t errlen) {
  wire_buf_puts(b, "\r\n");
  if (breakpoint_elem(b, elem, bp, err, errlen)) return -1;
  wire_buf_puts(b, "\r\n");
  return 0;
}

/* {"set": [bp…], "clear": [bp…], "clear_all": true} or {"replace": [bp…]}. */
static int breakpoints(session *s, const json_value *args, wire_buf *b,
                       char *err, size_t errlen) {
  const json_value *set = json_get(args, "set"), *clear = json_get(args, "clear");
  const json_value *replace = json_get(args, "replace");
  const json_value *all = json_get(args, "clear_all");
  if (!set && !clear && !replace && !all) {
    snprintf(err, errlen, "give \"set\", \"clear\", \"replace\" (arrays of "
             "{\"path\",\"line\"}) or \"clear_all\": true");
    return -1;
  }
  if ((set && set->type != JSON_ARRAY) || (clear && clear->type != JSON_ARRAY) ||
      (replace && replace->type != JSON_ARRAY)) {
    snprintf(err, errlen, "\"set\", \"clear\" and \"replace\" must be arrays");
    return -1;
  }
  if (all && all->type == JSON_TRUE) wire_command(b, "clear-all-breakpoints", NULL, NULL);
  if (replace) {
    wire_buf_puts(b, "\r\n");
    wire_open(b, "set-all-breakpoints");
    wire_open_end(b);
    for (const json_value *bp = replace->child; bp; bp = bp->next)
      if (breakpoint_elem(b, "breakpoint", bp, err, errlen)) return -1;
    wire_close(b, "set-all-breakpoints");
    wire_buf_puts(b, "\r\n");
  }
  for (const json_value *bp = clear ? clear->child : NULL; bp; bp = bp->next)
    if (bare(b, "clear-breakpoint", bp, err, errlen)) return -1;
  for (const json_value *bp = set ? set->child : NULL; bp; bp = bp->next)
    if (bare(b, "set-breakpoint", bp, err, errlen)) return -1;

  /* Remember what was asked, for GET /api/machines/:id (best effort: the
  ** machine does not confirm breakpoints). */
  if (replace || (all && all->type == JSON_TRUE)) wire_buf_reset(&s->breakpoints);
  wire_buf tmp;
  json_writer w;
  wire_buf_init(&tmp);
  json_init(&w, &tmp);
  json_array_begin(&w);
  /* Old entries (minus cleared ones) then new ones. */
  if (s->breakpoints.len) {
    json_doc *old = json_parse(s->breakpoints.data, s->breakpoints.len, NULL, 0);
    for (const json_value *bp = old ? json_root(old)->child : NULL; bp; bp = bp->next) {
      const char *path = json_get_str(bp, "path");
      int64_t line = -1;
      json_get_i64(bp, "line", -1, &line);
      int gone = 0;
      for (const json_value *c = clear ? clear->child : NULL; c && path; c = c->next) {
        int64_t cl = -2;
        json_get_i64(c, "line", -1, &cl);
        const char *cp = json_get_str(c, "path");
        if (cp && strcmp(cp, path) == 0 && cl == line) gone = 1;
      }
      if (gone || !path) continue;
      json_object_begin(&w);
      json_kv_str(&w, "path", path);
      json_kv_int(&w, "line", line);
      json_object_end(&w);
    }
    json_doc_free(old);
  }
  const json_value *lists[2] = { replace, set };
  for (int k = 0; k < 2; k++)
    for (const json_value *bp = lists[k] ? lists[k]->child : NULL; bp; bp = bp->next) {
      int64_t line = -1;
      json_get_i64(bp, "line", -1, &line);
      json_object_begin(&w);
      json_kv_str(&w, "path", json_get_str(bp, "path"));
      json_kv_int(&w, "line", line);
      json_object_end(&w);
    }
  json_array_end(&w);
  if (json_ok(&w) && tmp.len < SESSION_STATE_MAX) {
    wire_buf_free(&s->breakpoints);
    s->breakpoints = tmp;
  } else {
    wire_buf_free(&tmp);
  }
  return 0;
}

int session_command(session_hub *h, uint64_t id, const char *cmd,
                    const json_value *args, char *err, size_t errlen) {
  int status;
  session *s = session_reachable(h, id, "it reads only while parked at a break",
                                 &status, err, errlen);
  if (!s) return status;
  int resumes = strcmp(cmd, "go") == 0 || strcmp(cmd, "step") == 0 ||
                strcmp(cmd, "step-inside") == 0 || strcmp(cmd, "step-outside") == 0;
  /* A resume while running is harmless (the Lua agent takes a step as
  ** xsbug's pause: stop at the next line; XS reads it at its next break);
  ** select and toggle ask about a parked machine's frames and objects. */
  int needs_park = strcmp(cmd, "select") == 0 || strcmp(cmd, "toggle") == 0;
  int ends = strcmp(cmd, "abort") == 0 || strcmp(cmd, "logout") == 0;
  if (!resumes && !needs_park && !ends && strcmp(cmd, "breakpoints") != 0) {
    snprintf(err, errlen, "unknown command '%.40s' (go, step, step-inside, "
             "step-outside, abort, logout, select, toggle, breakpoints)", cmd);
    return SESSION_ENOTFOUND;
  }
  if (needs_park && s->state != SESSION_PARKED) {
    snprintf(err, errlen, "machine %" PRIu64 " is running: '%s' needs it parked at "
             "a break (set a breakpoint first)", id, cmd);
    return SESSION_ECONFLICT;
  }
  wire_buf b;
  wire_buf_init(&b);
  int rc = SESSION_ACCEPTED;
  if (resumes || ends) {
    wire_command(&b, cmd, NULL, NULL);
  } else if (strcmp(cmd, "select") == 0 || strcmp(cmd, "toggle") == 0) {
    const char *key = strcmp(cmd, "select") == 0 ? "frame" : "id";
    char oid[40];
    if (object_id(json_get_str(args, key), oid, sizeof oid)) {
      snprintf(err, errlen, "'%s' needs {\"%s\": \"@HEX\"} with an id from the "
               "machine's %s", cmd, key,
               strcmp(cmd, "select") == 0 ? "frames" : "locals or globals");
      rc = SESSION_EINVAL;
      goto out;
    }
    wire_command(&b, cmd, "id", oid);
  } else {
    if (breakpoints(s, args, &b, err, errlen)) {
      rc = SESSION_EINVAL;
      goto out;
    }
  }
  if (b.oom) {
    snprintf(err, errlen, "out of memory");
    rc = 500;
    goto out;
  }
  session_send(s, &b);
  if (resumes && s->state == SESSION_PARKED) {
    s->state = SESSION_RUNNING;
    sbytes_free(&s->break_path);
    sbytes_free(&s->break_msg);
    s->break_line = -1;
  }
out:
  wire_buf_free(&b);
  return rc;
}
