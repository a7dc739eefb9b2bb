/*
** analysis_edges.c
** From analysis graphs back to the store's records: which matching suits
** two snapshots, the store edge behind a graph edge, and paths as text.
*/
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "analysis.h"

/* ---------------------------------------------------------------- */
/* Matching mode, edge records                                       */
/* ---------------------------------------------------------------- */

typedef struct pid_find {
  int64_t machine;
  int64_t pid;
} pid_find;

static int on_machine(void *ud, const store_machine *m) {
  pid_find *f = ud;
  if (m->id != f->machine) return 0;
  f->pid = m->pid;
  return 1;
}

enum analysis_match_mode analysis_auto_mode(store *s, int64_t a, int64_t b) {
  store_snapshot sa, sb;
  enum analysis_match_mode mode = ANALYSIS_MATCH_PATH;
  if (store_snapshot_get(s, a, &sa)) return mode;
  if (store_snapshot_get(s, b, &sb)) {
    store_snapshot_release(&sa);
    return mode;
  }
  /* A machine row is one (name, pid, vm): the same row with a known pid is
  ** the same process, whose addresses name the same objects. */
  if (sa.machine == sb.machine) {
    pid_find f = {sa.machine, -1};
    store_machines(s, on_machine, &f);
    if (f.pid >= 0) mode = ANALYSIS_MATCH_ADDRESS;
  }
  store_snapshot_release(&sa);
  store_snapshot_release(&sb);
  return mode;
}

typedef struct edge_find {
  uint32_t want;      /* ordinal of the reference among the node's */
  uint32_t seen;
  store_edge *out;
  wire_buf *scratch;
  int found;
} edge_find;

static int on_child(void *ud, const store_edge *e) {
  edge_find *f = ud;
  /* Count references exactly as graph_builder_edge makes them. */
  uint32_t refs = (e->e.value.type == WIRE_V_REF);
  if (graph_ekind_parse(e->e.kind ? e->e.kind : "") == GRAPH_E_KEY &&
      e->e.key.type == WIRE_V_REF)
    refs++;
  if (f->want >= f->seen + refs) {
    f->seen += refs;
    return 0;
  }
  *f->out = *e;
  wire_buf_reset(f->scratch);
  size_t klen = e->e.kind ? strlen(e->e.kind) : 0;
  wire_buf_put(f->scratch, e->e.kind ? e->e.kind : "", klen + 1);
  if (e->e.name) wire_buf_put(f->scratch, e->e.name, e->e.name_len + 1);
  if (f->scratch->oom) return 1;
  f->out->e.kind = f->scratch->data;
  if (e->e.name) f->out->e.name = f->scratch->data + klen + 1;
  f->found = 1;
  return 1;
}

int analysis_edge_record(store *s, int64_t snap, const graph *g, uint32_t e,
                         store_edge *out, wire_buf *scratch) {
  assert(e < g->m);
  graph_id from = analysis_edge_source(g, e);
  edge_find f = {e - g->first[from], 0, out, scratch, 0};
  int rc = store_children(s, snap, from, 0, 0, on_child, &f);
  if (f.found) return STORE_OK;
  if (scratch->oom) return STORE_ENOMEM;
  if (rc && rc != STORE_ESTOPPED) return rc;
  return STORE_ECORRUPT; /* the rows changed under the graph */
}

/* ---------------------------------------------------------------- */
/* Paths as text                                                     */
/* ---------------------------------------------------------------- */

/* A name the path syntax takes bare: no '.', '[', '{', not empty, and
** not starting with '@' or '"'. */
static int plain_name(const char *s, size_t n) {
  if (n == 0 || s[0] == '@' || s[0] == '"') return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] == '.' || s[i] == '[' || s[i] == '{' || s[i] == 0) return 0;
  return 1;
}

static void quoted(wire_buf *b, const char *s, size_t n) {
  char hex[8];
  wire_buf_puts(b, "[\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '"': wire_buf_puts(b, "\\\""); break;
    case '\\': wire_buf_puts(b, "\\\\"); break;
    case '\n': wire_buf_puts(b, "\\n"); break;
    case '\r': wire_buf_puts(b, "\\r"); break;
    case '\t': wire_buf_puts(b, "\\t"); break;
    case 0: wire_buf_puts(b, "\\0"); break;
    default:
      if (c < 0x20 || c == 0x7F) {
        snprintf(hex, sizeof hex, "\\x%02X", c);
        wire_buf_puts(b, hex);
      } else {
        wire_buf_put(b, &s[i], 1);
      }
    }
  }
  wire_buf_puts(b, "\"]");
}

int analysis_path_text(store *s, int64_t snap, const graph *g,
                       const analysis_path *p, wire_buf *out) {
  wire_buf scratch;
  char num[48];
  wire_buf_init(&scratch);
  if (p->len == 0) wire_buf_puts(out, "@0");
  for (uint32_t i = 0; i < p->len; i++) {
    if (p->len > ANALYSIS_PATH_SHOWN && i == ANALYSIS_PATH_SHOWN / 2) {
      /* A path through a long chain: its two ends say enough. */
      uint32_t skip = p->len - ANALYSIS_PATH_SHOWN;
      snprintf(num, sizeof num, "…(%u steps)…", skip);
      wire_buf_puts(out, num);
      i += skip - 1;
      continue;
    }
    uint32_t e = p->edge[i];
    store_edge se;
    int rc = analysis_edge_record(s, snap, g, e, &se, &scratch);
    if (rc) {
      wire_buf_free(&scratch);
      return rc;
    }
    const wire_edge *we = &se.e;
    enum graph_ekind k = graph_ekind_of(g, e);
    int plain = we->name && plain_name(we->name, we->name_len);
    if (i == 0) {
      if (k == GRAPH_E_ROOT && plain) {
        wire_buf_put(out, we->name, we->name_len);
      } else { /* start from the node itself */
        snprintf(num, sizeof num, "@%u", g->to[e]);
        wire_buf_puts(out, num);
      }
      continue;
    }
    switch (k) {
    case GRAPH_E_FIELD:
      if (plain) {
        wire_buf_puts(out, ".");
        wire_buf_put(out, we->name, we->name_len);
      } else {
        quoted(out, we->name ? we->name : "", we->name ? we->name_len : 0);
      }
      break;
    case GRAPH_E_INDEX:
      snprintf(num, sizeof num, "[%lld]", (long long)we->index);
      wire_buf_puts(out, num);
      break;
    case GRAPH_E_KEY:
      wire_buf_puts(out, "[");
      wire_value_format(out, &we->key);
      wire_buf_puts(out, "]");
      break;
    case GRAPH_E_KEYREF:
      snprintf(num, sizeof num, "{key @%u}", g->to[e]);
      wire_buf_puts(out, num);
      break;
    default:
      wire_buf_puts(out, ".");
      wire_buf_puts(out, we->kind);
      if (plain) {
        wire_buf_puts(out, ".");
        wire_buf_put(out, we->name, we->name_len);
      } else if (we->has_index) {
        snprintf(num, sizeof num, "[%lld]", (long long)we->index);
        wire_buf_puts(out, num);
      }
      break;
    }
  }
  wire_buf_free(&scratch);
  return out->oom ? STORE_ENOMEM : STORE_OK;
}
