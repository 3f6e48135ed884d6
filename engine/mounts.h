/* Building a sandbox's file system in the child, from the plan's mount
 * operations. Runs after clone in the new mount namespace; allocates
 * nothing (the parent may have had other threads). */
#ifndef SBX_MOUNTS_H
#define SBX_MOUNTS_H

#include <stddef.h>

#include "plan.h"

/* Makes the new root: a tmpfs holding every operation of PLAN, applied in
 * order, with host paths resolved against the old root; then pivots into
 * it, drops the old root, and makes "/" read-only. On failure returns
 * -errno with a message in ERR (which operation, which path). */
int sbx_mounts_build_root(const struct sbx_plan *plan, char *err, size_t err_len);

#endif
