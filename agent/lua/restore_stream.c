/*
** restore_stream.c
** A restore streamed by the debugger: <restore>, <graph> batches and
** <restore-end> as the command loop receives them, and the machine's answer.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restore.h"

struct alua_restore {
  uint64_t id;
  alua_restore_opts o;
  alua_graph g;
  uint64_t next_seq;   /* the seq the next <graph> must carry */
  alua_restore_origin origin;  /* the snapshot's reason, error, traceback */
  int failed;          /* an error is kept in err, answered at the end */
  char err[256];
};

static char *attr_dup(const wire_elem *e, const char *name, int *nomem)
{
  size_t len;
  const char *v = wire_get(e, name, &len);
  if (!v) return NULL;
  char *s = malloc(len + 1);
  if (!s) {
    *nomem = 1;
    return NULL;
  }
  memcpy(s, v, len);
  s[len] = 0;
  return s;
}

int alua_origin_read(alua_restore_origin *o, const wire_elem *e)
{
  int nomem = 0;
  alua_origin_free(o);
  o->reason = attr_dup(e, "reason", &nomem);
  o->error = attr_dup(e, "error", &nomem);
  o->traceback = attr_dup(e, "traceback", &nomem);
  if (nomem) alua_origin_free(o);
  return nomem ? -1 : 0;
}

void alua_origin_free(alua_restore_origin *o)
{
  free((char *)o->reason);
  free((char *)o->error);
  free((char *)o->traceback);
  o->reason = o->error = o->traceback = NULL;
}

static int read_mode(const wire_elem *item, int *replace, char *err,
                     size_t errlen)
{
  size_t len;
  const char *m = wire_get(item, "mode", &len);
  if (!m) return 0;
  if (len == 5 && memcmp(m, "merge", 5) == 0) *replace = 0;
  else if (len == 7 && memcmp(m, "replace", 7) == 0) *replace = 1;
  else {
    snprintf(err, errlen, "unknown restore mode '%.20s': use merge or "
             "replace", m);
    return -1;
  }
  return 0;
}

alua_restore *alua_restore_begin(const wire_elem *item,
                                 const alua_restore_opts *o, char *err,
                                 size_t errlen)
{
  static const alua_restore_opts defaults;
  uint64_t id;
  if (strcmp(item->name, "restore") != 0) {
    snprintf(err, errlen, "expected <restore>, got <%.40s>", item->name);
    return NULL;
  }
  if (wire_get_u64(item, "id", &id) != 0) {
    snprintf(err, errlen, "<restore> needs a numeric id");
    return NULL;
  }
  alua_restore *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, errlen, "out of memory starting a restore");
    return NULL;
  }
  r->id = id;
  r->o = o ? *o : defaults;
  if (read_mode(item, &r->o.replace, err, errlen)) {
    free(r);
    return NULL;
  }
  if (alua_origin_read(&r->origin, item)) {
    snprintf(err, errlen, "out of memory starting a restore");
    free(r);
    return NULL;
  }
  alua_graph_init(&r->g, r->o.max_nodes, r->o.max_edges);
  return r;
}

uint64_t alua_restore_id(const alua_restore *r)
{
  return r->id;
}

int alua_restore_batch(alua_restore *r, const wire_elem *item)
{
  uint64_t id, seq;
  if (r->failed) return -1;
  if (wire_get_u64(item, "id", &id) != 0 || id != r->id) {
    snprintf(r->err, sizeof r->err, "a graph batch for another restore "
             "arrived while restore %llu was streaming",
             (unsigned long long)r->id);
    r->failed = 1;
    return -1;
  }
  if (wire_get_u64(item, "seq", &seq) != 0 || seq != r->next_seq) {
    snprintf(r->err, sizeof r->err, "graph batches out of order: expected "
             "seq %llu", (unsigned long long)r->next_seq);
    r->failed = 1;
    return -1;
  }
  r->next_seq++;
  if (alua_graph_add_batch(&r->g, item, r->err, sizeof r->err)) {
    r->failed = 1;
    /* The records will not be used: give their memory back now. */
    alua_graph_free(&r->g);
    return -1;
  }
  return 0;
}

void alua_restore_reply_error(wire_buf *reply, uint64_t id, const char *text)
{
  wire_msg_begin(reply);
  wire_open(reply, "restore-error");
  wire_attr_u64(reply, "id", id);
  wire_attr_str(reply, "text", text);
  wire_empty_end(reply);
  wire_msg_end(reply);
}

static void reply_done(wire_buf *reply, const alua_restore_report *rep)
{
  wire_msg_begin(reply);
  wire_open(reply, "restore-done");
  wire_attr_u64(reply, "id", rep->id);
  wire_attr_u64(reply, "nodes", rep->nodes);
  wire_attr_u64(reply, "placeholders", rep->nplaceholders);
  if (rep->nlisted == 0) {
    wire_empty_end(reply);
  } else {
    wire_open_end(reply);
    for (size_t i = 0; i < rep->nlisted; i++) {
      wire_open(reply, "placeholder");
      wire_attr_u64(reply, "i", rep->placeholders[i].node);
      wire_attr_str(reply, "why", rep->placeholders[i].why);
      wire_empty_end(reply);
    }
    wire_close(reply, "restore-done");
  }
  wire_msg_end(reply);
}

int alua_restore_end(alua_restore *r, lua_State *L, const wire_elem *item,
                     wire_buf *reply, alua_restore_report *rep)
{
  alua_restore_report local;
  uint64_t id, nodes, edges;
  size_t hlen;
  const char *hash = wire_get(item, "hash", &hlen);
  int rc = -1;
  if (!rep) rep = &local;
  alua_restore_report_init(rep);
  rep->id = r->id;
  if (r->failed) {
    snprintf(rep->error, sizeof rep->error, "%s", r->err);
  } else if (wire_get_u64(item, "id", &id) != 0 || id != r->id) {
    snprintf(rep->error, sizeof rep->error, "<restore-end> names another "
             "restore than %llu", (unsigned long long)r->id);
  } else if (wire_get_u64(item, "nodes", &nodes) != 0 ||
             wire_get_u64(item, "edges", &edges) != 0 || !hash) {
    /* Without the hash nothing proves the records are the stored ones,
    ** and bytecode must not be loaded from them. */
    snprintf(rep->error, sizeof rep->error, "<restore-end> needs nodes, "
             "edges and hash");
  } else if (alua_graph_finish(&r->g, nodes, edges, hash, rep->error,
                               sizeof rep->error) == 0) {
    rc = alua_restore_graph(L, &r->g, &r->o, &r->origin, rep);
  }
  if (rc == 0) reply_done(reply, rep);
  else alua_restore_reply_error(reply, r->id, rep->error);
  if (rep == &local) alua_restore_report_free(&local);
  return rc;
}

void alua_restore_free(alua_restore *r)
{
  if (!r) return;
  alua_graph_free(&r->g);
  alua_origin_free(&r->origin);
  free(r);
}

int alua_restore_dispatch(alua_restore **slot, lua_State *L,
                          const wire_elem *item, const alua_restore_opts *o,
                          wire_buf *reply)
{
  char err[256];
  uint64_t id = 0;
  const char *name = item->name;
  if (strcmp(name, "restore") == 0) {
    if (*slot) {
      alua_restore_reply_error(reply, (*slot)->id, "superseded by a new "
                               "<restore> before its <restore-end>");
      alua_restore_free(*slot);
      *slot = NULL;
    }
    *slot = alua_restore_begin(item, o, err, sizeof err);
    if (!*slot) {
      wire_get_u64(item, "id", &id);
      alua_restore_reply_error(reply, id, err);
    }
    return 1;
  }
  if (strcmp(name, "graph") != 0 && strcmp(name, "restore-end") != 0)
    return 0;
  if (!*slot) {
    wire_get_u64(item, "id", &id);
    alua_restore_reply_error(reply, id, "no restore in progress: send "
                             "<restore id mode> first");
    return 1;
  }
  if (name[0] == 'g') {
    alua_restore_batch(*slot, item);
    return 1;
  }
  alua_restore_end(*slot, L, item, reply, NULL);
  alua_restore_free(*slot);
  *slot = NULL;
  return 1;
}
