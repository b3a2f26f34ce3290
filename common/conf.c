/* common/conf.c: the YAML configuration loader.
 *
 * libyaml composes the whole file into a document (yaml_parser_load), then
 * the document is walked against the key table in common/conf_schema.c:
 * every map key must be a known row (else "unknown key" with the nearest
 * known name), appear once, and hold the node kind its row takes; scalar
 * values go through one setter per value type, which am_conf_create() also
 * uses for the defaults and am_conf_set() for command-line flags. Errors
 * name file:line:col (libyaml counts from 0: we add 1), the key, what was
 * expected and what was found; nothing is bound or started from here.
 *
 * libyaml resolves no implicit tags: every scalar arrives as the text that
 * was written, so `off`, `0660` and `8KiB` are read by our parsers, not by
 * YAML 1.1's boolean and octal rules. A plain empty scalar, `~` or `null` is
 * "not set": the key keeps its default.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <yaml.h>

#include "common/access.h"
#include "common/conf.h"
#include "common/conf_schema.h"
#include "common/core.h"
#include "common/cpus.h"
#include "common/log.h"

#define CONF_FILE_MAX       (16 * 1024 * 1024)
#define CONF_WORKERS_MAX    1024
#define CONF_DEFAULT_LISTEN "127.0.0.1:8000"
#define CONF_QUOTE_MAX      48 /* bytes of a found value shown in errors */

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

#define conf_field(base, k, type) ((type *)((char *)(base) + (k)->offset))

typedef struct {
    am_conf_t *conf;
    const char *name; /* the file, for messages */
    const char *text; /* the input, to place reader errors */
    size_t len;
    yaml_document_t *doc;
    char *err;
    size_t size;
} conf_ctx_t;

typedef struct {
    const char *name;
    uint64_t factor;
} conf_unit_t;

static int conf_set_value(am_conf_t *conf, const am_conf_key_t *k,
                          const char *dname, void *base, const char *v,
                          char *err, size_t size);
static int conf_walk_map(conf_ctx_t *ctx, yaml_node_t *map, const char *prefix,
                         const char *where);
static void conf_clear_cidrs(am_conf_t *conf);

static const conf_unit_t conf_size_units[] = {
    { "", 1 },
    { "B", 1 },
    { "K", 1000 },
    { "KB", 1000 },
    { "KiB", KiB },
    { "M", 1000 * 1000 },
    { "MB", 1000 * 1000 },
    { "MiB", MiB },
    { "G", 1000 * 1000 * 1000 },
    { "GB", 1000 * 1000 * 1000 },
    { "GiB", GiB },
};

/* Longest first: "ms" must win over "m". Factors in milliseconds. */
static const conf_unit_t conf_duration_units[] = {
    { "ms", 1 },
    { "h", 3600 * 1000 },
    { "m", 60 * 1000 },
    { "s", 1000 },
};

/* Messages */

/* s as "text" for a message: control bytes, '"' and '\\' as \xHH, cut
 * after CONF_QUOTE_MAX bytes with "...". */
static const char *
conf_quote(char *buf, size_t size, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, n = 0;
    unsigned char c;

    AM_ASSERT(size >= CONF_QUOTE_MAX * 4 + 8);
    buf[n++] = '"';
    for (i = 0; i < len && i < CONF_QUOTE_MAX; i++) {
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

/* What a node is, for "found ...". */
static const char *
conf_found(char *buf, size_t size, yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a map";
    default:
        if (node->data.scalar.length == 0 &&
            node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            return "nothing";
        }
        return conf_quote(buf, size, (const char *)node->data.scalar.value,
                          node->data.scalar.length);
    }
}

static void conf_error(conf_ctx_t *ctx, const yaml_mark_t *mark,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
conf_error(conf_ctx_t *ctx, const yaml_mark_t *mark, const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(ctx->err, ctx->size, "%s:%zu:%zu: ", ctx->name, mark->line + 1,
                 mark->column + 1);
    if (n < 0 || (size_t)n >= ctx->size) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(ctx->err + n, ctx->size - (size_t)n, fmt, ap);
    va_end(ap);
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
static const char *
conf_describe(const am_conf_key_t *k, char *buf, size_t size)
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

/* "did you mean" */

size_t
am_conf_distance(const char *a, const char *b)
{
    /* Three rows of the optimal string alignment matrix; words are short
     * (keys, variable names), longer input is compared on its start. */
    size_t rows[3][65], *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    size_t la = am_min(strlen(a), (size_t)64), lb = am_min(strlen(b), 64);
    size_t i, j, cost, v, *t;

    for (j = 0; j <= lb; j++) {
        prev[j] = j;
    }
    for (i = 1; i <= la; i++) {
        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            cost = tolower((unsigned char)a[i - 1]) !=
                   tolower((unsigned char)b[j - 1]);
            v = am_min(prev[j] + 1, cur[j - 1] + 1);
            v = am_min(v, prev[j - 1] + cost);
            if (i > 1 && j > 1 &&
                tolower((unsigned char)a[i - 1]) ==
                    tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) ==
                    tolower((unsigned char)b[j - 1])) {
                v = am_min(v, prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

int
am_conf_is_close(const char *typed, const char *known, size_t d)
{
    size_t len = am_max(strlen(typed), strlen(known));

    return d <= 3 && d * 3 <= len;
}

/* The nearest key to an unknown one. In the same map first ("workrs" ->
 * "workers"); else a key of that exact name elsewhere ("keepalive" at the
 * top level -> "keepalive" in "timeouts"). Writes "; did you mean ...?" or
 * nothing. */
static void
conf_suggest(const char *prefix, const char *key, char *buf, size_t size)
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
        d = am_conf_distance(key, shortname);
        if (am_conf_is_close(key, shortname, d) && d < bestd) {
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

/* Value parsers */

static int
conf_parse_u64(const char **sp, uint64_t *out)
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

    if (conf_parse_u64(&s, &n) != AM_OK) {
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

    if (conf_parse_u64(&s, &n) != AM_OK) {
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
        if (conf_parse_u64(&s, &n) != AM_OK || *s == '\0') {
            return AM_ERROR;
        }
    }
    *out = (am_msec_t)total;
    return AM_OK;
}

static int
conf_parse_int(const char *s, int64_t *out)
{
    uint64_t n;
    int neg = 0;

    if (*s == '-') {
        neg = 1;
        s++;
    }
    if (conf_parse_u64(&s, &n) != AM_OK || *s != '\0' ||
        n > (uint64_t)INT64_MAX) {
        return AM_ERROR;
    }
    *out = neg ? -(int64_t)n : (int64_t)n;
    return AM_OK;
}

static int
conf_parse_bool(const char *s)
{
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };

    for (size_t i = 0; i < am_nitems(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            return 1;
        }
        if (strcasecmp(s, no[i]) == 0) {
            return 0;
        }
    }
    return -1;
}

/* "0660", "660", "0o660": always octal, as chmod(1) reads it. */
static int
conf_parse_mode(const char *s, int *out)
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

static int
conf_app_is_valid(const char *app)
{
    const char *colon = strchr(app, ':'), *end = app + strlen(app);

    return colon != NULL && conf_dotted_name(app, colon) == colon &&
           conf_dotted_name(colon + 1, end) == end;
}

int
am_conf_check_app(const char *app, char *err, size_t size)
{
    char q[CONF_QUOTE_MAX * 4 + 8];

    if (conf_app_is_valid(app)) {
        return AM_OK;
    }
    snprintf(err, size,
             "bad application %s: expected MODULE:ATTR such as \"main:app\" "
             "(names may be dotted)",
             conf_quote(q, sizeof(q), app, strlen(app)));
    return AM_ERROR;
}

static int
conf_is_env_name(const char *s)
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

/* Listeners */

static int
conf_parse_port(const char *address, const char *s, in_port_t *port, char *err,
                size_t size)
{
    char q[CONF_QUOTE_MAX * 4 + 8], qp[CONF_QUOTE_MAX * 4 + 8];
    uint64_t n;
    const char *p = s;

    if (conf_parse_u64(&p, &n) != AM_OK || *p != '\0' || n > 65535) {
        if (*s == '\0') {
            snprintf(err, size,
                     "missing port in %s: expected host:port, [v6]:port, "
                     ":port or unix:/path",
                     conf_quote(q, sizeof(q), address, strlen(address)));
        } else {
            snprintf(err, size,
                     "bad port %s in %s: expected an integer from 0 to 65535",
                     conf_quote(qp, sizeof(qp), s, strlen(s)),
                     conf_quote(q, sizeof(q), address, strlen(address)));
        }
        return AM_ERROR;
    }
    *port = htons((in_port_t)n);
    return AM_OK;
}

static int
conf_parse_unix(const char *address, am_listen_t *l, char *err, size_t size)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&l->addr;
    const char *path = address + 5;
    size_t len = strlen(path);
    char q[CONF_QUOTE_MAX * 4 + 8];

    if (len == 0) {
        snprintf(err, size, "missing path in \"unix:\": expected unix:/path");
        return AM_ERROR;
    }
    if (len >= sizeof(sun->sun_path)) {
        snprintf(err, size,
                 "UNIX socket path %s is too long: %zu bytes, at most %zu",
                 conf_quote(q, sizeof(q), path, len), len,
                 sizeof(sun->sun_path) - 1);
        return AM_ERROR;
    }
    memset(&l->addr, 0, sizeof(l->addr));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len + 1);
    l->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    l->family = AF_UNIX;
    l->path = am_strdup(path);
    return AM_OK;
}

static int
conf_is_hostname(const char *s)
{
    if (*s == '\0' || *s == '-' || *s == '.') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' &&
            *s != '_') {
            return 0;
        }
    }
    return 1;
}

int
am_conf_parse_address(const char *address, am_listen_t *l, char *err,
                      size_t size)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&l->addr;
    struct addrinfo hints, *res;
    char q[CONF_QUOTE_MAX * 4 + 8], qh[CONF_QUOTE_MAX * 4 + 8];
    char host[256], port[8];
    const char *colon, *close;
    in_port_t nport;
    size_t hlen;
    int rc;

    l->path = NULL;
    if (strncmp(address, "unix:", 5) == 0) {
        return conf_parse_unix(address, l, err, size);
    }

    if (address[0] == '[') {
        close = strchr(address, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, size,
                     "bad address %s: expected [v6]:port such as "
                     "\"[::1]:8000\"",
                     conf_quote(q, sizeof(q), address, strlen(address)));
            return AM_ERROR;
        }
        hlen = (size_t)(close - address - 1);
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL) {
            snprintf(err, size,
                     "missing port in %s: expected host:port, [v6]:port, "
                     ":port or unix:/path",
                     conf_quote(q, sizeof(q), address, strlen(address)));
            return AM_ERROR;
        }
        hlen = (size_t)(colon - address);
        if (memchr(address, ':', hlen) != NULL) {
            snprintf(err, size,
                     "bad address %s: an IPv6 address takes brackets, as in "
                     "\"[::1]:8000\"",
                     conf_quote(q, sizeof(q), address, strlen(address)));
            return AM_ERROR;
        }
    }
    if (conf_parse_port(address, colon + 1, &nport, err, size) != AM_OK) {
        return AM_ERROR;
    }
    if (hlen >= sizeof(host)) {
        snprintf(err, size, "bad host in %s: too long",
                 conf_quote(q, sizeof(q), address, strlen(address)));
        return AM_ERROR;
    }
    memcpy(host, address + (address[0] == '['), hlen);
    host[hlen] = '\0';
    snprintf(port, sizeof(port), "%u", (unsigned)ntohs(nport));

    memset(&l->addr, 0, sizeof(l->addr));
    if (address[0] != '[') {
        /* IPv4 literals, "" and "*" (all), "localhost": no resolver */
        sin->sin_family = AF_INET;
        sin->sin_port = nport;
        l->family = AF_INET;
        l->addrlen = sizeof(struct sockaddr_in);
        if (hlen == 0 || strcmp(host, "*") == 0) {
            sin->sin_addr.s_addr = htonl(INADDR_ANY);
            return AM_OK;
        }
        if (strcmp(host, "localhost") == 0) {
            sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return AM_OK;
        }
        if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
            return AM_OK;
        }
        if (!conf_is_hostname(host)) {
            snprintf(err, size, "bad host %s in %s",
                     conf_quote(qh, sizeof(qh), host, hlen),
                     conf_quote(q, sizeof(q), address, strlen(address)));
            return AM_ERROR;
        }
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = address[0] == '[' ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    if (address[0] == '[') {
        hints.ai_flags |= AI_NUMERICHOST;
    }
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        if (address[0] == '[') {
            snprintf(err, size, "bad IPv6 address %s in %s",
                     conf_quote(qh, sizeof(qh), host, hlen),
                     conf_quote(q, sizeof(q), address, strlen(address)));
        } else {
            snprintf(err, size, "cannot resolve %s in %s: %s",
                     conf_quote(qh, sizeof(qh), host, hlen),
                     conf_quote(q, sizeof(q), address, strlen(address)),
                     gai_strerror(rc));
        }
        return AM_ERROR;
    }
    AM_ASSERT(res->ai_addrlen <= sizeof(l->addr));
    memcpy(&l->addr, res->ai_addr, res->ai_addrlen);
    l->addrlen = res->ai_addrlen;
    l->family = res->ai_family;
    freeaddrinfo(res);
    return AM_OK;
}

int
am_conf_listen_same(const am_listen_t *a, const am_listen_t *b)
{
    const struct sockaddr_in *a4, *b4;
    const struct sockaddr_in6 *a6, *b6;

    if (a->family != b->family) {
        return 0;
    }
    switch (a->family) {
    case AF_UNIX:
        return a->path != NULL && b->path != NULL &&
               strcmp(a->path, b->path) == 0;
    case AF_INET:
        a4 = (const struct sockaddr_in *)&a->addr;
        b4 = (const struct sockaddr_in *)&b->addr;
        /* port 0 asks the kernel for a fresh port each time */
        return a4->sin_port != 0 && a4->sin_port == b4->sin_port &&
               a4->sin_addr.s_addr == b4->sin_addr.s_addr;
    case AF_INET6:
        a6 = (const struct sockaddr_in6 *)&a->addr;
        b6 = (const struct sockaddr_in6 *)&b->addr;
        return a6->sin6_port != 0 && a6->sin6_port == b6->sin6_port &&
               a6->sin6_scope_id == b6->sin6_scope_id &&
               memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
    }
    return 0;
}

static void
conf_tls_free(am_tls_conf_t *t)
{
    if (t == NULL) {
        return;
    }
    free(t->certificate);
    free(t->key);
    free(t->key_password);
    free(t->key_password_file);
    free(t->client_ca);
    free(t->ciphers);
    free(t->ciphersuites);
    free(t);
}

static void
conf_listen_free(am_listen_t *l)
{
    free(l->address);
    l->address = NULL;
    free(l->path);
    l->path = NULL;
    conf_tls_free(l->tls);
    l->tls = NULL;
}

/* The defaults of the rows "prefix.name" (one level down) into base. */
static void
conf_set_defaults(am_conf_t *conf, const char *prefix, void *base)
{
    size_t plen = strlen(prefix);
    const am_conf_key_t *k;
    char err[512];
    int rc;

    for (size_t i = 0; i < am_conf_nkeys; i++) {
        k = &am_conf_keys[i];
        if (k->dflt == NULL || strncmp(k->name, prefix, plen) != 0 ||
            k->name[plen] != '.' || strchr(k->name + plen + 1, '.') != NULL) {
            continue;
        }
        rc = conf_set_value(conf, k, k->name, base, k->dflt, err, sizeof(err));
        AM_ASSERT(rc == AM_OK);
    }
}

/* Parse address into a new last listener; refuse one already declared. */
static int
conf_listen_push(am_conf_t *conf, const char *address, int line, int column,
                 am_listen_t **out, char *err, size_t size)
{
    char q[CONF_QUOTE_MAX * 4 + 8];
    am_listen_t l;

    memset(&l, 0, sizeof(l));
    if (am_conf_parse_address(address, &l, err, size) != AM_OK) {
        return AM_ERROR;
    }
    for (size_t i = 0; i < conf->nlisten; i++) {
        if (!am_conf_listen_same(&conf->listen[i], &l)) {
            continue;
        }
        conf_quote(q, sizeof(q), address, strlen(address));
        if (conf->listen[i].line != 0) {
            snprintf(err, size,
                     "duplicate listen address %s (first at line %d)", q,
                     conf->listen[i].line);
        } else {
            snprintf(err, size, "duplicate listen address %s", q);
        }
        conf_listen_free(&l);
        return AM_ERROR;
    }
    l.address = am_strdup(address);
    l.mode = -1;
    l.fd = -1;
    l.line = line;
    l.column = column;
    conf_set_defaults(conf, "listen", &l);

    conf->listen =
        am_realloc(conf->listen, (conf->nlisten + 1) * sizeof(am_listen_t));
    conf->listen[conf->nlisten] = l;
    *out = &conf->listen[conf->nlisten++];
    return AM_OK;
}

int
am_conf_add_listen(am_conf_t *conf, const char *address, char *err, size_t size)
{
    am_listen_t *l;

    return conf_listen_push(conf, address, 0, 0, &l, err, size);
}

void
am_conf_clear_listen(am_conf_t *conf)
{
    for (size_t i = 0; i < conf->nlisten; i++) {
        conf_listen_free(&conf->listen[i]);
    }
    free(conf->listen);
    conf->listen = NULL;
    conf->nlisten = 0;
}

/* Lists */

static void
conf_clear_pythonpath(am_conf_t *conf)
{
    for (size_t i = 0; i < conf->npythonpath; i++) {
        free(conf->pythonpath[i]);
    }
    free(conf->pythonpath);
    conf->pythonpath = NULL;
    conf->npythonpath = 0;
}

static void
conf_add_pythonpath(am_conf_t *conf, const char *path)
{
    conf->pythonpath =
        am_realloc(conf->pythonpath, (conf->npythonpath + 1) * sizeof(char *));
    conf->pythonpath[conf->npythonpath++] = am_strdup(path);
}

static void
conf_clear_env(am_conf_t *conf)
{
    for (size_t i = 0; i < conf->nenv; i++) {
        free(conf->env_names[i]);
        free(conf->env_values[i]);
    }
    free(conf->env_names);
    free(conf->env_values);
    conf->env_names = NULL;
    conf->env_values = NULL;
    conf->nenv = 0;
}

/* Trusted proxies */

/* "10.0.0.0/8", "fd00::/8", "127.0.0.1" (a /32), "::1" (a /128). Host bits
 * below the prefix are cleared: "192.168.1.7/24" is 192.168.1.0/24. */
static int
conf_parse_cidr(const char *s, size_t len, am_cidr_t *out)
{
    char host[INET6_ADDRSTRLEN];
    const char *slash = memchr(s, '/', len), *p;
    size_t hlen = slash ? (size_t)(slash - s) : len;
    uint64_t bits;
    int max;

    if (hlen == 0 || hlen >= sizeof(host)) {
        return AM_ERROR;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return AM_ERROR;
    }
    out->prefix = max;
    if (slash != NULL) {
        p = slash + 1;
        if (p == s + len || conf_parse_u64(&p, &bits) != AM_OK ||
            p != s + len || bits > (uint64_t)max) {
            return AM_ERROR;
        }
        out->prefix = (int)bits;
    }
    for (int i = out->prefix; i < max; i++) {
        out->addr[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
    }
    return AM_OK;
}

static void
conf_clear_cidrs(am_conf_t *conf)
{
    free(conf->forwarded_allow);
    conf->forwarded_allow = NULL;
    conf->nforwarded_allow = 0;
    conf->forwarded_all = 0;
}

/* Add the entries of s, separated by commas or blanks (gunicorn's
 * "127.0.0.1,::1" reads as it does there). "*" trusts every peer. */
static int
conf_add_cidrs(am_conf_t *conf, const char *dname, const char *s, char *err,
               size_t size)
{
    char q[CONF_QUOTE_MAX * 4 + 8];
    am_cidr_t cidr;
    size_t len;

    for (;;) {
        s += strspn(s, ", \t");
        if (*s == '\0') {
            return AM_OK;
        }
        len = strcspn(s, ", \t");
        if (len == 1 && *s == '*') {
            conf->forwarded_all = 1;
        } else if (conf_parse_cidr(s, len, &cidr) == AM_OK) {
            conf->forwarded_allow =
                am_realloc(conf->forwarded_allow,
                           (conf->nforwarded_allow + 1) * sizeof(am_cidr_t));
            conf->forwarded_allow[conf->nforwarded_allow++] = cidr;
        } else {
            snprintf(err, size,
                     "\"%s\": bad address or network %s: expected an IP "
                     "address, a network such as \"10.0.0.0/8\" or "
                     "\"fd00::/8\", or \"*\"",
                     dname, conf_quote(q, sizeof(q), s, len));
            return AM_ERROR;
        }
        s += len;
    }
}

/* Scalar values: one setter for the file, the defaults and the flags */

static void
conf_set_string(void *base, const am_conf_key_t *k, const char *v)
{
    char **p = conf_field(base, k, char *);

    free(*p);
    *p = v != NULL ? am_strdup(v) : NULL;
}

/* Returns AM_OK, or AM_ERROR with err holding a whole message, or empty for
 * the caller's "KEY: expected ..., found ...". */
static int
conf_set_value(am_conf_t *conf, const am_conf_key_t *k, const char *dname,
               void *base, const char *v, char *err, size_t size)
{
    char q[CONF_QUOTE_MAX * 4 + 8], sub[256];
    am_msec_t ms;
    int64_t n;
    size_t sz;
    int b, level, mode;
    am_listen_t *l;

    err[0] = '\0';
    switch (k->type) {
    case AM_CONF_STRING:
        conf_set_string(base, k, v);
        return AM_OK;

    case AM_CONF_PATH:
        conf_set_string(base, k, *v == '\0' ? NULL : v);
        return AM_OK;

    case AM_CONF_APP:
        if (!conf_app_is_valid(v)) {
            return AM_ERROR;
        }
        conf_set_string(base, k, v);
        return AM_OK;

    case AM_CONF_BOOL:
        b = conf_parse_bool(v);
        if (b == -1) {
            return AM_ERROR;
        }
        *conf_field(base, k, int) = b;
        return AM_OK;

    case AM_CONF_INT:
    case AM_CONF_BACKLOG:
    case AM_CONF_COUNT:
        if (conf_parse_int(v, &n) != AM_OK || n < k->min || n > k->max) {
            return AM_ERROR;
        }
        if (k->type == AM_CONF_COUNT) {
            *conf_field(base, k, size_t) = (size_t)n;
        } else {
            *conf_field(base, k, int) = (int)n;
        }
        return AM_OK;

    case AM_CONF_WORKERS:
        if (strcasecmp(v, "auto") == 0) {
            n = 0;
        } else if (conf_parse_int(v, &n) != AM_OK ||
                   (n != 0 && (n < k->min || n > k->max))) {
            return AM_ERROR;
        }
        *conf_field(base, k, int) = (int)n;
        return AM_OK;

    case AM_CONF_SIZE:
        if (am_parse_size(v, &sz) != AM_OK) {
            snprintf(err, size,
                     "bad size %s for \"%s\": expected a number with an "
                     "optional unit (B, KB, KiB, MB, MiB, GB, GiB)",
                     conf_quote(q, sizeof(q), v, strlen(v)), dname);
            return AM_ERROR;
        }
        if ((uint64_t)sz < (uint64_t)k->min ||
            (uint64_t)sz > (uint64_t)k->max) {
            return AM_ERROR;
        }
        *conf_field(base, k, size_t) = sz;
        return AM_OK;

    case AM_CONF_MSEC:
        if (am_parse_duration(v, &ms) != AM_OK) {
            snprintf(err, size,
                     "bad duration %s for \"%s\": expected a number with an "
                     "optional unit (ms, s, m, h) such as 250ms, 5s or 1h30m",
                     conf_quote(q, sizeof(q), v, strlen(v)), dname);
            return AM_ERROR;
        }
        if (ms < k->min || ms > k->max) {
            return AM_ERROR;
        }
        *conf_field(base, k, am_msec_t) = ms;
        return AM_OK;

    case AM_CONF_LIFESPAN:
        if (strcasecmp(v, "auto") == 0) {
            *conf_field(base, k, int) = AM_LIFESPAN_AUTO;
        } else if (strcasecmp(v, "on") == 0) {
            *conf_field(base, k, int) = AM_LIFESPAN_ON;
        } else if (strcasecmp(v, "off") == 0) {
            *conf_field(base, k, int) = AM_LIFESPAN_OFF;
        } else {
            return AM_ERROR;
        }
        return AM_OK;

    case AM_CONF_LOG_LEVEL:
        level = am_log_level_parse(v);
        if (level == -1) {
            return AM_ERROR;
        }
        *conf_field(base, k, int) = level;
        return AM_OK;

    case AM_CONF_ERROR_LOG:
        if (*v == '\0') {
            return AM_ERROR;
        }
        conf_set_string(base, k, strcmp(v, "stderr") == 0 ? NULL : v);
        return AM_OK;

    case AM_CONF_ACCESS_LOG:
        if (*v == '\0') {
            return AM_ERROR;
        }
        conf_set_string(base, k, conf_parse_bool(v) == 0 ? NULL : v);
        return AM_OK;

    case AM_CONF_ACCESS_FMT:
        if (*v == '\0') {
            return AM_ERROR;
        }
        if (am_access_format_check(v, sub, sizeof(sub)) != AM_OK) {
            snprintf(err, size, "\"%s\": %s", dname, sub);
            return AM_ERROR;
        }
        conf_set_string(base, k, v);
        return AM_OK;

    case AM_CONF_PYTHONPATH:
        if (*v == '\0') {
            return AM_ERROR;
        }
        conf_clear_pythonpath(conf);
        conf_add_pythonpath(conf, v);
        return AM_OK;

    case AM_CONF_LISTEN:
        am_conf_clear_listen(conf);
        if (conf_listen_push(conf, v, 0, 0, &l, sub, sizeof(sub)) != AM_OK) {
            snprintf(err, size, "\"%s\": %s", dname, sub);
            return AM_ERROR;
        }
        return AM_OK;

    case AM_CONF_MODE:
        if (conf_parse_mode(v, &mode) != AM_OK) {
            return AM_ERROR;
        }
        *conf_field(base, k, int) = mode;
        return AM_OK;

    case AM_CONF_CLIENT_AUTH:
        if (strcasecmp(v, "none") == 0) {
            *conf_field(base, k, int) = AM_TLS_CLIENT_AUTH_NONE;
        } else if (strcasecmp(v, "optional") == 0) {
            *conf_field(base, k, int) = AM_TLS_CLIENT_AUTH_OPTIONAL;
        } else if (strcasecmp(v, "require") == 0) {
            *conf_field(base, k, int) = AM_TLS_CLIENT_AUTH_REQUIRE;
        } else {
            return AM_ERROR;
        }
        return AM_OK;

    case AM_CONF_TLS_VERSION:
        if (strncasecmp(v, "TLSv", 4) == 0) {
            v += 4;
        }
        if (strcmp(v, "1.2") == 0) {
            *conf_field(base, k, int) = 0x0303; /* TLS1_2_VERSION */
        } else if (strcmp(v, "1.3") == 0) {
            *conf_field(base, k, int) = 0x0304; /* TLS1_3_VERSION */
        } else {
            return AM_ERROR;
        }
        return AM_OK;

    case AM_CONF_CIDRS:
        conf_clear_cidrs(conf);
        return conf_add_cidrs(conf, dname, v, err, size);

    case AM_CONF_HOSTPORT: {
        am_listen_t scratch;

        memset(&scratch, 0, sizeof(scratch));
        if (am_conf_parse_address(v, &scratch, sub, sizeof(sub)) != AM_OK) {
            snprintf(err, size, "\"%s\": %s", dname, sub);
            return AM_ERROR;
        }
        conf_listen_free(&scratch);
        conf_set_string(base, k, v);
        return AM_OK;
    }

    case AM_CONF_SECTION:
    case AM_CONF_ENV:
    case AM_CONF_ADDRESS:
    case AM_CONF_TLS:
        break;
    }
    return AM_ERROR;
}

int
am_conf_set(am_conf_t *conf, const char *key, const char *value, char *err,
            size_t size)
{
    const am_conf_key_t *k = am_conf_schema_find(key);
    char q[CONF_QUOTE_MAX * 4 + 8], what[128], sub[512];

    if (k == NULL || strncmp(key, "listen.", 7) == 0 ||
        k->type == AM_CONF_SECTION || k->type == AM_CONF_ENV) {
        snprintf(err, size, "\"%s\" cannot be set from the command line", key);
        return AM_ERROR;
    }
    if (conf_set_value(conf, k, key, conf, value, sub, sizeof(sub)) == AM_OK) {
        return AM_OK;
    }
    if (sub[0] != '\0') {
        snprintf(err, size, "%s", sub);
    } else {
        snprintf(err, size, "\"%s\": expected %s, found %s", key,
                 conf_describe(k, what, sizeof(what)),
                 conf_quote(q, sizeof(q), value, strlen(value)));
    }
    return AM_ERROR;
}

/* The document walk */

static yaml_node_t *
conf_node(conf_ctx_t *ctx, int index)
{
    yaml_node_t *node = yaml_document_get_node(ctx->doc, index);

    AM_ASSERT(node != NULL);
    return node;
}

static int
conf_is_null(yaml_node_t *node)
{
    const char *v = (const char *)node->data.scalar.value;

    if (node->type != YAML_SCALAR_NODE ||
        node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return 0;
    }
    return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static unsigned
conf_kind(yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SEQUENCE_NODE:
        return AM_CONF_LIST;
    case YAML_MAPPING_NODE:
        return AM_CONF_MAP;
    default:
        return AM_CONF_SCALAR;
    }
}

/* "KEY": expected ..., found ... at the value. */
static int
conf_expected(conf_ctx_t *ctx, const am_conf_key_t *k, const char *dname,
              yaml_node_t *value)
{
    char what[128], found[CONF_QUOTE_MAX * 4 + 8];

    conf_error(ctx, &value->start_mark, "\"%s\": expected %s, found %s", dname,
               conf_describe(k, what, sizeof(what)),
               conf_found(found, sizeof(found), value));
    return AM_ERROR;
}

/* A scalar with an embedded NUL ("\0" in double quotes) would be cut by
 * every C string user: refuse it. */
static int
conf_scalar(conf_ctx_t *ctx, const char *dname, yaml_node_t *value,
            const char **out)
{
    const char *v = (const char *)value->data.scalar.value;

    if (strlen(v) != value->data.scalar.length) {
        conf_error(ctx, &value->start_mark, "\"%s\": a NUL byte in the value",
                   dname);
        return AM_ERROR;
    }
    *out = v;
    return AM_OK;
}

static int
conf_apply_scalar(conf_ctx_t *ctx, const am_conf_key_t *k, const char *dname,
                  void *base, yaml_node_t *value)
{
    char sub[512];
    const char *v;

    if (conf_scalar(ctx, dname, value, &v) != AM_OK) {
        return AM_ERROR;
    }
    if (conf_set_value(ctx->conf, k, dname, base, v, sub, sizeof(sub)) ==
        AM_OK) {
        return AM_OK;
    }
    if (sub[0] != '\0') {
        conf_error(ctx, &value->start_mark, "%s", sub);
        return AM_ERROR;
    }
    return conf_expected(ctx, k, dname, value);
}

/* The key of pair i of map: a scalar, not seen before in this map. */
static int
conf_pair_key(conf_ctx_t *ctx, yaml_node_t *map, yaml_node_pair_t *pair,
              const char *where, const char **out)
{
    yaml_node_t *key = conf_node(ctx, pair->key), *prev;
    char found[CONF_QUOTE_MAX * 4 + 8];
    yaml_node_pair_t *p;
    const char *name;

    if (key->type != YAML_SCALAR_NODE) {
        conf_error(ctx, &key->start_mark, "expected a key name in %s, found %s",
                   where, conf_found(found, sizeof(found), key));
        return AM_ERROR;
    }
    if (conf_scalar(ctx, where, key, &name) != AM_OK) {
        return AM_ERROR;
    }
    for (p = map->data.mapping.pairs.start; p < pair; p++) {
        prev = conf_node(ctx, p->key);
        if (prev->type == YAML_SCALAR_NODE &&
            strcmp((const char *)prev->data.scalar.value, name) == 0) {
            conf_error(ctx, &key->start_mark,
                       "duplicate key %s in %s (first at line %zu)",
                       conf_quote(found, sizeof(found), name, strlen(name)),
                       where, prev->start_mark.line + 1);
            return AM_ERROR;
        }
    }
    *out = name;
    return AM_OK;
}

/* The row of key in the map named prefix ("" at the top level). */
static const am_conf_key_t *
conf_lookup(conf_ctx_t *ctx, yaml_node_t *keynode, const char *prefix,
            const char *key, const char *where)
{
    char full[256], q[CONF_QUOTE_MAX * 4 + 8], hint[128];
    const am_conf_key_t *k = NULL;

    if (strchr(key, '.') == NULL &&
        (size_t)snprintf(full, sizeof(full), "%s%s%s", prefix,
                         *prefix ? "." : "", key) < sizeof(full)) {
        k = am_conf_schema_find(full);
    }
    if (k != NULL) {
        return k;
    }
    conf_suggest(prefix, key, hint, sizeof(hint));
    conf_error(ctx, &keynode->start_mark, "unknown key %s in %s%s",
               conf_quote(q, sizeof(q), key, strlen(key)), where, hint);
    return NULL;
}

static int
conf_load_pythonpath(conf_ctx_t *ctx, const am_conf_key_t *k,
                     yaml_node_t *value)
{
    yaml_node_item_t *item;
    yaml_node_t *node;
    char dname[64];
    const char *v;
    size_t i = 0;

    if (value->type == YAML_SCALAR_NODE) {
        return conf_apply_scalar(ctx, k, k->name, ctx->conf, value);
    }
    conf_clear_pythonpath(ctx->conf);
    for (item = value->data.sequence.items.start;
         item < value->data.sequence.items.top; item++, i++) {
        node = conf_node(ctx, *item);
        snprintf(dname, sizeof(dname), "%s[%zu]", k->name, i);
        if (node->type != YAML_SCALAR_NODE || node->data.scalar.length == 0 ||
            conf_is_null(node)) {
            char found[CONF_QUOTE_MAX * 4 + 8];

            conf_error(ctx, &node->start_mark,
                       "\"%s\": expected a path, found %s", dname,
                       conf_found(found, sizeof(found), node));
            return AM_ERROR;
        }
        if (conf_scalar(ctx, dname, node, &v) != AM_OK) {
            return AM_ERROR;
        }
        conf_add_pythonpath(ctx->conf, v);
    }
    return AM_OK;
}

static int
conf_load_env(conf_ctx_t *ctx, yaml_node_t *map)
{
    char q[CONF_QUOTE_MAX * 4 + 8], dname[128];
    am_conf_t *conf = ctx->conf;
    yaml_node_pair_t *pair;
    yaml_node_t *value;
    const char *name, *v;

    conf_clear_env(conf);
    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        if (conf_pair_key(ctx, map, pair, "\"env\"", &name) != AM_OK) {
            return AM_ERROR;
        }
        if (!conf_is_env_name(name)) {
            conf_error(ctx, &conf_node(ctx, pair->key)->start_mark,
                       "\"env\": bad variable name %s: expected letters, "
                       "digits and '_', not starting with a digit",
                       conf_quote(q, sizeof(q), name, strlen(name)));
            return AM_ERROR;
        }
        value = conf_node(ctx, pair->value);
        snprintf(dname, sizeof(dname), "env.%.100s", name);
        if (value->type != YAML_SCALAR_NODE) {
            conf_error(ctx, &value->start_mark,
                       "\"%s\": expected a string, found %s", dname,
                       conf_found(q, sizeof(q), value));
            return AM_ERROR;
        }
        if (conf_is_null(value)) {
            v = "";
        } else if (conf_scalar(ctx, dname, value, &v) != AM_OK) {
            return AM_ERROR;
        }
        conf->env_names =
            am_realloc(conf->env_names, (conf->nenv + 1) * sizeof(char *));
        conf->env_values =
            am_realloc(conf->env_values, (conf->nenv + 1) * sizeof(char *));
        conf->env_names[conf->nenv] = am_strdup(name);
        conf->env_values[conf->nenv] = am_strdup(v);
        conf->nenv++;
    }
    return AM_OK;
}

/* listen[N].tls: a map of "listen.tls.*" keys into a new am_tls_conf_t.
 * keynode is the "tls" key: its position is kept for am_tls_check(). */
static int
conf_load_tls(conf_ctx_t *ctx, am_listen_t *l, const char *dname,
              yaml_node_t *keynode, yaml_node_t *map)
{
    char where[160], kname[192];
    yaml_node_t *value, *client_auth = NULL;
    const am_conf_key_t *k;
    yaml_node_pair_t *pair;
    am_tls_conf_t *t;
    const char *name;

    t = am_calloc(1, sizeof(am_tls_conf_t));
    conf_set_defaults(ctx->conf, "listen.tls", t);
    t->line = (int)keynode->start_mark.line + 1;
    t->column = (int)keynode->start_mark.column + 1;
    conf_tls_free(l->tls);
    l->tls = t;

    snprintf(where, sizeof(where), "\"%s\"", dname);
    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        if (conf_pair_key(ctx, map, pair, where, &name) != AM_OK) {
            return AM_ERROR;
        }
        k = conf_lookup(ctx, conf_node(ctx, pair->key), "listen.tls", name,
                        where);
        if (k == NULL) {
            return AM_ERROR;
        }
        value = conf_node(ctx, pair->value);
        if (conf_is_null(value)) {
            continue;
        }
        snprintf(kname, sizeof(kname), "%s.%s", dname, name);
        if ((k->kinds & conf_kind(value)) == 0) {
            return conf_expected(ctx, k, kname, value);
        }
        if (conf_apply_scalar(ctx, k, kname, t, value) != AM_OK) {
            return AM_ERROR;
        }
        if (k->type == AM_CONF_CLIENT_AUTH) {
            client_auth = value;
        }
    }

    if (t->certificate == NULL || t->key == NULL) {
        conf_error(ctx, &keynode->start_mark, "\"%s\": missing \"%s\"", dname,
                   t->certificate == NULL ? "certificate" : "key");
        return AM_ERROR;
    }
    if (t->client_auth != AM_TLS_CLIENT_AUTH_NONE && t->client_ca == NULL) {
        conf_error(ctx, &client_auth->start_mark,
                   "\"%s.client_auth\": \"%s\" needs \"client_ca\", the CA "
                   "certificates that sign client certificates",
                   dname,
                   t->client_auth == AM_TLS_CLIENT_AUTH_REQUIRE ? "require"
                                                                : "optional");
        return AM_ERROR;
    }
    return AM_OK;
}

/* One listener: "ADDRESS" or a map of "listen.*" keys. The address is
 * parsed first (the listener exists), then the other keys in file order. */
static int
conf_load_listener(conf_ctx_t *ctx, const char *dname, yaml_node_t *item)
{
    yaml_node_t *address = NULL, *value, *keynode;
    char where[80], sub[512], found[CONF_QUOTE_MAX * 4 + 8], kname[128];
    const am_conf_key_t *k;
    yaml_node_pair_t *pair;
    const char *name, *v;
    am_listen_t *l;

    if (item->type == YAML_SCALAR_NODE && !conf_is_null(item)) {
        address = item;
    } else if (item->type == YAML_MAPPING_NODE) {
        snprintf(where, sizeof(where), "\"%s\"", dname);
        for (pair = item->data.mapping.pairs.start;
             pair < item->data.mapping.pairs.top; pair++) {
            if (conf_pair_key(ctx, item, pair, where, &name) != AM_OK) {
                return AM_ERROR;
            }
            k = conf_lookup(ctx, conf_node(ctx, pair->key), "listen", name,
                            where);
            if (k == NULL) {
                return AM_ERROR;
            }
            value = conf_node(ctx, pair->value);
            if (conf_is_null(value)) {
                continue;
            }
            snprintf(kname, sizeof(kname), "%s.%s", dname, name);
            if ((k->kinds & conf_kind(value)) == 0) {
                return conf_expected(ctx, k, kname, value);
            }
            if (k->type == AM_CONF_ADDRESS) {
                address = value;
            }
        }
        if (address == NULL) {
            conf_error(ctx, &item->start_mark, "\"%s\": missing \"address\"",
                       dname);
            return AM_ERROR;
        }
    } else {
        conf_error(ctx, &item->start_mark,
                   "\"%s\": expected an address or a map with \"address\", "
                   "found %s",
                   dname, conf_found(found, sizeof(found), item));
        return AM_ERROR;
    }

    snprintf(kname, sizeof(kname), "%s%s", dname,
             address == item ? "" : ".address");
    if (conf_scalar(ctx, kname, address, &v) != AM_OK) {
        return AM_ERROR;
    }
    if (conf_listen_push(ctx->conf, v, (int)address->start_mark.line + 1,
                         (int)address->start_mark.column + 1, &l, sub,
                         sizeof(sub)) != AM_OK) {
        conf_error(ctx, &address->start_mark, "\"%s\": %s", kname, sub);
        return AM_ERROR;
    }
    if (address == item) {
        return AM_OK;
    }

    /* The keys were checked above: known, once each, of the right kind. */
    for (pair = item->data.mapping.pairs.start;
         pair < item->data.mapping.pairs.top; pair++) {
        keynode = conf_node(ctx, pair->key);
        name = (const char *)keynode->data.scalar.value;
        snprintf(kname, sizeof(kname), "listen.%s", name);
        k = am_conf_schema_find(kname);
        value = conf_node(ctx, pair->value);
        if (conf_is_null(value) || k->type == AM_CONF_ADDRESS) {
            continue;
        }
        snprintf(kname, sizeof(kname), "%s.%s", dname, name);
        if (k->type == AM_CONF_TLS) {
            snprintf(kname, sizeof(kname), "%s.tls", dname);
            if (conf_load_tls(ctx, l, kname, keynode, value) != AM_OK) {
                return AM_ERROR;
            }
            continue;
        }
        if (k->type == AM_CONF_MODE && l->family != AF_UNIX) {
            conf_error(ctx, &value->start_mark,
                       "\"%s\": only UNIX socket listeners take a mode, %s "
                       "is not one",
                       kname,
                       conf_quote(found, sizeof(found), l->address,
                                  strlen(l->address)));
            return AM_ERROR;
        }
        if (conf_apply_scalar(ctx, k, kname, l, value) != AM_OK) {
            return AM_ERROR;
        }
    }
    return AM_OK;
}

static int
conf_load_listen(conf_ctx_t *ctx, const am_conf_key_t *k, yaml_node_t *value)
{
    yaml_node_item_t *item;
    char dname[64];
    size_t i = 0;

    am_conf_clear_listen(ctx->conf);
    if (value->type != YAML_SEQUENCE_NODE) {
        return conf_load_listener(ctx, k->name, value);
    }
    for (item = value->data.sequence.items.start;
         item < value->data.sequence.items.top; item++, i++) {
        snprintf(dname, sizeof(dname), "%s[%zu]", k->name, i);
        if (conf_load_listener(ctx, dname, conf_node(ctx, *item)) != AM_OK) {
            return AM_ERROR;
        }
    }
    return AM_OK;
}

/* forwarded_allow_ips: a list of entries, or one string of them. */
static int
conf_load_cidrs(conf_ctx_t *ctx, const am_conf_key_t *k, yaml_node_t *value)
{
    char dname[64], sub[512], found[CONF_QUOTE_MAX * 4 + 8];
    yaml_node_item_t *item;
    yaml_node_t *node;
    const char *v;
    size_t i = 0;

    if (value->type == YAML_SCALAR_NODE) {
        return conf_apply_scalar(ctx, k, k->name, ctx->conf, value);
    }
    conf_clear_cidrs(ctx->conf);
    for (item = value->data.sequence.items.start;
         item < value->data.sequence.items.top; item++, i++) {
        node = conf_node(ctx, *item);
        snprintf(dname, sizeof(dname), "%s[%zu]", k->name, i);
        if (node->type != YAML_SCALAR_NODE || conf_is_null(node)) {
            conf_error(ctx, &node->start_mark,
                       "\"%s\": expected an IP address, a network such as "
                       "\"10.0.0.0/8\" or \"*\", found %s",
                       dname, conf_found(found, sizeof(found), node));
            return AM_ERROR;
        }
        if (conf_scalar(ctx, dname, node, &v) != AM_OK) {
            return AM_ERROR;
        }
        if (conf_add_cidrs(ctx->conf, dname, v, sub, sizeof(sub)) != AM_OK) {
            conf_error(ctx, &node->start_mark, "%s", sub);
            return AM_ERROR;
        }
    }
    return AM_OK;
}

static int
conf_walk_map(conf_ctx_t *ctx, yaml_node_t *map, const char *prefix,
              const char *where)
{
    char inner[80];
    const am_conf_key_t *k;
    yaml_node_pair_t *pair;
    yaml_node_t *value;
    const char *key;
    int rc;

    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        if (conf_pair_key(ctx, map, pair, where, &key) != AM_OK) {
            return AM_ERROR;
        }
        k = conf_lookup(ctx, conf_node(ctx, pair->key), prefix, key, where);
        if (k == NULL) {
            return AM_ERROR;
        }
        value = conf_node(ctx, pair->value);
        if (conf_is_null(value)) {
            continue; /* written but empty: keep the default */
        }
        if ((k->kinds & conf_kind(value)) == 0) {
            return conf_expected(ctx, k, k->name, value);
        }
        switch (k->type) {
        case AM_CONF_SECTION:
            snprintf(inner, sizeof(inner), "\"%s\"", k->name);
            rc = conf_walk_map(ctx, value, k->name, inner);
            break;
        case AM_CONF_PYTHONPATH:
            rc = conf_load_pythonpath(ctx, k, value);
            break;
        case AM_CONF_ENV:
            rc = conf_load_env(ctx, value);
            break;
        case AM_CONF_LISTEN:
            rc = conf_load_listen(ctx, k, value);
            break;
        case AM_CONF_CIDRS:
            rc = conf_load_cidrs(ctx, k, value);
            break;
        default:
            rc = conf_apply_scalar(ctx, k, k->name, ctx->conf, value);
            break;
        }
        if (rc != AM_OK) {
            return AM_ERROR;
        }
    }
    return AM_OK;
}

/* libyaml's own message with its position. */
static void
conf_yaml_error(conf_ctx_t *ctx, yaml_parser_t *parser)
{
    yaml_mark_t mark;
    size_t i;
    int n;

    switch (parser->error) {
    case YAML_MEMORY_ERROR:
        snprintf(ctx->err, ctx->size, "%s: out of memory", ctx->name);
        return;

    case YAML_READER_ERROR:
        /* The reader knows a byte offset only: count lines up to it. */
        memset(&mark, 0, sizeof(mark));
        for (i = 0; i < parser->problem_offset && i < ctx->len; i++) {
            if (ctx->text[i] == '\n') {
                mark.line++;
                mark.column = 0;
            } else {
                mark.column++;
            }
        }
        if (parser->problem_value != -1) {
            conf_error(ctx, &mark, "%s (byte 0x%02X)", parser->problem,
                       parser->problem_value);
        } else {
            conf_error(ctx, &mark, "%s", parser->problem);
        }
        return;

    default:
        conf_error(ctx, &parser->problem_mark, "%s",
                   parser->problem ? parser->problem : "YAML syntax error");
        if (parser->context != NULL) {
            n = (int)strlen(ctx->err);
            snprintf(ctx->err + n, ctx->size - (size_t)n, " (%s at %zu:%zu)",
                     parser->context, parser->context_mark.line + 1,
                     parser->context_mark.column + 1);
        }
        return;
    }
}

int
am_conf_load_string(am_conf_t *conf, const char *name, const char *yaml,
                    size_t len, char *err, size_t size)
{
    yaml_document_t doc, next;
    yaml_parser_t parser;
    yaml_node_t *root;
    char found[CONF_QUOTE_MAX * 4 + 8];
    conf_ctx_t ctx;
    int rc = AM_ERROR;

    ctx.conf = conf;
    ctx.name = name;
    ctx.text = yaml;
    ctx.len = len;
    ctx.doc = &doc;
    ctx.err = err;
    ctx.size = size;
    err[0] = '\0';

    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, size, "%s: out of memory", name);
        return AM_ERROR;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        conf_yaml_error(&ctx, &parser);
        goto release_parser;
    }

    root = yaml_document_get_root_node(&doc);
    if (root == NULL || conf_is_null(root)) {
        rc = AM_OK; /* an empty file: all defaults */
    } else if (root->type != YAML_MAPPING_NODE) {
        conf_error(&ctx, &root->start_mark,
                   "expected a map of keys at the top level, found %s",
                   conf_found(found, sizeof(found), root));
    } else {
        rc = conf_walk_map(&ctx, root, "", "the top level");
    }
    if (rc != AM_OK || root == NULL) {
        goto release_doc;
    }

    /* One document per file: a second one would be silently ignored. */
    if (!yaml_parser_load(&parser, &next)) {
        conf_yaml_error(&ctx, &parser);
        rc = AM_ERROR;
        goto release_doc;
    }
    root = yaml_document_get_root_node(&next);
    if (root != NULL) {
        conf_error(&ctx, &next.start_mark,
                   "a second YAML document: one file holds one document");
        rc = AM_ERROR;
    }
    yaml_document_delete(&next);

release_doc:
    yaml_document_delete(&doc);
release_parser:
    yaml_parser_delete(&parser);
    return rc;
}

int
am_conf_load(am_conf_t *conf, const char *file, char *err, size_t size)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct stat st;
    ssize_t n;
    int fd, rc;

    do {
        fd = open(file, O_RDONLY | O_CLOEXEC);
    } while (fd == -1 && errno == EINTR);
    if (fd == -1) {
        snprintf(err, size, "%s: cannot open: %s", file, strerror(errno));
        return AM_ERROR;
    }
    if (fstat(fd, &st) == -1 || S_ISDIR(st.st_mode)) {
        snprintf(err, size, "%s: cannot open: %s", file,
                 strerror(S_ISDIR(st.st_mode) ? EISDIR : errno));
        close(fd);
        return AM_ERROR;
    }

    for (;;) {
        if (len == cap) {
            if (cap >= CONF_FILE_MAX) {
                snprintf(err, size, "%s: too large: more than %d MiB", file,
                         CONF_FILE_MAX / (1024 * 1024));
                goto failed;
            }
            cap = cap ? cap * 2 : 8192;
            buf = am_realloc(buf, cap);
        }
        n = read(fd, buf + len, cap - len);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            snprintf(err, size, "%s: cannot read: %s", file, strerror(errno));
            goto failed;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    close(fd);

    free(conf->file);
    conf->file = am_strdup(file);
    rc = am_conf_load_string(conf, file, buf ? buf : "", len, err, size);
    free(buf);
    return rc;

failed:
    free(buf);
    close(fd);
    return AM_ERROR;
}

am_conf_t *
am_conf_create(void)
{
    const am_conf_key_t *k;
    am_conf_t *conf = am_calloc(1, sizeof(am_conf_t));
    char err[512];
    int rc;

    for (size_t i = 0; i < am_conf_nkeys; i++) {
        k = &am_conf_keys[i];
        if (k->dflt == NULL || strncmp(k->name, "listen.", 7) == 0) {
            continue;
        }
        rc = conf_set_value(conf, k, k->name, conf, k->dflt, err, sizeof(err));
        AM_ASSERT(rc == AM_OK);
    }
    conf->umask = -1; /* unset: the umask the master inherited */
    return conf;
}

void
am_conf_destroy(am_conf_t *conf)
{
    if (conf == NULL) {
        return;
    }
    free(conf->file);
    free(conf->app);
    free(conf->chdir);
    conf_clear_pythonpath(conf);
    free(conf->virtualenv);
    conf_clear_env(conf);
    free(conf->root_path);
    free(conf->reload_dirs);
    free(conf->reload_includes);
    free(conf->reload_excludes);
    am_conf_clear_listen(conf);
    free(conf->error_log);
    free(conf->access_log);
    free(conf->access_format);
    free(conf->log_config);
    conf_clear_cidrs(conf);
    free(conf->pidfile);
    free(conf->user);
    free(conf->group);
    free(conf->metrics_address);
    free(conf->metrics_path);
    free(conf);
}

/* A TLS file path relative to the start directory, made absolute: workers
 * load certificates after changing to "chdir". */
static int
conf_absolute(char **path, char *err, size_t size)
{
    char cwd[4096], *abs;
    size_t n;

    if (*path == NULL || (*path)[0] == '/') {
        return AM_OK;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        snprintf(err, size, "getcwd() failed: %s", strerror(errno));
        return AM_ERROR;
    }
    n = strlen(cwd) + strlen(*path) + 2;
    abs = am_alloc(n);
    snprintf(abs, n, "%s/%s", cwd, *path);
    free(*path);
    *path = abs;
    return AM_OK;
}

/* Random session ticket keys, made once here so every worker forked from
 * this conf shares them (RFC 5077 §4: the server alone reads tickets). */
static int
conf_make_ticket_keys(am_conf_t *conf, char *err, size_t size)
{
    size_t n = 0;
    ssize_t rc;

    while (n < sizeof(conf->tls_ticket_keys)) {
        rc = getrandom(conf->tls_ticket_keys + n,
                       sizeof(conf->tls_ticket_keys) - n, 0);
        if (rc == -1) {
            if (errno == EINTR) {
                continue;
            }
            snprintf(err, size, "getrandom() failed: %s", strerror(errno));
            return AM_ERROR;
        }
        n += (size_t)rc;
    }
    return AM_OK;
}

/* metrics.address becomes the last listener, marked: workers answer only
 * metrics.path there. A listener cannot serve both the app and metrics. */
static int
conf_finish_metrics(am_conf_t *conf, char *err, size_t size)
{
    char sub[256];

    if (conf->metrics_path == NULL || conf->metrics_path[0] != '/') {
        snprintf(err, size,
                 "\"metrics.path\": expected a path starting with "
                 "\"/\" such as \"/metrics\"");
        return AM_ERROR;
    }
    if (conf->metrics_address == NULL) {
        return AM_OK;
    }
    for (size_t i = 0; i < conf->nlisten; i++) {
        if (conf->listen[i].metrics) {
            return AM_OK; /* finished twice */
        }
    }
    if (am_conf_add_listen(conf, conf->metrics_address, sub, sizeof(sub)) !=
        AM_OK) {
        snprintf(err, size, "\"metrics.address\": %s", sub);
        return AM_ERROR;
    }
    conf->listen[conf->nlisten - 1].metrics = 1;
    /* Scrapers speak HTTP/1.1; an h2 preface there must not reach the
     * HTTP/2 code, which would hand its requests to the app. */
    conf->listen[conf->nlisten - 1].http2 = 0;
    return AM_OK;
}

int
am_conf_finish(am_conf_t *conf, char *err, size_t size)
{
    am_tls_conf_t *t;
    const char *venv;
    int tls = 0;
    long ncpu;

    if (conf->app == NULL) {
        snprintf(err, size,
                 "no application: set \"app\" in the config or give "
                 "MODULE:ATTR");
        return AM_ERROR;
    }
    if (am_conf_check_app(conf->app, err, size) != AM_OK) {
        return AM_ERROR;
    }
    if (conf->nlisten == 0 &&
        am_conf_add_listen(conf, CONF_DEFAULT_LISTEN, err, size) != AM_OK) {
        return AM_ERROR;
    }
    if (conf_finish_metrics(conf, err, size) != AM_OK) {
        return AM_ERROR;
    }
    for (size_t i = 0; i < conf->nlisten; i++) {
        t = conf->listen[i].tls;
        if (t == NULL) {
            continue;
        }
        if (conf_absolute(&t->certificate, err, size) != AM_OK ||
            conf_absolute(&t->key, err, size) != AM_OK ||
            conf_absolute(&t->client_ca, err, size) != AM_OK ||
            conf_absolute(&t->key_password_file, err, size) != AM_OK) {
            return AM_ERROR;
        }
        tls = 1;
    }
    /* access_log: auto is on, to stderr, when stderr is a terminal (a
     * person is watching, as under Uvicorn), off otherwise. */
    if (conf->access_log != NULL && strcmp(conf->access_log, "auto") == 0) {
        free(conf->access_log);
        conf->access_log = isatty(STDERR_FILENO) ? am_strdup("stderr") : NULL;
    }
    if (conf_absolute(&conf->log_config, err, size) != AM_OK) {
        return AM_ERROR;
    }
    if (tls && conf_make_ticket_keys(conf, err, size) != AM_OK) {
        return AM_ERROR;
    }
    if (conf->workers <= 0) {
        ncpu = am_cpus_usable();
        conf->workers = (int)am_max(1, am_min(ncpu, CONF_WORKERS_MAX));
    }
    if (conf->virtualenv == NULL) {
        venv = getenv("VIRTUAL_ENV");
        if (venv != NULL && *venv != '\0') {
            conf->virtualenv = am_strdup(venv);
        }
    }
    return AM_OK;
}
