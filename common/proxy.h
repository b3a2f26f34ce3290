/* common/proxy.h: the PROXY protocol header (HAProxy "proxy-protocol.txt",
 * versions 1 and 2) that a load balancer sends before the first byte of a
 * connection accepted on a `listen[].proxy_protocol: true` listener.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Pure parsing: no I/O, no allocation, no logging. The caller reads into its
 * own buffer (AM_PROXY_MAX bytes are enough), calls am_proxy_parse() after
 * each read and, on AM_OK, drops *consumed bytes; what follows is the
 * connection's first application byte (TLS ClientHello, HTTP request...).
 */
#ifndef AM_COMMON_PROXY_H
#define AM_COMMON_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

#include "common/core.h"

/* Spec §2.1: a v1 line is at most 107 bytes, CRLF included. */
#define AM_PROXY_V1_MAX 107

/* Spec §2.2 allows 16 + 65535 bytes for v2; we reject headers longer than
 * this (addresses plus TLVs: senders put a few dozen bytes there). */
#define AM_PROXY_V2_MAX 4096

/* The buffer a caller needs to hold any header we accept. */
#define AM_PROXY_MAX AM_PROXY_V2_MAX

typedef struct am_proxy_result_s {
    int version;   /* 1 or 2 */
    int local;     /* 1: keep the real peer and local addresses (v2 LOCAL,
                      v1 UNKNOWN, AF_UNSPEC, AF_UNIX, UNSPEC transport) */
    int family;    /* AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC as announced */
    int transport; /* SOCK_STREAM, SOCK_DGRAM, or 0: unspecified */
    int ssl;       /* v2 PP2_TYPE_SSL TLV with PP2_CLIENT_SSL: the client
                      spoke TLS to the proxy */
    struct sockaddr_storage src; /* !local: the client, port included */
    struct sockaddr_storage dst; /* !local: the address the client reached */
    socklen_t addrlen;           /* !local: of src and dst */
    const char *error;           /* AM_ERROR: what was wrong (static text) */
} am_proxy_result_t;

/* Parse the PROXY header at the start of buf[0..len).
 * Returns:
 *   AM_OK     a complete, valid header: r is filled, *consumed is its size
 *             (the bytes after it belong to the application protocol);
 *   AM_AGAIN  buf is a valid beginning of a header (or empty): read more
 *             and call again with all bytes so far;
 *   AM_ERROR  not a valid PROXY header (spec §2: abort the connection):
 *             r->error says why, for an [info] line.
 * Never reads past buf + len. Strictness, per the spec:
 *   v1: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" with single spaces, ports
 *       0-65535 without leading zeros, IPv4 dotted quads without leading
 *       zeros, IPv6 as inet_pton(3) takes it (the "::ffff:a.b.c.d" form
 *       HAProxy prints for mapped addresses included), the family matching
 *       the keyword; "PROXY UNKNOWN" followed by anything but CR or LF up to
 *       CRLF; a lone CR or LF, or no CRLF in 107 bytes, is an error.
 *   v2: the 12-byte signature, version 2, command LOCAL or PROXY, family
 *       UNSPEC/INET/INET6/UNIX, transport UNSPEC/STREAM/DGRAM, an address
 *       block as long as the family needs, well-formed TLVs after it
 *       (a PP2_TYPE_CRC32C TLV is verified). LOCAL, UNSPEC family or
 *       transport: the block is skipped unread, as §2.2 says.
 */
int am_proxy_parse(const char *buf, size_t len, am_proxy_result_t *r,
                   size_t *consumed);

#endif
