/* common/conf_value.c: the config's scalar parsers.
 *
 * libyaml resolves no implicit tags: every scalar arrives as the text that
 * was written, so `off`, `0660` and `8KiB` are read here, not by YAML 1.1's
 * boolean and octal rules. Every number is checked for overflow before it
 * is multiplied.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/conf.h"
#include "common/conf_error.h"
#include "common/conf_value.h"
#include "common/core.h"

#define KB  ((uint64_t)1000)
#define MB  (1000 * KB)
#define GB  (1000 * MB)
#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

typedef struct {
    const char *name;
    uint64_t factor;
} conf_unit_t;

static const conf_unit_t conf_size_units[] = {
    { "", 1 },      { "B", 1 },   { "K", KB },    { "KB", KB },
    { "KiB", KiB }, { "M", MB },  { "MB", MB },   { "MiB", MiB },
    { "G", GB },    { "GB", GB }, { "GiB", GiB },
};

/* Longest first: "ms" must win over "m". Factors in milliseconds. */
static const conf_unit_t conf_duration_units[] = {
    { "ms", 1 },
    { "h", (uint64_t)3600 * 1000 },
    { "m", (uint64_t)60 * 1000 },
    { "s", 1000 },
};

int
am_conf_value_parse_u64(const char **sp, uint64_t *out)
{
    const char *s = *sp;
    uint64_t n = 0;

    if (!isdigit((unsigned char)*s)) {
        return AM_ERROR;
    }
    for (; isdigit((unsigned char)*s); s++) {
        if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
            return AM_ERROR;
        }
        n = n * 10 + (uint64_t)(*s - '0');
    }
    *sp = s;
    *out = n;
    return AM_OK;
}

int
am_parse_size(const char *s, size_t *out)
{
    uint64_t n;

    if (am_conf_value_parse_u64(&s, &n) != AM_OK) {
        return AM_ERROR;
    }
    for (size_t i = 0; i < am_nitems(conf_size_units); i++) {
        if (strcasecmp(s, conf_size_units[i].name) != 0) {
            continue;
        }
        if (n > SIZE_MAX / conf_size_units[i].factor) {
            return AM_ERROR;
        }
        *out = (size_t)(n * conf_size_units[i].factor);
        return AM_OK;
    }
    return AM_ERROR;
}

int
am_parse_duration(const char *s, am_msec_t *out)
{
    uint64_t n, total = 0, last = UINT64_MAX, f;
    size_t i, ulen;

    if (am_conf_value_parse_u64(&s, &n) != AM_OK) {
        return AM_ERROR;
    }
    if (*s == '\0') {
        /* a bare number is seconds */
        if (n > (uint64_t)INT64_MAX / 1000) {
            return AM_ERROR;
        }
        *out = (am_msec_t)(n * 1000);
        return AM_OK;
    }
    for (;;) {
        for (i = 0; i < am_nitems(conf_duration_units); i++) {
            ulen = strlen(conf_duration_units[i].name);
            if (strncmp(s, conf_duration_units[i].name, ulen) == 0) {
                break;
            }
        }
        if (i == am_nitems(conf_duration_units)) {
            return AM_ERROR;
        }
        f = conf_duration_units[i].factor;
        /* "1h30m": each unit once, largest first */
        if (f >= last) {
            return AM_ERROR;
        }
        last = f;
        if (n > (uint64_t)INT64_MAX / f ||
            total > (uint64_t)INT64_MAX - n * f) {
            return AM_ERROR;
        }
        total += n * f;
        s += ulen;
        if (*s == '\0') {
            break;
        }
        if (am_conf_value_parse_u64(&s, &n) != AM_OK || *s == '\0') {
            return AM_ERROR;
        }
    }
    *out = (am_msec_t)total;
    return AM_OK;
}

int
am_conf_value_parse_int(const char *s, int64_t *out)
{
    uint64_t n;
    int neg = 0;

    if (*s == '-') {
        neg = 1;
        s++;
    }
    if (am_conf_value_parse_u64(&s, &n) != AM_OK || *s != '\0' ||
        n > (uint64_t)INT64_MAX) {
        return AM_ERROR;
    }
    *out = neg ? -(int64_t)n : (int64_t)n;
    return AM_OK;
}

int
am_conf_value_parse_bool(const char *s)
{
    static const am_conf_enum_t bools[] = {
        { "true", 1 },  { "yes", 1 }, { "on", 1 },
        { "false", 0 }, { "no", 0 },  { "off", 0 },
    };
    int b;

    if (am_conf_value_parse_enum(s, bools, am_nitems(bools), &b) != AM_OK) {
        return -1;
    }
    return b;
}

int
am_conf_value_parse_enum(const char *s, const am_conf_enum_t *table, size_t n,
                         int *out)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(s, table[i].name) == 0) {
            *out = table[i].value;
            return AM_OK;
        }
    }
    return AM_ERROR;
}

/* "0660", "660", "0o660": always octal, as chmod(1) reads it. */
int
am_conf_value_parse_mode(const char *s, int *out)
{
    int n = 0;

    if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
        s += 2;
    }
    if (*s == '\0') {
        return AM_ERROR;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '7') {
            return AM_ERROR;
        }
        n = n * 8 + (*s - '0');
        if (n > 0777) {
            return AM_ERROR;
        }
    }
    *out = n;
    return AM_OK;
}

static int
conf_is_ident_start(int c)
{
    return isalpha(c) || c == '_' || c >= 0x80;
}

static int
conf_is_ident(int c)
{
    return isalnum(c) || c == '_' || c >= 0x80;
}

/* name(.name)* up to end; returns the first byte after it or NULL. */
static const char *
conf_dotted_name(const char *s, const char *end)
{
    for (;;) {
        if (s == end || !conf_is_ident_start((unsigned char)*s)) {
            return NULL;
        }
        while (s < end && conf_is_ident((unsigned char)*s)) {
            s++;
        }
        if (s == end || *s != '.') {
            return s;
        }
        s++;
    }
}

int
am_conf_value_is_app(const char *app)
{
    const char *colon = strchr(app, ':'), *end = app + strlen(app);

    return colon != NULL && conf_dotted_name(app, colon) == colon &&
           conf_dotted_name(colon + 1, end) == end;
}

int
am_conf_check_app(const char *app, char *err, size_t size)
{
    char q[AM_CONF_QUOTE_SIZE];

    if (am_conf_value_is_app(app)) {
        return AM_OK;
    }
    snprintf(err, size,
             "bad application %s: expected MODULE:ATTR such as \"main:app\" "
             "(names may be dotted)",
             am_conf_error_quote(q, sizeof(q), app, strlen(app)));
    return AM_ERROR;
}

int
am_conf_value_is_env_name(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_') {
            return 0;
        }
    }
    return 1;
}
