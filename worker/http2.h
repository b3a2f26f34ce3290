/* worker/http2.h: HTTP/2 (RFC 9113) on a connection, with nghttp2.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_WORKER_HTTP2_H
#define AM_WORKER_HTTP2_H

#include <stddef.h>
#include <stdint.h>

#include "worker/asgi.h"
#include "worker/conn.h"

/* Once per worker: nghttp2 callbacks and options from the config. */
int am_http2_init(am_conf_t *conf);

/* Take over c: prior knowledge (the client preface is in c->rbuf) or ALPN
 * "h2". AM_OK or AM_ERROR (c closed). */
int am_http2_attach(am_conn_t *c);

/* h2c by Upgrade (RFC 7540 §3.2): the 101 is already queued; settings is
 * the decoded HTTP2-Settings payload; head is the upgrading request, served
 * as stream 1. The caller has detached HTTP/1.1. AM_OK or AM_ERROR. */
int am_http2_upgrade(am_conn_t *c, const uint8_t *settings, size_t len,
                     const am_asgi_head_t *head);

/* Queue a GOAWAY frame (last stream 0) without a session: the answer to
 * an invalid connection preface (RFC 9113 §3.4). */
void am_http2_goaway_raw(am_conn_t *c, uint32_t error);

/* 1 when buf (len bytes) starts like the client connection preface; *full
 * is set when all 24 bytes are there. */
int am_http2_is_preface(const char *buf, size_t len, int *full);

#endif
