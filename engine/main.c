/* sbx: the process entry. Everything past choosing where the Lua sources come
 * from is decided by lua/sbx/main.lua. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <uv.h>

#include "host.h"
#include "log.h"

/* Exit code for an internal error (sysexits' EX_SOFTWARE). */
#define EXIT_INTERNAL 70

/* --lua-dir must be seen before any Lua runs, so C takes it off the front of
 * the arguments; SBX_LUA_DIR is the same thing from the environment. */
static const char *take_lua_dir(int *argc, char ***argv)
{
    const char *dir = getenv("SBX_LUA_DIR");
    if (dir && !*dir)
        dir = NULL;
    char **args = *argv;
    if (*argc >= 3 && strcmp(args[1], "--lua-dir") == 0) {
        dir = args[2];
        args[2] = args[0];
        *argc -= 2;
        *argv = args + 2;
    } else if (*argc >= 2 && strncmp(args[1], "--lua-dir=", 10) == 0) {
        dir = args[1] + 10;
        args[1] = args[0];
        *argc -= 1;
        *argv = args + 1;
    }
    return dir;
}

int main(int argc, char **argv)
{
    sbx_log_init_from_env();
    /* A peer that went away (a closed pipe or socket) is an error for the
     * code that writes to it, not a signal that kills sbx. Programs sbx
     * starts get the default back: libuv's spawn resets it, and the
     * engine's init does for a sandbox's entry (engine/init.c). */
    signal(SIGPIPE, SIG_IGN);
    const char *lua_dir = take_lua_dir(&argc, &argv);

    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc < 0) {
        fprintf(stderr, "sbx: cannot create the event loop: %s\n", uv_strerror(rc));
        return EXIT_INTERNAL;
    }
    lua_State *L = sbx_host_new(&loop, lua_dir);
    if (!L) {
        fprintf(stderr, "sbx: out of memory\n");
        return EXIT_INTERNAL;
    }

    int exit_code = EXIT_INTERNAL;
    lua_getglobal(L, "require");
    lua_pushstring(L, "sbx.main");
    if (sbx_host_pcall(L, 1, 1) == LUA_OK) {
        lua_getfield(L, -1, "main");
        lua_pushstring(L, argv[0]);
        lua_createtable(L, argc, 0);
        for (int i = 1; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i);
        }
        if (sbx_host_pcall(L, 2, 1) == LUA_OK) {
            int is_number = 0;
            lua_Integer code = lua_tointegerx(L, -1, &is_number);
            exit_code = is_number ? (int)code : 0;
        }
    }
    /* lua/sbx/main.lua closed every handle and drained the loop while Lua
     * was still alive: luv's close callbacks need the state. */
    lua_close(L);
    uv_loop_close(&loop);
    fflush(stdout);
    return exit_code;
}
