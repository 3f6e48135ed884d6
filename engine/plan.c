/* Reading a launch plan from Lua into C, checking every field on the way:
 * a typo or a wrong type is an error, never a silently weaker sandbox. */
#include "plan.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "seccomp.h"

/* Namespaces every sandbox has; "net" is the plan's choice. */
#define MANDATORY_NAMESPACES \
    (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

struct reader {
    lua_State *L;
    struct sbx_plan *plan;
    char *err;
    size_t err_len;
    int failed;
};

static void fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct reader *r, const char *fmt, ...)
{
    if (r->failed)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(r->err, r->err_len, fmt, args);
    va_end(args);
    r->failed = 1;
}

static void *remember(struct reader *r, void *allocation)
{
    struct sbx_plan *plan = r->plan;
    if (!allocation) {
        fail(r, "out of memory");
        return NULL;
    }
    if (plan->allocation_count == plan->allocation_capacity) {
        size_t capacity = plan->allocation_capacity ? plan->allocation_capacity * 2 : 32;
        void **bigger = realloc(plan->allocations, capacity * sizeof *bigger);
        if (!bigger) {
            free(allocation);
            fail(r, "out of memory");
            return NULL;
        }
        plan->allocations = bigger;
        plan->allocation_capacity = capacity;
    }
    plan->allocations[plan->allocation_count++] = allocation;
    return allocation;
}

static char *copy_bytes(struct reader *r, const char *bytes, size_t len)
{
    char *copy = remember(r, malloc(len + 1));
    if (copy) {
        memcpy(copy, bytes, len);
        copy[len] = '\0';
    }
    return copy;
}

/* The keys a table may have; anything else is a mistake worth reporting. */
static void refuse_unknown_keys(struct reader *r, int index, const char *what,
                                const char *const *allowed)
{
    lua_State *L = r->L;
    index = lua_absindex(L, index);
    lua_pushnil(L);
    while (!r->failed && lua_next(L, index)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            fail(r, "%s has a non-string key", what);
            break;
        }
        const char *key = lua_tostring(L, -1);
        int known = 0;
        for (int i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                known = 1;
        if (!known)
            fail(r, "%s has an unknown field '%s'", what, key);
    }
    if (r->failed)
        lua_pop(L, 1); /* the key lua_next left */
}

/* Pushes t[key]; type-checks it (LUA_TNIL allowed when optional). Returns
 * 1 when present and of the right type. Leaves one value pushed either way. */
static int field(struct reader *r, int table, const char *where, const char *key, int type,
                 int optional)
{
    lua_getfield(r->L, table, key);
    int actual = lua_type(r->L, -1);
    if (actual == LUA_TNIL) {
        if (!optional)
            fail(r, "%s.%s is missing", where, key);
        return 0;
    }
    if (actual != type) {
        fail(r, "%s.%s must be a %s, not a %s", where, key, lua_typename(r->L, type),
             lua_typename(r->L, actual));
        return 0;
    }
    return 1;
}

static const char *string_field(struct reader *r, int table, const char *where, const char *key,
                                int optional)
{
    const char *value = NULL;
    if (field(r, table, where, key, LUA_TSTRING, optional)) {
        size_t len;
        const char *text = lua_tolstring(r->L, -1, &len);
        if (strlen(text) != len)
            fail(r, "%s.%s contains a NUL byte", where, key);
        else
            value = copy_bytes(r, text, len);
    }
    lua_pop(r->L, 1);
    return value;
}

static int boolean_field(struct reader *r, int table, const char *where, const char *key)
{
    int value = 0;
    if (field(r, table, where, key, LUA_TBOOLEAN, 1))
        value = lua_toboolean(r->L, -1);
    lua_pop(r->L, 1);
    return value;
}

static lua_Integer integer_field(struct reader *r, int table, const char *where, const char *key,
                                 lua_Integer fallback, int optional)
{
    lua_Integer value = fallback;
    if (field(r, table, where, key, LUA_TNUMBER, optional)) {
        int is_integer;
        value = lua_tointegerx(r->L, -1, &is_integer);
        if (!is_integer)
            fail(r, "%s.%s must be an integer", where, key);
    }
    lua_pop(r->L, 1);
    return value;
}

/* Absolute, no empty, "." or ".." component: a path means what it says. */
static int is_clean_absolute_path(const char *path)
{
    if (path[0] != '/')
        return 0;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += len;
    }
    return strlen(path) < 4096;
}

static const char *path_field(struct reader *r, int table, const char *where, const char *key,
                              int optional)
{
    const char *path = string_field(r, table, where, key, optional);
    if (path && !is_clean_absolute_path(path)) {
        fail(r, "%s.%s must be an absolute path without '.' or '..' components: '%s'", where, key,
             path);
        return NULL;
    }
    return path;
}

/* A list of strings at t[key] as a NULL-terminated array. */
static char **string_list(struct reader *r, int table, const char *where, const char *key,
                          int optional, size_t *count_out)
{
    char **list = NULL;
    size_t count = 0;
    if (field(r, table, where, key, LUA_TTABLE, optional)) {
        lua_State *L = r->L;
        int list_index = lua_gettop(L);
        count = (size_t)lua_rawlen(L, list_index);
        list = remember(r, calloc(count + 1, sizeof *list));
        for (size_t i = 0; list && i < count && !r->failed; i++) {
            lua_rawgeti(L, list_index, (lua_Integer)i + 1);
            size_t len;
            const char *text = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
            if (!text || strlen(text) != len)
                fail(r, "%s.%s[%zu] must be a string without NUL bytes", where, key, i + 1);
            else
                list[i] = copy_bytes(r, text, len);
            lua_pop(L, 1);
        }
    }
    lua_pop(r->L, 1);
    if (count_out)
        *count_out = count;
    return list;
}

static unsigned parse_mode(struct reader *r, const char *where, const char *text)
{
    char *end;
    unsigned long mode = strtoul(text, &end, 8);
    if (*text == '\0' || *end != '\0' || mode > 07777) {
        fail(r, "%s.mode must be an octal string such as \"0755\", not '%s'", where, text);
        return 0;
    }
    return (unsigned)mode;
}

static const struct {
    const char *name;
    enum sbx_mount_kind kind;
} mount_kinds[] = {
    {"bind", SBX_MOUNT_BIND},       {"dev-bind", SBX_MOUNT_DEV_BIND},
    {"tmpfs", SBX_MOUNT_TMPFS},     {"proc", SBX_MOUNT_PROC},
    {"dev", SBX_MOUNT_DEV},         {"dir", SBX_MOUNT_DIR},
    {"symlink", SBX_MOUNT_SYMLINK}, {"file", SBX_MOUNT_FILE},
    {"remount-ro", SBX_MOUNT_REMOUNT_RO},
};

static void read_mount(struct reader *r, int table, size_t position, struct sbx_mount_op *op)
{
    static const char *const allowed[] = {"op",   "source", "dest",     "target",
                                          "contents", "fd", "mode",     "size",
                                          "readonly", "try", "follow_symlinks", NULL};
    char where[48];
    snprintf(where, sizeof where, "mounts[%zu]", position);
    refuse_unknown_keys(r, table, where, allowed);
    const char *kind = string_field(r, table, where, "op", 0);
    if (!kind)
        return;
    size_t i;
    for (i = 0; i < sizeof mount_kinds / sizeof mount_kinds[0]; i++)
        if (strcmp(kind, mount_kinds[i].name) == 0)
            break;
    if (i == sizeof mount_kinds / sizeof mount_kinds[0]) {
        fail(r, "%s.op '%s' is not one of bind, dev-bind, tmpfs, proc, dev, dir, symlink, file, "
                "remount-ro",
             where, kind);
        return;
    }
    op->kind = mount_kinds[i].kind;
    op->fd = -1;
    op->dest = path_field(r, table, where, "dest", 0);
    op->readonly = boolean_field(r, table, where, "readonly");
    op->skip_missing = boolean_field(r, table, where, "try");
    op->follow_symlinks = boolean_field(r, table, where, "follow_symlinks");
    const char *mode = string_field(r, table, where, "mode", 1);
    if (mode)
        op->mode = parse_mode(r, where, mode);
    op->size = string_field(r, table, where, "size", 1);
    if (op->size && strspn(op->size, "0123456789kmgKMG%") != strlen(op->size))
        fail(r, "%s.size '%s' must be a number with an optional k/m/g or %% suffix", where,
             op->size);

    int is_bind = op->kind == SBX_MOUNT_BIND || op->kind == SBX_MOUNT_DEV_BIND;
    op->source = path_field(r, table, where, "source", !is_bind);
    if (op->source && !is_bind)
        fail(r, "%s.source only goes with bind and dev-bind", where);
    op->target = string_field(r, table, where, "target", op->kind != SBX_MOUNT_SYMLINK);
    if (op->target && op->kind != SBX_MOUNT_SYMLINK)
        fail(r, "%s.target only goes with symlink", where);

    if (field(r, table, where, "contents", LUA_TSTRING, 1)) {
        size_t len;
        const char *bytes = lua_tolstring(r->L, -1, &len);
        op->contents = copy_bytes(r, bytes, len);
        op->contents_len = len;
    }
    lua_pop(r->L, 1);
    op->fd = (int)integer_field(r, table, where, "fd", -1, 1);
    if (op->kind == SBX_MOUNT_FILE && !op->contents && op->fd < 0)
        fail(r, "%s: a file needs contents or fd", where);
    if (op->kind != SBX_MOUNT_FILE && (op->contents || op->fd >= 0))
        fail(r, "%s: contents and fd only go with file", where);
    if (op->contents && op->fd >= 0)
        fail(r, "%s: give contents or fd, not both", where);
}

static void read_mounts(struct reader *r, int plan_index)
{
    struct sbx_plan *plan = r->plan;
    if (!field(r, plan_index, "plan", "mounts", LUA_TTABLE, 0)) {
        lua_pop(r->L, 1);
        return;
    }
    int list = lua_gettop(r->L);
    plan->mount_count = (size_t)lua_rawlen(r->L, list);
    plan->mounts = remember(r, calloc(plan->mount_count + 1, sizeof *plan->mounts));
    for (size_t i = 0; plan->mounts && i < plan->mount_count && !r->failed; i++) {
        lua_rawgeti(r->L, list, (lua_Integer)i + 1);
        if (lua_type(r->L, -1) != LUA_TTABLE)
            fail(r, "mounts[%zu] must be a table", i + 1);
        else
            read_mount(r, lua_gettop(r->L), i + 1, &plan->mounts[i]);
        lua_pop(r->L, 1);
    }
    lua_pop(r->L, 1);
}

static void read_namespaces(struct reader *r, int plan_index)
{
    static const struct {
        const char *name;
        int flag;
    } names[] = {
        {"user", CLONE_NEWUSER}, {"mount", CLONE_NEWNS}, {"pid", CLONE_NEWPID},
        {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS},  {"cgroup", CLONE_NEWCGROUP},
        {"net", CLONE_NEWNET},
    };
    size_t count;
    char **list = string_list(r, plan_index, "plan", "namespaces", 0, &count);
    for (size_t i = 0; list && i < count && !r->failed; i++) {
        size_t j;
        for (j = 0; j < sizeof names / sizeof names[0]; j++)
            if (strcmp(list[i], names[j].name) == 0)
                break;
        if (j == sizeof names / sizeof names[0])
            fail(r, "plan.namespaces: unknown namespace '%s'", list[i]);
        else
            r->plan->namespaces |= names[j].flag;
    }
    if (!r->failed && (r->plan->namespaces & MANDATORY_NAMESPACES) != MANDATORY_NAMESPACES)
        fail(r, "plan.namespaces must include user, mount, pid, ipc, uts and cgroup");
}

/* 1 when the map was there, 0 when it was not (an OPTIONAL one). */
static int read_id_map(struct reader *r, int plan_index, const char *key, unsigned *inside,
                       unsigned *outside, int optional)
{
    int present = field(r, plan_index, "plan", key, LUA_TTABLE, optional);
    if (present) {
        static const char *const allowed[] = {"inside", "outside", NULL};
        int map = lua_gettop(r->L);
        char where[16];
        snprintf(where, sizeof where, "%s", key);
        refuse_unknown_keys(r, map, where, allowed);
        lua_Integer in = integer_field(r, map, where, "inside", 0, 0);
        lua_Integer out = integer_field(r, map, where, "outside", 0, 0);
        if (in < 0 || out < 0 || in > 0xfffffffe || out > 0xfffffffe)
            fail(r, "plan.%s ids must be between 0 and 4294967294", key);
        *inside = (unsigned)in;
        *outside = (unsigned)out;
    }
    lua_pop(r->L, 1);
    return present;
}

static void read_env(struct reader *r, int plan_index)
{
    size_t count;
    r->plan->env = string_list(r, plan_index, "plan", "env", 0, &count);
    for (size_t i = 0; r->plan->env && i < count && !r->failed; i++) {
        const char *entry = r->plan->env[i];
        size_t name_len = strcspn(entry, "=");
        if (entry[name_len] != '=' || name_len == 0)
            fail(r, "plan.env[%zu] must be NAME=value: '%s'", i + 1, entry);
    }
}

static void read_seccomp(struct reader *r, int plan_index)
{
    int syscalls[256];
    unsigned long requests[64];
    size_t syscall_count = 0, request_count = 0;
    if (field(r, plan_index, "plan", "seccomp", LUA_TTABLE, 0)) {
        static const char *const allowed[] = {"syscalls", "ioctls", NULL};
        int table = lua_gettop(r->L);
        refuse_unknown_keys(r, table, "seccomp", allowed);
        size_t count;
        char **names = string_list(r, table, "seccomp", "syscalls", 1, &count);
        for (size_t i = 0; names && i < count && !r->failed; i++) {
            int number = sbx_seccomp_syscall_number(names[i]);
            if (number < 0)
                fail(r, "seccomp.syscalls: unknown system call '%s'", names[i]);
            else if (syscall_count < sizeof syscalls / sizeof syscalls[0])
                syscalls[syscall_count++] = number;
        }
        names = string_list(r, table, "seccomp", "ioctls", 1, &count);
        for (size_t i = 0; names && i < count && !r->failed; i++) {
            if (sbx_seccomp_ioctl_request(names[i], &requests[request_count]) < 0)
                fail(r, "seccomp.ioctls: unknown ioctl '%s'", names[i]);
            else if (request_count < sizeof requests / sizeof requests[0] - 1)
                request_count++;
        }
    }
    lua_pop(r->L, 1);
    if (r->failed)
        return;
    int rc = sbx_seccomp_build(syscalls, syscall_count, requests, request_count,
                               &r->plan->seccomp);
    if (rc < 0)
        fail(r, "seccomp: cannot build the filter: %s", strerror(-rc));
    else
        remember(r, r->plan->seccomp.filter);
}

static void read_limits(struct reader *r, int plan_index)
{
    static const struct {
        const char *name;
        int resource;
    } names[] = {
        {"core", RLIMIT_CORE},   {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC},
        {"as", RLIMIT_AS},       {"fsize", RLIMIT_FSIZE},   {"cpu", RLIMIT_CPU},
        {"stack", RLIMIT_STACK}, {"data", RLIMIT_DATA},     {"memlock", RLIMIT_MEMLOCK},
    };
    if (field(r, plan_index, "plan", "limits", LUA_TTABLE, 1)) {
        int table = lua_gettop(r->L);
        lua_pushnil(r->L);
        while (!r->failed && lua_next(r->L, table)) {
            const char *name = lua_type(r->L, -2) == LUA_TSTRING ? lua_tostring(r->L, -2) : "?";
            size_t j;
            for (j = 0; j < sizeof names / sizeof names[0]; j++)
                if (strcmp(name, names[j].name) == 0)
                    break;
            int is_integer;
            lua_Integer value = lua_tointegerx(r->L, -1, &is_integer);
            if (j == sizeof names / sizeof names[0])
                fail(r, "plan.limits: unknown limit '%s'", name);
            else if (!is_integer || value < 0)
                fail(r, "plan.limits.%s must be a non-negative integer", name);
            else if (r->plan->limit_count == SBX_PLAN_MAX_LIMITS)
                fail(r, "plan.limits: too many limits");
            else
                r->plan->limits[r->plan->limit_count++] =
                    (struct sbx_limit){names[j].resource, (rlim_t)value};
            lua_pop(r->L, 1);
        }
        if (r->failed)
            lua_pop(r->L, 1);
    }
    lua_pop(r->L, 1);
}

static void read_process_fields(struct reader *r, int plan_index)
{
    read_env(r, plan_index);
    r->plan->cwd = path_field(r, plan_index, "plan", "cwd", 0);
    size_t argc;
    r->plan->argv = string_list(r, plan_index, "plan", "argv", 0, &argc);
    if (!r->failed && argc == 0)
        fail(r, "plan.argv must not be empty");
    read_limits(r, plan_index);
    const char *terminal = string_field(r, plan_index, "plan", "terminal", 0);
    if (terminal && strcmp(terminal, "pty") == 0)
        r->plan->terminal = SBX_TERMINAL_PTY;
    else if (terminal && strcmp(terminal, "stdio") == 0)
        r->plan->terminal = SBX_TERMINAL_STDIO;
    else if (terminal)
        fail(r, "plan.terminal must be \"pty\" or \"stdio\", not '%s'", terminal);
    const char *lifetime = string_field(r, plan_index, "plan", "lifetime", 1);
    if (lifetime && strcmp(lifetime, "all") == 0)
        r->plan->wait_for_all = true;
    else if (lifetime && strcmp(lifetime, "entry") != 0)
        fail(r, "plan.lifetime must be \"entry\" or \"all\", not '%s'", lifetime);
    read_seccomp(r, plan_index);
}

int sbx_plan_from_lua(lua_State *L, int index, enum sbx_plan_scope scope, struct sbx_plan *plan,
                      char *err, size_t err_len)
{
    static const char *const allowed[] = {"backend", "namespaces", "uid_map", "gid_map",
                                          "hostname", "mounts", "env", "cwd", "argv",
                                          "seccomp", "limits", "terminal", "lifetime",
                                          "die_with_parent", "network", NULL};
    memset(plan, 0, sizeof *plan);
    struct reader r = {L, plan, err, err_len, 0};
    index = lua_absindex(L, index);
    if (lua_type(L, index) != LUA_TTABLE) {
        snprintf(err, err_len, "the plan must be a table");
        return -1;
    }
    lua_checkstack(L, 16);
    refuse_unknown_keys(&r, index, "plan", allowed);
    if (scope == SBX_PLAN_FULL && !r.failed) {
        read_namespaces(&r, index);
        read_id_map(&r, index, "uid_map", &plan->uid_inside, &plan->uid_outside, 0);
        read_id_map(&r, index, "gid_map", &plan->gid_inside, &plan->gid_outside, 0);
        plan->has_id_maps = !r.failed;
        plan->hostname = string_field(&r, index, "plan", "hostname", 0);
        plan->die_with_parent = true;
        if (field(&r, index, "plan", "die_with_parent", LUA_TBOOLEAN, 1))
            plan->die_with_parent = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (plan->hostname && strlen(plan->hostname) > 64)
            fail(&r, "plan.hostname is longer than 64 bytes");
        read_mounts(&r, index);
    }
    if (scope == SBX_PLAN_PROCESS && !r.failed) {
        /* Who the process is inside, when the plan says (both or neither). */
        int uid = read_id_map(&r, index, "uid_map", &plan->uid_inside, &plan->uid_outside, 1);
        int gid = read_id_map(&r, index, "gid_map", &plan->gid_inside, &plan->gid_outside, 1);
        if (uid != gid && !r.failed)
            fail(&r, "plan.uid_map and plan.gid_map go together");
        plan->has_id_maps = uid && gid && !r.failed;
    }
    if (!r.failed)
        read_process_fields(&r, index);
    if (r.failed) {
        sbx_plan_free(plan);
        return -1;
    }
    return 0;
}

void sbx_plan_free(struct sbx_plan *plan)
{
    for (size_t i = 0; i < plan->allocation_count; i++)
        free(plan->allocations[i]);
    free(plan->allocations);
    memset(plan, 0, sizeof *plan);
}
