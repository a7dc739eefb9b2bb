/*
** test_agent_debug.c
** The xsbug debugger of the Lua agent, driven by a test server: breaks at
** breakpoints, frames, locals and upvalues as property trees, toggle,
** select, steps, pause, logout, amber.breakpoint, break on error, logs,
** and snapshot requests while running and while parked.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_agent_peer.h"

/* Start script waiting at its login; returns once the peer has the login. */
static void start_parked(vm_run *r, peer *p, const char *script,
                         amber_options *o, int msgh) {
  char addr[64];
  tmsg *m;
  amber_options def;
  assert_int_equal(peer_listen(p, 0), 0);
  peer_address(p, addr, sizeof addr);
  if (o == NULL) {
    amber_options_init(&def);
    o = &def;
  }
  o->login_wait_ms = 5000;
  vm_start(r, script, addr, o, msgh);
  assert_int_equal(peer_accept(p, 3000), 0);
  m = peer_wait(p, "login", 3000);
  assert_non_null(m);
  tmsg_free(m);
}

/* Expect a break at line with text; returns the <local> that follows. */
static tmsg *expect_break(peer *p, int line, const char *text,
                          tmsg **frames) {
  char want[16];
  tmsg *b = peer_wait(p, "break", 5000), *f, *l, *g;
  assert_non_null(b);
  snprintf(want, sizeof want, "%d", line);
  assert_string_equal(tattr(b->items, "path"), "t.lua");
  assert_string_equal(tattr(b->items, "line"), want);
  if (text) assert_string_equal(b->items->text, text);
  tmsg_free(b);
  f = peer_wait(p, "frames", 3000);
  l = peer_wait(p, "local", 3000);
  g = peer_wait(p, "global", 3000);
  assert_non_null(f);
  assert_non_null(l);
  assert_non_null(g);
  assert_non_null(tfind(g->items, "property", "string"));   /* a library */
  tmsg_free(g);
  if (frames) *frames = f; else tmsg_free(f);
  return l;
}

static const char *prop_value(const tmsg *local, const char *name) {
  const telem *e = tfind(local->items, "property", name);
  return e ? tattr(e, "value") : NULL;
}

static const char *steps_script =
  "local function add(a, b)\n"          /* 1 */
  "  local s = a + b\n"                 /* 2 */
  "  return s\n"                        /* 3 */
  "end\n"                               /* 4 */
  "local t = {x = 1, name = 'n'}\n"     /* 5 */
  "t.self = t\n"                        /* 6 */
  "local r = add(t.x, 2)\n"             /* 7 */
  "t.y = r\n"                           /* 8 */
  "return r\n";                         /* 9 */

static void test_breakpoint_frames_locals_toggle_select_and_steps(void **state) {
  vm_run r;
  peer p;
  tmsg *l, *f, *l2;
  const telem *t, *fr;
  char cmd[128];
  (void)state;
  start_parked(&r, &p, steps_script, NULL, 0);
  peer_send(&p, "<set-breakpoint path=\"t.lua\" line=\"7\"/>");
  peer_send(&p, "<go/>");

  l = expect_break(&p, 7, "breakpoint", &f);
  fr = f->items->children;
  assert_non_null(fr);
  assert_string_equal(tattr(fr, "name"), "main chunk");
  assert_string_equal(tattr(fr, "line"), "7");
  assert_string_equal(tattr(fr, "value"), "@1");
  tmsg_free(f);
  t = tfind(l->items, "property", "t");
  assert_non_null(t);
  assert_int_equal(tattr(t, "flags")[0], '+');           /* collapsed */
  assert_int_equal(tattr(t, "value")[0], '@');
  assert_non_null(tfind(l->items, "property", "add"));
  assert_null(tfind(l->items, "property", "r"));         /* not yet live */

  snprintf(cmd, sizeof cmd, "<toggle id=\"%s\"/>", tattr(t, "value"));
  peer_send(&p, cmd);                                     /* expand t */
  l2 = peer_wait(&p, "local", 3000);
  assert_non_null(l2);
  t = tfind(l2->items, "property", "t");
  assert_int_equal(tattr(t, "flags")[0], '-');
  assert_string_equal(tattr(tfind(t, "property", "x"), "value"), "1");
  assert_string_equal(tattr(tfind(t, "property", "name"), "value"), "'n'");
  /* t.self is t again: shown by its name path, not expanded forever */
  assert_string_equal(tattr(tfind(t, "property", "self"), "value"), "t");
  tmsg_free(l2);
  tmsg_free(l);

  peer_send(&p, "<step-inside/>");                        /* into add */
  l = expect_break(&p, 2, "step", &f);
  assert_string_equal(tattr(f->items->children, "name"), "add");
  assert_string_equal(tattr(f->items->children->next, "line"), "7");
  tmsg_free(f);
  assert_string_equal(prop_value(l, "a"), "1");
  assert_string_equal(prop_value(l, "b"), "2");
  tmsg_free(l);

  peer_send(&p, "<select id=\"@2\"/>");                   /* the caller */
  l = peer_wait(&p, "local", 3000);
  assert_non_null(l);
  assert_string_equal(tattr(l->items, "name"), "main chunk");
  assert_non_null(tfind(l->items, "property", "t"));
  tmsg_free(l);

  peer_send(&p, "<step/>");                               /* over: line 3 */
  l = expect_break(&p, 3, "step", NULL);
  assert_string_equal(prop_value(l, "s"), "3");
  tmsg_free(l);

  peer_send(&p, "<step-outside/>");                       /* back in main */
  l = expect_break(&p, 8, "step", NULL);
  assert_string_equal(prop_value(l, "r"), "3");
  tmsg_free(l);

  peer_send(&p, "<step/>");
  l = expect_break(&p, 9, "step", NULL);
  tmsg_free(l);
  peer_send(&p, "<go/>");
  assert_int_equal(vm_join(&r, 5000), 0);
  assert_int_equal(r.status, LUA_OK);
  assert_string_equal(r.result, "3");
  peer_close(&p);
}

static void test_step_over_does_not_stop_inside_the_called_function(void **state) {
  vm_run r;
  peer p;
  tmsg *l;
  (void)state;
  start_parked(&r, &p, steps_script, NULL, 0);
  peer_send(&p, "<set-all-breakpoints><breakpoint path=\"t.lua\" line=\"7\"/>"
                "</set-all-breakpoints>");
  peer_send(&p, "<go/>");
  l = expect_break(&p, 7, "breakpoint", NULL);
  tmsg_free(l);
  peer_send(&p, "<step/>");
  l = expect_break(&p, 8, "step", NULL);
  tmsg_free(l);
  peer_send(&p, "<clear-all-breakpoints/>");
  peer_send(&p, "<go/>");
  assert_int_equal(vm_join(&r, 5000), 0);
  assert_string_equal(r.result, "3");
  peer_close(&p);
}

static const char *loop_script =
  "local n = 0\n"
  "while not stop() do\n"
  "  n = n + 1\n"
  "  tick()\n"
  "end\n"
  "return n\n";

/* A snapshot request reaches a running loop; o chooses how it polls. */
static void snapshot_while_running(amber_options *o) {
  vm_run r;
  peer p;
  tmsg *m;
  long before, after;
  start_parked(&r, &p, loop_script, o, 0);
  peer_send(&p, "<go/>");
  while (atomic_load(&r.ticks) < 1000) usleep(1000);
  peer_send(&p, "<snapshot id=\"5\" label=\"mid-run\"><root name=\"globals\"/>"
                "<root name=\"stack\"/></snapshot>");
  m = peer_wait(&p, "snapshot-begin", 5000);
  assert_non_null(m);
  assert_string_equal(tattr(m->items, "id"), "5");
  assert_string_equal(tattr(m->items, "reason"), "request");
  assert_string_equal(tattr(m->items, "label"), "mid-run");
  tmsg_free(m);
  m = peer_wait(&p, "snapshot-end", 5000);
  assert_non_null(m);
  assert_string_equal(tattr(m->items, "id"), "5");
  assert_true(strtol(tattr(m->items, "nodes"), NULL, 10) > 10);
  tmsg_free(m);
  before = atomic_load(&r.ticks);
  usleep(50000);
  after = atomic_load(&r.ticks);
  assert_true(after > before);          /* the loop runs on after the walk */
  atomic_store(&r.stop, 1);
  assert_int_equal(vm_join(&r, 5000), 0);
  assert_int_equal(r.status, LUA_OK);
  peer_close(&p);
}

static void test_snapshot_request_is_answered_while_a_loop_runs(void **state) {
  (void)state;
  snapshot_while_running(NULL);        /* the signal-armed one-shot hook */
}

static void test_standing_count_hook_also_answers_while_running(void **state) {
  amber_options o;
  (void)state;
  amber_options_init(&o);
  o.poll_signal = 0;
  o.hook_count = 1000;
  snapshot_while_running(&o);
}

static void test_step_while_running_pauses_the_loop(void **state) {
  vm_run r;
  peer p;
  tmsg *b, *m;
  (void)state;
  start_parked(&r, &p, loop_script, NULL, 0);
  peer_send(&p, "<go/>");
  while (atomic_load(&r.ticks) < 100) usleep(1000);
  peer_send(&p, "<step/>");
  b = peer_wait(&p, "break", 5000);
  assert_non_null(b);
  assert_string_equal(tattr(b->items, "path"), "t.lua");
  assert_string_equal(b->items->text, "step");
  tmsg_free(b);
  /* parked: a snapshot now is of the stopped VM */
  peer_send(&p, "<snapshot id=\"6\"><root name=\"stack\"/></snapshot>");
  m = peer_wait(&p, "snapshot-begin", 5000);
  assert_non_null(m);
  assert_string_equal(tattr(m->items, "reason"), "break");
  tmsg_free(m);
  m = peer_wait(&p, "snapshot-end", 5000);
  assert_non_null(m);
  tmsg_free(m);
  peer_send(&p, "<go/>");
  atomic_store(&r.stop, 1);
  assert_int_equal(vm_join(&r, 5000), 0);
  assert_int_equal(r.status, LUA_OK);
  peer_close(&p);
}

static void test_logout_detaches_and_the_program_runs_on(void **state) {
  vm_run r;
  peer p;
  tmsg *l;
  static const char *script =
    "local v = 5\n"
    "amber.breakpoint('here')\n"
    "return tostring(amber.status().attached) .. ' ' .. v\n";
  (void)state;
  start_parked(&r, &p, script, NULL, 0);
  peer_send(&p, "<go/>");
  l = expect_break(&p, 2, "here", NULL);
  assert_string_equal(prop_value(l, "v"), "5");
  tmsg_free(l);
  peer_send(&p, "<logout/>");
  assert_int_equal(vm_join(&r, 5000), 0);
  assert_int_equal(r.status, LUA_OK);
  assert_string_equal(r.result, "false 5");
  assert_int_equal(peer_read(&p, 2000), -1);  /* the agent hung up */
  peer_close(&p);
}

static void test_print_and_amber_log_arrive_as_log_messages(void **state) {
  vm_run r;
  peer p;
  tmsg *m;
  static const char *script =
    "print('hello', 42, nil)\n"
    "amber.log('custom', true)\n"
    "return 1\n";
  (void)state;
  start_parked(&r, &p, script, NULL, 0);
  peer_send(&p, "<go/>");
  m = peer_wait(&p, "log", 3000);
  assert_non_null(m);
  assert_string_equal(m->items->text, "hello\t42\tnil");
  tmsg_free(m);
  m = peer_wait(&p, "log", 3000);
  assert_non_null(m);
  assert_string_equal(m->items->text, "custom\ttrue");
  tmsg_free(m);
  assert_int_equal(vm_join(&r, 5000), 0);
  peer_close(&p);
}

static void test_break_on_error_parks_then_the_crash_goes_to_the_server(void **state) {
  vm_run r;
  peer p;
  tmsg *l, *m;
  amber_options o;
  static const char *script =
    "local function f(x)\n"
    "  local y = x * 2\n"
    "  error('boom ' .. y)\n"
    "end\n"
    "f(21)\n";
  (void)state;
  amber_options_init(&o);
  o.break_on_error = 1;
  start_parked(&r, &p, script, &o, 1);
  peer_send(&p, "<go/>");
  l = expect_break(&p, 3, "t.lua:3: boom 42", NULL);
  assert_string_equal(tattr(l->items, "name"), "f");
  assert_string_equal(prop_value(l, "x"), "21");
  assert_string_equal(prop_value(l, "y"), "42");
  tmsg_free(l);
  peer_send(&p, "<go/>");
  m = peer_wait(&p, "snapshot-begin", 5000);
  assert_non_null(m);
  assert_string_equal(tattr(m->items, "reason"), "crash");
  assert_string_equal(tattr(m->items, "error"), "t.lua:3: boom 42");
  assert_non_null(strstr(tattr(m->items, "traceback"), "in local 'f'"));
  tmsg_free(m);
  m = peer_wait(&p, "snapshot-end", 5000);
  assert_non_null(m);
  tmsg_free(m);
  assert_int_equal(vm_join(&r, 5000), 0);
  assert_int_equal(r.status, LUA_ERRRUN);
  assert_non_null(strstr(r.result, "boom 42"));
  assert_non_null(strstr(r.result, "stack traceback"));
  peer_close(&p);
}

static void test_bad_commands_are_ignored_and_the_session_goes_on(void **state) {
  vm_run r;
  peer p;
  tmsg *m;
  (void)state;
  start_parked(&r, &p, steps_script, NULL, 0);
  peer_send(&p, "<set-breakpoint path=\"t.lua\"/>");           /* no line */
  peer_send(&p, "<toggle id=\"nothex\"/>");
  peer_send(&p, "<select id=\"@99\"/>");                       /* not parked */
  peer_send(&p, "<snapshot id=\"3\"><root name=\"bogus\"/></snapshot>");
  m = peer_wait(&p, "snapshot-error", 3000);
  assert_non_null(m);
  assert_string_equal(tattr(m->items, "id"), "3");
  assert_non_null(strstr(tattr(m->items, "text"), "unknown root"));
  tmsg_free(m);
  peer_send(&p, "<go/>");
  assert_int_equal(vm_join(&r, 5000), 0);
  assert_string_equal(r.result, "3");
  peer_close(&p);
}

static void test_restore_commands_reach_restore_and_are_answered(void **state) {
  vm_run r;
  peer p;
  tmsg *m;
  (void)state;
  start_parked(&r, &p, steps_script, NULL, 0);
  peer_send(&p, "<graph id=\"4\" seq=\"0\"/>");        /* no restore begun */
  m = peer_wait(&p, "restore-error", 3000);
  assert_non_null(m);
  assert_string_equal(tattr(m->items, "id"), "4");
  tmsg_free(m);
  peer_send(&p, "<restore id=\"9\" mode=\"merge\"/>");
  peer_send(&p, "<restore-end id=\"9\" nodes=\"1\" edges=\"0\" "
                "hash=\"0000000000000000\"/>");
  m = peer_wait(&p, "restore-error", 3000);               /* nothing came */
  assert_non_null(m);
  assert_string_equal(tattr(m->items, "id"), "9");
  tmsg_free(m);
  peer_send(&p, "<go/>");
  assert_int_equal(vm_join(&r, 5000), 0);
  assert_string_equal(r.result, "3");
  peer_close(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_breakpoint_frames_locals_toggle_select_and_steps),
    cmocka_unit_test(test_step_over_does_not_stop_inside_the_called_function),
    cmocka_unit_test(test_snapshot_request_is_answered_while_a_loop_runs),
    cmocka_unit_test(test_standing_count_hook_also_answers_while_running),
    cmocka_unit_test(test_step_while_running_pauses_the_loop),
    cmocka_unit_test(test_logout_detaches_and_the_program_runs_on),
    cmocka_unit_test(test_print_and_amber_log_arrive_as_log_messages),
    cmocka_unit_test(test_break_on_error_parks_then_the_crash_goes_to_the_server),
    cmocka_unit_test(test_bad_commands_are_ignored_and_the_session_goes_on),
    cmocka_unit_test(test_restore_commands_reach_restore_and_are_answered),
  };
  return cmocka_run_group_tests_name("agent_debug", tests, NULL, NULL);
}
