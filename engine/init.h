/* Inside a sandbox: the supervisor (PID 1, or the outside half of an
 * `enter`) and the entry process it starts. No allocation: these run in
 * children of a process that may have had other threads. */
#ifndef SBX_INIT_H
#define SBX_INIT_H

#include <sys/types.h>

#include "plan.h"

/* In the entry child: its own session (with PTY_SLAVE as controlling
 * terminal when >= 0), the plan's cwd, limits and hardening, then exec of
 * argv searched on the plan's PATH. Never returns; 127 when the exec
 * fails, with a message on stderr. */
void sbx_init_exec_entry(const struct sbx_plan *plan, int pty_slave) __attribute__((noreturn));

/* What the supervisor calls itself (/proc/PID/comm) once its entry has
 * ended and it waits for the rest (WAIT_FOR_ALL). */
#define SBX_INIT_ENTRY_DONE_NAME "sbx-entry-done"

/* Forwards termination signals to ENTRY's process group and reaps every
 * child. Exits with the entry's status (128 + signal when killed) once the
 * entry has ended, or, with WAIT_FOR_ALL, once no child is left. SIGNALS
 * must already be blocked (sbx_init_block_signals) so none is lost between
 * the fork and this loop. */
void sbx_init_supervise(pid_t entry, int wait_for_all) __attribute__((noreturn));

/* Blocks the signals the supervisor waits for; returns the old mask in
 * OLD for the entry to restore. */
void sbx_init_block_signals(void *old_mask);

/* Restores OLD (from sbx_init_block_signals) and default dispositions. */
void sbx_init_restore_signals(const void *old_mask);

#endif
