/* tests/unit/worker/test_h1_parser.c: the HTTP/1.1 request parser
 * (worker/h1_parser.c): issue 10 items 1-8, request smuggling classics,
 * every input at every split point, and its throughput (nodejs
 * http-parser, which it replaced, took 560 ns for the same request on the
 * machine where this parser took 300 ns: docs/ARCHITECTURE.md).
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "tests/unit/unit.h"
#include "worker/h1_parser.h"

#define H1_RESULT_TEXT 4096
#include "tests/common/h1_result.h"

#define NFIELDS 16

static const am_h1_limits_t limits = {
    .max_method = 32,
    .max_target = 256,
    .max_fields = NFIELDS,
    .max_fields_size = 1024,
    .max_chunk_ext = 64,
    .max_chunk_ext_total = 256,
    .max_trailer_size = 256,
    .max_trailer_fields = 4,
};

/* Parse one request out of in[0, len), the bytes arriving in pieces that
 * end at cuts[] (increasing), then the rest. */
static void
run(const char *in, size_t len, const size_t *cuts, size_t ncuts, result_t *r)
{
    am_h1_parser_t p;
    am_h1_field_t fields[NFIELDS], trailers[4];
    size_t avail, k = 0, pos, used, dlen, i;
    const char *d;
    int rc;

    memset(r, 0, sizeof(*r));
    am_h1_parser_init(&p, &limits);
    p.trailers = trailers;
    p.trailers_cap = 4;
    avail = ncuts ? cuts[0] : len;
    for (;;) {
        rc = am_h1_parser_head(&p, in, avail, fields, NFIELDS);
        if (rc != AM_AGAIN || avail == len) {
            break;
        }
        avail = ++k < ncuts ? cuts[k] : len;
    }
    r->rc = rc;
    r->error = p.error;
    if (rc != AM_OK) {
        return;
    }
    say(r, "%.*s|%.*s|1.%d|form%d|p=%.*s|q%d=%.*s|a=%.*s|f%u|b%d/%llu|",
        (int)p.req.method_len, in + p.req.method_off, (int)p.req.target_len,
        in + p.req.target_off, p.req.minor, p.req.form, (int)p.req.path_len,
        in + p.req.path_off, p.req.has_query, (int)p.req.query_len,
        in + p.req.query_off, (int)p.req.authority_len,
        in + p.req.authority_off, p.req.flags, p.req.body,
        (unsigned long long)p.req.content_length);
    for (i = 0; i < p.req.nfields; i++) {
        say(r, "[%.*s=%.*s:%d]", (int)fields[i].name_len,
            in + fields[i].name_off, (int)fields[i].value_len,
            in + fields[i].value_off, fields[i].token);
    }
    pos = p.head_len;
    say(r, "<");
    for (;;) {
        rc = am_h1_parser_body(&p, in + pos, avail - pos, &used, &d, &dlen);
        put(r, d, dlen);
        if (rc == AM_DONE) {
            say(r, ">");
            for (i = 0; i < p.ntrailers; i++) {
                say(r, "{%.*s=%.*s}", (int)trailers[i].name_len,
                    in + pos + trailers[i].name_off, (int)trailers[i].value_len,
                    in + pos + trailers[i].value_off);
            }
        }
        pos += used;
        if (rc == AM_OK) {
            continue;
        }
        if (rc == AM_AGAIN && avail < len) {
            avail = ++k < ncuts ? cuts[k] : len;
            continue;
        }
        break;
    }
    r->rc = rc == AM_DONE ? AM_OK : rc;
    r->error = p.error;
    r->used = pos;
}

static void
same(const result_t *a, const result_t *b, size_t split)
{
    if (a->rc != b->rc || a->error != b->error || a->used != b->used ||
        a->len != b->len || memcmp(a->text, b->text, a->len) != 0) {
        fprintf(stderr,
                "  split at %zu differs:\n  whole: rc %d err %d used %zu %s\n"
                "  split: rc %d err %d used %zu %s\n",
                split, a->rc, a->error, a->used, a->text, b->rc, b->error,
                b->used, b->text);
        unit_fail(__FILE__, __LINE__);
    }
}

/* The whole input, byte by byte, and cut once at every point: one
 * result. */
static result_t
parse(const char *in, size_t len)
{
    result_t whole, other;
    size_t cuts[8192], i;

    run(in, len, NULL, 0, &whole);
    if (len > 1 && len - 1 <= sizeof(cuts) / sizeof(cuts[0])) {
        for (i = 1; i < len; i++) {
            cuts[i - 1] = i;
        }
        run(in, len, cuts, len - 1, &other);
        same(&whole, &other, 0);
        for (i = 1; i < len; i++) {
            run(in, len, &i, 1, &other);
            same(&whole, &other, i);
        }
    }
    return whole;
}

#define PARSE(s) parse((s), sizeof(s) - 1)

/* A complete request whose message ends after `used` bytes. */
#define EXPECT_OK(s)                                                           \
    do {                                                                       \
        result_t r_ = PARSE(s);                                                \
        if (r_.rc != AM_OK) {                                                  \
            fprintf(stderr, "  %s: rc %d (%s)\n", #s, r_.rc,                   \
                    am_h1_parser_reason(r_.error));                            \
        }                                                                      \
        ASSERT_EQ(r_.rc, AM_OK);                                               \
    } while (0)

#define EXPECT_ERR(s, e)                                                       \
    do {                                                                       \
        result_t r_ = PARSE(s);                                                \
        if (r_.rc != AM_ERROR || r_.error != (e)) {                            \
            fprintf(stderr, "  %s: rc %d (%s)\n", #s, r_.rc,                   \
                    am_h1_parser_reason(r_.error));                            \
        }                                                                      \
        ASSERT_EQ(r_.rc, AM_ERROR);                                            \
        ASSERT_EQ(r_.error, (e));                                              \
    } while (0)

#define EXPECT_AGAIN(s) ASSERT_EQ(PARSE(s).rc, AM_AGAIN)

TEST(simple_get)
{
    result_t r = PARSE("GET /a/b?x=1&y HTTP/1.1\r\nHost: example.com\r\n"
                       "User-Agent:  curl/8 \t\r\n\r\n");

    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_STR_EQ(r.text, "GET|/a/b?x=1&y|1.1|form1|p=/a/b|q1=x=1&y|a=|f128|"
                          "b0/0|[Host=example.com:1][User-Agent=curl/8:0]<>");
}

TEST(pipelined_messages_end_where_they_should)
{
    static const char in[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
                             "3\r\n\r\nabcGET / HTTP/1.1\r\n";
    result_t r = PARSE(in);

    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_EQ(r.used, strstr(in, "GET") - in);
    ASSERT_TRUE(strstr(r.text, "<abc>") != NULL);
}

TEST(chunked_body_and_trailers)
{
    static const char in[] =
        "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=val;q=\"a\\\"b\" ; x\r\nhello\r\n"
        "A\r\n0123456789\r\n0\r\nX-Sum: 1 \r\nY: 2\r\n\r\nNEXT";
    result_t r = PARSE(in);

    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_EQ(r.used, sizeof(in) - 1 - 4);
    ASSERT_TRUE(strstr(r.text, "<hello0123456789>") != NULL);
    ASSERT_TRUE(strstr(r.text, "{X-Sum=1}{Y=2}") != NULL);
}

TEST(incomplete_input_waits)
{
    EXPECT_AGAIN("GET / HTTP/1.1\r\nHost: a\r\n");
    EXPECT_AGAIN("GET / HTT");
    EXPECT_AGAIN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab");
    EXPECT_AGAIN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
                 "\r\n\r\n5\r\nab");
    EXPECT_AGAIN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
                 "\r\n\r\n0\r\nX: y\r\n");
}

/* issue 10 item 1: RFC 9112 §6.1. */
TEST(issue10_1_http10_transfer_encoding)
{
    EXPECT_ERR("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
               "Connection: keep-alive\r\n\r\n0\r\n\r\n",
               AM_H1_E_TE_HTTP10);
    EXPECT_ERR("POST / HTTP/1.0\r\nContent-Length: 5\r\n"
               "Transfer-Encoding: chunked\r\n\r\n",
               AM_H1_E_TE_HTTP10);
    ASSERT_EQ(am_h1_parser_status(AM_H1_E_TE_HTTP10), 400);
}

#define CHUNKED_HEAD                                                           \
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

/* issue 10 item 2: RFC 9112 §7.1. */
TEST(issue10_2_chunk_size_lines_strict)
{
    EXPECT_ERR(CHUNKED_HEAD "0 \r\n\r\n", AM_H1_E_CHUNK_SIZE);
    EXPECT_ERR(CHUNKED_HEAD "5\t\r\nhello\r\n0\r\n\r\n", AM_H1_E_CHUNK_SIZE);
    EXPECT_ERR(CHUNKED_HEAD "5 xyz\r\nhello\r\n0\r\n\r\n", AM_H1_E_CHUNK_SIZE);
    EXPECT_ERR(CHUNKED_HEAD "0 GET /x HTTP/1.1\r\n\r\n", AM_H1_E_CHUNK_SIZE);
    EXPECT_ERR(CHUNKED_HEAD "5\nhello\r\n0\r\n\r\n", AM_H1_E_CHUNK_SIZE);
    EXPECT_ERR(CHUNKED_HEAD "\r\n", AM_H1_E_CHUNK_SIZE);
    EXPECT_ERR(CHUNKED_HEAD "+5\r\nhello\r\n0\r\n\r\n", AM_H1_E_CHUNK_SIZE);
    EXPECT_ERR(CHUNKED_HEAD "0x5\r\nhello\r\n0\r\n\r\n", AM_H1_E_CHUNK_SIZE);
    EXPECT_ERR(CHUNKED_HEAD "5\r\nhelloX\r\n0\r\n\r\n", AM_H1_E_CHUNK_DATA);
    EXPECT_ERR(CHUNKED_HEAD "5\r\nhello\n0\r\n\r\n", AM_H1_E_CHUNK_DATA);
    EXPECT_ERR(CHUNKED_HEAD "5;a=b c\r\nhello\r\n0\r\n\r\n", AM_H1_E_CHUNK_EXT);
    EXPECT_ERR(CHUNKED_HEAD "5;a \r\nhello\r\n0\r\n\r\n", AM_H1_E_CHUNK_EXT);
    EXPECT_ERR(CHUNKED_HEAD "5;\r\nhello\r\n0\r\n\r\n", AM_H1_E_CHUNK_EXT);
    EXPECT_ERR(CHUNKED_HEAD "5;a=\"x\r\nhello\r\n0\r\n\r\n", AM_H1_E_CHUNK_EXT);
    /* 16 hex digits at most: no overflow to a small size. */
    EXPECT_ERR(CHUNKED_HEAD "10000000000000005\r\nhello\r\n0\r\n\r\n",
               AM_H1_E_CHUNK_SIZE);
    /* The allowed forms. */
    EXPECT_OK(CHUNKED_HEAD "5 ; a = b\r\nhello\r\n0\r\n\r\n");
    EXPECT_OK(CHUNKED_HEAD "0005;a;b=\"\\\\q\"\r\nhello\r\n00\r\n\r\n");
    EXPECT_OK(CHUNKED_HEAD "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n");
    /* No bare LF in the trailer section either. */
    EXPECT_ERR(CHUNKED_HEAD "0\r\n\n", AM_H1_E_TRAILER);
    EXPECT_ERR(CHUNKED_HEAD "0\r\nX: y\n\r\n", AM_H1_E_TRAILER);
    EXPECT_ERR(CHUNKED_HEAD "0\r\nX : y\r\n\r\n", AM_H1_E_TRAILER);
}

/* issue 10 item 3: extension bytes capped per chunk and per request. */
TEST(issue10_3_chunk_extensions_capped)
{
    char in[4096];
    size_t n;
    result_t r;

    /* 64 bytes per chunk pass, 65 do not. */
    n = (size_t)snprintf(in, sizeof(in), "%s1;%063d\r\nx\r\n0\r\n\r\n",
                         CHUNKED_HEAD, 0);
    r = parse(in, n);
    ASSERT_EQ(r.rc, AM_OK);
    n = (size_t)snprintf(in, sizeof(in), "%s1;%064d\r\nx\r\n0\r\n\r\n",
                         CHUNKED_HEAD, 0);
    r = parse(in, n);
    ASSERT_EQ(r.rc, AM_ERROR);
    ASSERT_EQ(r.error, AM_H1_E_CHUNK_EXT_SIZE);
    /* 5 chunks of 60 extension bytes: over 256 in the request. */
    n = (size_t)snprintf(in, sizeof(in), "%s", CHUNKED_HEAD);
    for (int i = 0; i < 5; i++) {
        n += (size_t)snprintf(in + n, sizeof(in) - n, "1;%058d\r\nx\r\n", 0);
    }
    n += (size_t)snprintf(in + n, sizeof(in) - n, "0\r\n\r\n");
    r = parse(in, n);
    ASSERT_EQ(r.rc, AM_ERROR);
    ASSERT_EQ(r.error, AM_H1_E_CHUNK_EXT_TOTAL);
    ASSERT_EQ(am_h1_parser_status(AM_H1_E_CHUNK_EXT_TOTAL), 400);
    /* The trailer section is capped too. */
    n = (size_t)snprintf(in, sizeof(in), "%s0\r\nX: %0300d\r\n\r\n",
                         CHUNKED_HEAD, 0);
    r = parse(in, n);
    ASSERT_EQ(r.rc, AM_ERROR);
    ASSERT_EQ(r.error, AM_H1_E_TRAILER_SIZE);
}

/* issue 10 item 4: an HTTP/0.9 line is refused at its end. */
TEST(issue10_4_http09_refused_at_once)
{
    EXPECT_ERR("GET /\r\n", AM_H1_E_VERSION);
    EXPECT_ERR("GET /\n", AM_H1_E_VERSION);
    EXPECT_ERR("GET / \r\n", AM_H1_E_VERSION);
    EXPECT_ERR("GET / HTTP/1.1 \r\n", AM_H1_E_VERSION);
    EXPECT_ERR("GET / http/1.1\r\n", AM_H1_E_VERSION);
    EXPECT_ERR("GET / HTTP/1.10\r\n", AM_H1_E_VERSION);
    EXPECT_ERR("GET / HTTP/2.0\r\n", AM_H1_E_VERSION_UNSUPPORTED);
    EXPECT_ERR("GET / HTTP/1.2\r\n", AM_H1_E_VERSION_UNSUPPORTED);
    EXPECT_ERR("GET / HTTP/1.1\rX", AM_H1_E_LINE);
    EXPECT_ERR("GET / HTTP/x.1\r\n", AM_H1_E_VERSION);
    EXPECT_ERR("GET / HTTP/1,1\r\n", AM_H1_E_VERSION);
    EXPECT_ERR("GET / HTTP/1.x\r\n", AM_H1_E_VERSION);
    EXPECT_ERR("GET / HTTP/0.9\r\n", AM_H1_E_VERSION_UNSUPPORTED);
    ASSERT_EQ(am_h1_parser_status(AM_H1_E_VERSION_UNSUPPORTED), 505);
    EXPECT_OK("GET / HTTP/1.0\r\n\r\n");
}

/* issue 10 item 5: no fragment (RFC 9112 §3.2). */
TEST(issue10_5_fragment_refused)
{
    EXPECT_ERR("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", AM_H1_E_TARGET_FRAGMENT);
    EXPECT_ERR("GET /a?b#c HTTP/1.1\r\nHost: a\r\n\r\n",
               AM_H1_E_TARGET_FRAGMENT);
    EXPECT_ERR("GET http://a/b#c HTTP/1.1\r\nHost: a\r\n\r\n",
               AM_H1_E_TARGET_FRAGMENT);
}

/* issue 10 item 6: a method is a token (RFC 9110 §9.1). */
TEST(issue10_6_token_methods)
{
    result_t r = PARSE("-BLARGH / HTTP/1.1\r\nHost: a\r\n\r\n");

    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_EQ(strncmp(r.text, "-BLARGH|/|", 10), 0);
    EXPECT_OK("FOO / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_OK("BLARGH / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_OK("get / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_ERR("G(T / HTTP/1.1\r\n", AM_H1_E_METHOD);
    EXPECT_ERR(" GET / HTTP/1.1\r\n", AM_H1_E_METHOD);
    EXPECT_ERR("GET  / HTTP/1.1\r\n", AM_H1_E_TARGET);
    EXPECT_ERR("GET\t/ HTTP/1.1\r\n", AM_H1_E_METHOD);
    EXPECT_ERR("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG / HTTP/1.1\r\n",
               AM_H1_E_METHOD_LONG);
    ASSERT_EQ(am_h1_parser_status(AM_H1_E_METHOD_LONG), 501);
}

/* issue 10 item 7: absolute-form per RFC 3986. */
TEST(issue10_7_absolute_form)
{
    result_t r = PARSE("GET http://ex.com:8080/p/q?x HTTP/1.1\r\nHost: "
                       "ex.com:8080\r\n\r\n");

    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_TRUE(strstr(r.text, "form2|p=/p/q|q1=x|a=ex.com:8080|") != NULL);
    r = PARSE("GET https://[::1]?x HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_TRUE(strstr(r.text, "p=|q1=x|a=[::1]|") != NULL);
    EXPECT_ERR("PUT s://]ufd/: HTTP/1.1\r\nHost: a\r\n\r\n", AM_H1_E_TARGET);
    EXPECT_ERR("GET http:/x HTTP/1.1\r\nHost: a\r\n\r\n", AM_H1_E_TARGET);
    EXPECT_ERR("GET http:// HTTP/1.1\r\nHost: a\r\n\r\n", AM_H1_E_TARGET);
    EXPECT_ERR("GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", AM_H1_E_TARGET);
    EXPECT_ERR("GET http://a:x/ HTTP/1.1\r\nHost: a\r\n\r\n", AM_H1_E_TARGET);
    EXPECT_ERR("GET http://[zz]/ HTTP/1.1\r\nHost: a\r\n\r\n", AM_H1_E_TARGET);
    EXPECT_ERR("GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", AM_H1_E_TARGET);
    EXPECT_ERR("GET a%zz HTTP/1.1\r\nHost: a\r\n\r\n", AM_H1_E_TARGET);
    /* authority-form for CONNECT only, asterisk-form for OPTIONS only. */
    EXPECT_OK("CONNECT ex.com:443 HTTP/1.1\r\nHost: ex.com:443\r\n\r\n");
    EXPECT_ERR("CONNECT ex.com HTTP/1.1\r\n", AM_H1_E_TARGET);
    EXPECT_ERR("CONNECT /x HTTP/1.1\r\n", AM_H1_E_TARGET_FORM);
    EXPECT_OK("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_ERR("GET * HTTP/1.1\r\n", AM_H1_E_TARGET_FORM);
    EXPECT_ERR("OPTIONS *x HTTP/1.1\r\n", AM_H1_E_TARGET);
    /* origin-form bytes: visible ASCII and 0x80-0xFF, no CTL. */
    EXPECT_OK("GET /caf\xc3\xa9/{a}|^[b]?q=\"x\" HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_ERR("GET /a\x01 HTTP/1.1\r\n", AM_H1_E_TARGET);
    EXPECT_ERR("GET /a\x7f HTTP/1.1\r\n", AM_H1_E_TARGET);
}

/* issue 10 item 8: the verdict on a garbage first line comes at its first
 * wrong byte, the same however it is cut (parse() checks every cut). */
TEST(issue10_8_garbage_first_line)
{
    EXPECT_ERR("\x16\x03\x01\x02\x00\x01", AM_H1_E_METHOD);
    EXPECT_ERR("GET\x00 / HTTP/1.1\r\n", AM_H1_E_METHOD);
    EXPECT_ERR("HELLO WORLD\r\n", AM_H1_E_VERSION);
    EXPECT_ERR("HELLO WORLD HTTP/1.1\r\n", AM_H1_E_TARGET);
    EXPECT_ERR("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", AM_H1_E_METHOD_PRI);
    EXPECT_ERR("PRI / HTTP/1.1\r\nHost: x\r\n\r\n", AM_H1_E_METHOD_PRI);
    EXPECT_OK("PRIX / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_ERR("\r\n\r\nGET / HTTP/1.1\r\n", AM_H1_E_LINE);
    EXPECT_ERR("\rGET / HTTP/1.1\r\n", AM_H1_E_LINE);
    EXPECT_OK("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_OK("\nGET / HTTP/1.1\nHost: a\n\n");
    ASSERT_EQ(am_h1_parser_is_preface("PRI * HTTP/2.0\r\n\r\nSM", 20), AM_OK);
    ASSERT_EQ(am_h1_parser_is_preface("PRI * HT", 8), AM_AGAIN);
    ASSERT_EQ(am_h1_parser_is_preface("PRX", 3), AM_DECLINED);
}

/* RFC 9112 §6.1, §6.3 and RFC 9110 §8.6: the smuggling classics. */
TEST(smuggling_cl_te_and_te_cl)
{
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n"
               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
               AM_H1_E_TE_WITH_CL);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
               "Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
               AM_H1_E_TE_WITH_CL);
}

TEST(smuggling_transfer_encoding_variants)
{
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked"
               "\r\n\r\n",
               AM_H1_E_FIELD_NAME);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked"
               "\r\n\r\n",
               AM_H1_E_FIELD_NAME);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\n Transfer-Encoding: chunked"
               "\r\n\r\n",
               AM_H1_E_OBS_FOLD);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n"
               " chunked\r\n\r\n",
               AM_H1_E_OBS_FOLD);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked"
               "\r\n\r\n",
               AM_H1_E_TE_NOT_CHUNKED);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, "
               "identity\r\n\r\n",
               AM_H1_E_TE_NOT_CHUNKED);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
               "Transfer-Encoding: chunked\r\n\r\n",
               AM_H1_E_TE_NOT_CHUNKED);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\""
               "\r\n\r\n",
               AM_H1_E_TE_NOT_CHUNKED);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n",
               AM_H1_E_TE_NOT_CHUNKED);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x0b"
               "\r\n\r\n",
               AM_H1_E_FIELD_VALUE);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, "
               "chunked\r\n\r\n",
               AM_H1_E_TE_UNSUPPORTED);
    ASSERT_EQ(am_h1_parser_status(AM_H1_E_TE_UNSUPPORTED), 501);
    EXPECT_OK("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n"
              "\r\n0\r\n\r\n");
    EXPECT_OK("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked ,"
              "\r\n\r\n0\r\n\r\n");
}

TEST(smuggling_content_length_variants)
{
    result_t r;

    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
               "Content-Length: 6\r\n\r\n",
               AM_H1_E_CONTENT_LENGTH);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
               AM_H1_E_CONTENT_LENGTH);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
               AM_H1_E_CONTENT_LENGTH);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
               AM_H1_E_CONTENT_LENGTH);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n",
               AM_H1_E_CONTENT_LENGTH);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
               AM_H1_E_CONTENT_LENGTH);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
               AM_H1_E_CONTENT_LENGTH);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n",
               AM_H1_E_CONTENT_LENGTH);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
               "99999999999999999999999\r\n\r\n",
               AM_H1_E_CONTENT_LENGTH);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
               "18446744073709551621\r\n\r\n",
               AM_H1_E_CONTENT_LENGTH);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n",
               AM_H1_E_FIELD_NAME);
    /* Identical values count as one (RFC 9110 §8.6). */
    r = PARSE("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n"
              "Content-Length: 3\r\n\r\nabcX");
    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_TRUE(strstr(r.text, "b1/3|") != NULL);
    ASSERT_TRUE(strstr(r.text, "<abc>") != NULL);
    r = PARSE("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nX");
    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_TRUE(strstr(r.text, "b0/0|") != NULL);
    r = PARSE("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
              "9223372036854775807\r\n\r\n");
    ASSERT_EQ(r.rc, AM_AGAIN);
    EXPECT_ERR("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
               "9223372036854775808\r\n\r\n",
               AM_H1_E_CONTENT_LENGTH);
}

TEST(field_lines)
{
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
               AM_H1_E_FIELD_VALUE);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
               AM_H1_E_FIELD_VALUE);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n",
               AM_H1_E_FIELD_VALUE);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", AM_H1_E_FIELD_NAME);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", AM_H1_E_FIELD_NAME);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: a\r\nX(y): x\r\n\r\n",
               AM_H1_E_FIELD_NAME);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: a\r\n\rX: y\r\n\r\n",
               AM_H1_E_FIELD_NAME);
    EXPECT_OK("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\t\"q\"\r\n"
              "Empty:\r\n\r\n");
    EXPECT_OK("GET / HTTP/1.1\nHost: a\r\nX: y\n\r\n");
}

TEST(host_rules)
{
    EXPECT_ERR("GET / HTTP/1.1\r\n\r\n", AM_H1_E_HOST);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", AM_H1_E_HOST);
    EXPECT_ERR("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", AM_H1_E_HOST);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", AM_H1_E_HOST);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", AM_H1_E_HOST);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", AM_H1_E_HOST);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", AM_H1_E_HOST);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", AM_H1_E_HOST);
    EXPECT_ERR("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", AM_H1_E_HOST);
    EXPECT_OK("GET / HTTP/1.1\r\nHost: a%41b.c:\r\n\r\n");
    EXPECT_OK("GET / HTTP/1.1\r\nHost: [v1.x:y]\r\n\r\n");
    EXPECT_OK("GET / HTTP/1.1\r\nHost:\r\n\r\n");
    EXPECT_OK("GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n");
    EXPECT_OK("GET / HTTP/1.0\r\n\r\n");
}

TEST(connection_flags)
{
    result_t r;

    r = PARSE("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(strstr(r.text, "|f1|") != NULL); /* close, no keep-alive */
    r = PARSE("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    ASSERT_TRUE(strstr(r.text, "|f130|") != NULL);
    r = PARSE("GET / HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(strstr(r.text, "|f0|") != NULL);
    r = PARSE("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, "
              "HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQA"
              "AP__\r\nExpect: 100-continue\r\nTE: trailers\r\n\r\n");
    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_TRUE(strstr(r.text, "|f220|") != NULL);
    ASSERT_TRUE(am_h1_parser_has_token("a, h2c ,b", 9, "H2C"));
    ASSERT_TRUE(!am_h1_parser_has_token("h2c2", 4, "h2c"));
    r = PARSE("GET / HTTP/1.1\r\nHost: a\r\nExpect: 101-x\r\n\r\n");
    ASSERT_TRUE(strstr(r.text, "|f160|") != NULL);
    ASSERT_STR_EQ(am_h1_parser_reason(AM_H1_E_TE_HTTP10),
                  "Transfer-Encoding in HTTP/1.0");
    for (int e = 1; e < AM_H1_E_COUNT; e++) {
        int st = am_h1_parser_status((am_h1_error_t)e);

        ASSERT_TRUE(st == 400 || st == 414 || st == 431 || st == 501 ||
                    st == 505);
        ASSERT_TRUE(strlen(am_h1_parser_reason((am_h1_error_t)e)) > 0);
    }
}

TEST(limits_answer_414_and_431)
{
    char in[4096];
    size_t n;
    result_t r;
    int i;

    n = (size_t)snprintf(in, sizeof(in),
                         "GET /%0255d HTTP/1.1\r\nHost: a\r\n"
                         "\r\n",
                         0);
    ASSERT_EQ(parse(in, n).rc, AM_OK);
    n = (size_t)snprintf(in, sizeof(in), "GET /%0256d HTTP/1.1\r\n", 0);
    r = parse(in, n);
    ASSERT_EQ(r.error, AM_H1_E_TARGET_LONG);
    ASSERT_EQ(am_h1_parser_status(r.error), 414);
    /* Header count: 16 pass, 17 do not. */
    n = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (i = 0; i < 15; i++) {
        n += (size_t)snprintf(in + n, sizeof(in) - n, "X%d: y\r\n", i);
    }
    n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n");
    ASSERT_EQ(parse(in, n).rc, AM_OK);
    n -= 2;
    n += (size_t)snprintf(in + n, sizeof(in) - n, "Y: z\r\n\r\n");
    r = parse(in, n);
    ASSERT_EQ(r.error, AM_H1_E_FIELDS_COUNT);
    ASSERT_EQ(am_h1_parser_status(r.error), 431);
    /* Field section size: a line that never ends is refused at the limit. */
    n = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nX: %01030d", 0);
    r = parse(in, n);
    ASSERT_EQ(r.error, AM_H1_E_FIELDS_SIZE);
    /* ... and so is a complete one that crosses it, before it is checked;
     * 1024 bytes exactly pass. */
    n = (size_t)snprintf(in, sizeof(in),
                         "GET / HTTP/1.1\r\nX: %01013d\r\n"
                         "Host: a\r\n\r\n",
                         0);
    r = parse(in, n);
    ASSERT_EQ(r.error, AM_H1_E_FIELDS_SIZE);
    n = (size_t)snprintf(in, sizeof(in),
                         "GET / HTTP/1.1\r\nX: %01003d\r\n"
                         "Host: a\r\n\r\n",
                         0);
    ASSERT_EQ(parse(in, n).rc, AM_OK);
    ASSERT_EQ(am_h1_parser_status(r.error), 431);
}

TEST(reset_parses_the_next_request)
{
    static const char in[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                             "GET /2 HTTP/1.1\r\nHost: b\r\n\r\n";
    am_h1_parser_t p;
    am_h1_field_t f[NFIELDS];
    size_t off;

    am_h1_parser_init(&p, &limits);
    ASSERT_EQ(am_h1_parser_head(&p, in, sizeof(in) - 1, f, NFIELDS), AM_OK);
    off = p.head_len;
    am_h1_parser_reset(&p);
    ASSERT_EQ(am_h1_parser_head(&p, in + off, sizeof(in) - 1 - off, f, NFIELDS),
              AM_OK);
    ASSERT_EQ(p.req.target_len, 2);
    ASSERT_EQ(memcmp(in + off + p.req.target_off, "/2", 2), 0);
    ASSERT_EQ(p.head_len, sizeof(in) - 1 - off);
}

/* Throughput: a browser-like GET with 9 header fields, ns per request
 * (printed). */
static const char bench_req[] =
    "GET /static/app.js?v=123 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 "
    "Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    "\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.example.com/index.html\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=abcdef0123456789; theme=dark; lang=en\r\n"
    "Upgrade-Insecure-Requests: 1\r\n\r\n";

static double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

TEST(bench)
{
    enum {
        N = 200000
    };

    am_h1_parser_t p;
    am_h1_field_t f[NFIELDS];
    double t0, ours;
    size_t len = sizeof(bench_req) - 1, ok = 0;
    int i;

    am_h1_parser_init(&p, &limits);
    t0 = bench_now();
    for (i = 0; i < N; i++) {
        am_h1_parser_reset(&p);
        ok += am_h1_parser_head(&p, bench_req, len, f, NFIELDS) == AM_OK &&
              p.req.nfields == 9;
    }
    ours = (bench_now() - t0) / N;
    printf("  bench: %zu-byte GET, 9 fields: am_h1_parser %.0f ns per "
           "request\n",
           len, ours);
    ASSERT_EQ(ok, N);
}
