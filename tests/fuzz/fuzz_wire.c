/*
** fuzz_wire.c
** libFuzzer target for protocol/: any byte stream, fed in chunks whose sizes
** come from the input, must parse the same as when fed whole, never crash,
** stay within its memory bound, recover by resync, and render to text that
** parses back to the same messages; edge runs must read back to what they
** write; and escaping any bytes must round-trip.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); abort(); } } while (0)

typedef struct run {
  wire_buf log;            /* "offset length seq rendering" per message, then the error */
  uint64_t last_end;       /* messages come in order and do not overlap */
  uint64_t fed;            /* bytes fed so far (bounds every offset) */
  int check_records;
} run;

/* The edge hashed from its value's text equals the edge hashed from its
** value: the reader's text is the one canonical spelling. */
static void check_text_hash(const wire_edge *ed, const char *vtext, size_t vlen) {
  wire_hash a, b;
  char ha[17], hb[17];
  wire_hash_init(&a);
  wire_hash_init(&b);
  wire_hash_edge(&a, ed);
  wire_hash_edge_text(&b, ed, vtext, vlen);
  wire_hash_hex(&a, ha);
  wire_hash_hex(&b, hb);
  CHECK(strcmp(ha, hb) == 0);
}

/* A run that reads whole has consecutive indices, at most WIRE_RUN_MAX
** values, and writes back to exactly the text it came from. */
static void check_run(const wire_elem *x) {
  wire_run run;
  wire_edge ed;
  wire_buf again;
  const char *why, *v;
  size_t n = 0, vlen;
  int64_t first;
  int r;
  if (wire_run_begin(x, &run, &why) != 0) return;
  first = run.next;
  wire_buf_init(&again);
  wire_run_open(&again, run.kind, first);
  while ((r = wire_run_next(&run, &ed)) > 0) {
    CHECK(ed.has_index && ed.index == first + (int64_t)n);
    CHECK(ed.name == NULL && ed.key.type == WIRE_V_NONE);
    check_text_hash(&ed, run.vtext, run.vlen);
    {
      /* the run's own path (shared fields kept, index counted up) too */
      wire_hash a, b;
      char ha[17], hb[17];
      wire_hash_init(&a);
      wire_hash_init(&b);
      wire_hash_edge(&a, &ed);
      wire_hash_run_edge(&b, &run, &ed);
      wire_hash_hex(&a, ha);
      wire_hash_hex(&b, hb);
      CHECK(strcmp(ha, hb) == 0);
    }
    wire_run_value(&again, &ed.value);
    n++;
  }
  CHECK(n <= WIRE_RUN_MAX);
  if (r == 0) {
    CHECK(n > 0);
    wire_run_close(&again);
    v = wire_get(x, "v", &vlen);
    CHECK(v != NULL && !again.oom);
    /* again holds '<r k="…" i="…" v="' + the values + '"/>' */
    CHECK(again.len >= vlen + 3);
    CHECK(memcmp(again.data + again.len - 3 - vlen, v, vlen) == 0);
  }
  wire_buf_free(&again);
}

static void read_records(const wire_elem *e) {
  wire_buf scratch;
  wire_node n;
  wire_edge ed;
  int cont;
  const char *why;
  wire_buf_init(&scratch);
  for (; e != NULL; e = e->next) {
    const wire_elem *c;
    if (strcmp(e->name, "graph") != 0) continue;
    for (c = e->children; c != NULL; c = c->next) {
      const wire_elem *x;
      wire_edges it;
      if (wire_node_read(c, &n, &cont, &scratch, &why) == 0) {
        wire_hash h;
        char hex[17];
        wire_hash_init(&h);
        if (!cont) wire_hash_node(&h, &n);
        wire_hash_hex(&h, hex);
      }
      for (x = c->children; x != NULL; x = x->next) {
        if (strcmp(x->name, "r") == 0) check_run(x);
        else (void)wire_edge_read(x, &ed, &why);
      }
      /* <e> and <r> alike, runs expanded */
      wire_edges_begin(c, &it);
      while (wire_edges_next(&it, &ed) > 0)
        if (it.vtext != NULL) check_text_hash(&ed, it.vtext, it.vlen);
    }
  }
  wire_buf_free(&scratch);
}

/* Whether the writers can put e's subtree in a binary frame: names of at
** most 127 ASCII characters (XML allows longer and non-ASCII ones), at most
** 64 attributes an element. */
static int frameable(const wire_elem *e) {
  for (; e != NULL; e = e->next) {
    size_t i, n = strlen(e->name);
    if (n > 127 || e->nattrs > 64) return 0;
    for (i = 0; i < n; i++) if ((unsigned char)e->name[i] >= 0x80) return 0;
    for (i = 0; i < e->nattrs; i++) {
      const char *a = e->attrs[i].name;
      size_t k, an = strlen(a);
      if (an > 127) return 0;
      for (k = 0; k < an; k++) if ((unsigned char)a[k] >= 0x80) return 0;
    }
    if (!frameable(e->children)) return 0;
  }
  return 1;
}

static void write_elems(wire_buf *b, const wire_elem *e) {
  for (; e != NULL; e = e->next) {
    size_t i;
    wire_open(b, e->name);
    for (i = 0; i < e->nattrs; i++) wire_attr(b, e->attrs[i].name, e->attrs[i].value, e->attrs[i].len);
    wire_open_end(b);
    wire_text(b, e->text, e->text_len);
    write_elems(b, e->children);
    wire_close(b, e->name);
  }
}

typedef struct frame_check {
  const wire_buf *want;
  int seen;
} frame_check;

static int on_frame_msg(void *ud, const wire_msg *m) {
  frame_check *fc = ud;
  wire_buf got;
  CHECK(m->binary);
  wire_buf_init(&got);
  wire_msg_render(&got, m);
  CHECK(got.len == fc->want->len && (got.len == 0 || memcmp(got.data, fc->want->data, got.len) == 0));
  wire_buf_free(&got);
  fc->seen++;
  return 0;
}

/* The message written again as a binary frame parses to the same tree. */
static void check_frame_fixpoint(const wire_msg *m) {
  wire_buf want, frame;
  frame_check fc;
  wire_parser *p;
  if (!frameable(m->items)) return;
  wire_buf_init(&want);
  wire_buf_init(&frame);
  wire_msg_render(&want, m);
  wire_frame_begin(&frame, m->wrapped);
  write_elems(&frame, m->items);
  wire_frame_end(&frame);
  CHECK(!frame.oom);
  fc.want = &want;
  fc.seen = 0;
  p = wire_parser_new(NULL, on_frame_msg, &fc);
  CHECK(wire_parser_feed(p, frame.data, frame.len) == WIRE_OK);
  CHECK(wire_parser_finish(p) == WIRE_OK);
  CHECK(fc.seen == 1);
  wire_parser_free(p);
  wire_buf_free(&want);
  wire_buf_free(&frame);
}

static int on_msg(void *ud, const wire_msg *m) {
  run *r = ud;
  char head[80];
  CHECK(m->offset >= r->last_end);
  CHECK(m->offset + m->length <= r->fed);
  CHECK(m->length >= 3);
  r->last_end = m->offset + m->length;
  snprintf(head, sizeof head, "%llu %llu %llu ", (unsigned long long)m->offset,
           (unsigned long long)m->length, (unsigned long long)m->seq);
  wire_buf_puts(&r->log, head);
  wire_msg_render(&r->log, m);
  wire_buf_put(&r->log, "\n", 1);
  if (r->check_records) {
    read_records(m->items);
    check_frame_fixpoint(m);
  }
  return 0;
}

static void log_error(run *r, const wire_parser *p) {
  const wire_error *e = wire_parser_error(p);
  char line[96];
  CHECK(strstr(e->text, "internal error") == NULL);
  CHECK(e->offset <= r->fed);
  CHECK(e->msg_offset <= e->offset);
  snprintf(line, sizeof line, "error %d at %llu in %llu at %llu\n", (int)e->code,
           (unsigned long long)e->offset, (unsigned long long)e->msg_seq,
           (unsigned long long)e->msg_offset);
  wire_buf_puts(&r->log, line);
}

static const wire_limits tight = {4096, 512, 8};

/* A graph consumer (wire_parser_graph): records read in place must be what
** the tree readers read, and check as they do. */
static int g_batch(void *ud, const wire_elem *graph, const wire_msg *m) {
  (void)ud;
  CHECK(graph->children == NULL && strcmp(graph->name, "graph") == 0 && m->binary);
  return 0;
}

static int g_node(void *ud, const wire_node *n, int cont) {
  (void)ud;
  CHECK(cont || n->kind != NULL);
  return 0;
}

static int g_edge(void *ud, const wire_edge *e, const char *vtext, size_t vlen) {
  (void)ud;
  CHECK(e->kind != NULL && e->value.type != WIRE_V_NONE && vtext != NULL);
  check_text_hash(e, vtext, vlen);
  return 0;
}

static int g_bad(void *ud, int what, const char *element, const char *why) {
  (void)ud;
  CHECK(what >= WIRE_GRAPH_BAD_CHILD && what <= WIRE_GRAPH_BAD_EDGE);
  CHECK(element != NULL && why != NULL);
  return 0;
}

static const wire_graph_fns graph_fns = {g_batch, g_node, g_edge, g_bad};

/* The lines of log that report errors. */
static void error_lines(const wire_buf *log, wire_buf *out) {
  const char *s = log->data, *end = s ? s + log->len : NULL;
  while (s != NULL && s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    if (nl == NULL) break;
    if (strncmp(s, "error", 5) == 0) wire_buf_put(out, s, (size_t)(nl + 1 - s));
    s = nl + 1;
  }
}

/* Feed data whole or in chunks sized by the input itself (1-97 bytes);
** resync after errors if asked; with graph, batches go to graph_fns. What
** happened goes to r->log. */
static void parse_as(run *r, const uint8_t *data, size_t size, int whole, int resync,
                     int graph) {
  wire_parser *p = wire_parser_new(&tight, on_msg, r);
  if (p != NULL && graph) wire_parser_graph(p, &graph_fns, r);
  size_t off = 0, k = 0;
  int errors = 0;
  enum wire_status st = WIRE_OK;
  CHECK(p != NULL);
  while (off < size) {
    size_t take = whole ? size - off : 1 + data[k++ % size] % 97;
    if (take > size - off) take = size - off;
    r->fed += take;
    st = wire_parser_feed(p, data + off, take);
    off += take;
    CHECK(wire_parser_memory(p) < (size_t)64 << 20);
    while (st != WIRE_OK && st != WIRE_ENOMEM) {
      log_error(r, p);
      if (!resync || ++errors > 1000) break;
      wire_parser_resync(p);
      st = wire_parser_feed(p, "", 0);
    }
    if (st != WIRE_OK) break;
  }
  if (st == WIRE_OK && wire_parser_finish(p) != WIRE_OK) log_error(r, p);
  wire_parser_free(p);
}

static void parse(run *r, const uint8_t *data, size_t size, int whole, int resync) {
  parse_as(r, data, size, whole, resync, 0);
}

/* The rendering of each message is XML that parses back to itself. */
static void check_rendering_fixpoint(const wire_buf *log) {
  const char *s = log->data, *end;
  if (s == NULL) return;
  end = s + log->len;
  while (s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s)), *sp;
    run again;
    int spaces = 0;
    if (nl == NULL) break;
    if (strncmp(s, "error", 5) == 0) { s = nl + 1; continue; }
    for (sp = s; sp < nl && spaces < 3; sp++) if (*sp == ' ') spaces++;
    memset(&again, 0, sizeof again);
    wire_buf_init(&again.log);
    {
      wire_parser *p = wire_parser_new(NULL, on_msg, &again);
      again.fed = (uint64_t)(nl - sp);
      CHECK(wire_parser_feed(p, sp, (size_t)(nl - sp)) == WIRE_OK);
      CHECK(wire_parser_finish(p) == WIRE_OK);
      wire_parser_free(p);
    }
    /* "0 LEN 0 " + the same rendering */
    {
      const char *r2 = again.log.data, *sp2 = r2;
      int sp_count = 0;
      CHECK(r2 != NULL);
      while (sp_count < 3) if (*sp2++ == ' ') sp_count++;
      CHECK((size_t)(again.log.len - (size_t)(sp2 - r2) - 1) == (size_t)(nl - sp));
      CHECK(memcmp(sp2, sp, (size_t)(nl - sp)) == 0);
    }
    wire_buf_free(&again.log);
    s = nl + 1;
  }
}

typedef struct rt {
  const uint8_t *data;
  size_t size;
  int seen;
} rt;

static int check_round_trip(void *ud, const wire_msg *m) {
  rt *t = ud;
  const wire_elem *v = m->items;
  size_t len;
  const char *a = wire_get(v, "a", &len);
  CHECK(a != NULL && len == t->size && memcmp(a, t->data, len) == 0);
  CHECK(v->text_len == t->size && memcmp(v->text, t->data, t->size) == 0);
  t->seen++;
  return 0;
}

static void round_trip(const uint8_t *data, size_t size) {
  wire_buf b;
  rt t = {data, size, 0};
  wire_parser *p = wire_parser_new(NULL, check_round_trip, &t);
  wire_buf_init(&b);
  wire_msg_begin(&b);
  wire_open(&b, "v");
  wire_attr(&b, "a", data, size);
  wire_open_end(&b);
  wire_text(&b, data, size);
  wire_close(&b, "v");
  wire_msg_end(&b);
  CHECK(!b.oom);
  CHECK(wire_parser_feed(p, b.data, b.len) == WIRE_OK);
  CHECK(wire_parser_finish(p) == WIRE_OK);
  CHECK(t.seen == 1);
  wire_parser_free(p);
  wire_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run whole, chunked, resynced;
  if (size == 0) return 0;
  if (data[0] & 1) {
    round_trip(data + 1, size - 1);
    return 0;
  }
  data++;
  size--;
  memset(&whole, 0, sizeof whole);
  memset(&chunked, 0, sizeof chunked);
  memset(&resynced, 0, sizeof resynced);
  wire_buf_init(&whole.log);
  wire_buf_init(&chunked.log);
  wire_buf_init(&resynced.log);
  whole.check_records = 1;
  parse(&whole, data, size, 1, 0);
  parse(&chunked, data, size, 0, 0);
  /* any split parses the same: messages, offsets and the error */
  CHECK(whole.log.len == chunked.log.len);
  CHECK(whole.log.len == 0 || memcmp(whole.log.data, chunked.log.data, whole.log.len) == 0);
  parse(&resynced, data, size, 0, 1);
  check_rendering_fixpoint(&whole.log);
  {
    /* batches read record by record fail where their trees fail */
    run graphed;
    wire_buf a, b;
    memset(&graphed, 0, sizeof graphed);
    wire_buf_init(&graphed.log);
    wire_buf_init(&a);
    wire_buf_init(&b);
    parse_as(&graphed, data, size, 0, 0, 1);
    error_lines(&whole.log, &a);
    error_lines(&graphed.log, &b);
    CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
    wire_buf_free(&a);
    wire_buf_free(&b);
    wire_buf_free(&graphed.log);
  }
  wire_buf_free(&whole.log);
  wire_buf_free(&chunked.log);
  wire_buf_free(&resynced.log);
  return 0;
}
