/*
** cli_show.c
** `amber show SNAP NODE-OR-PATH`: one node and its edges (or the nodes
** that retain it), a page at a time, from the database directly.
*/
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "api.h"

static const char usage[] =
  "usage: amber show SNAP NODE-OR-PATH [--retainers] [--offset N] [--limit N]\n"
  "                  [--db FILE] [--json]\n"
  "\n"
  "Show a node of snapshot SNAP and its edges, a page at a time. NODE-OR-PATH is\n"
  "a node id (17 or @17) or a path from the roots: globals.app.state,\n"
  "registry._LOADED, list[3], stack.frame[0].local.x (docs/store.md, \"Paths\").\n"
  "\n"
  "  --retainers    list the edges that point at the node instead\n"
  "  --offset N     first edge to show (default 0)\n"
  "  --limit N      edges to show (default 50; 0 = all)\n"
  "  --db FILE      default $AMBER_DB or amber.db\n"
  "  --json         the node and edges as the API gives them\n"
  "\n"
  "Exit: 0 ok, 1 no such snapshot, node or path, 2 bad arguments, 3 no database.\n";

typedef struct show_ctx {
  store *st;
  int64_t snap;
  int json;
  json_writer *w;
} show_ctx;

/* "#17 table Player" or "#3 string \"hello\"": a short description. */
static void put_target(store *st, int64_t snap, uint64_t id) {
  store_node n;
  printf("#%" PRIu64, id);
  if (store_node_get(st, snap, id, &n) != STORE_OK) {
    fputs(" (missing)", stdout);
    return;
  }
  printf(" %s", n.n.kind);
  if (n.n.type) {
    fputc(' ', stdout);
    cli_put_bytes(stdout, n.n.type, n.n.type_len, 60);
  }
  if (n.n.name) {
    fputs(" <", stdout);
    cli_put_bytes(stdout, n.n.name, n.n.name_len, 60);
    fputc('>', stdout);
  }
  if (n.n.has_value) {
    fputs(" \"", stdout);
    cli_put_bytes(stdout, n.n.value, n.n.value_len, 60);
    fputc('"', stdout);
  }
  store_node_release(&n);
}

static void put_value(store *st, int64_t snap, const wire_value *v) {
  if (v->type == WIRE_V_REF) put_target(st, snap, v->u.ref);
  else cli_put_value(stdout, v);
}

static int on_edge(void *ud, const store_edge *se) {
  show_ctx *c = ud;
  if (c->json) {
    api_edge_json(c->w, c->st, c->snap, se, API_EDGE_TARGET | API_EDGE_SOURCE);
    return 0;
  }
  const wire_edge *e = &se->e;
  printf("  [%" PRIu64 "] %-9s ", se->seq, e->kind);
  if (e->name) cli_put_bytes(stdout, e->name, e->name_len, 60);
  else if (e->has_index) printf("[%" PRId64 "]", e->index);
  else if (e->key.type != WIRE_V_NONE) {
    fputc('[', stdout);
    put_value(c->st, c->snap, &e->key);
    fputc(']', stdout);
  }
  fputs(" = ", stdout);
  put_value(c->st, c->snap, &e->value);
  fputc('\n', stdout);
  return 0;
}

static int on_retainer(void *ud, const store_edge *se) {
  show_ctx *c = ud;
  if (c->json) return on_edge(ud, se);
  fputs("  from ", stdout);
  put_target(c->st, c->snap, se->from);
  printf(" via %s ", se->e.kind);
  if (se->e.name) cli_put_bytes(stdout, se->e.name, se->e.name_len, 60);
  else if (se->e.has_index) printf("[%" PRId64 "]", se->e.index);
  fputc('\n', stdout);
  return 0;
}

static void put_node(const store_node *sn) {
  const wire_node *n = &sn->n;
  printf("node #%" PRIu64 " %s", n->id, n->kind);
  if (n->type) {
    fputs(" type=", stdout);
    cli_put_bytes(stdout, n->type, n->type_len, 120);
  }
  if (n->name) {
    fputs(" name=", stdout);
    cli_put_bytes(stdout, n->name, n->name_len, 120);
  }
  if (n->has_size) printf(" size=%" PRIu64, n->size);
  if (n->has_addr) printf(" addr=%" PRIx64, n->addr);
  if (n->mode) printf(" weak=%s", n->mode);
  if (n->status) printf(" status=%s", n->status);
  if (n->source) {
    fputs(" source=", stdout);
    cli_put_bytes(stdout, n->source, n->source_len, 120);
    if (n->has_line) printf(":%" PRId64, n->line);
  }
  if (n->has_payload) printf(" payload=%zu bytes", n->payload_len);
  printf(" edges=%" PRIu64 "\n", sn->nedges);
  if (n->has_value) {
    printf("  value (%zu bytes): \"", n->value_len);
    cli_put_bytes(stdout, n->value, n->value_len, 400);
    fputs("\"\n", stdout);
  }
}

int cli_show(int argc, char **argv) {
  static const struct option opts[] = {
    { "db", required_argument, 0, 'd' }, { "retainers", no_argument, 0, 'r' },
    { "offset", required_argument, 0, 'o' }, { "limit", required_argument, 0, 'l' },
    { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
  const char *db = cli_default_db();
  int64_t offset = 0, limit = 50;
  int retainers = 0, json = 0, c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 'r': retainers = 1; break;
    case 'o':
    case 'l':
      if (cli_parse_id(optarg, c == 'o' ? &offset : &limit)) {
        fprintf(stderr, "amber show: '%s' is not a number\n", optarg);
        return CLI_USAGE;
      }
      break;
    case 'j': json = 1; break;
    case 'h': fputs(usage, stdout); return CLI_OK;
    default: fprintf(stderr, "try: amber show --help\n"); return CLI_USAGE;
    }
  }
  int64_t snap;
  if (optind != argc - 2 || cli_parse_id(argv[optind], &snap)) {
    fprintf(stderr, "amber show: give a snapshot id and a node id or path "
            "(try amber show --help)\n");
    return CLI_USAGE;
  }
  const char *what = argv[optind + 1];
  store *st;
  int rc = cli_open_store(db, 1, &st);
  if (rc != CLI_OK) return rc;
  int64_t id;
  const char *idtext = what[0] == '@' ? what + 1 : what;
  int s = STORE_OK;
  if (cli_parse_id(idtext, &id) != 0) {
    wire_value v;
    s = store_resolve(st, snap, what, strlen(what), &v, NULL);
    if (s == STORE_OK && v.type != WIRE_V_REF) {
      /* The path ends at an inline scalar: that is the whole answer. */
      if (json) {
        wire_buf b;
        json_writer w;
        wire_buf_init(&b);
        json_init(&w, &b);
        api_value_json(&w, &v);
        if (b.data) fwrite(b.data, 1, b.len, stdout);
        fputc('\n', stdout);
        wire_buf_free(&b);
      } else {
        fputs(what, stdout);
        fputs(" = ", stdout);
        cli_put_value(stdout, &v);
        fputc('\n', stdout);
      }
      store_close(st);
      return CLI_OK;
    }
    id = s == STORE_OK ? (int64_t)v.u.ref : -1;
  }
  store_node n;
  if (s == STORE_OK) s = store_node_get(st, snap, (uint64_t)id, &n);
  if (s != STORE_OK) {
    rc = cli_store_error(st, s, "show");
    store_close(st);
    return rc;
  }
  wire_buf b;
  json_writer w;
  wire_buf_init(&b);
  json_init(&w, &b);
  show_ctx ctx = { st, snap, json, &w };
  if (json) {
    json_object_begin(&w);
    json_keyz(&w, "node");
    api_node_json(&w, &n, 0, 0);
    json_keyz(&w, retainers ? "retainers" : "edges");
    json_array_begin(&w);
  } else {
    put_node(&n);
    if (!retainers && n.nedges > (uint64_t)offset + (uint64_t)limit && limit)
      printf("  (edges %" PRId64 "-%" PRId64 " of %" PRIu64 "; more with --offset)\n",
             offset, offset + limit - 1, n.nedges);
  }
  s = retainers ? store_retainers(st, snap, (uint64_t)id, (uint64_t)offset,
                                  (uint64_t)limit, on_retainer, &ctx)
                : store_children(st, snap, (uint64_t)id, (uint64_t)offset,
                                 (uint64_t)limit, on_edge, &ctx);
  store_node_release(&n);
  if (s != STORE_OK) {
    rc = cli_store_error(st, s, retainers ? "listing retainers" : "listing edges");
  } else if (json) {
    json_array_end(&w);
    json_object_end(&w);
    if (b.data) fwrite(b.data, 1, b.len, stdout);
    fputc('\n', stdout);
  }
  wire_buf_free(&b);
  store_close(st);
  return rc;
}
