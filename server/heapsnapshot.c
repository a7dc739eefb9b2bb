/*
** heapsnapshot.c
** Export of a stored snapshot as a Chrome DevTools .heapsnapshot (V8's
** JSON format with its full meta), streamed from the store in two scans.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis.h"

/* Bytes of a name kept: a string's value (DevTools shows it as the
** string's name), a field name, a type. */
#define NAME_MAX_VALUE 1024
/* Names up to this long are shared through the strings table. */
#define INTERN_MAX 128

/* V8's node and edge types, in the order the meta lists them. */
enum { N_HIDDEN, N_ARRAY, N_STRING, N_OBJECT, N_CODE, N_CLOSURE, N_REGEXP,
       N_NUMBER, N_NATIVE, N_SYNTHETIC };
enum { E_CONTEXT, E_ELEMENT, E_PROPERTY, E_INTERNAL, E_HIDDEN, E_SHORTCUT,
       E_WEAK };

static const char meta[] =
  "{\"snapshot\":{\"meta\":{"
  "\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\","
  "\"trace_node_id\",\"detachedness\"],"
  "\"node_types\":[[\"hidden\",\"array\",\"string\",\"object\",\"code\","
  "\"closure\",\"regexp\",\"number\",\"native\",\"synthetic\","
  "\"concatenated string\",\"sliced string\",\"symbol\",\"bigint\","
  "\"object shape\"],\"string\",\"number\",\"number\",\"number\",\"number\","
  "\"number\"],"
  "\"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],"
  "\"edge_types\":[[\"context\",\"element\",\"property\",\"internal\","
  "\"hidden\",\"shortcut\",\"weak\"],\"string_or_number\",\"node\"],"
  "\"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\","
  "\"script_id\",\"line\",\"column\"],"
  "\"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\"size\","
  "\"children\"],"
  "\"sample_fields\":[\"timestamp_us\",\"last_assigned_id\"],"
  "\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]},";
#define NODE_FIELDS 7

/* The strings table: written to a temporary file as the scans meet new
** strings (the format puts it last); short ones are shared. */
typedef struct strtab {
  FILE *f;
  uint32_t count;
  wire_buf esc;
  /* open addressing over short strings: hash, index + 1, copy */
  uint64_t *hash;
  uint32_t *idx;
  char **text;
  uint32_t *len;
  uint32_t nslot, used;
  int failed;
} strtab;

static uint32_t str_append(strtab *t, const char *s, size_t n) {
  wire_buf_reset(&t->esc);
  if (t->count) wire_buf_put(&t->esc, ",", 1);
  wire_buf_put(&t->esc, "\"", 1);
  json_escape(&t->esc, s, n);
  wire_buf_put(&t->esc, "\"", 1);
  if (t->esc.oom || fwrite(t->esc.data, 1, t->esc.len, t->f) != t->esc.len)
    t->failed = 1;
  return t->count++;
}

static int str_grow(strtab *t) {
  uint32_t nslot = t->nslot ? t->nslot * 2 : 1024;
  uint64_t *hash = calloc(nslot, sizeof *hash);
  uint32_t *idx = calloc(nslot, sizeof *idx);
  char **text = calloc(nslot, sizeof *text);
  uint32_t *len = calloc(nslot, sizeof *len);
  if (!hash || !idx || !text || !len) {
    free(hash); free(idx); free(text); free(len);
    return -1;
  }
  for (uint32_t i = 0; i < t->nslot; i++) {
    if (!t->idx[i]) continue;
    uint32_t j = (uint32_t)t->hash[i] & (nslot - 1);
    while (idx[j]) j = (j + 1) & (nslot - 1);
    hash[j] = t->hash[i]; idx[j] = t->idx[i];
    text[j] = t->text[i]; len[j] = t->len[i];
  }
  free(t->hash); free(t->idx); free(t->text); free(t->len);
  t->hash = hash; t->idx = idx; t->text = text; t->len = len;
  t->nslot = nslot;
  return 0;
}

/* Index of string s in the table, adding it if new. */
static uint32_t str_id(strtab *t, const char *s, size_t n) {
  if (n > INTERN_MAX) return str_append(t, s, n);
  if ((t->used + 1) * 2 > t->nslot && str_grow(t)) {
    t->failed = 1;
    return 0;
  }
  uint64_t h = graph_hash(11, s, n);
  uint32_t j = (uint32_t)h & (t->nslot - 1);
  while (t->idx[j]) {
    if (t->hash[j] == h && t->len[j] == n && memcmp(t->text[j], s, n) == 0)
      return t->idx[j] - 1;
    j = (j + 1) & (t->nslot - 1);
  }
  char *copy = malloc(n + 1);
  if (!copy) {
    t->failed = 1;
    return 0;
  }
  memcpy(copy, s, n);
  copy[n] = 0;
  t->hash[j] = h;
  t->text[j] = copy;
  t->len[j] = (uint32_t)n;
  t->idx[j] = str_append(t, s, n) + 1;
  t->used++;
  return t->idx[j] - 1;
}

static uint32_t str_idz(strtab *t, const char *s) {
  return str_id(t, s, strlen(s));
}

static void str_free(strtab *t) {
  for (uint32_t i = 0; i < t->nslot; i++) free(t->text[i]);
  free(t->hash); free(t->idx); free(t->text); free(t->len);
  wire_buf_free(&t->esc);
  if (t->f) fclose(t->f);
}

/* ---------------------------------------------------------------- */
/* Output                                                            */
/* ---------------------------------------------------------------- */

typedef struct exporter {
  store *s;
  int64_t snap;
  const graph *g;
  store_write_fn write;  /* where the export goes */
  void *wud;
  strtab str;
  wire_buf line;      /* numbers for the output, flushed in large writes */
  wire_buf name;      /* a name being composed */
  uint64_t rows;      /* rows written to the current array */
  graph_id cur;       /* node whose edges the edge scan is in */
  uint32_t ref;       /* next graph edge of cur */
  int failed;
} exporter;

static void put_num(wire_buf *b, uint64_t v) {
  char tmp[24];
  int i = 24;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  wire_buf_put(b, tmp + i, (size_t)(24 - i));
}

static void out(exporter *x, const void *p, size_t n) {
  if (!x->failed && n && x->write(x->wud, p, n) != 0) x->failed = 1;
}

static void outs(exporter *x, const char *s) { out(x, s, strlen(s)); }

static void flush(exporter *x, int force) {
  if (x->line.len < (1u << 16) && !force) return;
  if (x->line.oom) x->failed = 1;
  else out(x, x->line.data, x->line.len);
  wire_buf_reset(&x->line);
}

/* One row of numbers, comma-separated from the previous row. */
static void row(exporter *x, const uint64_t *v, int n) {
  if (x->rows++) wire_buf_put(&x->line, ",", 1);
  for (int i = 0; i < n; i++) {
    if (i) wire_buf_put(&x->line, ",", 1);
    put_num(&x->line, v[i]);
  }
  wire_buf_put(&x->line, "\n", 1);
  flush(x, 0);
}

/* V8 type and name of a node, from its kind. */
static uint32_t node_type(const char *k) {
  static const struct { const char *kind; uint32_t type; } map[] = {
    {"root", N_SYNTHETIC}, {"table", N_OBJECT}, {"function", N_CLOSURE},
    {"cfunction", N_CLOSURE}, {"closure", N_CLOSURE}, {"proto", N_CODE},
    {"upvalue", N_HIDDEN}, {"string", N_STRING}, {"userdata", N_NATIVE},
    {"thread", N_OBJECT}, {"frame", N_HIDDEN}, {"exit", N_NATIVE},
    {"stub", N_HIDDEN}, {"array", N_ARRAY}, {"object", N_OBJECT},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(k, map[i].kind) == 0) return map[i].type;
  return N_OBJECT;
}

static void name_add(wire_buf *b, const char *s, size_t n) {
  wire_buf_put(b, s, n);
}

/* The name DevTools shows (and groups objects by): a string's value, a
** type name, an exit's path, a function's source and line … */
static uint32_t node_name(exporter *x, const wire_node *n, uint32_t type) {
  wire_buf *b = &x->name;
  wire_buf_reset(b);
  const char *k = n->kind ? n->kind : "";
  if (type == N_STRING) {
    size_t len = n->has_value ? n->value_len : 0;
    return str_id(&x->str, n->has_value ? n->value : "",
                  len > NAME_MAX_VALUE ? NAME_MAX_VALUE : len);
  }
  if (strcmp(k, "root") == 0) return str_idz(&x->str, "(amber roots)");
  if (n->type && n->type_len) {
    name_add(b, n->type, n->type_len);
  } else {
    name_add(b, k, strlen(k));
    if (n->name) {
      name_add(b, " ", 1);
      name_add(b, n->name, n->name_len);
    }
    if (n->source) {
      char line[32];
      name_add(b, " ", 1);
      name_add(b, n->source, n->source_len);
      if (n->has_line) {
        snprintf(line, sizeof line, ":%lld", (long long)n->line);
        wire_buf_puts(b, line);
      }
    }
  }
  return str_id(&x->str, b->data ? b->data : "",
                b->len > NAME_MAX_VALUE ? NAME_MAX_VALUE : b->len);
}

static int on_node_row(void *ud, const store_node *sn) {
  exporter *x = ud;
  const wire_node *n = &sn->n;
  graph_id v = (graph_id)n->id;
  assert(v < x->g->n);
  uint32_t type = node_type(n->kind ? n->kind : "");
  uint64_t r[NODE_FIELDS] = {
    type, node_name(x, n, type), (uint64_t)v * 2 + 1, x->g->size[v],
    x->g->first[v + 1] - x->g->first[v], 0, 0};
  row(x, r, NODE_FIELDS);
  return x->failed || x->str.failed;
}

/* V8 edge type of graph edge e, with its name or index. */
static void edge_row(exporter *x, uint32_t e, const wire_edge *we) {
  const graph *g = x->g;
  enum graph_ekind k = graph_ekind_of(g, e);
  uint64_t type = E_INTERNAL, name;
  wire_buf *b = &x->name;
  wire_buf_reset(b);
  if (k == GRAPH_E_INDEX && we->has_index && we->index >= 0 &&
      we->index <= 0xFFFFFFFFll && !graph_edge_is_weak(g, e)) {
    uint64_t r[3] = {E_ELEMENT, (uint64_t)we->index, (uint64_t)g->to[e] * NODE_FIELDS};
    row(x, r, 3);
    return;
  }
  switch (k) {
  case GRAPH_E_ROOT: case GRAPH_E_FIELD: case GRAPH_E_LOCAL:
    type = k == GRAPH_E_LOCAL ? E_CONTEXT : E_PROPERTY;
    if (we->name) name_add(b, we->name, we->name_len);
    else if (we->has_index) put_num(b, (uint64_t)we->index);
    break;
  case GRAPH_E_INDEX:
  case GRAPH_E_KEY:
    type = E_PROPERTY;
    wire_buf_puts(b, "[");
    if (k == GRAPH_E_INDEX) {
      char num[32];
      snprintf(num, sizeof num, "%lld", (long long)we->index);
      wire_buf_puts(b, num);
    } else {
      wire_value_format(b, &we->key);
    }
    wire_buf_puts(b, "]");
    break;
  case GRAPH_E_KEYREF:
    wire_buf_puts(b, "(key)");
    break;
  case GRAPH_E_UPVALUE:
    /* Closure variables are what V8 calls context. */
    type = E_CONTEXT;
    if (we->name && we->name_len) {
      name_add(b, we->name, we->name_len);
    } else {
      char num[32];
      snprintf(num, sizeof num, "upvalue %lld", (long long)we->index);
      wire_buf_puts(b, num);
    }
    break;
  default:
    wire_buf_puts(b, k == GRAPH_E_OTHER && we->kind ? we->kind
                                                     : graph_ekind_name(k));
    if (we->name) {
      name_add(b, " ", 1);
      name_add(b, we->name, we->name_len);
    } else if (we->has_index) {
      char num[32];
      snprintf(num, sizeof num, " %lld", (long long)we->index);
      wire_buf_puts(b, num);
    }
    break;
  }
  if (graph_edge_is_weak(g, e)) type = E_WEAK;
  name = str_id(&x->str, b->data ? b->data : "",
                b->len > NAME_MAX_VALUE ? NAME_MAX_VALUE : b->len);
  uint64_t r[3] = {type, name, (uint64_t)g->to[e] * NODE_FIELDS};
  row(x, r, 3);
}

static int on_scan_node(void *ud, const store_node *sn) {
  exporter *x = ud;
  x->cur = (graph_id)sn->n.id;
  x->ref = x->g->first[x->cur];
  return 0;
}

static int on_scan_edge(void *ud, const store_edge *se) {
  exporter *x = ud;
  const graph *g = x->g;
  const wire_edge *we = &se->e;
  /* The references of this edge, as graph_builder_edge made them. */
  if (graph_ekind_parse(we->kind ? we->kind : "") == GRAPH_E_KEY &&
      we->key.type == WIRE_V_REF) {
    assert(x->ref < g->first[x->cur + 1]);
    edge_row(x, x->ref++, we);
  }
  if (we->value.type == WIRE_V_REF) {
    assert(x->ref < g->first[x->cur + 1]);
    edge_row(x, x->ref++, we);
  }
  return x->failed || x->str.failed;
}

int analysis_heapsnapshot_to(store *s, int64_t snap, store_write_fn write,
                             void *wud, char *err, size_t errlen) {
  graph *g;
  int rc = analysis_load(s, snap, 0, &g, err, errlen);
  if (rc) return rc;
  exporter x;
  memset(&x, 0, sizeof x);
  x.s = s;
  x.snap = snap;
  x.g = g;
  x.write = write;
  x.wud = wud;
  wire_buf_init(&x.line);
  wire_buf_init(&x.name);
  wire_buf_init(&x.str.esc);
  x.str.f = tmpfile();
  if (!x.str.f) {
    snprintf(err, errlen, "cannot create a temporary file for the strings "
             "table (set TMPDIR to a writable directory)");
    rc = STORE_EIO;
    goto done;
  }
  str_idz(&x.str, ""); /* index 0: the empty name */
  char counts[160];
  snprintf(counts, sizeof counts, "\"node_count\":%u,\"edge_count\":%u,"
           "\"trace_function_count\":0,\"root_index\":0},\n\"nodes\":[",
           g->n, g->m);
  outs(&x, meta);
  outs(&x, counts);
  rc = store_scan(s, snap, 0, on_node_row, NULL, &x);
  flush(&x, 1);
  if (rc == STORE_OK) {
    outs(&x, "],\n\"edges\":[");
    x.rows = 0;
    rc = store_scan(s, snap, STORE_SCAN_LIGHT, on_scan_node, on_scan_edge, &x);
    flush(&x, 1);
  }
  if (rc != STORE_OK && !x.failed && !x.str.failed) {
    snprintf(err, errlen, "%s", store_errmsg(s));
    goto done;
  }
  outs(&x, "],\n\"trace_function_infos\":[],\"trace_tree\":[],\"samples\":[],"
       "\"locations\":[],\n\"strings\":[");
  /* Copy the strings table in. */
  char buf[1 << 16];
  size_t n;
  rewind(x.str.f);
  while (!x.failed && (n = fread(buf, 1, sizeof buf, x.str.f)) > 0) out(&x, buf, n);
  outs(&x, "]}\n");
  if (x.failed || x.str.failed || ferror(x.str.f)) {
    snprintf(err, errlen, "writing the export failed (disk full, the reader "
             "went away, or out of memory for the strings table)");
    rc = STORE_EIO;
  } else {
    rc = STORE_OK;
  }
done:
  str_free(&x.str);
  wire_buf_free(&x.line);
  wire_buf_free(&x.name);
  graph_free(g);
  return rc;
}

static int write_file(void *ud, const void *p, size_t n) {
  return fwrite(p, 1, n, ud) == n ? 0 : -1;
}

int analysis_heapsnapshot(store *s, int64_t snap, FILE *f, char *err,
                          size_t errlen) {
  int rc = analysis_heapsnapshot_to(s, snap, write_file, f, err, errlen);
  if (rc == STORE_OK && fflush(f) != 0) {
    snprintf(err, errlen, "writing the export failed (disk full?)");
    rc = STORE_EIO;
  }
  return rc;
}
