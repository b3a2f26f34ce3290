/* worker/http1_conn.h: the state of one HTTP/1.1 connection, shared by
 * the files that serve it: http1.c (connection and parser glue),
 * http1_request.c (the parser's callbacks, head checks, the request for
 * the bridge) and http1_response.c (the bridge's response events).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Nothing outside those files includes this header.
 */
#ifndef AM_WORKER_HTTP1_CONN_H
#define AM_WORKER_HTTP1_CONN_H

#include <stdint.h>
#include <time.h>

#include <http_parser.h>

#include "common/buf.h"
#include "worker/asgi.h"
#include "worker/conn.h"

typedef struct am_http1_s {
    am_conn_t *c;
    http_parser parser;

    am_buf_t head; /* the request target, then names and values */
    size_t url_len;
    am_field_t *fields;
    size_t nfields, fields_cap;
    size_t header_bytes;
    int error_status; /* set by a callback that refuses the request */

    am_asgi_request_t *req;
    size_t body_received;
    am_msec_t start_msec;
    time_t start_time;
    uint32_t requests; /* served on this connection */

    unsigned in_request : 1;   /* a message began */
    unsigned head_done : 1;    /* on_headers_complete ran */
    unsigned message_done : 1; /* on_message_complete ran */
    unsigned keepalive : 1;    /* the request allows keep-alive */
    unsigned http10 : 1;
    unsigned is_head : 1;
    unsigned expect_continue : 1;
    unsigned continue_sent : 1;
    unsigned discarding : 1; /* response done, still reading the body */
    unsigned body_paused : 1;
    unsigned head_deadline : 1; /* header_read armed for this request */
    unsigned te_trailers : 1;   /* the client sent "TE: trailers" */
    unsigned out_paused : 1;    /* responses pile up unread: wait */
    unsigned sniffed : 1;       /* the first bytes are not an h2 preface */
    unsigned upgraded : 1;      /* h2c: the connection is HTTP/2 now */

    /* response */
    int status;
    unsigned resp_started : 1;
    unsigned resp_head_sent : 1;
    unsigned resp_chunked : 1;
    unsigned resp_no_body : 1;
    unsigned resp_done : 1;
    unsigned resp_close : 1;
    unsigned resp_has_length : 1;
    unsigned resp_has_server : 1;
    unsigned resp_has_date : 1;
    unsigned resp_has_te : 1;
    unsigned resp_trailers : 1;      /* the app announced trailers */
    unsigned resp_trailers_sent : 1; /* the last chunk is written */
    uint64_t resp_length;
    uint64_t resp_sent; /* body bytes */
    am_buf_t resp_head;
} am_http1_t;

/* http1.c */

/* Forget the finished request; the connection waits for the next. */
void am_http1_reset(am_http1_t *h);
/* A response of our own (400, 408, 413, 414, 431, 505, 500, and the
 * metrics endpoint's 404/405/503): always the last on the connection. */
void am_http1_error(am_http1_t *h, int status);
/* The request ended with status: counters and the access log. */
void am_http1_access_log(am_http1_t *h, int status);

/* http1_request.c: http-parser's callbacks. */
extern const http_parser_settings am_http1_request_settings;

/* http1_response.c: the bridge's response events for an HTTP/1.1
 * request; the stream pointer is the am_http1_t. */
extern const am_asgi_ops_t am_http1_response_ops;

#endif
