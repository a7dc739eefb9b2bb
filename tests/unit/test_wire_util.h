/*
** test_wire_util.h
** Helpers shared by the protocol room's cmocka tests: run a byte stream
** through a parser in chosen chunks and record what came out, so tests
** compare whole outcomes (messages, offsets, errors) in one assertion.
*/
#ifndef TEST_WIRE_UTIL_H
#define TEST_WIRE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wire.h"

/* What a stream produced: one line per message ("OFFSET LENGTH #SEQ
** RENDERING") and, at the end, the error if there was one. */
typedef struct outcome {
  wire_buf log;
  unsigned messages;
  int stop_after;          /* callback returns nonzero after this many (0: never) */
  enum wire_status status; /* of the feed or finish that failed, or WIRE_OK */
  wire_error err;
} outcome;

static inline int outcome_on_message(void *ud, const wire_msg *m) {
  outcome *o = ud;
  char head[96];
  snprintf(head, sizeof head, "%llu %llu #%llu%s ", (unsigned long long)m->offset,
           (unsigned long long)m->length, (unsigned long long)m->seq, m->wrapped ? "" : " bare");
  wire_buf_puts(&o->log, head);
  wire_msg_render(&o->log, m);
  wire_buf_put(&o->log, "\n", 1);
  o->messages++;
  return o->stop_after != 0 && o->messages == (unsigned)o->stop_after;
}

static inline void outcome_init(outcome *o) {
  memset(o, 0, sizeof *o);
  wire_buf_init(&o->log);
}

static inline void outcome_free(outcome *o) { wire_buf_free(&o->log); }

/* A NUL-terminated copy of the log, for assert_string_equal. */
static inline const char *outcome_text(outcome *o) {
  wire_buf_put(&o->log, "", 1);
  o->log.len--;
  return o->log.data != NULL ? o->log.data : "";
}

static inline void outcome_error(outcome *o, wire_parser *p, enum wire_status st) {
  char line[96];
  o->status = st;
  o->err = *wire_parser_error(p);
  snprintf(line, sizeof line, "error %s at %llu (message %llu at %llu)\n",
           wire_status_name(st), (unsigned long long)o->err.offset,
           (unsigned long long)o->err.msg_seq, (unsigned long long)o->err.msg_offset);
  wire_buf_puts(&o->log, line);
}

/* Parse s[0..n) fed in chunks whose sizes cycle through sizes[] (a single
** {0} means all at once), then finish. With resync, errors are logged and
** parsing goes on. */
static inline void run_stream(outcome *o, const wire_limits *lim, const void *s, size_t n,
                       const size_t *sizes, size_t nsizes, int resync) {
  wire_parser *p = wire_parser_new(lim, outcome_on_message, o);
  const unsigned char *d = s;
  size_t off = 0, k = 0;
  enum wire_status st = WIRE_OK;
  assert_non_null(p);
  while (off < n) {
    size_t take = sizes[k++ % nsizes];
    if (take == 0 || take > n - off) take = n - off;
    st = wire_parser_feed(p, d + off, take);
    off += take;
    while (st != WIRE_OK) {
      outcome_error(o, p, st);
      if (!resync) break;
      wire_parser_resync(p);
      st = wire_parser_feed(p, "", 0);
    }
    if (st != WIRE_OK) break;
  }
  if (st == WIRE_OK) {
    st = wire_parser_finish(p);
    if (st != WIRE_OK) outcome_error(o, p, st);
  }
  wire_parser_free(p);
}

/* The outcome of s parsed in one piece, as a malloc'd string. */
static inline char *parse_whole(const wire_limits *lim, const void *s, size_t n, int resync) {
  outcome o;
  size_t all = 0;
  char *r;
  outcome_init(&o);
  run_stream(&o, lim, s, n, &all, 1, resync);
  r = strdup(outcome_text(&o));
  outcome_free(&o);
  return r;
}


/* A string node with every field a node can carry set (value and payload
** from bytes[0..256)), for tests that check all of them travel. */
static inline void every_field_node(wire_node *nd, uint64_t id, const char *bytes) {
  memset(nd, 0, sizeof *nd);
  nd->id = id;
  nd->kind = "string";
  nd->value = bytes;
  nd->value_len = 256;
  nd->has_value = 1;
  nd->has_size = 1;
  nd->size = 281;
  nd->has_addr = 1;
  nd->addr = 0x55d0c1a2b3c0ull;
  nd->payload = bytes;
  nd->payload_len = 200;
  nd->has_payload = 1;
  nd->type = "";
  nd->type_len = 0;
  nd->mode = "kv";
  nd->status = "dead";
  nd->source = "@app.lua";
  nd->source_len = 8;
  nd->has_line = 1;
  nd->line = -3;
}

#endif
