/* worker/http1_request.c: the request side of HTTP/1.1 (RFC 9112). The
 * strict parser (worker/h1_parser.c) reads the head from the connection's
 * input and enforces the grammar, the limits and the framing rules; here
 * the head is copied out of the input (names lowercased), checked for what
 * the parser leaves to the server (the body limit), turned into the
 * protocol-neutral head and handed to the app, the metrics endpoint or the
 * h2c switch. The body is then decoded step by step and streamed to the
 * bridge as it arrives.
 *
 * Each refusal is answered here (am_http1_error()) with the status the RFC
 * names and logged once with the parser's reason.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/forwarded.h"
#include "common/log.h"
#include "common/stats.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/h2c.h"
#include "worker/http.h"
#include "worker/http1_conn.h"
#include "worker/metrics.h"
#include "worker/request.h"
#include "worker/ws_h1.h"

/* RFC 9112 §3 leaves the method's length to the server (501 beyond). The
 * longest registered method (IANA, "BASELINE-CONTROL", "VERSION-CONTROL")
 * has 16 bytes. */
#define HTTP1_MAX_METHOD 32

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

void
am_http1_parser_limits(const am_conf_t *conf, am_h1_limits_t *limits)
{
    memset(limits, 0, sizeof(*limits));
    limits->max_method = HTTP1_MAX_METHOD;
    limits->max_target = conf->limit_request_line;        /* 414 */
    limits->max_fields = conf->limit_header_count;        /* 431 */
    limits->max_fields_size = conf->limit_header_size;    /* 431 */
    limits->max_chunk_ext = conf->limit_chunk_extensions; /* 400 */
    limits->max_chunk_ext_total = conf->limit_chunk_extensions;
    /* Trailers are discarded, but bounded as a head is. */
    limits->max_trailer_size = conf->limit_header_size;
    limits->max_trailer_fields = conf->limit_header_count;
}

/* Refuse the request: one log line, then our own response (and close). */
static int
http1_refuse(am_http1_t *h, int status, const char *reason)
{
    am_connlog(AM_LOG_INFO, 0, h->c->id, 0, "bad request: %s (%d)", reason,
               status);
    am_http1_error(h, status);
    return AM_ERROR;
}

/* Copy the head out of the input (buf, which is about to be consumed):
 * target, method, then each field with its name lowercased. */
static void
http1_head_copy(am_http1_t *h, const char *buf)
{
    const am_h1_request_t *r = &h->parser.req;
    am_buf_t *b = &h->head;
    size_t i, k, need = r->target_len + r->method_len;
    char *dst;

    for (i = 0; i < r->nfields; i++) {
        need += h->pfields[i].name_len + h->pfields[i].value_len;
    }
    b->pos = b->len = 0;
    am_buf_reserve(b, need);
    am_buf_append(b, buf + r->target_off, r->target_len);
    h->url_len = r->target_len;
    h->method_off = b->len;
    h->method_len = r->method_len;
    am_buf_append(b, buf + r->method_off, r->method_len);

    if (r->nfields > h->fields_cap) {
        h->fields_cap = r->nfields;
        h->fields = am_realloc(h->fields, h->fields_cap * sizeof(h->fields[0]));
    }
    for (i = 0; i < r->nfields; i++) {
        const am_h1_field_t *pf = &h->pfields[i];
        am_field_t *f = &h->fields[i];
        const char *name = buf + pf->name_off;

        f->name_off = (uint32_t)b->len;
        f->name_len = pf->name_len;
        dst = b->data + b->len;
        for (k = 0; k < pf->name_len; k++) {
            unsigned char ch = (unsigned char)name[k];

            dst[k] = (ch >= 'A' && ch <= 'Z') ? (char)(ch | 0x20) : (char)ch;
        }
        b->len += pf->name_len;
        f->value_off = (uint32_t)b->len;
        f->value_len = pf->value_len;
        am_buf_append(b, buf + pf->value_off, pf->value_len);
    }
    h->nfields = r->nfields;
}

/* RFC 9112 §3.2: the request target as ASGI's path and query. The parser
 * has checked its form and found its parts (offsets from the input; the
 * copy starts at the target). */
static void
http1_head_target(am_http1_t *h, am_asgi_head_t *head)
{
    const am_h1_request_t *r = &h->parser.req;
    const char *url = h->head.data;

    switch (r->form) {
    case AM_H1_FORM_ORIGIN:
    case AM_H1_FORM_ABSOLUTE:
        if (r->path_len > 0) {
            head->path = url + (r->path_off - r->target_off);
            head->path_len = r->path_len;
        } else {
            head->path = "/"; /* "http://a" (RFC 9112 §3.2.1) */
            head->path_len = 1;
        }
        if (r->has_query) {
            head->query = url + (r->query_off - r->target_off);
            head->query_len = r->query_len;
        }
        break;
    default:
        /* authority-form (CONNECT) and asterisk-form (OPTIONS *). */
        head->path = url;
        head->path_len = h->url_len;
        break;
    }
    if (head->query == NULL) {
        head->query = "";
    }
}

/* The header list for the bridge, and the h2c offer, from the copy. */
static void
http1_head_headers(am_http1_t *h, am_header_t *headers, am_h2c_offer_t *offer)
{
    const char *base = h->head.data;
    size_t i;

    memset(offer, 0, sizeof(*offer));
    for (i = 0; i < h->nfields; i++) {
        const am_field_t *f = &h->fields[i];

        headers[i].name = base + f->name_off;
        headers[i].name_len = f->name_len;
        headers[i].value = f->value_len ? base + f->value_off : "";
        headers[i].value_len = f->value_len;
        switch (h->pfields[i].token) {
        case AM_H1_HDR_UPGRADE:
            am_h2c_offer_field(offer, AM_HTTP_TOKEN_UPGRADE, headers[i].value,
                               f->value_len);
            break;
        case AM_H1_HDR_CONNECTION:
            am_h2c_offer_field(offer, AM_HTTP_TOKEN_CONNECTION,
                               headers[i].value, f->value_len);
            break;
        case AM_H1_HDR_HTTP2_SETTINGS:
            am_h2c_offer_field(offer, AM_HTTP_TOKEN_HTTP2_SETTINGS,
                               headers[i].value, f->value_len);
            break;
        default:
            break;
        }
    }
}

/* The protocol-neutral head: method, target, version, scheme, addresses,
 * what trusted proxies say (fwd holds their strings), body facts. */
static void
http1_head_fill(am_http1_t *h, am_header_t *headers, am_asgi_head_t *head,
                am_forwarded_out_t *fwd)
{
    const am_h1_request_t *r = &h->parser.req;
    am_conn_t *c = h->c;

    memset(head, 0, sizeof(*head));
    head->method = h->head.data + h->method_off;
    head->method_len = h->method_len;
    http1_head_target(h, head);
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
    head->has_body = r->body != AM_H1_BODY_NONE;
    head->trailers_allowed = (r->flags & AM_H1_TE_TRAILERS) && !h->http10;
    h->te_trailers = head->trailers_allowed;
    h->expect_continue =
        (r->flags & AM_H1_EXPECT_CONTINUE) && !h->http10 && head->has_body;
}

/* RFC 7540 §3.2: h2c by Upgrade, on cleartext HTTP/1.1 only. A request
 * with a body is served as HTTP/1.1 instead: its body would otherwise have
 * to be read before the switch. Returns 1 when HTTP/2 took over. */
static int
http1_head_upgrade(am_http1_t *h, const am_h2c_offer_t *offer,
                   am_asgi_head_t *head, am_header_t *headers)
{
    am_conn_t *c = h->c;
    uint8_t payload[512];
    ssize_t len;

    if (head->has_body || h->http10 || !c->listen->http2 || c->tls != NULL) {
        return 0;
    }
    len = am_h2c_offer_settings(offer, payload, sizeof(payload));
    if (len < 0) {
        return 0;
    }
    am_http1_set_state(h, AM_HTTP1_UPGRADED);
    am_h2c_switch(c, payload, (size_t)len, head, headers);
    return 1;
}

/* RFC 6455 §4.2.1: a GET whose Upgrade field names websocket goes to
 * worker/ws_h1.c, which checks the rest of the handshake (Connection:
 * upgrade, the key, the version; 400 otherwise) and takes the connection
 * over. Returns 1 when it did. */
static int
http1_head_websocket(am_http1_t *h, const am_asgi_head_t *head)
{
    const am_h1_request_t *r = &h->parser.req;

    if (h->method_len != 3 ||
        memcmp(h->head.data + h->method_off, "GET", 3) != 0 || h->http10 ||
        head->has_body || r->upgrade < 0 || !am_ws_h1_is_upgrade(head)) {
        return 0;
    }
    am_http1_set_state(h, AM_HTTP1_UPGRADED);
    am_ws_h1_start(h->c, head);
    return 1;
}

/* Hand the request to the bridge and arm the body deadlines. */
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
        /* A client that expects 100 Continue waits for it: the body's
         * clock starts when it is sent (http1_response.c). */
        if (!h->expect_continue) {
            am_http1_rate_start(h);
        }
    } else {
        am_timer_del(&c->read_timer);
    }
    return 0;
}

/* The whole message is read: the app learns that its body ended, and
 * parsing waits until the response is complete. */
static void
http1_message_done(am_http1_t *h)
{
    am_http1_set_state(h, AM_HTTP1_DONE);
    am_timer_del(&h->c->read_timer);
    am_http1_rate_stop(h);
    if (h->req && !h->discarding) {
        am_asgi_request_body(h->req, NULL, 0, 0);
    }
}

/* The head is parsed and copied: what the parser leaves to us, then the
 * request for the app (or the metrics endpoint, or the h2c switch). */
static int
http1_head_done(am_http1_t *h)
{
    const am_h1_request_t *r = &h->parser.req;
    am_conn_t *c = h->c;
    am_header_t stack_headers[64], *headers;
    am_h2c_offer_t offer;
    am_asgi_head_t head;
    am_forwarded_out_t fwd;
    const char *method = h->head.data + h->method_off;
    int status, rc = AM_OK;

    am_http1_set_state(h, AM_HTTP1_BODY);
    h->http10 = r->minor == 0;
    h->keepalive = (r->flags & AM_H1_KEEP_ALIVE) ? 1 : 0;
    h->is_head = h->method_len == 4 && memcmp(method, "HEAD", 4) == 0;

    /* Known to be too large before reading a byte of it. */
    if (am_ctx.conf->limit_body_size && r->body == AM_H1_BODY_LENGTH &&
        r->content_length > am_ctx.conf->limit_body_size) {
        return http1_refuse(h, 413, "Content-Length over limits.body_size");
    }

    if (c->listen->metrics) {
        status = am_metrics_respond(
            c, h->head.data, h->url_len,
            h->method_len == 3 && memcmp(method, "GET", 3) == 0, h->is_head);
        if (status != 0) {
            am_http1_error(h, status);
            return AM_ERROR;
        }
        return AM_OK;
    }

    headers = h->nfields <= am_nitems(stack_headers)
                  ? stack_headers
                  : am_alloc(h->nfields * sizeof(*headers));
    http1_head_headers(h, headers, &offer);
    http1_head_fill(h, headers, &head, &fwd);
    if (!http1_head_websocket(h, &head) &&
        !http1_head_upgrade(h, &offer, &head, headers)) {
        status = http1_head_start(h, &head);
        if (status != 0) {
            am_http1_error(h, status);
            rc = AM_ERROR;
        }
    }
    if (headers != stack_headers) {
        free(headers);
    }
    return rc;
}

int
am_http1_read_head(am_http1_t *h)
{
    am_conn_t *c = h->c;
    const char *buf = c->rbuf.data + c->rbuf.pos;
    am_h1_error_t e;
    int rc;

    if (h->state == AM_HTTP1_IDLE) {
        am_http1_set_state(h, AM_HTTP1_HEAD);
        h->start_msec = am_now_msec();
        h->start_time = time(NULL);
    }
    am_http1_pfields_take(h);
    rc = am_h1_parser_head(&h->parser, buf, am_buf_size(&c->rbuf), h->pfields,
                           h->pfields_cap);
    if (rc == AM_AGAIN) {
        return AM_AGAIN;
    }
    if (rc != AM_OK) {
        e = h->parser.error;
        return http1_refuse(h, am_h1_parser_status(e), am_h1_parser_reason(e));
    }
    http1_head_copy(h, buf);
    am_buf_consume(&c->rbuf, h->parser.head_len);
    rc = http1_head_done(h);
    if (rc == AM_OK && h->state == AM_HTTP1_BODY &&
        h->parser.req.body == AM_H1_BODY_NONE) {
        http1_message_done(h);
    }
    return rc;
}

int
am_http1_read_body(am_http1_t *h)
{
    am_conn_t *c = h->c;
    const char *in = c->rbuf.data + c->rbuf.pos, *data;
    size_t len = am_buf_size(&c->rbuf), consumed, data_len, most;
    am_h1_error_t e;
    int rc;

    if (h->req && !h->discarding) {
        /* Bounded steps, so the body buffer is not overshot by much; a
         * trailer section (kept whole until it ends) always fits. */
        most = am_max(am_max(am_ctx.conf->limit_body_buffer, (size_t)4096),
                      h->parser.limits.max_trailer_size);
        len = am_min(len, most);
    }
    rc = am_h1_parser_body(&h->parser, in, len, &consumed, &data, &data_len);
    if (data_len > 0) {
        h->body_received += data_len;
        if (am_ctx.conf->limit_body_size &&
            h->body_received > am_ctx.conf->limit_body_size) {
            return http1_refuse(h, 413, "body over limits.body_size");
        }
        am_timer_add(&c->read_timer, am_ctx.conf->timeout_body_read);
        if (h->req && !h->discarding) {
            am_asgi_request_body(h->req, data, data_len, 1);
        }
    }
    am_buf_consume(&c->rbuf, consumed);

    switch (rc) {
    case AM_ERROR:
        e = h->parser.error;
        if (e == AM_H1_E_CHUNK_EXT_SIZE || e == AM_H1_E_CHUNK_EXT_TOTAL) {
            am_stats_abuse(AM_ABUSE_CHUNK_EXTENSIONS);
        }
        return http1_refuse(h, am_h1_parser_status(e), am_h1_parser_reason(e));
    case AM_DONE:
        http1_message_done(h);
        return AM_DONE;
    case AM_AGAIN:
        /* Input left over only when this step was bounded. */
        return consumed > 0 && am_buf_size(&c->rbuf) > 0 ? AM_OK : AM_AGAIN;
    default:
        return AM_OK;
    }
}
