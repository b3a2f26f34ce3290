/* worker/request.h: the protocol-neutral request layer.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * HTTP/1.1 messages and HTTP/2 streams fill an am_asgi_head_t (the request
 * head the bridge reads) and report a finished request as one
 * am_request_done_t; what both protocols share is done here once.
 */
#ifndef AM_WORKER_REQUEST_H
#define AM_WORKER_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/forwarded.h"
#include "worker/asgi.h"
#include "worker/conn.h"

/* What a protocol knows of a finished request, for the shared counters,
 * max_requests and the access log (am_request_done()). Strings need
 * not be NUL-terminated; NULL or empty prints as "-". */
typedef struct am_request_done_s {
    int proto;            /* AM_STATS_H1 or AM_STATS_H2 */
    const char *protocol; /* "HTTP/1.1", "HTTP/2.0" */
    int status;
    uint64_t body_bytes;
    time_t start_time;    /* wall clock, 0: now */
    am_msec_t start_msec; /* monotonic, 0: unknown */
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    const char *head; /* the buffer the fields point into */
    const am_field_t *fields;
    size_t nfields;
} am_request_done_t;

/* One request ended on c: count it, tell the worker (max_requests), write
 * the access log line. */
void am_request_done(am_conn_t *c, const am_request_done_t *r);

/* Response checks every protocol makes on the app's start and trailers
 * (the protocol adds its own framing rules). AM_OK, or AM_DECLINED with
 * *err saying why. */
/* The status of http.response.start: an integer from 200 to 999. */
int am_request_check_status(int status, const char **err);
/* A response field: the name a token (RFC 9110 §5.1), the value without
 * CR, LF or NUL (§5.5). */
int am_request_check_field(const am_header_t *hd, const char **err);

/* Trusted proxies (forwarded_allow_ips): replace head's client and scheme
 * from Forwarded / X-Forwarded-For / X-Forwarded-Proto when c's direct
 * peer is trusted. out must live until the head is used. */
void am_request_apply_forwarded(am_conn_t *c, am_asgi_head_t *head,
                                am_forwarded_out_t *out);

#endif
