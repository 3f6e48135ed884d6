#include "host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua-lpeg.h>
#include <lualib.h>
#include <luv/luv.h>

#include "embedded.h"
#include "log.h"

#ifndef SBX_VERSION
#define SBX_VERSION "unknown"
#endif

/* lua-cjson ships no header; its library exports this opener. */
int luaopen_cjson(lua_State *L);

/* The directory given by SBX_LUA_DIR / --lua-dir, or NULL for embedded. */
static const char *source_dir;

/* Only our own top-level names are looked up in the tree or the binary; the
 * first component decides where the file lives. */
static const char *source_root_for(const char *module)
{
    static const char *const roots[][2] = {
        {"sbx", "lua/"},
        {"backends", ""},
        {"spec", ""},
        {"web", ""},
    };
    size_t first_len = strcspn(module, ".");
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
        if (strlen(roots[i][0]) == first_len && strncmp(module, roots[i][0], first_len) == 0)
            return roots[i][1];
    return NULL;
}

static int is_plain_module_name(const char *module)
{
    if (!*module || *module == '.')
        return 0;
    for (const char *p = module; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9') || *p == '_' || (*p == '.' && p[1] != '.' && p[1]);
        if (!ok)
            return 0;
    }
    return 1;
}

/* A repository-relative path must stay inside the tree. */
static int is_safe_relative_path(const char *path)
{
    if (!*path || *path == '/')
        return 0;
    for (const char *p = path; *p; p++)
        if (p[0] == '.' && p[1] == '.' && (p == path || p[-1] == '/') &&
            (p[2] == '/' || p[2] == '\0'))
            return 0;
    return 1;
}

static char *read_whole_file(const char *path, size_t *size_out, int *err)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        *err = errno;
        return NULL;
    }
    char *data = NULL;
    size_t size = 0, capacity = 0;
    for (;;) {
        if (capacity - size < 4096) {
            capacity = capacity ? capacity * 2 : 16384;
            char *bigger = realloc(data, capacity + 1);
            if (!bigger) {
                free(data);
                fclose(file);
                *err = ENOMEM;
                return NULL;
            }
            data = bigger;
        }
        size_t got = fread(data + size, 1, capacity - size, file);
        size += got;
        if (got == 0)
            break;
    }
    int failed = ferror(file);
    fclose(file);
    if (failed) {
        free(data);
        *err = EIO;
        return NULL;
    }
    data[size] = '\0';
    *size_out = size;
    return data;
}

/* Pushes the contents of a repository-relative PATH, from the tree or the
 * binary. Returns 1 when found, 0 (pushing nothing) when not. */
static int push_source(lua_State *L, const char *path)
{
    if (source_dir) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", source_dir, path);
        size_t size;
        int err = 0;
        char *data = read_whole_file(full, &size, &err);
        if (!data)
            return 0;
        lua_pushlstring(L, data, size);
        free(data);
        return 1;
    }
    const struct sbx_embedded_file *file = sbx_embedded_find(path);
    if (!file)
        return 0;
    lua_pushlstring(L, file->data, file->size);
    return 1;
}

static void push_chunk_name(lua_State *L, const char *path)
{
    if (source_dir)
        lua_pushfstring(L, "@%s/%s", source_dir, path);
    else
        lua_pushfstring(L, "@%s", path);
}

/* package.searchers entry for sbx's own Lua modules. */
static int search_sbx_sources(lua_State *L)
{
    const char *module = luaL_checkstring(L, 1);
    const char *root = source_root_for(module);
    if (!root || !is_plain_module_name(module)) {
        lua_pushfstring(L, "\n\tnot an sbx module '%s'", module);
        return 1;
    }
    char relative[1024];
    snprintf(relative, sizeof relative, "%s", module);
    for (char *p = relative; *p; p++)
        if (*p == '.')
            *p = '/';

    static const char *const patterns[] = {"%s%s.lua", "%s%s/init.lua"};
    for (size_t i = 0; i < 2; i++) {
        char path[1100];
        snprintf(path, sizeof path, patterns[i], root, relative);
        if (!push_source(L, path))
            continue;
        size_t size;
        const char *code = lua_tolstring(L, -1, &size);
        push_chunk_name(L, path);
        if (luaL_loadbufferx(L, code, size, lua_tostring(L, -1), "t") != LUA_OK)
            return luaL_error(L, "error loading module '%s':\n\t%s", module,
                              lua_tostring(L, -1));
        lua_pushstring(L, path); /* second value: where it came from */
        return 2;
    }
    lua_pushfstring(L, "\n\tno sbx source for '%s' in %s", module,
                    source_dir ? source_dir : "the binary");
    return 1;
}

/* Drops every package.path / cpath entry that is not absolute, so a file in
 * the current directory (say, a project being sandboxed) is never loaded. */
static void keep_absolute_search_entries(lua_State *L, const char *field)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, field);
    const char *list = lua_tostring(L, -1);
    luaL_Buffer kept;
    luaL_buffinit(L, &kept);
    int first = 1;
    while (list && *list) {
        size_t len = strcspn(list, ";");
        if (len > 0 && list[0] == '/') {
            if (!first)
                luaL_addchar(&kept, ';');
            luaL_addlstring(&kept, list, len);
            first = 0;
        }
        list += len;
        if (*list == ';')
            list++;
    }
    luaL_pushresult(&kept);
    lua_setfield(L, -3, field);
    lua_pop(L, 2);
}

static int traceback_handler(lua_State *L)
{
    const char *message = lua_tostring(L, 1);
    if (!message)
        message = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, message, 1);
    return 1;
}

int sbx_host_pcall(lua_State *L, int nargs, int nresults)
{
    int handler = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback_handler);
    lua_insert(L, handler);
    int status = lua_pcall(L, nargs, nresults, handler);
    if (status != LUA_OK) {
        sbx_log(SBX_LOG_ERROR, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_remove(L, handler);
    return status;
}

/* luv calls this for every callback. luv's default exits the process on an
 * error; a daemon must log the traceback and keep serving instead. The
 * contract: results on the stack and their count, or nothing and -status. */
static int luv_callback_pcall(lua_State *L, int nargs, int nresults, int flags)
{
    (void)flags;
    int base = lua_gettop(L) - nargs - 1;
    int status = sbx_host_pcall(L, nargs, nresults);
    if (status != LUA_OK)
        return -status;
    return lua_gettop(L) - base;
}

/* ---- require "sbx.host": what the host knows about itself ---- */

static int l_read_source(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (!is_safe_relative_path(path))
        return luaL_argerror(L, 1, "expected a repository-relative path");
    if (push_source(L, path))
        return 1;
    lua_pushnil(L);
    lua_pushfstring(L, "%s: not found in %s", path, source_dir ? source_dir : "the binary");
    return 2;
}

static int l_embedded_paths(lua_State *L)
{
    lua_createtable(L, (int)sbx_embedded_count, 0);
    for (unsigned i = 0; i < sbx_embedded_count; i++) {
        lua_pushstring(L, sbx_embedded_files[i].path);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

int luaopen_sbx_host(lua_State *L);
int luaopen_sbx_host(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"read_source", l_read_source},
        {"embedded_paths", l_embedded_paths},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    lua_pushstring(L, SBX_VERSION);
    lua_setfield(L, -2, "version");
    if (source_dir)
        lua_pushstring(L, source_dir);
    else
        lua_pushboolean(L, 0);
    lua_setfield(L, -2, "lua_dir");
    return 1;
}

static void preload(lua_State *L, const char *name, lua_CFunction open)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

/* Puts our searcher right after the preload searcher, ahead of the file
 * system ones, so the system's Lua path cannot shadow an sbx module. */
static void install_sbx_searcher(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    lua_Integer count = luaL_len(L, -1);
    for (lua_Integer i = count; i >= 2; i--) {
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, search_sbx_sources);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
}

lua_State *sbx_host_new(uv_loop_t *loop, const char *lua_dir)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return NULL;
    source_dir = lua_dir;
    luaL_openlibs(L);
    keep_absolute_search_entries(L, "path");
    keep_absolute_search_entries(L, "cpath");
    install_sbx_searcher(L);

    /* luv must learn the loop before it opens, and the callback handler
     * after, or luv installs its exiting default over ours. */
    luv_set_loop(L, loop);
    luaL_requiref(L, "luv", luaopen_luv, 0);
    lua_pop(L, 1);
    luv_set_callback(L, luv_callback_pcall);

    preload(L, "lpeg", luaopen_lpeg);
    preload(L, "cjson", luaopen_cjson);
    for (const struct sbx_c_module *m = sbx_c_modules; m->name; m++)
        preload(L, m->name, m->open);
    return L;
}
