/* worker/ws_h1.h: WebSocket over HTTP/1.1 (RFC 6455 §4): the opening
 * handshake of an HTTP/1.1 request and the connection after it, carrying
 * one session (worker/ws.h).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * HTTP/1.1 asks am_ws_h1_is_upgrade() once a GET head is parsed; on yes
 * it calls am_ws_h1_start(), which takes c over (its protocol is swapped,
 * as h2c swaps to HTTP/2): the caller frees its own state and hands what
 * is left in c->rbuf to c->proto.
 */
#ifndef AM_WORKER_WS_H1_H
#define AM_WORKER_WS_H1_H

#include "worker/asgi.h"
#include "worker/conn.h"

/* 1 when head's Upgrade names websocket and WebSocket is enabled. */
int am_ws_h1_is_upgrade(const am_asgi_head_t *head);

/* Answer 400/426 (RFC 6455 §4.2.2) or start the session and its app;
 * the 101 goes out on websocket.accept. */
void am_ws_h1_start(am_conn_t *c, const am_asgi_head_t *head);

#endif
