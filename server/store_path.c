/*
** store_path.c
** Paths from the roots to a value: `globals.app.state`, `list[3]`,
** `registry._LOADED["my.mod"]`, `stack.frame[0].local.x`, `@17.name`.
** The syntax and the rules for each step are in docs/store.md, "Paths".
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

#define MAX_PATH 4096

typedef struct walker {
  store *s;
  int64_t snap;
  uint64_t nodes, edges;
  const char *path, *p, *end;
  size_t len;
  wire_value cur;      /* value reached so far */
  store_edge via;      /* last edge followed */
  wire_buf text;       /* a decoded quoted key */
} walker;

/* What an edge must match; NULL / 0 fields match anything. */
typedef struct edge_query {
  const char *kind;
  const char *name; size_t name_len;
  int has_index; int64_t index;
  const wire_value *key;
  int prefer_index;    /* among matches, `index` edges first */
} edge_query;

static int syntax(walker *w, const char *why) {
  return store_fail(w->s, STORE_EUSAGE, "path `%.*s`: %s at byte %d; see "
                    "docs/store.md, \"Paths\"", (int)w->len, w->path, why,
                    (int)(w->p - w->path));
}

static int same_value(const wire_value *a, const wire_value *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
  case WIRE_V_BOOL: return !a->u.b == !b->u.b;
  case WIRE_V_INT: return a->u.i == b->u.i;
  case WIRE_V_FLOAT: return !memcmp(&a->u.f, &b->u.f, sizeof a->u.f);
  case WIRE_V_REF: return a->u.ref == b->u.ref;
  default: return 1;
  }
}

static int matches(const edge_query *q, const wire_edge *e) {
  return (!q->kind || !strcmp(e->kind, q->kind)) &&
         (!q->name || (e->name && e->name_len == q->name_len &&
                       !memcmp(e->name, q->name, q->name_len))) &&
         (!q->has_index || (e->has_index && e->index == q->index)) &&
         (!q->key || same_value(&e->key, q->key));
}

/* Find the first edge of node `node` matching q into *out (with
** prefer_index, the first `index` edge if there is one). STORE_OK, or
** STORE_ENOTFOUND (no message), or an error set on s. Only the edge's
** position, index, key and value are kept: its strings die with the
** cursor. */
static int find_edge(walker *w, uint64_t node, const edge_query *q,
                     store_edge *out) {
  store_ecur c;
  store_edge e, fallback;
  int got = 1, found = 0, have_fallback = 0;
  int rc = store_ecur_open_node(&c, w->s, w->snap, node, 0);
  while (!rc && !found && (rc = store_ecur_next(&c, &e, &got)) == STORE_OK && got) {
    if (!matches(q, &e.e)) continue;
    if (q->prefer_index && strcmp(e.e.kind, "index")) {
      if (!have_fallback) fallback = e, have_fallback = 1;
      continue;
    }
    *out = e;
    found = 1;
  }
  store_ecur_close(&c);
  if (rc) return rc;
  if (!found && !have_fallback) return STORE_ENOTFOUND;
  if (!found) *out = fallback;
  out->e.kind = NULL;
  out->e.name = NULL;
  out->e.name_len = 0;
  return STORE_OK;
}

/* Bytes of a name step: up to the next '.' or '['. */
static size_t name_span(walker *w) {
  const char *q = w->p;
  while (q < w->end && *q != '.' && *q != '[') q++;
  return (size_t)(q - w->p);
}

static int follow(walker *w, const store_edge *e) {
  w->via = *e;
  w->cur = e->e.value;
  return STORE_OK;
}

static int not_found(walker *w, const char *step, size_t n, uint64_t node) {
  return store_fail(w->s, STORE_ENOTFOUND, "path `%.*s`: node %llu has no "
                    "edge for `%.*s` (byte %d); `amber show` lists its edges",
                    (int)w->len, w->path, (unsigned long long)node,
                    (int)(n > 200 ? 200 : n), step, (int)(step - w->path));
}

/* The node the next step starts from; an error if the value so far is a
** scalar. */
static int current_node(walker *w, uint64_t *node) {
  if (w->cur.type == WIRE_V_REF && w->cur.u.ref < w->nodes) {
    *node = w->cur.u.ref;
    return STORE_OK;
  }
  wire_buf b;
  wire_buf_init(&b);
  wire_value_format(&b, &w->cur);
  int rc = store_fail(w->s, STORE_ENOTFOUND, "path `%.*s`: at byte %d the "
                      "value is %.*s, not a node, so the path cannot go on",
                      (int)w->len, w->path, (int)(w->p - w->path),
                      b.oom ? 3 : (int)b.len, b.oom ? "?" : b.data);
  wire_buf_free(&b);
  return rc;
}

/* An optional `[N]` or `.NAME` right after a kind step, applied only if
** the node has an edge of that kind that matches it. */
static int kind_step(walker *w, uint64_t node, const char *kind,
                     const char *step, size_t n) {
  edge_query q;
  store_edge e;
  memset(&q, 0, sizeof q);
  q.kind = kind;
  const char *save = w->p;
  if (w->p < w->end && *w->p == '[') {
    char *endp;
    errno = 0;
    long long v = strtoll(w->p + 1, &endp, 10);
    if (endp > w->p + 1 && endp < w->end && *endp == ']' && !errno) {
      q.has_index = 1;
      q.index = v;
      int rc = find_edge(w, node, &q, &e);
      if (rc != STORE_ENOTFOUND) {
        if (!rc) w->p = endp + 1, follow(w, &e);
        return rc;
      }
      q.has_index = 0;
    }
  } else if (w->p < w->end && *w->p == '.') {
    w->p++;
    size_t k = name_span(w);
    q.name = w->p;
    q.name_len = k;
    int rc = k ? find_edge(w, node, &q, &e) : STORE_ENOTFOUND;
    if (rc != STORE_ENOTFOUND) {
      if (!rc) w->p += k, follow(w, &e);
      return rc;
    }
    w->p = save;
    q.name = NULL;
  }
  int rc = find_edge(w, node, &q, &e);
  if (rc == STORE_ENOTFOUND) return not_found(w, step, n, node);
  if (!rc) follow(w, &e);
  return rc;
}

/* `.NAME`: an edge with that name, else the edges of kind NAME. */
static int step_name(walker *w) {
  uint64_t node;
  int rc = current_node(w, &node);
  if (rc) return rc;
  const char *step = w->p;
  size_t n = name_span(w);
  if (!n) return syntax(w, "empty name");
  w->p += n;
  edge_query q;
  store_edge e;
  memset(&q, 0, sizeof q);
  q.name = step;
  q.name_len = n;
  rc = find_edge(w, node, &q, &e);
  if (rc != STORE_ENOTFOUND) return rc ? rc : follow(w, &e);
  char kind[64];
  if (n >= sizeof kind || memchr(step, 0, n)) return not_found(w, step, n, node);
  memcpy(kind, step, n);
  kind[n] = 0;
  return kind_step(w, node, kind, step, n);
}

/* A quoted key: "..." with \" \\ \n \r \t \0 and \xNN escapes. */
static int quoted(walker *w) {
  wire_buf_reset(&w->text);
  w->p++;
  while (w->p < w->end && *w->p != '"') {
    char c = *w->p++;
    if (c == '\\') {
      if (w->p >= w->end) break;
      c = *w->p++;
      switch (c) {
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      case '0': c = 0; break;
      case 'x': {
        char hex[3] = {0, 0, 0};
        if (w->end - w->p < 2) return syntax(w, "short \\x escape");
        memcpy(hex, w->p, 2);
        char *endp;
        c = (char)strtol(hex, &endp, 16);
        if (endp != hex + 2) return syntax(w, "bad \\x escape");
        w->p += 2;
        break;
      }
      case '"': case '\\': break;
      default: return syntax(w, "unknown escape");
      }
    }
    wire_buf_put(&w->text, &c, 1);
  }
  if (w->p >= w->end) return syntax(w, "unterminated string");
  w->p++;
  return w->text.oom ? store_fail(w->s, STORE_ENOMEM, "out of memory") : STORE_OK;
}

/* `[KEY]`: an integer, a quoted string, or a value (true, f:…, @N). */
static int step_key(walker *w) {
  uint64_t node;
  int rc = current_node(w, &node);
  if (rc) return rc;
  const char *step = w->p;
  edge_query q;
  store_edge e;
  wire_value key;
  memset(&q, 0, sizeof q);
  w->p++;
  if (w->p < w->end && *w->p == '"') {
    if ((rc = quoted(w))) return rc;
    q.name = w->text.len ? w->text.data : "";
    q.name_len = w->text.len;
  } else {
    const char *close = memchr(w->p, ']', (size_t)(w->end - w->p));
    if (!close) return syntax(w, "missing ]");
    size_t n = (size_t)(close - w->p);
    char buf[80];
    if (!n || n >= sizeof buf) return syntax(w, "bad key");
    memcpy(buf, w->p, n);
    buf[n] = 0;
    char *endp;
    errno = 0;
    long long v = strtoll(buf, &endp, 10);
    if (*endp == 0 && !errno) {
      key.type = WIRE_V_INT;
      key.u.i = v;
    } else if (wire_value_parse(buf, n, &key)) {
      return syntax(w, "a key is an integer, a \"string\" or a value like true, f:0x1p-1, @17");
    }
    w->p = close;
    if (key.type == WIRE_V_INT) {
      q.has_index = 1;
      q.index = key.u.i;
      q.prefer_index = 1;
    } else {
      q.key = &key;
    }
  }
  if (w->p >= w->end || *w->p != ']') return syntax(w, "missing ]");
  w->p++;
  rc = find_edge(w, node, &q, &e);
  if (rc == STORE_ENOTFOUND) return not_found(w, step, (size_t)(w->p - step), node);
  return rc ? rc : follow(w, &e);
}

/* The first step: `@N`, a root name, or a global's name. */
static int start(walker *w) {
  if (*w->p == '@') {
    char *endp;
    errno = 0;
    unsigned long long id = strtoull(w->p + 1, &endp, 10);
    if (endp == w->p + 1 || errno) return syntax(w, "bad node id");
    w->p = endp;
    if (id >= w->nodes)
      return store_fail(w->s, STORE_ENOTFOUND, "path `%.*s`: snapshot %lld "
                        "has no node %llu", (int)w->len, w->path,
                        (long long)w->snap, id);
    w->cur.type = WIRE_V_REF;
    w->cur.u.ref = id;
    w->via.from = id;
    w->via.seq = UINT64_MAX;
    return STORE_OK;
  }
  w->cur.type = WIRE_V_REF;
  w->cur.u.ref = 0;
  w->via.from = 0;
  w->via.seq = UINT64_MAX;
  if (*w->p == '[') {
    /* `["odd name"]` at the start means a global. */
    edge_query q;
    store_edge e;
    memset(&q, 0, sizeof q);
    q.name = "globals";
    q.name_len = 7;
    int rc = find_edge(w, 0, &q, &e);
    if (rc == STORE_ENOTFOUND) return not_found(w, w->p, 1, 0);
    return rc ? rc : follow(w, &e);
  }
  const char *step = w->p;
  size_t n = name_span(w);
  if (!n) return syntax(w, "empty name");
  edge_query q;
  store_edge e;
  memset(&q, 0, sizeof q);
  q.kind = "root";
  q.name = step;
  q.name_len = n;
  int rc = find_edge(w, 0, &q, &e);
  if (rc == STORE_OK) {
    w->p += n;
    return follow(w, &e);
  }
  if (rc != STORE_ENOTFOUND) return rc;
  /* Not a root: a global, as in the protocol's dotted paths. */
  q.name = "globals";
  q.name_len = 7;
  rc = find_edge(w, 0, &q, &e);
  if (rc == STORE_ENOTFOUND)
    return store_fail(w->s, STORE_ENOTFOUND, "path `%.*s`: `%.*s` is not a "
                      "root of snapshot %lld and it has no globals root",
                      (int)w->len, w->path, (int)n, step, (long long)w->snap);
  if (rc) return rc;
  follow(w, &e);
  return step_name(w);
}

int store_resolve(store *s, int64_t snap, const char *path, size_t len,
                  wire_value *out, store_edge *via) {
  walker w;
  memset(&w, 0, sizeof w);
  w.s = s;
  w.snap = snap;
  w.path = path;
  w.p = path;
  w.len = len;
  w.end = path + len;
  if (!len || len > MAX_PATH)
    return store_fail(s, STORE_EUSAGE, "a path has 1 to %d bytes, like "
                      "globals.app.state", MAX_PATH);
  int rc = store_snapshot_counts(s, snap, &w.nodes, &w.edges);
  if (rc) return rc;
  wire_buf_init(&w.text);
  rc = start(&w);
  while (!rc && w.p < w.end) {
    if (*w.p == '.') {
      w.p++;
      rc = step_name(&w);
    } else if (*w.p == '[') {
      rc = step_key(&w);
    } else {
      rc = syntax(&w, "expected . or [");
    }
  }
  wire_buf_free(&w.text);
  if (rc) return rc;
  if (out) *out = w.cur;
  if (via) *via = w.via;
  return STORE_OK;
}
