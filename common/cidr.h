/* common/cidr.h: IP networks ("10.0.0.0/8", "fd00::/8") and whether a peer
 * address is in one: forwarded_allow_ips and the PROXY-protocol allow list.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Pure functions: no allocation, no logging, no I/O. One parser for the
 * config loader, the tests and the fuzzers, so they share one set of rules.
 */
#ifndef AM_COMMON_CIDR_H
#define AM_COMMON_CIDR_H

#include <stddef.h>
#include <sys/socket.h>

/* A trusted proxy network for forwarded_allow_ips. */
typedef struct am_cidr_s {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix; /* bits */
} am_cidr_t;

/* Parse the len bytes at s (need not be NUL-terminated): "10.0.0.0/8",
 * "fd00::/8", "127.0.0.1" or "::1" (a bare address is /32 or /128). The
 * prefix is decimal without leading zeros; host bits beyond it are cleared
 * ("10.1.2.3/8" is 10.0.0.0/8). An IPv4-mapped IPv6 network of /96 or
 * longer ("::ffff:10.0.0.0/104") is stored as the IPv4 network it means
 * (10.0.0.0/8), so it matches IPv4 peers. No spaces, no "*" (the config
 * loader handles "*" itself). AM_OK, or AM_ERROR with out untouched. */
int am_cidr_parse(const char *s, size_t len, am_cidr_t *out);

/* 1 if sa (AF_INET or AF_INET6) is in one of list[0..n), else 0. An
 * IPv4-mapped IPv6 peer (::ffff:a.b.c.d, a dual-stack socket) is matched
 * as the IPv4 address a.b.c.d, so IPv4 networks cover it and "::/0" does
 * not. AF_UNIX and other families never match: whether a UNIX socket peer
 * is trusted is the caller's policy. */
int am_cidr_match(const am_cidr_t *list, size_t n, const struct sockaddr *sa);

#endif
