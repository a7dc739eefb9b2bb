/*
** cli_analysis.c
** `amber summary`, `top`, `path`, `dominators`, `diff`, `leaks` and
** `export-heapsnapshot`: the analyses from the database directly, printed
** for people from the same JSON the API serves (or as that JSON).
*/
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis.h"
#include "cli.h"

/* ---------------------------------------------------------------- */
/* Shared                                                            */
/* ---------------------------------------------------------------- */

/* Options every analysis command takes. */
typedef struct common {
  const char *cmd;
  const char *db;
  int json;
  int64_t offset, limit;
} common;

/* Open the database read-write when we may, so results are kept for the
** next call; a database we cannot write is still read. */
static int open_db(const common *c, store **out) {
  struct stat sb;
  if (stat(c->db, &sb) != 0) return cli_open_store(c->db, 1, out);
  char err[512];
  if (store_open(out, c->db, 0, err, sizeof err) == STORE_OK) return CLI_OK;
  return cli_open_store(c->db, 1, out);
}

static int parse_num(const common *c, const char *s, int64_t *out) {
  if (cli_parse_id(s, out) == 0) return 0;
  fprintf(stderr, "amber %s: '%s' is not a number\n", c->cmd, s);
  return -1;
}

/* Parse argv: the common options plus extra ones (handled by fn, which
** returns 0, or -1 for a usage error). Positional arguments are left at
** argv[optind…]. Returns -1 on a usage error, 1 after --help. */
typedef int (*opt_fn)(void *ud, int c, const char *arg);
static int parse_args(common *c, int argc, char **argv, const char *usage,
                      const struct option *extra, opt_fn fn, void *ud) {
  struct option opts[16] = {
    {"db", required_argument, 0, 'd'}, {"json", no_argument, 0, 'j'},
    {"offset", required_argument, 0, 'o'}, {"limit", required_argument, 0, 'l'},
    {"help", no_argument, 0, 'h'}};
  int n = 5;
  for (; extra && extra[n - 5].name && n < 15; n++) opts[n] = extra[n - 5];
  memset(&opts[n], 0, sizeof opts[n]);
  int ch;
  optind = 0;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'd': c->db = optarg; break;
    case 'j': c->json = 1; break;
    case 'o': if (parse_num(c, optarg, &c->offset)) return -1; break;
    case 'l': if (parse_num(c, optarg, &c->limit)) return -1; break;
    case 'h': fputs(usage, stdout); return 1;
    default:
      if (ch != '?' && fn && fn(ud, ch, optarg) == 0) break;
      fprintf(stderr, "try: amber %s --help\n", c->cmd);
      return -1;
    }
  }
  return 0;
}

static int usage_error(const common *c, const char *what) {
  fprintf(stderr, "amber %s: %s (try amber %s --help)\n", c->cmd, what, c->cmd);
  return CLI_USAGE;
}

/* The exit code for a failed analysis, after saying why. */
static int failed(const common *c, int status, const char *err) {
  fprintf(stderr, "amber %s: %s\n", c->cmd, err && *err ? err
          : store_status_name(status));
  if (status == STORE_EBUSY) return CLI_UNREACHABLE;
  if (status == STORE_EUSAGE) return CLI_USAGE;
  return CLI_FAIL;
}

/* Run an analysis that writes JSON; print it as is (--json) or hand the
** parsed document to show. */
typedef int (*json_fn)(store *s, void *ud, json_writer *w, char *err,
                       size_t errlen);
typedef void (*show_fn)(const json_value *v, void *ud);
static int run(const common *c, store *s, json_fn fn, show_fn show, void *ud) {
  wire_buf b;
  json_writer w;
  char err[512] = "";
  wire_buf_init(&b);
  json_init(&w, &b);
  int status = fn(s, ud, &w, err, sizeof err);
  int rc = CLI_OK;
  if (status != STORE_OK) {
    rc = failed(c, status, err);
  } else if (!json_ok(&w)) {
    rc = failed(c, STORE_ENOMEM, "out of memory writing the answer");
  } else if (c->json) {
    fwrite(b.data, 1, b.len, stdout);
    fputc('\n', stdout);
  } else {
    char perr[160];
    json_doc *d = json_parse(b.data, b.len, perr, sizeof perr);
    if (!d) rc = failed(c, STORE_ENOMEM, perr);
    else show(json_root(d), ud);
    json_doc_free(d);
  }
  wire_buf_free(&b);
  return rc;
}

static uint64_t u64(const json_value *o, const char *k) {
  int64_t v = 0;
  const json_value *x = json_get(o, k);
  if (!x || json_to_i64(x, &v) != 0 || v < 0) return 0;
  return (uint64_t)v;
}

static int has(const json_value *o, const char *k) {
  const json_value *x = json_get(o, k);
  return x && x->type != JSON_NULL;
}

static void put_str(const json_value *o, const char *k, size_t max) {
  const json_value *x = json_get(o, k);
  if (x && x->type == JSON_STRING) cli_put_bytes(stdout, x->str, x->len, max);
}

static void put_size(uint64_t b) {
  char buf[32];
  fputs(cli_human_size(b, buf), stdout);
}

/* "#17 table Player" / "#3 string "hi"" from a node object of the JSON. */
static void put_node(const json_value *n, const char *idkey) {
  printf("#%" PRIu64 " ", u64(n, idkey));
  put_str(n, "kind", 40);
  if (has(n, "type")) { fputc(' ', stdout); put_str(n, "type", 60); }
  if (has(n, "name")) { fputs(" <", stdout); put_str(n, "name", 60); fputc('>', stdout); }
  if (has(n, "value")) { fputs(" \"", stdout); put_str(n, "value", 60); fputc('"', stdout); }
}

/* A value of the API: nil, true, 42, 0.5, or the node it names. */
static void put_value(const json_value *v, const json_value *target) {
  const char *t = json_get_str(v, "type");
  if (!t) { fputs("(none)", stdout); return; }
  if (strcmp(t, "ref") == 0) {
    if (target && target->type == JSON_OBJECT) put_node(target, "id");
    else printf("#%" PRIu64, u64(v, "node"));
  } else if (strcmp(t, "boolean") == 0) {
    const json_value *b = json_get(v, "value");
    fputs(b && b->type == JSON_TRUE ? "true" : "false", stdout);
  } else if (has(v, "text")) {
    put_str(v, "text", 60);
  } else {
    fputs(t, stdout);
  }
}

/* The key an edge sits under: name, [index] or [key]. */
static void put_key(const json_value *e) {
  if (has(e, "name")) { put_str(e, "name", 60); return; }
  if (has(e, "index")) { printf("[%" PRId64 "]", (int64_t)u64(e, "index")); return; }
  if (has(e, "key")) {
    fputc('[', stdout);
    put_value(json_get(e, "key"), json_get(e, "key_target"));
    fputc(']', stdout);
    return;
  }
  put_str(e, "kind", 40);
}

static const char *type_or_dash(const json_value *o) {
  const char *t = json_get_str(o, "type");
  return t ? t : "-";
}

/* ---------------------------------------------------------------- */
/* summary                                                           */
/* ---------------------------------------------------------------- */

static const char summary_usage[] =
  "usage: amber summary SNAP [--offset N] [--limit N] [--db FILE] [--json]\n"
  "\n"
  "Objects of snapshot SNAP by kind and type: how many, their own (shallow)\n"
  "bytes, and the bytes they keep alive (retained: each byte counted once,\n"
  "under the outermost object of the type that holds it). Largest retained\n"
  "first. Computed once per snapshot and kept in the database.\n"
  "\n"
  "  --offset N     skip the first N rows (default 0)\n"
  "  --limit N      at most N rows (default 50)\n"
  "  --db FILE      default $AMBER_DB or amber.db\n"
  "  --json         the API's JSON\n"
  "\n"
  "Exit: 0 ok, 1 no such snapshot or damaged data, 2 bad arguments, 3 no database.\n";

typedef struct snap_args {
  const common *c;
  int64_t snap, node, a, b, final;
  unsigned max;
  unsigned flags;
  analysis_diff_opts diff;
} snap_args;

static int summary_json(store *s, void *ud, json_writer *w, char *err,
                        size_t errlen) {
  snap_args *a = ud;
  return analysis_summary_json(s, a->snap, w, (uint64_t)a->c->offset,
                               (uint64_t)a->c->limit, err, errlen);
}

static void summary_show(const json_value *r, void *ud) {
  (void)ud;
  printf("snapshot %" PRIu64 ": %" PRIu64 " objects, %" PRIu64 " references, ",
         u64(r, "snapshot"), u64(r, "nodes"), u64(r, "edges"));
  put_size(u64(r, "shallow"));
  printf(" (%" PRIu64 " reached from the roots by strong references)\n",
         u64(r, "reachable"));
  printf("%-10s %-24s %10s %12s %12s\n", "KIND", "TYPE", "COUNT", "SHALLOW",
         "RETAINED");
  const json_value *rows = json_get(r, "types");
  for (const json_value *t = rows ? rows->child : NULL; t; t = t->next) {
    char s1[32], s2[32];
    printf("%-10.10s ", json_get_str(t, "kind") ? json_get_str(t, "kind") : "");
    const char *ty = type_or_dash(t);
    size_t len = strlen(ty);
    cli_put_bytes(stdout, ty, len, 24);
    printf("%*s %10" PRIu64 " %12s %12s\n", len < 24 ? (int)(24 - len) : 0, "",
           u64(t, "count"), cli_human_size(u64(t, "shallow"), s1),
           cli_human_size(u64(t, "retained"), s2));
  }
  uint64_t shown = rows ? rows->count : 0, total = u64(r, "total");
  if (u64(r, "offset") + shown < total)
    printf("(%" PRIu64 " more rows: --offset %" PRIu64 ")\n",
           total - u64(r, "offset") - shown, u64(r, "offset") + shown);
}

/* Parse "SNAP" and more positional ids. */
static int positional(const common *c, int argc, char **argv, int want,
                      int64_t *ids, const char *what) {
  if (argc - optind != want) return usage_error(c, what);
  for (int i = 0; i < want; i++) {
    const char *s = argv[optind + i];
    if (cli_parse_id(s[0] == '@' ? s + 1 : s, &ids[i]) != 0)
      return usage_error(c, what);
  }
  return CLI_OK;
}

int amber_cmd_summary(int argc, char **argv) {
  common c = {"summary", cli_default_db(), 0, 0, 50};
  int p = parse_args(&c, argc, argv, summary_usage, NULL, NULL, NULL);
  if (p) return p > 0 ? CLI_OK : CLI_USAGE;
  snap_args a = {&c, 0, 0, 0, 0, 0, 0, 0, {0}};
  int rc = positional(&c, argc, argv, 1, &a.snap, "give one snapshot id");
  if (rc) return rc;
  store *s;
  if ((rc = open_db(&c, &s)) != CLI_OK) return rc;
  if (c.limit == 0) c.limit = 10000;
  rc = run(&c, s, summary_json, summary_show, &a);
  store_close(s);
  return rc;
}

/* ---------------------------------------------------------------- */
/* top                                                               */
/* ---------------------------------------------------------------- */

static const char top_usage[] =
  "usage: amber top SNAP [--offset N] [--limit N] [--db FILE] [--json]\n"
  "\n"
  "The objects of snapshot SNAP that keep the most memory alive (largest\n"
  "retained size first): what would be freed if each were dropped.\n"
  "\n"
  "  --offset N     skip the first N (default 0)\n"
  "  --limit N      at most N (default 20; the API's pages stop at 10000)\n"
  "  --db FILE      default $AMBER_DB or amber.db\n"
  "  --json         the API's JSON\n"
  "\n"
  "Exit: 0 ok, 1 no such snapshot or damaged data, 2 bad arguments, 3 no database.\n";

static int top_json(store *s, void *ud, json_writer *w, char *err,
                    size_t errlen) {
  snap_args *a = ud;
  return analysis_top_json(s, a->snap, w, (uint64_t)a->c->offset,
                           (uint64_t)a->c->limit, err, errlen);
}

static void node_rows(const json_value *list) {
  printf("%12s %12s  %s\n", "RETAINED", "SHALLOW", "OBJECT");
  for (const json_value *n = list ? list->child : NULL; n; n = n->next) {
    char s1[32], s2[32];
    printf("%12s %12s  ", cli_human_size(u64(n, "retained"), s1),
           cli_human_size(u64(n, "shallow"), s2));
    put_node(n, "id");
    fputc('\n', stdout);
  }
}

static void top_show(const json_value *r, void *ud) {
  (void)ud;
  node_rows(json_get(r, "nodes"));
}

int amber_cmd_top(int argc, char **argv) {
  common c = {"top", cli_default_db(), 0, 0, 20};
  int p = parse_args(&c, argc, argv, top_usage, NULL, NULL, NULL);
  if (p) return p > 0 ? CLI_OK : CLI_USAGE;
  snap_args a = {&c, 0, 0, 0, 0, 0, 0, 0, {0}};
  int rc = positional(&c, argc, argv, 1, &a.snap, "give one snapshot id");
  if (rc) return rc;
  store *s;
  if ((rc = open_db(&c, &s)) != CLI_OK) return rc;
  rc = run(&c, s, top_json, top_show, &a);
  store_close(s);
  return rc;
}

/* ---------------------------------------------------------------- */
/* path                                                              */
/* ---------------------------------------------------------------- */

static const char path_usage[] =
  "usage: amber path SNAP NODE-OR-PATH [--max N] [--strong] [--db FILE] [--json]\n"
  "\n"
  "Why is this object alive? The shortest paths from the roots to it, one\n"
  "per object that holds it directly (so each shows another reason). NODE is\n"
  "an id (17 or @17) or a path such as globals.app.cache (docs/store.md).\n"
  "\n"
  "  --max N        at most N paths (default 5, at most 64)\n"
  "  --strong       ignore weak references (entries of weak tables)\n"
  "  --db FILE      default $AMBER_DB or amber.db\n"
  "  --json         the API's JSON\n"
  "\n"
  "Exit: 0 ok (also when nothing reaches the object: it says so), 1 no such\n"
  "snapshot or node, 2 bad arguments, 3 no database.\n";

static int path_opt(void *ud, int ch, const char *arg) {
  snap_args *a = ud;
  int64_t v;
  if (ch == 'm') {
    if (parse_num(a->c, arg, &v) || v < 1) return -1;
    a->max = v > ANALYSIS_MAX_PATHS ? ANALYSIS_MAX_PATHS : (unsigned)v;
    return 0;
  }
  if (ch == 's') {
    a->flags |= ANALYSIS_STRONG_ONLY;
    return 0;
  }
  return -1;
}

static int path_json(store *s, void *ud, json_writer *w, char *err,
                     size_t errlen) {
  snap_args *a = ud;
  return analysis_path_json(s, a->snap, (uint64_t)a->node, a->max, a->flags,
                            w, err, errlen);
}

static void path_show(const json_value *r, void *ud) {
  (void)ud;
  const json_value *paths = json_get(r, "paths");
  fputs("paths to ", stdout);
  put_node(json_get(r, "target"), "id");
  fputc('\n', stdout);
  if (!paths || paths->count == 0) {
    printf("  nothing reaches it from the roots%s: it is garbage the next "
           "collection frees\n", has(r, "strong_only") &&
           json_get(r, "strong_only")->type == JSON_TRUE
           ? " by strong references" : "");
    return;
  }
  for (const json_value *p = paths->child; p; p = p->next) {
    printf("  %3" PRIu64 "  ", u64(p, "length"));
    put_str(p, "path", 400);
    const json_value *steps = json_get(p, "steps");
    for (const json_value *st = steps ? steps->child : NULL; st; st = st->next)
      if (json_get(st, "weak") && json_get(st, "weak")->type == JSON_TRUE) {
        fputs("   (through a weak reference)", stdout);
        break;
      }
    fputc('\n', stdout);
  }
}

/* A node given as an id (17, @17) or as a path resolved in the store. */
static int resolve_node(const common *c, store *s, int64_t snap,
                        const char *what, int64_t *id) {
  if (cli_parse_id(what[0] == '@' ? what + 1 : what, id) == 0) return CLI_OK;
  wire_value v;
  int st = store_resolve(s, snap, what, strlen(what), &v, NULL);
  if (st != STORE_OK) return cli_store_error(s, st, c->cmd);
  if (v.type != WIRE_V_REF) {
    fprintf(stderr, "amber %s: %s is a plain value, not an object\n", c->cmd,
            what);
    return CLI_FAIL;
  }
  *id = (int64_t)v.u.ref;
  return CLI_OK;
}

int amber_cmd_path(int argc, char **argv) {
  common c = {"path", cli_default_db(), 0, 0, 0};
  snap_args a = {&c, 0, 0, 0, 0, 0, 5, 0, {0}};
  static const struct option extra[] = {
    {"max", required_argument, 0, 'm'}, {"strong", no_argument, 0, 's'},
    {0, 0, 0, 0}};
  int p = parse_args(&c, argc, argv, path_usage, extra, path_opt, &a);
  if (p) return p > 0 ? CLI_OK : CLI_USAGE;
  if (argc - optind != 2 || cli_parse_id(argv[optind], &a.snap))
    return usage_error(&c, "give a snapshot id and a node id or path");
  store *s;
  int rc = open_db(&c, &s);
  if (rc != CLI_OK) return rc;
  rc = resolve_node(&c, s, a.snap, argv[optind + 1], &a.node);
  if (rc == CLI_OK) rc = run(&c, s, path_json, path_show, &a);
  store_close(s);
  return rc;
}

/* ---------------------------------------------------------------- */
/* dominators                                                        */
/* ---------------------------------------------------------------- */

static const char dominators_usage[] =
  "usage: amber dominators SNAP NODE-OR-PATH [--offset N] [--limit N]\n"
  "                        [--db FILE] [--json]\n"
  "\n"
  "An object's place in the dominator tree: the objects every path to it\n"
  "passes through (up to the roots), and the objects it alone keeps alive,\n"
  "largest retained first.\n"
  "\n"
  "  --offset N     skip the first N dominated objects (default 0)\n"
  "  --limit N      at most N (default 20)\n"
  "  --db FILE      default $AMBER_DB or amber.db\n"
  "  --json         the API's JSON\n"
  "\n"
  "Exit: 0 ok, 1 no such snapshot or node, 2 bad arguments, 3 no database.\n";

static int dominators_json(store *s, void *ud, json_writer *w, char *err,
                           size_t errlen) {
  snap_args *a = ud;
  return analysis_dominator_json(s, a->snap, (uint64_t)a->node, w,
                                 (uint64_t)a->c->offset, (uint64_t)a->c->limit,
                                 err, errlen);
}

static void dominators_show(const json_value *r, void *ud) {
  (void)ud;
  char s1[32];
  printf("#%" PRIu64 " retains %s", u64(r, "node"),
         cli_human_size(u64(r, "retained"), s1));
  const json_value *doms = json_get(r, "dominators");
  if (!has(r, "idom")) {
    puts(u64(r, "node") == 0 ? " (the roots)" : "; nothing holds it strongly");
  } else {
    fputs("; dominated by", stdout);
    for (const json_value *d = doms ? doms->child : NULL; d; d = d->next) {
      int64_t id = 0;
      json_to_i64(d, &id);
      printf(" #%" PRId64, id);
    }
    if (json_get(r, "dominators_truncated") &&
        json_get(r, "dominators_truncated")->type == JSON_TRUE)
      fputs(" …", stdout);
    fputc('\n', stdout);
  }
  printf("it alone keeps %" PRIu64 " objects alive directly:\n", u64(r, "total"));
  node_rows(json_get(r, "dominated"));
}

int amber_cmd_dominators(int argc, char **argv) {
  common c = {"dominators", cli_default_db(), 0, 0, 20};
  snap_args a = {&c, 0, 0, 0, 0, 0, 0, 0, {0}};
  int p = parse_args(&c, argc, argv, dominators_usage, NULL, NULL, NULL);
  if (p) return p > 0 ? CLI_OK : CLI_USAGE;
  if (argc - optind != 2 || cli_parse_id(argv[optind], &a.snap))
    return usage_error(&c, "give a snapshot id and a node id or path");
  store *s;
  int rc = open_db(&c, &s);
  if (rc != CLI_OK) return rc;
  rc = resolve_node(&c, s, a.snap, argv[optind + 1], &a.node);
  if (rc == CLI_OK) rc = run(&c, s, dominators_json, dominators_show, &a);
  store_close(s);
  return rc;
}

/* ---------------------------------------------------------------- */
/* diff                                                              */
/* ---------------------------------------------------------------- */

static const char diff_usage[] =
  "usage: amber diff A B [--match auto|address|path] [--show WHAT] [--fields N]\n"
  "                  [--offset N] [--limit N] [--db FILE] [--json]\n"
  "\n"
  "What changed from snapshot A to snapshot B: objects removed, added, and\n"
  "changed (fields whose values differ), with counts and sizes by type.\n"
  "Objects are paired by VM address when both snapshots come from the same\n"
  "process, else by path from the roots (docs/analysis.md, \"Matching\").\n"
  "\n"
  "  --match M      auto (default), address, or path\n"
  "  --show WHAT    which objects to list, from removed,changed,added,same\n"
  "                 (default removed,changed,added)\n"
  "  --fields N     field changes shown per changed object (default 20)\n"
  "  --offset N     skip the first N listed objects (default 0)\n"
  "  --limit N      list at most N (default 50)\n"
  "  --db FILE      default $AMBER_DB or amber.db\n"
  "  --json         the API's JSON\n"
  "\n"
  "Exit: 0 ok, 1 no such snapshot or damaged data, 2 bad arguments, 3 no database.\n";

static int diff_opt(void *ud, int ch, const char *arg) {
  snap_args *a = ud;
  int64_t v;
  switch (ch) {
  case 'M':
    if (strcmp(arg, "auto") == 0) a->diff.mode = ANALYSIS_MATCH_AUTO;
    else if (strcmp(arg, "address") == 0) a->diff.mode = ANALYSIS_MATCH_ADDRESS;
    else if (strcmp(arg, "path") == 0) a->diff.mode = ANALYSIS_MATCH_PATH;
    else {
      fprintf(stderr, "amber diff: --match is auto, address or path\n");
      return -1;
    }
    return 0;
  case 'S': {
    a->diff.show = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *w = strtok_r(buf, ",", &save); w;
         w = strtok_r(NULL, ",", &save)) {
      if (strcmp(w, "removed") == 0) a->diff.show |= 1 << ANALYSIS_REMOVED;
      else if (strcmp(w, "changed") == 0) a->diff.show |= 1 << ANALYSIS_CHANGED;
      else if (strcmp(w, "added") == 0) a->diff.show |= 1 << ANALYSIS_ADDED;
      else if (strcmp(w, "same") == 0) a->diff.show |= 1 << ANALYSIS_SAME;
      else {
        fprintf(stderr, "amber diff: --show takes removed, changed, added, same\n");
        return -1;
      }
    }
    return 0;
  }
  case 'F':
    if (parse_num(a->c, arg, &v) || v < 1) return -1;
    a->diff.max_fields = v > 10000 ? 10000 : (unsigned)v;
    return 0;
  }
  return -1;
}

static int diff_json(store *s, void *ud, json_writer *w, char *err,
                     size_t errlen) {
  snap_args *a = ud;
  return analysis_diff_json(s, a->a, a->b, &a->diff, w, (uint64_t)a->c->offset,
                            (uint64_t)a->c->limit, err, errlen);
}

static void field_show(const json_value *f) {
  const json_value *o = json_get(f, "old"), *n = json_get(f, "new");
  const json_value *e = o && o->type == JSON_OBJECT ? o : n;
  fputs("      ", stdout);
  put_key(e);
  fputs(": ", stdout);
  if (o && o->type == JSON_OBJECT)
    put_value(json_get(o, "value"), json_get(o, "target"));
  else
    fputs("(none)", stdout);
  fputs(" -> ", stdout);
  if (n && n->type == JSON_OBJECT)
    put_value(json_get(n, "value"), json_get(n, "target"));
  else
    fputs("(none)", stdout);
  fputc('\n', stdout);
}

static void diff_show(const json_value *r, void *ud) {
  (void)ud;
  char s1[32], s2[32], s3[32];
  printf("diff #%" PRIu64 " -> #%" PRIu64 ", objects paired by %s (%" PRIu64
         " by address, %" PRIu64 " by path or content)\n", u64(r, "a"),
         u64(r, "b"), json_get_str(r, "match"), u64(r, "matched_by_address"),
         u64(r, "matched_by_path"));
  printf("  removed %" PRIu64 " (%s), added %" PRIu64 " (%s), changed %" PRIu64
         ", unchanged %" PRIu64 "\n", u64(r, "removed"),
         cli_human_size(u64(r, "removed_size"), s1), u64(r, "added"),
         cli_human_size(u64(r, "added_size"), s2), u64(r, "changed"),
         u64(r, "same"));
  const json_value *types = json_get(r, "types");
  if (types && types->count) {
    printf("\n%-10s %-20s %8s %8s %8s %8s %8s %11s\n", "KIND", "TYPE", "BEFORE",
           "AFTER", "ADDED", "REMOVED", "CHANGED", "SIZE +/-");
    for (const json_value *t = types->child; t; t = t->next) {
      int64_t delta = (int64_t)(u64(t, "size_b") - u64(t, "size_a"));
      const char *ty = type_or_dash(t);
      size_t len = strlen(ty);
      printf("%-10.10s ", json_get_str(t, "kind") ? json_get_str(t, "kind") : "");
      cli_put_bytes(stdout, ty, len, 20);
      printf("%*s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64
             " %c%10s\n", len < 20 ? (int)(20 - len) : 0, "", u64(t, "count_a"),
             u64(t, "count_b"), u64(t, "added"), u64(t, "removed"),
             u64(t, "changed"), delta < 0 ? '-' : '+',
             cli_human_size((uint64_t)(delta < 0 ? -delta : delta), s3));
    }
  }
  const json_value *nodes = json_get(r, "nodes");
  if (nodes && nodes->count) fputc('\n', stdout);
  for (const json_value *n = nodes ? nodes->child : NULL; n; n = n->next) {
    const char *st = json_get_str(n, "state");
    printf("  %-8s ", st ? st : "?");
    put_node(n, has(n, "b") ? "b" : "a");
    if (st && strcmp(st, "changed") == 0)
      printf(" (was #%" PRIu64 ")", u64(n, "a"));
    else
      printf(" %s", cli_human_size(u64(n, "shallow"), s1));
    fputc('\n', stdout);
    const json_value *fields = json_get(n, "fields");
    for (const json_value *f = fields ? fields->child : NULL; f; f = f->next)
      field_show(f);
    if (fields && u64(n, "fields_total") > fields->count)
      printf("      … %" PRIu64 " more fields changed (--fields N)\n",
             u64(n, "fields_total") - fields->count);
  }
  uint64_t shown = nodes ? nodes->count : 0, total = u64(r, "total");
  if (u64(r, "offset") + shown < total)
    printf("(%" PRIu64 " more: --offset %" PRIu64 ")\n",
           total - u64(r, "offset") - shown, u64(r, "offset") + shown);
}

int amber_cmd_diff(int argc, char **argv) {
  common c = {"diff", cli_default_db(), 0, 0, 50};
  snap_args a = {&c, 0, 0, 0, 0, 0, 0, 0, {ANALYSIS_MATCH_AUTO, 0, 0}};
  static const struct option extra[] = {
    {"match", required_argument, 0, 'M'}, {"show", required_argument, 0, 'S'},
    {"fields", required_argument, 0, 'F'}, {0, 0, 0, 0}};
  int p = parse_args(&c, argc, argv, diff_usage, extra, diff_opt, &a);
  if (p) return p > 0 ? CLI_OK : CLI_USAGE;
  int64_t ids[2];
  int rc = positional(&c, argc, argv, 2, ids, "give two snapshot ids");
  if (rc) return rc;
  a.a = ids[0];
  a.b = ids[1];
  store *s;
  if ((rc = open_db(&c, &s)) != CLI_OK) return rc;
  rc = run(&c, s, diff_json, diff_show, &a);
  store_close(s);
  return rc;
}

/* ---------------------------------------------------------------- */
/* leaks                                                             */
/* ---------------------------------------------------------------- */

static const char leaks_usage[] =
  "usage: amber leaks BASELINE TARGET FINAL [--offset N] [--limit N]\n"
  "                   [--db FILE] [--json]\n"
  "\n"
  "The three-snapshot leak filter: objects of TARGET that BASELINE did not\n"
  "have and that FINAL still has. Take BASELINE, run the action that should\n"
  "leave nothing behind, take TARGET, run it again, take FINAL: what the\n"
  "first run created and the second did not free is listed, by type, with a\n"
  "path from the roots to each object (ids are TARGET's).\n"
  "\n"
  "  --offset N     skip the first N objects (default 0)\n"
  "  --limit N      at most N (default 50)\n"
  "  --db FILE      default $AMBER_DB or amber.db\n"
  "  --json         the API's JSON\n"
  "\n"
  "Exit: 0 ok (also when nothing leaked), 1 no such snapshot or damaged\n"
  "data, 2 bad arguments, 3 no database.\n";

static int leaks_json(store *s, void *ud, json_writer *w, char *err,
                      size_t errlen) {
  snap_args *a = ud;
  return analysis_leaks_json(s, a->a, a->b, a->final, w,
                             (uint64_t)a->c->offset, (uint64_t)a->c->limit,
                             err, errlen);
}

static void leaks_show(const json_value *r, void *ud) {
  (void)ud;
  char s1[32];
  printf("%" PRIu64 " objects (%s) created between #%" PRIu64 " and #%" PRIu64
         " are still alive in #%" PRIu64 "\n", u64(r, "total"),
         cli_human_size(u64(r, "size"), s1), u64(r, "baseline"),
         u64(r, "target"), u64(r, "final"));
  const json_value *types = json_get(r, "types");
  for (const json_value *t = types ? types->child : NULL; t; t = t->next) {
    printf("  %8" PRIu64 " %12s  ", u64(t, "count"),
           cli_human_size(u64(t, "size"), s1));
    put_str(t, "kind", 20);
    if (has(t, "type")) { fputc(' ', stdout); put_str(t, "type", 60); }
    fputc('\n', stdout);
  }
  const json_value *nodes = json_get(r, "nodes");
  if (nodes && nodes->count) fputc('\n', stdout);
  for (const json_value *n = nodes ? nodes->child : NULL; n; n = n->next) {
    fputs("  ", stdout);
    put_node(n, "id");
    fputs("  at ", stdout);
    if (has(n, "path")) put_str(n, "path", 300);
    else fputs("(nothing reaches it)", stdout);
    fputc('\n', stdout);
  }
  uint64_t shown = nodes ? nodes->count : 0, total = u64(r, "total");
  if (u64(r, "offset") + shown < total)
    printf("(%" PRIu64 " more: --offset %" PRIu64 ")\n",
           total - u64(r, "offset") - shown, u64(r, "offset") + shown);
}

int amber_cmd_leaks(int argc, char **argv) {
  common c = {"leaks", cli_default_db(), 0, 0, 50};
  snap_args a = {&c, 0, 0, 0, 0, 0, 0, 0, {0}};
  int p = parse_args(&c, argc, argv, leaks_usage, NULL, NULL, NULL);
  if (p) return p > 0 ? CLI_OK : CLI_USAGE;
  int64_t ids[3];
  int rc = positional(&c, argc, argv, 3, ids, "give three snapshot ids");
  if (rc) return rc;
  a.a = ids[0];
  a.b = ids[1];
  a.final = ids[2];
  store *s;
  if ((rc = open_db(&c, &s)) != CLI_OK) return rc;
  rc = run(&c, s, leaks_json, leaks_show, &a);
  store_close(s);
  return rc;
}

/* ---------------------------------------------------------------- */
/* export-heapsnapshot                                               */
/* ---------------------------------------------------------------- */

static const char export_usage[] =
  "usage: amber export-heapsnapshot SNAP [FILE] [--db FILE]\n"
  "\n"
  "Write snapshot SNAP as a Chrome DevTools heap snapshot: open FILE\n"
  "(default amber-SNAP.heapsnapshot; - for standard output) in Chrome's\n"
  "DevTools, Memory panel, Load. Tables become objects named by their type,\n"
  "closures closures, upvalues context variables, weak table entries weak\n"
  "edges; node ids are 2 x amber's id + 1 (docs/analysis.md, \"Chrome\").\n"
  "\n"
  "  --db FILE      default $AMBER_DB or amber.db\n"
  "\n"
  "Exit: 0 ok, 1 no such snapshot, damaged data or the file cannot be\n"
  "written, 2 bad arguments, 3 no database.\n";

int amber_cmd_export_heapsnapshot(int argc, char **argv) {
  common c = {"export-heapsnapshot", cli_default_db(), 0, 0, 0};
  int p = parse_args(&c, argc, argv, export_usage, NULL, NULL, NULL);
  if (p) return p > 0 ? CLI_OK : CLI_USAGE;
  int64_t snap;
  int npos = argc - optind;
  if (npos < 1 || npos > 2 || cli_parse_id(argv[optind], &snap))
    return usage_error(&c, "give a snapshot id and optionally a file");
  char name[64];
  const char *path = npos == 2 ? argv[optind + 1] : NULL;
  if (!path) {
    snprintf(name, sizeof name, "amber-%" PRId64 ".heapsnapshot", snap);
    path = name;
  }
  store *s;
  int rc = open_db(&c, &s);
  if (rc != CLI_OK) return rc;
  int to_stdout = strcmp(path, "-") == 0;
  FILE *f = to_stdout ? stdout : fopen(path, "wb");
  if (!f) {
    perror(path);
    store_close(s);
    return CLI_FAIL;
  }
  char err[512] = "";
  int st = analysis_heapsnapshot(s, snap, f, err, sizeof err);
  if (!to_stdout && fclose(f) != 0 && st == STORE_OK) {
    snprintf(err, sizeof err, "writing %s failed", path);
    st = STORE_EIO;
  }
  if (st != STORE_OK) {
    rc = failed(&c, st, err);
    if (!to_stdout) remove(path);
  } else if (!to_stdout) {
    fprintf(stderr, "wrote %s\n", path);
  }
  store_close(s);
  return rc;
}
