/*
** test_wire_frames.c
** Binary frames (docs/protocol.md 1.1): whatever the writers write inside a
** frame parses to the same message as the XML they write outside one; frames
** and XML mix in one stream under any split; every malformed frame is an
** error at the right byte, within the parser's limits, and resync and
** callback stops behave as they do for XML.
*/
#include "test_wire_util.h"

/* Every byte value, for values and text. */
static void all_bytes(char out[256]) {
  int i;
  for (i = 0; i < 256; i++) out[i] = (char)i;
}

/* One message exercising every writer: attributes of all kinds, text,
** nesting, names in and out of the dictionary, graph records and a run. */
static void write_sample(wire_buf *b, int binary) {
  char bytes[256];
  wire_node nd;
  wire_edge ed;
  wire_value v;
  all_bytes(bytes);
  if (binary) wire_frame_begin(b, 1);
  else wire_msg_begin(b);
  wire_open(b, "log");
  wire_attr(b, "path", bytes, sizeof bytes);
  wire_attr_i64(b, "line", -42);
  wire_open_end(b);
  wire_text(b, "first ", 6);
  wire_text(b, bytes, sizeof bytes);
  wire_close(b, "log");
  wire_open(b, "graph");
  wire_attr_u64(b, "id", 7);
  wire_attr_u64(b, "seq", UINT64_MAX);
  wire_open_end(b);
  every_field_node(&nd, 1, bytes);
  wire_node_open(b, &nd);
  memset(&ed, 0, sizeof ed);
  ed.kind = "key";
  ed.key.type = WIRE_V_FLOAT;
  ed.key.u.f = -0.0;
  ed.value.type = WIRE_V_REF;
  ed.value.u.ref = 3;
  wire_edge_write(b, &ed);
  ed.kind = "field";
  ed.key.type = WIRE_V_NONE;
  ed.name = "";
  ed.name_len = 0;
  ed.value.type = WIRE_V_INT;
  ed.value.u.i = INT64_MIN;
  wire_edge_write(b, &ed);
  wire_run_open(b, "index", 1);
  v.type = WIRE_V_INT;
  v.u.i = 10;
  wire_run_value(b, &v);
  v.type = WIRE_V_NIL;
  wire_run_value(b, &v);
  v.type = WIRE_V_REF;
  v.u.ref = 17;
  wire_run_value(b, &v);
  wire_run_close(b);
  wire_node_close(b);
  wire_node_continue(b, 1);
  wire_node_close(b);
  wire_close(b, "graph");
  wire_open(b, "snapshot-end");
  wire_attr_str(b, "hash", "3f2a9c0d11e4b7a8");
  wire_empty_end(b);
  if (binary) wire_frame_end(b);
  else wire_msg_end(b);
}

/* The renderings of the messages of s, offsets left out. */
static char *renderings(const void *s, size_t n) {
  char *all = parse_whole(NULL, s, n, 0), *out = malloc(strlen(all) + 1), *o = out;
  const char *line = all;
  assert_non_null(out);
  while (*line) {
    const char *sp = strchr(strchr(strchr(line, ' ') + 1, ' ') + 1, ' ');
    const char *nl = strchr(line, '\n');
    if (strncmp(line, "error", 5) == 0) sp = line - 1;
    memcpy(o, sp + 1, (size_t)(nl - sp));
    o += nl - sp;
    line = nl + 1;
  }
  *o = '\0';
  free(all);
  return out;
}

static void test_frame_parses_to_the_same_tree_as_xml(void **state) {
  wire_buf x, f;
  char *rx, *rf;
  (void)state;
  wire_buf_init(&x);
  wire_buf_init(&f);
  write_sample(&x, 0);
  write_sample(&f, 1);
  assert_false(x.oom || f.oom);
  assert_int_equal(f.data[0], 0);
  /* smaller than the XML, and nothing in it was escaped */
  assert_true(f.len < x.len);
  rx = renderings(x.data, x.len);
  rf = renderings(f.data, f.len);
  assert_string_equal(rf, rx);
  assert_non_null(strstr(rf, "<r k=\"index\" i=\"1\" v=\"i:10 nil @17\"/>"));
  free(rx);
  free(rf);
  wire_buf_free(&x);
  wire_buf_free(&f);
}

static int check_binary_flag(void *ud, const wire_msg *m) {
  int *n = ud;
  assert_int_equal(m->binary, *n % 2 == 1);
  (*n)++;
  return 0;
}

/* XML, frame, XML, bare frame, frame, split every way: the same outcome. */
static void test_frames_and_xml_mix_under_any_split(void **state) {
  wire_buf s;
  char *whole;
  size_t k;
  int n = 0;
  wire_parser *p;
  (void)state;
  wire_buf_init(&s);
  wire_buf_puts(&s, "\r\n<xsbug><login name=\"a\" features=\"binary\"/></xsbug>\r\n");
  write_sample(&s, 1);
  wire_buf_puts(&s, "  <go/>\r\n");
  wire_frame_begin(&s, 0);
  wire_open(&s, "restore");
  wire_attr_str(&s, "id", "9");
  wire_empty_end(&s);
  wire_frame_end(&s);
  wire_buf_puts(&s, "<xsbug></xsbug>");
  wire_frame_begin(&s, 1);
  wire_frame_end(&s);
  whole = parse_whole(NULL, s.data, s.len, 0);
  assert_null(strstr(whole, "error"));
  assert_non_null(strstr(whole, " #3 bare <restore id=\"9\"/>\n"));
  assert_non_null(strstr(whole, " #5 <xsbug></xsbug>\n"));
  for (k = 1; k <= s.len; k++) {
    size_t sizes[2] = {k, 0};
    outcome o;
    outcome_init(&o);
    run_stream(&o, NULL, s.data, s.len, sizes, 2, 0);
    if (strcmp(outcome_text(&o), whole) != 0)
      fail_msg("split at byte %zu differs:\n%s\nwanted\n%s", k, outcome_text(&o), whole);
    outcome_free(&o);
  }
  {
    size_t one = 1;
    outcome o;
    outcome_init(&o);
    run_stream(&o, NULL, s.data, s.len, &one, 1, 0);
    assert_string_equal(outcome_text(&o), whole);
    outcome_free(&o);
  }
  /* and the messages say how they came */
  p = wire_parser_new(NULL, check_binary_flag, &n);
  assert_int_equal(wire_parser_feed(p, s.data, s.len), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  assert_int_equal(n, 6);
  wire_parser_free(p);
  free(whole);
  wire_buf_free(&s);
}

/* A frame built by hand: mark, length, then the body given. */
static size_t frame(unsigned char *out, const void *body, size_t n) {
  out[0] = 0;
  out[1] = (unsigned char)n;
  out[2] = (unsigned char)(n >> 8);
  out[3] = (unsigned char)(n >> 16);
  out[4] = (unsigned char)(n >> 24);
  memcpy(out + 5, body, n);
  return n + 5;
}

/* Parse "<go/>" + frame(body) + "<go/>": the outcome's last line. */
static char *bad(const char *body, size_t n) {
  unsigned char buf[512];
  size_t len = 0;
  memcpy(buf, "<go/>", 5);
  len = 5 + frame(buf + 5, body, n);
  memcpy(buf + len, "<go/>", 5);
  return parse_whole(NULL, buf, len + 5, 0);
}

#define B(s) (s), sizeof(s) - 1

static void expect_error(const char *body, size_t n, const char *want) {
  char *got = bad(body, n);
  if (strstr(got, want) == NULL) fail_msg("got:\n%s\nwanted: %s", got, want);
  free(got);
}

static void test_malformed_frames_are_errors_at_their_byte(void **state) {
  (void)state;
  /* body offsets: the frame's mark is at 5, its body at 10 */
  expect_error(B("\x02\x01\x82\x04"), "error syntax error at 10 (message 1 at 5)");  /* form */
  expect_error(B("\x01\x07\x82\x04"), "error syntax error at 11 (message 1 at 5)");  /* token */
  expect_error(B("\x01\x01\xff\x04"), "error syntax error at 12 (message 1 at 5)");  /* code */
  expect_error(B("\x01\x01\x02""1a\x04"), "error syntax error at 13 (message 1 at 5)"); /* name */
  expect_error(B("\x01\x01\x02""a<\x04"), "error syntax error at 14 (message 1 at 5)");
  expect_error(B("\x01\x01\x01n\x04"), "error syntax error at 12 (message 1 at 5)");   /* "n" has a code */
  expect_error(B("\x01\x01\x82\x02\x01k\x01x\x04"), "error syntax error at 14 (message 1 at 5)");
  expect_error(B("\x01\x01\x82\x02\x86\x01k\x02\x86\x01k\x04"),
               "error syntax error at 17 (message 1 at 5)");                    /* duplicate */
  expect_error(B("\x01\x01\x82\x03\x01x\x02\x86\x01k\x04"),
               "error syntax error at 16 (message 1 at 5)");                    /* attr after text */
  expect_error(B("\x01\x01\x82\x02\x86\x09k\x04"), "error syntax error at 18 (message 1 at 5)");
  expect_error(B("\x01\x01\x82\x02\x86\xff\xff\xff\xff\x7f"), "error syntax error");  /* length */
  expect_error(B("\x01\x03\x01x"), "error syntax error at 11 (message 1 at 5)");   /* text at top */
  expect_error(B("\x01\x04"), "error syntax error at 11 (message 1 at 5)");        /* stray end */
  expect_error(B("\x01\x01\x82\x01\x83"), "error syntax error at 15 (message 1 at 5)"); /* open */
  expect_error(B("\x00\x01\x82\x04\x01\x82\x04"), "error syntax error at 14 (message 1 at 5)");
  expect_error(B("\x00"), "error syntax error at 11 (message 1 at 5)");            /* no element */
  expect_error(B("\x00\x01\x80\x04"), "error syntax error at 11 (message 1 at 5)"); /* bare xsbug */
  expect_error(B(""), "error syntax error at 6 (message 1 at 5)");                  /* empty */
}

static void test_frame_limits(void **state) {
  wire_limits lim;
  unsigned char buf[4096];
  char body[2048];
  size_t n, i;
  char *got;
  (void)state;
  wire_limits_default(&lim);
  lim.max_message = 1024;
  lim.max_attr = 16;
  lim.max_depth = 3;
  /* longer than max_message: refused at the length, before any body */
  buf[0] = 0;
  buf[1] = 0xff;
  buf[2] = 0xff;
  buf[3] = 0;
  buf[4] = 0;
  got = parse_whole(&lim, buf, 5, 0);
  assert_string_equal(got, "error message too big at 1 (message 0 at 0)\n");
  free(got);
  /* an attribute value over max_attr */
  memcpy(body, "\x01\x01\x82\x02\x86\x11", 6);
  memset(body + 6, 'a', 17);
  body[23] = 4;
  n = frame(buf, body, 24);
  got = parse_whole(&lim, buf, n, 0);
  assert_string_equal(got, "error attribute or text too long at 11 (message 0 at 0)\n");
  free(got);
  /* nesting: <xsbug> counts, so the third element is too deep */
  n = frame(buf, "\x01\x01\x82\x01\x82\x01\x82\x04\x04\x04", 10);
  got = parse_whole(&lim, buf, n, 0);
  assert_string_equal(got, "error nesting too deep at 10 (message 0 at 0)\n");
  free(got);
  /* too many attributes */
  i = 0;
  body[i++] = 1;
  body[i++] = 1;
  body[i++] = (char)0x82;
  for (n = 0; n < 64 + 1; n++) {
    body[i++] = 2;
    body[i++] = 3;
    body[i++] = (char)('a' + n / 26);
    body[i++] = (char)('a' + n % 26);
    body[i++] = 'x';
    body[i++] = 0;
  }
  body[i++] = 4;
  n = frame(buf, body, i);
  got = parse_whole(NULL, buf, n, 0);
  assert_non_null(strstr(got, "error syntax error"));
  free(got);
  /* the tree bound: a flood of tiny elements in one big frame */
  {
    wire_limits big;
    size_t len = 1u << 20, j;
    unsigned char *fl = malloc(len + 5);
    wire_limits_default(&big);
    big.max_message = len + 5;
    fl[5] = 1;
    for (j = 6; j + 3 <= len + 5; j += 3) {
      fl[j] = 1;
      fl[j + 1] = 0x83;
      fl[j + 2] = 4;
    }
    for (; j < len + 5; j++) fl[j] = 1; /* never reached */
    fl[0] = 0;
    fl[1] = (unsigned char)len;
    fl[2] = (unsigned char)(len >> 8);
    fl[3] = (unsigned char)(len >> 16);
    fl[4] = (unsigned char)(len >> 24);
    {
      outcome o;
      size_t all = 0;
      wire_parser *p;
      outcome_init(&o);
      run_stream(&o, &big, fl, len + 5, &all, 1, 0);
      /* 8 x max_message of tree allows this many elements: it parses or
      ** hits the bound, and the parser's memory stays proportional */
      assert_int_equal(o.status, WIRE_ETOOBIG);
      outcome_free(&o);
      p = wire_parser_new(&big, NULL, NULL);
      wire_parser_feed(p, fl, len + 5);
      assert_true(wire_parser_memory(p) < 10 * (len + 5) + (2u << 20));
      wire_parser_free(p);
    }
    free(fl);
  }
}

static void test_truncated_frame(void **state) {
  unsigned char buf[64];
  size_t n;
  char *got;
  (void)state;
  n = frame(buf, "\x01\x01\x82\x04", 4);
  got = parse_whole(NULL, buf, n - 1, 0);
  assert_string_equal(got, "error stream truncated at 8 (message 0 at 0)\n");
  free(got);
  got = parse_whole(NULL, buf, 3, 0);
  assert_string_equal(got, "error stream truncated at 3 (message 0 at 0)\n");
  free(got);
}

/* After a bad frame, resync goes on at the next <xsbug>; after a callback
** stop at a frame, parsing goes on right after it. */
static void test_resync_and_stop_after_frames(void **state) {
  unsigned char buf[256];
  size_t n = 0;
  char *got;
  outcome o;
  size_t all = 0;
  (void)state;
  n += frame(buf + n, "\x01\x07", 2);
  memcpy(buf + n, "<xsbug><log>after</log></xsbug>", 31);
  n += 31;
  got = parse_whole(NULL, buf, n, 1);
  assert_string_equal(got, "error syntax error at 6 (message 0 at 0)\n"
                           "7 31 #1 <xsbug><log>after</log></xsbug>\n");
  free(got);
  n = frame(buf, "\x01\x01\x82\x04", 4);
  n += frame(buf + n, "\x01\x01\x83\x04", 4);
  outcome_init(&o);
  o.stop_after = 1;
  run_stream(&o, NULL, buf, n, &all, 1, 1);
  assert_string_equal(outcome_text(&o), "0 9 #0 <xsbug><n/></xsbug>\n"
                                        "error stopped by the callback at 9 (message 0 at 0)\n"
                                        "9 9 #1 <xsbug><e/></xsbug>\n");
  outcome_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_frame_parses_to_the_same_tree_as_xml),
    cmocka_unit_test(test_frames_and_xml_mix_under_any_split),
    cmocka_unit_test(test_malformed_frames_are_errors_at_their_byte),
    cmocka_unit_test(test_frame_limits),
    cmocka_unit_test(test_truncated_frame),
    cmocka_unit_test(test_resync_and_stop_after_frames),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
