/* worker/accept.h: accepting connections and choosing their protocol.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A listener's event handler: accept4() what is pending (up to a batch,
 * pausing listeners at limits.connections through am_ctx), read the PROXY
 * header on proxy_protocol listeners, run the TLS handshake on TLS ones,
 * and hand the connection to HTTP/1.1 or HTTP/2 (ALPN).
 */
#ifndef AM_WORKER_ACCEPT_H
#define AM_WORKER_ACCEPT_H

#include <stdint.h>

#include "worker/event.h"

/* ev->data is the am_listen_t. */
void am_accept_on_readable(am_event_t *ev, uint32_t events);

#endif
