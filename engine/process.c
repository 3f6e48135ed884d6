#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>


int sbx_process_start_time(pid_t pid, unsigned long long *start_time)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    if (got <= 0)
        return -ESRCH;
    text[got] = '\0';
    /* The command name may hold spaces and parentheses: the fields that
     * follow start after the last ')', with field 3, the state. */
    char *p = strrchr(text, ')');
    if (!p || p[1] != ' ')
        return -EIO;
    p++;
    if (p[1] == 'Z' || p[1] == 'X')
        return -ESRCH;
    for (int field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p, " %llu", start_time) != 1)
        return -EIO;
    return 0;
}

int sbx_process_open(pid_t pid, unsigned long long start_time)
{
    int pidfd = pidfd_open(pid, 0);
    if (pidfd < 0)
        return errno == ESRCH ? -ESRCH : -errno;
    unsigned long long actual;
    if (sbx_process_start_time(pid, &actual) < 0 || actual != start_time) {
        close(pidfd);
        return -ESRCH;
    }
    return pidfd;
}

static const struct {
    const char *name;
    int number;
} signal_names[] = {
    {"term", SIGTERM}, {"kill", SIGKILL}, {"int", SIGINT},   {"hup", SIGHUP},
    {"quit", SIGQUIT}, {"usr1", SIGUSR1}, {"usr2", SIGUSR2}, {"cont", SIGCONT},
    {"stop", SIGSTOP}, {"winch", SIGWINCH},
};

int sbx_signal_number(const char *name)
{
    for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
        if (strcmp(name, signal_names[i].name) == 0)
            return signal_names[i].number;
    return -1;
}

/* In the watcher: only the two pidfds, as 3 and 4, the held descriptor as
 * 5, and /dev/null for stdio. */
static void __attribute__((noreturn)) watch(int watched, int victim, int held)
{
    setsid();
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    /* Move them out of the way first: any may already be 3, 4 or 5. */
    int w = fcntl(watched, F_DUPFD_CLOEXEC, 10), v = fcntl(victim, F_DUPFD_CLOEXEC, 10);
    int h = held >= 0 ? fcntl(held, F_DUPFD_CLOEXEC, 10) : -1;
    if (w < 0 || v < 0 || (held >= 0 && h < 0) || dup2(w, 3) < 0 || dup2(v, 4) < 0 ||
        (h >= 0 && dup2(h, 5) < 0))
        _exit(1);
    close_range(h >= 0 ? 6 : 5, ~0U, 0);
    struct pollfd ended = {.fd = 3, .events = POLLIN};
    while (poll(&ended, 1, -1) < 0 && errno == EINTR)
        ;
    pidfd_send_signal(4, SIGTERM, NULL, 0);
    _exit(0);
}

int sbx_process_end_with(int watched, int victim, int held)
{
    /* Twice forked, so the watcher is nobody's child here and we reap the
     * middle one at once. _Fork: no atfork handlers, no locks taken. */
    pid_t middle = _Fork();
    if (middle < 0)
        return -errno;
    if (middle == 0) {
        pid_t watcher = _Fork();
        if (watcher == 0)
            watch(watched, victim, held);
        _exit(watcher < 0 ? 1 : 0);
    }
    int status;
    while (waitpid(middle, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}
