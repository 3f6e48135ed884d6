/* The sandbox's file system, built in the child with the new mount API.
 *
 * Every path is opened through a descriptor: host sources with
 * RESOLVE_IN_ROOT against the old root (absolute symlinks such as
 * /etc/resolv.conf resolve as on the host), and with RESOLVE_NO_SYMLINKS
 * unless the plan allows them; destinations with RESOLVE_IN_ROOT |
 * RESOLVE_NO_SYMLINKS against the new root, so a symlink planted by an
 * earlier sandbox in a directory it could write cannot redirect a mount,
 * neither out of the new root nor anywhere inside it. */
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

struct builder {
    const struct sbx_plan *plan;
    int old_root; /* the host's root, after the first pivot */
    int new_root; /* the tmpfs that becomes "/" */
    char *err;
    size_t err_len;
};

static int report(struct builder *b, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int report(struct builder *b, int err, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int used = vsnprintf(b->err, b->err_len, fmt, args);
    va_end(args);
    if (used >= 0 && (size_t)used < b->err_len)
        snprintf(b->err + used, b->err_len - (size_t)used, ": %s", strerrordesc_np(err));
    return -err;
}

static int open_beneath(int root, const char *path, int flags, unsigned long long resolve)
{
    struct open_how how = {.flags = (unsigned long long)flags | O_CLOEXEC, .resolve = resolve};
    while (*path == '/')
        path++;
    return (int)syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof how);
}

#define CONFINED (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)

/* Creates the missing directories above DEST (an absolute path inside the
 * new root) and returns a descriptor of its parent; *NAME points at the
 * last component in NAME_BUFFER. -errno on failure. */
static int make_parents(struct builder *b, const char *dest, char *name_buffer,
                        const char **name)
{
    size_t len = strlen(dest);
    if (len >= PATH_MAX)
        return -ENAMETOOLONG;
    memcpy(name_buffer, dest, len + 1);
    while (len > 1 && name_buffer[len - 1] == '/')
        name_buffer[--len] = '\0';
    char *slash = strrchr(name_buffer, '/');
    *name = slash + 1;
    int dir = open_beneath(b->new_root, "/", O_PATH | O_DIRECTORY, CONFINED);
    if (dir < 0)
        return -errno;
    for (char *component = name_buffer + 1; component < slash;) {
        char *end = strchr(component, '/');
        *end = '\0';
        int rc = 0;
        if (*component) {
            if (mkdirat(dir, component, 0755) < 0 && errno != EEXIST)
                rc = -errno;
            /* O_NOFOLLOW | O_DIRECTORY: a symlink here is an error. */
            int next = rc < 0 ? -1
                              : openat(dir, component, O_PATH | O_DIRECTORY | O_NOFOLLOW |
                                                          O_CLOEXEC);
            if (rc == 0 && next < 0)
                rc = -errno;
            close(dir);
            dir = next;
        }
        *end = '/';
        if (rc < 0)
            return rc;
        component = end + 1;
    }
    return dir;
}

enum node_type { NODE_DIR, NODE_FILE };

/* Makes DEST exist as a directory or an empty file (keeping what is there
 * when it is already of that type) and returns an O_PATH descriptor. */
static int make_node(struct builder *b, const char *dest, enum node_type type, unsigned mode)
{
    char buffer[PATH_MAX];
    const char *name;
    int parent = make_parents(b, dest, buffer, &name);
    if (parent < 0)
        return parent;
    int rc = 0;
    if (*name == '\0') {
        rc = 0; /* dest is "/" itself */
    } else if (type == NODE_DIR) {
        if (mkdirat(parent, name, mode ? mode : 0755) < 0 && errno != EEXIST)
            rc = -errno;
    } else {
        int fd = openat(parent, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
                        mode ? mode : 0644);
        /* An existing socket or device (say, a bound X11 socket) is fine too. */
        if (fd < 0 && errno != ENXIO && errno != EOPNOTSUPP)
            rc = -errno;
        if (fd >= 0)
            close(fd);
    }
    close(parent);
    if (rc < 0)
        return rc;
    int node = open_beneath(b->new_root, dest, O_PATH | (type == NODE_DIR ? O_DIRECTORY : 0),
                            CONFINED);
    return node < 0 ? -errno : node;
}

/* Attaches a detached mount TREE at DEST_FD with ATTRIBUTES set on it and
 * everything under it. Closes TREE. */
static int attach(int tree, int dest_fd, unsigned long long attributes)
{
    int rc = 0;
    if (attributes) {
        struct mount_attr attr = {.attr_set = attributes};
        if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
            rc = -errno;
    }
    if (rc == 0 && move_mount(tree, "", dest_fd, "", MOVE_MOUNT_F_EMPTY_PATH |
                                                       MOVE_MOUNT_T_EMPTY_PATH) < 0)
        rc = -errno;
    close(tree);
    return rc;
}

static int bind_from(int source_fd, int dest_fd, unsigned long long attributes)
{
    int tree = open_tree(source_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
                                            AT_RECURSIVE);
    if (tree < 0)
        return -errno;
    return attach(tree, dest_fd, attributes);
}

/* A fresh file system of TYPE (tmpfs, proc, devpts) with string OPTIONS
 * (NULL-terminated key, value pairs) attached at DEST_FD. */
static int mount_fresh(const char *type, const char *const *options,
                       unsigned long long attributes, int dest_fd)
{
    int context = fsopen(type, FSOPEN_CLOEXEC);
    if (context < 0)
        return -errno;
    int rc = 0;
    for (int i = 0; options && options[i] && rc == 0; i += 2)
        if (fsconfig(context, FSCONFIG_SET_STRING, options[i], options[i + 1], 0) < 0)
            rc = -errno;
    if (rc == 0 && fsconfig(context, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        rc = -errno;
    int mount_fd = rc == 0 ? fsmount(context, FSMOUNT_CLOEXEC, (unsigned)attributes) : -1;
    if (rc == 0 && mount_fd < 0)
        rc = -errno;
    close(context);
    if (rc < 0)
        return rc;
    return attach(mount_fd, dest_fd, 0);
}

static int apply_bind(struct builder *b, const struct sbx_mount_op *op)
{
    unsigned long long resolve = RESOLVE_IN_ROOT | (op->follow_symlinks ? 0 : RESOLVE_NO_SYMLINKS);
    int source = open_beneath(b->old_root, op->source, O_PATH, resolve);
    if (source < 0) {
        if (errno == ENOENT && op->skip_missing)
            return 0;
        if (errno == ELOOP)
            return report(b, ELOOP, "bind %s: a symlink is in the way (not allowed here)",
                          op->source);
        return report(b, errno, "bind %s", op->source);
    }
    struct stat st;
    int rc = fstat(source, &st) < 0 ? -errno : 0;
    int dest = rc < 0 ? rc : make_node(b, op->dest, S_ISDIR(st.st_mode) ? NODE_DIR : NODE_FILE, 0);
    if (dest < 0) {
        close(source);
        return report(b, -dest, "bind %s on %s: cannot make the mount point", op->source,
                      op->dest);
    }
    unsigned long long attributes = MOUNT_ATTR_NOSUID;
    if (op->kind != SBX_MOUNT_DEV_BIND)
        attributes |= MOUNT_ATTR_NODEV;
    if (op->readonly)
        attributes |= MOUNT_ATTR_RDONLY;
    rc = bind_from(source, dest, attributes);
    close(source);
    close(dest);
    return rc < 0 ? report(b, -rc, "bind %s on %s", op->source, op->dest) : 0;
}

/* Binds DEST onto itself read-only: makes that subtree read-only without
 * touching the mount that contains it. */
static int make_read_only(struct builder *b, const char *dest)
{
    int node = open_beneath(b->new_root, dest, O_PATH, CONFINED);
    if (node < 0)
        return report(b, errno, "read-only %s", dest);
    int rc = bind_from(node, node, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
    close(node);
    return rc < 0 ? report(b, -rc, "read-only %s", dest) : 0;
}

static int apply_tmpfs(struct builder *b, const struct sbx_mount_op *op)
{
    char mode[16];
    snprintf(mode, sizeof mode, "%o", (op->mode ? op->mode : 0755) & 07777);
    const char *options[] = {"mode", mode, op->size ? "size" : NULL, op->size, NULL};
    int dest = make_node(b, op->dest, NODE_DIR, 0);
    if (dest < 0)
        return report(b, -dest, "tmpfs on %s", op->dest);
    unsigned long long attributes = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (op->readonly)
        attributes |= MOUNT_ATTR_RDONLY;
    int rc = mount_fresh("tmpfs", options, attributes, dest);
    close(dest);
    return rc < 0 ? report(b, -rc, "tmpfs on %s", op->dest) : 0;
}

/* Below a fresh proc: host-wide knobs read-only, leaks masked. */
static int harden_proc(struct builder *b, const char *proc_dest)
{
    static const char *const read_only[] = {"sys", "sysrq-trigger", "irq", "bus", "fs"};
    static const char *const masked[] = {"kcore", "keys", "timer_list", "sched_debug",
                                         "latency_stats", "acpi", "scsi"};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof read_only / sizeof read_only[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", proc_dest, read_only[i]);
        int node = open_beneath(b->new_root, path, O_PATH, CONFINED);
        if (node < 0)
            continue; /* not every kernel has every entry */
        int rc = bind_from(node, node, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        close(node);
        if (rc < 0)
            return report(b, -rc, "proc: read-only %s", path);
    }
    for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", proc_dest, masked[i]);
        int node = open_beneath(b->new_root, path, O_PATH, CONFINED);
        if (node < 0)
            continue;
        struct stat st;
        int rc = fstat(node, &st) < 0 ? -errno : 0;
        /* An empty read-only tmpfs over a directory; /dev/null's stand-in,
         * an empty read-only file of the staging area, over a file. */
        if (rc == 0 && S_ISDIR(st.st_mode)) {
            const char *options[] = {"mode", "0555", "size", "0", NULL};
            rc = mount_fresh("tmpfs", options, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                                   MOUNT_ATTR_NODEV, node);
        } else if (rc == 0) {
            int empty = open("/empty", O_PATH | O_CLOEXEC);
            rc = empty < 0 ? -errno : bind_from(empty, node, MOUNT_ATTR_RDONLY);
            if (empty >= 0)
                close(empty);
        }
        close(node);
        if (rc < 0)
            return report(b, -rc, "proc: mask %s", path);
    }
    return 0;
}

static int apply_proc(struct builder *b, const struct sbx_mount_op *op)
{
    int dest = make_node(b, op->dest, NODE_DIR, 0);
    if (dest < 0)
        return report(b, -dest, "proc on %s", op->dest);
    int rc = mount_fresh("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                         dest);
    close(dest);
    if (rc < 0)
        return report(b, -rc, "proc on %s", op->dest);
    return harden_proc(b, op->dest);
}

static int apply_symlink_at(struct builder *b, const char *target, const char *dest)
{
    char buffer[PATH_MAX];
    const char *name;
    int parent = make_parents(b, dest, buffer, &name);
    if (parent < 0)
        return report(b, -parent, "symlink %s", dest);
    int rc = symlinkat(target, parent, name) < 0 ? -errno : 0;
    close(parent);
    return rc < 0 ? report(b, -rc, "symlink %s -> %s", dest, target) : 0;
}

/* A minimal /dev: a few host device nodes, a new devpts instance, shm. */
static int apply_dev(struct builder *b, const struct sbx_mount_op *op)
{
    static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
    static const char *const links[][2] = {
        {"pts/ptmx", "ptmx"},          {"/proc/self/fd", "fd"},
        {"/proc/self/fd/0", "stdin"},  {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"},
    };
    int dest = make_node(b, op->dest, NODE_DIR, 0);
    if (dest < 0)
        return report(b, -dest, "dev on %s", op->dest);
    const char *options[] = {"mode", "0755", "size", "64k", NULL};
    int rc = mount_fresh("tmpfs", options, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, dest);
    close(dest);
    if (rc < 0)
        return report(b, -rc, "dev on %s", op->dest);
    char path[PATH_MAX], host[32];
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        snprintf(host, sizeof host, "/dev/%s", devices[i]);
        snprintf(path, sizeof path, "%s/%s", op->dest, devices[i]);
        struct sbx_mount_op device = {.kind = SBX_MOUNT_DEV_BIND, .source = host, .dest = path,
                                      .fd = -1};
        if ((rc = apply_bind(b, &device)) < 0)
            return rc;
    }
    snprintf(path, sizeof path, "%s/pts", op->dest);
    dest = make_node(b, path, NODE_DIR, 0);
    if (dest < 0)
        return report(b, -dest, "devpts on %s", path);
    const char *pts_options[] = {"ptmxmode", "0666", "mode", "0620", NULL};
    rc = mount_fresh("devpts", pts_options, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, dest);
    close(dest);
    if (rc < 0)
        return report(b, -rc, "devpts on %s", path);
    snprintf(path, sizeof path, "%s/shm", op->dest);
    struct sbx_mount_op shm = {.kind = SBX_MOUNT_TMPFS, .dest = path, .mode = 01777, .fd = -1};
    if ((rc = apply_tmpfs(b, &shm)) < 0)
        return rc;
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", op->dest, links[i][1]);
        if ((rc = apply_symlink_at(b, links[i][0], path)) < 0)
            return rc;
    }
    return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t wrote = write(fd, data, len);
        if (wrote < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        data += wrote;
        len -= (size_t)wrote;
    }
    return 0;
}

static int copy_fd(int from, int to)
{
    char chunk[16384];
    for (;;) {
        ssize_t got = read(from, chunk, sizeof chunk);
        if (got == 0)
            return 0;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        int rc = write_all(to, chunk, (size_t)got);
        if (rc < 0)
            return rc;
    }
}

static int apply_file(struct builder *b, const struct sbx_mount_op *op)
{
    char buffer[PATH_MAX];
    const char *name;
    int parent = make_parents(b, op->dest, buffer, &name);
    if (parent < 0)
        return report(b, -parent, "file %s", op->dest);
    int fd = openat(parent, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -errno : 0;
    close(parent);
    if (rc == 0)
        rc = op->contents ? write_all(fd, op->contents, op->contents_len) : copy_fd(op->fd, fd);
    if (rc == 0 && fchmod(fd, op->mode ? op->mode : 0644) < 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        return report(b, -rc, "file %s", op->dest);
    return op->readonly ? make_read_only(b, op->dest) : 0;
}

static int apply_dir(struct builder *b, const struct sbx_mount_op *op)
{
    int dir = make_node(b, op->dest, NODE_DIR, op->mode);
    if (dir < 0)
        return report(b, -dir, "dir %s", op->dest);
    close(dir);
    return op->readonly ? make_read_only(b, op->dest) : 0;
}

static int apply(struct builder *b, const struct sbx_mount_op *op)
{
    switch (op->kind) {
    case SBX_MOUNT_BIND:
    case SBX_MOUNT_DEV_BIND:
        return apply_bind(b, op);
    case SBX_MOUNT_TMPFS:
        return apply_tmpfs(b, op);
    case SBX_MOUNT_PROC:
        return apply_proc(b, op);
    case SBX_MOUNT_DEV:
        return apply_dev(b, op);
    case SBX_MOUNT_DIR:
        return apply_dir(b, op);
    case SBX_MOUNT_SYMLINK:
        return apply_symlink_at(b, op->target, op->dest);
    case SBX_MOUNT_FILE:
        return apply_file(b, op);
    case SBX_MOUNT_REMOUNT_RO:
        return make_read_only(b, op->dest);
    }
    return report(b, EINVAL, "unknown mount operation");
}

/* The staging area: a tmpfs that becomes "/" for a while, holding the host
 * root at /oldroot and the sandbox's root at /newroot. Mounting it over
 * /tmp hides nothing: after the pivot, the host's /tmp is at /oldroot/tmp. */
static int enter_staging(struct builder *b)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return report(b, errno, "making mounts private");
    if (mount("sbx-staging", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
        return report(b, errno, "staging tmpfs");
    if (chdir("/tmp") < 0 || mkdir("newroot", 0755) < 0 || mkdir("oldroot", 0755) < 0)
        return report(b, errno, "staging directories");
    int empty = open("empty", O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
    if (empty < 0)
        return report(b, errno, "staging file");
    close(empty);
    if (syscall(SYS_pivot_root, ".", "oldroot") < 0)
        return report(b, errno, "pivot_root into the staging area");
    if (chdir("/") < 0)
        return report(b, errno, "chdir /");
    if (mount("sbx-root", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
        return report(b, errno, "root tmpfs");
    b->old_root = open("/oldroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
    b->new_root = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (b->old_root < 0 || b->new_root < 0)
        return report(b, errno, "opening the roots");
    return 0;
}

/* pivot_root(".", ".") stacks the old root on the new one; detaching it
 * leaves the new root alone, with no path back to the host. */
static int leave_staging(struct builder *b)
{
    if (fchdir(b->new_root) < 0)
        return report(b, errno, "chdir into the new root");
    close(b->old_root);
    close(b->new_root);
    b->old_root = b->new_root = -1;
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return report(b, errno, "pivot_root into the new root");
    if (umount2(".", MNT_DETACH) < 0)
        return report(b, errno, "detaching the old root");
    if (chdir("/") < 0)
        return report(b, errno, "chdir /");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        return report(b, errno, "making / read-only");
    return 0;
}

int sbx_mounts_build_root(const struct sbx_plan *plan, char *err, size_t err_len)
{
    struct builder b = {plan, -1, -1, err, err_len};
    int rc = enter_staging(&b);
    for (size_t i = 0; rc == 0 && i < plan->mount_count; i++)
        rc = apply(&b, &plan->mounts[i]);
    if (rc == 0)
        rc = leave_staging(&b);
    if (b.old_root >= 0)
        close(b.old_root);
    if (b.new_root >= 0)
        close(b.new_root);
    return rc;
}
