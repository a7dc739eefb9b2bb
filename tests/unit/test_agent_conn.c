/*
** test_agent_conn.c
** The agent's connection against a loopback test server: the login, and
** that the VM never waits on the network (absent server, restarts,
** garbage from the server, a slow reader of a big snapshot).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_agent_peer.h"

/* Poll the agent until the peer has a message named name. */
static tmsg *pump_until(amber_agent *a, peer *p, const char *name, int ms) {
  uint64_t end = peer_now_ms() + (uint64_t)ms;
  while (peer_now_ms() < end) {
    tmsg *m;
    amber_poll(a);
    if (p->fd < 0 && peer_accept(p, 5) != 0) continue;
    if ((m = peer_wait(p, name, 10)) != NULL) return m;
  }
  return NULL;
}

static void test_login_names_machine_vm_version_pid_and_features(void **state) {
  peer p;
  char addr[64], err[256], pid[32];
  amber_options o;
  lua_State *L = luaL_newstate();
  amber_agent *a;
  tmsg *m;
  (void)state;
  assert_int_equal(peer_listen(&p, 0), 0);
  peer_address(&p, addr, sizeof addr);
  amber_options_init(&o);
  o.name = "demo.lua";
  o.poll_signal = 0;                  /* this host polls by itself */
  a = amber_attach(L, addr, &o, err, sizeof err);
  assert_non_null(a);
  m = pump_until(a, &p, "login", 3000);
  assert_non_null(m);
  assert_string_equal(tattr(m->items, "name"), "demo.lua");
  assert_string_equal(tattr(m->items, "value"), LUA_RELEASE);
  assert_string_equal(tattr(m->items, "vm"), "lua");
  assert_string_equal(tattr(m->items, "version"), "5.4.4");
  snprintf(pid, sizeof pid, "%ld", (long)getpid());
  assert_string_equal(tattr(m->items, "pid"), pid);
  assert_string_equal(tattr(m->items, "features"), "snapshot restore binary");
  assert_true(amber_connected(a));
  tmsg_free(m);
  lua_close(L);                       /* detaches through the registry */
  peer_close(&p);
}

static void test_agent_reconnects_after_the_server_restarts(void **state) {
  peer p;
  char addr[64], err[256];
  amber_options o;
  lua_State *L = luaL_newstate();
  amber_agent *a;
  tmsg *m;
  int port;
  uint64_t end;
  (void)state;
  assert_int_equal(peer_listen(&p, 0), 0);
  port = p.port;
  peer_address(&p, addr, sizeof addr);
  amber_options_init(&o);
  o.poll_signal = 0;                  /* this host polls by itself */
  o.backoff_min_ms = 10;
  o.backoff_max_ms = 80;
  a = amber_attach(L, addr, &o, err, sizeof err);
  assert_non_null(a);
  m = pump_until(a, &p, "login", 3000);
  assert_non_null(m);
  tmsg_free(m);
  peer_close(&p);                     /* the server goes away … */
  end = peer_now_ms() + 3000;
  while (amber_connected(a) && peer_now_ms() < end) {
    amber_poll(a);
    usleep(2000);
  }
  assert_false(amber_connected(a));
  for (int i = 0; i < 5; i++) {       /* … refuses for a while … */
    amber_poll(a);
    usleep(20000);
  }
  assert_false(amber_connected(a));
  assert_int_equal(peer_listen(&p, port), 0);   /* … and comes back */
  m = pump_until(a, &p, "login", 3000);
  assert_non_null(m);
  tmsg_free(m);
  lua_close(L);
  peer_close(&p);
}

/* Seconds a CPU-bound loop takes, with or without an agent dialing addr. */
static double loop_seconds(const char *addr) {
  static const char *loop =
    "local x = 0 for i = 1, 6000000 do x = x + i % 7 end return x";
  vm_run r;
  amber_options o;
  amber_options_init(&o);
  o.backoff_min_ms = 20;
  o.backoff_max_ms = 100;
  vm_start(&r, loop, addr, &o, 0);
  if (vm_join(&r, 30000) != 0) return 1e9;
  return r.status == LUA_OK ? r.seconds : 1e9;
}

static void test_absent_server_leaves_the_program_at_full_speed(void **state) {
  peer p;
  char addr[64];
  double with = 1e9, without = 1e9;
  (void)state;
  assert_int_equal(peer_listen(&p, 0), 0);   /* a port nobody listens on */
  peer_address(&p, addr, sizeof addr);
  peer_close(&p);
  for (int i = 0; i < 3; i++) {              /* best of three: shared cores */
    double t = loop_seconds(NULL);
    if (t < without) without = t;
    t = loop_seconds(addr);
    if (t < with) with = t;
  }
  print_message("loop: %.3f s without the agent, %.3f s with it and no "
                "server\n", without, with);
  assert_true(without < 100);
  assert_true(with < without * 1.25 + 0.02);
}

static void test_refused_connections_back_off_instead_of_spinning(void **state) {
  peer p;
  char addr[64], err[256];
  amber_options o;
  lua_State *L = luaL_newstate();
  amber_agent *a;
  uint64_t end;
  long attempts;
  (void)state;
  assert_int_equal(peer_listen(&p, 0), 0);
  peer_address(&p, addr, sizeof addr);
  peer_close(&p);
  luaL_openlibs(L);
  luaL_requiref(L, "amber", alua_open, 1);
  lua_pop(L, 1);
  amber_options_init(&o);
  o.poll_signal = 0;                  /* this host polls by itself */
  o.backoff_min_ms = 10;
  o.backoff_max_ms = 40;
  a = amber_attach(L, addr, &o, err, sizeof err);
  assert_non_null(a);
  end = peer_now_ms() + 400;
  while (peer_now_ms() < end) amber_poll(a);     /* a host loop polling hard */
  assert_int_equal(luaL_dostring(L, "return amber.status().attempts"), LUA_OK);
  attempts = (long)lua_tointeger(L, -1);
  /* 10+20+40+40… ms between attempts: about 12 in 400 ms, not thousands */
  assert_true(attempts >= 3);
  assert_true(attempts <= 16);
  assert_false(amber_connected(a));
  lua_close(L);
}

static void test_garbage_from_the_server_drops_and_reconnects(void **state) {
  peer p;
  char addr[64], err[256];
  amber_options o;
  lua_State *L = luaL_newstate();
  amber_agent *a;
  tmsg *m;
  uint64_t end;
  (void)state;
  assert_int_equal(peer_listen(&p, 0), 0);
  peer_address(&p, addr, sizeof addr);
  amber_options_init(&o);
  o.poll_signal = 0;                  /* this host polls by itself */
  o.backoff_min_ms = 10;
  a = amber_attach(L, addr, &o, err, sizeof err);
  assert_non_null(a);
  m = pump_until(a, &p, "login", 3000);
  assert_non_null(m);
  tmsg_free(m);
  peer_send(&p, "<go><<<<&bogus;</gone>");
  end = peer_now_ms() + 3000;
  while (peer_now_ms() < end && peer_read(&p, 10) >= 0) amber_poll(a);
  peer_hangup(&p);                    /* the agent closed its side */
  m = pump_until(a, &p, "login", 3000);  /* and came back */
  assert_non_null(m);
  tmsg_free(m);
  lua_close(L);
  peer_close(&p);
}

/* Graph batches go as binary frames only to a debugger that said, after
** the login, that it accepts them; and a new connection starts over. */
static void snapshot_framing(int accept) {
  peer p;
  char addr[64];
  vm_run r;
  amber_options o;
  tmsg *m;
  uint64_t end;
  assert_int_equal(peer_listen(&p, 0), 0);
  peer_address(&p, addr, sizeof addr);
  amber_options_init(&o);
  o.login_wait_ms = 3000;
  vm_start(&r, "local t = {1, 2, 'three', {four = 4}}\n"
               "assert(amber.snapshot{})\n"
               "while not stop() do end\n"
               "return 'done'", addr, &o, 0);
  assert_int_equal(peer_accept(&p, 3000), 0);
  m = peer_wait(&p, "login", 3000);
  assert_non_null(m);
  assert_false(m->binary);
  tmsg_free(m);
  if (accept) peer_send(&p, "<accept features=\"binary\"/>");
  peer_send(&p, "<go/>");
  end = peer_now_ms() + 10000;
  m = NULL;
  while (peer_now_ms() < end && (m = peer_wait(&p, "graph", 1)) == NULL) usleep(1000);
  assert_non_null(m);
  assert_int_equal(m->binary, accept);
  assert_non_null(tfind(m->items, "n", NULL));
  tmsg_free(m);
  m = peer_wait(&p, "snapshot-end", 5000);
  assert_non_null(m);
  assert_false(m->binary);
  tmsg_free(m);
  atomic_store(&r.stop, 1);
  assert_int_equal(vm_join(&r, 10000), 0);
  assert_int_equal(r.status, LUA_OK);
  peer_close(&p);
}

static void test_graph_batches_are_frames_only_after_accept(void **state) {
  (void)state;
  snapshot_framing(0);
  snapshot_framing(1);
}

static const char *big_heap =
  "local big = {}\n"
  "for i = 1, 40000 do big[i] = { i, 'item' .. i } end\n"
  "local info = assert(amber.snapshot{})\n"
  "local pending = amber.status().pending\n"
  "local loops = 0\n"
  "while amber.status().pending > 0 and not stop() do\n"
  "  loops = loops + 1\n"
  "  for j = 1, 100 do big[j][1] = big[j][1] + 1 end\n"
  "end\n"
  "return string.format('%d %d %d %d', info.bytes, pending, loops,"
  " info.nodes)\n";

static void test_big_snapshot_to_a_slow_reader_does_not_stall_the_vm(void **state) {
  peer p;
  char addr[64];
  vm_run r;
  amber_options o;
  tmsg *m;
  long bytes = 0, pending = 0, loops = 0, nodes = 0;
  uint64_t end;
  (void)state;
  assert_int_equal(peer_listen(&p, 0), 0);
  peer_address(&p, addr, sizeof addr);
  p.slow = 32768;                     /* 32 KiB a read, 1 ms apart */
  amber_options_init(&o);
  o.login_wait_ms = 3000;             /* start once the server said go */
  vm_start(&r, big_heap, addr, &o, 0);
  assert_int_equal(peer_accept(&p, 3000), 0);
  m = peer_wait(&p, "login", 3000);
  assert_non_null(m);
  tmsg_free(m);
  peer_send(&p, "<go/>");
  end = peer_now_ms() + 20000;
  m = NULL;
  while (peer_now_ms() < end && (m = peer_wait(&p, "snapshot-end", 1)) == NULL)
    usleep(1000);
  atomic_store(&r.stop, 1);
  assert_int_equal(vm_join(&r, 10000), 0);
  if (r.status != LUA_OK || m == NULL)
    print_message("script: %s; the peer got %zu bytes\n", r.result, p.bytes);
  assert_int_equal(r.status, LUA_OK);
  assert_non_null(m);
  assert_int_equal(sscanf(r.result, "%ld %ld %ld %ld", &bytes, &pending,
                          &loops, &nodes), 4);
  print_message("snapshot of %ld bytes: %ld still queued when "
                "amber.snapshot returned; the VM ran %ld loops meanwhile\n",
                bytes, pending, loops);
  assert_true(bytes > 1000000);
  assert_true(pending > 0);           /* the walk did not wait for the socket */
  assert_true(loops > 10);            /* the program ran while bytes left */
  assert_int_equal(strtol(tattr(m->items, "nodes"), NULL, 10), nodes);
  tmsg_free(m);
  peer_close(&p);
}

static void test_snapshot_over_the_queue_bound_is_refused_cleanly(void **state) {
  peer p;
  char addr[64];
  vm_run r;
  amber_options o;
  tmsg *m;
  static const char *script =
    "local big = {}\n"
    "for i = 1, 20000 do big[i] = 'item' .. i end\n"
    "local ok, err = amber.snapshot{}\n"
    "return tostring(ok) .. ' ' .. tostring(err)\n";
  (void)state;
  assert_int_equal(peer_listen(&p, 0), 0);
  peer_address(&p, addr, sizeof addr);
  amber_options_init(&o);
  o.queue_max = 64 << 10;
  o.login_wait_ms = 3000;
  vm_start(&r, script, addr, &o, 0);
  assert_int_equal(peer_accept(&p, 3000), 0);
  m = peer_wait(&p, "login", 3000);
  assert_non_null(m);
  tmsg_free(m);
  peer_send(&p, "<go/>");
  m = peer_wait(&p, "snapshot-error", 5000);
  assert_non_null(m);
  assert_non_null(strstr(tattr(m->items, "text"), "queue"));
  tmsg_free(m);
  assert_int_equal(vm_join(&r, 5000), 0);
  assert_non_null(strstr(r.result, "nil amber: snapshot"));
  assert_non_null(strstr(r.result, "queue_max"));
  peer_close(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_login_names_machine_vm_version_pid_and_features),
    cmocka_unit_test(test_agent_reconnects_after_the_server_restarts),
    cmocka_unit_test(test_absent_server_leaves_the_program_at_full_speed),
    cmocka_unit_test(test_refused_connections_back_off_instead_of_spinning),
    cmocka_unit_test(test_garbage_from_the_server_drops_and_reconnects),
    cmocka_unit_test(test_graph_batches_are_frames_only_after_accept),
    cmocka_unit_test(test_big_snapshot_to_a_slow_reader_does_not_stall_the_vm),
    cmocka_unit_test(test_snapshot_over_the_queue_bound_is_refused_cleanly),
  };
  return cmocka_run_group_tests_name("agent_conn", tests, NULL, NULL);
}
