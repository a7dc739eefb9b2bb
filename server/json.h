/*
** json.h
** A small JSON writer with exact escaping of arbitrary bytes, and a small
** bounded JSON reader (for request bodies and the CLI's HTTP replies).
*/
#ifndef AMBER_JSON_H
#define AMBER_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "wire.h"

/*
** Strings carry arbitrary bytes. Valid UTF-8 is written as itself (control
** characters, U+2028 and U+2029 as \u escapes); every byte that does not
** start a valid, shortest-form UTF-8 sequence is written as \uF7NN (NN = the
** byte in hex), and each of the three bytes of a character U+F700–U+F7FF
** present in the original is written the same way. This is the scheme of
** docs/protocol.md section 2, so decoding is one rule: U+F7NN is byte NN,
** anything else is its UTF-8. json_parse applies that rule.
*/

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

#define JSON_MAX_DEPTH 160

/* Writes into a wire_buf; commas and colons are placed automatically.
** Misuse (nesting too deep, a value where a key belongs) sets err and
** drops further output; check json_ok at the end. */
typedef struct json_writer {
  wire_buf *out;
  int depth;
  int err;
  unsigned char count[JSON_MAX_DEPTH]; /* values so far at each depth (saturating) */
  unsigned char isobj[JSON_MAX_DEPTH];
  int want_value; /* a key was written, its value must follow */
} json_writer;

/* Start writing into out (appending to what it holds). */
void json_init(json_writer *w, wire_buf *out);
/* 1 if everything written so far is well-formed and memory sufficed. */
int json_ok(const json_writer *w);

void json_object_begin(json_writer *w);
void json_object_end(json_writer *w);
void json_array_begin(json_writer *w);
void json_array_end(json_writer *w);
/* An object key: arbitrary bytes (json_key) or a C string (json_keyz). */
void json_key(json_writer *w, const void *k, size_t n);
void json_keyz(json_writer *w, const char *k);
/* A string value of arbitrary bytes, escaped as described above. */
void json_string(json_writer *w, const void *s, size_t n);
/* A C string value; NULL writes null. */
void json_stringz(json_writer *w, const char *s);
void json_int(json_writer *w, int64_t v);
void json_uint(json_writer *w, uint64_t v);
/* A finite double as the shortest text that reads back exactly; NaN and
** infinities (which JSON cannot carry) as null. */
void json_double(json_writer *w, double v);
void json_bool(json_writer *w, int b);
void json_null(json_writer *w);
/* A value already in JSON form (trusted: it is copied as is). */
void json_raw(json_writer *w, const char *s, size_t n);

/* Key plus value in one call, for the common cases. */
void json_kv_str(json_writer *w, const char *k, const char *s);
void json_kv_bytes(json_writer *w, const char *k, const void *s, size_t n);
void json_kv_int(json_writer *w, const char *k, int64_t v);
void json_kv_uint(json_writer *w, const char *k, uint64_t v);
void json_kv_bool(json_writer *w, const char *k, int b);
void json_kv_double(json_writer *w, const char *k, double v);
void json_kv_null(json_writer *w, const char *k);

/* Append s as the body of a JSON string (no quotes) to b. */
void json_escape(wire_buf *b, const void *s, size_t n);

/* ------------------------------------------------------------------ */
/* Reader                                                              */
/* ------------------------------------------------------------------ */

enum json_type {
  JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY,
  JSON_OBJECT
};

/* A parsed value. Strings (and keys) are decoded bytes, NUL-terminated
** but possibly holding NULs: use len. Numbers keep their text too, so an
** int64 is read exactly with json_get_i64. Children are a linked list;
** for an object each child has its key. */
typedef struct json_value {
  enum json_type type;
  const char *key; size_t key_len;   /* member of an object: its key */
  const char *str; size_t len;       /* string bytes, or a number's text */
  double num;
  size_t count;                      /* array/object: number of children */
  struct json_value *child, *next;
} json_value;

typedef struct json_doc json_doc;

/* Parse n bytes holding one JSON value (surrounding whitespace allowed).
** Nesting is limited to JSON_MAX_DEPTH and the whole document to n bytes of
** input. Returns a document, or NULL with a reason (and the byte offset)
** in err[errlen]. */
json_doc *json_parse(const char *s, size_t n, char *err, size_t errlen);
/* The top-level value of a document. */
const json_value *json_root(const json_doc *d);
void json_doc_free(json_doc *d);

/* Member key of object o, or NULL (also if o is not an object). */
const json_value *json_get(const json_value *o, const char *key);
/* Member as a C string (NULL if absent or not a string). */
const char *json_get_str(const json_value *o, const char *key);
/* Number as an exact int64: 0, or -1 if v is not an integer in range. */
int json_to_i64(const json_value *v, int64_t *out);
/* Member as int64 with a default when absent; -1 if present but invalid. */
int json_get_i64(const json_value *o, const char *key, int64_t dflt,
                 int64_t *out);
/* Write a parsed value back out through w (numbers keep their text). */
void json_emit(json_writer *w, const json_value *v);

#endif
