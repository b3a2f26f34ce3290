/* worker/http1.h: HTTP/1.1 (RFC 9112) on a connection.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_WORKER_HTTP1_H
#define AM_WORKER_HTTP1_H

#include "worker/conn.h"

/* Global set-up: the parser's limits from the config. */
void am_http1_init(am_conf_t *conf);

/* Take over a freshly accepted connection. */
void am_http1_attach(am_conn_t *c);

#endif
