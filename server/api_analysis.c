/*
** api_analysis.c
** Heap analysis over HTTP: summary by type, top retainers, dominators and
** paths of a node, diff and leak filter — the JSON comes from analysis.h
** (docs/analysis.md has its shapes); this file routes and pages.
*/
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "api.h"

/* Reply with the JSON a renderer wrote, or its error. */
static void finish(api_ctx *c, api_response *rs, int st, const char *err) {
  if (st == STORE_OK) {
    rs->status = 200;
    return;
  }
  int http = st == STORE_ENOTFOUND ? 404 : st == STORE_EUSAGE ? 400 :
             st == STORE_EBUSY ? 503 : 500;
  (void)c;
  api_error(rs, http, err[0] ? err : store_status_name(st),
            http == 404 ? "GET /api/snapshots lists the snapshots" : NULL);
}

void api_analysis_snapshot(api_ctx *c, const api_request *rq, api_response *rs,
                           int64_t snap, const char *what) {
  uint64_t offset, limit;
  if (api_page(rq, rs, &offset, &limit)) return;
  char err[512] = "";
  json_writer w;
  json_init(&w, &rs->body);
  int st = strcmp(what, "summary") == 0
             ? analysis_summary_json(c->st, snap, &w, offset, limit, err, sizeof err)
             : analysis_top_json(c->st, snap, &w, offset, limit, err, sizeof err);
  finish(c, rs, st, err);
}

void api_analysis_node(api_ctx *c, const api_request *rq, api_response *rs,
                       int64_t snap, uint64_t node, const char *what) {
  char err[512] = "";
  json_writer w;
  json_init(&w, &rs->body);
  int st;
  if (strcmp(what, "paths") == 0) {
    uint64_t max;
    if (api_arg_u64(rq, rs, "max", 5, &max)) return;
    if (max == 0 || max > ANALYSIS_MAX_PATHS) max = ANALYSIS_MAX_PATHS;
    const char *strong = api_arg_get(rq, "strong");
    unsigned flags = strong && (strcmp(strong, "1") == 0 || strcmp(strong, "true") == 0)
                       ? ANALYSIS_STRONG_ONLY : 0;
    st = analysis_path_json(c->st, snap, node, (unsigned)max, flags, &w, err, sizeof err);
  } else {
    uint64_t offset, limit;
    if (api_page(rq, rs, &offset, &limit)) return;
    st = analysis_dominator_json(c->st, snap, node, &w, offset, limit, err, sizeof err);
  }
  finish(c, rs, st, err);
}

static int snap_arg(const api_request *rq, api_response *rs, const char *name,
                    int64_t *out) {
  uint64_t v;
  if (api_arg_u64(rq, rs, name, 0, &v)) return -1;
  if (v == 0) {
    char what[96];
    snprintf(what, sizeof what, "give the snapshot id as %s=", name);
    api_error(rs, 400, what, "GET /api/snapshots lists the snapshots");
    return -1;
  }
  *out = (int64_t)v;
  return 0;
}

void api_diff(api_ctx *c, const api_request *rq, api_response *rs) {
  int64_t a, b;
  uint64_t offset, limit;
  if (strcmp(rq->method, "GET") != 0) { api_error(rs, 405, "use GET", NULL); return; }
  if (snap_arg(rq, rs, "a", &a) || snap_arg(rq, rs, "b", &b) ||
      api_page(rq, rs, &offset, &limit))
    return;
  analysis_diff_opts o;
  memset(&o, 0, sizeof o);
  const char *mode = api_arg_get(rq, "match");
  if (!mode || strcmp(mode, "auto") == 0) o.mode = ANALYSIS_MATCH_AUTO;
  else if (strcmp(mode, "address") == 0) o.mode = ANALYSIS_MATCH_ADDRESS;
  else if (strcmp(mode, "path") == 0) o.mode = ANALYSIS_MATCH_PATH;
  else {
    api_error(rs, 400, "match= is auto, address or path", "docs/analysis.md explains the rules");
    return;
  }
  o.show = (1 << ANALYSIS_ADDED) | (1 << ANALYSIS_REMOVED) | (1 << ANALYSIS_CHANGED);
  const char *show = api_arg_get(rq, "show");
  if (show && *show) {
    o.show = 0;
    if (strstr(show, "added")) o.show |= 1 << ANALYSIS_ADDED;
    if (strstr(show, "removed")) o.show |= 1 << ANALYSIS_REMOVED;
    if (strstr(show, "changed")) o.show |= 1 << ANALYSIS_CHANGED;
    if (strstr(show, "same")) o.show |= 1 << ANALYSIS_SAME;
  }
  char err[512] = "";
  json_writer w;
  json_init(&w, &rs->body);
  finish(c, rs, analysis_diff_json(c->st, a, b, &o, &w, offset, limit, err, sizeof err),
         err);
}

void api_leaks(api_ctx *c, const api_request *rq, api_response *rs) {
  int64_t base, target, final;
  uint64_t offset, limit;
  if (strcmp(rq->method, "GET") != 0) { api_error(rs, 405, "use GET", NULL); return; }
  if (snap_arg(rq, rs, "baseline", &base) || snap_arg(rq, rs, "target", &target) ||
      snap_arg(rq, rs, "final", &final) || api_page(rq, rs, &offset, &limit))
    return;
  char err[512] = "";
  json_writer w;
  json_init(&w, &rs->body);
  finish(c, rs, analysis_leaks_json(c->st, base, target, final, &w, offset, limit, err,
                                    sizeof err),
         err);
}
