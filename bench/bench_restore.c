/*
** bench_restore.c
** Restore time on fixed Lua heaps (1e6 integers, 1e5 records, 1e5 closures
** sharing an upvalue), against building the same heap natively in Lua in
** the same run. The records are a capture's bytes, as the agent writes
** them (graph batches in binary frames); the same graph as XML is measured
** alongside. Usage: bench_restore [--quick] [NAME-FILTER]
** (prints RESULT lines; medians of several runs; --quick runs fewer).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "restore.h"
#include "snapshot.h"

typedef struct workload {
  const char *name;
  const char *setup;   /* Lua code that builds global `data` */
  const char *check;   /* Lua expression true of a correct restore */
  double target_ms;    /* Eris's unpersist time for the same heap */
} workload;

static const workload workloads[] = {
  {"restore_1e6_ints",
   "data = {} for i = 1, 1000000 do data[i] = i end",
   "#data == 1000000 and data[777777] == 777777", 108},
  {"restore_1e5_records",
   "data = {} for i = 1, 100000 do "
   "data[i] = {x = i, y = i * 0.5, name = 'n' .. i} end",
   "#data == 100000 and data[4242].name == 'n4242' and data[3].y == 1.5", 91},
  {"restore_1e5_closures",
   "data = {} local shared = 0 for i = 1, 100000 do "
   "data[i] = function() shared = shared + 1 return shared end end",
   "data[1]() == 1 and data[100000]() == 2", 56},
};

static double now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static lua_State *fresh(void)
{
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "bench_restore: out of memory\n");
    exit(1);
  }
  luaL_openlibs(L);
  return L;
}

static void run_or_die(lua_State *L, const char *src)
{
  if (luaL_dostring(L, src) != LUA_OK) {
    fprintf(stderr, "bench_restore: %s\n", lua_tostring(L, -1));
    exit(1);
  }
  lua_settop(L, 0);
}

/* The baseline: the same heap built by Lua code in a fresh state. */
static double native_build(const workload *wl)
{
  lua_State *L = fresh();
  double t0 = now_ms();
  run_or_die(L, wl->setup);
  double t = now_ms() - t0;
  lua_close(L);
  return t;
}

static int bench(const workload *wl, int runs)
{
  static const char *const roots[] = {"globals"};
  alua_request req;
  const char *err = NULL;
  wire_buf bytes, xml;
  lua_State *src = fresh();
  run_or_die(src, wl->setup);
  memset(&req, 0, sizeof req);
  req.id = 1;
  req.roots = roots;
  req.nroots = 1;
  req.binary = 1;
  wire_buf_init(&bytes);
  wire_buf_init(&xml);
  if (alua_snapshot(src, &req, &bytes, NULL, &err) != 0) {
    fprintf(stderr, "bench_restore: snapshot failed: %s\n", err);
    return 1;
  }
  req.binary = 0;
  if (alua_snapshot(src, &req, &xml, NULL, &err) != 0) {
    fprintf(stderr, "bench_restore: snapshot failed: %s\n", err);
    return 1;
  }
  lua_close(src);

  double total[16], build[16], native[16], total_xml[16];
  alua_restore_opts o;
  memset(&o, 0, sizeof o);
  o.trust_bytecode = 1;
  uint64_t nodes = 0, edges = 0;
  for (int r = 0; r < runs; r++) {
    native[r] = native_build(wl);
    lua_State *L = fresh();
    alua_restore_report rep;
    alua_restore_report_init(&rep);
    double t0 = now_ms();
    int rc = alua_restore_bytes(L, bytes.data, bytes.len, 0, &o, &rep);
    total[r] = now_ms() - t0;
    build[r] = rep.build_ms;
    nodes = rep.nodes;
    edges = rep.edges;
    if (rc != 0) {
      fprintf(stderr, "bench_restore: %s: %s\n", wl->name, rep.error);
      return 1;
    }
    char check[512];
    snprintf(check, sizeof check, "assert(%s, 'restored heap is wrong')",
             wl->check);
    run_or_die(L, check);
    alua_restore_report_free(&rep);
    lua_close(L);
    /* the same graph from XML */
    L = fresh();
    alua_restore_report_init(&rep);
    t0 = now_ms();
    rc = alua_restore_bytes(L, xml.data, xml.len, 0, &o, &rep);
    total_xml[r] = now_ms() - t0;
    if (rc != 0) {
      fprintf(stderr, "bench_restore: %s (XML): %s\n", wl->name, rep.error);
      return 1;
    }
    alua_restore_report_free(&rep);
    lua_close(L);
  }
  double t = median(total, runs), b = median(build, runs);
  double n = median(native, runs), tx = median(total_xml, runs);
  printf("RESULT name=%s metric=restore_ms value=%.1f unit=ms baseline=%.1f "
         "limit=%.0f better=lower\n", wl->name, t, n, wl->target_ms);
  printf("RESULT name=%s metric=build_ms value=%.1f unit=ms baseline=%.1f\n",
         wl->name, b, n);
  printf("RESULT name=%s_xml metric=restore_ms value=%.1f unit=ms baseline=%.1f\n",
         wl->name, tx, n);
  fprintf(stderr, "bench_restore: %s: %llu nodes, %llu edges, %.1f MB of "
          "records; restore %.1f ms (records read %.1f, objects built %.1f), "
          "%.2fx native Lua's %.1f ms; target %.0f ms\n", wl->name,
          (unsigned long long)nodes, (unsigned long long)edges,
          (double)bytes.len / 1e6, t, t - b, b, t / n, n, wl->target_ms);
  wire_buf_free(&bytes);
  wire_buf_free(&xml);
  return 0;
}

int main(int argc, char **argv)
{
  int quick = 0;
  const char *filter = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = 1;
    else filter = argv[i];
  }
  for (size_t i = 0; i < sizeof workloads / sizeof *workloads; i++) {
    if (filter && !strstr(workloads[i].name, filter)) continue;
    if (bench(&workloads[i], quick ? 3 : 7)) return 1;
  }
  return 0;
}
