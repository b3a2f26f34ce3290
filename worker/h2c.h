/* worker/h2c.h: h2c by Upgrade (RFC 7540 §3.2), from an HTTP/1.1 request.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * HTTP/1.1 feeds each header field of a request to am_h2c_offer_field();
 * when the request may switch (cleartext, HTTP/1.1, no body, a listener
 * with http2) it asks am_h2c_offer_settings() for the decoded settings
 * and, if they are good, calls am_h2c_switch() and stops parsing.
 */
#ifndef AM_WORKER_H2C_H
#define AM_WORKER_H2C_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "worker/asgi.h"
#include "worker/conn.h"
#include "worker/http.h"

typedef struct am_h2c_offer_s {
    int upgrade;    /* Upgrade names h2c */
    int connection; /* Connection names: 1 Upgrade, 2 HTTP2-Settings */
    int nsettings;  /* HTTP2-Settings lines */
    const char *settings;
    size_t settings_len;
} am_h2c_offer_t;

/* Note what field t (value v, len bytes) offers; other fields are ignored.
 * o starts zeroed. */
void am_h2c_offer_field(am_h2c_offer_t *o, am_http_token_t t, const char *v,
                        size_t len);

/* The decoded SETTINGS payload (into payload, size bytes) of a complete
 * and valid offer, or -1: serve the request as HTTP/1.1. */
ssize_t am_h2c_offer_settings(const am_h2c_offer_t *o, uint8_t *payload,
                              size_t size);

/* Switch c to HTTP/2: drop the hop-by-hop fields from head (headers is
 * head's writable array), queue the 101 and serve head as stream 1. The
 * caller detaches HTTP/1.1. AM_OK or AM_ERROR (c closed). */
int am_h2c_switch(am_conn_t *c, const uint8_t *settings, size_t len,
                  am_asgi_head_t *head, am_header_t *headers);

#endif
