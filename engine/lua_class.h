/* The metatable of a userdata class, as every engine family makes it:
 * methods in __index, one idempotent close as __gc and __close. */
#ifndef SBX_LUA_CLASS_H
#define SBX_LUA_CLASS_H

#include <lauxlib.h>
#include <lua.h>

/* Registers the metatable NAME; TOSTRING may be NULL. The stack is left
 * as it was. */
static inline void sbx_lua_class(lua_State *L, const char *name, const luaL_Reg *methods,
                                 lua_CFunction close, lua_CFunction tostring)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__close");
    if (tostring) {
        lua_pushcfunction(L, tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}

#endif
