/* The log tailer: appends, partial lines, the line and byte bounds,
 * truncation, rotation, a huge file, raw bytes and resuming. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tail.h"
#include "tap.h"

static char dir[] = "/tmp/sbx-test-tail-XXXXXX";
static char path[128];

static void write_text(const char *text, size_t len, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | flags, 0600);
    if (write(fd, text, len) != (ssize_t)len)
        perror("write");
    close(fd);
}

static void append_text(const char *text)
{
    write_text(text, strlen(text), O_APPEND);
}

/* The window's bytes from FROM, as a NUL-terminated static string. */
static const char *window_from(struct sbx_tail *tail, uint64_t from)
{
    static char out[1 << 16];
    uint64_t copied_from;
    size_t n = sbx_tail_copy(tail, from, out, sizeof out - 1, &copied_from);
    out[n] = '\0';
    return out;
}

static long pump(struct sbx_tail *tail)
{
    int more;
    return sbx_tail_pump(tail, 1 << 30, &more);
}

static void test_follow(void)
{
    struct sbx_tail *tail;
    ok(sbx_tail_open(&tail, path, 4096, 1000) == 0, "a tailer opens on a path that does not exist yet");
    ok(pump(tail) == 0 && sbx_tail_end(tail) == 0, "a missing file gives nothing, no error");

    append_text("first line\npartial");
    ok(pump(tail) == 18, "the file appears and is read from its start");
    ok(strcmp(window_from(tail, 0), "first line\npartial") == 0,
       "a line without its newline yet is delivered");
    append_text(" done\n");
    ok(pump(tail) == 6 && strcmp(window_from(tail, 18), " done\n") == 0,
       "resuming at a position gives exactly what came after it");
    ok(pump(tail) == 0, "nothing new, nothing read");

    const char raw[] = "\x1b[31mred\x1b[0m \xff\xfe bad utf-8 \x00 nul\r\n";
    uint64_t before = sbx_tail_end(tail);
    write_text(raw, sizeof raw - 1, O_APPEND);
    pump(tail);
    uint64_t copied_from;
    char out[128];
    size_t n = sbx_tail_copy(tail, before, out, sizeof out, &copied_from);
    ok(n == sizeof raw - 1 && memcmp(out, raw, n) == 0,
       "escape sequences, invalid UTF-8 and NUL bytes pass through unchanged");

    uint64_t end = sbx_tail_end(tail);
    ok(truncate(path, 0) == 0, "truncate the log");
    append_text("after truncation\n");
    struct sbx_tail_stats stats;
    ok(pump(tail) == 17, "after a truncation the new contents are read from the start");
    sbx_tail_stats(tail, &stats);
    ok(stats.truncations == 1 && strcmp(window_from(tail, end), "after truncation\n") == 0,
       "the truncation is counted and positions go on increasing");

    char rotated[160];
    snprintf(rotated, sizeof rotated, "%s.1", path);
    append_text("last words of the old file\n");
    rename(path, rotated);
    end = sbx_tail_end(tail);
    append_text("a fresh file\n");
    pump(tail);
    sbx_tail_stats(tail, &stats);
    ok(strcmp(window_from(tail, end), "last words of the old file\na fresh file\n") == 0,
       "on rotation the old file is finished, then the new one read");
    ok(stats.rotations == 1, "the rotation is counted");

    unlink(path);
    end = sbx_tail_end(tail);
    ok(pump(tail) == 0 && sbx_tail_end(tail) == end, "a deleted log is waited for");
    append_text("recreated\n");
    ok(pump(tail) == 10 && strcmp(window_from(tail, end), "recreated\n") == 0,
       "a recreated log is followed");
    unlink(rotated);
    sbx_tail_close(tail);
    unlink(path);
}

static void test_bounds(void)
{
    struct sbx_tail *tail;
    sbx_tail_open(&tail, path, 64, 3);
    append_text("1\n2\n3\n4\n5\n");
    pump(tail);
    ok(strcmp(window_from(tail, 0), "4\n5\n") == 0,
       "only the last lines are kept (3 line starts: 4, 5 and the empty next one)");
    for (int i = 0; i < 20; i++)
        append_text("0123456789");
    pump(tail);
    const char *window = window_from(tail, 0);
    ok(strlen(window) == 64 && sbx_tail_end(tail) - sbx_tail_start(tail) == 64,
       "a line longer than the ring keeps the last bytes only");
    sbx_tail_close(tail);
    unlink(path);

    sbx_tail_open(&tail, path, 1 << 20, 1000);
    char block[1 << 16];
    memset(block, 'x', sizeof block);
    for (int i = 0; i < 16; i++)
        write_text(block, sizeof block, O_APPEND);
    int more;
    long advanced = sbx_tail_pump(tail, 100000, &more);
    ok(advanced > 0 && more == 1, "a pump stops at its budget and says there is more");
    while (more)
        sbx_tail_pump(tail, 100000, &more);
    ok(sbx_tail_end(tail) == 16u << 16, "further pumps reach the end");
    sbx_tail_close(tail);
    unlink(path);
}

static void test_huge_file(void)
{
    /* A sparse 1 GiB log: only its tail may be read. */
    const off_t zeros = ((off_t)1 << 30) - 4000;
    static char tail_text[101 + 4000];
    memset(tail_text, 'c', 100); /* the skip lands inside this line */
    tail_text[100] = '\n';
    char *filler = tail_text + 101;
    for (int i = 0; i < 4000; i++)
        filler[i] = i % 16 == 15 ? '\n' : (char)('a' + i % 16);
    const uint64_t size = (uint64_t)zeros + sizeof tail_text;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ok(ftruncate(fd, zeros) == 0, "a sparse 1 GiB log");
    ok(pwrite(fd, tail_text, sizeof tail_text, zeros) > 0, "with lines at its end");
    close(fd);

    struct sbx_tail *tail;
    sbx_tail_open(&tail, path, 4096, 1000);
    int more;
    long advanced = sbx_tail_pump(tail, 1 << 20, &more);
    struct sbx_tail_stats stats;
    sbx_tail_stats(tail, &stats);
    ok(advanced > 0 && more == 0 && stats.skipped >= size - 4096,
       "the tailer starts near the end of a huge file without reading it");
    const char *window = window_from(tail, 0);
    ok(strlen(window) == 4000 && memcmp(window, filler, 4000) == 0,
       "the window starts at a line start");
    ok(sbx_tail_end(tail) == size, "positions count the skipped bytes");
    sbx_tail_close(tail);
    unlink(path);

    /* Opening a large log that ends on a line start keeps the last line. */
    char lines[8192];
    for (size_t i = 0; i < sizeof lines; i++)
        lines[i] = (i % 8 == 7) ? '\n' : 'a' + (char)(i % 8);
    write_text(lines, sizeof lines, O_TRUNC);
    sbx_tail_open(&tail, path, 4096, 1000);
    pump(tail);
    window = window_from(tail, 0);
    ok(strlen(window) == 4096 && strncmp(window, "abcdefg\n", 8) == 0,
       "a skip that lands on a line start keeps that line");
    sbx_tail_close(tail);
    unlink(path);
}

static void test_refusals(void)
{
    struct sbx_tail *tail;
    ok(sbx_tail_open(&tail, path, 0, 10) == -EINVAL, "a zero capacity is refused");
    ok(sbx_tail_open(&tail, "", 10, 10) == -EINVAL, "an empty path is refused");
    sbx_tail_open(&tail, dir, 64, 10);
    ok(pump(tail) == -EINVAL, "a directory is not a log");
    sbx_tail_close(tail);
    mkfifo(path, 0600);
    sbx_tail_open(&tail, path, 64, 10);
    ok(pump(tail) == -EINVAL, "a FIFO is not a log and does not block");
    sbx_tail_close(tail);
    sbx_tail_close(NULL);
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/box.log", dir);
    test_follow();
    test_bounds();
    test_huge_file();
    test_refusals();
    rmdir(dir);
    return done_testing();
}
