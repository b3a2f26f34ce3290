/* tests/unit/worker/test_http2_stream.c: an HTTP/2 stream's life
 * (worker/http2_stream.c) without a session: its response state only moves
 * forward, streams are linked and unlinked with the idle timer armed when
 * the last goes, and the protocol-neutral head is built from
 * pseudo-headers (RFC 9113 §8.3.1: :authority as Host, cookie crumbs
 * joined, a missing :method or target refused with 400). The bridge is a
 * fake, as in tests/fuzz/fuzz_http1.c. Closed streams are reused with
 * their buffers, as new.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "worker/ctx.h"
#include "worker/http2_conn.h"

/* ------------------------------------------------------------- fakes */

static struct {
    int created, released, timer_adds, schedules;
    int ws_started, ws_destroyed;
    char protocol[16];
    uint32_t stream_id;
    char method[16], path[64], query[64], scheme[8];
    size_t nheaders;
    char names[8][16], values[8][64];
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
    seen.stream_id = stream_id;
    copy(seen.method, sizeof(seen.method), head->method, head->method_len);
    copy(seen.path, sizeof(seen.path), head->path, head->path_len);
    copy(seen.query, sizeof(seen.query), head->query, head->query_len);
    copy(seen.scheme, sizeof(seen.scheme), head->scheme, strlen(head->scheme));
    seen.nheaders = head->nheaders;
    for (size_t i = 0; i < head->nheaders && i < 8; i++) {
        copy(seen.names[i], sizeof(seen.names[i]), head->headers[i].name,
             head->headers[i].name_len);
        copy(seen.values[i], sizeof(seen.values[i]), head->headers[i].value,
             head->headers[i].value_len);
    }
    return (am_asgi_request_t *)&seen;
}

void
am_asgi_request_release(am_asgi_request_t *r)
{
    seen.released++;
}

void
am_asgi_request_disconnect(am_asgi_request_t *r)
{
}

void
am_http2_response_error(am_http2_stream_t *s, int status)
{
}

const am_asgi_ops_t am_http2_response_ops;

void
am_http2_schedule(am_http2_t *h2)
{
    seen.schedules++;
}

void
am_timer_add(am_timer_t *t, am_msec_t after)
{
    seen.timer_adds++;
}

void
am_timer_del(am_timer_t *t)
{
}

int
am_http2_ws_start(am_http2_stream_t *s, const am_asgi_head_t *head,
                  const char *protocol, size_t len)
{
    seen.ws_started++;
    copy(seen.protocol, sizeof(seen.protocol), protocol, len);
    copy(seen.path, sizeof(seen.path), head->path, head->path_len);
    s->ws = (am_http2_ws_t *)&seen; /* never dereferenced */
    return 0;
}

void
am_http2_ws_destroy(am_http2_stream_t *s)
{
    seen.ws_destroyed++;
    s->ws = NULL;
}

/* ------------------------------------------------------------ driver */

static am_listen_t listener;
static am_conn_t conn;
static am_http2_t h2;

static void
setup(void)
{
    /* Streams of the previous case (LeakSanitizer checks at exit). */
    while (h2.streams != NULL) {
        am_http2_stream_destroy(h2.streams);
    }
    memset(&seen, 0, sizeof(seen));
    if (am_ctx.conf == NULL) {
        am_ctx.conf = am_conf_create();
    }
    memset(&listener, 0, sizeof(listener));
    listener.family = AF_INET;
    memset(&conn, 0, sizeof(conn));
    conn.id = 88;
    conn.listen = &listener;
    strcpy(conn.client_host, "127.0.0.1");
    memset(&h2, 0, sizeof(h2));
    h2.c = &conn;
}

/* Add a field to the stream's head as http2.c's on_header does. */
static void
field(am_http2_stream_t *s, const char *name, const char *value)
{
    am_field_t *f;

    s->fields = realloc(s->fields, (s->nfields + 1) * sizeof(*s->fields));
    f = &s->fields[s->nfields];
    f->name_off = (uint32_t)s->head.len;
    f->name_len = (uint32_t)strlen(name);
    am_buf_append(&s->head, name, f->name_len);
    f->value_off = (uint32_t)s->head.len;
    f->value_len = (uint32_t)strlen(value);
    am_buf_append(&s->head, value, f->value_len);
    if (strcmp(name, ":method") == 0) {
        s->method = (int32_t)s->nfields;
    } else if (strcmp(name, ":path") == 0) {
        s->path = (int32_t)s->nfields;
    } else if (strcmp(name, ":scheme") == 0) {
        s->scheme = (int32_t)s->nfields;
    } else if (strcmp(name, ":authority") == 0) {
        s->authority = (int32_t)s->nfields;
    } else if (strcmp(name, ":protocol") == 0) {
        s->protocol = (int32_t)s->nfields;
    }
    s->nfields++;
}

/* RFC 8441 §4: an extended CONNECT goes to http2_ws.c, not the app. */
TEST(extended_connect_to_websocket)
{
    am_http2_stream_t *s;

    setup();
    s = am_http2_stream_create(&h2, 3);
    field(s, ":method", "CONNECT");
    field(s, ":protocol", "websocket");
    field(s, ":scheme", "https");
    field(s, ":path", "/chat?room=1");
    field(s, ":authority", "example.com");
    ASSERT_EQ(am_http2_stream_start(&h2, s), 0);
    ASSERT_EQ(seen.ws_started, 1);
    ASSERT_EQ(seen.created, 0);
    ASSERT_STR_EQ(seen.protocol, "websocket");
    ASSERT_STR_EQ(seen.path, "/chat");
    am_http2_stream_destroy(s);
    ASSERT_EQ(seen.ws_destroyed, 1);
}

TEST(state_moves_forward)
{
    am_http2_stream_t *s;

    setup();
    s = am_http2_stream_create(&h2, 5);
    ASSERT_EQ(s->state, AM_HTTP2_STREAM_OPEN);
    am_http2_stream_set_state(s, AM_HTTP2_STREAM_OPEN); /* the app's start */
    am_http2_stream_set_state(s, AM_HTTP2_STREAM_SEND_BODY);
    am_http2_stream_set_state(s, AM_HTTP2_STREAM_SEND_FINAL);
    /* HEAD/204/304 end in HEADERS, trailers end it again: allowed. */
    am_http2_stream_set_state(s, AM_HTTP2_STREAM_SEND_FINAL);
    ASSERT_EQ(s->state, AM_HTTP2_STREAM_SEND_FINAL);
}

static void
move_back(void)
{
    am_http2_stream_t *s;

    setup();
    s = am_http2_stream_create(&h2, 5);
    am_http2_stream_set_state(s, AM_HTTP2_STREAM_SEND_BODY);
    am_http2_stream_set_state(s, AM_HTTP2_STREAM_OPEN);
}

static void
move_out_of_range(void)
{
    am_http2_stream_t *s;

    setup();
    s = am_http2_stream_create(&h2, 5);
    am_http2_stream_set_state(s, (am_http2_stream_state_t)7);
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

TEST(state_never_moves_back)
{
    ASSERT_TRUE(aborts(move_back));
    ASSERT_TRUE(aborts(move_out_of_range));
}

TEST(streams_link_and_idle_timer)
{
    am_http2_stream_t *a, *b;

    setup();
    a = am_http2_stream_create(&h2, 1);
    b = am_http2_stream_create(&h2, 3);
    ASSERT_EQ(h2.nstreams, 2);
    ASSERT_TRUE(h2.streams == b && b->next == a && a->prev == b);
    am_http2_stream_destroy(b);
    ASSERT_EQ(h2.nstreams, 1);
    ASSERT_TRUE(h2.streams == a && a->prev == NULL);
    ASSERT_EQ(seen.timer_adds, 0); /* a stream is still open */
    am_http2_stream_destroy(a);
    ASSERT_EQ(h2.nstreams, 0);
    ASSERT_TRUE(h2.streams == NULL);
    ASSERT_EQ(seen.timer_adds, 1); /* timeouts.h2_idle runs again */
    /* During a graceful stop the connection is not kept for idling. */
    a = am_http2_stream_create(&h2, 5);
    am_ctx.stopping = 1;
    am_http2_stream_destroy(a);
    am_ctx.stopping = 0;
    ASSERT_EQ(seen.timer_adds, 1);
}

TEST(head_from_pseudo_headers)
{
    am_http2_stream_t *s;

    setup();
    s = am_http2_stream_create(&h2, 5);
    field(s, ":method", "POST");
    field(s, ":scheme", "https");
    field(s, ":authority", "example.com");
    field(s, ":path", "/a?b=1");
    field(s, "cookie", "x=1");
    field(s, "accept", "*/*");
    field(s, "cookie", "y=2");
    ASSERT_EQ(am_http2_stream_start(&h2, s), 0);
    ASSERT_EQ(seen.created, 1);
    ASSERT_EQ(seen.stream_id, 5);
    ASSERT_STR_EQ(seen.method, "POST");
    ASSERT_STR_EQ(seen.path, "/a");
    ASSERT_STR_EQ(seen.query, "b=1");
    ASSERT_STR_EQ(seen.scheme, "https");
    ASSERT_EQ(seen.nheaders, 3);
    ASSERT_STR_EQ(seen.names[0], "host"); /* :authority, first */
    ASSERT_STR_EQ(seen.values[0], "example.com");
    ASSERT_STR_EQ(seen.names[1], "accept");
    ASSERT_STR_EQ(seen.names[2], "cookie");
    ASSERT_STR_EQ(seen.values[2], "x=1; y=2"); /* RFC 9113 §8.2.3 */
}

TEST(head_refusals)
{
    am_http2_stream_t *s;

    setup();
    s = am_http2_stream_create(&h2, 1);
    field(s, ":path", "/");
    ASSERT_EQ(am_http2_stream_start(&h2, s), 400); /* no :method */
    s = am_http2_stream_create(&h2, 3);
    field(s, ":method", "GET");
    ASSERT_EQ(am_http2_stream_start(&h2, s), 400); /* no target */
    ASSERT_EQ(seen.created, 0);
    /* CONNECT (RFC 9113 §8.5): the authority is the target. */
    s = am_http2_stream_create(&h2, 5);
    field(s, ":method", "CONNECT");
    field(s, ":authority", "example.com:443");
    ASSERT_EQ(am_http2_stream_start(&h2, s), 0);
    ASSERT_STR_EQ(seen.path, "example.com:443");
}

TEST(closed_streams_are_reused_with_their_buffers)
{
    am_http2_stream_t *a, *b, *big[3];
    char *head, *nvbuf;
    am_field_t *fields;

    setup();
    am_http2_stream_trim();
    ASSERT_EQ(am_http2_stream_kept(), 0);
    a = am_http2_stream_create(&h2, 1);
    ASSERT_TRUE(a->head.data != NULL && a->nvbuf.data != NULL);
    ASSERT_TRUE(a->fields != NULL && a->fields_cap > 0);
    am_buf_append(&a->head, ":path/x", 7);
    a->nfields = 1;
    a->status = 200;
    a->logged = 1;
    head = a->head.data;
    nvbuf = a->nvbuf.data;
    fields = a->fields;
    am_http2_stream_destroy(a);
    ASSERT_EQ(am_http2_stream_kept(), 1);

    /* The next stream is the same memory, as new: nothing of the last. */
    b = am_http2_stream_create(&h2, 3);
    ASSERT_EQ(am_http2_stream_kept(), 0);
    ASSERT_TRUE(b->head.data == head && b->nvbuf.data == nvbuf);
    ASSERT_TRUE(b->fields == fields);
    ASSERT_EQ(b->head.len, 0);
    ASSERT_EQ(b->nfields, 0);
    ASSERT_EQ(b->status, 0);
    ASSERT_EQ(b->logged, 0);
    ASSERT_EQ(b->id, 3);
    ASSERT_EQ(b->method, -1);

    /* A head that grew past what is kept is freed, the stream kept. */
    for (int i = 0; i < 100; i++) {
        am_buf_append(&b->head,
                      "0123456789abcdefghijklmnopqrstuvwxyz01234567"
                      "89abcdefghijklmnopqrstuvwxyz",
                      64);
    }
    am_http2_stream_destroy(b);
    ASSERT_EQ(am_http2_stream_kept(), 1);
    a = am_http2_stream_create(&h2, 5);
    ASSERT_TRUE(a->head.data != NULL && a->head.cap <= 4096);
    ASSERT_EQ(a->head.len, 0);

    /* Trim frees every kept stream. */
    big[0] = a;
    big[1] = am_http2_stream_create(&h2, 7);
    big[2] = am_http2_stream_create(&h2, 9);
    for (int i = 0; i < 3; i++) {
        am_http2_stream_destroy(big[i]);
    }
    ASSERT_EQ(am_http2_stream_kept(), 3);
    am_http2_stream_trim();
    ASSERT_EQ(am_http2_stream_kept(), 0);
}
