/*
** api_json.c
** JSON renderings of the store's rows: values (exact integers and floats,
** NaN and -0.0 included), nodes, edges with a summary of their target, and
** snapshots. docs/api.md documents every field.
*/
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

/* Bytes of a target's string value shown in an edge's summary. */
#define TARGET_PREVIEW 120

void api_value_json(json_writer *w, const wire_value *v) {
  char text[64];
  if (!v || v->type == WIRE_V_NONE) { json_null(w); return; }
  json_object_begin(w);
  switch (v->type) {
  case WIRE_V_NIL:
    json_kv_str(w, "type", "nil");
    break;
  case WIRE_V_BOOL:
    json_kv_str(w, "type", "boolean");
    json_kv_bool(w, "value", v->u.b);
    break;
  case WIRE_V_INT:
    /* value is exact in JavaScript only within ±2^53; text always is. */
    json_kv_str(w, "type", "integer");
    json_kv_int(w, "value", v->u.i);
    snprintf(text, sizeof text, "%" PRId64, v->u.i);
    json_kv_str(w, "text", text);
    break;
  case WIRE_V_FLOAT: {
    double f = v->u.f;
    json_kv_str(w, "type", "float");
    json_kv_double(w, "value", f);
    if (isnan(f)) snprintf(text, sizeof text, "nan");
    else if (isinf(f)) snprintf(text, sizeof text, f < 0 ? "-inf" : "inf");
    else if (f == 0 && signbit(f)) snprintf(text, sizeof text, "-0.0");
    else {
      for (int prec = 15; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, f);
        if (strtod(text, NULL) == f) break;
      }
    }
    json_kv_str(w, "text", text);
    snprintf(text, sizeof text, "%a", f);
    json_kv_str(w, "hex", text);
    break;
  }
  case WIRE_V_REF:
    json_kv_str(w, "type", "ref");
    json_kv_uint(w, "node", v->u.ref);
    break;
  default:
    json_kv_str(w, "type", "unknown");
    break;
  }
  json_object_end(w);
}

static void kv_opt_bytes(json_writer *w, const char *k, const char *p, size_t n) {
  if (p) json_kv_bytes(w, k, p, n);
}

void api_node_json(json_writer *w, const store_node *sn, int full,
                   int with_payload) {
  const wire_node *n = &sn->n;
  char hex[24];
  json_object_begin(w);
  json_kv_uint(w, "id", n->id);
  json_kv_str(w, "kind", n->kind);
  kv_opt_bytes(w, "type", n->type, n->type_len);
  kv_opt_bytes(w, "name", n->name, n->name_len);
  if (n->has_size) json_kv_uint(w, "size", n->size);
  if (n->has_addr) {
    snprintf(hex, sizeof hex, "%" PRIx64, n->addr);
    json_kv_str(w, "addr", hex);
  }
  if (n->has_value) {
    size_t len = n->value_len;
    int cut = !full && len > API_VALUE_MAX;
    json_kv_bytes(w, "value", n->value, cut ? API_VALUE_MAX : len);
    json_kv_uint(w, "value_len", len);
    if (cut) json_kv_bool(w, "value_truncated", 1);
  }
  if (n->has_payload) {
    json_kv_uint(w, "payload_len", n->payload_len);
    if (with_payload) {
      wire_buf b64;
      wire_buf_init(&b64);
      wire_base64_encode(&b64, n->payload, n->payload_len);
      json_kv_bytes(w, "payload", b64.data ? b64.data : "", b64.len);
      wire_buf_free(&b64);
    }
  }
  if (n->mode) json_kv_str(w, "mode", n->mode);
  if (n->status) json_kv_str(w, "status", n->status);
  kv_opt_bytes(w, "source", n->source, n->source_len);
  if (n->has_line) json_kv_int(w, "line", n->line);
  json_kv_uint(w, "edges", sn->nedges);
  json_object_end(w);
}

/* {"id","kind","type","name","value"(preview),"edges"} of node id. */
static void target_json(json_writer *w, store *st, int64_t snap, uint64_t id) {
  store_node tn;
  if (store_node_get(st, snap, id, &tn) != STORE_OK) {
    json_null(w);
    return;
  }
  const wire_node *n = &tn.n;
  json_object_begin(w);
  json_kv_uint(w, "id", n->id);
  json_kv_str(w, "kind", n->kind);
  kv_opt_bytes(w, "type", n->type, n->type_len);
  kv_opt_bytes(w, "name", n->name, n->name_len);
  if (n->has_value) {
    size_t len = n->value_len < TARGET_PREVIEW ? n->value_len : TARGET_PREVIEW;
    json_kv_bytes(w, "value", n->value, len);
    json_kv_uint(w, "value_len", n->value_len);
  }
  if (n->has_size) json_kv_uint(w, "size", n->size);
  json_kv_uint(w, "edges", tn.nedges);
  json_object_end(w);
  store_node_release(&tn);
}

void api_edge_json(json_writer *w, store *st, int64_t snap, const store_edge *se,
                   unsigned flags) {
  const wire_edge *e = &se->e;
  if (!st) flags = 0;
  json_object_begin(w);
  json_kv_uint(w, "from", se->from);
  if (flags & API_EDGE_SOURCE) {
    json_keyz(w, "source");
    target_json(w, st, snap, se->from);
  }
  json_kv_uint(w, "seq", se->seq);
  json_kv_str(w, "kind", e->kind);
  kv_opt_bytes(w, "name", e->name, e->name_len);
  if (e->has_index) json_kv_int(w, "index", e->index);
  if (e->key.type != WIRE_V_NONE) {
    json_keyz(w, "key");
    api_value_json(w, &e->key);
    if (e->key.type == WIRE_V_REF && (flags & API_EDGE_TARGET)) {
      json_keyz(w, "key_target");
      target_json(w, st, snap, e->key.u.ref);
    }
  }
  json_keyz(w, "value");
  api_value_json(w, &e->value);
  if (e->value.type == WIRE_V_REF && (flags & API_EDGE_TARGET)) {
    json_keyz(w, "target");
    target_json(w, st, snap, e->value.u.ref);
  }
  json_object_end(w);
}

/* A newline-separated list as a JSON array of its non-empty lines. */
static void lines_json(json_writer *w, const char *k, const char *s) {
  json_keyz(w, k);
  json_array_begin(w);
  while (s && *s) {
    size_t n = strcspn(s, "\n");
    if (n) json_string(w, s, n);
    s += n;
    if (*s == '\n') s++;
  }
  json_array_end(w);
}

void api_snapshot_json(json_writer *w, const store_snapshot *s) {
  json_object_begin(w);
  json_kv_int(w, "id", s->id);
  json_kv_int(w, "machine", s->machine);
  json_kv_bytes(w, "machine_name", s->machine_name, s->machine_name_len);
  json_kv_str(w, "wire_id", s->wire_id);
  json_kv_bytes(w, "label", s->label, s->label_len);
  json_kv_str(w, "vm", s->vm);
  json_kv_str(w, "version", s->version);
  json_kv_int(w, "time", s->time_ms);
  json_kv_int(w, "stored_at", s->stored_ms);
  json_kv_str(w, "reason", s->reason);
  lines_json(w, "roots", s->roots);
  lines_json(w, "exits", s->exits);
  json_kv_uint(w, "nodes", s->nodes);
  json_kv_uint(w, "edges", s->edges);
  json_kv_uint(w, "bytes", s->bytes);
  json_kv_str(w, "hash", s->hash);
  json_kv_bool(w, "indexed", s->indexed);
  json_kv_bytes(w, "error", s->error, s->error_len);
  json_kv_bytes(w, "traceback", s->traceback, s->traceback_len);
  json_object_end(w);
}
