/*
** amber_module.c
** `require "amber"` for a stock Lua 5.4 interpreter: the module's entry
** point. The functions live in lmodule.c, shared with amber-lua.
*/
#include <lua.h>

#include "alua.h"

LUAMOD_API int luaopen_amber(lua_State *L);

int luaopen_amber(lua_State *L) { return alua_open(L); }
