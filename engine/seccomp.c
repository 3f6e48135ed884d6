#include "seccomp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <lauxlib.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <lua.h>

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
/* x32 system calls arrive with the native arch and this bit set in the
 * number; they have their own table, so they are refused wholesale. */
#define X32_SYSCALL_BIT 0x40000000u
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "sbx's seccomp filter knows x86_64 and aarch64"
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG1_LOW_OFFSET offsetof(struct seccomp_data, args[1])
#else
#define ARG1_LOW_OFFSET (offsetof(struct seccomp_data, args[1]) + 4)
#endif

const char *const sbx_seccomp_mandatory_syscalls[] = {"keyctl", "add_key", "request_key", NULL};
const char *const sbx_seccomp_mandatory_ioctls[] = {"TIOCSTI", "TIOCLINUX", NULL};

struct named_number {
    const char *name;
    long number;
};

#define SYSCALL(name) {#name, SYS_##name}

/* The calls a plan may deny: the escape helpers and the kernel surfaces a
 * coding agent has no business touching. A name missing here is refused,
 * so a typo in a plan cannot silently weaken a sandbox. */
static const struct named_number known_syscalls[] = {
    SYSCALL(keyctl), SYSCALL(add_key), SYSCALL(request_key),
    SYSCALL(ptrace), SYSCALL(process_vm_readv), SYSCALL(process_vm_writev),
    SYSCALL(open_by_handle_at), SYSCALL(name_to_handle_at),
    SYSCALL(kexec_load), SYSCALL(kexec_file_load),
    SYSCALL(init_module), SYSCALL(finit_module), SYSCALL(delete_module),
    SYSCALL(bpf), SYSCALL(perf_event_open), SYSCALL(userfaultfd),
    SYSCALL(acct), SYSCALL(swapon), SYSCALL(swapoff), SYSCALL(syslog),
    SYSCALL(quotactl), SYSCALL(reboot), SYSCALL(vhangup),
    SYSCALL(mount), SYSCALL(umount2), SYSCALL(pivot_root), SYSCALL(chroot),
    SYSCALL(fsopen), SYSCALL(fsconfig), SYSCALL(fsmount), SYSCALL(fspick),
    SYSCALL(move_mount), SYSCALL(open_tree), SYSCALL(mount_setattr),
    SYSCALL(setns), SYSCALL(unshare),
    SYSCALL(settimeofday), SYSCALL(clock_settime), SYSCALL(clock_adjtime),
    SYSCALL(adjtimex), SYSCALL(personality),
    SYSCALL(move_pages), SYSCALL(mbind), SYSCALL(migrate_pages),
    SYSCALL(set_mempolicy), SYSCALL(get_mempolicy),
    SYSCALL(io_uring_setup), SYSCALL(io_uring_enter), SYSCALL(io_uring_register),
#ifdef SYS_uselib
    SYSCALL(uselib),
#endif
#ifdef SYS_iopl
    SYSCALL(iopl), SYSCALL(ioperm),
#endif
#ifdef SYS_lookup_dcookie
    SYSCALL(lookup_dcookie),
#endif
#ifdef SYS_nfsservctl
    SYSCALL(nfsservctl),
#endif
};

static const struct named_number known_ioctls[] = {
    {"TIOCSTI", TIOCSTI},     /* push bytes into a terminal's input */
    {"TIOCLINUX", TIOCLINUX}, /* console selection paste, among others */
    {"TIOCSETD", TIOCSETD},   /* line disciplines: old kernel attack surface */
};

static long lookup(const struct named_number *table, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].number;
    return -1;
}

int sbx_seccomp_syscall_number(const char *name)
{
    return (int)lookup(known_syscalls, sizeof known_syscalls / sizeof known_syscalls[0], name);
}

int sbx_seccomp_ioctl_request(const char *name, unsigned long *request)
{
    long found = lookup(known_ioctls, sizeof known_ioctls / sizeof known_ioctls[0], name);
    if (found < 0)
        return -1;
    *request = (unsigned long)found;
    return 0;
}

/* Filter layout: check the arch; refuse x32; one compare per denied call,
 * jumping to the shared DENY; for ioctl, one compare per denied request on
 * the low word of its second argument; then ALLOW, then DENY. */
int sbx_seccomp_build(const int *syscalls, size_t syscall_count, const unsigned long *requests,
                      size_t request_count, struct sock_fprog *prog)
{
    size_t mandatory_syscalls = 0, mandatory_requests = 0;
    while (sbx_seccomp_mandatory_syscalls[mandatory_syscalls])
        mandatory_syscalls++;
    while (sbx_seccomp_mandatory_ioctls[mandatory_requests])
        mandatory_requests++;
    size_t total_syscalls = syscall_count + mandatory_syscalls;
    size_t total_requests = request_count + mandatory_requests;
    /* Jump offsets are 8 bits: keep every compare within reach of DENY. */
    if (total_syscalls + total_requests > 200)
        return -E2BIG;

    size_t capacity = 8 + total_syscalls + total_requests;
    struct sock_filter *code = calloc(capacity, sizeof *code);
    if (!code)
        return -ENOMEM;
    size_t n = 0;
    /* Positions of ALLOW and DENY, the last two instructions: after the
     * arch check (2), the number load (1), the x32 check, the compares, and
     * the ioctl test with its argument load (2). */
#if defined(X32_SYSCALL_BIT)
    const size_t header = 4;
#else
    const size_t header = 3;
#endif
    size_t allow = header + total_syscalls + 2 + total_requests;
    size_t deny = allow + 1;
#define JUMP_TO(target) ((unsigned char)((target) - n - 1))

    code[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             offsetof(struct seccomp_data, arch));
    code[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 0,
                                           JUMP_TO(deny));
    n++;
    code[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             offsetof(struct seccomp_data, nr));
#if defined(X32_SYSCALL_BIT)
    code[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT,
                                           JUMP_TO(deny), 0);
    n++;
#endif
    for (size_t i = 0; i < total_syscalls; i++) {
        int number = i < syscall_count
                         ? syscalls[i]
                         : sbx_seccomp_syscall_number(
                               sbx_seccomp_mandatory_syscalls[i - syscall_count]);
        code[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)number,
                                               JUMP_TO(deny), 0);
        n++;
    }
    code[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0,
                                           JUMP_TO(allow));
    n++;
    code[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG1_LOW_OFFSET);
    for (size_t i = 0; i < total_requests; i++) {
        unsigned long request = 0;
        if (i < request_count)
            request = requests[i];
        else
            sbx_seccomp_ioctl_request(sbx_seccomp_mandatory_ioctls[i - request_count], &request);
        code[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                               (unsigned)(request & 0xffffffffu), JUMP_TO(deny), 0);
        n++;
    }
#undef JUMP_TO
    if (n != allow) {
        free(code);
        return -EINVAL; /* the layout arithmetic above is wrong */
    }
    code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    prog->len = (unsigned short)n;
    prog->filter = code;
    return 0;
}

void sbx_seccomp_free(struct sock_fprog *prog)
{
    free(prog->filter);
    prog->filter = NULL;
    prog->len = 0;
}

int sbx_seccomp_install(const struct sock_fprog *prog)
{
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0)
        return -errno;
    return 0;
}

/* ---- Lua binding: require "sbx.seccomp" (names, for backends and tests) ---- */

static void push_names(lua_State *L, const struct named_number *table, size_t count)
{
    lua_createtable(L, (int)count, 0);
    for (size_t i = 0; i < count; i++) {
        lua_pushstring(L, table[i].name);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static void push_list(lua_State *L, const char *const *names)
{
    lua_newtable(L);
    for (int i = 0; names[i]; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

int luaopen_sbx_seccomp(lua_State *L);
int luaopen_sbx_seccomp(lua_State *L)
{
    lua_newtable(L);
    push_names(L, known_syscalls, sizeof known_syscalls / sizeof known_syscalls[0]);
    lua_setfield(L, -2, "known_syscalls");
    push_names(L, known_ioctls, sizeof known_ioctls / sizeof known_ioctls[0]);
    lua_setfield(L, -2, "known_ioctls");
    push_list(L, sbx_seccomp_mandatory_syscalls);
    lua_setfield(L, -2, "mandatory_syscalls");
    push_list(L, sbx_seccomp_mandatory_ioctls);
    lua_setfield(L, -2, "mandatory_ioctls");
    return 1;
}
