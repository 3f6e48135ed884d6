/* PID 1 of an sbx VM: sets the guest up, then relays sessions between the
 * virtio-serial ports and their processes until the main session (on
 * "sbx.control") ends, and powers off. See agent.h and docs/vm.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define CONFIG_PATH "/sbx/config"
#define PORTS_DIR "/sys/class/virtio-ports"
#define MAX_SESSIONS 4
/* After its leader ended, how long a session's last output may take. */
#define DRAIN_MS 300
/* How long the host gets to acknowledge the main session's exit status
 * before the VM powers off (QEMU may otherwise end before sending it). */
#define ACK_MS 3000

struct channel {
    char name[32];
    int fd;
    bool connected;
    bool finished; /* its session's end was sent */
    struct buffer in, out;
    struct session session;
};

static struct config config;
static char setup_error[1024];
static struct channel channels[1 + MAX_SESSIONS]; /* [0]: sbx.control */
static int display = -1;                          /* tty1, where the screen shows the main session */
static long poweroff_at = -1;
static bool detached; /* the main session ended, its processes go on */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void __attribute__((noreturn)) power_off(void)
{
    kill(-1, SIGKILL);
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

static void send_frame(struct channel *c, char type, const void *data, size_t len)
{
    if (c->connected && !frame_append(&c->out, type, data, len))
        agent_log("%s: output full, a frame was dropped", c->name);
}

static void send_text(struct channel *c, char type, const char *text)
{
    send_frame(c, type, text, strlen(text));
}

/* ---- ports ---- */

static void open_ports(void)
{
    for (int i = 0; i <= MAX_SESSIONS; i++) {
        channels[i].fd = -1;
        if (i == 0)
            snprintf(channels[i].name, sizeof channels[i].name, "sbx.control");
        else
            snprintf(channels[i].name, sizeof channels[i].name, "sbx.session.%d", i);
    }
    DIR *dir = opendir(PORTS_DIR);
    struct dirent *entry;
    while (dir && (entry = readdir(dir))) {
        char path[512], name[64] = "";
        snprintf(path, sizeof path, PORTS_DIR "/%s/name", entry->d_name);
        FILE *file = fopen(path, "re");
        if (!file)
            continue;
        if (fgets(name, sizeof name, file))
            name[strcspn(name, "\n")] = '\0';
        fclose(file);
        for (int i = 0; i <= MAX_SESSIONS; i++) {
            if (strcmp(name, channels[i].name) != 0)
                continue;
            snprintf(path, sizeof path, "/sbx/dev/%s", entry->d_name);
            channels[i].fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
            if (channels[i].fd < 0)
                agent_log("cannot open %s (%s): %s", path, name, strerror(errno));
            /* SIGIO tells when the host connects to a port or leaves it. */
            if (channels[i].fd >= 0 && (fcntl(channels[i].fd, F_SETOWN, getpid()) < 0 ||
                                        fcntl(channels[i].fd, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC) < 0))
                agent_log("%s: no connection signals: %s", name, strerror(errno));
        }
    }
    if (dir)
        closedir(dir);
}

/* A port's host side connected: the poll of a port nobody holds says HUP. */
static void check_connections(void)
{
    for (int i = 0; i <= MAX_SESSIONS; i++) {
        struct channel *c = &channels[i];
        if (c->fd < 0 || c->connected)
            continue;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) {
            c->connected = true;
            c->finished = false;
            c->in.len = c->out.len = 0;
        }
    }
}

/* ---- sessions ---- */

static void report_exit(struct channel *c)
{
    struct session *s = &c->session;
    char text[64];
    if (WIFSIGNALED(s->status))
        snprintf(text, sizeof text, "signal %d", WTERMSIG(s->status));
    else
        snprintf(text, sizeof text, "code %d", WEXITSTATUS(s->status));
    bool main_session = c == &channels[0];
    siginfo_t child = {0};
    bool others_left = main_session && s->lifetime_all &&
                       waitid(P_ALL, 0, &child, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0;
    session_close(s);
    c->finished = true;
    if (others_left) {
        detached = true;
        send_text(c, 'T', text);
        return;
    }
    send_text(c, 'X', text);
    if (main_session)
        poweroff_at = now_ms() + (c->connected ? ACK_MS : 0);
}

static void start_session(struct channel *c, char *payload, size_t len)
{
    char err[512];
    if (c->session.running || (c == &channels[0] && c->finished)) {
        send_text(c, 'E', "sbx: a session already runs on this channel\r\n");
        return;
    }
    if (setup_error[0] || session_start(&c->session, &config, payload, len, err, sizeof err) < 0) {
        char text[1600];
        snprintf(text, sizeof text, "sbx: the VM cannot start the session: %s\r\n",
                 setup_error[0] ? setup_error : err);
        send_text(c, 'E', text);
        c->session.status = 126 << 8;
        report_exit(c);
        return;
    }
    c->finished = false;
}

static void handle_frame(struct channel *c, char type, char *payload, size_t len)
{
    struct session *s = &c->session;
    char text[64];
    snprintf(text, sizeof text, "%.*s", (int)(len < sizeof text ? len : sizeof text - 1), payload);
    unsigned a = 0, b = 0;
    switch (type) {
    case 'S':
        start_session(c, payload, len);
        break;
    case 'D':
        if (s->running && buffer_room(&s->to_child) >= len) {
            memcpy(s->to_child.data + s->to_child.len, payload, len);
            s->to_child.len += len;
        }
        break;
    case 'Z': /* the host's input ended */
        if (s->running && s->pty_mode && buffer_room(&s->to_child) > 0)
            s->to_child.data[s->to_child.len++] = 4;
        else if (s->running)
            s->stdin_closing = true;
        break;
    case 'W':
        if (sscanf(text, "%u %u", &a, &b) == 2)
            session_resize(s, a, b);
        break;
    case 'K':
        if (sscanf(text, "%u", &a) == 1 && a > 0 && a < 65)
            session_signal(s, (int)a);
        break;
    case 'A':
        if (c == &channels[0] && poweroff_at >= 0)
            poweroff_at = now_ms();
        break;
    default:
        agent_log("%s: unknown frame type %d", c->name, type);
    }
}

/* Frames are taken only while their data fits the session's input. */
static void handle_frames(struct channel *c)
{
    size_t at = 0;
    while (c->in.len - at >= FRAME_HEADER) {
        const unsigned char *h = c->in.data + at;
        size_t len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
        if (len > FRAME_MAX_PAYLOAD) {
            agent_log("%s: a frame of %zu bytes; the host is not speaking our protocol", c->name, len);
            at = c->in.len;
            break;
        }
        if (c->in.len - at < FRAME_HEADER + len)
            break;
        if (h[0] == 'D' && buffer_room(&c->session.to_child) < len)
            break;
        handle_frame(c, (char)h[0], (char *)c->in.data + at + FRAME_HEADER, len);
        at += FRAME_HEADER + len;
    }
    buffer_drop(&c->in, at);
}

static void disconnect(struct channel *c)
{
    c->connected = false;
    c->in.len = c->out.len = 0;
    /* The host's terminal went away: a hangup, as a closed terminal gives. */
    if (c->session.running)
        session_signal(&c->session, SIGHUP);
    if (c == &channels[0] && c->finished && !detached)
        poweroff_at = now_ms();
}

/* Reads what a session printed into its channel's frames. */
static void read_output(struct channel *c, int *fd, char type)
{
    size_t room = buffer_room(&c->out);
    if (*fd < 0 || room <= FRAME_HEADER)
        return;
    static char chunk[FRAME_MAX_PAYLOAD];
    size_t want = room - FRAME_HEADER < sizeof chunk ? room - FRAME_HEADER : sizeof chunk;
    ssize_t got = read(*fd, chunk, want);
    if (got > 0) {
        send_frame(c, type, chunk, (size_t)got);
        if (c == &channels[0] && display >= 0) {
            ssize_t ignored = write(display, chunk, (size_t)got);
            (void)ignored;
        }
    } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        /* EOF, or EIO from a pty whose every slave is closed. */
        close(*fd);
        *fd = -1;
    }
}

static void pump_session(struct channel *c, const struct pollfd *fds, const int *index)
{
    struct session *s = &c->session;
    if (!s->running)
        return;
    int *outputs[3] = {&s->pty, &s->stdout_fd, &s->stderr_fd};
    const char types[3] = {'O', 'O', 'E'};
    for (int i = 0; i < 3; i++)
        if (index[i] >= 0 && fds[index[i]].revents)
            read_output(c, outputs[i], types[i]);
    int input = s->pty_mode ? s->pty : s->stdin_fd;
    if (input >= 0 && s->to_child.len > 0 && buffer_flush(&s->to_child, input) < 0)
        s->to_child.len = 0;
    if (!s->pty_mode && s->stdin_closing && s->to_child.len == 0 && s->stdin_fd >= 0) {
        close(s->stdin_fd);
        s->stdin_fd = -1;
    }
    bool outputs_closed = s->pty < 0 && s->stdout_fd < 0 && s->stderr_fd < 0;
    if (s->pid == 0 && (outputs_closed || now_ms() - s->exited_at_ms >= DRAIN_MS))
        report_exit(c);
}

static void reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG | __WALL)) > 0)
        for (int i = 0; i <= MAX_SESSIONS; i++) {
            struct session *s = &channels[i].session;
            if (s->running && s->pid == pid) {
                s->pid = 0;
                s->status = status;
                s->exited_at_ms = now_ms();
            }
        }
    if (pid < 0 && errno == ECHILD && detached)
        power_off();
}

/* ---- the loop ---- */

#define MAX_FDS (1 + (1 + MAX_SESSIONS) * 4)

static void loop(int signals)
{
    for (;;) {
        struct pollfd fds[MAX_FDS];
        int port_index[1 + MAX_SESSIONS], output_index[1 + MAX_SESSIONS][3];
        int n = 0;
        fds[n++] = (struct pollfd){.fd = signals, .events = POLLIN};
        for (int i = 0; i <= MAX_SESSIONS; i++) {
            struct channel *c = &channels[i];
            struct session *s = &c->session;
            port_index[i] = -1;
            if (c->fd >= 0 && c->connected) {
                short events = buffer_room(&c->in) > FRAME_HEADER + FRAME_MAX_PAYLOAD ? POLLIN : 0;
                if (c->out.len)
                    events |= POLLOUT;
                port_index[i] = n;
                fds[n++] = (struct pollfd){.fd = c->fd, .events = events};
            }
            int outputs[3] = {s->pty, s->stdout_fd, s->stderr_fd};
            for (int j = 0; j < 3; j++) {
                output_index[i][j] = -1;
                if (!s->running || outputs[j] < 0)
                    continue;
                short events = buffer_room(&c->out) > FRAME_HEADER + 4096 ? POLLIN : 0;
                if (j == 0 && s->to_child.len)
                    events |= POLLOUT;
                output_index[i][j] = n;
                fds[n++] = (struct pollfd){.fd = outputs[j], .events = events};
            }
            if (s->running && !s->pty_mode && s->stdin_fd >= 0 && s->to_child.len)
                fds[n++] = (struct pollfd){.fd = s->stdin_fd, .events = POLLOUT};
        }
        long timeout = 1000;
        if (poweroff_at >= 0)
            timeout = poweroff_at - now_ms() < 0 ? 0 : poweroff_at - now_ms();
        for (int i = 0; i <= MAX_SESSIONS; i++)
            if (channels[i].session.running && channels[i].session.pid == 0)
                timeout = DRAIN_MS / 4;
        if (poll(fds, (nfds_t)n, (int)timeout) < 0 && errno != EINTR) {
            agent_log("poll: %s", strerror(errno));
            power_off();
        }
        if (fds[0].revents) {
            struct signalfd_siginfo info;
            while (read(signals, &info, sizeof info) == (ssize_t)sizeof info)
                ;
            reap();
        }
        check_connections();
        for (int i = 0; i <= MAX_SESSIONS; i++) {
            struct channel *c = &channels[i];
            if (port_index[i] >= 0) {
                short revents = fds[port_index[i]].revents;
                if (revents & POLLIN) {
                    ssize_t got = buffer_fill(&c->in, c->fd, BUFFER_SIZE);
                    if (got == 0)
                        revents |= POLLHUP;
                }
                handle_frames(c);
                if (revents & (POLLHUP | POLLERR)) {
                    disconnect(c);
                    continue;
                }
            }
            pump_session(c, fds, output_index[i]);
            if (c->connected && c->out.len && buffer_flush(&c->out, c->fd) < 0)
                disconnect(c);
        }
        if (poweroff_at >= 0 && now_ms() >= poweroff_at)
            power_off();
    }
}

static int signal_descriptor(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGIO);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

int main(void)
{
    if (getpid() != 1) {
        fprintf(stderr, "sbx-guest is the init of an sbx VM; it does nothing elsewhere\n");
        return 2;
    }
    int signals = signal_descriptor();
    char err[1024];
    if (config_load(CONFIG_PATH, &config, err, sizeof err) < 0 ||
        setup_guest(&config, err, sizeof err) < 0 || setup_network(config.network, err, sizeof err) < 0) {
        snprintf(setup_error, sizeof setup_error, "%s", err);
        agent_log("%s", err);
    }
    open_ports();
    if (channels[0].fd < 0) {
        agent_log("no sbx.control port: nothing to serve");
        power_off();
    }
    display = open("/sbx/dev/tty1", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (display >= 0)
        dprintf(display, "\033[2J\033[Hsbx: %s, the sandbox's console\r\n", config.hostname);
    /* Devices and sysfs were for the agent; the sandbox has its own /dev. */
    umount2("/sbx/dev", MNT_DETACH);
    umount2("/sys", MNT_DETACH);
    check_connections();
    loop(signals);
}
