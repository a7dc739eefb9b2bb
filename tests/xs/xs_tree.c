/*
** xs_tree.c
** Owned message trees for the XS peer test, and the independent reader of
** XS output that the parser's results are checked against.
*/
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_tree.h"

/* Deeper than any reply the peer test provokes; keeps recursion bounded
** when walking trees read from untrusted bytes. */
#define XT_MAX_DEPTH 256

static char *dup_bytes(const char *p, size_t n) {
  char *s = malloc(n + 1);
  if (s == NULL) return NULL;
  if (n) memcpy(s, p, n);
  s[n] = 0;
  return s;
}

static void free_node(xt_node *n) {
  for (size_t i = 0; i < n->nattrs; i++) {
    free(n->attrs[i].name);
    free(n->attrs[i].value);
  }
  free(n->attrs);
  free(n->name);
  free(n->text);
  xt_free(n->children);
  free(n);
}

void xt_free(xt_node *n) {
  while (n) {
    xt_node *next = n->next;
    free_node(n);
    n = next;
  }
}

static xt_node *copy_one(const wire_elem *e, xt_node *parent) {
  xt_node *n = calloc(1, sizeof *n);
  if (n == NULL) return NULL;
  n->parent = parent;
  n->name = dup_bytes(e->name, strlen(e->name));
  n->text = dup_bytes(e->text ? e->text : "", e->text ? e->text_len : 0);
  n->text_len = e->text ? e->text_len : 0;
  n->attrs = calloc(e->nattrs ? e->nattrs : 1, sizeof *n->attrs);
  if (n->name == NULL || n->text == NULL || n->attrs == NULL) goto oom;
  for (size_t i = 0; i < e->nattrs; i++) {
    n->attrs[i].name = dup_bytes(e->attrs[i].name, strlen(e->attrs[i].name));
    n->attrs[i].value = dup_bytes(e->attrs[i].value, e->attrs[i].len);
    n->attrs[i].len = e->attrs[i].len;
    n->nattrs = i + 1;
    if (n->attrs[i].name == NULL || n->attrs[i].value == NULL) goto oom;
  }
  xt_node **tail = &n->children;
  for (const wire_elem *c = e->children; c; c = c->next) {
    if ((*tail = copy_one(c, n)) == NULL) goto oom;
    tail = &(*tail)->next;
  }
  return n;
oom:
  free_node(n);
  return NULL;
}

xt_node *xt_copy(const wire_elem *e) {
  xt_node *head = NULL, **tail = &head;
  for (; e; e = e->next) {
    if ((*tail = copy_one(e, NULL)) == NULL) {
      xt_free(head);
      return NULL;
    }
    tail = &(*tail)->next;
  }
  return head;
}

const char *xt_get(const xt_node *n, const char *name, size_t *len) {
  for (size_t i = 0; n && i < n->nattrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) {
      if (len) *len = n->attrs[i].len;
      return n->attrs[i].value;
    }
  return NULL;
}

int xt_is(const xt_node *n, const char *name, const char *s) {
  size_t len;
  const char *v = xt_get(n, name, &len);
  return v && len == strlen(s) && memcmp(v, s, len) == 0;
}

const xt_node *xt_child(const xt_node *n, const char *name) {
  for (const xt_node *c = n ? n->children : NULL; c; c = c->next)
    if (strcmp(c->name, name) == 0) return c;
  return NULL;
}

const xt_node *xt_named(const xt_node *n, const char *s) {
  for (const xt_node *c = n ? n->children : NULL; c; c = c->next)
    if (xt_is(c, "name", s)) return c;
  return NULL;
}

size_t xt_count(const xt_node *n) {
  size_t k = 0;
  for (; n; n = n->next) k++;
  return k;
}

/* ------------------------------------------------------------------ */
/* The independent reader                                               */
/* ------------------------------------------------------------------ */

typedef struct scan {
  const char *p, *end;
  char *why;
  size_t whylen;
  wire_buf tmp;
} scan;

static int scan_fail(scan *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->why, s->whylen, fmt, ap);
  va_end(ap);
  return -1;
}

static void put_utf8(wire_buf *b, unsigned long cp) {
  unsigned char u[4];
  size_t n;
  if (cp < 0x80) { u[0] = (unsigned char)cp; n = 1; }
  else if (cp < 0x800) {
    u[0] = (unsigned char)(0xC0 | (cp >> 6));
    u[1] = (unsigned char)(0x80 | (cp & 0x3F)); n = 2;
  } else if (cp < 0x10000) {
    u[0] = (unsigned char)(0xE0 | (cp >> 12));
    u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (unsigned char)(0x80 | (cp & 0x3F)); n = 3;
  } else {
    u[0] = (unsigned char)(0xF0 | (cp >> 18));
    u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (unsigned char)(0x80 | (cp & 0x3F)); n = 4;
  }
  wire_buf_put(b, u, n);
}

/* Decode raw[0..n) into s->tmp. XS escapes only bytes below 0x80, so
** `&#N;` is the single byte N; larger references are kept as UTF-8. */
static int decode(scan *s, const char *raw, size_t n) {
  static const struct { const char *name; char c; } named[] = {
    {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
  wire_buf_reset(&s->tmp);
  for (size_t i = 0; i < n; i++) {
    if (raw[i] != '&') {
      wire_buf_put(&s->tmp, raw + i, 1);
      continue;
    }
    const char *semi = memchr(raw + i, ';', n - i);
    if (semi == NULL) return scan_fail(s, "'&' without ';'");
    size_t len = (size_t)(semi - (raw + i)) - 1; /* between & and ; */
    const char *ref = raw + i + 1;
    if (len >= 2 && ref[0] == '#') {
      unsigned long cp = 0;
      int hex = ref[1] == 'x';
      size_t k = hex ? 2 : 1;
      if (k == len) return scan_fail(s, "empty character reference");
      for (; k < len; k++) {
        int d;
        char c = ref[k];
        if (c >= '0' && c <= '9') d = c - '0';
        else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return scan_fail(s, "bad character reference");
        cp = cp * (hex ? 16 : 10) + (unsigned long)d;
        if (cp > 0x10FFFF) return scan_fail(s, "character reference too big");
      }
      put_utf8(&s->tmp, cp);
    } else {
      size_t j;
      for (j = 0; j < sizeof named / sizeof named[0]; j++)
        if (strlen(named[j].name) == len && memcmp(ref, named[j].name, len) == 0)
          break;
      if (j == sizeof named / sizeof named[0])
        return scan_fail(s, "unknown entity '&%.*s;'", (int)(len < 20 ? len : 20), ref);
      wire_buf_put(&s->tmp, &named[j].c, 1);
    }
    i += len + 1;
  }
  return s->tmp.oom ? scan_fail(s, "out of memory") : 0;
}

static int is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == ':' || c == '.';
}

static int scan_name(scan *s, const char **name, size_t *len) {
  const char *start = s->p;
  while (s->p < s->end && is_name_char(*s->p)) s->p++;
  if (s->p == start) return scan_fail(s, "expected a name at byte '%c'", s->p < s->end ? *s->p : '?');
  *name = start;
  *len = (size_t)(s->p - start);
  return 0;
}

static void skip_space(scan *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
    s->p++;
}

static int add_attr(scan *s, xt_node *n, const char *name, size_t nlen) {
  xt_attr *a = realloc(n->attrs, (n->nattrs + 1) * sizeof *a);
  if (a == NULL) return scan_fail(s, "out of memory");
  n->attrs = a;
  a = &a[n->nattrs];
  a->name = dup_bytes(name, nlen);
  a->value = dup_bytes(s->tmp.data ? s->tmp.data : "", s->tmp.len);
  a->len = s->tmp.len;
  if (a->name == NULL || a->value == NULL) {
    free(a->name);
    free(a->value);
    return scan_fail(s, "out of memory");
  }
  n->nattrs++;
  return 0;
}

static int append_text(scan *s, xt_node *n) {
  char *t = realloc(n->text, n->text_len + s->tmp.len + 1);
  if (t == NULL) return scan_fail(s, "out of memory");
  if (s->tmp.len) memcpy(t + n->text_len, s->tmp.data, s->tmp.len);
  n->text_len += s->tmp.len;
  t[n->text_len] = 0;
  n->text = t;
  return 0;
}

/* Read "<name attrs" up to and including ">" or "/>"; *empty tells which. */
static xt_node *scan_start_tag(scan *s, xt_node *parent, int *empty) {
  const char *name;
  size_t nlen;
  assert(s->p < s->end && *s->p == '<');
  s->p++;
  if (scan_name(s, &name, &nlen)) return NULL;
  xt_node *n = calloc(1, sizeof *n);
  if (n == NULL) { scan_fail(s, "out of memory"); return NULL; }
  n->parent = parent;
  n->name = dup_bytes(name, nlen);
  n->text = dup_bytes("", 0);
  if (n->name == NULL || n->text == NULL) goto fail_oom;
  for (;;) {
    skip_space(s);
    if (s->p >= s->end) { scan_fail(s, "message ends inside <%s>", n->name); goto fail; }
    if (*s->p == '>') { s->p++; *empty = 0; return n; }
    if (*s->p == '/') {
      if (s->p + 1 >= s->end || s->p[1] != '>') { scan_fail(s, "'/' not followed by '>' in <%s>", n->name); goto fail; }
      s->p += 2;
      *empty = 1;
      return n;
    }
    const char *an;
    size_t alen;
    if (scan_name(s, &an, &alen)) goto fail;
    if (s->p + 1 >= s->end || s->p[0] != '=' || s->p[1] != '"') {
      scan_fail(s, "attribute %.*s of <%s> is not followed by =\"", (int)alen, an, n->name);
      goto fail;
    }
    s->p += 2;
    const char *q = memchr(s->p, '"', (size_t)(s->end - s->p));
    if (q == NULL) { scan_fail(s, "attribute %.*s of <%s> is not closed", (int)alen, an, n->name); goto fail; }
    if (decode(s, s->p, (size_t)(q - s->p)) || add_attr(s, n, an, alen)) goto fail;
    s->p = q + 1;
  }
fail_oom:
  scan_fail(s, "out of memory");
fail:
  free_node(n);
  return NULL;
}

xt_node *xt_scan_xs(const char *raw, size_t n, char *why, size_t whylen) {
  scan s = {raw, raw + n, why, whylen, {0}};
  xt_node *root = NULL, *cur = NULL;
  xt_node **tail = NULL; /* where the next child of cur goes */
  unsigned depth = 0;
  int empty;
  wire_buf_init(&s.tmp);
  skip_space(&s);
  if (s.p >= s.end || *s.p != '<') { scan_fail(&s, "message does not start with '<'"); goto fail; }
  if ((root = scan_start_tag(&s, NULL, &empty)) == NULL) goto fail;
  if (empty) goto done;
  cur = root;
  depth = 1;
  tail = &root->children;
  while (cur) {
    if (s.p >= s.end) { scan_fail(&s, "message ends inside <%s>", cur->name); goto fail; }
    if (*s.p != '<') {
      const char *lt = memchr(s.p, '<', (size_t)(s.end - s.p));
      const char *stop = lt ? lt : s.end;
      if (decode(&s, s.p, (size_t)(stop - s.p)) || append_text(&s, cur)) goto fail;
      s.p = stop;
    } else if (s.p + 1 < s.end && s.p[1] == '/') {
      const char *name;
      size_t nlen;
      s.p += 2;
      if (scan_name(&s, &name, &nlen)) goto fail;
      if (nlen != strlen(cur->name) || memcmp(name, cur->name, nlen) != 0) {
        scan_fail(&s, "</%.*s> closes <%s>", (int)nlen, name, cur->name);
        goto fail;
      }
      skip_space(&s);
      if (s.p >= s.end || *s.p != '>') { scan_fail(&s, "</%s not closed by '>'", cur->name); goto fail; }
      s.p++;
      xt_node *up = cur->parent;
      if (up) {
        tail = &up->children;
        while (*tail) tail = &(*tail)->next;
      }
      cur = up;
      depth--;
    } else {
      xt_node *child = scan_start_tag(&s, cur, &empty);
      if (child == NULL) goto fail;
      *tail = child;
      if (empty) {
        tail = &child->next;
      } else {
        if (++depth > XT_MAX_DEPTH) { scan_fail(&s, "elements nested deeper than %d", XT_MAX_DEPTH); goto fail; }
        cur = child;
        tail = &child->children;
      }
    }
  }
done:
  skip_space(&s);
  if (s.p != s.end) { scan_fail(&s, "%zu bytes after the message's end", (size_t)(s.end - s.p)); goto fail; }
  wire_buf_free(&s.tmp);
  return root;
fail:
  wire_buf_free(&s.tmp);
  xt_free(root);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Comparing and printing                                               */
/* ------------------------------------------------------------------ */

void xt_quote(wire_buf *b, const char *p, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  size_t run = 0; /* printable bytes not yet copied, ending at i */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      run++;
      continue;
    }
    wire_buf_put(b, p + i - run, run);
    run = 0;
    char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
    wire_buf_put(b, e, 4);
  }
  wire_buf_put(b, p + n - run, run);
}

static int differ(char *why, size_t whylen, const xt_node *a, const char *fmt, ...) {
  char path[160] = "";
  size_t used = 0;
  /* innermost name last, e.g. "local/property" */
  const xt_node *chain[8];
  int k = 0;
  for (const xt_node *n = a; n && k < 8; n = n->parent) chain[k++] = n;
  while (k-- > 0 && used + 1 < sizeof path) {
    int w = snprintf(path + used, sizeof path - used, "%s<%s>", used ? "/" : "", chain[k]->name);
    if (w < 0) break;
    used += (size_t)w;
    if (used >= sizeof path) used = sizeof path - 1;
  }
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  snprintf(why, whylen, "%s: %s", path, detail);
  return -1;
}

static int compare_bytes(char *why, size_t whylen, const xt_node *at, const char *what,
                         const char *x, size_t xn, const char *y, size_t yn) {
  if (xn == yn && memcmp(x, y, xn) == 0) return 0;
  wire_buf qx, qy;
  wire_buf_init(&qx);
  wire_buf_init(&qy);
  xt_quote(&qx, x, xn > 120 ? 120 : xn);
  xt_quote(&qy, y, yn > 120 ? 120 : yn);
  wire_buf_put(&qx, "", 1);
  wire_buf_put(&qy, "", 1);
  differ(why, whylen, at, "%s differs: \"%s\" vs \"%s\"", what,
         qx.oom ? "?" : qx.data, qy.oom ? "?" : qy.data);
  wire_buf_free(&qx);
  wire_buf_free(&qy);
  return -1;
}

int xt_compare(const xt_node *a, const xt_node *b, char *why, size_t whylen) {
  for (; a && b; a = a->next, b = b->next) {
    if (strcmp(a->name, b->name) != 0)
      return differ(why, whylen, a, "element <%s> vs <%s>", a->name, b->name);
    if (a->nattrs != b->nattrs)
      return differ(why, whylen, a, "%zu attributes vs %zu", a->nattrs, b->nattrs);
    for (size_t i = 0; i < a->nattrs; i++) {
      if (strcmp(a->attrs[i].name, b->attrs[i].name) != 0)
        return differ(why, whylen, a, "attribute %zu is %s vs %s", i, a->attrs[i].name, b->attrs[i].name);
      if (compare_bytes(why, whylen, a, a->attrs[i].name, a->attrs[i].value,
                        a->attrs[i].len, b->attrs[i].value, b->attrs[i].len))
        return -1;
    }
    if (compare_bytes(why, whylen, a, "text", a->text, a->text_len, b->text, b->text_len))
      return -1;
    if (xt_compare(a->children, b->children, why, whylen)) return -1;
  }
  if (a || b)
    return differ(why, whylen, a ? a : b, "one list has more elements (<%s> unmatched)",
                  (a ? a : b)->name);
  return 0;
}

void xt_dump(wire_buf *b, const xt_node *n) {
  for (; n; n = n->next) {
    wire_buf_puts(b, "<");
    wire_buf_puts(b, n->name);
    for (size_t i = 0; i < n->nattrs; i++) {
      wire_buf_puts(b, " ");
      wire_buf_puts(b, n->attrs[i].name);
      wire_buf_puts(b, "=\"");
      xt_quote(b, n->attrs[i].value, n->attrs[i].len);
      wire_buf_puts(b, "\"");
    }
    wire_buf_puts(b, ">");
    xt_quote(b, n->text, n->text_len);
    xt_dump(b, n->children);
    wire_buf_puts(b, "</>");
  }
}

void xt_dump_wire(wire_buf *b, const wire_elem *e) {
  for (; e; e = e->next) {
    wire_buf_puts(b, "<");
    wire_buf_puts(b, e->name);
    for (size_t i = 0; i < e->nattrs; i++) {
      wire_buf_puts(b, " ");
      wire_buf_puts(b, e->attrs[i].name);
      wire_buf_puts(b, "=\"");
      xt_quote(b, e->attrs[i].value, e->attrs[i].len);
      wire_buf_puts(b, "\"");
    }
    wire_buf_puts(b, ">");
    if (e->text) xt_quote(b, e->text, e->text_len);
    xt_dump_wire(b, e->children);
    wire_buf_puts(b, "</>");
  }
}
