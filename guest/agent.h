/* sbx-guest: PID 1 of an sbx VM (docs/vm.md). It sets the guest up from
 * /sbx/config (written by the host into the initramfs), then serves
 * sessions: a virtio-serial port carries frames between the host's `sbx run`
 * and one process tree inside (its terminal or its stdio, its size, its
 * signals, its exit status). The "sbx.control" port carries the main
 * session, whose end is the VM's; "sbx.session.N" ports carry joined ones.
 *
 * A static binary with no dependencies: it runs before anything is
 * mounted. Whatever goes wrong is reported to the host on the control port
 * when it asks for the main session, and to the kernel log. */
#ifndef SBX_GUEST_AGENT_H
#define SBX_GUEST_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- log.c ---- */

/* To the kernel log (the VM's serial console, kept by the host). */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- config.c: /sbx/config ---- */

enum op_kind { OP_BIND, OP_TMPFS, OP_PROC, OP_DEV, OP_DIR, OP_SYMLINK, OP_FILE, OP_READONLY };

struct op {
    enum op_kind kind;
    char *dest;   /* inside the guest, absolute */
    char *source; /* bind: the share's tag; symlink: target; file: initramfs path */
    char *size;   /* tmpfs: size= option or NULL */
    unsigned mode;
    bool readonly;
    bool optional; /* bind: a source the host did not have is skipped */
};

struct share {
    char *tag;   /* the 9p mount tag, mounted at /sbx/share/<tag> */
    char *cache; /* the 9p cache= mode */
    bool readonly;
};

struct config {
    char *hostname;
    uid_t uid;
    gid_t gid;
    char **modules; /* initramfs paths, in load order */
    size_t module_count;
    struct share *shares;
    size_t share_count;
    struct op *ops;
    size_t op_count;
    bool network; /* eth0 with QEMU's user network addresses */
};

/* 0, or -1 with ERR naming the line. Allocates; nothing is ever freed. */
int config_load(const char *path, struct config *config, char *err, size_t err_len);

/* Decodes %XX escapes in place; -1 on a malformed escape. */
int percent_decode(char *text);

/* ---- setup.c: the guest's file systems, as the plan says ---- */

/* Kernel file systems for the agent itself, the modules, the shares, then
 * the plan's operations in order; "/" read-only last. 0, or -1 with ERR. */
int setup_guest(const struct config *config, char *err, size_t err_len);

/* ---- net.c ---- */

/* Loopback up; with WITH_ETH0, the first other interface gets QEMU's user
 * network addresses (10.0.2.15/24, gateway 10.0.2.2). 0, or -1 with ERR. */
int setup_network(bool with_eth0, char *err, size_t err_len);

/* ---- buffer.c: bytes waiting to go somewhere ---- */

#define BUFFER_SIZE (256 * 1024)

struct buffer {
    size_t len;
    unsigned char data[BUFFER_SIZE];
};

size_t buffer_room(const struct buffer *b);
void buffer_drop(struct buffer *b, size_t n);
/* Reads what FD has (at most the room left, at most LIMIT); the read()
 * result. */
ssize_t buffer_fill(struct buffer *b, int fd, size_t limit);
/* Writes what fits to FD and drops it; -1 on an error other than EAGAIN. */
int buffer_flush(struct buffer *b, int fd);

/* ---- frames (docs/vm.md): type byte, 32-bit big-endian length, payload ---- */

#define FRAME_HEADER 5
#define FRAME_MAX_PAYLOAD 65536

/* Appends a frame; false when it does not fit (nothing appended). */
bool frame_append(struct buffer *b, char type, const void *payload, size_t len);

/* ---- session.c: one process tree and its terminal or pipes ---- */

struct session {
    bool running; /* started and not yet reported */
    bool pty_mode;
    bool lifetime_all; /* the main session: the VM lasts until its last process */
    pid_t pid;    /* the leader; 0 once reaped */
    pid_t group;  /* its process group (and session): the leader's pid */
    int status;   /* its wait status, once reaped */
    long exited_at_ms;
    int pty;      /* pty mode: the master */
    int stdin_fd; /* pipes mode: our ends */
    int stdout_fd, stderr_fd;
    bool stdin_closing; /* close stdin once to_child is written */
    struct buffer to_child;
};

/* Starts the session described by a start frame's PAYLOAD for the user
 * of CONFIG. 0, or -1 with ERR (nothing left running). */
int session_start(struct session *s, const struct config *config, char *payload, size_t len,
                  char *err, size_t err_len);
void session_resize(struct session *s, unsigned rows, unsigned cols);
void session_signal(struct session *s, int signal);
/* Closes what is left of a finished session and hangs up its processes. */
void session_close(struct session *s);

#endif
