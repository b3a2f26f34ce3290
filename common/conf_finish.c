/* common/conf_finish.c: what depends on the rest of the configuration,
 * filled once everything is loaded and overridden (am_conf_finish()): the
 * worker count, the default listener, absolute paths, TLS ticket keys, the
 * metrics listener, and the rules across keys.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/conf_address.h"
#include "common/core.h"
#include "common/cpus.h"
#include "common/log.h"

#define CONF_WORKERS_MAX    1024
#define CONF_DEFAULT_LISTEN "127.0.0.1:8000"

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
