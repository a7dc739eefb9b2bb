/*
** store_import.c
** Capture files: the bytes an agent would have sent, read with the same
** wire parser and ingest as a socket. What a damaged capture breaks is
** rolled back; the snapshots completed before the damage stay.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

typedef struct importer {
  store *s;
  store_ingest *in;
  const char *name;
  int64_t *ids;
  size_t nids, cap;
  int first_rc;          /* first snapshot that failed */
  char first_msg[512];
  int oom;
  store_progress_fn progress;
  void *progress_ud;
} importer;

static void on_done(void *ud, const store_ingest_result *r) {
  importer *im = ud;
  if (r->status != STORE_OK) {
    if (!im->first_rc) {
      im->first_rc = r->status;
      snprintf(im->first_msg, sizeof im->first_msg, "%s", r->message);
    }
    return;
  }
  if (im->nids == im->cap) {
    size_t cap = im->cap ? im->cap * 2 : 8;
    int64_t *ids = realloc(im->ids, cap * sizeof *ids);
    if (!ids) {
      im->oom = 1;
      return;
    }
    im->ids = ids;
    im->cap = cap;
  }
  im->ids[im->nids++] = r->snapshot;
}

static void on_progress(void *ud, uint64_t nodes, uint64_t edges) {
  importer *im = ud;
  if (im->progress) im->progress(im->progress_ud, nodes, edges);
}

static int on_message(void *ud, const wire_msg *m) {
  importer *im = ud;
  int rc = store_ingest_message(im->in, m);
  /* A failed snapshot was reported through on_done already; this catches
  ** items that belong to no snapshot. */
  if (rc && !im->first_rc) {
    im->first_rc = rc;
    snprintf(im->first_msg, sizeof im->first_msg, "message %llu at byte "
             "%llu: %s", (unsigned long long)m->seq,
             (unsigned long long)m->offset, store_ingest_errmsg(im->in));
  }
  return 0;
}

int store_import_stream(store *s, FILE *f, const char *name, int64_t **ids,
                        size_t *nids, store_progress_fn progress, void *ud) {
  *ids = NULL;
  *nids = 0;
  if (s->writer)
    return store_fail(s, STORE_EBUSY, "%s: a snapshot is being written to "
                      "this store; import when it has finished", name);
  importer im;
  memset(&im, 0, sizeof im);
  im.s = s;
  im.name = name;
  im.progress = progress;
  im.progress_ud = ud;
  im.in = store_ingest_new(s, NULL);
  wire_parser *p = im.in ? wire_parser_new(NULL, on_message, &im) : NULL;
  if (!p) {
    store_ingest_free(im.in);
    return store_fail(s, STORE_ENOMEM, "out of memory importing %s", name);
  }
  store_ingest_on_done(im.in, on_done, &im);
  store_ingest_on_progress(im.in, on_progress, &im);

  int rc = STORE_OK;
  enum wire_status ws = WIRE_OK;
  char buf[1 << 16];
  size_t n;
  while (ws == WIRE_OK && (n = fread(buf, 1, sizeof buf, f)) > 0)
    ws = wire_parser_feed(p, buf, n);
  if (ws == WIRE_OK && ferror(f)) {
    char why[160];
    snprintf(why, sizeof why, "reading %s failed at byte %llu (%s)", name,
             (unsigned long long)wire_parser_offset(p), strerror(errno));
    store_ingest_abort(im.in, why);
    rc = store_fail(s, STORE_EIO, "%s; the snapshots before it were kept", why);
  } else if (ws == WIRE_OK) {
    ws = wire_parser_finish(p);
  }
  if (!rc && ws != WIRE_OK) {
    const wire_error *we = wire_parser_error(p);
    char why[400];
    snprintf(why, sizeof why, "%s is %s at byte %llu (message %llu, which "
             "starts at byte %llu: %.160s)", name,
             ws == WIRE_ETRUNC ? "cut off" : "damaged",
             (unsigned long long)we->offset, (unsigned long long)we->msg_seq,
             (unsigned long long)we->msg_offset, we->text);
    int open = store_ingest_open(im.in);
    store_ingest_abort(im.in, why);
    rc = store_fail(s, ws == WIRE_ETRUNC ? STORE_ETRUNC : STORE_EPROTO,
                    "%s; %s%zu complete snapshot%s before it were kept",
                    why, open ? "the snapshot it was in was not stored, " : "",
                    im.nids, im.nids == 1 ? "" : "s");
  } else if (!rc && store_ingest_open(im.in)) {
    char why[300];
    snprintf(why, sizeof why, "%s ends inside a snapshot (after byte %llu, "
             "before its snapshot-end)", name,
             (unsigned long long)wire_parser_offset(p));
    store_ingest_abort(im.in, why);
    rc = store_fail(s, STORE_ETRUNC, "%s; that snapshot was not stored, the "
                    "%zu before it were kept", why, im.nids);
  }
  if (!rc && im.first_rc)
    rc = store_fail(s, im.first_rc, "%s: %s", name, im.first_msg);
  if (!rc && im.oom)
    rc = store_fail(s, STORE_ENOMEM, "%s: out of memory listing the imported "
                    "snapshots (they are stored)", name);
  wire_parser_free(p);
  store_ingest_free(im.in);
  *ids = im.ids;
  *nids = im.nids;
  return rc;
}

int store_import_file(store *s, const char *path, int64_t **ids,
                      size_t *nids, store_progress_fn progress, void *ud) {
  *ids = NULL;
  *nids = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return store_fail(s, STORE_EIO, "cannot open %s: %s", path, strerror(errno));
  int rc = store_import_stream(s, f, path, ids, nids, progress, ud);
  fclose(f);
  return rc;
}
