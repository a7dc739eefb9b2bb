/*
** command.c
** Decoding debugger commands from wire items. Everything here comes from
** the network: attributes are length-checked and never trusted to be
** NUL-free or well formed.
*/
#include "command.h"

#include <string.h>

static const struct { const char *name; enum acmd_kind kind; } names[] = {
  { "go", ACMD_GO },
  { "step", ACMD_STEP },
  { "step-inside", ACMD_STEP_INSIDE },
  { "step-outside", ACMD_STEP_OUTSIDE },
  { "abort", ACMD_ABORT },
  { "logout", ACMD_LOGOUT },
  { "set-breakpoint", ACMD_SET_BREAKPOINT },
  { "clear-breakpoint", ACMD_CLEAR_BREAKPOINT },
  { "clear-all-breakpoints", ACMD_CLEAR_ALL_BREAKPOINTS },
  { "set-all-breakpoints", ACMD_SET_ALL_BREAKPOINTS },
  { "select", ACMD_SELECT },
  { "toggle", ACMD_TOGGLE },
  { "snapshot", ACMD_SNAPSHOT },
  { "restore", ACMD_RESTORE },
  { "graph", ACMD_RESTORE },
  { "restore-end", ACMD_RESTORE },
  { "run", ACMD_RUN },
  { "accept", ACMD_ACCEPT },
};

int acmd_parse_id(const char *s, size_t n, uint64_t *id) {
  uint64_t v = 0;
  size_t i;
  if (s == NULL || n < 2 || n > 17 || s[0] != '@') return -1;
  for (i = 1; i < n; i++) {
    char ch = s[i];
    unsigned d;
    if (ch >= '0' && ch <= '9') d = (unsigned)(ch - '0');
    else if (ch >= 'A' && ch <= 'F') d = (unsigned)(ch - 'A' + 10);
    else if (ch >= 'a' && ch <= 'f') d = (unsigned)(ch - 'a' + 10);
    else return -1;
    v = v << 4 | d;
  }
  *id = v;
  return 0;
}

void acmd_format_id(uint64_t id, char out[18]) {
  static const char hex[] = "0123456789ABCDEF";
  char tmp[16];
  int n = 0, i;
  do {
    tmp[n++] = hex[id & 15];
    id >>= 4;
  } while (id != 0);
  out[0] = '@';
  for (i = 0; i < n; i++) out[1 + i] = tmp[n - 1 - i];
  out[1 + n] = '\0';
}

/* path and line of a breakpoint element. */
static int decode_breakpoint(const wire_elem *e, acmd *c, const char **why) {
  c->path = wire_get(e, "path", &c->path_len);
  if (c->path == NULL || c->path_len == 0) {
    *why = "breakpoint without a path attribute";
    return -1;
  }
  if (c->path_len > ACMD_MAX_PATH || memchr(c->path, 0, c->path_len)) {
    *why = "breakpoint path too long or not text";
    return -1;
  }
  if (wire_get_i64(e, "line", &c->line) != 0 || c->line < 1 ||
      c->line > 0x7fffffff) {
    *why = "breakpoint needs a line attribute from 1 up";
    return -1;
  }
  return 0;
}

int acmd_decode(const wire_elem *e, acmd *c, const char **why) {
  size_t i, n;
  const char *v;
  memset(c, 0, sizeof *c);
  c->elem = e;
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(e->name, names[i].name) == 0) {
      c->kind = names[i].kind;
      break;
    }
  switch (c->kind) {
  case ACMD_SET_BREAKPOINT:
  case ACMD_CLEAR_BREAKPOINT:
    return decode_breakpoint(e, c, why);
  case ACMD_SELECT:
  case ACMD_TOGGLE:
    v = wire_get(e, "id", &n);
    if (acmd_parse_id(v, n, &c->id) != 0) {
      *why = "select and toggle need id=\"@HEX\"";
      return -1;
    }
    return 0;
  case ACMD_SNAPSHOT:
    if (wire_get_u64(e, "id", &c->id) != 0) {
      *why = "snapshot request without a numeric id";
      return -1;
    }
    return 0;
  case ACMD_ACCEPT: {
    /* a space-separated list; features we do not know are ignored */
    const char *f = wire_get(e, "features", &n), *end = f ? f + n : NULL;
    while (f != NULL && f < end) {
      const char *sp = memchr(f, ' ', (size_t)(end - f));
      size_t len = (size_t)((sp ? sp : end) - f);
      if (len == 6 && memcmp(f, "binary", 6) == 0) c->binary = 1;
      f = sp ? sp + 1 : end;
    }
    return 0;
  }
  case ACMD_RUN:
    if (wire_get_u64(e, "id", &c->id) != 0) {
      *why = "run request without a numeric id";
      return -1;
    }
    c->code = wire_get(e, "code", &c->code_len);
    if (c->code == NULL) {
      *why = "run request without a code attribute";
      return -1;
    }
    if (c->code_len > ACMD_MAX_CODE) {
      *why = "run request with more than 1 MiB of code";
      return -1;
    }
    return 0;
  default:
    return 0;
  }
}

void acmd_snapshot_init(acmd_snapshot *s) {
  memset(s, 0, sizeof *s);
  wire_buf_init(&s->store);
}

void acmd_snapshot_free(acmd_snapshot *s) {
  wire_buf_free(&s->store);
  memset(s, 0, sizeof *s);
}

/* Append prefix + bytes + NUL to the store; returns the offset. */
static size_t keep(acmd_snapshot *s, const char *prefix, const char *p,
                   size_t n) {
  size_t at = s->store.len;
  wire_buf_puts(&s->store, prefix);
  wire_buf_put(&s->store, p, n);
  wire_buf_put(&s->store, "", 1);
  return at;
}

static int text_ok(const char *p, size_t n, size_t max) {
  return p != NULL && n > 0 && n <= max && memchr(p, 0, n) == NULL;
}

int acmd_snapshot_decode(const wire_elem *e, acmd_snapshot *s,
                         const char **why) {
  static const char *const root_names[] = {
    "globals", "registry", "loaded", "stack", "threads"
  };
  size_t root_at[ACMD_MAX_ROOTS], exit_at[ACMD_MAX_EXITS], label_at = 0;
  const wire_elem *ch;
  const char *v;
  size_t n, i;
  int has_label = 0;

  wire_buf_reset(&s->store);
  s->nroots = s->nexits = 0;
  s->label = NULL;
  if (wire_get_u64(e, "id", &s->id) != 0) {
    *why = "snapshot request without a numeric id";
    return -1;
  }
  v = wire_get(e, "label", &n);
  if (v != NULL) {
    if (n > ACMD_MAX_LABEL || memchr(v, 0, n)) {
      *why = "snapshot label longer than 1024 bytes or not text";
      return -1;
    }
    label_at = keep(s, "", v, n);
    has_label = 1;
  }
  for (ch = e->children; ch; ch = ch->next) {
    if (strcmp(ch->name, "root") == 0) {
      if (s->nroots == ACMD_MAX_ROOTS) {
        *why = "more than 64 roots in a snapshot request";
        return -1;
      }
      if ((v = wire_get(ch, "name", &n)) != NULL) {
        for (i = 0; i < sizeof root_names / sizeof root_names[0]; i++)
          if (strlen(root_names[i]) == n && memcmp(root_names[i], v, n) == 0)
            break;
        if (i == sizeof root_names / sizeof root_names[0]) {
          *why = "unknown root name (use globals, registry, loaded, stack, "
                 "threads, or path=\"a.b\")";
          return -1;
        }
        root_at[s->nroots++] = keep(s, "", v, n);
      } else if ((v = wire_get(ch, "path", &n)) != NULL) {
        if (!text_ok(v, n, ACMD_MAX_PATH)) {
          *why = "root path empty, longer than 4096 bytes or not text";
          return -1;
        }
        root_at[s->nroots++] = keep(s, "path:", v, n);
      } else {
        *why = "a root needs name= or path=";
        return -1;
      }
    } else if (strcmp(ch->name, "exit") == 0) {
      if (s->nexits == ACMD_MAX_EXITS) {
        *why = "more than 1024 exits in a snapshot request";
        return -1;
      }
      v = wire_get(ch, "path", &n);
      if (!text_ok(v, n, ACMD_MAX_PATH)) {
        *why = "an exit needs path=\"a.b\" (up to 4096 bytes); the Lua "
               "agent names exits by path only";
        return -1;
      }
      exit_at[s->nexits++] = keep(s, "", v, n);
    }
  }
  if (s->store.oom) {
    *why = "out of memory decoding the snapshot request";
    return -1;
  }
  /* The store has stopped growing: now its offsets can become pointers. */
  if (has_label) s->label = s->store.data + label_at;
  for (i = 0; i < s->nroots; i++) s->roots[i] = s->store.data + root_at[i];
  for (i = 0; i < s->nexits; i++) s->exits[i] = s->store.data + exit_at[i];
  return 0;
}
