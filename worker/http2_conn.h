/* worker/http2_conn.h: the state of one HTTP/2 connection and its
 * streams, shared by the files that serve it: http2.c (the session, frame
 * callbacks, the connection), http2_stream.c (stream life and the request
 * head) and http2_response.c (the bridge's response events as frames),
 * http2_ws.c (WebSocket streams, RFC 8441).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Nothing outside those files includes this header.
 */
#ifndef AM_WORKER_HTTP2_CONN_H
#define AM_WORKER_HTTP2_CONN_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#include "common/buf.h"
#include "common/stats.h"
#include "worker/asgi.h"
#include "worker/conn.h"

/* RFC 9113 §4.1: the frame header, kept free before each chunk of a
 * stream's response body (am_bufq_append_framed()). */
#define AM_HTTP2_FRAME_HEAD 9

/* Where a stream's response is (RFC 9113 §5.1 seen from our side).
 * Forward only, through am_http2_stream_set_state():
 *   OPEN -> SEND_BODY -> SEND_FINAL
 * OPEN: no HEADERS submitted yet (the app's start is held until the first
 * body event); SEND_BODY: HEADERS submitted, DATA may follow; SEND_FINAL:
 * the last body byte (and any trailers) is queued, END_STREAM follows.
 * The request side is body_done (half-closed remote); a stream is freed
 * when nghttp2 closes it. */
typedef enum am_http2_stream_state_e {
    AM_HTTP2_STREAM_OPEN,
    AM_HTTP2_STREAM_SEND_BODY,
    AM_HTTP2_STREAM_SEND_FINAL,
} am_http2_stream_state_t;

typedef struct am_http2_s am_http2_t;

/* A token bucket: budget tokens, refilled at budget/10 a second. */
typedef struct am_http2_budget_s {
    size_t tokens;
    am_msec_t last; /* 0: not started (full) */
} am_http2_budget_t;

typedef struct am_http2_stream_s am_http2_stream_t;

typedef struct am_http2_ws_s am_http2_ws_t; /* worker/http2_ws.c */

struct am_http2_stream_s {
    int32_t id;
    am_http2_t *h2;
    am_http2_stream_t *prev, *next; /* the connection's live streams */
    am_asgi_request_t *req;

    /* request head */
    am_buf_t head; /* names and values, lowercase names */
    am_field_t *fields;
    size_t nfields, fields_cap;
    int32_t method, path, scheme, authority; /* field index or -1 */
    int32_t protocol;  /* RFC 8441 :protocol, field index or -1 */
    am_http2_ws_t *ws; /* a WebSocket session rides this stream */
    size_t header_bytes;
    int error_status;  /* 431 etc.: answer without the app */
    size_t unconsumed; /* DATA received, not yet read by the app */
    uint64_t body_received;
    int body_done; /* END_STREAM received: half-closed (remote) */
    am_http2_stream_state_t
        state; /* the response, am_http2_stream_set_state() */

    /* response */
    am_bufq_t out;  /* body bytes not yet taken by nghttp2 */
    am_buf_t nvbuf; /* the response head's entries, then names/values */
    size_t nhead;   /* entries of the head until it is submitted */
    nghttp2_nv *trailers;
    size_t ntrailers;
    int status;
    uint64_t resp_sent;
    time_t start_time;
    am_msec_t start_msec;
    unsigned deferred : 1;     /* the data source said DEFERRED */
    unsigned has_trailers : 1; /* the app announced trailers */
    unsigned is_head : 1;
    unsigned waiting : 1;       /* send() waits for out to drain */
    unsigned rst_after_eof : 1; /* RFC 9113 §8.1: our own error answer */
    unsigned discarding : 1;    /* response done: the body is thrown away */
    unsigned start_pending : 1; /* head complete, the app not started */
    unsigned logged : 1;
    uint64_t discarded;     /* body bytes thrown away while discarding */
    am_msec_t wait_since;   /* the app waits for body since (0: not) */
    am_msec_t waited;       /* time the app waited for body, earlier waits */
    am_timer_t rate_timer;  /* limits.body_min_rate */
    int32_t window_before;  /* our send window when a SETTINGS began */
    am_timer_t body_timer;  /* the app waits for body that does not come */
    am_timer_t write_timer; /* response bytes the client's window holds */
};

struct am_http2_s {
    am_conn_t *c;
    nghttp2_session *session;
    am_http2_stream_t *streams;
    am_http2_stream_t *hd_stream; /* the last opened: its fields arrive */
    size_t nstreams;
    int32_t max_opened; /* highest client stream id opened */
    int32_t recent[64]; /* recently opened ids, for late trailers */
    size_t nrecent;
    uint32_t peer_window; /* the peer's SETTINGS_INITIAL_WINDOW_SIZE */
    unsigned goaway_final : 1;
    unsigned closing : 1;
    unsigned abuse : 1;        /* ended for abuse: start no more apps */
    unsigned header_block : 1; /* a header block is open (HEADERS seen) */
    unsigned block_ends : 1;   /* ... and ends with this frame's payload */
    unsigned goaway_sent : 1;
    int fail_cause; /* am_abuse_cause_t + 1 a callback failed mem_recv for */
    uint8_t hd[9];  /* h2_track(): a frame header being read */
    size_t hdlen;
    uint32_t skip; /* payload (or preface) bytes until the next header */
    am_http2_budget_t resets;  /* http2.reset_budget */
    am_http2_budget_t empties; /* http2.empty_frame_budget */
    am_timer_t goaway_timer;
    am_timer_t header_timer; /* timeouts.header_read for an open block */
};

/* http2.c: flush the session's output at the end of this loop turn. */
void am_http2_schedule(am_http2_t *h2);
/* http2.c: end the connection for abuse: GOAWAY error, counted by cause,
 * no app started for what follows. */
void am_http2_abuse(am_http2_t *h2, am_abuse_cause_t cause, uint32_t error);

/* http2_stream.c */

/* Move s to state; a backward move is a bug and aborts (h2o's
 * h2o_http2_stream_set_state() asserts the same way). */
void am_http2_stream_set_state(am_http2_stream_t *s,
                               am_http2_stream_state_t state);

/* A client stream opened; the connection's idle timer stops. */
am_http2_stream_t *am_http2_stream_create(am_http2_t *h2, int32_t id);
/* The stream closed: free it (its bridge request is released); its
 * memory and buffers are kept for the next stream, within a bound. */
void am_http2_stream_destroy(am_http2_stream_t *s);
/* Free the streams kept for reuse (the worker's last HTTP/2 connection
 * closed). */
void am_http2_stream_trim(void);
/* How many streams are kept for reuse. */
size_t am_http2_stream_kept(void);
/* The app waits for body (waiting 1) or got some (0): the time that counts
 * for limits.body_min_rate. */
void am_http2_stream_body_wait(am_http2_stream_t *s, int waiting);
/* The response is complete and the request body is not: throw the rest
 * away (RFC 9113 §8.1), its bytes given back to the windows. */
void am_http2_stream_discard(am_http2_stream_t *s);
/* len body bytes arrived on a discarding stream: given back at once. */
void am_http2_stream_discarded(am_http2_stream_t *s, size_t len);
/* The stream ended with status: counters and the access log, once. */
void am_http2_stream_log(am_http2_stream_t *s, int status);
/* RFC 9113 §8.3.1: the head is complete; build the request and start the
 * app. Returns 0, or the status to answer with (400). */
int am_http2_stream_start(am_http2_t *h2, am_http2_stream_t *s);

/* http2_response.c */

/* The bridge's response events for a stream (the stream pointer). */
extern const am_asgi_ops_t am_http2_response_ops;
/* A response of our own (400, 413, 431, 500) on stream s. */
void am_http2_response_error(am_http2_stream_t *s, int status);
/* nghttp2's data source callback for response bodies, and its
 * send_data_callback, which writes a DATA frame's header and body to the
 * connection (NGHTTP2_DATA_FLAG_NO_COPY). */
ssize_t am_http2_response_read(nghttp2_session *session, int32_t stream_id,
                               uint8_t *buf, size_t length,
                               uint32_t *data_flags,
                               nghttp2_data_source *source, void *user_data);
int am_http2_response_send(nghttp2_session *session, nghttp2_frame *frame,
                           const uint8_t *framehd, size_t length,
                           nghttp2_data_source *source, void *user_data);

/* http2_ws.c: WebSocket over an HTTP/2 stream (RFC 8441). Declared here,
 * beside the other files of the HTTP/2 unit, so http2.c and http2_ws.c do
 * not include each other. */

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
