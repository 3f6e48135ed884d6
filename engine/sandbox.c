/* Making a sandbox from a checked plan, and joining a running one.
 *
 * spawn: clone3 into the new namespaces (the child is PID 1 inside); the
 * parent writes the id maps; the child waits on a socket until start(),
 * so the caller can act on its namespaces first (attach pasta to its
 * network); then it builds the root, opens the pty inside the sandbox's
 * own devpts, reports back (passing the pty master), forks the entry and
 * supervises it.
 *
 * enter: a child joins the namespaces of a running sandbox's init through
 * a pidfd (checked against the process start time, so a reused pid is
 * never joined), chroots into its root, and forks the entry inside the
 * PID namespace, which it then supervises from outside. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <linux/sched.h>
#include <lua.h>

#include "files.h"
#include "harden.h"
#include "init.h"
#include "mounts.h"
#include "plan.h"
#include "process.h"

/* What an adopted init calls itself (/proc/PID/comm) while it waits for
 * the caller's go. */
#define SBX_ADOPT_WAITING_NAME "sbx-init-wait"

/* How long start() waits for the child to report. Building a root is
 * milliseconds; a hung network mount among the sources is not. */
#define SETUP_TIMEOUT_MS 30000

struct report {
    int32_t error; /* 0: running; else an errno-ish failure */
    char message[1024];
};

struct box {
    pid_t pid;
    int pidfd;
    int control; /* our end of the socket to the child, until started */
    int pty;     /* the pty master, once started with terminal "pty" */
    int started, reaped, code, signal;
    int foreign; /* opened by pid, not our child: we can signal it, not reap it */
};

/* ---- the child side ---- */

static void send_report(int control, int error, const char *message, int fd)
{
    struct report report = {.error = error};
    snprintf(report.message, sizeof report.message, "%s", message);
    struct iovec iov = {.iov_base = &report, .iov_len = sizeof report};
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control_data;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        msg.msg_control = control_data.buffer;
        msg.msg_controllen = sizeof control_data.buffer;
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    }
    ssize_t ignored = sendmsg(control, &msg, MSG_NOSIGNAL);
    (void)ignored;
}

static void __attribute__((noreturn)) fail_setup(int control, int error, const char *message)
{
    send_report(control, error ? error : EIO, message, -1);
    _exit(126);
}

/* Waits for start(); an EOF means the caller gave up, so stop here. */
static void wait_for_go(int control)
{
    char go;
    if (read(control, &go, 1) != 1)
        _exit(126);
}

/* A pty from the devpts mounted inside, so its slave has a name there
 * (/dev/pts/0) and programs that ask ttyname() are content. */
static int open_pty_inside(int *master, int *slave, char *err, size_t err_len)
{
    *master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    int unlock = 0;
    if (*master < 0 || ioctl(*master, TIOCSPTLCK, &unlock) < 0 ||
        (*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY)) < 0) {
        int saved = errno;
        snprintf(err, err_len, "terminal: cannot open a pty in the sandbox's /dev: %s",
                 strerrordesc_np(saved));
        return -saved;
    }
    return 0;
}

/* Opens the pty when asked, forks the entry, reports to the caller. In
 * the entry, execs; in the calling process, returns the entry's pid. */
static pid_t start_entry(const struct sbx_plan *plan, int control)
{
    char err[1024];
    int master = -1, slave = -1;
    if (plan->terminal == SBX_TERMINAL_PTY) {
        int rc = open_pty_inside(&master, &slave, err, sizeof err);
        if (rc < 0)
            fail_setup(control, -rc, err);
    }
    sigset_t old_mask;
    sbx_init_block_signals(&old_mask);
    pid_t entry = _Fork();
    if (entry == 0) {
        sbx_init_restore_signals(&old_mask);
        sbx_init_exec_entry(plan, slave);
    }
    if (entry < 0)
        fail_setup(control, errno, "cannot fork the entry process");
    send_report(control, 0, "", master);
    close(control);
    if (master >= 0)
        close(master);
    if (slave >= 0)
        close(slave);
    return entry;
}

/* The supervisor keeps nothing of the host and gets no more power than
 * the processes it watches. */
static void __attribute__((noreturn)) supervise(const struct sbx_plan *plan, pid_t entry)
{
    close_range(0, ~0U, 0);
    if (sbx_harden_process(&plan->seccomp) < 0)
        _exit(126);
    sbx_init_supervise(entry, plan->wait_for_all);
}

static void __attribute__((noreturn)) sandbox_child(const struct sbx_plan *plan, int control)
{
    if (plan->die_with_parent)
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    /* Out of the caller's session: a hangup of the terminal that launched
     * it is not the sandbox's business (sbx forwards what it should). */
    setsid();
    wait_for_go(control);
    char err[1024];
    if (sethostname(plan->hostname, strlen(plan->hostname)) < 0)
        fail_setup(control, errno, "sethostname failed");
    int rc = sbx_mounts_build_root(plan, err, sizeof err);
    if (rc < 0)
        fail_setup(control, -rc, err);
    supervise(plan, start_entry(plan, control));
}

/* A caller whose uid the sandbox's user namespace does not map (root
 * joining a container sandbox, whose ids nspawn shifted) takes the plan's
 * ids there, with the capabilities joining gave it in that namespace; a
 * caller it maps is those ids already. 0, or -1 with ERR. */
static int become_inside_ids(const struct sbx_plan *plan, char *err, size_t err_len)
{
    if (getgid() != plan->gid_inside &&
        setresgid(plan->gid_inside, plan->gid_inside, plan->gid_inside) < 0) {
        snprintf(err, err_len, "taking gid %u in the sandbox: %s", plan->gid_inside,
                 strerrordesc_np(errno));
        return -1;
    }
    if (getuid() != plan->uid_inside &&
        setresuid(plan->uid_inside, plan->uid_inside, plan->uid_inside) < 0) {
        snprintf(err, err_len, "taking uid %u in the sandbox: %s", plan->uid_inside,
                 strerrordesc_np(errno));
        return -1;
    }
    return 0;
}

static void __attribute__((noreturn)) enter_child(const struct sbx_plan *plan, int control,
                                                  int target, int namespaces, int root)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    setsid();
    wait_for_go(control);
    char err[256];
    /* Root's supplementary groups stay outside; an ordinary caller may not
     * drop its own, and takes none in (its sandbox maps no group of them). */
    if (setgroups(0, NULL) < 0 && errno != EPERM)
        fail_setup(control, errno, "dropping the supplementary groups failed");
    if (setns(target, namespaces) < 0) {
        snprintf(err, sizeof err, "joining the sandbox's namespaces: %s", strerrordesc_np(errno));
        fail_setup(control, errno, err);
    }
    if (fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0) {
        snprintf(err, sizeof err, "entering the sandbox's root: %s", strerrordesc_np(errno));
        fail_setup(control, errno, err);
    }
    close(root);
    close(target);
    if (plan->has_id_maps && become_inside_ids(plan, err, sizeof err) < 0)
        fail_setup(control, EPERM, err);
    /* Joining a PID namespace applies to children: the entry is forked
     * inside, and this process supervises it from outside. */
    supervise(plan, start_entry(plan, control));
}

/* ---- the parent side ---- */

static pid_t clone_with_pidfd(int flags, int *pidfd)
{
    struct clone_args args = {
        .flags = (uint64_t)flags | CLONE_PIDFD,
        .pidfd = (uint64_t)(uintptr_t)pidfd,
        .exit_signal = SIGCHLD,
    };
    return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

static int write_proc_file(pid_t pid, const char *name, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    return sbx_write_control_file(path, text);
}

static int write_id_maps(const struct sbx_plan *plan, pid_t pid, char *err, size_t err_len)
{
    char map[64];
    /* Required before an unprivileged gid_map; and nobody inside needs
     * setgroups. */
    int rc = write_proc_file(pid, "setgroups", "deny");
    if (rc == 0) {
        snprintf(map, sizeof map, "%u %u 1\n", plan->uid_inside, plan->uid_outside);
        rc = write_proc_file(pid, "uid_map", map);
        if (rc < 0)
            snprintf(err, err_len, "writing the uid map (%s): %s", map, strerror(-rc));
    } else {
        snprintf(err, err_len, "writing setgroups: %s", strerror(-rc));
    }
    if (rc == 0) {
        snprintf(map, sizeof map, "%u %u 1\n", plan->gid_inside, plan->gid_outside);
        rc = write_proc_file(pid, "gid_map", map);
        if (rc < 0)
            snprintf(err, err_len, "writing the gid map (%s): %s", map, strerror(-rc));
    }
    if (rc == -EPERM)
        snprintf(err + strlen(err), err_len - strlen(err),
                 " (an unprivileged user may map only its own ids)");
    return rc;
}

/* ---- adopting a PID namespace that someone else made (systemd-nspawn) ---- */

/* Waits for SIGUSR1, the caller's go (its network is ready); a stop signal
 * instead ends the sandbox before anything ran in it. The signals are
 * blocked already: an init would ignore them otherwise, which is why the
 * caller sends its go only once it sees SBX_ADOPT_WAITING_NAME. */
static void await_go_signal(void)
{
    static const int awaited[] = {SIGUSR1, SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof awaited / sizeof awaited[0]; i++)
        sigaddset(&set, awaited[i]);
    prctl(PR_SET_NAME, SBX_ADOPT_WAITING_NAME, 0, 0, 0);
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig == SIGUSR1)
            break;
        if (sig > 0)
            _exit(128 + sig);
    }
    prctl(PR_SET_NAME, "sbx-init", 0, 0, 0);
}

/* nspawn makes the console PID 1's controlling terminal; the entry's own
 * session takes it instead. Leaving it sends our process group a SIGHUP,
 * taken here so that it is not passed on to the entry. */
static int release_terminal(int fd)
{
    if (tcgetsid(fd) != getsid(0))
        return 0;
    if (ioctl(fd, TIOCNOTTY) < 0)
        return -errno;
    sigset_t hangup;
    sigemptyset(&hangup);
    sigaddset(&hangup, SIGHUP);
    const struct timespec now = {0, 0};
    while (sigtimedwait(&hangup, NULL, &now) == SIGHUP)
        ;
    return 0;
}

static int adopt(const struct sbx_plan *plan, char *err, size_t err_len)
{
    if (getpid() != 1) {
        snprintf(err, err_len, "only the first process of a PID namespace can become its init");
        return -1;
    }
    sigset_t old_mask;
    sbx_init_block_signals(&old_mask);
    await_go_signal();
    int terminal = plan->terminal == SBX_TERMINAL_PTY && isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
    int rc = terminal >= 0 ? release_terminal(terminal) : 0;
    if (rc < 0) {
        snprintf(err, err_len, "handing on the console: %s", strerrordesc_np(-rc));
        return -1;
    }
    /* The sandbox's own user namespace inside the container's: the plan's
     * uid inside maps to ours, which the container's ID-mapped mounts map
     * back to the caller's on the host. */
    if (unshare(CLONE_NEWUSER) < 0) {
        snprintf(err, err_len, "cannot make the sandbox's user namespace: %s",
                 strerrordesc_np(errno));
        return -1;
    }
    if (write_id_maps(plan, getpid(), err, err_len) < 0)
        return -1;
    pid_t entry = _Fork();
    if (entry == 0) {
        sbx_init_restore_signals(&old_mask);
        sbx_init_exec_entry(plan, terminal);
    }
    if (entry < 0) {
        snprintf(err, err_len, "cannot fork the entry process: %s", strerrordesc_np(errno));
        return -1;
    }
    supervise(plan, entry);
}

static void kill_and_reap(struct box *box)
{
    pidfd_send_signal(box->pidfd, SIGKILL, NULL, 0);
    siginfo_t info;
    waitid(P_PIDFD, (id_t)box->pidfd, &info, WEXITED);
    box->reaped = 1;
}

static void close_box(struct box *box)
{
    if (box->control >= 0)
        close(box->control);
    if (box->pidfd >= 0)
        close(box->pidfd);
    if (box->pty >= 0)
        close(box->pty);
    box->control = box->pidfd = box->pty = -1;
}

static int spawn(const struct sbx_plan *plan, struct box *box, char *err, size_t err_len)
{
    int sockets[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) < 0) {
        snprintf(err, err_len, "socketpair: %s", strerror(errno));
        return -1;
    }
    int pidfd = -1;
    pid_t pid = clone_with_pidfd(plan->namespaces, &pidfd);
    if (pid == 0) {
        close(sockets[0]);
        sandbox_child(plan, sockets[1]);
    }
    int saved = errno;
    close(sockets[1]);
    if (pid < 0) {
        close(sockets[0]);
        snprintf(err, err_len, "cannot create the sandbox's namespaces: %s%s", strerror(saved),
                 saved == EPERM || saved == ENOSPC ? " (see `sbx doctor`)" : "");
        return -1;
    }
    *box = (struct box){.pid = pid, .pidfd = pidfd, .control = sockets[0], .pty = -1};
    if (write_id_maps(plan, pid, err, err_len) < 0) {
        kill_and_reap(box);
        close_box(box);
        return -1;
    }
    return 0;
}

/* The namespaces of PID that differ from ours: joining one we already
 * share would need privilege over it for nothing. */
static int namespaces_to_join(pid_t pid)
{
    static const struct {
        const char *name;
        int flag;
    } kinds[] = {
        {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS}, {"pid", CLONE_NEWPID},
        {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP},
        {"net", CLONE_NEWNET},
    };
    int flags = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char theirs[64], ours[64];
        struct stat a, b;
        snprintf(theirs, sizeof theirs, "/proc/%d/ns/%s", (int)pid, kinds[i].name);
        snprintf(ours, sizeof ours, "/proc/self/ns/%s", kinds[i].name);
        if (stat(theirs, &a) == 0 && stat(ours, &b) == 0 &&
            (a.st_ino != b.st_ino || a.st_dev != b.st_dev))
            flags |= kinds[i].flag;
    }
    return flags;
}

/* Whether PID is PID 1 of a PID namespace below ours ("NSpid: <ours> ... 1")
 * and lives in a user namespace other than ours: what a sandbox's init is,
 * and what a host process named by a forged registration is not. */
static int is_namespace_init(pid_t pid)
{
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    if (got <= 0)
        return 0;
    text[got] = '\0';
    const char *line = strstr(text, "\nNSpid:");
    if (!line)
        return 0;
    line += 7;
    int count = 0;
    long last = 0;
    char *end;
    for (;;) {
        long value = strtol(line, &end, 10);
        if (end == line)
            break;
        last = value;
        count++;
        line = end;
    }
    return count >= 2 && last == 1 && (namespaces_to_join(pid) & CLONE_NEWUSER);
}

/* A running sandbox by its init's pid, checked against its start time
 * after the pidfd is open (so the pidfd holds that very process). */
static int open_running(pid_t pid, unsigned long long expected_start, struct box *box, char *err,
                        size_t err_len)
{
    int pidfd = sbx_process_open(pid, expected_start);
    if (pidfd < 0) {
        snprintf(err, err_len, "sandbox process %d is gone%s", (int)pid,
                 pidfd == -ESRCH ? " (ended, or its pid now names another process)" : "");
        return -1;
    }
    if (!is_namespace_init(pid)) {
        snprintf(err, err_len, "process %d is not a sandbox: it is not the first process of a "
                 "PID namespace of its own, in a user namespace of its own", (int)pid);
        close(pidfd);
        return -1;
    }
    *box = (struct box){.pid = pid, .pidfd = pidfd, .control = -1, .pty = -1, .started = 1,
                        .foreign = 1};
    return 0;
}

static int enter(pid_t target, unsigned long long expected_start, const struct sbx_plan *plan,
                 struct box *box, char *err, size_t err_len)
{
    struct box target_box;
    if (open_running(target, expected_start, &target_box, err, err_len) < 0)
        return -1;
    int target_fd = target_box.pidfd;
    int namespaces = namespaces_to_join(target);
    char root_path[64];
    snprintf(root_path, sizeof root_path, "/proc/%d/root", (int)target);
    int root = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int sockets[2] = {-1, -1};
    if (root < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) < 0) {
        snprintf(err, err_len, "sandbox process %d: %s", (int)target, strerror(errno));
        if (root >= 0)
            close(root);
        close(target_fd);
        return -1;
    }
    int pidfd = -1;
    pid_t pid = clone_with_pidfd(0, &pidfd);
    if (pid == 0) {
        close(sockets[0]);
        enter_child(plan, sockets[1], target_fd, namespaces, root);
    }
    int saved = errno;
    close(sockets[1]);
    close(root);
    close(target_fd);
    if (pid < 0) {
        close(sockets[0]);
        snprintf(err, err_len, "clone: %s", strerror(saved));
        return -1;
    }
    *box = (struct box){.pid = pid, .pidfd = pidfd, .control = sockets[0], .pty = -1};
    return 0;
}

/* Lets the child go on and waits for its report. 0, or -1 with ERR. */
static int start(struct box *box, char *err, size_t err_len)
{
    if (write(box->control, "g", 1) != 1) {
        snprintf(err, err_len, "the sandbox process is gone: %s", strerror(errno));
        return -1;
    }
    box->started = 1;
    struct pollfd ready = {.fd = box->control, .events = POLLIN};
    int polled;
    while ((polled = poll(&ready, 1, SETUP_TIMEOUT_MS)) < 0 && errno == EINTR)
        ;
    if (polled == 0) {
        kill_and_reap(box);
        snprintf(err, err_len, "the sandbox did not finish its setup within %d s",
                 SETUP_TIMEOUT_MS / 1000);
        return -1;
    }
    struct report report;
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control_data;
    struct iovec iov = {.iov_base = &report, .iov_len = sizeof report};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control_data.buffer,
                         .msg_controllen = sizeof control_data.buffer};
    ssize_t got = recvmsg(box->control, &msg, MSG_CMSG_CLOEXEC);
    struct cmsghdr *cmsg = got > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
    if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
        memcpy(&box->pty, CMSG_DATA(cmsg), sizeof box->pty);
    close(box->control);
    box->control = -1;
    if (got != (ssize_t)sizeof report) {
        snprintf(err, err_len, "the sandbox ended during its setup");
        return -1;
    }
    report.message[sizeof report.message - 1] = '\0';
    if (report.error) {
        snprintf(err, err_len, "%s", report.message);
        return -1;
    }
    return 0;
}

/* ---- Lua binding: require "sbx.sandbox" ---- */

#define BOX_METATABLE "sbx.sandbox.box"

static struct box *check_box(lua_State *L)
{
    struct box *box = luaL_checkudata(L, 1, BOX_METATABLE);
    if (box->pidfd < 0 && box->pid <= 0)
        luaL_argerror(L, 1, "the sandbox handle is closed");
    return box;
}

static int push_failure(lua_State *L, const char *message)
{
    lua_pushnil(L);
    lua_pushstring(L, message);
    return 2;
}

/* Reads the plan at ARG; on failure leaves nil, message on the stack. */
static int read_plan(lua_State *L, int arg, enum sbx_plan_scope scope, struct sbx_plan *plan)
{
    char err[512];
    if (sbx_plan_from_lua(L, arg, scope, plan, err, sizeof err) < 0) {
        push_failure(L, err);
        return -1;
    }
    return 0;
}

static int l_check(lua_State *L)
{
    struct sbx_plan plan;
    if (read_plan(L, 1, SBX_PLAN_FULL, &plan) < 0)
        return 2;
    sbx_plan_free(&plan);
    lua_pushboolean(L, 1);
    return 1;
}

static int push_box(lua_State *L, const struct box *value)
{
    struct box *box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = *value;
    luaL_setmetatable(L, BOX_METATABLE);
    return 1;
}

static int l_spawn(lua_State *L)
{
    struct sbx_plan plan;
    if (read_plan(L, 1, SBX_PLAN_FULL, &plan) < 0)
        return 2;
    char err[1024];
    struct box box;
    int rc = spawn(&plan, &box, err, sizeof err);
    sbx_plan_free(&plan); /* the child has its own copy */
    if (rc < 0)
        return push_failure(L, err);
    return push_box(L, &box);
}

static int l_enter(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    lua_Integer start_time = luaL_checkinteger(L, 2);
    luaL_argcheck(L, pid > 0 && start_time >= 0, 1, "expected a pid and its start time");
    struct sbx_plan plan;
    if (read_plan(L, 3, SBX_PLAN_PROCESS, &plan) < 0)
        return 2;
    char err[1024];
    struct box box;
    int rc = enter((pid_t)pid, (unsigned long long)start_time, &plan, &box, err, sizeof err);
    sbx_plan_free(&plan);
    if (rc < 0)
        return push_failure(L, err);
    return push_box(L, &box);
}

/* sandbox.adopt(plan): see docs/plan.md. Returns only on failure. */
static int l_adopt(lua_State *L)
{
    struct sbx_plan plan;
    if (read_plan(L, 1, SBX_PLAN_PROCESS, &plan) < 0)
        return 2;
    char err[1024];
    if (!plan.has_id_maps)
        snprintf(err, sizeof err, "plan.uid_map and plan.gid_map are needed to adopt");
    else
        adopt(&plan, err, sizeof err);
    sbx_plan_free(&plan);
    return push_failure(L, err);
}

static int l_open(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    lua_Integer start_time = luaL_checkinteger(L, 2);
    luaL_argcheck(L, pid > 0 && start_time >= 0, 1, "expected a pid and its start time");
    char err[256];
    struct box box;
    if (open_running((pid_t)pid, (unsigned long long)start_time, &box, err, sizeof err) < 0)
        return push_failure(L, err);
    return push_box(L, &box);
}

static int l_pty_set_size(lua_State *L)
{
    int fd = (int)luaL_checkinteger(L, 1);
    struct winsize size = {.ws_row = (unsigned short)luaL_checkinteger(L, 2),
                           .ws_col = (unsigned short)luaL_checkinteger(L, 3)};
    if (ioctl(fd, TIOCSWINSZ, &size) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_box_start(lua_State *L)
{
    struct box *box = check_box(L);
    if (box->started)
        return luaL_error(L, "the sandbox was already started");
    char err[1024];
    if (start(box, err, sizeof err) < 0)
        return push_failure(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_box_signal(lua_State *L)
{
    struct box *box = check_box(L);
    int sig = -1;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        sig = (int)lua_tointeger(L, 2);
    } else {
        sig = sbx_signal_number(luaL_checkstring(L, 2));
    }
    luaL_argcheck(L, sig > 0 && sig < 65, 2, "expected a signal name such as \"term\"");
    if (box->reaped || pidfd_send_signal(box->pidfd, sig, NULL, 0) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, box->reaped ? "the sandbox has ended" : strerror(errno));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int push_exit(lua_State *L, const struct box *box)
{
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, box->code);
    lua_setfield(L, -2, "code");
    if (box->signal) {
        lua_pushinteger(L, box->signal);
        lua_setfield(L, -2, "signal");
    }
    return 1;
}

static int l_box_reap(lua_State *L)
{
    struct box *box = check_box(L);
    if (box->reaped)
        return push_exit(L, box);
    if (box->foreign) {
        /* Not our child: its pidfd turns readable when it ends, and its
         * status went to its parent. */
        struct pollfd ended = {.fd = box->pidfd, .events = POLLIN};
        if (poll(&ended, 1, 0) <= 0) {
            lua_pushnil(L);
            return 1;
        }
        box->reaped = 1;
        lua_newtable(L);
        return 1;
    }
    siginfo_t info = {0};
    if (waitid(P_PIDFD, (id_t)box->pidfd, &info, WEXITED | WNOHANG) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    if (info.si_pid == 0) {
        lua_pushnil(L);
        return 1;
    }
    box->reaped = 1;
    box->code = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
    box->signal = info.si_code == CLD_EXITED ? 0 : info.si_status;
    return push_exit(L, box);
}

static int l_box_close(lua_State *L)
{
    struct box *box = luaL_checkudata(L, 1, BOX_METATABLE);
    close_box(box);
    box->pid = 0;
    return 0;
}

static int l_box_index(lua_State *L)
{
    struct box *box = luaL_checkudata(L, 1, BOX_METATABLE);
    const char *key = luaL_checkstring(L, 2);
    if (strcmp(key, "pid") == 0)
        lua_pushinteger(L, box->pid);
    else if (strcmp(key, "pidfd") == 0)
        box->pidfd >= 0 ? lua_pushinteger(L, box->pidfd) : lua_pushnil(L);
    else if (strcmp(key, "pty") == 0)
        box->pty >= 0 ? lua_pushinteger(L, box->pty) : lua_pushnil(L);
    else {
        luaL_getmetatable(L, BOX_METATABLE);
        lua_getfield(L, -1, "methods");
        lua_getfield(L, -1, key);
    }
    return 1;
}

int luaopen_sbx_sandbox(lua_State *L);
int luaopen_sbx_sandbox(lua_State *L)
{
    static const luaL_Reg box_methods[] = {
        {"start", l_box_start}, {"signal", l_box_signal}, {"reap", l_box_reap},
        {"close", l_box_close}, {NULL, NULL},
    };
    static const luaL_Reg functions[] = {
        {"check", l_check},           {"spawn", l_spawn},
        {"enter", l_enter},           {"open", l_open},
        {"adopt", l_adopt},
        {"pty_set_size", l_pty_set_size}, {NULL, NULL},
    };
    luaL_newmetatable(L, BOX_METATABLE);
    luaL_newlib(L, box_methods);
    lua_setfield(L, -2, "methods");
    lua_pushcfunction(L, l_box_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_box_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_box_close);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    lua_pushstring(L, SBX_ADOPT_WAITING_NAME);
    lua_setfield(L, -2, "adopt_waiting_name");
    lua_pushstring(L, SBX_INIT_ENTRY_DONE_NAME);
    lua_setfield(L, -2, "entry_done_name");
    return 1;
}
