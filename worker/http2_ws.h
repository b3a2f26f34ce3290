/* worker/http2_ws.h: WebSocket over an HTTP/2 stream (RFC 8441), for
 * the HTTP/2 files only (http2.c, http2_stream.c): they hand an extended
 * CONNECT, its DATA, its END_STREAM, a graceful stop and its close here.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_WORKER_HTTP2_WS_H
#define AM_WORKER_HTTP2_WS_H

#include <stddef.h>
#include <stdint.h>

#include "worker/asgi.h"
#include "worker/http2_conn.h"

/* RFC 8441 §4: an extended CONNECT with :protocol (protocol, len) on s,
 * head built: start a WebSocket session on it (s->ws). Returns 0, or the
 * status to answer with (400, 426, 500, 501). */
int am_http2_ws_start(am_http2_stream_t *s, const am_asgi_head_t *head,
                      const char *protocol, size_t len);
/* DATA for s (copied); the window reopens as the session takes it. */
void am_http2_ws_data(am_http2_stream_t *s, const uint8_t *data, size_t len);
/* The client ended its side (END_STREAM). */
void am_http2_ws_end(am_http2_stream_t *s);
/* Graceful stop began (code 1001 or 1012). */
void am_http2_ws_shutdown(am_http2_stream_t *s, int code);
/* The stream is gone: end the session, free s->ws. */
void am_http2_ws_destroy(am_http2_stream_t *s);

#endif
