/*
** writer.c
** Writing xsbug messages: elements, attributes and text into a wire_buf.
** Names are trusted ASCII identifiers from our own code; every value goes
** through wire_escape, so any byte string round-trips (escape.c). Inside a
** binary frame (b->bin) each writer emits its token instead (frame_write.c).
*/
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "wire_internal.h"

/* Append a short constant; the length is known at compile time. */
#define PUT_LIT(b, s) wire_buf_put((b), (s), sizeof(s) - 1)

void wire_msg_begin(wire_buf *b) {
  assert(!b->bin && "a frame is open: use wire_frame_begin");
  PUT_LIT(b, "\r\n<xsbug>");
}

void wire_msg_end(wire_buf *b) { PUT_LIT(b, "</xsbug>\r\n"); }

void wire_open(wire_buf *b, const char *name) {
  size_t n = strlen(name);
  if (b->bin) {
    wire_frame_byte(b, WIRE_T_OPEN);
    wire_frame_name(b, name, n);
    return;
  }
  if (WIRE_RESERVE(b, n + 1)) return;
  b->data[b->len] = '<';
  memcpy(b->data + b->len + 1, name, n);
  b->len += n + 1;
}

/* ' name="' with the room for a short value reserved in the same step. */
static int attr_start(wire_buf *b, const char *name, size_t value_room) {
  size_t n = strlen(name);
  char *o;
  if (WIRE_RESERVE(b, n + 4 + value_room)) return -1;
  o = b->data + b->len;
  o[0] = ' ';
  memcpy(o + 1, name, n);
  o[n + 1] = '=';
  o[n + 2] = '"';
  b->len += n + 3;
  return 0;
}

static void attr_quote(wire_buf *b) {
  if (WIRE_RESERVE(b, 1)) return;
  b->data[b->len++] = '"';
}

void wire_attr(wire_buf *b, const char *name, const void *value, size_t len) {
  if (b->bin) {
    wire_frame_attr(b, name, strlen(name), value, len);
    return;
  }
  if (attr_start(b, name, len)) return;
  wire_escape(b, value, len, 1);
  attr_quote(b);
}

void wire_attr_str(wire_buf *b, const char *name, const char *value) {
  wire_attr(b, name, value, strlen(value));
}

void wire_attr_i64(wire_buf *b, const char *name, int64_t v) {
  if (b->bin) {
    char num[WIRE_NUM_MAX];
    wire_frame_attr(b, name, strlen(name), num, wire_num_i64(num, v));
    return;
  }
  if (attr_start(b, name, WIRE_NUM_MAX + 1)) return;
  b->len += wire_num_i64(b->data + b->len, v);
  b->data[b->len++] = '"';
}

void wire_attr_u64(wire_buf *b, const char *name, uint64_t v) {
  if (b->bin) {
    char num[WIRE_NUM_MAX];
    wire_frame_attr(b, name, strlen(name), num, wire_num_u64(num, v));
    return;
  }
  if (attr_start(b, name, WIRE_NUM_MAX + 1)) return;
  b->len += wire_num_u64(b->data + b->len, v);
  b->data[b->len++] = '"';
}

void wire_attr_base64(wire_buf *b, const char *name, const void *p, size_t n) {
  if (b->bin) {
    if (n > (SIZE_MAX - 4) / 4 * 3) { b->oom = 1; return; }
    wire_frame_byte(b, WIRE_T_ATTR);
    wire_frame_name(b, name, strlen(name));
    wire_frame_len(b, (n + 2) / 3 * 4);
    wire_base64_encode(b, p, n);
    return;
  }
  if (attr_start(b, name, (n + 2) / 3 * 4)) return;
  wire_base64_encode(b, p, n);
  attr_quote(b);
}

void wire_open_end(wire_buf *b) {
  if (!b->bin) PUT_LIT(b, ">");
}

void wire_empty_end(wire_buf *b) {
  if (b->bin) wire_frame_byte(b, WIRE_T_END);
  else PUT_LIT(b, "/>");
}

void wire_close(wire_buf *b, const char *name) {
  size_t n = strlen(name);
  char *o;
  if (b->bin) {
    wire_frame_byte(b, WIRE_T_END);
    return;
  }
  if (WIRE_RESERVE(b, n + 3)) return;
  o = b->data + b->len;
  o[0] = '<';
  o[1] = '/';
  memcpy(o + 2, name, n);
  o[n + 2] = '>';
  b->len += n + 3;
}

void wire_text(wire_buf *b, const void *p, size_t n) {
  if (b->bin) {
    if (n == 0) return;
    wire_frame_byte(b, WIRE_T_TEXT);
    wire_frame_len(b, n);
    wire_buf_put(b, p, n);
    return;
  }
  wire_escape(b, p, n, 0);
}

/* XS parses commands with a tiny hand-written reader that locks up on
** anything unexpected, so the shape is fixed: CR LF, one element, CR LF. */
void wire_command_open(wire_buf *b, const char *name) {
  PUT_LIT(b, "\r\n");
  wire_open(b, name);
}

void wire_command_close(wire_buf *b) { PUT_LIT(b, "/>\r\n"); }

void wire_command(wire_buf *b, const char *name, const char *attr,
                  const char *value) {
  wire_command_open(b, name);
  if (attr != NULL) wire_attr_str(b, attr, value != NULL ? value : "");
  wire_command_close(b);
}
