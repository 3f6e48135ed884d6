/* Signalling a process by its identity, not its number: a pid plus its start
 * time (field 22 of /proc/PID/stat), checked through a pidfd so that a pid
 * reused by another process is never signalled. The manager uses it for
 * processes it did not start in this run (Xvfb, the sandbox's processes). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* The start time of PID in clock ticks since boot, or -errno. */
static long long read_start_time(int pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t len = read(fd, text, sizeof text - 1);
    int err = errno;
    close(fd);
    if (len <= 0)
        return len < 0 ? -err : -EIO;
    text[len] = '\0';
    /* The command name may hold spaces and ')': fields start after the
     * last ')'. Field 3 (state) follows it; start time is field 22. */
    char *p = strrchr(text, ')');
    if (!p)
        return -EIO;
    p++;
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return -EIO;
    }
    return strtoll(p + 1, NULL, 10);
}

/* Sends SIG to the process PID that started at START_TIME. 0, -ESRCH when
 * it is gone (or the pid now names another process), or -errno. */
static int signal_identified(int pid, long long start_time, int sig)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -errno;
    /* The pidfd pins the process we opened; if that is not the one that
     * started at START_TIME, the pid was reused before we opened it. */
    long long actual = read_start_time(pid);
    int rc = 0;
    if (actual != start_time)
        rc = -ESRCH;
    else if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* ---- Lua binding: require "sbx.pidfd" ---- */

static const struct {
    const char *name;
    int number;
} signal_names[] = {
    {"term", SIGTERM}, {"kill", SIGKILL}, {"hup", SIGHUP}, {"int", SIGINT}, {"cont", SIGCONT},
};

static int check_signal(lua_State *L, int index)
{
    const char *name = luaL_checkstring(L, index);
    for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
        if (strcmp(signal_names[i].name, name) == 0)
            return signal_names[i].number;
    return luaL_argerror(L, index, "one of term, kill, hup, int, cont");
}

/* pidfd.signal(pid, start_time, name) -> true | nil, message, "gone" */
static int l_signal(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    luaL_argcheck(L, pid > 0 && pid <= 0x7fffffff, 1, "a pid");
    lua_Integer start_time = luaL_checkinteger(L, 2);
    int sig = check_signal(L, 3);
    int rc = signal_identified((int)pid, start_time, sig);
    if (rc == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, strerror(-rc));
    lua_pushstring(L, rc == -ESRCH || rc == -ENOENT ? "gone" : "failed");
    return 3;
}

int luaopen_sbx_pidfd(lua_State *L);
int luaopen_sbx_pidfd(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"signal", l_signal},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    return 1;
}
