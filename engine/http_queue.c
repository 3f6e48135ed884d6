#include "http_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct http_chunk {
    struct http_chunk *next;
    size_t len, offset;
    int flags;
    unsigned char bytes[]; /* HTTP_QUEUE_PRE spare bytes, then the payload */
};

int http_queue_push(struct http_queue *queue, const void *data, size_t len, int flags)
{
    if (len > (size_t)-1 - sizeof(struct http_chunk) - HTTP_QUEUE_PRE)
        return -ENOMEM;
    struct http_chunk *chunk = malloc(sizeof *chunk + HTTP_QUEUE_PRE + len);
    if (!chunk)
        return -ENOMEM;
    chunk->next = NULL;
    chunk->len = len;
    chunk->offset = 0;
    chunk->flags = flags;
    if (len)
        memcpy(chunk->bytes + HTTP_QUEUE_PRE, data, len);
    if (queue->tail)
        queue->tail->next = chunk;
    else
        queue->head = chunk;
    queue->tail = chunk;
    queue->bytes += len;
    return 0;
}

unsigned char *http_queue_peek(const struct http_queue *queue, size_t *len, int *flags)
{
    struct http_chunk *chunk = queue->head;
    if (!chunk)
        return NULL;
    *len = chunk->len - chunk->offset;
    if (flags)
        *flags = chunk->flags;
    /* Bytes already written are free to be overwritten, so the spare room
     * in front of an unsent tail is always at least HTTP_QUEUE_PRE. */
    return chunk->bytes + HTTP_QUEUE_PRE + chunk->offset;
}

void http_queue_consume(struct http_queue *queue, size_t n)
{
    struct http_chunk *chunk = queue->head;
    if (!chunk)
        return;
    if (n > chunk->len - chunk->offset)
        n = chunk->len - chunk->offset;
    chunk->offset += n;
    queue->bytes -= n;
    if (chunk->offset < chunk->len)
        return;
    queue->head = chunk->next;
    if (!queue->head)
        queue->tail = NULL;
    free(chunk);
}

void http_queue_clear(struct http_queue *queue)
{
    struct http_chunk *chunk = queue->head;
    while (chunk) {
        struct http_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    queue->head = queue->tail = NULL;
    queue->bytes = 0;
}

int http_buffer_append(struct http_buffer *buffer, const void *data, size_t len, size_t limit)
{
    if (len > limit || buffer->len > limit - len)
        return -E2BIG;
    if (buffer->len + len > buffer->cap) {
        size_t cap = buffer->cap ? buffer->cap : 1024;
        while (cap < buffer->len + len)
            cap *= 2;
        char *bigger = realloc(buffer->data, cap);
        if (!bigger)
            return -ENOMEM;
        buffer->data = bigger;
        buffer->cap = cap;
    }
    if (len)
        memcpy(buffer->data + buffer->len, data, len);
    buffer->len += len;
    return 0;
}

void http_buffer_clear(struct http_buffer *buffer)
{
    free(buffer->data);
    buffer->data = NULL;
    buffer->len = buffer->cap = 0;
}
