/*
** restore_code.c
** Bytecode for restore: check a payload was dumped by this Lua build, and
** make many closures share one loaded prototype, as they did when dumped.
*/
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include "restore.h"

/* The public API has no "new closure of this prototype". lua_load of the
** same bytecode for every closure would be slow and would give each its
** own prototype copy. Instead restore loads, once per prototype, a small
** parent function (the "factory") whose only child is that prototype:
** calling it runs CLOSURE and returns a new closure of the shared child.
** The factory is written in Lua 5.4's dump format; the opcodes and the
** constant tags below are checked against a template the running Lua
** compiles and dumps, and if anything differs restore falls back to one
** lua_load per closure. */

#define OP_CLOSURE 79
#define OP_RETURN 70
#define TAG_NIL 0
#define TAG_FALSE 1
#define TAG_TRUE 17
#define TAG_INT 3
#define TAG_FLT 19
#define TAG_SHRSTR 4
#define TAG_LNGSTR 20
#define MAX_NESTING 200   /* Lua's own limit on nested functions (C levels) */

#define INSTR_ABCK(op, a, b, c, k) \
  ((uint32_t)(op) | (uint32_t)(a) << 7 | (uint32_t)(k) << 15 | \
   (uint32_t)(b) << 16 | (uint32_t)(c) << 24)
#define INSTR_ABX(op, a, bx) \
  ((uint32_t)(op) | (uint32_t)(a) << 7 | (uint32_t)(bx) << 15)

/* A cursor over dump bytes; bad is set on any overrun. */
typedef struct rd {
  const uint8_t *p, *end;
  int bad;
} rd;

/* What the parse of a function keeps of its top level. */
typedef struct fninfo {
  const uint8_t *code; uint64_t ncode;
  const uint8_t *upv; uint64_t nupv;  /* instack, idx, kind triples */
} fninfo;

static unsigned rd_byte(rd *r)
{
  if (r->p >= r->end) { r->bad = 1; return 0; }
  return *r->p++;
}

/* lua_dump's sizes: 7 bits a byte, most significant first, the last byte
** marked by its high bit. */
static uint64_t rd_size(rd *r)
{
  uint64_t x = 0;
  unsigned b;
  do {
    if (x > (UINT64_MAX >> 7)) { r->bad = 1; return 0; }
    b = rd_byte(r);
    x = (x << 7) | (b & 0x7f);
  } while (!r->bad && !(b & 0x80));
  return x;
}

static void rd_skip(rd *r, uint64_t n)
{
  if (r->bad || n > (uint64_t)(r->end - r->p)) { r->bad = 1; return; }
  r->p += n;
}

static void rd_string(rd *r)
{
  uint64_t n = rd_size(r);
  if (n) rd_skip(r, n - 1);
}

/* Walk one function of a dump (and, bounded, its children), keeping the
** top level's code and upvalue descriptors in top. */
static void rd_function(rd *r, int depth, fninfo *top)
{
  if (depth > MAX_NESTING) { r->bad = 1; return; }
  rd_string(r);                       /* source */
  rd_size(r); rd_size(r);             /* linedefined, lastlinedefined */
  rd_skip(r, 3);                      /* numparams, is_vararg, maxstack */
  uint64_t n = rd_size(r);
  if (n > (uint64_t)(r->end - r->p) / 4) { r->bad = 1; return; }
  if (top) { top->code = r->p; top->ncode = n; }
  rd_skip(r, 4 * n);
  n = rd_size(r);                     /* constants */
  for (uint64_t i = 0; i < n && !r->bad; i++) {
    switch (rd_byte(r)) {
    case TAG_NIL: case TAG_FALSE: case TAG_TRUE: break;
    case TAG_INT: rd_skip(r, sizeof(lua_Integer)); break;
    case TAG_FLT: rd_skip(r, sizeof(lua_Number)); break;
    case TAG_SHRSTR: case TAG_LNGSTR: rd_string(r); break;
    default: r->bad = 1;
    }
  }
  n = rd_size(r);                     /* upvalue descriptors */
  if (n > (uint64_t)(r->end - r->p) / 3) { r->bad = 1; return; }
  if (top) { top->upv = r->p; top->nupv = n; }
  rd_skip(r, 3 * n);
  n = rd_size(r);                     /* nested prototypes */
  for (uint64_t i = 0; i < n && !r->bad; i++) rd_function(r, depth + 1, NULL);
  rd_skip(r, rd_size(r));             /* lineinfo */
  n = rd_size(r);                     /* abslineinfo */
  for (uint64_t i = 0; i < n && !r->bad; i++) { rd_size(r); rd_size(r); }
  n = rd_size(r);                     /* local variables */
  for (uint64_t i = 0; i < n && !r->bad; i++) {
    rd_string(r); rd_size(r); rd_size(r);
  }
  n = rd_size(r);                     /* upvalue names */
  for (uint64_t i = 0; i < n && !r->bad; i++) rd_string(r);
}

static int collect(lua_State *L, const void *p, size_t n, void *ud)
{
  (void)L;
  wire_buf_put((wire_buf *)ud, p, n);
  return ((wire_buf *)ud)->oom;
}

/* Compile src and dump it into b; 0, or -1 (the Lua error is on the
** stack) so the caller can free b before raising. */
static int dump_template(lua_State *L, const char *src, wire_buf *b)
{
  if (luaL_loadstring(L, src) != LUA_OK) return -1;
  wire_buf_reset(b);
  int rc = lua_dump(L, collect, b, 0);
  lua_pop(L, 1);
  if (rc || b->oom) {
    lua_pushstring(L, "restore: cannot dump a template function");
    return -1;
  }
  return 0;
}

static size_t header_len_of(const uint8_t *p, size_t n)
{
  if (n < 15 || memcmp(p, LUA_SIGNATURE, 4) != 0) return 0;
  size_t len = 15 + (size_t)p[13] + (size_t)p[14];
  return len < n && len <= sizeof(((alua_code *)0)->header) ? len : 0;
}

static uint32_t instr_at(const uint8_t *code, uint64_t i)
{
  uint32_t w;
  memcpy(&w, code + 4 * i, 4);
  return w;
}

/* Parse a whole dump made by this Lua; 0 if it is exactly one function. */
static int parse_dump(const alua_code *c, const uint8_t *p, size_t n,
                      fninfo *top)
{
  rd r = {p + c->header_len + 1, p + n, 0};
  memset(top, 0, sizeof *top);
  rd_function(&r, 0, top);
  return r.bad || r.p != r.end ? -1 : 0;
}

void alua_code_init(alua_code *c, lua_State *L)
{
  wire_buf b;
  fninfo top;
  memset(c, 0, sizeof *c);
  wire_buf_init(&b);
  if (dump_template(L, "local a return function() return a end", &b)) {
    wire_buf_free(&b);
    lua_error(L);
  }
  size_t hl = header_len_of((const uint8_t *)b.data, b.len);
  if (hl == 0 || b.data[12] != 4) {
    wire_buf_free(&b);
    luaL_error(L, "restore: this Lua's dump header is not Lua 5.4's");
  }
  memcpy(c->header, b.data, hl);
  c->header_len = hl;
  int ok = parse_dump(c, (const uint8_t *)b.data, b.len, &top) == 0 &&
           top.ncode >= 4 && top.nupv == 1 &&
           instr_at(top.code, 2) == INSTR_ABX(OP_CLOSURE, 1, 0) &&
           instr_at(top.code, 3) == INSTR_ABCK(OP_RETURN, 1, 2, 1, 1);
  if (ok) {
    /* Every constant tag the factory's parse relies on, in one chunk. */
    if (dump_template(L,
          "local i, f, s = 1234567890123, 0.25, 'short'\n"
          "local l = 'a long string constant of more than forty bytes'\n"
          "return function(x) return x == true, x == false, i, f, s, l end",
          &b)) {
      wire_buf_free(&b);
      lua_error(L);
    }
    ok = header_len_of((const uint8_t *)b.data, b.len) == hl &&
         parse_dump(c, (const uint8_t *)b.data, b.len, &top) == 0;
  }
  wire_buf_free(&b);
  c->can_share = ok;
  c->op_closure = INSTR_ABX(OP_CLOSURE, 0, 0);
  c->op_return = INSTR_ABCK(OP_RETURN, 0, 2, 0, 1);
}

int alua_code_inspect(const alua_code *c, const void *p, size_t n,
                      alua_proto *info, char *err, size_t errlen)
{
  const uint8_t *b = p;
  fninfo top;
  memset(info, 0, sizeof *info);
  if (n <= c->header_len || memcmp(b, c->header, c->header_len) != 0) {
    snprintf(err, errlen, "its bytecode was not dumped by this Lua build "
             "(header differs): restore into the same Lua version as the "
             "snapshot");
    return -1;
  }
  info->nup = b[c->header_len];
  if (!c->can_share) {
    memset(info->fresh, 0xff, sizeof info->fresh);
    return 0;
  }
  if (parse_dump(c, b, n, &top) != 0 || top.nupv != info->nup) {
    snprintf(err, errlen, "its bytecode is malformed or truncated");
    return -1;
  }
  /* A new closure's upvalue is a cell of its own when it captures a
  ** register of the factory's frame no other upvalue captures; upvalues
  ** taken from the factory's own upvalues are shared by every closure it
  ** makes. */
  unsigned count[256] = {0};
  for (uint64_t i = 0; i < top.nupv; i++) {
    /* Lua never numbers a register or an upvalue 255; a factory could not
    ** provide one. */
    if (top.upv[3 * i + 1] == 255) {
      snprintf(err, errlen, "its bytecode refers to upvalue source 255");
      return -1;
    }
    if (top.upv[3 * i]) count[top.upv[3 * i + 1]]++;
  }
  for (uint64_t i = 0; i < top.nupv; i++)
    if (top.upv[3 * i] && count[top.upv[3 * i + 1]] == 1)
      info->fresh[i / 8] |= (uint8_t)(1u << (i % 8));
  return 0;
}

/* A writer into memory sized beforehand (see factory_bound). */
typedef struct wr {
  uint8_t *p;
  size_t len;
} wr;

static void put(wr *w, const void *p, size_t n)
{
  memcpy(w->p + w->len, p, n);
  w->len += n;
}

static void put_size(wr *w, uint64_t x)
{
  uint8_t t[10];
  int n = 0;
  do {
    t[9 - n++] = (uint8_t)(x & 0x7f);
    x >>= 7;
  } while (x);
  t[9] |= 0x80;
  put(w, t + 10 - n, (size_t)n);
}

static void put_instr(wr *w, uint32_t i)
{
  put(w, &i, 4);
}

static const char factory_src[] = "=(amber restore)";

/* Bytes the factory of an n-byte payload can take: header, its fixed
** fields, up to 255 upvalue descriptors, the child, sizes of at most 10
** bytes each. */
static size_t factory_bound(const alua_code *c, size_t n)
{
  return c->header_len + 1 + 10 + sizeof factory_src + 2 * 10 + 3 + 10 + 8 +
         10 + 10 + 3 * 255 + 10 + (n - c->header_len - 1) + 4 * 10;
}

/* The fallback factory: a fresh lua_load of the payload at each call. */
static int load_each(lua_State *L)
{
  size_t n;
  const char *p = lua_tolstring(L, lua_upvalueindex(1), &n);
  if (luaL_loadbufferx(L, p, n, factory_src, "b") != LUA_OK)
    lua_error(L);
  return 1;
}

/* Write the factory: a parent function with enough registers and upvalues
** for every descriptor of the child, which is the payload's function. */
static void build_factory(wr *w, const alua_code *c, const uint8_t *p,
                          size_t n)
{
  fninfo top;
  int ok = parse_dump(c, p, n, &top) == 0;
  assert(ok);
  (void)ok;
  int regs = 1, ups = 0;
  for (uint64_t i = 0; i < top.nupv; i++) {
    int idx = top.upv[3 * i + 1];
    if (top.upv[3 * i]) { if (idx + 1 > regs) regs = idx + 1; }
    else if (idx + 1 > ups) ups = idx + 1;
  }
  assert(regs <= 255 && ups <= 255);  /* alua_code_inspect refused 255 */
  put(w, c->header, c->header_len);
  uint8_t u = (uint8_t)ups;
  put(w, &u, 1);
  put_size(w, sizeof factory_src);          /* source: length + 1 */
  put(w, factory_src, sizeof factory_src - 1);
  put_size(w, 0); put_size(w, 0);           /* line defined, last line */
  uint8_t fixed[3] = {0, 0, (uint8_t)regs};
  put(w, fixed, 3);                         /* no params, not vararg */
  put_size(w, 2);
  put_instr(w, c->op_closure);
  put_instr(w, c->op_return);
  put_size(w, 0);                           /* constants */
  put_size(w, (uint64_t)ups);
  for (int i = 0; i < ups; i++) {
    uint8_t d[3] = {0, (uint8_t)i, 0};
    put(w, d, 3);
  }
  put_size(w, 1);                           /* the one child */
  put(w, p + c->header_len + 1, n - c->header_len - 1);
  for (int i = 0; i < 4; i++) put_size(w, 0); /* no debug info */
}

void alua_code_push_factory(lua_State *L, const alua_code *c, const void *p,
                            size_t n)
{
  assert(n > c->header_len);
  if (!c->can_share) {
    lua_pushlstring(L, p, n);
    lua_pushcclosure(L, load_each, 1);
    return;
  }
  /* The factory's bytes live in a Lua userdata, so an error raised while
  ** loading them cannot leak memory. */
  size_t cap = factory_bound(c, n);
  wr w = {lua_newuserdatauv(L, cap, 0), 0};
  build_factory(&w, c, p, n);
  assert(w.len <= cap);
  int rc = luaL_loadbufferx(L, (const char *)w.p, w.len, factory_src, "b");
  lua_remove(L, -2);
  if (rc != LUA_OK) lua_error(L);
}
