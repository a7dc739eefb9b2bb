/*
** graph.c
** Snapshot graph records: nodes (<n>) and edges (<e>) as docs/protocol.md
** sections 5.3 and 5.4 define them, written with the fast writer and read
** back from parsed message trees with every field checked.
*/
#include <string.h>

#include "wire_internal.h"

/* Attribute with a value known to need no escaping (numbers, values). */
static void attr_raw(wire_buf *b, const char *name, size_t nlen,
                     const char *v, size_t vlen) {
  char *o;
  if (WIRE_RESERVE(b, nlen + vlen + 4)) return;
  o = b->data + b->len;
  o[0] = ' ';
  memcpy(o + 1, name, nlen);
  o[nlen + 1] = '=';
  o[nlen + 2] = '"';
  memcpy(o + nlen + 3, v, vlen);
  o[nlen + vlen + 3] = '"';
  b->len += nlen + vlen + 4;
}

static void attr_u64(wire_buf *b, const char *name, size_t nlen, uint64_t v) {
  char num[WIRE_NUM_MAX];
  attr_raw(b, name, nlen, num, wire_num_u64(num, v));
}

static void attr_i64(wire_buf *b, const char *name, size_t nlen, int64_t v) {
  char num[WIRE_NUM_MAX];
  attr_raw(b, name, nlen, num, wire_num_i64(num, v));
}

static void attr_value(wire_buf *b, const char *name, size_t nlen,
                       const wire_value *v) {
  char *o;
  size_t at;
  if (WIRE_RESERVE(b, nlen + 40)) return;
  o = b->data + b->len;
  o[0] = ' ';
  memcpy(o + 1, name, nlen);
  o[nlen + 1] = '=';
  o[nlen + 2] = '"';
  b->len += nlen + 3;
  at = b->len;
  wire_value_format(b, v);
  if (b->len == at) return; /* WIRE_V_NONE is never passed here */
  b->data[b->len++] = '"';
}

/* ---- binary frames: tokens written straight into reserved room ------- */

/* An attribute whose value is at most 127 bytes, formatted in place by fmt
** (room for 3 + the longest value). */
#define PUT_SHORT(o, code, fmt) \
  do { \
    size_t n_; \
    (o)[0] = WIRE_T_ATTR; \
    (o)[1] = (char)(0x80 | (code)); \
    n_ = (fmt); \
    (o)[2] = (char)n_; \
    (o) += 3 + n_; \
  } while (0)

static void node_open_bin(wire_buf *b, const wire_node *nd) {
  const char *kind = nd->kind != NULL ? nd->kind : "";
  size_t klen = strlen(kind), mlen = nd->mode != NULL ? strlen(nd->mode) : 0;
  size_t slen = nd->status != NULL ? strlen(nd->status) : 0;
  size_t room = 4 * (WIRE_NUM_MAX + 3) + 2 + 9 * 7 + klen + mlen + slen;
  char *o;
  if (nd->type != NULL) room += nd->type_len;
  if (nd->name != NULL) room += nd->name_len;
  if (nd->has_value) room += nd->value_len;
  if (nd->source != NULL) room += nd->source_len;
  if (WIRE_RESERVE(b, room)) return;
  o = b->data + b->len;
  *o++ = WIRE_T_OPEN;
  *o++ = (char)(0x80 | WIRE_C_N);
  PUT_SHORT(o, WIRE_C_I, wire_num_u64(o + 3, nd->id));
  o = wire_frame_put_attr(o, WIRE_C_K, kind, klen);
  if (nd->type != NULL) o = wire_frame_put_attr(o, WIRE_C_T, nd->type, nd->type_len);
  if (nd->name != NULL) o = wire_frame_put_attr(o, WIRE_C_NM, nd->name, nd->name_len);
  if (nd->has_size) PUT_SHORT(o, WIRE_C_S, wire_num_u64(o + 3, nd->size));
  if (nd->has_addr) PUT_SHORT(o, WIRE_C_A, wire_num_hex(o + 3, nd->addr));
  if (nd->has_value) o = wire_frame_put_attr(o, WIRE_C_V, nd->value, nd->value_len);
  if (nd->has_payload) {
    /* base64 text, as in XML: the tree is the same either way */
    b->len = (size_t)(o - b->data);
    wire_attr_base64(b, "p", nd->payload, nd->payload_len);
    if (WIRE_RESERVE(b, room)) return;
    o = b->data + b->len;
  }
  if (nd->mode != NULL) o = wire_frame_put_attr(o, WIRE_C_M, nd->mode, mlen);
  if (nd->status != NULL) o = wire_frame_put_attr(o, WIRE_C_ST, nd->status, slen);
  if (nd->source != NULL) o = wire_frame_put_attr(o, WIRE_C_SRC, nd->source, nd->source_len);
  if (nd->has_line) PUT_SHORT(o, WIRE_C_L, wire_num_i64(o + 3, nd->line));
  b->len = (size_t)(o - b->data);
}

static void edge_write_bin(wire_buf *b, const wire_edge *e) {
  const char *kind = e->kind != NULL ? e->kind : "";
  size_t klen = strlen(kind), room = klen + 2 * WIRE_VALUE_MAX + WIRE_NUM_MAX + 4 * 7 + 4;
  char *o;
  if (e->name != NULL) room += e->name_len;
  if (WIRE_RESERVE(b, room)) return;
  o = b->data + b->len;
  *o++ = WIRE_T_OPEN;
  *o++ = (char)(0x80 | WIRE_C_E);
  o = wire_frame_put_attr(o, WIRE_C_K, kind, klen);
  if (e->name != NULL) o = wire_frame_put_attr(o, WIRE_C_N, e->name, e->name_len);
  if (e->has_index) PUT_SHORT(o, WIRE_C_I, wire_num_i64(o + 3, e->index));
  if (e->key.type != WIRE_V_NONE) PUT_SHORT(o, WIRE_C_KEY, wire_value_text(o + 3, &e->key));
  if (e->value.type != WIRE_V_NONE) PUT_SHORT(o, WIRE_C_V, wire_value_text(o + 3, &e->value));
  *o++ = WIRE_T_END;
  b->len = (size_t)(o - b->data);
}

void wire_node_open(wire_buf *b, const wire_node *node) {
  if (b->bin) {
    node_open_bin(b, node);
    return;
  }
  if (WIRE_RESERVE(b, 64)) return;
  memcpy(b->data + b->len, "<n", 2);
  b->len += 2;
  attr_u64(b, "i", 1, node->id);
  wire_attr_str(b, "k", node->kind != NULL ? node->kind : "");
  if (node->type != NULL) wire_attr(b, "t", node->type, node->type_len);
  if (node->name != NULL) wire_attr(b, "nm", node->name, node->name_len);
  if (node->has_size) attr_u64(b, "s", 1, node->size);
  if (node->has_addr) {
    char hex[16];
    attr_raw(b, "a", 1, hex, wire_num_hex(hex, node->addr));
  }
  if (node->has_value) wire_attr(b, "v", node->value, node->value_len);
  if (node->has_payload)
    wire_attr_base64(b, "p", node->payload, node->payload_len);
  if (node->mode != NULL) wire_attr_str(b, "m", node->mode);
  if (node->status != NULL) wire_attr_str(b, "st", node->status);
  if (node->source != NULL) wire_attr(b, "src", node->source, node->source_len);
  if (node->has_line) attr_i64(b, "l", 1, node->line);
  wire_open_end(b);
}

void wire_node_continue(wire_buf *b, uint64_t id) {
  if (b->bin) {
    char *o;
    if (WIRE_RESERVE(b, WIRE_NUM_MAX + 10)) return;
    o = b->data + b->len;
    *o++ = WIRE_T_OPEN;
    *o++ = (char)(0x80 | WIRE_C_N);
    PUT_SHORT(o, WIRE_C_I, wire_num_u64(o + 3, id));
    o = wire_frame_put_attr(o, WIRE_C_C, "1", 1);
    b->len = (size_t)(o - b->data);
    return;
  }
  if (WIRE_RESERVE(b, 2)) return;
  memcpy(b->data + b->len, "<n", 2);
  b->len += 2;
  attr_u64(b, "i", 1, id);
  wire_buf_put(b, " c=\"1\">", 7);
}

void wire_edge_write(wire_buf *b, const wire_edge *e) {
  if (b->bin) {
    edge_write_bin(b, e);
    return;
  }
  if (WIRE_RESERVE(b, 2)) return;
  memcpy(b->data + b->len, "<e", 2);
  b->len += 2;
  wire_attr_str(b, "k", e->kind != NULL ? e->kind : "");
  if (e->name != NULL) wire_attr(b, "n", e->name, e->name_len);
  if (e->has_index) attr_i64(b, "i", 1, e->index);
  if (e->key.type != WIRE_V_NONE) attr_value(b, "key", 3, &e->key);
  if (e->value.type != WIRE_V_NONE) attr_value(b, "v", 1, &e->value);
  wire_empty_end(b);
}

void wire_node_close(wire_buf *b) { wire_close(b, "n"); }

/* ---- reading ------------------------------------------------------- */

/* A NUL-free, non-empty word such as a kind: the struct hands it out as a
** C string, so an embedded NUL would silently shorten it. */
static int is_word(const char *s, size_t n) {
  size_t i;
  if (n > 16) return memchr(s, 0, n) == NULL;
  for (i = 0; i < n; i++) /* kinds are short: no call for them */
    if (s[i] == '\0') return 0;
  return n > 0;
}

/* Records are cleared by copying these rather than by memset, which the
** compiler turns into a string instruction slow to start for one record. */
static const wire_node no_node;
static const wire_edge no_edge;

/* Attribute names are compared a byte at a time: they are one to three
** letters, and a call to strcmp for each candidate costs more than the
** comparison itself. NAME1 and NAME2 test a name against "a" and "ab". */
#define NAME1(n, a) ((n)[0] == (a) && (n)[1] == '\0')
#define NAME2(n, a, b) ((n)[0] == (a) && (n)[1] == (b) && (n)[2] == '\0')

int wire_node_read(const wire_elem *e, wire_node *node, int *cont,
                   wire_buf *scratch, const char **why) {
  size_t i;
  *node = no_node;
  *cont = 0;
  if (!NAME1(e->name, 'n')) { *why = "not a node element <n>"; return -1; }
  /* the id is checked first, whatever the order of the attributes; the
  ** writer puts it first */
  if (e->nattrs > 0 && NAME1(e->attrs[0].name, 'i')
          ? wire_num_parse_u64(e->attrs[0].value, e->attrs[0].len, &node->id) != 0
          : wire_get_u64(e, "i", &node->id) != 0) {
    *why = "node without a valid id i (a decimal integer)";
    return -1;
  }
  if (scratch != NULL) wire_buf_reset(scratch);
  for (i = 0; i < e->nattrs; i++) {
    const wire_attr_t *a = &e->attrs[i];
    const char *n = a->name, *v = a->value;
    size_t len = a->len;
    switch (n[0]) {
    case 'i':
      break;
    case 'c':
      if (n[1] != '\0') break;
      if (len != 1 || v[0] != '1') { *why = "continuation flag c must be 1"; return -1; }
      *cont = 1;
      break;
    case 'k':
      if (n[1] != '\0') break;
      if (!is_word(v, len)) { *why = "node kind k is empty or holds a NUL"; return -1; }
      node->kind = v;
      break;
    case 't':
      if (n[1] != '\0') break;
      node->type = v; node->type_len = len;
      break;
    case 'n':
      if (n[1] != 'm' || n[2] != '\0') break;
      node->name = v; node->name_len = len;
      break;
    case 's':
      if (n[1] == '\0') {
        if (wire_num_parse_u64(v, len, &node->size) != 0) { *why = "node size s is not a decimal integer"; return -1; }
        node->has_size = 1;
      } else if (NAME2(n, 's', 't')) {
        if (!is_word(v, len)) { *why = "status st is empty or holds a NUL"; return -1; }
        node->status = v;
      } else if (strcmp(n, "src") == 0) {
        node->source = v; node->source_len = len;
      }
      break;
    case 'a':
      if (n[1] != '\0') break;
      if (wire_num_parse_hex(v, len, &node->addr) != 0) { *why = "node address a is not 1-16 hex digits"; return -1; }
      node->has_addr = 1;
      break;
    case 'v':
      if (n[1] != '\0') break;
      node->value = v; node->value_len = len; node->has_value = 1;
      break;
    case 'p':
      if (n[1] != '\0') break;
      if (scratch == NULL) { *why = "node has a payload but no scratch buffer was given"; return -1; }
      if (wire_base64_decode(scratch, v, len) != 0) {
        *why = scratch->oom ? "out of memory decoding the payload" : "node payload p is not valid base64";
        return -1;
      }
      node->payload = scratch->data != NULL ? scratch->data : "";
      node->payload_len = scratch->len;
      node->has_payload = 1;
      break;
    case 'm':
      if (n[1] != '\0') break;
      if (strcmp(v, "k") != 0 && strcmp(v, "v") != 0 && strcmp(v, "kv") != 0) {
        *why = "weak mode m must be k, v or kv";
        return -1;
      }
      node->mode = v;
      break;
    case 'l':
      if (n[1] != '\0') break;
      if (wire_num_parse_i64(v, len, &node->line) != 0) { *why = "line l is not a decimal integer"; return -1; }
      node->has_line = 1;
      break;
    default:
      break;
    }
    /* other attributes are ignored: later versions may add fields */
  }
  if (*cont) {
    if (e->nattrs != 2) { *why = "a continuation <n i c> carries no other fields"; return -1; }
    return 0;
  }
  if (node->kind == NULL) { *why = "node without a kind k"; return -1; }
  return 0;
}

int wire_edge_read(const wire_elem *e, wire_edge *edge, const char **why) {
  const char *vtext;
  size_t vlen;
  return wire_edge_read_text(e, edge, &vtext, &vlen, why);
}

int wire_edge_read_text(const wire_elem *e, wire_edge *edge, const char **vtext,
                        size_t *vlen, const char **why) {
  size_t i;
  *edge = no_edge;
  *vtext = NULL;
  *vlen = 0;
  if (!NAME1(e->name, 'e')) { *why = "not an edge element <e>"; return -1; }
  for (i = 0; i < e->nattrs; i++) {
    const wire_attr_t *a = &e->attrs[i];
    const char *n = a->name, *v = a->value;
    size_t len = a->len;
    if (NAME1(n, 'k')) {
      if (!is_word(v, len)) { *why = "edge kind k is empty or holds a NUL"; return -1; }
      edge->kind = v;
    } else if (NAME1(n, 'n')) {
      edge->name = v; edge->name_len = len;
    } else if (NAME1(n, 'i')) {
      if (wire_num_parse_i64(v, len, &edge->index) != 0) { *why = "edge index i is not a decimal integer"; return -1; }
      edge->has_index = 1;
    } else if (NAME1(n, 'v')) {
      if (wire_value_parse(v, len, &edge->value) != 0) { *why = "edge target v is not a valid value"; return -1; }
      *vtext = v;
      *vlen = len;
    } else if (n[0] == 'k' && n[1] == 'e' && n[2] == 'y' && n[3] == '\0') {
      if (wire_value_parse(v, len, &edge->key) != 0) { *why = "edge key is not a valid value"; return -1; }
    }
  }
  if (edge->kind == NULL) { *why = "edge without a kind k"; return -1; }
  if (edge->value.type == WIRE_V_NONE) { *why = "edge without a target v"; return -1; }
  return 0;
}
