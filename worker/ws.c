/* worker/ws.c: one WebSocket session after the opening handshake was
 * asked for, independent of what carries it (worker/ws.h). Input: the
 * frame parser (ws_frame.c) turns bytes into data chunks and control
 * frames; the assembler (ws_message.c) joins, inflates and checks them;
 * whole messages go to the app's queue, at most websocket.max_queue of
 * them, then reading pauses. Control frames are answered here: ping with
 * pong (§5.5.2), close with the close echo (§5.5.1, §7). Output: the
 * app's websocket.* events (asgi_ws.c) become frames through the
 * carrier's transport; send() waits while more than limits.write_buffer
 * is queued. Keep-alive pings every websocket.ping_interval; no pong
 * within websocket.ping_timeout closes with 1011.
 *
 * States, changed only by ws_set_state():
 *   CONNECTING -> OPEN (websocket.accept) -> CLOSING (we sent close)
 *   -> CLOSED (both closes, or a failure); CONNECTING -> RESPONDING (403,
 *   500 or the app's denial response) -> CLOSED; OPEN -> CLOSED.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/stats.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/http.h"
#include "worker/request.h"
#include "worker/ws.h"
#include "worker/ws_deflate.h"
#include "worker/ws_frame.h"
#include "worker/ws_handshake.h"
#include "worker/ws_message.h"

typedef enum am_ws_state_e {
    AM_WS_CONNECTING, /* the app has not answered the handshake */
    AM_WS_OPEN,       /* accepted: frames both ways */
    AM_WS_CLOSING,    /* our close frame is sent; waiting for the peer's */
    AM_WS_RESPONDING, /* an HTTP response instead of the upgrade */
    AM_WS_CLOSED,     /* no more frames; the carrier closes */
} am_ws_state_t;

struct am_ws_session_s {
    am_conn_t *c;
    uint32_t stream_id;
    const am_ws_transport_t *tr;
    void *t;
    am_ws_state_t state;
    am_asgi_request_t *req; /* owned reference */

    am_ws_parser_t parser;
    am_ws_message_t msg;
    am_ws_deflate_t deflate;
    int deflate_on;
    char ext_resp[256];                /* Sec-WebSocket-Extensions answer */
    char accept[AM_WS_ACCEPT_LEN + 1]; /* Sec-WebSocket-Accept, or "" */

    am_timer_t ping_timer;  /* keep-alive ping, then the pong deadline */
    am_timer_t close_timer; /* the peer's close frame deadline */
    am_timer_t stop_timer;  /* graceful stop: the app's time is up */
    int stop_code;

    /* The access log line. */
    int proto;
    const char *protocol;
    int status;
    int success_status;
    char *target;
    size_t target_len;
    time_t start_time;
    am_msec_t start_msec;
    uint64_t bytes_in, bytes_out;

    unsigned app_told : 1; /* websocket.disconnect is queued */
    unsigned paused : 1;   /* the app's queue is full */
    unsigned awaiting_pong : 1;
    unsigned app_running : 1;
};

size_t am_ws_sessions;

static const am_asgi_ws_ops_t ws_asgi_ops;

static void ws_fail(am_ws_session_t *s, int code);

/* The one place the state changes; a transition not in the diagram above
 * is our bug. */
static void
ws_set_state(am_ws_session_t *s, am_ws_state_t to)
{
    switch (to) {
    case AM_WS_OPEN:
    case AM_WS_RESPONDING:
        AM_ASSERT(s->state == AM_WS_CONNECTING);
        break;
    case AM_WS_CLOSING:
        AM_ASSERT(s->state == AM_WS_OPEN);
        break;
    case AM_WS_CLOSED:
        AM_ASSERT(s->state != AM_WS_CLOSED);
        break;
    default:
        AM_ASSERT(0);
    }
    s->state = to;
}

static void
ws_write_frame(am_ws_session_t *s, int opcode, int rsv1, const uint8_t *p,
               size_t len)
{
    uint8_t hdr[AM_WS_HEADER_MAX];
    size_t n = am_ws_frame_header(hdr, opcode, 1, rsv1, len);

    s->tr->write(s->t, hdr, n, p, len);
    s->bytes_out += n + len;
}

static void
ws_write_close(am_ws_session_t *s, int code, const char *reason, size_t len)
{
    uint8_t payload[AM_WS_CONTROL_MAX];
    size_t n = am_ws_close_build(payload, (unsigned)code, reason, len);

    ws_write_frame(s, AM_WS_OP_CLOSE, 0, payload, n);
}

/* Tell the app once: websocket.disconnect with code and reason. */
static void
ws_tell_app(am_ws_session_t *s, int code, const char *reason, size_t len)
{
    if (s->app_told || s->req == NULL) {
        return;
    }
    s->app_told = 1;
    am_asgi_ws_disconnect(s->req, code, reason, len);
}

/* No more frames: the carrier closes once the output is written. */
static void
ws_finish(am_ws_session_t *s)
{
    if (s->state == AM_WS_CLOSED) {
        return;
    }
    ws_set_state(s, AM_WS_CLOSED);
    am_timer_del(&s->ping_timer);
    am_timer_del(&s->close_timer);
    am_timer_del(&s->stop_timer);
    s->tr->close(s->t);
}

/* RFC 6455 §7.1.7: fail the connection with code. */
static void
ws_fail(am_ws_session_t *s, int code)
{
    if (s->state == AM_WS_OPEN) {
        ws_write_close(s, code, NULL, 0);
    }
    ws_tell_app(s, code, NULL, 0);
    ws_finish(s);
}

/* Our close frame is out: the peer has close_timeout to answer. */
static void
ws_start_closing(am_ws_session_t *s, int code, const char *reason, size_t len,
                 am_msec_t wait)
{
    ws_write_close(s, code, reason, len);
    ws_set_state(s, AM_WS_CLOSING);
    am_timer_del(&s->ping_timer);
    am_timer_add(&s->close_timer, wait);
}

static void
ws_on_close_timeout(am_timer_t *t)
{
    am_ws_session_t *s = t->data;

    am_connlog(AM_LOG_INFO, 0, s->c->id, s->stream_id,
               "WebSocket client did not answer the close frame");
    ws_tell_app(s, AM_WS_CLOSE_ABNORMAL, NULL, 0);
    ws_finish(s);
}

static void
ws_on_ping_timer(am_timer_t *t)
{
    am_ws_session_t *s = t->data;
    static const uint8_t payload[] = "asgimaster";

    if (s->state != AM_WS_OPEN) {
        return;
    }
    if (s->awaiting_pong) {
        am_connlog(AM_LOG_INFO, 0, s->c->id, s->stream_id,
                   "WebSocket keep-alive ping timed out");
        ws_fail(s, AM_WS_CLOSE_INTERNAL);
        return;
    }
    ws_write_frame(s, AM_WS_OP_PING, 0, payload, sizeof(payload) - 1);
    s->awaiting_pong = 1;
    am_timer_add(&s->ping_timer, am_ctx.conf->ws_ping_timeout);
}

static void
ws_on_stop_timer(am_timer_t *t)
{
    am_ws_session_t *s = t->data;
    static const char reason[] = "server shutting down";

    /* RFC 6455 §7.4.1: 1012 when the server restarts (reload, recycle),
     * 1001 when it goes away; the reload's message may come after the
     * signal, so the choice is made now. */
    s->stop_code =
        am_ctx.restarting ? AM_WS_CLOSE_RESTART : AM_WS_CLOSE_GOING_AWAY;
    if (s->state == AM_WS_OPEN) {
        ws_start_closing(
            s, s->stop_code, reason, sizeof(reason) - 1,
            am_min(am_ctx.conf->ws_close_timeout, (am_msec_t)1000));
    } else if (s->state == AM_WS_CONNECTING) {
        ws_tell_app(s, s->stop_code, NULL, 0);
        ws_finish(s);
    }
}

am_ws_session_t *
am_ws_session_create(am_conn_t *c, uint32_t stream_id,
                     const am_ws_transport_t *tr, void *t,
                     const am_ws_open_t *o)
{
    am_conf_t *conf = am_ctx.conf;
    am_ws_deflate_conf_t dconf;
    am_ws_deflate_params_t params;
    am_ws_session_t *s;
    const am_asgi_head_t *head = o->head;

    s = am_calloc(1, sizeof(*s));
    s->c = c;
    s->stream_id = stream_id;
    s->tr = tr;
    s->t = t;
    s->state = AM_WS_CONNECTING;
    s->proto = o->proto;
    s->protocol = o->protocol;
    s->success_status = o->success_status;
    s->start_time = time(NULL);
    s->start_msec = am_now_msec();
    s->target_len =
        head->path_len + (head->query_len ? head->query_len + 1 : 0);
    s->target = am_alloc(s->target_len + 1);
    memcpy(s->target, head->path, head->path_len);
    if (head->query_len) {
        s->target[head->path_len] = '?';
        memcpy(s->target + head->path_len + 1, head->query, head->query_len);
    }
    s->ping_timer.handler = ws_on_ping_timer;
    s->ping_timer.data = s;
    s->close_timer.handler = ws_on_close_timeout;
    s->close_timer.data = s;
    s->stop_timer.handler = ws_on_stop_timer;
    s->stop_timer.data = s;

    if (o->key != NULL &&
        am_ws_handshake_accept(o->key, o->key_len, s->accept) != AM_OK) {
        goto fail;
    }
    if (conf->ws_compression && o->extensions != NULL) {
        am_ws_deflate_conf_default(&dconf);
        dconf.server_max_window_bits = conf->ws_window_bits;
        dconf.client_max_window_bits = conf->ws_window_bits;
        dconf.mem_level = conf->ws_mem_level;
        if (am_ws_deflate_negotiate(o->extensions, o->extensions_len, &dconf,
                                    &params, s->ext_resp,
                                    sizeof(s->ext_resp)) == AM_OK) {
            am_ws_deflate_init(&s->deflate, &params, dconf.mem_level,
                               dconf.level);
            s->deflate_on = 1;
        }
    }
    am_ws_parser_init(&s->parser,
                      AM_WS_PARSE_SERVER |
                          (s->deflate_on ? AM_WS_PARSE_DEFLATE : 0));
    am_ws_message_init(&s->msg, conf->ws_max_message_size,
                       s->deflate_on ? &s->deflate : NULL);

    s->req = am_asgi_ws_create(head, &ws_asgi_ops, s, c->id, stream_id);
    if (s->req == NULL) {
        goto fail;
    }
    s->app_running = 1;
    am_ws_sessions++;
    if (am_stats_self != NULL) {
        am_stats_self->ws_sessions_total++;
        am_stats_self->ws_open++;
    }
    return s;

fail:
    if (s->deflate_on) {
        am_ws_deflate_free(&s->deflate);
    }
    am_ws_message_free(&s->msg);
    free(s->target);
    free(s);
    return NULL;
}

/* A whole message: to the app's queue. */
static void
ws_deliver(am_ws_session_t *s)
{
    if (am_stats_self != NULL) {
        am_stats_self->ws_messages_in++;
    }
    am_asgi_ws_message(s->req, s->msg.opcode == AM_WS_OP_BINARY,
                       (const char *)s->msg.data, s->msg.len);
    am_ws_message_reset(&s->msg);
}

/* RFC 6455 §5.5: a control frame, answered at once (also between the
 * fragments of a message, §5.4). */
static void
ws_control(am_ws_session_t *s, const am_ws_event_t *ev)
{
    const uint8_t *reason;
    size_t reason_len;
    uint16_t code;

    switch (ev->opcode) {
    case AM_WS_OP_PING:
        /* §5.5.2: a pong with the ping's payload, unless we are closing. */
        if (s->state == AM_WS_OPEN) {
            ws_write_frame(s, AM_WS_OP_PONG, 0, ev->data, ev->len);
        }
        break;
    case AM_WS_OP_PONG:
        /* §5.5.3: an unsolicited pong is no error. */
        if (s->awaiting_pong) {
            s->awaiting_pong = 0;
            am_timer_add(&s->ping_timer, am_ctx.conf->ws_ping_interval);
        }
        break;
    case AM_WS_OP_CLOSE:
        if (am_ws_close_parse(ev->data, ev->len, &code, &reason, &reason_len) !=
            AM_OK) {
            /* §7.4.1: invalid code -> 1002; reason not UTF-8 -> 1007. */
            ws_fail(s, code);
            return;
        }
        if (s->state == AM_WS_OPEN) {
            /* §5.5.1: echo the status code received (none for none). */
            ws_write_close(s, code == AM_WS_CLOSE_NO_STATUS ? 0 : code, NULL,
                           0);
        }
        ws_tell_app(s, code, (const char *)reason, reason_len);
        if (am_stats_self != NULL) {
            am_stats_close_code(am_stats_self, code);
        }
        ws_finish(s);
        break;
    default:
        break;
    }
}

size_t
am_ws_session_feed(am_ws_session_t *s, uint8_t *buf, size_t len)
{
    am_ws_event_t ev;
    size_t off = 0, used;
    int rc;

    if (s->state == AM_WS_CLOSED || s->state == AM_WS_RESPONDING) {
        return len; /* nothing more is read */
    }
    if (s->state == AM_WS_CONNECTING) {
        return 0; /* no frames before the handshake is answered */
    }
    while (off < len && s->state != AM_WS_CLOSED) {
        if (s->req != NULL && !s->parser.in_message &&
            s->parser.state == AM_WS_PARSE_HEADER &&
            am_asgi_request_buffered(s->req) >= am_ctx.conf->ws_max_queue) {
            /* The app's queue is full: stop reading until it takes one. */
            s->paused = 1;
            s->tr->set_reading(s->t, 0);
            break;
        }
        rc = am_ws_parser_next(&s->parser, buf + off, len - off, &used, &ev);
        off += used;
        s->bytes_in += used;
        if (rc == AM_AGAIN) {
            break;
        }
        if (rc == AM_ERROR) {
            am_connlog(AM_LOG_INFO, 0, s->c->id, s->stream_id,
                       "WebSocket protocol error: close %u", s->parser.error);
            ws_fail(s, s->parser.error);
            return len;
        }
        if (ev.type == AM_WS_EVENT_CONTROL) {
            ws_control(s, &ev);
            continue;
        }
        if (s->state != AM_WS_OPEN) {
            continue; /* the app closed: its messages are dropped */
        }
        rc = am_ws_message_feed(&s->msg, &ev);
        if (rc == AM_ERROR) {
            am_connlog(AM_LOG_INFO, 0, s->c->id, s->stream_id,
                       "WebSocket message refused: close %u", s->msg.error);
            ws_fail(s, s->msg.error);
            return len;
        }
        if (rc == AM_DONE) {
            ws_deliver(s);
        }
    }
    if (s->state == AM_WS_CLOSED) {
        return len;
    }
    return off;
}

void
am_ws_session_drain(am_ws_session_t *s)
{
    if (s->req != NULL) {
        am_asgi_request_writable(s->req);
    }
}

void
am_ws_session_shutdown(am_ws_session_t *s, int code)
{
    am_msec_t g = am_ctx.conf->timeout_graceful;

    s->stop_code = code;
    if (s->state == AM_WS_OPEN || s->state == AM_WS_CONNECTING) {
        /* The app has the graceful time, less a margin for the close
         * handshake, before the worker closes what is left. */
        am_timer_add(&s->stop_timer, g > 2000 ? g - 1000 : g / 2);
    }
}

void
am_ws_session_destroy(am_ws_session_t *s)
{
    am_request_done_t r = {
        .proto = s->proto,
        .protocol = s->protocol,
        .status = s->status ? s->status : 499,
        .body_bytes = s->bytes_out,
        .start_time = s->start_time,
        .start_msec = s->start_msec,
        .method = s->proto == AM_STATS_H1 ? "GET" : "CONNECT",
        .method_len = s->proto == AM_STATS_H1 ? 3 : 7,
        .target = s->target,
        .target_len = s->target_len,
    };

    am_timer_del(&s->ping_timer);
    am_timer_del(&s->close_timer);
    am_timer_del(&s->stop_timer);
    if (s->req != NULL) {
        ws_tell_app(s,
                    s->stop_code && s->state == AM_WS_CLOSING
                        ? s->stop_code
                        : AM_WS_CLOSE_ABNORMAL,
                    NULL, 0);
        am_asgi_request_release(s->req);
        s->req = NULL;
    }
    am_request_done(s->c, &r);
    if (am_stats_self != NULL) {
        am_stats_self->ws_bytes_in += s->bytes_in;
        am_stats_self->ws_bytes_out += s->bytes_out;
        am_stats_self->ws_open--;
    }
    am_ws_sessions--;
    if (s->deflate_on) {
        am_ws_deflate_free(&s->deflate);
    }
    am_ws_message_free(&s->msg);
    free(s->target);
    free(s);
}

/* The bridge's events (asgi_ws.c calls them while s->req is set). */

static int
ws_output_state(am_ws_session_t *s)
{
    return s->tr->pending(s->t) > am_ctx.conf->limit_write_buffer ? AM_AGAIN
                                                                  : AM_OK;
}

/* RFC 6455 §4.2.2 item 5: the answer's fields. */
static int
ws_op_accept(void *data, const char *sub, size_t sublen,
             const am_header_t *headers, size_t n, const char **err)
{
    am_ws_session_t *s = data;
    am_header_t h[72];
    size_t k = 0, i;

    if (s->state != AM_WS_CONNECTING) {
        return AM_ERROR;
    }
    if (n > 64) {
        *err = "more than 64 headers";
        return AM_DECLINED;
    }
    if (sub != NULL && (sublen == 0 || !am_http_is_token(sub, sublen))) {
        *err = "the subprotocol is not a token (RFC 6455 §4.1)";
        return AM_DECLINED;
    }
    for (i = 0; i < n; i++) {
        if (am_request_check_field(&headers[i], err) != AM_OK) {
            return AM_DECLINED;
        }
    }
    if (s->accept[0] != '\0') {
        h[k++] = (am_header_t){ "Sec-WebSocket-Accept", 20, s->accept,
                                AM_WS_ACCEPT_LEN };
    }
    if (sub != NULL) {
        h[k++] = (am_header_t){ "Sec-WebSocket-Protocol", 22, sub, sublen };
    }
    if (s->deflate_on) {
        h[k++] = (am_header_t){ "Sec-WebSocket-Extensions", 24, s->ext_resp,
                                strlen(s->ext_resp) };
    }
    for (i = 0; i < n; i++) {
        h[k++] = headers[i];
    }
    s->tr->accept(s->t, h, k);
    s->status = s->success_status;
    ws_set_state(s, AM_WS_OPEN);
    if (am_ctx.conf->ws_ping_interval > 0) {
        am_timer_add(&s->ping_timer, am_ctx.conf->ws_ping_interval);
    }
    if (am_ctx.stopping && !am_timer_is_armed(&s->stop_timer)) {
        am_ws_session_shutdown(s, AM_WS_CLOSE_GOING_AWAY);
    }
    /* Frames that came with the handshake are read now. */
    s->tr->set_reading(s->t, 1);
    return ws_output_state(s);
}

static int
ws_op_send(void *data, int binary, const char *p, size_t len)
{
    am_ws_session_t *s = data;
    uint8_t *z = NULL;
    size_t zlen;
    int opcode = binary ? AM_WS_OP_BINARY : AM_WS_OP_TEXT;

    if (s->state != AM_WS_OPEN) {
        return AM_ERROR;
    }
    if (am_stats_self != NULL) {
        am_stats_self->ws_messages_out++;
    }
    /* RFC 7692 §6: a message may go uncompressed; tiny ones do. */
    if (s->deflate_on && len >= 64 &&
        am_ws_deflate_compress(&s->deflate, (const uint8_t *)p, len, &z,
                               &zlen) == AM_OK) {
        ws_write_frame(s, opcode, 1, z, zlen);
        free(z);
    } else {
        ws_write_frame(s, opcode, 0, (const uint8_t *)p, len);
    }
    return ws_output_state(s);
}

static void
ws_respond_status(am_ws_session_t *s, int status)
{
    am_header_t h = { "Content-Length", 14, "0", 1 };

    ws_set_state(s, AM_WS_RESPONDING);
    s->status = status;
    s->tr->respond(s->t, status, &h, 1);
    s->tr->respond_body(s->t, "", 0, 0);
    ws_finish(s);
}

static int
ws_op_close(void *data, int code, const char *reason, size_t len)
{
    am_ws_session_t *s = data;

    if (s->state == AM_WS_CONNECTING) {
        /* asgiref www.rst "Close": before accept, a 403. */
        ws_respond_status(s, 403);
        return AM_OK;
    }
    if (s->state != AM_WS_OPEN) {
        return AM_ERROR;
    }
    if (!am_ws_close_code_is_valid((unsigned)code)) {
        return AM_DECLINED;
    }
    if (am_stats_self != NULL) {
        am_stats_close_code(am_stats_self, code);
    }
    ws_start_closing(s, code, reason, len, am_ctx.conf->ws_close_timeout);
    return AM_OK;
}

static int
ws_op_http_start(void *data, int status, const am_header_t *headers, size_t n,
                 const char **err)
{
    am_ws_session_t *s = data;
    size_t i;

    if (s->state != AM_WS_CONNECTING) {
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
    ws_set_state(s, AM_WS_RESPONDING);
    s->status = status;
    s->tr->respond(s->t, status, headers, n);
    return AM_OK;
}

static int
ws_op_http_body(void *data, const char *p, size_t len, int more)
{
    am_ws_session_t *s = data;

    if (s->state != AM_WS_RESPONDING) {
        return AM_ERROR;
    }
    s->bytes_out += len;
    s->tr->respond_body(s->t, p, len, more);
    if (!more) {
        ws_finish(s);
        return AM_OK;
    }
    return ws_output_state(s);
}

static void
ws_op_consumed(void *data)
{
    am_ws_session_t *s = data;

    if (s->paused &&
        am_asgi_request_buffered(s->req) < am_ctx.conf->ws_max_queue) {
        s->paused = 0;
        s->tr->set_reading(s->t, 1);
    }
}

static void
ws_op_finish(void *data, int failed)
{
    am_ws_session_t *s = data;

    s->app_running = 0;
    switch (s->state) {
    case AM_WS_CONNECTING:
        /* Neither accepted nor refused: as uvicorn, a 500. */
        ws_respond_status(s, 500);
        break;
    case AM_WS_OPEN:
        /* asgiref: an app that ends closes the socket; one that raised
         * gets 1011 (RFC 6455 §7.4.1). */
        ws_start_closing(s, failed ? AM_WS_CLOSE_INTERNAL : AM_WS_CLOSE_NORMAL,
                         NULL, 0, am_ctx.conf->ws_close_timeout);
        break;
    case AM_WS_RESPONDING:
        ws_finish(s); /* a denial body left unfinished */
        break;
    default:
        break;
    }
}

static const am_asgi_ws_ops_t ws_asgi_ops = {
    .accept = ws_op_accept,
    .send = ws_op_send,
    .close = ws_op_close,
    .http_start = ws_op_http_start,
    .http_body = ws_op_http_body,
    .consumed = ws_op_consumed,
    .finish = ws_op_finish,
};
