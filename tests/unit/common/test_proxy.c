/* tests/unit/common/test_proxy.c: the PROXY protocol parser (common/proxy.c):
 * every v1 and v2 form, AM_AGAIN on each prefix of a valid header, early
 * rejection of wrong bytes, every malformed field, TLVs and the CRC32C.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/proxy.h"
#include "tests/unit/unit.h"

static const unsigned char sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                       0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

/* Parse buf[0..len) and expect AM_OK with the whole header consumed, after
 * AM_AGAIN for every shorter prefix. */
static void
parse_ok_n(const void *buf, size_t len, size_t hlen, am_proxy_result_t *r)
{
    size_t consumed = 12345;

    for (size_t n = 0; n < hlen; n++) {
        int rc = am_proxy_parse(buf, n, r, &consumed);

        if (rc != AM_AGAIN) {
            fprintf(stderr, "  prefix of %zu bytes: %d (%s)\n", n, rc,
                    r->error ? r->error : "");
        }
        ASSERT_EQ(rc, AM_AGAIN);
        ASSERT_EQ(consumed, 0);
    }
    int rc = am_proxy_parse(buf, len, r, &consumed);
    if (rc != AM_OK) {
        fprintf(stderr, "  error: %s\n", r->error ? r->error : "");
    }
    ASSERT_EQ(rc, AM_OK);
    ASSERT_EQ(consumed, hlen);
    ASSERT_TRUE(r->error == NULL);
}

static void
parse_ok(const char *line, am_proxy_result_t *r)
{
    parse_ok_n(line, strlen(line), strlen(line), r);
}

/* Expect AM_ERROR for the whole buffer. */
static void
parse_error_n(const void *buf, size_t len)
{
    am_proxy_result_t r;
    size_t consumed = 12345;
    int rc = am_proxy_parse(buf, len, &r, &consumed);

    if (rc != AM_ERROR) {
        fprintf(stderr, "  accepted (rc %d): %.*s\n", rc, (int)len,
                (const char *)buf);
    }
    ASSERT_EQ(rc, AM_ERROR);
    ASSERT_TRUE(r.error != NULL);
    ASSERT_EQ(consumed, 0);
}

static void
parse_error(const char *line)
{
    parse_error_n(line, strlen(line));
}

static int
parse_rc(const void *buf, size_t len)
{
    am_proxy_result_t r;
    size_t consumed;

    return am_proxy_parse(buf, len, &r, &consumed);
}

static void
check_v4(const struct sockaddr_storage *ss, const char *addr, int port)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    char text[INET_ADDRSTRLEN];

    ASSERT_EQ(sin->sin_family, AF_INET);
    ASSERT_TRUE(inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)));
    ASSERT_STR_EQ(text, addr);
    ASSERT_EQ(ntohs(sin->sin_port), port);
}

static void
check_v6(const struct sockaddr_storage *ss, const char *addr, int port)
{
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    char text[INET6_ADDRSTRLEN];

    ASSERT_EQ(sin6->sin6_family, AF_INET6);
    ASSERT_TRUE(inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text)));
    ASSERT_STR_EQ(text, addr);
    ASSERT_EQ(ntohs(sin6->sin6_port), port);
}

/* v1 */

TEST(v1_tcp4)
{
    am_proxy_result_t r;

    parse_ok("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", &r);
    ASSERT_EQ(r.version, 1);
    ASSERT_EQ(r.local, 0);
    ASSERT_EQ(r.family, AF_INET);
    ASSERT_EQ(r.transport, SOCK_STREAM);
    ASSERT_EQ(r.addrlen, sizeof(struct sockaddr_in));
    check_v4(&r.src, "192.168.0.1", 56324);
    check_v4(&r.dst, "192.168.0.11", 443);
}

TEST(v1_tcp4_extremes)
{
    am_proxy_result_t r;
    const char *max = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535"
                      "\r\n";

    ASSERT_EQ(strlen(max), 56); /* spec §2.1 */
    parse_ok(max, &r);
    check_v4(&r.src, "255.255.255.255", 65535);
    check_v4(&r.dst, "255.255.255.255", 65535);

    parse_ok("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", &r);
    check_v4(&r.src, "0.0.0.0", 0);
    check_v4(&r.dst, "0.0.0.0", 0);

    parse_ok("PROXY TCP4 10.0.0.1 10.0.0.2 10 100\r\n", &r);
    check_v4(&r.src, "10.0.0.1", 10);
    check_v4(&r.dst, "10.0.0.2", 100);
}

TEST(v1_tcp6)
{
    am_proxy_result_t r;

    parse_ok("PROXY TCP6 2001:db8::1 ::1 4711 80\r\n", &r);
    ASSERT_EQ(r.family, AF_INET6);
    ASSERT_EQ(r.local, 0);
    ASSERT_EQ(r.addrlen, sizeof(struct sockaddr_in6));
    check_v6(&r.src, "2001:db8::1", 4711);
    check_v6(&r.dst, "::1", 80);

    parse_ok("PROXY TCP6 2001:DB8:0:0:0:0:0:AbCd :: 1 2\r\n", &r);
    check_v6(&r.src, "2001:db8::abcd", 1);
    check_v6(&r.dst, "::", 2);

    /* HAProxy prints a mapped client of a dual-stack socket so. */
    parse_ok("PROXY TCP6 ::ffff:192.0.2.1 ::ffff:192.0.2.2 1 2\r\n", &r);
    check_v6(&r.src, "::ffff:192.0.2.1", 1);
}

TEST(v1_tcp6_longest)
{
    am_proxy_result_t r;
    const char *max = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

    ASSERT_EQ(strlen(max), 104); /* spec §2.1 */
    parse_ok(max, &r);
    check_v6(&r.src, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
}

TEST(v1_unknown)
{
    am_proxy_result_t r;
    char line[200];

    parse_ok("PROXY UNKNOWN\r\n", &r);
    ASSERT_EQ(r.local, 1);
    ASSERT_EQ(r.version, 1);
    ASSERT_EQ(r.family, AF_UNSPEC);

    parse_ok("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", &r);
    ASSERT_EQ(r.local, 1);

    /* Spec §2.1: anything before the CRLF is ignored. */
    parse_ok("PROXY UNKNOWN whatever \x01\x7f\xff goes\r\n", &r);
    ASSERT_EQ(r.local, 1);

    /* The worst case of the spec is exactly 107 bytes... */
    snprintf(line, sizeof(line), "PROXY UNKNOWN %s %s 65535 65535\r\n",
             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    ASSERT_EQ(strlen(line), AM_PROXY_V1_MAX);
    parse_ok(line, &r);

    /* ...one more byte is too long, and rejected before its CRLF. */
    snprintf(line, sizeof(line), "PROXY UNKNOWN %s %s 65535 655355\r\n",
             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    ASSERT_EQ(strlen(line), AM_PROXY_V1_MAX + 1);
    parse_error(line);
    ASSERT_EQ(parse_rc(line, AM_PROXY_V1_MAX), AM_ERROR);
    ASSERT_EQ(parse_rc(line, AM_PROXY_V1_MAX - 1), AM_AGAIN);
}

TEST(v1_following_bytes_stay)
{
    am_proxy_result_t r;
    const char *in = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\n\r\n";
    const char *in2 = "PROXY UNKNOWN\r\nPROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";

    parse_ok_n(in, strlen(in), strlen("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
               &r);
    parse_ok_n(in2, strlen(in2), strlen("PROXY UNKNOWN\r\n"), &r);
    ASSERT_EQ(r.local, 1);
}

TEST(v1_bad_keyword)
{
    parse_error("GET / HTTP/1.1\r\n\r\n");
    parse_error("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4\r\n");
    parse_error("PROXY \r\n");
    parse_error("PROXY\r\n");
    parse_error("PROXY UNKNOWNX\r\n");
    parse_error("PROXY UNKNOWN\n");
    parse_error("PROXY UNKNOWN\rX\r\n");
    parse_error("PROXY UNKNOWN\r\r\n");
    parse_error("PROXY UNKNOWN x\ny\r\n");
    parse_error("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n");
}

TEST(v1_bad_addresses)
{
    parse_error("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.08 1 2\r\n");
    parse_error("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4 0x1.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4/8 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4 1111.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4 0001.002.003.004 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP4 ::1 ::1 1 2\r\n");
    parse_error("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n");
    parse_error("PROXY TCP6 2001:db8:::1 ::1 1 2\r\n");
    parse_error("PROXY TCP6 2001:db8::1::2 ::1 1 2\r\n");
    parse_error("PROXY TCP6 [::1] ::1 1 2\r\n");
    parse_error("PROXY TCP6 ::1%eth0 ::1 1 2\r\n");
    parse_error("PROXY TCP6 12345::1 ::1 1 2\r\n");
    parse_error("PROXY TCP6 g::1 ::1 1 2\r\n");
    parse_error("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8\r\n");

    /* A NUL inside is no address character (and stops nothing). */
    parse_error_n("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33);
}

TEST(v1_bad_ports)
{
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 02\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 00 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 123456 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1a 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n");
    parse_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r");
}

TEST(v1_too_long)
{
    char line[200];
    const char *a = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";

    /* Two 45-byte dotted forms: each field fits, the line (116) does not. */
    snprintf(line, sizeof(line), "PROXY TCP6 %s %s 65535 65535\r\n", a, a);
    ASSERT_EQ(strlen(line), 116);
    for (size_t n = 0; n < AM_PROXY_V1_MAX; n++) {
        ASSERT_EQ(parse_rc(line, n), AM_AGAIN);
    }
    for (size_t n = AM_PROXY_V1_MAX; n <= strlen(line); n++) {
        ASSERT_EQ(parse_rc(line, n), AM_ERROR);
    }

    /* A line of junk after a valid-looking start. */
    memset(line, '1', sizeof(line));
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): a prefix */
    memcpy(line, "PROXY UNKNOWN ", 14);
    ASSERT_EQ(parse_rc(line, AM_PROXY_V1_MAX - 1), AM_AGAIN);
    ASSERT_EQ(parse_rc(line, AM_PROXY_V1_MAX), AM_ERROR);
    ASSERT_EQ(parse_rc(line, sizeof(line)), AM_ERROR);
}

TEST(v1_early_rejection)
{
    /* A wrong byte is an error at once, without waiting for the CRLF. */
    ASSERT_EQ(parse_rc("G", 1), AM_ERROR);
    ASSERT_EQ(parse_rc("\x16\x03\x01", 3), AM_ERROR); /* TLS ClientHello */
    ASSERT_EQ(parse_rc("PRI * HTTP/2.0", 14), AM_ERROR);
    ASSERT_EQ(parse_rc("P", 1), AM_AGAIN);
    ASSERT_EQ(parse_rc("PROXX", 5), AM_ERROR);
    ASSERT_EQ(parse_rc("PROXY T", 7), AM_AGAIN);
    ASSERT_EQ(parse_rc("PROXY TCP", 9), AM_AGAIN);
    ASSERT_EQ(parse_rc("PROXY TCP7", 10), AM_ERROR);
    ASSERT_EQ(parse_rc("PROXY U", 7), AM_AGAIN);
    ASSERT_EQ(parse_rc("PROXY UNK", 9), AM_AGAIN);
    ASSERT_EQ(parse_rc("PROXY TCP4 1.2.3.4x", 19), AM_ERROR);
    ASSERT_EQ(parse_rc("PROXY TCP4 1234567890123456", 27), AM_ERROR);
    ASSERT_EQ(parse_rc("PROXY TCP4 1.2.3.4 5.6.7.8 0", 28), AM_AGAIN);
    ASSERT_EQ(parse_rc("PROXY TCP4 1.2.3.4 5.6.7.8 01", 29), AM_ERROR);
    ASSERT_EQ(parse_rc("PROXY TCP4 1.2.3.4 5.6.7.8 65536", 32), AM_ERROR);
    ASSERT_EQ(parse_rc("PROXY TCP4 1.2.3.4 5.6.7.8 6553", 31), AM_AGAIN);
    ASSERT_EQ(parse_rc("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 31), AM_AGAIN);
    ASSERT_EQ(parse_rc("PROXY UNKNOWN\r", 14), AM_AGAIN);
    ASSERT_EQ(parse_rc("PROXY UNKNOWN\n", 14), AM_ERROR);
}

/* v2 */

/* Build a v2 header: ver_cmd, fam, then body (addresses and TLVs). */
static size_t
v2(unsigned char *b, unsigned ver_cmd, unsigned fam, const void *body, size_t n)
{
    memcpy(b, sig, 12);
    b[12] = (unsigned char)ver_cmd;
    b[13] = (unsigned char)fam;
    b[14] = (unsigned char)(n >> 8);
    b[15] = (unsigned char)n;
    if (n > 0) {
        memcpy(b + 16, body, n);
    }
    return 16 + n;
}

/* 192.0.2.1:4711 -> 198.51.100.2:443 */
static const unsigned char inet_block[12] = { 192, 0, 2,    1,    198,  51,
                                              100, 2, 0x12, 0x67, 0x01, 0xbb };

static size_t
inet6_block(unsigned char *b)
{
    memset(b, 0, 36);
    b[0] = 0x20;
    b[1] = 0x01;
    b[2] = 0x0d;
    b[3] = 0xb8;
    b[15] = 1; /* 2001:db8::1 */
    b[31] = 1; /* ::1 */
    b[32] = 0xc0;
    b[33] = 0x00; /* 49152 */
    b[34] = 0x00;
    b[35] = 0x50; /* 80 */
    return 36;
}

TEST(v2_tcp4)
{
    unsigned char b[64];
    am_proxy_result_t r;
    size_t n = v2(b, 0x21, 0x11, inet_block, sizeof(inet_block));

    ASSERT_EQ(n, 28);
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.version, 2);
    ASSERT_EQ(r.local, 0);
    ASSERT_EQ(r.family, AF_INET);
    ASSERT_EQ(r.transport, SOCK_STREAM);
    ASSERT_EQ(r.ssl, 0);
    ASSERT_EQ(r.addrlen, sizeof(struct sockaddr_in));
    check_v4(&r.src, "192.0.2.1", 4711);
    check_v4(&r.dst, "198.51.100.2", 443);

    /* The bytes after it stay for the application protocol. */
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): wire bytes */
    memcpy(b + n, "GET / HTTP/1.1\r\n", 16);
    parse_ok_n(b, n + 16, n, &r);
}

TEST(v2_udp4)
{
    unsigned char b[64];
    am_proxy_result_t r;
    size_t n = v2(b, 0x21, 0x12, inet_block, sizeof(inet_block));

    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 0);
    ASSERT_EQ(r.transport, SOCK_DGRAM);
    check_v4(&r.src, "192.0.2.1", 4711);
}

TEST(v2_tcp6)
{
    unsigned char b[128], blk[36];
    am_proxy_result_t r;
    size_t n = v2(b, 0x21, 0x21, blk, inet6_block(blk));

    ASSERT_EQ(n, 52);
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.family, AF_INET6);
    ASSERT_EQ(r.local, 0);
    ASSERT_EQ(r.addrlen, sizeof(struct sockaddr_in6));
    check_v6(&r.src, "2001:db8::1", 49152);
    check_v6(&r.dst, "::1", 80);

    n = v2(b, 0x21, 0x22, blk, 36);
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.transport, SOCK_DGRAM);
}

TEST(v2_local)
{
    unsigned char b[300], junk[40];
    am_proxy_result_t r;
    size_t n;

    /* A health check: LOCAL, UNSPEC, no addresses. */
    n = v2(b, 0x20, 0x00, NULL, 0);
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 1);
    ASSERT_EQ(r.family, AF_UNSPEC);

    /* Spec §2.2: LOCAL discards the block, whatever it holds. */
    n = v2(b, 0x20, 0x11, inet_block, sizeof(inet_block));
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 1);
    ASSERT_EQ(r.family, AF_INET);
    memset(junk, 0xff, sizeof(junk));
    n = v2(b, 0x20, 0x11, junk, 5); /* too short for INET: not read */
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 1);
    n = v2(b, 0x20, 0x31, junk, sizeof(junk));
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 1);
}

TEST(v2_unspec_is_local)
{
    unsigned char b[300];
    am_proxy_result_t r;
    size_t n;

    /* PROXY with an UNSPEC family or transport: use the real peer. */
    n = v2(b, 0x21, 0x00, NULL, 0);
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 1);
    n = v2(b, 0x21, 0x00, inet_block, sizeof(inet_block));
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 1);
    n = v2(b, 0x21, 0x10, inet_block, sizeof(inet_block));
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 1);
    ASSERT_EQ(r.family, AF_INET);
    ASSERT_EQ(r.transport, 0);
    n = v2(b, 0x21, 0x10, inet_block, 3);
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 1);
    n = v2(b, 0x21, 0x01, NULL, 0);
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 1);
}

TEST(v2_unix)
{
    unsigned char b[300], blk[216];
    am_proxy_result_t r;
    size_t n;

    memset(blk, 0, sizeof(blk));
    /* The block was zeroed: both paths end in a NUL byte. */
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
    memcpy(blk, "/run/client.sock", 16);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
    memcpy(blk + 108, "/run/server.sock", 16);
    n = v2(b, 0x21, 0x31, blk, sizeof(blk));
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 1);
    ASSERT_EQ(r.family, AF_UNIX);
    ASSERT_EQ(r.transport, SOCK_STREAM);
    n = v2(b, 0x21, 0x32, blk, sizeof(blk));
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.transport, SOCK_DGRAM);

    n = v2(b, 0x21, 0x31, blk, 215);
    parse_error_n(b, n);
}

TEST(v2_short_address_block)
{
    unsigned char b[128], blk[36];

    parse_error_n(b, v2(b, 0x21, 0x11, inet_block, 11));
    parse_error_n(b, v2(b, 0x21, 0x11, NULL, 0));
    parse_error_n(b, v2(b, 0x21, 0x12, inet_block, 4));
    inet6_block(blk);
    parse_error_n(b, v2(b, 0x21, 0x21, blk, 35));
    parse_error_n(b, v2(b, 0x21, 0x21, blk, 12));
}

TEST(v2_bad_signature)
{
    unsigned char b[64];
    size_t n = v2(b, 0x21, 0x11, inet_block, sizeof(inet_block));

    /* Each signature byte is checked as soon as it arrives. */
    for (size_t i = 1; i < 12; i++) {
        unsigned char c[64];

        memcpy(c, b, n);
        c[i] ^= 0x40;
        ASSERT_EQ(parse_rc(c, i), AM_AGAIN);
        ASSERT_EQ(parse_rc(c, i + 1), AM_ERROR);
        parse_error_n(c, n);
    }
    /* An HTTP/1.1 request line or CRLFs alone are not a header. */
    ASSERT_EQ(parse_rc("\r\n\r\nGET", 7), AM_ERROR);
    ASSERT_EQ(parse_rc("\r\n\r\n", 4), AM_AGAIN);
    ASSERT_EQ(parse_rc("\r\r", 2), AM_ERROR);
}

TEST(v2_bad_version_command)
{
    static const unsigned vc[] = { 0x01, 0x11, 0x31, 0xf1, 0x22,
                                   0x23, 0x2f, 0x00, 0x12 };
    unsigned char b[64];

    for (size_t i = 0; i < am_nitems(vc); i++) {
        size_t n = v2(b, vc[i], 0x11, inet_block, sizeof(inet_block));

        ASSERT_EQ(parse_rc(b, 12), AM_AGAIN);
        ASSERT_EQ(parse_rc(b, 13), AM_ERROR); /* at once */
        parse_error_n(b, n);
    }
}

TEST(v2_bad_family_transport)
{
    static const unsigned fam[] = { 0x41, 0x51, 0xf1, 0x13, 0x1f,
                                    0x03, 0x33, 0x44, 0xff };
    unsigned char b[300];

    memset(b, 0, sizeof(b));
    for (size_t i = 0; i < am_nitems(fam); i++) {
        unsigned char blk[216];
        size_t n;

        memset(blk, 0, sizeof(blk));
        n = v2(b, 0x21, fam[i], blk, sizeof(blk));
        ASSERT_EQ(parse_rc(b, 13), AM_AGAIN);
        ASSERT_EQ(parse_rc(b, 14), AM_ERROR);
        parse_error_n(b, n);
        /* Even with LOCAL, an undefined value is rejected. */
        n = v2(b, 0x20, fam[i], NULL, 0);
        parse_error_n(b, n);
    }
}

TEST(v2_length_limit)
{
    static unsigned char b[16 + 65535], body[65535];
    am_proxy_result_t r;
    size_t n;

    /* 4096 bytes in all: the last accepted size, padded with a NOOP TLV. */
    memset(body, 0, sizeof(body));
    memcpy(body, inet_block, 12);
    body[12] = 0x04;
    body[13] = (unsigned char)((4080 - 15) >> 8);
    body[14] = (unsigned char)(4080 - 15);
    n = v2(b, 0x21, 0x11, body, 4080);
    ASSERT_EQ(n, AM_PROXY_V2_MAX);
    parse_ok_n(b, n, n, &r);
    check_v4(&r.src, "192.0.2.1", 4711);

    /* One more, or the 64 KiB the length field allows: rejected as soon
     * as the length is known. */
    (void)v2(b, 0x21, 0x11, body, 4081);
    ASSERT_EQ(parse_rc(b, 15), AM_AGAIN);
    ASSERT_EQ(parse_rc(b, 16), AM_ERROR);
    n = v2(b, 0x21, 0x11, body, 65535);
    ASSERT_EQ(parse_rc(b, 16), AM_ERROR);
    parse_error_n(b, n);
    (void)v2(b, 0x20, 0x00, body, 65535);
    ASSERT_EQ(parse_rc(b, 16), AM_ERROR);
}

/* Address block plus TLVs. */
static size_t
with_tlvs(unsigned char *b, const void *tlvs, size_t n)
{
    unsigned char body[512];

    memcpy(body, inet_block, 12);
    memcpy(body + 12, tlvs, n);
    return v2(b, 0x21, 0x11, body, 12 + n);
}

TEST(v2_tlvs)
{
    static const unsigned char tlvs[] = {
        0x01, 0x00, 0x02, 'h',  '2', /* ALPN */
        0x02, 0x00, 0x0b, 'e',  'x', 'a', 'm',
        'p',  'l',  'e',  '.',  'c', 'o', 'm', /* AUTHORITY */
        0x04, 0x00, 0x00,                      /* NOOP, empty */
        0x05, 0x00, 0x03, 1,    2,   3,        /* UNIQUE_ID */
        0xe0, 0x00, 0x01, 0xff,                /* custom */
    };
    unsigned char b[600];
    am_proxy_result_t r;
    size_t n = with_tlvs(b, tlvs, sizeof(tlvs));

    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.local, 0);
    ASSERT_EQ(r.ssl, 0);
    check_v4(&r.src, "192.0.2.1", 4711);
}

TEST(v2_ssl_tlv)
{
    static const unsigned char ssl[] = {
        0x20, 0x00, 0x0c, 0x01, 0,   0,   0,   0, /* client SSL, verified */
        0x21, 0x00, 0x04, 'T',  'L', 'S', '1',    /* SSL_VERSION sub-TLV */
    };
    static const unsigned char plain[] = { 0x20, 0x00, 0x05, 0x00, 0, 0, 0, 1 };
    static const unsigned char short5[] = { 0x20, 0x00, 0x04, 0x01, 0, 0, 0 };
    unsigned char b[600];
    am_proxy_result_t r;
    size_t n;

    n = with_tlvs(b, ssl, sizeof(ssl));
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.ssl, 1);
    n = with_tlvs(b, plain, sizeof(plain));
    parse_ok_n(b, n, n, &r);
    ASSERT_EQ(r.ssl, 0);
    parse_error_n(b, with_tlvs(b, short5, sizeof(short5)));
}

TEST(v2_bad_tlvs)
{
    static const unsigned char t1[] = { 0x01 };
    static const unsigned char t2[] = { 0x01, 0x00 };
    static const unsigned char t3[] = { 0x01, 0x00, 0x01 };
    static const unsigned char t4[] = { 0x01, 0x00, 0x03, 'a', 'b' };
    static const unsigned char t5[] = {
        0x04, 0x00, 0x00, 0x01, 0xff, 0xff, 'x'
    };
    unsigned char b[600];

    parse_error_n(b, with_tlvs(b, t1, sizeof(t1)));
    parse_error_n(b, with_tlvs(b, t2, sizeof(t2)));
    parse_error_n(b, with_tlvs(b, t3, sizeof(t3)));
    parse_error_n(b, with_tlvs(b, t4, sizeof(t4)));
    parse_error_n(b, with_tlvs(b, t5, sizeof(t5)));
}

/* RFC 4960 appendix B CRC-32C, written independently of proxy.c's. */
static uint32_t
crc32c(const unsigned char *p, size_t n)
{
    static uint32_t table[256];
    uint32_t crc = 0xffffffff;

    if (table[1] == 0) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;

            for (int k = 0; k < 8; k++) {
                c = c & 1 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
            }
            table[i] = c;
        }
    }
    while (n--) {
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }
    return crc ^ 0xffffffff;
}

TEST(v2_crc32c)
{
    unsigned char tlvs[] = {
        0x01, 0x00, 0x02, 'h', '2',  0x03, 0x00, 0x04,
        0,    0,    0,    0,   0x04, 0x00, 0x01, 0x00,
    };
    unsigned char b[600], c[600];
    am_proxy_result_t r;
    uint32_t crc;
    size_t n;

    ASSERT_EQ(crc32c((const unsigned char *)"123456789", 9), 0xe3069283);

    n = with_tlvs(b, tlvs, sizeof(tlvs));
    crc = crc32c(b, n); /* with the field zeroed */
    b[16 + 12 + 8] = (unsigned char)(crc >> 24);
    b[16 + 12 + 9] = (unsigned char)(crc >> 16);
    b[16 + 12 + 10] = (unsigned char)(crc >> 8);
    b[16 + 12 + 11] = (unsigned char)crc;
    parse_ok_n(b, n, n, &r);
    check_v4(&r.src, "192.0.2.1", 4711);

    /* Spec §2.2.3: a mismatch MUST fail, wherever the damage is. */
    for (size_t i = 16; i < n; i++) {
        memcpy(c, b, n);
        c[i] ^= 0x01;
        if (i >= 16 + 12 && i < 16 + 12 + 3) {
            continue; /* ALPN TLV header: a layout change */
        }
        if (i == 16 + 12 + 5 || i == 16 + 12 + 6 || i == 16 + 12 + 7 ||
            i == 16 + 12 + 12 || i == 16 + 12 + 13 || i == 16 + 12 + 14) {
            continue; /* TLV type or lengths */
        }
        parse_error_n(c, n);
    }

    /* Spec §2.2.3 fixes its length at 4. */
    tlvs[7] = 3;
    parse_error_n(b, with_tlvs(b, tlvs, sizeof(tlvs)));
}

TEST(v2_every_prefix_then_more)
{
    unsigned char b[128], blk[36];
    am_proxy_result_t r;
    size_t consumed, n = v2(b, 0x21, 0x21, blk, inet6_block(blk));

    /* Byte by byte, as a slow sender might deliver it. */
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(am_proxy_parse((const char *)b, i, &r, &consumed), AM_AGAIN);
    }
    ASSERT_EQ(am_proxy_parse((const char *)b, n, &r, &consumed), AM_OK);
    ASSERT_EQ(consumed, n);
}
