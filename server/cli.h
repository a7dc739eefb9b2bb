/*
** cli.h
** The `amber` command line: one function per subcommand (cli_*.c) and the
** helpers they share: exit codes, defaults, the store and the HTTP API,
** terminal-safe printing and progress lines.
*/
#ifndef AMBER_CLI_H
#define AMBER_CLI_H

#include <stdint.h>
#include <stdio.h>
#include "json.h"
#include "store.h"

/* Exit codes of every subcommand (docs/cli.md). */
enum {
  CLI_OK = 0,           /* done */
  CLI_FAIL = 1,         /* failed, or not found */
  CLI_USAGE = 2,        /* bad arguments */
  CLI_UNREACHABLE = 3   /* cannot reach the server or open the database */
};

/* Subcommands: argv[0] is the subcommand's name. */
int cli_serve(int argc, char **argv);
int cli_machines(int argc, char **argv);
int cli_snapshot(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_show(int argc, char **argv);
int cli_frames(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_prepare(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_wire(int argc, char **argv);
int cli_restore(int argc, char **argv);

/* Defaults, from the environment when set: AMBER_DB, AMBER_SERVER,
** AMBER_TOKEN. */
const char *cli_default_db(void);
const char *cli_default_server(void);
const char *cli_default_token(void);

/* Open the database for the CLI; on failure print why and return
** CLI_UNREACHABLE (a missing file is not created when readonly). */
int cli_open_store(const char *path, int readonly, store **out);
/* Print a store error for what was being done; returns the exit code
** (CLI_FAIL for not found / bad data, CLI_UNREACHABLE for a busy db). */
int cli_store_error(store *st, int status, const char *doing);

/* Call the server's API: method path with an optional JSON body. On
** success (2xx) *out gets the parsed reply; otherwise the error is printed
** and the exit code returned (CLI_UNREACHABLE if no server answers). */
int cli_api(const char *server, const char *token, const char *method,
            const char *path, const char *body, size_t body_len,
            json_doc **out);

/* Print a parsed reply as compact JSON on stdout (for --json). */
void cli_print_json(const json_value *v);

/* The id of the connected machine named by spec (an id, or a name that
** must be unique). Prints why not and returns an exit code on failure. */
int cli_find_machine(const char *server, const char *token, const char *spec,
                     int64_t *id);

/* Write bytes for a terminal: printable ASCII and valid UTF-8 as is,
** anything else as \xNN; at most max bytes of input, then "…". */
void cli_put_bytes(FILE *f, const char *p, size_t n, size_t max);
/* A scalar or reference value in the short form of `amber show`. */
void cli_put_value(FILE *f, const wire_value *v);
/* Sizes for people: 1536 -> "1.5 KiB". */
const char *cli_human_size(uint64_t bytes, char buf[32]);
/* Local time of ms since the epoch as "2025-11-22 10:04:05". */
const char *cli_time(int64_t ms, char buf[32]);

/* Progress on stderr, one line rewritten in place, only on a terminal. */
void cli_progress(const char *what, uint64_t nodes, uint64_t edges);
/* End the progress line (if one was shown). */
void cli_progress_end(void);
/* store_progress_fn adapter: ud is the label (const char *). */
void cli_progress_cb(void *ud, uint64_t nodes, uint64_t edges);

/* Note argv[0], the path this program was run as (main calls it). */
void cli_set_program(const char *argv0);
/* This program, to run it again as a child (amber serve's amber prepare):
** argv[0] made absolute when it names a path, else /proc/self/exe. */
const char *cli_program(void);

/* The folder this program lives in (to find amber-lua, amber-wire and the
** viewer beside it), in buf; NULL if /proc cannot say. */
const char *cli_exe_dir(char *buf, size_t n);

/* Parse a decimal id (int64 >= 0). 0 on success, -1 otherwise. */
int cli_parse_id(const char *s, int64_t *out);

#endif
