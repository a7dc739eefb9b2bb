/*
** render.c
** A one-line, ASCII-only rendering of a parsed message, for people and
** logs (amber-wire, the server's trace): control bytes never reach a
** terminal raw, and the rendering parses back to the same message.
*/
#include <string.h>

#include "wire_internal.h"

/* Iterative pre-order walk: trees may be as deep as limits.max_depth. */
void wire_elem_render(wire_buf *b, const wire_elem *top) {
  const wire_elem *e = top;
  while (e != NULL) {
    size_t i;
    wire_open(b, e->name);
    for (i = 0; i < e->nattrs; i++) {
      wire_buf_put(b, " ", 1);
      wire_buf_puts(b, e->attrs[i].name);
      wire_buf_put(b, "=\"", 2);
      wire_escape_ascii(b, e->attrs[i].value, e->attrs[i].len);
      wire_buf_put(b, "\"", 1);
    }
    if (e->text_len == 0 && e->children == NULL) {
      wire_empty_end(b);
    } else {
      wire_open_end(b);
      wire_escape_ascii(b, e->text, e->text_len);
      if (e->children != NULL) {
        e = e->children;
        continue;
      }
      wire_close(b, e->name);
    }
    /* climb until an element has a next sibling, closing on the way */
    while (e != top && e->next == NULL) {
      e = e->parent;
      wire_close(b, e->name);
    }
    e = e == top ? NULL : e->next;
  }
}

void wire_msg_render(wire_buf *b, const wire_msg *m) {
  const wire_elem *it;
  if (!m->wrapped) {
    if (m->items != NULL) wire_elem_render(b, m->items);
    return;
  }
  wire_buf_puts(b, "<xsbug>");
  for (it = m->items; it != NULL; it = it->next) wire_elem_render(b, it);
  wire_buf_puts(b, "</xsbug>");
}
