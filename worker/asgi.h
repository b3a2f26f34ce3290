/* worker/asgi.h: the one ASGI bridge every protocol uses. No Python types
 * here: protocol code (http1.c, later http2.c) calls am_asgi_*() and gets the
 * app's response back through an am_asgi_ops_t callback table.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Ownership: am_asgi_request_create() returns a request the protocol owns one
 * reference to. The protocol feeds it body bytes and, when its stream ends
 * (response done, or client gone), calls am_asgi_request_release(): the
 * bridge forgets the stream pointer, so a late send() from the app finds
 * "disconnected" instead of freed memory. The bridge calls ops only while the
 * stream pointer is set.
 */
#ifndef AM_WORKER_ASGI_H
#define AM_WORKER_ASGI_H

#include <stddef.h>
#include <sys/socket.h>

#include "common/conf.h"

typedef struct am_asgi_request_s am_asgi_request_t;

typedef struct am_header_s {
    const char *name; /* lowercase for requests; as the app gave for
                         responses (the protocol normalises) */
    size_t name_len;
    const char *value;
    size_t value_len;
} am_header_t;

/* A request head as the protocol parsed it. Pointers are valid during
 * am_asgi_request_create() only: the bridge copies. */
typedef struct am_asgi_head_s {
    const char *method;
    size_t method_len;
    const char *path; /* raw path bytes, without the query */
    size_t path_len;
    const char *query; /* after '?', without it */
    size_t query_len;
    const char *http_version; /* "1.0", "1.1", "2" */
    const char *scheme;       /* "http", "https" */
    const am_header_t *headers;
    size_t nheaders;
    const char *client_host; /* NULL for a unix socket peer */
    int client_port;
    const char *server_host; /* or the unix socket path with port -1 */
    int server_port;
    int has_body;         /* a body follows (Content-Length > 0 or chunked) */
    int trailers_allowed; /* the client accepts trailers (TE: trailers) */
    struct am_tls_conn_s *tls; /* TLS facts for the scope, or NULL */
} am_asgi_head_t;

/* Response events. Each returns AM_OK; AM_AGAIN when the data was taken but
 * the output is above its high-water mark (the bridge makes send() wait for
 * am_asgi_request_writable()); AM_DECLINED for an invalid response (the
 * bridge raises in the app, err holds why); AM_ERROR when the peer is gone. */
typedef struct am_asgi_ops_s {
    int (*start)(void *stream, int status, const am_header_t *headers,
                 size_t nheaders, int trailers, const char **err);
    int (*body)(void *stream, const char *data, size_t len, int more);
    /* more: further trailers follow (more_trailers). */
    int (*trailers)(void *stream, const am_header_t *headers, size_t nheaders,
                    int more, const char **err);
    /* The app consumed n body bytes (n may be 0: it is waiting for body,
     * e.g. time to send "100 Continue"). */
    void (*consumed)(void *stream, size_t n);
    /* The app task ended. complete: the response was fully sent; else the
     * protocol aborts the stream (close the connection, RST_STREAM). */
    void (*finish)(void *stream, int complete);
} am_asgi_ops_t;

/* Worker-wide set-up once Python runs: interned strings, types, the app. */
int am_asgi_init(am_conf_t *conf);

/* Start the app for one request. NULL on failure (logged; the protocol
 * answers 500/503). */
am_asgi_request_t *am_asgi_request_create(const am_asgi_head_t *head,
                                          const am_asgi_ops_t *ops,
                                          void *stream, uint64_t conn_id,
                                          uint32_t stream_id);

/* Body bytes arrived (copied). more == 0 marks the end of the body. */
void am_asgi_request_body(am_asgi_request_t *r, const char *data, size_t len,
                          int more);
/* Body bytes buffered and not yet received by the app (a WebSocket
 * session: messages queued). */
size_t am_asgi_request_buffered(am_asgi_request_t *r);
/* The client went away: receive() gives http.disconnect, send() raises. */
void am_asgi_request_disconnect(am_asgi_request_t *r);
/* Output drained below the low-water mark: wake a waiting send(). */
void am_asgi_request_writable(am_asgi_request_t *r);
/* The protocol drops its reference; the stream pointer is forgotten. */
void am_asgi_request_release(am_asgi_request_t *r);

/* WebSocket sessions (asgiref www.rst, "WebSocket"): the app's events.
 * Each returns AM_OK; AM_AGAIN when taken but the output is above its
 * high-water mark (send() then waits for am_asgi_request_writable());
 * AM_DECLINED when invalid now (err says why: the bridge raises);
 * AM_ERROR when the peer is gone. */
typedef struct am_asgi_ws_ops_s {
    /* websocket.accept: subprotocol (NULL: none) and extra fields. */
    int (*accept)(void *session, const char *subprotocol, size_t len,
                  const am_header_t *headers, size_t nheaders,
                  const char **err);
    /* websocket.send: one whole message. */
    int (*send)(void *session, int binary, const char *data, size_t len);
    /* websocket.close: a close frame, or before accept a 403. */
    int (*close)(void *session, int code, const char *reason, size_t len);
    /* websocket.http.response.start / .body: a denial response. */
    int (*http_start)(void *session, int status, const am_header_t *headers,
                      size_t nheaders, const char **err);
    int (*http_body)(void *session, const char *data, size_t len, int more);
    /* The app took a message from the queue (reading may resume). */
    void (*consumed)(void *session);
    /* The app task ended (failed: it raised). */
    void (*finish)(void *session, int failed);
} am_asgi_ws_ops_t;

/* Start the app for a WebSocket session: the scope is of type
 * "websocket" (subprotocols from Sec-WebSocket-Protocol of head). The
 * first receive() gives websocket.connect. NULL on failure (logged). */
am_asgi_request_t *am_asgi_ws_create(const am_asgi_head_t *head,
                                     const am_asgi_ws_ops_t *ops, void *session,
                                     uint64_t conn_id, uint32_t stream_id);
/* A whole message arrived (copied; text is valid UTF-8). */
void am_asgi_ws_message(am_asgi_request_t *r, int binary, const char *data,
                        size_t len);
/* The session ended: receive() gives websocket.disconnect with code and
 * reason; send() raises. */
void am_asgi_ws_disconnect(am_asgi_request_t *r, int code, const char *reason,
                           size_t len);

/* Requests whose app task is still running (graceful stop waits). */
extern size_t am_asgi_running;

#endif
