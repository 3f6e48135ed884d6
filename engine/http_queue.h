/* Byte queues for the HTTP server: what waits to be written to one
 * connection, and growable buffers for what arrives. No Lua, no lws calls. */
#ifndef SBX_HTTP_QUEUE_H
#define SBX_HTTP_QUEUE_H

#include <stddef.h>

/* Bytes kept free in front of every queued payload: libwebsockets writes
 * its framing there (its LWS_PRE; checked in http.c). */
#define HTTP_QUEUE_PRE 16

struct http_chunk;

/* Whole messages (WebSocket) or pieces of a body (HTTP), in order. */
struct http_queue {
    struct http_chunk *head, *tail;
    size_t bytes; /* payload bytes not yet consumed */
};

/* Appends a copy of DATA. FLAGS is kept with it (binary or text).
 * 0 or -ENOMEM. */
int http_queue_push(struct http_queue *queue, const void *data, size_t len, int flags);

/* The unconsumed bytes of the first chunk, with HTTP_QUEUE_PRE writable
 * bytes before them; NULL when empty. */
unsigned char *http_queue_peek(const struct http_queue *queue, size_t *len, int *flags);

/* Marks N bytes of the first chunk written; drops it when all are. */
void http_queue_consume(struct http_queue *queue, size_t n);

void http_queue_clear(struct http_queue *queue);

/* A growable byte buffer with a hard limit. */
struct http_buffer {
    char *data;
    size_t len, cap;
};

/* 0, -E2BIG when LEN more bytes would pass LIMIT, or -ENOMEM. */
int http_buffer_append(struct http_buffer *buffer, const void *data, size_t len, size_t limit);
void http_buffer_clear(struct http_buffer *buffer);

#endif
