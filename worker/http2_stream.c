/* worker/http2_stream.c: the life of an HTTP/2 stream: creation and
 * destruction, the timeouts that cancel a stalled stream, the
 * protocol-neutral head built from its pseudo-headers (RFC 9113 §8.3.1)
 * and the request-done record.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#include "common/forwarded.h"
#include "common/log.h"
#include "common/stats.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/http2_conn.h"
#include "worker/request.h"

/* Streams end and begin by the thousand a second: a closed stream goes on
 * a per-worker free list (the worker is single-threaded) with its head,
 * field and response-name buffers, so the next stream takes all three
 * without malloc. The list is bounded, and emptied when the worker's last
 * HTTP/2 connection closes (am_http2_stream_trim()). A buffer that grew
 * past its keep size is freed instead of kept. */
#define H2_STREAM_FREE_MAX 1024
#define H2_HEAD_FIRST      ((size_t)1024) /* a small request's head */
#define H2_HEAD_KEEP       ((size_t)4096)
#define H2_NVBUF_FIRST     ((size_t)512) /* a small response's fields */
#define H2_NVBUF_KEEP      ((size_t)4096)
#define H2_FIELDS_FIRST    16
#define H2_FIELDS_KEEP     64

static am_http2_stream_t *h2_stream_free_list;
static size_t h2_stream_free_count;

/* A stream the client stalls: RST_STREAM CANCEL (RFC 9113 §8.1), the app
 * sees http.disconnect, the other streams go on. */
static void
h2_stream_cancel(am_http2_stream_t *s, const char *what)
{
    am_connlog(AM_LOG_INFO, 0, s->h2->c->id, (uint32_t)s->id,
               "client timed out %s", what);
    nghttp2_submit_rst_stream(s->h2->session, NGHTTP2_FLAG_NONE, s->id,
                              NGHTTP2_CANCEL);
    am_http2_schedule(s->h2);
}

/* timeouts.write: the stream's response bytes make no progress because the
 * client keeps its flow-control window shut. */
static void
h2_on_write_timeout(am_timer_t *t)
{
    h2_stream_cancel(t->data, "reading the response");
}

/* timeouts.body_read: the app waits for request body that the client does
 * not send, with the window open (the HTTP/2 form of a slow body). */
void
am_http2_stream_set_state(am_http2_stream_t *s, am_http2_stream_state_t state)
{
    if (state < s->state || state > AM_HTTP2_STREAM_SEND_FINAL) {
        am_connlog(AM_LOG_ALERT, 0, s->h2->c->id, (uint32_t)s->id,
                   "http2: bad stream state %d -> %d", (int)s->state,
                   (int)state);
        abort();
    }
    s->state = state;
}

static void
h2_on_body_timeout(am_timer_t *t)
{
    am_http2_stream_t *s = t->data;

    if (s->discarding) {
        /* RFC 9113 §8.1: the response is complete; the rest of the body
         * is not waited for longer than this, progress or not. */
        am_connlog(AM_LOG_INFO, 0, s->h2->c->id, (uint32_t)s->id,
                   "request body still open after the response");
        nghttp2_submit_rst_stream(s->h2->session, NGHTTP2_FLAG_NONE, s->id,
                                  NGHTTP2_NO_ERROR);
        am_http2_schedule(s->h2);
        return;
    }
    h2_stream_cancel(s, "sending the body");
}

/* The time the app has waited for body, this wait included. */
static am_msec_t
h2_stream_waited(am_http2_stream_t *s, am_msec_t now)
{
    return s->waited + (s->wait_since != 0 ? now - s->wait_since : 0);
}

/* limits.body_min_rate: once the app has waited timeouts.body_read for
 * body in all, the body must average the rate over the time it waited.
 * Returns 0 when it does, with *next the time until it would not. */
static int
h2_stream_too_slow(am_http2_stream_t *s, am_msec_t now, am_msec_t *next)
{
    uint64_t rate = am_ctx.conf->limit_body_min_rate;
    am_msec_t waited = h2_stream_waited(s, now);
    uint64_t until;

    if (waited < am_ctx.conf->timeout_body_read) {
        *next = am_ctx.conf->timeout_body_read - waited;
        return 0;
    }
    if (s->body_received * 1000 < (uint64_t)waited * rate) {
        return 1;
    }
    until = s->body_received * 1000 / rate + 1;
    *next = until > (uint64_t)waited ? (am_msec_t)(until - waited) : 1;
    return 0;
}

static void
h2_on_rate_timeout(am_timer_t *t)
{
    am_http2_stream_t *s = t->data;
    am_msec_t next;
    am_msec_t now = am_now_msec();

    if (s->wait_since == 0 || s->body_done || s->discarding ||
        now - s->wait_since >= am_ctx.conf->timeout_body_read) {
        /* A wait with no byte at all is the body timer's (CANCEL). */
        return;
    }
    if (!h2_stream_too_slow(s, now, &next)) {
        am_timer_add(&s->rate_timer, next);
        return;
    }
    am_connlog(AM_LOG_INFO, 0, s->h2->c->id, (uint32_t)s->id,
               "client sent the body under limits.body_min_rate");
    am_stats_abuse(AM_ABUSE_BODY_TOO_SLOW);
    am_timer_del(&s->body_timer);
    s->wait_since = 0;
    if (s->req) {
        am_asgi_request_disconnect(s->req);
    }
    if (s->state == AM_HTTP2_STREAM_OPEN && s->status == 0) {
        am_http2_response_error(s, 408); /* RFC 9110 §15.5.9 */
        /* The rest is discarded for a bounded time (the stream stays
         * half-closed), so the client reads the 408 before any reset. */
        s->rst_after_eof = 0;
    } else {
        nghttp2_submit_rst_stream(s->h2->session, NGHTTP2_FLAG_NONE, s->id,
                                  NGHTTP2_CANCEL);
    }
    am_http2_schedule(s->h2);
}

void
am_http2_stream_body_wait(am_http2_stream_t *s, int waiting)
{
    am_msec_t now, next;

    if (am_ctx.conf->limit_body_min_rate == 0) {
        return;
    }
    now = am_now_msec();
    if (!waiting) {
        if (s->wait_since != 0) {
            s->waited += now - s->wait_since;
            s->wait_since = 0;
        }
        am_timer_del(&s->rate_timer);
        return;
    }
    if (s->wait_since != 0) {
        return;
    }
    s->wait_since = now;
    /* The check runs from the timer, never inside the app's receive(). */
    next = 0;
    (void)h2_stream_too_slow(s, now, &next);
    am_timer_add(&s->rate_timer, next);
}

void
am_http2_stream_discard(am_http2_stream_t *s)
{
    am_http2_t *h2 = s->h2;

    if (s->discarding) {
        return;
    }
    s->discarding = 1;
    s->wait_since = 0;
    am_timer_del(&s->rate_timer);
    if (s->req) {
        /* ASGI: receive() after the response is http.disconnect. */
        am_asgi_request_disconnect(s->req);
    }
    if (s->unconsumed > 0) {
        /* RFC 9113 §6.9: what the app will never read goes back to the
         * stream's and the connection's windows. */
        nghttp2_session_consume(h2->session, s->id, s->unconsumed);
        s->unconsumed = 0;
    }
    am_timer_add(&s->body_timer, am_ctx.conf->timeout_body_read);
    am_http2_schedule(h2);
}

void
am_http2_stream_discarded(am_http2_stream_t *s, size_t len)
{
    am_http2_t *h2 = s->h2;

    nghttp2_session_consume(h2->session, s->id, len);
    s->discarded += len;
    if (s->discarded > am_ctx.conf->h2_initial_window_size) {
        /* More than one window after the response: the client goes on
         * uploading what nobody reads. RFC 9113 §8.1 lets us stop it. */
        am_timer_del(&s->body_timer);
        nghttp2_submit_rst_stream(h2->session, NGHTTP2_FLAG_NONE, s->id,
                                  NGHTTP2_NO_ERROR);
    }
    am_http2_schedule(h2);
}

/* A buffer of cap bytes for b, empty. */
static void
h2_stream_buf_first(am_buf_t *b, size_t cap)
{
    b->data = am_alloc(cap);
    b->cap = cap;
    b->pos = b->len = 0;
}

/* Keep b for the next stream if it is no larger than keep, else free it. */
static void
h2_stream_buf_keep(am_buf_t *b, size_t keep)
{
    if (b->data != NULL && b->cap <= keep) {
        b->pos = b->len = 0;
    } else {
        am_buf_free(b);
    }
}

/* A zeroed stream with buffers ready, from the free list if it can. */
static am_http2_stream_t *
h2_stream_alloc(void)
{
    am_http2_stream_t *s = h2_stream_free_list;
    am_buf_t head, nvbuf;
    am_field_t *fields;
    size_t fields_cap;

    if (s == NULL) {
        s = am_calloc(1, sizeof(*s));
        h2_stream_buf_first(&s->head, H2_HEAD_FIRST);
        h2_stream_buf_first(&s->nvbuf, H2_NVBUF_FIRST);
        s->fields = am_alloc(H2_FIELDS_FIRST * sizeof(*s->fields));
        s->fields_cap = H2_FIELDS_FIRST;
        return s;
    }
    h2_stream_free_list = s->next;
    h2_stream_free_count--;
    if (h2_stream_free_list != NULL) {
        __builtin_prefetch(h2_stream_free_list, 1); /* the next pop's */
    }
    head = s->head;
    nvbuf = s->nvbuf;
    fields = s->fields;
    fields_cap = s->fields_cap;
    memset(s, 0, sizeof(*s));
    s->head = head;
    s->nvbuf = nvbuf;
    s->fields = fields;
    s->fields_cap = fields_cap;
    if (s->head.data == NULL) {
        h2_stream_buf_first(&s->head, H2_HEAD_FIRST);
    }
    if (s->nvbuf.data == NULL) {
        h2_stream_buf_first(&s->nvbuf, H2_NVBUF_FIRST);
    }
    if (s->fields == NULL) {
        s->fields = am_alloc(H2_FIELDS_FIRST * sizeof(*s->fields));
        s->fields_cap = H2_FIELDS_FIRST;
    }
    return s;
}

/* s is done with: onto the free list with the buffers worth keeping. */
static void
h2_stream_release(am_http2_stream_t *s)
{
    am_bufq_free(&s->out);
    free(s->trailers);
    s->trailers = NULL;
    if (h2_stream_free_count >= H2_STREAM_FREE_MAX) {
        am_buf_free(&s->head);
        am_buf_free(&s->nvbuf);
        free(s->fields);
        free(s);
        return;
    }
    h2_stream_buf_keep(&s->head, H2_HEAD_KEEP);
    h2_stream_buf_keep(&s->nvbuf, H2_NVBUF_KEEP);
    if (s->fields_cap > H2_FIELDS_KEEP) {
        free(s->fields);
        s->fields = NULL;
        s->fields_cap = 0;
    }
    s->next = h2_stream_free_list;
    h2_stream_free_list = s;
    h2_stream_free_count++;
}

void
am_http2_stream_trim(void)
{
    am_http2_stream_t *s;

    while ((s = h2_stream_free_list) != NULL) {
        h2_stream_free_list = s->next;
        am_buf_free(&s->head);
        am_buf_free(&s->nvbuf);
        free(s->fields);
        free(s);
    }
    h2_stream_free_count = 0;
}

size_t
am_http2_stream_kept(void)
{
    return h2_stream_free_count;
}

am_http2_stream_t *
am_http2_stream_create(am_http2_t *h2, int32_t id)
{
    am_http2_stream_t *s = h2_stream_alloc();

    s->id = id;
    s->h2 = h2;
    s->method = s->path = s->scheme = s->authority = s->protocol = -1;
    /* The wall-clock start is for the access log line alone. */
    s->start_time = am_log_access_enabled() ? time(NULL) : 0;
    s->start_msec = am_now_msec();
    s->body_timer.handler = h2_on_body_timeout;
    s->body_timer.data = s;
    s->write_timer.handler = h2_on_write_timeout;
    s->write_timer.data = s;
    s->rate_timer.handler = h2_on_rate_timeout;
    s->rate_timer.data = s;
    s->next = h2->streams;
    if (h2->streams) {
        h2->streams->prev = s;
    }
    h2->streams = s;
    h2->nstreams++;
    if (am_stats_self != NULL) {
        am_stats_self->streams++;
    }
    am_timer_del(&h2->c->read_timer);
    return s;
}

void
am_http2_stream_destroy(am_http2_stream_t *s)
{
    am_http2_t *h2 = s->h2;

    am_timer_del(&s->body_timer);
    am_timer_del(&s->write_timer);
    am_timer_del(&s->rate_timer);
    if (s->ws) {
        am_http2_ws_destroy(s);
    }
    if (s->req) {
        am_asgi_request_release(s->req);
        s->req = NULL;
    }
    if (h2->hd_stream == s) {
        h2->hd_stream = NULL;
    }
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        h2->streams = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    h2_stream_release(s);
    h2->nstreams--;
    if (am_stats_self != NULL) {
        am_stats_self->streams--;
    }
    if (h2->nstreams == 0 && !h2->c->closed && !am_ctx.stopping) {
        am_timer_add(&h2->c->read_timer, am_ctx.conf->timeout_h2_idle);
    }
}

static const char *
h2_field(am_http2_stream_t *s, int32_t i, size_t *len)
{
    if (i < 0) {
        *len = 0;
        return NULL;
    }
    *len = s->fields[i].value_len;
    return s->head.data + s->fields[i].value_off;
}

void
am_http2_stream_log(am_http2_stream_t *s, int status)
{
    am_request_done_t r = {
        .proto = AM_STATS_H2,
        .protocol = "HTTP/2.0",
        .status = status,
        .body_bytes = s->resp_sent,
        .start_time = s->start_time,
        .start_msec = s->start_msec,
        .head = s->head.data,
        .fields = s->fields,
        .nfields = s->nfields,
    };

    if (s->logged) {
        return;
    }
    s->logged = 1;
    r.method = h2_field(s, s->method, &r.method_len);
    r.target = h2_field(s, s->path, &r.target_len);
    am_request_done(s->h2->c, &r);
}

/* RFC 9113 §8.3.1: build the ASGI head from pseudo-headers. */
int
am_http2_stream_start(am_http2_t *h2, am_http2_stream_t *s)
{
    am_conn_t *c = h2->c;
    am_header_t stack[64], *headers;
    am_asgi_head_t head;
    const char *path, *q, *v;
    size_t path_len, len, i, n = 0, ncookie = 0;
    int has_host = 0;
    am_buf_t cookie = { 0 };
    am_forwarded_out_t fwd;

    memset(&head, 0, sizeof(head));
    head.method = h2_field(s, s->method, &head.method_len);
    path = h2_field(s, s->path, &path_len);
    if (head.method == NULL) {
        return 400;
    }
    if (path == NULL) {
        /* CONNECT (RFC 9113 §8.5): the authority is the target. */
        path = h2_field(s, s->authority, &path_len);
        if (path == NULL) {
            return 400;
        }
    }
    q = memchr(path, '?', path_len);
    head.path = path;
    head.path_len = q ? (size_t)(q - path) : path_len;
    head.query = q ? q + 1 : "";
    head.query_len = q ? path_len - head.path_len - 1 : 0;
    v = h2_field(s, s->scheme, &len);
    /* :scheme as the client sent it (RFC 9113 §8.3.1); a PROXY v2 header
     * that says the client used TLS wins over a proxy's cleartext hop. */
    head.scheme = (v && len == 5 && memcmp(v, "https", 5) == 0) ? "https"
                  : c->proxy_ssl                                ? "https"
                  : (c->tls != NULL && v == NULL)               ? "https"
                                                                : "http";
    head.http_version = "2";

    headers = s->nfields + 2 <= am_nitems(stack)
                  ? stack
                  : am_alloc((s->nfields + 2) * sizeof(*headers));
    for (i = 0; i < s->nfields; i++) {
        am_field_t *f = &s->fields[i];
        const char *name = s->head.data + f->name_off;

        if (f->name_len > 0 && name[0] == ':') {
            continue;
        }
        if (f->name_len == 6 && memcmp(name, "cookie", 6) == 0) {
            /* RFC 9113 §8.2.3: crumbs are joined with "; ". */
            if (ncookie++ > 0) {
                am_buf_append(&cookie, "; ", 2);
            }
            am_buf_append(&cookie, s->head.data + f->value_off, f->value_len);
            continue;
        }
        if (f->name_len == 4 && memcmp(name, "host", 4) == 0) {
            has_host = 1;
        }
        headers[n].name = name;
        headers[n].name_len = f->name_len;
        headers[n].value = s->head.data + f->value_off;
        headers[n].value_len = f->value_len;
        n++;
    }
    if (ncookie > 0) {
        headers[n].name = "cookie";
        headers[n].name_len = 6;
        /* One empty crumb leaves the buffer unallocated. */
        headers[n].value = cookie.data ? cookie.data + cookie.pos : "";
        headers[n].value_len = am_buf_size(&cookie);
        n++;
    }
    /* RFC 9113 §8.3.1: :authority stands for Host. */
    if (!has_host && s->authority >= 0) {
        memmove(headers + 1, headers, n * sizeof(*headers));
        headers[0].name = "host";
        headers[0].name_len = 4;
        headers[0].value = h2_field(s, s->authority, &headers[0].value_len);
        n++;
    }
    head.headers = headers;
    head.nheaders = n;
    head.client_host = c->listen->family == AF_UNIX ? NULL : c->client_host;
    head.client_port = c->client_port;
    if (c->listen->family == AF_UNIX) {
        head.server_host = c->listen->path;
        head.server_port = -1;
    } else {
        head.server_host = c->server_host;
        head.server_port = c->server_port;
    }
    head.has_body = !s->body_done;
    head.trailers_allowed = 1; /* RFC 9113 §8.1: always possible */
    head.tls = c->tls;
    am_request_apply_forwarded(c, &head, &fwd);
    s->is_head = head.method_len == 4 && memcmp(head.method, "HEAD", 4) == 0;

    if (s->protocol >= 0) {
        /* RFC 8441 §4: an extended CONNECT (nghttp2 checked the method). */
        int status;

        v = h2_field(s, s->protocol, &len);
        status = am_http2_ws_start(s, &head, v, len);

        if (headers != stack) {
            free(headers);
        }
        am_buf_free(&cookie);
        return status;
    }
    s->req = am_asgi_request_create(&head, &am_http2_response_ops, s, c->id,
                                    (uint32_t)s->id);
    if (headers != stack) {
        free(headers);
    }
    am_buf_free(&cookie);
    return s->req ? 0 : 500;
}
