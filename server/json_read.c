/*
** json_read.c
** A small JSON reader: one document into a tree held in an arena, with a
** nesting limit, exact integers, and the U+F7NN byte rule of json.h.
*/
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Memory for a document: blocks freed all at once. */
typedef struct block {
  struct block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} block;

struct json_doc {
  block *blocks;
  json_value *root;
};

typedef struct reader {
  const char *s, *end, *start;
  json_doc *doc;
  char *err; size_t errlen;
  int failed;
} reader;

static void *arena_alloc(json_doc *d, size_t n) {
  n = (n + 15) & ~(size_t)15;
  block *b = d->blocks;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > 8192 ? n : 8192;
    b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->used = 0;
    b->cap = cap;
    b->next = d->blocks;
    d->blocks = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  return p;
}

static void fail(reader *r, const char *fmt, ...) {
  if (r->failed) return;
  r->failed = 1;
  if (!r->err || !r->errlen) return;
  char what[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(r->err, r->errlen, "%s at byte %zu", what, (size_t)(r->s - r->start));
}

static void skip_ws(reader *r) {
  while (r->s < r->end && (*r->s == ' ' || *r->s == '\t' || *r->s == '\n' ||
                           *r->s == '\r'))
    r->s++;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned long cp) {
  if (cp < 0x80) { o[0] = (char)cp; return 1; }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* A string at r->s (on its opening quote). The decoded form is never longer
** than the source, so one allocation of the source length suffices. */
static int read_string(reader *r, const char **out, size_t *outlen) {
  assert(*r->s == '"');
  const char *p = ++r->s;
  while (p < r->end && *p != '"') p += (*p == '\\') ? 2 : 1;
  if (p >= r->end) { fail(r, "unterminated string"); return -1; }
  char *o = arena_alloc(r->doc, (size_t)(p - r->s) + 1);
  if (!o) { fail(r, "out of memory"); return -1; }
  size_t n = 0;
  while (*r->s != '"') {
    unsigned char c = (unsigned char)*r->s;
    if (c < 0x20) { fail(r, "control character in string"); return -1; }
    if (c != '\\') { o[n++] = (char)c; r->s++; continue; }
    char e = r->s[1];
    r->s += 2;
    switch (e) {
    case '"': o[n++] = '"'; break;
    case '\\': o[n++] = '\\'; break;
    case '/': o[n++] = '/'; break;
    case 'b': o[n++] = '\b'; break;
    case 'f': o[n++] = '\f'; break;
    case 'n': o[n++] = '\n'; break;
    case 'r': o[n++] = '\r'; break;
    case 't': o[n++] = '\t'; break;
    case 'u': {
      unsigned u, lo;
      if (r->end - r->s < 4 || hex4(r->s, &u)) { fail(r, "bad \\u escape"); return -1; }
      r->s += 4;
      unsigned long cp = u;
      if (u >= 0xD800 && u <= 0xDBFF) {
        if (r->end - r->s < 6 || r->s[0] != '\\' || r->s[1] != 'u' ||
            hex4(r->s + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
          fail(r, "unpaired surrogate");
          return -1;
        }
        r->s += 6;
        cp = 0x10000 + (((unsigned long)u - 0xD800) << 10) + (lo - 0xDC00);
      } else if (u >= 0xDC00 && u <= 0xDFFF) {
        fail(r, "unpaired surrogate");
        return -1;
      }
      if (cp >= 0xF700 && cp <= 0xF7FF) o[n++] = (char)(cp - 0xF700);
      else n += put_utf8(o + n, cp);
      break;
    }
    default:
      fail(r, "bad escape \\%c", e);
      return -1;
    }
  }
  r->s++;
  o[n] = 0;
  *out = o;
  *outlen = n;
  return 0;
}

static int read_number(reader *r, json_value *v) {
  const char *p = r->s;
  if (p < r->end && *p == '-') p++;
  if (p >= r->end || *p < '0' || *p > '9') { fail(r, "bad number"); return -1; }
  if (*p == '0') p++;
  else while (p < r->end && *p >= '0' && *p <= '9') p++;
  if (p < r->end && *p == '.') {
    p++;
    if (p >= r->end || *p < '0' || *p > '9') { fail(r, "bad number"); return -1; }
    while (p < r->end && *p >= '0' && *p <= '9') p++;
  }
  if (p < r->end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < r->end && (*p == '+' || *p == '-')) p++;
    if (p >= r->end || *p < '0' || *p > '9') { fail(r, "bad number"); return -1; }
    while (p < r->end && *p >= '0' && *p <= '9') p++;
  }
  size_t len = (size_t)(p - r->s);
  char *t = arena_alloc(r->doc, len + 1);
  if (!t) { fail(r, "out of memory"); return -1; }
  memcpy(t, r->s, len);
  t[len] = 0;
  v->type = JSON_NUMBER;
  v->str = t;
  v->len = len;
  v->num = strtod(t, NULL);
  r->s = p;
  return 0;
}

static int literal(reader *r, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(r->end - r->s) < n || memcmp(r->s, word, n) != 0) {
    fail(r, "unexpected character");
    return -1;
  }
  r->s += n;
  return 0;
}

static json_value *read_value(reader *r, int depth) {
  json_value *v = arena_alloc(r->doc, sizeof *v);
  if (!v) { fail(r, "out of memory"); return NULL; }
  memset(v, 0, sizeof *v);
  skip_ws(r);
  if (r->s >= r->end) { fail(r, "unexpected end of input"); return NULL; }
  switch (*r->s) {
  case 'n': v->type = JSON_NULL; return literal(r, "null") ? NULL : v;
  case 't': v->type = JSON_TRUE; return literal(r, "true") ? NULL : v;
  case 'f': v->type = JSON_FALSE; return literal(r, "false") ? NULL : v;
  case '"':
    v->type = JSON_STRING;
    return read_string(r, &v->str, &v->len) ? NULL : v;
  case '[': case '{': {
    int isobj = *r->s == '{';
    char close = isobj ? '}' : ']';
    if (depth >= JSON_MAX_DEPTH) { fail(r, "nested too deeply"); return NULL; }
    v->type = isobj ? JSON_OBJECT : JSON_ARRAY;
    r->s++;
    skip_ws(r);
    if (r->s < r->end && *r->s == close) { r->s++; return v; }
    json_value **tail = &v->child;
    for (;;) {
      const char *key = NULL;
      size_t key_len = 0;
      if (isobj) {
        skip_ws(r);
        if (r->s >= r->end || *r->s != '"') { fail(r, "expected a key"); return NULL; }
        if (read_string(r, &key, &key_len)) return NULL;
        skip_ws(r);
        if (r->s >= r->end || *r->s != ':') { fail(r, "expected ':'"); return NULL; }
        r->s++;
      }
      json_value *c = read_value(r, depth + 1);
      if (!c) return NULL;
      c->key = key;
      c->key_len = key_len;
      *tail = c;
      tail = &c->next;
      v->count++;
      skip_ws(r);
      if (r->s < r->end && *r->s == ',') { r->s++; continue; }
      if (r->s < r->end && *r->s == close) { r->s++; return v; }
      fail(r, "expected ',' or '%c'", close);
      return NULL;
    }
  }
  default:
    if (*r->s == '-' || (*r->s >= '0' && *r->s <= '9'))
      return read_number(r, v) ? NULL : v;
    fail(r, "unexpected character");
    return NULL;
  }
}

json_doc *json_parse(const char *s, size_t n, char *err, size_t errlen) {
  json_doc *d = calloc(1, sizeof *d);
  if (!d) {
    if (err && errlen) snprintf(err, errlen, "out of memory");
    return NULL;
  }
  reader r = { s, s + n, s, d, err, errlen, 0 };
  d->root = read_value(&r, 0);
  if (d->root) {
    skip_ws(&r);
    if (r.s != r.end) fail(&r, "trailing characters after the value");
  }
  if (r.failed || !d->root) {
    json_doc_free(d);
    return NULL;
  }
  return d;
}

const json_value *json_root(const json_doc *d) { return d->root; }

void json_doc_free(json_doc *d) {
  if (!d) return;
  block *b = d->blocks;
  while (b) {
    block *next = b->next;
    free(b);
    b = next;
  }
  free(d);
}

const json_value *json_get(const json_value *o, const char *key) {
  if (!o || o->type != JSON_OBJECT) return NULL;
  size_t kl = strlen(key);
  for (const json_value *c = o->child; c; c = c->next)
    if (c->key_len == kl && memcmp(c->key, key, kl) == 0) return c;
  return NULL;
}

const char *json_get_str(const json_value *o, const char *key) {
  const json_value *v = json_get(o, key);
  return v && v->type == JSON_STRING ? v->str : NULL;
}

int json_to_i64(const json_value *v, int64_t *out) {
  if (!v || v->type != JSON_NUMBER) return -1;
  for (size_t i = 0; i < v->len; i++)
    if (v->str[i] == '.' || v->str[i] == 'e' || v->str[i] == 'E') return -1;
  errno = 0;
  char *end;
  long long x = strtoll(v->str, &end, 10);
  if (errno || *end) return -1;
  *out = x;
  return 0;
}

int json_get_i64(const json_value *o, const char *key, int64_t dflt,
                 int64_t *out) {
  const json_value *v = json_get(o, key);
  if (!v) { *out = dflt; return 0; }
  return json_to_i64(v, out);
}

void json_emit(json_writer *w, const json_value *v) {
  switch (v->type) {
  case JSON_NULL: json_null(w); break;
  case JSON_FALSE: json_bool(w, 0); break;
  case JSON_TRUE: json_bool(w, 1); break;
  case JSON_NUMBER: json_raw(w, v->str, v->len); break;
  case JSON_STRING: json_string(w, v->str, v->len); break;
  case JSON_ARRAY:
  case JSON_OBJECT:
    if (v->type == JSON_OBJECT) json_object_begin(w);
    else json_array_begin(w);
    for (const json_value *c = v->child; c; c = c->next) {
      if (v->type == JSON_OBJECT) json_key(w, c->key, c->key_len);
      json_emit(w, c);
    }
    if (v->type == JSON_OBJECT) json_object_end(w);
    else json_array_end(w);
    break;
  }
}
