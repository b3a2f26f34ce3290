/* tests/unit/worker/test_request.c: the protocol-neutral request layer
 * (worker/request.c): trusted proxies' facts applied once to a head (by
 * token: Forwarded, X-Forwarded-For, X-Forwarded-Proto, several lines of
 * one field joined), an untrusted peer ignored, and the request-done record
 * (counters, the worker's max_requests hook, the access log line with the
 * referer and user-agent found by token), and the response checks both
 * protocols make (status range, field name and value rules).
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/stats.h"
#include "tests/unit/unit.h"
#include "worker/ctx.h"
#include "worker/request.h"

#define H(n, v)                                                                \
    {                                                                          \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                     \
    }

static am_conn_t conn;

static void
setup(int trusted)
{
    if (am_ctx.conf == NULL) {
        am_ctx.conf = am_conf_create(); /* trusts 127.0.0.1 and ::1 */
    }
    memset(&conn, 0, sizeof(conn));
    conn.id = 7;
    conn.peer_trusted = trusted ? 1 : 0;
    strcpy(conn.client_host, "127.0.0.1");
    conn.client_port = 40000;
}

static void
head_init(am_asgi_head_t *head, am_header_t *h, size_t n)
{
    memset(head, 0, sizeof(*head));
    head->method = "GET";
    head->method_len = 3;
    head->scheme = "http";
    head->headers = h;
    head->nheaders = n;
    head->client_host = "127.0.0.1";
    head->client_port = 40000;
}

TEST(x_forwarded_from_a_trusted_peer)
{
    am_header_t h[] = { H("host", "a"), H("x-forwarded-for", "203.0.113.7"),
                        H("x-forwarded-proto", "https") };
    am_asgi_head_t head;
    am_forwarded_out_t out;

    setup(1);
    head_init(&head, h, 3);
    am_request_apply_forwarded(&conn, &head, &out);
    ASSERT_STR_EQ(head.client_host, "203.0.113.7");
    ASSERT_EQ(head.client_port, 0);
    ASSERT_STR_EQ(head.scheme, "https");
}

TEST(untrusted_peer_changes_nothing)
{
    am_header_t h[] = { H("x-forwarded-for", "203.0.113.7"),
                        H("x-forwarded-proto", "https"),
                        H("forwarded", "for=198.51.100.1;proto=https") };
    am_asgi_head_t head;
    am_forwarded_out_t out;

    setup(0);
    head_init(&head, h, 3);
    am_request_apply_forwarded(&conn, &head, &out);
    ASSERT_STR_EQ(head.client_host, "127.0.0.1");
    ASSERT_EQ(head.client_port, 40000);
    ASSERT_STR_EQ(head.scheme, "http");
}

/* RFC 9110 §5.3: two lines of one field are one list; the rightmost hop
 * is our trusted proxy, the one left of it the client. */
TEST(several_lines_are_one_list)
{
    am_header_t h[] = { H("x-forwarded-for", "198.51.100.1"), H("accept", "*"),
                        H("x-forwarded-for", "127.0.0.1") };
    am_asgi_head_t head;
    am_forwarded_out_t out;

    setup(1);
    head_init(&head, h, 3);
    am_request_apply_forwarded(&conn, &head, &out);
    ASSERT_STR_EQ(head.client_host, "198.51.100.1");
    ASSERT_STR_EQ(head.scheme, "http");
}

/* Forwarded wins over X-Forwarded-* (AUTO mode); wss is an https scope. */
TEST(forwarded_header_and_ws_schemes)
{
    am_header_t h[] = { H("x-forwarded-for", "203.0.113.7"),
                        H("forwarded",
                          "for=\"[2001:db8::1]:4711\";proto=wss") };
    am_asgi_head_t head;
    am_forwarded_out_t out;

    setup(1);
    head_init(&head, h, 2);
    am_request_apply_forwarded(&conn, &head, &out);
    ASSERT_STR_EQ(head.client_host, "2001:db8::1");
    ASSERT_EQ(head.client_port, 4711);
    ASSERT_STR_EQ(head.scheme, "https");
}

TEST(no_proxy_headers_no_change)
{
    am_header_t h[] = { H("host", "a"), H("x-forwarded-host", "b"),
                        H("forwarded-for", "203.0.113.7") };
    am_asgi_head_t head;
    am_forwarded_out_t out;

    setup(1);
    head_init(&head, h, 3);
    am_request_apply_forwarded(&conn, &head, &out);
    ASSERT_STR_EQ(head.client_host, "127.0.0.1");
    ASSERT_STR_EQ(head.scheme, "http");
}

static int done_calls;

static void
on_request_done(void)
{
    done_calls++;
}

TEST(done_counts_and_calls_the_worker)
{
    am_worker_stats_t w;
    am_request_done_t r = { .proto = AM_STATS_H2, .status = 404 };

    setup(1);
    memset(&w, 0, sizeof(w));
    am_ctx.request_done = on_request_done;
    /* Without shared counters (no master), nothing is counted. */
    am_request_done(&conn, &r);
    ASSERT_EQ(done_calls, 0);
    am_stats_self = &w;
    am_request_done(&conn, &r);
    am_request_done(&conn, &r);
    ASSERT_EQ(done_calls, 2);
    ASSERT_EQ(w.requests_total, 2);
    ASSERT_EQ(w.requests[AM_STATS_H2][3], 2);
    am_stats_self = NULL;
}

/* The access line: the request line from the record, referer and
 * user-agent from the fields, whatever their place. */
TEST(done_writes_the_access_line)
{
    static const char head[] = "/p?q=1refererhttp://r/user-agentcurl/8";
    am_field_t f[] = {
        { 6, 7, 13, 9 },  /* referer: http://r/ */
        { 22, 10, 32, 6 } /* user-agent: curl/8 */
    };
    am_request_done_t r = {
        .proto = AM_STATS_H1,
        .protocol = "HTTP/1.1",
        .status = 200,
        .body_bytes = 5,
        .method = "GETX",
        .method_len = 3,
        .target = head,
        .target_len = 6,
        .head = head,
        .fields = f,
        .nfields = 2,
    };
    char path[] = "/tmp/am-test-request-XXXXXX", buf[1024];
    ssize_t n;
    int fd = mkstemp(path);

    ASSERT_TRUE(fd != -1);
    setup(1);
    ASSERT_EQ(am_log_open("/dev/null", path), AM_OK);
    am_request_done(&conn, &r);
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    unlink(path);
    ASSERT_TRUE(n > 0);
    buf[n] = '\0';
    if (strstr(buf, "\"GET /p?q=1 HTTP/1.1\" 200 5 \"http://r/\" \"curl/8\"") ==
        NULL) {
        fprintf(stderr, "  line: %s\n", buf);
    }
    ASSERT_TRUE(strncmp(buf, "127.0.0.1 ", 10) == 0);
    ASSERT_TRUE(strstr(buf, "\"GET /p?q=1 HTTP/1.1\" 200 5 \"http://r/\" "
                            "\"curl/8\"") != NULL);
}

/* The response checks both protocols make on the app's start. */
TEST(response_checks)
{
    am_header_t ok = H("x-a", "b c"), upper = H("X-A", "1"),
                empty = { "", 0, "v", 1 }, space = H("x a", "1"),
                colon = H("x:a", "1"), cr = H("x-a", "1\r\nx: y"),
                nul = { "x-a", 3, "1\0", 2 };
    const char *err = NULL;

    ASSERT_EQ(am_request_check_status(200, &err), AM_OK);
    ASSERT_EQ(am_request_check_status(999, &err), AM_OK);
    ASSERT_EQ(am_request_check_status(199, &err), AM_DECLINED);
    ASSERT_STR_EQ(err, "status must be an integer from 200 to 999");
    ASSERT_EQ(am_request_check_status(1000, &err), AM_DECLINED);
    ASSERT_EQ(am_request_check_field(&ok, &err), AM_OK);
    ASSERT_EQ(am_request_check_field(&upper, &err), AM_OK);
    ASSERT_EQ(am_request_check_field(&empty, &err), AM_DECLINED);
    ASSERT_STR_EQ(err, "empty header name");
    ASSERT_EQ(am_request_check_field(&space, &err), AM_DECLINED);
    ASSERT_STR_EQ(err, "invalid character in a header name");
    ASSERT_EQ(am_request_check_field(&colon, &err), AM_DECLINED);
    ASSERT_EQ(am_request_check_field(&cr, &err), AM_DECLINED);
    ASSERT_STR_EQ(err, "invalid character in a header value");
    ASSERT_EQ(am_request_check_field(&nul, &err), AM_DECLINED);
}
