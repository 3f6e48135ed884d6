/* The Lua host: one lua_State bound to one libuv loop. */
#ifndef SBX_HOST_H
#define SBX_HOST_H

#include <lua.h>
#include <uv.h>

struct sbx_c_module {
    const char *name; /* e.g. "sbx.log" */
    lua_CFunction open;
};

/* Generated at build time from every luaopen_sbx_<family> in engine/. */
extern const struct sbx_c_module sbx_c_modules[];

/* Makes a state whose luv uses LOOP, whose callbacks log errors with a
 * traceback instead of exiting, and whose require() finds the C families,
 * the bundled libraries and the embedded Lua sources (or those under
 * LUA_DIR, when not NULL). NULL on allocation failure. */
lua_State *sbx_host_new(uv_loop_t *loop, const char *lua_dir);

/* Calls the function under NARGS arguments with a traceback handler; on
 * error logs the traceback and leaves nothing on the stack. Returns the
 * lua_pcall status. */
int sbx_host_pcall(lua_State *L, int nargs, int nresults);

#endif
