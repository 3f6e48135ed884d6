/* HTTP and WebSocket server: libwebsockets on the engine's one libuv loop
 * (LWS_SERVER_OPTION_LIBUV with luv's loop as the foreign loop). The server
 * parses, limits and writes; Lua decides every answer (lua/sbx/web/).
 *
 * Lifetimes: a server is C memory on a list until libwebsockets says its
 * context is gone (it writes NULL through info.pcontext), because with a
 * foreign loop the teardown finishes later, on the loop. An exchange (one
 * HTTP response) and a websocket are Lua userdata, pinned in the registry
 * while their connection lives; when it closes they are marked closed and
 * unpinned, so Lua may keep them safely. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <libwebsockets.h>
#include <lua.h>
#include <luv/lhandle.h>
#include <luv/luv.h>

#include "host.h"
#include "http_queue.h"
#include "log.h"

_Static_assert(HTTP_QUEUE_PRE >= LWS_PRE, "queued chunks need room for lws framing");

#define SERVER_META "sbx.http.server"
#define EXCHANGE_META "sbx.http.exchange"
#define WEBSOCKET_META "sbx.http.websocket"

/* Per WRITEABLE callback: big enough for throughput, small enough that lws
 * never holds much of a slow client's data in its own buffer. */
#define WRITE_PIECE 32768
#define MAX_HEADER_DATA 16384
#define MAX_WS_MESSAGE 65536
#define DEFAULT_WS_QUEUE (1024 * 1024)
#define BODY_TIMEOUT_SECS 30

struct server {
    struct server *next;
    struct lws_context *context; /* lws writes NULL here once destroyed */
    struct lws_vhost *tcp, *unix_socket;
    lua_State *L;                /* the main thread: callbacks run there */
    int callbacks_ref;           /* {request=, upgrade=, websocket=} */
    size_t max_body;
    char *host, *unix_path;      /* lws keeps pointers to these */
    char **extra_headers;        /* "name:" as lws looks them up */
    int extra_count;
    int closing;                 /* no Lua callbacks any more */
    int orphaned;                /* its userdata is gone: free when closed */
};

static struct server *all_servers;

struct exchange {
    struct lws *wsi; /* NULL once the response is done or the client gone */
    struct server *server;
    struct http_queue body;
    char *fields; /* "name:\0value\0" pairs */
    size_t fields_len;
    unsigned status;
    lws_filepos_t length; /* LWS_ILLEGAL_HTTP_CONTENT_LEN when unknown */
    lws_filepos_t queued; /* body bytes given so far */
    int started, head_sent, finished, head_only, close_after;
    int drain_ref;
};

struct websocket {
    struct lws *wsi;
    struct server *server;
    struct http_queue queue;
    int closing;
    int close_code;
    char reason[124];
    size_t reason_len;
};

/* lws's per-connection memory, zeroed at accept. A registry ref of 0 means
 * none: luaL_ref never returns 0. */
struct conn {
    struct exchange *exchange;
    int exchange_ref;
    int request_ref; /* the request table while its body arrives */
    struct http_buffer body;
    int head_only;
    int refused;     /* the body is too big: the 413 is queued */
    struct websocket *ws;
    int ws_ref;
    struct http_buffer message;
    int message_binary;
};

static struct server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- writing an HTTP response ---- */

static int write_head(struct lws *wsi, struct exchange *ex)
{
    size_t size = LWS_PRE + 512 + ex->fields_len * 2;
    unsigned char *buffer = malloc(size);
    if (!buffer)
        return -1;
    unsigned char *start = buffer + LWS_PRE, *p = start, *end = buffer + size - 1;
    int failed = lws_add_http_header_status(wsi, ex->status | LWSAHH_FLAG_NO_SERVER_NAME, &p, end);
    for (size_t at = 0; !failed && at < ex->fields_len;) {
        const char *name = ex->fields + at;
        const char *value = name + strlen(name) + 1;
        at = (size_t)(value - ex->fields) + strlen(value) + 1;
        failed = lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                             (const unsigned char *)value,
                                             (int)strlen(value), &p, end);
    }
    if (!failed && ex->length != LWS_ILLEGAL_HTTP_CONTENT_LEN)
        failed = lws_add_http_header_content_length(wsi, ex->length, &p, end);
    if (!failed && ex->close_after)
        failed = lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                             (const unsigned char *)"close", 5, &p, end);
    if (!failed)
        failed = lws_finalize_write_http_header(wsi, start, &p, end);
    free(buffer);
    return failed ? -1 : 0;
}

static void call_drain(struct exchange *ex);
static void release_exchange(struct conn *conn);

/* One step of sending: the head, or a piece of the body, or the end. */
static int exchange_writeable(struct lws *wsi, struct conn *conn)
{
    struct exchange *ex = conn->exchange;
    if (!ex || !ex->started)
        return 0;
    if (!ex->head_sent) {
        if (write_head(wsi, ex) < 0)
            return -1;
        ex->head_sent = 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (ex->head_only)
        http_queue_clear(&ex->body);
    size_t len;
    unsigned char *data = http_queue_peek(&ex->body, &len, NULL);
    if (data) {
        if (len > WRITE_PIECE)
            len = WRITE_PIECE;
        if (len && lws_write(wsi, data, len, LWS_WRITE_HTTP) < 0)
            return -1;
        http_queue_consume(&ex->body, len);
        if (ex->body.head || !ex->finished) {
            if (ex->body.head)
                lws_callback_on_writable(wsi);
            else
                call_drain(ex);
            return 0;
        }
    } else if (!ex->finished) {
        return 0;
    }
    int close_after = ex->close_after;
    release_exchange(conn);
    if (close_after)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- the hooks into Lua, defined with the binding below ---- */

static int push_callback(struct server *server, const char *name);
static void push_request(lua_State *L, struct lws *wsi, struct server *server);
static struct exchange *new_exchange(lua_State *L, struct lws *wsi, struct conn *conn);
static void start_response(struct exchange *ex, unsigned status, const char *content_type,
                           const char *body, size_t len, int close_after);
static void dispatch_request(struct lws *wsi, struct conn *conn);
static int confirm_upgrade(struct lws *wsi);
static void websocket_established(struct lws *wsi, struct conn *conn);
static void websocket_message(struct conn *conn);
static void websocket_closed(struct conn *conn);
static void call_ws_drain(struct conn *conn);

static void release_exchange(struct conn *conn)
{
    struct exchange *ex = conn->exchange;
    if (!ex)
        return;
    struct server *server = ex->server;
    ex->wsi = NULL;
    http_queue_clear(&ex->body);
    free(ex->fields);
    ex->fields = NULL;
    ex->fields_len = 0;
    conn->exchange = NULL;
    /* A writer waiting for room learns the client is gone. */
    call_drain(ex);
    if (ex->drain_ref) {
        luaL_unref(server->L, LUA_REGISTRYINDEX, ex->drain_ref);
        ex->drain_ref = 0;
    }
    luaL_unref(server->L, LUA_REGISTRYINDEX, conn->exchange_ref);
    conn->exchange_ref = 0;
}

static void reset_transaction(struct server *server, struct conn *conn)
{
    release_exchange(conn);
    if (conn->request_ref) {
        luaL_unref(server->L, LUA_REGISTRYINDEX, conn->request_ref);
        conn->request_ref = 0;
    }
    http_buffer_clear(&conn->body);
    conn->refused = 0;
    conn->head_only = 0;
}

/* Answers with a JSON error from C (before Lua saw the request). */
static void refuse(struct lws *wsi, struct conn *conn, unsigned status, const char *message)
{
    struct server *server = server_of(wsi);
    char body[256];
    int len = snprintf(body, sizeof body, "{\"error\":\"%s\"}", message);
    struct exchange *ex = new_exchange(server->L, wsi, conn);
    lua_pop(server->L, 1);
    if (!ex)
        return;
    start_response(ex, status, "application/json", body, (size_t)len, 1);
    conn->refused = 1;
}

static long long declared_length(struct lws *wsi)
{
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (n <= 0)
        return 0;
    char text[32];
    if (n >= (int)sizeof text || lws_hdr_copy(wsi, text, sizeof text, WSI_TOKEN_HTTP_CONTENT_LENGTH) < 0)
        return -1;
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno || end == text || *end || value < 0)
        return -1;
    return value;
}

static int on_http(struct lws *wsi, struct conn *conn)
{
    struct server *server = server_of(wsi);
    reset_transaction(server, conn);
    if (server->closing)
        return -1;
    char *uri;
    int uri_len;
    int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    conn->head_only = method == LWSHUMETH_HEAD;
    push_request(server->L, wsi, server);
    conn->request_ref = luaL_ref(server->L, LUA_REGISTRYINDEX);

    long long length = declared_length(wsi);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        refuse(wsi, conn, 411, "a request body needs a Content-Length");
        return 0;
    }
    if (length < 0) {
        refuse(wsi, conn, 400, "malformed Content-Length");
        return 0;
    }
    if ((unsigned long long)length > server->max_body) {
        char message[96];
        snprintf(message, sizeof message, "request body over the limit of %zu bytes", server->max_body);
        refuse(wsi, conn, 413, message);
        return 0;
    }
    if (length > 0) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, BODY_TIMEOUT_SECS);
        return 0;
    }
    dispatch_request(wsi, conn);
    return 0;
}

static int on_http_body(struct lws *wsi, struct conn *conn, const void *in, size_t len)
{
    struct server *server = server_of(wsi);
    if (conn->refused || !conn->request_ref)
        return 0;
    int rc = http_buffer_append(&conn->body, in, len, server->max_body);
    if (rc == -E2BIG)
        refuse(wsi, conn, 413, "request body over the limit");
    else if (rc < 0)
        refuse(wsi, conn, 500, "out of memory");
    return 0;
}

/* ---- WebSocket traffic ---- */

static int ws_receive(struct lws *wsi, struct conn *conn, const void *in, size_t len)
{
    if (!conn->ws)
        return -1;
    if (lws_is_first_fragment(wsi))
        conn->message_binary = lws_frame_is_binary(wsi);
    if (http_buffer_append(&conn->message, in, len, MAX_WS_MESSAGE) < 0) {
        static const char reason[] = "message too big";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                         (unsigned char *)reason, sizeof reason - 1);
        return -1;
    }
    if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
        websocket_message(conn);
        http_buffer_clear(&conn->message);
    }
    return 0;
}

static int ws_writeable(struct lws *wsi, struct conn *conn)
{
    struct websocket *ws = conn->ws;
    if (!ws)
        return -1;
    size_t len;
    int binary;
    unsigned char *data = http_queue_peek(&ws->queue, &len, &binary);
    if (data) {
        if (lws_write(wsi, data, len, binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int)len)
            return -1;
        http_queue_consume(&ws->queue, len);
        if (ws->queue.head || ws->closing)
            lws_callback_on_writable(wsi);
        else
            call_ws_drain(conn);
        return 0;
    }
    if (ws->closing) {
        /* lws drops the reason set by lws_close_reason() when a WRITEABLE
         * callback asks to close (it takes the socket for dead), so the
         * close frame is written here; lws-write.h reserves 4 for it. */
        unsigned char frame[LWS_PRE + 2 + sizeof ws->reason];
        unsigned char *payload = frame + LWS_PRE;
        payload[0] = (unsigned char)(ws->close_code >> 8);
        payload[1] = (unsigned char)ws->close_code;
        memcpy(payload + 2, ws->reason, ws->reason_len);
        lws_write(wsi, payload, 2 + ws->reason_len, (enum lws_write_protocol)4);
        return -1;
    }
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct conn *conn = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, conn);
    case LWS_CALLBACK_HTTP_BODY:
        return on_http_body(wsi, conn, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        if (!conn->refused && conn->request_ref)
            dispatch_request(wsi, conn);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return conn ? exchange_writeable(wsi, conn) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (conn)
            reset_transaction(server_of(wsi), conn);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* Only WebSocket: an h2c upgrade is refused by hanging up. */
        if (!in || strcmp(in, "websocket") != 0)
            return -1;
        return confirm_upgrade(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        websocket_established(wsi, conn);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return ws_receive(wsi, conn, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ws_writeable(wsi, conn);
    case LWS_CALLBACK_CLOSED:
        if (conn)
            websocket_closed(conn);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {"sbx", callback, sizeof(struct conn), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* lws logs through ours: its errors and warnings are worth seeing. */
static void lws_log_line(int level, const char *line)
{
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    sbx_log(level == LLL_ERR ? SBX_LOG_ERROR : level == LLL_WARN ? SBX_LOG_WARN : SBX_LOG_DEBUG,
            "libwebsockets: %.*s", (int)len, line);
}

static void free_server(struct server *server)
{
    for (struct server **p = &all_servers; *p; p = &(*p)->next)
        if (*p == server) {
            *p = server->next;
            break;
        }
    for (int i = 0; i < server->extra_count; i++)
        free(server->extra_headers[i]);
    free(server->extra_headers);
    free(server->host);
    free(server->unix_path);
    free(server);
}

/* Starts the teardown; the context is gone when server->context is NULL. */
static void close_server(struct server *server)
{
    if (!server->context || server->closing)
        return;
    server->closing = 1;
    lws_context_destroy(server->context);
}

struct closing_count {
    luv_ctx_t *luv;
    int others;
};

/* Counts closing handles that are not luv's (a luv handle's data is its
 * luv_handle_t, which names luv's context). */
static void count_closing(uv_handle_t *handle, void *arg)
{
    struct closing_count *count = arg;
    const luv_handle_t *data = handle->data;
    if (uv_is_closing(handle) && !(data && data->ctx == count->luv))
        count->others++;
}

/* With a foreign loop, the first lws_context_destroy() only starts closing
 * lws's libuv handles; a second call, once they are all closed, frees the
 * context. lws keeps one of its handles closing at every turn of the loop
 * until it is done, so when no handle other than luv's is closing, it is
 * done. */
static void finish_teardown(struct server *server, lua_State *L)
{
    if (!server->context || !server->closing)
        return;
    struct closing_count count = {luv_context(L), 0};
    uv_walk(luv_loop(L), count_closing, &count);
    if (count.others == 0)
        lws_context_destroy(server->context);
}

/* Advances every teardown, frees the servers whose teardown has finished
 * and whose userdata is gone; returns how many contexts are still alive. */
static int sweep_servers(lua_State *L)
{
    int alive = 0;
    struct server *server = all_servers;
    while (server) {
        struct server *next = server->next;
        finish_teardown(server, L);
        if (server->context)
            alive++;
        else if (server->orphaned)
            free_server(server);
        server = next;
    }
    return alive;
}

/* ---- Lua binding: require "sbx.http" ---- */

static int push_callback(struct server *server, const char *name)
{
    lua_State *L = server->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, server->callbacks_ref);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    if (lua_isfunction(L, -1))
        return 1;
    lua_pop(L, 1);
    return 0;
}

static void set_header_field(lua_State *L, const char *name, size_t name_len,
                             const char *value, int value_len)
{
    char lower[64];
    if (name_len >= sizeof lower)
        return;
    for (size_t i = 0; i < name_len; i++)
        lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    lua_pushlstring(L, lower, name_len);
    lua_pushlstring(L, value, (size_t)value_len);
    lua_rawset(L, -3);
}

/* Copies one header through a heap buffer (values may be long). */
static void copy_header(lua_State *L, struct lws *wsi, enum lws_token_indexes token)
{
    const char *name = (const char *)lws_token_to_string(token);
    size_t name_len = name ? strlen(name) : 0;
    /* Real headers are "name:"; URIs ("get ") and h2 pseudo headers are not. */
    if (name_len < 2 || name[name_len - 1] != ':' || name[0] == ':')
        return;
    int len = lws_hdr_total_length(wsi, token);
    if (len <= 0)
        return;
    char *value = malloc((size_t)len + 1);
    if (!value)
        return;
    int copied = lws_hdr_copy(wsi, value, len + 1, token);
    if (copied >= 0)
        set_header_field(L, name, name_len - 1, value, copied);
    free(value);
}

static void copy_custom_header(lua_State *L, struct lws *wsi, const char *name)
{
    int name_len = (int)strlen(name);
    int len = lws_hdr_custom_length(wsi, name, name_len);
    if (len < 0)
        return;
    char *value = malloc((size_t)len + 1);
    if (!value)
        return;
    int copied = lws_hdr_custom_copy(wsi, value, len + 1, name, name_len);
    if (copied >= 0)
        set_header_field(L, name, (size_t)name_len - 1, value, copied);
    free(value);
}

static void push_query(lua_State *L, struct lws *wsi)
{
    lua_newtable(L);
    for (int i = 0;; i++) {
        int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (len <= 0)
            break;
        char *arg = malloc((size_t)len + 1);
        if (!arg)
            break;
        int copied = lws_hdr_copy_fragment(wsi, arg, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (copied >= 0) {
            char *equals = memchr(arg, '=', (size_t)copied);
            size_t name_len = equals ? (size_t)(equals - arg) : (size_t)copied;
            lua_pushlstring(L, arg, name_len);
            if (equals)
                lua_pushlstring(L, equals + 1, (size_t)(copied - (int)name_len - 1));
            else
                lua_pushliteral(L, "");
            lua_rawset(L, -3);
        }
        free(arg);
    }
}

static const char *const method_names[] = {
    [LWSHUMETH_GET] = "GET", [LWSHUMETH_POST] = "POST", [LWSHUMETH_OPTIONS] = "OPTIONS",
    [LWSHUMETH_PUT] = "PUT", [LWSHUMETH_PATCH] = "PATCH", [LWSHUMETH_DELETE] = "DELETE",
    [LWSHUMETH_CONNECT] = "CONNECT", [LWSHUMETH_HEAD] = "HEAD",
};

/* Pushes {method, path, query, headers, peer, transport}: everything Lua
 * needs from the header table, which lws reuses after this callback. */
static void push_request(lua_State *L, struct lws *wsi, struct server *server)
{
    lua_createtable(L, 0, 8);
    char *uri = NULL;
    int uri_len = 0;
    int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    int known = method >= 0 && method < (int)(sizeof method_names / sizeof method_names[0]) &&
                method_names[method];
    lua_pushstring(L, known ? method_names[method] : "UNKNOWN");
    lua_setfield(L, -2, "method");
    if (uri && uri_len > 0)
        lua_pushlstring(L, uri, (size_t)uri_len);
    else
        lua_pushliteral(L, "/");
    lua_setfield(L, -2, "path");
    push_query(L, wsi);
    lua_setfield(L, -2, "query");

    lua_newtable(L);
    for (int token = 0; token < WSI_TOKEN_COUNT; token++)
        copy_header(L, wsi, (enum lws_token_indexes)token);
    for (int i = 0; i < server->extra_count; i++)
        copy_custom_header(L, wsi, server->extra_headers[i]);
    lua_setfield(L, -2, "headers");

    int is_unix = server->unix_socket && lws_get_vhost(wsi) == server->unix_socket;
    if (is_unix) {
        lua_pushliteral(L, "unix");
    } else {
        char peer[64] = "";
        lws_get_peer_simple(wsi, peer, sizeof peer);
        lua_pushstring(L, peer);
    }
    lua_setfield(L, -2, "peer");
    lua_pushstring(L, is_unix ? "unix" : "tcp");
    lua_setfield(L, -2, "transport");
}

static struct exchange *new_exchange(lua_State *L, struct lws *wsi, struct conn *conn)
{
    struct exchange *ex = lua_newuserdatauv(L, sizeof *ex, 0);
    memset(ex, 0, sizeof *ex);
    ex->wsi = wsi;
    ex->server = server_of(wsi);
    ex->length = LWS_ILLEGAL_HTTP_CONTENT_LEN;
    ex->head_only = conn->head_only;
    luaL_setmetatable(L, EXCHANGE_META);
    lua_pushvalue(L, -1);
    conn->exchange = ex;
    conn->exchange_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return ex;
}

/* Fills in a whole response from C: STATUS, one content type, BODY. */
static void start_response(struct exchange *ex, unsigned status, const char *content_type,
                           const char *body, size_t len, int close_after)
{
    static const char name[] = "content-type:";
    size_t type_len = strlen(content_type);
    ex->fields = malloc(sizeof name + type_len + 1);
    if (ex->fields) {
        memcpy(ex->fields, name, sizeof name);
        memcpy(ex->fields + sizeof name, content_type, type_len + 1);
        ex->fields_len = sizeof name + type_len + 1;
    }
    ex->status = status;
    ex->length = len;
    ex->queued = len;
    ex->close_after = close_after;
    ex->started = ex->finished = 1;
    if (http_queue_push(&ex->body, body, len, 0) < 0)
        ex->close_after = 1;
    lws_callback_on_writable(ex->wsi);
}

static void dispatch_request(struct lws *wsi, struct conn *conn)
{
    struct server *server = server_of(wsi);
    lua_State *L = server->L;
    int top = lua_gettop(L);
    struct exchange *ex = new_exchange(L, wsi, conn);
    lua_rawgeti(L, LUA_REGISTRYINDEX, conn->request_ref);
    lua_pushlstring(L, conn->body.data ? conn->body.data : "", conn->body.len);
    lua_setfield(L, -2, "body");
    luaL_unref(L, LUA_REGISTRYINDEX, conn->request_ref);
    conn->request_ref = 0;
    http_buffer_clear(&conn->body);
    int ok = push_callback(server, "request");
    if (ok) {
        lua_insert(L, -3); /* callback, exchange, request */
        ok = sbx_host_pcall(L, 2, 0) == LUA_OK;
    }
    lua_settop(L, top);
    if (!ok && conn->exchange == ex && !ex->started)
        start_response(ex, 500, "application/json", "{\"error\":\"internal error\"}", 26, 0);
}

/* Writes a whole JSON response at once, outside a WRITEABLE callback: only
 * for small refusals of an upgrade, which end the exchange. */
static int write_refusal(struct lws *wsi, unsigned status, const char *body, size_t len)
{
    unsigned char *buffer = malloc(LWS_PRE + 512 + len);
    if (!buffer)
        return -1;
    unsigned char *start = buffer + LWS_PRE, *p = start, *end = start + 511;
    int failed = lws_add_http_header_status(wsi, status | LWSAHH_FLAG_NO_SERVER_NAME, &p, end) ||
                 lws_add_http_header_by_name(wsi, (const unsigned char *)"content-type:",
                                             (const unsigned char *)"application/json", 16, &p, end) ||
                 lws_add_http_header_content_length(wsi, len, &p, end) ||
                 lws_finalize_write_http_header(wsi, start, &p, end);
    if (!failed && len) {
        memcpy(start, body, len);
        failed = lws_write(wsi, start, len, LWS_WRITE_HTTP_FINAL) < 0;
    }
    free(buffer);
    return failed;
}

/* Asks Lua whether this upgrade may happen: nil to accept, or a status and
 * a JSON body to refuse with. */
static int confirm_upgrade(struct lws *wsi)
{
    struct server *server = server_of(wsi);
    if (server->closing)
        return -1;
    lua_State *L = server->L;
    int top = lua_gettop(L);
    if (!push_callback(server, "upgrade"))
        return -1;
    push_request(L, wsi, server);
    if (sbx_host_pcall(L, 1, 2) != LUA_OK) {
        lua_settop(L, top);
        return -1;
    }
    if (lua_isnil(L, -2)) {
        lua_settop(L, top);
        return 0;
    }
    unsigned status = (unsigned)lua_tointeger(L, -2);
    size_t len = 0;
    const char *body = lua_tolstring(L, -1, &len);
    int failed = write_refusal(wsi, status, body ? body : "", body ? len : 0);
    lua_settop(L, top);
    return failed ? -1 : 1;
}

static struct websocket *check_websocket(lua_State *L, int index)
{
    return luaL_checkudata(L, index, WEBSOCKET_META);
}

static void websocket_established(struct lws *wsi, struct conn *conn)
{
    struct server *server = server_of(wsi);
    if (server->closing || !conn)
        return;
    lua_State *L = server->L;
    int top = lua_gettop(L);
    struct websocket *ws = lua_newuserdatauv(L, sizeof *ws, 1);
    memset(ws, 0, sizeof *ws);
    ws->wsi = wsi;
    ws->server = server;
    luaL_setmetatable(L, WEBSOCKET_META);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, -1);
    conn->ws = ws;
    conn->ws_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (push_callback(server, "websocket")) {
        lua_insert(L, -2);
        push_request(L, wsi, server);
        sbx_host_pcall(L, 2, 0);
    }
    lua_settop(L, top);
}

/* Calls the websocket's own callback NAME (a field set from Lua) with the
 * NARGS values on top of the stack. A callback that raises closes it. */
static void call_ws_field(struct conn *conn, const char *name, int nargs)
{
    struct websocket *ws = conn->ws;
    lua_State *L = ws->server->L;
    int base = lua_gettop(L) - nargs;
    lua_rawgeti(L, LUA_REGISTRYINDEX, conn->ws_ref);
    lua_getiuservalue(L, -1, 1);
    lua_getfield(L, -1, name);
    if (!lua_isfunction(L, -1) || ws->server->closing) {
        lua_settop(L, base);
        return;
    }
    lua_replace(L, -3); /* args..., fn, uservalue */
    lua_pop(L, 1);
    lua_insert(L, base + 1);
    if (sbx_host_pcall(L, nargs, 0) != LUA_OK && ws->wsi && !ws->closing) {
        ws->closing = 1;
        ws->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
        lws_callback_on_writable(ws->wsi);
    }
    lua_settop(L, base);
}

static void websocket_message(struct conn *conn)
{
    lua_State *L = conn->ws->server->L;
    lua_pushlstring(L, conn->message.data ? conn->message.data : "", conn->message.len);
    lua_pushboolean(L, conn->message_binary);
    call_ws_field(conn, "on_message", 2);
}

static void call_ws_drain(struct conn *conn)
{
    call_ws_field(conn, "on_drain", 0);
}

static void websocket_closed(struct conn *conn)
{
    struct websocket *ws = conn->ws;
    http_buffer_clear(&conn->message);
    if (!ws)
        return;
    ws->wsi = NULL;
    http_queue_clear(&ws->queue);
    call_ws_field(conn, "on_close", 0);
    luaL_unref(ws->server->L, LUA_REGISTRYINDEX, conn->ws_ref);
    conn->ws = NULL;
    conn->ws_ref = 0;
}

static void call_drain(struct exchange *ex)
{
    if (!ex->drain_ref || ex->server->closing)
        return;
    lua_State *L = ex->server->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ex->drain_ref);
    sbx_host_pcall(L, 0, 0);
}

/* ---- exchange methods ---- */

static struct exchange *check_exchange(lua_State *L)
{
    return luaL_checkudata(L, 1, EXCHANGE_META);
}

/* Walks the header table at INDEX ({name = value or {values}}). With OUT
 * NULL it checks the table, raising on a bad one before anything is
 * allocated, and returns the bytes needed; otherwise it writes
 * "name:\0value\0" pairs into OUT. */
static size_t walk_fields(lua_State *L, int index, char *out)
{
    size_t total = 0;
    if (lua_isnoneornil(L, index))
        return 0;
    luaL_checktype(L, index, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, index)) {
        size_t name_len;
        const char *name = lua_tolstring(L, -2, &name_len);
        if (lua_type(L, -2) != LUA_TSTRING || name_len == 0 || strpbrk(name, ":\r\n "))
            luaL_error(L, "header names must be strings without ':', spaces or newlines");
        lua_Integer count = lua_istable(L, -1) ? luaL_len(L, -1) : 1;
        for (lua_Integer i = 1; i <= count; i++) {
            if (lua_istable(L, -1))
                lua_rawgeti(L, -1, i);
            else
                lua_pushvalue(L, -1);
            size_t value_len;
            const char *value = lua_tolstring(L, -1, &value_len);
            if (!value || strpbrk(value, "\r\n") || strlen(value) != value_len)
                luaL_error(L, "header '%s' must be a string without newlines", name);
            if (out) {
                out += sprintf(out, "%s:", name) + 1;
                out += sprintf(out, "%s", value) + 1;
            }
            total += name_len + 2 + value_len + 1;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    return total;
}

static int closed_result(lua_State *L)
{
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
}

/* Begins the response from the arguments status (2) and headers (3);
 * LENGTH < 0 when unknown. Returns 0, or 1 when the client is gone. */
static int begin_response(lua_State *L, struct exchange *ex, lua_Integer length)
{
    lua_Integer status = luaL_checkinteger(L, 2);
    luaL_argcheck(L, status >= 100 && status <= 999, 2, "an HTTP status");
    size_t total = walk_fields(L, 3, NULL);
    if (ex->started)
        return luaL_error(L, "the response was already started");
    if (!ex->wsi)
        return 1;
    char *fields = total ? malloc(total) : NULL;
    if (total && !fields)
        return luaL_error(L, "out of memory");
    if (total)
        walk_fields(L, 3, fields);
    ex->fields = fields;
    ex->fields_len = total;
    ex->status = (unsigned)status;
    ex->length = length < 0 ? LWS_ILLEGAL_HTTP_CONTENT_LEN : (lws_filepos_t)length;
    /* Without a length the end of the body is the end of the connection. */
    ex->close_after = length < 0;
    ex->started = 1;
    lws_callback_on_writable(ex->wsi);
    return 0;
}

/* exchange:start(status, headers [, length]) */
static int l_exchange_start(lua_State *L)
{
    struct exchange *ex = check_exchange(L);
    lua_Integer length = luaL_optinteger(L, 4, -1);
    luaL_argcheck(L, length >= -1, 4, "a length in bytes");
    if (begin_response(L, ex, length))
        return closed_result(L);
    lua_pushboolean(L, 1);
    return 1;
}

/* exchange:write(data) */
static int l_exchange_write(lua_State *L)
{
    struct exchange *ex = check_exchange(L);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    if (!ex->started || ex->finished)
        return luaL_error(L, "write outside a started, unfinished response");
    if (!ex->wsi)
        return closed_result(L);
    if (ex->length != LWS_ILLEGAL_HTTP_CONTENT_LEN && ex->queued + len > ex->length)
        return luaL_error(L, "more bytes than the declared length");
    if (http_queue_push(&ex->body, data, len, 0) < 0)
        return luaL_error(L, "out of memory");
    ex->queued += len;
    lws_callback_on_writable(ex->wsi);
    lua_pushboolean(L, 1);
    return 1;
}

/* exchange:finish() */
static int l_exchange_finish(lua_State *L)
{
    struct exchange *ex = check_exchange(L);
    if (!ex->started)
        return luaL_error(L, "finish before start");
    if (!ex->wsi)
        return closed_result(L);
    ex->finished = 1;
    /* A body shorter than announced can only end with the connection. */
    if (ex->length != LWS_ILLEGAL_HTTP_CONTENT_LEN && ex->queued != ex->length)
        ex->close_after = 1;
    lws_callback_on_writable(ex->wsi);
    lua_pushboolean(L, 1);
    return 1;
}

/* exchange:respond(status, headers, body): start, write and finish. */
static int l_exchange_respond(lua_State *L)
{
    struct exchange *ex = check_exchange(L);
    size_t len;
    const char *body = luaL_optlstring(L, 4, "", &len);
    if (begin_response(L, ex, (lua_Integer)len))
        return closed_result(L);
    if (len && http_queue_push(&ex->body, body, len, 0) < 0)
        ex->close_after = 1; /* the client sees a short body, not a lie */
    ex->queued = len;
    ex->finished = 1;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_exchange_buffered(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_exchange(L)->body.bytes);
    return 1;
}

static int l_exchange_is_open(lua_State *L)
{
    lua_pushboolean(L, check_exchange(L)->wsi != NULL);
    return 1;
}

/* exchange:on_drain(fn): fn() when the queued body has been written, and
 * when the client goes away (then is_open() is false). */
static int l_exchange_on_drain(lua_State *L)
{
    struct exchange *ex = check_exchange(L);
    if (!lua_isnil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    if (ex->drain_ref)
        luaL_unref(L, LUA_REGISTRYINDEX, ex->drain_ref);
    ex->drain_ref = 0;
    if (!lua_isnil(L, 2) && ex->wsi) {
        lua_pushvalue(L, 2);
        ex->drain_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return 0;
}

/* ---- websocket methods ---- */

static int l_ws_send(lua_State *L)
{
    struct websocket *ws = check_websocket(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    const char *kind = luaL_optstring(L, 3, "text");
    int binary = strcmp(kind, "binary") == 0;
    luaL_argcheck(L, binary || strcmp(kind, "text") == 0, 3, "\"text\" or \"binary\"");
    if (!ws->wsi || ws->closing)
        return closed_result(L);
    lua_getiuservalue(L, 1, 1);
    lua_getfield(L, -1, "max_queue");
    lua_Integer limit = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : DEFAULT_WS_QUEUE;
    lua_pop(L, 2);
    if (ws->queue.bytes + len > (size_t)limit) {
        lua_pushnil(L);
        lua_pushliteral(L, "backpressure");
        return 2;
    }
    if (http_queue_push(&ws->queue, data, len, binary) < 0)
        return luaL_error(L, "out of memory");
    lws_callback_on_writable(ws->wsi);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_ws_close(lua_State *L)
{
    struct websocket *ws = check_websocket(L, 1);
    lua_Integer code = luaL_optinteger(L, 2, LWS_CLOSE_STATUS_NORMAL);
    size_t len;
    const char *reason = luaL_optlstring(L, 3, "", &len);
    luaL_argcheck(L, code >= 1000 && code <= 4999, 2, "a close code");
    if (!ws->wsi || ws->closing)
        return 0;
    if (len > sizeof ws->reason)
        len = sizeof ws->reason;
    memcpy(ws->reason, reason, len);
    ws->reason_len = len;
    ws->close_code = (int)code;
    ws->closing = 1;
    lws_callback_on_writable(ws->wsi);
    return 0;
}

static int l_ws_buffered(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_websocket(L, 1)->queue.bytes);
    return 1;
}

static int l_ws_is_open(lua_State *L)
{
    struct websocket *ws = check_websocket(L, 1);
    lua_pushboolean(L, ws->wsi && !ws->closing);
    return 1;
}

/* Methods first, then the fields Lua set on it (callbacks, anything). */
static int l_ws_index(lua_State *L)
{
    luaL_getmetafield(L, 1, "methods");
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL)
        return 1;
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int l_ws_newindex(lua_State *L)
{
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
}

/* ---- server ---- */

struct server_handle {
    struct server *server;
};

static struct server *check_server(lua_State *L)
{
    struct server_handle *handle = luaL_checkudata(L, 1, SERVER_META);
    return handle->server;
}

static char *copy_string_field(lua_State *L, int index, const char *field)
{
    lua_getfield(L, index, field);
    const char *value = lua_tostring(L, -1);
    char *copy = value ? strdup(value) : NULL;
    lua_pop(L, 1);
    return copy;
}

static struct lws_vhost *create_vhost(struct server *server, const char *name, int port,
                                      const char *iface, uint64_t options)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.vhost_name = name;
    info.port = port;
    info.iface = iface;
    info.protocols = protocols;
    info.options = options;
    info.keepalive_timeout = 30;
    info.timeout_secs = 20;
    return lws_create_vhost(server->context, &info);
}

/* Checks the options table at 1 before anything is allocated. */
static void check_listen_options(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "on_request");
    luaL_argcheck(L, lua_isfunction(L, -1), 1, "on_request must be a function");
    lua_getfield(L, 1, "port");
    luaL_argcheck(L, lua_isnil(L, -1) || (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0 &&
                                          lua_tointeger(L, -1) <= 65535),
                  1, "port must be 0..65535");
    lua_getfield(L, 1, "max_body");
    luaL_argcheck(L, lua_isnil(L, -1) || (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0), 1,
                  "max_body must be a byte count");
    lua_getfield(L, 1, "extra_headers");
    luaL_argcheck(L, lua_isnil(L, -1) || lua_istable(L, -1), 1, "extra_headers must be a list");
    lua_pop(L, 4);
}

/* http.listen{host=, port=, unix_path=, max_body=, extra_headers=,
 *             on_request=, on_upgrade=, on_websocket=} -> server | nil, msg */
static int l_listen(lua_State *L)
{
    check_listen_options(L);
    struct server_handle *handle = lua_newuserdatauv(L, sizeof *handle, 0);
    handle->server = NULL;
    luaL_setmetatable(L, SERVER_META);
    int handle_index = lua_gettop(L);

    struct server *server = calloc(1, sizeof *server);
    if (!server)
        return luaL_error(L, "out of memory");
    server->next = all_servers;
    all_servers = server;
    handle->server = server; /* from here, __gc frees it */
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    server->L = lua_tothread(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "max_body");
    server->max_body = lua_isnil(L, -1) ? 1024 * 1024 : (size_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    server->host = copy_string_field(L, 1, "host");
    server->unix_path = copy_string_field(L, 1, "unix_path");
    lua_getfield(L, 1, "extra_headers");
    if (lua_istable(L, -1)) {
        int count = (int)luaL_len(L, -1);
        server->extra_headers = calloc((size_t)count + 1, sizeof(char *));
        for (int i = 1; server->extra_headers && i <= count; i++) {
            lua_rawgeti(L, -1, i);
            const char *name = lua_tostring(L, -1);
            size_t len = name ? strlen(name) : 0;
            char *with_colon = len && len < 60 ? malloc(len + 2) : NULL;
            if (with_colon) {
                memcpy(with_colon, name, len);
                memcpy(with_colon + len, ":", 2);
                server->extra_headers[server->extra_count++] = with_colon;
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 3);
    for (const char *const *name = (const char *const[]){"request", "upgrade", "websocket", NULL};
         *name; name++) {
        char field[32];
        snprintf(field, sizeof field, "on_%s", *name);
        lua_getfield(L, 1, field);
        lua_setfield(L, -2, *name);
    }
    server->callbacks_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_line);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = {luv_loop(L)};
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = loops;
    info.user = server;
    info.pcontext = &server->context;
    info.max_http_header_data = MAX_HEADER_DATA;
    info.server_string = "sbx";
    info.uid = -1;
    info.gid = -1;
    server->context = lws_create_context(&info);
    if (!server->context) {
        lua_pushnil(L);
        lua_pushliteral(L, "libwebsockets could not start");
        return 2;
    }
    lua_getfield(L, 1, "port");
    int port = lua_isnil(L, -1) ? -1 : (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    const char *failure = NULL;
    if (port >= 0) {
        server->tcp = create_vhost(server, "tcp", port, server->host, 0);
        if (!server->tcp)
            failure = "cannot listen on the TCP address";
    }
    if (!failure && server->unix_path) {
        server->unix_socket = create_vhost(server, "unix", 0, server->unix_path,
                                           LWS_SERVER_OPTION_UNIX_SOCK);
        if (!server->unix_socket)
            failure = "cannot listen on the Unix socket";
    }
    if (!failure && !server->tcp && !server->unix_socket)
        failure = "neither a port nor a Unix socket to listen on";
    if (failure) {
        close_server(server);
        lua_pushnil(L);
        lua_pushstring(L, failure);
        return 2;
    }
    lua_pushvalue(L, handle_index);
    return 1;
}

static int l_server_port(lua_State *L)
{
    struct server *server = check_server(L);
    if (!server || !server->tcp || !server->context)
        return 0;
    lua_pushinteger(L, lws_get_vhost_listen_port(server->tcp));
    return 1;
}

/* server:close(): stops listening and closes every connection; the loop
 * must keep running until server:is_closed(). */
static int l_server_close(lua_State *L)
{
    struct server *server = check_server(L);
    if (server) {
        /* Connections closed now must not call into a main thread that may
         * be suspended under this coroutine: use the caller's. */
        lua_State *main = server->L;
        server->L = L;
        close_server(server);
        server->L = main;
    }
    return 0;
}

static int l_server_is_closed(lua_State *L)
{
    struct server *server = check_server(L);
    if (server)
        finish_teardown(server, L);
    lua_pushboolean(L, !server || !server->context);
    return 1;
}

static int l_server_gc(lua_State *L)
{
    struct server_handle *handle = luaL_checkudata(L, 1, SERVER_META);
    struct server *server = handle->server;
    handle->server = NULL;
    if (!server)
        return 0;
    if (server->callbacks_ref)
        luaL_unref(L, LUA_REGISTRYINDEX, server->callbacks_ref);
    server->callbacks_ref = 0;
    if (server->context) {
        /* Still serving while Lua forgets it: the state is going away. */
        server->closing = 1;
        server->orphaned = 1;
    } else {
        free_server(server);
    }
    return 0;
}

/* http.busy() -> how many servers are still being torn down (or serving). */
static int l_busy(lua_State *L)
{
    lua_pushinteger(L, sweep_servers(L));
    return 1;
}

static void new_metatable(lua_State *L, const char *name, const luaL_Reg *methods,
                          const luaL_Reg *meta)
{
    luaL_newmetatable(L, name);
    if (meta)
        luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    if (lua_getfield(L, -2, "__index") == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "__index");
    } else {
        lua_pop(L, 1);
    }
    lua_setfield(L, -2, "methods");
    lua_pop(L, 1);
}

int luaopen_sbx_http(lua_State *L);
int luaopen_sbx_http(lua_State *L)
{
    static const luaL_Reg server_methods[] = {
        {"port", l_server_port},
        {"close", l_server_close},
        {"is_closed", l_server_is_closed},
        {NULL, NULL},
    };
    static const luaL_Reg server_meta[] = {{"__gc", l_server_gc}, {NULL, NULL}};
    static const luaL_Reg exchange_methods[] = {
        {"start", l_exchange_start},     {"write", l_exchange_write},
        {"finish", l_exchange_finish},   {"respond", l_exchange_respond},
        {"buffered", l_exchange_buffered}, {"is_open", l_exchange_is_open},
        {"on_drain", l_exchange_on_drain}, {NULL, NULL},
    };
    static const luaL_Reg websocket_methods[] = {
        {"send", l_ws_send},         {"close", l_ws_close},
        {"buffered", l_ws_buffered}, {"is_open", l_ws_is_open},
        {NULL, NULL},
    };
    static const luaL_Reg websocket_meta[] = {
        {"__index", l_ws_index},
        {"__newindex", l_ws_newindex},
        {NULL, NULL},
    };
    new_metatable(L, SERVER_META, server_methods, server_meta);
    new_metatable(L, EXCHANGE_META, exchange_methods, NULL);
    new_metatable(L, WEBSOCKET_META, websocket_methods, websocket_meta);

    static const luaL_Reg functions[] = {
        {"listen", l_listen},
        {"busy", l_busy},
        {NULL, NULL},
    };
    luaL_newlib(L, functions);
    return 1;
}
