/*
** base64.c
** RFC 4648 base64 with padding, for binary payloads (bytecode, userdata).
** The decoder is strict: one encoding per byte string, so payloads compare
** and hash the same however they travelled.
*/
#include <string.h>

#include "wire_internal.h"

static const char alphabet[65] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void wire_base64_encode(wire_buf *b, const void *p, size_t n) {
  const unsigned char *s = p;
  char *o;
  size_t i;
  if (n == 0) return;
  if (n > (SIZE_MAX - 4) / 4 * 3) { b->oom = 1; return; }
  if (WIRE_RESERVE(b, (n + 2) / 3 * 4)) return;
  o = b->data + b->len;
  for (i = 0; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    o[0] = alphabet[v >> 18];
    o[1] = alphabet[v >> 12 & 63];
    o[2] = alphabet[v >> 6 & 63];
    o[3] = alphabet[v & 63];
    o += 4;
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)s[i] << 16;
    o[0] = alphabet[v >> 18];
    o[1] = alphabet[v >> 12 & 63];
    o[2] = o[3] = '=';
    o += 4;
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
    o[0] = alphabet[v >> 18];
    o[1] = alphabet[v >> 12 & 63];
    o[2] = alphabet[v >> 6 & 63];
    o[3] = '=';
    o += 4;
  }
  b->len = (size_t)(o - b->data);
}

static int sextet(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Rejects: a length that is not a multiple of 4, characters outside the
** alphabet, padding anywhere but the end, and nonzero bits under the
** padding (which would give a second spelling of the same bytes). */
int wire_base64_decode(wire_buf *out, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i, pad = 0;
  char *o;
  if (n % 4 != 0) return -1;
  if (n == 0) return 0;
  if (n > 0 && u[n - 1] == '=') pad = u[n - 2] == '=' ? 2 : 1;
  if (WIRE_RESERVE(out, n / 4 * 3)) return -1;
  o = out->data + out->len;
  for (i = 0; i < n; i += 4) {
    int a = sextet(u[i]), b = sextet(u[i + 1]), c, d;
    int last = i + 4 == n;
    if (a < 0 || b < 0) return -1;
    if (last && pad == 2) {
      if (u[i + 2] != '=' || (b & 15) != 0) return -1;
      *o++ = (char)(a << 2 | b >> 4);
      break;
    }
    c = sextet(u[i + 2]);
    if (c < 0) return -1;
    if (last && pad == 1) {
      if ((c & 3) != 0) return -1;
      *o++ = (char)(a << 2 | b >> 4);
      *o++ = (char)((b & 15) << 4 | c >> 2);
      break;
    }
    d = sextet(u[i + 3]);
    if (d < 0) return -1;
    *o++ = (char)(a << 2 | b >> 4);
    *o++ = (char)((b & 15) << 4 | c >> 2);
    *o++ = (char)((c & 3) << 6 | d);
  }
  out->len = (size_t)(o - out->data);
  return 0;
}
