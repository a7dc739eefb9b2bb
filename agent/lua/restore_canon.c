/*
** restore_canon.c
** A canonical text form of a snapshot graph, the same for isomorphic
** graphs whatever their ids, addresses or table iteration order.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restore.h"

/* Nodes are numbered in breadth-first order from the root, each node's
** edges taken in order of their labels. Labels alone do not order edges
** whose keys are nodes (a table used as a key), so every node first gets a
** colour: a hash of its own fields refined a few times with the colours of
** its neighbours (Weisfeiler-Lehman). Edges whose keys tie on colour too
** are interchangeable as far as this comparison can tell. */

#define ROUNDS 4

static uint64_t mix(uint64_t h, uint64_t x)
{
  h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h *= 0xFF51AFD7ED558CCDull;
  return h ^ (h >> 32);
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
  const unsigned char *s = p;
  uint64_t f = 0xCBF29CE484222325ull;
  for (size_t i = 0; i < n; i++) f = (f ^ s[i]) * 0x100000001B3ull;
  return mix(mix(h, f), n);
}

static uint64_t hash_str(uint64_t h, const char *p, size_t n, int present)
{
  return present ? hash_bytes(h, p, n) : mix(h, 0xA5A5A5A5u);
}

static uint64_t own_colour(const alua_graph *g, uint64_t id)
{
  alua_ninfo in;
  alua_graph_node(g, id, &in);
  uint64_t h = mix(0, g->nodes[id].kind);
  h = hash_str(h, in.kind_text, in.kind_text ? strlen(in.kind_text) : 0,
               in.kind_text != NULL);
  h = hash_str(h, in.type, in.type_len, (in.has & ALUA_HAS_TYPE) != 0);
  h = hash_str(h, in.name, in.name_len, (in.has & ALUA_HAS_NAME) != 0);
  h = hash_str(h, in.value, in.value_len, (in.has & ALUA_HAS_VALUE) != 0);
  h = hash_str(h, in.payload, in.payload_len, (in.has & ALUA_HAS_PAYLOAD) != 0);
  h = hash_str(h, in.mode, in.mode ? strlen(in.mode) : 0, in.mode != NULL);
  h = hash_str(h, in.status, in.status ? strlen(in.status) : 0,
               in.status != NULL);
  h = hash_str(h, in.src, in.src_len, (in.has & ALUA_HAS_SRC) != 0);
  return mix(h, (in.has & ALUA_HAS_LINE) ? (uint64_t)in.line : 0x5151u);
}

static uint64_t scalar_colour(uint8_t type, const alua_scalar *s,
                              const uint64_t *col)
{
  uint64_t bits;
  if (type == WIRE_V_REF) return mix(7, col[s->ref]);
  if (type == WIRE_V_FLOAT) {
    double f = s->f;
    if (f != f) f = __builtin_nan("");   /* every NaN is the same NaN */
    memcpy(&bits, &f, 8);
  } else if (type == WIRE_V_INT) {
    bits = (uint64_t)s->i;
  } else if (type == WIRE_V_BOOL) {
    bits = (uint64_t)s->b;
  } else {
    bits = 0;
  }
  return mix(type, bits);
}

static uint64_t edge_colour(const alua_graph *g, const alua_gedge *e,
                            const uint64_t *col)
{
  size_t len;
  const char *name = alua_graph_ename(g, e, &len);
  uint64_t h = mix(11, e->kind);
  h = hash_str(h, name, len, name != NULL);
  h = mix(h, e->has_index ? (uint64_t)e->key.i * 2 + 1 : 0);
  h = mix(h, e->ktype ? scalar_colour(e->ktype, &e->key, col) : 0);
  return mix(h, scalar_colour(e->vtype, &e->val, col));
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* An edge of the node being written, with what orders it. */
typedef struct sorted_edge {
  const alua_gedge *e;
  const char *name;
  size_t name_len;
  uint64_t key, val;      /* colours of key and value */
  uint32_t pos;           /* original position: ties keep it */
} sorted_edge;

static int cmp_edge(const void *a, const void *b)
{
  const sorted_edge *x = a, *y = b;
  if (x->e->kind != y->e->kind) return x->e->kind < y->e->kind ? -1 : 1;
  size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
  int c = n ? memcmp(x->name, y->name, n) : 0;
  if (c) return c;
  if (x->name_len != y->name_len) return x->name_len < y->name_len ? -1 : 1;
  if (x->e->has_index != y->e->has_index) return x->e->has_index ? 1 : -1;
  if (x->e->has_index && x->e->key.i != y->e->key.i)
    return x->e->key.i < y->e->key.i ? -1 : 1;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  if (x->val != y->val) return x->val < y->val ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void put_bytes(wire_buf *o, const char *p, size_t n)
{
  char t[8];
  size_t shown = n > 120 ? 120 : n;
  wire_buf_puts(o, "\"");
  for (size_t i = 0; i < shown; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      wire_buf_put(o, &p[i], 1);
    } else {
      snprintf(t, sizeof t, "\\x%02x", c);
      wire_buf_puts(o, t);
    }
  }
  wire_buf_puts(o, "\"");
  if (shown < n) {
    char tail[64];
    snprintf(tail, sizeof tail, "...(%zu bytes, %016" PRIx64 ")", n,
             hash_bytes(0, p, n));
    wire_buf_puts(o, tail);
  }
}

static void put_field(wire_buf *o, const char *tag, const char *p, size_t n,
                      int present)
{
  if (!present) return;
  wire_buf_puts(o, " ");
  wire_buf_puts(o, tag);
  wire_buf_puts(o, "=");
  put_bytes(o, p, n);
}

static void put_value(wire_buf *o, uint8_t type, const alua_scalar *s,
                      const int64_t *num)
{
  char t[40];
  if (type == WIRE_V_REF) {
    snprintf(t, sizeof t, "#%" PRId64, num[s->ref]);
    wire_buf_puts(o, t);
    return;
  }
  wire_value v;
  v.type = (enum wire_vtype)type;
  memcpy(&v.u, s, sizeof v.u);
  if (type == WIRE_V_FLOAT && s->f != s->f) v.u.f = __builtin_nan("");
  wire_value_format(o, &v);
}

/* Number v if new and queue it. */
static void visit(uint8_t type, const alua_scalar *s, int64_t *num,
                  uint64_t *queue, uint64_t *nq)
{
  if (type != WIRE_V_REF || num[s->ref] >= 0) return;
  num[s->ref] = (int64_t)*nq;
  queue[(*nq)++] = s->ref;
}

static void write_node(const alua_graph *g, uint64_t id, const int64_t *num,
                       wire_buf *o)
{
  alua_ninfo in;
  char t[64];
  alua_graph_node(g, id, &in);
  uint8_t k = g->nodes[id].kind;
  snprintf(t, sizeof t, "#%" PRId64 " %s", num[id],
           k < ALUA_N_OTHER ? alua_nkind_name(k) : in.kind_text ? in.kind_text : "?");
  wire_buf_puts(o, t);
  put_field(o, "t", in.type, in.type_len, (in.has & ALUA_HAS_TYPE) != 0);
  put_field(o, "nm", in.name, in.name_len, (in.has & ALUA_HAS_NAME) != 0);
  put_field(o, "v", in.value, in.value_len, (in.has & ALUA_HAS_VALUE) != 0);
  if (in.has & ALUA_HAS_PAYLOAD) {
    snprintf(t, sizeof t, " p=%zu:%016" PRIx64, in.payload_len,
             hash_bytes(0, in.payload, in.payload_len));
    wire_buf_puts(o, t);
  }
  put_field(o, "m", in.mode, in.mode ? strlen(in.mode) : 0, in.mode != NULL);
  put_field(o, "st", in.status, in.status ? strlen(in.status) : 0,
            in.status != NULL);
  put_field(o, "src", in.src, in.src_len, (in.has & ALUA_HAS_SRC) != 0);
  if (in.has & ALUA_HAS_LINE) {
    snprintf(t, sizeof t, " l=%" PRId64, in.line);
    wire_buf_puts(o, t);
  }
  wire_buf_puts(o, "\n");
}

int alua_graph_canon(const alua_graph *g, wire_buf *out)
{
  uint64_t n = g->nnodes;
  int rc = -1;
  uint64_t *col = calloc(n ? n : 1, sizeof *col);
  uint64_t *next = calloc(n ? n : 1, sizeof *next);
  int64_t *num = malloc((n ? n : 1) * sizeof *num);
  uint64_t *queue = malloc((n ? n : 1) * sizeof *queue);
  uint64_t maxe = 1;
  for (uint64_t i = 0; i < n; i++)
    if (g->nodes[i].nedges > maxe) maxe = g->nodes[i].nedges;
  uint64_t *tmp = malloc(maxe * sizeof *tmp);
  sorted_edge *se = malloc(maxe * sizeof *se);
  if (!col || !next || !num || !queue || !tmp || !se) goto done;

  for (uint64_t i = 0; i < n; i++) col[i] = own_colour(g, i);
  for (int r = 0; r < ROUNDS; r++) {
    for (uint64_t i = 0; i < n; i++) {
      const alua_gnode *nd = &g->nodes[i];
      for (uint32_t j = 0; j < nd->nedges; j++)
        tmp[j] = edge_colour(g, &g->edges[nd->edge0 + j], col);
      qsort(tmp, nd->nedges, sizeof *tmp, cmp_u64);
      uint64_t h = col[i];
      for (uint32_t j = 0; j < nd->nedges; j++) h = mix(h, tmp[j]);
      next[i] = h;
    }
    memcpy(col, next, n * sizeof *col);
  }

  for (uint64_t i = 0; i < n; i++) num[i] = -1;
  uint64_t nq = 0;
  if (n) {
    num[0] = 0;
    queue[nq++] = 0;
  }
  for (uint64_t qi = 0; qi < nq; qi++) {
    uint64_t id = queue[qi];
    const alua_gnode *nd = &g->nodes[id];
    for (uint32_t j = 0; j < nd->nedges; j++) {
      const alua_gedge *e = &g->edges[nd->edge0 + j];
      se[j].e = e;
      se[j].name = alua_graph_ename(g, e, &se[j].name_len);
      se[j].key = e->ktype ? scalar_colour(e->ktype, &e->key, col) : 0;
      se[j].val = scalar_colour(e->vtype, &e->val, col);
      se[j].pos = j;
    }
    qsort(se, nd->nedges, sizeof *se, cmp_edge);
    for (uint32_t j = 0; j < nd->nedges; j++) {
      visit(se[j].e->ktype, &se[j].e->key, num, queue, &nq);
      visit(se[j].e->vtype, &se[j].e->val, num, queue, &nq);
    }
    write_node(g, id, num, out);
    for (uint32_t j = 0; j < nd->nedges; j++) {
      const alua_gedge *e = se[j].e;
      char t[48];
      wire_buf_puts(out, "  ");
      wire_buf_puts(out, alua_ekind_name(e->kind));
      if (se[j].name) {
        wire_buf_puts(out, " n=");
        put_bytes(out, se[j].name, se[j].name_len);
      }
      if (e->has_index) {
        snprintf(t, sizeof t, " i=%" PRId64, e->key.i);
        wire_buf_puts(out, t);
      }
      if (e->ktype) {
        wire_buf_puts(out, " key=");
        put_value(out, e->ktype, &e->key, num);
      }
      wire_buf_puts(out, " v=");
      put_value(out, e->vtype, &e->val, num);
      wire_buf_puts(out, "\n");
    }
  }
  if (nq < n) {
    char t[64];
    snprintf(t, sizeof t, "(%" PRIu64 " nodes not reachable from the root)\n",
             n - nq);
    wire_buf_puts(out, t);
  }
  rc = out->oom ? -1 : 0;
done:
  free(col);
  free(next);
  free(num);
  free(queue);
  free(tmp);
  free(se);
  return rc;
}
