/*
** test_agent_core.c
** The agent's VM-neutral pieces on their own: breakpoint matching, command
** decoding (every input is untrusted), address parsing and backoff.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "breakpoints.h"
#include "command.h"
#include "conn.h"
#include "wire.h"

/* ---- breakpoints ------------------------------------------------------------ */

static void test_breakpoint_matches_lua_source_by_path_suffix(void **state) {
  abpt_table t;
  (void)state;
  abpt_init(&t);
  assert_int_equal(abpt_set(&t, "app.lua", 7, 12), 0);
  assert_true(abpt_match(&t, "@app.lua", 8, 12));
  assert_true(abpt_match(&t, "@/srv/game/app.lua", 18, 12));
  assert_true(abpt_match(&t, "@./app.lua", 10, 12));
  assert_false(abpt_match(&t, "@myapp.lua", 10, 12));   /* not a dir boundary */
  assert_false(abpt_match(&t, "@app.lua", 8, 13));
  assert_false(abpt_match(&t, "@app.lua", 8, 12 + 1024)); /* same mask bit */
  abpt_free(&t);
}

static void test_breakpoint_full_path_matches_short_source(void **state) {
  abpt_table t;
  (void)state;
  abpt_init(&t);
  abpt_set(&t, "/home/me/proj/lib/util.lua", 26, 3);
  assert_true(abpt_match(&t, "@lib/util.lua", 13, 3));
  assert_false(abpt_match(&t, "@other/util.lua", 15, 3));
  abpt_free(&t);
}

static void test_breakpoint_set_twice_is_one_and_clear_removes_it(void **state) {
  abpt_table t;
  (void)state;
  abpt_init(&t);
  abpt_set(&t, "a.lua", 5, 1);
  abpt_set(&t, "@a.lua", 6, 1);
  assert_int_equal(abpt_count(&t), 1);
  assert_true(abpt_maybe(&t, 1));
  assert_int_equal(abpt_clear(&t, "a.lua", 5, 1), 1);
  assert_int_equal(abpt_clear(&t, "a.lua", 5, 1), 0);
  assert_int_equal(abpt_count(&t), 0);
  assert_false(abpt_maybe(&t, 1));
  abpt_free(&t);
}

static void test_breakpoint_table_refuses_more_than_its_bound(void **state) {
  abpt_table t;
  int i;
  (void)state;
  abpt_init(&t);
  for (i = 1; i <= ABPT_MAX; i++) assert_int_equal(abpt_set(&t, "x", 1, i), 0);
  assert_int_equal(abpt_set(&t, "x", 1, ABPT_MAX + 1), -1);
  assert_true(abpt_match(&t, "@x", 2, ABPT_MAX));
  abpt_clear_all(&t);
  assert_int_equal(abpt_count(&t), 0);
  abpt_free(&t);
}

/* ---- commands ------------------------------------------------------------------ */

typedef struct decoded {
  int n;
  acmd cmd[8];
  int rc[8];
  const char *why[8];
  acmd_snapshot snap;
  int snap_rc;
  const char *snap_why;
  char path[64];
} decoded;

static int on_cmd(void *ud, const wire_msg *m) {
  decoded *d = ud;
  const wire_elem *e;
  for (e = m->items; e && d->n < 8; e = e->next) {
    d->rc[d->n] = acmd_decode(e, &d->cmd[d->n], &d->why[d->n]);
    if (d->cmd[d->n].path)
      snprintf(d->path, sizeof d->path, "%.*s", (int)d->cmd[d->n].path_len,
               d->cmd[d->n].path);
    if (d->cmd[d->n].kind == ACMD_SNAPSHOT)
      d->snap_rc = acmd_snapshot_decode(e, &d->snap, &d->snap_why);
    d->n++;
  }
  return 0;
}

static void decode_text(decoded *d, const char *text) {
  wire_parser *p = wire_parser_new(NULL, on_cmd, d);
  memset(d, 0, sizeof *d);
  acmd_snapshot_init(&d->snap);
  assert_non_null(p);
  assert_int_equal(wire_parser_feed(p, text, strlen(text)), WIRE_OK);
  wire_parser_free(p);
}

static void test_xsbug_commands_decode_to_their_kinds(void **state) {
  decoded d;
  (void)state;
  decode_text(&d, "\r\n<go/>\r\n\r\n<step/>\r\n\r\n<step-inside/>\r\n"
                  "\r\n<step-outside/>\r\n\r\n<logout/>\r\n"
                  "\r\n<set-breakpoint path=\"app.lua\" line=\"12\"/>\r\n"
                  "\r\n<toggle id=\"@55D0C1A2B3C0\"/>\r\n\r\n<frobnicate/>\r\n");
  assert_int_equal(d.n, 8);
  assert_int_equal(d.cmd[0].kind, ACMD_GO);
  assert_int_equal(d.cmd[1].kind, ACMD_STEP);
  assert_int_equal(d.cmd[2].kind, ACMD_STEP_INSIDE);
  assert_int_equal(d.cmd[3].kind, ACMD_STEP_OUTSIDE);
  assert_int_equal(d.cmd[4].kind, ACMD_LOGOUT);
  assert_int_equal(d.cmd[5].kind, ACMD_SET_BREAKPOINT);
  assert_int_equal(d.cmd[5].line, 12);
  assert_string_equal(d.path, "app.lua");
  assert_int_equal(d.cmd[6].kind, ACMD_TOGGLE);
  assert_true(d.cmd[6].id == 0x55D0C1A2B3C0ull);
  assert_int_equal(d.cmd[7].kind, ACMD_UNKNOWN);
  assert_int_equal(d.rc[7], 0);
  acmd_snapshot_free(&d.snap);
}

static void test_malformed_commands_are_refused_with_a_reason(void **state) {
  decoded d;
  (void)state;
  decode_text(&d, "\r\n<set-breakpoint path=\"a.lua\"/>\r\n"
                  "\r\n<set-breakpoint path=\"a.lua\" line=\"-3\"/>\r\n"
                  "\r\n<set-breakpoint line=\"3\"/>\r\n"
                  "\r\n<select id=\"12\"/>\r\n"
                  "\r\n<toggle id=\"@12345678901234567\"/>\r\n"
                  "\r\n<select id=\"@XYZ\"/>\r\n"
                  "\r\n<snapshot/>\r\n");
  assert_int_equal(d.n, 7);
  for (int i = 0; i < 7; i++) {
    assert_int_equal(d.rc[i], -1);
    assert_non_null(d.why[i]);
  }
  acmd_snapshot_free(&d.snap);
}

static void test_ids_format_as_uppercase_hex_and_parse_back(void **state) {
  char out[18];
  uint64_t id;
  (void)state;
  acmd_format_id(0x55d0c1a2b3c0ull, out);
  assert_string_equal(out, "@55D0C1A2B3C0");
  assert_int_equal(acmd_parse_id(out, strlen(out), &id), 0);
  assert_true(id == 0x55d0c1a2b3c0ull);
  acmd_format_id(UINT64_MAX, out);
  assert_string_equal(out, "@FFFFFFFFFFFFFFFF");
  acmd_format_id(1, out);
  assert_string_equal(out, "@1");
}

static void test_snapshot_request_roots_and_exits_become_walk_names(void **state) {
  decoded d;
  (void)state;
  decode_text(&d, "\r\n<snapshot id=\"7\" label=\"before reload\">"
                  "<root name=\"globals\"/><root name=\"registry\"/>"
                  "<root path=\"app.state\"/><exit path=\"io.stdout\"/>"
                  "<exit path=\"app.cache\"/></snapshot>\r\n");
  assert_int_equal(d.snap_rc, 0);
  assert_true(d.snap.id == 7);
  assert_string_equal(d.snap.label, "before reload");
  assert_int_equal(d.snap.nroots, 3);
  assert_string_equal(d.snap.roots[0], "globals");
  assert_string_equal(d.snap.roots[1], "registry");
  assert_string_equal(d.snap.roots[2], "path:app.state");
  assert_int_equal(d.snap.nexits, 2);
  assert_string_equal(d.snap.exits[0], "io.stdout");
  assert_string_equal(d.snap.exits[1], "app.cache");
  acmd_snapshot_free(&d.snap);
}

static void test_snapshot_request_with_unknown_root_is_refused(void **state) {
  decoded d;
  (void)state;
  decode_text(&d, "\r\n<snapshot id=\"8\"><root name=\"everything\"/></snapshot>\r\n");
  assert_int_equal(d.snap_rc, -1);
  assert_non_null(strstr(d.snap_why, "unknown root"));
  acmd_snapshot_free(&d.snap);
  decode_text(&d, "\r\n<snapshot id=\"9\"><exit value=\"@1\"/></snapshot>\r\n");
  assert_int_equal(d.snap_rc, -1);
  acmd_snapshot_free(&d.snap);
}

/* ---- addresses and backoff ------------------------------------------------------ */

static void test_addresses_split_into_host_and_port(void **state) {
  char host[256], port[16];
  const char *why;
  (void)state;
  assert_int_equal(aconn_split_address("127.0.0.1:5002", host, sizeof host,
                                       port, sizeof port, &why), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_string_equal(port, "5002");
  assert_int_equal(aconn_split_address("[::1]:6000", host, sizeof host, port,
                                       sizeof port, &why), 0);
  assert_string_equal(host, "::1");
  assert_string_equal(port, "6000");
  assert_int_equal(aconn_split_address("localhost", host, sizeof host, port,
                                       sizeof port, &why), -1);
  assert_int_equal(aconn_split_address("h:99999", host, sizeof host, port,
                                       sizeof port, &why), -1);
  assert_int_equal(aconn_split_address(":5002", host, sizeof host, port,
                                       sizeof port, &why), -1);
  assert_int_equal(aconn_split_address("h:50x2", host, sizeof host, port,
                                       sizeof port, &why), -1);
}

static void test_bad_address_is_refused_before_any_attempt(void **state) {
  char err[256];
  (void)state;
  assert_null(aconn_new("nohostport", NULL, NULL, NULL, NULL, err, sizeof err));
  assert_non_null(strstr(err, "host:port"));
}

static void test_backoff_doubles_up_to_its_cap(void **state) {
  unsigned d = 100, seen[8];
  int i;
  (void)state;
  for (i = 0; i < 8; i++) {
    seen[i] = d;
    d = aconn_backoff_next(d, 100, 1000);
  }
  assert_int_equal(seen[0], 100);
  assert_int_equal(seen[1], 200);
  assert_int_equal(seen[2], 400);
  assert_int_equal(seen[3], 800);
  assert_int_equal(seen[4], 1000);
  assert_int_equal(seen[7], 1000);
  assert_int_equal(aconn_backoff_next(0xF0000000u, 1, 0xFFFFFFFFu), 0xFFFFFFFFu);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_breakpoint_matches_lua_source_by_path_suffix),
    cmocka_unit_test(test_breakpoint_full_path_matches_short_source),
    cmocka_unit_test(test_breakpoint_set_twice_is_one_and_clear_removes_it),
    cmocka_unit_test(test_breakpoint_table_refuses_more_than_its_bound),
    cmocka_unit_test(test_xsbug_commands_decode_to_their_kinds),
    cmocka_unit_test(test_malformed_commands_are_refused_with_a_reason),
    cmocka_unit_test(test_ids_format_as_uppercase_hex_and_parse_back),
    cmocka_unit_test(test_snapshot_request_roots_and_exits_become_walk_names),
    cmocka_unit_test(test_snapshot_request_with_unknown_root_is_refused),
    cmocka_unit_test(test_addresses_split_into_host_and_port),
    cmocka_unit_test(test_bad_address_is_refused_before_any_attempt),
    cmocka_unit_test(test_backoff_doubles_up_to_its_cap),
  };
  return cmocka_run_group_tests_name("agent_core", tests, NULL, NULL);
}
