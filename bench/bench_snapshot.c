/*
** bench_snapshot.c
** VM pause of alua_snapshot on fixed Lua heaps (1e6 integers, 1e5 records,
** 1e5 closures sharing an upvalue, 1e7 integers), each against a bare
** lua_next walk over the same heap measured in the same run; also the CPU
** time of the VM's thread (the hash runs on a second one) and the bytes.
** Graph batches go as binary frames, as they do to amber's server and into
** capture files; the same snapshot as XML is measured alongside.
** Usage: bench_snapshot [--quick] [NAME-FILTER]   (prints RESULT lines,
** medians of several runs; --quick skips the 1e7 table)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "snapshot.h"

typedef struct workload {
  const char *name;
  const char *setup;   /* Lua code that builds global `data` */
  double target_ms;    /* Eris's persist time for the same heap; 0 = none */
  int runs;
} workload;

static const workload workloads[] = {
    {"snapshot_1e6_ints",
     "data = {} for i = 1, 1000000 do data[i] = i end", 127, 7},
    {"snapshot_1e5_records",
     "data = {} for i = 1, 100000 do "
     "data[i] = {x = i, y = i * 0.5, name = 'n' .. i} end", 94, 7},
    {"snapshot_1e5_closures",
     "data = {} local shared = 0 for i = 1, 100000 do "
     "data[i] = function() shared = shared + 1 return shared end end", 85, 7},
    {"snapshot_1e7_ints",
     "data = {} for i = 1, 10000000 do data[i] = i end", 0, 3},
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of the calling (the VM's) thread: unlike the pause, it does not
** grow when other processes take the cores, so runs on a busy machine stay
** comparable. */
static double thread_cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The baseline: lua_next over data and over every table it holds (what
** any walk must at least do), touching each key and value's type. */
static double bare_walk(lua_State *L, size_t *count) {
  double t0 = now_ms();
  size_t n = 0;
  lua_getglobal(L, "data");
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    n += (size_t)lua_type(L, -2);
    if (lua_type(L, -1) == LUA_TTABLE) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        n += (size_t)lua_type(L, -1);
        lua_pop(L, 1);
      }
    } else if (lua_type(L, -1) == LUA_TFUNCTION) {
      n += lua_getupvalue(L, -1, 1) != NULL;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  *count = n;
  return now_ms() - t0;
}

static int run(const workload *wl) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (luaL_dostring(L, wl->setup) != LUA_OK) {
    fprintf(stderr, "bench_snapshot: %s: %s\n", wl->name, lua_tostring(L, -1));
    return 1;
  }
  lua_gc(L, LUA_GCCOLLECT, 0);
  const char *roots[] = {"path:data"};
  alua_request req;
  memset(&req, 0, sizeof req);
  req.id = 1;
  req.roots = roots;
  req.nroots = 1;
  double pause[16], bare[16], cpu[16], pause_xml[16];
  alua_stats st;
  memset(&st, 0, sizeof st);
  size_t sink = 0, xml_bytes = 0;
  wire_buf out;
  wire_buf_init(&out);
  for (int r = 0; r < wl->runs; r++) {
    const char *err;
    bare[r] = bare_walk(L, &sink);
    /* XML first, then binary frames, in the same conditions */
    req.binary = 0;
    wire_buf_reset(&out);  /* keep the memory: measure the walk, not malloc */
    if (alua_snapshot(L, &req, &out, &st, &err) != 0) {
      fprintf(stderr, "bench_snapshot: %s: %s\n", wl->name, err);
      return 1;
    }
    pause_xml[r] = st.pause_ms;
    xml_bytes = out.len;
    req.binary = 1;
    wire_buf_reset(&out);
    double c0 = thread_cpu_ms();
    if (alua_snapshot(L, &req, &out, &st, &err) != 0) {
      fprintf(stderr, "bench_snapshot: %s: %s\n", wl->name, err);
      return 1;
    }
    cpu[r] = thread_cpu_ms() - c0;
    pause[r] = st.pause_ms;
  }
  double p = median(pause, wl->runs), b = median(bare, wl->runs);
  double c = median(cpu, wl->runs), px = median(pause_xml, wl->runs);
  if (wl->target_ms > 0)
    printf("RESULT name=%s metric=pause_ms value=%.1f unit=ms baseline=%.1f "
           "limit=%.0f better=lower\n", wl->name, p, b, wl->target_ms);
  else
    printf("RESULT name=%s metric=pause_ms value=%.1f unit=ms baseline=%.1f\n",
           wl->name, p, b);
  printf("RESULT name=%s metric=vm_thread_cpu_ms value=%.1f unit=ms "
         "baseline=%.1f\n", wl->name, c, b);
  printf("RESULT name=%s metric=bytes value=%zu unit=bytes\n", wl->name,
         out.len);
  printf("RESULT name=%s_xml metric=pause_ms value=%.1f unit=ms baseline=%.1f\n",
         wl->name, px, b);
  printf("RESULT name=%s_xml metric=bytes value=%zu unit=bytes\n", wl->name, xml_bytes);
  fprintf(stderr, "bench_snapshot: %s: %llu nodes, %llu edges, %.1f MB, "
          "pause %.1f ms (%.1fx the bare walk's %.1f ms), VM thread CPU "
          "%.1f ms [%zu]\n", wl->name, (unsigned long long)st.nodes,
          (unsigned long long)st.edges, (double)out.len / 1e6, p, p / b, b, c,
          sink % 10);
  wire_buf_free(&out);
  lua_close(L);
  return 0;
}

int main(int argc, char **argv) {
  int quick = 0;
  const char *filter = NULL;
  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--quick") == 0) quick = 1;
    else filter = argv[a];
  }
  size_t n = sizeof workloads / sizeof *workloads;
  for (size_t i = 0; i < n; i++) {
    if (quick && i == n - 1) break;  /* the 1e7 table takes a while */
    if (filter && strstr(workloads[i].name, filter) == NULL) continue;
    if (run(&workloads[i]) != 0) return 1;
  }
  return 0;
}
