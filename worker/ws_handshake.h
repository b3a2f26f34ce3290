/* worker/ws_handshake.h: the WebSocket opening handshake's header checks
 * (RFC 6455 §4.2.1, §4.2.2; RFC 8441 §4, §5), pure functions over header
 * values.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Values are not NUL-terminated: (pointer, length), as the protocols hold
 * them. A field sent on several lines is passed joined with ", ".
 */
#ifndef AM_WORKER_WS_HANDSHAKE_H
#define AM_WORKER_WS_HANDSHAKE_H

#include <stddef.h>

#define AM_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */
#define AM_WS_VERSION    "13"

/* A token from a list: a pointer into the value and its length. */
typedef struct am_ws_token_s {
    const char *data;
    size_t len;
} am_ws_token_t;

/* A value; data NULL when the field is absent. */
typedef struct am_ws_value_s {
    const char *data;
    size_t len;
} am_ws_value_t;

/* The fields of a WebSocket opening request. */
typedef struct am_ws_request_s {
    int h2; /* RFC 8441 extended CONNECT, else HTTP/1.1 GET */
    am_ws_value_t upgrade, connection, key, version;
} am_ws_request_t;

/* The status to answer a request that asks for a WebSocket: 0 when it may
 * be accepted (101, or 200 on HTTP/2), 400 (missing or bad Upgrade,
 * Connection or Sec-WebSocket-Key, §4.2.1), 426 (a version other than 13:
 * answer with "Sec-WebSocket-Version: 13", §4.2.2). On HTTP/2 only the
 * version is checked (RFC 8441 §5: no key, no Upgrade). */
int am_ws_handshake_check(const am_ws_request_t *r);

/* 1 when key (OWS trimmed) is base64 of 16 bytes (§4.2.1 item 5). */
int am_ws_handshake_key_is_valid(const char *key, size_t len);

/* Sec-WebSocket-Accept for key (§4.2.2 item 5.4): base64(SHA-1(key +
 * GUID)) into out (AM_WS_ACCEPT_LEN + 1 bytes, NUL-terminated). AM_OK, or
 * AM_ERROR when OpenSSL fails. */
int am_ws_handshake_accept(const char *key, size_t len, char *out);

/* 1 when the comma-separated list value contains token, compared without
 * case (Connection: "keep-alive, Upgrade"; Upgrade: "websocket"). */
int am_ws_handshake_has_token(const char *value, size_t len, const char *token);

/* Sec-WebSocket-Protocol (§4.1, §11.3.4: 1#token) into tokens[0..*n).
 * AM_OK; AM_ERROR when an element is not a token or there are more than
 * max (answer 400). Empty elements are skipped. */
int am_ws_handshake_subprotocols(const char *value, size_t len,
                                 am_ws_token_t *tokens, size_t max, size_t *n);

#endif
