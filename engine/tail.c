/* The log tailer: see tail.h. The owner decides when to pump (the manager
 * pumps when inotify, through the loop's fs events, says the directory
 * changed); a pump never blocks and never reads more than its budget. */
#include "tail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua_class.h"

#define READ_CHUNK 65536
/* Looking for the first line start after a skip gives up after this many
 * bytes: a file may have no newline at all. */
#define LINE_SYNC_LIMIT 65536

struct sbx_tail {
    char *path;
    int fd;
    dev_t dev;
    ino_t ino;
    uint64_t offset; /* in the open file */
    int opened_before;
    int syncing; /* dropping bytes until the next line start */
    uint64_t sync_dropped;

    char *ring;
    size_t capacity;
    uint64_t end;       /* position just past the newest byte */
    uint64_t kept_from; /* no byte before this is in the ring */

    uint64_t *line_starts; /* circular, the most recent max_lines */
    size_t max_lines, line_count, line_next;

    struct sbx_tail_stats stats;
    char chunk[READ_CHUNK];
};

int sbx_tail_open(struct sbx_tail **out, const char *path, size_t capacity, size_t max_lines)
{
    *out = NULL;
    if (capacity == 0 || max_lines == 0 || !path || !*path)
        return -EINVAL;
    struct sbx_tail *tail = calloc(1, sizeof *tail);
    if (!tail)
        return -ENOMEM;
    tail->fd = -1;
    tail->capacity = capacity;
    tail->max_lines = max_lines;
    tail->path = strdup(path);
    tail->ring = malloc(capacity);
    tail->line_starts = malloc(max_lines * sizeof *tail->line_starts);
    if (!tail->path || !tail->ring || !tail->line_starts) {
        sbx_tail_close(tail);
        return -ENOMEM;
    }
    *out = tail;
    return 0;
}

void sbx_tail_close(struct sbx_tail *tail)
{
    if (!tail)
        return;
    if (tail->fd >= 0)
        close(tail->fd);
    free(tail->path);
    free(tail->ring);
    free(tail->line_starts);
    free(tail);
}

uint64_t sbx_tail_end(const struct sbx_tail *tail)
{
    return tail->end;
}

uint64_t sbx_tail_start(const struct sbx_tail *tail)
{
    uint64_t start = tail->kept_from;
    if (tail->end - start > tail->capacity)
        start = tail->end - tail->capacity;
    if (tail->line_count == tail->max_lines) {
        uint64_t oldest_line = tail->line_starts[tail->line_next];
        if (oldest_line > start)
            start = oldest_line;
    }
    return start;
}

void sbx_tail_stats(const struct sbx_tail *tail, struct sbx_tail_stats *stats)
{
    *stats = tail->stats;
}

static void record_line_start(struct sbx_tail *tail, uint64_t position)
{
    tail->line_starts[tail->line_next] = position;
    tail->line_next = (tail->line_next + 1) % tail->max_lines;
    if (tail->line_count < tail->max_lines)
        tail->line_count++;
}

static void skip_bytes(struct sbx_tail *tail, uint64_t count)
{
    tail->end += count;
    tail->kept_from = tail->end;
    tail->stats.skipped += count;
}

static void append(struct sbx_tail *tail, const char *data, size_t size)
{
    if (tail->syncing) {
        /* The bytes stay in the ring either way; a newline close enough
         * moves the window's start just past it. */
        size_t limit = tail->capacity / 2 < LINE_SYNC_LIMIT ? tail->capacity / 2 : LINE_SYNC_LIMIT;
        const char *newline = memchr(data, '\n', size);
        size_t distance = newline ? (size_t)(newline - data) + 1 : size;
        if (newline && tail->sync_dropped + distance <= limit) {
            tail->kept_from = tail->end + distance;
            tail->stats.skipped += distance;
            tail->syncing = 0;
        } else if (newline || tail->sync_dropped + distance > limit) {
            tail->syncing = 0;
        }
        tail->sync_dropped += distance;
    }
    /* Only the last CAPACITY bytes of a large append can survive. */
    if (size > tail->capacity) {
        size_t excess = size - tail->capacity;
        for (size_t i = 0; i < excess; i++)
            if (data[i] == '\n')
                record_line_start(tail, tail->end + i + 1);
        tail->end += excess;
        data += excess, size -= excess;
    }
    for (size_t done = 0; done < size;) {
        size_t at = (size_t)(tail->end % tail->capacity);
        size_t piece = tail->capacity - at;
        if (piece > size - done)
            piece = size - done;
        memcpy(tail->ring + at, data + done, piece);
        for (size_t i = 0; i < piece; i++)
            if (data[done + i] == '\n')
                record_line_start(tail, tail->end + i + 1);
        tail->end += piece;
        done += piece;
    }
}

static int open_current(struct sbx_tail *tail)
{
    int fd = open(tail->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    int err = fstat(fd, &st) < 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (err) {
        close(fd);
        return -err;
    }
    if (tail->opened_before)
        tail->stats.rotations++;
    tail->opened_before = 1;
    tail->fd = fd;
    tail->dev = st.st_dev;
    tail->ino = st.st_ino;
    tail->offset = 0;
    return 0;
}

/* More unread than the ring holds: go to a line start near the end. */
static void skip_to_tail(struct sbx_tail *tail, uint64_t size)
{
    uint64_t target = size - tail->capacity;
    skip_bytes(tail, target - tail->offset);
    tail->offset = target;
    char before;
    tail->syncing = !(pread(tail->fd, &before, 1, (off_t)target - 1) == 1 && before == '\n');
    tail->sync_dropped = 0;
    record_line_start(tail, tail->end);
}

long sbx_tail_pump(struct sbx_tail *tail, size_t budget, int *more)
{
    long advanced = 0;
    size_t read_total = 0;
    *more = 0;
    for (;;) {
        if (tail->fd < 0) {
            int rc = open_current(tail);
            if (rc == -ENOENT)
                return advanced;
            if (rc < 0)
                return rc;
        }
        struct stat st;
        if (fstat(tail->fd, &st) < 0)
            return -errno;
        uint64_t size = (uint64_t)st.st_size;
        if (size < tail->offset) {
            tail->stats.truncations++;
            tail->offset = 0;
        }
        if (size - tail->offset > tail->capacity) {
            uint64_t before = tail->end;
            skip_to_tail(tail, size);
            advanced += (long)(tail->end - before);
        }
        while (tail->offset < size) {
            if (read_total >= budget) {
                *more = 1;
                return advanced;
            }
            size_t want = size - tail->offset < READ_CHUNK ? (size_t)(size - tail->offset)
                                                            : READ_CHUNK;
            ssize_t got = pread(tail->fd, tail->chunk, want, (off_t)tail->offset);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                return -errno;
            if (got == 0)
                break;
            append(tail, tail->chunk, (size_t)got);
            tail->offset += (uint64_t)got;
            advanced += got;
            read_total += (size_t)got;
        }
        /* Read to what fstat saw; has the path come to name another
         * file (rotation), or has this one moved on meanwhile? */
        struct stat now;
        if (stat(tail->path, &now) == 0 && now.st_dev == tail->dev && now.st_ino == tail->ino) {
            if ((uint64_t)now.st_size == tail->offset)
                return advanced;
            continue;
        }
        close(tail->fd);
        tail->fd = -1;
    }
}

size_t sbx_tail_copy(const struct sbx_tail *tail, uint64_t from, char *out, size_t out_size,
                     uint64_t *copied_from)
{
    uint64_t start = sbx_tail_start(tail);
    if (from < start)
        from = start;
    if (from > tail->end)
        from = tail->end;
    *copied_from = from;
    size_t count = (size_t)(tail->end - from);
    if (count > out_size)
        count = out_size;
    for (size_t done = 0; done < count;) {
        size_t at = (size_t)((from + done) % tail->capacity);
        size_t piece = tail->capacity - at;
        if (piece > count - done)
            piece = count - done;
        memcpy(out + done, tail->ring + at, piece);
        done += piece;
    }
    return count;
}

/* ---- Lua binding: require "sbx.tail" ----
 *
 *   local log = tail.open(path, {bytes = 1048576, lines = 1000})
 *   log:pump([budget])   -> advanced, more    (or nil, message)
 *   log:range()          -> start, end        positions
 *   log:read(from)       -> data, copied_from (the bytes from FROM to the end)
 *   log:stats()          -> {skipped =, truncations =, rotations =}
 *   log:close()
 */

#define TAIL_METATABLE "sbx.tail"
#define DEFAULT_BUDGET (4u << 20)

struct tail_box {
    struct sbx_tail *tail;
};

static struct sbx_tail *check_tail(lua_State *L)
{
    struct tail_box *box = luaL_checkudata(L, 1, TAIL_METATABLE);
    if (!box->tail)
        luaL_error(L, "attempt to use a closed tail");
    return box->tail;
}

static lua_Integer positive_field(lua_State *L, int table, const char *name, lua_Integer fallback,
                                  lua_Integer max)
{
    lua_getfield(L, table, name);
    lua_Integer value = luaL_optinteger(L, -1, fallback);
    lua_pop(L, 1);
    if (value < 1 || value > max)
        luaL_error(L, "%s must be between 1 and %I", name, max);
    return value;
}

static int l_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer bytes = 1 << 20, lines = 1000;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        bytes = positive_field(L, 2, "bytes", bytes, (lua_Integer)1 << 30);
        lines = positive_field(L, 2, "lines", lines, 1000000);
    }
    struct tail_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->tail = NULL;
    luaL_setmetatable(L, TAIL_METATABLE);
    int rc = sbx_tail_open(&box->tail, path, (size_t)bytes, (size_t)lines);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(-rc));
        return 2;
    }
    return 1;
}

static int l_pump(lua_State *L)
{
    struct sbx_tail *tail = check_tail(L);
    lua_Integer budget = luaL_optinteger(L, 2, DEFAULT_BUDGET);
    luaL_argcheck(L, budget > 0, 2, "budget must be positive");
    int more;
    long advanced = sbx_tail_pump(tail, (size_t)budget, &more);
    if (advanced < 0) {
        lua_pushnil(L);
        lua_pushstring(L, strerror((int)-advanced));
        return 2;
    }
    lua_pushinteger(L, advanced);
    lua_pushboolean(L, more);
    return 2;
}

static int l_range(lua_State *L)
{
    struct sbx_tail *tail = check_tail(L);
    lua_pushinteger(L, (lua_Integer)sbx_tail_start(tail));
    lua_pushinteger(L, (lua_Integer)sbx_tail_end(tail));
    return 2;
}

static int l_read(lua_State *L)
{
    struct sbx_tail *tail = check_tail(L);
    lua_Integer from = luaL_optinteger(L, 2, 0);
    uint64_t start = sbx_tail_start(tail), end = sbx_tail_end(tail);
    uint64_t first = from < 0 || (uint64_t)from < start ? start : (uint64_t)from;
    size_t wanted = first < end ? (size_t)(end - first) : 0;
    luaL_Buffer buffer;
    char *out = luaL_buffinitsize(L, &buffer, wanted);
    uint64_t copied_from;
    size_t got = sbx_tail_copy(tail, first, out, wanted, &copied_from);
    luaL_pushresultsize(&buffer, got);
    lua_pushinteger(L, (lua_Integer)copied_from);
    return 2;
}

static int l_stats(lua_State *L)
{
    struct sbx_tail_stats stats;
    sbx_tail_stats(check_tail(L), &stats);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)stats.skipped);
    lua_setfield(L, -2, "skipped");
    lua_pushinteger(L, (lua_Integer)stats.truncations);
    lua_setfield(L, -2, "truncations");
    lua_pushinteger(L, (lua_Integer)stats.rotations);
    lua_setfield(L, -2, "rotations");
    return 1;
}

static int l_close(lua_State *L)
{
    struct tail_box *box = luaL_checkudata(L, 1, TAIL_METATABLE);
    sbx_tail_close(box->tail);
    box->tail = NULL;
    return 0;
}

int luaopen_sbx_tail(lua_State *L);
int luaopen_sbx_tail(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"pump", l_pump},   {"range", l_range}, {"read", l_read},
        {"stats", l_stats}, {"close", l_close}, {NULL, NULL},
    };
    static const luaL_Reg functions[] = {
        {"open", l_open},
        {NULL, NULL},
    };
    sbx_lua_class(L, TAIL_METATABLE, methods, l_close, NULL);
    luaL_newlib(L, functions);
    return 1;
}
