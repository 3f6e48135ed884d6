/* Lua binding for processes known by identity (engine/process.c): the
 * manager signals the processes it did not start in this run (Xvfb, a
 * sandbox's processes), and sbx run ties pasta's life to its sandbox. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "process.h"

static pid_t check_pid(lua_State *L, int index)
{
    lua_Integer pid = luaL_checkinteger(L, index);
    luaL_argcheck(L, pid > 0 && pid <= 0x7fffffff, index, "a pid");
    return (pid_t)pid;
}

static unsigned long long check_start_time(lua_State *L, int index)
{
    lua_Integer start_time = luaL_checkinteger(L, index);
    luaL_argcheck(L, start_time >= 0, index, "a start time");
    return (unsigned long long)start_time;
}

static int push_failure(lua_State *L, int rc)
{
    lua_pushnil(L);
    lua_pushstring(L, strerror(-rc));
    lua_pushstring(L, rc == -ESRCH ? "gone" : "failed");
    return 3;
}

/* pidfd.signal(pid, start_time, name) -> true | nil, message, "gone"|"failed" */
static int l_signal(lua_State *L)
{
    pid_t pid = check_pid(L, 1);
    unsigned long long start_time = check_start_time(L, 2);
    int sig = sbx_signal_number(luaL_checkstring(L, 3));
    luaL_argcheck(L, sig > 0, 3, "a signal name such as \"term\"");
    int fd = sbx_process_open(pid, start_time);
    if (fd < 0)
        return push_failure(L, fd);
    int rc = pidfd_send_signal(fd, sig, NULL, 0) < 0 ? -errno : 0;
    close(fd);
    if (rc < 0)
        return push_failure(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* pidfd.end_with(watched_pid, watched_start, victim_pid, victim_start
 *                [, held_fd]) -> true | nil, message, "gone"|"failed" */
static int l_end_with(lua_State *L)
{
    pid_t watched_pid = check_pid(L, 1), victim_pid = check_pid(L, 3);
    unsigned long long watched_start = check_start_time(L, 2);
    unsigned long long victim_start = check_start_time(L, 4);
    lua_Integer held = luaL_optinteger(L, 5, -1);
    luaL_argcheck(L, held >= -1 && held <= INT_MAX, 5, "expected a descriptor");
    int watched = sbx_process_open(watched_pid, watched_start);
    int victim = sbx_process_open(victim_pid, victim_start);
    int rc = watched < 0   ? watched
             : victim < 0 ? victim
                          : sbx_process_end_with(watched, victim, (int)held);
    if (watched >= 0)
        close(watched);
    if (victim >= 0)
        close(victim);
    if (rc < 0)
        return push_failure(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* pidfd.start_time(pid) -> integer | nil, message */
static int l_start_time(lua_State *L)
{
    pid_t pid = check_pid(L, 1);
    unsigned long long start_time;
    int rc = sbx_process_start_time(pid, &start_time);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "process %d: %s", (int)pid, strerror(-rc));
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)start_time);
    return 1;
}

int luaopen_sbx_pidfd(lua_State *L);
int luaopen_sbx_pidfd(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"signal", l_signal},
        {"end_with", l_end_with},
        {"start_time", l_start_time},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    return 1;
}
