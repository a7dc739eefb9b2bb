/*
** filter.c
** The pre-expat input filter: a byte state machine that follows tags,
** quotes, references and UTF-8 across chunk boundaries. It repairs what XS
** sends (a raw '<' in an attribute value, "&#N;" for control characters,
** bytes that are not UTF-8), refuses DTDs, enforces the limits at the exact
** offending byte and frames messages (bookkeeping: filter_map.c).
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#define HAVE_SSE2 1
#endif

#include "wire_internal.h"

enum {
  F_TEXT,     /* character data; between messages when depth is 0 */
  F_LT,       /* after '<', not yet written: what does it start? */
  F_STAG,     /* in a start tag, outside quotes */
  F_DQ,       /* in a "quoted" attribute value */
  F_SQ,       /* in a 'quoted' attribute value */
  F_ETAG,     /* in an end tag */
  F_REF,      /* reading "&#...;" (held back until complete) */
  F_BANG,     /* after "<!" */
  F_COMMENT,
  F_CDATA,
  F_PI,
  F_SKIP,     /* resync: dropping input up to the next "<xsbug" */
  F_UTF8      /* a UTF-8 sequence cut by the chunk end (held back) */
};

#define NONE UINT64_MAX

/* Bytes that interrupt a fast run in each state. Bytes from 0x80 stop text
** and attribute values: they must be checked as UTF-8. */
#define ONES16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
#define HIGH128 ONES16, ONES16, ONES16, ONES16, ONES16, ONES16, ONES16, ONES16
static const unsigned char stop_text[256] = {['<'] = 1, ['&'] = 1, [0x80] = HIGH128};
static const unsigned char stop_dq[256] = {['<'] = 1, ['&'] = 1, ['"'] = 1, [0x80] = HIGH128};
static const unsigned char stop_sq[256] = {['<'] = 1, ['&'] = 1, ['\''] = 1, [0x80] = HIGH128};
static const unsigned char stop_tag[256] = {['>'] = 1, ['"'] = 1, ['\''] = 1};

static int is_space(unsigned c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int is_name_start(unsigned c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         c >= 0x80;
}

/* The first byte in [r, end) that stop marks, or end. The table says the
** same as the characters a, b, c (and, if high, every byte from 0x80): with
** SSE2, sixteen bytes are looked at at once while sixteen remain. */
static inline const unsigned char *scan(const unsigned char *r, const unsigned char *end,
                                        const unsigned char *stop, char a, char b, char c,
                                        int high) {
#ifdef HAVE_SSE2
  const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b), vc = _mm_set1_epi8(c);
  while (end - r >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)r);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
                             _mm_cmpeq_epi8(v, vc));
    unsigned bits;
    if (high) m = _mm_or_si128(m, v); /* movemask takes each byte's top bit */
    bits = (unsigned)_mm_movemask_epi8(m);
    if (bits != 0) return r + __builtin_ctz(bits);
    r += 16;
  }
#else
  (void)a; (void)b; (void)c; (void)high;
#endif
  while (end - r >= 4 && !stop[r[0]] && !stop[r[1]] && !stop[r[2]] && !stop[r[3]]) r += 4;
  while (r < end && !stop[*r]) r++;
  return r;
}

#define SCAN_TEXT(r, end) scan((r), (end), stop_text, '<', '&', '<', 1)
#define SCAN_DQ(r, end) scan((r), (end), stop_dq, '<', '&', '"', 1)
#define SCAN_SQ(r, end) scan((r), (end), stop_sq, '<', '&', '\'', 1)
#define SCAN_TAG(r, end) scan((r), (end), stop_tag, '>', '"', '\'', 0)

void wire_filter_init(wire_filter *f, const wire_limits *lim) {
  memset(f, 0, sizeof *f);
  f->max_message = lim->max_message < 16 ? 16 : lim->max_message;
  f->max_attr = lim->max_attr < 1 ? 1 : lim->max_attr;
  f->max_depth = lim->max_depth < 1 ? 1 : lim->max_depth;
  f->max_repairs = f->max_message / 16 + 256;
  wire_filter_restart(f, 0, 0);
}

void wire_filter_free(wire_filter *f) {
  free(f->map);
  free(f->spans);
  f->map = NULL;
  f->spans = NULL;
}

void wire_filter_restart(wire_filter *f, uint64_t pos, int skip) {
  f->state = skip ? F_SKIP : F_TEXT;
  f->prolog = 1;
  f->depth = 0;
  f->k = 0;
  f->sub = 0;
  f->slash = 0;
  f->in_msg = 0;
  f->frame = 0;
  f->run_on = 0;
  f->nref = 0;
  f->pos = pos;
  f->fpos = 0;
  f->tok_f = 0;
  f->drop_from = skip ? pos : NONE;
  f->msg_repairs = 0;
  f->nmap = 0;
  f->base_f = 0;
  f->base_o = pos;
  f->span_head = f->nspans = 0;
  f->err = WIRE_OK;
  f->err_off = 0;
  f->err_text[0] = '\0';
}

int wire_filter_idle(const wire_filter *f) {
  return (f->state == F_TEXT && f->depth == 0) || f->state == F_SKIP;
}

int wire_filter_in_markup(const wire_filter *f) {
  int s = f->state;
  if (s == F_REF || s == F_UTF8) s = f->ref_ret;
  return s != F_TEXT && s != F_SKIP;
}

static void fail_attr(wire_filter *f) {
  char text[160];
  snprintf(text, sizeof text,
           "attribute value, text or comment longer than %zu bytes (limits.max_attr)",
           f->max_attr);
  wire_filter_fail(f, WIRE_EATTR, f->run_start + f->max_attr, text);
}

/* ---- the state machine ----------------------------------------------- */

/* Output cursor shared by the helpers below. Input that goes out unchanged
** (nearly all of it) is not copied byte run by byte run: it stays pending
** from seg on and is copied in one piece when something else must be
** written, or at the end. FPOS is exact only when nothing is pending. */
typedef struct out_t {
  char *o, *o0;
  const unsigned char *seg;
} out_t;

#define FPOS(f, w) ((f)->fpos + (uint64_t)((w)->o - (w)->o0))

/* Write the pending input up to p; input from p on is pending next. */
static void pass_to(out_t *w, const unsigned char *p) {
  size_t n = (size_t)(p - w->seg);
  memcpy(w->o, w->seg, n);
  w->o += n;
  w->seg = p;
}

static void put(out_t *w, const void *p, size_t n) {
  memcpy(w->o, p, n);
  w->o += n;
}

/* Finish dropping input (leading whitespace, or skipped bytes after a
** resync): the bytes from drop_from to upto become one deletion. */
static int flush_drop(wire_filter *f, out_t *w, uint64_t upto) {
  if (f->drop_from == NONE) return 0;
  if (upto > f->drop_from &&
      wire_filter_repair(f, FPOS(f, w), f->drop_from, 0, upto - f->drop_from, 0) != 0)
    return -1;
  f->drop_from = NONE;
  return 0;
}

/* Write the '<' held back in F_LT; before the first element, the synthetic
** root goes out first (expat needs one document element). */
static int emit_lt(wire_filter *f, out_t *w, int element) {
  if (flush_drop(f, w, f->lt_pos) != 0) return -1;
  if (f->prolog && element) {
    size_t n = sizeof WIRE_ROOT_OPEN - 1;
    if (wire_filter_repair(f, FPOS(f, w), f->lt_pos, n, 0, 0) != 0) return -1;
    put(w, WIRE_ROOT_OPEN, n);
    f->prolog = 0;
  }
  f->tok_f = FPOS(f, w);
  *w->o++ = '<';
  return 0;
}

static void end_tag_done(wire_filter *f, uint64_t gt_pos) {
  if (f->depth == 0) {
    /* the top-level element closed: that is one whole message */
    if (f->nspans > f->span_head) f->spans[f->nspans - 1].end = gt_pos + 1;
    f->in_msg = 0;
    f->run_on = 0;
  } else {
    f->run_on = 1;
    f->run_start = gt_pos + 1;
  }
  f->state = F_TEXT;
}

/* Decide a complete or abandoned "&#..." reference: a reference to a
** character XML forbids (a control byte) becomes &#xF7NN;, everything else
** goes on unchanged for expat to judge. */
static int flush_ref(wire_filter *f, out_t *w, int complete) {
  uint64_t fstart = FPOS(f, w);
  unsigned long v = 0;
  unsigned i, n = f->nref;
  int hex = n > 2 && f->ref[2] == 'x';
  if (f->ref_ret == F_TEXT) f->tok_f = fstart;
  if (complete && n >= (hex ? 5u : 4u)) {
    for (i = hex ? 3 : 2; i < n - 1 && v < 0x10000; i++) {
      unsigned c = (unsigned char)f->ref[i];
      unsigned d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
      v = v * (hex ? 16 : 10) + d;
    }
    if (v < 0x20 && v != 9 && v != 10 && v != 13) {
      static const char hx[] = "0123456789ABCDEF";
      char rep[8] = {'&', '#', 'x', 'F', '7', hx[v >> 4], hx[v & 15], ';'};
      if (wire_filter_repair(f, fstart, f->ref_pos, 8, n, 1) != 0) return -1;
      put(w, rep, 8);
      f->nref = 0;
      return 0;
    }
  }
  put(w, f->ref, n);
  f->nref = 0;
  return 0;
}

static int ref_char_ok(const wire_filter *f, unsigned c) {
  if (f->nref == 1) return c == '#';
  if (f->nref == 2) return c == 'x' || (c >= '0' && c <= '9');
  if (f->nref >= sizeof f->ref - 1) return 0;
  if (f->ref[2] == 'x')
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
  return c >= '0' && c <= '9';
}

/* Does the byte at pos exceed the current run (attribute value, text)? */
static int run_over(const wire_filter *f, uint64_t pos) {
  return f->run_on && pos - f->run_start >= f->max_attr;
}

/* Bytes from pos still allowed in the current run. */
static uint64_t run_room(const wire_filter *f, uint64_t pos) {
  if (!f->run_on) return NONE;
  return pos - f->run_start >= f->max_attr ? 0 : f->max_attr - (pos - f->run_start);
}

/* Write m held or input bytes as &#xF7NN; references (they decode back to
** the same bytes): what XS sends that is not UTF-8 of XML characters, and
** raw U+F7xx characters, which must not decode as amber's byte escapes. */
static int repair_bytes(wire_filter *f, out_t *w, const unsigned char *b, unsigned m,
                        uint64_t ostart) {
  static const char hx[] = "0123456789ABCDEF";
  unsigned j;
  if (wire_filter_repair(f, FPOS(f, w), ostart, 8 * (uint64_t)m, m, 1) != 0) return -1;
  for (j = 0; j < m; j++) {
    char rep[8] = {'&', '#', 'x', 'F', '7', hx[b[j] >> 4], hx[b[j] & 15], ';'};
    put(w, rep, 8);
  }
  return 0;
}

/* A byte from 0x80 at r, inside text or an attribute value whose run may
** extend to rstop (<= e, the end of what may be read now); pos is r's
** offset. Valid UTF-8 stays pending; anything else is repaired. Returns
** the bytes consumed, or 0 after an error or when the sequence is cut by
** the end of the input and held back (state F_UTF8). */
static size_t utf8_at(wire_filter *f, out_t *w, const unsigned char *r,
                      const unsigned char *rstop, const unsigned char *e, uint64_t pos) {
  int k = wire_utf8_check(r, (size_t)(e - r));
  unsigned m;
  if (k > 0) {
    if (r + k > rstop) { fail_attr(f); return 0; }
    return (size_t)k;
  }
  if (k == WIRE_UTF8_MORE) {
    if (rstop < e) { fail_attr(f); return 0; }
    pass_to(w, r);
    f->nref = (unsigned)(e - r);
    memcpy(f->ref, r, f->nref);
    f->ref_pos = pos;
    f->ref_ret = f->state;
    f->state = F_UTF8;
    w->seg = e;
    return 0;
  }
  m = k == WIRE_UTF8_F7 ? 3 : 1;
  if (r + m > rstop) { fail_attr(f); return 0; }
  pass_to(w, r);
  if (repair_bytes(f, w, r, m, pos) != 0) return 0;
  w->seg = r + m;
  return m;
}

/* Can fast_content take the stream from here? Inside a message, in text,
** a tag or an attribute value. */
#define FAST_STATE(f) \
  ((f)->state == F_STAG || (f)->state == F_DQ || (f)->state == F_ETAG || \
   (f)->state == F_SQ || ((f)->state == F_TEXT && (f)->depth > 0))

/* The common path through a message's body, which is nearly all of every
** stream: text, start tags with their attribute values, end tags, and the
** '<' between them, all passed on unchanged (they stay pending in w). It
** reads from s (stream offset pos) at most to e, and stops before anything
** else: a reference, a byte from 0x80, a raw '<' in a value, a '<' it
** cannot decide yet, the end of the message, a limit reached. The state
** machine in wire_filter_run handles that byte exactly as if this had not
** run, so this never reports an error: it returns where it stopped. */
static const unsigned char *fast_content(wire_filter *f, out_t *w, const unsigned char *s,
                                         const unsigned char *e, uint64_t pos) {
  const unsigned char *r = s, *q, *rstop;
  uint64_t room;
#define RPOS(x) (pos + (uint64_t)((x) - s))
  for (;;) {
    switch (f->state) {
    case F_TEXT:
      room = run_room(f, RPOS(r));
      rstop = room < (uint64_t)(e - r) ? r + room : e;
      r = SCAN_TEXT(r, rstop);
      if (r == rstop || *r != '<' || e - r < 2 || f->prolog || f->drop_from != NONE)
        return r;
      if (r[1] == '/') {
        f->run_on = 0;
        f->state = F_ETAG;
      } else if (is_name_start(r[1]) && f->depth < f->max_depth) {
        f->depth++;
        f->run_on = 0;
        f->slash = 0;
        f->state = F_STAG;
      } else {
        return r;
      }
      /* what emit_lt does, with the '<' left pending */
      f->lt_pos = RPOS(r);
      f->tok_f = FPOS(f, w) + (uint64_t)(r - w->seg);
      r += 2;
      break;

    case F_STAG:
      q = SCAN_TAG(r, e);
      if (q > r) f->slash = q[-1] == '/';
      r = q;
      if (r == e) return r;
      if (*r == '>') {
        r++;
        if (f->slash) {
          f->depth--;
          end_tag_done(f, RPOS(r - 1));
          if (f->depth == 0) return r;
        } else {
          f->state = F_TEXT;
          f->run_on = 1;
          f->run_start = RPOS(r);
        }
      } else {
        f->state = *r == '"' ? F_DQ : F_SQ;
        r++;
        f->run_on = 1;
        f->run_start = RPOS(r);
        f->slash = 0;
      }
      break;

    case F_DQ:
    case F_SQ:
      room = run_room(f, RPOS(r));
      rstop = room < (uint64_t)(e - r) ? r + room : e;
      if (f->state == F_DQ) {
        r = SCAN_DQ(r, rstop);
        if (r == rstop || *r != '"') return r;
      } else {
        r = SCAN_SQ(r, rstop);
        if (r == rstop || *r != '\'') return r;
      }
      r++;
      f->state = F_STAG;
      f->run_on = 0;
      break;

    case F_ETAG:
      q = memchr(r, '>', (size_t)(e - r));
      if (q == NULL) return e;
      r = q + 1;
      f->depth--;
      end_tag_done(f, RPOS(q));
      if (f->depth == 0) return r;
      break;

    default:
      return r;
    }
  }
#undef RPOS
}

size_t wire_filter_run(wire_filter *f, const unsigned char *in, size_t n,
                       char *out, size_t *olen) {
  out_t w;
  uint64_t pos0 = f->pos;
  size_t i = 0;
  w.o = w.o0 = out + *olen;
  w.seg = in;
#define POS(x) (pos0 + (uint64_t)(x))

  while (i < n && f->err == WIRE_OK && !f->frame) {
    size_t avail = n - i;
    const unsigned char *s = in + i, *e, *r;
    unsigned c;

    if (f->in_msg) {
      uint64_t lim = f->msg_start + f->max_message;
      if (POS(i) >= lim) {
        char text[160];
        snprintf(text, sizeof text, "message longer than %zu bytes (limits.max_message)",
                 f->max_message);
        wire_filter_fail(f, WIRE_ETOOBIG, lim, text);
        break;
      }
      if (lim - POS(i) < avail) avail = (size_t)(lim - POS(i));
    }
    e = s + avail;
    if (FAST_STATE(f)) {
      r = fast_content(f, &w, s, e, POS(i));
      if (r > s) {
        i += (size_t)(r - s);
        continue;
      }
    }
    c = *s;

    switch (f->state) {
    case F_TEXT:
      if (f->depth == 0) {
        /* between messages: whitespace only */
        for (r = s; r < e && is_space(*r); r++) {}
        if (r > s) {
          pass_to(&w, s);
          if (f->prolog && FPOS(f, &w) == 0) {
            /* nothing written yet: leading whitespace would put expat's
            ** XML declaration off the start, so it is dropped */
            if (f->drop_from == NONE) f->drop_from = POS(i);
            w.seg = r;
          }
          i += (size_t)(r - s);
          break;
        }
        if (c == '<') {
          pass_to(&w, s);
          w.seg = s + 1; /* held back until F_LT knows what it starts */
          f->lt_pos = POS(i);
          f->state = F_LT;
          i++;
          break;
        }
        if (c == WIRE_FRAME_MARK) {
          /* a binary frame: the parser reads it; expat never sees it. The
          ** synthetic root goes out first, so that an XML declaration
          ** after a frame is no longer at the start of the document. */
          pass_to(&w, s);
          if (flush_drop(f, &w, POS(i)) != 0) break;
          if (f->prolog) {
            size_t rn = sizeof WIRE_ROOT_OPEN - 1;
            if (wire_filter_repair(f, FPOS(f, &w), POS(i), rn, 0, 0) != 0) break;
            put(&w, WIRE_ROOT_OPEN, rn);
            f->prolog = 0;
          }
          f->frame = 1;
          break;
        }
        wire_filter_fail(f, WIRE_ESYNTAX, POS(i),
             "text outside a message: only whitespace may come between messages");
        break;
      } else {
        uint64_t room = run_room(f, POS(i));
        const unsigned char *rstop = room < avail ? s + room : e;
        r = s;
        while (rstop - r >= 4 && !stop_text[r[0]] && !stop_text[r[1]] &&
               !stop_text[r[2]] && !stop_text[r[3]])
          r += 4;
        while (r < rstop && !stop_text[*r]) r++;
        i += (size_t)(r - s);
        if (r == e) break;
        c = *r;
        if (r == rstop && c != '<') { fail_attr(f); break; }
        if (c >= 0x80) {
          i += utf8_at(f, &w, r, rstop, e, POS(i));
          if (f->state == F_UTF8) i = (size_t)(e - in);
          break;
        }
        pass_to(&w, r);
        w.seg = r + 1;
        if (c == '<') {
          f->lt_pos = POS(i);
          f->state = F_LT;
        } else {
          f->state = F_REF;
          f->ref_ret = F_TEXT;
          f->ref[0] = '&';
          f->nref = 1;
          f->ref_pos = POS(i);
        }
        i++;
      }
      break;

    case F_LT:
      /* nothing is pending here: the '<' was held back */
      if (c == '/') {
        if (f->depth == 0) {
          wire_filter_fail(f, WIRE_ESYNTAX, f->lt_pos, "end tag outside a message");
          break;
        }
        if (emit_lt(f, &w, 1) != 0) break;
        f->run_on = 0;
        f->state = F_ETAG;
        i++;
      } else if (c == '!' || c == '?') {
        if (run_over(f, f->lt_pos)) { fail_attr(f); break; }
        if (f->depth == 0 && !f->in_msg) {
          /* a comment or PI between messages is bounded like a value */
          f->run_on = 1;
          f->run_start = f->lt_pos;
        }
        if (emit_lt(f, &w, 0) != 0) break;
        f->state = c == '!' ? F_BANG : F_PI;
        f->k = 0;
        f->sub = 0;
        i++;
      } else if (is_name_start(c)) {
        if (f->depth + 1 > f->max_depth) {
          char text[160];
          snprintf(text, sizeof text, "elements nested deeper than %u (limits.max_depth)",
                   f->max_depth);
          wire_filter_fail(f, WIRE_EDEPTH, f->lt_pos, text);
          break;
        }
        if (f->depth == 0) {
          if (wire_filter_span_push(f, f->lt_pos) != 0) break;
          f->in_msg = 1;
          f->msg_start = f->lt_pos;
          f->msg_repairs = 0;
        }
        if (emit_lt(f, &w, 1) != 0) break;
        f->depth++;
        f->run_on = 0;
        f->slash = 0;
        f->state = F_STAG;
        i++;
      } else {
        /* not markup XML knows: pass it on and let expat say where */
        if (emit_lt(f, &w, 1) != 0) break;
        f->state = F_TEXT;
        if (f->depth == 0) wire_filter_fail(f, WIRE_ESYNTAX, f->lt_pos, "'<' that starts no element");
      }
      break;

    case F_STAG:
    case F_DQ:
    case F_SQ:
      /* a start tag with its attribute values, in one loop: the common case
      ** k="field" n="x" would otherwise cost two trips round the outer loop
      ** per attribute */
      for (;;) {
        if (f->state == F_STAG) {
          r = s;
          while (e - r >= 4 && !stop_tag[r[0]] && !stop_tag[r[1]] && !stop_tag[r[2]] &&
                 !stop_tag[r[3]])
            r += 4;
          while (r < e && !stop_tag[*r]) r++;
          if (r > s) f->slash = r[-1] == '/';
          i += (size_t)(r - s);
          if (r == e) break;
          c = *r;
          i++;
          s = r + 1;
          if (c == '>') {
            if (f->slash) {
              f->depth--;
              end_tag_done(f, POS(i - 1));
            } else {
              f->state = F_TEXT;
              f->run_on = 1;
              f->run_start = POS(i);
            }
            break;
          }
          f->state = c == '"' ? F_DQ : F_SQ;
          f->run_on = 1;
          f->run_start = POS(i);
          f->slash = 0;
        } else {
          const unsigned char *stop = f->state == F_DQ ? stop_dq : stop_sq;
          uint64_t room = run_room(f, POS(i));
          const unsigned char *rstop = (size_t)(e - s) > room ? s + room : e;
          r = s;
          while (rstop - r >= 4 && !stop[r[0]] && !stop[r[1]] && !stop[r[2]] && !stop[r[3]])
            r += 4;
          while (r < rstop && !stop[*r]) r++;
          i += (size_t)(r - s);
          if (r == e) break;
          c = *r;
          if (r == rstop && c != (f->state == F_DQ ? '"' : '\'')) { fail_attr(f); break; }
          if (c >= 0x80) {
            size_t used = utf8_at(f, &w, r, rstop, e, POS(i));
            if (f->state == F_UTF8) { i = (size_t)(e - in); break; }
            if (used == 0) break;
            i += used;
            s = r + used;
            continue;
          }
          if (c == '<') {
            /* XS writes value="4 bytes <= 16 bytes": repair, do not reject */
            pass_to(&w, r);
            if (wire_filter_repair(f, FPOS(f, &w), POS(i), 4, 1, 1) != 0) break;
            memcpy(w.o, "&lt;", 4);
            w.o += 4;
            w.seg = r + 1;
          } else if (c == '&') {
            pass_to(&w, r);
            w.seg = r + 1;
            f->ref_ret = f->state;
            f->state = F_REF;
            f->ref[0] = '&';
            f->nref = 1;
            f->ref_pos = POS(i);
            i++;
            break;
          } else {
            f->state = F_STAG;
            f->run_on = 0;
          }
          i++;
          s = r + 1;
        }
      }
      break;

    case F_ETAG:
      r = memchr(s, '>', (size_t)(e - s));
      if (r == NULL) r = e;
      i += (size_t)(r - s);
      if (r == e) break;
      f->depth--;
      end_tag_done(f, POS(i));
      i++;
      break;

    case F_REF:
      /* the reference is held in f->ref; nothing is pending */
      if (c == ';' && f->nref >= 3) {
        if (run_over(f, POS(i))) { fail_attr(f); break; }
        f->ref[f->nref++] = ';';
        i++;
        w.seg = in + i;
        if (flush_ref(f, &w, 1) != 0) break;
        f->state = f->ref_ret;
      } else if (ref_char_ok(f, c)) {
        if (run_over(f, POS(i))) { fail_attr(f); break; }
        f->ref[f->nref++] = (char)c;
        i++;
        w.seg = in + i;
      } else {
        /* not a character reference after all: the byte is read again */
        if (flush_ref(f, &w, 0) != 0) break;
        f->state = f->ref_ret;
      }
      break;

    case F_UTF8: {
      /* the held bytes are a valid start; nothing is pending */
      int k;
      if (run_over(f, POS(i))) { fail_attr(f); break; }
      f->ref[f->nref++] = (char)c;
      k = wire_utf8_check((const unsigned char *)f->ref, f->nref);
      if (k == WIRE_UTF8_MORE) {
        i++;
        w.seg = in + i;
        break;
      }
      if (k > 0) {
        put(&w, f->ref, f->nref);
        i++;
      } else if (k == WIRE_UTF8_F7) {
        if (repair_bytes(f, &w, (const unsigned char *)f->ref, 3, f->ref_pos) != 0) break;
        i++;
      } else {
        /* this byte ends the sequence too early: the held bytes are
        ** repaired one by one, and the byte is read again */
        f->nref--;
        if (repair_bytes(f, &w, (const unsigned char *)f->ref, f->nref, f->ref_pos) != 0) break;
      }
      w.seg = in + i;
      f->nref = 0;
      f->state = f->ref_ret;
      break;
    }

    case F_BANG:
      /* after "<!": a comment, a CDATA section, or a declaration (refused) */
      if (run_over(f, POS(i))) { fail_attr(f); break; }
      if (f->sub == 0 && c >= 'A' && c <= 'Z') {
        wire_filter_fail(f, WIRE_EDTD, f->lt_pos,
             "DOCTYPE or entity declaration refused: amber's protocol has no DTDs");
        break;
      }
      i++;
      if (f->sub == 0) {
        if (c == '-') f->sub = 1;
        else if (c == '[') { f->sub = 2; f->k = 1; }
        else f->state = F_TEXT; /* malformed: expat reports it */
      } else if (f->sub == 1) {
        f->k = 0;
        f->state = c == '-' ? F_COMMENT : F_TEXT;
      } else if (c != (unsigned char)"[CDATA["[f->k]) {
        f->state = F_TEXT;
      } else if (++f->k == 7) {
        f->k = 0;
        f->state = F_CDATA;
        if (f->depth == 0)
          wire_filter_fail(f, WIRE_ESYNTAX, f->lt_pos, "text outside a message (a CDATA section)");
      }
      break;

    case F_COMMENT:
    case F_CDATA:
    case F_PI:
      for (r = s; r < e; r++) {
        unsigned b = *r;
        if (run_over(f, POS(i + (size_t)(r - s)))) break;
        if (f->state == F_COMMENT ? b == '-' : f->state == F_CDATA ? b == ']' : b == '?') {
          f->k++;
        } else if (b == '>' && f->k >= (f->state == F_PI ? 1u : 2u)) {
          r++;
          f->state = F_TEXT;
          if (f->depth == 0) f->run_on = 0;
          break;
        } else {
          f->k = 0;
        }
      }
      i += (size_t)(r - s);
      if (f->state != F_TEXT && r < e) fail_attr(f);
      break;

    case F_SKIP:
      /* looking for "<xsbug" followed by '>', '/' or whitespace; the bytes
      ** looked at are dropped */
      for (r = s; r < e; r++) {
        unsigned b = *r;
        if (f->k == 6) {
          if (b == '>' || b == '/' || is_space(b)) break;
          f->k = 0;
        }
        if (b == (unsigned char)"<xsbug"[f->k]) f->k++;
        else f->k = b == '<';
      }
      i += (size_t)(r - s);
      w.seg = in + i;
      if (r < e) {
        /* found: replay "<xsbug" and its delimiter as ordinary input */
        unsigned char again[7];
        uint64_t lt = POS(i) - 6;
        size_t got;
        memcpy(again, "<xsbug", 6);
        again[6] = *r;
        if (flush_drop(f, &w, lt) != 0) break;
        f->state = F_TEXT;
        f->k = 0;
        f->fpos = FPOS(f, &w);
        f->pos = lt;
        got = (size_t)(w.o - out);
        wire_filter_run(f, again, 7, out, &got);
        w.o = w.o0 = out + got;
        i++;
        w.seg = in + i;
      }
      break;
    }
  }
  /* held-back and dropped bytes are never pending: seg is past them */
  assert(w.seg <= in + i);
  pass_to(&w, in + i);
  assert((size_t)(w.o - w.o0) <= WIRE_FILTER_OUT(n));
  f->fpos = FPOS(f, &w);
  f->pos = POS(i);
  *olen = (size_t)(w.o - out);
  return i;
#undef POS
}
