/* worker/http.h: the HTTP vocabulary every protocol and the bridge share:
 * status reasons, the cached Date value, token characters (RFC 9110
 * §5.6.2), field-value rules (§5.5) and the token table of known header
 * names.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The token table classifies a header name once (h2o's token table, nginx's
 * headers_in): a protocol looks a name up when it parses or checks it and
 * later steps switch on the token instead of comparing strings again.
 */
#ifndef AM_WORKER_HTTP_H
#define AM_WORKER_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* Known header names. AM_HTTP_TOKEN_OTHER is every name not listed. */
typedef enum am_http_token_e {
    AM_HTTP_TOKEN_OTHER = 0,
    AM_HTTP_TOKEN_CONNECTION,
    AM_HTTP_TOKEN_CONTENT_LENGTH,
    AM_HTTP_TOKEN_CONTENT_TYPE,
    AM_HTTP_TOKEN_COOKIE,
    AM_HTTP_TOKEN_DATE,
    AM_HTTP_TOKEN_EXPECT,
    AM_HTTP_TOKEN_FORWARDED,
    AM_HTTP_TOKEN_HOST,
    AM_HTTP_TOKEN_HTTP2_SETTINGS,
    AM_HTTP_TOKEN_KEEP_ALIVE,
    AM_HTTP_TOKEN_PROXY_CONNECTION,
    AM_HTTP_TOKEN_REFERER,
    AM_HTTP_TOKEN_SERVER,
    AM_HTTP_TOKEN_TE,
    AM_HTTP_TOKEN_TRAILER,
    AM_HTTP_TOKEN_TRANSFER_ENCODING,
    AM_HTTP_TOKEN_UPGRADE,
    AM_HTTP_TOKEN_USER_AGENT,
    AM_HTTP_TOKEN_X_FORWARDED_FOR,
    AM_HTTP_TOKEN_X_FORWARDED_PROTO,
    AM_HTTP_TOKEN_COUNT
} am_http_token_t;

/* What a token is, as bits. */
#define AM_HTTP_TOKEN_CONN_SPECIFIC 0x01 /* RFC 9113 §8.2.2 */
#define AM_HTTP_TOKEN_HOP_BY_HOP    0x02 /* not carried over an h2c Upgrade */

typedef struct am_http_token_info_s {
    const char *name; /* lowercase */
    size_t len;
    unsigned flags;
} am_http_token_info_t;

extern const am_http_token_info_t am_http_tokens[AM_HTTP_TOKEN_COUNT];

/* The token of a header name (any case), AM_HTTP_TOKEN_OTHER if unknown. */
am_http_token_t am_http_token_find(const char *name, size_t len);

/* 1 when the token's flags include flag. */
#define am_http_token_is(t, flag) ((am_http_tokens[(t)].flags & (flag)) != 0)

/* RFC 9110 §5.6.2: 1 for a tchar. */
extern const unsigned char am_http_tchar[256];

/* 1 when name (len > 0) is all tchar. */
int am_http_is_token(const char *name, size_t len);

/* RFC 9110 §5.5: 1 when a field value has no CR, LF or NUL. */
int am_http_is_field_value(const char *value, size_t len);

/* RFC 9110 §5.6.1: the next element of a comma-separated field value
 * v[0..len), from *i on, without surrounding whitespace: sets *start and
 * *end and returns 1, or 0 at the end. Empty elements are skipped. */
int am_http_next_element(const char *v, size_t len, size_t *i, size_t *start,
                         size_t *end);

/* 1 when the list value v[0..len) has token as an element (any case). */
int am_http_value_has_token(const char *v, size_t len, const char *token);

/* The reason phrase of status (100..599); a class name ("Client Error")
 * for statuses without one of their own. */
const char *am_http_reason(int status);

/* The body of a response of our own: the reason phrase and a newline
 * ("Bad Request\n"), NUL-terminated in buf (size >= 2, 64 is plenty);
 * returns its length without the NUL. */
size_t am_http_error_body(int status, char *buf, size_t size);

/* "Sun, 06 Dec 2026 15:00:00 GMT", refreshed once a second. */
const char *am_http_date(void);

#endif
