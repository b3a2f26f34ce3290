/* common/cidr.c: IP networks and whether a peer address is in one.
 *
 * The text comes from the config file or a command-line flag; inet_pton(3)
 * takes only the plain forms (no zone, IPv4 as four decimal numbers without
 * leading zeros), and the prefix is read within the given length.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "common/cidr.h"
#include "common/core.h"

static int cidr_parse_prefix(const char *p, const char *end, int max,
                             int *prefix);
static void cidr_clear_host_bits(am_cidr_t *c);
static int cidr_prefix_match(const unsigned char *a, const unsigned char *net,
                             int prefix);

static const unsigned char cidr_v4mapped[12] = { 0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff };

int
am_cidr_parse(const char *s, size_t len, am_cidr_t *out)
{
    char text[INET6_ADDRSTRLEN];
    const char *slash = memchr(s, '/', len);
    size_t n = slash ? (size_t)(slash - s) : len;
    am_cidr_t c;
    int max;

    memset(&c, 0, sizeof(c));
    if (n == 0 || n >= sizeof(text)) {
        return AM_ERROR;
    }
    memcpy(text, s, n);
    text[n] = '\0';

    if (memchr(text, ':', n) != NULL) {
        c.family = AF_INET6;
        max = 128;
    } else {
        c.family = AF_INET;
        max = 32;
    }
    if (inet_pton(c.family, text, c.addr) != 1) {
        return AM_ERROR;
    }

    c.prefix = max;
    if (slash != NULL &&
        cidr_parse_prefix(slash + 1, s + len, max, &c.prefix) != AM_OK) {
        return AM_ERROR;
    }
    cidr_clear_host_bits(&c);

    /* ::ffff:a.b.c.d/96+ is an IPv4 network: match it as one. */
    if (c.family == AF_INET6 && c.prefix >= 96 &&
        memcmp(c.addr, cidr_v4mapped, sizeof(cidr_v4mapped)) == 0) {
        c.family = AF_INET;
        memmove(c.addr, c.addr + 12, 4);
        memset(c.addr + 4, 0, 12);
        c.prefix -= 96;
    }

    *out = c;
    return AM_OK;
}

/* Decimal, no sign, no leading zero, at most max. */
static int
cidr_parse_prefix(const char *p, const char *end, int max, int *prefix)
{
    int bits = 0;

    if (p == end || (p[0] == '0' && end - p > 1)) {
        return AM_ERROR;
    }
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return AM_ERROR;
        }
        bits = bits * 10 + (*p - '0');
        if (bits > max) {
            return AM_ERROR;
        }
    }
    *prefix = bits;
    return AM_OK;
}

/* Clear the host bits so matching compares whole bytes safely. */
static void
cidr_clear_host_bits(am_cidr_t *c)
{
    for (int i = 0; i < 16; i++) {
        int keep = c->prefix - i * 8;

        if (keep <= 0) {
            c->addr[i] = 0;
        } else if (keep < 8) {
            c->addr[i] &= (unsigned char)(0xff << (8 - keep));
        }
    }
}

int
am_cidr_match(const am_cidr_t *list, size_t n, const struct sockaddr *sa)
{
    const unsigned char *a;
    int family;

    if (sa == NULL) {
        return 0;
    }
    if (sa->sa_family == AF_INET) {
        a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
        family = AF_INET;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 =
            &((const struct sockaddr_in6 *)sa)->sin6_addr;

        a = (const unsigned char *)a6;
        family = AF_INET6;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            a += 12;
            family = AF_INET;
        }
    } else {
        return 0;
    }

    for (size_t i = 0; i < n; i++) {
        if (list[i].family == family &&
            cidr_prefix_match(a, list[i].addr, list[i].prefix)) {
            return 1;
        }
    }
    return 0;
}

static int
cidr_prefix_match(const unsigned char *a, const unsigned char *net, int prefix)
{
    int whole = prefix / 8, rest = prefix % 8;

    if (memcmp(a, net, (size_t)whole) != 0) {
        return 0;
    }
    if (rest == 0) {
        return 1;
    }
    return ((a[whole] ^ net[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}
