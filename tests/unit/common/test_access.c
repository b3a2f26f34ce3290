/* tests/unit/common/test_access.c: access-log lines (common/access.c): the
 * combined and common formats to the byte, every variable, escaping,
 * truncation and the config-time check of a format.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/access.h"
#include "common/core.h"
#include "tests/unit/unit.h"

static char line[4096];
static char err[512];

static am_access_entry_t
entry(void)
{
    am_access_entry_t e;

    memset(&e, 0, sizeof(e));
    e.remote_addr = "127.0.0.1";
    e.time = 1795219200 + 3723; /* 2026-11-21T01:02:03Z */
    e.method = "GET";
    e.target = "/index.html?q=1";
    e.protocol = "HTTP/1.1";
    e.status = 200;
    e.body_bytes_sent = 612;
    e.referer = "http://example.com/";
    e.user_agent = "curl/7.88.1";
    e.request_time = 0.0123;
    e.pid = 4711;
    return e;
}

static const char *
format(const char *fmt, const am_access_entry_t *e)
{
    size_t n = am_access_format(fmt, e, line, sizeof(line));

    ASSERT_EQ(n, strlen(line));
    ASSERT_TRUE(n > 0 && line[n - 1] == '\n');
    return line;
}

static void
utc(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
}

TEST(combined_exact)
{
    am_access_entry_t e = entry();

    utc();
    ASSERT_STR_EQ(format("combined", &e),
                  "127.0.0.1 - - [21/Nov/2026:01:02:03 +0000] \"GET "
                  "/index.html?q=1 HTTP/1.1\" 200 612 \"http://example.com/\" "
                  "\"curl/7.88.1\" 0.012\n");
}

TEST(common_exact)
{
    am_access_entry_t e = entry();

    utc();
    e.protocol = "HTTP/2";
    e.status = 404;
    e.body_bytes_sent = 0;
    ASSERT_STR_EQ(format("common", &e),
                  "127.0.0.1 - - [21/Nov/2026:01:02:03 +0000] \"GET "
                  "/index.html?q=1 HTTP/2\" 404 0\n");
}

TEST(missing_headers_are_dashes)
{
    am_access_entry_t e = entry();

    utc();
    e.referer = NULL;
    e.user_agent = NULL;
    e.request_time = 1.5;
    ASSERT_STR_EQ(format("combined", &e),
                  "127.0.0.1 - - [21/Nov/2026:01:02:03 +0000] \"GET "
                  "/index.html?q=1 HTTP/1.1\" 200 612 \"-\" \"-\" 1.500\n");
}

TEST(every_variable)
{
    am_access_entry_t e = entry();

    utc();
    ASSERT_STR_EQ(format("$remote_addr|$time_local|$time_iso8601|$request|"
                         "$method|$uri|$protocol|$status|$body_bytes_sent|"
                         "$http_referer|$http_user_agent|$request_time|$pid",
                         &e),
                  "127.0.0.1|21/Nov/2026:01:02:03 +0000|"
                  "2026-11-21T01:02:03+00:00|GET /index.html?q=1 HTTP/1.1|"
                  "GET|/index.html?q=1|HTTP/1.1|200|612|http://example.com/|"
                  "curl/7.88.1|0.012|4711\n");
}

TEST(local_time_offset)
{
    am_access_entry_t e = entry();

    setenv("TZ", "Asia/Kolkata", 1); /* +05:30, no DST */
    tzset();
    ASSERT_STR_EQ(format("[$time_local] $time_iso8601", &e),
                  "[21/Nov/2026:06:32:03 +0530] 2026-11-21T06:32:03+05:30\n");
    setenv("TZ", "America/St_Johns", 1); /* -03:30 in November */
    tzset();
    e.time += 1; /* past the per-second cache */
    ASSERT_STR_EQ(format("$time_local", &e), "20/Nov/2026:21:32:04 -0330\n");
}

TEST(braces_and_literal_dollars)
{
    am_access_entry_t e = entry();

    ASSERT_STR_EQ(format("${status}ms $ $$ 5$ ${pid}x", &e),
                  "200ms $ $$ 5$ 4711x\n");
    ASSERT_STR_EQ(format("", &e), "\n");
    ASSERT_STR_EQ(format("no variables", &e), "no variables\n");
}

TEST(escaping)
{
    am_access_entry_t e = entry();

    e.target = "/a\"b\\c\x01\x1f\x7f\xc3\xa9 d";
    e.user_agent = "evil\r\nINJECTED";
    e.referer = "";
    ASSERT_STR_EQ(format("$uri|$http_user_agent|$http_referer|", &e),
                  "/a\\x22b\\x5Cc\\x01\\x1F\\x7F\\xC3\\xA9 d|"
                  "evil\\x0D\\x0AINJECTED||\n");
}

TEST(status_and_numbers)
{
    am_access_entry_t e = entry();

    e.status = 0; /* no response was sent */
    e.request_time = -0.5;
    e.body_bytes_sent = (size_t)10000000000ULL;
    ASSERT_STR_EQ(format("$status $request_time $body_bytes_sent", &e),
                  "000 0.000 10000000000\n");
    e.request_time = 12.3456;
    ASSERT_STR_EQ(format("$request_time", &e), "12.346\n");
}

TEST(truncation_keeps_the_newline)
{
    am_access_entry_t e = entry();
    char small[16];
    size_t n;

    n = am_access_format("$http_user_agent $http_user_agent", &e, small,
                         sizeof(small));
    ASSERT_EQ(n, 15);
    ASSERT_STR_EQ(small, "curl/7.88.1 cu\n");

    /* an escape is never cut in half */
    e.user_agent = "abcdefghijklm\x01";
    n = am_access_format("$http_user_agent", &e, small, sizeof(small));
    ASSERT_STR_EQ(small, "abcdefghijklm\n");
    ASSERT_EQ(n, 14);

    n = am_access_format("$pid", &e, small, 2);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(small, "\n");
    ASSERT_EQ(am_access_format("$pid", &e, small, 1), 0);
    ASSERT_EQ(small[0], '\0');
    ASSERT_EQ(am_access_format("$pid", &e, small, 0), 0);
}

TEST(check_accepts)
{
    ASSERT_EQ(am_access_format_check("combined", err, sizeof(err)), AM_OK);
    ASSERT_EQ(am_access_format_check("common", err, sizeof(err)), AM_OK);
    ASSERT_EQ(am_access_format_check("", err, sizeof(err)), AM_OK);
    ASSERT_EQ(am_access_format_check("$remote_addr $status ${pid}x $ 5$", err,
                                     sizeof(err)),
              AM_OK);
    ASSERT_EQ(
        am_access_format_check("$time_iso8601 $request_time", err, sizeof(err)),
        AM_OK);
}

TEST(check_unknown_variable)
{
    ASSERT_EQ(am_access_format_check("$remote_addr $stauts", err, sizeof(err)),
              AM_ERROR);
    ASSERT_STR_EQ(err, "unknown variable \"$stauts\" in the access log "
                       "format; did you mean \"$status\"?");
    ASSERT_EQ(am_access_format_check("$host", err, sizeof(err)), AM_ERROR);
    ASSERT_STR_EQ(err, "unknown variable \"$host\" in the access log format");
    ASSERT_EQ(am_access_format_check("${status}${nope}", err, sizeof(err)),
              AM_ERROR);
    ASSERT_STR_EQ(err, "unknown variable \"$nope\" in the access log format");
    ASSERT_EQ(am_access_format_check("$status_code", err, sizeof(err)),
              AM_ERROR);
    ASSERT_STR_EQ(err, "unknown variable \"$status_code\" in the access log "
                       "format");
}

TEST(check_unclosed_brace)
{
    ASSERT_EQ(am_access_format_check("${status", err, sizeof(err)), AM_ERROR);
    ASSERT_STR_EQ(err, "unclosed \"${\" in the access log format");
}

TEST(json_exact)
{
    am_access_entry_t e = entry();

    utc();
    e.user_agent = "a \"q\" \\ \t \xe9";
    e.referer = NULL;
    ASSERT_STR_EQ(format("json", &e),
                  "{\"remote_addr\":\"127.0.0.1\","
                  "\"time_iso8601\":\"2026-11-21T01:02:03+00:00\","
                  "\"time_local\":\"21/Nov/2026:01:02:03 +0000\","
                  "\"request\":\"GET /index.html?q=1 HTTP/1.1\","
                  "\"method\":\"GET\",\"uri\":\"/index.html?q=1\","
                  "\"protocol\":\"HTTP/1.1\",\"status\":200,"
                  "\"body_bytes_sent\":612,\"http_referer\":null,"
                  "\"http_user_agent\":\"a \\\"q\\\" \\\\ \\u0009 \\u00e9\","
                  "\"request_time\":0.012,\"pid\":4711}\n");
    ASSERT_EQ(am_access_format_check("json", err, sizeof(err)), AM_OK);
}

TEST(json_truncated_stays_in_the_buffer)
{
    am_access_entry_t e = entry();
    char small[64];
    size_t n;

    memset(small, 'X', sizeof(small));
    for (size_t size = 2; size <= 40; size++) {
        n = am_access_format("json", &e, small, size);
        ASSERT_TRUE(n < size);
        ASSERT_EQ(small[n], '\0');
        ASSERT_EQ(small[n - 1], '\n');
        ASSERT_EQ(small[size], 'X'); /* nothing written past the end */
    }
}
