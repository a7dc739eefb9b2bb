/*
** amber_wire_main.c
** amber-wire: read a captured protocol byte stream and print its messages
** one per line (offset, length, a safe one-line rendering) or its errors
** with exact byte offsets. The first tool to reach for with a bad capture.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define CHUNK 65536

static const char usage[] =
  "usage: amber-wire [--resync] [--raw] [FILE|-]\n"
  "Print each message of a captured amber/xsbug byte stream on one line:\n"
  "  OFFSET LENGTH RENDERING\n"
  "where OFFSET and LENGTH are in bytes and RENDERING is the message as\n"
  "ASCII-only XML (control bytes and non-ASCII shown as references); a\n"
  "binary frame (docs/protocol.md 1.1) prints as the XML it stands for.\n"
  "Errors print as: OFFSET error: KIND: DETAILS\n"
  "  --resync  after an error, skip to the next <xsbug> and go on\n"
  "            (salvages a damaged capture); default: stop at the first error\n"
  "  --raw     show each message's bytes as received instead of re-rendering\n"
  "            it (bytes outside printable ASCII as \\xNN, backslash as \\\\)\n"
  "  --help    this text\n"
  "Reads standard input when FILE is - or absent. A summary goes to stderr.\n"
  "Exit status: 0 no errors, 1 errors found in the stream, 2 usage or I/O error.\n";

typedef struct tool {
  int raw;
  wire_buf line;
  /* --raw: the stream's bytes from window_pos on, trimmed as messages end */
  wire_buf window;
  unsigned long long window_pos;
  unsigned long long done_upto; /* end of the last message printed */
  size_t max_message;
  unsigned long long messages;
  unsigned long long frames;  /* of them, binary frames */
  int out_failed;
} tool;

static void put_raw(wire_buf *b, const unsigned char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned c = s[i];
    if (c == '\\') {
      wire_buf_put(b, "\\\\", 2);
    } else if (c >= 0x20 && c < 0x7f) {
      char ch = (char)c;
      wire_buf_put(b, &ch, 1);
    } else {
      char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
      wire_buf_put(b, esc, 4);
    }
  }
}

static int on_message(void *ud, const wire_msg *m) {
  tool *t = ud;
  wire_buf *b = &t->line;
  char head[64];
  wire_buf_reset(b);
  snprintf(head, sizeof head, "%llu %llu ", (unsigned long long)m->offset,
           (unsigned long long)m->length);
  wire_buf_puts(b, head);
  if (t->raw) {
    unsigned long long from = m->offset - t->window_pos;
    if (m->offset >= t->window_pos && from + m->length <= t->window.len)
      put_raw(b, (const unsigned char *)t->window.data + from, (size_t)m->length);
    else
      wire_buf_puts(b, "(bytes not available)");
  } else {
    wire_msg_render(b, m);
  }
  wire_buf_put(b, "\n", 1);
  if (b->oom) {
    fprintf(stderr, "amber-wire: out of memory rendering message %llu\n",
            (unsigned long long)m->seq);
    return 1;
  }
  if (fwrite(b->data, 1, b->len, stdout) != b->len) t->out_failed = 1;
  t->messages++;
  t->frames += m->binary != 0;
  t->done_upto = m->offset + m->length;
  return t->out_failed;
}

static void print_error(const wire_error *e) {
  printf("%llu error: %s: %s\n", (unsigned long long)e->offset, wire_status_name(e->code),
         e->text);
}

/* --raw keeps the stream's bytes from the end of the last message printed
** (no later message starts before it), and never more than one message can
** span: max_message plus a chunk. */
static void trim_window(tool *t, unsigned long long stream_end) {
  unsigned long long keep_from = t->done_upto, drop;
  unsigned long long span = (unsigned long long)t->max_message + CHUNK;
  if (stream_end > span && stream_end - span > keep_from) keep_from = stream_end - span;
  if (keep_from <= t->window_pos) return;
  drop = keep_from - t->window_pos;
  if (drop > t->window.len) drop = t->window.len;
  memmove(t->window.data, t->window.data + drop, t->window.len - (size_t)drop);
  t->window.len -= (size_t)drop;
  t->window_pos += drop;
}

int main(int argc, char **argv) {
  const char *path = NULL;
  int resync = 0, i, status = 0;
  FILE *in = stdin;
  tool t;
  wire_parser *p;
  unsigned long long errors = 0;
  static unsigned char chunk[CHUNK];
  enum wire_status st = WIRE_OK;

  memset(&t, 0, sizeof t);
  wire_buf_init(&t.line);
  wire_buf_init(&t.window);
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(argv[i], "--resync") == 0) {
      resync = 1;
    } else if (strcmp(argv[i], "--raw") == 0) {
      t.raw = 1;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      fprintf(stderr, "amber-wire: unknown option %s\n%s", argv[i], usage);
      return 2;
    } else if (path != NULL) {
      fprintf(stderr, "amber-wire: one input at most (got %s and %s)\n%s", path, argv[i], usage);
      return 2;
    } else {
      path = argv[i];
    }
  }
  if (path != NULL && strcmp(path, "-") != 0) {
    in = fopen(path, "rb");
    if (in == NULL) {
      fprintf(stderr, "amber-wire: cannot open %s: %s\n", path, strerror(errno));
      return 2;
    }
  }
  {
    wire_limits lim;
    wire_limits_default(&lim);
    t.max_message = lim.max_message;
    p = wire_parser_new(&lim, on_message, &t);
  }
  if (p == NULL) {
    fprintf(stderr, "amber-wire: out of memory\n");
    return 2;
  }
  for (;;) {
    size_t n = fread(chunk, 1, sizeof chunk, in);
    if (n == 0) break;
    if (t.raw) wire_buf_put(&t.window, chunk, n);
    st = wire_parser_feed(p, chunk, n);
    while (st != WIRE_OK && !t.out_failed) {
      print_error(wire_parser_error(p));
      errors++;
      if (!resync || st == WIRE_ENOMEM || st == WIRE_ESTOPPED) break;
      wire_parser_resync(p);
      st = wire_parser_feed(p, "", 0);
    }
    if (st != WIRE_OK || t.out_failed) break;
    if (t.raw) trim_window(&t, wire_parser_offset(p));
  }
  if (ferror(in)) {
    fprintf(stderr, "amber-wire: read error: %s\n", strerror(errno));
    status = 2;
  } else if (st == WIRE_OK && !t.out_failed) {
    st = wire_parser_finish(p);
    if (st != WIRE_OK) {
      print_error(wire_parser_error(p));
      errors++;
    }
  }
  if (fflush(stdout) != 0 || t.out_failed) {
    fprintf(stderr, "amber-wire: cannot write the output\n");
    status = 2;
  }
  {
    char frames[64] = "";
    if (t.frames > 0)
      snprintf(frames, sizeof frames, " (%llu as binary frame%s)", t.frames,
               t.frames == 1 ? "" : "s");
    fprintf(stderr, "amber-wire: %llu message%s%s, %llu error%s, %llu bytes\n", t.messages,
            t.messages == 1 ? "" : "s", frames, errors, errors == 1 ? "" : "s",
            (unsigned long long)wire_parser_offset(p));
  }
  if (status == 0 && errors > 0) status = 1;
  wire_parser_free(p);
  wire_buf_free(&t.line);
  wire_buf_free(&t.window);
  if (in != stdin) fclose(in);
  return status;
}
