/*
** frame_graph.c
** Graph batches read record by record from a binary frame, for consumers
** that want records, not trees (restore): each <n>, <e> and <r> is read
** where it lies, handed to the node and edge readers of graph.c and run.c
** as a one-element view, and its record passed on at once. Nothing grows
** with the batch, and the records are read while the bytes are in cache.
** Every token is checked as frame_read.c checks it (frame_token.h).
*/
#include <string.h>

#include "frame_token.h"

void wire_parser_graph(wire_parser *p, const wire_graph_fns *fns, void *ud) {
  p->graph = fns;
  p->graph_ud = ud;
}

/* Names the readers never look at stand in for literal attribute names:
** those attributes are ignored, as the readers ignore unknown ones, but
** still counted. */
static const char literal_name[] = "?";

/* Whether the readers use an attribute's value as a C string. */
static int as_cstring(int code) {
  return code == WIRE_C_K || code == WIRE_C_M || code == WIRE_C_ST;
}

/* Room on the stack for the C-string values of one record: kinds, modes
** and statuses are short, so p->gview is needed only for odd records. */
#define VIEW_SMALL 256

/* A view of one element for the readers: names from the dictionary, and
** values where they lie in the body, except the few the readers use as C
** strings (kinds, weak mode, status), copied with a NUL into small, or
** into p->gview if they do not fit. */
static int view(wire_parser *p, char small[VIEW_SMALL], const char *name, const frame_attr *fa,
                size_t na, wire_attr_t *attrs, wire_elem *el) {
  size_t i, need = 0;
  char *o = small;
  for (i = 0; i < na; i++)
    if (as_cstring(fa[i].code)) need += fa[i].vlen + 1;
  if (need > VIEW_SMALL) {
    wire_buf_reset(&p->gview);
    if (wire_buf_reserve(&p->gview, need) != 0) return -1;
    o = p->gview.data;
  }
  for (i = 0; i < na; i++) {
    wire_attr_t *a = &attrs[i];
    a->name = fa[i].code >= 0 ? fa[i].name : literal_name;
    a->len = fa[i].vlen;
    if (as_cstring(fa[i].code)) {
      /* a few bytes: a loop beats a call to memcpy */
      for (size_t k = 0; k < fa[i].vlen; k++) o[k] = fa[i].value[k];
      o[fa[i].vlen] = '\0';
      a->value = o;
      o += fa[i].vlen + 1;
    } else {
      a->value = fa[i].value;
    }
  }
  el->name = name;
  el->attrs = na > 0 ? attrs : NULL;
  el->nattrs = na;
  el->text = "";
  el->text_len = 0;
  el->children = el->next = el->parent = NULL;
  return 0;
}

/* The name of an element the consumer is told about, as a C string. */
static const char *element_name(char buf[128], const char *name, size_t nlen, int code) {
  if (code >= 0) return name;
  memcpy(buf, name, nlen); /* a literal name is at most 127 bytes */
  buf[nlen] = '\0';
  return buf;
}

typedef struct scan {
  wire_parser *p;
  const wire_graph_fns *fns;
  void *ud;
  int reading;   /* the batch's records are wanted */
  int node_ok;   /* the current <n> was read: its edges are wanted */
  int stop;      /* a callback asked to stop */
} scan;

/* The records of one element at depth 1 (a node) or 2 (an edge or run).
** 0 to go on, 1 when a callback asked to stop, -1 out of memory. */
static int deliver(scan *sc, unsigned depth, const char *name, size_t nlen, int code,
                   const frame_attr *fa, size_t na) {
  wire_attr_t attrs[WIRE_FRAME_MAX_ATTRS];
  char small[VIEW_SMALL];
  wire_elem el;
  const wire_graph_fns *f = sc->fns;
  const char *why = NULL;
  char lit[128];
  if (depth == 1) {
    wire_node nd;
    int cont;
    sc->node_ok = 0;
    if (code != WIRE_C_N)
      return f->bad(sc->ud, WIRE_GRAPH_BAD_CHILD, element_name(lit, name, nlen, code),
                    "a graph batch holds only node elements <n>") != 0;
    if (view(sc->p, small, name, fa, na, attrs, &el) != 0) return -1;
    if (wire_node_read(&el, &nd, &cont, &sc->p->gpay, &why) != 0) {
      if (sc->p->gpay.oom) return -1;
      return f->bad(sc->ud, WIRE_GRAPH_BAD_NODE, "n", why) != 0;
    }
    sc->node_ok = 1;
    return f->node(sc->ud, &nd, cont) != 0;
  }
  if (!sc->node_ok) return 0;
  if (code == WIRE_C_E) {
    wire_edge we;
    const char *vtext;
    size_t vlen;
    if (view(sc->p, small, name, fa, na, attrs, &el) != 0) return -1;
    if (wire_edge_read_text(&el, &we, &vtext, &vlen, &why) != 0)
      return f->bad(sc->ud, WIRE_GRAPH_BAD_EDGE, "e", why) != 0;
    return f->edge(sc->ud, &we, vtext, vlen) != 0;
  }
  if (code == WIRE_C_R) {
    wire_run run;
    wire_edge we;
    int r;
    if (view(sc->p, small, name, fa, na, attrs, &el) != 0) return -1;
    if (wire_run_begin(&el, &run, &why) != 0) return f->bad(sc->ud, WIRE_GRAPH_BAD_EDGE, "r", why) != 0;
    while ((r = wire_run_next(&run, &we)) > 0)
      if (f->edge(sc->ud, &we, run.vtext, run.vlen) != 0) return 1;
    return r < 0 ? f->bad(sc->ud, WIRE_GRAPH_BAD_EDGE, "r", run.why) != 0 : 0;
  }
  return f->bad(sc->ud, WIRE_GRAPH_BAD_EDGE, element_name(lit, name, nlen, code),
                "a node holds only edges: <e> or <r> elements") != 0;
}

int wire_frame_graph(wire_parser *p, const unsigned char *s, size_t n, const wire_msg *m,
                     size_t *next, int *stop, frame_error *fe) {
  frame_attr fa[WIRE_FRAME_MAX_ATTRS];
  unsigned base = s[0] == 1 ? 1u : 0u, depth = 0;
  size_t i = 2, na, nlen;
  const char *name;
  int code, r;
  wire_elem *graph;
  scan sc;
  sc.p = p;
  sc.fns = p->graph;
  sc.ud = p->graph_ud;
  sc.node_ok = 0;
  *stop = 0;
  /* the <graph> element itself: the caller saw its open token and code */
  if (base + 1 > p->lim.max_depth)
    return frame_fail(fe, WIRE_EDEPTH, 1, "elements nested deeper than limits.max_depth");
  if (frame_read_name(s, n, &i, &name, &nlen, &code, fe) != 0) return -1;
  if (frame_read_attrs(&p->lim, s, n, &i, fa, &na, fe) != 0) return -1;
  graph = wire_frame_elem(p, name, nlen, 0, fa, na);
  if (graph == NULL) return frame_fail(fe, WIRE_ENOMEM, 1, "out of memory building the message tree");
  r = sc.fns->batch(sc.ud, graph, m);
  if (r != 0 && r != WIRE_GRAPH_SKIP) {
    *stop = 1;
    return 0;
  }
  sc.reading = r == 0;
  depth = 1;
  while (depth > 0) {
    size_t at = i;
    unsigned t;
    if (i >= n) return frame_fail(fe, WIRE_ESYNTAX, n, "frame ends inside an element");
    t = s[i++];
    if (t == WIRE_T_OPEN) {
      if (base + depth + 1 > p->lim.max_depth)
        return frame_fail(fe, WIRE_EDEPTH, at, "elements nested deeper than limits.max_depth");
      if (frame_read_name(s, n, &i, &name, &nlen, &code, fe) != 0) return -1;
      if (frame_read_attrs(&p->lim, s, n, &i, fa, &na, fe) != 0) return -1;
      if (sc.reading && depth <= 2) {
        r = deliver(&sc, depth, name, nlen, code, fa, na);
        if (r < 0) return frame_fail(fe, WIRE_ENOMEM, at, "out of memory reading a graph record");
        if (r > 0) {
          *stop = 1;
          return 0;
        }
      }
      depth++;
    } else if (t == WIRE_T_END) {
      depth--;
    } else if (t == WIRE_T_TEXT) {
      size_t len;
      /* text inside a batch means nothing to its readers: checked, passed over */
      if (frame_read_text(&p->lim, s, n, &i, &len, fe) != 0) return -1;
      i += len;
    } else if (t == WIRE_T_ATTR) {
      return frame_fail(fe, WIRE_ESYNTAX, at, "attribute after an element's content");
    } else {
      return frame_fail(fe, WIRE_ESYNTAX, at, "unknown token");
    }
  }
  *next = i;
  return 0;
}
