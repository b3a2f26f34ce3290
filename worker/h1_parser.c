/* worker/h1_parser.c: a strict, incremental HTTP/1.1 request parser: the
 * request line and field section (RFC 9112 §2-§5, RFC 9110 §5), message
 * framing (RFC 9112 §6), a Content-Length counter and a chunked decoder
 * (RFC 9112 §7.1). No allocation, no callbacks; offsets into the caller's
 * buffer, body data by pointer into the input.
 *
 * Why not nodejs http-parser (archived upstream): outside testing (issue
 * 10) found what cannot be fixed from outside it. It reads chunk-size
 * lines leniently ("0 \r\n", "5\t\r\n", "5 xyz", even "0 GET /x HTTP/1.1"
 * are accepted and the rest of the line ignored: a smuggling vector when a
 * front-end disagrees), it discards chunk extensions without bound (16 MiB
 * of them for 4 KiB of data), it waits for more input after an HTTP/0.9
 * line "GET /\r\n", it serves targets with a fragment, it refuses valid
 * token methods it does not list (FOO, -BLARGH), it accepts absolute-form
 * targets that are not RFC 3986 URIs ("s://]ufd/:"), and it frames an
 * HTTP/1.0 request by Transfer-Encoding: chunked.
 *
 * Decisions, each where the RFC lets the recipient choose:
 * - Bare LF ends a line in the request head (RFC 9112 §2.2 MAY; nginx and
 *   h2o do too), never in chunked framing: chunk-size lines, CRLF after
 *   chunk data and the trailer section need CRLF (the grammar of §7.1; a
 *   disagreement there is how chunk smuggling works). A bare CR anywhere
 *   is an error (§2.2 MUST reject or replace: we reject).
 * - One empty line before the request line is ignored (§2.2 SHOULD ignore
 *   at least one); a second is an error.
 * - The method is any token (RFC 9110 §9.1); longer than max_method: 501
 *   (RFC 9112 §3 SHOULD). PRI, reserved for the HTTP/2 preface (RFC 7540
 *   §11.6), is refused.
 * - Targets: origin-form for any method but CONNECT, asterisk-form for
 *   OPTIONS only, authority-form (host ":" port) for CONNECT only, else
 *   absolute-form (RFC 9112 §3.2). No '#' anywhere (§3.2: no fragment).
 *   Path and query bytes are the visible ASCII characters except '#'
 *   (RFC 3986 pchar, '/' and '?', plus the characters browsers send
 *   unencoded: "[]\^`{|}"), and bytes 0x80-0xFF (raw UTF-8 from real
 *   clients, as nginx accepts); percent-encoding is left to the app, which
 *   decodes it. The scheme and authority of absolute-form are parsed
 *   strictly per RFC 3986 §3.1-§3.2: no userinfo (RFC 9110 §4.2.4), a
 *   non-empty host that is a reg-name, IPv4 or IP-literal, digits for the
 *   port.
 * - Version exactly HTTP/1.0 or HTTP/1.1; another HTTP/d.d is 505, found at
 *   its last digit; a line that ends after the target (HTTP/0.9) is an
 *   error at its CR or LF, without waiting.
 * - Field lines: obs-fold and whitespace before the first field are
 *   rejected (§5.2, §2.2), whitespace before the colon too (§5.1 MUST);
 *   values carry no CTL but HTAB, no DEL (RFC 9110 §5.5), and lose leading
 *   and trailing OWS.
 * - Content-Length: 1*DIGIT below 2^63. Several identical values, in one
 *   line as a list or on several lines, count as one (RFC 9110 §8.6 MAY);
 *   any difference, sign, space inside or empty element is 400.
 * - Transfer-Encoding in HTTP/1.0: 400 (RFC 9112 §6.1: faulty framing);
 *   with Content-Length: 400 (§6.1 MAY reject; nginx 1.21.1 and later do);
 *   chunked not final or twice: 400 (§6.3); another coding: 501 (§6.1).
 * - Host: exactly one in HTTP/1.1, at most one in HTTP/1.0, valid
 *   uri-host [":" port] (§3.2: 400).
 * - Chunk lines: 1*HEXDIG (16 digits at most, so no overflow), then only
 *   chunk-ext, with BWS only around ';' and '=' (§7.1.1); extension bytes
 *   capped per chunk and per request; trailers checked as fields, capped.
 *
 * Verdicts never depend on segmentation: the request line is checked byte
 * by byte (an invalid method byte is refused at once), field lines as each
 * one ends, in order, and a size limit at the byte that crosses it.
 */

#include <string.h>
#include <strings.h>

#include "worker/h1_parser.h"

/* Head states. */
enum {
    H1_START = 0,
    H1_START_CR,
    H1_METHOD0,
    H1_METHOD,
    H1_TARGET0,
    H1_TARGET,
    H1_VERSION,
    H1_LINE_LF,
    H1_FIELDS,
    H1_HEAD_DONE,
    H1_FAILED
};

/* Chunked decoder states. */
enum {
    C_SIZE0 = 0,
    C_SIZE,
    C_SIZE_BWS,  /* whitespace after the size: only ';' may follow */
    C_EXT_NAME0, /* after ';' */
    C_EXT_NAME,
    C_EXT_NAME_BWS,
    C_EXT_VAL0, /* after '=' */
    C_EXT_TOKEN,
    C_EXT_QUOTED,
    C_EXT_QUOTED_PAIR,
    C_EXT_AFTER_VAL,
    C_EXT_BWS, /* whitespace after an extension: only ';' may follow */
    C_LF,
    C_DATA,
    C_DATA_CR,
    C_DATA_LF,
    C_TRAILERS,
    C_DONE
};

enum {
    H1_METHOD_OTHER = 0,
    H1_METHOD_CONNECT,
    H1_METHOD_OPTIONS
};

#define H1_TCHAR  0x01 /* RFC 9110 §5.6.2 */
#define H1_PCHAR  0x02 /* path and query bytes, see above */
#define H1_VCHAR  0x04 /* field-vchar: VCHAR / obs-text */
#define H1_HEX    0x08
#define H1_REG    0x10 /* RFC 3986 unreserved / sub-delims */
#define H1_SCHEME 0x20 /* ALPHA / DIGIT / "+" / "-" / "." */

static uint8_t h1_class[256];

/* Filled once before main(), so no parser ever sees it half-built (the
 * bridge's threads never parse, but nothing here relies on that). */
__attribute__((constructor)) static void
h1_parser_class_init(void)
{
    int ch;

    for (ch = 0; ch < 256; ch++) {
        uint8_t c = 0;
        int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9');

        if (alnum || (ch && strchr("!#$%&'*+-.^_`|~", ch))) {
            c |= H1_TCHAR;
        }
        if ((ch > 0x20 && ch < 0x7f && ch != '#') || ch >= 0x80) {
            c |= H1_PCHAR;
        }
        if ((ch > 0x20 && ch < 0x7f) || ch >= 0x80) {
            c |= H1_VCHAR;
        }
        if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
            (ch >= 'A' && ch <= 'F')) {
            c |= H1_HEX;
        }
        if (alnum || (ch && strchr("-._~!$&'()*+,;=", ch))) {
            c |= H1_REG;
        }
        if (alnum || ch == '+' || ch == '-' || ch == '.') {
            c |= H1_SCHEME;
        }
        h1_class[ch] = c;
    }
}

#define h1_is(ch, cls) (h1_class[(unsigned char)(ch)] & (cls))
#define h1_ows(ch)     ((ch) == ' ' || (ch) == '\t')

static const struct {
    const char *name;
    size_t len;
    am_h1_hdr_t token;
} h1_known[] = {
    { "host", 4, AM_H1_HDR_HOST },
    { "content-length", 14, AM_H1_HDR_CONTENT_LENGTH },
    { "transfer-encoding", 17, AM_H1_HDR_TRANSFER_ENCODING },
    { "connection", 10, AM_H1_HDR_CONNECTION },
    { "upgrade", 7, AM_H1_HDR_UPGRADE },
    { "expect", 6, AM_H1_HDR_EXPECT },
    { "te", 2, AM_H1_HDR_TE },
    { "http2-settings", 14, AM_H1_HDR_HTTP2_SETTINGS },
};

static const struct {
    int status;
    const char *reason;
} h1_errors[AM_H1_E_COUNT] = {
    [AM_H1_E_NONE] = { 0, "no error" },
    [AM_H1_E_LINE] = { 400, "invalid line ending" },
    [AM_H1_E_METHOD] = { 400, "invalid method" },
    [AM_H1_E_METHOD_LONG] = { 501, "method too long" },
    [AM_H1_E_METHOD_PRI] = { 400, "PRI is not an HTTP/1.x method" },
    [AM_H1_E_TARGET] = { 400, "invalid request-target" },
    [AM_H1_E_TARGET_FRAGMENT] = { 400, "fragment in request-target" },
    [AM_H1_E_TARGET_FORM] = { 400, "request-target form not allowed" },
    [AM_H1_E_TARGET_LONG] = { 414, "request-target too long" },
    [AM_H1_E_VERSION] = { 400, "invalid or missing HTTP version" },
    [AM_H1_E_VERSION_UNSUPPORTED] = { 505, "unsupported HTTP version" },
    [AM_H1_E_FIELD_NAME] = { 400, "invalid field name" },
    [AM_H1_E_FIELD_VALUE] = { 400, "invalid field value" },
    [AM_H1_E_OBS_FOLD] = { 400, "obsolete line folding" },
    [AM_H1_E_FIELDS_COUNT] = { 431, "too many header fields" },
    [AM_H1_E_FIELDS_SIZE] = { 431, "header section too large" },
    [AM_H1_E_HOST] = { 400, "missing, repeated or invalid Host" },
    [AM_H1_E_CONTENT_LENGTH] = { 400, "invalid Content-Length" },
    [AM_H1_E_TE_HTTP10] = { 400, "Transfer-Encoding in HTTP/1.0" },
    [AM_H1_E_TE_WITH_CL] = { 400, "both Transfer-Encoding and Content-Length" },
    [AM_H1_E_TE_NOT_CHUNKED] = { 400, "chunked is not the final coding" },
    [AM_H1_E_TE_UNSUPPORTED] = { 501, "unsupported transfer coding" },
    [AM_H1_E_CHUNK_SIZE] = { 400, "invalid chunk size line" },
    [AM_H1_E_CHUNK_EXT] = { 400, "invalid chunk extension" },
    [AM_H1_E_CHUNK_EXT_SIZE] = { 400, "chunk extension too long" },
    [AM_H1_E_CHUNK_EXT_TOTAL] = { 400, "too many chunk extension bytes" },
    [AM_H1_E_CHUNK_DATA] = { 400, "chunk data not followed by CRLF" },
    [AM_H1_E_TRAILER] = { 400, "invalid trailer field" },
    [AM_H1_E_TRAILER_SIZE] = { 400, "trailer section too large" },
};

static int h1_parser_fail(am_h1_parser_t *p, am_h1_error_t e);
static int h1_parser_request_line(am_h1_parser_t *p, const char *buf,
                                  size_t len);
static am_h1_error_t h1_parser_target_end(am_h1_parser_t *p, const char *buf);
static int h1_parser_authority_valid(const char *s, size_t n, int need_port);
static am_h1_error_t h1_parser_field_line(const char *buf, size_t start,
                                          size_t end, am_h1_field_t *f);
static am_h1_error_t h1_parser_field_use(am_h1_parser_t *p, const char *buf,
                                         const am_h1_field_t *f, size_t index);
static am_h1_error_t h1_parser_head_end(am_h1_parser_t *p);
static int h1_parser_next_element(const char *v, size_t len, size_t *i,
                                  size_t *start, size_t *end);
static int h1_parser_chunked(am_h1_parser_t *p, const char *in, size_t len,
                             size_t *consumed, const char **data,
                             size_t *data_len);
static int h1_parser_trailers(am_h1_parser_t *p, const char *in, size_t len,
                              size_t *consumed);

void
am_h1_parser_init(am_h1_parser_t *p, const am_h1_limits_t *limits)
{
    memset(p, 0, sizeof(*p));
    p->limits = *limits;
    am_h1_parser_reset(p);
}

void
am_h1_parser_reset(am_h1_parser_t *p)
{
    am_h1_limits_t limits = p->limits;
    am_h1_field_t *trailers = p->trailers;
    size_t cap = p->trailers_cap;

    memset(p, 0, sizeof(*p));
    p->limits = limits;
    p->trailers = trailers;
    p->trailers_cap = cap;
    p->req.host = p->req.upgrade = p->req.http2_settings = -1;
    p->state = H1_START;
}

int
am_h1_parser_status(am_h1_error_t e)
{
    return (unsigned)e < AM_H1_E_COUNT ? h1_errors[e].status : 400;
}

const char *
am_h1_parser_reason(am_h1_error_t e)
{
    return (unsigned)e < AM_H1_E_COUNT ? h1_errors[e].reason : "unknown";
}

int
am_h1_parser_is_preface(const char *buf, size_t len)
{
    static const char pri[] = "PRI * HTTP/2.0\r\n";
    size_t n = len < sizeof(pri) - 1 ? len : sizeof(pri) - 1;

    if (memcmp(buf, pri, n) != 0) {
        return AM_DECLINED;
    }
    return n == sizeof(pri) - 1 ? AM_OK : AM_AGAIN;
}

int
am_h1_parser_has_token(const char *v, size_t len, const char *token)
{
    size_t tlen = strlen(token), i = 0, start, end;

    while (h1_parser_next_element(v, len, &i, &start, &end)) {
        if (end - start == tlen && strncasecmp(v + start, token, tlen) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
h1_parser_fail(am_h1_parser_t *p, am_h1_error_t e)
{
    p->error = e;
    p->state = H1_FAILED;
    return AM_ERROR;
}

int
am_h1_parser_head(am_h1_parser_t *p, const char *buf, size_t len,
                  am_h1_field_t *fields, size_t cap)
{
    size_t max = p->limits.max_fields < cap ? p->limits.max_fields : cap;
    const char *nl;
    size_t end, lend;
    am_h1_error_t e;
    int rc;

    if (p->state == H1_FAILED) {
        return AM_ERROR;
    }
    if (p->state == H1_HEAD_DONE) {
        return AM_OK;
    }
    if (p->state < H1_FIELDS) {
        rc = h1_parser_request_line(p, buf, len);
        if (rc != AM_OK) {
            return rc;
        }
        p->fields_start = p->line_start = p->pos;
        p->state = H1_FIELDS;
    }

    /* Field lines, each checked once it is complete (RFC 9112 §5). */
    for (;;) {
        nl = memchr(buf + p->pos, '\n', len - p->pos);
        if (nl == NULL) {
            p->pos = len;
            if (len - p->fields_start > p->limits.max_fields_size) {
                return h1_parser_fail(p, AM_H1_E_FIELDS_SIZE);
            }
            return AM_AGAIN;
        }
        end = (size_t)(nl - buf) + 1;
        if (end - p->fields_start > p->limits.max_fields_size) {
            return h1_parser_fail(p, AM_H1_E_FIELDS_SIZE);
        }
        lend = end - 1;
        if (lend > p->line_start && buf[lend - 1] == '\r') {
            lend--; /* CRLF; a bare LF is allowed here (§2.2) */
        }
        if (lend == p->line_start) {
            break; /* the empty line: end of the head */
        }
        if (p->req.nfields == max) {
            /* Checked first, so that nothing is written past cap. */
            e = h1_parser_field_line(buf, p->line_start, lend, NULL);
            return h1_parser_fail(p,
                                  e != AM_H1_E_NONE ? e : AM_H1_E_FIELDS_COUNT);
        }
        e = h1_parser_field_line(buf, p->line_start, lend,
                                 &fields[p->req.nfields]);
        if (e == AM_H1_E_NONE) {
            e = h1_parser_field_use(p, buf, &fields[p->req.nfields],
                                    p->req.nfields);
        }
        if (e != AM_H1_E_NONE) {
            return h1_parser_fail(p, e);
        }
        p->req.nfields++;
        p->line_start = p->pos = end;
    }

    e = h1_parser_head_end(p);
    if (e != AM_H1_E_NONE) {
        return h1_parser_fail(p, e);
    }
    p->head_len = end;
    p->state = H1_HEAD_DONE;
    return AM_OK;
}

/* The request line, byte by byte from p->pos (RFC 9112 §3). AM_OK once its
 * line end is read, with p->pos after it. */
static int
h1_parser_request_line(am_h1_parser_t *p, const char *buf, size_t len)
{
    static const char http[] = "HTTP/";
    am_h1_request_t *r = &p->req;
    am_h1_error_t e;
    size_t i;

    for (i = p->pos; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];

        switch (p->state) {
        case H1_START:
            if (ch == '\r') {
                p->state = H1_START_CR;
                break;
            }
            if (ch == '\n') {
                p->state = H1_METHOD0;
                break;
            }
            /* fall through */
        case H1_METHOD0:
            if (!h1_is(ch, H1_TCHAR)) {
                p->pos = i;
                return h1_parser_fail(p, ch == '\r' || ch == '\n'
                                             ? AM_H1_E_LINE
                                             : AM_H1_E_METHOD);
            }
            r->method_off = (uint32_t)i;
            r->method_len = 0;
            p->state = H1_METHOD;
            /* fall through */
        case H1_METHOD:
            if (ch == ' ') {
                if (r->method_len == 3 &&
                    memcmp(buf + r->method_off, "PRI", 3) == 0) {
                    /* RFC 9113 §3.4, RFC 7540 §11.6: the method of the
                     * HTTP/2 preface, never of an HTTP/1.x request. Only
                     * "PRI * HTTP/2.0" opens HTTP/2 (http1.c); any other
                     * PRI line is refused here, however it arrives. */
                    p->pos = i;
                    return h1_parser_fail(p, AM_H1_E_METHOD_PRI);
                }
                if (r->method_len == 7 &&
                    memcmp(buf + r->method_off, "CONNECT", 7) == 0) {
                    p->method_kind = H1_METHOD_CONNECT;
                } else if (r->method_len == 7 &&
                           memcmp(buf + r->method_off, "OPTIONS", 7) == 0) {
                    p->method_kind = H1_METHOD_OPTIONS;
                }
                p->state = H1_TARGET0;
                break;
            }
            if (!h1_is(ch, H1_TCHAR)) {
                p->pos = i;
                return h1_parser_fail(p, AM_H1_E_METHOD);
            }
            if (++r->method_len > p->limits.max_method) {
                p->pos = i;
                return h1_parser_fail(p, AM_H1_E_METHOD_LONG);
            }
            break;
        case H1_START_CR:
            if (ch != '\n') {
                p->pos = i;
                return h1_parser_fail(p, AM_H1_E_LINE);
            }
            p->state = H1_METHOD0;
            break;
        case H1_TARGET0:
            r->target_off = (uint32_t)i;
            r->target_len = 0;
            if (ch == '/') {
                r->form = AM_H1_FORM_ORIGIN;
            } else if (ch == '*') {
                r->form = AM_H1_FORM_ASTERISK;
            } else if (p->method_kind == H1_METHOD_CONNECT) {
                r->form = AM_H1_FORM_AUTHORITY;
            } else {
                r->form = AM_H1_FORM_ABSOLUTE;
            }
            if ((r->form == AM_H1_FORM_ASTERISK &&
                 p->method_kind != H1_METHOD_OPTIONS) ||
                (r->form != AM_H1_FORM_AUTHORITY &&
                 p->method_kind == H1_METHOD_CONNECT)) {
                p->pos = i;
                return h1_parser_fail(p, AM_H1_E_TARGET_FORM);
            }
            if (ch == ' ' || ch == '\r' || ch == '\n') {
                p->pos = i;
                return h1_parser_fail(p, AM_H1_E_TARGET);
            }
            p->state = H1_TARGET;
            /* fall through */
        case H1_TARGET:
            if (ch == ' ') {
                e = h1_parser_target_end(p, buf);
                if (e != AM_H1_E_NONE) {
                    p->pos = i;
                    return h1_parser_fail(p, e);
                }
                r->minor = 0;
                p->size_digits = 0;
                p->state = H1_VERSION;
                break;
            }
            if (ch == '\r' || ch == '\n') {
                /* HTTP/0.9 "GET /": known now, not after more input. */
                p->pos = i;
                return h1_parser_fail(p, AM_H1_E_VERSION);
            }
            if (ch == '#') {
                p->pos = i;
                return h1_parser_fail(p, AM_H1_E_TARGET_FRAGMENT);
            }
            if (!h1_is(ch, H1_PCHAR) ||
                (r->form == AM_H1_FORM_ASTERISK && r->target_len > 0)) {
                p->pos = i;
                return h1_parser_fail(p, AM_H1_E_TARGET);
            }
            if (++r->target_len > p->limits.max_target) {
                p->pos = i;
                return h1_parser_fail(p, AM_H1_E_TARGET_LONG);
            }
            break;
        case H1_VERSION:
            /* "HTTP/" DIGIT "." DIGIT (§2.3); size_digits counts bytes. */
            if (p->size_digits < 5) {
                if (ch != (unsigned char)http[p->size_digits]) {
                    p->pos = i;
                    return h1_parser_fail(p, AM_H1_E_VERSION);
                }
            } else if (p->size_digits == 5 || p->size_digits == 7) {
                if (ch < '0' || ch > '9') {
                    p->pos = i;
                    return h1_parser_fail(p, AM_H1_E_VERSION);
                }
                if (p->size_digits == 5) {
                    r->minor = ch == '1' ? 0 : -1; /* major: 1 or not */
                } else if (r->minor != 0 || ch > '1') {
                    p->pos = i;
                    return h1_parser_fail(p, AM_H1_E_VERSION_UNSUPPORTED);
                } else {
                    r->minor = ch - '0';
                }
            } else if (p->size_digits == 6) {
                if (ch != '.') {
                    p->pos = i;
                    return h1_parser_fail(p, AM_H1_E_VERSION);
                }
            } else if (ch == '\r') {
                p->state = H1_LINE_LF;
                break;
            } else if (ch == '\n') {
                p->pos = i + 1;
                return AM_OK;
            } else {
                p->pos = i;
                return h1_parser_fail(p, AM_H1_E_VERSION);
            }
            p->size_digits++;
            break;
        case H1_LINE_LF:
            if (ch != '\n') {
                p->pos = i;
                return h1_parser_fail(p, AM_H1_E_LINE);
            }
            p->pos = i + 1;
            return AM_OK;
        }
    }
    p->pos = len;
    return AM_AGAIN;
}

/* The whole target is read: its structure (RFC 9112 §3.2, RFC 3986). */
static am_h1_error_t
h1_parser_target_end(am_h1_parser_t *p, const char *buf)
{
    am_h1_request_t *r = &p->req;
    const char *t = buf + r->target_off;
    size_t n = r->target_len, i, a;

    switch (r->form) {
    case AM_H1_FORM_ASTERISK:
        return AM_H1_E_NONE;
    case AM_H1_FORM_AUTHORITY:
        /* §3.2.3: uri-host ":" port, nothing else. */
        if (!h1_parser_authority_valid(t, n, 1)) {
            return AM_H1_E_TARGET;
        }
        r->authority_off = r->target_off;
        r->authority_len = (uint32_t)n;
        return AM_H1_E_NONE;
    case AM_H1_FORM_ABSOLUTE:
        /* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" /
         * "." ), then "://" authority path-abempty [ "?" query ]. */
        if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z'))) {
            return AM_H1_E_TARGET;
        }
        for (i = 1; i < n && h1_is(t[i], H1_SCHEME); i++) {
        }
        if (n - i < 3 || memcmp(t + i, "://", 3) != 0) {
            return AM_H1_E_TARGET;
        }
        a = i + 3;
        for (i = a; i < n && t[i] != '/' && t[i] != '?'; i++) {
        }
        if (i == a || !h1_parser_authority_valid(t + a, i - a, 0)) {
            return AM_H1_E_TARGET;
        }
        r->authority_off = r->target_off + (uint32_t)a;
        r->authority_len = (uint32_t)(i - a);
        break;
    default:
        i = 0;
        break;
    }
    /* path [ "?" query ]: the bytes were checked one by one. */
    r->path_off = r->target_off + (uint32_t)i;
    for (a = i; i < n && t[i] != '?'; i++) {
    }
    r->path_len = (uint32_t)(i - a);
    if (i < n) {
        r->has_query = 1;
        r->query_off = r->target_off + (uint32_t)i + 1;
        r->query_len = (uint32_t)(n - i - 1);
    }
    return AM_H1_E_NONE;
}

/* RFC 3986 §3.2.2-§3.2.3: host [ ":" port ], host a reg-name (which
 * includes IPv4address) or an IP-literal; no userinfo (RFC 9110 §4.2.4).
 * An empty host is valid here (an empty Host field, §3.2). */
static int
h1_parser_authority_valid(const char *s, size_t n, int need_port)
{
    size_t i = 0, j;

    if (n > 0 && s[0] == '[') {
        /* IP-literal: IPv6address or IPvFuture, by their characters. */
        for (i = 1; i < n && s[i] != ']'; i++) {
            if (!h1_is(s[i], H1_HEX | H1_REG) && s[i] != ':') {
                return 0;
            }
        }
        if (i == n || i == 1) {
            return 0;
        }
        if (s[1] != 'v' && s[1] != 'V') {
            for (j = 1; j < i; j++) {
                if (!h1_is(s[j], H1_HEX) && s[j] != ':' && s[j] != '.') {
                    return 0;
                }
            }
        }
        i++;
    } else {
        while (i < n && s[i] != ':') {
            if (s[i] == '%') {
                if (n - i < 3 || !h1_is(s[i + 1], H1_HEX) ||
                    !h1_is(s[i + 2], H1_HEX)) {
                    return 0;
                }
                i += 3;
                continue;
            }
            if (!h1_is(s[i], H1_REG)) {
                return 0;
            }
            i++;
        }
    }
    if (i == n) {
        return !need_port;
    }
    if (s[i] != ':') {
        return 0;
    }
    if (need_port && i + 1 == n) {
        return 0;
    }
    for (i++; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* One field line [start, end) without its line end (RFC 9112 §5, RFC 9110
 * §5.1, §5.5): name ":" OWS value OWS. f may be NULL (check only). */
static am_h1_error_t
h1_parser_field_line(const char *buf, size_t start, size_t end,
                     am_h1_field_t *f)
{
    size_t i = start, v, ve, k;

    if (h1_ows(buf[i])) {
        return AM_H1_E_OBS_FOLD; /* §5.2; before the first field, §2.2 */
    }
    while (i < end && h1_is(buf[i], H1_TCHAR)) {
        i++;
    }
    if (i == start || i == end || buf[i] != ':') {
        return AM_H1_E_FIELD_NAME; /* also "name :" (§5.1 MUST) */
    }
    v = i + 1;
    while (v < end && h1_ows(buf[v])) {
        v++;
    }
    for (k = v; k < end; k++) {
        if (!h1_is(buf[k], H1_VCHAR) && !h1_ows(buf[k])) {
            return AM_H1_E_FIELD_VALUE;
        }
    }
    ve = end;
    while (ve > v && h1_ows(buf[ve - 1])) {
        ve--;
    }
    if (f == NULL) {
        return AM_H1_E_NONE;
    }
    f->name_off = (uint32_t)start;
    f->name_len = (uint32_t)(i - start);
    f->value_off = (uint32_t)v;
    f->value_len = (uint32_t)(ve - v);
    f->token = AM_H1_HDR_OTHER;
    for (k = 0; k < sizeof(h1_known) / sizeof(h1_known[0]); k++) {
        if (f->name_len == h1_known[k].len &&
            strncasecmp(buf + start, h1_known[k].name, h1_known[k].len) == 0) {
            f->token = h1_known[k].token;
            break;
        }
    }
    return AM_H1_E_NONE;
}

/* The framing and connection facts of one field (RFC 9112 §6, §9.6,
 * RFC 9110 §7.2, §7.6.1, §8.6, §10.1.1). */
static am_h1_error_t
h1_parser_field_use(am_h1_parser_t *p, const char *buf, const am_h1_field_t *f,
                    size_t index)
{
    am_h1_request_t *r = &p->req;
    const char *v = buf + f->value_off;
    size_t n = f->value_len, i = 0, s, e, k;
    uint64_t cl;

    switch (f->token) {
    case AM_H1_HDR_HOST:
        if (r->host != -1 || !h1_parser_authority_valid(v, n, 0)) {
            return AM_H1_E_HOST;
        }
        r->host = (int)index;
        break;
    case AM_H1_HDR_CONTENT_LENGTH:
        /* 1*DIGIT; identical values in a list count as one (§8.6). */
        for (;;) {
            s = i;
            while (i < n && v[i] != ',') {
                i++;
            }
            e = i;
            while (s < e && h1_ows(v[s])) {
                s++;
            }
            while (e > s && h1_ows(v[e - 1])) {
                e--;
            }
            if (s == e) {
                return AM_H1_E_CONTENT_LENGTH;
            }
            cl = 0;
            for (k = s; k < e; k++) {
                if (v[k] < '0' || v[k] > '9' ||
                    cl > (UINT64_MAX / 2 - (uint64_t)(v[k] - '0')) / 10) {
                    return AM_H1_E_CONTENT_LENGTH;
                }
                cl = cl * 10 + (uint64_t)(v[k] - '0');
            }
            if (p->had_cl && cl != r->content_length) {
                return AM_H1_E_CONTENT_LENGTH;
            }
            p->had_cl = 1;
            r->content_length = cl;
            if (i == n) {
                break;
            }
            i++; /* the comma */
        }
        break;
    case AM_H1_HDR_TRANSFER_ENCODING:
        p->had_te = 1;
        while (h1_parser_next_element(v, n, &i, &s, &e)) {
            if (e - s == 7 && strncasecmp(v + s, "chunked", 7) == 0) {
                p->te_chunked++;
                p->te_last_chunked = 1;
                continue;
            }
            for (k = s; k < e && h1_is(v[k], H1_TCHAR); k++) {
            }
            if (k == s || (k < e && v[k] != ';' && !h1_ows(v[k]))) {
                p->te_chunked = 2; /* not a transfer-coding: 400 */
            }
            p->te_other = 1;
            p->te_last_chunked = 0;
        }
        break;
    case AM_H1_HDR_CONNECTION:
        while (h1_parser_next_element(v, n, &i, &s, &e)) {
            if (e - s == 5 && strncasecmp(v + s, "close", 5) == 0) {
                r->flags |= AM_H1_CONN_CLOSE;
            } else if (e - s == 10 &&
                       strncasecmp(v + s, "keep-alive", 10) == 0) {
                r->flags |= AM_H1_CONN_KEEP_ALIVE;
            } else if (e - s == 7 && strncasecmp(v + s, "upgrade", 7) == 0) {
                r->flags |= AM_H1_CONN_UPGRADE;
            } else if (e - s == 14 &&
                       strncasecmp(v + s, "http2-settings", 14) == 0) {
                r->flags |= AM_H1_CONN_HTTP2_SETTINGS;
            }
        }
        break;
    case AM_H1_HDR_UPGRADE:
        r->upgrade = (int)index;
        break;
    case AM_H1_HDR_EXPECT:
        if (n == 12 && strncasecmp(v, "100-continue", 12) == 0) {
            r->flags |= AM_H1_EXPECT_CONTINUE;
        } else {
            r->flags |= AM_H1_EXPECT_OTHER;
        }
        break;
    case AM_H1_HDR_TE:
        if (am_h1_parser_has_token(v, n, "trailers")) {
            r->flags |= AM_H1_TE_TRAILERS;
        }
        break;
    case AM_H1_HDR_HTTP2_SETTINGS:
        r->http2_settings = (int)index;
        r->nhttp2_settings++;
        break;
    default:
        break;
    }
    return AM_H1_E_NONE;
}

/* The head is complete: framing (RFC 9112 §6.1, §6.3) and Host (§3.2). */
static am_h1_error_t
h1_parser_head_end(am_h1_parser_t *p)
{
    am_h1_request_t *r = &p->req;

    if (r->minor == 1 && r->host == -1) {
        return AM_H1_E_HOST;
    }
    if (p->had_te) {
        if (r->minor == 0) {
            return AM_H1_E_TE_HTTP10;
        }
        if (p->had_cl) {
            return AM_H1_E_TE_WITH_CL;
        }
        if (!p->te_last_chunked || p->te_chunked != 1) {
            return AM_H1_E_TE_NOT_CHUNKED;
        }
        if (p->te_other) {
            return AM_H1_E_TE_UNSUPPORTED;
        }
        r->body = AM_H1_BODY_CHUNKED;
        p->cstate = C_SIZE0;
        p->size_digits = 0; /* was the version's byte count */
    } else if (p->had_cl && r->content_length > 0) {
        r->body = AM_H1_BODY_LENGTH;
        p->remaining = r->content_length;
    } else {
        r->body = AM_H1_BODY_NONE;
    }
    if (r->minor == 1 ? !(r->flags & AM_H1_CONN_CLOSE)
                      : (r->flags & AM_H1_CONN_KEEP_ALIVE) &&
                            !(r->flags & AM_H1_CONN_CLOSE)) {
        r->flags |= AM_H1_KEEP_ALIVE;
    }
    return AM_H1_E_NONE;
}

/* The next element of a comma-separated list (RFC 9110 §5.6.1), without
 * surrounding whitespace; empty elements are skipped. */
static int
h1_parser_next_element(const char *v, size_t len, size_t *i, size_t *start,
                       size_t *end)
{
    while (*i < len) {
        while (*i < len && (h1_ows(v[*i]) || v[*i] == ',')) {
            (*i)++;
        }
        *start = *i;
        while (*i < len && v[*i] != ',') {
            (*i)++;
        }
        *end = *i;
        while (*end > *start && h1_ows(v[*end - 1])) {
            (*end)--;
        }
        if (*end > *start) {
            return 1;
        }
    }
    return 0;
}

int
am_h1_parser_body(am_h1_parser_t *p, const char *in, size_t len,
                  size_t *consumed, const char **data, size_t *data_len)
{
    size_t n;

    *consumed = 0;
    *data = NULL;
    *data_len = 0;
    if (p->state == H1_FAILED) {
        return AM_ERROR;
    }
    switch (p->req.body) {
    case AM_H1_BODY_LENGTH:
        n = p->remaining < len ? (size_t)p->remaining : len;
        if (n > 0) {
            *data = in;
            *data_len = n;
            *consumed = n;
            p->remaining -= n;
        }
        return p->remaining == 0 ? AM_DONE : AM_AGAIN;
    case AM_H1_BODY_CHUNKED:
        return h1_parser_chunked(p, in, len, consumed, data, data_len);
    default:
        return AM_DONE;
    }
}

/* RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF;
 * last-chunk = 1*"0" [ chunk-ext ] CRLF; then trailer-section CRLF. */
static int
h1_parser_chunked(am_h1_parser_t *p, const char *in, size_t len,
                  size_t *consumed, const char **data, size_t *data_len)
{
    size_t i, n;
    int d;

    if (p->cstate == C_DONE) {
        return AM_DONE;
    }
    if (p->cstate == C_TRAILERS) {
        return h1_parser_trailers(p, in, len, consumed);
    }
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];

        /* chunk-ext bytes: from after the size to the CR, capped. */
        if ((p->cstate >= C_SIZE_BWS && p->cstate <= C_EXT_BWS && ch != '\r') ||
            (p->cstate == C_SIZE && (ch == ';' || h1_ows(ch)))) {
            p->ext_len++;
            p->ext_total++;
            if (p->ext_len > p->limits.max_chunk_ext) {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_EXT_SIZE);
            }
            if (p->ext_total > p->limits.max_chunk_ext_total) {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_EXT_TOTAL);
            }
        }
        switch (p->cstate) {
        case C_SIZE0:
        case C_SIZE:
            d = h1_is(ch, H1_HEX)
                    ? (ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10)
                    : -1;
            if (d >= 0) {
                /* 16 hex digits at most: a uint64_t cannot overflow. */
                if (++p->size_digits > 16) {
                    *consumed = i;
                    return h1_parser_fail(p, AM_H1_E_CHUNK_SIZE);
                }
                p->remaining = p->remaining << 4 | (uint64_t)d;
                p->cstate = C_SIZE;
                break;
            }
            if (p->cstate == C_SIZE0) {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_SIZE);
            }
            if (ch == '\r') {
                p->cstate = C_LF;
            } else if (ch == ';') {
                p->cstate = C_EXT_NAME0;
            } else if (h1_ows(ch)) {
                p->cstate = C_SIZE_BWS;
            } else {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_SIZE);
            }
            break;
        case C_SIZE_BWS: /* "5 " may only go on with ';' (issue 10) */
            if (ch == ';') {
                p->cstate = C_EXT_NAME0;
            } else if (!h1_ows(ch)) {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_SIZE);
            }
            break;
        case C_EXT_NAME0:
            if (h1_is(ch, H1_TCHAR)) {
                p->cstate = C_EXT_NAME;
            } else if (!h1_ows(ch)) {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_EXT);
            }
            break;
        case C_EXT_NAME:
        case C_EXT_TOKEN:
        case C_EXT_AFTER_VAL:
            if (h1_is(ch, H1_TCHAR) && p->cstate != C_EXT_AFTER_VAL) {
                break;
            }
            if (ch == ';') {
                p->cstate = C_EXT_NAME0;
            } else if (ch == '=' && p->cstate == C_EXT_NAME) {
                p->cstate = C_EXT_VAL0;
            } else if (h1_ows(ch)) {
                p->cstate =
                    p->cstate == C_EXT_NAME ? C_EXT_NAME_BWS : C_EXT_BWS;
            } else if (ch == '\r') {
                p->cstate = C_LF;
            } else {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_EXT);
            }
            break;
        case C_EXT_BWS:
            if (ch == ';') {
                p->cstate = C_EXT_NAME0;
            } else if (!h1_ows(ch)) {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_EXT);
            }
            break;
        case C_EXT_NAME_BWS:
            if (ch == '=') {
                p->cstate = C_EXT_VAL0;
            } else if (ch == ';') {
                p->cstate = C_EXT_NAME0;
            } else if (!h1_ows(ch)) {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_EXT);
            }
            break;
        case C_EXT_VAL0:
            if (ch == '"') {
                p->cstate = C_EXT_QUOTED;
            } else if (h1_is(ch, H1_TCHAR)) {
                p->cstate = C_EXT_TOKEN;
            } else if (!h1_ows(ch)) {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_EXT);
            }
            break;
        case C_EXT_QUOTED: /* RFC 9110 §5.6.4 */
            if (ch == '"') {
                p->cstate = C_EXT_AFTER_VAL;
            } else if (ch == '\\') {
                p->cstate = C_EXT_QUOTED_PAIR;
            } else if (!h1_is(ch, H1_VCHAR) && !h1_ows(ch)) {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_EXT);
            }
            break;
        case C_EXT_QUOTED_PAIR:
            if (!h1_is(ch, H1_VCHAR) && !h1_ows(ch)) {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_EXT);
            }
            p->cstate = C_EXT_QUOTED;
            break;
        case C_LF:
            if (ch != '\n') {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_SIZE);
            }
            p->size_digits = 0;
            p->ext_len = 0;
            if (p->remaining == 0) {
                /* last-chunk: the trailer section starts after it; the
                 * caller drops what came before and keeps the rest. */
                p->cstate = C_TRAILERS;
                p->line_start = p->pos = 0;
                *consumed = i + 1;
                return AM_OK;
            }
            p->cstate = C_DATA;
            break;
        case C_DATA:
            n = p->remaining < len - i ? (size_t)p->remaining : len - i;
            *data = in + i;
            *data_len = n;
            *consumed = i + n;
            p->remaining -= n;
            if (p->remaining == 0) {
                p->cstate = C_DATA_CR;
            }
            return *consumed == len ? AM_AGAIN : AM_OK;
        case C_DATA_CR:
            if (ch != '\r') {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_DATA);
            }
            p->cstate = C_DATA_LF;
            break;
        case C_DATA_LF:
            if (ch != '\n') {
                *consumed = i;
                return h1_parser_fail(p, AM_H1_E_CHUNK_DATA);
            }
            p->cstate = C_SIZE0;
            break;
        }
    }
    *consumed = len;
    return AM_AGAIN;
}

/* RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), then CRLF. Not
 * consumed until complete: in starts at the section each time. */
static int
h1_parser_trailers(am_h1_parser_t *p, const char *in, size_t len,
                   size_t *consumed)
{
    am_h1_field_t f, *fp;
    const char *nl;
    size_t end, max = p->limits.max_trailer_fields;
    am_h1_error_t e;

    *consumed = 0;
    for (;;) {
        nl = memchr(in + p->pos, '\n', len - p->pos);
        if (nl == NULL) {
            p->pos = len;
            if (len > p->limits.max_trailer_size) {
                return h1_parser_fail(p, AM_H1_E_TRAILER_SIZE);
            }
            return AM_AGAIN;
        }
        end = (size_t)(nl - in) + 1;
        if (end > p->limits.max_trailer_size) {
            return h1_parser_fail(p, AM_H1_E_TRAILER_SIZE);
        }
        /* CRLF only: no bare LF in chunked framing. */
        if (end - 1 == p->line_start || in[end - 2] != '\r') {
            return h1_parser_fail(p, AM_H1_E_TRAILER);
        }
        if (end - 2 == p->line_start) {
            break;
        }
        if (p->ntrailers == max) {
            return h1_parser_fail(p, AM_H1_E_TRAILER_SIZE);
        }
        fp = p->ntrailers < p->trailers_cap ? &p->trailers[p->ntrailers] : &f;
        e = h1_parser_field_line(in, p->line_start, end - 2, fp);
        if (e != AM_H1_E_NONE) {
            return h1_parser_fail(p, AM_H1_E_TRAILER);
        }
        p->ntrailers++;
        p->line_start = p->pos = end;
    }
    if (p->ntrailers > p->trailers_cap) {
        p->ntrailers = p->trailers_cap; /* the rest was dropped */
    }
    p->cstate = C_DONE;
    *consumed = end;
    return AM_DONE;
}
