/*
** walk_map.c
** The walk's identity map: (address, tag) -> node id, kept in C, never in
** the VM. A radix tree over the address: a hash of 256 KiB regions, each
** an array of 512-byte pages, each page a slot per 16 bytes. Objects met
** one after another mostly live side by side, so lookups stay in cache
** (a hash of addresses would miss it on every object), and nothing probes.
*/
#include <stdlib.h>
#include <string.h>
#include "walk.h"

#define REGION_SHIFT 18
#define PAGE_SHIFT 9
#define SLOT_SHIFT 4   /* Lua objects are at least 24 bytes: one per slot */
#define REGION_PAGES (1u << (REGION_SHIFT - PAGE_SHIFT))
#define POOL_PAGES 128

static size_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDu;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53u;
  return (size_t)(h ^ (h >> 33));
}

/* ---- the directory of regions -------------------------------------- */

static int dir_resize(walk_map *m, size_t ncap) {
  walk_dirent *nd = calloc(ncap, sizeof *nd);
  if (nd == NULL) return -1;
  for (size_t i = 0; i < m->dircap; i++) {
    walk_dirent *e = &m->dir[i];
    if (e->pages == NULL) continue;
    size_t j = mix64(e->region) & (ncap - 1);
    while (nd[j].pages != NULL) j = (j + 1) & (ncap - 1);
    nd[j] = *e;
  }
  free(m->dir);
  m->dir = nd;
  m->dircap = ncap;
  return 0;
}

/* The page array of a region; made if add, else NULL when absent. */
static walk_page **region_of(walk_map *m, uint64_t region, int add) {
  if (m->last && m->lastregion == region) return m->last;
  if (add && (m->dircount + 1) * 2 > m->dircap &&
      dir_resize(m, m->dircap ? m->dircap * 2 : 64) != 0)
    return NULL;
  if (m->dircap == 0) return NULL;
  size_t mask = m->dircap - 1, j = mix64(region) & mask;
  for (; m->dir[j].pages != NULL; j = (j + 1) & mask) {
    if (m->dir[j].region == region) {
      m->lastregion = region;
      return m->last = m->dir[j].pages;
    }
  }
  if (!add) return NULL;
  walk_page **pages = calloc(REGION_PAGES, sizeof *pages);
  if (pages == NULL) return NULL;
  m->dir[j].region = region;
  m->dir[j].pages = pages;
  m->dircount++;
  m->lastregion = region;
  return m->last = pages;
}

static walk_page *page_new(walk_map *m) {
  if (m->poolleft == 0) {
    if (m->nchunks == m->chunkcap) {
      size_t ncap = m->chunkcap ? m->chunkcap * 2 : 16;
      walk_page **nc = realloc(m->chunks, ncap * sizeof *nc);
      if (nc == NULL) return NULL;
      m->chunks = nc;
      m->chunkcap = ncap;
    }
    walk_page *c = calloc(POOL_PAGES, sizeof *c);
    if (c == NULL) return NULL;
    m->chunks[m->nchunks++] = c;
    m->pool = c;
    m->poolleft = POOL_PAGES;
  }
  m->poolleft--;
  return m->pool++;
}

/* The page holding address key; made if add, else NULL when absent. */
static walk_page *page_of(walk_map *m, uintptr_t key, int add) {
  walk_page **pages = region_of(m, (uint64_t)key >> REGION_SHIFT, add);
  if (pages == NULL) return NULL;
  walk_page **pp = &pages[(key >> PAGE_SHIFT) & (REGION_PAGES - 1)];
  if (*pp == NULL && add) *pp = page_new(m);
  return *pp;
}

/* ---- the spill table: keys whose slot another key took ------------- */
/* (two light userdata 8 bytes apart, a zero-size userdata's payload
** pointer meeting the next object under a headerless allocator) */

static size_t spill_hash(uintptr_t key, unsigned tag) {
  return mix64((uint64_t)key ^ ((uint64_t)tag << 59));
}

static int spill_resize(walk_map *m, size_t ncap) {
  walk_slot *ns = calloc(ncap, sizeof *ns);
  if (ns == NULL) return -1;
  for (size_t i = 0; i < m->spillcap; i++) {
    walk_slot *s = &m->spill[i];
    if (s->info == 0) continue;
    size_t j = spill_hash(s->key, WALK_INFO_TAG(s->info)) & (ncap - 1);
    while (ns[j].info != 0) j = (j + 1) & (ncap - 1);
    ns[j] = *s;
  }
  free(m->spill);
  m->spill = ns;
  m->spillcap = ncap;
  return 0;
}

static uint64_t *spill_slot(walk_map *m, uintptr_t key, unsigned tag,
                            int add) {
  if (add && (m->spillcount + 1) * 2 > m->spillcap &&
      spill_resize(m, m->spillcap ? m->spillcap * 2 : 64) != 0)
    return NULL;
  if (m->spillcap == 0) return NULL;
  size_t mask = m->spillcap - 1, j = spill_hash(key, tag) & mask;
  for (;; j = (j + 1) & mask) {
    walk_slot *s = &m->spill[j];
    if (s->info == 0) {
      if (!add) return NULL;
      s->key = key;
      m->spillcount++;
      return &s->info;
    }
    if (s->key == key && WALK_INFO_TAG(s->info) == tag) return &s->info;
  }
}

/* ---- the interface ------------------------------------------------- */

uint64_t *walk_map_slot(walk_map *m, uintptr_t key, unsigned tag) {
  walk_page *p = page_of(m, key, 1);
  if (p == NULL) return NULL;
  unsigned i = (unsigned)(key >> SLOT_SHIFT) & (WALK_PAGE_SLOTS - 1);
  uint8_t low = (uint8_t)(key & ((1u << SLOT_SHIFT) - 1));
  if (p->info[i] == 0) {
    p->low[i] = low;
    return &p->info[i];  /* the caller fills it, tag included */
  }
  if (p->low[i] == low && WALK_INFO_TAG(p->info[i]) == tag) return &p->info[i];
  return spill_slot(m, key, tag, 1);
}

uint64_t walk_map_get(walk_map *m, uintptr_t key, unsigned tag) {
  walk_page *p = page_of(m, key, 0);
  if (p == NULL) return 0;
  unsigned i = (unsigned)(key >> SLOT_SHIFT) & (WALK_PAGE_SLOTS - 1);
  uint64_t info = p->info[i];
  if (info == 0) return 0;
  if (p->low[i] == (key & ((1u << SLOT_SHIFT) - 1)) && WALK_INFO_TAG(info) == tag)
    return info;
  uint64_t *s = spill_slot(m, key, tag, 0);
  return s ? *s : 0;
}

int walk_map_reserve(walk_map *m, size_t n) {
  size_t cap = 64;
  while (cap < n / 1024) cap *= 2;  /* a region holds thousands of objects */
  return cap > m->dircap ? dir_resize(m, cap) : 0;
}

void walk_map_free(walk_map *m) {
  for (size_t i = 0; i < m->dircap; i++) free(m->dir[i].pages);
  for (size_t i = 0; i < m->nchunks; i++) free(m->chunks[i]);
  free(m->chunks);
  free(m->dir);
  free(m->spill);
  memset(m, 0, sizeof *m);
}
