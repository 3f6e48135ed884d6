/* Following a log file that grows, is truncated or is replaced, in bounded
 * memory: a fixed ring of its last bytes and of its last line starts.
 *
 * Positions count every byte the tailer has gone past since it opened,
 * across truncations and replacements, so a viewer that remembers the
 * position it reached resumes exactly there, with nothing sent twice. */
#ifndef SBX_TAIL_H
#define SBX_TAIL_H

#include <stddef.h>
#include <stdint.h>

struct sbx_tail;

struct sbx_tail_stats {
    uint64_t skipped;     /* bytes passed over without being kept */
    uint64_t truncations; /* the file got shorter than what was read */
    uint64_t rotations;   /* the path came to name another file */
};

/* PATH need not exist yet. CAPACITY bytes of text are kept, and no more
 * than MAX_LINES lines. A file already larger than CAPACITY is read from
 * the start of a line near its end. 0 or -errno. */
int sbx_tail_open(struct sbx_tail **out, const char *path, size_t capacity, size_t max_lines);
void sbx_tail_close(struct sbx_tail *tail);

/* Reads what was appended, up to about BUDGET bytes. Returns the number
 * of bytes the window advanced by (kept or skipped) and sets *MORE when
 * the file still holds unread bytes; or -errno. */
long sbx_tail_pump(struct sbx_tail *tail, size_t budget, int *more);

/* The window of kept bytes: [start, end). */
uint64_t sbx_tail_start(const struct sbx_tail *tail);
uint64_t sbx_tail_end(const struct sbx_tail *tail);

/* Copies the kept bytes from position FROM (raised to the start of the
 * window) to the end into OUT, at most OUT_SIZE. Returns the count and
 * sets *COPIED_FROM to where the copy began. */
size_t sbx_tail_copy(const struct sbx_tail *tail, uint64_t from, char *out, size_t out_size,
                     uint64_t *copied_from);

void sbx_tail_stats(const struct sbx_tail *tail, struct sbx_tail_stats *stats);

#endif
