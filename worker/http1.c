/* worker/http1.c: HTTP/1.1 (RFC 9112) over a connection. http-parser splits
 * the request; the head is copied into one buffer (bounded by the limits),
 * handed to the ASGI bridge at on_headers_complete, and the body is streamed
 * to it as it arrives. Reading pauses while the bridge holds a full body
 * buffer, and parsing pauses at the end of each message until its response
 * is complete, so pipelined requests are answered in order with bounded
 * memory. The response head is held until the first body event so that a
 * single-shot body gets a Content-Length instead of chunked framing.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "common/forwarded.h"
#include "common/log.h"
#include "common/stats.h"
#include "worker/asgi.h"
#include "worker/ctx.h"
#include "worker/http.h"
#include "worker/http1.h"
#include "worker/http2.h"
#include "worker/request.h"

typedef struct http1_s {
    am_conn_t *c;
    http_parser parser;

    am_buf_t head; /* the request target, then names and values */
    size_t url_len;
    am_field_t *fields;
    size_t nfields, fields_cap;
    size_t header_bytes;
    int error_status; /* set by a callback that refuses the request */

    am_asgi_request_t *req;
    size_t body_received;
    am_msec_t start_msec;
    time_t start_time;
    uint32_t requests; /* served on this connection */

    unsigned in_request : 1;   /* a message began */
    unsigned head_done : 1;    /* on_headers_complete ran */
    unsigned message_done : 1; /* on_message_complete ran */
    unsigned keepalive : 1;    /* the request allows keep-alive */
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
    unsigned upgraded : 1;      /* h2c: the connection is HTTP/2 now */

    /* response */
    int status;
    unsigned resp_started : 1;
    unsigned resp_head_sent : 1;
    unsigned resp_chunked : 1;
    unsigned resp_no_body : 1;
    unsigned resp_done : 1;
    unsigned resp_close : 1;
    unsigned resp_has_length : 1;
    unsigned resp_has_server : 1;
    unsigned resp_has_date : 1;
    unsigned resp_has_te : 1;
    unsigned resp_trailers : 1;      /* the app announced trailers */
    unsigned resp_trailers_sent : 1; /* the last chunk is written */
    uint64_t resp_length;
    uint64_t resp_sent; /* body bytes */
    am_buf_t resp_head;
} http1_t;

static int http1_on_message_begin(http_parser *p);
static int http1_on_url(http_parser *p, const char *at, size_t len);
static int http1_on_header_field(http_parser *p, const char *at, size_t len);
static int http1_on_header_value(http_parser *p, const char *at, size_t len);
static int http1_on_headers_complete(http_parser *p);
static int http1_on_body(http_parser *p, const char *at, size_t len);
static int http1_on_message_complete(http_parser *p);

static void http1_on_read(am_conn_t *c, int eof);
static void http1_on_drain(am_conn_t *c);
static void http1_on_close(am_conn_t *c);
static void http1_on_shutdown(am_conn_t *c);
static void http1_on_post(am_post_t *p);
static void http1_on_read_timeout(am_timer_t *t);
static void http1_process(http1_t *h);
static void http1_error(http1_t *h, int status);
static void http1_free(http1_t *h);

static int http1_resp_start(void *stream, int status,
                            const am_header_t *headers, size_t n, int trailers,
                            const char **err);
static int http1_resp_body(void *stream, const char *data, size_t len,
                           int more);
static int http1_resp_trailers(void *stream, const am_header_t *headers,
                               size_t n, int more, const char **err);
static void http1_resp_consumed(void *stream, size_t n);
static void http1_resp_finish(void *stream, int complete);

static const http_parser_settings http1_settings = {
    .on_message_begin = http1_on_message_begin,
    .on_url = http1_on_url,
    .on_header_field = http1_on_header_field,
    .on_header_value = http1_on_header_value,
    .on_headers_complete = http1_on_headers_complete,
    .on_body = http1_on_body,
    .on_message_complete = http1_on_message_complete,
};

static const am_proto_t http1_proto = {
    .name = "http/1.1",
    .on_read = http1_on_read,
    .on_drain = http1_on_drain,
    .on_close = http1_on_close,
    .on_shutdown = http1_on_shutdown,
};

static const am_asgi_ops_t http1_ops = {
    .start = http1_resp_start,
    .body = http1_resp_body,
    .trailers = http1_resp_trailers,
    .consumed = http1_resp_consumed,
    .finish = http1_resp_finish,
};

static am_conf_t *conf;

void
am_http1_init(am_conf_t *c)
{
    conf = c;
    /* Our own limits answer first with 414/431; the parser's is a backstop
     * a little above them. */
    http_parser_set_max_header_size((uint32_t)am_min(
        conf->limit_request_line + conf->limit_header_size + 4096,
        (size_t)UINT32_MAX / 2));
}

void
am_http1_attach(am_conn_t *c)
{
    http1_t *h = am_calloc(1, sizeof(*h));

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
    am_timer_add(&c->read_timer, conf->timeout_header_read);
    am_conn_set_reading(c, 1);
}

/* Reset per-request state once a response is complete. */
static void
http1_reset(http1_t *h)
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
    h->in_request = h->head_done = h->message_done = 0;
    h->expect_continue = h->continue_sent = 0;
    h->discarding = h->body_paused = h->head_deadline = 0;
    h->is_head = h->http10 = 0;
    h->status = 0;
    h->resp_started = h->resp_head_sent = h->resp_chunked = 0;
    h->resp_no_body = h->resp_done = h->resp_close = 0;
    h->resp_has_length = h->resp_has_server = h->resp_has_date = 0;
    h->resp_has_te = h->resp_trailers = h->resp_trailers_sent = 0;
    h->te_trailers = 0;
    h->resp_length = h->resp_sent = 0;
    h->resp_head.pos = h->resp_head.len = 0;
}

/* Parser callbacks: each runs inside http_parser_execute(). A non-zero
 * return stops the parser with an HPE_CB_* error; error_status says which
 * response that becomes. */

static int
http1_on_message_begin(http_parser *p)
{
    http1_t *h = p->data;

    h->in_request = 1;
    h->start_msec = am_now_msec();
    h->start_time = time(NULL);
    return 0;
}

static int
http1_on_url(http_parser *p, const char *at, size_t len)
{
    http1_t *h = p->data;

    h->url_len += len;
    if (h->url_len > conf->limit_request_line) {
        h->error_status = 414;
        return -1;
    }
    am_buf_append(&h->head, at, len);
    return 0;
}

static int
http1_on_header_field(http_parser *p, const char *at, size_t len)
{
    http1_t *h = p->data;
    am_field_t *f;
    char *dst;

    h->header_bytes += len;
    if (h->header_bytes > conf->limit_header_size) {
        h->error_status = 431;
        return -1;
    }
    f = h->nfields ? &h->fields[h->nfields - 1] : NULL;
    if (f == NULL || f->value_off != 0 || f->value_len != 0 ||
        f->name_off + f->name_len != h->head.len) {
        if (h->nfields >= conf->limit_header_count) {
            h->error_status = 431;
            return -1;
        }
        if (h->nfields == h->fields_cap) {
            h->fields_cap = h->fields_cap ? h->fields_cap * 2 : 16;
            h->fields =
                am_realloc(h->fields, h->fields_cap * sizeof(h->fields[0]));
        }
        f = &h->fields[h->nfields++];
        f->name_off = (uint32_t)h->head.len;
        f->name_len = 0;
        f->value_off = 0;
        f->value_len = 0;
    }
    am_buf_reserve(&h->head, len);
    dst = h->head.data + h->head.len;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)at[i];

        dst[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch | 0x20) : (char)ch;
    }
    h->head.len += len;
    f->name_len += (uint32_t)len;
    return 0;
}

static int
http1_on_header_value(http_parser *p, const char *at, size_t len)
{
    http1_t *h = p->data;
    am_field_t *f = &h->fields[h->nfields - 1];

    h->header_bytes += len;
    if (h->header_bytes > conf->limit_header_size) {
        h->error_status = 431;
        return -1;
    }
    if (f->value_off == 0 && f->value_len == 0) {
        f->value_off = (uint32_t)h->head.len;
    }
    am_buf_append(&h->head, at, len);
    f->value_len += (uint32_t)len;
    return 0;
}

/* The next element of a comma-separated field value (RFC 9110 §5.6.1),
 * without surrounding whitespace: *start and *end, or 0 at the end. */
static int
http1_next_element(const char *v, size_t len, size_t *i, size_t *start,
                   size_t *end)
{
    while (*i < len) {
        while (*i < len && (v[*i] == ' ' || v[*i] == '\t' || v[*i] == ',')) {
            (*i)++;
        }
        *start = *i;
        while (*i < len && v[*i] != ',') {
            (*i)++;
        }
        *end = *i;
        while (*end > *start && (v[*end - 1] == ' ' || v[*end - 1] == '\t')) {
            (*end)--;
        }
        if (*end > *start) {
            return 1;
        }
    }
    return 0;
}

static int
http1_value_has_token(const char *v, size_t len, const char *token)
{
    size_t tlen = strlen(token), i = 0, start, end;

    while (http1_next_element(v, len, &i, &start, &end)) {
        if (end - start == tlen && strncasecmp(v + start, token, tlen) == 0) {
            return 1;
        }
    }
    return 0;
}

/* RFC 9112 §3.2 / RFC 3986 §3.2.2: uri-host [ ":" port ]. */
static int
http1_host_valid(const char *v, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~!$&'()*+,;=%:[]", ch)) {
            if (ch == '\0') {
                return 0;
            }
            continue;
        }
        return 0;
    }
    return 1;
}

/* The codings of one Transfer-Encoding line, added to *te: how many
 * "chunked", whether the last coding seen is chunked, whether an unknown
 * coding came. */
typedef struct http1_te_s {
    size_t chunked;
    int last_chunked;
    int unknown;
    int present;
} http1_te_t;

static void
http1_te_scan(const char *v, size_t len, http1_te_t *te)
{
    size_t i = 0, start, end;

    te->present = 1;
    while (http1_next_element(v, len, &i, &start, &end)) {
        if (end - start == 7 && strncasecmp(v + start, "chunked", 7) == 0) {
            te->chunked++;
            te->last_chunked = 1;
        } else {
            te->unknown = 1;
            te->last_chunked = 0;
        }
    }
}

/* RFC 9112 §6.1, §6.3: chunked must be the final coding, once (400); it
 * is the only coding we decode, so any other is 501. */
static int
http1_te_status(const http1_te_t *te)
{
    if (!te->present) {
        return 0;
    }
    if (!te->last_chunked || te->chunked != 1) {
        return 400;
    }
    return te->unknown ? 501 : 0;
}

/* RFC 4648 §5 base64url without padding (HTTP2-Settings, RFC 7540
 * §3.2.1). Returns the decoded length or -1. */
static ssize_t
http1_base64url(const char *in, size_t len, uint8_t *out, size_t size)
{
    uint32_t acc = 0;
    size_t i, n = 0;
    int bits = 0, v;

    while (len > 0 && in[len - 1] == '=') {
        len--;
    }
    for (i = 0; i < len; i++) {
        char ch = in[i];

        if (ch >= 'A' && ch <= 'Z') {
            v = ch - 'A';
        } else if (ch >= 'a' && ch <= 'z') {
            v = ch - 'a' + 26;
        } else if (ch >= '0' && ch <= '9') {
            v = ch - '0' + 52;
        } else if (ch == '-' || ch == '+') {
            v = 62;
        } else if (ch == '_' || ch == '/') {
            v = 63;
        } else {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == size) {
                return -1;
            }
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (ssize_t)n;
}

/* The SETTINGS entries HTTP/2 accepts in one frame (http2.c's option). */
#define H1_H2C_MAX_SETTINGS 32

/* RFC 9113 §6.5.2: values a SETTINGS frame may not carry. */
static int
http1_h2_settings_valid(const uint8_t *p, size_t len)
{
    size_t i;

    if (len / 6 > H1_H2C_MAX_SETTINGS) {
        return 0; /* more than nghttp2 accepts: serve HTTP/1.1 instead */
    }
    for (i = 0; i + 6 <= len; i += 6) {
        uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
        uint32_t v = (uint32_t)p[i + 2] << 24 | (uint32_t)p[i + 3] << 16 |
                     (uint32_t)p[i + 4] << 8 | p[i + 5];

        if ((id == 0x2 && v > 1) || (id == 0x4 && v > 0x7fffffffu) ||
            (id == 0x5 && (v < 16384 || v > 16777215))) {
            return 0;
        }
    }
    return 1;
}

static int
http1_is_hop_header(const am_header_t *hd)
{
    return am_http_token_is(am_http_token_find(hd->name, hd->name_len),
                            AM_HTTP_TOKEN_HOP_BY_HOP);
}

/* The metrics: listener (issue 5): the shared counters in Prometheus text
 * format, answered here in C; no app is involved. */
static void
http1_metrics(http1_t *h, http_parser *p)
{
    am_conn_t *c = h->c;
    const char *path = h->head.data, *want = conf->metrics_path;
    size_t plen = h->url_len, need, n;
    char head[256], *body;
    int status = 200, len;

    if (want == NULL) {
        want = "/metrics";
    }
    if (memchr(path, '?', plen)) {
        plen = (size_t)((const char *)memchr(path, '?', plen) - path);
    }
    if (plen != strlen(want) || memcmp(path, want, plen) != 0) {
        status = 404;
    } else if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
        status = 405;
    }
    if (status != 200 || am_stats_shared == NULL) {
        http1_error(h, status == 200 ? 503 : status);
        return;
    }
    need = am_stats_render(am_stats_shared, NULL, 0, am_stats_rss);
    body = am_alloc(need + 1);
    n = am_stats_render(am_stats_shared, body, need + 1, am_stats_rss);
    n = am_min(n, need);
    len = snprintf(head, sizeof(head),
                   "HTTP/1.1 200 OK\r\n"
                   "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                   "Content-Length: %zu\r\n"
                   "Connection: close\r\n"
                   "Date: %s\r\n\r\n",
                   n, am_http_date());
    am_conn_write(c, head, (size_t)len);
    if (p->method != HTTP_HEAD) {
        am_conn_write(c, body, n);
    }
    free(body);
    am_conn_close_after_flush(c);
}

static int
http1_on_headers_complete(http_parser *p)
{
    http1_t *h = p->data;
    am_conn_t *c = h->c;
    am_header_t stack_headers[64], *headers;
    am_asgi_head_t head;
    struct http_parser_url u;
    const char *url, *base = h->head.data;
    size_t nhost = 0, i;
    http1_te_t te = { 0 };
    int te_trailers = 0, h2c = 0, h2c_conn = 0, nsettings = 0;
    const char *settings = NULL;
    size_t settings_len = 0;
    am_forwarded_out_t fwd;

    h->head_done = 1;

    /* RFC 9112 §2.3: we implement HTTP/1.x only. */
    if (p->http_major != 1) {
        h->error_status = 505;
        return -1;
    }
    h->http10 = p->http_minor == 0;
    h->keepalive = http_should_keep_alive(p) ? 1 : 0;
    h->is_head = p->method == HTTP_HEAD;

    headers = h->nfields <= am_nitems(stack_headers)
                  ? stack_headers
                  : am_alloc(h->nfields * sizeof(*headers));
    for (i = 0; i < h->nfields; i++) {
        am_field_t *f = &h->fields[i];
        const char *v = base + f->value_off;
        size_t vlen = f->value_len;

        /* RFC 9110 §5.5: leading and trailing whitespace is not part of
         * the value (http-parser strips the leading part). */
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
            vlen--;
        }
        /* RFC 9110 §5.1: a field name is a token; http-parser lets some
         * bytes through that are not. */
        for (size_t j = 0; j < f->name_len; j++) {
            if (!am_http_tchar[(unsigned char)base[f->name_off + j]]) {
                h->error_status = 400;
                goto refuse;
            }
        }
        headers[i].name = base + f->name_off;
        headers[i].name_len = f->name_len;
        headers[i].value = f->value_len ? v : "";
        headers[i].value_len = vlen;

        if (f->name_len == 4 && memcmp(headers[i].name, "host", 4) == 0) {
            nhost++;
            if (!http1_host_valid(v, vlen)) {
                h->error_status = 400; /* RFC 9112 §3.2 */
                goto refuse;
            }
        } else if (f->name_len == 17 &&
                   memcmp(headers[i].name, "transfer-encoding", 17) == 0) {
            http1_te_scan(v, vlen, &te);
        } else if (f->name_len == 6 &&
                   memcmp(headers[i].name, "expect", 6) == 0) {
            if (vlen == 12 && strncasecmp(v, "100-continue", 12) == 0) {
                h->expect_continue = !h->http10;
            }
        } else if (f->name_len == 2 && memcmp(headers[i].name, "te", 2) == 0) {
            te_trailers = http1_value_has_token(v, vlen, "trailers");
        } else if (f->name_len == 7 &&
                   memcmp(headers[i].name, "upgrade", 7) == 0) {
            h2c = http1_value_has_token(v, vlen, "h2c");
        } else if (f->name_len == 10 &&
                   memcmp(headers[i].name, "connection", 10) == 0) {
            h2c_conn |=
                (http1_value_has_token(v, vlen, "upgrade") ? 1 : 0) |
                (http1_value_has_token(v, vlen, "http2-settings") ? 2 : 0);
        } else if (f->name_len == 14 &&
                   memcmp(headers[i].name, "http2-settings", 14) == 0) {
            settings = v;
            settings_len = vlen;
            nsettings++;
        }
    }

    if (http1_te_status(&te) != 0) {
        h->error_status = http1_te_status(&te);
        goto refuse;
    }

    /* RFC 9112 §3.2: a 1.1 request without Host, or with several, is
     * answered 400. */
    if ((!h->http10 && nhost == 0) || nhost > 1) {
        h->error_status = 400;
        goto refuse;
    }

    /* Known to be too large before reading a byte of it. */
    if (conf->limit_body_size && (p->flags & F_CONTENTLENGTH) &&
        p->content_length > conf->limit_body_size) {
        h->error_status = 413;
        goto refuse;
    }

    if (c->listen->metrics) {
        http1_metrics(h, p);
        goto refuse_ok;
    }

    memset(&head, 0, sizeof(head));
    head.method = http_method_str(p->method);
    head.method_len = strlen(head.method);
    url = base;
    if (h->url_len > 0 && url[0] == '/') {
        const char *q = memchr(url, '?', h->url_len);
        const char *hash;

        head.path = url;
        head.path_len = q ? (size_t)(q - url) : h->url_len;
        if (q) {
            head.query = q + 1;
            head.query_len = h->url_len - head.path_len - 1;
            hash = memchr(head.query, '#', head.query_len);
            if (hash) {
                head.query_len = (size_t)(hash - head.query);
            }
        } else if ((hash = memchr(url, '#', h->url_len)) != NULL) {
            head.path_len = (size_t)(hash - url);
        }
    } else if (h->url_len > 0 && url[0] != '*' &&
               http_parser_parse_url(url, h->url_len, p->method == HTTP_CONNECT,
                                     &u) == 0 &&
               (u.field_set & (1 << UF_PATH))) {
        /* RFC 9112 §3.2.2: absolute-form. */
        head.path = url + u.field_data[UF_PATH].off;
        head.path_len = u.field_data[UF_PATH].len;
        if (u.field_set & (1 << UF_QUERY)) {
            head.query = url + u.field_data[UF_QUERY].off;
            head.query_len = u.field_data[UF_QUERY].len;
        }
    } else {
        /* authority-form (CONNECT) and asterisk-form (OPTIONS *). */
        head.path = url;
        head.path_len = h->url_len;
    }
    if (head.query == NULL) {
        head.query = "";
    }
    head.http_version = h->http10 ? "1.0" : "1.1";
    head.scheme = (c->tls != NULL || c->proxy_ssl) ? "https" : "http";
    head.tls = c->tls;
    head.headers = headers;
    head.nheaders = h->nfields;
    head.client_host = c->listen->family == AF_UNIX ? NULL : c->client_host;
    head.client_port = c->client_port;
    if (c->listen->family == AF_UNIX) {
        head.server_host = c->listen->path;
        head.server_port = -1;
    } else {
        head.server_host = c->server_host;
        head.server_port = c->server_port;
    }
    am_request_apply_forwarded(c, &head, &fwd);
    head.has_body = (p->flags & F_CHUNKED) ||
                    ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
    head.trailers_allowed = te_trailers && !h->http10;
    h->te_trailers = head.trailers_allowed;
    if (!head.has_body) {
        h->expect_continue = 0;
    }

    /* RFC 7540 §3.2: h2c by Upgrade, on cleartext HTTP/1.1 only, with
     * exactly one HTTP2-Settings named in Connection. A request with a body
     * is served as HTTP/1.1 instead: its body would otherwise have to be
     * read before the switch. A bad HTTP2-Settings is no upgrade either. */
    if (h2c && h2c_conn == 3 && nsettings == 1 && !head.has_body &&
        !h->http10 && c->listen->http2 && c->tls == NULL) {
        uint8_t payload[512];
        ssize_t plen =
            http1_base64url(settings, settings_len, payload, sizeof(payload));

        if (plen >= 0 && plen % 6 == 0 &&
            http1_h2_settings_valid(payload, (size_t)plen)) {
            size_t k = 0;

            /* The h2 request carries no connection-specific fields. */
            for (i = 0; i < head.nheaders; i++) {
                if (!http1_is_hop_header(&headers[i])) {
                    headers[k++] = headers[i];
                }
            }
            head.nheaders = k;
            am_conn_write_str(c, "HTTP/1.1 101 Switching Protocols\r\n"
                                 "Connection: Upgrade\r\n"
                                 "Upgrade: h2c\r\n\r\n");
            h->upgraded = 1;
            am_http2_upgrade(c, payload, (size_t)plen, &head);
            if (headers != stack_headers) {
                free(headers);
            }
            return 0;
        }
    }

    h->req = am_asgi_request_create(&head, &http1_ops, h, c->id, 0);
    if (headers != stack_headers) {
        free(headers);
    }
    if (h->req == NULL) {
        h->error_status = 500;
        return -1;
    }
    h->requests++;
    if (head.has_body) {
        am_timer_add(&c->read_timer, conf->timeout_body_read);
    } else {
        am_timer_del(&c->read_timer);
    }
    return 0;

refuse:
    if (headers != stack_headers) {
        free(headers);
    }
    return -1;

refuse_ok:
    if (headers != stack_headers) {
        free(headers);
    }
    return 0;
}

static int
http1_on_body(http_parser *p, const char *at, size_t len)
{
    http1_t *h = p->data;

    h->body_received += len;
    if (conf->limit_body_size && h->body_received > conf->limit_body_size) {
        h->error_status = 413;
        return -1;
    }
    am_timer_add(&h->c->read_timer, conf->timeout_body_read);
    if (h->req && !h->discarding) {
        am_asgi_request_body(h->req, at, len, 1);
    }
    return 0;
}

static int
http1_on_message_complete(http_parser *p)
{
    http1_t *h = p->data;

    h->message_done = 1;
    if (h->upgraded) {
        http_parser_pause(p, 1);
        return 0;
    }
    am_timer_del(&h->c->read_timer);
    if (h->req && !h->discarding) {
        am_asgi_request_body(h->req, NULL, 0, 0);
    }
    /* One message at a time: the rest waits until this response is done. */
    http_parser_pause(p, 1);
    return 0;
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
http1_process(http1_t *h)
{
    am_conn_t *c = h->c;
    enum http_errno err;
    size_t n, len, firstlen = 0;
    char firstline[256];
    int first;

    while (!c->closed && !c->closing && am_buf_size(&c->rbuf) > 0) {
        if (h->message_done) {
            break; /* the response to the current message is pending */
        }
        if (!h->in_request && am_conn_pending(c) >= conf->limit_write_buffer) {
            /* A pipelining client that does not read its responses: the
             * next request waits until they are written (bounded memory). */
            h->out_paused = 1;
            break;
        }
        if (h->req && !h->discarding &&
            am_asgi_request_buffered(h->req) >= conf->limit_body_buffer) {
            h->body_paused = 1; /* the app resumes us as it reads */
            /* The client is not late while we do not read. */
            am_timer_del(&c->read_timer);
            break;
        }
        if (!h->head_done && !h->head_deadline) {
            /* The keep-alive wait ends: the head has its own deadline,
             * not renewed by each byte (slow-header clients). */
            h->head_deadline = 1;
            am_timer_add(&c->read_timer, conf->timeout_header_read);
        }
        len = am_buf_size(&c->rbuf);
        /* Bounded chunks so a body buffer limit is not overshot by much. */
        if (h->req && !h->discarding && len > conf->limit_body_buffer) {
            len = am_max(conf->limit_body_buffer, (size_t)4096);
        }
        first = h->requests == 0 && !h->in_request;
        if (first) {
            /* Kept to judge a broken first line (see below). */
            firstlen = am_min(len, sizeof(firstline));
            memcpy(firstline, c->rbuf.data + c->rbuf.pos, firstlen);
        }
        n = http_parser_execute(&h->parser, &http1_settings,
                                c->rbuf.data + c->rbuf.pos, len);
        err = HTTP_PARSER_ERRNO(&h->parser);
        am_buf_consume(&c->rbuf, n);
        if (h->upgraded) {
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
            if (h->message_done && h->discarding) {
                /* The discarded body is over: next request. */
                h->discarding = 0;
                http1_reset(h);
                if (!h->keepalive || am_ctx.stopping) {
                    am_conn_close_after_flush(c);
                    return;
                }
                am_timer_add(&c->read_timer, conf->timeout_keepalive);
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
                am_log(AM_LOG_INFO, 0, "*%llu invalid connection preface",
                       (unsigned long long)c->id);
                am_http2_goaway_raw(c, 1 /* PROTOCOL_ERROR */);
                am_conn_close_after_flush(c);
                return;
            }
            am_log(AM_LOG_INFO, 0, "*%llu bad request: %s (%d)",
                   (unsigned long long)c->id, http_errno_description(err),
                   status);
            http1_error(h, status);
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
    http1_t *h = c->proto_data;
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
    http1_t *h = p->data;

    if (!h->c->closed) {
        http1_process(h);
    }
}

static void
http1_on_drain(am_conn_t *c)
{
    http1_t *h = c->proto_data;

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
http1_free(http1_t *h)
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
    http1_t *h = c->proto_data;

    /* Responses from now on say "Connection: close". An idle keep-alive
     * connection is not cut at once: a request already on its way would
     * meet a reset. It gets a short grace, then the idle timeout closes
     * it (RFC 9112 §9.6: the client must be ready for that anyway). */
    h->keepalive = 0;
    if (!h->in_request && am_buf_size(&c->rbuf) == 0 && h->req == NULL) {
        am_timer_add(&c->read_timer,
                     am_min(conf->timeout_keepalive, (am_msec_t)1000));
    }
}

static void
http1_on_read_timeout(am_timer_t *t)
{
    http1_t *h = t->data;
    am_conn_t *c = h->c;

    if (!h->in_request && am_buf_size(&c->rbuf) == 0) {
        am_conn_close(c); /* idle */
        return;
    }
    am_log(AM_LOG_INFO, 0, "*%llu client timed out sending the request",
           (unsigned long long)c->id);
    if (h->req && h->resp_started) {
        am_conn_close(c);
        return;
    }
    if (h->req) {
        am_asgi_request_disconnect(h->req);
        am_asgi_request_release(h->req);
        h->req = NULL;
    }
    http1_error(h, 408);
}

static void
http1_access_log(http1_t *h, int status)
{
    am_request_done_t r = {
        .proto = AM_STATS_H1,
        .protocol = h->http10 ? "HTTP/1.0" : "HTTP/1.1",
        .status = status,
        .body_bytes = h->resp_sent,
        .start_time = h->start_time,
        .start_msec = h->start_msec,
        .method = h->head_done ? http_method_str(h->parser.method) : NULL,
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

/* A response of our own (400, 408, 413, 414, 431, 505, 500): always the
 * last on the connection. */
static void
http1_error(http1_t *h, int status)
{
    am_conn_t *c = h->c;
    const char *reason = am_http_reason(status);
    char buf[512];
    int n;

    if (h->req) {
        am_asgi_request_disconnect(h->req);
    }
    if (h->resp_started) {
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
                 conf->server_header ? "Server: asgimaster\r\n" : "", reason);
    am_conn_write(c, buf, (size_t)n);
    h->resp_sent = strlen(reason) + 1;
    http1_access_log(h, status);
    am_conn_close_after_flush(c);
}

/* Response side: called by the bridge with the app's events. */

static int
http1_check_field(const am_header_t *hd, const char **err)
{
    if (hd->name_len == 0) {
        *err = "empty header name";
        return AM_DECLINED;
    }
    if (!am_http_is_token(hd->name, hd->name_len)) {
        *err = "invalid character in a header name";
        return AM_DECLINED;
    }
    /* RFC 9110 §5.5: CR, LF and NUL are never allowed in a value. */
    if (!am_http_is_field_value(hd->value, hd->value_len)) {
        *err = "invalid character in a header value";
        return AM_DECLINED;
    }
    return AM_OK;
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
    http1_t *h = stream;
    am_buf_t *b = &h->resp_head;
    char line[128];
    size_t i;
    int len;

    if (h->c->closed || h->c->closing) {
        return AM_ERROR;
    }
    if (status < 200 || status > 999) {
        *err = "status must be an integer from 200 to 999";
        return AM_DECLINED;
    }
    for (i = 0; i < n; i++) {
        if (http1_check_field(&headers[i], err) != AM_OK) {
            return AM_DECLINED;
        }
    }

    h->status = status;
    h->resp_started = 1;
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
            h->resp_has_te = 1;
            continue;
        } else if (http1_name_is(hd, "connection", 10)) {
            if (http1_value_has_token(hd->value, hd->value_len, "close")) {
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
    h->resp_trailers = trailers ? 1 : 0;
    return AM_OK;
}

static void
http1_send_head(http1_t *h, size_t first_len, int more)
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
    if (conf->server_header && !h->resp_has_server) {
        am_buf_append_str(b, "server: asgimaster\r\n");
    }
    am_buf_append(b, "\r\n", 2);
    am_conn_write(h->c, b->data + b->pos, am_buf_size(b));
    b->pos = b->len = 0;
    h->resp_head_sent = 1;
}

static int
http1_resp_body(void *stream, const char *data, size_t len, int more)
{
    http1_t *h = stream;
    am_conn_t *c = h->c;
    char line[32];
    int n;

    if (c->closed || (c->closing && !h->resp_started)) {
        return AM_ERROR;
    }
    if (!h->resp_head_sent) {
        http1_send_head(h, len, more);
    }

    if (!h->is_head && !h->resp_no_body && len > 0) {
        if (h->resp_has_length && h->resp_sent + len > h->resp_length) {
            am_log(AM_LOG_ERROR, 0,
                   "*%llu the app sent more than its content-length of %llu",
                   (unsigned long long)c->id,
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
        h->resp_done = 1;
        if (h->resp_chunked && !h->is_head) {
            am_conn_write(c, "0\r\n\r\n", 5);
        }
        if (h->resp_has_length && !h->is_head && !h->resp_no_body &&
            h->resp_sent < h->resp_length) {
            am_log(AM_LOG_ERROR, 0,
                   "*%llu the app sent %llu bytes of its content-length of "
                   "%llu",
                   (unsigned long long)c->id, (unsigned long long)h->resp_sent,
                   (unsigned long long)h->resp_length);
            h->resp_done = 0; /* the framing is broken: abort */
        }
    }
    return am_conn_pending(c) > conf->limit_write_buffer ? AM_AGAIN : AM_OK;
}

/* RFC 9112 §7.1.2: trailer fields follow the last chunk. Without chunked
 * framing (a known length, HEAD, or a client that did not send
 * "TE: trailers") they are dropped, as RFC 9110 §6.5.1 allows. */
static int
http1_resp_trailers(void *stream, const am_header_t *headers, size_t n,
                    int more, const char **err)
{
    http1_t *h = stream;
    am_conn_t *c = h->c;
    size_t i;

    if (c->closed) {
        return AM_ERROR;
    }
    for (i = 0; i < n; i++) {
        if (http1_check_field(&headers[i], err) != AM_OK) {
            return AM_DECLINED;
        }
    }
    if (!h->resp_head_sent) {
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
        h->resp_done = 1;
    }
    return AM_OK;
}

static void
http1_resp_consumed(void *stream, size_t n)
{
    http1_t *h = stream;
    am_conn_t *c = h->c;

    if (c->closed) {
        return;
    }
    /* RFC 9110 §10.1.1: send 100 (Continue) once the app asks for the body,
     * unless a final response went first. */
    if (h->expect_continue && !h->continue_sent && !h->resp_started &&
        !h->message_done) {
        h->continue_sent = 1;
        am_conn_write_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    if (h->body_paused &&
        am_asgi_request_buffered(h->req) < conf->limit_body_buffer) {
        h->body_paused = 0;
        if (!h->message_done) {
            am_timer_add(&c->read_timer, conf->timeout_body_read);
        }
        am_post(&c->post);
    }
}

static void
http1_resp_finish(void *stream, int complete)
{
    http1_t *h = stream;
    am_conn_t *c = h->c;

    if (c->closed) {
        return;
    }
    if (!complete || !h->resp_done) {
        /* An aborted response: close so the client sees it incomplete. */
        http1_access_log(h, h->status ? h->status : 500);
        h->keepalive = 0;
        if (h->req) {
            am_asgi_request_release(h->req);
            h->req = NULL;
        }
        am_conn_close_after_flush(c);
        return;
    }

    http1_access_log(h, h->status);
    if (h->req) {
        am_asgi_request_release(h->req);
        h->req = NULL;
    }

    if (!h->keepalive || am_ctx.stopping) {
        am_conn_close_after_flush(c);
        return;
    }
    if (!h->message_done) {
        /* The app answered without reading the whole body. A client that
         * waits for 100 Continue will not send it: close. Otherwise read
         * and drop the rest, then serve the next request. */
        if (h->expect_continue && !h->continue_sent) {
            am_conn_close_after_flush(c);
            return;
        }
        h->discarding = 1;
        h->body_paused = 0;
        am_timer_add(&c->read_timer, conf->timeout_body_read);
        am_post(&c->post);
        am_conn_set_reading(c, 1);
        return;
    }

    http1_reset(h);
    am_timer_add(&c->read_timer, conf->timeout_keepalive);
    am_conn_set_reading(c, 1);
    if (am_buf_size(&c->rbuf) > 0) {
        am_post(&c->post); /* a pipelined request waits */
    }
}
