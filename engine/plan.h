/* A launch plan in C form (see docs/plan.md). Built from the Lua table in
 * the parent before clone; the child reads it and never allocates. */
#ifndef SBX_PLAN_H
#define SBX_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <linux/filter.h>
#include <lua.h>

enum sbx_mount_kind {
    SBX_MOUNT_BIND,
    SBX_MOUNT_DEV_BIND,
    SBX_MOUNT_TMPFS,
    SBX_MOUNT_PROC,
    SBX_MOUNT_DEV,
    SBX_MOUNT_DIR,
    SBX_MOUNT_SYMLINK,
    SBX_MOUNT_FILE,
    SBX_MOUNT_REMOUNT_RO,
};

struct sbx_mount_op {
    enum sbx_mount_kind kind;
    const char *source;   /* bind: host path */
    const char *dest;     /* inside the sandbox, absolute */
    const char *target;   /* symlink: what it points at */
    const char *contents; /* file: bytes to write, or NULL with fd */
    size_t contents_len;
    int fd;               /* file: copy from this descriptor, or -1 */
    unsigned mode;        /* dir, file, tmpfs; 0 for the default */
    const char *size;     /* tmpfs size= option, or NULL */
    bool readonly;
    bool skip_missing;    /* "try": a missing source is not an error */
    bool follow_symlinks; /* bind: resolve symlinks in source (host side) */
};

struct sbx_limit {
    int resource;
    rlim_t value;
};

enum sbx_terminal {
    SBX_TERMINAL_PTY,
    SBX_TERMINAL_STDIO,
};

#define SBX_PLAN_MAX_LIMITS 16

struct sbx_plan {
    int namespaces; /* CLONE_NEW* flags */
    uid_t uid_inside, uid_outside;
    gid_t gid_inside, gid_outside;
    bool has_id_maps; /* always in a full plan; a process plan may leave them out */
    const char *hostname;
    struct sbx_mount_op *mounts;
    size_t mount_count;
    char **env;  /* NULL-terminated */
    char **argv; /* NULL-terminated */
    const char *cwd;
    struct sock_fprog seccomp;
    struct sbx_limit limits[SBX_PLAN_MAX_LIMITS];
    size_t limit_count;
    enum sbx_terminal terminal;
    bool wait_for_all;    /* lifetime "all": until the last process, not the entry */
    bool die_with_parent; /* killed when the process that spawned it ends */

    /* Every allocation above, freed together. */
    void **allocations;
    size_t allocation_count, allocation_capacity;
};

/* Which parts of a plan sbx_plan_from_lua reads. */
enum sbx_plan_scope {
    SBX_PLAN_FULL,    /* a new sandbox */
    SBX_PLAN_PROCESS, /* joining one: env, cwd, argv, seccomp, limits, terminal, and the
                         ids inside (uid_map, gid_map) when given */
};

/* Reads and checks the plan table at INDEX. On failure returns -1 with a
 * message naming the bad field in ERR, having freed what it allocated.
 * Never raises a Lua error. */
int sbx_plan_from_lua(lua_State *L, int index, enum sbx_plan_scope scope, struct sbx_plan *plan,
                      char *err, size_t err_len);

void sbx_plan_free(struct sbx_plan *plan);

#endif
