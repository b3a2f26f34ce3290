/* worker/http1_request.c: the request side of HTTP/1.1 (RFC 9112):
 * http-parser's callbacks gather the head into one buffer (bounded by the
 * limits), check it once complete (version, field names, Host,
 * Transfer-Encoding, the body limit), build the protocol-neutral head and
 * start the app, the metrics endpoint or the h2c switch; the body is then
 * streamed to the bridge as it arrives.
 *
 * Parser callbacks run inside http_parser_execute(). A non-zero return
 * stops the parser with an HPE_CB_* error; error_status says which
 * response that becomes (http1.c answers it).
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <http_parser.h>

#include "common/forwarded.h"
#include "common/log.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/h2c.h"
#include "worker/http.h"
#include "worker/http1_conn.h"
#include "worker/metrics.h"
#include "worker/request.h"
#include "worker/ws_h1.h"

static int http1_on_message_begin(http_parser *p);
static int http1_on_url(http_parser *p, const char *at, size_t len);
static int http1_on_header_field(http_parser *p, const char *at, size_t len);
static int http1_on_header_value(http_parser *p, const char *at, size_t len);
static int http1_on_headers_complete(http_parser *p);
static int http1_on_body(http_parser *p, const char *at, size_t len);
static int http1_on_message_complete(http_parser *p);

const http_parser_settings am_http1_request_settings = {
    .on_message_begin = http1_on_message_begin,
    .on_url = http1_on_url,
    .on_header_field = http1_on_header_field,
    .on_header_value = http1_on_header_value,
    .on_headers_complete = http1_on_headers_complete,
    .on_body = http1_on_body,
    .on_message_complete = http1_on_message_complete,
};

void
am_http1_set_state(am_http1_t *h, am_http1_state_t state)
{
    int ok;

    switch (state) {
    case AM_HTTP1_IDLE:
        ok = h->state == AM_HTTP1_DONE || h->state == AM_HTTP1_IDLE;
        break;
    case AM_HTTP1_HEAD:
        ok = h->state == AM_HTTP1_IDLE;
        break;
    case AM_HTTP1_BODY:
        ok = h->state == AM_HTTP1_HEAD;
        break;
    case AM_HTTP1_DONE:
    case AM_HTTP1_UPGRADED:
        ok = h->state == AM_HTTP1_BODY;
        break;
    default:
        ok = 0;
    }
    if (!ok) {
        am_connlog(AM_LOG_ALERT, 0, h->c->id, 0,
                   "http1: bad request state %d -> %d", (int)h->state,
                   (int)state);
        abort();
    }
    h->state = state;
}

static int
http1_on_message_begin(http_parser *p)
{
    am_http1_t *h = p->data;

    am_http1_set_state(h, AM_HTTP1_HEAD);
    h->start_msec = am_now_msec();
    h->start_time = time(NULL);
    return 0;
}

static int
http1_on_url(http_parser *p, const char *at, size_t len)
{
    am_http1_t *h = p->data;

    h->url_len += len;
    if (h->url_len > am_ctx.conf->limit_request_line) {
        h->error_status = 414;
        return -1;
    }
    am_buf_append(&h->head, at, len);
    return 0;
}

static int
http1_on_header_field(http_parser *p, const char *at, size_t len)
{
    am_http1_t *h = p->data;
    am_field_t *f;
    char *dst;

    h->header_bytes += len;
    if (h->header_bytes > am_ctx.conf->limit_header_size) {
        h->error_status = 431;
        return -1;
    }
    f = h->nfields ? &h->fields[h->nfields - 1] : NULL;
    if (f == NULL || f->value_off != 0 || f->value_len != 0 ||
        f->name_off + f->name_len != h->head.len) {
        if (h->nfields >= am_ctx.conf->limit_header_count) {
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
    am_http1_t *h = p->data;
    am_field_t *f = &h->fields[h->nfields - 1];

    h->header_bytes += len;
    if (h->header_bytes > am_ctx.conf->limit_header_size) {
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
    while (am_http_next_element(v, len, &i, &start, &end)) {
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

/* What the header fields of one request say, scanned once. */
typedef struct http1_scan_s {
    size_t nhost;
    http1_te_t te;
    int te_trailers; /* "TE: trailers" */
    am_h2c_offer_t h2c;
} http1_scan_t;

/* Fill headers from the parsed fields (trailing whitespace cut) and scan
 * them by token. Returns 0 or the status that refuses the request. */
static int
http1_head_scan(am_http1_t *h, am_header_t *headers, http1_scan_t *s)
{
    const char *base = h->head.data;
    size_t i;

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
        if (!am_http_is_token(base + f->name_off, f->name_len) &&
            f->name_len > 0) {
            return 400;
        }
        headers[i].name = base + f->name_off;
        headers[i].name_len = f->name_len;
        headers[i].value = f->value_len ? v : "";
        headers[i].value_len = vlen;

        switch (am_http_token_find(headers[i].name, f->name_len)) {
        case AM_HTTP_TOKEN_HOST:
            s->nhost++;
            if (!http1_host_valid(v, vlen)) {
                return 400; /* RFC 9112 §3.2 */
            }
            break;
        case AM_HTTP_TOKEN_TRANSFER_ENCODING:
            http1_te_scan(v, vlen, &s->te);
            break;
        case AM_HTTP_TOKEN_EXPECT:
            if (vlen == 12 && strncasecmp(v, "100-continue", 12) == 0) {
                h->expect_continue = !h->http10;
            }
            break;
        case AM_HTTP_TOKEN_TE:
            s->te_trailers = am_http_value_has_token(v, vlen, "trailers");
            break;
        case AM_HTTP_TOKEN_UPGRADE:
            am_h2c_offer_field(&s->h2c, AM_HTTP_TOKEN_UPGRADE, v, vlen);
            break;
        case AM_HTTP_TOKEN_CONNECTION:
            am_h2c_offer_field(&s->h2c, AM_HTTP_TOKEN_CONNECTION, v, vlen);
            break;
        case AM_HTTP_TOKEN_HTTP2_SETTINGS:
            am_h2c_offer_field(&s->h2c, AM_HTTP_TOKEN_HTTP2_SETTINGS, v, vlen);
            break;
        default:
            break;
        }
    }
    return 0;
}

/* Message framing and limits known from the head. Returns 0 or the status
 * that refuses the request. */
static int
http1_head_check(am_http1_t *h, http_parser *p, const http1_scan_t *s)
{
    int status = http1_te_status(&s->te);

    if (status != 0) {
        return status;
    }
    /* RFC 9112 §3.2: a 1.1 request without Host, or with several, is
     * answered 400. */
    if ((!h->http10 && s->nhost == 0) || s->nhost > 1) {
        return 400;
    }
    /* Known to be too large before reading a byte of it. */
    if (am_ctx.conf->limit_body_size && (p->flags & F_CONTENTLENGTH) &&
        p->content_length > am_ctx.conf->limit_body_size) {
        return 413;
    }
    return 0;
}

/* RFC 9112 §3.2: the request target as ASGI's path and query. */
static void
http1_head_target(am_http1_t *h, http_parser *p, am_asgi_head_t *head)
{
    const char *url = h->head.data;
    struct http_parser_url u;

    if (h->url_len > 0 && url[0] == '/') {
        const char *q = memchr(url, '?', h->url_len);
        const char *hash;

        head->path = url;
        head->path_len = q ? (size_t)(q - url) : h->url_len;
        if (q) {
            head->query = q + 1;
            head->query_len = h->url_len - head->path_len - 1;
            hash = memchr(head->query, '#', head->query_len);
            if (hash) {
                head->query_len = (size_t)(hash - head->query);
            }
        } else if ((hash = memchr(url, '#', h->url_len)) != NULL) {
            head->path_len = (size_t)(hash - url);
        }
    } else if (h->url_len > 0 && url[0] != '*' &&
               http_parser_parse_url(url, h->url_len, p->method == HTTP_CONNECT,
                                     &u) == 0 &&
               (u.field_set & (1 << UF_PATH))) {
        /* RFC 9112 §3.2.2: absolute-form. */
        head->path = url + u.field_data[UF_PATH].off;
        head->path_len = u.field_data[UF_PATH].len;
        if (u.field_set & (1 << UF_QUERY)) {
            head->query = url + u.field_data[UF_QUERY].off;
            head->query_len = u.field_data[UF_QUERY].len;
        }
    } else {
        /* authority-form (CONNECT) and asterisk-form (OPTIONS *). */
        head->path = url;
        head->path_len = h->url_len;
    }
    if (head->query == NULL) {
        head->query = "";
    }
}

/* The protocol-neutral head: method, target, version, scheme, addresses,
 * what trusted proxies say (fwd holds their strings), body facts. */
static void
http1_head_fill(am_http1_t *h, http_parser *p, am_header_t *headers,
                const http1_scan_t *s, am_asgi_head_t *head,
                am_forwarded_out_t *fwd)
{
    am_conn_t *c = h->c;

    memset(head, 0, sizeof(*head));
    head->method = http_method_str(p->method);
    head->method_len = strlen(head->method);
    http1_head_target(h, p, head);
    head->http_version = h->http10 ? "1.0" : "1.1";
    head->scheme = (c->tls != NULL || c->proxy_ssl) ? "https" : "http";
    head->tls = c->tls;
    head->headers = headers;
    head->nheaders = h->nfields;
    head->client_host = c->listen->family == AF_UNIX ? NULL : c->client_host;
    head->client_port = c->client_port;
    if (c->listen->family == AF_UNIX) {
        head->server_host = c->listen->path;
        head->server_port = -1;
    } else {
        head->server_host = c->server_host;
        head->server_port = c->server_port;
    }
    am_request_apply_forwarded(c, head, fwd);
    head->has_body = (p->flags & F_CHUNKED) ||
                     ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
    head->trailers_allowed = s->te_trailers && !h->http10;
    h->te_trailers = head->trailers_allowed;
    if (!head->has_body) {
        h->expect_continue = 0;
    }
}

/* RFC 7540 §3.2: h2c by Upgrade, on cleartext HTTP/1.1 only. A request
 * with a body is served as HTTP/1.1 instead: its body would otherwise have
 * to be read before the switch. Returns 1 when HTTP/2 took over. */
static int
http1_head_upgrade(am_http1_t *h, const http1_scan_t *s, am_asgi_head_t *head,
                   am_header_t *headers)
{
    am_conn_t *c = h->c;
    uint8_t payload[512];
    ssize_t len;

    if (head->has_body || h->http10 || !c->listen->http2 || c->tls != NULL) {
        return 0;
    }
    len = am_h2c_offer_settings(&s->h2c, payload, sizeof(payload));
    if (len < 0) {
        return 0;
    }
    am_http1_set_state(h, AM_HTTP1_UPGRADED);
    am_h2c_switch(c, payload, (size_t)len, head, headers);
    return 1;
}

/* RFC 6455 §4.2.1: a GET asking for a WebSocket goes to worker/ws_h1.c,
 * which takes the connection over. Returns 1 when it did. */
static int
http1_head_websocket(am_http1_t *h, http_parser *p, const am_asgi_head_t *head)
{
    if (p->method != HTTP_GET || h->http10 || head->has_body ||
        !am_ws_h1_is_upgrade(head)) {
        return 0;
    }
    am_http1_set_state(h, AM_HTTP1_UPGRADED);
    am_ws_h1_start(h->c, head);
    return 1;
}

/* Hand the request to the bridge and arm the body deadline. */
static int
http1_head_start(am_http1_t *h, const am_asgi_head_t *head)
{
    am_conn_t *c = h->c;

    h->req = am_asgi_request_create(head, &am_http1_response_ops, h, c->id, 0);
    if (h->req == NULL) {
        return 500;
    }
    h->requests++;
    if (head->has_body) {
        am_timer_add(&c->read_timer, am_ctx.conf->timeout_body_read);
    } else {
        am_timer_del(&c->read_timer);
    }
    return 0;
}

/* The head is complete: check it, build the request and start the app
 * (or the metrics endpoint, or the h2c switch). A refusal sets
 * error_status and stops the parser. */
static int
http1_on_headers_complete(http_parser *p)
{
    am_http1_t *h = p->data;
    am_conn_t *c = h->c;
    am_header_t stack_headers[64], *headers;
    am_asgi_head_t head;
    am_forwarded_out_t fwd;
    http1_scan_t scan;
    int status, rc = -1;

    am_http1_set_state(h, AM_HTTP1_BODY);

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
    memset(&scan, 0, sizeof(scan));
    status = http1_head_scan(h, headers, &scan);
    if (status == 0) {
        status = http1_head_check(h, p, &scan);
    }
    if (status != 0) {
        h->error_status = status;
        goto done;
    }

    if (c->listen->metrics) {
        status =
            am_metrics_respond(c, h->head.data, h->url_len,
                               p->method == HTTP_GET, p->method == HTTP_HEAD);
        if (status != 0) {
            am_http1_error(h, status);
        }
        rc = 0;
        goto done;
    }

    http1_head_fill(h, p, headers, &scan, &head, &fwd);
    if (http1_head_websocket(h, p, &head) ||
        http1_head_upgrade(h, &scan, &head, headers)) {
        rc = 0;
        goto done;
    }
    status = http1_head_start(h, &head);
    if (status != 0) {
        h->error_status = status;
        goto done;
    }
    rc = 0;

done:
    if (headers != stack_headers) {
        free(headers);
    }
    return rc;
}

static int
http1_on_body(http_parser *p, const char *at, size_t len)
{
    am_http1_t *h = p->data;

    h->body_received += len;
    if (am_ctx.conf->limit_body_size &&
        h->body_received > am_ctx.conf->limit_body_size) {
        h->error_status = 413;
        return -1;
    }
    am_timer_add(&h->c->read_timer, am_ctx.conf->timeout_body_read);
    if (h->req && !h->discarding) {
        am_asgi_request_body(h->req, at, len, 1);
    }
    return 0;
}

static int
http1_on_message_complete(http_parser *p)
{
    am_http1_t *h = p->data;

    if (h->state == AM_HTTP1_UPGRADED) {
        http_parser_pause(p, 1);
        return 0;
    }
    am_http1_set_state(h, AM_HTTP1_DONE);
    am_timer_del(&h->c->read_timer);
    if (h->req && !h->discarding) {
        am_asgi_request_body(h->req, NULL, 0, 0);
    }
    /* One message at a time: the rest waits until this response is done. */
    http_parser_pause(p, 1);
    return 0;
}
