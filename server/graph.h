/*
** graph.h
** A compact in-memory snapshot graph for analysis: node kinds, type ids,
** shallow sizes and reference edges in CSR arrays (~30 bytes a node),
** built once per snapshot and read by the algorithms in analysis.h.
*/
#ifndef AMBER_GRAPH_H
#define AMBER_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include "wire.h"

/* Node ids are the snapshot's own ids (dense, 0 = the synthetic root). */
typedef uint32_t graph_id;
#define GRAPH_NONE ((graph_id)0xFFFFFFFFu)
#define GRAPH_ROOT ((graph_id)0)
/* Largest node and reference-edge counts the 32-bit arrays can hold. */
#define GRAPH_MAX_NODES 0xFFFFFFF0u
#define GRAPH_MAX_EDGES 0xFFFFFFF0u
/* Type and kind names longer than this are cut (they are labels). */
#define GRAPH_MAX_NAME 256
/* Distinct node kinds kept; further kinds are counted as "other". */
#define GRAPH_MAX_KINDS 250

/* Edge kinds (docs/protocol.md 5.4). A `key` entry whose key is an object
** becomes two references: GRAPH_E_KEYREF to the key, then the value. */
enum graph_ekind {
  GRAPH_E_OTHER = 0, GRAPH_E_ROOT, GRAPH_E_FIELD, GRAPH_E_INDEX, GRAPH_E_KEY,
  GRAPH_E_KEYREF, GRAPH_E_METATABLE, GRAPH_E_UPVALUE, GRAPH_E_VALUE,
  GRAPH_E_PROTOTYPE, GRAPH_E_USERVALUE, GRAPH_E_FRAME, GRAPH_E_FUNCTION,
  GRAPH_E_LOCAL, GRAPH_E_VARARG, GRAPH_E_STACK, GRAPH_E_ENVIRONMENT,
  GRAPH_E_INTERNAL, GRAPH_E_WEAK, GRAPH_E_EXIT, GRAPH_E_NKINDS
};
/* Bit set in ekind[] when the reference does not keep its target alive:
** entries of weak tables (by mode) and edges of kind "weak". */
#define GRAPH_EDGE_WEAK 0x80u
/* Labels of the two references of an entry keyed by an object: the key's
** reference carries GRAPH_LABEL_KEYPAIR when the value is the next
** reference (whose label is GRAPH_LABEL_KEYOBJ), else the hash of the
** scalar value. Such entries are identified only together with their key. */
#define GRAPH_LABEL_KEYPAIR 0x50414952u
#define GRAPH_LABEL_KEYOBJ 0x4B45594Fu
#define graph_ekind_of(g, e) ((enum graph_ekind)((g)->ekind[e] & 0x3Fu))
#define graph_edge_is_weak(g, e) (((g)->ekind[e] & GRAPH_EDGE_WEAK) != 0)

/* Interned names (kinds, types): index 0 is reserved for "none". */
typedef struct graph_names {
  char **name;      /* name[i], NUL-terminated */
  uint32_t *len;
  uint32_t count, cap;
  uint32_t *slot;   /* open-addressing table of indices (0 = empty) */
  uint32_t nslot;   /* power of two */
} graph_names;

/*
** The graph. Edges of node v are to[first[v] .. first[v+1]) in the order
** the snapshot lists them. The identity arrays are present only when built
** with GRAPH_IDENTITY (the diff needs them; the other analyses do not).
*/
typedef struct graph {
  uint32_t n, m;
  uint8_t *kind;       /* per node: index into kinds */
  uint32_t *type;      /* per node: index into types, 0 = no type */
  uint64_t *size;      /* per node: shallow size in bytes */
  uint32_t *first;     /* n + 1 offsets */
  graph_id *to;        /* per edge: target */
  uint8_t *ekind;      /* per edge: enum graph_ekind | GRAPH_EDGE_WEAK */
  graph_names kinds, types;
  uint64_t total_size; /* sum of shallow sizes */
  /* GRAPH_IDENTITY only: */
  uint64_t *addr;      /* VM address, 0 if none */
  uint64_t *content;   /* hash of the node's own value and scalar fields */
  uint32_t *label;     /* per edge: hash of its kind and key */
} graph;

/* Build flags. */
#define GRAPH_IDENTITY 1u /* keep addresses, labels and content hashes */
/* With GRAPH_IDENTITY: hash contents as another process would see them,
** for comparing snapshots of different processes. Addresses a name embeds
** ("cfunction@7fa2…") and userdata bytes (which hold pointers) are left
** out. */
#define GRAPH_PORTABLE 2u

typedef struct graph_builder graph_builder;

/* Start a graph. The hints (expected node and edge counts, 0 if unknown)
** size the arrays once. NULL if out of memory. */
graph_builder *graph_builder_new(unsigned flags, uint64_t nodes_hint,
                                 uint64_t edges_hint);
/* Add the next node; ids must come in order 0, 1, 2 … without gaps.
** Returns 0, or -1 (see graph_builder_error). */
int graph_builder_node(graph_builder *b, const wire_node *node);
/* Add an edge of the node added last; scalar edges only feed the content
** hash. Targets may name nodes not yet added. Returns 0 or -1. */
int graph_builder_edge(graph_builder *b, const wire_edge *edge);
/* Check every reference names a node and hand over the graph (the
** builder is freed either way). NULL on error, with the reason in
** err[errlen]. */
graph *graph_builder_finish(graph_builder *b, char *err, size_t errlen);
/* Why the last call failed. */
const char *graph_builder_error(const graph_builder *b);
/* Drop a builder that will not be finished. */
void graph_builder_free(graph_builder *b);
/* Free a graph. */
void graph_free(graph *g);

/* Kind and type names of node v ("" if it has no type). */
const char *graph_kind_name(const graph *g, graph_id v);
const char *graph_type_name(const graph *g, graph_id v);
/* Name of an edge kind ("field", "keyref" …). */
const char *graph_ekind_name(enum graph_ekind k);
/* Edge kind from its protocol name; GRAPH_E_OTHER if unknown. */
enum graph_ekind graph_ekind_parse(const char *s);
/* Bytes held by g's arrays, for benchmarks and limits. */
size_t graph_memory(const graph *g);

/* Intern a name (cut to GRAPH_MAX_NAME bytes); returns its index (>= 1),
** or 0 if out of memory. */
uint32_t graph_names_intern(graph_names *t, const char *s, size_t n);
void graph_names_free(graph_names *t);

/* 64-bit hash of bytes, seeded; shared by labels, contents and matching. */
uint64_t graph_hash(uint64_t seed, const void *p, size_t n);
/* Mix one 64-bit word into h. */
uint64_t graph_mix(uint64_t h, uint64_t w);

#endif
