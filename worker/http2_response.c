/* worker/http2_response.c: the response side of HTTP/2: the bridge's
 * events (start, body, trailers, consumed, finish) become a checked and
 * lowercased header list, deferred DATA read from the stream's buffer, and
 * trailers. The head is kept until the first body event, so a body-less
 * response ends the stream in its HEADERS frame. send() waits while the
 * stream's buffer is above the write-buffer mark.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "common/log.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/http.h"
#include "worker/http2_conn.h"
#include "worker/request.h"

static int h2_resp_start(void *stream, int status, const am_header_t *headers,
                         size_t n, int trailers, const char **err);
static int h2_resp_body(void *stream, const char *data, size_t len, int more);
static int h2_resp_trailers(void *stream, const am_header_t *headers, size_t n,
                            int more, const char **err);
static void h2_resp_consumed(void *stream, size_t n);
static void h2_resp_finish(void *stream, int complete);

const am_asgi_ops_t am_http2_response_ops = {
    .start = h2_resp_start,
    .body = h2_resp_body,
    .trailers = h2_resp_trailers,
    .consumed = h2_resp_consumed,
    .finish = h2_resp_finish,
};

void
am_http2_response_error(am_http2_stream_t *s, int status)
{
    am_header_t h[1] = { { "content-type", 12, "text/plain; charset=utf-8",
                           25 } };
    const char *err;
    char body[64];
    size_t len;

    if (s->req) {
        /* Our answer replaces the app's (408, 413 while it runs): it sees
         * http.disconnect and its end no longer touches the stream. */
        am_asgi_request_release(s->req);
        s->req = NULL;
    }
    len = am_http_error_body(status, body, sizeof(body));
    if (h2_resp_start(s, status, h, 1, 0, &err) == AM_OK) {
        /* Our own refusal: the rest of the request is not wanted. */
        s->rst_after_eof = !s->body_done;
        h2_resp_body(s, body, len, 0);
    }
    am_http2_stream_log(s, status);
}

/* The body leaves by NGHTTP2_DATA_FLAG_NO_COPY: this callback only says
 * how much the frame takes, and am_http2_response_send() hands that much
 * of the stream's buffer to the connection, behind the frame header. The
 * stream's chunks keep 9 bytes free in front, so a frame that takes a
 * whole chunk (16375 bytes: with its header, one full TLS record) moves
 * without a copy; a frame cut short by a window is copied. Both callbacks
 * run inside nghttp2_session_mem_send(), one right after the other. */
ssize_t
am_http2_response_read(nghttp2_session *session, int32_t stream_id,
                       uint8_t *buf, size_t length, uint32_t *data_flags,
                       nghttp2_data_source *source, void *user_data)
{
    am_http2_stream_t *s = source->ptr;
    /* A frame ends where the first chunk does: it then leaves whole, its
     * header written in the room before it (AM_HTTP2_FRAME_HEAD). */
    size_t n = am_min(am_bufq_head_len(&s->out), length);

    if (n == am_bufq_size(&s->out) && s->state == AM_HTTP2_STREAM_SEND_FINAL) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        if (s->has_trailers && s->ntrailers > 0) {
            *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nghttp2_submit_trailer(session, stream_id, s->trailers,
                                   s->ntrailers);
        }
    } else if (n == 0) {
        s->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > 0) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    }
    return (ssize_t)n;
}

int
am_http2_response_send(nghttp2_session *session, nghttp2_frame *frame,
                       const uint8_t *framehd, size_t length,
                       nghttp2_data_source *source, void *user_data)
{
    am_http2_stream_t *s = source->ptr;
    am_conn_t *c = s->h2->c;

    AM_ASSERT(frame->data.padlen == 0); /* we never pad */
    AM_ASSERT(length <= am_bufq_size(&s->out));
    am_conn_write_bufq(c, framehd, 9, &s->out, length);
    if (am_bufq_size(&s->out) == 0) {
        am_timer_del(&s->write_timer);
    } else {
        am_timer_add(&s->write_timer,
                     am_ctx.conf->timeout_write); /* progress */
    }
    if (s->waiting && am_bufq_size(&s->out) < am_ctx.conf->limit_write_buffer) {
        s->waiting = 0;
        if (s->req) {
            am_asgi_request_writable(s->req);
        }
    }
    return 0;
}

/* Response side: called by the bridge with the app's events. */

/* Copy app headers into s->nvbuf as lowercase nghttp2_nv entries after the
 * ones already there. A known name points at its token's lowercase name;
 * other names and all values are offsets into nvbuf, marked by
 * NGHTTP2_NV_FLAG_NO_COPY_NAME / _VALUE until h2_fix_nv() (nvbuf may
 * still move). Returns the number added or -1 with *err set. */
static int
h2_build_nv(am_http2_stream_t *s, const am_header_t *headers, size_t n,
            nghttp2_nv *nv, size_t max, const char **err, int *has_date,
            int *has_server)
{
    size_t i, j, k = 0, off;
    am_http_token_t t;

    for (i = 0; i < n; i++) {
        const am_header_t *hd = &headers[i];

        /* Uppercase is lowercased below. */
        if (am_request_check_field(hd, err) != AM_OK) {
            *err = "invalid header name or value"; /* HTTP/2's wording */
            return -1;
        }
        t = am_http_token_find(hd->name, hd->name_len);
        /* RFC 9113 §8.2.2. */
        if (am_http_token_is(t, AM_HTTP_TOKEN_CONN_SPECIFIC)) {
            continue;
        }
        if (k >= max) {
            *err = "too many headers";
            return -1;
        }
        off = s->nvbuf.len;
        if (t != AM_HTTP_TOKEN_OTHER) {
            am_buf_reserve(&s->nvbuf, hd->value_len);
            nv[k].name = (uint8_t *)am_http_tokens[t].name;
            nv[k].flags = NGHTTP2_NV_FLAG_NO_COPY_VALUE;
        } else {
            am_buf_reserve(&s->nvbuf, hd->name_len + hd->value_len);
            for (j = 0; j < hd->name_len; j++) {
                char ch = hd->name[j];

                s->nvbuf.data[off + j] =
                    (ch >= 'A' && ch <= 'Z') ? ch | 0x20 : ch;
            }
            nv[k].name = (uint8_t *)(uintptr_t)off;
            nv[k].flags =
                NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
            off += hd->name_len;
        }
        memcpy(s->nvbuf.data + off, hd->value, hd->value_len);
        s->nvbuf.len = off + hd->value_len;
        nv[k].namelen = hd->name_len;
        nv[k].value = (uint8_t *)(uintptr_t)off;
        nv[k].valuelen = hd->value_len;
        if (t == AM_HTTP_TOKEN_DATE && has_date) {
            *has_date = 1;
        } else if (t == AM_HTTP_TOKEN_SERVER && has_server) {
            *has_server = 1;
        }
        k++;
    }
    return (int)k;
}

/* Offsets into nvbuf become pointers; nghttp2 then copies every entry. */
static void
h2_fix_nv(am_http2_stream_t *s, nghttp2_nv *nv, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (nv[i].flags & NGHTTP2_NV_FLAG_NO_COPY_NAME) {
            nv[i].name = (uint8_t *)s->nvbuf.data + (uintptr_t)nv[i].name;
        }
        if (nv[i].flags & NGHTTP2_NV_FLAG_NO_COPY_VALUE) {
            nv[i].value = (uint8_t *)s->nvbuf.data + (uintptr_t)nv[i].value;
        }
        nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    }
}

/* The response head's entries lie at the front of nvbuf, its names and
 * values after them: one buffer, kept by the stream across responses. */
#define h2_head_nv(s) ((nghttp2_nv *)(void *)(s)->nvbuf.data)

/* The response head is kept until the first body event, so a body-less
 * response ends the stream in its HEADERS frame and a single-shot body gets
 * a content-length. */
static int
h2_resp_start(void *stream, int status, const am_header_t *headers, size_t n,
              int trailers, const char **err)
{
    am_http2_stream_t *s = stream;
    nghttp2_nv *nv;
    size_t i, room, off;
    int k, has_date = 0, has_server = 0;

    if (s->h2->c->closed) {
        return AM_ERROR;
    }
    if (am_request_check_status(status, err) != AM_OK) {
        return AM_DECLINED;
    }
    /* Room for every entry: :status, the app's, date, server and a
     * content-length h2_submit_head() may add; then the bytes, reserved
     * at once so nv stays put while it is filled. */
    room = (n + 4) * sizeof(*nv);
    off = room;
    for (i = 0; i < n; i++) {
        off += headers[i].name_len + headers[i].value_len;
    }
    s->nvbuf.pos = s->nvbuf.len = 0;
    am_buf_reserve(&s->nvbuf, off + 3);
    s->nvbuf.len = room;
    nv = h2_head_nv(s);
    k = h2_build_nv(s, headers, n, nv + 1, n, err, &has_date, &has_server);
    if (k < 0) {
        s->nvbuf.len = 0;
        s->nhead = 0;
        return AM_DECLINED;
    }
    s->status = status;
    s->has_trailers = trailers ? 1 : 0;
    /* Kept until the first body event decides END_STREAM and length. */
    s->nhead = (size_t)k + 1;
    am_http2_stream_set_state(s, AM_HTTP2_STREAM_OPEN);
    s->rst_after_eof = 0;
    /* am_request_check_status(): three digits. */
    off = s->nvbuf.len;
    s->nvbuf.data[off] = (char)('0' + status / 100);
    s->nvbuf.data[off + 1] = (char)('0' + status / 10 % 10);
    s->nvbuf.data[off + 2] = (char)('0' + status % 10);
    s->nvbuf.len += 3;
    nv[0].name = (uint8_t *)":status";
    nv[0].namelen = 7;
    nv[0].value = (uint8_t *)(uintptr_t)off;
    nv[0].valuelen = 3;
    nv[0].flags = NGHTTP2_NV_FLAG_NO_COPY_VALUE; /* fixed up later */
    if (!has_date) {
        /* Read when the head is submitted (and copied): still current. */
        nv[s->nhead].name = (uint8_t *)"date";
        nv[s->nhead].namelen = 4;
        nv[s->nhead].value = (uint8_t *)am_http_date();
        nv[s->nhead].valuelen = strlen((const char *)nv[s->nhead].value);
        nv[s->nhead].flags = NGHTTP2_NV_FLAG_NONE;
        s->nhead++;
    }
    if (!has_server && am_ctx.conf->server_header) {
        nv[s->nhead].name = (uint8_t *)"server";
        nv[s->nhead].namelen = 6;
        nv[s->nhead].value = (uint8_t *)"asgimaster";
        nv[s->nhead].valuelen = 10;
        nv[s->nhead].flags = NGHTTP2_NV_FLAG_NONE;
        s->nhead++;
    }
    return AM_OK;
}

/* The decimal digits of v, at the end of buf[0..size); returns the first. */
static char *
h2_utoa(char *buf, size_t size, uint64_t v)
{
    char *p = buf + size;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

static int
h2_submit_head(am_http2_stream_t *s, size_t first_len, int more)
{
    am_http2_t *h2 = s->h2;
    nghttp2_data_provider prd;
    nghttp2_nv *nv = h2_head_nv(s);
    size_t n = s->nhead;
    char cl[24], *p;
    int rv, no_body;

    s->nhead = 0;
    no_body = s->is_head || s->status == 204 || s->status == 304;
    if (!more && !no_body && !s->has_trailers) {
        /* A single-shot body: tell its length. A content-length of the
         * app's has its token's name (h2_build_nv()). */
        const uint8_t *cl_name =
            (const uint8_t *)am_http_tokens[AM_HTTP_TOKEN_CONTENT_LENGTH].name;
        size_t i;

        for (i = 1; i < n && nv[i].name != cl_name; i++) {
        }
        if (i == n) {
            p = h2_utoa(cl, sizeof(cl), first_len);
            nv[n].name = (uint8_t *)cl_name;
            nv[n].namelen = 14;
            nv[n].value = (uint8_t *)p;
            nv[n].valuelen = (size_t)(cl + sizeof(cl) - p);
            nv[n].flags = NGHTTP2_NV_FLAG_NONE;
            n++;
        }
    }
    h2_fix_nv(s, nv, n);
    am_http2_stream_set_state(s, AM_HTTP2_STREAM_SEND_BODY);
    if (no_body || (!more && first_len == 0 && !s->has_trailers)) {
        rv = nghttp2_submit_response(h2->session, s->id, nv, n, NULL);
        am_http2_stream_set_state(s, AM_HTTP2_STREAM_SEND_FINAL);
    } else {
        prd.source.ptr = s;
        prd.read_callback = am_http2_response_read;
        rv = nghttp2_submit_response(h2->session, s->id, nv, n, &prd);
    }
    s->nvbuf.pos = s->nvbuf.len = 0;
    if (rv != 0) {
        am_connlog(AM_LOG_ALERT, 0, h2->c->id, (uint32_t)s->id,
                   "nghttp2_submit_response(): %s", nghttp2_strerror(rv));
        return AM_ERROR;
    }
    am_http2_schedule(h2);
    return AM_OK;
}

static int
h2_resp_body(void *stream, const char *data, size_t len, int more)
{
    am_http2_stream_t *s = stream;
    am_http2_t *h2 = s->h2;
    int no_body;

    if (h2->c->closed) {
        return AM_ERROR;
    }
    no_body = s->is_head || s->status == 204 || s->status == 304;
    if (s->state == AM_HTTP2_STREAM_OPEN) {
        if (h2_submit_head(s, len, more) != AM_OK) {
            return AM_ERROR;
        }
        if (s->state == AM_HTTP2_STREAM_SEND_FINAL) {
            s->resp_sent += len;
            return AM_OK;
        }
    }
    if (!no_body && len > 0) {
        if (am_bufq_size(&s->out) == 0) {
            am_timer_add(&s->write_timer, am_ctx.conf->timeout_write);
        }
        am_bufq_append_framed(&s->out, data, len, AM_HTTP2_FRAME_HEAD);
    }
    s->resp_sent += len;
    if (!more) {
        am_http2_stream_set_state(s, AM_HTTP2_STREAM_SEND_FINAL);
    }
    if (s->deferred) {
        s->deferred = 0;
        nghttp2_session_resume_data(h2->session, s->id);
    }
    am_http2_schedule(h2);
    if (more && am_bufq_size(&s->out) > am_ctx.conf->limit_write_buffer) {
        s->waiting = 1;
        return AM_AGAIN;
    }
    return AM_OK;
}

static int
h2_resp_trailers(void *stream, const am_header_t *headers, size_t n, int more,
                 const char **err)
{
    am_http2_stream_t *s = stream;
    nghttp2_nv *nv;
    int k;

    if (s->h2->c->closed) {
        return AM_ERROR;
    }
    if (s->state == AM_HTTP2_STREAM_OPEN) {
        if (h2_submit_head(s, 0, 1) != AM_OK) {
            return AM_ERROR;
        }
    }
    nv = am_alloc((s->ntrailers + n + 1) * sizeof(*nv));
    if (s->ntrailers) {
        memcpy(nv, s->trailers, s->ntrailers * sizeof(*nv));
    }
    k = h2_build_nv(s, headers, n, nv + s->ntrailers, n, err, NULL, NULL);
    if (k < 0) {
        free(nv);
        return AM_DECLINED;
    }
    free(s->trailers);
    s->trailers = nv;
    s->ntrailers += (size_t)k;
    if (!more) {
        h2_fix_nv(s, s->trailers, s->ntrailers);
        am_http2_stream_set_state(s, AM_HTTP2_STREAM_SEND_FINAL);
        if (s->deferred) {
            s->deferred = 0;
            nghttp2_session_resume_data(s->h2->session, s->id);
        }
        am_http2_schedule(s->h2);
    }
    return AM_OK;
}

static void
h2_resp_consumed(void *stream, size_t n)
{
    am_http2_stream_t *s = stream;

    if (s->h2->c->closed) {
        return;
    }
    if (n == 0) {
        /* receive() waits: the client has timeouts.body_read to send. */
        if (!s->body_done && !s->discarding) {
            am_timer_add(&s->body_timer, am_ctx.conf->timeout_body_read);
            am_http2_stream_body_wait(s, 1);
        }
        return;
    }
    n = am_min(n, s->unconsumed);
    s->unconsumed -= n;
    nghttp2_session_consume(s->h2->session, s->id, n);
    am_http2_schedule(s->h2);
}

static void
h2_resp_finish(void *stream, int complete)
{
    am_http2_stream_t *s = stream;
    am_http2_t *h2 = s->h2;

    if (s->req) {
        am_asgi_request_release(s->req);
        s->req = NULL;
    }
    if (h2->c->closed) {
        return;
    }
    if (!complete) {
        /* The app failed after starting: this stream only. */
        am_http2_stream_log(s, s->status ? s->status : 500);
        nghttp2_submit_rst_stream(h2->session, NGHTTP2_FLAG_NONE, s->id,
                                  NGHTTP2_INTERNAL_ERROR);
    } else {
        am_http2_stream_log(s, s->status);
    }
    if (s->unconsumed > 0) {
        nghttp2_session_consume(h2->session, s->id, s->unconsumed);
        s->unconsumed = 0;
    }
    am_http2_schedule(h2);
}
