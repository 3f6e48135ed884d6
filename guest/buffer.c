/* Bounded byte buffers between descriptors, and the frames of the
 * host protocol appended to them. Every descriptor is non-blocking: a
 * slow reader on one side stops the agent reading the other, never the
 * agent itself. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

size_t buffer_room(const struct buffer *b)
{
    return sizeof b->data - b->len;
}

void buffer_drop(struct buffer *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

ssize_t buffer_fill(struct buffer *b, int fd, size_t limit)
{
    size_t room = buffer_room(b);
    ssize_t got = read(fd, b->data + b->len, room < limit ? room : limit);
    if (got > 0)
        b->len += (size_t)got;
    return got;
}

int buffer_flush(struct buffer *b, int fd)
{
    while (b->len > 0) {
        ssize_t n = write(fd, b->data, b->len);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        buffer_drop(b, (size_t)n);
    }
    return 0;
}

bool frame_append(struct buffer *b, char type, const void *payload, size_t len)
{
    if (len > FRAME_MAX_PAYLOAD || buffer_room(b) < FRAME_HEADER + len)
        return false;
    unsigned char *out = b->data + b->len;
    out[0] = (unsigned char)type;
    out[1] = (unsigned char)(len >> 24);
    out[2] = (unsigned char)(len >> 16);
    out[3] = (unsigned char)(len >> 8);
    out[4] = (unsigned char)len;
    if (len)
        memcpy(out + FRAME_HEADER, payload, len);
    b->len += FRAME_HEADER + len;
    return true;
}
