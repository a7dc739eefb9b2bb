/*
** breakpoints.c
** The breakpoint table. A small unsorted array is enough: lookups are
** first filtered by a 1024-bit line mask, so the array is scanned only on
** lines that may hold a breakpoint.
*/
#include "breakpoints.h"

#include <stdlib.h>
#include <string.h>

void abpt_init(abpt_table *t) { memset(t, 0, sizeof *t); }

void abpt_clear_all(abpt_table *t) {
  size_t i;
  for (i = 0; i < t->n; i++) free(t->v[i].path);
  t->n = 0;
  memset(t->lines, 0, sizeof t->lines);
}

void abpt_free(abpt_table *t) {
  abpt_clear_all(t);
  free(t->v);
  abpt_init(t);
}

/* Drop Lua's "@" marker and any leading "./". */
static void normalise(const char **p, size_t *len) {
  if (*len > 0 && (**p == '@' || **p == '=')) { (*p)++; (*len)--; }
  while (*len >= 2 && (*p)[0] == '.' && (*p)[1] == '/') {
    *p += 2;
    *len -= 2;
  }
}

static void rebuild_mask(abpt_table *t) {
  size_t i;
  memset(t->lines, 0, sizeof t->lines);
  for (i = 0; i < t->n; i++) {
    unsigned b = (unsigned)t->v[i].line & 1023u;
    t->lines[b >> 6] |= (uint64_t)1 << (b & 63u);
  }
}

static long find(const abpt_table *t, const char *p, size_t len, int line) {
  size_t i;
  for (i = 0; i < t->n; i++)
    if (t->v[i].line == line && t->v[i].len == len &&
        memcmp(t->v[i].path, p, len) == 0)
      return (long)i;
  return -1;
}

int abpt_set(abpt_table *t, const char *path, size_t len, int line) {
  char *copy;
  normalise(&path, &len);
  if (len == 0 || line < 1) return -1;
  if (find(t, path, len, line) >= 0) return 0;
  if (t->n == ABPT_MAX) return -1;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    abpt_entry *v = realloc(t->v, cap * sizeof *v);
    if (v == NULL) return -1;
    t->v = v;
    t->cap = cap;
  }
  copy = malloc(len + 1);
  if (copy == NULL) return -1;
  memcpy(copy, path, len);
  copy[len] = '\0';
  t->v[t->n].path = copy;
  t->v[t->n].len = len;
  t->v[t->n].line = line;
  t->n++;
  rebuild_mask(t);
  return 0;
}

int abpt_clear(abpt_table *t, const char *path, size_t len, int line) {
  long i;
  normalise(&path, &len);
  i = find(t, path, len, line);
  if (i < 0) return 0;
  free(t->v[i].path);
  t->v[i] = t->v[--t->n];
  rebuild_mask(t);
  return 1;
}

/* a ends with "/" + b. */
static int ends_with_dir(const char *a, size_t al, const char *b, size_t bl) {
  return al > bl && a[al - bl - 1] == '/' && memcmp(a + al - bl, b, bl) == 0;
}

int abpt_match(const abpt_table *t, const char *source, size_t len,
               int line) {
  size_t i;
  if (!abpt_maybe(t, line)) return 0;
  normalise(&source, &len);
  for (i = 0; i < t->n; i++) {
    const abpt_entry *b = &t->v[i];
    if (b->line != line) continue;
    if ((b->len == len && memcmp(b->path, source, len) == 0) ||
        ends_with_dir(source, len, b->path, b->len) ||
        ends_with_dir(b->path, b->len, source, len))
      return 1;
  }
  return 0;
}
