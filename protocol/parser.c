/*
** parser.c
** The incremental parser: stream bytes go through the input filter into
** expat in pieces, whole messages come out of tree.c. Also errors with
** exact offsets, resynchronisation, and the memory accounting that proves
** a parser stays within its limits.
*/
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire_internal.h"

/* Input is filtered and parsed at most this many bytes at a time, which
** bounds the filter's output buffer and the message queue. */
#define PIECE 16384

/* ---- expat's memory, counted per parser ------------------------------ */

/* Every expat allocation carries its owner, so the parser that asked for it
** is charged, whichever call frees it. The owner is set around each call
** into expat; a thread has one such call at a time. */
static _Thread_local wire_parser *mem_owner;

typedef union mem_hdr {
  struct { wire_parser *owner; size_t size; } h;
  max_align_t align;
} mem_hdr;

static void *xm_malloc(size_t n) {
  mem_hdr *h;
  if (n > SIZE_MAX - sizeof *h) return NULL;
  h = malloc(sizeof *h + n);
  if (h == NULL) return NULL;
  h->h.owner = mem_owner;
  h->h.size = n;
  if (h->h.owner != NULL) h->h.owner->xmem += n;
  return h + 1;
}

static void *xm_realloc(void *ptr, size_t n) {
  mem_hdr *h, *nh;
  if (ptr == NULL) return xm_malloc(n);
  if (n > SIZE_MAX - sizeof *h) return NULL;
  h = (mem_hdr *)ptr - 1;
  nh = realloc(h, sizeof *nh + n);
  if (nh == NULL) return NULL;
  if (nh->h.owner != NULL) nh->h.owner->xmem = nh->h.owner->xmem - nh->h.size + n;
  nh->h.size = n;
  return nh + 1;
}

static void xm_free(void *ptr) {
  mem_hdr *h;
  if (ptr == NULL) return;
  h = (mem_hdr *)ptr - 1;
  if (h->h.owner != NULL) h->h.owner->xmem -= h->h.size;
  free(h);
}

static const XML_Memory_Handling_Suite mem_suite = {xm_malloc, xm_realloc, xm_free};

#define ENTER(p) wire_parser *saved_owner_ = mem_owner; mem_owner = (p)
#define LEAVE() mem_owner = saved_owner_

/* ---- limits and names ------------------------------------------------- */

void wire_limits_default(wire_limits *l) {
  l->max_message = (size_t)64 << 20;
  l->max_attr = (size_t)32 << 20;
  l->max_depth = 64;
}

const char *wire_status_name(enum wire_status s) {
  switch (s) {
  case WIRE_OK: return "ok";
  case WIRE_ESYNTAX: return "syntax error";
  case WIRE_ETOOBIG: return "message too big";
  case WIRE_EATTR: return "attribute or text too long";
  case WIRE_EDEPTH: return "nesting too deep";
  case WIRE_EDTD: return "DTD or entity refused";
  case WIRE_ETRUNC: return "stream truncated";
  case WIRE_ENOMEM: return "out of memory";
  case WIRE_ESTOPPED: return "stopped by the callback";
  }
  return "unknown status";
}

/* ---- life cycle ------------------------------------------------------- */

wire_parser *wire_parser_new(const wire_limits *lim, wire_on_message cb, void *ud) {
  wire_parser *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  if (lim != NULL) p->lim = *lim;
  else wire_limits_default(&p->lim);
  p->cb = cb;
  p->ud = ud;
  wire_filter_init(&p->f, &p->lim);
  p->lim.max_message = p->f.max_message;
  p->lim.max_attr = p->f.max_attr;
  p->lim.max_depth = p->f.max_depth;
  p->arena_budget = p->lim.max_message <= (SIZE_MAX - (1u << 20)) / 8
                        ? 8 * p->lim.max_message + (1u << 20) : SIZE_MAX;
  wire_arena_init(&p->arena);
  wire_buf_init(&p->saved);
  wire_buf_init(&p->pend);
  wire_buf_init(&p->pend_orig);
  wire_buf_init(&p->gview);
  wire_buf_init(&p->gpay);
  p->pend_limit = PIECE;
  {
    ENTER(p);
    p->xp = XML_ParserCreate_MM("UTF-8", &mem_suite, NULL);
    if (p->xp != NULL) wire_tree_install(p);
    LEAVE();
  }
  if (p->xp == NULL) {
    wire_filter_free(&p->f);
    free(p);
    return NULL;
  }
  return p;
}

void wire_parser_free(wire_parser *p) {
  if (p == NULL) return;
  {
    ENTER(p);
    XML_ParserFree(p->xp);
    LEAVE();
  }
  wire_tree_free(p);
  wire_filter_free(&p->f);
  wire_buf_free(&p->saved);
  wire_buf_free(&p->pend);
  wire_buf_free(&p->pend_orig);
  wire_buf_free(&p->frame);
  wire_buf_free(&p->gview);
  wire_buf_free(&p->gpay);
  free(p);
}

uint64_t wire_parser_offset(const wire_parser *p) { return p->fed; }

uint64_t wire_parser_rescanned(const wire_parser *p) { return p->rescanned; }

const wire_error *wire_parser_error(const wire_parser *p) { return &p->err; }

size_t wire_parser_memory(const wire_parser *p) {
  size_t n = sizeof *p + p->xmem + p->arena.held + p->saved.cap + p->pend.cap + p->pend_orig.cap +
             p->frame.cap;
  unsigned i;
  n += p->f.capmap * sizeof *p->f.map + p->f.capspans * sizeof *p->f.spans;
  n += p->cap * (2 * sizeof(wire_elem *) + sizeof(wire_buf));
  for (i = 0; i < p->cap; i++) n += p->text[i].cap;
  return n;
}

/* ---- errors ------------------------------------------------------------ */

static void set_error(wire_parser *p, enum wire_status code, uint64_t off,
                      const char *what) {
  wire_span *span = wire_filter_span(&p->f);
  wire_error *e = &p->err;
  e->code = code;
  e->offset = off;
  e->msg_seq = p->seq;
  p->err_in_msg = span != NULL && span->start <= off;
  if (p->err_in_msg) {
    e->msg_offset = span->start;
    snprintf(e->text, sizeof e->text, "%s, at byte %llu (message %llu at byte %llu)", what,
             (unsigned long long)off, (unsigned long long)e->msg_seq,
             (unsigned long long)e->msg_offset);
  } else {
    e->msg_offset = off;
    snprintf(e->text, sizeof e->text, "%s, at byte %llu (between messages)", what,
             (unsigned long long)off);
  }
}

static enum wire_status expat_status(enum XML_Error x) {
  switch (x) {
  case XML_ERROR_NO_MEMORY: return WIRE_ENOMEM;
  case XML_ERROR_ENTITY_DECLARED_IN_PE:
  case XML_ERROR_RECURSIVE_ENTITY_REF:
  case XML_ERROR_BINARY_ENTITY_REF:
  case XML_ERROR_ASYNC_ENTITY:
  case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
  case XML_ERROR_NOT_STANDALONE:
  case XML_ERROR_FEATURE_REQUIRES_XML_DTD:
  case XML_ERROR_CANT_CHANGE_FEATURE_ONCE_PARSING:
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 4)
  case XML_ERROR_AMPLIFICATION_LIMIT_BREACH:
#endif
    return WIRE_EDTD;
  default: return WIRE_ESYNTAX;
  }
}

/* Keep bytes of the stream that follow an error, to be rescanned after
** wire_parser_resync. skip: the rescan only wants what starts at the next
** "<xsbug", so bytes before a possible match need not be kept. Memory is
** bounded: past max_message (at least 1 MiB) the oldest bytes are dropped,
** and the rescan then skips to the next "<xsbug" whatever the error was. */
static void keep(wire_parser *p, const unsigned char *d, size_t n, uint64_t pos, int skip) {
  size_t cap = p->lim.max_message > ((size_t)1 << 20) ? p->lim.max_message : (size_t)1 << 20;
  if (n == 0) return;
  if (p->saved.len == 0) {
    if (skip) {
      static const char tag[] = "<xsbug";
      size_t i = 0;
      /* first place a match could begin, a partial one at the end included */
      while (i < n) {
        const unsigned char *lt = memchr(d + i, '<', n - i);
        size_t k = 0;
        if (lt == NULL) { i = n; break; }
        i = (size_t)(lt - d);
        while (k < 6 && i + k < n && d[i + k] == (unsigned char)tag[k]) k++;
        if (k == 6 || i + k == n) break;
        i++;
      }
      d += i;
      pos += i;
      n -= i;
      if (n == 0) return;
    }
    p->saved_pos = pos;
  }
  assert(p->saved_pos + p->saved.len == pos);
  if (p->saved.len + n > cap) {
    /* drop the oldest bytes, half the cap at a time (amortised) */
    size_t want = cap / 2, drop;
    if (n >= want) {
      drop = p->saved.len + (n - want);
      p->saved.len = 0;
      d += n - want;
      pos += n - want;
      n = want;
    } else {
      drop = p->saved.len + n - want;
      memmove(p->saved.data, p->saved.data + drop, p->saved.len - drop);
      p->saved.len -= drop;
    }
    p->saved_pos += drop;
    p->saved_lost = 1;
  }
  wire_buf_put(&p->saved, d, n);
  if (p->saved.oom) {
    wire_buf_free(&p->saved);
    p->saved_lost = 1;
  }
}

/* ---- feeding ----------------------------------------------------------- */

/* Hand the held-back bytes to expat; 0 if it failed. The held bytes are
** forgotten by the caller (after an error it still needs pend_orig). */
static int flush_pending(wire_parser *p) {
  return XML_Parse(p->xp, p->pend.data, (int)p->pend.len, 0) != XML_STATUS_ERROR;
}

/* Filter and parse d[0..n), whose first byte is at stream offset pos.
** Filtered bytes inside markup may be held back (see wire_parser.pend).
** On an error, record it and keep the bytes a resync will rescan. */
static enum wire_status process(wire_parser *p, const unsigned char *d, size_t n, int final) {
  static const unsigned char none[1];
  uint64_t pos = p->f.pos;
  size_t off = 0;
  enum wire_status st = WIRE_OK;
  if (d == NULL) d = none;
  ENTER(p);
  while (off < n || final) {
    size_t take = n - off < PIECE ? n - off : PIECE, olen = 0;
    uint64_t piece_pos = p->f.pos, batch_pos;
    uint64_t from;
    int skip = 1;
    size_t used;
    if (p->in_frame || p->f.frame) {
      /* a binary frame: its bytes go to frame_read.c, not to expat */
      off += wire_frame_take(p, d + off, n - off, pos + off, &from);
      if (p->err.code != WIRE_OK) {
        st = p->err.code;
        skip = st != WIRE_ESTOPPED;
        batch_pos = from;
        goto failed;
      }
      if (p->in_frame || (final && off >= n)) break;
      continue;
    }
    if (wire_buf_reserve(&p->pend, WIRE_FILTER_OUT(take)) != 0) {
      set_error(p, st = WIRE_ENOMEM, piece_pos, "out of memory for the filtered input");
      from = piece_pos;
      batch_pos = p->pend_orig.len > 0 ? p->pend_pos : piece_pos;
      goto failed;
    }
    if (p->pend.len == 0) p->pend_fstart = p->f.fpos;
    used = wire_filter_run(&p->f, d + off, take, p->pend.data + p->pend.len, &olen);
    p->pend.len += olen;
    if (p->f.frame) take = used; /* it stopped at a frame's mark */
    /* hold back only bytes of one unfinished tag, so no complete message
    ** ever waits in the hold */
    if (!final && p->f.err == WIRE_OK && wire_filter_in_markup(&p->f) &&
        p->f.tok_f <= p->pend_fstart && p->pend.len < p->pend_limit) {
      if (p->pend_orig.len == 0) p->pend_pos = piece_pos;
      wire_buf_put(&p->pend_orig, d + off, take);
      if (!p->pend_orig.oom) {
        off += take;
        continue;
      }
      wire_buf_reset(&p->pend_orig);   /* no room to hold: parse now */
      wire_buf_put(&p->pend_orig, d + off, take);
    }
    batch_pos = p->pend_orig.len > 0 ? p->pend_pos : piece_pos;
    if (!flush_pending(p)) {
      if (p->stopped) {
        set_error(p, st = WIRE_ESTOPPED, p->stop_end, "stopped by the message callback");
        /* the message it stopped after, not the next one */
        p->err.msg_seq = p->seq - 1;
        p->err.msg_offset = p->stop_start;
        from = p->stop_end;
        skip = 0;
      } else {
        XML_Index fi = XML_GetCurrentByteIndex(p->xp);
        uint64_t at = fi >= 0 ? wire_filter_orig(&p->f, (uint64_t)fi) : p->f.pos;
        if (p->herr != WIRE_OK) {
          set_error(p, st = p->herr, at, p->herr_text);
        } else {
          enum XML_Error x = XML_GetErrorCode(p->xp);
          set_error(p, st = expat_status(x), at, XML_ErrorString(x));
        }
        from = at + 1;
      }
    } else if (p->f.err != WIRE_OK) {
      set_error(p, st = p->f.err, p->f.err_off, p->f.err_text);
      from = p->f.err_off + 1;
    } else {
      p->pend.len = 0;
      p->pend_orig.len = 0;
      /* Still in the same token as at the last flush: hold twice as much
      ** next time, so its rescans add up to linear time. */
      if (!wire_filter_in_markup(&p->f)) {
        p->pend_limit = PIECE;
      } else {
        p->rescanned += p->f.fpos - p->f.tok_f;
        if (p->f.tok_f == p->pend_tok) {
          if (p->pend_limit <= SIZE_MAX / 2) p->pend_limit *= 2;
        } else {
          p->pend_tok = p->f.tok_f;
          p->pend_limit = PIECE;
        }
      }
      wire_filter_prune(&p->f);
      off += take;
      if (final && off >= n) break;
      continue;
    }
  failed:
    /* rescan from the byte after the error, but never before this batch:
    ** older bytes belonged to the token that failed */
    if (from < batch_pos) from = batch_pos;
    if (from > pos + n) from = pos + n;
    if (from < pos) {
      /* held-back bytes from earlier calls come first */
      size_t held = (size_t)(from - p->pend_pos);
      if (held < p->pend_orig.len)
        keep(p, (const unsigned char *)p->pend_orig.data + held, p->pend_orig.len - held, from, skip);
      from = pos;
    }
    p->pend.len = 0;
    p->pend_orig.len = 0;
    keep(p, d + (from - pos), (size_t)(pos + n - from), from, skip);
    break;
  }
  LEAVE();
  return st;
}

/* Process what was kept for rescanning, then new data. */
static enum wire_status drain_saved(wire_parser *p) {
  wire_buf s = p->saved;
  enum wire_status st;
  if (s.len == 0) return WIRE_OK;
  wire_buf_init(&p->saved);
  st = process(p, (const unsigned char *)s.data, s.len, 0);
  wire_buf_free(&s);
  return st;
}

enum wire_status wire_parser_feed(wire_parser *p, const void *data, size_t n) {
  uint64_t pos = p->fed;
  p->fed += n;
  if (p->err.code == WIRE_OK) {
    if (drain_saved(p) == WIRE_OK) return process(p, data, n, 0);
  }
  /* an error is pending: these bytes wait for the resync */
  keep(p, data, n, pos, p->err.code != WIRE_ESTOPPED);
  return p->err.code;
}

enum wire_status wire_parser_finish(wire_parser *p) {
  wire_span *span;
  if (p->err.code != WIRE_OK) return p->err.code;
  if (drain_saved(p) != WIRE_OK) return p->err.code;
  if (p->pend.len > 0 && process(p, NULL, 0, 1) != WIRE_OK) return p->err.code;
  if (p->in_frame) {
    set_error(p, WIRE_ETRUNC, p->fed, "stream ended inside a binary frame");
    p->err.msg_offset = p->frame_pos;
    return WIRE_ETRUNC;
  }
  if (wire_filter_idle(&p->f)) return WIRE_OK;
  span = wire_filter_span(&p->f);
  set_error(p, WIRE_ETRUNC, p->fed,
            span != NULL ? "stream ended inside a message"
                         : "stream ended inside markup between messages");
  if (span == NULL) p->err.msg_offset = p->f.lt_pos;
  return WIRE_ETRUNC;
}

void wire_parser_resync(wire_parser *p) {
  int skip;
  if (p->err.code == WIRE_OK) return;
  skip = p->err.code != WIRE_ESTOPPED || p->saved_lost;
  /* the failed message keeps its number: the next one is numbered after it */
  if (p->err_in_msg && p->err.code != WIRE_ESTOPPED) p->seq++;
  p->err_in_msg = 0;
  {
    ENTER(p);
    XML_ParserReset(p->xp, "UTF-8");
    wire_tree_install(p);
    LEAVE();
  }
  wire_tree_reset(p);
  p->in_root = 0;
  p->stopped = 0;
  p->herr = WIRE_OK;
  p->herr_text = NULL;
  p->saved_lost = 0;
  p->pend.len = 0;
  p->pend_orig.len = 0;
  p->pend_limit = PIECE;
  p->in_frame = 0;
  wire_buf_reset(&p->frame);
  wire_filter_restart(&p->f, p->saved.len > 0 ? p->saved_pos : p->fed, skip);
  memset(&p->err, 0, sizeof p->err);
}
