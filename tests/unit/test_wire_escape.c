/*
** test_wire_escape.c
** The writer's escaping is exact: every byte string, all 256 byte values,
** every pair of them, random strings with U+F7xx characters and invalid
** UTF-8, survives writing and parsing unchanged, in attribute values and
** in text. Also the exact escaped forms, base64 (RFC 4648) and wire_buf.
*/
#include "test_wire_util.h"

/* A message of <v a="S">S</v> items, one per string. */
typedef struct strings {
  size_t n;
  unsigned char (*data)[64];
  size_t *len;
  size_t checked;
} strings;

static int check_items(void *ud, const wire_msg *m) {
  strings *s = ud;
  const wire_elem *it;
  size_t i = 0;
  for (it = m->items; it != NULL; it = it->next, i++) {
    size_t len;
    const char *a = wire_get(it, "a", &len);
    assert_true(i < s->n);
    assert_non_null(a);
    if (len != s->len[i] || memcmp(a, s->data[i], len) != 0)
      fail_msg("attribute value of string %zu did not round-trip", i);
    if (it->text_len != s->len[i] || memcmp(it->text, s->data[i], it->text_len) != 0)
      fail_msg("text of string %zu did not round-trip", i);
    assert_int_equal(a[len], '\0');
    assert_int_equal(it->text[it->text_len], '\0');
  }
  assert_int_equal(i, s->n);
  s->checked = i;
  return 0;
}

static void round_trip(strings *s) {
  wire_buf b;
  wire_limits lim;
  wire_parser *p;
  size_t i;
  wire_buf_init(&b);
  wire_msg_begin(&b);
  for (i = 0; i < s->n; i++) {
    wire_open(&b, "v");
    wire_attr(&b, "a", s->data[i], s->len[i]);
    wire_open_end(&b);
    wire_text(&b, s->data[i], s->len[i]);
    wire_close(&b, "v");
  }
  wire_msg_end(&b);
  assert_false(b.oom);
  wire_limits_default(&lim);
  p = wire_parser_new(&lim, check_items, s);
  s->checked = 0;
  assert_int_equal(wire_parser_feed(p, b.data, b.len), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  assert_int_equal(s->checked, s->n);
  wire_parser_free(p);
  wire_buf_free(&b);
}

static void strings_alloc(strings *s, size_t n) {
  s->n = n;
  s->data = calloc(n, sizeof *s->data);
  s->len = calloc(n, sizeof *s->len);
  assert_non_null(s->data);
  assert_non_null(s->len);
}

static void strings_free(strings *s) {
  free(s->data);
  free(s->len);
}

static void test_every_single_byte_round_trips(void **state) {
  strings s;
  unsigned c;
  (void)state;
  strings_alloc(&s, 256);
  for (c = 0; c < 256; c++) {
    s.data[c][0] = (unsigned char)c;
    s.len[c] = 1;
  }
  round_trip(&s);
  strings_free(&s);
}

static void test_every_pair_of_bytes_round_trips(void **state) {
  strings s;
  unsigned a, b;
  (void)state;
  strings_alloc(&s, 65536);
  for (a = 0; a < 256; a++)
    for (b = 0; b < 256; b++) {
      s.data[a * 256 + b][0] = (unsigned char)a;
      s.data[a * 256 + b][1] = (unsigned char)b;
      s.len[a * 256 + b] = 2;
    }
  round_trip(&s);
  strings_free(&s);
}

/* Bytes chosen to hit every branch of the UTF-8 check: U+F7xx (EF 9C-9F),
** U+FFFE/FFFF, surrogates (ED A0), overlongs (C0, E0 80, F0 80), beyond
** U+10FFFF (F4 90, F5), lone continuation bytes, and plain text. */
static const unsigned char interesting[] = {
  0xEF, 0x9C, 0x9D, 0x9E, 0x9F, 0x80, 0xBF, 0xBE, 0xED, 0xA0, 0xC0, 0xC1, 0xC2, 0xE0,
  0xF0, 0xF4, 0x90, 0x8F, 0xF5, 0xFF, 0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x7F, '&', '<',
  '>', '"', '\'', ';', '#', 'x', 'a', ' ', 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F};

static uint64_t rng_state = 0x243F6A8885A308D3u;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_random_strings_with_f7_characters_and_invalid_utf8_round_trip(void **state) {
  strings s;
  size_t i, j;
  (void)state;
  strings_alloc(&s, 20000);
  for (i = 0; i < s.n; i++) {
    s.len[i] = rng() % 64;
    for (j = 0; j < s.len[i]; j++) {
      uint64_t r = rng();
      s.data[i][j] = r % 3 == 0 ? (unsigned char)(r >> 8)
                                : interesting[(r >> 8) % sizeof interesting];
    }
    /* a real U+F7xx character in the original, sometimes */
    if (s.len[i] >= 3 && rng() % 4 == 0) {
      unsigned cp = 0xF700 + (unsigned)(rng() % 256);
      s.data[i][0] = (unsigned char)(0xE0 | cp >> 12);
      s.data[i][1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
      s.data[i][2] = (unsigned char)(0x80 | (cp & 0x3F));
    }
  }
  round_trip(&s);
  strings_free(&s);
}

static void expect_escaped(const char *in, size_t n, int quot, const char *want) {
  wire_buf b;
  wire_buf_init(&b);
  wire_escape(&b, in, n, quot);
  wire_buf_put(&b, "", 1);
  assert_string_equal(b.data, want);
  wire_buf_free(&b);
}

static void test_escaped_forms_follow_the_documented_table(void **state) {
  (void)state;
  expect_escaped("a&b<c>d\"e'", 10, 1, "a&amp;b&lt;c&gt;d&quot;e'");
  expect_escaped("a&b<c>d\"e'", 10, 0, "a&amp;b&lt;c&gt;d&quot;e'");
  expect_escaped("\t\n\r", 3, 1, "&#9;&#10;&#13;");
  expect_escaped("\t\n\r", 3, 0, "\t\n&#13;");
  expect_escaped("\0\1\x1f\x7f", 4, 1, "&#xF700;&#xF701;&#xF71F;&#xF77F;");
  /* valid UTF-8 stays itself; invalid bytes are escaped one by one */
  expect_escaped("\xc3\xa9\xf0\x9f\x98\x80", 6, 1, "\xc3\xa9\xf0\x9f\x98\x80");
  expect_escaped("\xc3(", 2, 1, "&#xF7C3;(");
  expect_escaped("\xc0\x80", 2, 1, "&#xF7C0;&#xF780;");
  expect_escaped("\xed\xa0\x80", 3, 1, "&#xF7ED;&#xF7A0;&#xF780;");
  expect_escaped("\xef\xbf\xbe", 3, 1, "&#xF7EF;&#xF7BF;&#xF7BE;");
  expect_escaped("\xf4\x90\x80\x80", 4, 1, "&#xF7F4;&#xF790;&#xF780;&#xF780;");
  /* U+F701 in the original is escaped byte by byte */
  expect_escaped("\xef\x9c\x81", 3, 0, "&#xF7EF;&#xF79C;&#xF781;");
  /* a truncated sequence at the end */
  expect_escaped("ok\xe2\x82", 4, 0, "ok&#xF7E2;&#xF782;");
}

static void test_command_shape_is_what_xs_accepts(void **state) {
  wire_buf b;
  (void)state;
  wire_buf_init(&b);
  wire_command(&b, "go", NULL, NULL);
  wire_command(&b, "set-breakpoint", "path", "/a b/app.js");
  wire_command(&b, "select", "id", "@1A2B");
  wire_command_open(&b, "set-breakpoint");
  wire_attr_str(&b, "path", "app.lua");
  wire_attr_i64(&b, "line", 12);
  wire_command_close(&b);
  wire_buf_put(&b, "", 1);
  assert_string_equal(b.data,
    "\r\n<go/>\r\n\r\n<set-breakpoint path=\"/a b/app.js\"/>\r\n\r\n<select id=\"@1A2B\"/>\r\n"
    "\r\n<set-breakpoint path=\"app.lua\" line=\"12\"/>\r\n");
  wire_buf_free(&b);
}

static void test_integer_attributes_cover_the_full_range(void **state) {
  wire_buf b;
  (void)state;
  wire_buf_init(&b);
  wire_attr_i64(&b, "a", INT64_MIN);
  wire_attr_i64(&b, "b", INT64_MAX);
  wire_attr_i64(&b, "c", 0);
  wire_attr_u64(&b, "d", UINT64_MAX);
  wire_attr_u64(&b, "e", 10);
  wire_buf_put(&b, "", 1);
  assert_string_equal(b.data,
    " a=\"-9223372036854775808\" b=\"9223372036854775807\" c=\"0\" d=\"18446744073709551615\" e=\"10\"");
  wire_buf_free(&b);
}

static void expect_b64(const char *raw, const char *enc) {
  wire_buf b;
  size_t n = strlen(raw);
  wire_buf_init(&b);
  wire_base64_encode(&b, raw, n);
  assert_int_equal(b.len, strlen(enc));
  assert_memory_equal(b.data != NULL ? b.data : "", enc, b.len);
  wire_buf_reset(&b);
  assert_int_equal(wire_base64_decode(&b, enc, strlen(enc)), 0);
  assert_int_equal(b.len, n);
  assert_memory_equal(b.data != NULL ? b.data : "", raw, n);
  wire_buf_free(&b);
}

static void test_base64_rfc4648_vectors(void **state) {
  (void)state;
  expect_b64("", "");
  expect_b64("f", "Zg==");
  expect_b64("fo", "Zm8=");
  expect_b64("foo", "Zm9v");
  expect_b64("foob", "Zm9vYg==");
  expect_b64("fooba", "Zm9vYmE=");
  expect_b64("foobar", "Zm9vYmFy");
}

static void test_base64_rejects_malformed_input(void **state) {
  static const char *bad[] = {"Zg", "Zg=", "Z===", "====", "Zg==Zg==", "Zm9v!A==", "Zh==",
                              "Zm9=", "Zm 9v", "Zm9vYg=a", "=m9v"};
  wire_buf b;
  size_t i;
  (void)state;
  wire_buf_init(&b);
  for (i = 0; i < sizeof bad / sizeof *bad; i++) {
    wire_buf_reset(&b);
    wire_buf_put(&b, "keep", 4);
    if (wire_base64_decode(&b, bad[i], strlen(bad[i])) != -1)
      fail_msg("accepted bad base64 \"%s\"", bad[i]);
    assert_int_equal(b.len, 4); /* nothing appended on failure */
  }
  wire_buf_free(&b);
}

static void test_base64_round_trips_every_length_and_byte(void **state) {
  unsigned char raw[300];
  wire_buf e, d;
  size_t n, i;
  (void)state;
  for (i = 0; i < sizeof raw; i++) raw[i] = (unsigned char)(i * 7 + 3);
  wire_buf_init(&e);
  wire_buf_init(&d);
  for (n = 0; n <= sizeof raw; n++) {
    wire_buf_reset(&e);
    wire_buf_reset(&d);
    wire_base64_encode(&e, raw, n);
    assert_int_equal(e.len, (n + 2) / 3 * 4);
    assert_int_equal(wire_base64_decode(&d, e.data, e.len), 0);
    assert_int_equal(d.len, n);
    if (n) assert_memory_equal(d.data, raw, n);
  }
  wire_buf_free(&e);
  wire_buf_free(&d);
}

static void test_buffer_out_of_memory_is_sticky_and_keeps_contents(void **state) {
  wire_buf b;
  (void)state;
  wire_buf_init(&b);
  wire_buf_puts(&b, "abc");
  assert_int_equal(wire_buf_reserve(&b, SIZE_MAX), -1);
  assert_true(b.oom);
  wire_buf_puts(&b, "def");
  wire_escape(&b, "x<y", 3, 1);
  wire_attr_u64(&b, "n", 1);
  assert_int_equal(b.len, 3);
  assert_memory_equal(b.data, "abc", 3);
  wire_buf_reset(&b);
  assert_false(b.oom);
  wire_buf_puts(&b, "ok");
  assert_int_equal(b.len, 2);
  wire_buf_free(&b);
  assert_null(b.data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_single_byte_round_trips),
    cmocka_unit_test(test_every_pair_of_bytes_round_trips),
    cmocka_unit_test(test_random_strings_with_f7_characters_and_invalid_utf8_round_trip),
    cmocka_unit_test(test_escaped_forms_follow_the_documented_table),
    cmocka_unit_test(test_command_shape_is_what_xs_accepts),
    cmocka_unit_test(test_integer_attributes_cover_the_full_range),
    cmocka_unit_test(test_base64_rfc4648_vectors),
    cmocka_unit_test(test_base64_rejects_malformed_input),
    cmocka_unit_test(test_base64_round_trips_every_length_and_byte),
    cmocka_unit_test(test_buffer_out_of_memory_is_sticky_and_keeps_contents),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
