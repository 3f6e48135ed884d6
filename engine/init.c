#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harden.h"

static const int forwarded_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static void fill_waited_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaddset(set, forwarded_signals[i]);
}

void sbx_init_block_signals(void *old_mask)
{
    sigset_t set;
    fill_waited_set(&set);
    sigprocmask(SIG_BLOCK, &set, old_mask);
}

void sbx_init_restore_signals(const void *old_mask)
{
    /* The entry starts as a fresh program would, with every standard
     * signal at its default: not ignored as sbx ignores SIGPIPE
     * (engine/main.c) or as its caller may ignore others (nohup's SIGHUP),
     * which would survive the exec. */
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, old_mask, NULL);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[PATH_MAX + 256] = "sbx: ";
    va_list args;
    va_start(args, fmt);
    int len = vsnprintf(line + 5, sizeof line - 6, fmt, args);
    va_end(args);
    if (len < 0)
        return;
    size_t used = 5 + ((size_t)len < sizeof line - 6 ? (size_t)len : sizeof line - 7);
    line[used++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, used);
    (void)ignored;
}

static const char *plan_path(const struct sbx_plan *plan)
{
    for (char **entry = plan->env; *entry; entry++)
        if (strncmp(*entry, "PATH=", 5) == 0)
            return *entry + 5;
    return "/usr/local/bin:/usr/bin:/bin";
}

/* execve with PATH search in the plan's environment, not ours. */
static int exec_searching(const struct sbx_plan *plan)
{
    const char *name = plan->argv[0];
    if (strchr(name, '/')) {
        execve(name, plan->argv, plan->env);
        return -errno;
    }
    int first_error = ENOENT;
    char candidate[PATH_MAX];
    for (const char *dir = plan_path(plan); *dir;) {
        size_t len = strcspn(dir, ":");
        if (len > 0 && len + strlen(name) + 2 <= sizeof candidate) {
            memcpy(candidate, dir, len);
            candidate[len] = '/';
            strcpy(candidate + len + 1, name);
            execve(candidate, plan->argv, plan->env);
            /* Remember a more telling error than "not found" (EACCES). */
            if (errno != ENOENT && errno != ENOTDIR && first_error == ENOENT)
                first_error = errno;
        }
        dir += len;
        if (*dir == ':')
            dir++;
    }
    return -first_error;
}

void sbx_init_exec_entry(const struct sbx_plan *plan, int pty_slave)
{
    if (setsid() < 0) {
        say("setsid: %s", strerrordesc_np(errno));
        _exit(127);
    }
    if (pty_slave >= 0) {
        if (ioctl(pty_slave, TIOCSCTTY, 0) < 0 || dup2(pty_slave, 0) < 0 ||
            dup2(pty_slave, 1) < 0 || dup2(pty_slave, 2) < 0) {
            say("making the terminal: %s", strerrordesc_np(errno));
            _exit(127);
        }
    }
    /* Nothing of the host's reaches the entry but its stdio. */
    close_range(3, ~0U, 0);
    if (chdir(plan->cwd) < 0) {
        say("cannot enter %s: %s", plan->cwd, strerrordesc_np(errno));
        _exit(127);
    }
    for (size_t i = 0; i < plan->limit_count; i++) {
        struct rlimit limit = {plan->limits[i].value, plan->limits[i].value};
        if (setrlimit(plan->limits[i].resource, &limit) < 0) {
            say("setrlimit: %s", strerrordesc_np(errno));
            _exit(127);
        }
    }
    int rc = sbx_harden_process(&plan->seccomp);
    if (rc < 0) {
        say("hardening the sandbox failed: %s", strerrordesc_np(-rc));
        _exit(127);
    }
    rc = exec_searching(plan);
    say("cannot run %s: %s", plan->argv[0],
        -rc == ENOENT ? "not found on the sandbox's PATH" : strerrordesc_np(-rc));
    _exit(127);
}

static int status_to_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

void sbx_init_supervise(pid_t entry, int wait_for_all)
{
    sigset_t set;
    fill_waited_set(&set);
    int entry_code = -1;
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&set, &info);
        if (sig < 0)
            continue; /* EINTR */
        if (sig != SIGCHLD) {
            /* To the entry's process group while it runs; after that (a
             * sandbox that outlives its entry) to everyone left in it.
             * Until the entry's setsid() its group does not exist yet: a
             * signal in that window goes to the entry itself, or it would
             * be lost (restored to its default, it is not ignored). */
            if (entry_code >= 0)
                kill(-1, sig);
            else if (kill(-entry, sig) < 0 && errno == ESRCH)
                kill(entry, sig);
            continue;
        }
        /* One SIGCHLD may stand for many exits. */
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid == 0)
                break;
            if (pid < 0) {
                if (errno == EINTR)
                    continue;
                /* ECHILD: nothing left at all. */
                _exit(entry_code < 0 ? 1 : entry_code);
            }
            if (pid == entry) {
                entry_code = status_to_code(status);
                /* Said where the caller can see it (the comm of a process
                 * is its own to set): the entry ended, the rest goes on. */
                if (wait_for_all)
                    prctl(PR_SET_NAME, SBX_INIT_ENTRY_DONE_NAME, 0, 0, 0);
            }
        }
        if (entry_code >= 0 && !wait_for_all)
            _exit(entry_code);
    }
}
