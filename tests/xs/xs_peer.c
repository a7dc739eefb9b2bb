/*
** xs_peer.c
** The real-XS-peer test: drives an unmodified xsnap through xsbug using only
** protocol/wire.h and checks every byte it sends against an independent
** reader; `xs_peer fixtures` replays captures (xs_replay.c).
*/
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "wire.h"
#include "xs_check.h"
#include "xs_machine.h"
#include "xs_tree.h"

#define WAIT_MS 10000 /* generous: the machine answers in well under 1 ms */

/* ------------------------------------------------------------------ */
/* Checks on message trees                                              */
/* ------------------------------------------------------------------ */

/* Every message must read the same through wire_parser and through the
** independent reader: same elements, same attribute bytes, same text. */
static void check_raw(const xm_msg *m, const char *raw) {
  char why[768];
  xt_node *scanned = xt_scan_xs(raw + m->offset, (size_t)m->length, why, sizeof why);
  if (scanned == NULL)
    xc_die("message %llu: the independent reader cannot read the machine's bytes: %s",
        (unsigned long long)m->seq, why);
  const xt_node *expect = m->wrapped ? scanned->children : scanned;
  if (m->wrapped && strcmp(scanned->name, "xsbug") != 0)
    xc_die("message %llu is marked wrapped but starts with <%s>",
        (unsigned long long)m->seq, scanned->name);
  if (xt_compare(m->items, expect, why, sizeof why)) {
    xt_free(scanned);
    xc_die("message %llu: wire_parser and the raw bytes disagree: %s",
        (unsigned long long)m->seq, why);
  }
  xt_free(scanned);
}

static xm_msg next_msg(void) {
  xm_msg m;
  if (xm_next(&xc_peer, WAIT_MS, &m)) xc_die("%s", xc_peer.err);
  check_raw(&m, xc_peer.in.data);
  return m;
}

static const xt_node *item(const xm_msg *m, const char *name) {
  for (const xt_node *n = m->items; n; n = n->next)
    if (strcmp(n->name, name) == 0) return n;
  return NULL;
}

static const xt_node *need_item(const xm_msg *m, const char *name) {
  const xt_node *n = item(m, name);
  if (n == NULL) xc_die_at(m->items, "message %llu has no <%s>", (unsigned long long)m->seq, name);
  return n;
}

static const xt_node *need_prop(const xt_node *in, const char *name) {
  const xt_node *n = xt_named(in, name);
  if (n == NULL) xc_die_at(in, "<%s> has no child named \"%s\"", in->name, name);
  return n;
}

static void need_attr(const xt_node *n, const char *attr, const char *bytes, size_t len) {
  size_t got;
  const char *v = xt_get(n, attr, &got);
  if (v == NULL) xc_die_at(n, "<%s> has no %s attribute", n->name, attr);
  if (got != len || memcmp(v, bytes, len) != 0) {
    wire_buf a, b;
    wire_buf_init(&a);
    wire_buf_init(&b);
    xt_quote(&a, v, got);
    xt_quote(&b, bytes, len);
    wire_buf_put(&a, "", 1);
    wire_buf_put(&b, "", 1);
    xc_die_at(n, "%s is \"%s\", expected \"%s\"", attr, a.oom ? "?" : a.data, b.oom ? "?" : b.data);
  }
}
#define need_str(n, attr, s) need_attr((n), (attr), (s), sizeof(s) - 1)

/* An object reference as XS writes it: '@' and uppercase hex digits (its
** parser takes nothing else back). */
static int is_xs_id(const char *v) {
  if (v == NULL || v[0] != '@' || v[1] == 0) return 0;
  for (const char *p = v + 1; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F'))) return 0;
  return 1;
}

/* A property that refers to an object; flags[0] is '+' (collapsed) or '-'
** (expanded). Returns its id. */
static const char *need_object(const xt_node *prop, char state) {
  const char *flags = xt_get(prop, "flags", NULL);
  const char *v = xt_get(prop, "value", NULL);
  if (flags == NULL || flags[0] != state || !is_xs_id(v))
    xc_die_at(prop, "expected an object property with flags '%c…' and an @HEX value", state);
  return v;
}

static long line_of(const char *path, const char *stmt) {
  FILE *f = fopen(path, "r");
  if (f == NULL) xc_die("cannot read %s", path);
  char line[1024];
  long n = 0;
  while (fgets(line, sizeof line, f)) {
    n++;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    size_t len = strcspn(p, "\r\n");
    if (len == strlen(stmt) && memcmp(p, stmt, len) == 0) {
      fclose(f);
      return n;
    }
  }
  fclose(f);
  xc_die("%s has no line \"%s\"", path, stmt);
  return -1;
}

/* ------------------------------------------------------------------ */
/* live: one debugging session with a real machine                      */
/* ------------------------------------------------------------------ */

static void check_login(const xm_msg *m) {
  const xt_node *login = need_item(m, "login");
  if (!m->wrapped || xt_count(m->items) != 1)
    xc_die_at(m->items, "the login should be the only item of an <xsbug> message");
  need_str(login, "name", "xsnap");
  need_str(login, "value", "XS");
  xc_ok("login parsed: name=\"xsnap\" value=\"XS\", identical to the raw bytes decoded independently");
}

static void check_frames(const xt_node *frames, long line) {
  const xt_node *f0 = frames->children;
  if (f0 == NULL || f0->next == NULL) xc_die_at(frames, "expected at least two frames");
  need_str(f0, "name", "work");
  if (!is_xs_id(xt_get(f0, "value", NULL))) xc_die_at(f0, "frame value is not an @HEX id");
  const char *path = xt_get(f0, "path", NULL);
  if (path == NULL || !xc_ends_with(path, "/peer_app.js"))
    xc_die_at(f0, "frame path should end with /peer_app.js");
  char l[24];
  snprintf(l, sizeof l, "%ld", line);
  need_attr(f0, "line", l, strlen(l));
  for (const xt_node *f = f0; f; f = f->next)
    if (strcmp(f->name, "frame") != 0 || !is_xs_id(xt_get(f, "value", NULL)))
      xc_die_at(f, "every child of <frames> should be a <frame> with an @HEX value");
  xc_ok("frames: %zu frames, innermost work() at peer_app.js:%ld", xt_count(f0), line);
}

static void check_break_locals(const xt_node *local, const xt_node *f0) {
  need_str(local, "name", "work");
  const char *fid = xt_get(f0, "value", NULL);
  need_attr(local, "value", fid, strlen(fid));
  need_str(need_prop(local, "n"), "value", "5");
  need_str(need_prop(local, "local1"), "value", "10");
  /* strings come quoted in single quotes; control bytes and <&> arrive as &#N; */
  need_str(need_prop(local, "text"), "value", "'a<b & c>d\x07'");
  need_object(need_prop(local, "obj"), '+');
  need_object(need_prop(local, "arr"), '+');
  need_object(need_prop(local, "rab"), '+');
  xc_ok("locals of work(): n, local1, text with '<' and BEL, obj/arr/rab collapsed");
}

static void check_globals(const xt_node *global) {
  need_str(need_prop(global, "g1"), "value", "42");
  need_str(need_prop(global, "gstr"), "value", "'tab\there <less> & \"q\" \x01 end'");
  need_object(need_prop(global, "gobj"), '+');
  need_str(need_prop(global, "glet"), "value", "'lexical'"); /* script-level let */
  need_object(need_prop(global, "work"), '+');
  xc_ok("globals: g1, gstr (TAB, quotes, SOH), gobj, glet among %zu properties",
     xt_count(global->children));
}

typedef struct reply_time {
  const char *what;
  double ms;
  unsigned long reads;
  size_t bytes;
} reply_time;

static reply_time times[8];
static int ntimes;

/* Send a command and take its reply, timing the round trip. */
static xm_msg exchange(const char *what, const char *name, const char *attr, const char *value) {
  double t0 = xm_now_ms();
  unsigned long r0 = xc_peer.reads;
  size_t b0 = xc_peer.in.len;
  if (xm_send(&xc_peer, name, attr, value)) xc_die("%s", xc_peer.err);
  xm_msg m = next_msg();
  if (ntimes < (int)(sizeof times / sizeof times[0]))
    times[ntimes++] = (reply_time){what, xm_now_ms() - t0, xc_peer.reads - r0, xc_peer.in.len - b0};
  return m;
}

static void save_file(const char *dir, const char *name, const wire_buf *b) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0)
    xc_die("cannot write %s", path);
  printf("saved %zu bytes to %s\n", b->len, path);
}

static void finish_machine(const char *done_line) {
  if (xm_wait_eof(&xc_peer, WAIT_MS)) xc_die("%s", xc_peer.err);
  for (xm_msg m; xc_peer.qlen && xm_next(&xc_peer, 0, &m) == 0;) {
    check_raw(&m, xc_peer.in.data); /* anything it said on the way out */
    xt_free(m.items);
  }
  if (xm_wait_exit(&xc_peer, WAIT_MS)) xc_die("%s", xc_peer.err);
  char *out = xm_output(&xc_peer);
  if (!WIFEXITED(xc_peer.status) || WEXITSTATUS(xc_peer.status) != 0)
    xc_die("the machine ended with wait status %d; its output: %s", xc_peer.status, out ? out : "");
  if (out == NULL || strstr(out, done_line) == NULL)
    xc_die("the machine's output lacks \"%s\"; it printed: %s", done_line, out ? out : "(nothing)");
  free(out);
}

static void live(const char *xsnap, const char *dir, int trim, const char *save, int quickack) {
  char app[PATH_MAX], prelude[PATH_MAX];
  snprintf(app, sizeof app, "%s/peer_app.js", dir);
  snprintf(prelude, sizeof prelude, "%s/trim_globals.js", dir);
  long line = line_of(app, "debugger;");
  char *argv[4] = {(char *)xsnap, trim ? prelude : app, trim ? app : NULL, NULL};

  if (xm_start(&xc_peer, argv, quickack, 1, WAIT_MS)) xc_die("%s", xc_peer.err);
  xc_ok("xsnap dialled the listener (XSBUG_HOST), TCP_NODELAY%s set", quickack ? " and TCP_QUICKACK" : "");

  xm_msg m = next_msg();
  check_login(&m);
  xt_free(m.items);

  /* The machine waits after its login until a command ends in CR LF. */
  if (xm_send(&xc_peer, "go", NULL, NULL)) xc_die("%s", xc_peer.err);
  m = next_msg();
  const xt_node *log = need_item(&m, "log");
  const char trace[] = "peer_app: trace <1> & done\n";
  if (log->text_len != sizeof trace - 1 || memcmp(log->text, trace, sizeof trace - 1) != 0)
    xc_die_at(log, "<log> text should be the script's trace() argument");
  xc_ok("<log> from trace(): text decoded exactly (&#60; &#38; &#10;)");
  xt_free(m.items);

  unsigned long r0 = xc_peer.reads;
  size_t b0 = xc_peer.in.len;
  xm_msg brk = next_msg();
  const char *order[] = {"frames", "local", "global", "grammar", "break"};
  const xt_node *it = brk.items;
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++, it = it ? it->next : NULL)
    if (it == NULL || strcmp(it->name, order[i]) != 0)
      xc_die_at(brk.items, "a break should be one message: frames, local, global, grammar, break");
  xc_ok("break arrived as one message of %zu bytes in %lu reads: frames, local, global, grammar, break",
     xc_peer.in.len - b0, xc_peer.reads - r0);
  const xt_node *frames = need_item(&brk, "frames");
  check_frames(frames, line);
  const xt_node *f0 = frames->children, *f1 = f0->next;
  check_break_locals(need_item(&brk, "local"), f0);
  check_globals(need_item(&brk, "global"));
  const xt_node *b = need_item(&brk, "break");
  need_attr(b, "path", xt_get(f0, "path", NULL), strlen(xt_get(f0, "path", NULL)));
  need_attr(b, "line", xt_get(f0, "line", NULL), strlen(xt_get(f0, "line", NULL)));
  const char bt[] = "# Break: debugger!\n";
  if (b->text_len != sizeof bt - 1 || memcmp(b->text, bt, sizeof bt - 1) != 0)
    xc_die_at(b, "<break> text should be \"# Break: debugger!\\n\"");
  xc_ok("<break> names the same path and line, text \"# Break: debugger!\\n\"");

  char f0id[64], f1id[64], f1name[256], objid[64], rabid[64];
  snprintf(f0id, sizeof f0id, "%s", xt_get(f0, "value", NULL));
  snprintf(f1id, sizeof f1id, "%s", xt_get(f1, "value", NULL));
  if (xt_get(f1, "name", NULL) == NULL) xc_die_at(f1, "the caller's frame has no name");
  snprintf(f1name, sizeof f1name, "%s", xt_get(f1, "name", NULL));
  snprintf(objid, sizeof objid, "%s", need_object(need_prop(need_item(&brk, "local"), "obj"), '+'));
  snprintf(rabid, sizeof rabid, "%s", need_object(need_prop(need_item(&brk, "local"), "rab"), '+'));
  xt_free(brk.items);

  /* select the caller's frame: the machine answers with that frame's locals */
  m = exchange("select caller", "select", "id", f1id);
  const xt_node *local = need_item(&m, "local");
  need_attr(local, "value", f1id, strlen(f1id));
  need_attr(local, "name", f1name, strlen(f1name));
  need_item(&m, "global");
  if (item(&m, "frames") || item(&m, "break")) xc_die_at(m.items, "a select reply has no frames or break");
  xc_ok("<select id=\"%s\"/>: new <local> for frame %s", f1id, f1name);
  xt_free(m.items);

  m = exchange("select work", "select", "id", f0id);
  need_str(need_item(&m, "local"), "name", "work");
  need_str(need_prop(need_item(&m, "local"), "n"), "value", "5");
  xc_ok("<select id=\"%s\"/>: back to work()'s locals", f0id);
  xt_free(m.items);

  m = exchange("toggle obj", "toggle", "id", objid);
  const xt_node *obj = need_prop(need_item(&m, "local"), "obj");
  need_object(obj, '-');
  need_str(need_prop(obj, "x"), "value", "1");
  need_str(need_prop(obj, "y"), "value", "'why'");
  need_str(need_prop(obj, "f"), "value", "1.5");
  need_str(need_prop(obj, "big"), "value", "0xCn");
  need_str(need_prop(obj, "neg0"), "value", "0");
  need_object(need_prop(obj, "arr"), '+');
  const xt_node *self = need_prop(obj, "self");
  need_str(self, "value", "obj"); /* a cycle is a name path, not an address */
  const char *sflags = xt_get(self, "flags", NULL);
  if (sflags == NULL || sflags[0] != ' ') xc_die_at(self, "a cycle's flags start with a space");
  xc_ok("<toggle id=\"%s\"/>: obj expanded: x, y, f, big (0xCn), neg0 (\"0\"), self as path \"obj\"", objid);
  xt_free(m.items);

  m = exchange("toggle rab", "toggle", "id", rabid);
  const xt_node *rab = need_prop(need_item(&m, "local"), "rab");
  need_object(rab, '-');
  need_str(need_prop(rab, "(buffer)"), "value", "4 bytes <= 16 bytes");
  need_object(need_prop(need_item(&m, "local"), "obj"), '-'); /* still expanded */
  xc_ok("<toggle id=\"%s\"/>: resizable ArrayBuffer's raw '<' in value=\"4 bytes <= 16 bytes\" read", rabid);
  xt_free(m.items);

  if (xm_send(&xc_peer, "go", NULL, NULL)) xc_die("%s", xc_peer.err);
  finish_machine("peer_app: done 18");
  xc_ok("<go/>: the machine ran to completion, exit status 0, printed \"peer_app: done 18\"");

  for (int i = 0; i < ntimes; i++)
    printf("reply time %-14s %7.3f ms  %6zu bytes in %3lu reads  (TCP_QUICKACK %s)\n",
           times[i].what, times[i].ms, times[i].bytes, times[i].reads, quickack ? "on" : "off");
  if (save) {
    save_file(save, "session.machine", &xc_peer.in);
    save_file(save, "session.debugger", &xc_peer.out);
  }
  xm_close(&xc_peer);
}

/* ------------------------------------------------------------------ */
/* strings: bytes that are not the UTF-8 of the text                    */
/* ------------------------------------------------------------------ */

static void strings(const char *xsnap, const char *dir) {
  char app[PATH_MAX];
  snprintf(app, sizeof app, "%s/strings_app.js", dir);
  char *argv[3] = {(char *)xsnap, app, NULL};
  if (xm_start(&xc_peer, argv, 1, 1, WAIT_MS)) xc_die("%s", xc_peer.err);
  xm_msg m = next_msg();
  check_login(&m);
  xt_free(m.items);
  if (xm_send(&xc_peer, "go", NULL, NULL)) xc_die("%s", xc_peer.err);
  if (xm_next(&xc_peer, WAIT_MS, &m))
    xc_die("%s\n  (XS writes U+0080 as the lone byte 0x80 and a lone surrogate as its "
        "CESU-8 bytes ED A0 80: the parser's XS input filter must pass such bytes "
        "through as U+F7xx references, see docs/protocol.md section 2)", xc_peer.err);
  check_raw(&m, xc_peer.in.data);
  const xt_node *local = need_item(&m, "local");
  need_str(need_prop(local, "nul"), "value", "'nul\0'");
  need_str(need_prop(local, "ctl"), "value", "'ctl\x1f\x7f'");
  need_str(need_prop(local, "u80"), "value", "'u80\x80'");
  need_str(need_prop(local, "sur"), "value", "'sur\xED\xA0\x80'");
  need_str(need_prop(local, "emoji"), "value", "'emoji\xF0\x9F\x98\x80'");
  /* U+F741 arrives as plain UTF-8; decoding it as amber's escape for the
  ** byte 0x41 would turn "pua\uf741" into "puaA" */
  need_str(need_prop(local, "pua"), "value", "'pua\xEF\x9D\x81'");
  xc_ok("strings as XS holds them: &#0;, &#31;&#127;, lone 0x80, ED A0 80, U+F741, 4-byte UTF-8");
  xt_free(m.items);
  if (xm_send(&xc_peer, "go", NULL, NULL)) xc_die("%s", xc_peer.err);
  finish_machine("strings_app: done 28");
  xc_ok("<go/>: strings_app ran to completion");
  xm_close(&xc_peer);
}

/* ------------------------------------------------------------------ */
/* capture: record a plain go/go session without parsing it             */
/* ------------------------------------------------------------------ */

static void capture(const char *xsnap, const char *out, char **scripts, int nscripts) {
  char *argv[16];
  if (nscripts < 1 || nscripts > 14) xc_die("capture takes 1 to 14 scripts");
  argv[0] = (char *)xsnap;
  for (int i = 0; i < nscripts; i++) argv[1 + i] = scripts[i];
  argv[1 + nscripts] = NULL;
  if (xm_start(&xc_peer, argv, 1, 0, WAIT_MS)) xc_die("%s", xc_peer.err);
  /* it writes each message with several send()s: wait for quiet, not a frame */
  for (int go = 0; go < 4 && !xc_peer.eof; go++) {
    if (xm_wait_quiet(&xc_peer, 300, WAIT_MS)) xc_die("%s", xc_peer.err);
    if (!xc_peer.eof && xm_send(&xc_peer, "go", NULL, NULL)) xc_die("%s", xc_peer.err);
  }
  if (xm_wait_eof(&xc_peer, WAIT_MS) || xm_wait_exit(&xc_peer, WAIT_MS)) xc_die("%s", xc_peer.err);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s.machine", out);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(xc_peer.in.data, 1, xc_peer.in.len, f) != xc_peer.in.len || fclose(f))
    xc_die("cannot write %s", path);
  printf("saved %zu bytes to %s (machine exit status %d)\n", xc_peer.in.len, path, xc_peer.status);
  xm_close(&xc_peer);
}

/* ------------------------------------------------------------------ */

static void usage(void) {
  fprintf(stderr,
          "usage: xs_peer live XSNAP XSDIR [--trim] [--save DIR] [--no-quickack]\n"
          "       xs_peer strings XSNAP XSDIR\n"
          "       xs_peer fixtures DIR\n"
          "       xs_peer capture XSNAP OUTPREFIX SCRIPT...\n"
          "live: debug XSDIR/peer_app.js in the xsnap at XSNAP and check every reply\n"
          "  (--trim runs XSDIR/trim_globals.js first; --save writes session.* fixtures)\n"
          "strings: debug XSDIR/strings_app.js and check its strings byte for byte\n"
          "fixtures: replay DIR/*.machine and *.debugger split at every byte boundary\n"
          "capture: run the scripts with go at each stop, save OUTPREFIX.machine\n");
  exit(2);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 4 && strcmp(argv[1], "live") == 0) {
    int trim = 0, quickack = 1;
    const char *save = NULL;
    for (int i = 4; i < argc; i++) {
      if (strcmp(argv[i], "--trim") == 0) trim = 1;
      else if (strcmp(argv[i], "--no-quickack") == 0) quickack = 0;
      else if (strcmp(argv[i], "--save") == 0 && i + 1 < argc) save = argv[++i];
      else usage();
    }
    live(argv[2], argv[3], trim, save, quickack);
  } else if (argc == 4 && strcmp(argv[1], "strings") == 0) {
    strings(argv[2], argv[3]);
  } else if (argc == 3 && strcmp(argv[1], "fixtures") == 0) {
    xc_fixtures(argv[2]);
  } else if (argc >= 5 && strcmp(argv[1], "capture") == 0) {
    capture(argv[2], argv[3], argv + 4, argc - 4);
  } else {
    usage();
  }
  if (xc_passed()) printf("xs_peer: all %d checks passed\n", xc_passed());
  return 0;
}
