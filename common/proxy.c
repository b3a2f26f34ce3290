/* common/proxy.c: parse a PROXY protocol v1 or v2 header (HAProxy
 * "proxy-protocol.txt"). A listener configured for it gets one before
 * anything else; the worker replaces the peer address with the one the
 * proxy announces.
 *
 * The parser is restartable by being cheap: it takes all bytes received so
 * far and either finishes, asks for more, or rejects. It rejects as early
 * as the bytes allow (a wrong first byte, a bad version nibble...) so a
 * client that speaks HTTP to a PROXY listener is dropped at once instead of
 * waiting for a timeout. Spec section numbers refer to proxy-protocol.txt.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "common/proxy.h"

/* Spec §2.2: the v2 signature; it holds a NUL, never a C string. */
static const unsigned char proxy_v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a,
                                                0x00, 0x0d, 0x0a, 0x51,
                                                0x55, 0x49, 0x54, 0x0a };

#define PROXY_V2_HEAD 16 /* signature, ver_cmd, fam, len */

#define PROXY_V2_CMD_LOCAL 0x0
#define PROXY_V2_CMD_PROXY 0x1

#define PROXY_V2_AF_UNSPEC 0x0
#define PROXY_V2_AF_INET   0x1
#define PROXY_V2_AF_INET6  0x2
#define PROXY_V2_AF_UNIX   0x3

#define PROXY_V2_TP_UNSPEC 0x0
#define PROXY_V2_TP_STREAM 0x1
#define PROXY_V2_TP_DGRAM  0x2

/* Spec §2.2: address block sizes per family. */
#define PROXY_V2_LEN_INET  12
#define PROXY_V2_LEN_INET6 36
#define PROXY_V2_LEN_UNIX  216

/* Spec §2.2: TLV types we look at. */
#define PROXY_PP2_TYPE_CRC32C 0x03
#define PROXY_PP2_TYPE_SSL    0x20
#define PROXY_PP2_CLIENT_SSL  0x01

/* Longest v1 address token: IPv6 with an embedded dotted quad. */
#define PROXY_V1_ADDR_MAX 45

static int proxy_fail(am_proxy_result_t *r, const char *why);
static int proxy_parse_v1(const char *buf, size_t len, am_proxy_result_t *r,
                          size_t *consumed);
static int proxy_v1_literal(const char *buf, size_t len, size_t *i,
                            const char *lit);
static int proxy_v1_addr(const char *buf, size_t len, size_t *i, int family,
                         void *addr, am_proxy_result_t *r);
static int proxy_v1_port(const char *buf, size_t len, size_t *i, char term,
                         uint16_t *port, am_proxy_result_t *r);
static int proxy_parse_v2(const unsigned char *buf, size_t len,
                          am_proxy_result_t *r, size_t *consumed);
static int proxy_v2_tlvs(const unsigned char *buf, size_t start, size_t end,
                         am_proxy_result_t *r);
static uint32_t proxy_crc32c(uint32_t crc, const unsigned char *p, size_t n);
static void proxy_set_addrs(am_proxy_result_t *r, int family, const void *src,
                            const void *dst, const void *sport,
                            const void *dport);

int
am_proxy_parse(const char *buf, size_t len, am_proxy_result_t *r,
               size_t *consumed)
{
    int rc;

    memset(r, 0, sizeof(*r));
    *consumed = 0;

    if (len == 0) {
        return AM_AGAIN;
    }

    /* Spec §2.2: "\r" starts only v2, "P" only v1; anything else is not
     * covered by the spec and the connection must be dropped. */
    if ((unsigned char)buf[0] == proxy_v2_sig[0]) {
        return proxy_parse_v2((const unsigned char *)buf, len, r, consumed);
    }
    if (buf[0] == 'P') {
        rc = proxy_parse_v1(buf, len, r, consumed);
        /* Spec §2.1: no CRLF in the first 107 bytes is an invalid line. */
        if (rc == AM_AGAIN && len >= AM_PROXY_V1_MAX) {
            return proxy_fail(r, "PROXY v1 line longer than 107 bytes");
        }
        return rc;
    }
    return proxy_fail(r, "no PROXY protocol header");
}

static int
proxy_fail(am_proxy_result_t *r, const char *why)
{
    memset(r, 0, sizeof(*r));
    r->error = why;
    return AM_ERROR;
}

/* Spec §2.1. i walks the line; each step returns AM_AGAIN when the bytes run
 * out while still consistent with a valid line. */
static int
proxy_parse_v1(const char *buf, size_t len, am_proxy_result_t *r,
               size_t *consumed)
{
    struct in6_addr src, dst; /* large enough for either family */
    uint16_t sport, dport;
    size_t i = 0;
    int rc, family;

    r->version = 1;

    rc = proxy_v1_literal(buf, len, &i, "PROXY ");
    if (rc != AM_OK) {
        if (rc == AM_ERROR) {
            return proxy_fail(r, "bad PROXY v1 signature");
        }
        return AM_AGAIN;
    }

    /* "TCP4 ", "TCP6 " or "UNKNOWN": try each; a common prefix is AGAIN. */
    rc = proxy_v1_literal(buf, len, &i, "TCP4 ");
    if (rc == AM_OK) {
        family = AF_INET;
    } else {
        int rc6 = proxy_v1_literal(buf, len, &i, "TCP6 ");
        int rcu =
            rc6 == AM_OK ? AM_ERROR : proxy_v1_literal(buf, len, &i, "UNKNOWN");

        if (rc6 == AM_OK) {
            family = AF_INET6;
        } else if (rcu == AM_OK) {
            family = AF_UNSPEC;
        } else if (rc == AM_AGAIN || rc6 == AM_AGAIN || rcu == AM_AGAIN) {
            return AM_AGAIN;
        } else {
            return proxy_fail(
                r, "bad PROXY v1 protocol (not TCP4, TCP6 or UNKNOWN)");
        }
    }

    if (family == AF_UNSPEC) {
        /* Spec §2.1: after UNKNOWN the receiver ignores anything up to the
         * CRLF, but a lone CR or LF never ends (nor belongs to) the line. */
        if (i < len && buf[i] != ' ' && buf[i] != '\r') {
            return proxy_fail(
                r, "bad PROXY v1 protocol (not TCP4, TCP6 or UNKNOWN)");
        }
        for (; i < len; i++) {
            /* Past this, a CRLF cannot end within 107 bytes. */
            if (i >= AM_PROXY_V1_MAX - 1) {
                return proxy_fail(r, "PROXY v1 line longer than 107 bytes");
            }
            if (buf[i] == '\n') {
                return proxy_fail(r, "bare LF in PROXY v1 line");
            }
            if (buf[i] != '\r') {
                continue;
            }
            if (i + 1 == len) {
                return AM_AGAIN;
            }
            if (buf[i + 1] != '\n') {
                return proxy_fail(r, "bare CR in PROXY v1 line");
            }
            r->local = 1;
            *consumed = i + 2;
            return AM_OK;
        }
        return AM_AGAIN;
    }

    rc = proxy_v1_addr(buf, len, &i, family, &src, r);
    if (rc != AM_OK) {
        return rc;
    }
    rc = proxy_v1_addr(buf, len, &i, family, &dst, r);
    if (rc != AM_OK) {
        return rc;
    }
    rc = proxy_v1_port(buf, len, &i, ' ', &sport, r);
    if (rc != AM_OK) {
        return rc;
    }
    rc = proxy_v1_port(buf, len, &i, '\r', &dport, r);
    if (rc != AM_OK) {
        return rc;
    }
    rc = proxy_v1_literal(buf, len, &i, "\n");
    if (rc == AM_AGAIN) {
        return AM_AGAIN;
    }
    if (rc == AM_ERROR) {
        return proxy_fail(r, "bare CR in PROXY v1 line");
    }

    /* A TCP6 line with two long dotted-quad forms can pass 107 bytes. */
    if (i > AM_PROXY_V1_MAX) {
        return proxy_fail(r, "PROXY v1 line longer than 107 bytes");
    }

    sport = htons(sport);
    dport = htons(dport);
    proxy_set_addrs(r, family, &src, &dst, &sport, &dport);
    r->transport = SOCK_STREAM;
    *consumed = i;
    return AM_OK;
}

/* Match lit at buf[*i]: AM_OK (and step over it), AM_AGAIN if the bytes
 * left are a proper prefix of it, AM_ERROR on a mismatch. */
static int
proxy_v1_literal(const char *buf, size_t len, size_t *i, const char *lit)
{
    size_t n = strlen(lit), m = am_min(len - *i, n);

    if (memcmp(buf + *i, lit, m) != 0) {
        return AM_ERROR;
    }
    if (m < n) {
        return AM_AGAIN;
    }
    *i += n;
    return AM_OK;
}

/* An address token ended by one space. Spec §2.1: IPv4 is four decimal
 * numbers 0-255 without leading zeros (glibc's and musl's inet_pton(3)
 * enforce exactly that), IPv6 colon-separated hex groups. */
static int
proxy_v1_addr(const char *buf, size_t len, size_t *i, int family, void *addr,
              am_proxy_result_t *r)
{
    char text[PROXY_V1_ADDR_MAX + 1];
    size_t j, n, max = family == AF_INET ? 15 : PROXY_V1_ADDR_MAX;
    unsigned char c;

    for (j = *i; j < len; j++) {
        c = (unsigned char)buf[j];
        if (c == ' ') {
            break;
        }
        if (!((c >= '0' && c <= '9') || c == '.' ||
              (family == AF_INET6 && (c == ':' || (c >= 'a' && c <= 'f') ||
                                      (c >= 'A' && c <= 'F'))))) {
            return proxy_fail(r, "bad address in PROXY v1 line");
        }
        if (j - *i == max) {
            return proxy_fail(r, "bad address in PROXY v1 line");
        }
    }
    if (j == len) {
        return AM_AGAIN;
    }

    n = j - *i;
    memcpy(text, buf + *i, n);
    text[n] = '\0';
    if (n == 0 || inet_pton(family, text, addr) != 1) {
        return proxy_fail(r, "bad address in PROXY v1 line");
    }
    *i = j + 1;
    return AM_OK;
}

/* Spec §2.1: a port is decimal 0-65535 without leading zeros, followed by
 * term (a space, or the CR of the CRLF). Rejected at the first wrong byte. */
static int
proxy_v1_port(const char *buf, size_t len, size_t *i, char term, uint16_t *port,
              am_proxy_result_t *r)
{
    uint32_t v = 0;
    size_t j;

    for (j = *i; j < len && buf[j] >= '0' && buf[j] <= '9'; j++) {
        if (j > *i && buf[*i] == '0') {
            return proxy_fail(r, "bad port in PROXY v1 line");
        }
        v = v * 10 + (uint32_t)(buf[j] - '0');
        if (v > 65535) {
            return proxy_fail(r, "bad port in PROXY v1 line");
        }
    }
    if (j == len) {
        return AM_AGAIN;
    }
    if (j == *i || buf[j] != term) {
        return proxy_fail(r, "bad port in PROXY v1 line");
    }
    *port = (uint16_t)v;
    *i = j + 1;
    return AM_OK;
}

/* Spec §2.2. The fixed 16 bytes are checked as they arrive. */
static int
proxy_parse_v2(const unsigned char *buf, size_t len, am_proxy_result_t *r,
               size_t *consumed)
{
    size_t total, need, alen;
    int cmd, fam, tp;

    r->version = 2;

    if (memcmp(buf, proxy_v2_sig, am_min(len, sizeof(proxy_v2_sig))) != 0) {
        return proxy_fail(r, "bad PROXY v2 signature");
    }
    if (len <= 12) {
        return AM_AGAIN;
    }

    /* Spec §2.2: the version nibble must be 2, the command LOCAL or PROXY;
     * receivers must drop other values. */
    if ((buf[12] >> 4) != 0x2) {
        return proxy_fail(r, "bad PROXY v2 version");
    }
    cmd = buf[12] & 0x0f;
    if (cmd != PROXY_V2_CMD_LOCAL && cmd != PROXY_V2_CMD_PROXY) {
        return proxy_fail(r, "bad PROXY v2 command");
    }
    if (len == 13) {
        return AM_AGAIN;
    }

    /* Spec §2.2: other families and transports must be rejected. */
    fam = buf[13] >> 4;
    tp = buf[13] & 0x0f;
    if (fam > PROXY_V2_AF_UNIX) {
        return proxy_fail(r, "bad PROXY v2 address family");
    }
    if (tp > PROXY_V2_TP_DGRAM) {
        return proxy_fail(r, "bad PROXY v2 transport protocol");
    }
    if (len < PROXY_V2_HEAD) {
        return AM_AGAIN;
    }

    alen = (size_t)buf[14] << 8 | buf[15];
    total = PROXY_V2_HEAD + alen;
    if (total > AM_PROXY_V2_MAX) {
        return proxy_fail(r, "PROXY v2 header longer than 4096 bytes");
    }
    if (len < total) {
        return AM_AGAIN;
    }

    r->family = fam == PROXY_V2_AF_INET    ? AF_INET
                : fam == PROXY_V2_AF_INET6 ? AF_INET6
                : fam == PROXY_V2_AF_UNIX  ? AF_UNIX
                                           : AF_UNSPEC;
    r->transport = tp == PROXY_V2_TP_STREAM  ? SOCK_STREAM
                   : tp == PROXY_V2_TP_DGRAM ? SOCK_DGRAM
                                             : 0;
    /* Spec §2.2: LOCAL means the proxy's own connection (a health check):
     * use the real endpoints and discard the block, family included. With
     * an UNSPEC family or transport the layout of the block is unknown, so
     * the receiver ignores it as well. */
    if (cmd == PROXY_V2_CMD_LOCAL || fam == PROXY_V2_AF_UNSPEC ||
        tp == PROXY_V2_TP_UNSPEC) {
        r->local = 1;
        *consumed = total;
        return AM_OK;
    }

    need = fam == PROXY_V2_AF_INET    ? PROXY_V2_LEN_INET
           : fam == PROXY_V2_AF_INET6 ? PROXY_V2_LEN_INET6
                                      : PROXY_V2_LEN_UNIX;
    if (alen < need) {
        return proxy_fail(r, "PROXY v2 address block too short for its family");
    }
    if (proxy_v2_tlvs(buf, PROXY_V2_HEAD + need, total, r) != AM_OK) {
        return AM_ERROR;
    }

    if (fam == PROXY_V2_AF_UNIX) {
        /* A UNIX peer has no address a client scope can use. */
        r->local = 1;
        *consumed = total;
        return AM_OK;
    }

    if (fam == PROXY_V2_AF_INET) {
        proxy_set_addrs(r, AF_INET, buf + 16, buf + 20, buf + 24, buf + 26);
    } else {
        proxy_set_addrs(r, AF_INET6, buf + 16, buf + 32, buf + 48, buf + 50);
    }
    *consumed = total;
    return AM_OK;
}

/* Spec §2.2: TLVs fill the rest of the header exactly; each is a type byte,
 * a 16-bit big-endian length and that many bytes. */
static int
proxy_v2_tlvs(const unsigned char *buf, size_t start, size_t end,
              am_proxy_result_t *r)
{
    static const unsigned char zero[4] = { 0, 0, 0, 0 };
    size_t p = start, n;
    uint32_t want, crc;

    while (p < end) {
        if (end - p < 3) {
            return proxy_fail(r, "truncated PROXY v2 TLV");
        }
        n = (size_t)buf[p + 1] << 8 | buf[p + 2];
        if (end - p - 3 < n) {
            return proxy_fail(r, "truncated PROXY v2 TLV");
        }

        switch (buf[p]) {
        case PROXY_PP2_TYPE_CRC32C:
            /* Spec §2.2.3: a receiver that supports it MUST verify the
             * checksum of the whole header with this field zeroed. */
            if (n != 4) {
                return proxy_fail(r, "bad PROXY v2 CRC32C TLV length");
            }
            want = (uint32_t)buf[p + 3] << 24 | (uint32_t)buf[p + 4] << 16 |
                   (uint32_t)buf[p + 5] << 8 | buf[p + 6];
            crc = proxy_crc32c(0xffffffff, buf, p + 3);
            crc = proxy_crc32c(crc, zero, 4);
            crc = proxy_crc32c(crc, buf + p + 7, end - p - 7);
            if ((crc ^ 0xffffffff) != want) {
                return proxy_fail(r, "PROXY v2 CRC32C mismatch");
            }
            break;

        case PROXY_PP2_TYPE_SSL:
            /* Spec §2.2.6: client flags byte, 32-bit verify, sub-TLVs. */
            if (n < 5) {
                return proxy_fail(r, "bad PROXY v2 SSL TLV length");
            }
            r->ssl = (buf[p + 3] & PROXY_PP2_CLIENT_SSL) != 0;
            break;

        default:
            /* Spec §2.2: skip TLVs we do not understand. */
            break;
        }
        p += 3 + n;
    }
    return AM_OK;
}

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), RFC 4960
 * appendix B, bit by bit: a header is checked once per connection. */
static uint32_t
proxy_crc32c(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0x82f63b78 & (0u - (crc & 1)));
        }
    }
    return crc;
}

/* Addresses and ports are in network byte order, as on the wire. */
static void
proxy_set_addrs(am_proxy_result_t *r, int family, const void *src,
                const void *dst, const void *sport, const void *dport)
{
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&r->src;
        struct sockaddr_in *d = (struct sockaddr_in *)&r->dst;

        s->sin_family = d->sin_family = AF_INET;
        memcpy(&s->sin_addr, src, 4);
        memcpy(&d->sin_addr, dst, 4);
        memcpy(&s->sin_port, sport, 2);
        memcpy(&d->sin_port, dport, 2);
        r->addrlen = sizeof(struct sockaddr_in);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&r->src;
        struct sockaddr_in6 *d = (struct sockaddr_in6 *)&r->dst;

        s->sin6_family = d->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, src, 16);
        memcpy(&d->sin6_addr, dst, 16);
        memcpy(&s->sin6_port, sport, 2);
        memcpy(&d->sin6_port, dport, 2);
        r->addrlen = sizeof(struct sockaddr_in6);
    }
    r->family = family;
}
