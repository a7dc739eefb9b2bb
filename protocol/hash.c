/*
** hash.c
** amber-hash64, the content hash of a snapshot graph (docs/protocol.md
** section 7): length-prefixed fields folded as little-endian 64-bit words.
** It detects corruption; it is not a cryptographic hash.
*/
#include <assert.h>
#include <string.h>

#include "wire_internal.h"

#define HASH_SEED UINT64_C(0x9E3779B97F4A7C15)
#define HASH_MUL  UINT64_C(0xFF51AFD7ED558CCD)
#define HASH_FIN  UINT64_C(0xC4CEB9FE1A85EC53)
#define ABSENT    UINT64_MAX

static uint64_t mix(uint64_t h, uint64_t w) {
  h = (h ^ w) * HASH_MUL;
  return h ^ h >> 32;
}

void wire_hash_init(wire_hash *h) {
  h->h = HASH_SEED;
  h->pending = 0;
  h->npending = 0;
}

/* 8 bytes at s as a little-endian word. */
static uint64_t load8(const unsigned char *s) {
  uint64_t w;
  memcpy(&w, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap64(w);
#endif
  return w;
}

/* Feed one whole word's worth of bytes. Fields are short and seldom
** aligned to the word stream, so the word is split across the pending
** bytes with shifts rather than fed byte by byte. */
static void feed_word(wire_hash *h, uint64_t w) {
  unsigned np = h->npending;
  if (np == 0) {
    h->h = mix(h->h, w);
    return;
  }
  h->h = mix(h->h, h->pending | w << (8 * np));
  h->pending = w >> (64 - 8 * np);
}

/* The state stays in locals while a field's words go in: the stores to
** *h could otherwise alias the bytes being read. With slack, p has 8
** readable bytes past n (a stack buffer with room to spare): the last
** partial word is one load, masked, rather than a byte loop. */
static inline void feed_body(wire_hash *h, const void *p, size_t n, int slack) {
  const unsigned char *s = p;
  uint64_t x = h->h, pend = h->pending, w = 0;
  unsigned np = h->npending, k;
  if (np == 0) {
    for (; n >= 8; s += 8, n -= 8) x = mix(x, load8(s));
  } else {
    unsigned sh = 8 * np;
    for (; n >= 8; s += 8, n -= 8) {
      w = load8(s);
      x = mix(x, pend | w << sh);
      pend = w >> (64 - sh);
    }
  }
  if (n > 0) {
    /* the last 1-7 bytes as one partial word, merged with what is pending */
    if (slack) {
      w = load8(s) & ((UINT64_C(1) << (8 * n)) - 1);
    } else {
      w = 0;
      for (k = 0; k < n; k++) w |= (uint64_t)s[k] << (8 * k);
    }
    if (np + n < 8) {
      pend |= w << (8 * np);
      np += (unsigned)n;
    } else {
      /* np > 0 here, since n < 8: both shifts are below 64 */
      x = mix(x, pend | w << (8 * np));
      pend = w >> (64 - 8 * np);
      np = np + (unsigned)n - 8;
    }
  }
  h->h = x;
  h->pending = pend;
  h->npending = np;
}

static void feed(wire_hash *h, const void *p, size_t n) { feed_body(h, p, n, 0); }

/* p has SLACK readable bytes past n. */
#define SLACK 8
static void feed_slack(wire_hash *h, const void *p, size_t n) { feed_body(h, p, n, 1); }

static void feed_len(wire_hash *h, uint64_t len) { feed_word(h, len); }

/* One field: its length, then its bytes; NULL is "absent". */
static void field(wire_hash *h, const void *p, size_t n) {
  if (p == NULL) { feed_len(h, ABSENT); return; }
  feed_len(h, n);
  feed(h, p, n);
}

static void field_str(wire_hash *h, const char *s) {
  field(h, s, s != NULL ? strlen(s) : 0);
}

static void field_u64(wire_hash *h, uint64_t v) {
  char num[WIRE_NUM_MAX];
  field(h, num, wire_num_u64(num, v));
}

static void field_i64(wire_hash *h, int has, int64_t v) {
  char num[WIRE_NUM_MAX];
  if (!has) { field(h, NULL, 0); return; }
  field(h, num, wire_num_i64(num, v));
}

static void field_value(wire_hash *h, const wire_value *v) {
  char text[WIRE_VALUE_MAX];
  if (v->type == WIRE_V_NONE) { field(h, NULL, 0); return; }
  field(h, text, wire_value_text(text, v));
}

/* The fields of a node one at a time: for nodes too big for the fused path
** below. Both feed exactly the same bytes. */
static void node_by_fields(wire_hash *h, const wire_node *n) {
  field_u64(h, n->id);
  field_str(h, n->kind);
  field(h, n->type, n->type_len);
  field(h, n->name, n->name_len);
  field(h, n->has_value ? (n->value != NULL ? n->value : "") : NULL, n->value_len);
  field(h, n->has_payload ? (n->payload != NULL ? n->payload : "") : NULL, n->payload_len);
  field_str(h, n->mode);
  field_str(h, n->status);
  field(h, n->source, n->source_len);
  field_i64(h, n->has_line, n->line);
}

/* The fields of an edge one at a time: for edges too big for the fused
** path below. Both feed exactly the same bytes. */
static void edge_by_fields(wire_hash *h, const wire_edge *e, const char *vtext,
                           size_t vlen) {
  field(h, "e", 1);
  field_str(h, e->kind);
  field(h, e->name, e->name_len);
  field_i64(h, e->has_index, e->index);
  field_value(h, &e->key);
  if (vtext != NULL) field(h, vtext, vlen);
  else field_value(h, &e->value);
}

/* Store a field's length word at o. */
static void put_len(char *o, uint64_t len) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  len = __builtin_bswap64(len);
#endif
  memcpy(o, &len, 8);
}

/* Append a field (length word, then bytes) at o; NULL p is absent. */
static char *put_field(char *o, const void *p, size_t n) {
  if (p == NULL) {
    put_len(o, ABSENT);
    return o + 8;
  }
  put_len(o, n);
  if (n > 0) memcpy(o + 8, p, n);
  return o + 8 + n;
}

/* Append a value's field, formatted in place; WIRE_V_NONE is absent. */
static char *put_value(char *o, const wire_value *v) {
  size_t n;
  if (v->type == WIRE_V_NONE) return put_field(o, NULL, 0);
  n = wire_value_text(o + 8, v);
  put_len(o, n);
  return o + 8 + n;
}

/* Edges are hashed by the million, and feeding six short fields one by
** one costs more than the hashing itself: they are assembled in a stack
** buffer and fed at once (119 -> 52 ns an edge, measured by the walk). */
#define EDGE_BUF 384
#define EDGE_FIXED (6 * 8 + 1 + WIRE_NUM_MAX + 2 * WIRE_VALUE_MAX)

void wire_hash_edge_text(wire_hash *h, const wire_edge *e, const char *vtext,
                         size_t vlen) {
  char buf[EDGE_BUF + SLACK], *o = buf;
  size_t klen = e->kind != NULL ? strlen(e->kind) : 0;
  size_t nlen = e->name != NULL ? e->name_len : 0;
  if (klen > EDGE_BUF - EDGE_FIXED || nlen > EDGE_BUF - EDGE_FIXED - klen ||
      (vtext != NULL && vlen > WIRE_VALUE_MAX)) {
    edge_by_fields(h, e, vtext, vlen);
    return;
  }
  o = put_field(o, "e", 1);
  o = put_field(o, e->kind, klen);
  o = put_field(o, e->name, nlen);
  if (e->has_index) {
    size_t d = wire_num_i64(o + 8, e->index);
    put_len(o, d);
    o += 8 + d;
  } else {
    o = put_field(o, NULL, 0);
  }
  o = put_value(o, &e->key);
  o = vtext != NULL ? put_field(o, vtext, vlen) : put_value(o, &e->value);
  assert((size_t)(o - buf) <= EDGE_BUF);
  feed_slack(h, buf, (size_t)(o - buf));
}

/* Runs carry most edges of a big graph (every array). What their edges
** share, the fields before the index, is assembled once into the run; the
** index's text comes from the run, counted up as it is read. */
void wire_hash_run_edge(wire_hash *h, wire_run *r, const wire_edge *e) {
  char buf[EDGE_BUF + SLACK], *o;
  if (r->hplen == 0 && r->klen <= sizeof r->hprefix - 4 * 8 - 1) {
    o = put_field(r->hprefix, "e", 1);
    o = put_field(o, r->kind, r->klen);
    o = put_field(o, NULL, 0);
    r->hplen = (size_t)(o - r->hprefix);
  }
  if (r->hplen == 0 || r->vlen > WIRE_VALUE_MAX) {
    wire_hash_edge_text(h, e, r->vtext, r->vlen);
    return;
  }
  /* whole copies of fixed size, each overwritten past its length by the
  ** next field: no calls for a few bytes */
  memcpy(buf, r->hprefix, sizeof r->hprefix);
  o = buf + r->hplen;
  put_len(o, r->ilen);
  memcpy(o + 8, r->itext, sizeof r->itext);
  o += 8 + r->ilen;
  o = put_field(o, NULL, 0);
  put_len(o, r->vlen);
  if (r->end - r->vtext >= WIRE_VALUE_MAX) memcpy(o + 8, r->vtext, WIRE_VALUE_MAX);
  else memcpy(o + 8, r->vtext, r->vlen);
  o += 8 + r->vlen;
  assert((size_t)(o - buf) <= EDGE_BUF);
  feed_slack(h, buf, (size_t)(o - buf));
}

/* Nodes, like edges, are assembled in a stack buffer when they fit and fed
** at once. */
#define NODE_BUF 512
#define NODE_FIXED (10 * 8 + 2 * WIRE_NUM_MAX)

void wire_hash_node(wire_hash *h, const wire_node *n) {
  char buf[NODE_BUF + SLACK], *o = buf;
  const void *value = n->has_value ? (n->value != NULL ? n->value : "") : NULL;
  const void *payload = n->has_payload ? (n->payload != NULL ? n->payload : "") : NULL;
  size_t klen = n->kind != NULL ? strlen(n->kind) : 0;
  size_t mlen = n->mode != NULL ? strlen(n->mode) : 0;
  size_t slen = n->status != NULL ? strlen(n->status) : 0;
  size_t lens[8], room = NODE_BUF - NODE_FIXED, i;
  lens[0] = klen;
  lens[1] = n->type != NULL ? n->type_len : 0;
  lens[2] = n->name != NULL ? n->name_len : 0;
  lens[3] = value != NULL ? n->value_len : 0;
  lens[4] = payload != NULL ? n->payload_len : 0;
  lens[5] = mlen;
  lens[6] = slen;
  lens[7] = n->source != NULL ? n->source_len : 0;
  for (i = 0; i < 8; i++) {
    if (lens[i] > room) {
      node_by_fields(h, n);
      return;
    }
    room -= lens[i];
  }
  {
    size_t d = wire_num_u64(o + 8, n->id);
    put_len(o, d);
    o += 8 + d;
  }
  o = put_field(o, n->kind, klen);
  o = put_field(o, n->type, lens[1]);
  o = put_field(o, n->name, lens[2]);
  o = put_field(o, value, lens[3]);
  o = put_field(o, payload, lens[4]);
  o = put_field(o, n->mode, mlen);
  o = put_field(o, n->status, slen);
  o = put_field(o, n->source, lens[7]);
  if (n->has_line) {
    size_t d = wire_num_i64(o + 8, n->line);
    put_len(o, d);
    o += 8 + d;
  } else {
    o = put_field(o, NULL, 0);
  }
  assert((size_t)(o - buf) <= NODE_BUF);
  feed_slack(h, buf, (size_t)(o - buf));
}

void wire_hash_edge(wire_hash *h, const wire_edge *e) {
  wire_hash_edge_text(h, e, NULL, 0);
}

void wire_hash_hex(const wire_hash *h, char out[17]) {
  static const char hex[] = "0123456789abcdef";
  uint64_t x = h->h;
  int i;
  if (h->npending != 0) x = mix(x, h->pending); /* the zero-padded last word */
  x ^= x >> 33;
  x *= HASH_FIN;
  x ^= x >> 33;
  for (i = 15; i >= 0; i--) {
    out[i] = hex[x & 15];
    x >>= 4;
  }
  out[16] = '\0';
}
