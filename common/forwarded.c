/* common/forwarded.c: the client address and scheme that trusted proxies
 * report in Forwarded (RFC 7239) or in X-Forwarded-For / X-Forwarded-Proto
 * (the networks themselves are common/cidr.c).
 *
 * Header values come from the client side of a proxy, so they are hostile
 * input: every loop is bounded by the value's length, nothing is allocated,
 * copies go to fixed buffers with their size checked first. A hop list is
 * walked from the right, where the proxy next to us wrote, and only as far
 * as trusted proxies vouch for what stands to the left.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/forwarded.h"

enum {
    FORWARDED_HOP_NONE = 0, /* an element without for= */
    FORWARDED_HOP_IP,       /* an address: can be trusted */
    FORWARDED_HOP_OTHER     /* unknown, obfuscated, or not an address */
};

/* RFC 7239 §4: each parameter at most once per element. */
#define FORWARDED_SEEN_FOR   0x1
#define FORWARDED_SEEN_BY    0x2
#define FORWARDED_SEEN_PROTO 0x4
#define FORWARDED_SEEN_HOST  0x8

/* Longer values are no address and no scheme we accept. */
#define FORWARDED_VALUE_MAX 128

typedef struct {
    int kind; /* FORWARDED_HOP_* */
    struct sockaddr_storage addr;
    int port;   /* 0 when not given or obfuscated */
    int scheme; /* index in forwarded_schemes, -1 for none */
} forwarded_hop_t;

static int forwarded_parse(const char *s, size_t n, forwarded_hop_t *ring,
                           size_t *count);
static int forwarded_pair(const char *name, size_t nlen, const char *value,
                          size_t vlen, unsigned *seen, forwarded_hop_t *hop);
static void forwarded_node(const char *s, size_t n, int bare_v6,
                           forwarded_hop_t *hop);
static int forwarded_scheme(const char *s, size_t n);
static int forwarded_is_tchar(unsigned char c);
static int forwarded_is_trusted(const forwarded_hop_t *hop,
                                const am_cidr_t *trusted, size_t ntrusted,
                                int trust_all);
static void forwarded_trim(const char *s, size_t *start, size_t *end);
static void forwarded_set_host(const forwarded_hop_t *hop,
                               am_forwarded_out_t *out);
static void forwarded_resolve_legacy(const am_forwarded_in_t *in,
                                     const am_cidr_t *trusted, size_t ntrusted,
                                     int trust_all, am_forwarded_out_t *out);

static const char *const forwarded_schemes[] = { "http", "https", "ws", "wss" };

int
am_forwarded_resolve(const am_forwarded_in_t *in, const am_cidr_t *trusted,
                     size_t ntrusted, int trust_all, am_forwarded_out_t *out)
{
    forwarded_hop_t ring[AM_FORWARDED_MAX_HOPS];
    const forwarded_hop_t *stop = NULL;
    size_t count, m;
    int use;

    memset(out, 0, sizeof(*out));

    use = in->mode;
    if (use == AM_FORWARDED_AUTO) {
        use = in->forwarded != NULL && in->forwarded_len > 0
                  ? AM_FORWARDED_RFC7239
                  : AM_FORWARDED_LEGACY;
    }
    if (use == AM_FORWARDED_LEGACY) {
        forwarded_resolve_legacy(in, trusted, ntrusted, trust_all, out);
        return AM_OK;
    }

    if (in->forwarded == NULL) {
        return AM_OK;
    }
    if (forwarded_parse(in->forwarded, in->forwarded_len, ring, &count) !=
        AM_OK) {
        return AM_ERROR;
    }

    /* Right to left through the hops we kept, while trusted proxies
     * vouch for the hop before them. */
    m = am_min(count, (size_t)AM_FORWARDED_MAX_HOPS);
    for (size_t k = 0; k < m; k++) {
        stop = &ring[(count - 1 - k) % AM_FORWARDED_MAX_HOPS];
        if (!forwarded_is_trusted(stop, trusted, ntrusted, trust_all)) {
            break;
        }
    }
    if (stop == NULL) {
        return AM_OK;
    }

    forwarded_set_host(stop, out);
    if (stop->scheme >= 0) {
        snprintf(out->scheme, sizeof(out->scheme), "%s",
                 forwarded_schemes[stop->scheme]);
        out->has_scheme = 1;
    }
    return AM_OK;
}

/* RFC 7239 §4:
 *   Forwarded         = 1#forwarded-element
 *   forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
 *   forwarded-pair    = token "=" value
 *   value             = token / quoted-string
 * with the list rule's optional whitespace around ","; we also allow it
 * around ";" (senders write "for=x; proto=https"), never around "=".
 * Empty elements are skipped (RFC 9110 §5.6.1). The last
 * AM_FORWARDED_MAX_HOPS elements are kept in ring, *count is how many
 * elements there were. AM_ERROR on any syntax error. */
static int
forwarded_parse(const char *s, size_t n, forwarded_hop_t *ring, size_t *count)
{
    char value[FORWARDED_VALUE_MAX];
    forwarded_hop_t hop;
    size_t i = 0, vlen, name, nlen;
    unsigned seen = 0;
    int npairs = 0;
    unsigned char c;

    *count = 0;
    memset(&hop, 0, sizeof(hop));
    hop.scheme = -1;

    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) {
            i++;
        }
        if (i == n || s[i] == ',') {
            if (npairs > 0) {
                ring[*count % AM_FORWARDED_MAX_HOPS] = hop;
                (*count)++;
            }
            if (i == n) {
                return AM_OK;
            }
            memset(&hop, 0, sizeof(hop));
            hop.scheme = -1;
            seen = 0;
            npairs = 0;
            i++;
            continue;
        }
        if (s[i] == ';') {
            i++;
            continue;
        }

        name = i;
        while (i < n && forwarded_is_tchar((unsigned char)s[i])) {
            i++;
        }
        nlen = i - name;
        if (nlen == 0 || i == n || s[i] != '=') {
            return AM_ERROR;
        }
        i++;

        /* vlen counts every byte; only the first FORWARDED_VALUE_MAX are
         * kept, and a longer value is treated as matching nothing. */
        vlen = 0;
        if (i < n && s[i] == '"') {
            /* RFC 9110 §5.6.4: quoted-string and quoted-pair. */
            for (i++;; i++) {
                if (i == n) {
                    return AM_ERROR;
                }
                c = (unsigned char)s[i];
                if (c == '"') {
                    i++;
                    break;
                }
                if (c == '\\') {
                    if (++i == n) {
                        return AM_ERROR;
                    }
                    c = (unsigned char)s[i];
                    if (c != '\t' && (c < 0x20 || c == 0x7f)) {
                        return AM_ERROR;
                    }
                } else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
                    return AM_ERROR;
                }
                if (vlen < sizeof(value)) {
                    value[vlen] = (char)c;
                }
                vlen++;
            }
        } else {
            for (; i < n && forwarded_is_tchar((unsigned char)s[i]); i++) {
                if (vlen < sizeof(value)) {
                    value[vlen] = s[i];
                }
                vlen++;
            }
            if (vlen == 0) {
                return AM_ERROR;
            }
        }

        while (i < n && (s[i] == ' ' || s[i] == '\t')) {
            i++;
        }
        if (i < n && s[i] != ';' && s[i] != ',') {
            return AM_ERROR;
        }

        if (forwarded_pair(s + name, nlen, value, vlen, &seen, &hop) != AM_OK) {
            return AM_ERROR;
        }
        npairs++;
    }
}

/* One name=value of an element; value holds min(vlen, its size) bytes. */
static int
forwarded_pair(const char *name, size_t nlen, const char *value, size_t vlen,
               unsigned *seen, forwarded_hop_t *hop)
{
    unsigned bit;

    /* RFC 7239 §4: parameter names are case-insensitive. */
    if (nlen == 3 && strncasecmp(name, "for", 3) == 0) {
        bit = FORWARDED_SEEN_FOR;
    } else if (nlen == 5 && strncasecmp(name, "proto", 5) == 0) {
        bit = FORWARDED_SEEN_PROTO;
    } else if (nlen == 2 && strncasecmp(name, "by", 2) == 0) {
        bit = FORWARDED_SEEN_BY;
    } else if (nlen == 4 && strncasecmp(name, "host", 4) == 0) {
        bit = FORWARDED_SEEN_HOST;
    } else {
        return AM_OK; /* §5.5: extension parameters */
    }

    /* RFC 7239 §4: each parameter MUST NOT occur more than once per
     * forwarded-element. */
    if (*seen & bit) {
        return AM_ERROR;
    }
    *seen |= bit;

    if (bit == FORWARDED_SEEN_FOR) {
        if (vlen > FORWARDED_VALUE_MAX) {
            hop->kind = FORWARDED_HOP_OTHER;
        } else {
            forwarded_node(value, vlen, 0, hop);
        }
    } else if (bit == FORWARDED_SEEN_PROTO) {
        hop->scheme =
            vlen > FORWARDED_VALUE_MAX ? -1 : forwarded_scheme(value, vlen);
    }
    return AM_OK;
}

/* RFC 7239 §6: node = nodename [ ":" node-port ], nodename an IPv4
 * address, "[" IPv6 "]", "unknown" or an obfuscated "_name"; node-port
 * 1*5DIGIT or an obfuscated "_port". X-Forwarded-For also carries bare
 * IPv6 addresses (bare_v6). Anything but an address with a valid port is
 * FORWARDED_HOP_OTHER: it cannot be trusted, nor reported as an address. */
static void
forwarded_node(const char *s, size_t n, int bare_v6, forwarded_hop_t *hop)
{
    char text[INET6_ADDRSTRLEN];
    const char *host = s, *port = NULL, *colon = NULL;
    size_t hlen = n, plen = 0, ncolons = 0;
    int family = AF_INET;
    unsigned char addr[16];
    unsigned long v = 0;

    hop->kind = FORWARDED_HOP_OTHER;
    hop->port = 0;
    memset(&hop->addr, 0, sizeof(hop->addr));

    if (n > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', n);

        if (rb == NULL) {
            return;
        }
        host = s + 1;
        hlen = (size_t)(rb - host);
        family = AF_INET6;
        if (rb + 1 < s + n) {
            if (rb[1] != ':') {
                return;
            }
            port = rb + 2;
            plen = (size_t)(s + n - port);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ':') {
                if (colon == NULL) {
                    colon = s + i;
                }
                ncolons++;
            }
        }
        if (ncolons >= 2) {
            if (!bare_v6) {
                return; /* §6: IPv6 needs brackets */
            }
            family = AF_INET6;
        } else if (ncolons == 1) {
            hlen = (size_t)(colon - s);
            port = colon + 1;
            plen = (size_t)(s + n - port);
        }
    }

    if (hlen == 0 || hlen >= sizeof(text)) {
        return;
    }
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)host[i];

        if (!((c >= '0' && c <= '9') || c == '.' ||
              (family == AF_INET6 && (c == ':' || (c >= 'a' && c <= 'f') ||
                                      (c >= 'A' && c <= 'F'))))) {
            return;
        }
    }
    memcpy(text, host, hlen);
    text[hlen] = '\0';
    if (inet_pton(family, text, addr) != 1) {
        return;
    }

    if (port != NULL) {
        if (plen == 0) {
            return;
        }
        if (port[0] == '_') {
            /* §6.3: obfport = "_" 1*(ALPHA / DIGIT / "." / "_" / "-") */
            if (plen == 1) {
                return;
            }
            for (size_t i = 1; i < plen; i++) {
                unsigned char c = (unsigned char)port[i];

                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                      (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
                      c == '-')) {
                    return;
                }
            }
        } else {
            if (plen > 5) {
                return;
            }
            for (size_t i = 0; i < plen; i++) {
                if (port[i] < '0' || port[i] > '9') {
                    return;
                }
                v = v * 10 + (unsigned long)(port[i] - '0');
            }
            if (v > 65535) {
                return;
            }
        }
    }

    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&hop->addr;

        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, addr, 4);
        sin->sin_port = htons((uint16_t)v);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&hop->addr;

        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, addr, 16);
        sin6->sin6_port = htons((uint16_t)v);
    }
    hop->port = (int)v;
    hop->kind = FORWARDED_HOP_IP;
}

/* An index in forwarded_schemes, or -1. RFC 3986 §3.1: schemes are
 * case-insensitive. */
static int
forwarded_scheme(const char *s, size_t n)
{
    for (size_t i = 0; i < am_nitems(forwarded_schemes); i++) {
        if (strlen(forwarded_schemes[i]) == n &&
            strncasecmp(s, forwarded_schemes[i], n) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* RFC 9110 §5.6.2 tchar. */
static int
forwarded_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z')) {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
forwarded_is_trusted(const forwarded_hop_t *hop, const am_cidr_t *trusted,
                     size_t ntrusted, int trust_all)
{
    if (hop->kind != FORWARDED_HOP_IP) {
        return 0;
    }
    return trust_all || am_cidr_match(trusted, ntrusted,
                                      (const struct sockaddr *)&hop->addr);
}

/* Narrow s[*start..*end) to drop optional whitespace at both ends. */
static void
forwarded_trim(const char *s, size_t *start, size_t *end)
{
    while (*start < *end && (s[*start] == ' ' || s[*start] == '\t')) {
        (*start)++;
    }
    while (*end > *start && (s[*end - 1] == ' ' || s[*end - 1] == '\t')) {
        (*end)--;
    }
}

static void
forwarded_set_host(const forwarded_hop_t *hop, am_forwarded_out_t *out)
{
    const void *a;

    if (hop->kind != FORWARDED_HOP_IP) {
        return;
    }
    if (hop->addr.ss_family == AF_INET) {
        a = &((const struct sockaddr_in *)&hop->addr)->sin_addr;
    } else {
        a = &((const struct sockaddr_in6 *)&hop->addr)->sin6_addr;
    }
    if (inet_ntop(hop->addr.ss_family, a, out->host, sizeof(out->host)) ==
        NULL) {
        return;
    }
    out->port = hop->port;
    out->has_host = 1;
}

/* X-Forwarded-For: a comma list of addresses, the client first, each proxy
 * appending the peer it saw; no quoting, so it is read from the right.
 * X-Forwarded-Proto: one value, or a list whose entries line up with
 * X-Forwarded-For's from the right. */
static void
forwarded_resolve_legacy(const am_forwarded_in_t *in, const am_cidr_t *trusted,
                         size_t ntrusted, int trust_all,
                         am_forwarded_out_t *out)
{
    forwarded_hop_t hop, stop;
    size_t end, start, a, b, k = 0, stop_k = 0, left_a = 0, left_b = 0;
    int found = 0, scheme = -1, have_left = 0;

    memset(&stop, 0, sizeof(stop));

    if (in->xff != NULL) {
        for (end = in->xff_len;; end = start - 1) {
            for (start = end; start > 0 && in->xff[start - 1] != ','; start--) {
            }
            a = start;
            b = end;
            forwarded_trim(in->xff, &a, &b);
            if (a < b) {
                forwarded_node(in->xff + a, b - a, 1, &hop);
                stop = hop;
                stop_k = k++;
                found = 1;
                if (!forwarded_is_trusted(&hop, trusted, ntrusted, trust_all)) {
                    break;
                }
            }
            if (start == 0) {
                break;
            }
        }
    }
    if (found) {
        forwarded_set_host(&stop, out);
    }

    if (in->xfp == NULL) {
        return;
    }
    k = 0;
    for (end = in->xfp_len;; end = start - 1) {
        for (start = end; start > 0 && in->xfp[start - 1] != ','; start--) {
        }
        a = start;
        b = end;
        forwarded_trim(in->xfp, &a, &b);
        if (a < b) {
            if (k++ == stop_k) {
                scheme = forwarded_scheme(in->xfp + a, b - a);
                have_left = 0;
                break;
            }
            left_a = a;
            left_b = b;
            have_left = 1;
        }
        if (start == 0) {
            break;
        }
    }
    if (have_left) {
        scheme = forwarded_scheme(in->xfp + left_a, left_b - left_a);
    }
    if (scheme >= 0) {
        snprintf(out->scheme, sizeof(out->scheme), "%s",
                 forwarded_schemes[scheme]);
        out->has_scheme = 1;
    }
}
