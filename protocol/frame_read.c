/*
** frame_read.c
** Reading binary frames (docs/protocol.md 1.1): the parser hands over the
** bytes from a frame's mark on; the frame is gathered (or read in place
** when one feed holds all of it), checked token by token against the same
** limits as XML, built into the same message tree in the message arena,
** and delivered like any other message.
*/
#include <stdio.h>
#include <string.h>

#include "frame_token.h"

static char *copy(char **o, const char *s, size_t n) {
  char *d = *o;
  memcpy(d, s, n);
  d[n] = '\0';
  *o = d + n + 1;
  return d;
}

/* One arena block for the element, its attribute array and every string. */
wire_elem *wire_frame_elem(wire_parser *p, const char *name, size_t nlen, int literal,
                           const frame_attr *fa, size_t na) {
  size_t need = sizeof(wire_elem) + na * sizeof(wire_attr_t), i;
  wire_elem *el;
  char *o;
  if (literal) need += nlen + 1;
  for (i = 0; i < na; i++) need += fa[i].vlen + 1 + (fa[i].code < 0 ? fa[i].nlen + 1 : 0);
  el = wire_arena_alloc(&p->arena, need);
  if (el == NULL) return NULL;
  el->attrs = na ? (wire_attr_t *)(el + 1) : NULL;
  el->nattrs = na;
  o = (char *)(el + 1) + na * sizeof(wire_attr_t);
  el->name = literal ? copy(&o, name, nlen) : name;
  for (i = 0; i < na; i++) {
    el->attrs[i].name = fa[i].code < 0 ? copy(&o, fa[i].name, fa[i].nlen) : fa[i].name;
    el->attrs[i].value = copy(&o, fa[i].value, fa[i].vlen);
    el->attrs[i].len = fa[i].vlen;
  }
  el->text = "";
  el->text_len = 0;
  el->children = el->next = el->parent = NULL;
  return el;
}

int wire_frame_decode(wire_parser *p, const unsigned char *s, size_t n, size_t from,
                      wire_msg *m, frame_error *fe) {
  frame_attr fa[WIRE_FRAME_MAX_ATTRS];
  wire_elem *first = NULL, *lastitem = NULL;
  unsigned depth = 0, base;
  size_t i = from, nitems = 0;
  if (n == 0 || s[0] > 1) return frame_fail(fe, WIRE_ESYNTAX, 0, "frame form is neither 0 (bare) nor 1 (wrapped)");
  m->wrapped = s[0];
  base = m->wrapped ? 1u : 0u; /* <xsbug> counts as one level */
  while (i < n) {
    size_t at = i;
    unsigned t = s[i++];
    if (t == WIRE_T_OPEN) {
      const char *name;
      size_t nlen, na = 0;
      int ecode;
      wire_elem *el;
      if (!m->wrapped && depth == 0 && (nitems > 0 || from > 1))
        return frame_fail(fe, WIRE_ESYNTAX, at, "a bare frame holds one element");
      if (base + depth + 1 > p->lim.max_depth)
        return frame_fail(fe, WIRE_EDEPTH, at, "elements nested deeper than limits.max_depth");
      if (frame_read_name(s, n, &i, &name, &nlen, &ecode, fe) != 0) return -1;
      if (!m->wrapped && depth == 0 && nlen == 5 && memcmp(name, "xsbug", 5) == 0)
        return frame_fail(fe, WIRE_ESYNTAX, at, "a bare frame cannot hold <xsbug>: use the wrapped form");
      if (frame_read_attrs(&p->lim, s, n, &i, fa, &na, fe) != 0) return -1;
      if (depth == p->cap && wire_tree_grow(p) != 0)
        return frame_fail(fe, WIRE_ENOMEM, at, "out of memory for the element stack");
      el = wire_frame_elem(p, name, nlen, ecode < 0, fa, na);
      if (el == NULL) return frame_fail(fe, WIRE_ENOMEM, at, "out of memory building the message tree");
      if (p->arena.used > p->arena_budget)
        return frame_fail(fe, WIRE_ETOOBIG, at, "message tree needs more memory than 8 x "
                          "limits.max_message (too many tiny elements)");
      if (depth > 0) {
        el->parent = p->stack[depth - 1];
        if (p->last[depth - 1] != NULL) p->last[depth - 1]->next = el;
        else p->stack[depth - 1]->children = el;
        p->last[depth - 1] = el;
      } else {
        if (lastitem != NULL) lastitem->next = el;
        else first = el;
        lastitem = el;
        nitems++;
      }
      p->stack[depth] = el;
      p->last[depth] = NULL;
      wire_buf_reset(&p->text[depth]);
      depth++;
    } else if (t == WIRE_T_END) {
      wire_elem *el;
      wire_buf *tx;
      if (depth == 0) return frame_fail(fe, WIRE_ESYNTAX, at, "end of an element that is not open");
      el = p->stack[--depth];
      tx = &p->text[depth];
      if (tx->len > 0) {
        char *d = wire_arena_alloc(&p->arena, tx->len + 1);
        if (d == NULL) return frame_fail(fe, WIRE_ENOMEM, at, "out of memory for element text");
        memcpy(d, tx->data, tx->len);
        d[tx->len] = '\0';
        el->text = d;
        el->text_len = tx->len;
      }
    } else if (t == WIRE_T_TEXT) {
      size_t len;
      wire_buf *tx;
      if (depth == 0) return frame_fail(fe, WIRE_ESYNTAX, at, "text outside an element");
      if (frame_read_text(&p->lim, s, n, &i, &len, fe) != 0) return -1;
      tx = &p->text[depth - 1];
      wire_buf_put(tx, s + i, len);
      if (tx->oom) return frame_fail(fe, WIRE_ENOMEM, at, "out of memory for element text");
      i += len;
    } else if (t == WIRE_T_ATTR) {
      return frame_fail(fe, WIRE_ESYNTAX, at, "attribute after an element's content");
    } else {
      return frame_fail(fe, WIRE_ESYNTAX, at, "unknown token");
    }
  }
  if (depth > 0) return frame_fail(fe, WIRE_ESYNTAX, n, "frame ends inside an element");
  if (!m->wrapped && nitems == 0 && from <= 1)
    return frame_fail(fe, WIRE_ESYNTAX, n, "a bare frame holds one element");
  m->items = first;
  return 0;
}

/* Record an error of the frame that starts at p->frame_pos, message seq. */
static void record_error(wire_parser *p, enum wire_status code, uint64_t off, uint64_t seq,
                       const char *prefix, const char *why) {
  wire_error *e = &p->err;
  e->code = code;
  e->offset = off;
  e->msg_offset = p->frame_pos;
  e->msg_seq = seq;
  p->err_in_msg = 1;
  snprintf(e->text, sizeof e->text, "%s%s, at byte %llu (message %llu at byte %llu)", prefix,
           why, (unsigned long long)off, (unsigned long long)seq,
           (unsigned long long)e->msg_offset);
}

/* Give back a big body buffer, so one huge frame does not pin its memory. */
static void release_body(wire_parser *p) {
  if (p->frame.cap > 65536) wire_buf_free(&p->frame);
  else wire_buf_reset(&p->frame);
}

/* A body whose first item is <graph>, for a parser with a graph consumer. */
static int starts_graph(const unsigned char *s, size_t n) {
  return n >= 3 && s[0] <= 1 && s[1] == WIRE_T_OPEN && s[2] == (0x80 | WIRE_C_GRAPH);
}

/* The body is whole: decode it, deliver it. 0, or -1 with p->err set. */
static int finish(wire_parser *p, const unsigned char *body, uint64_t *from) {
  uint64_t start = p->frame_pos, end = start + WIRE_FRAME_HEAD + p->frame_len;
  size_t n = p->frame_len, next = 1;
  frame_error fe;
  wire_msg m;
  int bad = 0, stop = 0;
  memset(&m, 0, sizeof m);
  p->in_frame = 0;
  m.binary = 1;
  m.seq = p->seq;
  m.offset = start;
  m.length = end - start;
  m.wrapped = n > 0 && body[0] == 1;
  /* a graph batch goes to the graph consumer record by record; whatever
  ** items follow it in the frame are delivered as a message */
  if (p->graph != NULL && starts_graph(body, n))
    bad = wire_frame_graph(p, body, n, &m, &next, &stop, &fe) != 0;
  if (!bad && !stop && (next == 1 || next < n)) {
    bad = wire_frame_decode(p, body, n, next, &m, &fe) != 0;
    if (!bad && p->cb != NULL) stop = p->cb(p->ud, &m);
  }
  if (!bad) p->seq++;
  wire_tree_reset(p);
  release_body(p);
  *from = end; /* the length was sound: whatever happened, go on after the frame */
  if (bad) {
    record_error(p, fe.code, start + WIRE_FRAME_HEAD + fe.at, p->seq, "binary frame: ", fe.why);
    return -1;
  }
  if (stop) {
    record_error(p, WIRE_ESTOPPED, end, m.seq, "", "stopped by the message callback");
    return -1;
  }
  return 0;
}

size_t wire_frame_take(wire_parser *p, const unsigned char *d, size_t n, uint64_t pos,
                       uint64_t *from) {
  size_t used = 0;
  int rc = 0;
  if (!p->in_frame) {
    p->in_frame = 1;
    p->frame_pos = pos;
    p->nhead = 0;
    p->frame_len = 0;
    wire_buf_reset(&p->frame);
  }
  while (p->nhead < WIRE_FRAME_HEAD && used < n) p->head[p->nhead++] = d[used++];
  if (p->nhead == WIRE_FRAME_HEAD && p->frame_len == 0) {
    uint64_t len = (uint64_t)p->head[1] | (uint64_t)p->head[2] << 8 |
                   (uint64_t)p->head[3] << 16 | (uint64_t)p->head[4] << 24;
    if (len == 0 || len > p->lim.max_message - WIRE_FRAME_HEAD) {
      char why[96];
      if (len == 0) snprintf(why, sizeof why, "empty frame");
      else snprintf(why, sizeof why, "frame of %llu bytes is longer than limits.max_message",
                    (unsigned long long)len);
      p->in_frame = 0;
      record_error(p, len == 0 ? WIRE_ESYNTAX : WIRE_ETOOBIG, p->frame_pos + 1, p->seq,
                 "binary frame: ", why);
      *from = p->frame_pos + 1;
      rc = -1;
      goto out;
    }
    p->frame_len = (size_t)len;
    if (n - used >= p->frame_len) {
      /* the whole body is in this feed: decode it where it lies */
      const unsigned char *body = d + used;
      used += p->frame_len;
      rc = finish(p, body, from);
      goto out;
    }
  }
  if (p->nhead == WIRE_FRAME_HEAD) {
    size_t want = p->frame_len - p->frame.len, take = n - used < want ? n - used : want;
    wire_buf_put(&p->frame, d + used, take);
    used += take;
    if (p->frame.oom) {
      p->in_frame = 0;
      wire_buf_free(&p->frame);
      record_error(p, WIRE_ENOMEM, pos + used, p->seq, "", "out of memory for a binary frame");
      *from = pos + used;
      rc = -1;
    } else if (p->frame.len == p->frame_len) {
      rc = finish(p, (const unsigned char *)p->frame.data, from);
    }
  }
out:
  if (wire_filter_skip(&p->f, used) != 0 && rc == 0) {
    p->in_frame = 0;
    record_error(p, WIRE_ENOMEM, pos + used, p->seq, "", "out of memory for the filter's offset map");
    *from = pos + used;
  }
  return used;
}
