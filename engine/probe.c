/* Probes for `sbx doctor`: can this host do what a sandbox needs? Each probe
 * runs in a forked child, so whatever it changes dies with the child. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "files.h"

/* Where an unprivileged user namespace attempt stopped. */
enum userns_stage {
    USERNS_OK = 0,
    USERNS_DROP_PRIVILEGES,
    USERNS_UNSHARE,
    USERNS_ID_MAP,
    USERNS_MOUNT,
    USERNS_STAGE_COUNT,
};

static const char *const userns_stage_names[] = {
    "ok", "drop privileges", "unshare", "uid/gid map", "mount",
};

/* The user nobody: probing as root would prove nothing about users. */
#define PROBE_UNPRIVILEGED_ID 65534

/* In the child: the steps of making an unprivileged sandbox, in order.
 * Exits with the stage that failed and reports errno through PIPE_FD. */
static void __attribute__((noreturn)) userns_probe_child(int pipe_fd)
{
    enum userns_stage stage = USERNS_DROP_PRIVILEGES;
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (geteuid() == 0) {
        uid = gid = PROBE_UNPRIVILEGED_ID;
        if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
            goto failed;
        /* setuid cleared the dumpable flag, which would make our own
         * /proc/self/uid_map unwritable. */
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    }
    stage = USERNS_UNSHARE;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
        goto failed;
    stage = USERNS_ID_MAP;
    char map[64];
    int rc = sbx_write_control_file("/proc/self/setgroups", "deny");
    if (rc == 0) {
        snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
        rc = sbx_write_control_file("/proc/self/uid_map", map);
    }
    if (rc == 0) {
        snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
        rc = sbx_write_control_file("/proc/self/gid_map", map);
    }
    if (rc < 0) {
        errno = -rc;
        goto failed;
    }
    /* Ubuntu's AppArmor restriction lets unshare succeed but leaves the
     * namespace without capabilities: only a real mount tells. */
    stage = USERNS_MOUNT;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("sbx-probe", "/tmp", "tmpfs", 0, "size=64k") < 0)
        goto failed;
    _exit(USERNS_OK);
failed:;
    int err = errno;
    ssize_t ignored = write(pipe_fd, &err, sizeof err);
    (void)ignored;
    _exit(stage);
}

/* 0 with *stage and *err filled in, or -errno if the probe could not run. */
static int probe_userns(enum userns_stage *stage, int *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        return -saved;
    }
    if (pid == 0) {
        close(fds[0]);
        userns_probe_child(fds[1]);
    }
    close(fds[1]);
    *err = 0;
    ssize_t got = read(fds[0], err, sizeof *err);
    close(fds[0]);
    if (got != (ssize_t)sizeof *err)
        *err = 0;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (!WIFEXITED(status) || WEXITSTATUS(status) >= USERNS_STAGE_COUNT)
        return -ECHILD;
    *stage = (enum userns_stage)WEXITSTATUS(status);
    return 0;
}

/* ---- Lua binding: require "sbx.probe" ---- */

/* probe.userns() -> true | false, stage, message */
static int l_userns(lua_State *L)
{
    enum userns_stage stage = USERNS_OK;
    int err = 0;
    int rc = probe_userns(&stage, &err);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "the probe could not run: %s", strerror(-rc));
        return 2;
    }
    if (stage == USERNS_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushstring(L, userns_stage_names[stage]);
    lua_pushstring(L, err ? strerror(err) : "failed");
    return 3;
}

int luaopen_sbx_probe(lua_State *L);
int luaopen_sbx_probe(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"userns", l_userns},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    lua_pushinteger(L, PROBE_UNPRIVILEGED_ID);
    lua_setfield(L, -2, "unprivileged_id");
    return 1;
}
