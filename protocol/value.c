/*
** value.c
** The textual form of scalars and references on edges: nil, true, false,
** i:<int64>, f:<C99 hex float>, @<node id>. Each value has exactly one
** form (the content hash is computed over it), and floats are exact:
** NaN, +-inf and -0.0 included. Floats are formatted and parsed by hand so
** the result never depends on the C locale.
*/
#include <string.h>

#include "wire_internal.h"

static uint64_t double_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static double bits_double(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* glibc's "%a" form: 0x1.<fraction, trailing zeros dropped>p<+-exp>, with
** 0x0.<fraction>p-1022 for subnormals and 0x0p+0 for zero. */
static size_t format_double(char *o, double d) {
  static const char hex[] = "0123456789abcdef";
  uint64_t u = double_bits(d);
  uint64_t frac = u & ((UINT64_C(1) << 52) - 1);
  int bexp = (int)(u >> 52 & 0x7FF), e;
  char *start = o;
  if (bexp == 0x7FF) {
    if (frac != 0) { memcpy(o, "nan", 3); return 3; }
    if (u >> 63) { memcpy(o, "-inf", 4); return 4; }
    memcpy(o, "inf", 3);
    return 3;
  }
  if (u >> 63) *o++ = '-';
  *o++ = '0';
  *o++ = 'x';
  if (bexp == 0 && frac == 0) {
    memcpy(o, "0p+0", 4);
    return (size_t)(o - start) + 4;
  }
  *o++ = bexp == 0 ? '0' : '1';
  e = bexp == 0 ? -1022 : bexp - 1023;
  if (frac != 0) {
    int shift = 48;
    *o++ = '.';
    while (frac != 0) {
      *o++ = hex[frac >> shift & 15];
      frac &= (UINT64_C(1) << shift) - 1;
      shift -= 4;
    }
  }
  *o++ = 'p';
  if (e < 0) { *o++ = '-'; e = -e; } else *o++ = '+';
  o += wire_num_u64(o, (uint64_t)e);
  return (size_t)(o - start);
}

static int hexval(unsigned c) {
  if (c >= '0' && c <= '9') return (int)(c - '0');
  if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
  return -1;
}

/* Read the form format_double writes; anything else is rejected by the
** caller's round-trip check, so this need only be exact on valid input. */
static int parse_double(const char *s, size_t n, double *out) {
  const char *p = s, *end = s + n;
  uint64_t sign = 0, frac = 0;
  int lead, digits = 0, neg = 0;
  int64_t e = 0;
  if (n == 3 && memcmp(s, "nan", 3) == 0) { *out = bits_double(UINT64_C(0x7FF8000000000000)); return 0; }
  if (n == 3 && memcmp(s, "inf", 3) == 0) { *out = bits_double(UINT64_C(0x7FF0000000000000)); return 0; }
  if (n == 4 && memcmp(s, "-inf", 4) == 0) { *out = bits_double(UINT64_C(0xFFF0000000000000)); return 0; }
  if (p < end && *p == '-') { sign = UINT64_C(1) << 63; p++; }
  if (end - p < 3 || p[0] != '0' || p[1] != 'x' || (p[2] != '0' && p[2] != '1'))
    return -1;
  lead = p[2] - '0';
  p += 3;
  if (p < end && *p == '.') {
    p++;
    while (p < end && hexval((unsigned char)*p) >= 0) {
      if (++digits > 13) return -1;
      frac = frac << 4 | (uint64_t)hexval((unsigned char)*p);
      p++;
    }
    if (digits == 0) return -1;
    frac <<= 4 * (13 - digits);
  }
  if (end - p < 3 || p[0] != 'p' || (p[1] != '+' && p[1] != '-')) return -1;
  neg = p[1] == '-';
  p += 2;
  if (end - p > 4) return -1;
  while (p < end) {
    unsigned d = (unsigned char)*p - '0';
    if (d > 9) return -1;
    e = e * 10 + d;
    p++;
  }
  if (neg) e = -e;
  if (lead == 1) {
    if (e < -1022 || e > 1023) return -1;
    *out = bits_double(sign | (uint64_t)(e + 1023) << 52 | frac);
  } else {
    if (frac != 0 && e != -1022) return -1;
    *out = bits_double(sign | frac);
  }
  return 0;
}

size_t wire_value_text(char *o, const wire_value *v) {
  switch (v->type) {
  case WIRE_V_NIL: memcpy(o, "nil", 3); return 3;
  case WIRE_V_BOOL:
    if (v->u.b) { memcpy(o, "true", 4); return 4; }
    memcpy(o, "false", 5);
    return 5;
  case WIRE_V_INT:
    o[0] = 'i'; o[1] = ':';
    return 2 + wire_num_i64(o + 2, v->u.i);
  case WIRE_V_FLOAT:
    o[0] = 'f'; o[1] = ':';
    return 2 + format_double(o + 2, v->u.f);
  case WIRE_V_REF:
    o[0] = '@';
    return 1 + wire_num_u64(o + 1, v->u.ref);
  case WIRE_V_NONE: break;
  }
  return 0;
}

void wire_value_format(wire_buf *b, const wire_value *v) {
  if (WIRE_RESERVE(b, WIRE_VALUE_MAX)) return;
  b->len += wire_value_text(b->data + b->len, v);
}

int wire_value_parse(const char *s, size_t n, wire_value *v) {
  wire_value t;
  char canon[WIRE_VALUE_MAX];
  memset(&t, 0, sizeof t);
  /* integers and references first: they are most of every graph */
  if (n > 2 && s[0] == 'i' && s[1] == ':') {
    t.type = WIRE_V_INT;
    if (wire_num_parse_i64(s + 2, n - 2, &t.u.i) != 0) return -1;
  } else if (n > 1 && s[0] == '@') {
    t.type = WIRE_V_REF;
    if (wire_num_parse_u64(s + 1, n - 1, &t.u.ref) != 0) return -1;
  } else if (n == 3 && memcmp(s, "nil", 3) == 0) {
    t.type = WIRE_V_NIL;
  } else if (n == 4 && memcmp(s, "true", 4) == 0) {
    t.type = WIRE_V_BOOL; t.u.b = 1;
  } else if (n == 5 && memcmp(s, "false", 5) == 0) {
    t.type = WIRE_V_BOOL; t.u.b = 0;
  } else if (n > 2 && n <= WIRE_VALUE_MAX && s[0] == 'f' && s[1] == ':') {
    t.type = WIRE_V_FLOAT;
    if (parse_double(s + 2, n - 2, &t.u.f) != 0) return -1;
    /* one spelling per float: what we would write must be what was read */
    if (wire_value_text(canon, &t) != n || memcmp(canon, s, n) != 0) return -1;
  } else {
    return -1;
  }
  *v = t;
  return 0;
}
