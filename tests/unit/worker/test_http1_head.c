/* tests/unit/worker/test_http1_head.c: the HTTP/1.1 request side
 * (worker/http1_request.c) driven with input in a connection's buffer, as
 * http1.c drives it: the request line and fields become the
 * protocol-neutral head handed to the bridge (a fake here, as in
 * tests/fuzz/fuzz_http1.c: no Python), the body reaches the bridge, and
 * every refusal gets the status RFC 9112 names, whatever the segmentation
 * (issue 10 items 1-8). Also the h2c offer (worker/h2c.c) and the request
 * state machine.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "worker/ctx.h"
#include "worker/http1_conn.h"

/* ------------------------------------------------ fakes of what is not
 * linked: the bridge, the loop's timers, the connection's output, the
 * HTTP/2 side of h2c, the metrics endpoint and http1.c's error answer. */

static struct {
    int created;
    char method[16], path[256], query[256], scheme[8], version[4];
    size_t nheaders;
    char names[16][32];
    int has_body, trailers_allowed;
    char body[256];
    size_t body_len;
    int body_done;    /* am_asgi_request_body() without more */
    int rate_started; /* am_http1_rate_start() */
    int error_status; /* am_http1_error() */
    int upgraded;     /* am_http2_upgrade() */
    int websocket;    /* am_ws_h1_start() */
    size_t upgrade_nheaders;
    char written[256];
} seen;

static void
copy(char *dst, size_t size, const char *src, size_t len)
{
    len = len < size - 1 ? len : size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

am_asgi_request_t *
am_asgi_request_create(const am_asgi_head_t *head, const am_asgi_ops_t *ops,
                       void *stream, uint64_t conn_id, uint32_t stream_id)
{
    seen.created++;
    copy(seen.method, sizeof(seen.method), head->method, head->method_len);
    copy(seen.path, sizeof(seen.path), head->path, head->path_len);
    copy(seen.query, sizeof(seen.query), head->query, head->query_len);
    copy(seen.scheme, sizeof(seen.scheme), head->scheme, strlen(head->scheme));
    copy(seen.version, sizeof(seen.version), head->http_version,
         strlen(head->http_version));
    seen.nheaders = head->nheaders;
    for (size_t i = 0; i < head->nheaders && i < 16; i++) {
        copy(seen.names[i], sizeof(seen.names[i]), head->headers[i].name,
             head->headers[i].name_len);
    }
    seen.has_body = head->has_body;
    seen.trailers_allowed = head->trailers_allowed;
    return (am_asgi_request_t *)&seen; /* never dereferenced */
}

void
am_asgi_request_body(am_asgi_request_t *r, const char *data, size_t len,
                     int more)
{
    if (len > 0 && seen.body_len + len < sizeof(seen.body)) {
        memcpy(seen.body + seen.body_len, data, len);
        seen.body_len += len;
    }
    if (!more) {
        seen.body_done = 1;
    }
}

void
am_http1_rate_start(am_http1_t *h)
{
    seen.rate_started = 1;
}

void
am_http1_rate_stop(am_http1_t *h)
{
}

void
am_http1_pfields_take(am_http1_t *h)
{
    if (h->pfields == NULL) {
        h->pfields = calloc(h->pfields_cap, sizeof(h->pfields[0]));
    }
}

const am_asgi_ops_t am_http1_response_ops;

void
am_http1_error(am_http1_t *h, int status)
{
    seen.error_status = status;
}

int
am_metrics_respond(am_conn_t *c, const char *target, size_t len, int is_get,
                   int is_head)
{
    return 404;
}

void
am_timer_add(am_timer_t *t, am_msec_t after)
{
}

void
am_timer_del(am_timer_t *t)
{
}

void
am_conn_write_str(am_conn_t *c, const char *s)
{
    copy(seen.written, sizeof(seen.written), s, strlen(s));
}

int
am_http2_upgrade(am_conn_t *c, const uint8_t *settings, size_t len,
                 const am_asgi_head_t *head)
{
    seen.upgraded = 1;
    seen.upgrade_nheaders = head->nheaders;
    return AM_OK;
}

int
am_ws_h1_is_upgrade(const am_asgi_head_t *head)
{
    for (size_t i = 0; i < head->nheaders; i++) {
        if (head->headers[i].name_len == 7 &&
            strncasecmp(head->headers[i].name, "upgrade", 7) == 0 &&
            head->headers[i].value_len == 9 &&
            strncasecmp(head->headers[i].value, "websocket", 9) == 0) {
            return 1;
        }
    }
    return 0;
}

void
am_ws_h1_start(am_conn_t *c, const am_asgi_head_t *head)
{
    seen.websocket = 1;
}

/* ------------------------------------------------------------ driver */

static am_listen_t listener;
static am_conn_t conn;
static am_http1_t h1;

static am_http1_t *
start(void)
{
    am_h1_limits_t limits;

    memset(&seen, 0, sizeof(seen));
    if (am_ctx.conf == NULL) {
        am_ctx.conf = am_conf_create();
    }
    memset(&listener, 0, sizeof(listener));
    listener.family = AF_INET;
    listener.http2 = 1;
    /* The previous request's buffers (LeakSanitizer checks at exit). */
    am_buf_free(&conn.rbuf);
    memset(&conn, 0, sizeof(conn));
    conn.id = 1;
    conn.listen = &listener;
    strcpy(conn.client_host, "127.0.0.1");
    am_buf_free(&h1.head);
    free(h1.fields);
    free(h1.pfields);
    memset(&h1, 0, sizeof(h1));
    h1.c = &conn;
    am_http1_parser_limits(am_ctx.conf, &limits);
    am_h1_parser_init(&h1.parser, &limits);
    h1.pfields_cap = limits.max_fields;
    h1.pfields = calloc(h1.pfields_cap, sizeof(h1.pfields[0]));
    return &h1;
}

/* Run the request side over what is buffered, as http1.c's loop does. */
static int
run(am_http1_t *h)
{
    int rc = AM_OK;

    while (am_buf_size(&conn.rbuf) > 0 || h->state == AM_HTTP1_IDLE) {
        if (h->state <= AM_HTTP1_HEAD) {
            rc = am_http1_read_head(h);
        } else if (h->state == AM_HTTP1_BODY) {
            rc = am_http1_read_body(h);
        } else {
            break;
        }
        if (rc == AM_ERROR || rc == AM_AGAIN) {
            break;
        }
    }
    return rc;
}

/* Feed req (len bytes) at once, or in pieces of step bytes; returns the
 * status of a refusal, 0 when the head was accepted, -1 when the head is
 * still incomplete. */
static int
feed_len(am_http1_t *h, const char *req, size_t len, size_t step)
{
    size_t off = 0, n;
    int rc = AM_AGAIN;

    do {
        n = step && len - off > step ? step : len - off;
        am_buf_append(&conn.rbuf, req + off, n);
        off += n;
        rc = run(h);
    } while (rc != AM_ERROR && off < len);
    if (rc == AM_ERROR) {
        return seen.error_status;
    }
    return h->state <= AM_HTTP1_HEAD ? -1 : 0;
}

static int
feed(am_http1_t *h, const char *req)
{
    return feed_len(h, req, strlen(req), 0);
}

/* The same verdict and request, fed whole and byte by byte. */
static int
feed_both(const char *req)
{
    int whole = feed(start(), req), bytewise;
    char body[sizeof(seen.body)];
    size_t body_len = seen.body_len;
    int created = seen.created;

    memcpy(body, seen.body, body_len);
    bytewise = feed_len(start(), req, strlen(req), 1);
    ASSERT_EQ(whole, bytewise);
    ASSERT_EQ(created, seen.created);
    if (whole == 0) {
        /* (A refused body may have reached the app in other pieces.) */
        ASSERT_EQ(body_len, seen.body_len);
        ASSERT_TRUE(memcmp(body, seen.body, body_len) == 0);
    }
    return whole;
}

TEST(origin_form_head)
{
    am_http1_t *h = start();

    ASSERT_EQ(feed(h, "GET /a/b?x=1&y HTTP/1.1\r\nHost: h\r\n"
                      "X-Custom: v \r\n\r\n"),
              0);
    ASSERT_EQ(seen.created, 1);
    ASSERT_STR_EQ(seen.method, "GET");
    ASSERT_STR_EQ(seen.path, "/a/b");
    ASSERT_STR_EQ(seen.query, "x=1&y");
    ASSERT_STR_EQ(seen.scheme, "http");
    ASSERT_STR_EQ(seen.version, "1.1");
    ASSERT_EQ(seen.nheaders, 2);
    ASSERT_STR_EQ(seen.names[0], "host");
    ASSERT_STR_EQ(seen.names[1], "x-custom"); /* lowercased */
    ASSERT_EQ(seen.has_body, 0);
    ASSERT_EQ(h->state, AM_HTTP1_DONE); /* no body: the message is read */
    ASSERT_EQ(seen.body_done, 1);
    ASSERT_EQ(h->keepalive, 1);
    ASSERT_EQ(h->url_len, 10);
    ASSERT_EQ(h->nfields, 2);
    ASSERT_EQ(seen.rate_started, 0);
}

/* RFC 9112 §3.2.2 absolute-form; asterisk-form keeps the target. */
TEST(absolute_and_asterisk_forms)
{
    am_http1_t *h = start();

    ASSERT_EQ(feed(h, "GET http://example.com/p?q HTTP/1.1\r\nHost: e\r\n\r\n"),
              0);
    ASSERT_STR_EQ(seen.path, "/p");
    ASSERT_STR_EQ(seen.query, "q");
    h = start();
    ASSERT_EQ(feed(h, "GET http://example.com HTTP/1.1\r\nHost: e\r\n\r\n"), 0);
    ASSERT_STR_EQ(seen.path, "/");
    h = start();
    ASSERT_EQ(feed(h, "OPTIONS * HTTP/1.1\r\nHost: e\r\n\r\n"), 0);
    ASSERT_STR_EQ(seen.path, "*");
    ASSERT_STR_EQ(seen.query, "");
}

/* RFC 9112 §3.2: Host exactly once in 1.1, and well-formed. */
TEST(host_rules)
{
    ASSERT_EQ(feed(start(), "GET / HTTP/1.1\r\n\r\n"), 400);
    ASSERT_EQ(seen.created, 0);
    ASSERT_EQ(seen.error_status, 400);
    ASSERT_EQ(feed(start(), "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
              400);
    ASSERT_EQ(feed(start(), "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
    ASSERT_EQ(feed(start(), "GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n"), 400);
    ASSERT_EQ(feed(start(), "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), 0);
    /* HTTP/1.0 needs none. */
    ASSERT_EQ(feed(start(), "GET / HTTP/1.0\r\n\r\n"), 0);
    ASSERT_STR_EQ(seen.version, "1.0");
}

/* RFC 9112 §6.1, §6.3: chunked last and once (400); other codings 501. */
TEST(transfer_encoding_rules)
{
    ASSERT_EQ(feed(start(), "POST / HTTP/1.1\r\nHost: a\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"),
              0);
    ASSERT_EQ(seen.has_body, 1);
    ASSERT_EQ(feed(start(), "POST / HTTP/1.1\r\nHost: a\r\n"
                            "Transfer-Encoding: gzip, chunked\r\n\r\n"),
              501);
    ASSERT_EQ(feed(start(), "POST / HTTP/1.1\r\nHost: a\r\n"
                            "Transfer-Encoding: chunked\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"),
              400);
    ASSERT_EQ(seen.created, 0);
}

TEST(limits)
{
    am_conf_t *conf;
    char big[512];

    start();
    conf = am_ctx.conf;
    conf->limit_body_size = 10;
    ASSERT_EQ(feed(start(), "POST / HTTP/1.1\r\nHost: a\r\n"
                            "Content-Length: 11\r\n\r\n"),
              413);
    ASSERT_EQ(feed(start(), "POST / HTTP/1.1\r\nHost: a\r\n"
                            "Content-Length: 10\r\n\r\n"),
              0);
    ASSERT_EQ(seen.has_body, 1);
    conf->limit_request_line = 16;
    ASSERT_EQ(feed(start(), "GET /0123456789abcdef HTTP/1.1\r\n\r\n"), 414);
    conf->limit_request_line = 8192;
    conf->limit_header_count = 2;
    ASSERT_EQ(
        feed(start(), "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n"),
        431);
    conf->limit_header_count = 100;
    conf->limit_header_size = 100;
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\nA: %0200d\r\n\r\n",
             0);
    ASSERT_EQ(feed(start(), big), 431);
}

/* RFC 9112 §2.3: only HTTP/1.x is served here. */
TEST(version_505)
{
    ASSERT_EQ(feed(start(), "GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
    ASSERT_EQ(feed(start(), "GET / HTTP/3.1\r\nHost: a\r\n\r\n"), 505);
}

TEST(expect_and_te_trailers)
{
    am_http1_t *h = start();

    ASSERT_EQ(feed(h, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                      "Expect: 100-continue\r\nTE: trailers\r\n\r\n"),
              0);
    ASSERT_EQ(h->expect_continue, 1);
    ASSERT_EQ(seen.trailers_allowed, 1);
    ASSERT_EQ(h->state, AM_HTTP1_BODY); /* the body is still to come */
    /* The client waits for 100 Continue: the body's clock waits too. */
    ASSERT_EQ(seen.rate_started, 0);
    h = start();
    ASSERT_EQ(feed(h, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                      "\r\n"),
              0);
    ASSERT_EQ(seen.rate_started, 1);
    /* Without a body there is nothing to continue. */
    h = start();
    ASSERT_EQ(feed(h, "GET / HTTP/1.1\r\nHost: a\r\n"
                      "Expect: 100-continue\r\n\r\n"),
              0);
    ASSERT_EQ(h->expect_continue, 0);
}

/* RFC 7540 §3.2: a complete offer switches, hop-by-hop fields dropped. */
TEST(h2c_offer)
{
    am_http1_t *h = start();

    ASSERT_EQ(feed(h,
                   "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n"
                   "Connection: Upgrade, HTTP2-Settings\r\n"
                   "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"),
              0);
    ASSERT_EQ(seen.upgraded, 1);
    ASSERT_EQ(seen.created, 0);
    ASSERT_EQ(seen.upgrade_nheaders, 2); /* host, accept */
    ASSERT_TRUE(strncmp(seen.written, "HTTP/1.1 101 ", 13) == 0);
    ASSERT_EQ(h->state, AM_HTTP1_UPGRADED);

    /* HTTP2-Settings not named in Connection: served as HTTP/1.1. */
    h = start();
    ASSERT_EQ(feed(h,
                   "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                   "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"),
              0);
    ASSERT_EQ(seen.upgraded, 0);
    ASSERT_EQ(seen.created, 1);
    /* A bad SETTINGS value (ENABLE_PUSH 2) is no upgrade either. */
    h = start();
    ASSERT_EQ(feed(h, "GET / HTTP/1.1\r\nHost: a\r\n"
                      "Connection: Upgrade, HTTP2-Settings\r\n"
                      "Upgrade: h2c\r\nHTTP2-Settings: AAIAAAAC\r\n\r\n"),
              0);
    ASSERT_EQ(seen.upgraded, 0);
    ASSERT_EQ(seen.created, 1);
}

/* RFC 6455 §4.2.1: a GET with Upgrade: websocket goes to ws_h1.c; a
 * POST is served as HTTP. */
TEST(websocket_handed_over)
{
    am_http1_t *h = start();

    ASSERT_EQ(feed(h, "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\n\r\n"),
              0);
    ASSERT_EQ(seen.websocket, 1);
    ASSERT_EQ(seen.created, 0);
    ASSERT_EQ(h->state, AM_HTTP1_UPGRADED);

    h = start();
    ASSERT_EQ(feed(h, "POST /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nContent-Length: 0\r\n\r\n"),
              0);
    ASSERT_EQ(seen.websocket, 0);
    ASSERT_EQ(seen.created, 1);
}

static int
aborts(void (*fn)(void))
{
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        fclose(stderr); /* the ALERT line is expected */
        fn();
        _exit(0);
    }
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void
skip_head(void)
{
    am_http1_t *h = start();

    am_http1_set_state(h, AM_HTTP1_BODY); /* IDLE -> BODY skips HEAD */
}

static void
upgrade_when_done(void)
{
    am_http1_t *h = start();

    am_http1_set_state(h, AM_HTTP1_HEAD);
    am_http1_set_state(h, AM_HTTP1_BODY);
    am_http1_set_state(h, AM_HTTP1_DONE);
    am_http1_set_state(h, AM_HTTP1_UPGRADED);
}

static void
next_while_reading(void)
{
    am_http1_t *h = start();

    am_http1_set_state(h, AM_HTTP1_HEAD);
    am_http1_set_state(h, AM_HTTP1_IDLE);
}

TEST(request_state_transitions)
{
    am_http1_t *h = start();

    am_http1_set_state(h, AM_HTTP1_HEAD);
    am_http1_set_state(h, AM_HTTP1_BODY);
    am_http1_set_state(h, AM_HTTP1_DONE);
    am_http1_set_state(h, AM_HTTP1_IDLE);
    ASSERT_EQ(h->state, AM_HTTP1_IDLE);
    ASSERT_TRUE(aborts(skip_head));
    ASSERT_TRUE(aborts(upgrade_when_done));
    ASSERT_TRUE(aborts(next_while_reading));
}

/* Bodies reach the bridge, whole and byte by byte; the message ends. */
TEST(bodies)
{
    ASSERT_EQ(feed_both("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                        "\r\nhello"),
              0);
    ASSERT_EQ(seen.body_len, 5);
    ASSERT_TRUE(memcmp(seen.body, "hello", 5) == 0);
    ASSERT_EQ(seen.body_done, 1);
    ASSERT_EQ(h1.state, AM_HTTP1_DONE);
    ASSERT_EQ(seen.rate_started, 1);

    ASSERT_EQ(feed_both("POST / HTTP/1.1\r\nHost: a\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"
                        "5;a=b\r\nhello\r\n6\r\n world\r\n0\r\n"
                        "Trailer-A: x\r\n\r\n"),
              0);
    ASSERT_EQ(seen.body_len, 11);
    ASSERT_TRUE(memcmp(seen.body, "hello world", 11) == 0);
    ASSERT_EQ(seen.body_done, 1);
    ASSERT_EQ(h1.state, AM_HTTP1_DONE);
    ASSERT_EQ(am_buf_size(&conn.rbuf), 0);

    /* The next pipelined request stays in the buffer for later. */
    ASSERT_EQ(feed(start(), "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2"
                            "\r\n\r\nhiGET / HTTP/1.1\r\n"),
              0);
    ASSERT_EQ(h1.state, AM_HTTP1_DONE);
    ASSERT_EQ(am_buf_size(&conn.rbuf), 16);
}

/* A chunked body that grows past limits.body_size: 413. */
TEST(chunked_body_limit)
{
    start();
    am_ctx.conf->limit_body_size = 8;
    ASSERT_EQ(feed_both("POST / HTTP/1.1\r\nHost: a\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"),
              413);
    am_ctx.conf->limit_body_size = (size_t)100 * 1024 * 1024;
}

/* Issue 10 items 1-8, each refused (or served) the same however the
 * bytes arrive, and never handed to the app when refused. */
TEST(issue10_hostile_heads)
{
    /* created: the head was good, the app started (and then saw the
     * body refused: http.disconnect). */
    static const struct {
        const char *req;
        int status;
        int created;
    } cases[] = {
        /* 1: Transfer-Encoding in HTTP/1.0 is faulty framing (§6.1). */
        { "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
          "Connection: keep-alive\r\n\r\n0\r\n\r\nGET /s HTTP/1.1\r\n\r\n",
          400, 0 },
        { "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
          "Content-Length: 5\r\n\r\n0\r\n\r\n",
          400, 0 },
        /* CL + TE in HTTP/1.1 (§6.1). */
        { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
          "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
          400, 0 },
        /* 2: lenient chunk-size lines (§7.1). */
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
          "5 \r\nhello\r\n0\r\n\r\n",
          400, 1 },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
          "0 GET /x HTTP/1.1\r\n\r\n",
          400, 1 },
        /* 4: HTTP/0.9 is answered at the line's end. */
        { "GET /\r\n", 400, 0 },
        /* 5: a fragment (§3.2). */
        { "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0 },
        /* 6: any token is a method (RFC 9110 §9.1). */
        { "-BLARGH /m HTTP/1.1\r\nHost: a\r\n\r\n", 0, 1 },
        { "M.1~! /m HTTP/1.1\r\nHost: a\r\n\r\n", 0, 1 },
        /* 7: absolute-form is an RFC 3986 absolute-URI. */
        { "PUT s://]ufd/: HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0 },
        { "PUT http://h:80x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0 },
        /* 8: garbage and PRI lines (the preface is http1.c's). */
        { "P\x01I / HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0 },
        { "PRI / HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0 },
        { "GET / HTXP/1.1\r\nHost: x\r\n\r\n", 400, 0 },
        { "\x16\x03\x01garbage\r\n\r\n", 400, 0 },
    };

    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int status = feed_both(cases[i].req);

        if (status != cases[i].status) {
            fprintf(stderr, "  case %zu: %d, not %d\n", i, status,
                    cases[i].status);
        }
        ASSERT_EQ(status, cases[i].status);
        ASSERT_EQ(seen.created, cases[i].created);
    }
    feed(start(), "FOO /m HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_STR_EQ(seen.method, "FOO");
}

/* 3: limits.chunk_extensions bounds the extension bytes of a request. */
TEST(issue10_chunk_extensions)
{
    char req[2048];
    int n;

    start();
    am_ctx.conf->limit_chunk_extensions = 16;
    n = snprintf(req, sizeof(req),
                 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
                 "\r\n\r\n1;abcdef\r\nx\r\n1;abcdef\r\ny\r\n0\r\n\r\n");
    ASSERT_TRUE(n > 0);
    ASSERT_EQ(feed_both(req), 0);
    ASSERT_EQ(seen.body_len, 2);
    n = snprintf(req, sizeof(req),
                 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
                 "\r\n\r\n1;abcdef\r\nx\r\n1;abcdef\r\ny\r\n1;abcdef\r\nz"
                 "\r\n0\r\n\r\n");
    ASSERT_TRUE(n > 0);
    ASSERT_EQ(feed_both(req), 400);
    am_ctx.conf->limit_chunk_extensions = 4096;
}
