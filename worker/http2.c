/* worker/http2.c: HTTP/2 (RFC 9113) with nghttp2. The whole read buffer is
 * fed to nghttp2_session_mem_recv(); its output is drained with
 * nghttp2_session_mem_send() into the connection's buffer, bounded by a
 * high-water mark and resumed when the socket drains. Each request stream is
 * one ASGI request through the shared bridge (worker/asgi.h), so streams run
 * concurrently in the app. Automatic WINDOW_UPDATE is off: the window of a
 * stream (and of the connection) is re-opened only as the app receives the
 * body, so a slow app slows its client instead of growing memory. Response
 * bodies are deferred data: the app's send() appends to the stream's buffer
 * and resumes it; send() waits while that buffer is above the mark.
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "common/log.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/http2.h"
#include "worker/http2_conn.h"
#include "worker/http2_mem.h"

#define H2_OUT_HIGH   ((size_t)256 * 1024) /* conn output pulled from nghttp2 */
#define H2_GOAWAY_MS  1000 /* notice -> final GOAWAY (RFC 9113 §6.8) */
#define H2_MAX_FIELDS 1024

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
static const uint8_t h2_drain_ping[8] = {
    'a', 'm', 'd', 'r', 'a', 'i', 'n', '!'
};

static nghttp2_session_callbacks *h2_callbacks;
static nghttp2_option *h2_option;
static size_t h2_conns; /* live sessions: none left, kept streams go */

static void http2_on_read(am_conn_t *c, int eof);
static void http2_on_drain(am_conn_t *c);
static void http2_on_close(am_conn_t *c);
static void http2_on_shutdown(am_conn_t *c);
static void http2_on_post(am_post_t *p);
static void http2_on_idle(am_timer_t *t);
static void http2_on_goaway_timer(am_timer_t *t);
static void http2_flush(am_http2_t *h2);
static void http2_on_header_timeout(am_timer_t *t);

static const am_proto_t http2_proto = {
    .name = "h2",
    .on_read = http2_on_read,
    .on_drain = http2_on_drain,
    .on_close = http2_on_close,
    .on_shutdown = http2_on_shutdown,
};

int
am_http2_is_preface(const char *buf, size_t len, int *full)
{
    size_t n = am_min(len, sizeof(h2_preface) - 1);

    *full = len >= sizeof(h2_preface) - 1;
    return memcmp(buf, h2_preface, n) == 0;
}

/* Take a token from b, a bucket of budget tokens refilled at budget/10 a
 * second; 0 when it is empty. budget 0: no limit. */
static int
h2_budget_take(am_http2_budget_t *b, size_t budget)
{
    am_msec_t now = am_now_msec();
    uint64_t add;

    if (budget == 0) {
        return 1;
    }
    if (b->last == 0) {
        b->tokens = budget;
        b->last = now;
    } else if (now > b->last) {
        add = (uint64_t)(now - b->last) * budget / 10000;
        if (add > 0) {
            b->tokens = (size_t)am_min((uint64_t)budget, b->tokens + add);
            b->last = now;
        }
    }
    b->tokens = am_min(b->tokens, budget); /* a reload lowered it */
    if (b->tokens == 0) {
        return 0;
    }
    b->tokens--;
    return 1;
}

void
am_http2_abuse(am_http2_t *h2, am_abuse_cause_t cause, uint32_t error)
{
    if (h2->abuse) {
        return;
    }
    h2->abuse = 1;
    am_stats_abuse(cause);
    am_connlog(AM_LOG_INFO, 0, h2->c->id, 0, "HTTP/2 connection ended: %s",
               am_stats_abuse_names[cause]);
    nghttp2_session_terminate_session(h2->session, error);
    am_http2_schedule(h2);
}

/* A frame that carries nothing and changes nothing (CVE-2019-9518):
 * past http2.empty_frame_budget the connection ends. Called inside
 * mem_recv(): the callback fails it (nghttp2 asserts on a session
 * terminated under some callbacks) and http2_fail() sends the GOAWAY. */
static int
h2_empty_frame(am_http2_t *h2)
{
    if (h2_budget_take(&h2->empties, am_ctx.conf->h2_empty_frame_budget)) {
        return 0;
    }
    h2->fail_cause = AM_ABUSE_EMPTY_FRAMES + 1;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

/* nghttp2 callbacks: each runs inside mem_recv()/mem_send(). */

static int
h2_on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
                    void *user_data)
{
    am_http2_t *h2 = user_data;
    am_http2_stream_t *s;

    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    s = am_http2_stream_create(h2, frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s);
    h2->hd_stream = s;
    if (frame->hd.stream_id > h2->max_opened) {
        h2->max_opened = frame->hd.stream_id;
    }
    h2->recent[h2->nrecent++ % am_nitems(h2->recent)] = frame->hd.stream_id;
    return 0;
}

/* Runs on each frame header, before nghttp2 acts on the frame: checks
 * nghttp2 leaves to the application. */
static int
h2_on_begin_frame(nghttp2_session *session, const nghttp2_frame_hd *hd,
                  void *user_data)
{
    am_http2_t *h2 = user_data;
    am_http2_stream_t *s;
    size_t i;

    if (hd->type == NGHTTP2_HEADERS && (hd->stream_id & 1) &&
        hd->stream_id < h2->max_opened &&
        nghttp2_session_find_stream(session, hd->stream_id) == NULL) {
        /* RFC 9113 §5.1.1: a new stream id lower than one already used is
         * a connection error PROTOCOL_ERROR. Trailers of a stream we reset
         * a moment ago are not new: the recent ids say which. */
        for (i = 0; i < am_min(h2->nrecent, am_nitems(h2->recent)); i++) {
            if (h2->recent[i] == hd->stream_id) {
                return 0;
            }
        }
        nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR);
        return 0;
    }
    if (hd->type == NGHTTP2_PRIORITY || hd->type > NGHTTP2_CONTINUATION) {
        /* No effect on a request: PRIORITY (RFC 9113 §5.3.2 deprecates
         * the scheme), and extension frames we ignore (§5.5). */
        if (h2_empty_frame(h2) != 0) {
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
    }
    if (hd->type == NGHTTP2_SETTINGS && !(hd->flags & NGHTTP2_FLAG_ACK)) {
        for (s = h2->streams; s != NULL; s = s->next) {
            s->window_before =
                nghttp2_session_get_stream_remote_window_size(session, s->id);
        }
    }
    return 0;
}

/* RFC 9113 §6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE change that takes any
 * stream window past 2^31-1 is a connection error FLOW_CONTROL_ERROR
 * (nghttp2 resets only the stream). */
static void
h2_check_window_change(am_http2_t *h2, const nghttp2_settings *f)
{
    am_http2_stream_t *s;
    int64_t delta;
    size_t i;

    for (i = 0; i < f->niv; i++) {
        if (f->iv[i].settings_id != NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE) {
            continue;
        }
        delta = (int64_t)f->iv[i].value - (int64_t)h2->peer_window;
        h2->peer_window = f->iv[i].value;
        for (s = h2->streams; s != NULL && delta > 0; s = s->next) {
            if ((int64_t)s->window_before + delta > 0x7fffffff) {
                nghttp2_session_terminate_session(h2->session,
                                                  NGHTTP2_FLOW_CONTROL_ERROR);
                return;
            }
        }
    }
}

static int
h2_on_header(nghttp2_session *session, const nghttp2_frame *frame,
             const uint8_t *name, size_t namelen, const uint8_t *value,
             size_t valuelen, uint8_t flags, void *user_data)
{
    am_http2_stream_t *s;
    am_field_t *f;

    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0; /* request trailers: ASGI has no place for them */
    }
    /* The stream whose block is being read, without a lookup per field
     * (am_http2_stream_destroy() forgets it). */
    s = ((am_http2_t *)user_data)->hd_stream;
    if (s == NULL || s->id != frame->hd.stream_id) {
        s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    }
    if (s == NULL || s->error_status) {
        return 0;
    }
    s->header_bytes += namelen + valuelen + 32; /* RFC 9113 §6.5.2 */
    if (s->header_bytes > am_ctx.conf->h2_max_header_list_size ||
        s->nfields >= am_min(am_ctx.conf->limit_header_count + 4,
                             (size_t)H2_MAX_FIELDS)) {
        s->error_status = 431;
        return 0;
    }
    if (s->nfields == s->fields_cap) {
        s->fields_cap = s->fields_cap ? s->fields_cap * 2 : 16;
        s->fields = am_realloc(s->fields, s->fields_cap * sizeof(*f));
    }
    f = &s->fields[s->nfields];
    am_buf_reserve(&s->head, namelen + valuelen);
    f->name_off = (uint32_t)s->head.len;
    f->name_len = (uint32_t)namelen;
    memcpy(s->head.data + s->head.len, name, namelen);
    f->value_off = (uint32_t)(s->head.len + namelen);
    f->value_len = (uint32_t)valuelen;
    memcpy(s->head.data + f->value_off, value, valuelen);
    s->head.len += namelen + valuelen;

    /* nghttp2's messaging checks (RFC 9113 §8.2, §8.3) ran already. */
    if (namelen > 1 && name[0] == ':') {
        if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
            s->method = (int32_t)s->nfields;
        } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
            s->path = (int32_t)s->nfields;
        } else if (namelen == 7 && memcmp(name, ":scheme", 7) == 0) {
            s->scheme = (int32_t)s->nfields;
        } else if (namelen == 10 && memcmp(name, ":authority", 10) == 0) {
            s->authority = (int32_t)s->nfields;
        } else if (namelen == 9 && memcmp(name, ":protocol", 9) == 0) {
            s->protocol = (int32_t)s->nfields; /* RFC 8441 §4 */
        }
    }
    s->nfields++;
    return 0;
}

/* Start the app of a stream whose head is complete. */
static void
h2_start_stream(am_http2_t *h2, am_http2_stream_t *s)
{
    int status;

    s->start_pending = 0;
    if (h2->abuse || h2->c->closed || h2->c->closing) {
        return; /* the connection is ending: start nothing more */
    }
    status = am_http2_stream_start(h2, s);
    if (status != 0) {
        am_http2_response_error(s, status);
    }
}

/* After a read: start the apps of the streams that are still there, in
 * the order they were opened (the list is newest first). */
static void
h2_start_pending(am_http2_t *h2)
{
    am_http2_stream_t *s, *prev;

    for (s = h2->streams; s != NULL && s->next != NULL; s = s->next) {
    }
    for (; s != NULL; s = prev) {
        prev = s->prev;
        if (s->start_pending) {
            h2_start_stream(h2, s);
        }
    }
}

static int
h2_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                 void *user_data)
{
    am_http2_t *h2 = user_data;
    am_http2_stream_t *s;

    if (frame->hd.type == NGHTTP2_SETTINGS &&
        !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
        h2_check_window_change(h2, &frame->settings);
        return 0;
    }
    if (frame->hd.type == NGHTTP2_PING &&
        (frame->hd.flags & NGHTTP2_FLAG_ACK) && !h2->goaway_final &&
        memcmp(frame->ping.opaque_data, h2_drain_ping, 8) == 0) {
        /* The round trip after the shutdown notice is over. */
        am_timer_add(&h2->goaway_timer, 0);
        return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) {
        return 0;
    }
    if (frame->hd.type == NGHTTP2_DATA &&
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        frame->hd.length <= frame->data.padlen && h2_empty_frame(h2) != 0) {
        return NGHTTP2_ERR_CALLBACK_FAILURE; /* no data, no END_STREAM */
    }
    s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL) {
        return 0;
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        s->body_done = 1;
        am_timer_del(&s->body_timer);
        am_timer_del(&s->rate_timer);
        if (s->ws != NULL) {
            am_http2_ws_end(s);
            return 0;
        }
    }
    if (frame->hd.type == NGHTTP2_HEADERS &&
        frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        if (am_ctx.stopping && h2->goaway_final) {
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE,
                                      frame->hd.stream_id,
                                      NGHTTP2_REFUSED_STREAM);
            return 0;
        }
        if (s->error_status) {
            am_http2_response_error(s, s->error_status);
            return 0;
        }
        /* The app starts once this read is processed and what it made us
         * send is sent (h2_start_pending()): a stream reset meanwhile,
         * by the client or by us (CVE-2025-8671), never runs the app. */
        s->start_pending = 1;
        return 0;
    }
    if (s->start_pending) {
        h2_start_stream(h2, s); /* END_STREAM on an empty DATA frame */
    }
    if (s->body_done && s->req && !s->discarding) {
        am_asgi_request_body(s->req, NULL, 0, 0);
    }
    return 0;
}

static int
h2_on_data_chunk_recv(nghttp2_session *session, uint8_t flags,
                      int32_t stream_id, const uint8_t *data, size_t len,
                      void *user_data)
{
    am_http2_t *h2 = user_data;
    am_http2_stream_t *s =
        nghttp2_session_get_stream_user_data(session, stream_id);

    if (s != NULL && s->start_pending) {
        h2_start_stream(h2, s); /* the app takes the body from here */
    }
    if (s != NULL && s->ws != NULL) {
        am_http2_ws_data(s, data, len);
        return 0;
    }
    if (s != NULL && s->discarding) {
        am_http2_stream_discarded(s, len);
        return 0;
    }
    if (s == NULL || s->req == NULL) {
        /* Nobody will read it: give the window back at once. */
        nghttp2_session_consume(session, stream_id, len);
        return 0;
    }
    am_timer_del(&s->body_timer);
    am_http2_stream_body_wait(s, 0);
    s->body_received += len;
    if (am_ctx.conf->limit_body_size &&
        s->body_received > am_ctx.conf->limit_body_size) {
        /* RFC 9110 §15.5.14: too large; the app sees a disconnect. */
        nghttp2_session_consume(session, stream_id, len);
        am_asgi_request_disconnect(s->req);
        if (s->state == AM_HTTP2_STREAM_OPEN && s->status == 0) {
            am_http2_response_error(s, 413);
        } else {
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id,
                                      NGHTTP2_CANCEL);
        }
        return 0;
    }
    s->unconsumed += len;
    am_asgi_request_body(s->req, (const char *)data, len, 1);
    return 0;
}

static int
h2_on_stream_close(nghttp2_session *session, int32_t stream_id,
                   uint32_t error_code, void *user_data)
{
    am_http2_stream_t *s =
        nghttp2_session_get_stream_user_data(session, stream_id);

    if (s == NULL) {
        return 0;
    }
    if (s->unconsumed > 0) {
        /* Bytes the app never read still hold the connection window. */
        nghttp2_session_consume_connection(session, s->unconsumed);
        s->unconsumed = 0;
    }
    if (!s->logged && s->state != AM_HTTP2_STREAM_OPEN) {
        am_http2_stream_log(s, s->status);
    }
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    am_http2_stream_destroy(s);
    return 0;
}

static int
h2_on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
                 void *user_data)
{
    am_http2_t *h2 = user_data;
    am_http2_stream_t *s;

    if (frame->hd.type == NGHTTP2_GOAWAY) {
        h2->goaway_sent = 1;
        return 0;
    }
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        /* Every reset we send, whatever made us (our own, or nghttp2's
         * for a stream error such as FLOW_CONTROL_ERROR), is paid from
         * http2.reset_budget: a client that provokes resets would make
         * us do work no stream limit bounds (CVE-2025-8671). */
        if (am_stats_self != NULL) {
            am_stats_self->h2_resets_sent++;
        }
        if (!h2_budget_take(&h2->resets, am_ctx.conf->h2_reset_budget)) {
            am_http2_abuse(h2, AM_ABUSE_RESET_BUDGET,
                           NGHTTP2_ENHANCE_YOUR_CALM);
        }
        return 0;
    }
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (s == NULL || s->body_done) {
            return 0;
        }
        if (s->rst_after_eof) {
            /* RFC 9113 §8.1: our own error answer is complete while the
             * request is not: tell the client to stop sending. */
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE,
                                      frame->hd.stream_id, NGHTTP2_NO_ERROR);
        } else {
            /* The app's answer: the stream stays half-closed (local) and
             * its frames are still checked (§5.1); the body is dropped. */
            am_http2_stream_discard(s);
        }
    }
    return 0;
}

/* Frames of a type we do not know (RFC 9113 §5.5: ignored). They are
 * taken as extension frames only so on_begin_frame counts them. */
static int
h2_on_extension_chunk(nghttp2_session *session, const nghttp2_frame_hd *hd,
                      const uint8_t *data, size_t len, void *user_data)
{
    return 0;
}

static int
h2_unpack_extension(nghttp2_session *session, void **payload,
                    const nghttp2_frame_hd *hd, void *user_data)
{
    return NGHTTP2_ERR_CANCEL; /* ignored */
}

void
am_http2_schedule(am_http2_t *h2)
{
    am_post(&h2->c->post);
}

/* Connection. */

void
am_http2_goaway_raw(am_conn_t *c, uint32_t error)
{
    /* RFC 9113 §3.4, §6.8: an invalid preface is a connection error of
     * type PROTOCOL_ERROR; nghttp2 cannot frame it from a failed session. */
    uint8_t f[17] = { 0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0 };

    f[13] = (uint8_t)(error >> 24);
    f[14] = (uint8_t)(error >> 16);
    f[15] = (uint8_t)(error >> 8);
    f[16] = (uint8_t)error;
    am_conn_write(c, f, sizeof(f));
}

static void
http2_flush(am_http2_t *h2)
{
    am_conn_t *c = h2->c;
    const uint8_t *data;
    ssize_t n;

    while (!c->closed && am_conn_pending(c) < H2_OUT_HIGH) {
        n = nghttp2_session_mem_send(h2->session, &data);
        if (n < 0) {
            am_connlog(AM_LOG_INFO, 0, c->id, 0,
                       "nghttp2_session_mem_send(): %s",
                       nghttp2_strerror((int)n));
            am_conn_close(c);
            return;
        }
        if (n == 0) {
            break;
        }
        am_conn_write(c, data, (size_t)n);
    }
    if (c->closed || c->closing) {
        return;
    }
    if (!nghttp2_session_want_read(h2->session) &&
        !nghttp2_session_want_write(h2->session)) {
        am_conn_close_after_flush(c);
    }
}

static void
http2_on_post(am_post_t *p)
{
    am_http2_t *h2 = p->data;

    if (!h2->c->closed) {
        http2_flush(h2);
    }
}

/* mem_recv() failed with err (fatal for the session). RFC 9113 §5.4.1:
 * a connection error is answered with GOAWAY before the close; nghttp2
 * queues one itself for protocol errors, not for the limits it enforces
 * (CVE-2024-28182 CONTINUATION frames, unread acknowledgements). */
static void
http2_fail(am_http2_t *h2, int err)
{
    uint32_t code = NGHTTP2_PROTOCOL_ERROR;

    if (err == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
        am_http2_goaway_raw(h2->c, NGHTTP2_PROTOCOL_ERROR);
        return;
    }
    if (err == NGHTTP2_ERR_CALLBACK_FAILURE && h2->fail_cause != 0) {
        am_http2_abuse(h2, (am_abuse_cause_t)(h2->fail_cause - 1),
                       NGHTTP2_ENHANCE_YOUR_CALM);
    } else if (err == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
        am_http2_abuse(h2, AM_ABUSE_CONTINUATION_FLOOD,
                       NGHTTP2_ENHANCE_YOUR_CALM);
    } else if (err == NGHTTP2_ERR_FLOODED) {
        am_http2_abuse(h2, AM_ABUSE_CONTROL_FLOOD, NGHTTP2_ENHANCE_YOUR_CALM);
    } else if (err == NGHTTP2_ERR_NOMEM ||
               err == NGHTTP2_ERR_CALLBACK_FAILURE) {
        code = NGHTTP2_INTERNAL_ERROR;
    }
    if (!h2->goaway_sent) {
        nghttp2_session_terminate_session(h2->session, code);
    }
    http2_flush(h2); /* the GOAWAY queued */
    if (!h2->goaway_sent && !h2->c->closed) {
        am_http2_goaway_raw(h2->c, code);
    }
}

/* Follow the frame boundaries of what nghttp2 consumed, to know when a
 * header block (HEADERS or PUSH_PROMISE, then CONTINUATION up to
 * END_HEADERS) is open: nghttp2 does not say. RFC 9113 §6.10: nothing
 * else may come in between. */
static void
h2_track(am_http2_t *h2, const uint8_t *p, size_t n)
{
    size_t k;
    uint8_t type, flags;

    while (n > 0) {
        if (h2->skip > 0) {
            k = (size_t)am_min((uint64_t)n, h2->skip);
            h2->skip -= k;
            p += k;
            n -= k;
            if (h2->skip == 0 && h2->block_ends) {
                h2->block_ends = 0;
                h2->header_block = 0;
                am_timer_del(&h2->header_timer);
            }
            continue;
        }
        k = am_min(n, sizeof(h2->hd) - h2->hdlen);
        memcpy(h2->hd + h2->hdlen, p, k);
        h2->hdlen += k;
        p += k;
        n -= k;
        if (h2->hdlen < sizeof(h2->hd)) {
            break;
        }
        h2->hdlen = 0;
        h2->skip =
            (uint32_t)h2->hd[0] << 16 | (uint32_t)h2->hd[1] << 8 | h2->hd[2];
        type = h2->hd[3];
        flags = h2->hd[4];
        if (!h2->header_block &&
            (type == NGHTTP2_HEADERS || type == NGHTTP2_PUSH_PROMISE) &&
            (flags & NGHTTP2_FLAG_END_HEADERS) && h2->skip <= n) {
            /* A whole block in this read (a request's HEADERS, as a
             * rule): it never stays open, so no timer is armed for it. */
            continue;
        }
        if (type == NGHTTP2_HEADERS || type == NGHTTP2_PUSH_PROMISE) {
            if (!h2->header_block) {
                /* timeouts.header_read runs from the first frame of the
                 * block, as it does from a request's first byte. */
                h2->header_block = 1;
                am_timer_add(&h2->header_timer,
                             am_ctx.conf->timeout_header_read);
            }
        }
        if (h2->header_block &&
            (type == NGHTTP2_HEADERS || type == NGHTTP2_PUSH_PROMISE ||
             type == NGHTTP2_CONTINUATION) &&
            (flags & NGHTTP2_FLAG_END_HEADERS)) {
            h2->block_ends = 1;
            if (h2->skip == 0) {
                h2->block_ends = 0;
                h2->header_block = 0;
                am_timer_del(&h2->header_timer);
            }
        }
    }
}

/* timeouts.header_read: a header block stays open (an HTTP/2 slowloris:
 * HEADERS without END_HEADERS, then nothing). */
static void
http2_on_header_timeout(am_timer_t *t)
{
    am_http2_t *h2 = t->data;

    if (h2->c->closed) {
        return;
    }
    am_http2_abuse(h2, AM_ABUSE_HEADER_TIMEOUT, NGHTTP2_ENHANCE_YOUR_CALM);
    http2_flush(h2);
}

static void
http2_on_read(am_conn_t *c, int eof)
{
    am_http2_t *h2 = c->proto_data;
    ssize_t n;

    if (am_buf_size(&c->rbuf) > 0) {
        n = nghttp2_session_mem_recv(
            h2->session, (const uint8_t *)c->rbuf.data + c->rbuf.pos,
            am_buf_size(&c->rbuf));
        if (n < 0) {
            am_connlog(AM_LOG_INFO, 0, c->id, 0, "HTTP/2 error: %s",
                       nghttp2_strerror((int)n));
            http2_fail(h2, (int)n);
            am_buf_consume(&c->rbuf, am_buf_size(&c->rbuf));
            am_conn_close_after_flush(c);
            return;
        }
        h2_track(h2, (const uint8_t *)c->rbuf.data + c->rbuf.pos, (size_t)n);
        am_buf_consume(&c->rbuf, (size_t)n);
    }
    if (eof) {
        am_conn_close(c);
        return;
    }
    /* Send what this read made us send (resets above all) before any
     * app of it starts. */
    http2_flush(h2);
    if (!c->closed) {
        h2_start_pending(h2);
    }
}

static void
http2_on_drain(am_conn_t *c)
{
    am_http2_t *h2 = c->proto_data;

    http2_flush(h2);
}

static void
http2_on_close(am_conn_t *c)
{
    am_http2_t *h2 = c->proto_data;

    am_timer_del(&h2->goaway_timer);
    am_timer_del(&h2->header_timer);
    /* nghttp2_session_del() runs no stream-close callbacks: end every
     * stream here, so its request sees http.disconnect. */
    while (h2->streams != NULL) {
        am_http2_stream_destroy(h2->streams);
    }
    nghttp2_session_del(h2->session);
    free(h2);
    c->proto_data = NULL;
    if (--h2_conns == 0) {
        am_http2_stream_trim();
    }
}

static void
http2_on_goaway_timer(am_timer_t *t)
{
    am_http2_t *h2 = t->data;

    if (h2->c->closed) {
        return;
    }
    h2->goaway_final = 1;
    nghttp2_submit_goaway(h2->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(h2->session),
                          NGHTTP2_NO_ERROR, NULL, 0);
    http2_flush(h2);
}

static void
http2_on_shutdown(am_conn_t *c)
{
    am_http2_t *h2 = c->proto_data;

    /* RFC 9113 §6.8: a GOAWAY with the maximum id first, the real one a
     * round trip later, so requests in flight are not refused. The round
     * trip is measured with a PING; the timer is the fallback for a peer
     * that does not answer it. */
    for (am_http2_stream_t *s = h2->streams; s != NULL; s = s->next) {
        if (s->ws != NULL) {
            am_http2_ws_shutdown(s, 1001);
        }
    }
    nghttp2_submit_shutdown_notice(h2->session);
    nghttp2_submit_ping(h2->session, NGHTTP2_FLAG_NONE, h2_drain_ping);
    am_timer_add(&h2->goaway_timer, H2_GOAWAY_MS);
    http2_flush(h2);
}

static void
http2_on_idle(am_timer_t *t)
{
    am_http2_t *h2 = t->data;

    if (h2->nstreams > 0) {
        return;
    }
    h2->goaway_final = 1;
    nghttp2_submit_goaway(h2->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(h2->session),
                          NGHTTP2_NO_ERROR, NULL, 0);
    http2_flush(h2);
    am_conn_close_after_flush(h2->c);
}

static am_http2_t *
http2_create(am_conn_t *c)
{
    nghttp2_settings_entry iv[7];
    size_t niv = 6;
    am_http2_t *h2 = am_calloc(1, sizeof(*h2));
    int rv;

    h2->c = c;
    h2->peer_window = 65535;
    h2->goaway_timer.handler = http2_on_goaway_timer;
    h2->goaway_timer.data = h2;
    h2->header_timer.handler = http2_on_header_timeout;
    h2->header_timer.data = h2;
    h2->skip = sizeof(h2_preface) - 1; /* h2_track(): the preface first */
    if (nghttp2_session_server_new3(&h2->session, h2_callbacks, h2, h2_option,
                                    am_http2_mem_get()) != 0) {
        free(h2);
        return NULL;
    }
    iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    iv[0].value = (uint32_t)am_ctx.conf->h2_max_concurrent_streams;
    iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    iv[1].value = (uint32_t)am_ctx.conf->h2_initial_window_size;
    iv[2].settings_id = NGHTTP2_SETTINGS_MAX_FRAME_SIZE;
    iv[2].value = (uint32_t)am_ctx.conf->h2_max_frame_size;
    iv[3].settings_id = NGHTTP2_SETTINGS_HEADER_TABLE_SIZE;
    iv[3].value = (uint32_t)am_ctx.conf->h2_header_table_size;
    iv[4].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
    iv[4].value = (uint32_t)am_ctx.conf->h2_max_header_list_size;
    iv[5].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
    iv[5].value = 0;
    /* SETTINGS_NO_RFC7540_PRIORITIES is not sent: without the priority
     * tree nghttp2 1.52 keeps no closed streams, and DATA or HEADERS on a
     * closed stream would be ignored instead of answered STREAM_CLOSED
     * (RFC 9113 §5.1). It has no RFC 9218 scheduler to gain either. */
    if (am_ctx.conf->ws_enabled) {
        /* RFC 8441 §3: extended CONNECT carries WebSocket. */
        iv[niv].settings_id = NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL;
        iv[niv++].value = 1;
    }
    rv = nghttp2_submit_settings(h2->session, NGHTTP2_FLAG_NONE, iv, niv);
    if (rv == 0 && am_ctx.conf->h2_connection_window > 65535) {
        rv = nghttp2_session_set_local_window_size(
            h2->session, NGHTTP2_FLAG_NONE, 0,
            (int32_t)am_ctx.conf->h2_connection_window);
    }
    if (rv != 0) {
        am_connlog(AM_LOG_ALERT, 0, c->id, 0, "nghttp2 settings: %s",
                   nghttp2_strerror(rv));
        nghttp2_session_del(h2->session);
        free(h2);
        return NULL;
    }
    return h2;
}

static void
http2_install(am_conn_t *c, am_http2_t *h2)
{
    h2_conns++;
    c->proto = &http2_proto;
    c->proto_data = h2;
    c->post.handler = http2_on_post;
    c->post.data = h2;
    c->post.queued = 0;
    c->read_timer.handler = http2_on_idle;
    c->read_timer.data = h2;
    /* nghttp2 bounds what it buffers: read all the socket gives. */
    c->rbuf_limit = (size_t)64 * 1024;
    am_timer_add(&c->read_timer, am_ctx.conf->timeout_h2_idle);
    am_conn_set_reading(c, 1);
}

int
am_http2_attach(am_conn_t *c)
{
    am_http2_t *h2 = http2_create(c);

    if (h2 == NULL) {
        /* The caller has let go of its protocol state already. */
        c->proto = NULL;
        c->proto_data = NULL;
        am_conn_close(c);
        return AM_ERROR;
    }
    http2_install(c, h2);
    if (am_ctx.stopping) {
        http2_on_shutdown(c);
    }
    if (am_buf_size(&c->rbuf) > 0) {
        http2_on_read(c, 0);
    } else {
        http2_flush(h2);
    }
    return AM_OK;
}

int
am_http2_upgrade(am_conn_t *c, const uint8_t *settings, size_t len,
                 const am_asgi_head_t *head)
{
    am_http2_t *h2 = http2_create(c);
    am_http2_stream_t *s;
    am_asgi_head_t h;
    int rv;

    if (h2 == NULL) {
        /* HTTP/1.1 is inside its parser callback: it frees its own state
         * once the parser returns (and sees the connection closed). */
        c->proto = NULL;
        c->proto_data = NULL;
        am_conn_close(c);
        return AM_ERROR;
    }
    http2_install(c, h2);
    s = am_http2_stream_create(h2, 1);
    s->body_done = 1; /* requests with a body are not upgraded */
    h = *head;
    h.http_version = "2";
    s->is_head = h.method_len == 4 && memcmp(h.method, "HEAD", 4) == 0;
    rv = nghttp2_session_upgrade2(h2->session, settings, len, s->is_head, s);
    if (rv != 0) {
        am_connlog(AM_LOG_INFO, 0, c->id, 0, "h2c upgrade: %s",
                   nghttp2_strerror(rv));
        am_http2_stream_destroy(s);
        am_conn_close(c);
        return AM_ERROR;
    }
    /* Fields for the access log (a new stream has room for 16). */
    s->fields[0].name_off = 0;
    s->fields[0].name_len = 7;
    am_buf_append(&s->head, ":method", 7);
    s->fields[0].value_off = (uint32_t)s->head.len;
    s->fields[0].value_len = (uint32_t)h.method_len;
    am_buf_append(&s->head, h.method, h.method_len);
    s->fields[1].name_off = (uint32_t)s->head.len;
    s->fields[1].name_len = 5;
    am_buf_append(&s->head, ":path", 5);
    s->fields[1].value_off = (uint32_t)s->head.len;
    s->fields[1].value_len = (uint32_t)h.path_len;
    am_buf_append(&s->head, h.path, h.path_len);
    s->nfields = 2;
    s->method = 0;
    s->path = 1;
    h.has_body = 0;
    h.trailers_allowed = 1;
    s->req = am_asgi_request_create(&h, &am_http2_response_ops, s, c->id, 1);
    if (s->req == NULL) {
        am_http2_response_error(s, 500);
    }
    /* The caller feeds what follows the request (the client preface). */
    http2_flush(h2);
    return AM_OK;
}

int
am_http2_init(am_conf_t *conf)
{
    (void)conf; /* read through am_ctx.conf, set by the caller */
    if (nghttp2_session_callbacks_new(&h2_callbacks) != 0 ||
        nghttp2_option_new(&h2_option) != 0) {
        am_log(AM_LOG_EMERG, 0, "nghttp2 set-up failed");
        return AM_ERROR;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(
        h2_callbacks, h2_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(h2_callbacks,
                                                     h2_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(h2_callbacks,
                                                         h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        h2_callbacks, h2_on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(h2_callbacks,
                                                           h2_on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(h2_callbacks,
                                                         h2_on_frame_send);
    nghttp2_session_callbacks_set_on_begin_frame_callback(h2_callbacks,
                                                          h2_on_begin_frame);
    nghttp2_session_callbacks_set_on_extension_chunk_recv_callback(
        h2_callbacks, h2_on_extension_chunk);
    nghttp2_session_callbacks_set_unpack_extension_callback(
        h2_callbacks, h2_unpack_extension);
    nghttp2_session_callbacks_set_send_data_callback(h2_callbacks,
                                                     am_http2_response_send);
    /* Unknown types reach on_begin_frame (the empty-frame budget). */
    for (int t = NGHTTP2_CONTINUATION + 1; t <= 0xff; t++) {
        nghttp2_option_set_user_recv_extension_type(h2_option, (uint8_t)t);
    }

    /* The app re-opens windows as it reads (nghttp2_session_consume). */
    nghttp2_option_set_no_auto_window_update(h2_option, 1);
    nghttp2_option_set_max_outbound_ack(h2_option, 1000);
    nghttp2_option_set_max_settings(h2_option, 32);
    nghttp2_option_set_max_send_header_block_length(h2_option,
                                                    (size_t)256 * 1024);
    nghttp2_option_set_max_deflate_dynamic_table_size(h2_option, 4096);
    nghttp2_option_set_peer_max_concurrent_streams(h2_option, 100);
#ifdef AM_HAVE_NGHTTP2_RESET_RATE_LIMIT
    /* CVE-2023-44487 (rapid reset): 1000 resets, refilled 33 per second. */
    nghttp2_option_set_stream_reset_rate_limit(h2_option, 1000, 33);
#endif
#ifdef AM_HAVE_NGHTTP2_MAX_CONTINUATIONS
    /* CVE-2024-28182: endless CONTINUATION frames. */
    nghttp2_option_set_max_continuations(h2_option, 8);
#endif
    return AM_OK;
}
