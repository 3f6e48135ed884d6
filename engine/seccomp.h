/* The sandbox's seccomp filter: classic BPF written by hand, denying a list
 * of system calls and of ioctl requests with EPERM. */
#ifndef SBX_SECCOMP_H
#define SBX_SECCOMP_H

#include <stddef.h>

#include <linux/filter.h>

/* -1 when the engine does not know the name (or this architecture lacks
 * the call). */
int sbx_seccomp_syscall_number(const char *name);

/* 0 and *request set, or -1 for an unknown name. */
int sbx_seccomp_ioctl_request(const char *name, unsigned long *request);

/* Builds the filter into PROG (its filter array is malloc'd; free it with
 * sbx_seccomp_free). The mandatory denials are always included. Requests
 * are compared on their low 32 bits, as the tty layer does, so a request
 * with high bits set cannot slip past. 0 or -errno. */
int sbx_seccomp_build(const int *syscalls, size_t syscall_count, const unsigned long *requests,
                      size_t request_count, struct sock_fprog *prog);

void sbx_seccomp_free(struct sock_fprog *prog);

/* For the calling thread and its future children; needs no_new_privs
 * (or CAP_SYS_ADMIN). 0 or -errno. Async-signal-safe. */
int sbx_seccomp_install(const struct sock_fprog *prog);

/* Denied whatever the plan says. */
extern const char *const sbx_seccomp_mandatory_syscalls[];
extern const char *const sbx_seccomp_mandatory_ioctls[];

#endif
