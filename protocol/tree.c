/*
** tree.c
** Message trees: expat's handlers build each top-level element as a tree
** of wire_elem in a per-message arena and hand it to the caller when it
** closes; and the accessors callers read trees with.
*/
#include <stdlib.h>
#include <string.h>

#include "wire_internal.h"

/* Text buffers larger than this are given back after each message, so one
** huge message does not pin its memory for the life of the connection. */
#define TEXT_KEEP 65536

static char *arena_strdup(wire_arena *a, const char *s, size_t n) {
  char *d = wire_arena_alloc(a, n + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* Bytes that end the plain copy in decode_str: the NUL, and 0xEF, the
** first byte of every U+F7xx character. */
static const unsigned char decode_stop[256] = {[0] = 1, [0xEF] = 1};

/* Copy expat's NUL-terminated UTF-8 s into the arena, turning U+F7xx back
** into bytes; the result is NUL-terminated but may hold NULs. An element's
** strings are written one after another at *dp, in the current block's free
** space, and committed together by the caller (wire_arena_commit(a, *dp -
** a->cur)): names and values are mostly a few bytes, so one pass straight
** into the arena beats strlen + memchr + memcpy and an allocation each.
** One that does not fit commits what is there and falls back to those.
** (Reading ahead of the NUL, a word at a time, could leave expat's buffer:
** every byte is read only once the one before it is not NUL.) */
static inline char *decode_str(wire_arena *a, char **dp, const char *s, size_t *len) {
  const unsigned char *u = (const unsigned char *)s;
  char *d = *dp, *start = d;
  size_t lim = d != NULL ? (size_t)(a->lim - d) : 0, i = 0, j = 0, n;
  if (lim > 0) lim--; /* room for the NUL */
  for (;;) {
    unsigned c;
    while (lim - j >= 4 && !decode_stop[u[i]] && !decode_stop[u[i + 1]] &&
           !decode_stop[u[i + 2]] && !decode_stop[u[i + 3]]) {
      memcpy(d + j, u + i, 4);
      i += 4;
      j += 4;
    }
    while (j < lim && !decode_stop[u[i]]) d[j++] = (char)u[i++];
    if (j >= lim) break;
    c = u[i];
    if (c == 0) {
      d[j] = '\0';
      *dp = d + j + 1;
      *len = j;
      return start;
    }
    if (u[i + 1] >= 0x9C && u[i + 1] <= 0x9F && (u[i + 2] & 0xC0) == 0x80) {
      d[j++] = (char)((u[i + 1] - 0x9C) << 6 | (u[i + 2] & 0x3F));
      i += 3;
    } else {
      d[j++] = (char)c;
      i++;
    }
  }
  if (d != NULL) wire_arena_commit(a, (size_t)(d - a->cur));
  n = strlen(s);
  d = wire_arena_alloc(a, n + 1);
  *dp = a->cur;
  if (d == NULL) return NULL;
  *len = wire_unescape_f7(d, s, n);
  d[*len] = '\0';
  return d;
}

void wire_tree_fail(wire_parser *p, enum wire_status code, const char *text) {
  if (p->herr == WIRE_OK) {
    p->herr = code;
    p->herr_text = text;
  }
  XML_StopParser(p->xp, XML_FALSE);
}

int wire_tree_grow(wire_parser *p) {
  unsigned cap = p->cap ? p->cap * 2 : 16, i;
  wire_elem **st = realloc(p->stack, cap * sizeof *st);
  wire_elem **la;
  wire_buf *tx;
  if (st == NULL) return -1;
  p->stack = st;
  la = realloc(p->last, cap * sizeof *la);
  if (la == NULL) return -1;
  p->last = la;
  tx = realloc(p->text, cap * sizeof *tx);
  if (tx == NULL) return -1;
  p->text = tx;
  for (i = p->cap; i < cap; i++) wire_buf_init(&p->text[i]);
  p->cap = cap;
  return 0;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts) {
  wire_parser *p = ud;
  wire_elem *el;
  char *o;
  size_t natts = 0, i, len;
  unsigned d = p->depth;
  if (!p->in_root) {
    p->in_root = 1; /* the synthetic document element */
    return;
  }
  if (d == p->cap && wire_tree_grow(p) != 0) {
    wire_tree_fail(p, WIRE_ENOMEM, "out of memory for the element stack");
    return;
  }
  while (atts[2 * natts] != NULL) natts++;
  /* the element and its attribute array in one allocation */
  _Static_assert(sizeof *el % _Alignof(wire_attr_t) == 0, "attributes follow the element");
  el = wire_arena_alloc(&p->arena, sizeof *el + natts * sizeof *el->attrs);
  if (el == NULL) goto nomem;
  el->attrs = natts ? (wire_attr_t *)(el + 1) : NULL;
  el->nattrs = natts;
  /* its name, then each attribute's name and value: one loop, so the
  ** decoder is inlined once */
  o = p->arena.cur;
  for (i = 0; i <= 2 * natts; i++) {
    char *str = decode_str(&p->arena, &o, i == 0 ? name : atts[i - 1], &len);
    if (str == NULL) goto nomem;
    if (i == 0) {
      el->name = str;
    } else if (i % 2 == 1) {
      el->attrs[i / 2].name = str;
    } else {
      el->attrs[i / 2 - 1].value = str;
      el->attrs[i / 2 - 1].len = len;
    }
  }
  if (o != NULL) wire_arena_commit(&p->arena, (size_t)(o - p->arena.cur));
  el->text = "";
  el->text_len = 0;
  el->children = el->next = NULL;
  el->parent = d > 0 ? p->stack[d - 1] : NULL;
  if (d > 0) {
    if (p->last[d - 1] != NULL) p->last[d - 1]->next = el;
    else p->stack[d - 1]->children = el;
    p->last[d - 1] = el;
  }
  p->stack[d] = el;
  p->last[d] = NULL;
  wire_buf_reset(&p->text[d]);
  p->depth = d + 1;
  if (p->arena.used > p->arena_budget)
    wire_tree_fail(p, WIRE_ETOOBIG,
                   "message tree needs more memory than 8 x limits.max_message "
                   "(too many tiny elements)");
  return;
nomem:
  wire_tree_fail(p, WIRE_ENOMEM, "out of memory building the message tree");
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len) {
  wire_parser *p = ud;
  wire_buf *t;
  if (p->depth == 0 || len <= 0) return; /* whitespace between messages */
  t = &p->text[p->depth - 1];
  if (WIRE_RESERVE(t, (size_t)len) != 0) {
    wire_tree_fail(p, WIRE_ENOMEM, "out of memory for element text");
    return;
  }
  t->len += wire_unescape_f7(t->data + t->len, s, (size_t)len);
}

static void deliver(wire_parser *p, wire_elem *top) {
  wire_span *span = wire_filter_span(&p->f);
  wire_msg m;
  wire_elem *it;
  int stop = 0;
  if (span == NULL || span->end == UINT64_MAX) {
    /* the filter frames every element expat accepts, so this is a bug in
    ** protocol/; refuse the input rather than crash (the fuzzer looks for
    ** this text) */
    wire_tree_fail(p, WIRE_ESYNTAX, "internal error: message framing lost");
    return;
  }
  m.wrapped = strcmp(top->name, "xsbug") == 0;
  m.binary = 0;
  m.items = m.wrapped ? top->children : top;
  for (it = m.items; m.wrapped && it != NULL; it = it->next) it->parent = NULL;
  m.seq = p->seq++;
  m.offset = span->start;
  m.length = span->end - span->start;
  wire_filter_span_pop(&p->f);
  if (p->cb != NULL) stop = p->cb(p->ud, &m);
  wire_tree_reset(p);
  if (stop) {
    p->stopped = 1;
    p->stop_start = m.offset;
    p->stop_end = m.offset + m.length;
    XML_StopParser(p->xp, XML_FALSE);
  }
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
  wire_parser *p = ud;
  wire_elem *el;
  wire_buf *t;
  unsigned d;
  (void)name;
  if (p->depth == 0) return; /* the synthetic root never closes */
  d = --p->depth;
  el = p->stack[d];
  t = &p->text[d];
  if (t->len > 0) {
    char *s = arena_strdup(&p->arena, t->data, t->len);
    if (s == NULL) {
      wire_tree_fail(p, WIRE_ENOMEM, "out of memory for element text");
      return;
    }
    el->text = s;
    el->text_len = t->len;
  }
  if (d == 0) deliver(p, el);
}

/* The second line of defence: the filter refuses "<!DOCTYPE" and
** "<!ENTITY" before expat sees them; if one got through anyway, stop. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int internal) {
  (void)name; (void)sysid; (void)pubid; (void)internal;
  wire_tree_fail(ud, WIRE_EDTD, "DOCTYPE refused: amber's protocol has no DTDs");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int pe, const XML_Char *value,
                              int len, const XML_Char *base, const XML_Char *sysid,
                              const XML_Char *pubid, const XML_Char *notation) {
  (void)name; (void)pe; (void)value; (void)len; (void)base; (void)sysid; (void)pubid;
  (void)notation;
  wire_tree_fail(ud, WIRE_EDTD, "entity declaration refused: amber's protocol has no DTDs");
}

static int XMLCALL on_external(XML_Parser xp, const XML_Char *context, const XML_Char *base,
                               const XML_Char *sysid, const XML_Char *pubid) {
  (void)xp; (void)context; (void)base; (void)sysid; (void)pubid;
  return XML_STATUS_ERROR; /* never fetch anything */
}

void wire_tree_install(wire_parser *p) {
  XML_SetUserData(p->xp, p);
  XML_SetElementHandler(p->xp, on_start, on_end);
  XML_SetCharacterDataHandler(p->xp, on_text);
  XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
  XML_SetEntityDeclHandler(p->xp, on_entity);
  XML_SetExternalEntityRefHandler(p->xp, on_external);
  XML_SetParamEntityParsing(p->xp, XML_PARAM_ENTITY_PARSING_NEVER);
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 6)
  /* deferral would hold back a complete message until more bytes arrive */
  XML_SetReparseDeferralEnabled(p->xp, XML_FALSE);
#endif
}

void wire_tree_reset(wire_parser *p) {
  unsigned i;
  wire_arena_reset(&p->arena);
  for (i = 0; i < p->cap; i++) {
    if (p->text[i].cap > TEXT_KEEP) wire_buf_free(&p->text[i]);
    else wire_buf_reset(&p->text[i]);
  }
  /* a big string or payload in a graph batch does not pin its memory */
  if (p->gview.cap > TEXT_KEEP) wire_buf_free(&p->gview);
  if (p->gpay.cap > TEXT_KEEP) wire_buf_free(&p->gpay);
  p->depth = 0;
}

void wire_tree_free(wire_parser *p) {
  unsigned i;
  wire_arena_free(&p->arena);
  for (i = 0; i < p->cap; i++) wire_buf_free(&p->text[i]);
  free(p->stack);
  free(p->last);
  free(p->text);
  p->stack = p->last = NULL;
  p->text = NULL;
  p->cap = 0;
}

/* ---- accessors ----------------------------------------------------- */

const char *wire_get(const wire_elem *e, const char *name, size_t *len) {
  size_t i;
  for (i = 0; i < e->nattrs; i++) {
    if (strcmp(e->attrs[i].name, name) == 0) {
      if (len != NULL) *len = e->attrs[i].len;
      return e->attrs[i].value;
    }
  }
  if (len != NULL) *len = 0;
  return NULL;
}

int wire_get_i64(const wire_elem *e, const char *name, int64_t *out) {
  size_t n;
  const char *v = wire_get(e, name, &n);
  return v != NULL ? wire_num_parse_i64(v, n, out) : -1;
}

int wire_get_u64(const wire_elem *e, const char *name, uint64_t *out) {
  size_t n;
  const char *v = wire_get(e, name, &n);
  return v != NULL ? wire_num_parse_u64(v, n, out) : -1;
}

const wire_elem *wire_child(const wire_elem *e, const char *name) {
  const wire_elem *c;
  for (c = e->children; c != NULL; c = c->next)
    if (strcmp(c->name, name) == 0) return c;
  return NULL;
}
