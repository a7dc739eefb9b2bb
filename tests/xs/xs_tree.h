/*
** xs_tree.h
** Owned copies of parsed xsbug messages, and a second, independent reader
** of what an XS machine writes (no expat, its own escape decoding), so the
** XS peer test can check amber's parser byte for byte against it.
*/
#ifndef AMBER_XS_TREE_H
#define AMBER_XS_TREE_H

#include <stddef.h>
#include "wire.h"

typedef struct xt_attr {
  char *name;
  char *value; /* decoded bytes, NUL-terminated too */
  size_t len;
} xt_attr;

/* An element; siblings form a list, as in wire_elem. */
typedef struct xt_node {
  char *name;
  xt_attr *attrs;
  size_t nattrs;
  char *text; /* direct character data, decoded and concatenated */
  size_t text_len;
  struct xt_node *children, *next, *parent;
} xt_node;

/* Deep copy of the sibling list starting at e (parsed messages live only
** during the parser's callback). NULL if out of memory. */
xt_node *xt_copy(const wire_elem *e);
/* Free a sibling list and everything under it. */
void xt_free(xt_node *n);

/* Attribute value or NULL (*len gets its length when len is not NULL). */
const char *xt_get(const xt_node *n, const char *name, size_t *len);
/* 1 if attribute name is present and equals the C string s. */
int xt_is(const xt_node *n, const char *name, const char *s);
/* First child element called name, or NULL. */
const xt_node *xt_child(const xt_node *n, const char *name);
/* The child <property> (or <frame>, …) whose name attribute is s. */
const xt_node *xt_named(const xt_node *n, const char *s);
/* Number of siblings in the list starting at n. */
size_t xt_count(const xt_node *n);

/* Read the raw bytes of one message as an XS machine writes it: strictly
** `<name a="v">…</name>`, attribute values end at the next '"' (a raw '<'
** inside is accepted, as XS writes one), `&#N;`, `&#xH;` and the five
** predefined entities decoded. Returns the top element, or NULL with the
** reason in why. */
xt_node *xt_scan_xs(const char *raw, size_t n, char *why, size_t whylen);

/* Compare two sibling lists element by element (names, attributes in
** order, decoded bytes, text, children). 0 if equal, else -1 with the first
** difference described in why. */
int xt_compare(const xt_node *a, const xt_node *b, char *why, size_t whylen);

/* Append a canonical one-line text form of a sibling list (bytes outside
** printable ASCII as \xNN), to compare parses of the same stream. */
void xt_dump(wire_buf *b, const xt_node *n);

/* The same canonical form straight from a parsed sibling list (no copy). */
void xt_dump_wire(wire_buf *b, const wire_elem *e);

/* Append bytes with non-printable ones as \xNN, for messages to people. */
void xt_quote(wire_buf *b, const char *p, size_t n);

#endif
