/* common/conf_set.c: one setter for every key's value, whether it comes
 * from the file (common/conf_load.c), the defaults (am_conf_create()) or a
 * command-line flag (am_conf_set()), so the three cannot disagree; and the
 * lifetime of am_conf_t.
 *
 * Enumerated values are tables of names (am_conf_value_parse_enum()).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/access.h"
#include "common/cidr.h"
#include "common/conf.h"
#include "common/conf_address.h"
#include "common/conf_error.h"
#include "common/conf_schema.h"
#include "common/conf_set.h"
#include "common/conf_value.h"
#include "common/core.h"
#include "common/log.h"

#define conf_field(base, k, type) ((type *)((char *)(base) + (k)->offset))

static const am_conf_enum_t conf_lifespans[] = {
    { "auto", AM_LIFESPAN_AUTO },
    { "on", AM_LIFESPAN_ON },
    { "off", AM_LIFESPAN_OFF },
};

static const am_conf_enum_t conf_client_auths[] = {
    { "none", AM_TLS_CLIENT_AUTH_NONE },
    { "optional", AM_TLS_CLIENT_AUTH_OPTIONAL },
    { "require", AM_TLS_CLIENT_AUTH_REQUIRE },
};

/* "TLSv1.2" or "1.2": OpenSSL's TLS1_2_VERSION and TLS1_3_VERSION. */
static const am_conf_enum_t conf_tls_versions[] = {
    { "1.2", 0x0303 },
    { "1.3", 0x0304 },
    { "TLSv1.2", 0x0303 },
    { "TLSv1.3", 0x0304 },
};

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
        rc = am_conf_set_value(conf, k, k->name, conf, k->dflt, err,
                               sizeof(err));
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
    am_conf_set_clear_pythonpath(conf);
    free(conf->virtualenv);
    am_conf_set_clear_env(conf);
    free(conf->root_path);
    free(conf->reload_dirs);
    free(conf->reload_includes);
    free(conf->reload_excludes);
    am_conf_clear_listen(conf);
    free(conf->error_log);
    free(conf->access_log);
    free(conf->access_format);
    free(conf->log_config);
    am_conf_set_clear_cidrs(conf);
    free(conf->pidfile);
    free(conf->user);
    free(conf->group);
    free(conf->metrics_address);
    free(conf->metrics_path);
    free(conf);
}

/* The defaults of the rows "prefix.name" (one level down) into base. */
void
am_conf_set_defaults(am_conf_t *conf, const char *prefix, void *base)
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
        rc = am_conf_set_value(conf, k, k->name, base, k->dflt, err,
                               sizeof(err));
        AM_ASSERT(rc == AM_OK);
    }
}

int
am_conf_set_listen(am_conf_t *conf, const char *address, int line, int column,
                   am_listen_t **out, char *err, size_t size)
{
    if (am_conf_address_push(conf, address, line, column, out, err, size) !=
        AM_OK) {
        return AM_ERROR;
    }
    am_conf_set_defaults(conf, "listen", *out);
    return AM_OK;
}

int
am_conf_add_listen(am_conf_t *conf, const char *address, char *err, size_t size)
{
    am_listen_t *l;

    return am_conf_set_listen(conf, address, 0, 0, &l, err, size);
}

void
am_conf_set_clear_pythonpath(am_conf_t *conf)
{
    for (size_t i = 0; i < conf->npythonpath; i++) {
        free(conf->pythonpath[i]);
    }
    free(conf->pythonpath);
    conf->pythonpath = NULL;
    conf->npythonpath = 0;
}

void
am_conf_set_add_pythonpath(am_conf_t *conf, const char *path)
{
    conf->pythonpath =
        am_realloc(conf->pythonpath, (conf->npythonpath + 1) * sizeof(char *));
    conf->pythonpath[conf->npythonpath++] = am_strdup(path);
}

void
am_conf_set_clear_env(am_conf_t *conf)
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

void
am_conf_set_clear_cidrs(am_conf_t *conf)
{
    free(conf->forwarded_allow);
    conf->forwarded_allow = NULL;
    conf->nforwarded_allow = 0;
    conf->forwarded_all = 0;
}

/* Add the entries of s, separated by commas or blanks (gunicorn's
 * "127.0.0.1,::1" reads as it does there). "*" trusts every peer. */
int
am_conf_set_add_cidrs(am_conf_t *conf, const char *dname, const char *s,
                      char *err, size_t size)
{
    char q[AM_CONF_QUOTE_SIZE];
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
        } else if (am_cidr_parse(s, len, &cidr) == AM_OK) {
            conf->forwarded_allow =
                am_realloc(conf->forwarded_allow,
                           (conf->nforwarded_allow + 1) * sizeof(am_cidr_t));
            conf->forwarded_allow[conf->nforwarded_allow++] = cidr;
        } else {
            snprintf(err, size,
                     "\"%s\": bad address or network %s: expected an IP "
                     "address, a network such as \"10.0.0.0/8\" or "
                     "\"fd00::/8\", or \"*\"",
                     dname, am_conf_error_quote(q, sizeof(q), s, len));
            return AM_ERROR;
        }
        s += len;
    }
}

static void
conf_set_string(void *base, const am_conf_key_t *k, const char *v)
{
    char **p = conf_field(base, k, char *);

    free(*p);
    *p = v != NULL ? am_strdup(v) : NULL;
}

/* One of the names of table into the row's int. */
static int
conf_set_enum(void *base, const am_conf_key_t *k, const char *v,
              const am_conf_enum_t *table, size_t n)
{
    int value;

    if (am_conf_value_parse_enum(v, table, n, &value) != AM_OK) {
        return AM_ERROR;
    }
    *conf_field(base, k, int) = value;
    return AM_OK;
}

/* Returns AM_OK, or AM_ERROR with err holding a whole message, or empty for
 * the caller's "KEY: expected ..., found ...". */
int
am_conf_set_value(am_conf_t *conf, const am_conf_key_t *k, const char *dname,
                  void *base, const char *v, char *err, size_t size)
{
    char q[AM_CONF_QUOTE_SIZE], sub[256];
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
        if (!am_conf_value_is_app(v)) {
            return AM_ERROR;
        }
        conf_set_string(base, k, v);
        return AM_OK;

    case AM_CONF_BOOL:
        b = am_conf_value_parse_bool(v);
        if (b == -1) {
            return AM_ERROR;
        }
        *conf_field(base, k, int) = b;
        return AM_OK;

    case AM_CONF_INT:
    case AM_CONF_BACKLOG:
    case AM_CONF_COUNT:
        if (am_conf_value_parse_int(v, &n) != AM_OK || n < k->min ||
            n > k->max) {
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
        } else if (am_conf_value_parse_int(v, &n) != AM_OK ||
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
                     am_conf_error_quote(q, sizeof(q), v, strlen(v)), dname);
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
                     am_conf_error_quote(q, sizeof(q), v, strlen(v)), dname);
            return AM_ERROR;
        }
        if (ms < k->min || ms > k->max) {
            return AM_ERROR;
        }
        *conf_field(base, k, am_msec_t) = ms;
        return AM_OK;

    case AM_CONF_LIFESPAN:
        return conf_set_enum(base, k, v, conf_lifespans,
                             am_nitems(conf_lifespans));

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
        conf_set_string(base, k, am_conf_value_parse_bool(v) == 0 ? NULL : v);
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
        am_conf_set_clear_pythonpath(conf);
        am_conf_set_add_pythonpath(conf, v);
        return AM_OK;

    case AM_CONF_LISTEN:
        am_conf_clear_listen(conf);
        if (am_conf_set_listen(conf, v, 0, 0, &l, sub, sizeof(sub)) != AM_OK) {
            snprintf(err, size, "\"%s\": %s", dname, sub);
            return AM_ERROR;
        }
        return AM_OK;

    case AM_CONF_MODE:
        if (am_conf_value_parse_mode(v, &mode) != AM_OK) {
            return AM_ERROR;
        }
        *conf_field(base, k, int) = mode;
        return AM_OK;

    case AM_CONF_CLIENT_AUTH:
        return conf_set_enum(base, k, v, conf_client_auths,
                             am_nitems(conf_client_auths));

    case AM_CONF_TLS_VERSION:
        return conf_set_enum(base, k, v, conf_tls_versions,
                             am_nitems(conf_tls_versions));

    case AM_CONF_CIDRS:
        am_conf_set_clear_cidrs(conf);
        return am_conf_set_add_cidrs(conf, dname, v, err, size);

    case AM_CONF_HOSTPORT: {
        am_listen_t scratch;

        memset(&scratch, 0, sizeof(scratch));
        if (am_conf_parse_address(v, &scratch, sub, sizeof(sub)) != AM_OK) {
            snprintf(err, size, "\"%s\": %s", dname, sub);
            return AM_ERROR;
        }
        am_conf_address_free(&scratch);
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
    char q[AM_CONF_QUOTE_SIZE], what[128], sub[512];

    if (k == NULL || strncmp(key, "listen.", 7) == 0 ||
        k->type == AM_CONF_SECTION || k->type == AM_CONF_ENV) {
        snprintf(err, size, "\"%s\" cannot be set from the command line", key);
        return AM_ERROR;
    }
    if (am_conf_set_value(conf, k, key, conf, value, sub, sizeof(sub)) ==
        AM_OK) {
        return AM_OK;
    }
    if (sub[0] != '\0') {
        snprintf(err, size, "%s", sub);
    } else {
        snprintf(err, size, "\"%s\": expected %s, found %s", key,
                 am_conf_error_describe(k, what, sizeof(what)),
                 am_conf_error_quote(q, sizeof(q), value, strlen(value)));
    }
    return AM_ERROR;
}
