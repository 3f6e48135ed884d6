/* Small file helpers shared by the engine's families. */
#ifndef SBX_FILES_H
#define SBX_FILES_H

/* Writes TEXT to the existing file PATH in one write(2), as the kernel's
 * /proc control files (uid_map, setgroups) require. 0 or -errno.
 * Async-signal-safe. */
int sbx_write_control_file(const char *path, const char *text);

#endif
