/*
** test_wire_tool.c
** amber-wire, the capture reader, run as a program: one line per message
** with exact offsets, errors with offsets, --resync, --raw with every
** control byte shown escaped, the summary on stderr, and its exit codes.
*/
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_wire_util.h"

static char tool[PATH_MAX];
static char dir[] = "/tmp/amber-wire-test-XXXXXX";

static int setup(void **state) {
  const char *b = getenv("AMBER_BUILD");
  (void)state;
  if (b != NULL) {
    if (snprintf(tool, sizeof tool, "%s/amber-wire", b) >= (int)sizeof tool) return -1;
  } else {
    /* run by hand: the tool sits beside the tests directory */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash;
    if (n <= 0) return -1;
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash == NULL) return -1;
    *slash = '\0';
    if (snprintf(tool, sizeof tool, "%s/../amber-wire", self) >= (int)sizeof tool) return -1;
  }
  if (access(tool, X_OK) != 0) {
    fprintf(stderr, "test_wire_tool: %s is missing; build it with make\n", tool);
    return -1;
  }
  return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[PATH_MAX + 16];
  (void)state;
  if (snprintf(cmd, sizeof cmd, "rm -rf %s", dir) >= (int)sizeof cmd) return -1;
  return system(cmd) == 0 ? 0 : -1;
}

typedef struct result {
  int status;
  char out[8192], err[1024];
} result;

static void slurp(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  size_t n = 0;
  if (f != NULL) {
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
  }
  buf[n] = '\0';
}

/* Run amber-wire with args on a capture holding data (stdin if args end
** with "-"). */
static void run_tool(result *r, const char *args, const void *data, size_t n) {
  char cap[PATH_MAX], out[PATH_MAX], err[PATH_MAX], cmd[4 * PATH_MAX];
  FILE *f;
  int st;
  assert_true(snprintf(cap, sizeof cap, "%s/capture.bin", dir) < (int)sizeof cap);
  assert_true(snprintf(out, sizeof out, "%s/out.txt", dir) < (int)sizeof out);
  assert_true(snprintf(err, sizeof err, "%s/err.txt", dir) < (int)sizeof err);
  f = fopen(cap, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  fclose(f);
  if (strlen(args) >= 1 && args[strlen(args) - 1] == '-')
    st = snprintf(cmd, sizeof cmd, "'%s' %s <'%s' >'%s' 2>'%s'", tool, args, cap, out, err);
  else
    st = snprintf(cmd, sizeof cmd, "'%s' %s '%s' >'%s' 2>'%s'", tool, args, cap, out, err);
  assert_true(st > 0 && (size_t)st < sizeof cmd);
  st = system(cmd);
  assert_true(WIFEXITED(st));
  r->status = WEXITSTATUS(st);
  slurp(out, r->out, sizeof r->out);
  slurp(err, r->err, sizeof r->err);
}

static const char good[] =
  "\r\n<xsbug><login name=\"app.lua\" value=\"Lua 5.4.4\"/></xsbug>\r\n"
  "\r\n<go/>\r\n<xsbug><log>a&#1;b\xc3\xa9&#10;</log></xsbug>";

static void test_each_message_is_one_line_with_its_offset_and_length(void **state) {
  result r;
  (void)state;
  run_tool(&r, "", good, sizeof good - 1);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out,
    "2 56 <xsbug><login name=\"app.lua\" value=\"Lua 5.4.4\"/></xsbug>\n"
    "62 5 <go/>\n"
    "69 39 <xsbug><log>a&#xF701;b&#x00E9;&#10;</log></xsbug>\n");
  assert_string_equal(r.err, "amber-wire: 3 messages, 0 errors, 108 bytes\n");
  /* the same from standard input */
  run_tool(&r, "-", good, sizeof good - 1);
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "62 5 <go/>\n"));
}

/* A binary frame prints as the XML it stands for; the summary counts it. */
static void test_frames_print_as_xml(void **state) {
  result r;
  wire_buf b;
  (void)state;
  wire_buf_init(&b);
  wire_buf_puts(&b, "<go/>");
  wire_frame_begin(&b, 1);
  wire_open(&b, "log");
  wire_attr(&b, "path", "a\0\"", 3);
  wire_open_end(&b);
  wire_text(&b, "x<y", 3);
  wire_close(&b, "log");
  wire_frame_end(&b);
  run_tool(&r, "", b.data, b.len);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "0 5 <go/>\n"
                             "5 27 <xsbug><log path=\"a&#xF700;&quot;\">x&lt;y</log></xsbug>\n");
  assert_string_equal(r.err, "amber-wire: 2 messages (1 as binary frame), 0 errors, 32 bytes\n");
  wire_buf_free(&b);
}

static const char damaged[] =
  "<xsbug><a/></xsbug>\r\n<xsbug><b></c></xsbug>\r\n<go/>\r\n<xsbug><d/></xsbug>\r\n";

static void test_errors_stop_the_reading_unless_resync(void **state) {
  result r;
  (void)state;
  run_tool(&r, "", damaged, sizeof damaged - 1);
  assert_int_equal(r.status, 1);
  assert_string_equal(r.out,
    "0 19 <xsbug><a/></xsbug>\n"
    "33 error: syntax error: mismatched tag, at byte 33 (message 1 at byte 21)\n");
  assert_string_equal(r.err, "amber-wire: 1 message, 1 error, 73 bytes\n");
  run_tool(&r, "--resync", damaged, sizeof damaged - 1);
  assert_int_equal(r.status, 1);
  assert_string_equal(r.out,
    "0 19 <xsbug><a/></xsbug>\n"
    "33 error: syntax error: mismatched tag, at byte 33 (message 1 at byte 21)\n"
    "52 19 <xsbug><d/></xsbug>\n");
}

static void test_truncated_capture_is_an_error_at_its_end(void **state) {
  result r;
  (void)state;
  run_tool(&r, "", "<go/><xsbug><a>", 15);
  assert_int_equal(r.status, 1);
  assert_string_equal(r.out,
    "0 5 <go/>\n"
    "15 error: stream truncated: stream ended inside a message, at byte 15 (message 1 at byte 5)\n");
}

static void test_raw_mode_never_prints_a_control_byte(void **state) {
  static const char s[] = "<xsbug><log a=\"\x1b[31m\\\">\xc3\xa9\x7f</log></xsbug>";
  result r;
  size_t i;
  (void)state;
  run_tool(&r, "--raw", s, sizeof s - 1);
  assert_int_equal(r.status, 1); /* the raw ESC and DEL: ESC is not XML */
  run_tool(&r, "--raw", good, sizeof good - 1);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out,
    "2 56 <xsbug><login name=\"app.lua\" value=\"Lua 5.4.4\"/></xsbug>\n"
    "62 5 <go/>\n"
    "69 39 <xsbug><log>a&#1;b\\xc3\\xa9&#10;</log></xsbug>\n");
  for (i = 0; r.out[i] != '\0'; i++)
    if ((unsigned char)r.out[i] < 0x20 && r.out[i] != '\n') fail_msg("control byte in output");
}

/* An edge run stays one element in the rendering: as compact as it
** travelled, and it reads back to the same edges. */
static void test_edge_runs_are_shown_as_sent(void **state) {
  static const char s[] =
    "\r\n<xsbug><graph id=\"1\" seq=\"0\"><n i=\"1\" k=\"table\">"
    "<r k=\"index\" i=\"1\" v=\"i:10 @2 f:0x1p-1 nil\"/><e k=\"field\" n=\"x\" v=\"true\"/>"
    "</n></graph></xsbug>\r\n";
  result r;
  (void)state;
  run_tool(&r, "", s, sizeof s - 1);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out,
    "2 142 <xsbug><graph id=\"1\" seq=\"0\"><n i=\"1\" k=\"table\">"
    "<r k=\"index\" i=\"1\" v=\"i:10 @2 f:0x1p-1 nil\"/><e k=\"field\" n=\"x\" v=\"true\"/>"
    "</n></graph></xsbug>\n");
}

static void test_help_and_usage_errors(void **state) {
  result r;
  char cmd[2 * PATH_MAX];
  int st;
  (void)state;
  run_tool(&r, "--help", "", 0);
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "usage: amber-wire [--resync] [--raw] [FILE|-]"));
  run_tool(&r, "--bogus", "", 0);
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, "unknown option --bogus"));
  st = snprintf(cmd, sizeof cmd, "'%s' %s/no-such-file 2>/dev/null", tool, dir);
  assert_true(st > 0 && (size_t)st < sizeof cmd);
  st = system(cmd);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_frames_print_as_xml),
    cmocka_unit_test(test_each_message_is_one_line_with_its_offset_and_length),
    cmocka_unit_test(test_errors_stop_the_reading_unless_resync),
    cmocka_unit_test(test_truncated_capture_is_an_error_at_its_end),
    cmocka_unit_test(test_raw_mode_never_prints_a_control_byte),
    cmocka_unit_test(test_edge_runs_are_shown_as_sent),
    cmocka_unit_test(test_help_and_usage_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
