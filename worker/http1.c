/* worker/http1.c: HTTP/1.1 (RFC 9112) on a connection: attaching, the
 * prior-knowledge HTTP/2 preface sniff, feeding input to http-parser
 * (http1_request.c holds its callbacks, http1_response.c the response
 * side), timeouts, our own error responses and the end of each request.
 * Reading pauses while the bridge holds a full body buffer, and parsing
 * pauses at the end of each message until its response is complete, so
 * pipelined requests are answered in order with bounded memory.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "common/log.h"
#include "common/stats.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/http.h"
#include "worker/http1.h"
#include "worker/http1_conn.h"
#include "worker/http2.h"
#include "worker/request.h"

static void http1_on_read(am_conn_t *c, int eof);
static void http1_on_drain(am_conn_t *c);
static void http1_on_close(am_conn_t *c);
static void http1_on_shutdown(am_conn_t *c);
static void http1_on_post(am_post_t *p);
static void http1_on_read_timeout(am_timer_t *t);
static void http1_process(am_http1_t *h);
static void http1_free(am_http1_t *h);

static const am_proto_t http1_proto = {
    .name = "http/1.1",
    .on_read = http1_on_read,
    .on_drain = http1_on_drain,
    .on_close = http1_on_close,
    .on_shutdown = http1_on_shutdown,
};

void
am_http1_init(am_conf_t *conf)
{
    /* Our own limits answer first with 414/431; the parser's is a backstop
     * a little above them. */
    http_parser_set_max_header_size((uint32_t)am_min(
        conf->limit_request_line + conf->limit_header_size + 4096,
        (size_t)UINT32_MAX / 2));
}

void
am_http1_attach(am_conn_t *c)
{
    am_http1_t *h = am_calloc(1, sizeof(*h));

    h->c = c;
    c->proto = &http1_proto;
    c->proto_data = h;
    c->post.handler = http1_on_post;
    c->post.data = h;
    c->read_timer.handler = http1_on_read_timeout;
    c->read_timer.data = h;
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = h;
    /* The first request must arrive within the header deadline. */
    h->head_deadline = 1;
    am_timer_add(&c->read_timer, am_ctx.conf->timeout_header_read);
    am_conn_set_reading(c, 1);
}

void
am_http1_reset(am_http1_t *h)
{
    if (h->req) {
        am_asgi_request_release(h->req);
        h->req = NULL;
    }
    h->head.pos = h->head.len = 0;
    h->url_len = 0;
    h->nfields = 0;
    h->header_bytes = 0;
    h->error_status = 0;
    h->body_received = 0;
    am_http1_set_state(h, AM_HTTP1_IDLE);
    h->expect_continue = h->continue_sent = 0;
    h->discarding = h->body_paused = h->head_deadline = 0;
    h->is_head = h->http10 = 0;
    h->status = 0;
    h->resp_state = AM_HTTP1_RESP_NONE;
    h->resp_chunked = h->resp_no_body = h->resp_close = 0;
    h->resp_has_length = h->resp_has_server = h->resp_has_date = 0;
    h->resp_trailers_sent = 0;
    h->te_trailers = 0;
    h->resp_length = h->resp_sent = 0;
    h->resp_head.pos = h->resp_head.len = 0;
    if (am_buf_size(&h->c->rbuf) == 0) {
        /* Nothing pipelined: the keep-alive wait holds no buffers. */
        am_buf_shrink(&h->head);
        am_buf_shrink(&h->resp_head);
        free(h->fields);
        h->fields = NULL;
        h->fields_cap = 0;
    }
}

/* A request line names HTTP/1.x before its end (RFC 9112 §3). */
static int
http1_looks_http1(const char *p, size_t len)
{
    const char *eol = memchr(p, '\n', len);
    size_t n = eol ? (size_t)(eol - p) : len;

    for (size_t i = 0; i + 7 <= n; i++) {
        if (memcmp(p + i, "HTTP/1.", 7) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Feed buffered input to the parser while the current request allows. */
static void
http1_process(am_http1_t *h)
{
    am_conn_t *c = h->c;
    enum http_errno err;
    size_t n, len, firstlen = 0;
    char firstline[256];
    int first;

    while (!c->closed && !c->closing && am_buf_size(&c->rbuf) > 0) {
        if (h->state == AM_HTTP1_DONE) {
            break; /* the response to the current message is pending */
        }
        if (h->state == AM_HTTP1_IDLE &&
            am_conn_pending(c) >= am_ctx.conf->limit_write_buffer) {
            /* A pipelining client that does not read its responses: the
             * next request waits until they are written (bounded memory). */
            h->out_paused = 1;
            break;
        }
        if (h->req && !h->discarding &&
            am_asgi_request_buffered(h->req) >=
                am_ctx.conf->limit_body_buffer) {
            h->body_paused = 1; /* the app resumes us as it reads */
            /* The client is not late while we do not read. */
            am_timer_del(&c->read_timer);
            break;
        }
        if (h->state <= AM_HTTP1_HEAD && !h->head_deadline) {
            /* The keep-alive wait ends: the head has its own deadline,
             * not renewed by each byte (slow-header clients). */
            h->head_deadline = 1;
            am_timer_add(&c->read_timer, am_ctx.conf->timeout_header_read);
        }
        len = am_buf_size(&c->rbuf);
        /* Bounded chunks so a body buffer limit is not overshot by much. */
        if (h->req && !h->discarding && len > am_ctx.conf->limit_body_buffer) {
            len = am_max(am_ctx.conf->limit_body_buffer, (size_t)4096);
        }
        first = h->requests == 0 && h->state == AM_HTTP1_IDLE;
        if (first) {
            /* Kept to judge a broken first line (see below). */
            firstlen = am_min(len, sizeof(firstline));
            memcpy(firstline, c->rbuf.data + c->rbuf.pos, firstlen);
        }
        n = http_parser_execute(&h->parser, &am_http1_request_settings,
                                c->rbuf.data + c->rbuf.pos, len);
        err = HTTP_PARSER_ERRNO(&h->parser);
        am_buf_consume(&c->rbuf, n);
        if (h->state == AM_HTTP1_UPGRADED) {
            /* HTTP/2 owns the connection; what follows is its preface. A
             * failed upgrade has closed it already. */
            http1_free(h);
            if (!c->closed && am_buf_size(&c->rbuf) > 0) {
                c->proto->on_read(c, 0);
            }
            return;
        }
        if (err == HPE_PAUSED) {
            http_parser_pause(&h->parser, 0);
            if (h->state == AM_HTTP1_DONE && h->discarding) {
                /* The discarded body is over: next request. */
                h->discarding = 0;
                am_http1_reset(h);
                if (!h->keepalive || am_ctx.stopping) {
                    am_conn_close_after_flush(c);
                    return;
                }
                am_timer_add(&c->read_timer, am_ctx.conf->timeout_keepalive);
                continue;
            }
            break;
        }
        if (err != HPE_OK) {
            int status = h->error_status;

            if (status == 0) {
                status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
            }
            if (err == HPE_INVALID_METHOD && first && c->listen->http2 &&
                c->tls == NULL && !http1_looks_http1(firstline, firstlen)) {
                /* The first bytes of a cleartext connection are neither an
                 * HTTP/1.x request line nor the HTTP/2 preface: answer as
                 * HTTP/2 does to a broken preface (RFC 9113 §3.4: GOAWAY
                 * PROTOCOL_ERROR). A line ending in HTTP/1.x gets 400. */
                am_connlog(AM_LOG_INFO, 0, c->id, 0,
                           "invalid connection preface");
                am_http2_goaway_raw(c, 1 /* PROTOCOL_ERROR */);
                am_conn_close_after_flush(c);
                return;
            }
            am_connlog(AM_LOG_INFO, 0, c->id, 0, "bad request: %s (%d)",
                       http_errno_description(err), status);
            am_http1_error(h, status);
            return;
        }
    }

    if (c->closed || c->closing) {
        return;
    }
    /* Keep reading while a request runs (to notice a client that leaves),
     * as long as the unparsed input stays within its bound. */
    am_conn_set_reading(c, am_buf_size(&c->rbuf) < c->rbuf_limit &&
                               !h->body_paused && !h->out_paused);
}

static void
http1_on_read(am_conn_t *c, int eof)
{
    am_http1_t *h = c->proto_data;
    static const char pri[] = "PRI * HTTP/2.0\r\n";
    size_t n;

    if (!h->sniffed && c->listen->http2 && c->tls == NULL) {
        /* RFC 9113 §3.3: prior knowledge. A preface that goes wrong after
         * its request line still goes to HTTP/2, which answers GOAWAY
         * PROTOCOL_ERROR (§3.4). */
        n = am_min(am_buf_size(&c->rbuf), sizeof(pri) - 1);
        if (n == 0) {
            if (eof) {
                am_conn_close(c);
            }
            return;
        }
        if (memcmp(c->rbuf.data + c->rbuf.pos, pri, n) == 0) {
            if (n < sizeof(pri) - 1) {
                if (eof) {
                    am_conn_close(c);
                }
                return; /* wait for the rest */
            }
            http1_free(h);
            am_http2_attach(c);
            return;
        }
    }
    h->sniffed = 1;

    http1_process(h);
    if (c->closed) {
        return;
    }
    if (eof) {
        /* The client went away (or half-closed: treated the same, as other
         * ASGI servers do). The request sees http.disconnect. */
        am_conn_close(c);
    }
}

static void
http1_on_post(am_post_t *p)
{
    am_http1_t *h = p->data;

    if (!h->c->closed) {
        http1_process(h);
    }
}

static void
http1_on_drain(am_conn_t *c)
{
    am_http1_t *h = c->proto_data;

    if (h->req) {
        am_asgi_request_writable(h->req);
    }
    if (h->out_paused) {
        h->out_paused = 0;
        am_post(&c->post);
    }
}

/* Free the HTTP/1.1 state; the connection goes on (HTTP/2) or closes. */
static void
http1_free(am_http1_t *h)
{
    if (h->req) {
        am_asgi_request_disconnect(h->req);
        am_asgi_request_release(h->req);
        h->req = NULL;
    }
    if (h->c->proto_data == h) {
        h->c->proto_data = NULL;
    }
    am_buf_free(&h->head);
    am_buf_free(&h->resp_head);
    free(h->fields);
    free(h);
}

static void
http1_on_close(am_conn_t *c)
{
    http1_free(c->proto_data);
}

static void
http1_on_shutdown(am_conn_t *c)
{
    am_http1_t *h = c->proto_data;

    /* Responses from now on say "Connection: close". An idle keep-alive
     * connection is not cut at once: a request already on its way would
     * meet a reset. It gets a short grace, then the idle timeout closes
     * it (RFC 9112 §9.6: the client must be ready for that anyway). */
    h->keepalive = 0;
    if (h->state == AM_HTTP1_IDLE && am_buf_size(&c->rbuf) == 0 &&
        h->req == NULL) {
        am_timer_add(&c->read_timer,
                     am_min(am_ctx.conf->timeout_keepalive, (am_msec_t)1000));
    }
}

static void
http1_on_read_timeout(am_timer_t *t)
{
    am_http1_t *h = t->data;
    am_conn_t *c = h->c;

    if (h->state == AM_HTTP1_IDLE && am_buf_size(&c->rbuf) == 0) {
        am_conn_close(c); /* idle */
        return;
    }
    am_connlog(AM_LOG_INFO, 0, c->id, 0,
               "client timed out sending the request");
    if (h->req && h->resp_state != AM_HTTP1_RESP_NONE) {
        am_conn_close(c);
        return;
    }
    if (h->req) {
        am_asgi_request_disconnect(h->req);
        am_asgi_request_release(h->req);
        h->req = NULL;
    }
    am_http1_error(h, 408);
}

void
am_http1_access_log(am_http1_t *h, int status)
{
    am_request_done_t r = {
        .proto = AM_STATS_H1,
        .protocol = h->http10 ? "HTTP/1.0" : "HTTP/1.1",
        .status = status,
        .body_bytes = h->resp_sent,
        .start_time = h->start_time,
        .start_msec = h->start_msec,
        .method = h->state >= AM_HTTP1_BODY ? http_method_str(h->parser.method)
                                            : NULL,
        .head = h->head.data,
        .fields = h->fields,
        .nfields = h->nfields,
    };

    r.method_len = r.method ? strlen(r.method) : 0;
    /* Only what was kept: a target refused with 414 is longer than the
     * head buffer (which may even be empty). */
    r.target = h->head.data;
    r.target_len = h->head.data ? am_min(h->url_len, h->head.len) : 0;
    am_request_done(h->c, &r);
}

void
am_http1_error(am_http1_t *h, int status)
{
    am_conn_t *c = h->c;
    const char *reason = am_http_reason(status);
    char buf[512];
    int n;

    if (h->req) {
        am_asgi_request_disconnect(h->req);
    }
    if (h->resp_state != AM_HTTP1_RESP_NONE) {
        am_conn_close(c);
        return;
    }
    n = snprintf(buf, sizeof(buf),
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: %zu\r\n"
                 "Connection: close\r\n"
                 "Date: %s\r\n"
                 "%s"
                 "\r\n"
                 "%s\n",
                 status, reason, strlen(reason) + 1, am_http_date(),
                 am_ctx.conf->server_header ? "Server: asgimaster\r\n" : "",
                 reason);
    am_conn_write(c, buf, (size_t)n);
    h->resp_sent = strlen(reason) + 1;
    am_http1_access_log(h, status);
    am_conn_close_after_flush(c);
}
