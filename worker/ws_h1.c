/* worker/ws_h1.c: WebSocket over HTTP/1.1. The handshake's checks (RFC
 * 6455 §4.2.1: 400 for a bad request, 426 with Sec-WebSocket-Version: 13
 * for another version, §4.2.2), then the connection's protocol after the
 * request: a transport (worker/ws.h) over the connection's buffers that
 * writes the 101 on websocket.accept (or the app's 403 / denial response)
 * and frames, and feeds what is read to the session.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/stats.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/http.h"
#include "worker/request.h"
#include "worker/ws.h"
#include "worker/ws_frame.h"
#include "worker/ws_h1.h"
#include "worker/ws_handshake.h"

#define WS_H1_EXT_MAX          2048 /* Sec-WebSocket-Extensions lines joined */
#define WS_H1_SUBPROTOCOLS_MAX 32

typedef struct ws_h1_s {
    am_conn_t *c;
    am_ws_session_t *s; /* NULL after a refused handshake */
    unsigned reading : 1;
} ws_h1_t;

static void ws_h1_on_read(am_conn_t *c, int eof);
static void ws_h1_on_drain(am_conn_t *c);
static void ws_h1_on_close(am_conn_t *c);
static void ws_h1_on_shutdown(am_conn_t *c);
static void ws_h1_on_post(am_post_t *p);

static const am_proto_t ws_h1_proto = {
    .name = "websocket",
    .on_read = ws_h1_on_read,
    .on_drain = ws_h1_on_drain,
    .on_close = ws_h1_on_close,
    .on_shutdown = ws_h1_on_shutdown,
};

static void
ws_h1_write(void *t, const uint8_t *hdr, size_t hlen, const uint8_t *p,
            size_t len)
{
    ws_h1_t *w = t;

    am_conn_write(w->c, hdr, hlen);
    if (len > 0) {
        am_conn_write(w->c, p, len);
    }
}

static size_t
ws_h1_pending(void *t)
{
    ws_h1_t *w = t;

    return am_conn_pending(w->c);
}

static void
ws_h1_write_fields(am_conn_t *c, const am_header_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        am_conn_write(c, h[i].name, h[i].name_len);
        am_conn_write(c, ": ", 2);
        am_conn_write(c, h[i].value, h[i].value_len);
        am_conn_write(c, "\r\n", 2);
    }
}

static void
ws_h1_accept(void *t, const am_header_t *h, size_t n)
{
    ws_h1_t *w = t;

    am_conn_write_str(w->c, "HTTP/1.1 101 Switching Protocols\r\n"
                            "Upgrade: websocket\r\n"
                            "Connection: Upgrade\r\n");
    if (am_ctx.conf->server_header) {
        am_conn_write_str(w->c, "Server: asgimaster\r\n");
    }
    ws_h1_write_fields(w->c, h, n);
    am_conn_write(w->c, "\r\n", 2);
}

/* A response that ends the connection: without a Content-Length it is
 * delimited by the close (RFC 9112 §6.3 item 8). */
static void
ws_h1_respond(void *t, int status, const am_header_t *h, size_t n)
{
    ws_h1_t *w = t;
    char line[160];
    int len;

    len = snprintf(line, sizeof(line),
                   "HTTP/1.1 %d %s\r\nConnection: close\r\nDate: %s\r\n%s",
                   status, am_http_reason(status), am_http_date(),
                   am_ctx.conf->server_header ? "Server: asgimaster\r\n" : "");
    am_conn_write(w->c, line, (size_t)len);
    ws_h1_write_fields(w->c, h, n);
    am_conn_write(w->c, "\r\n", 2);
}

static void
ws_h1_respond_body(void *t, const char *p, size_t len, int more)
{
    ws_h1_t *w = t;

    if (len > 0) {
        am_conn_write(w->c, p, len);
    }
}

static void
ws_h1_close(void *t)
{
    ws_h1_t *w = t;

    am_conn_close_after_flush(w->c);
}

static void
ws_h1_set_reading(void *t, int on)
{
    ws_h1_t *w = t;

    w->reading = on ? 1 : 0;
    if (on) {
        am_post(&w->c->post); /* input may wait in rbuf already */
    } else {
        am_conn_set_reading(w->c, 0);
    }
}

static const am_ws_transport_t ws_h1_transport = {
    .write = ws_h1_write,
    .pending = ws_h1_pending,
    .accept = ws_h1_accept,
    .respond = ws_h1_respond,
    .respond_body = ws_h1_respond_body,
    .close = ws_h1_close,
    .set_reading = ws_h1_set_reading,
};

int
am_ws_h1_is_upgrade(const am_asgi_head_t *head)
{
    if (!am_ctx.conf->ws_enabled) {
        return 0;
    }
    for (size_t i = 0; i < head->nheaders; i++) {
        const am_header_t *h = &head->headers[i];

        if (am_http_token_find(h->name, h->name_len) == AM_HTTP_TOKEN_UPGRADE &&
            am_http_value_has_token(h->value, h->value_len, "websocket")) {
            return 1;
        }
    }
    return 0;
}

static int
ws_h1_name_is(const am_header_t *h, const char *name)
{
    size_t n = strlen(name);

    return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

/* A refusal of our own, logged as a request. */
static void
ws_h1_refuse(am_conn_t *c, const am_asgi_head_t *head, int status)
{
    const char *reason = am_http_reason(status);
    char buf[512];
    int n;

    n = snprintf(buf, sizeof(buf),
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: %zu\r\n"
                 "Connection: close\r\n"
                 "%s"
                 "Date: %s\r\n\r\n%s\n",
                 status, reason, strlen(reason) + 1,
                 status == 426 ? "Sec-WebSocket-Version: " AM_WS_VERSION "\r\n"
                               : "",
                 am_http_date(), reason);
    am_conn_write(c, buf, (size_t)n);
    am_connlog(AM_LOG_INFO, 0, c->id, 0, "WebSocket handshake refused (%d)",
               status);
    {
        am_request_done_t r = {
            .proto = AM_STATS_H1,
            .protocol = "HTTP/1.1",
            .status = status,
            .body_bytes = strlen(reason) + 1,
            .method = "GET",
            .method_len = 3,
            .target = head->path,
            .target_len = head->path_len,
        };

        am_request_done(c, &r);
    }
    am_conn_close_after_flush(c);
}

void
am_ws_h1_start(am_conn_t *c, const am_asgi_head_t *head)
{
    am_ws_token_t tokens[WS_H1_SUBPROTOCOLS_MAX];
    am_ws_request_t req;
    am_ws_open_t o;
    char ext[WS_H1_EXT_MAX];
    size_t ext_len = 0, n, i;
    int status, nkeys = 0, ext_over = 0;
    ws_h1_t *w;

    memset(&req, 0, sizeof(req));
    memset(&o, 0, sizeof(o));
    status = 0;
    for (i = 0; i < head->nheaders; i++) {
        const am_header_t *h = &head->headers[i];

        switch (am_http_token_find(h->name, h->name_len)) {
        case AM_HTTP_TOKEN_UPGRADE:
            req.upgrade = (am_ws_value_t){ h->value, h->value_len };
            break;
        case AM_HTTP_TOKEN_CONNECTION:
            /* "Connection" on several lines: one of them names upgrade. */
            if (req.connection.data == NULL ||
                am_http_value_has_token(h->value, h->value_len, "upgrade")) {
                req.connection = (am_ws_value_t){ h->value, h->value_len };
            }
            break;
        default:
            if (ws_h1_name_is(h, "sec-websocket-key")) {
                req.key = (am_ws_value_t){ h->value, h->value_len };
                nkeys++;
            } else if (ws_h1_name_is(h, "sec-websocket-version")) {
                req.version = (am_ws_value_t){ h->value, h->value_len };
            } else if (ws_h1_name_is(h, "sec-websocket-protocol")) {
                if (am_ws_handshake_subprotocols(h->value, h->value_len, tokens,
                                                 am_nitems(tokens),
                                                 &n) != AM_OK) {
                    status = 400;
                }
            } else if (ws_h1_name_is(h, "sec-websocket-extensions")) {
                /* §9.1: several lines are one list. */
                if (ext_len + h->value_len + 2 > sizeof(ext)) {
                    ext_over = 1;
                } else {
                    if (ext_len > 0) {
                        ext[ext_len++] = ',';
                        ext[ext_len++] = ' ';
                    }
                    memcpy(ext + ext_len, h->value, h->value_len);
                    ext_len += h->value_len;
                }
            }
            break;
        }
    }
    if (status == 0) {
        status = nkeys > 1 ? 400 : am_ws_handshake_check(&req);
    }

    w = am_calloc(1, sizeof(*w));
    w->c = c;
    c->proto = &ws_h1_proto;
    c->proto_data = w;
    c->post.handler = ws_h1_on_post;
    c->post.data = w;
    am_timer_del(&c->read_timer);

    if (status != 0) {
        ws_h1_refuse(c, head, status);
        return;
    }
    o.head = head;
    o.key = req.key.data;
    o.key_len = req.key.len;
    if (ext_len > 0 && !ext_over) {
        o.extensions = ext;
        o.extensions_len = ext_len;
    }
    o.proto = AM_STATS_H1;
    o.protocol = "HTTP/1.1";
    o.success_status = 101;
    w->s = am_ws_session_create(c, 0, &ws_h1_transport, w, &o);
    if (w->s == NULL) {
        ws_h1_refuse(c, head, 500);
        return;
    }
    w->reading = 1;
    am_conn_set_reading(c, 1);
}

/* Feed what is buffered; keep reading while the session takes it. */
static void
ws_h1_process(ws_h1_t *w)
{
    am_conn_t *c = w->c;
    size_t n;

    if (w->s == NULL) {
        am_buf_consume(&c->rbuf, am_buf_size(&c->rbuf));
        return;
    }
    if (am_buf_size(&c->rbuf) > 0) {
        n = am_ws_session_feed(w->s, (uint8_t *)c->rbuf.data + c->rbuf.pos,
                               am_buf_size(&c->rbuf));
        am_buf_consume(&c->rbuf, n);
    }
    if (!c->closed && !c->closing) {
        am_conn_set_reading(c, w->reading &&
                                   am_buf_size(&c->rbuf) < c->rbuf_limit);
    }
}

static void
ws_h1_on_read(am_conn_t *c, int eof)
{
    ws_h1_t *w = c->proto_data;

    ws_h1_process(w);
    if (eof && !c->closed && !c->closing) {
        /* The client went away: the app sees 1006 unless a close frame
         * came first. A client that half-closes after its close frame
         * still gets the echo: closing flushes it first. */
        am_conn_close(c);
    }
}

static void
ws_h1_on_post(am_post_t *p)
{
    ws_h1_t *w = p->data;

    if (!w->c->closed) {
        ws_h1_process(w);
    }
}

static void
ws_h1_on_drain(am_conn_t *c)
{
    ws_h1_t *w = c->proto_data;

    if (w->s != NULL) {
        am_ws_session_drain(w->s);
    }
}

static void
ws_h1_on_close(am_conn_t *c)
{
    ws_h1_t *w = c->proto_data;

    if (w->s != NULL) {
        am_ws_session_destroy(w->s);
        w->s = NULL;
    }
    c->proto_data = NULL;
    free(w);
}

static void
ws_h1_on_shutdown(am_conn_t *c)
{
    ws_h1_t *w = c->proto_data;

    if (w->s != NULL) {
        am_ws_session_shutdown(w->s, am_ctx.restarting
                                         ? AM_WS_CLOSE_RESTART
                                         : AM_WS_CLOSE_GOING_AWAY);
    }
}
