/*
** alua.h
** The Lua adapter's internals: the agent record behind amber.h, the hook,
** the xsbug views of frames, locals and globals, and log capture.
** Internal to agent/; hosts use agent/amber.h.
*/
#ifndef AMBER_ALUA_H
#define AMBER_ALUA_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include "amber.h"
#include "conn.h"
#include "debugger.h"
#include "wire.h"

#define ALUA_MAX_NAME 256
#define ALUA_MAX_PATH 4096

typedef struct alua_ticker alua_ticker;

struct amber_agent {
  lua_State *L;              /* the main thread */
  const void *registry;      /* identifies L's state cheaply in the hook */
  amber_options opt;         /* its strings point into the arrays below */
  char name[ALUA_MAX_NAME];
  char log_function[ALUA_MAX_NAME];
  char capture_path[ALUA_MAX_PATH];
  aconn *conn;               /* NULL for an offline agent */
  alua_ticker *ticker;       /* NULL without poll_signal */
  struct alua_restore *restore; /* a restore the server is streaming */
  adbg dbg;
  wire_buf login;            /* resent first on every connection */
  uint64_t next_poll;        /* hook: earliest time of the next poll */
  uint64_t seen_version;     /* dbg.version the hook masks were set for */
  lua_State *cur_L;          /* thread running while the agent works */
  int cur_level;             /* its first level that is not the agent's */
  lua_State *park_L;         /* at a break: the stopped thread … */
  int park_base;             /* … its first level shown … */
  int park_sel;              /* … and the selected level */
  int busy;                  /* inside a poll: no re-entry */
  int detach_pending;        /* logout arrived inside a poll */
  int was_up;
  char *run_code;            /* a <run> waiting for a safe point, or NULL */
  size_t run_len;
  uint64_t run_id;
  int running;               /* a run is executing: the next one waits */
};

/* agent.c */
/* The agent of L's state (fast path for the hook), or NULL. */
amber_agent *alua_agent_of(lua_State *L);
/* Serve the connection from thread L whose first non-agent level is
** level; handles logout afterwards (a may be freed: returns NULL then). */
amber_agent *alua_poll_from(amber_agent *a, lua_State *L, int level, int wait);
/* Build the login message into b; run: announce the run feature. */
void alua_login(const char *name, int run, wire_buf *b);
/* Queue a snapshot of L taken now; reason "request" or "break". */
int alua_snapshot_to_server(amber_agent *a, lua_State *L, int level,
                            const char *reason, const amber_snapshot_opts *s,
                            uint64_t id, amber_snapshot_info *info,
                            char *err, size_t errlen);

/* hook.c */
/* The agent's lua_Hook (count and line events). */
void alua_hook(lua_State *L, lua_Debug *ar);
/* The hook mask the agent needs now. */
int alua_hook_mask(const amber_agent *a);
/* Install the hook on L (and the main thread) with the mask the debugger
** needs now. */
void alua_hook_sync(amber_agent *a, lua_State *L);
/* Remove the hook from L and the main thread. */
void alua_hook_remove(amber_agent *a, lua_State *L);
/* Stop at a break in thread L, showing levels from base; text says why.
** Returns a, or NULL if a logout freed it. */
amber_agent *alua_park(amber_agent *a, lua_State *L, int base,
                       const char *text, size_t text_len);
/* Make L raise "interrupted!" at its next instruction (signal-safe). */
void alua_interrupt(lua_State *L);

/* ticker.c */
/* Start the socket watcher for a (signal sig to this thread); NULL if it
** cannot (then the caller falls back to a count hook). */
alua_ticker *alua_ticker_start(amber_agent *a, int sig);
/* Stop and free it (joins the thread). */
void alua_ticker_stop(alua_ticker *t);
/* After a poll: tell the watcher the socket, whether bytes wait, when to
** retry, and the hook mask to keep beside the one-shot count. */
void alua_ticker_note(alua_ticker *t, aconn *c, int mask);
/* 1 if the watcher armed the hook since the last call (and clear it). */
int alua_ticker_take_arm(alua_ticker *t);

/* inspect.c: the views, for the debugger core. */
void alua_view_frames(amber_agent *a, wire_buf *out);
void alua_view_local(amber_agent *a, wire_buf *out);
void alua_view_global(amber_agent *a, wire_buf *out);
int alua_view_select(amber_agent *a, uint64_t id);
/* Source of a frame as xsbug shows it: "@app.lua" -> "app.lua". */
const char *alua_source_path(const lua_Debug *ar, size_t *len);

/* log.c */
/* Wrap print (and opt.log_function) so their output is also sent. */
void alua_log_install(amber_agent *a, lua_State *L);
/* Put the original functions back. */
void alua_log_remove(amber_agent *a, lua_State *L);
/* Push the text of the values at stack indexes first..last joined by tabs,
** as print writes them (luaL_tolstring, so __tostring runs). */
void alua_log_text(lua_State *L, int first, int last);
/* Send the string at the top of the stack as <log>, cut to 64 KiB. */
void alua_log_send(amber_agent *a, lua_State *L);

/* crash.c */
/* Write a snapshot of L to the capture file path. */
int alua_capture_file(lua_State *L, const char *path, const char *login_name,
                      const char *reason, const char *error,
                      const char *traceback, const amber_snapshot_opts *s,
                      amber_snapshot_info *info, char *err, size_t errlen);
/* A fresh snapshot id for snapshots the agent starts itself. */
uint64_t alua_next_id(void);
/* A plain lua_pcall message handler, as lua.c's: the message (or the
** error object's __tostring, or its type) with a traceback. */
int alua_traceback(lua_State *L);

/* serve.c */
/* Queue a <run> request (the debugger core's run callback). */
void alua_run_queue(amber_agent *a, const acmd *cmd);
/* Run the queued request, if any, in thread L and answer <run-done>.
** Returns a, or NULL if the code detached the agent. */
amber_agent *alua_run_pending(amber_agent *a, lua_State *L);

/* lmodule.c */
/* The `amber` Lua module table (luaopen_amber and amber-lua's preload). */
int alua_open(lua_State *L);

#endif
