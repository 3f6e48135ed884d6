/* A session: one process started as the sandbox's user, on a pty of its
 * own (a terminal on the host) or on three pipes (stdio redirected on the
 * host), in a session and process group of its own.
 *
 * The start frame's payload is NUL-terminated fields:
 *   "pty"|"pipes", "entry"|"all", rows, cols, cwd,
 *   argc, argv[0..argc), envc, env[0..envc) */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#include "agent.h"

#define MAX_FIELDS 4096

struct start {
    bool pty;
    bool lifetime_all;
    unsigned rows, cols;
    const char *cwd;
    char **argv; /* NULL-terminated, pointing into the payload */
    char **env;
};

static int parse_count(const char *text, unsigned long max, unsigned long *value)
{
    char *end;
    errno = 0;
    *value = strtoul(text, &end, 10);
    return *text && !*end && !errno && *value <= max ? 0 : -1;
}

/* Splits PAYLOAD into START (FIELDS holds the pointers). -1 when malformed. */
static int parse_start(char *payload, size_t len, char **fields, struct start *start)
{
    if (len == 0 || payload[len - 1] != '\0')
        return -1;
    size_t n = 0;
    for (size_t at = 0; at < len; at += strlen(payload + at) + 1) {
        if (n == MAX_FIELDS - 2)
            return -1;
        fields[n++] = payload + at;
    }
    unsigned long rows, cols, argc, envc;
    if (n < 7 || parse_count(fields[2], 10000, &rows) < 0 || parse_count(fields[3], 10000, &cols) < 0 ||
        parse_count(fields[5], n, &argc) < 0 || argc == 0 || 6 + argc >= n ||
        parse_count(fields[6 + argc], n, &envc) < 0 || 7 + argc + envc != n)
        return -1;
    if (strcmp(fields[0], "pty") != 0 && strcmp(fields[0], "pipes") != 0)
        return -1;
    start->pty = strcmp(fields[0], "pty") == 0;
    start->lifetime_all = strcmp(fields[1], "all") == 0;
    start->rows = (unsigned)rows;
    start->cols = (unsigned)cols;
    start->cwd = fields[4];
    /* argv and env each end where the next count was: make them lists. */
    start->argv = fields + 6;
    fields[6 + argc] = NULL;
    start->env = fields + 7 + argc;
    fields[n] = NULL;
    return 0;
}

static const char *env_path(char **env)
{
    for (char **e = env; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            return *e + 5;
    return "/usr/local/bin:/usr/bin:/bin";
}

static void exec_searching(char **argv, char **env)
{
    if (strchr(argv[0], '/')) {
        execve(argv[0], argv, env);
        return;
    }
    int first_error = ENOENT;
    char candidate[PATH_MAX];
    for (const char *dir = env_path(env); *dir;) {
        size_t len = strcspn(dir, ":");
        if (len > 0 && len + strlen(argv[0]) + 2 <= sizeof candidate) {
            snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, dir, argv[0]);
            execve(candidate, argv, env);
            if (errno != ENOENT && errno != ENOTDIR && first_error == ENOENT)
                first_error = errno;
        }
        dir += len;
        if (*dir == ':')
            dir++;
    }
    errno = first_error;
}

static void __attribute__((noreturn)) child_fail(const char *what, const char *detail)
{
    dprintf(2, "sbx: %s%s%s\r\n", what, detail ? ": " : "", detail ? detail : "");
    _exit(127);
}

/* In the child: the user, the terminal or pipes, the directory, exec. */
static void __attribute__((noreturn)) run_child(const struct start *start, const struct config *c,
                                                 int in, int out, int err)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    setsid();
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(127);
    if (start->pty && ioctl(0, TIOCSCTTY, 0) < 0)
        child_fail("cannot take the terminal", strerror(errno));
    close_range(3, ~0U, 0);
    if (setgroups(1, &c->gid) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
        setresuid(c->uid, c->uid, c->uid) < 0)
        child_fail("cannot become the sandbox's user", strerror(errno));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail("no_new_privs", strerror(errno));
    if (chdir(start->cwd) < 0)
        child_fail(start->cwd, strerror(errno));
    exec_searching(start->argv, start->env);
    char what[PATH_MAX + 32];
    snprintf(what, sizeof what, "cannot run %s", start->argv[0]);
    child_fail(what, errno == ENOENT ? "not found on the sandbox's PATH" : strerror(errno));
}

static int nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int open_pty(struct session *s, const struct start *start, int *slave)
{
    s->pty = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    int unlock = 0;
    if (s->pty < 0 || ioctl(s->pty, TIOCSPTLCK, &unlock) < 0)
        return -1;
    *slave = ioctl(s->pty, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*slave < 0)
        return -1;
    session_resize(s, start->rows, start->cols);
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int session_start(struct session *s, const struct config *config, char *payload, size_t len,
                  char *err, size_t err_len)
{
    static char *fields[MAX_FIELDS];
    struct start start;
    if (parse_start(payload, len, fields, &start) < 0) {
        snprintf(err, err_len, "a malformed start frame");
        return -1;
    }
    *s = (struct session){.pty_mode = start.pty, .lifetime_all = start.lifetime_all,
                          .pty = -1, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    int theirs[3] = {-1, -1, -1};
    int rc = 0;
    if (start.pty) {
        rc = open_pty(s, &start, &theirs[0]);
        theirs[1] = theirs[2] = theirs[0];
    } else {
        int pipes[3][2];
        for (int i = 0; i < 3 && rc == 0; i++)
            rc = pipe2(pipes[i], O_CLOEXEC);
        if (rc == 0) {
            theirs[0] = pipes[0][0];
            s->stdin_fd = pipes[0][1];
            s->stdout_fd = pipes[1][0];
            theirs[1] = pipes[1][1];
            s->stderr_fd = pipes[2][0];
            theirs[2] = pipes[2][1];
            rc = nonblocking(s->stdin_fd) | nonblocking(s->stdout_fd) | nonblocking(s->stderr_fd);
        }
    }
    if (rc == 0) {
        s->pid = fork();
        if (s->pid == 0)
            run_child(&start, config, theirs[0], theirs[1], theirs[2]);
        rc = s->pid < 0 ? -1 : 0;
        s->group = s->pid;
    }
    int saved = errno;
    for (int i = 0; i < 3; i++)
        if (theirs[i] >= 0 && (i == 0 || theirs[i] != theirs[0]))
            close(theirs[i]);
    if (rc < 0) {
        snprintf(err, err_len, "cannot start the session: %s", strerror(saved));
        s->pid = 0;
        session_close(s);
        return -1;
    }
    s->running = true;
    return 0;
}

void session_resize(struct session *s, unsigned rows, unsigned cols)
{
    if (s->pty < 0 || rows == 0 || cols == 0)
        return;
    struct winsize size = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    ioctl(s->pty, TIOCSWINSZ, &size);
}

void session_signal(struct session *s, int signal)
{
    if (s->running && s->group > 0)
        kill(-s->group, signal);
}

void session_close(struct session *s)
{
    /* What the leader left behind gets the hangup a closed terminal gives. */
    if (s->group > 0) {
        kill(-s->group, SIGHUP);
        kill(-s->group, SIGCONT);
        s->group = 0;
    }
    close_fd(&s->pty);
    close_fd(&s->stdin_fd);
    close_fd(&s->stdout_fd);
    close_fd(&s->stderr_fd);
    s->running = false;
    s->to_child.len = 0;
}
