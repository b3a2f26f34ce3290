/* worker/ws.h: one WebSocket session (RFC 6455 after the opening
 * handshake), whatever carries it: an HTTP/1.1 connection after 101
 * (worker/ws_h1.c) or, later, an HTTP/2 stream (RFC 8441).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The carrier feeds received bytes to am_ws_session_feed() and is called
 * back through am_ws_transport_t to write, answer the handshake, pause
 * reading and close. The session owns the frame parser, the message
 * assembler, permessage-deflate, the keep-alive pings, the close
 * handshake and one reference to the ASGI request. It never calls Python.
 */
#ifndef AM_WORKER_WS_H
#define AM_WORKER_WS_H

#include <stddef.h>
#include <stdint.h>

#include "worker/asgi.h"
#include "worker/conn.h"

typedef struct am_ws_session_s am_ws_session_t;

typedef struct am_ws_transport_s {
    /* Queue a frame: header and payload, in this order. */
    void (*write)(void *t, const uint8_t *hdr, size_t hlen,
                  const uint8_t *payload, size_t plen);
    /* Bytes queued and not yet written. */
    size_t (*pending)(void *t);
    /* The handshake's success answer (101 or 200) with these fields. */
    void (*accept)(void *t, const am_header_t *headers, size_t n);
    /* An HTTP response instead of the upgrade (403, a denial): its head,
     * then body bytes (more == 0: the last). */
    void (*respond)(void *t, int status, const am_header_t *headers, size_t n);
    void (*respond_body)(void *t, const char *data, size_t len, int more);
    /* No more output: close once what is queued is written. */
    void (*close)(void *t);
    /* Stop or resume reading (the app's queue is full). */
    void (*set_reading)(void *t, int on);
} am_ws_transport_t;

/* What the carrier knows of the handshake request. */
typedef struct am_ws_open_s {
    const am_asgi_head_t *head;
    const char *key; /* Sec-WebSocket-Key (HTTP/1.1), or NULL (HTTP/2) */
    size_t key_len;
    const char *extensions; /* Sec-WebSocket-Extensions, or NULL */
    size_t extensions_len;
    int proto;            /* AM_STATS_H1 or AM_STATS_H2 */
    const char *protocol; /* "HTTP/1.1" or "HTTP/2.0" for the access log */
    int success_status;   /* 101 or 200 */
} am_ws_open_t;

/* Start a session on c (stream_id 0 on HTTP/1.1) and its app. NULL when
 * the app cannot start (the carrier answers 500). */
am_ws_session_t *am_ws_session_create(am_conn_t *c, uint32_t stream_id,
                                      const am_ws_transport_t *tr, void *t,
                                      const am_ws_open_t *o);

/* Bytes from the peer, buf writable (unmasked in place). Returns how many
 * were taken; the rest waits (the app's queue is full, or the handshake
 * is not answered yet) until reading resumes. */
size_t am_ws_session_feed(am_ws_session_t *s, uint8_t *buf, size_t len);

/* The carrier's output fell below its low-water mark. */
void am_ws_session_drain(am_ws_session_t *s);

/* Graceful stop began: give the app timeouts.graceful (less a margin),
 * then close with code (1001 stop, 1012 restart). */
void am_ws_session_shutdown(am_ws_session_t *s, int code);

/* The carrier is gone (connection closed, stream reset): the app gets
 * websocket.disconnect (1006 unless a close was exchanged), the access
 * log line is written and s is freed. */
void am_ws_session_destroy(am_ws_session_t *s);

/* Sessions open in this worker (metrics). */
extern size_t am_ws_sessions;

#endif
