/* worker/http1.c: HTTP/1.1 (RFC 9112) on a connection: attaching, the
 * prior-knowledge HTTP/2 preface sniff, the read loop that feeds input to
 * the request side (http1_request.c: head and body through the strict
 * parser of h1_parser.c; http1_response.c holds the response side),
 * timeouts and the body's minimum rate, our own error responses and the
 * end of each request. Reading pauses while the bridge holds a full body
 * buffer, and parsing pauses at the end of each message until its
 * response is complete, so pipelined requests are answered in order with
 * bounded memory.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/stats.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/h1_parser.h"
#include "worker/http.h"
#include "worker/http1.h"
#include "worker/http1_conn.h"
#include "worker/http2.h"
#include "worker/request.h"

/* The shortest wait between two checks of the body's rate, so that a
 * client sending at exactly the minimum does not wake us per byte. */
#define HTTP1_RATE_RECHECK 250

static void http1_on_read(am_conn_t *c, int eof);
static void http1_on_drain(am_conn_t *c);
static void http1_on_close(am_conn_t *c);
static void http1_on_shutdown(am_conn_t *c);
static void http1_on_post(am_post_t *p);
static void http1_on_read_timeout(am_timer_t *t);
static void http1_on_rate_timer(am_timer_t *t);
static void http1_process(am_http1_t *h);
static void http1_free(am_http1_t *h);

static const am_proto_t http1_proto = {
    .name = "http/1.1",
    .on_read = http1_on_read,
    .on_drain = http1_on_drain,
    .on_close = http1_on_close,
    .on_shutdown = http1_on_shutdown,
};

/* The parser's limits, and the input a connection must be able to hold:
 * a whole head (or trailer section) is parsed from one buffer. */
static am_h1_limits_t http1_limits;

/* The parser's field arrays (limit_header_count entries, 2 KiB with the
 * default limit) of connections between requests: a keep-alive wait holds
 * none, and the next request takes one without malloc. */
#define HTTP1_PFIELDS_FREE_MAX 64
static am_h1_field_t *http1_pfields_free[HTTP1_PFIELDS_FREE_MAX];
static size_t http1_pfields_nfree;
static size_t http1_rbuf_min;

void
am_http1_init(am_conf_t *conf)
{
    am_http1_parser_limits(conf, &http1_limits);
    /* method SP target SP version CRLF, fields, an empty line before the
     * request line (RFC 9112 §2.2) and the final CRLF. */
    http1_rbuf_min = http1_limits.max_method + http1_limits.max_target +
                     http1_limits.max_fields_size + 64;
    http1_rbuf_min = am_max(http1_rbuf_min, http1_limits.max_trailer_size);
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
    h->rate_timer.handler = http1_on_rate_timer;
    h->rate_timer.data = h;
    c->rbuf_limit = am_max(c->rbuf_limit, http1_rbuf_min);
    am_h1_parser_init(&h->parser, &http1_limits);
    h->pfields_cap = http1_limits.max_fields;
    /* The first request must arrive within the header deadline. */
    h->head_deadline = 1;
    am_timer_add(&c->read_timer, am_ctx.conf->timeout_header_read);
    am_conn_set_reading(c, 1);
}

void
am_http1_pfields_take(am_http1_t *h)
{
    if (h->pfields != NULL) {
        return;
    }
    h->pfields = http1_pfields_nfree > 0
                     ? http1_pfields_free[--http1_pfields_nfree]
                     : am_alloc(h->pfields_cap * sizeof(h->pfields[0]));
}

static void
http1_pfields_release(am_http1_t *h)
{
    if (h->pfields == NULL) {
        return;
    }
    if (http1_pfields_nfree < HTTP1_PFIELDS_FREE_MAX) {
        http1_pfields_free[http1_pfields_nfree++] = h->pfields;
    } else {
        free(h->pfields);
    }
    h->pfields = NULL;
}

void
am_http1_reset(am_http1_t *h)
{
    if (h->req) {
        am_asgi_request_release(h->req);
        h->req = NULL;
    }
    am_h1_parser_reset(&h->parser);
    am_http1_rate_stop(h);
    h->head.pos = h->head.len = 0;
    h->url_len = 0;
    h->method_off = h->method_len = 0;
    h->nfields = 0;
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
        http1_pfields_release(h);
    }
}

/* Feed buffered input to the request side while the current request
 * allows. */
static void
http1_process(am_http1_t *h)
{
    am_conn_t *c = h->c;
    int rc;

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
            am_http1_body_pause(h, 1); /* the app resumes us as it reads */
            break;
        }
        if (h->state <= AM_HTTP1_HEAD) {
            if (!h->head_deadline) {
                /* The keep-alive wait ends: the head has its own deadline,
                 * not renewed by each byte (slow-header clients). */
                h->head_deadline = 1;
                am_timer_add(&c->read_timer, am_ctx.conf->timeout_header_read);
            }
            rc = am_http1_read_head(h);
            if (rc == AM_AGAIN) {
                break;
            }
            if (rc == AM_ERROR) {
                return;
            }
            if (h->state == AM_HTTP1_UPGRADED) {
                /* HTTP/2 owns the connection; what follows is its preface.
                 * A failed upgrade has closed it already. */
                http1_free(h);
                if (!c->closed && am_buf_size(&c->rbuf) > 0) {
                    c->proto->on_read(c, 0);
                }
                return;
            }
            continue;
        }
        rc = am_http1_read_body(h);
        if (rc == AM_ERROR) {
            return;
        }
        if (rc == AM_AGAIN) {
            break;
        }
        if (rc == AM_DONE && h->discarding) {
            /* The discarded body is over: next request. */
            h->discarding = 0;
            am_http1_reset(h);
            if (!h->keepalive || am_ctx.stopping) {
                am_conn_close_after_flush(c);
                return;
            }
            am_timer_add(&c->read_timer, am_ctx.conf->timeout_keepalive);
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

/* RFC 9113 §3.3, §3.4: whether the input opens with the HTTP/2 preface.
 * AM_OK: its first line is "PRI * HTTP/2.0" and the 24 bytes of the
 * client magic are here or already differ (HTTP/2 answers the difference
 * with GOAWAY PROTOCOL_ERROR); AM_AGAIN: wait for more; AM_DECLINED: an
 * HTTP/1.x request line (or garbage the parser refuses). Waiting for the
 * whole magic means our SETTINGS never go out before the verdict, so the
 * answer is the same however the bytes arrive. */
static int
http1_preface(const am_buf_t *b)
{
    static const char magic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t n = am_buf_size(b);
    int rc = am_h1_parser_is_preface(b->data + b->pos, n);

    if (rc != AM_OK) {
        return rc;
    }
    if (n < sizeof(magic) - 1 && memcmp(b->data + b->pos, magic, n) == 0) {
        return AM_AGAIN;
    }
    return AM_OK;
}

static void
http1_on_read(am_conn_t *c, int eof)
{
    am_http1_t *h = c->proto_data;

    if (!h->sniffed && c->listen->http2) {
        /* Prior knowledge (on TLS: a client that offered no ALPN). Only a
         * first line that is exactly the preface's goes to HTTP/2;
         * anything else is an HTTP/1.x request line, judged by the parser
         * (400 when it is not one), however it is segmented (issue 10
         * item 8). */
        if (am_buf_size(&c->rbuf) == 0) {
            if (eof) {
                am_conn_close(c);
            }
            return;
        }
        switch (http1_preface(&c->rbuf)) {
        case AM_OK:
            http1_free(h);
            am_http2_attach(c);
            return;
        case AM_AGAIN:
            if (eof) {
                am_conn_close(c);
            }
            return; /* a prefix of it: wait */
        default:
            break;
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
    am_timer_del(&h->rate_timer);
    am_buf_free(&h->head);
    am_buf_free(&h->resp_head);
    free(h->fields);
    http1_pfields_release(h);
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

/* The request is not coming in time: 408 and close, or only the close
 * once a response has started. */
static void
http1_timed_out(am_http1_t *h)
{
    am_conn_t *c = h->c;

    am_http1_rate_stop(h);
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

static void
http1_on_read_timeout(am_timer_t *t)
{
    am_http1_t *h = t->data;
    am_conn_t *c = h->c;

    if (c->closing) {
        return; /* the last response is on its way out */
    }
    if (h->state == AM_HTTP1_IDLE && am_buf_size(&c->rbuf) == 0) {
        am_conn_close(c); /* idle */
        return;
    }
    if (h->state <= AM_HTTP1_HEAD) {
        /* timeouts.header_read ran out with a head still incomplete: a
         * slow-header (slowloris) client. */
        am_stats_abuse(AM_ABUSE_HEADER_TIMEOUT);
    }
    am_connlog(AM_LOG_INFO, 0, c->id, 0,
               "client timed out sending the request");
    http1_timed_out(h);
}

/* limits.body_min_rate (issue 10 item 9). timeouts.body_read alone is
 * renewed by every byte, so a client dribbling one byte at a time would
 * hold the connection forever. After a grace of timeouts.body_read from
 * the head, the body must have averaged min_rate bytes/s over the time
 * the server was reading it: the clock stops while reading waits for the
 * app (body_paused) and, for "Expect: 100-continue", until the 100 is
 * sent. A client cannot reset it, as it counts from the head. */

/* Milliseconds of the body's clock so far. */
static am_msec_t
http1_rate_elapsed(const am_http1_t *h)
{
    am_msec_t now = h->rate_paused_at ? h->rate_paused_at : am_event_now;

    return now - h->rate_start - h->rate_paused;
}

/* Arm the check for the first moment the body can fall below the rate
 * (after the grace, once elapsed exceeds received * 1000 / min_rate), but
 * not sooner than min_wait ms. */
static void
http1_rate_arm(am_http1_t *h, am_msec_t min_wait)
{
    uint64_t rate = am_ctx.conf->limit_body_min_rate;
    am_msec_t elapsed = http1_rate_elapsed(h), at;

    at = (am_msec_t)((uint64_t)h->body_received * 1000 / rate + 1);
    at = am_max(at, am_ctx.conf->timeout_body_read);
    am_timer_add(&h->rate_timer,
                 am_max(at > elapsed ? at - elapsed : 0, min_wait));
}

void
am_http1_rate_start(am_http1_t *h)
{
    if (am_ctx.conf->limit_body_min_rate == 0 || h->rate_on) {
        return;
    }
    h->rate_on = 1;
    h->rate_start = am_event_now;
    h->rate_paused = 0;
    h->rate_paused_at = h->body_paused ? am_event_now : 0;
    if (!h->body_paused) {
        http1_rate_arm(h, 1);
    }
}

void
am_http1_rate_stop(am_http1_t *h)
{
    h->rate_on = 0;
    h->rate_paused_at = 0;
    am_timer_del(&h->rate_timer);
}

void
am_http1_body_pause(am_http1_t *h, int paused)
{
    if (paused == (int)h->body_paused) {
        return;
    }
    h->body_paused = paused ? 1 : 0;
    if (paused) {
        /* The client is not late while we do not read. */
        am_timer_del(&h->c->read_timer);
    }
    if (!h->rate_on) {
        return;
    }
    if (paused) {
        h->rate_paused_at = am_event_now;
        am_timer_del(&h->rate_timer);
    } else {
        h->rate_paused += am_event_now - h->rate_paused_at;
        h->rate_paused_at = 0;
        http1_rate_arm(h, 1);
    }
}

static void
http1_on_rate_timer(am_timer_t *t)
{
    am_http1_t *h = t->data;
    uint64_t rate = am_ctx.conf->limit_body_min_rate;
    am_msec_t elapsed;

    if (!h->rate_on || h->rate_paused_at || h->state != AM_HTTP1_BODY ||
        h->c->closing) {
        return;
    }
    elapsed = http1_rate_elapsed(h);
    if (elapsed < am_ctx.conf->timeout_body_read ||
        (uint64_t)h->body_received * 1000 >= rate * (uint64_t)elapsed) {
        /* On pace: look again when it could fall behind. */
        http1_rate_arm(h, HTTP1_RATE_RECHECK);
        return;
    }
    am_stats_abuse(AM_ABUSE_BODY_TOO_SLOW);
    am_connlog(AM_LOG_INFO, 0, h->c->id, 0,
               "client sent the request body too slowly: %zu bytes in %llu "
               "ms, under limits.body_min_rate (%llu bytes/s)",
               h->body_received, (unsigned long long)elapsed,
               (unsigned long long)rate);
    http1_timed_out(h);
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
        .method =
            h->state >= AM_HTTP1_BODY ? h->head.data + h->method_off : NULL,
        .head = h->head.data,
        .fields = h->fields,
        .nfields = h->nfields,
    };

    r.method_len = r.method ? h->method_len : 0;
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

    if (c->closed || c->closing) {
        return; /* answered already: one error response at most */
    }
    /* Nothing more is read: no timer may answer a second time. */
    am_timer_del(&c->read_timer);
    am_http1_rate_stop(h);
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
