/*
** test_wire_stream.c
** The incremental parser on well-formed streams: a corpus of xsbug and
** amber messages parses to the expected messages and exact offsets however
** it is split, and the quirks of real XS machines are survived.
*/
#include "test_wire_util.h"

static const char corpus[] =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
  "\r\n<xsbug><login name=\"app.lua\" value=\"Lua 5.4.4\" vm=\"lua\" features=\"snapshot restore\"/></xsbug>\r\n"
  "\r\n<go/>\r\n"
  "\r\n<set-breakpoint path=\"app.lua\" line=\"12\"/>\r\n"
  "<xsbug><break path=\"/mod/main.js\" line=\"3\"># Break: debugger!</break></xsbug>\r\n"
  "<xsbug><frames><frame name=\"main\" value=\"@1A2B\" path=\"/mod/main.js\" line=\"3\"/><frame name=\"(host)\" value=\"@1A00\"/></frames></xsbug>\r\n"
  "<xsbug><local name=\"main\" value=\"@1A2B\"><property flags=\"  \" name=\"s\" value=\"a&#1;b&#0;c&#x1f;&amp;&lt;&gt;&quot;\"/><property flags=\"- \" name=\"buf\" value=\"4 bytes <= 16 bytes\"><property flags=\" \" name=\"q\" value='1 < 2'/></property></local></xsbug>\r\n"
  "<xsbug><log>caf\xc3""\xa9"" \xe2""\x82""\xac"" &#10;tab&#9;cr&#13;ctl&#27;</log></xsbug>\r\n"
  "<!-- a comment between messages -->\r\n"
  "<xsbug><log><![CDATA[<raw> & ]]>after<?pi ignored?><!-- c -->end</log></xsbug>\r\n"
  "<xsbug><graph id=\"1\" seq=\"0\"><n i=\"0\" k=\"root\"><e k=\"root\" n=\"globals\" v=\"@1\"/></n><n i=\"1\" k=\"string\" v=\"hi&#xF700;there\"/></graph></xsbug>\r\n"
  "<xsbug  ><login  name = 'single quoted' value=\"x\" /></xsbug >\r\n";

/* Offsets and lengths worked out by hand from the corpus above (each
** message starts at its '<' and ends after its closing '>'). */
static const char corpus_expected[] =
  "42 93 #0 <xsbug><login name=\"app.lua\" value=\"Lua 5.4.4\" vm=\"lua\" features=\"snapshot restore\"/></xsbug>\n"
  "139 5 #1 bare <go/>\n"
  "148 42 #2 bare <set-breakpoint path=\"app.lua\" line=\"12\"/>\n"
  "192 77 #3 <xsbug><break path=\"/mod/main.js\" line=\"3\"># Break: debugger!</break></xsbug>\n"
  "271 131 #4 <xsbug><frames><frame name=\"main\" value=\"@1A2B\" path=\"/mod/main.js\" line=\"3\"/><frame name=\"(host)\" value=\"@1A00\"/></frames></xsbug>\n"
  "404 247 #5 <xsbug><local name=\"main\" value=\"@1A2B\"><property flags=\"  \" name=\"s\" value=\"a&#xF701;b&#xF700;c&#xF71F;&amp;&lt;&gt;&quot;\"/><property flags=\"- \" name=\"buf\" value=\"4 bytes &lt;= 16 bytes\"><property flags=\" \" name=\"q\" value=\"1 &lt; 2\"/></property></local></xsbug>\n"
  "653 63 #6 <xsbug><log>caf&#x00E9; &#x20AC; &#10;tab&#9;cr&#13;ctl&#xF71B;</log></xsbug>\n"
  "755 78 #7 <xsbug><log>&lt;raw&gt; &amp; afterend</log></xsbug>\n"
  "835 140 #8 <xsbug><graph id=\"1\" seq=\"0\"><n i=\"0\" k=\"root\"><e k=\"root\" n=\"globals\" v=\"@1\"/></n><n i=\"1\" k=\"string\" v=\"hi&#xF700;there\"/></graph></xsbug>\n"
  "977 61 #9 <xsbug><login name=\"single quoted\" value=\"x\"/></xsbug>\n";

static void expect_stream(const char *s, size_t n, const char *expected) {
  char *got = parse_whole(NULL, s, n, 0);
  assert_string_equal(got, expected);
  free(got);
}

static void test_corpus_parses_to_the_expected_messages(void **state) {
  (void)state;
  expect_stream(corpus, sizeof corpus - 1, corpus_expected);
}

static void test_corpus_split_at_every_byte_boundary(void **state) {
  size_t n = sizeof corpus - 1, k;
  (void)state;
  for (k = 1; k < n; k++) {
    size_t sizes[2] = {k, 0};
    outcome o;
    outcome_init(&o);
    run_stream(&o, NULL, corpus, n, sizes, 2, 0);
    if (strcmp(outcome_text(&o), corpus_expected) != 0)
      fail_msg("split at byte %zu differs:\n%s", k, outcome_text(&o));
    outcome_free(&o);
  }
}

static void test_corpus_one_byte_at_a_time(void **state) {
  size_t one = 1;
  outcome o;
  (void)state;
  outcome_init(&o);
  run_stream(&o, NULL, corpus, sizeof corpus - 1, &one, 1, 0);
  assert_string_equal(outcome_text(&o), corpus_expected);
  outcome_free(&o);
}

/* XS writes a message in many small writes; 1-3 byte pieces in a pattern
** that shifts against every token boundary. */
static void test_corpus_dribbled_in_one_to_three_byte_writes(void **state) {
  size_t sizes[] = {1, 3, 2, 2, 1, 3, 3, 1};
  size_t start;
  (void)state;
  for (start = 0; start < 8; start++) {
    size_t rot[8], i;
    outcome o;
    for (i = 0; i < 8; i++) rot[i] = sizes[(start + i) % 8];
    outcome_init(&o);
    run_stream(&o, NULL, corpus, sizeof corpus - 1, rot, 8, 0);
    assert_string_equal(outcome_text(&o), corpus_expected);
    outcome_free(&o);
  }
}

/* A message split at every pair of byte boundaries (three pieces). */
static void test_message_split_in_three_at_every_pair_of_boundaries(void **state) {
  static const char m[] =
    "\r\n<xsbug><local name=\"f\" value=\"@1\"><property flags=\" \" name=\"x\" "
    "value=\"a&#1;<b\"/></local></xsbug>\r\n";
  size_t n = sizeof m - 1, a, b;
  char *whole = parse_whole(NULL, m, n, 0);
  (void)state;
  assert_string_equal(whole,
    "2 96 #0 <xsbug><local name=\"f\" value=\"@1\"><property flags=\" \" name=\"x\" "
    "value=\"a&#xF701;&lt;b\"/></local></xsbug>\n");
  for (a = 1; a < n; a++) {
    for (b = a + 1; b < n; b++) {
      size_t sizes[3] = {a, b - a, 0};
      outcome o;
      outcome_init(&o);
      run_stream(&o, NULL, m, n, sizes, 3, 0);
      if (strcmp(outcome_text(&o), whole) != 0)
        fail_msg("split at %zu and %zu differs:\n%s", a, b, outcome_text(&o));
      outcome_free(&o);
    }
  }
  free(whole);
}

/* ---- reading single messages ----------------------------------------- */

typedef struct first {
  wire_buf name, value, text;
  int wrapped, got;
  size_t nitems;
} first;

/* Record the first item's name, its first attribute and its text. */
static int take_first(void *ud, const wire_msg *m) {
  first *f = ud;
  const wire_elem *it;
  if (f->got++) return 0;
  f->wrapped = m->wrapped;
  for (it = m->items; it != NULL; it = it->next) f->nitems++;
  if (m->items == NULL) return 0;
  wire_buf_puts(&f->name, m->items->name);
  if (m->items->nattrs > 0)
    wire_buf_put(&f->value, m->items->attrs[0].value, m->items->attrs[0].len);
  wire_buf_put(&f->text, m->items->text, m->items->text_len);
  return 0;
}

static void parse_first(first *f, const char *s) {
  wire_parser *p = wire_parser_new(NULL, take_first, f);
  memset(f, 0, sizeof *f);
  assert_non_null(p);
  assert_int_equal(wire_parser_feed(p, s, strlen(s)), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  assert_int_equal(f->got, 1);
  wire_parser_free(p);
}

static void free_first(first *f) {
  wire_buf_free(&f->name);
  wire_buf_free(&f->value);
  wire_buf_free(&f->text);
}

static void test_xs_raw_lt_in_attribute_value_is_repaired(void **state) {
  first f;
  (void)state;
  parse_first(&f, "<xsbug><property flags=\" \" value=\"4 bytes <= 16 bytes\" name=\"x\"/></xsbug>");
  assert_int_equal(f.value.len, 1);
  assert_memory_equal(f.value.data, " ", 1);
  free_first(&f);
  parse_first(&f, "<xsbug><property value=\"4 bytes <= 16 bytes\"/></xsbug>");
  assert_int_equal(f.value.len, 19);
  assert_memory_equal(f.value.data, "4 bytes <= 16 bytes", 19);
  free_first(&f);
  parse_first(&f, "<xsbug><property value='<<<'/></xsbug>");
  assert_int_equal(f.value.len, 3);
  assert_memory_equal(f.value.data, "<<<", 3);
  free_first(&f);
}

static void test_xs_control_character_references_decode_to_their_bytes(void **state) {
  static const char want[] = {1, 0, 0x1f, 8, '\t', '\n', '\r', 'A', 0x7f, 0x0b};
  first f;
  (void)state;
  parse_first(&f, "<xsbug><log v=\"&#1;&#0;&#x1F;&#x0008;&#9;&#10;&#13;&#65;&#127;&#11;\"/></xsbug>");
  assert_int_equal(f.value.len, sizeof want);
  assert_memory_equal(f.value.data, want, sizeof want);
  free_first(&f);
  parse_first(&f, "<xsbug><log>&#1;&#0;&#x1F;&#x0008;&#9;&#10;&#13;&#65;&#127;&#11;</log></xsbug>");
  assert_int_equal(f.text.len, sizeof want);
  assert_memory_equal(f.text.data, want, sizeof want);
  free_first(&f);
}

/* XS writes U+0080 as the lone byte 0x80, a lone surrogate as its CESU-8
** bytes, and U+F7xx as plain UTF-8: the filter turns what is not UTF-8 of an
** XML character, and raw U+F7xx, into references that decode to the very
** bytes sent; a reference &#xF741; still means the byte 0x41. */
static void test_xs_bytes_that_are_not_utf8_decode_to_themselves(void **state) {
  static const struct { const char *xml, *want; size_t len; } cases[] = {
    {"<xsbug><p value=\"'u80\x80'\"/></xsbug>", "'u80\x80'", 6},
    {"<xsbug><p value=\"'sur\xED\xA0\x80'\"/></xsbug>", "'sur\xED\xA0\x80'", 8},
    {"<xsbug><p value=\"'pua\xEF\x9D\x81'\"/></xsbug>", "'pua\xEF\x9D\x81'", 8},
    {"<xsbug><p value=\"'emoji\xF0\x9F\x98\x80'\"/></xsbug>", "'emoji\xF0\x9F\x98\x80'", 11},
    {"<xsbug><p value=\"\xEF\xBF\xBE|\xC0\x80|\xE2\x82|\xF4\x90\x80\x80\"/></xsbug>",
     "\xEF\xBF\xBE|\xC0\x80|\xE2\x82|\xF4\x90\x80\x80", 14},
    {"<xsbug><p value='&#xF741;\xEF\x9D\x81'/></xsbug>", "A\xEF\x9D\x81", 4},
  };
  size_t i;
  first f;
  (void)state;
  for (i = 0; i < sizeof cases / sizeof *cases; i++) {
    char text[128];
    parse_first(&f, cases[i].xml);
    assert_int_equal(f.value.len, cases[i].len);
    assert_memory_equal(f.value.data, cases[i].want, cases[i].len);
    free_first(&f);
    /* the same bytes as text */
    snprintf(text, sizeof text, "<xsbug><log>%.*s</log></xsbug>", (int)cases[i].len,
             cases[i].want);
    if (memchr(cases[i].want, 'A', cases[i].len) == NULL) {
      parse_first(&f, text);
      assert_int_equal(f.text.len, cases[i].len);
      assert_memory_equal(f.text.data, cases[i].want, cases[i].len);
      free_first(&f);
    }
  }
}

static void test_non_utf8_bytes_parse_the_same_at_every_split(void **state) {
  static const char s[] =
    "\r\n<xsbug><local><property name=\"s\" value=\"'a\x80\xED\xA0\x80\xEF\x9D\x81\xF0\x9F\x98\x80"
    "\xE2\x82\xAC\xE2\x82'\"/><log>t\xC3\xA9\x80\xE2\x82\xAC\xE2</log></local></xsbug>\r\n<go/>";
  size_t n = sizeof s - 1, k, one = 1;
  char *whole = parse_whole(NULL, s, n, 0);
  outcome o;
  (void)state;
  assert_string_equal(whole,
    "2 97 #0 <xsbug><local><property name=\"s\" value=\"'a&#xF780;&#xF7ED;&#xF7A0;&#xF780;"
    "&#xF7EF;&#xF79D;&#xF781;&#x1F600;&#x20AC;&#xF7E2;&#xF782;'\"/>"
    "<log>t&#x00E9;&#xF780;&#x20AC;&#xF7E2;</log></local></xsbug>\n"
    "101 5 #1 bare <go/>\n");
  for (k = 1; k < n; k++) {
    size_t sizes[2] = {k, 0};
    outcome_init(&o);
    run_stream(&o, NULL, s, n, sizes, 2, 0);
    if (strcmp(outcome_text(&o), whole) != 0) fail_msg("split at %zu:\n%s", k, outcome_text(&o));
    outcome_free(&o);
  }
  outcome_init(&o);
  run_stream(&o, NULL, s, n, &one, 1, 0);
  assert_string_equal(outcome_text(&o), whole);
  outcome_free(&o);
  free(whole);
}

static void test_raw_utf8_passes_through_unchanged(void **state) {
  static const char s[] = "<xsbug><log>\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xc3\xa9</log></xsbug>";
  first f;
  (void)state;
  parse_first(&f, s);
  assert_int_equal(f.text.len, 14);
  assert_memory_equal(f.text.data, "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xc3\xa9", 14);
  free_first(&f);
}

/* What an XS machine (xsnap) sends when it connects and breaks, as bytes. */
static void test_xs_login_and_break_samples(void **state) {
  static const char s[] =
    "\r\n<xsbug><login name=\"xsnap 1\" value=\"XS 11.7.0, slot 32 bytes, ID 32 bits\"/></xsbug>\r\n"
    "\r\n<xsbug><break path=\"/tmp/app.js\" line=\"2\"># Break: debugger!\n</break></xsbug>\r\n"
    "\r\n<xsbug><frames><frame name=\"(function)\" value=\"@56012C9F4E10\" path=\"/tmp/app.js\" line=\"2\"></frame>"
    "<frame name=\"(host)\" value=\"@56012C9F4DB0\"></frame></frames></xsbug>\r\n"
    "\r\n<xsbug><local name=\"(function)\" value=\"@56012C9F4E10\"><property flags=\"  cEw_\" name=\"buf\" "
    "value=\"4 bytes <= 16 bytes\"/><property flags=\"+  cEw_\" name=\"o\" value=\"@56012C9F5A20\"/></local></xsbug>\r\n";
  char *got = parse_whole(NULL, s, sizeof s - 1, 0);
  (void)state;
  assert_string_equal(got,
    "2 83 #0 <xsbug><login name=\"xsnap 1\" value=\"XS 11.7.0, slot 32 bytes, ID 32 bits\"/></xsbug>\n"
    "89 77 #1 <xsbug><break path=\"/tmp/app.js\" line=\"2\"># Break: debugger!&#10;</break></xsbug>\n"
    "170 166 #2 <xsbug><frames><frame name=\"(function)\" value=\"@56012C9F4E10\" path=\"/tmp/app.js\" line=\"2\"/>"
    "<frame name=\"(host)\" value=\"@56012C9F4DB0\"/></frames></xsbug>\n"
    "340 193 #3 <xsbug><local name=\"(function)\" value=\"@56012C9F4E10\"><property flags=\"  cEw_\" name=\"buf\" "
    "value=\"4 bytes &lt;= 16 bytes\"/><property flags=\"+  cEw_\" name=\"o\" value=\"@56012C9F5A20\"/></local></xsbug>\n");
  free(got);
}

static void test_bare_commands_are_single_item_messages(void **state) {
  static const char s[] = "\r\n<go/>\r\n\r\n<toggle id=\"@1A2B\"/>\r\n<set-all-breakpoints><breakpoint path=\"a\" line=\"1\"/></set-all-breakpoints>";
  char *got = parse_whole(NULL, s, sizeof s - 1, 0);
  (void)state;
  assert_string_equal(got,
    "2 5 #0 bare <go/>\n"
    "11 20 #1 bare <toggle id=\"@1A2B\"/>\n"
    "33 74 #2 bare <set-all-breakpoints><breakpoint path=\"a\" line=\"1\"/></set-all-breakpoints>\n");
  free(got);
}

static void test_items_are_siblings_with_no_parent(void **state) {
  first f;
  (void)state;
  parse_first(&f, "<xsbug><a/><b/><c/></xsbug>");
  assert_int_equal(f.wrapped, 1);
  assert_int_equal(f.nitems, 3);
  free_first(&f);
  parse_first(&f, "<xsbug/>");
  assert_int_equal(f.wrapped, 1);
  assert_int_equal(f.nitems, 0);
  free_first(&f);
}

static int check_tree(void *ud, const wire_msg *m) {
  const wire_elem *local = m->items, *p1, *p2;
  int64_t line;
  uint64_t u;
  size_t len;
  (void)ud;
  assert_null(local->parent);
  assert_string_equal(local->name, "local");
  p1 = wire_child(local, "property");
  assert_non_null(p1);
  assert_ptr_equal(p1->parent, local);
  p2 = p1->next;
  assert_non_null(p2);
  assert_string_equal(wire_get(p2, "name", &len), "y");
  assert_int_equal(len, 1);
  assert_null(wire_get(p2, "missing", &len));
  assert_int_equal(wire_get_i64(local, "line", &line), 0);
  assert_int_equal(line, -12);
  assert_int_equal(wire_get_u64(local, "line", &u), -1);
  assert_int_equal(wire_get_i64(local, "name", &line), -1);
  assert_null(wire_child(p2, "property"));
  assert_string_equal(local->text, "abc");
  assert_int_equal(local->text_len, 3);
  return 0;
}

static void test_tree_accessors_and_text_concatenation(void **state) {
  static const char s[] = "<local name=\"f\" line=\"-12\">a<property name=\"x\"/>b<property name=\"y\"/>c</local>";
  wire_parser *p = wire_parser_new(NULL, check_tree, NULL);
  (void)state;
  assert_int_equal(wire_parser_feed(p, s, sizeof s - 1), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  wire_parser_free(p);
}

static void test_xml_declaration_only_at_the_start(void **state) {
  static const char late[] = "<go/><?xml version=\"1.0\"?><go/>";
  char *got;
  (void)state;
  expect_stream("  \r\n<?xml version=\"1.0\"?>\r\n<go/>", 32, "27 5 #0 bare <go/>\n");
  got = parse_whole(NULL, late, sizeof late - 1, 0);
  assert_non_null(strstr(got, "0 5 #0 bare <go/>\nerror syntax error at 5 (message 1 at 5)\n"));
  free(got);
}

static void test_empty_and_whitespace_streams_are_fine(void **state) {
  (void)state;
  expect_stream("", 0, "");
  expect_stream("\r\n \t\r\n", 6, "");
}

/* The writer's output is what the parser reads back. */
static void test_writer_output_parses_back(void **state) {
  wire_buf b;
  char *got;
  (void)state;
  wire_buf_init(&b);
  wire_msg_begin(&b);
  wire_open(&b, "login");
  wire_attr_str(&b, "name", "a\"b<c>&d");
  wire_attr_i64(&b, "pid", -42);
  wire_attr_u64(&b, "big", UINT64_MAX);
  wire_attr_base64(&b, "p", "\0\1\2", 3);
  wire_empty_end(&b);
  wire_open(&b, "log");
  wire_open_end(&b);
  wire_text(&b, "x\r\ny\0", 5);
  wire_close(&b, "log");
  wire_msg_end(&b);
  wire_command(&b, "select", "id", "@1A2B");
  wire_command(&b, "go", NULL, NULL);
  assert_false(b.oom);
  got = parse_whole(NULL, b.data, b.len, 0);
  assert_string_equal(got,
    "2 127 #0 <xsbug><login name=\"a&quot;b&lt;c&gt;&amp;d\" pid=\"-42\" big=\"18446744073709551615\" p=\"AAEC\"/>"
    "<log>x&#13;&#10;y&#xF700;</log></xsbug>\n"
    "133 20 #1 bare <select id=\"@1A2B\"/>\n"
    "157 5 #2 bare <go/>\n");
  free(got);
  wire_buf_free(&b);
}

/* A message of many elements fills several arena blocks: every name and
** value must come back whole wherever a block ends, short or long, plain or
** with bytes that travel as U+F7xx references. */
typedef struct many_values {
  size_t n, bad;
} many_values;

static void value_bytes(size_t i, unsigned char *v, size_t *len) {
  size_t k;
  *len = (i * 37) % 300;
  for (k = 0; k < *len; k++) v[k] = (unsigned char)(i % 3 == 0 ? 'a' + (i + k) % 26 : (i * 7 + k * 13) % 256);
}

static int check_many_values(void *ud, const wire_msg *m) {
  many_values *mv = ud;
  const wire_elem *it;
  for (it = m->items; it != NULL; it = it->next) {
    unsigned char want[300];
    size_t wlen, glen;
    const char *got = wire_get(it, "value-of-a-longer-name", &glen);
    value_bytes(mv->n, want, &wlen);
    if (strcmp(it->name, "element-with-a-long-name") != 0 || it->nattrs != 2 ||
        strcmp(it->attrs[0].name, "k") != 0 || got == NULL || glen != wlen ||
        memcmp(got, want, wlen) != 0 || got[glen] != '\0')
      mv->bad++;
    mv->n++;
  }
  return 0;
}

static void test_values_survive_every_arena_block_boundary(void **state) {
  wire_buf b;
  many_values mv = {0, 0};
  wire_parser *p = wire_parser_new(NULL, check_many_values, &mv);
  size_t i;
  (void)state;
  wire_buf_init(&b);
  wire_msg_begin(&b);
  for (i = 0; i < 20000; i++) {
    unsigned char v[300];
    size_t len;
    value_bytes(i, v, &len);
    wire_open(&b, "element-with-a-long-name");
    wire_attr_str(&b, "k", "field");
    wire_attr(&b, "value-of-a-longer-name", v, len);
    wire_empty_end(&b);
  }
  wire_msg_end(&b);
  assert_false(b.oom);
  assert_int_equal(wire_parser_feed(p, b.data, b.len), WIRE_OK);
  assert_int_equal(wire_parser_finish(p), WIRE_OK);
  assert_int_equal(mv.n, 20000);
  assert_int_equal(mv.bad, 0);
  wire_parser_free(p);
  wire_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_corpus_parses_to_the_expected_messages),
    cmocka_unit_test(test_corpus_split_at_every_byte_boundary),
    cmocka_unit_test(test_corpus_one_byte_at_a_time),
    cmocka_unit_test(test_corpus_dribbled_in_one_to_three_byte_writes),
    cmocka_unit_test(test_message_split_in_three_at_every_pair_of_boundaries),
    cmocka_unit_test(test_xs_raw_lt_in_attribute_value_is_repaired),
    cmocka_unit_test(test_xs_control_character_references_decode_to_their_bytes),
    cmocka_unit_test(test_xs_bytes_that_are_not_utf8_decode_to_themselves),
    cmocka_unit_test(test_non_utf8_bytes_parse_the_same_at_every_split),
    cmocka_unit_test(test_raw_utf8_passes_through_unchanged),
    cmocka_unit_test(test_xs_login_and_break_samples),
    cmocka_unit_test(test_bare_commands_are_single_item_messages),
    cmocka_unit_test(test_items_are_siblings_with_no_parent),
    cmocka_unit_test(test_tree_accessors_and_text_concatenation),
    cmocka_unit_test(test_xml_declaration_only_at_the_start),
    cmocka_unit_test(test_empty_and_whitespace_streams_are_fine),
    cmocka_unit_test(test_writer_output_parses_back),
    cmocka_unit_test(test_values_survive_every_arena_block_boundary),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
