/*
** test_wire_errors.c
** Malformed and hostile input: truncation, bad nesting, oversized values
** and messages, entity bombs, DTDs, external entities and deep nesting each
** give the documented error at the exact byte, whatever the split, without
** a crash and within bounded memory; resync recovers the next message.
*/
#include "test_wire_util.h"

static wire_limits tight(void) {
  wire_limits l;
  l.max_message = 4096;
  l.max_attr = 1024;
  l.max_depth = 8;
  return l;
}

/* The outcome of s, parsed whole, must be want; and the same split at every
** byte boundary and fed one byte at a time. */
static void expect_everywhere(const wire_limits *lim, const char *s, size_t n, int resync,
                              const char *want) {
  size_t k, one = 1;
  outcome o;
  char *whole = parse_whole(lim, s, n, resync);
  assert_string_equal(whole, want);
  free(whole);
  for (k = 1; k < n; k++) {
    size_t sizes[2] = {k, 0};
    outcome_init(&o);
    run_stream(&o, lim, s, n, sizes, 2, resync);
    if (strcmp(outcome_text(&o), want) != 0)
      fail_msg("split at byte %zu gives:\n%swanted:\n%s", k, outcome_text(&o), want);
    outcome_free(&o);
  }
  outcome_init(&o);
  run_stream(&o, lim, s, n, &one, 1, resync);
  assert_string_equal(outcome_text(&o), want);
  outcome_free(&o);
}

#define EXPECT(lim, lit, resync, want) expect_everywhere((lim), (lit), sizeof(lit) - 1, (resync), (want))

static void test_truncated_stream_is_etrunc_at_finish(void **state) {
  (void)state;
  EXPECT(NULL, "\r\n<xsbug><login name=\"a\"", 0, "error stream truncated at 24 (message 0 at 2)\n");
  EXPECT(NULL, "<go/>\r\n<xsbug><a>text", 0,
         "0 5 #0 bare <go/>\nerror stream truncated at 21 (message 1 at 7)\n");
  EXPECT(NULL, "<go/><!-- unfinished", 0,
         "0 5 #0 bare <go/>\nerror stream truncated at 20 (message 1 at 5)\n");
  EXPECT(NULL, "<go/><", 0, "0 5 #0 bare <go/>\nerror stream truncated at 6 (message 1 at 5)\n");
}

/* Every prefix of a valid stream either is complete or is ETRUNC at its
** end, never anything else. */
static void test_every_prefix_of_a_stream_is_complete_or_truncated(void **state) {
  static const char s[] =
    "\r\n<xsbug><local name=\"f\" value=\"@1\"><property flags=\" \" name=\"x\" value=\"a&#1;<b\"/>"
    "<!-- c --><log><![CDATA[x]]>&amp;y</log></local></xsbug>\r\n<go/>\r\n";
  size_t n = sizeof s - 1, k;
  (void)state;
  for (k = 0; k <= n; k++) {
    wire_parser *p = wire_parser_new(NULL, NULL, NULL);
    enum wire_status st;
    assert_int_equal(wire_parser_feed(p, s, k), WIRE_OK);
    st = wire_parser_finish(p);
    if (k <= 2 || (k >= 138 && k <= 140) || k >= 145) {
      if (st != WIRE_OK) fail_msg("prefix %zu: %s", k, wire_parser_error(p)->text);
    } else {
      assert_int_equal(st, WIRE_ETRUNC);
      assert_int_equal(wire_parser_error(p)->offset, k);
    }
    wire_parser_free(p);
  }
}

/* expat points at the name in the end tag that does not match */
static void test_bad_nesting_is_a_syntax_error_at_the_end_tag(void **state) {
  (void)state;
  EXPECT(NULL, "\r\n<xsbug><a></b></xsbug>\r\n", 0, "error syntax error at 14 (message 0 at 2)\n");
  EXPECT(NULL, "<go/>\r\n</xsbug>", 0,
         "0 5 #0 bare <go/>\nerror syntax error at 7 (message 1 at 7)\n");
}

static void test_error_offsets_count_repaired_bytes_exactly(void **state) {
  (void)state;
  /* the repairs before the error make the filtered stream longer; the
  ** offset is still the byte in the original stream */
  EXPECT(NULL, "<xsbug><a v=\"<<&#1;<\" x=\"1\" x=\"2\"/></xsbug>", 0,
         "error syntax error at 28 (message 0 at 0)\n");
  EXPECT(NULL, "<xsbug><a v=\"&#1;&#2;\">&#3;<<</a></xsbug>", 0,
         "error syntax error at 28 (message 0 at 0)\n");
  EXPECT(NULL, "<xsbug><a v=\"&#1;&#2;\">&#3;\x01</a></xsbug>", 0,
         "error syntax error at 27 (message 0 at 0)\n");
}

static void test_text_between_messages_is_a_syntax_error(void **state) {
  (void)state;
  EXPECT(NULL, "hello<go/>", 0, "error syntax error at 0 (message 0 at 0)\n");
  EXPECT(NULL, "<go/>junk", 0, "0 5 #0 bare <go/>\nerror syntax error at 5 (message 1 at 5)\n");
  EXPECT(NULL, "<go/>&amp;", 0, "0 5 #0 bare <go/>\nerror syntax error at 5 (message 1 at 5)\n");
  EXPECT(NULL, "<go/><![CDATA[x]]>", 0, "0 5 #0 bare <go/>\nerror syntax error at 5 (message 1 at 5)\n");
  EXPECT(NULL, "<go/>< go/>", 0, "0 5 #0 bare <go/>\nerror syntax error at 5 (message 1 at 5)\n");
}

static void test_attribute_at_the_limit_passes_and_one_more_byte_fails(void **state) {
  wire_limits lim = tight();
  char s[3000];
  size_t k, one = 1;
  (void)state;
  for (k = 1023; k <= 1025; k++) {
    size_t n;
    outcome o;
    memset(s, 'a', sizeof s);
    memcpy(s, "<xsbug><a v=\"", 13);
    memcpy(s + 13 + k, "\"/></xsbug>", 11);
    n = 13 + k + 11;
    outcome_init(&o);
    run_stream(&o, &lim, s, n, &one, 1, 0);
    if (k <= 1024) {
      assert_int_equal(o.status, WIRE_OK);
      assert_int_equal(o.messages, 1);
    } else {
      assert_int_equal(o.status, WIRE_EATTR);
      assert_int_equal(o.err.offset, 13 + 1024);
      assert_int_equal(o.err.msg_offset, 0);
    }
    outcome_free(&o);
  }
}

static void test_long_text_comment_and_reference_runs_are_refused(void **state) {
  wire_limits lim = tight();
  char s[3000];
  size_t one = 1, i;
  outcome o;
  (void)state;
  /* text: the run starts after "<xsbug><log>" (12 bytes) */
  memset(s, 'x', sizeof s);
  memcpy(s, "<xsbug><log>", 12);
  outcome_init(&o);
  run_stream(&o, &lim, s, 2000, &one, 1, 0);
  assert_int_equal(o.status, WIRE_EATTR);
  assert_int_equal(o.err.offset, 12 + 1024);
  outcome_free(&o);
  /* references count with their raw bytes */
  for (i = 12; i + 4 <= 2000; i += 4) memcpy(s + i, "&#1;", 4);
  outcome_init(&o);
  run_stream(&o, &lim, s, 2000, &one, 1, 0);
  assert_int_equal(o.status, WIRE_EATTR);
  assert_int_equal(o.err.offset, 12 + 1024);
  outcome_free(&o);
  /* a comment between messages is bounded as well */
  memset(s, '-', sizeof s);
  memcpy(s, "<go/><!--", 9);
  memset(s + 9, 'c', 2000);
  outcome_init(&o);
  run_stream(&o, &lim, s, 2100, &one, 1, 0);
  assert_int_equal(o.status, WIRE_EATTR);
  assert_int_equal(o.err.offset, 5 + 1024);
  outcome_free(&o);
}

static void test_message_longer_than_the_limit_is_etoobig(void **state) {
  wire_limits lim = tight();
  wire_buf b;
  size_t sizes[] = {1, 7, 100, 3000}, i;
  (void)state;
  wire_buf_init(&b);
  wire_buf_puts(&b, "<go/>\r\n");
  wire_msg_begin(&b);
  for (i = 0; i < 400; i++) wire_buf_puts(&b, "<a v=\"12345\"/>");
  wire_msg_end(&b);
  for (i = 0; i < 4; i++) {
    outcome o;
    outcome_init(&o);
    run_stream(&o, &lim, b.data, b.len, &sizes[i], 1, 0);
    assert_int_equal(o.status, WIRE_ETOOBIG);
    assert_int_equal(o.err.offset, 9 + 4096);
    assert_int_equal(o.err.msg_offset, 9);
    assert_int_equal(o.err.msg_seq, 1);
    assert_int_equal(o.messages, 1);
    outcome_free(&o);
  }
  wire_buf_free(&b);
}

static void test_nesting_deeper_than_the_limit_is_edepth(void **state) {
  wire_limits lim = tight();
  (void)state;
  /* depth 8 is allowed, the 9th element is refused at its '<' */
  EXPECT(&lim, "<a><a><a><a><a><a><a><a/></a></a></a></a></a></a></a>", 0,
         "0 53 #0 bare <a><a><a><a><a><a><a><a/></a></a></a></a></a></a></a>\n");
  EXPECT(&lim, "<a><a><a><a><a><a><a><a><a/></a></a></a></a></a></a></a></a>", 0,
         "error nesting too deep at 24 (message 0 at 0)\n");
}

static const char billion_laughs[] =
  "<?xml version=\"1.0\"?>\n"
  "<!DOCTYPE lolz [\n"
  " <!ENTITY lol \"lol\">\n"
  " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
  " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
  " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
  " <!ENTITY lol9 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
  "]>\n"
  "<xsbug><log>&lol9;</log></xsbug>\n";

static void test_billion_laughs_is_refused_at_the_doctype(void **state) {
  (void)state;
  EXPECT(NULL, billion_laughs, 0, "error DTD or entity refused at 22 (message 0 at 22)\n");
}

static void test_entity_declarations_and_external_entities_are_refused(void **state) {
  (void)state;
  EXPECT(NULL, "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>", 0,
         "error DTD or entity refused at 0 (message 0 at 0)\n");
  EXPECT(NULL, "<xsbug><!ENTITY e \"boom\"></xsbug>", 0,
         "error DTD or entity refused at 7 (message 0 at 0)\n");
  EXPECT(NULL, "<go/>\r\n<!ELEMENT x ANY>", 0,
         "0 5 #0 bare <go/>\nerror DTD or entity refused at 7 (message 1 at 7)\n");
  /* without a DTD, an entity reference names nothing */
  EXPECT(NULL, "<xsbug><log>&lol9;</log></xsbug>", 0,
         "error syntax error at 12 (message 0 at 0)\n");
}

static void test_errors_are_sticky_until_resync(void **state) {
  wire_parser *p = wire_parser_new(NULL, NULL, NULL);
  (void)state;
  assert_int_equal(wire_parser_feed(p, "<a></b>", 7), WIRE_ESYNTAX);
  assert_int_equal(wire_parser_feed(p, "<go/>", 5), WIRE_ESYNTAX);
  assert_int_equal(wire_parser_finish(p), WIRE_ESYNTAX);
  assert_int_equal(wire_parser_error(p)->offset, 5);
  assert_int_equal(wire_parser_offset(p), 12);
  assert_non_null(strstr(wire_parser_error(p)->text, "mismatched tag"));
  wire_parser_free(p);
}

/* ---- resync -------------------------------------------------------------- */

static void test_resync_recovers_the_next_message(void **state) {
  (void)state;
  EXPECT(NULL, "\r\n<xsbug><a></b></xsbug>\r\n<go/>\r\n<xsbug><ok/></xsbug>\r\n<go/>", 1,
         "error syntax error at 14 (message 0 at 2)\n"
         "33 20 #1 <xsbug><ok/></xsbug>\n"
         "55 5 #2 bare <go/>\n");
  /* a limit error in the middle of a message, then good messages */
  {
    wire_limits lim = tight();
    EXPECT(&lim, "<xsbug><a><a><a><a><a><a><a><a><a/></a></a></a></a></a></a></a></a></xsbug>"
                 "<xsbug><fine/></xsbug>", 1,
           "error nesting too deep at 28 (message 0 at 0)\n"
           "75 22 #1 <xsbug><fine/></xsbug>\n");
  }
  /* garbage between messages, then a bad message: the rescan skips bare
  ** elements (even <xsbugx/>) up to the next <xsbug>; the failed message
  ** keeps its number */
  EXPECT(NULL, "<xsbug><a/></xsbug>garbage<xsbug><b/></xsbug><xsbug>&bogus;</xsbug><xsbugx/>"
               "<xsbug><c/></xsbug>", 1,
         "0 19 #0 <xsbug><a/></xsbug>\n"
         "error syntax error at 19 (message 1 at 19)\n"
         "26 19 #1 <xsbug><b/></xsbug>\n"
         "error syntax error at 52 (message 2 at 45)\n"
         "76 19 #3 <xsbug><c/></xsbug>\n");
}

static void test_resync_after_truncation_waits_for_the_next_message(void **state) {
  wire_parser *p;
  outcome o;
  (void)state;
  outcome_init(&o);
  p = wire_parser_new(NULL, outcome_on_message, &o);
  assert_int_equal(wire_parser_feed(p, "<xsbug><a>", 10), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_ETRUNC);
  wire_parser_resync(p);
  assert_int_equal(wire_parser_feed(p, "</a></xsbug><go/><xsbug/>", 25), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  assert_string_equal(outcome_text(&o), "27 8 #1 <xsbug></xsbug>\n");
  wire_parser_free(p);
  outcome_free(&o);
}

static void test_stop_from_the_callback_resumes_after_that_message(void **state) {
  static const char s[] = "<xsbug><a/></xsbug><go/><xsbug><b/></xsbug><step/>";
  wire_parser *p;
  outcome o;
  (void)state;
  outcome_init(&o);
  o.stop_after = 1;
  p = wire_parser_new(NULL, outcome_on_message, &o);
  assert_int_equal(wire_parser_feed(p, s, sizeof s - 1), WIRE_ESTOPPED);
  assert_int_equal(wire_parser_error(p)->offset, 19);
  assert_int_equal(wire_parser_error(p)->msg_offset, 0);
  assert_int_equal(wire_parser_error(p)->msg_seq, 0);
  assert_int_equal(o.messages, 1);
  wire_parser_resync(p);
  assert_int_equal(wire_parser_feed(p, "<go/>", 5), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  assert_string_equal(outcome_text(&o),
    "0 19 #0 <xsbug><a/></xsbug>\n"
    "19 5 #1 bare <go/>\n"
    "24 19 #2 <xsbug><b/></xsbug>\n"
    "43 7 #3 bare <step/>\n"
    "50 5 #4 bare <go/>\n");
  wire_parser_free(p);
  outcome_free(&o);
}

/* ---- memory stays bounded ------------------------------------------------ */

static size_t feed_repeated(wire_parser *p, const char *head, const char *unit, size_t units,
                            enum wire_status *st) {
  char chunk[65536];
  size_t ul = strlen(unit), per = sizeof chunk / ul, i, peak = 0;
  for (i = 0; i < per; i++) memcpy(chunk + i * ul, unit, ul);
  *st = wire_parser_feed(p, head, strlen(head));
  for (i = 0; i < units; i += per) {
    size_t m;
    enum wire_status s = wire_parser_feed(p, chunk, per * ul);
    if (*st == WIRE_OK) *st = s;
    m = wire_parser_memory(p);
    if (m > peak) peak = m;
  }
  return peak;
}

static void test_gigabyte_attribute_keeps_memory_bounded(void **state) {
  wire_limits lim;
  wire_parser *p;
  enum wire_status st;
  size_t peak;
  (void)state;
  lim.max_message = 4u << 20;
  lim.max_attr = 1u << 20;
  lim.max_depth = 16;
  p = wire_parser_new(&lim, NULL, NULL);
  peak = feed_repeated(p, "<xsbug><a v=\"", "a", (size_t)1 << 30, &st);
  assert_int_equal(st, WIRE_EATTR);
  assert_int_equal(wire_parser_error(p)->offset, 13 + (1u << 20));
  assert_int_equal(wire_parser_offset(p), 13 + ((size_t)1 << 30));
  if (peak > (size_t)12 << 20) fail_msg("peak memory %zu bytes for a 1 MiB limit", peak);
  wire_parser_free(p);
}

/* Expat 2.5 rescans a tag it has only part of on every call, so a long
** attribute dribbled in small writes (XS writes 256 bytes at a time) once
** cost quadratic time: 34 s for 4 MiB. The parser holds such bytes back and
** doubles the hold, so the rescanned bytes stay within a small multiple of
** the attribute, whatever the split. */
static void test_long_attribute_in_small_writes_is_rescanned_linearly(void **state) {
  static const size_t sizes[] = {1u << 20, 8u << 20};
  static const size_t writes[] = {1, 256, 4096};
  size_t i, j;
  (void)state;
  for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    for (j = 0; j < sizeof writes / sizeof *writes; j++) {
      size_t len = sizes[i], w = writes[j], n, k;
      wire_buf in;
      outcome o;
      wire_parser *p;
      if (w == 1 && len > (1u << 20)) continue;  /* keep the test quick */
      wire_buf_init(&in);
      wire_buf_puts(&in, "\r\n<xsbug><a v=\"");
      for (k = 0; k < len; k++) wire_buf_put(&in, "x", 1);
      wire_buf_puts(&in, "\"/></xsbug>\r\n<xsbug><b/></xsbug>\r\n");
      outcome_init(&o);
      p = wire_parser_new(NULL, outcome_on_message, &o);
      for (n = 0; n < in.len; n += w)
        assert_int_equal(wire_parser_feed(p, in.data + n, n + w < in.len ? w : in.len - n), WIRE_OK);
      assert_int_equal(wire_parser_finish(p), WIRE_OK);
      assert_int_equal(o.messages, 2);
      if (wire_parser_rescanned(p) > 4 * (uint64_t)len)
        fail_msg("%zu-byte attribute in %zu-byte writes: %llu bytes rescanned", len, w,
                 (unsigned long long)wire_parser_rescanned(p));
      wire_parser_free(p);
      outcome_free(&o);
      wire_buf_free(&in);
    }
  }
}

static void test_million_nested_elements_keep_memory_bounded(void **state) {
  wire_parser *p = wire_parser_new(NULL, NULL, NULL);
  enum wire_status st;
  size_t peak;
  (void)state;
  peak = feed_repeated(p, "", "<a>", 1000000, &st);
  assert_int_equal(st, WIRE_EDEPTH);
  assert_int_equal(wire_parser_error(p)->offset, 64 * 3);
  if (peak > (size_t)1 << 20) fail_msg("peak memory %zu bytes", peak);
  wire_parser_free(p);
}

/* Many tiny elements cost more memory as a tree than as bytes: the tree's
** budget (8 x max_message) stops them before memory runs away. */
static void test_flood_of_tiny_elements_is_bounded_by_the_tree_budget(void **state) {
  wire_limits lim;
  wire_parser *p;
  enum wire_status st;
  size_t peak;
  (void)state;
  lim.max_message = 1u << 20;
  lim.max_attr = 1u << 20;
  lim.max_depth = 8;
  p = wire_parser_new(&lim, NULL, NULL);
  peak = feed_repeated(p, "<xsbug>", "<a/>", 300000, &st);
  assert_true(st == WIRE_ETOOBIG);
  if (peak > (size_t)24 << 20) fail_msg("peak memory %zu bytes for a 1 MiB message", peak);
  wire_parser_free(p);
}

static void test_memory_returns_to_small_after_a_big_message(void **state) {
  wire_parser *p = wire_parser_new(NULL, NULL, NULL);
  wire_buf b;
  size_t i, before;
  (void)state;
  wire_buf_init(&b);
  assert_int_equal(wire_parser_feed(p, "<go/>", 5), WIRE_OK);
  before = wire_parser_memory(p);
  wire_msg_begin(&b);
  for (i = 0; i < 100000; i++) {
    wire_open(&b, "e");
    wire_attr_str(&b, "k", "field");
    wire_attr_u64(&b, "v", i);
    wire_empty_end(&b);
  }
  wire_msg_end(&b);
  assert_int_equal(wire_parser_feed(p, b.data, b.len), WIRE_OK);
  assert_int_equal(wire_parser_feed(p, "<go/>", 5), WIRE_OK);
  if (wire_parser_memory(p) > before + (512u << 10))
    fail_msg("memory grew from %zu to %zu bytes", before, wire_parser_memory(p));
  wire_parser_free(p);
  wire_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_truncated_stream_is_etrunc_at_finish),
    cmocka_unit_test(test_every_prefix_of_a_stream_is_complete_or_truncated),
    cmocka_unit_test(test_bad_nesting_is_a_syntax_error_at_the_end_tag),
    cmocka_unit_test(test_error_offsets_count_repaired_bytes_exactly),
    cmocka_unit_test(test_text_between_messages_is_a_syntax_error),
    cmocka_unit_test(test_attribute_at_the_limit_passes_and_one_more_byte_fails),
    cmocka_unit_test(test_long_text_comment_and_reference_runs_are_refused),
    cmocka_unit_test(test_message_longer_than_the_limit_is_etoobig),
    cmocka_unit_test(test_nesting_deeper_than_the_limit_is_edepth),
    cmocka_unit_test(test_billion_laughs_is_refused_at_the_doctype),
    cmocka_unit_test(test_entity_declarations_and_external_entities_are_refused),
    cmocka_unit_test(test_errors_are_sticky_until_resync),
    cmocka_unit_test(test_resync_recovers_the_next_message),
    cmocka_unit_test(test_resync_after_truncation_waits_for_the_next_message),
    cmocka_unit_test(test_stop_from_the_callback_resumes_after_that_message),
    cmocka_unit_test(test_gigabyte_attribute_keeps_memory_bounded),
    cmocka_unit_test(test_long_attribute_in_small_writes_is_rescanned_linearly),
    cmocka_unit_test(test_million_nested_elements_keep_memory_bounded),
    cmocka_unit_test(test_flood_of_tiny_elements_is_bounded_by_the_tree_budget),
    cmocka_unit_test(test_memory_returns_to_small_after_a_big_message),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
