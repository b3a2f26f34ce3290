/* worker/http1_response.c: the response side of HTTP/1.1 (RFC 9112): the
 * bridge's events (start, body, trailers, consumed, finish) become a
 * status line, checked header fields and a framed body. The head is held
 * until the first body event so that a single-shot body gets a
 * Content-Length instead of chunked framing; 100 Continue goes out when
 * the app first asks for the body.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/http.h"
#include "worker/http1_conn.h"
#include "worker/request.h"

static int http1_resp_start(void *stream, int status,
                            const am_header_t *headers, size_t n, int trailers,
                            const char **err);
static int http1_resp_body(void *stream, const char *data, size_t len,
                           int more);
static int http1_resp_trailers(void *stream, const am_header_t *headers,
                               size_t n, int more, const char **err);
static void http1_resp_consumed(void *stream, size_t n);
static void http1_resp_finish(void *stream, int complete);

const am_asgi_ops_t am_http1_response_ops = {
    .start = http1_resp_start,
    .body = http1_resp_body,
    .trailers = http1_resp_trailers,
    .consumed = http1_resp_consumed,
    .finish = http1_resp_finish,
};

void
am_http1_set_resp_state(am_http1_t *h, am_http1_resp_t state)
{
    if (state != AM_HTTP1_RESP_NONE && state != h->resp_state + 1) {
        am_connlog(AM_LOG_ALERT, 0, h->c->id, 0,
                   "http1: bad response state %d -> %d", (int)h->resp_state,
                   (int)state);
        abort();
    }
    h->resp_state = state;
}

static int
http1_name_is(const am_header_t *hd, const char *name, size_t len)
{
    return hd->name_len == len && strncasecmp(hd->name, name, len) == 0;
}

static int
http1_resp_start(void *stream, int status, const am_header_t *headers, size_t n,
                 int trailers, const char **err)
{
    am_http1_t *h = stream;
    am_buf_t *b = &h->resp_head;
    char line[128];
    size_t i;
    int len;

    if (h->c->closed || h->c->closing) {
        return AM_ERROR;
    }
    if (am_request_check_status(status, err) != AM_OK) {
        return AM_DECLINED;
    }
    for (i = 0; i < n; i++) {
        if (am_request_check_field(&headers[i], err) != AM_OK) {
            return AM_DECLINED;
        }
    }

    h->status = status;
    am_http1_set_resp_state(h, AM_HTTP1_RESP_STARTED);
    b->pos = b->len = 0;
    len = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status,
                   am_http_reason(status));
    am_buf_append(b, line, (size_t)len);

    for (i = 0; i < n; i++) {
        const am_header_t *hd = &headers[i];

        if (http1_name_is(hd, "content-length", 14)) {
            uint64_t v = 0;
            size_t j;

            if (hd->value_len == 0 || hd->value_len > 19) {
                *err = "invalid content-length";
                return AM_DECLINED;
            }
            for (j = 0; j < hd->value_len; j++) {
                if (hd->value[j] < '0' || hd->value[j] > '9') {
                    *err = "invalid content-length";
                    return AM_DECLINED;
                }
                v = v * 10 + (uint64_t)(hd->value[j] - '0');
            }
            if (h->resp_has_length && v != h->resp_length) {
                *err = "conflicting content-length headers";
                return AM_DECLINED;
            }
            if (h->resp_has_length) {
                continue;
            }
            h->resp_has_length = 1;
            h->resp_length = v;
        } else if (http1_name_is(hd, "transfer-encoding", 17)) {
            /* We frame the body ourselves (RFC 9112 §6.1). */
            continue;
        } else if (http1_name_is(hd, "connection", 10)) {
            if (am_http_value_has_token(hd->value, hd->value_len, "close")) {
                h->resp_close = 1;
            }
            continue;
        } else if (http1_name_is(hd, "keep-alive", 10)) {
            continue;
        } else if (http1_name_is(hd, "server", 6)) {
            h->resp_has_server = 1;
        } else if (http1_name_is(hd, "date", 4)) {
            h->resp_has_date = 1;
        }
        am_buf_reserve(b, hd->name_len + hd->value_len + 4);
        am_buf_append(b, hd->name, hd->name_len);
        am_buf_append(b, ": ", 2);
        am_buf_append(b, hd->value, hd->value_len);
        am_buf_append(b, "\r\n", 2);
    }
    return AM_OK;
}

static void
http1_send_head(am_http1_t *h, size_t first_len, int more)
{
    am_buf_t *b = &h->resp_head;
    char line[128];
    int len;

    /* RFC 9110 §6.4.1: 1xx, 204 and 304 never carry content; HEAD gets the
     * same header fields as GET would, without the content. */
    h->resp_no_body = h->status == 204 || h->status == 304;

    if (!h->resp_has_length && !h->resp_no_body) {
        if (!more) {
            h->resp_has_length = 1;
            h->resp_length = first_len;
            len = snprintf(line, sizeof(line), "content-length: %zu\r\n",
                           first_len);
            am_buf_append(b, line, (size_t)len);
        } else if (h->is_head) {
            /* No length known and no body to frame. */
        } else if (!h->http10) {
            h->resp_chunked = 1;
            am_buf_append_str(b, "transfer-encoding: chunked\r\n");
        } else {
            h->keepalive = 0; /* close-delimited (RFC 9112 §6.3) */
        }
    }
    if (h->resp_close || am_ctx.stopping) {
        h->keepalive = 0;
    }
    if (!h->keepalive) {
        am_buf_append_str(b, "connection: close\r\n");
    } else if (h->http10) {
        am_buf_append_str(b, "connection: keep-alive\r\n");
    }
    if (!h->resp_has_date) {
        am_buf_append_str(b, "date: ");
        am_buf_append_str(b, am_http_date());
        am_buf_append(b, "\r\n", 2);
    }
    if (am_ctx.conf->server_header && !h->resp_has_server) {
        am_buf_append_str(b, "server: asgimaster\r\n");
    }
    am_buf_append(b, "\r\n", 2);
    am_conn_write(h->c, b->data + b->pos, am_buf_size(b));
    b->pos = b->len = 0;
    am_http1_set_resp_state(h, AM_HTTP1_RESP_SENT);
}

static int
http1_resp_body(void *stream, const char *data, size_t len, int more)
{
    am_http1_t *h = stream;
    am_conn_t *c = h->c;
    char line[32];
    int n;

    if (c->closed || (c->closing && h->resp_state == AM_HTTP1_RESP_NONE)) {
        return AM_ERROR;
    }
    if (h->resp_state < AM_HTTP1_RESP_SENT) {
        http1_send_head(h, len, more);
    }

    if (!h->is_head && !h->resp_no_body && len > 0) {
        if (h->resp_has_length && h->resp_sent + len > h->resp_length) {
            am_connlog(AM_LOG_ERROR, 0, c->id, 0,
                       "the app sent more than its content-length of %llu",
                       (unsigned long long)h->resp_length);
            h->keepalive = 0;
            return AM_DECLINED;
        }
        if (h->resp_chunked) {
            n = snprintf(line, sizeof(line), "%zx\r\n", len);
            am_conn_write(c, line, (size_t)n);
            am_conn_write(c, data, len);
            am_conn_write(c, "\r\n", 2);
        } else {
            am_conn_write(c, data, len);
        }
    }
    h->resp_sent += len;

    if (!more) {
        if (h->resp_chunked && !h->is_head) {
            am_conn_write(c, "0\r\n\r\n", 5);
        }
        if (h->resp_has_length && !h->is_head && !h->resp_no_body &&
            h->resp_sent < h->resp_length) {
            am_connlog(AM_LOG_ERROR, 0, c->id, 0,
                       "the app sent %llu bytes of its content-length of "
                       "%llu",
                       (unsigned long long)h->resp_sent,
                       (unsigned long long)h->resp_length);
            /* The framing is broken: not complete, finish aborts. */
        } else {
            am_http1_set_resp_state(h, AM_HTTP1_RESP_COMPLETE);
        }
    }
    return am_conn_pending(c) > am_ctx.conf->limit_write_buffer ? AM_AGAIN
                                                                : AM_OK;
}

/* RFC 9112 §7.1.2: trailer fields follow the last chunk. Without chunked
 * framing (a known length, HEAD, or a client that did not send
 * "TE: trailers") they are dropped, as RFC 9110 §6.5.1 allows. */
static int
http1_resp_trailers(void *stream, const am_header_t *headers, size_t n,
                    int more, const char **err)
{
    am_http1_t *h = stream;
    am_conn_t *c = h->c;
    size_t i;

    if (c->closed) {
        return AM_ERROR;
    }
    for (i = 0; i < n; i++) {
        if (am_request_check_field(&headers[i], err) != AM_OK) {
            return AM_DECLINED;
        }
    }
    if (h->resp_state < AM_HTTP1_RESP_SENT) {
        http1_send_head(h, 0, 1);
    }
    if (h->resp_chunked && !h->is_head && h->te_trailers) {
        if (!h->resp_trailers_sent) {
            h->resp_trailers_sent = 1;
            am_conn_write(c, "0\r\n", 3);
        }
        for (i = 0; i < n; i++) {
            am_conn_write(c, headers[i].name, headers[i].name_len);
            am_conn_write(c, ": ", 2);
            am_conn_write(c, headers[i].value, headers[i].value_len);
            am_conn_write(c, "\r\n", 2);
        }
    }
    if (!more) {
        if (h->resp_chunked && !h->is_head) {
            am_conn_write(c,
                          h->resp_trailers_sent && h->te_trailers ? "\r\n"
                                                                  : "0\r\n\r\n",
                          h->resp_trailers_sent && h->te_trailers ? 2 : 5);
        }
        am_http1_set_resp_state(h, AM_HTTP1_RESP_COMPLETE);
    }
    return AM_OK;
}

static void
http1_resp_consumed(void *stream, size_t n)
{
    am_http1_t *h = stream;
    am_conn_t *c = h->c;

    if (c->closed) {
        return;
    }
    /* RFC 9110 §10.1.1: send 100 (Continue) once the app asks for the body,
     * unless a final response went first. */
    if (h->expect_continue && !h->continue_sent &&
        h->resp_state == AM_HTTP1_RESP_NONE && h->state != AM_HTTP1_DONE) {
        h->continue_sent = 1;
        am_conn_write_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
        am_http1_rate_start(h); /* the body is invited: its clock runs */
    }
    if (h->body_paused &&
        am_asgi_request_buffered(h->req) < am_ctx.conf->limit_body_buffer) {
        am_http1_body_pause(h, 0);
        if (h->state != AM_HTTP1_DONE) {
            am_timer_add(&c->read_timer, am_ctx.conf->timeout_body_read);
        }
        am_post(&c->post);
    }
}

static void
http1_resp_finish(void *stream, int complete)
{
    am_http1_t *h = stream;
    am_conn_t *c = h->c;

    if (c->closed) {
        return;
    }
    if (!complete || h->resp_state != AM_HTTP1_RESP_COMPLETE) {
        /* An aborted response: close so the client sees it incomplete. */
        am_http1_access_log(h, h->status ? h->status : 500);
        h->keepalive = 0;
        if (h->req) {
            am_asgi_request_release(h->req);
            h->req = NULL;
        }
        am_conn_close_after_flush(c);
        return;
    }

    am_http1_access_log(h, h->status);
    if (h->req) {
        am_asgi_request_release(h->req);
        h->req = NULL;
    }

    if (!h->keepalive || am_ctx.stopping) {
        am_conn_close_after_flush(c);
        return;
    }
    if (h->state != AM_HTTP1_DONE) {
        /* The app answered without reading the whole body. A client that
         * waits for 100 Continue will not send it: close. Otherwise read
         * and drop the rest, then serve the next request. */
        if (h->expect_continue && !h->continue_sent) {
            am_conn_close_after_flush(c);
            return;
        }
        h->discarding = 1;
        am_http1_body_pause(h, 0);
        am_timer_add(&c->read_timer, am_ctx.conf->timeout_body_read);
        am_post(&c->post);
        am_conn_set_reading(c, 1);
        return;
    }

    am_http1_reset(h);
    am_timer_add(&c->read_timer, am_ctx.conf->timeout_keepalive);
    am_conn_set_reading(c, 1);
    if (am_buf_size(&c->rbuf) > 0) {
        am_post(&c->post); /* a pipelined request waits */
    }
}
