/* Taking away what a sandboxed process could use to gain privilege. */
#ifndef SBX_HARDEN_H
#define SBX_HARDEN_H

#include <linux/filter.h>

/* In order: root no longer gains capabilities by exec or setuid (locked
 * securebits), every capability dropped (bounding set, ambient, then
 * effective/permitted/inheritable), no_new_privs, then FILTER when not
 * NULL. 0 or -errno. Async-signal-safe: runs in forked children. */
int sbx_harden_process(const struct sock_fprog *filter);

#endif
