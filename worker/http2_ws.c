/* worker/http2_ws.c: WebSocket over an HTTP/2 stream (RFC 8441). An
 * extended CONNECT with :protocol websocket starts a session
 * (worker/ws.h) whose transport is the stream: the app's
 * websocket.accept answers 200 (no END_STREAM), frames go out as the
 * stream's DATA through a deferred data source, received DATA is fed to
 * the session and the stream's window reopens only by what the session
 * took (nghttp2_session_consume), so a full app queue shuts the window.
 * Closing ends the stream with END_STREAM (RST_STREAM NO_ERROR if the
 * client keeps sending); a reset stream ends that session only.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#include "common/log.h"
#include "common/stats.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/http.h"
#include "worker/http2_conn.h"
#include "worker/ws.h"
#include "worker/ws_frame.h"

struct am_http2_ws_s {
    am_http2_stream_t *s;
    am_ws_session_t *session;
    am_buf_t in;  /* DATA received, not yet taken by the session */
    am_buf_t out; /* frames not yet taken by nghttp2 */
    am_buf_t nv;  /* names and values of the response head */
    am_post_t post;
    unsigned reading : 1;
    unsigned submitted : 1; /* the response head is submitted */
    unsigned deferred : 1;  /* the data source said DEFERRED */
    unsigned eof : 1;       /* END_STREAM once out is empty */
};

static void http2_ws_process(am_http2_ws_t *w);

static void
http2_ws_resume(am_http2_ws_t *w)
{
    if (w->deferred && w->submitted) {
        w->deferred = 0;
        nghttp2_session_resume_data(w->s->h2->session, w->s->id);
    }
    am_http2_schedule(w->s->h2);
}

/* nghttp2's data source: frames from out, END_STREAM after eof. */
static ssize_t
http2_ws_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
              size_t length, uint32_t *data_flags, nghttp2_data_source *source,
              void *user_data)
{
    am_http2_ws_t *w = source->ptr;
    size_t n = am_min(length, am_buf_size(&w->out));
    size_t before = am_buf_size(&w->out);

    if (n > 0) {
        memcpy(buf, w->out.data + w->out.pos, n);
        am_buf_consume(&w->out, n);
        if (before > am_ctx.conf->limit_write_buffer / 2 &&
            am_buf_size(&w->out) <= am_ctx.conf->limit_write_buffer / 2 &&
            w->session != NULL) {
            am_ws_session_drain(w->session); /* wake a waiting send() */
        }
    }
    if (am_buf_size(&w->out) == 0) {
        if (w->eof) {
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
            return (ssize_t)n;
        }
        if (n == 0) {
            w->deferred = 1;
            return NGHTTP2_ERR_DEFERRED;
        }
    }
    return (ssize_t)n;
}

static void
http2_ws_write(void *t, const uint8_t *hdr, size_t hlen, const uint8_t *p,
               size_t len)
{
    am_http2_ws_t *w = t;

    am_buf_append(&w->out, hdr, hlen);
    if (len > 0) {
        am_buf_append(&w->out, p, len);
    }
    http2_ws_resume(w);
}

static size_t
http2_ws_pending(void *t)
{
    am_http2_ws_t *w = t;

    return am_buf_size(&w->out);
}

/* The response head: ":status" and the fields, names lowercased (RFC 9113
 * §8.2.1), submitted with the data source so the stream stays open. */
static void
http2_ws_submit(am_http2_ws_t *w, int status, const am_header_t *h, size_t n)
{
    nghttp2_data_provider prd = { .source.ptr = w,
                                  .read_callback = http2_ws_read };
    nghttp2_nv *nv = am_calloc(n + 1, sizeof(*nv));
    char code[8];
    size_t i, k = 1, total = 0;
    int rv;

    for (i = 0; i < n; i++) {
        total += h[i].name_len + h[i].value_len;
    }
    am_buf_reserve(&w->nv, total + 1);
    snprintf(code, sizeof(code), "%03d", (unsigned)status % 1000);
    nv[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)code, 7, 3,
                          NGHTTP2_NV_FLAG_NO_COPY_NAME };
    for (i = 0; i < n; i++) {
        am_http_token_t tok = am_http_token_find(h[i].name, h[i].name_len);
        uint8_t *name = (uint8_t *)w->nv.data + w->nv.len, *value;

        /* RFC 9113 §8.2.2: no connection-specific fields. */
        if (tok != AM_HTTP_TOKEN_OTHER &&
            am_http_token_is(tok, AM_HTTP_TOKEN_CONN_SPECIFIC)) {
            continue;
        }
        for (size_t j = 0; j < h[i].name_len; j++) {
            w->nv.data[w->nv.len + j] =
                (char)tolower((unsigned char)h[i].name[j]);
        }
        w->nv.len += h[i].name_len;
        value = (uint8_t *)w->nv.data + w->nv.len;
        memcpy(value, h[i].value, h[i].value_len);
        w->nv.len += h[i].value_len;
        nv[k++] = (nghttp2_nv){ name, value, h[i].name_len, h[i].value_len,
                                NGHTTP2_NV_FLAG_NONE };
    }
    rv = nghttp2_submit_response(w->s->h2->session, w->s->id, nv, k, &prd);
    free(nv);
    if (rv != 0) {
        am_connlog(AM_LOG_ERROR, 0, w->s->h2->c->id, (uint32_t)w->s->id,
                   "nghttp2_submit_response(): %s", nghttp2_strerror(rv));
        nghttp2_submit_rst_stream(w->s->h2->session, NGHTTP2_FLAG_NONE,
                                  w->s->id, NGHTTP2_INTERNAL_ERROR);
    }
    w->submitted = 1;
    am_http2_schedule(w->s->h2);
}

static void
http2_ws_accept(void *t, const am_header_t *h, size_t n)
{
    http2_ws_submit(t, 200, h, n); /* RFC 8441 §5: 2xx */
}

static void
http2_ws_respond(void *t, int status, const am_header_t *h, size_t n)
{
    http2_ws_submit(t, status, h, n);
}

static void
http2_ws_respond_body(void *t, const char *p, size_t len, int more)
{
    am_http2_ws_t *w = t;

    if (len > 0) {
        am_buf_append(&w->out, p, len);
    }
    http2_ws_resume(w);
}

static void
http2_ws_close(void *t)
{
    am_http2_ws_t *w = t;

    /* RFC 8441 §4: END_STREAM is our FIN; the client ends its side
     * after the close frames (a client that never does holds one stream
     * of http2.max_concurrent_streams until the connection ends). */
    w->eof = 1;
    if (!w->submitted) {
        nghttp2_submit_rst_stream(w->s->h2->session, NGHTTP2_FLAG_NONE,
                                  w->s->id, NGHTTP2_CANCEL);
    }
    http2_ws_resume(w);
}

static void
http2_ws_set_reading(void *t, int on)
{
    am_http2_ws_t *w = t;

    w->reading = on ? 1 : 0;
    if (on) {
        am_post(&w->post);
    }
}

static const am_ws_transport_t http2_ws_transport = {
    .write = http2_ws_write,
    .pending = http2_ws_pending,
    .accept = http2_ws_accept,
    .respond = http2_ws_respond,
    .respond_body = http2_ws_respond_body,
    .close = http2_ws_close,
    .set_reading = http2_ws_set_reading,
};

static void
http2_ws_on_post(am_post_t *p)
{
    am_http2_ws_t *w = p->data;

    if (!w->s->h2->c->closed) {
        http2_ws_process(w);
        am_http2_schedule(w->s->h2);
    }
}

/* Feed what is buffered while the session takes it; give back the
 * window for what it took. */
static void
http2_ws_process(am_http2_ws_t *w)
{
    am_http2_stream_t *s = w->s;
    size_t n;

    if (!w->reading || w->session == NULL || am_buf_size(&w->in) == 0) {
        return;
    }
    n = am_ws_session_feed(w->session, (uint8_t *)w->in.data + w->in.pos,
                           am_buf_size(&w->in));
    am_buf_consume(&w->in, n);
    if (n > 0) {
        s->unconsumed -= n;
        nghttp2_session_consume(s->h2->session, s->id, n);
    }
}

int
am_http2_ws_start(am_http2_stream_t *s, const am_asgi_head_t *head,
                  const char *protocol, size_t len)
{
    am_http2_ws_t *w;
    am_ws_open_t o;
    size_t i;
    const char *ext = NULL;
    size_t ext_len = 0;

    /* RFC 8441 §4: only "websocket" is ours; §5: :scheme and :path. */
    if (!am_ctx.conf->ws_enabled || len != 9 ||
        strncasecmp(protocol, "websocket", 9) != 0) {
        return 501;
    }
    if (s->path < 0 || s->scheme < 0 || s->authority < 0) {
        return 400;
    }
    for (i = 0; i < head->nheaders; i++) {
        const am_header_t *h = &head->headers[i];

        if (h->name_len == 21 &&
            memcmp(h->name, "sec-websocket-version", 21) == 0 &&
            !(h->value_len == 2 && memcmp(h->value, "13", 2) == 0)) {
            return 426; /* RFC 6455 §4.2.2 */
        }
        if (h->name_len == 24 &&
            memcmp(h->name, "sec-websocket-extensions", 24) == 0) {
            ext = h->value; /* the first line (clients send one) */
            ext_len = h->value_len;
        }
    }
    w = am_calloc(1, sizeof(*w));
    w->s = s;
    w->post.handler = http2_ws_on_post;
    w->post.data = w;
    s->ws = w;
    s->logged = 1; /* the session writes its own access log line */
    memset(&o, 0, sizeof(o));
    o.head = head;
    o.extensions = ext;
    o.extensions_len = ext_len;
    o.proto = AM_STATS_H2;
    o.protocol = "HTTP/2.0";
    o.success_status = 200;
    w->session = am_ws_session_create(s->h2->c, (uint32_t)s->id,
                                      &http2_ws_transport, w, &o);
    if (w->session == NULL) {
        s->ws = NULL;
        free(w);
        s->logged = 0;
        return 500;
    }
    w->reading = 1;
    return 0;
}

void
am_http2_ws_data(am_http2_stream_t *s, const uint8_t *data, size_t len)
{
    am_http2_ws_t *w = s->ws;

    s->unconsumed += len;
    am_buf_append(&w->in, data, len);
    http2_ws_process(w);
}

void
am_http2_ws_end(am_http2_stream_t *s)
{
    am_http2_ws_t *w = s->ws;

    /* RFC 8441 §4: END_STREAM is the TCP FIN: no more frames come. A
     * session not closed yet is ended (1006 for the app). */
    if (w->session != NULL && !w->eof) {
        http2_ws_close(w);
    }
}

void
am_http2_ws_shutdown(am_http2_stream_t *s, int code)
{
    if (s->ws->session != NULL) {
        am_ws_session_shutdown(s->ws->session, code);
    }
}

void
am_http2_ws_destroy(am_http2_stream_t *s)
{
    am_http2_ws_t *w = s->ws;

    if (w->session != NULL) {
        am_ws_session_destroy(w->session);
        w->session = NULL;
    }
    am_post_cancel(&w->post);
    am_buf_free(&w->in);
    am_buf_free(&w->out);
    am_buf_free(&w->nv);
    free(w);
    s->ws = NULL;
}
