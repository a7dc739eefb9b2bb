/*
** analysis_json.h
** Internal to the analysis JSON renderers (analysis_json*.c): paging and
** the short node entries their lists share. The API's door is analysis.h.
*/
#ifndef AMBER_ANALYSIS_JSON_H
#define AMBER_ANALYSIS_JSON_H

#include "analysis.h"
#include "api.h"

/* Bytes of a string value shown beside a node. */
#define ANALYSIS_JSON_PREVIEW 120

/* A page size: 0 means the default (100); at most 10000. */
uint64_t analysis_json_page(uint64_t limit);
/* Node id's kind, type, name, value preview and shallow size, as members
** of the object being written (nothing if the node cannot be read). */
void analysis_json_node_fields(json_writer *w, store *s, int64_t snap,
                               uint64_t id);

#endif
