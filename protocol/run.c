/*
** run.c
** Edge runs (docs/protocol.md 5.4): <r k i v="V1 V2 …"/> carries the edges
** of consecutive integer keys in a few bytes each, written and read here;
** and the iteration over a node's edges that expands runs for readers.
*/
#include <assert.h>
#include <string.h>

#include "wire_internal.h"

/* ---- writing ------------------------------------------------------- */

void wire_run_open(wire_buf *b, const char *kind, int64_t first) {
  wire_open(b, "r");
  wire_attr_str(b, "k", kind);
  wire_attr_i64(b, "i", first);
  if (b->bin) {
    /* the values' length is known at wire_run_close: a 5-byte LEB128
    ** (padded with continuation bits) is kept for it */
    static const char pad[6] = {WIRE_T_ATTR, (char)(0x80 | WIRE_C_V), (char)0x80, (char)0x80,
                                (char)0x80, (char)0x80};
    wire_buf_put(b, pad, sizeof pad);
    wire_frame_byte(b, 0);
    b->mark = b->len;
    return;
  }
  wire_buf_put(b, " v=\"", 4);
}

/* Each value is followed by a space; wire_run_close turns the last one
** into the closing quote, so no state is kept between the calls. */
void wire_run_value(wire_buf *b, const wire_value *v) {
  size_t n;
  assert(v->type != WIRE_V_NONE);
  if (WIRE_RESERVE(b, WIRE_VALUE_MAX + 1)) return;
  n = wire_value_text(b->data + b->len, v);
  b->data[b->len + n] = ' ';
  b->len += n + 1;
}

void wire_run_close(wire_buf *b) {
  if (b->oom) return;
  if (b->bin) {
    unsigned char *o;
    size_t n;
    assert(b->len > b->mark && b->data[b->len - 1] == ' ' && "a run needs a value");
    n = --b->len - b->mark;
    o = (unsigned char *)b->data + b->mark - 5;
    o[0] = (unsigned char)(0x80 | (n & 0x7F));
    o[1] = (unsigned char)(0x80 | (n >> 7 & 0x7F));
    o[2] = (unsigned char)(0x80 | (n >> 14 & 0x7F));
    o[3] = (unsigned char)(0x80 | (n >> 21 & 0x7F));
    o[4] = (unsigned char)(n >> 28 & 0x0F);
    wire_frame_byte(b, WIRE_T_END);
    return;
  }
  assert(b->len > 0 && b->data[b->len - 1] == ' ' && "a run needs a value");
  if (WIRE_RESERVE(b, 2)) return;
  b->data[b->len - 1] = '"';
  b->data[b->len++] = '/';
  b->data[b->len++] = '>';
}

/* ---- reading ------------------------------------------------------- */

int wire_run_begin(const wire_elem *e, wire_run *it, const char **why) {
  const char *v = NULL;
  size_t i, vlen = 0;
  int has_first = 0;
  memset(it, 0, sizeof *it);
  if (strcmp(e->name, "r") != 0) { *why = "not a run element <r>"; return -1; }
  for (i = 0; i < e->nattrs; i++) {
    const wire_attr_t *a = &e->attrs[i];
    if (strcmp(a->name, "k") == 0) {
      if (a->len == 0 || memchr(a->value, 0, a->len) != NULL) {
        *why = "run kind k is empty or holds a NUL";
        return -1;
      }
      it->kind = a->value;
    } else if (strcmp(a->name, "i") == 0) {
      if (wire_num_parse_i64(a->value, a->len, &it->next) != 0) {
        *why = "run's first index i is not a decimal integer";
        return -1;
      }
      has_first = 1;
    } else if (strcmp(a->name, "v") == 0) {
      v = a->value;
      vlen = a->len;
    } else if (strcmp(a->name, "n") == 0 || strcmp(a->name, "key") == 0) {
      /* a reader that skipped it would silently lose part of the edges */
      *why = "a run carries no name n or key: write such edges as <e>";
      return -1;
    }
  }
  if (it->kind == NULL) { *why = "run without a kind k"; return -1; }
  if (!has_first) { *why = "run without its first index i"; return -1; }
  if (v == NULL || vlen == 0) { *why = "empty run: v holds no values"; return -1; }
  if (v[0] == ' ' || v[vlen - 1] == ' ') {
    *why = "run values are separated by single spaces, with none at either end";
    return -1;
  }
  /* Too many values, or indices past INT64_MAX, are found by wire_run_next
  ** as it reaches them: counting here would read every run twice. */
  it->klen = strlen(it->kind);
  it->p = v;
  it->end = v + vlen;
  it->ilen = 0; /* no edge returned yet */
  it->count = 0;
  it->hplen = 0;
  return 0;
}

/* The index text of the edge after the one in it->itext: a carry through
** the trailing nines, as counting on paper (indices below 0 are formatted). */
static void count_up(wire_run *it, int64_t index) {
  char *t = it->itext;
  size_t i = it->ilen;
  if (i == 0 || index <= 0) {
    it->ilen = wire_num_i64(t, index);
    return;
  }
  while (i > 0 && t[i - 1] == '9') t[--i] = '0';
  if (i > 0) {
    t[i - 1]++;
    return;
  }
  memmove(t + 1, t, it->ilen++);
  t[0] = '1';
}

/* The value most runs hold, a positive integer "i:DIGITS" of at most 18
** digits (which cannot overflow), read in the one pass that finds its end:
** the length of its text, or 0 for anything else, which wire_value_parse
** then reads (or refuses) as before. */
static size_t small_int(const char *p, const char *end, int64_t *v) {
  const char *q = p + 2, *stop;
  uint64_t u = 0;
  if (end - p < 3 || p[0] != 'i' || p[1] != ':' || p[2] == '0') return 0;
  stop = end - q > 18 ? q + 18 : end;
  for (; q < stop; q++) {
    unsigned d = (unsigned char)*q - '0';
    if (d > 9) break;
    u = u * 10 + d;
  }
  if (q == p + 2 || (q < end && *q != ' ')) return 0;
  *v = (int64_t)u;
  return (size_t)(q - p);
}

int wire_run_next(wire_run *it, wire_edge *edge) {
  const char *p = it->p;
  size_t n;
  if (p == it->end) return 0;
  if (it->count == WIRE_RUN_MAX) {
    it->why = "run of more than 4096 values (WIRE_RUN_MAX): split it";
    return -1;
  }
  if (it->count > 0 && it->next == INT64_MAX) {
    it->why = "run indices go past the largest 64-bit integer";
    return -1;
  }
  if (it->count > 0) it->next++;
  it->count++;
  if ((n = small_int(p, it->end, &edge->value.u.i)) != 0) {
    edge->value.type = WIRE_V_INT;
  } else {
    const char *sp = memchr(p, ' ', (size_t)(it->end - p));
    n = sp != NULL ? (size_t)(sp - p) : (size_t)(it->end - p);
    if (wire_value_parse(p, n, &edge->value) != 0) {
      it->why = n == 0 ? "run values are separated by single spaces (found two)"
                       : "a run value is not a valid value (nil, true, false, "
                         "i:INT, f:HEXFLOAT or @ID)";
      return -1;
    }
  }
  edge->kind = it->kind;
  edge->name = NULL;
  edge->name_len = 0;
  edge->index = it->next;
  edge->has_index = 1;
  edge->key.type = WIRE_V_NONE;
  it->vtext = p;
  it->vlen = n;
  count_up(it, it->next);
  it->p = p + n < it->end ? p + n + 1 : it->end;
  return 1;
}

/* ---- a node's edges, both forms --------------------------------------- */

void wire_edges_begin(const wire_elem *n, wire_edges *it) {
  memset(it, 0, sizeof *it);
  it->child = n->children;
}

int wire_edges_next(wire_edges *it, wire_edge *edge) {
  for (;;) {
    const wire_elem *c;
    if (it->in_run) {
      int r = wire_run_next(&it->run, edge);
      if (r > 0) {
        it->vtext = it->run.vtext;
        it->vlen = it->run.vlen;
        return 1;
      }
      it->in_run = 0;
      if (r < 0) { it->why = it->run.why; return -1; }
    }
    c = it->child;
    if (c == NULL) return 0;
    it->child = c->next;
    it->vtext = NULL;
    it->vlen = 0;
    if (c->name[0] == 'e' && c->name[1] == '\0') {
      return wire_edge_read_text(c, edge, &it->vtext, &it->vlen, &it->why) == 0 ? 1 : -1;
    } else if (c->name[0] == 'r' && c->name[1] == '\0') {
      if (wire_run_begin(c, &it->run, &it->why) != 0) return -1;
      it->in_run = 1;
    } else {
      it->why = "a node holds only edges: <e> or <r> elements";
      return -1;
    }
  }
}
