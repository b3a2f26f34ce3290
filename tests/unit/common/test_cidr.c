/* tests/unit/common/test_cidr.c: IP networks (common/cidr.c): the forms
 * am_cidr_parse() takes and refuses, host bits, IPv4-mapped networks, and
 * which peers am_cidr_match() puts in a network.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/cidr.h"
#include "common/core.h"
#include "tests/unit/unit.h"

static am_cidr_t trusted[16];
static size_t ntrusted;

static void
trust(const char *s)
{
    ASSERT_TRUE(ntrusted < am_nitems(trusted));
    ASSERT_EQ(am_cidr_parse(s, strlen(s), &trusted[ntrusted]), AM_OK);
    ntrusted++;
}

static struct sockaddr_storage *
sa(const char *text, int port)
{
    static struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        ASSERT_EQ(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        ASSERT_EQ(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    }
    return &ss;
}

static int
match(const char *cidr, const char *addr)
{
    am_cidr_t c;

    ASSERT_EQ(am_cidr_parse(cidr, strlen(cidr), &c), AM_OK);
    return am_cidr_match(&c, 1, (struct sockaddr *)sa(addr, 1234));
}

static void
check_cidr(const char *s, int family, const char *addr, int prefix)
{
    unsigned char want[16];
    am_cidr_t c;

    memset(&c, 0x5a, sizeof(c));
    ASSERT_EQ(am_cidr_parse(s, strlen(s), &c), AM_OK);
    ASSERT_EQ(c.family, family);
    ASSERT_EQ(c.prefix, prefix);
    memset(want, 0, sizeof(want));
    ASSERT_EQ(inet_pton(family, addr, want), 1);
    ASSERT_EQ(memcmp(c.addr, want, family == AF_INET ? 4 : 16), 0);
    if (family == AF_INET) {
        for (int i = 4; i < 16; i++) {
            ASSERT_EQ(c.addr[i], 0);
        }
    }
}

/* CIDR */

TEST(cidr_parse_forms)
{
    check_cidr("10.0.0.0/8", AF_INET, "10.0.0.0", 8);
    check_cidr("127.0.0.1", AF_INET, "127.0.0.1", 32);
    check_cidr("127.0.0.1/32", AF_INET, "127.0.0.1", 32);
    check_cidr("0.0.0.0/0", AF_INET, "0.0.0.0", 0);
    check_cidr("::1", AF_INET6, "::1", 128);
    check_cidr("::1/128", AF_INET6, "::1", 128);
    check_cidr("fd00::/8", AF_INET6, "fd00::", 8);
    check_cidr("::/0", AF_INET6, "::", 0);
    check_cidr("2001:DB8::/32", AF_INET6, "2001:db8::", 32);
}

TEST(cidr_parse_clears_host_bits)
{
    check_cidr("10.1.2.3/8", AF_INET, "10.0.0.0", 8);
    check_cidr("192.168.1.255/23", AF_INET, "192.168.0.0", 23);
    check_cidr("255.255.255.255/0", AF_INET, "0.0.0.0", 0);
    check_cidr("255.255.255.255/1", AF_INET, "128.0.0.0", 1);
    check_cidr("255.255.255.255/31", AF_INET, "255.255.255.254", 31);
    check_cidr("2001:db8::ffff/120", AF_INET6, "2001:db8::ff00", 120);
    check_cidr("ffff::1/7", AF_INET6, "fe00::", 7);
}

TEST(cidr_parse_mapped)
{
    check_cidr("::ffff:10.0.0.0/104", AF_INET, "10.0.0.0", 8);
    check_cidr("::ffff:1.2.3.4", AF_INET, "1.2.3.4", 32);
    check_cidr("::ffff:0:0/96", AF_INET, "0.0.0.0", 0);
    check_cidr("::ffff:0:0/95", AF_INET6, "::fffe:0:0", 95);
    check_cidr("::1.2.3.4", AF_INET6, "::1.2.3.4", 128); /* compatible */
}

TEST(cidr_parse_errors)
{
    static const char *bad[] = {
        "",
        "/8",
        "10.0.0.0/",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/08",
        "10.0.0.0/00",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        "10.0.0.0/8 ",
        " 10.0.0.0",
        "10.0.0.0 /8",
        "10.0.0.0/8/8",
        "10.0.0.0/3x",
        "10.0.0.0/99999999999999999999",
        "10.0.0",
        "10.0.0.0.0",
        "010.0.0.0",
        "256.0.0.0",
        "*",
        "localhost",
        "fe80::1%eth0",
        "[::1]",
        "[::1]/128",
        "::1/",
        ":::1",
        "1.2.3.4:80",
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255.255/32",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    };
    am_cidr_t c;

    for (size_t i = 0; i < am_nitems(bad); i++) {
        memset(&c, 0x5a, sizeof(c));
        if (am_cidr_parse(bad[i], strlen(bad[i]), &c) != AM_ERROR) {
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
        }
        ASSERT_EQ(am_cidr_parse(bad[i], strlen(bad[i]), &c), AM_ERROR);
        ASSERT_EQ(c.family, 0x5a5a5a5a); /* untouched */
    }
}

TEST(cidr_match_edges)
{
    /* /0 */
    ASSERT_EQ(match("0.0.0.0/0", "1.2.3.4"), 1);
    ASSERT_EQ(match("0.0.0.0/0", "255.255.255.255"), 1);
    ASSERT_EQ(match("0.0.0.0/0", "::1"), 0);
    ASSERT_EQ(match("0.0.0.0/0", "::ffff:1.2.3.4"), 1);
    ASSERT_EQ(match("::/0", "2001:db8::1"), 1);
    ASSERT_EQ(match("::/0", "1.2.3.4"), 0);
    ASSERT_EQ(match("::/0", "::ffff:1.2.3.4"), 0); /* matched as IPv4 */

    /* /32 and /128 */
    ASSERT_EQ(match("10.0.0.1", "10.0.0.1"), 1);
    ASSERT_EQ(match("10.0.0.1", "10.0.0.0"), 0);
    ASSERT_EQ(match("10.0.0.1", "10.0.0.2"), 0);
    ASSERT_EQ(match("10.0.0.1", "11.0.0.1"), 0);
    ASSERT_EQ(match("::1", "::1"), 1);
    ASSERT_EQ(match("::1", "::"), 0);
    ASSERT_EQ(match("::1", "::2"), 0);
    ASSERT_EQ(match("::1", "1::1"), 0);
    ASSERT_EQ(match("::1", "127.0.0.1"), 0);

    /* prefixes off byte boundaries */
    ASSERT_EQ(match("10.0.0.0/9", "10.127.255.255"), 1);
    ASSERT_EQ(match("10.0.0.0/9", "10.128.0.0"), 0);
    ASSERT_EQ(match("10.0.0.0/8", "10.255.255.255"), 1);
    ASSERT_EQ(match("10.0.0.0/8", "11.0.0.0"), 0);
    ASSERT_EQ(match("10.0.0.0/8", "9.255.255.255"), 0);
    ASSERT_EQ(match("192.168.0.0/31", "192.168.0.1"), 1);
    ASSERT_EQ(match("192.168.0.0/31", "192.168.0.2"), 0);
    ASSERT_EQ(match("128.0.0.0/1", "200.0.0.1"), 1);
    ASSERT_EQ(match("128.0.0.0/1", "127.255.255.255"), 0);
    ASSERT_EQ(match("fd00::/8", "fd12:3456::1"), 1);
    ASSERT_EQ(match("fd00::/8", "fc00::1"), 0);
    ASSERT_EQ(match("fc00::/7", "fdff::1"), 1);
    ASSERT_EQ(match("fc00::/7", "fe00::"), 0);
    ASSERT_EQ(match("2001:db8::/127", "2001:db8::1"), 1);
    ASSERT_EQ(match("2001:db8::/127", "2001:db8::2"), 0);

    /* IPv4-mapped peers of a dual-stack socket */
    ASSERT_EQ(match("10.0.0.0/8", "::ffff:10.1.2.3"), 1);
    ASSERT_EQ(match("10.0.0.0/8", "::ffff:11.1.2.3"), 0);
    ASSERT_EQ(match("127.0.0.1", "::ffff:127.0.0.1"), 1);
    ASSERT_EQ(match("::ffff:10.0.0.0/104", "10.2.3.4"), 1);
    ASSERT_EQ(match("::ffff:10.0.0.0/104", "::ffff:10.2.3.4"), 1);
    ASSERT_EQ(match("10.0.0.0/8", "::10.1.2.3"), 0); /* not mapped */
}

TEST(cidr_match_lists)
{
    struct sockaddr_un un;

    ASSERT_EQ(am_cidr_match(trusted, 0, (struct sockaddr *)sa("1.2.3.4", 1)),
              0);
    trust("127.0.0.1");
    trust("::1");
    trust("10.0.0.0/8");
    ASSERT_EQ(
        am_cidr_match(trusted, ntrusted, (struct sockaddr *)sa("127.0.0.1", 1)),
        1);
    ASSERT_EQ(am_cidr_match(trusted, ntrusted, (struct sockaddr *)sa("::1", 1)),
              1);
    ASSERT_EQ(
        am_cidr_match(trusted, ntrusted, (struct sockaddr *)sa("10.9.9.9", 1)),
        1);
    ASSERT_EQ(
        am_cidr_match(trusted, ntrusted, (struct sockaddr *)sa("127.0.0.2", 1)),
        0);

    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    ASSERT_EQ(am_cidr_match(trusted, ntrusted, (struct sockaddr *)&un), 0);
    ASSERT_EQ(am_cidr_match(trusted, ntrusted, NULL), 0);
}

/* The length bounds the text: the config passes one entry of a
 * comma-separated list, not NUL-terminated. */
TEST(cidr_parse_reads_len_bytes)
{
    const char *list = "10.0.0.0/8,fd00::/8";
    am_cidr_t c;

    ASSERT_EQ(am_cidr_parse(list, 10, &c), AM_OK);
    ASSERT_EQ(c.family, AF_INET);
    ASSERT_EQ(c.prefix, 8);
    ASSERT_EQ(am_cidr_parse(list + 11, 8, &c), AM_OK);
    ASSERT_EQ(c.family, AF_INET6);
    ASSERT_EQ(c.prefix, 8);
    ASSERT_EQ(am_cidr_parse(list, 8, &c), AM_OK); /* "10.0.0.0": a /32 */
    ASSERT_EQ(c.prefix, 32);
    ASSERT_EQ(am_cidr_parse(list, 0, &c), AM_ERROR);
    ASSERT_EQ(am_cidr_parse("10.0.0.0/8", 9, &c), AM_ERROR); /* "10.0.0.0/" */
}

/* Issue 8: an IPv4-mapped network covers IPv4 peers, and an IPv4 network
 * covers a dual-stack socket's ::ffff:a.b.c.d peer. */
TEST(cidr_match_mapped_both_ways)
{
    ASSERT_EQ(match("::ffff:10.0.0.0/104", "10.1.2.3"), 1);
    ASSERT_EQ(match("::ffff:10.0.0.0/104", "::ffff:10.1.2.3"), 1);
    ASSERT_EQ(match("::ffff:10.0.0.0/104", "11.0.0.1"), 0);
    ASSERT_EQ(match("10.0.0.0/8", "::ffff:10.200.0.1"), 1);
    ASSERT_EQ(match("10.0.0.0/8", "::ffff:11.0.0.1"), 0);
    ASSERT_EQ(match("::/0", "::ffff:10.0.0.1"), 0); /* IPv4, not IPv6 */
    ASSERT_EQ(match("0.0.0.0/0", "::ffff:10.0.0.1"), 1);
}
