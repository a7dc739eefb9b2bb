/*
** filter_map.c
** The filter's bookkeeping: its error, the map from filtered offsets back to
** stream offsets (one entry per repair, pruned as expat moves on), and the
** queue of message spans the tree builder takes when a message closes.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire_internal.h"

#define NONE UINT64_MAX

void wire_filter_fail(wire_filter *f, enum wire_status code, uint64_t off,
                      const char *text) {
  if (f->err != WIRE_OK) return;
  f->err = code;
  f->err_off = off;
  snprintf(f->err_text, sizeof f->err_text, "%s", text);
}

int wire_filter_repair(wire_filter *f, uint64_t fstart, uint64_t ostart, uint64_t flen,
                       uint64_t olen, int counted) {
  wire_repair *r;
  if (counted && f->in_msg && ++f->msg_repairs > f->max_repairs) {
    char text[160];
    snprintf(text, sizeof text,
             "more than %zu repairs (raw '<' in attribute values, control-character "
             "references, bytes that are not UTF-8) in one message", f->max_repairs);
    wire_filter_fail(f, WIRE_ETOOBIG, ostart, text);
    return -1;
  }
  /* consecutive deletions at one place are one deletion */
  if (flen == 0 && f->nmap > 0) {
    r = &f->map[f->nmap - 1];
    if (r->flen == 0 && r->fstart == fstart && r->ostart + r->olen == ostart) {
      r->olen += olen;
      return 0;
    }
  }
  if (f->nmap == f->capmap) {
    size_t cap = f->capmap ? f->capmap * 2 : 64;
    wire_repair *m = realloc(f->map, cap * sizeof *m);
    if (m == NULL) {
      wire_filter_fail(f, WIRE_ENOMEM, ostart, "out of memory for the filter's offset map");
      return -1;
    }
    f->map = m;
    f->capmap = cap;
  }
  r = &f->map[f->nmap++];
  r->fstart = fstart;
  r->ostart = ostart;
  r->flen = flen;
  r->olen = olen;
  return 0;
}

int wire_filter_skip(wire_filter *f, uint64_t n) {
  f->frame = 0;
  if (n == 0) return 0;
  if (wire_filter_repair(f, f->fpos, f->pos, 0, n, 0) != 0) return -1;
  f->pos += n;
  return 0;
}

uint64_t wire_filter_orig(const wire_filter *f, uint64_t fo) {
  size_t lo = 0, hi = f->nmap;
  const wire_repair *r;
  /* last repair starting at or before fo */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (f->map[mid].fstart <= fo) lo = mid + 1; else hi = mid;
  }
  if (lo == 0) return fo >= f->base_f ? f->base_o + (fo - f->base_f) : f->base_o;
  r = &f->map[lo - 1];
  if (fo < r->fstart + r->flen) return r->ostart;
  return r->ostart + r->olen + (fo - r->fstart - r->flen);
}

void wire_filter_prune(wire_filter *f) {
  uint64_t keep = f->tok_f;
  size_t j = 0;
  /* expat may still hold a partial character, a CR or "]]" it has not
  ** reported: keep a few bytes before the end as well */
  if (f->fpos < 4) keep = 0;
  else if (f->fpos - 4 < keep) keep = f->fpos - 4;
  while (j < f->nmap && f->map[j].fstart <= keep) j++;
  if (j < 2) return;
  j--; /* keep the repair that covers keep */
  f->base_f = f->map[j - 1].fstart + f->map[j - 1].flen;
  f->base_o = f->map[j - 1].ostart + f->map[j - 1].olen;
  memmove(f->map, f->map + j, (f->nmap - j) * sizeof *f->map);
  f->nmap -= j;
  /* a message with many repairs grew the map: give the memory back */
  if (f->capmap > 4096 && f->nmap < f->capmap / 8) {
    size_t cap = f->nmap * 2 > 64 ? f->nmap * 2 : 64;
    wire_repair *m = realloc(f->map, cap * sizeof *m);
    if (m != NULL) {
      f->map = m;
      f->capmap = cap;
    }
  }
}

int wire_filter_span_push(wire_filter *f, uint64_t start) {
  if (f->span_head > 0 && f->span_head == f->nspans) f->span_head = f->nspans = 0;
  if (f->nspans == f->capspans) {
    if (f->span_head > 0) {
      memmove(f->spans, f->spans + f->span_head,
              (f->nspans - f->span_head) * sizeof *f->spans);
      f->nspans -= f->span_head;
      f->span_head = 0;
    } else {
      size_t cap = f->capspans ? f->capspans * 2 : 16;
      wire_span *s = realloc(f->spans, cap * sizeof *s);
      if (s == NULL) {
        wire_filter_fail(f, WIRE_ENOMEM, start, "out of memory for the message queue");
        return -1;
      }
      f->spans = s;
      f->capspans = cap;
    }
  }
  f->spans[f->nspans].start = start;
  f->spans[f->nspans].end = NONE;
  f->nspans++;
  return 0;
}

wire_span *wire_filter_span(wire_filter *f) {
  return f->span_head < f->nspans ? &f->spans[f->span_head] : NULL;
}

void wire_filter_span_pop(wire_filter *f) {
  assert(f->span_head < f->nspans);
  f->span_head++;
  if (f->span_head == f->nspans) f->span_head = f->nspans = 0;
}
