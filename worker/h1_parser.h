/* worker/h1_parser.h: a strict, incremental HTTP/1.1 request parser
 * (RFC 9112, RFC 9110): the request head, Content-Length and chunked bodies.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * No allocation, no callbacks, no connection: the caller owns every byte.
 *
 * Head. The caller calls am_h1_parser_head() with the bytes of one request
 * from its first byte, the same start each time and more bytes each time
 * (a growing prefix: the bytes already given must not change). It returns
 * AM_AGAIN (need more), AM_OK (the head is complete: p->head_len bytes of
 * buf are the head, what follows is the body or the next request) or
 * AM_ERROR (p->error says why; am_h1_parser_status() gives the response
 * status). Work already done is kept, so a head given byte by byte costs
 * O(n). The verdict for a prefix depends on that prefix only, never on how
 * it was cut: an error is reported at the first byte where it is known.
 * Offsets in am_h1_request_t and am_h1_field_t are from buf.
 *
 * Body. After AM_OK, am_h1_parser_body() is fed the bytes that follow the
 * head (buf + head_len, then whatever arrives). Each call consumes a part
 * of the input (*consumed bytes, which the caller drops) and hands out at
 * most one span of body data by pointer into that input (zero copy). It
 * returns AM_OK (call again), AM_AGAIN (all input consumed, need more),
 * AM_DONE (the message ended: input after *consumed is the next request)
 * or AM_ERROR. The caller may stop calling at any point (a full app buffer)
 * and resume later with the unconsumed input. A trailer section is not
 * consumed until it is complete, so the caller must keep those bytes (at
 * most limits.max_trailer_size); on AM_DONE p->trailers (if set) holds its
 * fields, with offsets from the `in` of that last call.
 *
 * am_h1_parser_reset() readies the parser for the next request.
 */
#ifndef AM_WORKER_H1_PARSER_H
#define AM_WORKER_H1_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "common/core.h"

typedef enum {
    AM_H1_E_NONE = 0,
    AM_H1_E_LINE,            /* bare CR, bad line end, too many empty lines */
    AM_H1_E_METHOD,          /* not a token (RFC 9110 §9.1) */
    AM_H1_E_METHOD_LONG,     /* 501 (RFC 9112 §3) */
    AM_H1_E_METHOD_PRI,      /* PRI: the HTTP/2 preface's (RFC 9113 §3.4) */
    AM_H1_E_TARGET,          /* invalid request-target (RFC 9112 §3.2) */
    AM_H1_E_TARGET_FRAGMENT, /* '#' in a target (RFC 9112 §3.2) */
    AM_H1_E_TARGET_FORM,     /* form not allowed for this method (§3.2.3-4) */
    AM_H1_E_TARGET_LONG,     /* 414 */
    AM_H1_E_VERSION,         /* malformed or missing version (HTTP/0.9) */
    AM_H1_E_VERSION_UNSUPPORTED, /* HTTP/x.y other than 1.0/1.1: 505 */
    AM_H1_E_FIELD_NAME,          /* not a token, no colon, space before colon */
    AM_H1_E_FIELD_VALUE,         /* CTL, NUL, bare CR, DEL (RFC 9110 §5.5) */
    AM_H1_E_OBS_FOLD,            /* line folding (RFC 9112 §5.2) */
    AM_H1_E_FIELDS_COUNT,        /* 431 */
    AM_H1_E_FIELDS_SIZE,         /* 431 */
    AM_H1_E_HOST,                /* missing, repeated or invalid Host (§3.2) */
    AM_H1_E_CONTENT_LENGTH,      /* invalid or conflicting (RFC 9110 §8.6) */
    AM_H1_E_TE_HTTP10,           /* Transfer-Encoding in HTTP/1.0 (§6.1) */
    AM_H1_E_TE_WITH_CL,      /* Transfer-Encoding and Content-Length (§6.1) */
    AM_H1_E_TE_NOT_CHUNKED,  /* chunked not final, or twice (§6.3) */
    AM_H1_E_TE_UNSUPPORTED,  /* a coding other than chunked: 501 (§6.1) */
    AM_H1_E_CHUNK_SIZE,      /* invalid chunk-size line (§7.1) */
    AM_H1_E_CHUNK_EXT,       /* invalid chunk-ext (§7.1.1) */
    AM_H1_E_CHUNK_EXT_SIZE,  /* chunk-ext bytes of one chunk over the limit */
    AM_H1_E_CHUNK_EXT_TOTAL, /* chunk-ext bytes of the request over it */
    AM_H1_E_CHUNK_DATA,      /* chunk-data not followed by CRLF */
    AM_H1_E_TRAILER,         /* invalid trailer field line (§7.1.2) */
    AM_H1_E_TRAILER_SIZE,    /* trailer section over the limit */
    AM_H1_E_COUNT
} am_h1_error_t;

/* Caller-given limits; 0 is not "unlimited" but a limit of 0. */
typedef struct {
    size_t max_method;          /* method bytes (longer: 501) */
    size_t max_target;          /* request-target bytes (longer: 414) */
    size_t max_fields;          /* field lines in the head (more: 431) */
    size_t max_fields_size;     /* field section bytes, line ends included */
    size_t max_chunk_ext;       /* chunk-ext bytes of one chunk-size line */
    size_t max_chunk_ext_total; /* chunk-ext bytes of one request */
    size_t max_trailer_size;    /* trailer section bytes */
    size_t max_trailer_fields;  /* trailer field lines */
} am_h1_limits_t;

/* Header names the parser classifies once (h2o's token table idea). */
typedef enum {
    AM_H1_HDR_OTHER = 0,
    AM_H1_HDR_HOST,
    AM_H1_HDR_CONTENT_LENGTH,
    AM_H1_HDR_TRANSFER_ENCODING,
    AM_H1_HDR_CONNECTION,
    AM_H1_HDR_UPGRADE,
    AM_H1_HDR_EXPECT,
    AM_H1_HDR_TE,
    AM_H1_HDR_HTTP2_SETTINGS
} am_h1_hdr_t;

/* One field line: the name as sent (case kept; ASGI wants it lowered by
 * the caller), the value without leading and trailing OWS. */
typedef struct {
    uint32_t name_off, name_len;
    uint32_t value_off, value_len;
    am_h1_hdr_t token;
} am_h1_field_t;

typedef enum {
    AM_H1_FORM_ORIGIN = 1, /* /path?query */
    AM_H1_FORM_ABSOLUTE,   /* scheme://authority/path?query */
    AM_H1_FORM_AUTHORITY,  /* host:port, CONNECT only */
    AM_H1_FORM_ASTERISK    /* *, OPTIONS only */
} am_h1_form_t;

typedef enum {
    AM_H1_BODY_NONE = 0, /* no body (RFC 9112 §6.3 item 7) */
    AM_H1_BODY_LENGTH,   /* content_length bytes */
    AM_H1_BODY_CHUNKED
} am_h1_body_t;

/* Flags of am_h1_request_t. */
#define AM_H1_CONN_CLOSE          0x0001 /* Connection: close */
#define AM_H1_CONN_KEEP_ALIVE     0x0002 /* Connection: keep-alive */
#define AM_H1_CONN_UPGRADE        0x0004 /* Connection: upgrade */
#define AM_H1_CONN_HTTP2_SETTINGS 0x0008 /* Connection: HTTP2-Settings */
#define AM_H1_EXPECT_CONTINUE     0x0010 /* Expect: 100-continue */
#define AM_H1_EXPECT_OTHER        0x0020 /* another expectation (417?) */
#define AM_H1_TE_TRAILERS         0x0040 /* TE: trailers */
#define AM_H1_KEEP_ALIVE          0x0080 /* the connection may persist */

typedef struct {
    uint32_t method_off, method_len;
    uint32_t target_off, target_len;
    am_h1_form_t form;
    /* origin- and absolute-form: the path (empty in "http://a" and
     * "http://a?q": the caller uses "/") and the query without '?' (query_off
     * is 0 and query_len 0 when there is no '?'); absolute- and authority-form:
     * the authority. */
    uint32_t path_off, path_len;
    uint32_t query_off, query_len;
    uint32_t authority_off, authority_len;
    int has_query;
    int minor; /* HTTP/1.minor: 0 or 1 */
    unsigned flags;
    size_t nfields;
    int host;           /* index of the Host field, -1 if none */
    int upgrade;        /* index of the (last) Upgrade field, -1 if none */
    int http2_settings; /* index of HTTP2-Settings, -1 if none */
    size_t nhttp2_settings;
    am_h1_body_t body;
    uint64_t content_length;
} am_h1_request_t;

typedef struct {
    am_h1_limits_t limits;
    am_h1_request_t req;
    am_h1_error_t error;
    size_t head_len; /* after AM_OK from am_h1_parser_head() */

    /* Trailer fields are stored here when the caller sets this array;
     * otherwise they are checked and dropped. */
    am_h1_field_t *trailers;
    size_t trailers_cap;
    size_t ntrailers;

    /* internal */
    int state;
    size_t pos;        /* head: next byte to examine */
    size_t line_start; /* head and trailers: start of the current line */
    size_t fields_start;
    int method_kind;
    int had_cl, had_te;
    size_t te_chunked;
    int te_last_chunked, te_other;
    int cstate;         /* chunked decoder state */
    uint64_t remaining; /* body bytes left in the message or chunk */
    size_t size_digits, ext_len, ext_total;
} am_h1_parser_t;

void am_h1_parser_init(am_h1_parser_t *p, const am_h1_limits_t *limits);
/* The next request on the connection: limits and trailer array kept. */
void am_h1_parser_reset(am_h1_parser_t *p);

/* See above. fields has room for cap entries; more than
 * min(cap, limits.max_fields) field lines is AM_H1_E_FIELDS_COUNT. */
int am_h1_parser_head(am_h1_parser_t *p, const char *buf, size_t len,
                      am_h1_field_t *fields, size_t cap);

int am_h1_parser_body(am_h1_parser_t *p, const char *in, size_t len,
                      size_t *consumed, const char **data, size_t *data_len);

/* The response status for an error: 400, 414, 431, 501 or 505. */
int am_h1_parser_status(am_h1_error_t e);
/* A short reason for the log, never NULL. */
const char *am_h1_parser_reason(am_h1_error_t e);

/* RFC 9113 §3.4: AM_OK when buf starts with the HTTP/2 connection preface's
 * request line "PRI * HTTP/2.0\r\n", AM_AGAIN when buf is a proper prefix
 * of it, AM_DECLINED otherwise. */
int am_h1_parser_is_preface(const char *buf, size_t len);

/* Whether a comma-separated field value (RFC 9110 §5.6.1) lists token
 * (case-insensitive). */
int am_h1_parser_has_token(const char *v, size_t len, const char *token);

#endif
