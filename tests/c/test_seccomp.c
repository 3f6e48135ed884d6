/* The seccomp filter: denied calls and ioctls fail with EPERM in a child
 * that installed it, including the high-bits TIOCSTI variant; the rest
 * still works. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp.h"
#include "tap.h"

/* Runs PROBE in a child under a filter denying ptrace (by name) plus the
 * mandatory set; returns the errno the probe saw (0 on success). */
static int under_filter(int (*probe)(void))
{
    int ptrace_number = sbx_seccomp_syscall_number("ptrace");
    struct sock_fprog prog;
    if (sbx_seccomp_build(&ptrace_number, 1, NULL, 0, &prog) < 0)
        return -1;
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        int result = sbx_seccomp_install(&prog) < 0 ? -2 : probe();
        ssize_t ignored = write(fds[1], &result, sizeof result);
        (void)ignored;
        _exit(0);
    }
    sbx_seccomp_free(&prog);
    close(fds[1]);
    int result = -1;
    if (read(fds[0], &result, sizeof result) != sizeof result)
        result = -1;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return result;
}

static int open_pty_master(void)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master >= 0) {
        grantpt(master);
        unlockpt(master);
    }
    return master;
}

static int try_tiocsti(void)
{
    int master = open_pty_master();
    char c = 'x';
    return ioctl(master, TIOCSTI, &c) < 0 ? errno : 0;
}

static int try_tiocsti_high_bits(void)
{
    int master = open_pty_master();
    char c = 'x';
    /* The tty layer reads the request as 32 bits: this is TIOCSTI too. */
    unsigned long request = TIOCSTI | (1UL << 32);
    return syscall(SYS_ioctl, master, request, &c) < 0 ? errno : 0;
}

static int try_tioclinux(void)
{
    char subcode = 0;
    return ioctl(0, TIOCLINUX, &subcode) < 0 ? errno : 0;
}

static int try_keyctl(void) { return syscall(SYS_keyctl, 0, 0, 0, 0, 0) < 0 ? errno : 0; }
static int try_add_key(void) { return syscall(SYS_add_key, "user", "x", "y", 1, 0) < 0 ? errno : 0; }
static int try_ptrace(void) { return syscall(SYS_ptrace, 0, 0, 0, 0) < 0 ? errno : 0; }

static int try_allowed(void)
{
    int master = open_pty_master();
    struct winsize size;
    if (ioctl(master, TIOCGWINSZ, &size) < 0)
        return errno;
    return getpid() > 0 ? 0 : 1;
}

int main(void)
{
    ok(sbx_seccomp_syscall_number("keyctl") >= 0, "keyctl is a known name");
    ok(sbx_seccomp_syscall_number("no_such_call") == -1, "an unknown name is refused");
    unsigned long request;
    ok(sbx_seccomp_ioctl_request("TIOCSTI", &request) == 0 && request == TIOCSTI,
       "TIOCSTI is a known ioctl");
    ok(sbx_seccomp_ioctl_request("TIOCNOPE", &request) == -1, "an unknown ioctl is refused");

    int too_many[250];
    for (int i = 0; i < 250; i++)
        too_many[i] = 1000 + i;
    struct sock_fprog prog;
    ok(sbx_seccomp_build(too_many, 250, NULL, 0, &prog) == -E2BIG,
       "a list too long for 8-bit jumps is refused, not miscompiled");

    ok(under_filter(try_tiocsti) == EPERM, "TIOCSTI fails with EPERM");
    ok(under_filter(try_tiocsti_high_bits) == EPERM, "TIOCSTI with high bits set fails with EPERM");
    ok(under_filter(try_tioclinux) == EPERM, "TIOCLINUX fails with EPERM");
    ok(under_filter(try_keyctl) == EPERM, "keyctl fails with EPERM");
    ok(under_filter(try_add_key) == EPERM, "add_key fails with EPERM");
    ok(under_filter(try_ptrace) == EPERM, "a call the plan names (ptrace) fails with EPERM");
    ok(under_filter(try_allowed) == 0, "other ioctls and calls still work");
    return done_testing();
}
