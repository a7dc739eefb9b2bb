/*
** escape.c
** Exact escaping of arbitrary bytes into XML attribute values and text, and
** the decoder for the U+F7xx scheme (docs/protocol.md section 2). Runs of
** safe ASCII are copied with memcpy: this is the agent's hot loop.
*/
#include <string.h>

#include "wire_internal.h"

/* 1 for bytes that stand for themselves: printable ASCII but & < > ", and in
** text also TAB and LF (XML keeps them in text, but normalises them to spaces
** in attribute values). */
static const unsigned char safe_attr[256] = {
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  1,1,0,1,1,1,0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0,1,0,1,
  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
};
static const unsigned char safe_text[256] = {
  0,0,0,0,0,0,0,0,0,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  1,1,0,1,1,1,0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0,1,0,1,
  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
  1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
};

int wire_utf8_check(const unsigned char *s, size_t n) {
  unsigned c = s[0], lo = 0x80, hi = 0xBF, len, i;
  if (c < 0xC2 || c > 0xF4) return 0;
  len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (c == 0xE0) lo = 0xA0;         /* shortest form only */
  else if (c == 0xED) hi = 0x9F;    /* surrogates are not characters */
  else if (c == 0xF0) lo = 0x90;
  else if (c == 0xF4) hi = 0x8F;    /* nothing above U+10FFFF */
  for (i = 1; i < len; i++) {
    if (i >= n) return WIRE_UTF8_MORE;
    if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xBF)) return 0;
  }
  if (c == 0xEF) {
    if (s[1] == 0xBF && s[2] >= 0xBE) return 0;              /* U+FFFE, U+FFFF */
    if (s[1] >= 0x9C && s[1] <= 0x9F) return WIRE_UTF8_F7;   /* U+F700..U+F7FF */
  }
  return (int)len;
}

static char *put_f7(char *o, unsigned byte) {
  static const char hex[] = "0123456789ABCDEF";
  memcpy(o, "&#xF7", 5);
  o[5] = hex[byte >> 4];
  o[6] = hex[byte & 15];
  o[7] = ';';
  return o + 8;
}

/* Escape one byte (or character) that is not in the safe table; returns the
** input bytes consumed. The caller reserved room for 24 output bytes. */
static size_t escape_special(wire_buf *b, const unsigned char *s, size_t n) {
  char *o = b->data + b->len, *start = o;
  size_t used = 1;
  int k;
  switch (s[0]) {
  case '&': memcpy(o, "&amp;", 5); o += 5; break;
  case '<': memcpy(o, "&lt;", 4); o += 4; break;
  case '>': memcpy(o, "&gt;", 4); o += 4; break;
  case '"': memcpy(o, "&quot;", 6); o += 6; break;
  case '\t': memcpy(o, "&#9;", 4); o += 4; break;
  case '\n': memcpy(o, "&#10;", 5); o += 5; break;
  case '\r': memcpy(o, "&#13;", 5); o += 5; break;
  default:
    if (s[0] < 0x80) {
      o = put_f7(o, s[0]);
      break;
    }
    k = wire_utf8_check(s, n);
    if (k > 0) {
      memcpy(o, s, (size_t)k);
      o += k;
      used = (size_t)k;
    } else if (k == WIRE_UTF8_F7) {
      o = put_f7(put_f7(put_f7(o, s[0]), s[1]), s[2]);
      used = 3;
    } else {
      o = put_f7(o, s[0]);
    }
  }
  b->len += (size_t)(o - start);
  return used;
}

void wire_escape(wire_buf *b, const void *p, size_t n, int quot) {
  const unsigned char *s = p, *end = s + n;
  const unsigned char *safe;
  safe = quot ? safe_attr : safe_text;
  while (s < end) {
    const unsigned char *r = s;
    while (end - r >= 4 && safe[r[0]] && safe[r[1]] && safe[r[2]] && safe[r[3]])
      r += 4;
    while (r < end && safe[*r]) r++;
    if (r > s) {
      size_t k = (size_t)(r - s);
      if (WIRE_RESERVE(b, k)) return;
      memcpy(b->data + b->len, s, k);
      b->len += k;
      s = r;
      if (s == end) break;
    }
    if (WIRE_RESERVE(b, 24)) return;
    s += escape_special(b, s, (size_t)(end - s));
  }
}

/* Decode the code point of a valid UTF-8 sequence of k bytes. */
static unsigned long utf8_decode(const unsigned char *s, int k) {
  if (k == 2) return (unsigned long)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
  if (k == 3) return (unsigned long)(s[0] & 0x0F) << 12 | (unsigned long)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
  return (unsigned long)(s[0] & 0x07) << 18 | (unsigned long)(s[1] & 0x3F) << 12 |
         (unsigned long)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
}

void wire_escape_ascii(wire_buf *b, const void *p, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *s = p, *end = s + n;
  while (s < end) {
    const unsigned char *r = s;
    int k;
    while (r < end && safe_attr[*r]) r++;
    if (r > s) {
      wire_buf_put(b, s, (size_t)(r - s));
      s = r;
      if (s == end) break;
    }
    if (WIRE_RESERVE(b, 24)) return;
    k = *s >= 0x80 ? wire_utf8_check(s, (size_t)(end - s)) : 0;
    if (k > 0) {
      unsigned long cp = utf8_decode(s, k);
      char *o = b->data + b->len;
      int shift = cp > 0xFFFFF ? 20 : cp > 0xFFFF ? 16 : 12;
      memcpy(o, "&#x", 3);
      o += 3;
      for (; shift >= 0; shift -= 4) *o++ = hex[cp >> shift & 15];
      *o++ = ';';
      b->len = (size_t)(o - b->data);
      s += k;
    } else {
      /* the writer's escapes already are ASCII; TAB LF CR get references */
      s += escape_special(b, s, k == WIRE_UTF8_F7 ? 3 : 1);
    }
  }
}

size_t wire_unescape_f7(char *dst, const char *src, size_t n) {
  const char *s = src, *end = src + n;
  char *o = dst;
  while (s < end) {
    const char *e = memchr(s, 0xEF, (size_t)(end - s));
    if (e == NULL) e = end;
    memcpy(o, s, (size_t)(e - s));
    o += e - s;
    s = e;
    if (s == end) break;
    if (end - s >= 3) {
      unsigned b1 = (unsigned char)s[1], b2 = (unsigned char)s[2];
      if (b1 >= 0x9C && b1 <= 0x9F && (b2 & 0xC0) == 0x80) {
        *o++ = (char)((b1 - 0x9C) << 6 | (b2 & 0x3F));
        s += 3;
        continue;
      }
    }
    *o++ = *s++;
  }
  return (size_t)(o - dst);
}
