/* tests/fuzz/fuzz_http1.c: libFuzzer target for the worker's protocol code
 * as a client reaches it: a connection accepted by am_accept_on_readable() on a
 * cleartext listener with HTTP/2 enabled, so the bytes go through
 * worker/conn.c, worker/http1.c and, after a preface or an h2c Upgrade,
 * worker/http2.c; a WebSocket Upgrade (or an extended CONNECT) goes on
 * through worker/ws_h1.c (worker/http2_ws.c) and worker/ws.c. No Python: the
 * ASGI bridge (worker/asgi.h) is a fake here whose "apps" answer in a few steps
 * run between loop turns, as asyncio tasks would, and which keeps the bridge's
 * contract (ops only while the stream is set, one release, no use after
 * release). SPDX-License-Identifier: BSD-2-Clause
 *
 * Input: byte 0 is a seed (chunking of the writes, a graceful stop midway,
 * the default app behaviour); the rest is what the client sends. A
 * request's app behaviour is the second byte of its path ("/3..."), so the
 * fuzzer picks it per request. Each run frees everything it made: the
 * connection, its protocol state and every fake request.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/stats.h"
#include "worker/accept.h"
#include "worker/asgi.h"
#include "worker/conn.h"
#include "worker/ctx.h"
#include "worker/event.h"
#include "worker/http1.h"
#include "worker/http2.h"
#include "worker/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_MAX_ROUNDS  256 /* loop turns per run, all phases together */
#define FUZZ_IDLE_ROUNDS 3   /* turns without progress before moving on */

/* ------------------------------------- worker/tls.h: never used here */

am_tls_conn_t *
am_tls_conn_create(am_listen_t *l, int fd)
{
    (void)l;
    (void)fd;
    return NULL;
}

void
am_tls_conn_destroy(am_tls_conn_t *t)
{
    (void)t;
    abort(); /* no TLS connection is ever made */
}

int
am_tls_handshake(am_tls_conn_t *t, uint32_t *want)
{
    (void)t;
    (void)want;
    abort();
}

int
am_tls_alpn_h2(am_tls_conn_t *t)
{
    (void)t;
    abort();
}

ssize_t
am_tls_recv(am_tls_conn_t *t, void *buf, size_t len, uint32_t *want)
{
    (void)t;
    (void)buf;
    (void)len;
    (void)want;
    abort();
}

ssize_t
am_tls_send(am_tls_conn_t *t, const void *buf, size_t len, uint32_t *want)
{
    (void)t;
    (void)buf;
    (void)len;
    (void)want;
    abort();
}

void
am_tls_shutdown(am_tls_conn_t *t)
{
    (void)t;
    abort();
}

ssize_t
am_tls_seal(am_tls_conn_t *t, const void *buf, size_t len, uint32_t *want)
{
    (void)t;
    (void)buf;
    (void)len;
    (void)want;
    abort();
}

int
am_tls_flush(am_tls_conn_t *t, size_t *sent)
{
    (void)t;
    (void)sent;
    abort();
}

size_t
am_tls_pending(const am_tls_conn_t *t)
{
    (void)t;
    abort();
}

int
am_tls_has_pending(const am_tls_conn_t *t)
{
    (void)t;
    abort();
}

int
am_tls_drained(const am_tls_conn_t *t)
{
    (void)t;
    abort();
}

/* ------------------------------------------------- the fake bridge */

enum {
    APP_HELLO = 0,  /* 200 "hello" at once */
    APP_ECHO,       /* read the whole body, stream it back in pieces */
    APP_TRAILERS,   /* trailers announced, one body piece, trailers */
    APP_FAIL_EARLY, /* raise before start: the bridge's 500 */
    APP_FAIL_LATE,  /* start, a piece, raise */
    APP_HANG,       /* wait in receive() until the client leaves */
    APP_BIG,        /* 4 x 3000 bytes, waiting whenever send() must */
    APP_BAD_HEAD,   /* a header name with a space: DECLINED, then 500 */
    APP_NO_CONTENT, /* 204 (or 304) with a body the protocol must drop */
    APP_SHORT,      /* content-length 10, 5 bytes sent */
    APP_LONG,       /* content-length 2, 5 bytes sent: DECLINED */
    APP_PARTIAL,    /* one receive(), answer, leave the rest unread */
    APP_CONTINUE,   /* wait for body (100 Continue), then answer */
    APP_RETURN,     /* return without a response */
    APP_EARLY,      /* 200 in one step, body unread: the response ends
                       before the request (RFC 9113 §8.1) */
    APP_LINGER,     /* as APP_EARLY, then keep running a few turns
                       without reading (a background task) */
    APP_NBEHAVIOURS
};

/* WebSocket apps, by the second byte of the path as well. */
enum {
    WS_ECHO,  /* accept, echo each message until the disconnect */
    WS_DENY,  /* websocket.close before accept: 403 */
    WS_HTTP,  /* a denial response (401 with a body) */
    WS_RAISE, /* accept, then raise: 1011 */
    WS_NBEHAVIOURS
};

struct am_asgi_request_s {
    const am_asgi_ops_t *ops;
    const am_asgi_ws_ops_t *ws_ops; /* a WebSocket session */
    void *stream;
    uint64_t conn_id;
    uint32_t stream_id;
    int refs; /* the protocol's and the app task's */
    int behaviour;
    int pc; /* the app's next step */
    size_t buffered;
    size_t body_total;
    unsigned body_done : 1;
    unsigned body_delivered : 1;
    unsigned disconnected : 1;
    unsigned started : 1;
    unsigned finished : 1;
    unsigned trailers : 1;
    unsigned app_ended : 1;
    unsigned released : 1;
    unsigned receive_waiting : 1;
    unsigned send_waiting : 1;
    unsigned is_head : 1;
    unsigned websocket : 1;
    am_asgi_request_t *prev, *next;
};

size_t am_asgi_running;

static am_asgi_request_t *fake_requests;
static size_t fake_live;
static int fake_default_behaviour;
static volatile uint8_t fake_sink;

static void
fake_touch(const char *p, size_t len)
{
    uint8_t x = 0;

    for (size_t i = 0; i < len; i++) {
        x ^= (uint8_t)p[i];
    }
    fake_sink ^= x;
}

static void
fake_unref(am_asgi_request_t *r)
{
    if (--r->refs > 0) {
        return;
    }
    if (r->prev) {
        r->prev->next = r->next;
    } else {
        fake_requests = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    }
    fake_live--;
    free(r);
}

static am_asgi_request_t *fake_create(const am_asgi_head_t *head,
                                      const am_asgi_ops_t *ops,
                                      const am_asgi_ws_ops_t *ws_ops,
                                      void *stream, uint64_t conn_id,
                                      uint32_t stream_id);

am_asgi_request_t *
am_asgi_request_create(const am_asgi_head_t *head, const am_asgi_ops_t *ops,
                       void *stream, uint64_t conn_id, uint32_t stream_id)
{
    if (ops == NULL) {
        abort();
    }
    return fake_create(head, ops, NULL, stream, conn_id, stream_id);
}

am_asgi_request_t *
am_asgi_ws_create(const am_asgi_head_t *head, const am_asgi_ws_ops_t *ops,
                  void *session, uint64_t conn_id, uint32_t stream_id)
{
    if (ops == NULL) {
        abort();
    }
    return fake_create(head, NULL, ops, session, conn_id, stream_id);
}

/* A whole message for the app's queue (am_asgi_request_buffered() counts
 * messages for a session, as the real bridge does). */
void
am_asgi_ws_message(am_asgi_request_t *r, int binary, const char *data,
                   size_t len)
{
    if (r->released || !r->websocket) {
        abort();
    }
    if (r->disconnected) {
        return;
    }
    fake_touch(data, len);
    r->buffered++;
    r->receive_waiting = 0;
}

void
am_asgi_ws_disconnect(am_asgi_request_t *r, int code, const char *reason,
                      size_t len)
{
    if (r->released || !r->websocket) {
        abort();
    }
    if (len > 0) {
        fake_touch(reason, len);
    }
    (void)code;
    am_asgi_request_disconnect(r);
}

static am_asgi_request_t *
fake_create(const am_asgi_head_t *head, const am_asgi_ops_t *ops,
            const am_asgi_ws_ops_t *ws_ops, void *stream, uint64_t conn_id,
            uint32_t stream_id)
{
    am_asgi_request_t *r;

    if (stream == NULL || head == NULL) {
        abort();
    }
    /* The real bridge copies everything into the scope: read it all. */
    if (head->method == NULL || head->path == NULL || head->query == NULL ||
        head->http_version == NULL || head->scheme == NULL) {
        abort();
    }
    fake_touch(head->method, head->method_len);
    fake_touch(head->path, head->path_len);
    fake_touch(head->query, head->query_len);
    fake_touch(head->http_version, strlen(head->http_version));
    fake_touch(head->scheme, strlen(head->scheme));
    if (head->nheaders > 0 && head->headers == NULL) {
        abort();
    }
    for (size_t i = 0; i < head->nheaders; i++) {
        fake_touch(head->headers[i].name, head->headers[i].name_len);
        fake_touch(head->headers[i].value, head->headers[i].value_len);
    }
    if (head->client_host) {
        fake_touch(head->client_host, strlen(head->client_host));
    }
    if (head->server_host) {
        fake_touch(head->server_host, strlen(head->server_host));
    }

    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        abort();
    }
    r->ops = ops;
    r->ws_ops = ws_ops;
    r->websocket = ws_ops != NULL;
    r->stream = stream;
    r->conn_id = conn_id;
    r->stream_id = stream_id;
    r->refs = 2;
    r->body_done = !head->has_body;
    r->is_head = head->method_len == 4 && memcmp(head->method, "HEAD", 4) == 0;
    r->behaviour = head->path_len >= 2
                       ? (unsigned char)head->path[1] % APP_NBEHAVIOURS
                       : fake_default_behaviour;
    if (r->websocket) {
        r->behaviour %= WS_NBEHAVIOURS;
    }
    r->next = fake_requests;
    if (fake_requests) {
        fake_requests->prev = r;
    }
    fake_requests = r;
    fake_live++;
    am_asgi_running++;
    return r;
}

void
am_asgi_request_body(am_asgi_request_t *r, const char *data, size_t len,
                     int more)
{
    size_t consumed;

    if (r->released) {
        abort(); /* use after release */
    }
    if (r->body_done || r->disconnected) {
        return;
    }
    if (len > 0) {
        fake_touch(data, len);
        r->buffered += len;
    }
    if (!more) {
        r->body_done = 1;
    }
    if (r->receive_waiting) {
        /* The waiting receive() gets the body now, as the real bridge
         * resolves its future, and the window reopens at once. */
        consumed = r->buffered;
        r->body_total += r->buffered;
        r->buffered = 0;
        if (r->body_done) {
            r->body_delivered = 1;
        }
        r->receive_waiting = 0;
        if (r->stream) {
            r->ops->consumed(r->stream, consumed);
        }
    }
}

size_t
am_asgi_request_buffered(am_asgi_request_t *r)
{
    if (r->released) {
        abort();
    }
    return r->buffered;
}

void
am_asgi_request_disconnect(am_asgi_request_t *r)
{
    if (r->released) {
        abort();
    }
    if (r->disconnected) {
        return;
    }
    r->disconnected = 1;
    r->receive_waiting = 0; /* resolved with http.disconnect */
    r->send_waiting = 0;    /* resolved with ClientDisconnected */
}

void
am_asgi_request_writable(am_asgi_request_t *r)
{
    if (r->released) {
        abort();
    }
    r->send_waiting = 0;
}

void
am_asgi_request_release(am_asgi_request_t *r)
{
    if (r->released) {
        abort(); /* released twice */
    }
    if (!r->finished || !r->app_ended) {
        r->disconnected = 1;
        r->receive_waiting = 0;
        r->send_waiting = 0;
    }
    r->released = 1;
    r->stream = NULL;
    fake_unref(r);
}

/* The app side, one await per step. Each helper returns 0 to go on, 1 to
 * wait (the step is retried when the waiter is resolved) and -1 when the
 * app raised. */

static void
app_end(am_asgi_request_t *r, int failed)
{
    static const am_header_t h[2] = {
        { "content-type", 12, "text/plain; charset=utf-8", 25 },
        { "content-length", 14, "22", 2 },
    };
    static const char body[] = "Internal Server Error\n";
    const char *err;

    r->app_ended = 1;
    am_asgi_running--;
    if (r->stream == NULL) {
        fake_unref(r); /* the task's reference */
        return;
    }
    if (r->websocket) {
        r->ws_ops->finish(r->stream, failed);
        fake_unref(r);
        return;
    }
    if (!r->started && !r->disconnected) {
        if (r->ops->start(r->stream, 500, h, 2, 0, &err) == AM_OK) {
            r->started = 1;
            if (r->stream && r->ops->body(r->stream, body, sizeof(body) - 1,
                                          0) != AM_ERROR) {
                r->finished = 1;
            }
        }
    }
    (void)failed;
    if (r->stream) {
        r->ops->finish(r->stream, r->finished);
    }
    fake_unref(r); /* the task's reference; the caller holds another */
}

/* receive(): 0 with the body chunk taken, 1 waiting, 2 disconnect. */
static int
app_receive(am_asgi_request_t *r)
{
    size_t consumed;

    if (r->disconnected || (r->body_delivered && r->finished)) {
        return 2;
    }
    if (r->buffered > 0 || (r->body_done && !r->body_delivered)) {
        consumed = r->buffered;
        r->body_total += r->buffered;
        r->buffered = 0;
        if (r->body_done) {
            r->body_delivered = 1;
        }
        if (r->stream) {
            r->ops->consumed(r->stream, consumed);
        }
        return 0;
    }
    r->receive_waiting = 1;
    if (r->stream && !r->body_done) {
        r->ops->consumed(r->stream, 0);
    }
    return 1;
}

static int
app_start(am_asgi_request_t *r, int status, const am_header_t *h, size_t n,
          int trailers)
{
    const char *err = NULL;
    int rc;

    if (r->disconnected || r->stream == NULL) {
        return -1;
    }
    if (r->started) {
        return -1;
    }
    rc = r->ops->start(r->stream, status, h, n, trailers, &err);
    if (rc == AM_DECLINED) {
        if (err == NULL) {
            abort(); /* DECLINED must say why */
        }
        return -1;
    }
    if (rc == AM_ERROR) {
        return -1;
    }
    if (rc != AM_OK) {
        abort();
    }
    r->started = 1;
    r->trailers = trailers ? 1 : 0;
    return 0;
}

static int
app_body(am_asgi_request_t *r, const char *data, size_t len, int more)
{
    int rc;

    if (r->disconnected || r->stream == NULL || !r->started || r->finished) {
        return -1;
    }
    rc = r->ops->body(r->stream, data, len, more || r->trailers);
    if (rc == AM_DECLINED || rc == AM_ERROR) {
        return -1;
    }
    if (!more && !r->trailers) {
        r->finished = 1;
    }
    if (rc == AM_AGAIN && more) {
        r->send_waiting = 1;
    }
    return 0;
}

static int
app_trailers(am_asgi_request_t *r, const am_header_t *h, size_t n, int more)
{
    const char *err = NULL;
    int rc;

    if (r->disconnected || r->stream == NULL || !r->started || !r->trailers ||
        r->finished) {
        return -1;
    }
    rc = r->ops->trailers(r->stream, h, n, more, &err);
    if (rc == AM_DECLINED || rc == AM_ERROR) {
        return -1;
    }
    if (!more) {
        r->finished = 1;
    }
    return 0;
}

static const am_header_t app_ct[1] = {
    { "content-type", 12, "text/plain", 10 },
};

/* One step of a WebSocket app (asgiref www.rst order: accept, a denial
 * response or close first). */
static void
ws_step(am_asgi_request_t *r)
{
    static const am_header_t extra[1] = { { "x-extra", 7, "yes", 3 } };
    const char *err = NULL;
    int rc;

    if (r->pc == 0) {
        r->pc = 1;
        switch (r->behaviour) {
        case WS_DENY:
            r->ws_ops->close(r->stream, 1000, NULL, 0);
            app_end(r, 0);
            return;
        case WS_HTTP:
            rc = r->ws_ops->http_start(r->stream, 401, app_ct, 1, &err);
            if (rc == AM_OK && r->stream) {
                r->ws_ops->http_body(r->stream, "no", 2, 0);
            }
            app_end(r, rc != AM_OK);
            return;
        default:
            rc = r->ws_ops->accept(r->stream, "chat", 4, extra, 1, &err);
            if (rc == AM_DECLINED && err == NULL) {
                abort(); /* DECLINED must say why */
            }
            if (rc == AM_ERROR || rc == AM_DECLINED ||
                r->behaviour == WS_RAISE) {
                app_end(r, 1);
                return;
            }
            if (rc == AM_AGAIN) {
                r->send_waiting = 1;
            }
            return;
        }
    }
    if (r->buffered > 0) {
        r->buffered--;
        if (r->stream) {
            r->ws_ops->consumed(r->stream);
        }
        if (r->stream == NULL) {
            app_end(r, 1);
            return;
        }
        rc = r->ws_ops->send(r->stream, r->pc & 1, "echo", 4);
        r->pc++;
        if (rc == AM_ERROR || rc == AM_DECLINED) {
            app_end(r, 1);
        } else if (rc == AM_AGAIN) {
            r->send_waiting = 1;
        } else if (r->pc > 6) {
            r->ws_ops->close(r->stream, 4000 + r->pc, "bye", 3);
            app_end(r, 0);
        }
        return;
    }
    if (r->disconnected) {
        app_end(r, 0);
        return;
    }
    r->receive_waiting = 1;
}

/* One step of r's app. */
static void
app_step(am_asgi_request_t *r)
{
    static char big[3000];
    static const am_header_t bad[1] = { { "bad name", 8, "x", 1 } };
    static const am_header_t cl10[1] = { { "Content-Length", 14, "10", 2 } };
    static const am_header_t cl2[1] = { { "content-length", 14, "2", 1 } };
    static const am_header_t tr[2] = {
        { "x-checksum", 10, "abc", 3 },
        { "X-Upper", 7, "v", 1 },
    };
    char line[64];
    int rc = 0, n;

    if (r->app_ended || r->receive_waiting || r->send_waiting) {
        return;
    }
    if (big[0] == 0) {
        memset(big, 'b', sizeof(big));
    }
    /* Every app notices a client that left at its next await. */
    if (r->stream == NULL) {
        app_end(r, 1);
        return;
    }
    if (r->websocket) {
        ws_step(r);
        return;
    }

    switch (r->behaviour) {
    case APP_HELLO:
        rc = r->pc == 0 ? app_start(r, 200, app_ct, 1, 0)
                        : app_body(r, "hello", 5, 0);
        if (rc == 0 && r->pc == 1) {
            r->pc = 99;
        }
        break;
    case APP_ECHO:
    case APP_CONTINUE:
        if (r->pc == 0) {
            rc = app_receive(r);
            if (rc == 2) {
                app_end(r, 0);
                return;
            }
            if (rc == 1 || !r->body_delivered) {
                return; /* read again */
            }
            r->pc = 1;
            return;
        }
        if (r->pc == 1) {
            rc = app_start(r, 200, app_ct, 1, 0);
        } else if (r->pc == 2) {
            n = snprintf(line, sizeof(line), "%zu bytes", r->body_total);
            rc = app_body(r, line, (size_t)n, 1);
        } else {
            rc = app_body(r, "\n", 1, 0);
            r->pc = 98;
        }
        break;
    case APP_TRAILERS:
        if (r->pc == 0) {
            rc = app_start(r, 200, app_ct, 1, 1);
        } else if (r->pc == 1) {
            rc = app_body(r, "x", 1, 0);
        } else {
            rc = app_trailers(r, tr, 2, 0);
            r->pc = 98;
        }
        break;
    case APP_FAIL_EARLY:
        rc = -1;
        break;
    case APP_FAIL_LATE:
        if (r->pc == 0) {
            rc = app_start(r, 200, NULL, 0, 0);
        } else if (r->pc == 1) {
            rc = app_body(r, "part", 4, 1);
        } else {
            rc = -1;
        }
        break;
    case APP_HANG:
        rc = app_receive(r);
        if (rc == 2) {
            app_end(r, 0);
        }
        return; /* keep reading until the disconnect */
    case APP_BIG:
        if (r->pc == 0) {
            rc = app_start(r, 200, app_ct, 1, 0);
        } else if (r->pc <= 4) {
            rc = app_body(r, big, sizeof(big), r->pc < 4);
            if (r->pc == 4) {
                r->pc = 98;
            }
        }
        break;
    case APP_BAD_HEAD:
        rc = app_start(r, 200, bad, 1, 0);
        if (rc == 0) {
            abort(); /* a space in a name must be refused */
        }
        break;
    case APP_NO_CONTENT:
        if (r->pc == 0) {
            rc = app_start(r, (r->conn_id & 1) ? 204 : 304, NULL, 0, 0);
        } else {
            rc = app_body(r, "abc", 3, 0);
            r->pc = 98;
        }
        break;
    case APP_SHORT:
        if (r->pc == 0) {
            rc = app_start(r, 200, cl10, 1, 0);
        } else {
            rc = app_body(r, "12345", 5, 0);
            r->pc = 98;
        }
        break;
    case APP_LONG:
        if (r->pc == 0) {
            rc = app_start(r, 200, cl2, 1, 0);
        } else {
            rc = app_body(r, "12345", 5, 0);
            r->pc = 98;
        }
        break;
    case APP_PARTIAL:
        if (r->pc == 0) {
            rc = app_receive(r);
            if (rc == 2) {
                app_end(r, 0);
                return;
            }
            if (rc == 1) {
                return;
            }
            rc = 0;
        } else if (r->pc == 1) {
            rc = app_start(r, 413, app_ct, 1, 0);
        } else {
            rc = app_body(r, "too big", 7, 0);
            r->pc = 98;
        }
        break;
    case APP_EARLY:
    case APP_LINGER:
        /* Both send() calls in one step, as an app that answers without
         * awaiting anything else; APP_LINGER then only counts turns. */
        if (r->pc == 0) {
            rc = app_start(r, 200, app_ct, 1, 0);
            if (rc == 0) {
                rc = app_body(r, "early", 5, 0);
            }
        }
        break;
    case APP_RETURN:
    default:
        app_end(r, 0);
        return;
    }
    if (rc < 0) {
        app_end(r, 1);
        return;
    }
    r->pc++;
    if (r->behaviour == APP_LINGER && r->pc < 6) {
        return;
    }
    if (r->pc >= 99 || r->finished) {
        app_end(r, 0);
    }
}

/* Run one step of every app not waiting. Returns the number stepped. */
static size_t
app_run(void)
{
    am_asgi_request_t *r, *list[256];
    size_t n = 0, i;

    for (r = fake_requests; r != NULL && n < am_nitems(list); r = r->next) {
        if (!r->app_ended && !r->receive_waiting && !r->send_waiting) {
            r->refs++; /* alive while its step runs */
            list[n++] = r;
        }
    }
    for (i = 0; i < n; i++) {
        app_step(list[i]);
        fake_unref(list[i]);
    }
    return n;
}

/* ------------------------------------------------------ the driver */

static am_conf_t *fuzz_conf;
static am_listen_t fuzz_listen;
static am_event_t fuzz_listen_ev;
static struct sockaddr_un fuzz_addr;
static socklen_t fuzz_addrlen;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int fd;

    (void)argc;
    (void)argv;
    fuzz_conf = am_conf_create();
    /* Small limits so the limit paths are a few bytes away. */
    fuzz_conf->limit_request_line = 1024;
    fuzz_conf->limit_header_size = 4096;
    fuzz_conf->limit_header_count = 16;
    fuzz_conf->limit_body_size = 16384;
    fuzz_conf->limit_body_buffer = 4096;
    fuzz_conf->limit_chunk_extensions = 64;
    fuzz_conf->limit_write_buffer = 4096;
    fuzz_conf->h2_max_concurrent_streams = 8;
    fuzz_conf->h2_initial_window_size = 16384;
    fuzz_conf->h2_connection_window = 65535;
    fuzz_conf->h2_max_header_list_size = 4096;
    /* Budgets a few frames away, so their GOAWAY paths are reached. */
    fuzz_conf->h2_reset_budget = 6;
    fuzz_conf->h2_empty_frame_budget = 12;
    /* Every peer is a trusted proxy: Forwarded headers are parsed. */
    fuzz_conf->forwarded_all = 1;
    /* Timers never fire within a run: runs stay deterministic. */
    fuzz_conf->timeout_keepalive = 3600000;
    fuzz_conf->timeout_header_read = 3600000;
    fuzz_conf->timeout_body_read = 3600000;
    fuzz_conf->timeout_write = 3600000;
    fuzz_conf->timeout_h2_idle = 3600000;

    /* Every log line and access log entry is formatted, then dropped. */
    if (getenv("FUZZ_VERBOSE") == NULL) {
        am_log_open("/dev/null", "/dev/null");
    } else {
        am_log_open(NULL, "stderr");
    }
    am_log_level = AM_LOG_DEBUG;

    if (am_event_init() != AM_OK) {
        abort();
    }
    am_event_set_hooks(am_conn_flush_all);
    am_ctx.conf = fuzz_conf;
    am_http1_init(fuzz_conf);
    if (am_http2_init(fuzz_conf) != AM_OK) {
        abort();
    }

    /* The listener is a unix socket in the abstract namespace, so a
     * connection costs no port; the listener says AF_INET so the protocol
     * takes its TCP paths. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        abort();
    }
    memset(&fuzz_addr, 0, sizeof(fuzz_addr));
    fuzz_addr.sun_family = AF_UNIX;
    snprintf(fuzz_addr.sun_path + 1, sizeof(fuzz_addr.sun_path) - 1,
             "asgimaster-fuzz-%d", (int)getpid());
    fuzz_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                               strlen(fuzz_addr.sun_path + 1));
    if (bind(fd, (struct sockaddr *)&fuzz_addr, fuzz_addrlen) == -1 ||
        listen(fd, 16) == -1) {
        abort();
    }
    fuzz_listen.address = "127.0.0.1:8000";
    fuzz_listen.family = AF_INET;
    fuzz_listen.http2 = 1;
    fuzz_listen.fd = fd;
    fuzz_listen.mode = -1;
    fuzz_listen_ev.fd = fd;
    fuzz_listen_ev.handler = am_accept_on_readable;
    fuzz_listen_ev.data = &fuzz_listen;
    return 0;
}

/* Read and drop what the server wrote. Returns the byte count, or -1 at
 * EOF. */
static ssize_t
fuzz_drain(int fd)
{
    static char buf[65536];
    ssize_t n, total = 0;

    for (;;) {
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            total += n;
            continue;
        }
        if (n == 0) {
            return total > 0 ? total : -1;
        }
        return total;
    }
}

/* One loop turn as the worker runs it: Python's tasks, then the poll. */
static int
fuzz_turn(int client, int *eof)
{
    am_ready_fd_t ready[4];
    size_t stepped;
    ssize_t n;

    stepped = app_run();
    am_event_poll(0, ready, am_nitems(ready), NULL);
    n = client >= 0 ? fuzz_drain(client) : 0;
    if (n < 0) {
        *eof = 1;
        n = 0;
    }
    return stepped > 0 || n > 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 1, chunk, seed_chunk;
    int client, rounds = 0, idle = 0, eof = 0, stopped = 0;
    uint8_t seed;
    uint32_t prng;
    ssize_t n;

    if (size < 1) {
        return 0;
    }
    seed = data[0];
    /* Bits 0-3: write chunk size (0: everything at once); bit 4: graceful
     * stop after half the input; bits 5-7: the default app. */
    seed_chunk = seed & 0x0f;
    fake_default_behaviour = (seed >> 5) % APP_NBEHAVIOURS;
    prng = 0x9e3779b9u ^ seed;

    client = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (client == -1) {
        abort();
    }
    if (connect(client, (struct sockaddr *)&fuzz_addr, fuzz_addrlen) == -1) {
        abort();
    }
    am_accept_on_readable(&fuzz_listen_ev, EPOLLIN);
    if (am_conn_count != 1) {
        abort();
    }

    /* Feed the input in chunks, running the loop between writes. */
    while (off < size && rounds < FUZZ_MAX_ROUNDS && !eof) {
        if (seed_chunk == 0) {
            chunk = size - off;
        } else {
            prng = prng * 1103515245u + 12345u;
            chunk = 1 + (prng >> 16) % (seed_chunk * seed_chunk * 4);
            chunk = am_min(chunk, size - off);
        }
        n = send(client, data + off, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
        } else if (n == -1 && errno != EAGAIN) {
            break; /* the server closed */
        }
        if ((seed & 0x10) && !stopped && off >= size / 2) {
            stopped = 1;
            am_ctx.stopping = 1;
            am_conn_shutdown_all();
        }
        fuzz_turn(client, &eof);
        rounds++;
    }
    /* Let the apps and the protocol finish what they can. */
    while (rounds < FUZZ_MAX_ROUNDS && idle < FUZZ_IDLE_ROUNDS && !eof) {
        idle = fuzz_turn(client, &eof) ? 0 : idle + 1;
        rounds++;
    }
    /* The client half-closes, then goes away. */
    shutdown(client, SHUT_WR);
    for (idle = 0; idle < FUZZ_IDLE_ROUNDS && rounds < FUZZ_MAX_ROUNDS * 2;
         rounds++) {
        idle = fuzz_turn(client, &eof) ? 0 : idle + 1;
    }
    close(client);
    for (idle = 0;
         (am_conn_count > 0 || am_asgi_running > 0) && idle < FUZZ_MAX_ROUNDS;
         idle++) {
        fuzz_turn(-1, &eof);
    }
    if (am_conn_count > 0) {
        /* A connection that outlives its client: stuck in a state no
         * event leaves. */
        fprintf(stderr,
                "fuzz_http1: %zu connections left after the client "
                "closed\n",
                am_conn_count);
        abort();
    }
    /* Nothing may outlive the connection. */
    for (idle = 0; am_asgi_running > 0 && idle < 16; idle++) {
        fuzz_turn(-1, &eof);
    }
    if (fake_live > 0) {
        am_asgi_request_t *r = fake_requests;

        fprintf(stderr,
                "fuzz_http1: %zu requests never released (behaviour %d, "
                "stream %u, app_ended %d)\n",
                fake_live, r->behaviour, r->stream_id, r->app_ended);
        abort();
    }
    if (am_asgi_running != 0) {
        abort();
    }
    am_ctx.stopping = 0;
    return 0;
}
