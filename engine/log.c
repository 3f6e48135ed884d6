#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

static enum sbx_log_level current_level = SBX_LOG_WARN;
static int log_fd = STDERR_FILENO;

int sbx_log_level_from_name(const char *name)
{
    for (int i = 0; i <= SBX_LOG_OFF; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void sbx_log_set_level(enum sbx_log_level level) { current_level = level; }

int sbx_log_set_file(const char *path)
{
    if (!path) {
        if (log_fd != STDERR_FILENO)
            close(log_fd);
        log_fd = STDERR_FILENO;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    return 0;
}

void sbx_log_init_from_env(void)
{
    const char *level = getenv("SBX_LOG_LEVEL");
    if (level && *level) {
        int parsed = sbx_log_level_from_name(level);
        if (parsed >= 0)
            current_level = (enum sbx_log_level)parsed;
        else
            sbx_log(SBX_LOG_WARN, "SBX_LOG_LEVEL=%s is not one of debug, info, warn, error, off",
                    level);
    }
    const char *file = getenv("SBX_LOG_FILE");
    if (file && *file) {
        int rc = sbx_log_set_file(file);
        if (rc < 0)
            sbx_log(SBX_LOG_WARN, "cannot open SBX_LOG_FILE %s: %s", file, strerror(-rc));
    }
}

void sbx_log(enum sbx_log_level level, const char *fmt, ...)
{
    if (level < current_level || level >= SBX_LOG_OFF)
        return;
    char line[8192];
    size_t used = 0;
    /* A file is read later, so it gets a timestamp; a terminal does not. */
    if (log_fd != STDERR_FILENO) {
        struct timespec now;
        struct tm utc;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &utc);
        used += strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &utc);
        used += (size_t)snprintf(line + used, sizeof line - used, ".%03ldZ ",
                                 now.tv_nsec / 1000000);
    }
    used += (size_t)snprintf(line + used, sizeof line - used, "sbx[%d] %s: ", (int)getpid(),
                             level_names[level]);
    va_list args;
    va_start(args, fmt);
    int wrote = vsnprintf(line + used, sizeof line - used, fmt, args);
    va_end(args);
    if (wrote > 0)
        used += (size_t)wrote;
    if (used > sizeof line - 2)
        used = sizeof line - 2; /* truncated: keep the newline */
    line[used++] = '\n';
    /* One write per line, so lines from concurrent processes do not interleave. */
    ssize_t ignored = write(log_fd, line, used);
    (void)ignored;
}

/* ---- Lua binding: require "sbx.log" ---- */

/* log.<level>(fmt, ...) formats with string.format when given arguments. */
static int log_at_level(lua_State *L, enum sbx_log_level level)
{
    if (level < current_level)
        return 0;
    if (lua_gettop(L) > 1) {
        lua_getglobal(L, "string");
        lua_getfield(L, -1, "format");
        lua_insert(L, 1);
        lua_pop(L, 1);
        lua_call(L, lua_gettop(L) - 1, 1);
    }
    sbx_log(level, "%s", luaL_tolstring(L, 1, NULL));
    return 0;
}

static int l_debug(lua_State *L) { return log_at_level(L, SBX_LOG_DEBUG); }
static int l_info(lua_State *L) { return log_at_level(L, SBX_LOG_INFO); }
static int l_warn(lua_State *L) { return log_at_level(L, SBX_LOG_WARN); }
static int l_error(lua_State *L) { return log_at_level(L, SBX_LOG_ERROR); }

static int l_set_file(lua_State *L)
{
    const char *path = luaL_optstring(L, 1, NULL);
    int rc = sbx_log_set_file(path);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(-rc));
        lua_pushinteger(L, -rc);
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_sbx_log(lua_State *L);
int luaopen_sbx_log(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"debug", l_debug}, {"info", l_info},         {"warn", l_warn},
        {"error", l_error}, {"set_file", l_set_file}, {NULL, NULL},
    };
    luaL_newlib(L, functions);
    return 1;
}
