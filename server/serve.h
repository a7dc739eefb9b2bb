/*
** serve.h
** `amber serve`: one libwebsockets event loop with a raw TCP listener for
** machines and an HTTP server for the JSON API and the viewer's files, and
** a few worker threads for heap analyses that would stall it.
*/
#ifndef AMBER_SERVE_H
#define AMBER_SERVE_H

typedef struct serve_options {
  const char *db_path;        /* SQLite file (created if missing) */
  const char *machine_host;   /* listen address for machines (IPv4) */
  int machine_port;
  const char *http_host;      /* listen address for HTTP (IPv4) */
  int http_port;
  const char *token;          /* required on every HTTP request if set */
  const char *viewer_dir;     /* static files; NULL or missing: none */
  int quiet;                  /* only errors on stderr */
  int hold_at_login;          /* do not send <go/> after a machine's login */
  unsigned answer_timeout_s;  /* a machine must begin a requested snapshot within (0: 60) */
  unsigned stall_timeout_s;   /* a snapshot may pause this long (0: 120) */
  unsigned contention_timeout_s; /* ... or this long while others wait (0: 5) */
  size_t max_message, max_attr;  /* wire limits for machines (0: defaults) */
  unsigned workers;           /* threads for heap analyses (0: default) */
  const char *prepare_exe;    /* an `amber` that runs `prepare` for each new
                                 snapshot in a child process; NULL: in the
                                 server (tests that embed it) */
} serve_options;

/* Worker threads when none are asked for, and at most. */
#define SERVE_WORKERS_DEFAULT 2
#define SERVE_WORKERS_MAX 16

/* 1 if host is a loopback address (127.0.0.0/8, localhost, ::1). */
int serve_is_loopback(const char *host);
/* Run until SIGINT or SIGTERM. Returns a process exit status: 0 after a
** clean shutdown, 1 if a listener or the database cannot be opened, 2 if
** the options are refused (a non-loopback address without a token). */
int serve_run(const serve_options *o);

#endif
