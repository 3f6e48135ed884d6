/* Processes known by identity: a pid plus its start time (field 22 of
 * /proc/PID/stat), so that a pid reused after a process ended is never
 * mistaken for it. Shared by the sandbox executor and the manager. */
#ifndef SBX_PROCESS_H
#define SBX_PROCESS_H

#include <sys/types.h>

/* The start time of PID in clock ticks since boot. -ESRCH when there is
 * no such process or it has ended (a zombie waiting to be reaped). */
int sbx_process_start_time(pid_t pid, unsigned long long *start_time);

/* A pidfd for the process PID that started at START_TIME, still running;
 * -ESRCH when it is gone or the pid now names another process. Checking
 * after opening means the pidfd holds that very process. */
int sbx_process_open(pid_t pid, unsigned long long start_time);

/* The number of a signal named "term", "kill", "int", ...; -1 if unknown. */
int sbx_signal_number(const char *name);

/* Forks a watcher, detached from the caller (its own session; it outlives
 * the caller) that sends SIGTERM to VICTIM once WATCHED has ended; both
 * are pidfds, which the watcher keeps its own copies of. For helpers that
 * serve a sandbox from outside (pasta, the D-Bus proxy) and must end with
 * it even when the sbx that started them is gone. HELD, unless -1, is a
 * descriptor the watcher keeps open until then (xdg-dbus-proxy runs as long
 * as the other end of its --fd pipe is open). 0 or -errno. */
int sbx_process_end_with(int watched, int victim, int held);

#endif
