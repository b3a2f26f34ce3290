/* tests/unit/common/test_forwarded.c: forwarded_allow_ips networks and the
 * Forwarded / X-Forwarded-For / X-Forwarded-Proto walk (common/forwarded.c):
 * the RFC 7239 grammar, hop walking, scheme choice, and hostile input (the
 * networks themselves: test_cidr.c).
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/forwarded.h"
#include "tests/unit/unit.h"

static am_cidr_t trusted[16];
static size_t ntrusted;
static am_forwarded_out_t out;

static void
trust(const char *s)
{
    ASSERT_TRUE(ntrusted < am_nitems(trusted));
    ASSERT_EQ(am_cidr_parse(s, strlen(s), &trusted[ntrusted]), AM_OK);
    ntrusted++;
}

static int
resolve_mode(const char *fwd, const char *xff, const char *xfp, int trust_all,
             int mode)
{
    am_forwarded_in_t in;

    memset(&in, 0, sizeof(in));
    in.forwarded = fwd;
    in.forwarded_len = fwd ? strlen(fwd) : 0;
    in.xff = xff;
    in.xff_len = xff ? strlen(xff) : 0;
    in.xfp = xfp;
    in.xfp_len = xfp ? strlen(xfp) : 0;
    in.mode = mode;
    memset(&out, 0x5a, sizeof(out));
    return am_forwarded_resolve(&in, trusted, ntrusted, trust_all, &out);
}

static int
resolve(const char *fwd, const char *xff, const char *xfp)
{
    return resolve_mode(fwd, xff, xfp, 0, AM_FORWARDED_AUTO);
}

/* Expect a client host (NULL: none) with port, and a scheme (NULL: none). */
static void
expect(const char *host, int port, const char *scheme)
{
    if (host == NULL) {
        ASSERT_EQ(out.has_host, 0);
    } else {
        ASSERT_EQ(out.has_host, 1);
        ASSERT_STR_EQ(out.host, host);
        ASSERT_EQ(out.port, port);
    }
    if (scheme == NULL) {
        ASSERT_EQ(out.has_scheme, 0);
    } else {
        ASSERT_EQ(out.has_scheme, 1);
        ASSERT_STR_EQ(out.scheme, scheme);
    }
}

static void
fwd_ok(const char *fwd, const char *host, int port, const char *scheme)
{
    int rc = resolve(fwd, NULL, NULL);

    if (rc != AM_OK) {
        fprintf(stderr, "  Forwarded: %s\n", fwd);
    }
    ASSERT_EQ(rc, AM_OK);
    expect(host, port, scheme);
}

static void
fwd_error(const char *fwd)
{
    int rc = resolve(fwd, "1.2.3.4", "https");

    if (rc != AM_ERROR) {
        fprintf(stderr, "  accepted Forwarded: %s\n", fwd);
    }
    ASSERT_EQ(rc, AM_ERROR);
    expect(NULL, 0, NULL); /* X-Forwarded-* ignored too */
}

static void
xff_ok(const char *xff, const char *xfp, const char *host, int port,
       const char *scheme)
{
    ASSERT_EQ(resolve(NULL, xff, xfp), AM_OK);
    expect(host, port, scheme);
}

/* Forwarded (RFC 7239) */

TEST(forwarded_rfc_examples)
{
    trust("127.0.0.1");

    /* RFC 7239 §4 and §7.x examples. */
    fwd_ok("for=\"_gazonk\"", NULL, 0, NULL);
    fwd_ok("For=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17", 4711, NULL);
    fwd_ok("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60", 0,
           "http");
    fwd_ok("for=192.0.2.43, for=198.51.100.17", "198.51.100.17", 0, NULL);
    fwd_ok("for=192.0.2.43,for=\"[2001:db8:cafe::17]\",for=unknown", NULL, 0,
           NULL);
}

TEST(forwarded_walk)
{
    trust("127.0.0.1");
    trust("10.0.0.0/8");
    trust("fd00::/8");

    fwd_ok("for=192.0.2.43, for=10.0.0.7", "192.0.2.43", 0, NULL);
    fwd_ok("for=192.0.2.43, for=10.0.0.7, for=10.0.0.8", "192.0.2.43", 0, NULL);
    fwd_ok("for=198.51.100.1, for=192.0.2.43, for=10.0.0.7", "192.0.2.43", 0,
           NULL);
    fwd_ok("for=192.0.2.43, for=\"[fd00::1]:99\"", "192.0.2.43", 0, NULL);
    /* all trusted: the leftmost */
    fwd_ok("for=10.0.0.1, for=10.0.0.2", "10.0.0.1", 0, NULL);
    /* an untrusted hop in the middle stops the walk */
    fwd_ok("for=10.0.0.1, for=192.0.2.1, for=10.0.0.2", "192.0.2.1", 0, NULL);
    /* an IPv4-mapped hop matches IPv4 networks */
    fwd_ok("for=192.0.2.43, for=\"[::ffff:10.0.0.7]\"", "192.0.2.43", 0, NULL);

    /* trust everyone: the leftmost address */
    ASSERT_EQ(resolve_mode("for=192.0.2.43, for=198.51.100.17", NULL, NULL, 1,
                           AM_FORWARDED_AUTO),
              AM_OK);
    expect("192.0.2.43", 0, NULL);
    /* ...but never past a hop that is not an address */
    ASSERT_EQ(resolve_mode("for=192.0.2.43, for=unknown, for=198.51.100.17",
                           NULL, NULL, 1, AM_FORWARDED_AUTO),
              AM_OK);
    expect(NULL, 0, NULL);
}

TEST(forwarded_scheme_of_the_client_hop)
{
    trust("10.0.0.0/8");

    /* proto= of the element where the walk stops. */
    fwd_ok("for=192.0.2.1;proto=https, for=10.0.0.1;proto=http", "192.0.2.1", 0,
           "https");
    fwd_ok("for=192.0.2.1, for=10.0.0.1;proto=https", "192.0.2.1", 0, NULL);
    fwd_ok("for=192.0.2.1;proto=http, for=198.51.100.1;proto=https",
           "198.51.100.1", 0, "https");
    fwd_ok("proto=https", NULL, 0, "https");
    fwd_ok("for=unknown;proto=wss", NULL, 0, "wss");
    fwd_ok("for=192.0.2.1;proto=ws", "192.0.2.1", 0, "ws");
    fwd_ok("for=192.0.2.1;proto=\"https\"", "192.0.2.1", 0, "https");
    fwd_ok("for=192.0.2.1;proto=HTTPS", "192.0.2.1", 0, "https");
    fwd_ok("for=192.0.2.1;proto=Wss", "192.0.2.1", 0, "wss");
    fwd_ok("for=192.0.2.1;proto=ftp", "192.0.2.1", 0, NULL);
    fwd_ok("for=192.0.2.1;proto=httpss", "192.0.2.1", 0, NULL);
    fwd_ok("for=192.0.2.1;proto=htt", "192.0.2.1", 0, NULL);
    fwd_ok("for=192.0.2.1;proto=\"https \"", "192.0.2.1", 0, NULL);
    fwd_ok("for=192.0.2.1;proto=\"\"", "192.0.2.1", 0, NULL);
}

TEST(forwarded_nodes)
{
    fwd_ok("for=\"[2001:db8::1]:4711\"", "2001:db8::1", 4711, NULL);
    fwd_ok("for=\"[2001:DB8::1]\"", "2001:db8::1", 0, NULL);
    fwd_ok("for=\"192.0.2.1:8080\"", "192.0.2.1", 8080, NULL);
    fwd_ok("for=\"192.0.2.1:0\"", "192.0.2.1", 0, NULL);
    fwd_ok("for=\"192.0.2.1:65535\"", "192.0.2.1", 65535, NULL);
    fwd_ok("for=\"192.0.2.1:00080\"", "192.0.2.1", 80, NULL); /* 1*5DIGIT */
    fwd_ok("for=\"192.0.2.1:_p0rt\"", "192.0.2.1", 0, NULL);
    fwd_ok("for=\"[::1]:_x-y.z\"", "::1", 0, NULL);
    fwd_ok("for=\"[::ffff:192.0.2.1]\"", "::ffff:192.0.2.1", 0, NULL);
    fwd_ok("for=\"\\[::1\\]:8\\0\"", "::1", 80, NULL); /* quoted-pairs */

    /* §6.2, §6.3: unknown and obfuscated identifiers are no address. */
    fwd_ok("for=unknown", NULL, 0, NULL);
    fwd_ok("for=UNKNOWN", NULL, 0, NULL);
    fwd_ok("for=_hidden", NULL, 0, NULL);
    fwd_ok("for=\"_SEVKISEK\"", NULL, 0, NULL);

    /* Not nodes: no address, but the header is well-formed. */
    fwd_ok("for=\"::1\"", NULL, 0, NULL); /* §6: brackets required */
    fwd_ok("for=\"[1.2.3.4]\"", NULL, 0, NULL);
    fwd_ok("for=\"[::1\"", NULL, 0, NULL);
    fwd_ok("for=\"[::1]x\"", NULL, 0, NULL);
    fwd_ok("for=\"[::1]:\"", NULL, 0, NULL);
    fwd_ok("for=\"[]\"", NULL, 0, NULL);
    fwd_ok("for=\"[::1]:65536\"", NULL, 0, NULL);
    fwd_ok("for=\"[::1]:123456\"", NULL, 0, NULL);
    fwd_ok("for=\"[::1]:_\"", NULL, 0, NULL);
    fwd_ok("for=\"[::1]:_a b\"", NULL, 0, NULL);
    fwd_ok("for=\"[::1]:-1\"", NULL, 0, NULL);
    fwd_ok("for=\"[fe80::1%eth0]\"", NULL, 0, NULL);
    fwd_ok("for=\"192.0.2.1:\"", NULL, 0, NULL);
    fwd_ok("for=\"192.0.2.1:80:80\"", NULL, 0, NULL);
    fwd_ok("for=01.2.3.4", NULL, 0, NULL);
    fwd_ok("for=1.2.3", NULL, 0, NULL);
    fwd_ok("for=1.2.3.256", NULL, 0, NULL);
    fwd_ok("for=example.com", NULL, 0, NULL);
    fwd_ok("for=\"\"", NULL, 0, NULL);
    fwd_ok("for=\" 1.2.3.4\"", NULL, 0, NULL);
    fwd_ok("for=\"1.2.3.4\x80\"", NULL, 0, NULL);
}

TEST(forwarded_syntax_leniency)
{
    trust("10.0.0.0/8");

    /* Case of names, spaces around "," and ";", empty elements and pairs,
     * extension parameters, by= and host=. */
    fwd_ok("FOR=192.0.2.1;PROTO=https", "192.0.2.1", 0, "https");
    fwd_ok("fOr=192.0.2.1;pRoTo=https", "192.0.2.1", 0, "https");
    fwd_ok("  for=192.0.2.1 ;  proto=https  ,\tfor=10.0.0.1  ", "192.0.2.1", 0,
           "https");
    fwd_ok(", ,for=192.0.2.1,,", "192.0.2.1", 0, NULL);
    fwd_ok(";for=192.0.2.1;;proto=https;", "192.0.2.1", 0, "https");
    fwd_ok("for=192.0.2.1;secret=xyz;ext=\"a,b;c\";proto=https", "192.0.2.1", 0,
           "https");
    fwd_ok("by=10.0.0.1;for=192.0.2.1;host=example.com;proto=https",
           "192.0.2.1", 0, "https");
    fwd_ok("for=192.0.2.1, for=10.0.0.1;by=\"[::1]\";host=\"a b\"", "192.0.2.1",
           0, NULL);
    /* each element may carry each parameter once */
    fwd_ok("for=192.0.2.1;proto=https, for=10.0.0.1;proto=http", "192.0.2.1", 0,
           "https");
    /* an element with only unknown parameters is a hop without for= */
    fwd_ok("for=192.0.2.1, x=y", NULL, 0, NULL);
    fwd_ok("", NULL, 0, NULL);
    fwd_ok(" , ", NULL, 0, NULL);
}

TEST(forwarded_syntax_errors)
{
    fwd_error("for");
    fwd_error("for=");
    fwd_error("=192.0.2.1");
    fwd_error("for =192.0.2.1");
    fwd_error("for= 192.0.2.1");
    fwd_error("for=192.0.2.1 proto=http");
    fwd_error("for=192.0.2.1;proto=http extra");
    fwd_error("for=[::1]");
    fwd_error("for=192.0.2.1:80");
    fwd_error("for=\"192.0.2.1");
    fwd_error("for=\"192.0.2.1\\");
    fwd_error("for=\"192.0.2.1\\\"");
    fwd_error("for=\"a\"b");
    fwd_error("for=\"a\x01\"");
    fwd_error("for=\"a\x7f\"");
    fwd_error("for=\"a\\\x01\"");
    fwd_error("for=a\x01");
    fwd_error("for=@");
    fwd_error("fo r=1");
    fwd_error("f(r=1");
    fwd_error("for=192.0.2.1,for");
    fwd_error("for=192.0.2.1;=x");
    fwd_error("for==192.0.2.1");
    fwd_error("\"for\"=192.0.2.1");
    /* RFC 7239 §4: a parameter at most once per element. */
    fwd_error("for=192.0.2.1;for=198.51.100.1");
    fwd_error("for=192.0.2.1;FOR=198.51.100.1");
    fwd_error("proto=http;proto=https");
    fwd_error("by=a;By=b");
    fwd_error("host=a;host=b");
    fwd_error("for=10.0.0.1, for=192.0.2.1;proto=http;Proto=http");
}

TEST(forwarded_lengths_respected)
{
    am_forwarded_in_t in;
    const char *v = "for=192.0.2.1;proto=https";
    char buf[32];

    memset(&in, 0, sizeof(in));
    in.forwarded = v;
    in.forwarded_len = strlen("for=192.0.2.1");
    ASSERT_EQ(am_forwarded_resolve(&in, NULL, 0, 0, &out), AM_OK);
    expect("192.0.2.1", 0, NULL);

    /* Not NUL-terminated: the byte after is never read as part of it. */
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): on purpose */
    memcpy(buf, "for=192.0.2.12", 14);
    in.forwarded = buf;
    in.forwarded_len = 13;
    ASSERT_EQ(am_forwarded_resolve(&in, NULL, 0, 0, &out), AM_OK);
    expect("192.0.2.1", 0, NULL);

    /* An embedded NUL is no token character. */
    in.forwarded = "for=192.0.2.1\0x";
    in.forwarded_len = 15;
    ASSERT_EQ(am_forwarded_resolve(&in, NULL, 0, 0, &out), AM_ERROR);
}

TEST(forwarded_long_values)
{
    char v[600];

    /* A long quoted value is no address; a long token no scheme. */
    memset(v, 0, sizeof(v));
    strcpy(v, "for=\"");
    memset(v + 5, '1', 300);
    memcpy(v + strlen(v), "\";proto=https", sizeof("\";proto=https"));
    fwd_ok(v, NULL, 0, "https");

    memset(v, 0, sizeof(v));
    strcpy(v, "for=192.0.2.1;proto=");
    memset(v + strlen(v), 'h', 300);
    fwd_ok(v, "192.0.2.1", 0, NULL);

    /* 127 bytes of padding in front of an address: still no address. */
    memset(v, 0, sizeof(v));
    strcpy(v, "for=\"");
    memset(v + 5, ' ', 127);
    memcpy(v + strlen(v), "1.2.3.4\"", sizeof("1.2.3.4\""));
    fwd_ok(v, NULL, 0, NULL);
}

TEST(forwarded_hop_limit)
{
    char v[4096];
    size_t n = 0;

    trust("10.0.0.0/8");

    /* 40 trusted hops after the client: only the rightmost 32 are looked
     * at, and the leftmost of them (a trusted address) is the answer. */
    n += (size_t)snprintf(v + n, sizeof(v) - n, "for=192.0.2.1");
    for (int i = 1; i <= 40; i++) {
        n += (size_t)snprintf(v + n, sizeof(v) - n, ", for=10.0.0.%d", i);
    }
    fwd_ok(v, "10.0.0.9", 0, NULL);

    /* 31 trusted hops: the client is still found. */
    n = (size_t)snprintf(v, sizeof(v), "for=192.0.2.1;proto=https");
    for (int i = 1; i <= 31; i++) {
        n += (size_t)snprintf(v + n, sizeof(v) - n, ", for=10.0.0.%d", i);
    }
    fwd_ok(v, "192.0.2.1", 0, "https");
}

TEST(forwarded_huge_header)
{
    static char v[256 * 1024];
    size_t n = 0;

    /* Bounded work and no recursion for a 256 KiB header. */
    while (n + 14 + 12 <= sizeof(v)) {
        memcpy(v + n, "for=10.0.0.1, ", 14);
        n += 14;
    }
    memcpy(v + n, "for=1.2.3.4", 12);
    ASSERT_EQ(resolve_mode(v, NULL, NULL, 1, AM_FORWARDED_AUTO), AM_OK);
    expect("10.0.0.1", 0, NULL);
    ASSERT_EQ(resolve(v, NULL, NULL), AM_OK);
    expect("1.2.3.4", 0, NULL);

    memset(v, '"', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    ASSERT_EQ(resolve(v, NULL, NULL), AM_ERROR);
    memset(v, ',', sizeof(v) - 1);
    ASSERT_EQ(resolve(v, NULL, NULL), AM_OK);
    expect(NULL, 0, NULL);
}

/* X-Forwarded-For / X-Forwarded-Proto */

TEST(xff_walk)
{
    trust("127.0.0.1");

    xff_ok("203.0.113.195", NULL, "203.0.113.195", 0, NULL);
    xff_ok("203.0.113.195, 70.41.3.18, 150.172.238.178", NULL,
           "150.172.238.178", 0, NULL);
    trust("70.41.3.18");
    trust("150.172.238.0/24");
    xff_ok("203.0.113.195, 70.41.3.18, 150.172.238.178", NULL, "203.0.113.195",
           0, NULL);
    xff_ok("1.1.1.1, 203.0.113.195, 70.41.3.18, 150.172.238.178", NULL,
           "203.0.113.195", 0, NULL);
    /* all trusted: the leftmost */
    xff_ok("70.41.3.18, 150.172.238.178", NULL, "70.41.3.18", 0, NULL);
    xff_ok("127.0.0.1", NULL, "127.0.0.1", 0, NULL);

    ASSERT_EQ(resolve_mode(NULL, "1.1.1.1, 2.2.2.2, 3.3.3.3", NULL, 1,
                           AM_FORWARDED_AUTO),
              AM_OK);
    expect("1.1.1.1", 0, NULL);
}

TEST(xff_forms)
{
    trust("10.0.0.0/8");

    xff_ok("2001:db8::1", NULL, "2001:db8::1", 0, NULL);
    xff_ok("2001:DB8:0::1", NULL, "2001:db8::1", 0, NULL);
    xff_ok("[2001:db8::1]", NULL, "2001:db8::1", 0, NULL);
    xff_ok("[2001:db8::1]:4711", NULL, "2001:db8::1", 4711, NULL);
    xff_ok("192.0.2.1:5678", NULL, "192.0.2.1", 5678, NULL);
    xff_ok("::ffff:192.0.2.1", NULL, "::ffff:192.0.2.1", 0, NULL);
    xff_ok("192.0.2.1, ::ffff:10.0.0.1", NULL, "192.0.2.1", 0, NULL);
    xff_ok(" ,192.0.2.1 , ,\t10.0.0.1\t,", NULL, "192.0.2.1", 0, NULL);
    xff_ok("192.0.2.1,10.0.0.1", NULL, "192.0.2.1", 0, NULL);

    /* Not addresses: the walk stops there, with no address. */
    xff_ok("192.0.2.1, unknown, 10.0.0.1", NULL, NULL, 0, NULL);
    xff_ok("evil.example.com", NULL, NULL, 0, NULL);
    xff_ok("192.0.2.1 10.0.0.1", NULL, NULL, 0, NULL);
    xff_ok("01.2.3.4", NULL, NULL, 0, NULL);
    xff_ok("192.0.2.1:65536", NULL, NULL, 0, NULL);
    xff_ok("192.0.2.1:", NULL, NULL, 0, NULL);
    xff_ok("[2001:db8::1", NULL, NULL, 0, NULL);
    xff_ok("\"192.0.2.1\"", NULL, NULL, 0, NULL);
    xff_ok("<script>", NULL, NULL, 0, NULL);
    xff_ok("fe80::1%25eth0", NULL, NULL, 0, NULL);
    xff_ok("", NULL, NULL, 0, NULL);
    xff_ok(",,, ,", NULL, NULL, 0, NULL);
}

TEST(xfp_scheme)
{
    trust("10.0.0.0/8");

    xff_ok("192.0.2.1", "https", "192.0.2.1", 0, "https");
    xff_ok("192.0.2.1", "HTTPS", "192.0.2.1", 0, "https");
    xff_ok("192.0.2.1", " https\t", "192.0.2.1", 0, "https");
    xff_ok("192.0.2.1", "http", "192.0.2.1", 0, "http");
    xff_ok("192.0.2.1", "ws", "192.0.2.1", 0, "ws");
    xff_ok("192.0.2.1", "wss", "192.0.2.1", 0, "wss");
    xff_ok("192.0.2.1", "ftp", "192.0.2.1", 0, NULL);
    xff_ok("192.0.2.1", "https2", "192.0.2.1", 0, NULL);
    xff_ok("192.0.2.1", "", "192.0.2.1", 0, NULL);
    xff_ok("192.0.2.1", ",", "192.0.2.1", 0, NULL);
    xff_ok(NULL, "https", NULL, 0, "https");

    /* A single value applies whatever the number of hops. */
    xff_ok("192.0.2.1, 10.0.0.1, 10.0.0.2", "https", "192.0.2.1", 0, "https");
    /* A list lines up with X-Forwarded-For from the right. */
    xff_ok("192.0.2.1, 10.0.0.1", "https, http", "192.0.2.1", 0, "https");
    xff_ok("192.0.2.1, 10.0.0.1, 10.0.0.2", "wss, http, http", "192.0.2.1", 0,
           "wss");
    /* a client-sent value on the left is not the one used */
    xff_ok("192.0.2.1, 10.0.0.1", "https, http, http", "192.0.2.1", 0, "http");
    /* shorter than X-Forwarded-For: its leftmost value */
    xff_ok("192.0.2.1, 10.0.0.1, 10.0.0.2", "https, http", "192.0.2.1", 0,
           "https");
    /* the lined-up value is not a scheme: none, no fallback */
    xff_ok("192.0.2.1, 10.0.0.1", "ftp, https", "192.0.2.1", 0, NULL);
    /* an unknown client hop still takes its scheme */
    xff_ok("unknown, 10.0.0.1", "https, http", NULL, 0, "https");
    /* without X-Forwarded-For: the rightmost value */
    xff_ok(NULL, "https, http", NULL, 0, "http");
}

TEST(precedence_and_modes)
{
    trust("10.0.0.0/8");

    /* Forwarded wins when present... */
    ASSERT_EQ(resolve("for=192.0.2.1", "198.51.100.1", "https"), AM_OK);
    expect("192.0.2.1", 0, NULL);
    /* ...an empty one is absent */
    ASSERT_EQ(resolve("", "198.51.100.1", "https"), AM_OK);
    expect("198.51.100.1", 0, "https");
    /* a malformed one hides X-Forwarded-* too */
    ASSERT_EQ(resolve("for=", "198.51.100.1", "https"), AM_ERROR);
    expect(NULL, 0, NULL);

    ASSERT_EQ(resolve_mode("for=192.0.2.1", "198.51.100.1", "https", 0,
                           AM_FORWARDED_LEGACY),
              AM_OK);
    expect("198.51.100.1", 0, "https");
    ASSERT_EQ(
        resolve_mode("for=", "198.51.100.1", NULL, 0, AM_FORWARDED_LEGACY),
        AM_OK);
    expect("198.51.100.1", 0, NULL);
    ASSERT_EQ(
        resolve_mode(NULL, "198.51.100.1", "https", 0, AM_FORWARDED_RFC7239),
        AM_OK);
    expect(NULL, 0, NULL);
    ASSERT_EQ(resolve_mode("for=192.0.2.1;proto=wss", "198.51.100.1", "https",
                           0, AM_FORWARDED_RFC7239),
              AM_OK);
    expect("192.0.2.1", 0, "wss");

    /* nothing at all */
    ASSERT_EQ(resolve(NULL, NULL, NULL), AM_OK);
    expect(NULL, 0, NULL);
    ASSERT_EQ(out.port, 0);
    ASSERT_STR_EQ(out.host, "");
    ASSERT_STR_EQ(out.scheme, "");
}
