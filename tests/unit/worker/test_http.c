/* tests/unit/worker/test_http.c: the shared HTTP vocabulary (worker/http.c):
 * the token table (every name found in any case, unknown names and near
 * misses not), the hop-by-hop and connection-specific classes the two
 * protocols filtered by hand before, tchar and field-value rules, the
 * status reason table with its class fallbacks, error bodies and Date.
 */

#include <string.h>
#include <strings.h>
#include <time.h>

#include "tests/unit/unit.h"
#include "worker/http.h"

TEST(token_every_name_found_in_any_case)
{
    char upper[64];

    for (int t = 1; t < AM_HTTP_TOKEN_COUNT; t++) {
        const am_http_token_info_t *i = &am_http_tokens[t];

        ASSERT_EQ(i->len, strlen(i->name));
        ASSERT_EQ(am_http_token_find(i->name, i->len), t);
        for (size_t k = 0; k < i->len; k++) {
            char ch = i->name[k];

            upper[k] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
        }
        ASSERT_EQ(am_http_token_find(upper, i->len), t);
    }
}

TEST(token_unknown_and_near_misses)
{
    ASSERT_EQ(am_http_token_find("x-custom", 8), AM_HTTP_TOKEN_OTHER);
    ASSERT_EQ(am_http_token_find("", 0), AM_HTTP_TOKEN_OTHER);
    /* A prefix or an extension of a known name is not that name. */
    ASSERT_EQ(am_http_token_find("hos", 3), AM_HTTP_TOKEN_OTHER);
    ASSERT_EQ(am_http_token_find("hosts", 5), AM_HTTP_TOKEN_OTHER);
    ASSERT_EQ(am_http_token_find("content-length", 13), AM_HTTP_TOKEN_OTHER);
    /* Only len bytes count: the name need not be NUL-terminated. */
    ASSERT_EQ(am_http_token_find("hostile", 4), AM_HTTP_TOKEN_HOST);
    ASSERT_EQ(am_http_token_find("te", 2), AM_HTTP_TOKEN_TE);
    ASSERT_EQ(am_http_token_find("user_agent", 10), AM_HTTP_TOKEN_OTHER);
    /* Case folds letters only: CR is not '-' (0x0d | 0x20 == '-'), '@'
     * and '[' around the capitals are not letters. */
    ASSERT_EQ(am_http_token_find("content\rlength", 14), AM_HTTP_TOKEN_OTHER);
    ASSERT_EQ(am_http_token_find("user\ragent", 10), AM_HTTP_TOKEN_OTHER);
    ASSERT_EQ(am_http_token_find("\x80ost", 4), AM_HTTP_TOKEN_OTHER);
    ASSERT_EQ(am_http_token_find("Content-Type", 12),
              AM_HTTP_TOKEN_CONTENT_TYPE);
}

/* RFC 9113 §8.2.2: the fields HTTP/2 never carries in a response. */
TEST(token_connection_specific_set)
{
    static const char *const cs[] = { "connection", "keep-alive",
                                      "proxy-connection", "transfer-encoding",
                                      "upgrade" };
    int n = 0;

    for (size_t k = 0; k < sizeof(cs) / sizeof(cs[0]); k++) {
        am_http_token_t t = am_http_token_find(cs[k], strlen(cs[k]));

        ASSERT_TRUE(am_http_token_is(t, AM_HTTP_TOKEN_CONN_SPECIFIC));
    }
    for (int t = 0; t < AM_HTTP_TOKEN_COUNT; t++) {
        n += am_http_token_is(t, AM_HTTP_TOKEN_CONN_SPECIFIC);
    }
    ASSERT_EQ(n, 5);
    /* TE is allowed with "trailers" (checked elsewhere), not dropped. */
    ASSERT_TRUE(
        !am_http_token_is(AM_HTTP_TOKEN_TE, AM_HTTP_TOKEN_CONN_SPECIFIC));
}

/* The h2c Upgrade request loses these on its way to stream 1. */
TEST(token_hop_by_hop_set)
{
    int n = 0;

    for (int t = 0; t < AM_HTTP_TOKEN_COUNT; t++) {
        n += am_http_token_is(t, AM_HTTP_TOKEN_HOP_BY_HOP);
    }
    ASSERT_EQ(n, 6);
    ASSERT_TRUE(am_http_token_is(AM_HTTP_TOKEN_HTTP2_SETTINGS,
                                 AM_HTTP_TOKEN_HOP_BY_HOP));
    ASSERT_TRUE(!am_http_token_is(AM_HTTP_TOKEN_HTTP2_SETTINGS,
                                  AM_HTTP_TOKEN_CONN_SPECIFIC));
    ASSERT_TRUE(
        !am_http_token_is(AM_HTTP_TOKEN_OTHER, AM_HTTP_TOKEN_HOP_BY_HOP));
    ASSERT_TRUE(
        !am_http_token_is(AM_HTTP_TOKEN_HOST, AM_HTTP_TOKEN_HOP_BY_HOP));
}

/* RFC 9110 §5.6.2: tchar is exactly these. */
TEST(tchar_matches_rfc)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    for (int ch = 0; ch < 256; ch++) {
        int want = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                   (ch >= 'A' && ch <= 'Z') ||
                   (ch != 0 && strchr(extra, ch) != NULL);

        if (am_http_tchar[ch] != want) {
            fprintf(stderr, "  character 0x%02x\n", ch);
        }
        ASSERT_EQ(am_http_tchar[ch], want);
    }
    ASSERT_TRUE(am_http_is_token("X-Request-Id", 12));
    ASSERT_TRUE(!am_http_is_token("", 0));
    ASSERT_TRUE(!am_http_is_token("bad name", 8));
    ASSERT_TRUE(!am_http_is_token("bad:name", 8));
    ASSERT_TRUE(!am_http_is_token("bad\x80", 4));
}

/* RFC 9110 §5.5: CR, LF and NUL never appear in a value. */
TEST(field_value_rules)
{
    ASSERT_TRUE(am_http_is_field_value("", 0));
    ASSERT_TRUE(am_http_is_field_value("a b\tc \x80\xff", 8));
    ASSERT_TRUE(!am_http_is_field_value("a\rb", 3));
    ASSERT_TRUE(!am_http_is_field_value("a\nb", 3));
    ASSERT_TRUE(!am_http_is_field_value("a\0b", 3));
    /* Only len bytes are looked at. */
    ASSERT_TRUE(am_http_is_field_value("ok\r\n", 2));
}

TEST(reason_table)
{
    ASSERT_STR_EQ(am_http_reason(100), "Continue");
    ASSERT_STR_EQ(am_http_reason(101), "Switching Protocols");
    ASSERT_STR_EQ(am_http_reason(200), "OK");
    ASSERT_STR_EQ(am_http_reason(304), "Not Modified");
    ASSERT_STR_EQ(am_http_reason(404), "Not Found");
    ASSERT_STR_EQ(am_http_reason(413), "Content Too Large");
    ASSERT_STR_EQ(am_http_reason(426), "Upgrade Required");
    ASSERT_STR_EQ(am_http_reason(431), "Request Header Fields Too Large");
    ASSERT_STR_EQ(am_http_reason(451), "Unavailable For Legal Reasons");
    ASSERT_STR_EQ(am_http_reason(505), "HTTP Version Not Supported");
}

TEST(reason_class_fallbacks)
{
    ASSERT_STR_EQ(am_http_reason(103), "Informational");
    ASSERT_STR_EQ(am_http_reason(299), "Success");
    ASSERT_STR_EQ(am_http_reason(399), "Redirection");
    ASSERT_STR_EQ(am_http_reason(418), "Client Error");
    ASSERT_STR_EQ(am_http_reason(599), "Server Error");
    /* Out of range never reads outside the table. */
    ASSERT_STR_EQ(am_http_reason(99), "Informational");
    ASSERT_STR_EQ(am_http_reason(-1), "Informational");
    ASSERT_STR_EQ(am_http_reason(600), "Server Error");
    ASSERT_STR_EQ(am_http_reason(1000000), "Server Error");
}

TEST(error_body)
{
    char buf[64], tiny[4];

    ASSERT_EQ(am_http_error_body(400, buf, sizeof(buf)), 12);
    ASSERT_STR_EQ(buf, "Bad Request\n");
    ASSERT_EQ(am_http_error_body(500, buf, sizeof(buf)), 22);
    ASSERT_STR_EQ(buf, "Internal Server Error\n");
    ASSERT_EQ(am_http_error_body(431, buf, sizeof(buf)), 32);
    ASSERT_STR_EQ(buf, "Request Header Fields Too Large\n");
    /* Cut to fit, still ending in a newline. */
    ASSERT_EQ(am_http_error_body(400, tiny, sizeof(tiny)), 3);
    ASSERT_STR_EQ(tiny, "Ba\n");
}

TEST(date_format)
{
    const char *d = am_http_date();
    struct tm tm;

    /* IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT". */
    ASSERT_EQ(strlen(d), 29);
    memset(&tm, 0, sizeof(tm));
    ASSERT_TRUE(strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm) != NULL);
    ASSERT_TRUE(tm.tm_year + 1900 >= 2024);
    /* The same second gives the same cached buffer. */
    ASSERT_TRUE(am_http_date() == d);
}
