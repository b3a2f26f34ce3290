/* common/access.c: access-log lines from a format with $variables.
 *
 * The format is read left to right on every line: literal runs are copied,
 * each $variable appends its value. Formats are short and lines are built
 * in one stack buffer by the caller, so there is no compiled form to keep in
 * sync with the config. Time is localtime, cached per second, as nginx's
 * $time_local is.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/access.h"
#include "common/core.h"
#include "common/editdist.h"

#define ACCESS_COMBINED                                                        \
    "$remote_addr - - [$time_local] \"$request\" $status $body_bytes_sent "    \
    "\"$http_referer\" \"$http_user_agent\" $request_time"
#define ACCESS_COMMON                                                          \
    "$remote_addr - - [$time_local] \"$request\" $status $body_bytes_sent"

typedef enum {
    ACCESS_REMOTE_ADDR = 0,
    ACCESS_TIME_LOCAL,
    ACCESS_TIME_ISO8601,
    ACCESS_REQUEST,
    ACCESS_METHOD,
    ACCESS_URI,
    ACCESS_PROTOCOL,
    ACCESS_STATUS,
    ACCESS_BODY_BYTES_SENT,
    ACCESS_HTTP_REFERER,
    ACCESS_HTTP_USER_AGENT,
    ACCESS_REQUEST_TIME,
    ACCESS_PID,
    ACCESS_UNKNOWN
} access_var_t;

/* A string literal, its length counted by the compiler. */
#define ACCESS_LIT(o, s) access_put(o, s, sizeof(s) - 1)

typedef struct {
    char *p;
    char *end; /* one before the buffer's end: room for the '\n' */
} access_out_t;

static const char *const access_vars[] = {
    "remote_addr",  "time_local",      "time_iso8601",
    "request",      "method",          "uri",
    "protocol",     "status",          "body_bytes_sent",
    "http_referer", "http_user_agent", "request_time",
    "pid",
};

static const char *const access_months[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static const char *
access_expand(const char *fmt)
{
    if (strcmp(fmt, "combined") == 0) {
        return ACCESS_COMBINED;
    }
    if (strcmp(fmt, "common") == 0) {
        return ACCESS_COMMON;
    }
    return fmt;
}

static int
access_is_name(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* At p (just after a '$'): the variable's name and the text after it.
 * Returns 0 when no name follows (a literal '$'), -1 for an unclosed
 * "${", 1 with *name, *len and *next set. */
static int
access_scan(const char *p, const char **name, size_t *len, const char **next)
{
    const char *q;

    if (*p == '{') {
        q = strchr(p + 1, '}');
        if (q == NULL) {
            return -1;
        }
        *name = p + 1;
        *len = (size_t)(q - p - 1);
        *next = q + 1;
        return 1;
    }
    for (q = p; access_is_name((unsigned char)*q); q++) {
        /* the name runs to the first character that cannot be in one */
    }
    if (q == p) {
        return 0;
    }
    *name = p;
    *len = (size_t)(q - p);
    *next = q;
    return 1;
}

static access_var_t
access_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < am_nitems(access_vars); i++) {
        if (strlen(access_vars[i]) == len &&
            memcmp(access_vars[i], name, len) == 0) {
            return (access_var_t)i;
        }
    }
    return ACCESS_UNKNOWN;
}

int
am_access_format_check(const char *fmt, char *err, size_t size)
{
    const char *p, *name, *next, *best;
    size_t len, d, bestd;
    char word[64];
    int rc;

    fmt = access_expand(fmt);
    for (p = strchr(fmt, '$'); p != NULL; p = strchr(p, '$')) {
        rc = access_scan(p + 1, &name, &len, &next);
        if (rc == 0) {
            p++;
            continue;
        }
        if (rc == -1) {
            snprintf(err, size, "unclosed \"${\" in the access log format");
            return AM_ERROR;
        }
        if (access_lookup(name, len) == ACCESS_UNKNOWN) {
            snprintf(word, sizeof(word), "%.*s", (int)am_min(len, 40), name);
            best = NULL;
            bestd = (size_t)-1;
            for (size_t i = 0; i < am_nitems(access_vars); i++) {
                d = am_editdist_compute(word, access_vars[i]);
                if (am_editdist_is_close(word, access_vars[i], d) &&
                    d < bestd) {
                    best = access_vars[i];
                    bestd = d;
                }
            }
            if (best != NULL) {
                snprintf(err, size,
                         "unknown variable \"$%s\" in the access log format; "
                         "did you mean \"$%s\"?",
                         word, best);
            } else {
                snprintf(err, size,
                         "unknown variable \"$%s\" in the access log format",
                         word);
            }
            return AM_ERROR;
        }
        p = next;
    }
    return AM_OK;
}

static void
access_put(access_out_t *o, const char *s, size_t n)
{
    n = am_min(n, (size_t)(o->end - o->p));
    memcpy(o->p, s, n);
    o->p += n;
}

static void access_putf(access_out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
access_putf(access_out_t *o, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0) {
        access_put(o, tmp, am_min((size_t)n, sizeof(tmp) - 1));
    }
}

/* A value from the request: '"', '\\', control and non-ASCII bytes become
 * \xHH so a line stays one line and its quoted fields stay parseable. */
static void
access_put_escaped(access_out_t *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *u;
    char esc[4];

    if (s == NULL) {
        access_put(o, "-", 1);
        return;
    }
    for (u = (const unsigned char *)s; *u != '\0'; u++) {
        if (*u < 0x20 || *u > 0x7e || *u == '"' || *u == '\\') {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[*u >> 4];
            esc[3] = hex[*u & 0xf];
            if (o->end - o->p < 4) {
                break; /* never half an escape */
            }
            access_put(o, esc, 4);
        } else if (o->p < o->end) {
            *o->p++ = (char)*u;
        }
    }
}

static void
access_localtime(time_t t, struct tm *tm)
{
    static time_t cached_time = (time_t)-1;
    static struct tm cached_tm;

    if (t != cached_time) {
        localtime_r(&t, &cached_tm);
        cached_time = t;
    }
    *tm = cached_tm;
}

static void
access_put_time(access_out_t *o, time_t t, int iso)
{
    struct tm tm;
    long off;
    char sign;

    access_localtime(t, &tm);
    off = tm.tm_gmtoff / 60;
    sign = off < 0 ? '-' : '+';
    off = off < 0 ? -off : off;
    if (iso) {
        access_putf(o, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                    tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
    } else {
        access_putf(o, "%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld", tm.tm_mday,
                    access_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                    tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
    }
}

static void
access_put_var(access_out_t *o, access_var_t v, const am_access_entry_t *e)
{
    switch (v) {
    case ACCESS_REMOTE_ADDR:
        access_put_escaped(o, e->remote_addr);
        break;
    case ACCESS_TIME_LOCAL:
        access_put_time(o, e->time, 0);
        break;
    case ACCESS_TIME_ISO8601:
        access_put_time(o, e->time, 1);
        break;
    case ACCESS_REQUEST:
        access_put_escaped(o, e->method);
        access_put(o, " ", 1);
        access_put_escaped(o, e->target);
        access_put(o, " ", 1);
        access_put_escaped(o, e->protocol);
        break;
    case ACCESS_METHOD:
        access_put_escaped(o, e->method);
        break;
    case ACCESS_URI:
        access_put_escaped(o, e->target);
        break;
    case ACCESS_PROTOCOL:
        access_put_escaped(o, e->protocol);
        break;
    case ACCESS_STATUS:
        access_putf(o, "%03d", e->status);
        break;
    case ACCESS_BODY_BYTES_SENT:
        access_putf(o, "%zu", e->body_bytes_sent);
        break;
    case ACCESS_HTTP_REFERER:
        access_put_escaped(o, e->referer);
        break;
    case ACCESS_HTTP_USER_AGENT:
        access_put_escaped(o, e->user_agent);
        break;
    case ACCESS_REQUEST_TIME:
        access_putf(o, "%.3f", e->request_time > 0 ? e->request_time : 0.0);
        break;
    case ACCESS_PID:
        access_putf(o, "%ld", (long)e->pid);
        break;
    case ACCESS_UNKNOWN:
        access_put(o, "-", 1);
        break;
    }
}

/* A JSON string (RFC 8259 section 7): '"', '\\' and control bytes
 * escaped; bytes above 0x7e as \u00XX (their Latin-1 reading), so the
 * line is valid JSON and UTF-8 whatever the client sent. NULL is null;
 * the bare form writes no quotes (and nothing for NULL). */
static void
access_put_json_bare(access_out_t *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u;
    char esc[6];

    if (s == NULL) {
        return;
    }
    for (u = (const unsigned char *)s; *u != '\0'; u++) {
        if (o->end - o->p < 7) {
            break; /* never half an escape; room for the closing quote */
        }
        if (*u == '"' || *u == '\\') {
            *o->p++ = '\\';
            *o->p++ = (char)*u;
        } else if (*u < 0x20 || *u > 0x7e) {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[*u >> 4];
            esc[5] = hex[*u & 0xf];
            access_put(o, esc, 6);
        } else {
            *o->p++ = (char)*u;
        }
    }
}

static void
access_put_json(access_out_t *o, const char *s)
{
    if (s == NULL) {
        ACCESS_LIT(o, "null");
        return;
    }
    if (o->end - o->p < 2) {
        return;
    }
    *o->p++ = '"';
    access_put_json_bare(o, s);
    if (o->p < o->end) {
        *o->p++ = '"';
    }
}

/* access_format: json, one object per line with every variable. */
static void
access_put_json_entry(access_out_t *o, const am_access_entry_t *e)
{
    ACCESS_LIT(o, "{\"remote_addr\":");
    access_put_json(o, e->remote_addr);
    ACCESS_LIT(o, ",\"time_iso8601\":\"");
    access_put_time(o, e->time, 1);
    ACCESS_LIT(o, "\",\"time_local\":\"");
    access_put_time(o, e->time, 0);
    ACCESS_LIT(o, "\",\"request\":\"");
    access_put_json_bare(o, e->method);
    ACCESS_LIT(o, " ");
    access_put_json_bare(o, e->target);
    ACCESS_LIT(o, " ");
    access_put_json_bare(o, e->protocol);
    ACCESS_LIT(o, "\",\"method\":");
    access_put_json(o, e->method);
    ACCESS_LIT(o, ",\"uri\":");
    access_put_json(o, e->target);
    ACCESS_LIT(o, ",\"protocol\":");
    access_put_json(o, e->protocol);
    access_putf(o, ",\"status\":%d,\"body_bytes_sent\":%zu", e->status,
                e->body_bytes_sent);
    ACCESS_LIT(o, ",\"http_referer\":");
    access_put_json(o, e->referer);
    ACCESS_LIT(o, ",\"http_user_agent\":");
    access_put_json(o, e->user_agent);
    access_putf(o, ",\"request_time\":%.3f,\"pid\":%ld}",
                e->request_time > 0 ? e->request_time : 0.0, (long)e->pid);
}

size_t
am_access_format(const char *fmt, const am_access_entry_t *e, char *buf,
                 size_t size)
{
    const char *p, *d, *name, *next;
    access_out_t o;
    size_t len;
    int rc;

    if (size < 2) {
        if (size == 1) {
            buf[0] = '\0';
        }
        return 0;
    }
    o.p = buf;
    o.end = buf + size - 2; /* the '\n' and the NUL */

    if (strcmp(fmt, "json") == 0) {
        access_put_json_entry(&o, e);
        *o.p++ = '\n';
        *o.p = '\0';
        return (size_t)(o.p - buf);
    }
    p = access_expand(fmt);
    while (*p != '\0') {
        d = strchr(p, '$');
        if (d == NULL) {
            access_put(&o, p, strlen(p));
            break;
        }
        access_put(&o, p, (size_t)(d - p));
        rc = access_scan(d + 1, &name, &len, &next);
        if (rc != 1) {
            /* a lone '$', or an unclosed "${" the config check refused */
            access_put(&o, "$", 1);
            p = d + 1;
            continue;
        }
        access_put_var(&o, access_lookup(name, len), e);
        p = next;
    }
    *o.p++ = '\n';
    *o.p = '\0';
    return (size_t)(o.p - buf);
}
