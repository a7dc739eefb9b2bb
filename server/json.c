/*
** json.c
** The JSON writer: structure bookkeeping (commas, colons, nesting) and the
** exact escaping of arbitrary bytes described in json.h.
*/
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const char hexdig[] = "0123456789abcdef";

/* Length of the valid, shortest-form UTF-8 sequence at p (at most n bytes
** available), or 0 if p[0] does not start one. Surrogates and code points
** above U+10FFFF are invalid. *cp gets the code point. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp) {
  unsigned c = p[0];
  if (c < 0x80) { *cp = c; return 1; }
  if (c < 0xC2) return 0;
  if (c < 0xE0) {
    if (n < 2 || (p[1] & 0xC0) != 0x80) return 0;
    *cp = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    return 2;
  }
  if (c < 0xF0) {
    if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    uint32_t v = ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
        (p[3] & 0xC0) != 0x80) return 0;
    uint32_t v = ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) |
                 ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
    if (v < 0x10000 || v > 0x10FFFF) return 0;
    *cp = v;
    return 4;
  }
  return 0;
}

/* \u escape of a 16-bit unit. */
static void put_u(wire_buf *b, unsigned u) {
  char e[6] = { '\\', 'u', hexdig[(u >> 12) & 15], hexdig[(u >> 8) & 15],
                hexdig[(u >> 4) & 15], hexdig[u & 15] };
  wire_buf_put(b, e, 6);
}

void json_escape(wire_buf *b, const void *s, size_t n) {
  const unsigned char *p = s, *end = p + n;
  if (wire_buf_reserve(b, n + 2) != 0) return;
  while (p < end) {
    /* Copy the longest run of plain printable ASCII in one go. */
    const unsigned char *run = p;
    while (p < end && *p >= 0x20 && *p < 0x7F && *p != '"' && *p != '\\') p++;
    if (p > run) wire_buf_put(b, run, (size_t)(p - run));
    if (p == end) break;
    unsigned c = *p;
    if (c == '"' || c == '\\') {
      char e[2] = { '\\', (char)c };
      wire_buf_put(b, e, 2);
      p++;
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      const char *short_form = c == '\n' ? "\\n" : c == '\t' ? "\\t" :
                               c == '\r' ? "\\r" : NULL;
      if (short_form) wire_buf_put(b, short_form, 2);
      else put_u(b, c);
      p++;
      continue;
    }
    uint32_t cp = 0;
    size_t len = utf8_seq(p, (size_t)(end - p), &cp);
    if (len == 0) {                       /* a stray byte: U+F7NN */
      put_u(b, 0xF700u | c);
      p++;
    } else if (cp >= 0xF700 && cp <= 0xF7FF) {
      /* A real U+F7xx would decode as one byte: send its bytes instead. */
      for (size_t i = 0; i < len; i++) put_u(b, 0xF700u | p[i]);
      p += len;
    } else if (cp == 0x2028 || cp == 0x2029) {
      put_u(b, cp);                       /* JavaScript line terminators */
      p += len;
    } else {
      wire_buf_put(b, p, len);
      p += len;
    }
  }
}

void json_init(json_writer *w, wire_buf *out) {
  memset(w, 0, sizeof *w);
  w->out = out;
}

int json_ok(const json_writer *w) {
  return !w->err && !w->out->oom && w->depth == 0 && !w->want_value;
}

/* Bookkeeping before any value: a comma between array items, and a check
** that object members come as key then value. */
static int before_value(json_writer *w) {
  if (w->err) return -1;
  if (w->depth > 0) {
    int d = w->depth - 1;
    if (w->isobj[d]) {
      if (!w->want_value) { w->err = 1; return -1; }
      w->want_value = 0;
    } else {
      if (w->count[d]) wire_buf_put(w->out, ",", 1);
      if (w->count[d] < 255) w->count[d]++;
    }
  }
  return 0;
}

static void open_container(json_writer *w, int isobj) {
  if (before_value(w)) return;
  if (w->depth >= JSON_MAX_DEPTH) { w->err = 1; return; }
  w->isobj[w->depth] = (unsigned char)isobj;
  w->count[w->depth] = 0;
  w->depth++;
  wire_buf_put(w->out, isobj ? "{" : "[", 1);
}

static void close_container(json_writer *w, int isobj) {
  if (w->err) return;
  if (w->depth == 0 || w->isobj[w->depth - 1] != isobj || w->want_value) {
    w->err = 1;
    return;
  }
  w->depth--;
  wire_buf_put(w->out, isobj ? "}" : "]", 1);
}

void json_object_begin(json_writer *w) { open_container(w, 1); }
void json_object_end(json_writer *w) { close_container(w, 1); }
void json_array_begin(json_writer *w) { open_container(w, 0); }
void json_array_end(json_writer *w) { close_container(w, 0); }

void json_key(json_writer *w, const void *k, size_t n) {
  if (w->err) return;
  int d = w->depth - 1;
  if (d < 0 || !w->isobj[d] || w->want_value) { w->err = 1; return; }
  if (w->count[d]) wire_buf_put(w->out, ",", 1);
  if (w->count[d] < 255) w->count[d]++;
  wire_buf_put(w->out, "\"", 1);
  json_escape(w->out, k, n);
  wire_buf_put(w->out, "\":", 2);
  w->want_value = 1;
}

void json_keyz(json_writer *w, const char *k) { json_key(w, k, strlen(k)); }

void json_string(json_writer *w, const void *s, size_t n) {
  if (before_value(w)) return;
  wire_buf_put(w->out, "\"", 1);
  json_escape(w->out, s, n);
  wire_buf_put(w->out, "\"", 1);
}

void json_stringz(json_writer *w, const char *s) {
  if (s) json_string(w, s, strlen(s));
  else json_null(w);
}

void json_int(json_writer *w, int64_t v) {
  char t[24];
  if (before_value(w)) return;
  int n = snprintf(t, sizeof t, "%" PRId64, v);
  wire_buf_put(w->out, t, (size_t)n);
}

void json_uint(json_writer *w, uint64_t v) {
  char t[24];
  if (before_value(w)) return;
  int n = snprintf(t, sizeof t, "%" PRIu64, v);
  wire_buf_put(w->out, t, (size_t)n);
}

void json_double(json_writer *w, double v) {
  char t[40];
  if (!isfinite(v)) { json_null(w); return; }
  if (before_value(w)) return;
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(t, sizeof t, "%.*g", prec, v);
    if (strtod(t, NULL) == v) break;
  }
  wire_buf_put(w->out, t, (size_t)n);
}

void json_bool(json_writer *w, int b) {
  if (before_value(w)) return;
  wire_buf_puts(w->out, b ? "true" : "false");
}

void json_null(json_writer *w) {
  if (before_value(w)) return;
  wire_buf_put(w->out, "null", 4);
}

void json_raw(json_writer *w, const char *s, size_t n) {
  if (before_value(w)) return;
  wire_buf_put(w->out, s, n);
}

void json_kv_str(json_writer *w, const char *k, const char *s) {
  json_keyz(w, k);
  json_stringz(w, s);
}
void json_kv_bytes(json_writer *w, const char *k, const void *s, size_t n) {
  json_keyz(w, k);
  if (s) json_string(w, s, n);
  else json_null(w);
}
void json_kv_int(json_writer *w, const char *k, int64_t v) {
  json_keyz(w, k);
  json_int(w, v);
}
void json_kv_uint(json_writer *w, const char *k, uint64_t v) {
  json_keyz(w, k);
  json_uint(w, v);
}
void json_kv_bool(json_writer *w, const char *k, int b) {
  json_keyz(w, k);
  json_bool(w, b);
}
void json_kv_double(json_writer *w, const char *k, double v) {
  json_keyz(w, k);
  json_double(w, v);
}
void json_kv_null(json_writer *w, const char *k) {
  json_keyz(w, k);
  json_null(w);
}
