/* worker/http1_conn.h: the state of one HTTP/1.1 connection, shared by
 * the files that serve it: http1.c (the connection: preface sniff, the
 * read loop, timeouts), http1_request.c (the request side: head and body
 * through worker/h1_parser.c, head checks, the request for the bridge)
 * and http1_response.c (the bridge's response events).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Nothing outside those files includes this header.
 */
#ifndef AM_WORKER_HTTP1_CONN_H
#define AM_WORKER_HTTP1_CONN_H

#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "worker/asgi.h"
#include "worker/conn.h"
#include "worker/h1_parser.h"

/* Where the current request message is (RFC 9112 §2.1). Changed only by
 * am_http1_set_state(), which checks the transition:
 *   IDLE -> HEAD -> BODY -> DONE -> IDLE (next request), BODY -> UPGRADED.
 * A refused head stays in BODY until the connection closes. */
typedef enum am_http1_state_e {
    AM_HTTP1_IDLE,     /* between requests: the keep-alive wait */
    AM_HTTP1_HEAD,     /* a message began: reading its head */
    AM_HTTP1_BODY,     /* the head is parsed: its body may follow */
    AM_HTTP1_DONE,     /* the whole message is read; parsing pauses */
    AM_HTTP1_UPGRADED, /* h2c: HTTP/2 owns the connection now */
} am_http1_state_t;

/* Where its response is: NONE -> STARTED (the app's start is accepted and
 * held) -> SENT (the head is written) -> COMPLETE (framing finished).
 * Changed only by am_http1_set_resp_state(); back to NONE on reset. */
typedef enum am_http1_resp_e {
    AM_HTTP1_RESP_NONE,
    AM_HTTP1_RESP_STARTED,
    AM_HTTP1_RESP_SENT,
    AM_HTTP1_RESP_COMPLETE,
} am_http1_resp_t;

typedef struct am_http1_s {
    am_conn_t *c;
    am_h1_parser_t parser;
    am_h1_field_t *pfields; /* the parser's field lines, limit_header_count;
                               NULL between requests (am_http1_reset()) */
    size_t pfields_cap;

    /* A copy of the head, kept for the bridge and the access log: the
     * request target (url_len bytes at 0), the method, then the field
     * names (lowercased) and values that fields[] point into. */
    am_buf_t head;
    size_t url_len;
    size_t method_off, method_len;
    am_field_t *fields;
    size_t nfields, fields_cap;

    am_asgi_request_t *req;
    size_t body_received;
    am_msec_t start_msec;
    time_t start_time;
    uint32_t requests; /* served on this connection */

    /* limits.body_min_rate: the body's clock runs from rate_start (the
     * head, or the 100 Continue) except while reading is paused for the
     * app (rate_paused ms so far; rate_paused_at when paused now). */
    am_timer_t rate_timer;
    am_msec_t rate_start;
    am_msec_t rate_paused;
    am_msec_t rate_paused_at;
    unsigned rate_on : 1;

    am_http1_state_t state;     /* the current request message */
    am_http1_resp_t resp_state; /* its response */
    unsigned keepalive : 1;     /* the request allows keep-alive */
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

    /* response */
    int status;
    unsigned resp_chunked : 1;
    unsigned resp_no_body : 1;
    unsigned resp_close : 1;
    unsigned resp_has_length : 1;
    unsigned resp_has_server : 1;
    unsigned resp_has_date : 1;
    unsigned resp_trailers_sent : 1; /* the last chunk is written */
    uint64_t resp_length;
    uint64_t resp_sent; /* body bytes */
    am_buf_t resp_head;
} am_http1_t;

/* Move the request (http1_request.c) or its response (http1_response.c)
 * to state; a transition not in the diagrams above is a bug and aborts
 * (as h2o's h2o_http2_stream_set_state() asserts). */
void am_http1_set_state(am_http1_t *h, am_http1_state_t state);
void am_http1_set_resp_state(am_http1_t *h, am_http1_resp_t state);

/* http1.c */

/* Forget the finished request; the connection waits for the next. */
void am_http1_reset(am_http1_t *h);

/* h->pfields for the next head: a released array, or a new one. */
void am_http1_pfields_take(am_http1_t *h);
/* A response of our own (400, 408, 413, 414, 431, 505, 500, and the
 * metrics endpoint's 404/405/503): always the last on the connection. */
void am_http1_error(am_http1_t *h, int status);
/* The request ended with status: counters and the access log. */
void am_http1_access_log(am_http1_t *h, int status);

/* The body's minimum rate (limits.body_min_rate): start its clock (the
 * head is read, or 100 Continue invites the body), stop it, and pause or
 * resume it while reading waits for the app (body_paused). */
void am_http1_rate_start(am_http1_t *h);
void am_http1_rate_stop(am_http1_t *h);
void am_http1_body_pause(am_http1_t *h, int paused);

/* http1_request.c */

/* The parser's limits from the configuration. */
void am_http1_parser_limits(const am_conf_t *conf, am_h1_limits_t *limits);
/* Parse the head at the start of c->rbuf. AM_AGAIN: incomplete; AM_OK:
 * consumed, checked and handed on (the app, the metrics endpoint or the
 * h2c switch: state is BODY, DONE or UPGRADED); AM_ERROR: refused, the
 * error response is queued. */
int am_http1_read_head(am_http1_t *h);
/* One step of the body from c->rbuf, passed to the app. AM_OK: call
 * again; AM_AGAIN: more input needed; AM_DONE: the message is complete
 * (state DONE); AM_ERROR: refused, the error response is queued. */
int am_http1_read_body(am_http1_t *h);

/* http1_response.c: the bridge's response events for an HTTP/1.1
 * request; the stream pointer is the am_http1_t. */
extern const am_asgi_ops_t am_http1_response_ops;

#endif
