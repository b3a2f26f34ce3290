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

#include "common/forwarded.h"
#include "common/log.h"
#include "common/stats.h"
#include "worker/http1.h"
#include "worker/http2.h"
#include "worker/worker.h"

#define H2_OUT_HIGH   (256 * 1024) /* conn output pulled from nghttp2 */
#define H2_GOAWAY_MS  1000         /* notice -> final GOAWAY (RFC 9113 §6.8) */
#define H2_MAX_FIELDS 1024

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
static const uint8_t h2_drain_ping[8] = {
    'a', 'm', 'd', 'r', 'a', 'i', 'n', '!'
};

typedef struct http2_s http2_t;

typedef struct h2_stream_s h2_stream_t;

struct h2_stream_s {
    int32_t id;
    http2_t *h2;
    h2_stream_t *prev, *next; /* the connection's live streams */
    am_asgi_request_t *req;

    /* request head */
    am_buf_t head; /* names and values, lowercase names */
    am_field_t *fields;
    size_t nfields, fields_cap;
    int32_t method, path, scheme, authority; /* field index or -1 */
    size_t header_bytes;
    int error_status;  /* 431 etc.: answer without the app */
    size_t unconsumed; /* DATA received, not yet read by the app */
    uint64_t body_received;
    int body_done;

    /* response */
    am_bufq_t out;       /* body bytes not yet taken by nghttp2 */
    am_buf_t nvbuf;      /* names/values of the response and trailers */
    nghttp2_nv *head_nv; /* the response head until it is submitted */
    size_t nhead;
    nghttp2_nv *trailers;
    size_t ntrailers;
    int status;
    uint64_t resp_sent;
    time_t start_time;
    am_msec_t start_msec;
    unsigned submitted : 1;    /* HEADERS submitted */
    unsigned eof : 1;          /* the last body byte is in out */
    unsigned deferred : 1;     /* the data source said DEFERRED */
    unsigned has_trailers : 1; /* the app announced trailers */
    unsigned trailers_ready : 1;
    unsigned is_head : 1;
    unsigned waiting : 1; /* send() waits for out to drain */
    unsigned app_done : 1;
    unsigned rst_after_eof : 1; /* RFC 9113 §8.1: the request is unread */
    unsigned logged : 1;
    int32_t window_before;  /* our send window when a SETTINGS began */
    am_timer_t body_timer;  /* the app waits for body that does not come */
    am_timer_t write_timer; /* response bytes the client's window holds */
};

struct http2_s {
    am_conn_t *c;
    nghttp2_session *session;
    h2_stream_t *streams;
    size_t nstreams;
    int32_t max_opened; /* highest client stream id opened */
    int32_t recent[64]; /* recently opened ids, for late trailers */
    size_t nrecent;
    uint32_t peer_window; /* the peer's SETTINGS_INITIAL_WINDOW_SIZE */
    unsigned goaway_final : 1;
    unsigned closing : 1;
    am_timer_t goaway_timer;
};

static am_conf_t *conf;
static nghttp2_session_callbacks *h2_callbacks;
static nghttp2_option *h2_option;

static void http2_on_read(am_conn_t *c, int eof);
static void http2_on_drain(am_conn_t *c);
static void http2_on_close(am_conn_t *c);
static void http2_on_shutdown(am_conn_t *c);
static void http2_on_post(am_post_t *p);
static void http2_on_idle(am_timer_t *t);
static void http2_on_goaway_timer(am_timer_t *t);
static void http2_flush(http2_t *h2);

static int h2_resp_start(void *stream, int status, const am_header_t *headers,
                         size_t n, int trailers, const char **err);
static int h2_resp_body(void *stream, const char *data, size_t len, int more);
static int h2_resp_trailers(void *stream, const am_header_t *headers, size_t n,
                            int more, const char **err);
static void h2_resp_consumed(void *stream, size_t n);
static void h2_resp_finish(void *stream, int complete);

static const am_proto_t http2_proto = {
    .name = "h2",
    .on_read = http2_on_read,
    .on_drain = http2_on_drain,
    .on_close = http2_on_close,
    .on_shutdown = http2_on_shutdown,
};

static const am_asgi_ops_t h2_ops = {
    .start = h2_resp_start,
    .body = h2_resp_body,
    .trailers = h2_resp_trailers,
    .consumed = h2_resp_consumed,
    .finish = h2_resp_finish,
};

int
am_http2_is_preface(const char *buf, size_t len, int *full)
{
    size_t n = am_min(len, sizeof(h2_preface) - 1);

    *full = len >= sizeof(h2_preface) - 1;
    return memcmp(buf, h2_preface, n) == 0;
}

/* Streams. */

static void h2_schedule(http2_t *h2);

/* A stream the client stalls: RST_STREAM CANCEL (RFC 9113 §8.1), the app
 * sees http.disconnect, the other streams go on. */
static void
h2_stream_cancel(h2_stream_t *s, const char *what)
{
    am_log(AM_LOG_INFO, 0, "*%llu s%d client timed out %s",
           (unsigned long long)s->h2->c->id, s->id, what);
    nghttp2_submit_rst_stream(s->h2->session, NGHTTP2_FLAG_NONE, s->id,
                              NGHTTP2_CANCEL);
    h2_schedule(s->h2);
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
static void
h2_on_body_timeout(am_timer_t *t)
{
    h2_stream_cancel(t->data, "sending the body");
}

static h2_stream_t *
h2_stream_create(http2_t *h2, int32_t id)
{
    h2_stream_t *s = am_calloc(1, sizeof(*s));

    s->id = id;
    s->h2 = h2;
    s->method = s->path = s->scheme = s->authority = -1;
    s->start_time = time(NULL);
    s->start_msec = am_now_msec();
    s->body_timer.handler = h2_on_body_timeout;
    s->body_timer.data = s;
    s->write_timer.handler = h2_on_write_timeout;
    s->write_timer.data = s;
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

static void
h2_stream_destroy(h2_stream_t *s)
{
    http2_t *h2 = s->h2;

    am_timer_del(&s->body_timer);
    am_timer_del(&s->write_timer);
    if (s->req) {
        am_asgi_request_release(s->req);
        s->req = NULL;
    }
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        h2->streams = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    am_buf_free(&s->head);
    am_bufq_free(&s->out);
    am_buf_free(&s->nvbuf);
    free(s->fields);
    free(s->head_nv);
    free(s->trailers);
    free(s);
    h2->nstreams--;
    if (am_stats_self != NULL) {
        am_stats_self->streams--;
    }
    if (h2->nstreams == 0 && !h2->c->closed && !am_worker_stopping) {
        am_timer_add(&h2->c->read_timer, conf->timeout_h2_idle);
    }
}

static const char *
h2_field(h2_stream_t *s, int32_t i, size_t *len)
{
    if (i < 0) {
        *len = 0;
        return NULL;
    }
    *len = s->fields[i].value_len;
    return s->head.data + s->fields[i].value_off;
}

static void
h2_access_log(h2_stream_t *s, int status)
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
    am_conn_request_done(s->h2->c, &r);
}

/* nghttp2 callbacks: each runs inside mem_recv()/mem_send(). */

static int
h2_on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
                    void *user_data)
{
    http2_t *h2 = user_data;
    h2_stream_t *s;

    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    s = h2_stream_create(h2, frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s);
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
    http2_t *h2 = user_data;
    h2_stream_t *s;
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
h2_check_window_change(http2_t *h2, const nghttp2_settings *f)
{
    h2_stream_t *s;
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
    h2_stream_t *s;
    am_field_t *f;

    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0; /* request trailers: ASGI has no place for them */
    }
    s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL || s->error_status) {
        return 0;
    }
    s->header_bytes += namelen + valuelen + 32; /* RFC 9113 §6.5.2 */
    if (s->header_bytes > conf->h2_max_header_list_size ||
        s->nfields >=
            am_min(conf->limit_header_count + 4, (size_t)H2_MAX_FIELDS)) {
        s->error_status = 431;
        return 0;
    }
    if (s->nfields == s->fields_cap) {
        s->fields_cap = s->fields_cap ? s->fields_cap * 2 : 16;
        s->fields = am_realloc(s->fields, s->fields_cap * sizeof(*f));
    }
    f = &s->fields[s->nfields];
    f->name_off = (uint32_t)s->head.len;
    f->name_len = (uint32_t)namelen;
    am_buf_append(&s->head, name, namelen);
    f->value_off = (uint32_t)s->head.len;
    f->value_len = (uint32_t)valuelen;
    am_buf_append(&s->head, value, valuelen);

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
        }
    }
    s->nfields++;
    return 0;
}

static void
h2_submit_error(h2_stream_t *s, int status)
{
    static const char *const reasons[] = {
        [0] = "Bad Request\n",
        [1] = "Request Header Fields Too Large\n",
        [2] = "Internal Server Error\n",
        [3] = "Content Too Large\n",
    };
    am_header_t h[1] = { { "content-type", 12, "text/plain; charset=utf-8",
                           25 } };
    const char *body, *err;

    body = status == 431   ? reasons[1]
           : status == 500 ? reasons[2]
           : status == 413 ? reasons[3]
                           : reasons[0];
    s->rst_after_eof = !s->body_done;
    if (h2_resp_start(s, status, h, 1, 0, &err) == AM_OK) {
        h2_resp_body(s, body, strlen(body), 0);
    }
    h2_access_log(s, status);
}

/* RFC 9113 §8.3.1: build the ASGI head from pseudo-headers. */
static int
h2_start_request(http2_t *h2, h2_stream_t *s)
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
    am_conn_apply_forwarded(c, &head, &fwd);
    s->is_head = head.method_len == 4 && memcmp(head.method, "HEAD", 4) == 0;

    s->req = am_asgi_request_create(&head, &h2_ops, s, c->id, (uint32_t)s->id);
    if (headers != stack) {
        free(headers);
    }
    am_buf_free(&cookie);
    return s->req ? 0 : 500;
}

static int
h2_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                 void *user_data)
{
    http2_t *h2 = user_data;
    h2_stream_t *s;
    int status;

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
    s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL) {
        return 0;
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        s->body_done = 1;
        am_timer_del(&s->body_timer);
    }
    if (frame->hd.type == NGHTTP2_HEADERS &&
        frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        if (am_worker_stopping && h2->goaway_final) {
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE,
                                      frame->hd.stream_id,
                                      NGHTTP2_REFUSED_STREAM);
            return 0;
        }
        status = s->error_status ? s->error_status : h2_start_request(h2, s);
        if (status != 0) {
            h2_submit_error(s, status);
        }
        return 0;
    }
    if (s->body_done && s->req) {
        am_asgi_request_body(s->req, NULL, 0, 0);
    }
    return 0;
}

static int
h2_on_data_chunk_recv(nghttp2_session *session, uint8_t flags,
                      int32_t stream_id, const uint8_t *data, size_t len,
                      void *user_data)
{
    h2_stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);

    if (s == NULL || s->req == NULL) {
        /* Nobody will read it: give the window back at once. */
        nghttp2_session_consume(session, stream_id, len);
        return 0;
    }
    am_timer_del(&s->body_timer);
    s->body_received += len;
    if (conf->limit_body_size && s->body_received > conf->limit_body_size) {
        /* RFC 9110 §15.5.14: too large; the app sees a disconnect. */
        nghttp2_session_consume(session, stream_id, len);
        am_asgi_request_disconnect(s->req);
        if (!s->submitted && s->status == 0) {
            h2_submit_error(s, 413);
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
    h2_stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);

    if (s == NULL) {
        return 0;
    }
    if (s->unconsumed > 0) {
        /* Bytes the app never read still hold the connection window. */
        nghttp2_session_consume_connection(session, s->unconsumed);
        s->unconsumed = 0;
    }
    if (!s->logged && s->submitted) {
        h2_access_log(s, s->status);
    }
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    h2_stream_destroy(s);
    return 0;
}

static int
h2_on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
                 void *user_data)
{
    h2_stream_t *s;

    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (s != NULL && s->rst_after_eof && !s->body_done) {
            /* RFC 9113 §8.1: the response is complete while the request is
             * not: tell the client to stop sending. */
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE,
                                      frame->hd.stream_id, NGHTTP2_NO_ERROR);
        }
    }
    return 0;
}

static ssize_t
h2_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
             size_t length, uint32_t *data_flags, nghttp2_data_source *source,
             void *user_data)
{
    h2_stream_t *s = source->ptr;
    size_t n = am_bufq_read(&s->out, buf, length);

    if (n > 0) {
        if (am_bufq_size(&s->out) == 0) {
            am_timer_del(&s->write_timer);
        } else {
            am_timer_add(&s->write_timer, conf->timeout_write); /* progress */
        }
    }
    if (s->waiting && am_bufq_size(&s->out) < conf->limit_write_buffer) {
        s->waiting = 0;
        if (s->req) {
            am_asgi_request_writable(s->req);
        }
    }
    if (am_bufq_size(&s->out) == 0 && s->eof) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        if (s->has_trailers && s->ntrailers > 0) {
            *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nghttp2_submit_trailer(session, stream_id, s->trailers,
                                   s->ntrailers);
        }
        return (ssize_t)n;
    }
    if (n == 0) {
        s->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

/* Response side: called by the bridge with the app's events. */

static int
h2_name_ok(const char *name, size_t len)
{
    size_t i;

    if (len == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];

        /* RFC 9110 §5.6.2 tchar; uppercase is lowercased for HTTP/2. */
        if (!(ch > 0x20 && ch < 0x7f) || strchr("\"(),/:;<=>?@[\\]{}", ch)) {
            return 0;
        }
    }
    return 1;
}

static int
h2_value_ok(const char *v, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0') {
            return 0;
        }
    }
    return 1;
}

static int
h2_is_connection_specific(const char *name, size_t len)
{
    /* RFC 9113 §8.2.2. */
    static const char *const names[] = {
        "connection",        "keep-alive", "proxy-connection",
        "transfer-encoding", "upgrade",
    };
    size_t i;

    for (i = 0; i < am_nitems(names); i++) {
        if (len == strlen(names[i]) && strncasecmp(name, names[i], len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Copy app headers into s->nvbuf as lowercase nghttp2_nv entries after the
 * ones already there. Returns the number added or -1 with *err set. */
static int
h2_build_nv(h2_stream_t *s, const am_header_t *headers, size_t n,
            nghttp2_nv *nv, size_t max, const char **err, int *has_date,
            int *has_server, int *has_length)
{
    size_t i, j, k = 0, off;

    for (i = 0; i < n; i++) {
        const am_header_t *hd = &headers[i];

        if (!h2_name_ok(hd->name, hd->name_len) ||
            !h2_value_ok(hd->value, hd->value_len)) {
            *err = "invalid header name or value";
            return -1;
        }
        if (h2_is_connection_specific(hd->name, hd->name_len)) {
            continue;
        }
        if (k >= max) {
            *err = "too many headers";
            return -1;
        }
        off = s->nvbuf.len;
        am_buf_reserve(&s->nvbuf, hd->name_len + hd->value_len);
        for (j = 0; j < hd->name_len; j++) {
            char ch = hd->name[j];

            s->nvbuf.data[off + j] = (ch >= 'A' && ch <= 'Z') ? ch | 0x20 : ch;
        }
        memcpy(s->nvbuf.data + off + hd->name_len, hd->value, hd->value_len);
        s->nvbuf.len += hd->name_len + hd->value_len;
        /* Offsets for now: nvbuf may still move. */
        nv[k].name = (uint8_t *)(uintptr_t)off;
        nv[k].namelen = hd->name_len;
        nv[k].value = (uint8_t *)(uintptr_t)(off + hd->name_len);
        nv[k].valuelen = hd->value_len;
        nv[k].flags =
            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
        if (has_date && hd->name_len == 4 &&
            strncasecmp(hd->name, "date", 4) == 0) {
            *has_date = 1;
        } else if (has_server && hd->name_len == 6 &&
                   strncasecmp(hd->name, "server", 6) == 0) {
            *has_server = 1;
        } else if (has_length && hd->name_len == 14 &&
                   strncasecmp(hd->name, "content-length", 14) == 0) {
            *has_length = 1;
        }
        k++;
    }
    return (int)k;
}

static void
h2_fix_nv(h2_stream_t *s, nghttp2_nv *nv, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (nv[i].flags & NGHTTP2_NV_FLAG_NO_COPY_NAME) {
            nv[i].name = (uint8_t *)s->nvbuf.data + (uintptr_t)nv[i].name;
            nv[i].value = (uint8_t *)s->nvbuf.data + (uintptr_t)nv[i].value;
            nv[i].flags = NGHTTP2_NV_FLAG_NONE; /* nghttp2 copies */
        }
    }
}

static void
h2_schedule(http2_t *h2)
{
    am_post(&h2->c->post);
}

/* The response head is kept until the first body event, so a body-less
 * response ends the stream in its HEADERS frame and a single-shot body gets
 * a content-length. */
static int
h2_resp_start(void *stream, int status, const am_header_t *headers, size_t n,
              int trailers, const char **err)
{
    h2_stream_t *s = stream;
    nghttp2_nv *nv;
    int k, has_date = 0, has_server = 0, has_length = 0;

    if (s->h2->c->closed) {
        return AM_ERROR;
    }
    if (status < 200 || status > 999) {
        *err = "status must be an integer from 200 to 999";
        return AM_DECLINED;
    }
    nv = am_alloc((n + 4) * sizeof(*nv));
    s->nvbuf.pos = s->nvbuf.len = 0;
    k = h2_build_nv(s, headers, n, nv + 1, n, err, &has_date, &has_server,
                    &has_length);
    if (k < 0) {
        free(nv);
        return AM_DECLINED;
    }
    s->status = status;
    s->has_trailers = trailers ? 1 : 0;
    /* Kept until the first body event decides END_STREAM and length. */
    free(s->head_nv);
    s->head_nv = nv;
    s->nhead = (size_t)k + 1;
    (void)has_length;
    s->submitted = 0;
    s->rst_after_eof = 0;
    {
        char line[64];
        int len = snprintf(line, sizeof(line), "%d", status);
        size_t off = s->nvbuf.len;

        am_buf_append(&s->nvbuf, line, (size_t)len);
        nv[0].name = (uint8_t *)":status";
        nv[0].namelen = 7;
        nv[0].value = (uint8_t *)(uintptr_t)off;
        nv[0].valuelen = (size_t)len;
        nv[0].flags = NGHTTP2_NV_FLAG_NO_COPY_VALUE; /* fixed up later */
        if (!has_date) {
            const char *d = am_http_date();

            off = s->nvbuf.len;
            am_buf_append(&s->nvbuf, d, strlen(d));
            nv[s->nhead].name = (uint8_t *)"date";
            nv[s->nhead].namelen = 4;
            nv[s->nhead].value = (uint8_t *)(uintptr_t)off;
            nv[s->nhead].valuelen = strlen(d);
            nv[s->nhead].flags = NGHTTP2_NV_FLAG_NO_COPY_VALUE;
            s->nhead++;
        }
        if (!has_server && conf->server_header) {
            nv[s->nhead].name = (uint8_t *)"server";
            nv[s->nhead].namelen = 6;
            nv[s->nhead].value = (uint8_t *)"asgimaster";
            nv[s->nhead].valuelen = 10;
            nv[s->nhead].flags = NGHTTP2_NV_FLAG_NONE;
            s->nhead++;
        }
    }
    return AM_OK;
}

static void
h2_fix_head_nv(h2_stream_t *s, nghttp2_nv *nv, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (nv[i].flags & NGHTTP2_NV_FLAG_NO_COPY_VALUE) {
            if (nv[i].flags & NGHTTP2_NV_FLAG_NO_COPY_NAME) {
                nv[i].name = (uint8_t *)s->nvbuf.data + (uintptr_t)nv[i].name;
            }
            nv[i].value = (uint8_t *)s->nvbuf.data + (uintptr_t)nv[i].value;
        }
        nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    }
}

static int
h2_submit_head(h2_stream_t *s, size_t first_len, int more)
{
    http2_t *h2 = s->h2;
    nghttp2_data_provider prd;
    nghttp2_nv *nv = s->head_nv;
    size_t n = s->nhead;
    char cl[32];
    int rv, no_body;

    s->head_nv = NULL;
    s->nhead = 0;
    no_body = s->is_head || s->status == 204 || s->status == 304;
    if (!more && !no_body && !s->has_trailers) {
        /* A single-shot body: tell its length. */
        size_t i, have = 0;

        for (i = 1; i < n; i++) {
            if (!(nv[i].flags & NGHTTP2_NV_FLAG_NO_COPY_NAME) &&
                nv[i].namelen == 14 &&
                memcmp(nv[i].name, "content-length", 14) == 0) {
                have = 1;
            }
        }
        for (i = 1; i < n && !have; i++) {
            if ((nv[i].flags & NGHTTP2_NV_FLAG_NO_COPY_NAME) &&
                nv[i].namelen == 14 &&
                memcmp(s->nvbuf.data + (uintptr_t)nv[i].name, "content-length",
                       14) == 0) {
                have = 1;
            }
        }
        if (!have) {
            int len = snprintf(cl, sizeof(cl), "%zu", first_len);

            nv = am_realloc(nv, (n + 1) * sizeof(*nv));
            nv[n].name = (uint8_t *)"content-length";
            nv[n].namelen = 14;
            nv[n].value = (uint8_t *)cl;
            nv[n].valuelen = (size_t)len;
            nv[n].flags = NGHTTP2_NV_FLAG_NONE;
            n++;
        }
    }
    h2_fix_head_nv(s, nv, n);
    s->submitted = 1;
    if (no_body || (!more && first_len == 0 && !s->has_trailers)) {
        rv = nghttp2_submit_response(h2->session, s->id, nv, n, NULL);
        s->eof = 1;
        if (!s->body_done) {
            s->rst_after_eof = 1;
        }
    } else {
        prd.source.ptr = s;
        prd.read_callback = h2_data_read;
        rv = nghttp2_submit_response(h2->session, s->id, nv, n, &prd);
    }
    free(nv);
    s->nvbuf.pos = s->nvbuf.len = 0;
    if (rv != 0) {
        am_log(AM_LOG_ALERT, 0, "*%llu s%d nghttp2_submit_response(): %s",
               (unsigned long long)h2->c->id, s->id, nghttp2_strerror(rv));
        return AM_ERROR;
    }
    h2_schedule(h2);
    return AM_OK;
}

static int
h2_resp_body(void *stream, const char *data, size_t len, int more)
{
    h2_stream_t *s = stream;
    http2_t *h2 = s->h2;
    int no_body;

    if (h2->c->closed) {
        return AM_ERROR;
    }
    no_body = s->is_head || s->status == 204 || s->status == 304;
    if (!s->submitted) {
        if (h2_submit_head(s, len, more) != AM_OK) {
            return AM_ERROR;
        }
        if (s->eof) {
            s->resp_sent += len;
            return AM_OK;
        }
    }
    if (!no_body && len > 0) {
        if (am_bufq_size(&s->out) == 0) {
            am_timer_add(&s->write_timer, conf->timeout_write);
        }
        am_bufq_append(&s->out, data, len);
    }
    s->resp_sent += len;
    if (!more) {
        s->eof = 1;
        if (!s->body_done) {
            s->rst_after_eof = 1;
        }
    }
    if (s->deferred) {
        s->deferred = 0;
        nghttp2_session_resume_data(h2->session, s->id);
    }
    h2_schedule(h2);
    if (more && am_bufq_size(&s->out) > conf->limit_write_buffer) {
        s->waiting = 1;
        return AM_AGAIN;
    }
    return AM_OK;
}

static int
h2_resp_trailers(void *stream, const am_header_t *headers, size_t n, int more,
                 const char **err)
{
    h2_stream_t *s = stream;
    nghttp2_nv *nv;
    int k;

    if (s->h2->c->closed) {
        return AM_ERROR;
    }
    if (!s->submitted) {
        if (h2_submit_head(s, 0, 1) != AM_OK) {
            return AM_ERROR;
        }
    }
    nv = am_alloc((s->ntrailers + n + 1) * sizeof(*nv));
    if (s->ntrailers) {
        memcpy(nv, s->trailers, s->ntrailers * sizeof(*nv));
    }
    k = h2_build_nv(s, headers, n, nv + s->ntrailers, n, err, NULL, NULL, NULL);
    if (k < 0) {
        free(nv);
        return AM_DECLINED;
    }
    free(s->trailers);
    s->trailers = nv;
    s->ntrailers += (size_t)k;
    if (!more) {
        h2_fix_nv(s, s->trailers, s->ntrailers);
        s->trailers_ready = 1;
        s->eof = 1;
        if (s->deferred) {
            s->deferred = 0;
            nghttp2_session_resume_data(s->h2->session, s->id);
        }
        h2_schedule(s->h2);
    }
    return AM_OK;
}

static void
h2_resp_consumed(void *stream, size_t n)
{
    h2_stream_t *s = stream;

    if (s->h2->c->closed) {
        return;
    }
    if (n == 0) {
        /* receive() waits: the client has timeouts.body_read to send. */
        if (!s->body_done) {
            am_timer_add(&s->body_timer, conf->timeout_body_read);
        }
        return;
    }
    n = am_min(n, s->unconsumed);
    s->unconsumed -= n;
    nghttp2_session_consume(s->h2->session, s->id, n);
    h2_schedule(s->h2);
}

static void
h2_resp_finish(void *stream, int complete)
{
    h2_stream_t *s = stream;
    http2_t *h2 = s->h2;

    s->app_done = 1;
    if (s->req) {
        am_asgi_request_release(s->req);
        s->req = NULL;
    }
    if (h2->c->closed) {
        return;
    }
    if (!complete) {
        /* The app failed after starting: this stream only. */
        h2_access_log(s, s->status ? s->status : 500);
        nghttp2_submit_rst_stream(h2->session, NGHTTP2_FLAG_NONE, s->id,
                                  NGHTTP2_INTERNAL_ERROR);
    } else {
        h2_access_log(s, s->status);
    }
    if (s->unconsumed > 0) {
        nghttp2_session_consume(h2->session, s->id, s->unconsumed);
        s->unconsumed = 0;
    }
    h2_schedule(h2);
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
http2_flush(http2_t *h2)
{
    am_conn_t *c = h2->c;
    const uint8_t *data;
    ssize_t n;

    while (!c->closed && am_conn_pending(c) < H2_OUT_HIGH) {
        n = nghttp2_session_mem_send(h2->session, &data);
        if (n < 0) {
            am_log(AM_LOG_INFO, 0, "*%llu nghttp2_session_mem_send(): %s",
                   (unsigned long long)c->id, nghttp2_strerror((int)n));
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
    http2_t *h2 = p->data;

    if (!h2->c->closed) {
        http2_flush(h2);
    }
}

static void
http2_on_read(am_conn_t *c, int eof)
{
    http2_t *h2 = c->proto_data;
    ssize_t n;

    if (am_buf_size(&c->rbuf) > 0) {
        n = nghttp2_session_mem_recv(
            h2->session, (const uint8_t *)c->rbuf.data + c->rbuf.pos,
            am_buf_size(&c->rbuf));
        if (n < 0) {
            am_log(AM_LOG_INFO, 0, "*%llu HTTP/2 error: %s",
                   (unsigned long long)c->id, nghttp2_strerror((int)n));
            if (n == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
                am_http2_goaway_raw(c, NGHTTP2_PROTOCOL_ERROR);
            } else {
                http2_flush(h2); /* the GOAWAY nghttp2 queued */
            }
            am_buf_consume(&c->rbuf, am_buf_size(&c->rbuf));
            am_conn_close_after_flush(c);
            return;
        }
        am_buf_consume(&c->rbuf, (size_t)n);
    }
    if (eof) {
        am_conn_close(c);
        return;
    }
    http2_flush(h2);
}

static void
http2_on_drain(am_conn_t *c)
{
    http2_t *h2 = c->proto_data;

    http2_flush(h2);
}

static void
http2_on_close(am_conn_t *c)
{
    http2_t *h2 = c->proto_data;

    am_timer_del(&h2->goaway_timer);
    /* nghttp2_session_del() runs no stream-close callbacks: end every
     * stream here, so its request sees http.disconnect. */
    while (h2->streams != NULL) {
        h2_stream_destroy(h2->streams);
    }
    nghttp2_session_del(h2->session);
    free(h2);
    c->proto_data = NULL;
}

static void
http2_on_goaway_timer(am_timer_t *t)
{
    http2_t *h2 = t->data;

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
    http2_t *h2 = c->proto_data;

    /* RFC 9113 §6.8: a GOAWAY with the maximum id first, the real one a
     * round trip later, so requests in flight are not refused. The round
     * trip is measured with a PING; the timer is the fallback for a peer
     * that does not answer it. */
    nghttp2_submit_shutdown_notice(h2->session);
    nghttp2_submit_ping(h2->session, NGHTTP2_FLAG_NONE, h2_drain_ping);
    am_timer_add(&h2->goaway_timer, H2_GOAWAY_MS);
    http2_flush(h2);
}

static void
http2_on_idle(am_timer_t *t)
{
    http2_t *h2 = t->data;

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

static http2_t *
http2_create(am_conn_t *c)
{
    nghttp2_settings_entry iv[6];
    http2_t *h2 = am_calloc(1, sizeof(*h2));
    int rv;

    h2->c = c;
    h2->peer_window = 65535;
    h2->goaway_timer.handler = http2_on_goaway_timer;
    h2->goaway_timer.data = h2;
    if (nghttp2_session_server_new2(&h2->session, h2_callbacks, h2,
                                    h2_option) != 0) {
        free(h2);
        return NULL;
    }
    iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    iv[0].value = (uint32_t)conf->h2_max_concurrent_streams;
    iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    iv[1].value = (uint32_t)conf->h2_initial_window_size;
    iv[2].settings_id = NGHTTP2_SETTINGS_MAX_FRAME_SIZE;
    iv[2].value = (uint32_t)conf->h2_max_frame_size;
    iv[3].settings_id = NGHTTP2_SETTINGS_HEADER_TABLE_SIZE;
    iv[3].value = (uint32_t)conf->h2_header_table_size;
    iv[4].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
    iv[4].value = (uint32_t)conf->h2_max_header_list_size;
    iv[5].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
    iv[5].value = 0;
    /* SETTINGS_NO_RFC7540_PRIORITIES is not sent: without the priority
     * tree nghttp2 1.52 keeps no closed streams, and DATA or HEADERS on a
     * closed stream would be ignored instead of answered STREAM_CLOSED
     * (RFC 9113 §5.1). It has no RFC 9218 scheduler to gain either. */
    rv = nghttp2_submit_settings(h2->session, NGHTTP2_FLAG_NONE, iv, 6);
    if (rv == 0 && conf->h2_connection_window > 65535) {
        rv = nghttp2_session_set_local_window_size(
            h2->session, NGHTTP2_FLAG_NONE, 0,
            (int32_t)conf->h2_connection_window);
    }
    if (rv != 0) {
        am_log(AM_LOG_ALERT, 0, "*%llu nghttp2 settings: %s",
               (unsigned long long)c->id, nghttp2_strerror(rv));
        nghttp2_session_del(h2->session);
        free(h2);
        return NULL;
    }
    return h2;
}

static void
http2_install(am_conn_t *c, http2_t *h2)
{
    c->proto = &http2_proto;
    c->proto_data = h2;
    c->post.handler = http2_on_post;
    c->post.data = h2;
    c->post.queued = 0;
    c->read_timer.handler = http2_on_idle;
    c->read_timer.data = h2;
    /* nghttp2 bounds what it buffers: read all the socket gives. */
    c->rbuf_limit = 64 * 1024;
    am_timer_add(&c->read_timer, conf->timeout_h2_idle);
    am_conn_set_reading(c, 1);
}

int
am_http2_attach(am_conn_t *c)
{
    http2_t *h2 = http2_create(c);

    if (h2 == NULL) {
        /* The caller has let go of its protocol state already. */
        c->proto = NULL;
        c->proto_data = NULL;
        am_conn_close(c);
        return AM_ERROR;
    }
    http2_install(c, h2);
    if (am_worker_stopping) {
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
    http2_t *h2 = http2_create(c);
    h2_stream_t *s;
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
    s = h2_stream_create(h2, 1);
    s->body_done = 1; /* requests with a body are not upgraded */
    h = *head;
    h.http_version = "2";
    s->is_head = h.method_len == 4 && memcmp(h.method, "HEAD", 4) == 0;
    rv = nghttp2_session_upgrade2(h2->session, settings, len, s->is_head, s);
    if (rv != 0) {
        am_log(AM_LOG_INFO, 0, "*%llu h2c upgrade: %s",
               (unsigned long long)c->id, nghttp2_strerror(rv));
        h2_stream_destroy(s);
        am_conn_close(c);
        return AM_ERROR;
    }
    /* Fields for the access log. */
    s->fields = am_calloc(2, sizeof(*s->fields));
    s->fields_cap = 2;
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
    s->req = am_asgi_request_create(&h, &h2_ops, s, c->id, 1);
    if (s->req == NULL) {
        h2_submit_error(s, 500);
    }
    /* The caller feeds what follows the request (the client preface). */
    http2_flush(h2);
    return AM_OK;
}

int
am_http2_init(am_conf_t *c)
{
    conf = c;
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

    /* The app re-opens windows as it reads (nghttp2_session_consume). */
    nghttp2_option_set_no_auto_window_update(h2_option, 1);
    nghttp2_option_set_max_outbound_ack(h2_option, 1000);
    nghttp2_option_set_max_settings(h2_option, 32);
    nghttp2_option_set_max_send_header_block_length(h2_option, 256 * 1024);
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
