/*
** store_page.c
** Nodes are stored packed, up to STORE_PAGE_NODES consecutive ones to a
** page row. This file holds their byte format (docs/store.md, "Packed
** nodes"), a checked decoder, and random access to a snapshot's nodes.
*/
#include <assert.h>
#include <string.h>

#include "store_impl.h"

/* Kind codes 1.. (never reorder: they are in stored data). */
static const char *const kinds[] = {
  NULL, "root", "table", "function", "proto", "cfunction", "upvalue",
  "string", "userdata", "thread", "frame", "exit", "stub", "object",
  "array", "closure", "map", "set", "arraybuffer"};
#define NKINDS ((int)(sizeof kinds / sizeof kinds[0]))

/* Which optional fields follow, in the varint after the kind. */
enum {
  F_SIZE = 1, F_ADDR = 2, F_LINE = 4, F_MODE = 8, F_STATUS = 16,
  F_TYPE = 32, F_NAME = 64, F_SOURCE = 128, F_VALUE = 256, F_PAYLOAD = 512
};

static int kind_code(const char *kind) {
  for (int i = 1; i < NKINDS; i++)
    if (kind[0] == kinds[i][0] && !strcmp(kind, kinds[i])) return i;
  return 0;
}

static void put_bytes(wire_buf *b, const void *p, size_t n) {
  store_put_varint(b, n);
  if (n) wire_buf_put(b, p, n);
}

/* A word (kind, mode, status) keeps its NUL: decoded in place. */
static void put_word(wire_buf *b, const char *w) {
  size_t n = strlen(w);
  store_put_varint(b, n);
  wire_buf_put(b, w, n + 1);
}

size_t store_node_encode(wire_buf *b, const wire_node *n) {
  int code = kind_code(n->kind);
  unsigned flags = (n->has_size ? F_SIZE : 0) | (n->has_addr ? F_ADDR : 0) |
                   (n->has_line ? F_LINE : 0) | (n->mode ? F_MODE : 0) |
                   (n->status ? F_STATUS : 0) | (n->type ? F_TYPE : 0) |
                   (n->name ? F_NAME : 0) | (n->source ? F_SOURCE : 0) |
                   (n->has_value ? F_VALUE : 0) |
                   (n->has_payload ? F_PAYLOAD : 0);
  unsigned char c = (unsigned char)code;
  wire_buf_put(b, &c, 1);
  if (!code) put_word(b, n->kind);
  store_put_varint(b, flags);
  /* the edge count is not known yet: room for the largest, as a varint
  ** padded with continuation bytes, which store_node_set_edges shrinks */
  size_t at = b->len;
  static const unsigned char room[STORE_NEDGES_ROOM] = {0x80, 0x80, 0x80, 0x80, 0x80, 0};
  wire_buf_put(b, room, sizeof room);
  if (flags & F_SIZE) store_put_varint(b, n->size);
  if (flags & F_ADDR) store_put_varint(b, n->addr);
  if (flags & F_LINE) store_put_varint(b, store_zigzag(n->line));
  if (flags & F_MODE) put_word(b, n->mode);
  if (flags & F_STATUS) put_word(b, n->status);
  if (flags & F_TYPE) put_bytes(b, n->type, n->type_len);
  if (flags & F_NAME) put_bytes(b, n->name, n->name_len);
  if (flags & F_SOURCE) put_bytes(b, n->source, n->source_len);
  if (flags & F_VALUE) put_bytes(b, n->value, n->value_len);
  if (flags & F_PAYLOAD) put_bytes(b, n->payload, n->payload_len);
  return at;
}

void store_node_set_edges(wire_buf *b, size_t at, uint64_t nedges) {
  if (b->oom) return;
  assert(at + STORE_NEDGES_ROOM <= b->len && nedges < STORE_MAX_IDS);
  unsigned char t[STORE_NEDGES_ROOM];
  size_t n = 0;
  do {
    t[n++] = (unsigned char)((nedges & 0x7f) | (nedges > 0x7f ? 0x80 : 0));
    nedges >>= 7;
  } while (nedges);
  unsigned char *p = (unsigned char *)b->data + at;
  memmove(p + n, p + STORE_NEDGES_ROOM, b->len - at - STORE_NEDGES_ROOM);
  memcpy(p, t, n);
  b->len -= STORE_NEDGES_ROOM - n;
}

/* ---- decoding ---------------------------------------------------------- */

void store_page_init(store_page *pg, const void *p, size_t n, uint64_t first,
                     uint64_t count, uint64_t e0) {
  pg->p = p;
  pg->end = pg->p + n;
  pg->left = count;
  pg->id = first;
  pg->e0 = e0;
}

static int get_bytes(store_page *pg, const char **s, size_t *len) {
  uint64_t n;
  if (store_get_varint(&pg->p, pg->end, &n) || (uint64_t)(pg->end - pg->p) < n)
    return -1;
  *s = n ? (const char *)pg->p : "";
  *len = (size_t)n;
  pg->p += n;
  return 0;
}

static int get_word(store_page *pg, const char **w) {
  uint64_t n;
  if (store_get_varint(&pg->p, pg->end, &n) || n == 0 ||
      (uint64_t)(pg->end - pg->p) < n + 1 || pg->p[n] != 0 || memchr(pg->p, 0, n))
    return -1;
  *w = (const char *)pg->p;
  pg->p += n + 1;
  return 0;
}

int store_page_next(store_page *pg, store_node *out, uint64_t *e0,
                    const char **why) {
  assert(pg->left > 0);
  memset(out, 0, sizeof *out);
  wire_node *n = &out->n;
  n->id = pg->id;
  uint64_t flags, nedges, u;
  size_t len;
  if (pg->p >= pg->end) goto short_data;
  unsigned code = *pg->p++;
  if (code >= NKINDS) {
    *why = "unknown node kind code";
    return -1;
  }
  if (code) n->kind = kinds[code];
  else if (get_word(pg, &n->kind)) {
    *why = "kind is not a word";
    return -1;
  }
  if (store_get_varint(&pg->p, pg->end, &flags) ||
      store_get_varint(&pg->p, pg->end, &nedges))
    goto short_data;
  if (flags >= 2 * F_PAYLOAD) {
    *why = "unknown node fields";
    return -1;
  }
  if (nedges > STORE_MAX_IDS - pg->e0) {
    *why = "its edge count is damaged";
    return -1;
  }
  if (flags & F_SIZE) {
    if (store_get_varint(&pg->p, pg->end, &n->size)) goto short_data;
    n->has_size = 1;
  }
  if (flags & F_ADDR) {
    if (store_get_varint(&pg->p, pg->end, &n->addr)) goto short_data;
    n->has_addr = 1;
  }
  if (flags & F_LINE) {
    if (store_get_varint(&pg->p, pg->end, &u)) goto short_data;
    n->line = store_unzigzag(u);
    n->has_line = 1;
  }
  if ((flags & F_MODE) && get_word(pg, &n->mode)) {
    *why = "weak mode is not a word";
    return -1;
  }
  if ((flags & F_STATUS) && get_word(pg, &n->status)) {
    *why = "status is not a word";
    return -1;
  }
  if (((flags & F_TYPE) && get_bytes(pg, &n->type, &n->type_len)) ||
      ((flags & F_NAME) && get_bytes(pg, &n->name, &n->name_len)) ||
      ((flags & F_SOURCE) && get_bytes(pg, &n->source, &n->source_len)) ||
      ((flags & F_VALUE) && get_bytes(pg, &n->value, &n->value_len)))
    goto short_data;
  if (flags & F_PAYLOAD) {
    const char *p;
    if (get_bytes(pg, &p, &len)) goto short_data;
    n->payload = p;
    n->payload_len = len;
  }
  n->has_value = (flags & F_VALUE) != 0;
  n->has_payload = (flags & F_PAYLOAD) != 0;
  out->nedges = nedges;
  *e0 = pg->e0;
  pg->e0 += nedges;
  pg->id++;
  pg->left--;
  return 0;
short_data:
  *why = "packed nodes end too early";
  return -1;
}

/* ---- random access ----------------------------------------------------- */

int store_pages_open(store_pages *p, store *s, int64_t snap) {
  memset(p, 0, sizeof *p);
  p->s = s;
  p->snap = snap;
  int rc = store_snapshot_counts(s, snap, &p->nodes, &p->edges);
  if (rc) return rc;
  p->st = store_prepare(s, "SELECT rid, n, e0, data FROM pages"
                           " WHERE rid BETWEEN ?1 AND ?2 ORDER BY rid DESC LIMIT 1");
  return p->st ? STORE_OK : STORE_ESQL;
}

/* Load the page that holds node id. */
static int load(store_pages *p, uint64_t id) {
  store *s = p->s;
  p->loaded = 0;
  sqlite3_reset(p->st);
  sqlite3_bind_int64(p->st, 1, store_rid(p->snap, 0));
  sqlite3_bind_int64(p->st, 2, store_rid(p->snap, id));
  int rc = sqlite3_step(p->st);
  if (rc == SQLITE_DONE) return store_corrupt(s, p->snap, "node", id, "its page is missing");
  if (rc != SQLITE_ROW) return store_fail_sql(s, rc, "reading nodes");
  uint64_t first = (uint64_t)sqlite3_column_int64(p->st, 0) & (STORE_MAX_IDS - 1);
  int64_t n = sqlite3_column_int64(p->st, 1), e0 = sqlite3_column_int64(p->st, 2);
  if (n <= 0 || n > STORE_PAGE_NODES || e0 < 0 || (uint64_t)e0 > p->edges ||
      sqlite3_column_type(p->st, 3) != SQLITE_BLOB)
    return store_corrupt(s, p->snap, "node", first, "its page row is damaged");
  if (id - first >= (uint64_t)n)
    return store_corrupt(s, p->snap, "node", id, "its page is missing");
  p->first = first;
  p->count = (uint64_t)n;
  p->e0 = (uint64_t)e0;
  p->loaded = 1;
  store_page_init(&p->at, sqlite3_column_blob(p->st, 3),
                  (size_t)sqlite3_column_bytes(p->st, 3), first, p->count, p->e0);
  return STORE_OK;
}

int store_pages_node(store_pages *p, uint64_t id, store_node *out,
                     uint64_t *e0) {
  store *s = p->s;
  int rc;
  if (id >= p->nodes)
    return store_fail(s, STORE_ENOTFOUND, "snapshot %lld has no node %llu",
                      (long long)p->snap, (unsigned long long)id);
  if (!p->loaded || id < p->first || id - p->first >= p->count) {
    if ((rc = load(p, id))) return rc;
  } else if (id < p->at.id) {
    /* behind the decoder: start the page again */
    store_page_init(&p->at, sqlite3_column_blob(p->st, 3),
                    (size_t)sqlite3_column_bytes(p->st, 3), p->first, p->count,
                    p->e0);
  }
  for (;;) {
    const char *why;
    uint64_t at = p->at.id;
    if (store_page_next(&p->at, out, e0, &why)) {
      p->loaded = 0;
      return store_corrupt(s, p->snap, "node", at, why);
    }
    if (at == id) break;
  }
  out->snapshot = p->snap;
  if (*e0 > p->edges || out->nedges > p->edges - *e0) {
    p->loaded = 0;
    return store_corrupt(s, p->snap, "node", id, "its edges are out of order");
  }
  return STORE_OK;
}

void store_pages_close(store_pages *p) {
  sqlite3_finalize(p->st);
  p->st = NULL;
  p->loaded = 0;
}
