/*
** test_json.c
** The JSON writer and reader: exact round trips of arbitrary bytes (the
** U+F7NN scheme), structure checks, exact numbers, and bounded parsing.
*/
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

/* Write bytes as a JSON string, parse it back, compare. */
static void round_trip(const void *p, size_t n) {
  wire_buf b;
  json_writer w;
  wire_buf_init(&b);
  json_init(&w, &b);
  json_string(&w, p, n);
  assert_true(json_ok(&w));
  char err[128];
  json_doc *d = json_parse(b.data, b.len, err, sizeof err);
  if (!d) fail_msg("%s in %.*s", err, (int)b.len, b.data);
  const json_value *v = json_root(d);
  assert_int_equal(v->type, JSON_STRING);
  assert_int_equal(v->len, n);
  if (n) assert_memory_equal(v->str, p, n);
  json_doc_free(d);
  /* Whatever the bytes, the output is printable ASCII or valid UTF-8
  ** with no raw control characters. */
  for (size_t i = 0; i < b.len; i++) assert_true((unsigned char)b.data[i] >= 0x20);
  wire_buf_free(&b);
}

static void test_every_single_byte_round_trips(void **state) {
  (void)state;
  for (int c = 0; c < 256; c++) {
    unsigned char x = (unsigned char)c;
    round_trip(&x, 1);
  }
}

static void test_every_byte_pair_round_trips(void **state) {
  (void)state;
  for (int a = 0; a < 256; a++)
    for (int c = 0; c < 256; c++) {
      unsigned char x[2] = { (unsigned char)a, (unsigned char)c };
      round_trip(x, 2);
    }
}

static void test_random_strings_round_trip(void **state) {
  (void)state;
  unsigned seed = 12345;
  unsigned char buf[64];
  for (int i = 0; i < 20000; i++) {
    size_t n = (size_t)(seed % sizeof buf);
    for (size_t k = 0; k < n; k++) {
      seed = seed * 1103515245u + 12345u;
      /* Bias towards bytes that make UTF-8 interesting. */
      unsigned r = (seed >> 16) & 0xFF;
      buf[k] = (unsigned char)(r < 64 ? 0xE0 + (r & 0x1F) : r < 128 ? 0x80 + (r & 0x3F) : r);
    }
    seed = seed * 1103515245u + 12345u;
    round_trip(buf, n);
  }
}

static void test_private_use_f7_characters_are_sent_as_their_bytes(void **state) {
  (void)state;
  /* U+F700 and U+F7FF are real characters here: each must come back as
  ** the same three bytes, not as the single byte the scheme maps to. */
  round_trip("\xef\x9c\x80", 3);
  round_trip("\xef\x9f\xbf", 3);
  wire_buf b;
  wire_buf_init(&b);
  json_escape(&b, "\xef\x9c\x80", 3);
  assert_int_equal(b.len, 18);
  assert_memory_equal(b.data, "\\uf7ef\\uf79c\\uf780", 18);
  wire_buf_free(&b);
}

static void test_valid_utf8_is_written_as_itself(void **state) {
  (void)state;
  wire_buf b;
  wire_buf_init(&b);
  json_escape(&b, "h\xc3\xa9llo \xf0\x9f\x98\x80", 11);
  assert_int_equal(b.len, 11);
  assert_memory_equal(b.data, "h\xc3\xa9llo \xf0\x9f\x98\x80", 11);
  wire_buf_reset(&b);
  json_escape(&b, "\xe2\x80\xa8", 3);   /* U+2028 breaks JavaScript strings */
  assert_int_equal(b.len, 6);
  assert_memory_equal(b.data, "\\u2028", 6);
  wire_buf_free(&b);
}

static void test_invalid_utf8_forms_become_single_bytes(void **state) {
  (void)state;
  static const char *const bad[] = {
    "\xc0\xaf",         /* overlong '/' */
    "\xed\xa0\x80",     /* a surrogate */
    "\xf4\x90\x80\x80", /* above U+10FFFF */
    "\xe2\x82",         /* truncated */
  };
  static const size_t len[] = { 2, 3, 4, 2 };
  for (size_t i = 0; i < 4; i++) {
    wire_buf b;
    wire_buf_init(&b);
    json_escape(&b, bad[i], len[i]);
    assert_int_equal(b.len, 6 * len[i]);
    wire_buf_free(&b);
    round_trip(bad[i], len[i]);
  }
}

static void test_writer_places_commas_and_refuses_misuse(void **state) {
  (void)state;
  wire_buf b;
  json_writer w;
  wire_buf_init(&b);
  json_init(&w, &b);
  json_object_begin(&w);
  json_kv_int(&w, "a", -1);
  json_keyz(&w, "b");
  json_array_begin(&w);
  json_null(&w);
  json_bool(&w, 1);
  json_uint(&w, UINT64_MAX);
  json_array_end(&w);
  json_kv_str(&w, "c", NULL);
  json_object_end(&w);
  assert_true(json_ok(&w));
  wire_buf_put(&b, "", 1);
  assert_string_equal(b.data, "{\"a\":-1,\"b\":[null,true,18446744073709551615],\"c\":null}");
  wire_buf_reset(&b);
  json_init(&w, &b);
  json_object_begin(&w);
  json_int(&w, 1);                     /* a value where a key belongs */
  assert_false(json_ok(&w));
  json_init(&w, &b);
  json_array_begin(&w);
  json_object_end(&w);                 /* mismatched close */
  assert_false(json_ok(&w));
  json_init(&w, &b);
  json_array_begin(&w);                /* never closed */
  assert_false(json_ok(&w));
  wire_buf_free(&b);
}

static void test_doubles_read_back_exactly_and_nonfinite_is_null(void **state) {
  (void)state;
  double vals[] = { 0.1, 1.0 / 3, 1e300, -2.5e-308, 123456789.125, -0.0 };
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    wire_buf b;
    json_writer w;
    wire_buf_init(&b);
    json_init(&w, &b);
    json_double(&w, vals[i]);
    json_doc *d = json_parse(b.data, b.len, NULL, 0);
    assert_non_null(d);
    assert_true(json_root(d)->num == vals[i]);
    assert_int_equal(signbit(json_root(d)->num), signbit(vals[i]));
    json_doc_free(d);
    wire_buf_free(&b);
  }
  wire_buf b;
  json_writer w;
  wire_buf_init(&b);
  json_init(&w, &b);
  json_array_begin(&w);
  json_double(&w, NAN);
  json_double(&w, INFINITY);
  json_array_end(&w);
  wire_buf_put(&b, "", 1);
  assert_string_equal(b.data, "[null,null]");
  wire_buf_free(&b);
}

static void test_integers_are_read_exactly(void **state) {
  (void)state;
  const char *src = "[9223372036854775807,-9223372036854775808,"
                    "9223372036854775808,1.5,1e3]";
  json_doc *d = json_parse(src, strlen(src), NULL, 0);
  assert_non_null(d);
  const json_value *v = json_root(d)->child;
  int64_t x;
  assert_int_equal(json_to_i64(v, &x), 0);
  assert_true(x == INT64_MAX);
  v = v->next;
  assert_int_equal(json_to_i64(v, &x), 0);
  assert_true(x == INT64_MIN);
  for (v = v->next; v; v = v->next) assert_int_equal(json_to_i64(v, &x), -1);
  json_doc_free(d);
}

static void test_malformed_documents_are_refused_with_offsets(void **state) {
  (void)state;
  static const char *const bad[] = {
    "", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "\"unterminated", "\"bad \\x escape\"",
    "\"\\ud800\"", "\"\\udc00x\"", "01", "1.", "-", "tru", "nul", "[1] [2]",
    "\"raw\ncontrol\"", "{1:2}", "[\"a\" \"b\"]", "1e", "\"\\u12\"",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[128] = "";
    json_doc *d = json_parse(bad[i], strlen(bad[i]), err, sizeof err);
    if (d) fail_msg("accepted: %s", bad[i]);
    assert_non_null(strstr(err, "at byte"));
  }
}

static void test_nesting_beyond_the_limit_is_refused(void **state) {
  (void)state;
  size_t n = JSON_MAX_DEPTH + 1;
  char *s = malloc(2 * n);
  assert_non_null(s);
  memset(s, '[', n);
  memset(s + n, ']', n);
  json_doc *d = json_parse(s, 2 * n, NULL, 0);
  assert_null(d);
  d = json_parse(s + 1, 2 * n - 2, NULL, 0);   /* exactly at the limit */
  assert_non_null(d);
  json_doc_free(d);
  free(s);
}

static void test_emit_reproduces_a_document(void **state) {
  (void)state;
  const char *src = "{\"a\":[1,2.50,{\"b\":\"x\\u0000y\\uf7ff\"}],\"c\":true,\"d\":null}";
  json_doc *d = json_parse(src, strlen(src), NULL, 0);
  assert_non_null(d);
  wire_buf b;
  json_writer w;
  wire_buf_init(&b);
  json_init(&w, &b);
  json_emit(&w, json_root(d));
  assert_true(json_ok(&w));
  wire_buf_put(&b, "", 1);
  /* \uf7ff decodes to the byte 0xFF, which is written back the same way. */
  assert_string_equal(b.data, "{\"a\":[1,2.50,{\"b\":\"x\\u0000y\\uf7ff\"}],\"c\":true,\"d\":null}");
  assert_string_equal(json_get_str(json_root(d), "missing") ? "x" : "none", "none");
  json_doc_free(d);
  wire_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_single_byte_round_trips),
    cmocka_unit_test(test_every_byte_pair_round_trips),
    cmocka_unit_test(test_random_strings_round_trip),
    cmocka_unit_test(test_private_use_f7_characters_are_sent_as_their_bytes),
    cmocka_unit_test(test_valid_utf8_is_written_as_itself),
    cmocka_unit_test(test_invalid_utf8_forms_become_single_bytes),
    cmocka_unit_test(test_writer_places_commas_and_refuses_misuse),
    cmocka_unit_test(test_doubles_read_back_exactly_and_nonfinite_is_null),
    cmocka_unit_test(test_integers_are_read_exactly),
    cmocka_unit_test(test_malformed_documents_are_refused_with_offsets),
    cmocka_unit_test(test_nesting_beyond_the_limit_is_refused),
    cmocka_unit_test(test_emit_reproduces_a_document),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
