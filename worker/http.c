/* worker/http.c: the shared HTTP vocabulary (worker/http.h): the token
 * table of known header names, tchar and field-value rules, status
 * reasons as a table, and the Date value cached per second.
 */

#include <string.h>
#include <strings.h>
#include <time.h>

#include "worker/http.h"

#define HTTP_CS          AM_HTTP_TOKEN_CONN_SPECIFIC
#define HTTP_HOP         AM_HTTP_TOKEN_HOP_BY_HOP
#define HTTP_T(id, s, f) [AM_HTTP_TOKEN_##id] = { s, sizeof(s) - 1, f }

const am_http_token_info_t am_http_tokens[AM_HTTP_TOKEN_COUNT] = {
    HTTP_T(OTHER, "", 0),
    HTTP_T(CONNECTION, "connection", HTTP_CS | HTTP_HOP),
    HTTP_T(CONTENT_LENGTH, "content-length", 0),
    HTTP_T(CONTENT_TYPE, "content-type", 0),
    HTTP_T(COOKIE, "cookie", 0),
    HTTP_T(DATE, "date", 0),
    HTTP_T(EXPECT, "expect", 0),
    HTTP_T(FORWARDED, "forwarded", 0),
    HTTP_T(HOST, "host", 0),
    HTTP_T(HTTP2_SETTINGS, "http2-settings", HTTP_HOP),
    HTTP_T(KEEP_ALIVE, "keep-alive", HTTP_CS | HTTP_HOP),
    HTTP_T(PROXY_CONNECTION, "proxy-connection", HTTP_CS | HTTP_HOP),
    HTTP_T(REFERER, "referer", 0),
    HTTP_T(SERVER, "server", 0),
    HTTP_T(TE, "te", 0),
    HTTP_T(TRAILER, "trailer", 0),
    HTTP_T(TRANSFER_ENCODING, "transfer-encoding", HTTP_CS | HTTP_HOP),
    HTTP_T(UPGRADE, "upgrade", HTTP_CS | HTTP_HOP),
    HTTP_T(USER_AGENT, "user-agent", 0),
    HTTP_T(X_FORWARDED_FOR, "x-forwarded-for", 0),
    HTTP_T(X_FORWARDED_PROTO, "x-forwarded-proto", 0),
};

/* RFC 9110 §5.6.2: tchar. */
const unsigned char am_http_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,
    ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
    ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1,
    ['x'] = 1, ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1,
    ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
};

/* RFC 9110 §15 and the IANA registry: the reasons we send. */
static const char *const http_reasons[600] = {
    [100] = "Continue",
    [101] = "Switching Protocols",
    [200] = "OK",
    [201] = "Created",
    [202] = "Accepted",
    [203] = "Non-Authoritative Information",
    [204] = "No Content",
    [205] = "Reset Content",
    [206] = "Partial Content",
    [300] = "Multiple Choices",
    [301] = "Moved Permanently",
    [302] = "Found",
    [303] = "See Other",
    [304] = "Not Modified",
    [307] = "Temporary Redirect",
    [308] = "Permanent Redirect",
    [400] = "Bad Request",
    [401] = "Unauthorized",
    [402] = "Payment Required",
    [403] = "Forbidden",
    [404] = "Not Found",
    [405] = "Method Not Allowed",
    [406] = "Not Acceptable",
    [407] = "Proxy Authentication Required",
    [408] = "Request Timeout",
    [409] = "Conflict",
    [410] = "Gone",
    [411] = "Length Required",
    [412] = "Precondition Failed",
    [413] = "Content Too Large",
    [414] = "URI Too Long",
    [415] = "Unsupported Media Type",
    [416] = "Range Not Satisfiable",
    [417] = "Expectation Failed",
    [421] = "Misdirected Request",
    [422] = "Unprocessable Content",
    [425] = "Too Early",
    [426] = "Upgrade Required",
    [428] = "Precondition Required",
    [429] = "Too Many Requests",
    [431] = "Request Header Fields Too Large",
    [451] = "Unavailable For Legal Reasons",
    [500] = "Internal Server Error",
    [501] = "Not Implemented",
    [502] = "Bad Gateway",
    [503] = "Service Unavailable",
    [504] = "Gateway Timeout",
    [505] = "HTTP Version Not Supported",
};

/* The token of each name by its length and first letter (no two share
 * both): am_http_token_find() compares one candidate at most. Every
 * name of am_http_tokens[] is here (tests/unit/worker/test_http.c); a
 * clash would be a compile error (-Woverride-init, in -Wextra). */
#define HTTP_NAME_MAX      17
#define HTTP_I(len, c, id) [len][(c)&31] = AM_HTTP_TOKEN_##id
static const unsigned char http_token_index[HTTP_NAME_MAX + 1][32] = {
    HTTP_I(10, 'c', CONNECTION),        /* connection */
    HTTP_I(14, 'c', CONTENT_LENGTH),    /* content-length */
    HTTP_I(12, 'c', CONTENT_TYPE),      /* content-type */
    HTTP_I(6, 'c', COOKIE),             /* cookie */
    HTTP_I(4, 'd', DATE),               /* date */
    HTTP_I(6, 'e', EXPECT),             /* expect */
    HTTP_I(9, 'f', FORWARDED),          /* forwarded */
    HTTP_I(4, 'h', HOST),               /* host */
    HTTP_I(14, 'h', HTTP2_SETTINGS),    /* http2-settings */
    HTTP_I(10, 'k', KEEP_ALIVE),        /* keep-alive */
    HTTP_I(16, 'p', PROXY_CONNECTION),  /* proxy-connection */
    HTTP_I(7, 'r', REFERER),            /* referer */
    HTTP_I(6, 's', SERVER),             /* server */
    HTTP_I(2, 't', TE),                 /* te */
    HTTP_I(7, 't', TRAILER),            /* trailer */
    HTTP_I(17, 't', TRANSFER_ENCODING), /* transfer-encoding */
    HTTP_I(7, 'u', UPGRADE),            /* upgrade */
    HTTP_I(10, 'u', USER_AGENT),        /* user-agent */
    HTTP_I(15, 'x', X_FORWARDED_FOR),   /* x-forwarded-for */
    HTTP_I(17, 'x', X_FORWARDED_PROTO), /* x-forwarded-proto */
};

/* An ASCII letter in lowercase, any other byte as it is. */
static inline unsigned char
http_lower(unsigned char c)
{
    return (unsigned)(c - 'A') < 26u ? (unsigned char)(c | 0x20) : c;
}

am_http_token_t
am_http_token_find(const char *name, size_t len)
{
    const am_http_token_info_t *k;
    unsigned t;
    size_t i;

    if (len == 0 || len > HTTP_NAME_MAX) {
        return AM_HTTP_TOKEN_OTHER;
    }
    t = http_token_index[len][(unsigned char)name[0] & 31];
    if (t == AM_HTTP_TOKEN_OTHER) {
        return AM_HTTP_TOKEN_OTHER;
    }
    k = &am_http_tokens[t];
    if (memcmp(name, k->name, len) == 0) {
        return (am_http_token_t)t; /* lowercase, as most names come */
    }
    for (i = 0; i < len; i++) {
        if (http_lower((unsigned char)name[i]) != (unsigned char)k->name[i]) {
            return AM_HTTP_TOKEN_OTHER;
        }
    }
    return (am_http_token_t)t;
}

int
am_http_is_token(const char *name, size_t len)
{
    size_t i;

    if (len == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!am_http_tchar[(unsigned char)name[i]]) {
            return 0;
        }
    }
    return 1;
}

int
am_http_is_field_value(const char *value, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0') {
            return 0;
        }
    }
    return 1;
}

/* The next element of a comma-separated field value (RFC 9110 §5.6.1),
 * without surrounding whitespace: *start and *end, or 0 at the end. */
int
am_http_next_element(const char *v, size_t len, size_t *i, size_t *start,
                     size_t *end)
{
    while (*i < len) {
        while (*i < len && (v[*i] == ' ' || v[*i] == '\t' || v[*i] == ',')) {
            (*i)++;
        }
        *start = *i;
        while (*i < len && v[*i] != ',') {
            (*i)++;
        }
        *end = *i;
        while (*end > *start && (v[*end - 1] == ' ' || v[*end - 1] == '\t')) {
            (*end)--;
        }
        if (*end > *start) {
            return 1;
        }
    }
    return 0;
}

int
am_http_value_has_token(const char *v, size_t len, const char *token)
{
    size_t tlen = strlen(token), i = 0, start, end;

    while (am_http_next_element(v, len, &i, &start, &end)) {
        if (end - start == tlen && strncasecmp(v + start, token, tlen) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *
am_http_reason(int status)
{
    static const char *const classes[] = {
        "Informational", "Success",      "Redirection",
        "Client Error",  "Server Error",
    };

    if (status >= 100 && status < 600 && http_reasons[status] != NULL) {
        return http_reasons[status];
    }
    if (status < 200) {
        return classes[0];
    }
    if (status >= 500) {
        return classes[4];
    }
    return classes[status / 100 - 1];
}

size_t
am_http_error_body(int status, char *buf, size_t size)
{
    const char *reason = am_http_reason(status);
    size_t len = strlen(reason);

    if (len + 2 > size) {
        len = size - 2;
    }
    memcpy(buf, reason, len);
    buf[len] = '\n';
    buf[len + 1] = '\0';
    return len + 1;
}

const char *
am_http_date(void)
{
    static char buf[64];
    static time_t last;
    time_t now = time(NULL);
    struct tm tm;

    if (now != last) {
        last = now;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    }
    return buf;
}
