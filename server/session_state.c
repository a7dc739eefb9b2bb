/*
** session_state.c
** A machine's debugger views as the xsbug core reports them: login, break,
** frames, the selected frame's locals, globals, modules (grammar) and log
** lines. Views are kept as ready JSON, each bounded by SESSION_STATE_MAX.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_impl.h"

/* Properties nested deeper than this are cut (xsbug expands objects one
** toggle at a time, so real trees are shallow). */
#define PROPERTY_MAX_DEPTH 40

static void attr_bytes(sbytes *dst, const wire_elem *e, const char *name) {
  size_t len;
  const char *v = wire_get(e, name, &len);
  if (v) sbytes_set(dst, v, len);
  else sbytes_free(dst);
}

static void kv_attr(json_writer *w, const wire_elem *e, const char *name,
                    const char *key) {
  size_t len;
  const char *v = wire_get(e, name, &len);
  json_keyz(w, key);
  if (v) json_string(w, v, len);
  else json_null(w);
}

static void kv_line(json_writer *w, const wire_elem *e) {
  int64_t line;
  json_keyz(w, "line");
  if (wire_get_i64(e, "line", &line) == 0) json_int(w, line);
  else json_null(w);
}

static void properties_json(json_writer *w, const wire_elem *parent, int depth);

static void property_json(json_writer *w, const wire_elem *p, int depth) {
  json_object_begin(w);
  kv_attr(w, p, "name", "name");
  kv_attr(w, p, "value", "value");
  kv_attr(w, p, "flags", "flags");
  if (p->children) properties_json(w, p, depth + 1);
  json_object_end(w);
}

/* "properties": [...] for the <property> children of parent. */
static void properties_json(json_writer *w, const wire_elem *parent, int depth) {
  if (depth > PROPERTY_MAX_DEPTH) {
    json_kv_bool(w, "truncated", 1);
    return;
  }
  json_keyz(w, "properties");
  json_array_begin(w);
  for (const wire_elem *c = parent->children; c; c = c->next)
    if (strcmp(c->name, "property") == 0) property_json(w, c, depth);
  json_array_end(w);
}

/* Replace view with the JSON in tmp, or a marker if it is too large. */
static void set_view(wire_buf *view, wire_buf *tmp, const json_writer *w) {
  wire_buf_free(view);
  if (!json_ok(w) || tmp->len > SESSION_STATE_MAX) {
    char note[96];
    snprintf(note, sizeof note, "{\"truncated\":true,\"bytes\":%zu}", tmp->len);
    wire_buf_free(tmp);
    wire_buf_puts(view, note);
    return;
  }
  *view = *tmp;
  wire_buf_init(tmp);
}

static void on_login(session *s, const wire_elem *e) {
  attr_bytes(&s->name, e, "name");
  attr_bytes(&s->title, e, "value");
  attr_bytes(&s->vm, e, "vm");
  attr_bytes(&s->version, e, "version");
  attr_bytes(&s->features, e, "features");
  if (wire_get_i64(e, "pid", &s->pid) != 0) s->pid = -1;
  s->feat = 0;
  if (s->features.p) {
    /* Space-separated words; match whole words only. */
    const char *p = s->features.p, *end = p + s->features.n;
    while (p < end) {
      while (p < end && *p == ' ') p++;
      const char *w = p;
      while (p < end && *p != ' ') p++;
      size_t n = (size_t)(p - w);
      if (n == 8 && memcmp(w, "snapshot", 8) == 0) s->feat |= SESSION_F_SNAPSHOT;
      if (n == 7 && memcmp(w, "restore", 7) == 0) s->feat |= SESSION_F_RESTORE;
      if (n == 4 && memcmp(w, "eval", 4) == 0) s->feat |= SESSION_F_EVAL;
      if (n == 3 && memcmp(w, "run", 3) == 0) s->feat |= SESSION_F_RUN;
      if (n == 6 && memcmp(w, "binary", 6) == 0) s->feat |= SESSION_F_BINARY;
    }
  }
  if (s->feat & SESSION_F_BINARY) {
    /* Say that we read binary frames too (docs/protocol.md 5.8), before
    ** any go: from then on its graph batches come as frames. */
    wire_buf acc;
    wire_buf_init(&acc);
    wire_command(&acc, "accept", "features", "binary");
    session_send(s, &acc);
    wire_buf_free(&acc);
  }
  s->logged_in = 1;
  session_note(s, "logged in (vm %s, features: %s)", s->vm.p ? s->vm.p : "?",
               s->features.p && s->features.n ? s->features.p : "none");
  /* An XS machine (and amber-lua --wait) waits after its login for the
  ** debugger to let it go, as xsbug does unless told to hold it there so
  ** that breakpoints can be set first. A machine that did not wait takes
  ** the go as a no-op. */
  if (s->hub->cfg.hold_at_login) {
    s->state = SESSION_PARKED;
    sbytes_set(&s->break_msg, "waiting at login", 16);
  } else {
    wire_buf go;
    wire_buf_init(&go);
    wire_command(&go, "go", NULL, NULL);
    session_send(s, &go);
    wire_buf_free(&go);
    s->state = SESSION_RUNNING;
  }
}

static void on_break(session *s, const wire_elem *e) {
  attr_bytes(&s->break_path, e, "path");
  if (wire_get_i64(e, "line", &s->break_line) != 0) s->break_line = -1;
  sbytes_set(&s->break_msg, e->text, e->text_len);
  s->state = SESSION_PARKED;
}

static void on_frames(session *s, const wire_elem *e) {
  wire_buf tmp;
  json_writer w;
  wire_buf_init(&tmp);
  json_init(&w, &tmp);
  json_array_begin(&w);
  for (const wire_elem *f = e->children; f; f = f->next) {
    if (strcmp(f->name, "frame") != 0) continue;
    json_object_begin(&w);
    kv_attr(&w, f, "name", "name");
    kv_attr(&w, f, "value", "id");
    kv_attr(&w, f, "path", "path");
    kv_line(&w, f);
    json_object_end(&w);
  }
  json_array_end(&w);
  set_view(&s->frames, &tmp, &w);
}

/* <local>, <global> and <grammar>: a header plus a property tree. */
static void on_view(wire_buf *view, const wire_elem *e) {
  wire_buf tmp;
  json_writer w;
  wire_buf_init(&tmp);
  json_init(&w, &tmp);
  json_object_begin(&w);
  kv_attr(&w, e, "name", "name");
  kv_attr(&w, e, "value", "id");
  kv_attr(&w, e, "path", "path");
  kv_line(&w, e);
  properties_json(&w, e, 0);
  json_object_end(&w);
  set_view(view, &tmp, &w);
}

static void on_log(session *s, const wire_elem *e) {
  log_line *l = &s->log[s->log_total % SESSION_LOG_LINES];
  size_t n = e->text_len < SESSION_LOG_LINE_MAX ? e->text_len : SESSION_LOG_LINE_MAX;
  char *t = malloc(n + 1);
  if (!t) return;
  memcpy(t, e->text, n);
  t[n] = 0;
  free(l->text);
  l->text = t;
  l->len = n;
  l->wall_ms = session_wall_ms();
  s->log_total++;
}

void session_on_item(session *s, const wire_elem *item) {
  const char *n = item->name;
  if (strcmp(n, "login") == 0) on_login(s, item);
  else if (strcmp(n, "break") == 0) on_break(s, item);
  else if (strcmp(n, "frames") == 0) on_frames(s, item);
  else if (strcmp(n, "local") == 0) on_view(&s->local, item);
  else if (strcmp(n, "global") == 0) on_view(&s->global, item);
  else if (strcmp(n, "grammar") == 0) on_view(&s->grammar, item);
  else if (strcmp(n, "log") == 0) on_log(s, item);
  else if (strcmp(n, "restore-done") == 0 || strcmp(n, "restore-error") == 0) {
    size_t len;
    const char *text = wire_get(item, "text", &len);
    session_note(s, "%s%s%.*s", n, text ? ": " : "", text ? (int)(len > 200 ? 200 : len) : 0,
                 text ? text : "");
  }
}

void session_state_free(session *s) {
  sbytes_free(&s->name);
  sbytes_free(&s->title);
  sbytes_free(&s->vm);
  sbytes_free(&s->version);
  sbytes_free(&s->features);
  sbytes_free(&s->break_path);
  sbytes_free(&s->break_msg);
  wire_buf_free(&s->frames);
  wire_buf_free(&s->local);
  wire_buf_free(&s->global);
  wire_buf_free(&s->grammar);
  wire_buf_free(&s->breakpoints);
  for (size_t i = 0; i < SESSION_LOG_LINES; i++) free(s->log[i].text);
}

static const char *state_name(enum session_state st) {
  switch (st) {
  case SESSION_CONNECTING: return "connecting";
  case SESSION_RUNNING: return "running";
  case SESSION_PARKED: return "parked";
  }
  return "?";
}

static void kv_sbytes(json_writer *w, const char *key, const sbytes *b) {
  json_kv_bytes(w, key, b->p, b->n);
}

void session_summary_json(const session *s, json_writer *w) {
  json_kv_uint(w, "id", s->id);
  kv_sbytes(w, "name", &s->name);
  kv_sbytes(w, "title", &s->title);
  kv_sbytes(w, "vm", &s->vm);
  kv_sbytes(w, "version", &s->version);
  json_keyz(w, "pid");
  if (s->pid >= 0) json_int(w, s->pid);
  else json_null(w);
  json_keyz(w, "features");
  json_array_begin(w);
  if (s->feat & SESSION_F_SNAPSHOT) json_stringz(w, "snapshot");
  if (s->feat & SESSION_F_RESTORE) json_stringz(w, "restore");
  if (s->feat & SESSION_F_EVAL) json_stringz(w, "eval");
  if (s->feat & SESSION_F_RUN) json_stringz(w, "run");
  if (s->feat & SESSION_F_BINARY) json_stringz(w, "binary");
  json_array_end(w);
  json_kv_str(w, "peer", s->peer);
  json_kv_int(w, "connected_at", s->connected_wall_ms);
  json_kv_str(w, "state", state_name(s->state));
  json_keyz(w, "break");
  if (s->state == SESSION_PARKED) {
    json_object_begin(w);
    kv_sbytes(w, "path", &s->break_path);
    json_keyz(w, "line");
    if (s->break_line >= 0) json_int(w, s->break_line);
    else json_null(w);
    kv_sbytes(w, "message", &s->break_msg);
    json_object_end(w);
  } else {
    json_null(w);
  }
  json_keyz(w, "snapshot_request");
  if (s->current) json_uint(w, s->current->id);
  else json_null(w);
  json_keyz(w, "restore_request");
  if (s->restoring) json_uint(w, s->restoring->id);
  else json_null(w);
  json_kv_uint(w, "log_lines", s->log_total);
  json_kv_uint(w, "bytes_in", s->bytes_in);
  json_kv_uint(w, "messages", s->msgs);
}

static void kv_view(json_writer *w, const char *key, const wire_buf *view) {
  json_keyz(w, key);
  if (view->len) json_raw(w, view->data, view->len);
  else json_null(w);
}

void session_machines_json(session_hub *h, json_writer *w) {
  json_array_begin(w);
  for (session *s = h->sessions; s; s = s->next) {
    json_object_begin(w);
    session_summary_json(s, w);
    json_object_end(w);
  }
  json_array_end(w);
}

int session_machine_json(session_hub *h, uint64_t id, json_writer *w) {
  session *s = session_find(h, id);
  if (!s) return SESSION_ENOTFOUND;
  json_object_begin(w);
  session_summary_json(s, w);
  kv_view(w, "frames", &s->frames);
  kv_view(w, "locals", &s->local);
  kv_view(w, "globals", &s->global);
  kv_view(w, "modules", &s->grammar);
  json_keyz(w, "breakpoints");
  if (s->breakpoints.len) json_raw(w, s->breakpoints.data, s->breakpoints.len);
  else {
    json_array_begin(w);
    json_array_end(w);
  }
  json_object_end(w);
  return SESSION_OK;
}

int session_log_json(session_hub *h, uint64_t id, uint64_t offset,
                     uint64_t limit, json_writer *w) {
  session *s = session_find(h, id);
  if (!s) return SESSION_ENOTFOUND;
  uint64_t first = s->log_total > SESSION_LOG_LINES ?
                   s->log_total - SESSION_LOG_LINES : 0;
  if (offset < first) offset = first;
  if (limit == 0 || limit > SESSION_LOG_LINES) limit = SESSION_LOG_LINES;
  json_object_begin(w);
  json_kv_uint(w, "machine", s->id);
  json_kv_uint(w, "total", s->log_total);
  json_kv_uint(w, "first", first);
  json_keyz(w, "lines");
  json_array_begin(w);
  uint64_t i;
  for (i = offset; i < s->log_total && i - offset < limit; i++) {
    const log_line *l = &s->log[i % SESSION_LOG_LINES];
    json_object_begin(w);
    json_kv_uint(w, "n", i);
    json_kv_int(w, "time", l->wall_ms);
    json_kv_bytes(w, "text", l->text ? l->text : "", l->len);
    json_object_end(w);
  }
  json_array_end(w);
  json_kv_uint(w, "next", i);
  json_object_end(w);
  return SESSION_OK;
}
