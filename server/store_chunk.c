/*
** store_chunk.c
** Edges are stored packed, many to a chunk row, in the order they arrived.
** This file holds their byte format (see docs/store.md, "Packed edges"), a
** checked decoder, and the varints both packed formats use.
*/
#include <assert.h>
#include <string.h>

#include "store_impl.h"

/* Kind codes 1.. (never reorder: they are in stored data). */
static const char *const kinds[] = {
  NULL, "root", "field", "index", "key", "metatable", "upvalue", "value",
  "prototype", "uservalue", "frame", "function", "local", "vararg", "stack",
  "environment", "internal", "weak", "exit"};
#define NKINDS ((int)(sizeof kinds / sizeof kinds[0]))

/* Value type codes in the flags byte. */
enum { T_NONE, T_NIL, T_FALSE, T_TRUE, T_INT, T_FLOAT, T_REF };

#define F_NAME 1u
#define F_INDEX 2u
/* In the kind byte: the index is the previous edge's plus one, and not
** written (most edges are array items in a row). Schema 5 on; older
** chunks never set it. */
#define K_NEXT 0x80u

void store_put_varint(wire_buf *b, uint64_t v) {
  unsigned char t[10];
  size_t n = 0;
  do {
    t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  wire_buf_put(b, t, n);
}

static unsigned vtype(const wire_value *v) {
  switch (v->type) {
  case WIRE_V_NONE: return T_NONE;
  case WIRE_V_NIL: return T_NIL;
  case WIRE_V_BOOL: return v->u.b ? T_TRUE : T_FALSE;
  case WIRE_V_INT: return T_INT;
  case WIRE_V_FLOAT: return T_FLOAT;
  case WIRE_V_REF: return T_REF;
  }
  return T_NONE;
}

/* A varint at o (the same bytes as store_put_varint); the byte after it. */
static unsigned char *varint_at(unsigned char *o, uint64_t v) {
  for (; v > 0x7f; v >>= 7) *o++ = (unsigned char)(v | 0x80);
  *o++ = (unsigned char)v;
  return o;
}

/* A value's bytes at o (at most 10); the byte after them. */
static unsigned char *value_at(unsigned char *o, const wire_value *v) {
  uint64_t bits;
  switch (v->type) {
  case WIRE_V_INT:
    return varint_at(o, store_zigzag(v->u.i));
  case WIRE_V_FLOAT:
    /* The 64 bits, little-endian: NaN, -0.0 and inf stay exact. */
    memcpy(&bits, &v->u.f, 8);
    for (int i = 0; i < 8; i++) o[i] = (unsigned char)(bits >> (8 * i));
    return o + 8;
  case WIRE_V_REF:
    return varint_at(o, v->u.ref);
  default:
    return o;
  }
}

/* The first byte rules out most names before a compare. */
int store_edge_kind(const char *kind) {
  for (int i = 1; i < NKINDS; i++)
    if (kind[0] == kinds[i][0] && !strcmp(kind, kinds[i])) return i;
  return 0;
}

/* Edges are encoded by the million: the room is reserved once and the
** bytes written in place, not appended a field at a time. */
void store_edge_encode(wire_buf *b, const wire_edge *e, int code, store_edge_prev *prev) {
  int next = e->has_index && prev->has_index && prev->index != INT64_MAX &&
             e->index == prev->index + 1;
  prev->has_index = e->has_index;
  prev->index = e->index;
  size_t klen = code ? 0 : strlen(e->kind);
  size_t nlen = e->name ? e->name_len : 0;
  /* code, kind, flags, name, then index, key and value of 10 bytes each */
  size_t need = 1 + 10 + klen + 1 + 1 + 10 + nlen + 3 * 10;
  /* the common case, room already there, without a call */
  if ((b->cap - b->len < need || b->oom) && wire_buf_reserve(b, need) != 0) return;
  unsigned char *o = (unsigned char *)b->data + b->len;
  *o++ = (unsigned char)(code | (next ? K_NEXT : 0));
  if (!code) {
    o = varint_at(o, klen);
    memcpy(o, e->kind, klen + 1); /* with its NUL: decoded in place */
    o += klen + 1;
  }
  *o++ = (unsigned char)((e->name ? F_NAME : 0) | (e->has_index ? F_INDEX : 0) |
                         vtype(&e->key) << 2 | vtype(&e->value) << 5);
  if (e->name) {
    o = varint_at(o, nlen);
    memcpy(o, e->name, nlen);
    o += nlen;
  }
  if (e->has_index && !next) o = varint_at(o, store_zigzag(e->index));
  o = value_at(o, &e->key);
  o = value_at(o, &e->value);
  b->len = (size_t)((char *)o - b->data);
}

/* ---- decoding ---------------------------------------------------------- */

int store_get_varint(const unsigned char **p, const unsigned char *end,
                     uint64_t *v) {
  uint64_t r = 0;
  const unsigned char *q = *p;
  for (int shift = 0; shift < 64; shift += 7) {
    if (q >= end) return -1;
    unsigned char b = *q++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      *p = q;
      return 0;
    }
  }
  return -1;
}

static int get_varint(store_chunk *c, uint64_t *v) {
  return store_get_varint(&c->p, c->end, v);
}

static int get_value(store_chunk *c, unsigned t, wire_value *v) {
  uint64_t u;
  memset(v, 0, sizeof *v);
  switch (t) {
  case T_NONE: v->type = WIRE_V_NONE; return 0;
  case T_NIL: v->type = WIRE_V_NIL; return 0;
  case T_FALSE: case T_TRUE:
    v->type = WIRE_V_BOOL;
    v->u.b = t == T_TRUE;
    return 0;
  case T_INT:
    if (get_varint(c, &u)) return -1;
    v->type = WIRE_V_INT;
    v->u.i = store_unzigzag(u);
    return 0;
  case T_FLOAT:
    if (c->end - c->p < 8) return -1;
    u = 0;
    for (int i = 0; i < 8; i++) u |= (uint64_t)c->p[i] << (8 * i);
    c->p += 8;
    v->type = WIRE_V_FLOAT;
    memcpy(&v->u.f, &u, 8);
    return 0;
  case T_REF:
    if (get_varint(c, &u)) return -1;
    v->type = WIRE_V_REF;
    v->u.ref = u;
    return 0;
  }
  return -1;
}

void store_chunk_init(store_chunk *c, const void *p, size_t n, uint64_t count) {
  c->p = p;
  c->end = c->p + n;
  c->left = count;
  c->has_last = 0;
  c->last = 0;
}

int store_chunk_next(store_chunk *c, wire_edge *e, const char **why) {
  assert(c->left > 0);
  memset(e, 0, sizeof *e);
  uint64_t n;
  if (c->p >= c->end) goto short_data;
  unsigned code = *c->p++, next = code & K_NEXT;
  code &= ~K_NEXT;
  if (code >= NKINDS) {
    *why = "unknown edge kind code";
    return -1;
  }
  if (code) {
    e->kind = kinds[code];
  } else {
    if (get_varint(c, &n) || n == 0 || (uint64_t)(c->end - c->p) < n + 1 ||
        c->p[n] != 0 || memchr(c->p, 0, n)) {
      *why = "edge kind is not a word";
      return -1;
    }
    e->kind = (const char *)c->p;
    c->p += n + 1;
  }
  if (c->p >= c->end) goto short_data;
  unsigned flags = *c->p++;
  if (flags & F_NAME) {
    if (get_varint(c, &n) || (uint64_t)(c->end - c->p) < n) goto short_data;
    e->name = n ? (const char *)c->p : "";
    e->name_len = (size_t)n;
    c->p += n;
  }
  if (next && (!(flags & F_INDEX) || !c->has_last || c->last == INT64_MAX)) {
    *why = "an edge's index follows one that has none";
    return -1;
  }
  if (next) {
    e->index = c->last + 1;
    e->has_index = 1;
  } else if (flags & F_INDEX) {
    if (get_varint(c, &n)) goto short_data;
    e->index = store_unzigzag(n);
    e->has_index = 1;
  }
  unsigned kt = flags >> 2 & 7, vt = flags >> 5 & 7;
  if (kt > T_REF || vt > T_REF || vt == T_NONE) {
    *why = "unknown value type";
    return -1;
  }
  if (get_value(c, kt, &e->key) || get_value(c, vt, &e->value)) goto short_data;
  c->has_last = e->has_index;
  c->last = e->index;
  c->left--;
  return 0;
short_data:
  *why = "packed edges end too early";
  return -1;
}
