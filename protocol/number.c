/*
** number.c
** Decimal and hex integers for the wire: hand-written formatting (the agent
** writes millions of them inside a VM pause, snprintf is too slow) and
** strict parsing, so every integer has exactly one textual form.
*/
#include <assert.h>
#include <string.h>

#include "wire_internal.h"

static const char digit_pairs[201] =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
  "8081828384858687888990919293949596979899";

/* Decimal digits of v: counted first so the digits go straight to their
** place (no copy from a scratch buffer: this runs for every edge). */
static size_t digits_u64(uint64_t v) {
  size_t n = 1;
  for (;;) {
    if (v < 10) return n;
    if (v < 100) return n + 1;
    if (v < 1000) return n + 2;
    if (v < 10000) return n + 3;
    v /= 10000;
    n += 4;
  }
}

size_t wire_num_u64(char *dst, uint64_t v) {
  size_t n = digits_u64(v);
  char *p = dst + n;
  while (v >= 100) {
    unsigned d = (unsigned)(v % 100) * 2;
    v /= 100;
    *--p = digit_pairs[d + 1];
    *--p = digit_pairs[d];
  }
  if (v >= 10) {
    unsigned d = (unsigned)v * 2;
    *--p = digit_pairs[d + 1];
    *--p = digit_pairs[d];
  } else {
    *--p = (char)('0' + v);
  }
  assert(p == dst);
  return n;
}

size_t wire_num_i64(char *dst, int64_t v) {
  if (v < 0) {
    /* negate in unsigned arithmetic: INT64_MIN has no positive twin */
    dst[0] = '-';
    return 1 + wire_num_u64(dst + 1, (uint64_t)0 - (uint64_t)v);
  }
  return wire_num_u64(dst, (uint64_t)v);
}

size_t wire_num_hex(char *dst, uint64_t v) {
  static const char hex[] = "0123456789abcdef";
  char tmp[16];
  char *p = tmp + sizeof tmp;
  size_t n;
  do {
    *--p = hex[v & 15];
    v >>= 4;
  } while (v);
  n = (size_t)(tmp + sizeof tmp - p);
  memcpy(dst, p, n);
  return n;
}

int wire_num_parse_u64(const char *s, size_t n, uint64_t *out) {
  uint64_t v = 0;
  size_t i;
  if (n == 0 || n > WIRE_NUM_MAX || (s[0] == '0' && n > 1)) return -1;
  /* Nineteen digits never overflow 64 bits: only a twentieth needs the
  ** check (this is the hot path of reading edge runs). */
  for (i = 0; i < n && i < 19; i++) {
    unsigned d = (unsigned char)s[i] - '0';
    if (d > 9) return -1;
    v = v * 10 + d;
  }
  if (i < n) {
    unsigned d = (unsigned char)s[i] - '0';
    if (d > 9 || v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

int wire_num_parse_i64(const char *s, size_t n, int64_t *out) {
  uint64_t u;
  if (n > 0 && s[0] == '-') {
    if (wire_num_parse_u64(s + 1, n - 1, &u) != 0 || u == 0) return -1;
    if (u > (uint64_t)INT64_MAX + 1) return -1;
    *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    return 0;
  }
  if (wire_num_parse_u64(s, n, &u) != 0 || u > (uint64_t)INT64_MAX) return -1;
  *out = (int64_t)u;
  return 0;
}

/* Each hex digit's value plus one; 0 for a byte that is not a digit. Every
** node carries an address, so this is read once a record. */
static const unsigned char hex_digit[256] = {
  ['0'] = 0 + 1, ['1'] = 1 + 1, ['2'] = 2 + 1, ['3'] = 3 + 1, ['4'] = 4 + 1,
  ['5'] = 5 + 1, ['6'] = 6 + 1, ['7'] = 7 + 1, ['8'] = 8 + 1, ['9'] = 9 + 1,
  ['a'] = 10 + 1, ['b'] = 11 + 1, ['c'] = 12 + 1, ['d'] = 13 + 1, ['e'] = 14 + 1,
  ['f'] = 15 + 1, ['A'] = 10 + 1, ['B'] = 11 + 1, ['C'] = 12 + 1, ['D'] = 13 + 1,
  ['E'] = 14 + 1, ['F'] = 15 + 1,
};

int wire_num_parse_hex(const char *s, size_t n, uint64_t *out) {
  uint64_t v = 0;
  unsigned bad = 0;
  size_t i;
  if (n == 0 || n > 16) return -1;
  for (i = 0; i < n; i++) {
    unsigned d = hex_digit[(unsigned char)s[i]];
    bad |= d == 0;
    v = v << 4 | ((d - 1) & 15);
  }
  if (bad) return -1;
  *out = v;
  return 0;
}
