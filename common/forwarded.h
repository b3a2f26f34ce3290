/* common/forwarded.h: trusted proxies (forwarded_allow_ips) and the client
 * address and scheme they report in Forwarded (RFC 7239) or
 * X-Forwarded-For / X-Forwarded-Proto.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Pure functions: no allocation, no logging, no I/O; header values are read
 * within their lengths only (they need not be NUL-terminated).
 */
#ifndef AM_COMMON_FORWARDED_H
#define AM_COMMON_FORWARDED_H

#include <stddef.h>
#include <sys/socket.h>

#include "common/cidr.h"
#include "common/core.h"

/* Which headers am_forwarded_resolve() believes. */
enum {
    AM_FORWARDED_AUTO = 0, /* Forwarded if present, else X-Forwarded-* */
    AM_FORWARDED_RFC7239,  /* Forwarded only */
    AM_FORWARDED_LEGACY    /* X-Forwarded-For / X-Forwarded-Proto only */
};

/* The request's header values, NULL/0 when absent. Several header lines of
 * one name are joined by the caller with ", " in order (RFC 9110 §5.3). */
typedef struct am_forwarded_in_s {
    const char *forwarded; /* Forwarded */
    size_t forwarded_len;
    const char *xff; /* X-Forwarded-For */
    size_t xff_len;
    const char *xfp; /* X-Forwarded-Proto */
    size_t xfp_len;
    int mode; /* AM_FORWARDED_*; 0 (AUTO) after memset */
} am_forwarded_in_t;

typedef struct am_forwarded_out_s {
    char host[64];  /* has_host: canonical address text (inet_ntop(3)) */
    int port;       /* has_host: the hop's port if it gave one, else 0 */
    char scheme[8]; /* has_scheme: "http", "https", "ws" or "wss" */
    int has_host;
    int has_scheme;
} am_forwarded_out_t;

/* At most this many hops of a Forwarded header are examined, the
 * rightmost ones; if all are trusted the leftmost examined one is the
 * client (a trusted address either way). */
#define AM_FORWARDED_MAX_HOPS 32

/* The client as the trusted proxies report it. Call only when the
 * connection's peer is itself trusted (am_cidr_match(), trust_all, or the
 * caller's policy for UNIX sockets); then the rightmost hop was written by
 * that peer. Walks the hops from the right (nginx real_ip_recursive,
 * uvicorn's ProxyHeadersMiddleware) skipping trusted addresses (every
 * address when trust_all) and stops at the first hop that is not a trusted
 * address, or at the leftmost hop if all are.
 *   - That hop is an IP address: has_host, host, port (from "[v6]:port",
 *     "v4:port" in either header, else 0).
 *   - It is "unknown", an obfuscated identifier (RFC 7239 §6.3), a Forwarded
 *     element without for=, or not an address: has_host = 0 (keep the
 *     peer's address).
 *   - Forwarded: the scheme is proto= of that same element (the proxy that
 *     wrote it saw the client's connection).
 *   - X-Forwarded-Proto: a single value applies as is; a list is matched to
 *     X-Forwarded-For from the right (each proxy appended one of each),
 *     falling back to its leftmost value when it is shorter.
 *   - Only http, https, ws and wss (any case) set has_scheme; the caller
 *     maps http->ws and https->wss for a WebSocket scope.
 * In AM_FORWARDED_AUTO mode a non-empty Forwarded header makes the
 * X-Forwarded-* headers ignored, even when it is malformed. Behind a proxy
 * that sets X-Forwarded-For but passes a client's Forwarded header through
 * unchanged, AUTO lets that client choose its address: such deployments
 * need AM_FORWARDED_LEGACY (or the proxy to drop Forwarded).
 * Returns AM_OK (out filled, possibly with nothing found) or AM_ERROR: the
 * Forwarded header is malformed (RFC 7239 §4 syntax, a repeated parameter)
 * and out says nothing. */
int am_forwarded_resolve(const am_forwarded_in_t *in, const am_cidr_t *trusted,
                         size_t ntrusted, int trust_all,
                         am_forwarded_out_t *out);

#endif
