/* The files compiled into the binary by tools/embed.c, sorted by path. */
#ifndef SBX_EMBEDDED_H
#define SBX_EMBEDDED_H

#include <stddef.h>

struct sbx_embedded_file {
    const char *path; /* repository-relative, e.g. "lua/sbx/cli.lua" */
    const char *data; /* NUL-terminated */
    size_t size;      /* without the NUL */
};

extern const struct sbx_embedded_file sbx_embedded_files[];
extern const unsigned sbx_embedded_count;

/* NULL when the path was not embedded. */
const struct sbx_embedded_file *sbx_embedded_find(const char *path);

#endif
