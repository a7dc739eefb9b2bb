/*
** store_batch.c
** Multi-row inserts: an ingest's rows collect in a bounded buffer and go
** to SQLite STORE_BATCH_ROWS to a statement, so a statement's fixed cost
** (a cursor opened and closed per index, the halt) is paid per batch.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* Cells are held as a tag byte, then an int64 or a length and bytes. */
enum { CELL_NULL, CELL_INT, CELL_BLOB, CELL_TEXT };

/* "(?,?,…)" ncols wide, rows times, after head. NULL if out of memory. */
static char *values_sql(const char *head, int ncols, int rows) {
  size_t tuple = 2 + 2 * (size_t)ncols, hlen = strlen(head);
  char *sql = malloc(hlen + 8 + tuple * (size_t)rows + 1), *p;
  if (!sql) return NULL;
  p = sql + sprintf(sql, "%s VALUES", head);
  for (int r = 0; r < rows; r++) {
    if (r) *p++ = ',';
    *p++ = '(';
    for (int c = 0; c < ncols; c++) {
      if (c) *p++ = ',';
      *p++ = '?';
    }
    *p++ = ')';
  }
  *p = 0;
  return sql;
}

int store_batch_prepare(store *s, store_batch *b, const char *head, int ncols,
                        const char *what) {
  memset(b, 0, sizeof *b);
  wire_buf_init(&b->cells);
  b->ncols = ncols;
  b->what = what;
  char *one = values_sql(head, ncols, 1);
  char *many = values_sql(head, ncols, STORE_BATCH_ROWS);
  if (one && many) {
    b->one = store_prepare(s, one);
    b->many = b->one ? store_prepare(s, many) : NULL;
  } else {
    store_fail(s, STORE_ENOMEM, "out of memory preparing the ingest");
  }
  free(one);
  free(many);
  if (b->many) return STORE_OK;
  store_batch_finalize(b);
  return one && many ? STORE_ESQL : STORE_ENOMEM;
}

void store_batch_finalize(store_batch *b) {
  sqlite3_finalize(b->one);
  sqlite3_finalize(b->many);
  wire_buf_free(&b->cells);
  b->one = b->many = NULL;
  b->rows = 0;
}

void store_batch_clear(store_batch *b) {
  wire_buf_reset(&b->cells);
  b->rows = 0;
  b->col = 0;
  b->direct = 0;
  /* a buffer a huge row made big goes back to its usual size */
  if (b->cells.cap > 4 * STORE_BATCH_BYTES) wire_buf_free(&b->cells);
}

/* Read the cell at *p and bind it as parameter i of st; advance *p. */
static void bind_cell(sqlite3_stmt *st, int i, const char **p) {
  const char *q = *p;
  int tag = *q++;
  int64_t v;
  size_t n;
  switch (tag) {
  case CELL_INT:
    memcpy(&v, q, sizeof v);
    sqlite3_bind_int64(st, i, v);
    q += sizeof v;
    break;
  case CELL_BLOB:
  case CELL_TEXT:
    memcpy(&n, q, sizeof n);
    q += sizeof n;
    if (tag == CELL_TEXT) sqlite3_bind_text64(st, i, q, n, SQLITE_STATIC, SQLITE_UTF8);
    else sqlite3_bind_blob64(st, i, q, n, SQLITE_STATIC);
    q += n;
    break;
  default:
    sqlite3_bind_null(st, i);
    break;
  }
  *p = q;
}

static int step(store *s, store_batch *b, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? STORE_OK : store_fail_sql(s, rc, b->what);
}

/* A full batch is one statement; fewer rows (the end of a snapshot, or a
** batch ended early by its bytes, whose rows are big enough that their
** own cost dwarfs a statement's) go one row at a time. */
int store_batch_flush(store *s, store_batch *b) {
  assert(b->col == 0 && !b->direct);
  int rc = STORE_OK;
  if (b->cells.oom) rc = store_fail(s, STORE_ENOMEM, "%s: out of memory", b->what);
  const char *p = b->cells.data;
  if (!rc && b->rows == STORE_BATCH_ROWS) {
    for (int i = 1; i <= STORE_BATCH_ROWS * b->ncols; i++) bind_cell(b->many, i, &p);
    rc = step(s, b, b->many);
  } else {
    for (int r = 0; !rc && r < b->rows; r++) {
      for (int i = 1; i <= b->ncols; i++) bind_cell(b->one, i, &p);
      rc = step(s, b, b->one);
    }
  }
  wire_buf_reset(&b->cells);
  b->rows = 0;
  return rc;
}

/* Room for a row of ncols cells with `bytes` bytes of values. */
static size_t row_room(const store_batch *b, size_t bytes) {
  return (size_t)b->ncols * (1 + sizeof(int64_t) + sizeof(size_t)) + bytes;
}

int store_batch_row(store *s, store_batch *b, size_t bytes) {
  assert(b->col == 0 && !b->direct);
  if (bytes < STORE_BATCH_BYTES) {
    /* reserved at once, so each cell is a plain copy; a caller that
    ** misjudged `bytes` only makes the buffer grow again */
    wire_buf_reserve(&b->cells, row_room(b, bytes));
    return STORE_OK;
  }
  /* a big row is not copied: held rows go first, to keep key order, then
  ** its cells bind straight into the one-row statement */
  int rc = b->rows ? store_batch_flush(s, b) : STORE_OK;
  b->direct = 1;
  return rc;
}

/* Append a tag and n bytes at p (and m more at q) to the held cells. */
static void put_cell(store_batch *b, int tag, const void *p, size_t n,
                     const void *q, size_t m) {
  wire_buf *c = &b->cells;
  if (c->cap - c->len < 1 + n + m && wire_buf_reserve(c, 1 + n + m)) return;
  char *o = c->data + c->len;
  *o++ = (char)tag;
  if (n) memcpy(o, p, n);
  if (m) memcpy(o + n, q, m);
  c->len += 1 + n + m;
}

void store_batch_null(store_batch *b) {
  assert(b->col < b->ncols);
  if (b->direct) sqlite3_bind_null(b->one, b->col + 1);
  else put_cell(b, CELL_NULL, NULL, 0, NULL, 0);
  b->col++;
}

void store_batch_int(store_batch *b, int64_t v) {
  assert(b->col < b->ncols);
  if (b->direct) sqlite3_bind_int64(b->one, b->col + 1, v);
  else put_cell(b, CELL_INT, &v, sizeof v, NULL, 0);
  b->col++;
}

static void put_bytes(store_batch *b, int tag, const void *p, size_t n) {
  assert(b->col < b->ncols);
  if (!p) {
    store_batch_null(b);
    return;
  }
  if (b->direct) {
    /* the caller keeps p alive until store_batch_row_end */
    if (tag == CELL_TEXT)
      sqlite3_bind_text64(b->one, b->col + 1, p, n, SQLITE_STATIC, SQLITE_UTF8);
    else
      sqlite3_bind_blob64(b->one, b->col + 1, n ? p : "", n, SQLITE_STATIC);
  } else {
    put_cell(b, tag, &n, sizeof n, p, n);
  }
  b->col++;
}

void store_batch_blob(store_batch *b, const void *p, size_t n) {
  put_bytes(b, CELL_BLOB, p, n);
}

void store_batch_text(store_batch *b, const char *p) {
  put_bytes(b, CELL_TEXT, p, p ? strlen(p) : 0);
}

int store_batch_row_end(store *s, store_batch *b) {
  assert(b->col == b->ncols);
  b->col = 0;
  if (b->direct) {
    b->direct = 0;
    return step(s, b, b->one);
  }
  b->rows++;
  if (b->rows < STORE_BATCH_ROWS && b->cells.len < STORE_BATCH_BYTES &&
      !b->cells.oom)
    return STORE_OK;
  return store_batch_flush(s, b);
}
