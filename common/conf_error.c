/* common/conf_error.c: the config loader's error text.
 *
 * Errors name file:line:col, the key, what was expected and what was found
 * (quoted, cut, control bytes escaped), and for an unknown key the nearest
 * known one (common/editdist.c).
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/conf_error.h"
#include "common/conf_schema.h"
#include "common/core.h"
#include "common/editdist.h"

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

/* s as "text" for a message: control bytes, '"' and '\\' as \xHH, cut
 * after AM_CONF_QUOTE_MAX bytes with "...". */
void
am_conf_error_vat(char *err, size_t size, const char *name, size_t line,
                  size_t column, const char *fmt, va_list ap)
{
    int n;

    n = snprintf(err, size, "%s:%zu:%zu: ", name, line, column);
    if (n < 0 || (size_t)n >= size) {
        return;
    }
    vsnprintf(err + n, size - (size_t)n, fmt, ap);
}

const char *
am_conf_error_quote(char *buf, size_t size, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, n = 0;
    unsigned char c;

    AM_ASSERT(size >= AM_CONF_QUOTE_SIZE);
    buf[n++] = '"';
    for (i = 0; i < len && i < AM_CONF_QUOTE_MAX; i++) {
        c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = 'x';
            buf[n++] = hex[c >> 4];
            buf[n++] = hex[c & 0xf];
        } else {
            buf[n++] = (char)c;
        }
    }
    if (i < len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

static void
conf_format_size(char *buf, size_t size, uint64_t n)
{
    if (n != 0 && n % GiB == 0) {
        snprintf(buf, size, "%lluGiB", (unsigned long long)(n / GiB));
    } else if (n != 0 && n % MiB == 0) {
        snprintf(buf, size, "%lluMiB", (unsigned long long)(n / MiB));
    } else if (n != 0 && n % KiB == 0) {
        snprintf(buf, size, "%lluKiB", (unsigned long long)(n / KiB));
    } else {
        snprintf(buf, size, "%lluB", (unsigned long long)n);
    }
}

static void
conf_format_msec(char *buf, size_t size, int64_t ms)
{
    if (ms != 0 && ms % 3600000 == 0) {
        snprintf(buf, size, "%lldh", (long long)(ms / 3600000));
    } else if (ms != 0 && ms % 60000 == 0) {
        snprintf(buf, size, "%lldm", (long long)(ms / 60000));
    } else if (ms % 1000 == 0) {
        snprintf(buf, size, "%llds", (long long)(ms / 1000));
    } else {
        snprintf(buf, size, "%lldms", (long long)ms);
    }
}

/* "expected ..." for a row: the generic half of most value errors. */
const char *
am_conf_error_describe(const am_conf_key_t *k, char *buf, size_t size)
{
    char lo[32], hi[32];

    switch (k->type) {
    case AM_CONF_SECTION:
        return "a map";
    case AM_CONF_STRING:
        return "a string";
    case AM_CONF_PATH:
        return "a path";
    case AM_CONF_APP:
        return "MODULE:ATTR such as \"main:app\" (names may be dotted)";
    case AM_CONF_BOOL:
        return "a boolean (true, false, yes, no, on, off)";
    case AM_CONF_INT:
    case AM_CONF_COUNT:
    case AM_CONF_BACKLOG:
        snprintf(buf, size, "an integer from %lld to %lld", (long long)k->min,
                 (long long)k->max);
        return buf;
    case AM_CONF_SIZE:
        if (k->max == INT64_MAX) {
            return "a size";
        }
        conf_format_size(lo, sizeof(lo), (uint64_t)k->min);
        conf_format_size(hi, sizeof(hi), (uint64_t)k->max);
        snprintf(buf, size, "a size from %s to %s", lo, hi);
        return buf;
    case AM_CONF_MSEC:
        conf_format_msec(lo, sizeof(lo), k->min);
        conf_format_msec(hi, sizeof(hi), k->max);
        snprintf(buf, size, "a duration from %s to %s", lo, hi);
        return buf;
    case AM_CONF_WORKERS:
        snprintf(buf, size, "an integer from %lld to %lld or \"auto\"",
                 (long long)k->min, (long long)k->max);
        return buf;
    case AM_CONF_LIFESPAN:
        return "one of auto, on, off";
    case AM_CONF_LOG_LEVEL:
        return "one of emerg, alert, crit, error, warn, notice, info, debug";
    case AM_CONF_ERROR_LOG:
        return "a path or \"stderr\"";
    case AM_CONF_ACCESS_LOG:
        return "\"off\", \"stdout\", \"stderr\" or a path";
    case AM_CONF_ACCESS_FMT:
        return "\"combined\", \"common\" or a format with $variables";
    case AM_CONF_PYTHONPATH:
        return "a list of paths or a path";
    case AM_CONF_ENV:
        return "a map of variable names to values";
    case AM_CONF_LISTEN:
        return "a list of addresses or {address, backlog, mode} maps";
    case AM_CONF_ADDRESS:
        return "host:port, [v6]:port, :port or unix:/path";
    case AM_CONF_MODE:
        return "an octal file mode from 0 to 0777 such as \"0660\"";
    case AM_CONF_TLS:
        return "a map with \"certificate\" and \"key\"";
    case AM_CONF_CLIENT_AUTH:
        return "one of none, optional, require";
    case AM_CONF_TLS_VERSION:
        return "one of 1.2, 1.3 (or TLSv1.2, TLSv1.3)";
    case AM_CONF_CIDRS:
        return "a list of IP addresses or networks such as \"10.0.0.0/8\", "
               "or \"*\"";
    case AM_CONF_HOSTPORT:
        return "host:port, [v6]:port, :port or unix:/path";
    }
    return "?";
}

/* The nearest key to an unknown one. In the same map first ("workrs" ->
 * "workers"); else a key of that exact name elsewhere ("keepalive" at the
 * top level -> "keepalive" in "timeouts"). Writes "; did you mean ...?" or
 * nothing. */
void
am_conf_error_suggest(const char *prefix, const char *key, char *buf,
                      size_t size)
{
    const am_conf_key_t *k, *best = NULL;
    size_t plen = strlen(prefix), d, bestd = (size_t)-1;
    const char *dot, *shortname;

    buf[0] = '\0';
    for (size_t i = 0; i < am_conf_nkeys; i++) {
        k = &am_conf_keys[i];
        dot = strrchr(k->name, '.');
        if (plen == 0 ? dot != NULL
                      : (dot == NULL || (size_t)(dot - k->name) != plen ||
                         strncmp(k->name, prefix, plen) != 0)) {
            continue;
        }
        shortname = dot ? dot + 1 : k->name;
        d = am_editdist_compute(key, shortname);
        if (am_editdist_is_close(key, shortname, d) && d < bestd) {
            best = k;
            bestd = d;
        }
    }
    if (best != NULL) {
        dot = strrchr(best->name, '.');
        snprintf(buf, size, "; did you mean \"%s\"?",
                 dot ? dot + 1 : best->name);
        return;
    }

    for (size_t i = 0; i < am_conf_nkeys; i++) {
        k = &am_conf_keys[i];
        dot = strrchr(k->name, '.');
        shortname = dot ? dot + 1 : k->name;
        if (strcasecmp(shortname, key) != 0 && strcasecmp(k->name, key) != 0) {
            continue;
        }
        if (strncmp(k->name, "listen.tls.", 11) == 0) {
            snprintf(buf, size,
                     "; did you mean \"%s\" in the \"tls\" map of a "
                     "\"listen\" item?",
                     shortname);
        } else if (strncmp(k->name, "listen.", 7) == 0) {
            snprintf(buf, size, "; did you mean \"%s\" in a \"listen\" item?",
                     shortname);
        } else if (dot == NULL) {
            snprintf(buf, size, "; did you mean \"%s\" in the top level?",
                     shortname);
        } else {
            snprintf(buf, size, "; did you mean \"%s\" in \"%.*s\"?", shortname,
                     (int)(dot - k->name), k->name);
        }
        return;
    }
}
