/* The guest's file systems. The host shares two trees over 9p: "ro"
 * (QEMU's readonly=on) and "rw", each built by the host in QEMU's own
 * mount namespace with the plan's read-only binds read-only there too, so
 * the host enforces them whatever this kernel does. Here they are mounted
 * under /sbx/share, and each bind of the plan takes its dest from them;
 * tmpfs, proc, dev, directories, links and files are made here, in the
 * plan's order. Paths are walked without following symbolic links: the
 * trees hold directories a sandbox wrote in an earlier session. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent.h"

#define SHARE_ROOT "/sbx/share"
#define AGENT_DEV "/sbx/dev"

struct setup {
    const struct config *config;
    char *err;
    size_t err_len;
};

static int fail(struct setup *s, int error, const char *what, const char *path)
{
    snprintf(s->err, s->err_len, "%s %s: %s", what, path, strerror(error));
    return -1;
}

static void fd_path(char *out, size_t len, int fd)
{
    snprintf(out, len, "/proc/self/fd/%d", fd);
}

enum node { NODE_NONE, NODE_DIR, NODE_FILE };

/* Creates NAME in DIR as MAKE says (missing parents are directories). */
static int make_node(int dir, const char *name, enum node make, unsigned mode)
{
    if (make == NODE_DIR)
        return mkdirat(dir, name, mode) < 0 && errno != EEXIST ? -1 : 0;
    int file = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (file < 0)
        return errno == EEXIST ? 0 : -1;
    close(file);
    return 0;
}

/* Opens PATH (absolute) as O_PATH without following any symbolic link,
 * making what is missing: parents as root-owned 0755 directories, the
 * last component as MAKE says. The descriptor, or -1 with errno. */
static int walk(const char *path, enum node make, unsigned mode)
{
    char copy[4096];
    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    char *save = NULL;
    char *name = strtok_r(copy, "/", &save);
    while (dir >= 0 && name) {
        char *next = strtok_r(NULL, "/", &save);
        bool last = next == NULL;
        int child = -1;
        if (strcmp(name, "..") == 0)
            errno = EINVAL;
        else
            child = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0 && errno == ENOENT && make != NODE_NONE) {
            if (make_node(dir, name, last ? make : NODE_DIR, last ? mode : 0755) == 0)
                child = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        }
        int saved = errno;
        close(dir);
        errno = saved;
        dir = child;
        name = next;
    }
    if (dir >= 0) {
        struct stat st;
        if (fstat(dir, &st) == 0 && S_ISLNK(st.st_mode)) {
            close(dir);
            errno = ELOOP;
            return -1;
        }
    }
    return dir;
}

/* Mounts onto the node FD names (a path through /proc/self/fd, so no
 * link is followed on the way). */
static int mount_on(int fd, const char *source, const char *type, unsigned long flags,
                    const char *data)
{
    char target[64];
    fd_path(target, sizeof target, fd);
    return mount(source, target, type, flags, data);
}

/* Makes the mount at DEST read-only (a bind onto itself, then remount). */
static int make_read_only(const char *dest)
{
    int node = walk(dest, NODE_NONE, 0);
    if (node < 0)
        return -1;
    char path[64];
    fd_path(path, sizeof path, node);
    int rc = mount(path, path, NULL, MS_BIND | MS_REC, NULL);
    close(node);
    node = rc < 0 ? -1 : walk(dest, NODE_NONE, 0);
    if (node < 0)
        return -1;
    fd_path(path, sizeof path, node);
    rc = mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
    int saved = errno;
    close(node);
    errno = saved;
    return rc;
}

static int chown_fd(int fd, const struct config *c)
{
    char path[64];
    fd_path(path, sizeof path, fd);
    return chown(path, c->uid, c->gid);
}

static int apply_bind(struct setup *s, const struct op *op)
{
    char source_path[4096];
    snprintf(source_path, sizeof source_path, SHARE_ROOT "/%s%s", op->source, op->dest);
    int source = walk(source_path, NODE_NONE, 0);
    if (source < 0) {
        if (errno == ENOENT && op->optional)
            return 0;
        return fail(s, errno, "bind: cannot open", source_path);
    }
    struct stat st;
    if (fstat(source, &st) < 0) {
        close(source);
        return fail(s, errno, "bind: cannot stat", source_path);
    }
    int dest = walk(op->dest, S_ISDIR(st.st_mode) ? NODE_DIR : NODE_FILE, 0755);
    if (dest < 0) {
        close(source);
        return fail(s, errno, "bind: cannot make the mount point", op->dest);
    }
    char from[64];
    fd_path(from, sizeof from, source);
    int rc = mount_on(dest, from, NULL, MS_BIND | MS_REC, NULL);
    int saved = errno;
    close(source);
    close(dest);
    if (rc < 0)
        return fail(s, saved, "bind onto", op->dest);
    if (op->readonly && make_read_only(op->dest) < 0)
        return fail(s, errno, "read-only bind", op->dest);
    return 0;
}

static int apply_tmpfs(struct setup *s, const struct op *op)
{
    char options[256];
    snprintf(options, sizeof options, "mode=%o,uid=%u,gid=%u%s%s", op->mode ? op->mode : 0755,
             s->config->uid, s->config->gid, op->size ? ",size=" : "", op->size ? op->size : "");
    int dest = walk(op->dest, NODE_DIR, 0755);
    if (dest < 0)
        return fail(s, errno, "tmpfs: cannot make", op->dest);
    int rc = mount_on(dest, "tmpfs", "tmpfs",
                      MS_NOSUID | MS_NODEV | (op->readonly ? MS_RDONLY : 0), options);
    int saved = errno;
    close(dest);
    return rc < 0 ? fail(s, saved, "tmpfs on", op->dest) : 0;
}

static int make_device(int dir, const char *name, unsigned major, unsigned minor)
{
    if (mknodat(dir, name, S_IFCHR | 0666, makedev(major, minor)) < 0 && errno != EEXIST)
        return -1;
    /* mknod obeys the umask; these are for everyone. */
    return fchmodat(dir, name, 0666, 0);
}

/* A /dev of its own, as the engine makes one: the usual character
 * devices, a new devpts, a tmpfs for shared memory and the fd links. */
static int apply_dev(struct setup *s, const struct op *op)
{
    int dir = walk(op->dest, NODE_DIR, 0755);
    if (dir < 0 || mount_on(dir, "tmpfs", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
        return fail(s, errno, "dev: tmpfs on", op->dest);
    close(dir);
    dir = walk(op->dest, NODE_NONE, 0);
    if (dir < 0)
        return fail(s, errno, "dev: cannot open", op->dest);
    static const struct {
        const char *name;
        unsigned major, minor;
    } devices[] = {{"null", 1, 3},    {"zero", 1, 5}, {"full", 1, 7},
                   {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    static const char *const links[][2] = {
        {"ptmx", "pts/ptmx"},         {"fd", "/proc/self/fd"},         {"stdin", "/proc/self/fd/0"},
        {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
    };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof devices / sizeof devices[0]; i++)
        rc = make_device(dir, devices[i].name, devices[i].major, devices[i].minor);
    for (size_t i = 0; rc == 0 && i < sizeof links / sizeof links[0]; i++)
        if (symlinkat(links[i][1], dir, links[i][0]) < 0 && errno != EEXIST)
            rc = -1;
    if (rc == 0 && (mkdirat(dir, "pts", 0755) < 0 || mkdirat(dir, "shm", 01777) < 0))
        rc = -1;
    close(dir);
    if (rc < 0)
        return fail(s, errno, "dev: populating", op->dest);
    char path[4096];
    snprintf(path, sizeof path, "%s/pts", op->dest);
    int pts = walk(path, NODE_NONE, 0);
    char options[128];
    snprintf(options, sizeof options, "newinstance,ptmxmode=0666,mode=0620,gid=%u", s->config->gid);
    if (pts < 0 || mount_on(pts, "devpts", "devpts", MS_NOSUID | MS_NOEXEC, options) < 0)
        return fail(s, errno, "dev: devpts on", path);
    close(pts);
    snprintf(path, sizeof path, "%s/shm", op->dest);
    int shm = walk(path, NODE_NONE, 0);
    if (shm < 0 || mount_on(shm, "shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
        return fail(s, errno, "dev: tmpfs on", path);
    close(shm);
    return 0;
}

static int apply_dir(struct setup *s, const struct op *op)
{
    int dir = walk(op->dest, NODE_DIR, op->mode ? op->mode : 0755);
    if (dir < 0 || chown_fd(dir, s->config) < 0)
        return fail(s, errno, "dir", op->dest);
    close(dir);
    return 0;
}

/* Splits DEST into its parent (opened, made if missing) and last name. */
static int open_parent(const char *dest, char *parent, size_t len, const char **name)
{
    const char *slash = strrchr(dest, '/');
    *name = slash + 1;
    snprintf(parent, len, "%.*s", (int)(slash - dest), dest);
    return walk(parent[0] ? parent : "/", NODE_DIR, 0755);
}

static int apply_symlink(struct setup *s, const struct op *op)
{
    char parent_path[4096];
    const char *name;
    int parent = open_parent(op->dest, parent_path, sizeof parent_path, &name);
    if (parent < 0)
        return fail(s, errno, "symlink: cannot open the parent of", op->dest);
    char parent_fd[64];
    fd_path(parent_fd, sizeof parent_fd, parent);
    int dir = open(parent_fd, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    close(parent);
    int rc = dir < 0 ? -1 : symlinkat(op->source, dir, name);
    int saved = errno;
    if (dir >= 0)
        close(dir);
    return rc < 0 && saved != EEXIST ? fail(s, saved, "symlink", op->dest) : 0;
}

static int copy_file(int from, int to)
{
    char chunk[65536];
    ssize_t got;
    while ((got = read(from, chunk, sizeof chunk)) > 0)
        for (ssize_t done = 0; done < got;) {
            ssize_t n = write(to, chunk + done, (size_t)(got - done));
            if (n < 0)
                return -1;
            done += n;
        }
    return got < 0 ? -1 : 0;
}

static int apply_file(struct setup *s, const struct op *op)
{
    int from = open(op->source, O_RDONLY | O_CLOEXEC);
    if (from < 0)
        return fail(s, errno, "file: cannot read", op->source);
    int node = walk(op->dest, NODE_FILE, 0600);
    char path[64];
    int to = -1;
    if (node >= 0) {
        fd_path(path, sizeof path, node);
        to = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        close(node);
    }
    int rc = to < 0 ? -1 : copy_file(from, to);
    if (rc == 0)
        rc = fchown(to, s->config->uid, s->config->gid) < 0 || fchmod(to, op->mode) < 0 ? -1 : 0;
    int saved = errno;
    close(from);
    if (to >= 0)
        close(to);
    if (rc < 0)
        return fail(s, saved, "file", op->dest);
    if (op->readonly && make_read_only(op->dest) < 0)
        return fail(s, errno, "read-only file", op->dest);
    return 0;
}

static int apply(struct setup *s, const struct op *op)
{
    switch (op->kind) {
    case OP_BIND:
        return apply_bind(s, op);
    case OP_TMPFS:
        return apply_tmpfs(s, op);
    case OP_PROC: {
        int dest = walk(op->dest, NODE_DIR, 0555);
        int rc = dest < 0 ? -1 : mount_on(dest, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        int saved = errno;
        if (dest >= 0)
            close(dest);
        return rc < 0 ? fail(s, saved, "proc on", op->dest) : 0;
    }
    case OP_DEV:
        return apply_dev(s, op);
    case OP_DIR:
        return apply_dir(s, op);
    case OP_SYMLINK:
        return apply_symlink(s, op);
    case OP_FILE:
        return apply_file(s, op);
    case OP_READONLY:
        return make_read_only(op->dest) < 0 ? fail(s, errno, "read-only", op->dest) : 0;
    }
    return fail(s, EINVAL, "unknown operation on", op->dest);
}

static int load_modules(struct setup *s)
{
    for (size_t i = 0; i < s->config->module_count; i++) {
        const char *path = s->config->modules[i];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fail(s, errno, "module: cannot read", path);
        int rc = (int)syscall(SYS_finit_module, fd, "", 0);
        int saved = errno;
        close(fd);
        if (rc < 0 && saved != EEXIST)
            return fail(s, saved, "module: cannot load", path);
    }
    return 0;
}

static int mount_shares(struct setup *s)
{
    for (size_t i = 0; i < s->config->share_count; i++) {
        const struct share *share = &s->config->shares[i];
        char dest[512], options[256];
        snprintf(dest, sizeof dest, SHARE_ROOT "/%s", share->tag);
        snprintf(options, sizeof options, "trans=virtio,version=9p2000.L,msize=262144,cache=%s",
                 share->cache);
        int dir = walk(dest, NODE_DIR, 0700);
        int rc = dir < 0 ? -1
                         : mount_on(dir, share->tag, "9p",
                                    MS_NOSUID | MS_NODEV | (share->readonly ? MS_RDONLY : 0),
                                    options);
        int saved = errno;
        if (dir >= 0)
            close(dir);
        if (rc < 0)
            return fail(s, saved, "9p share", share->tag);
    }
    return 0;
}

/* What the agent itself needs: /proc for paths through descriptors, /sys
 * to find the ports by name, devtmpfs (at /sbx/dev, detached later) to
 * open them. */
static int mount_for_agent(struct setup *s)
{
    static const struct {
        const char *path, *type;
    } mounts[] = {{"/proc", "proc"}, {"/sys", "sysfs"}, {AGENT_DEV, "devtmpfs"}};
    for (size_t i = 0; i < sizeof mounts / sizeof mounts[0]; i++) {
        if (mkdir(mounts[i].path, 0755) < 0 && errno != EEXIST)
            return fail(s, errno, "mkdir", mounts[i].path);
        if (mount(mounts[i].type, mounts[i].path, mounts[i].type, MS_NOSUID, NULL) < 0)
            return fail(s, errno, "mount", mounts[i].path);
    }
    return 0;
}

int setup_guest(const struct config *config, char *err, size_t err_len)
{
    struct setup s = {config, err, err_len};
    if (mount_for_agent(&s) < 0 || load_modules(&s) < 0 || mount_shares(&s) < 0)
        return -1;
    if (sethostname(config->hostname, strlen(config->hostname)) < 0)
        return fail(&s, errno, "sethostname", config->hostname);
    for (size_t i = 0; i < config->op_count; i++)
        if (apply(&s, &config->ops[i]) < 0)
            return -1;
    /* Every bind holds its own reference: the share roots can go. */
    for (size_t i = 0; i < config->share_count; i++) {
        char dest[512];
        snprintf(dest, sizeof dest, SHARE_ROOT "/%s", config->shares[i].tag);
        umount2(dest, MNT_DETACH);
    }
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        return fail(&s, errno, "making read-only", "/");
    return 0;
}
