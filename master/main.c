/* master/main.c: the command line, then the one path to a running master:
 * defaults, the config file, flag overrides, am_conf_finish(), logs, and
 * only then listeners and workers (or, with -t, a verdict and exit).
 *
 * Exit codes (asgimaster(8), EXIT STATUS): 0 normal stop or a good -t, 1 bad
 * config, a listener that cannot be bound or an app that cannot boot, 2 bad
 * usage.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/core.h"
#include "common/log.h"
#include "master/app_check.h"
#include "master/cli.h"
#include "master/listen.h"
#include "master/master.h"
#include "master/pidfile.h"
#include "master/tls_check.h"
#include "master/upgrade.h"
#include "master/venv_check.h"

#define MAIN_ERR_SIZE 1024

/* The command line and environment, kept for SIGHUP: a reload applies the
 * same flags. */
static am_cli_t main_cli;

static am_conf_t *main_load(char *err, size_t size);
static int main_signal(const am_cli_t *o);

int
main(int argc, char **argv)
{
    am_cli_t *o = &main_cli;
    am_conf_t *conf;
    char err[MAIN_ERR_SIZE];
    pid_t parent;
    int rc;

    am_cli_parse(o, argc, argv);

    if (o->signal != NULL) {
        return main_signal(o);
    }

    conf = main_load(err, sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "%s\n", err);
        return AM_EXIT_CONFIG;
    }

    am_log_level = conf->log_level;
    if (am_log_open(conf->error_log, conf->access_log) != AM_OK) {
        return AM_EXIT_CONFIG;
    }

    if (o->test) {
        /* The app must import too: in a child, as a worker does. */
        if (am_app_check(conf) != AM_OK) {
            return AM_EXIT_CONFIG;
        }
        /* "FILE: ok" for scripts (BRIEF.md), then nginx's wording. */
        if (o->file != NULL) {
            printf("%s: ok\n", o->file);
            printf("asgimaster: configuration file %s test is successful\n",
                   o->file);
        } else {
            printf("asgimaster: configuration test is successful\n");
        }
        return AM_EXIT_OK;
    }

    if (conf->umask != -1) {
        umask((mode_t)conf->umask);
    }
    am_upgrade_inherit(conf, &parent, argv);
    if (am_listen_open_all(conf) != AM_OK) {
        return AM_EXIT_CONFIG;
    }
    if (conf->pidfile != NULL && am_pidfile_write(conf->pidfile) != AM_OK) {
        am_listen_close_all(conf);
        return AM_EXIT_CONFIG;
    }

    /* The master owns conf from here (generations replace it). */
    rc = am_master_run(conf, main_load, argv, parent);
    return rc;
}

/* The one path into a configuration, for start-up and SIGHUP: defaults,
 * the file, the flags, am_conf_finish(), the TLS files. */
static am_conf_t *
main_load(char *err, size_t size)
{
    const am_cli_t *o = &main_cli;
    am_conf_t *conf = am_conf_create();

    if (o->file != NULL && am_conf_load(conf, o->file, err, size) != AM_OK) {
        goto failed;
    }
    if (am_cli_apply(conf, o, err, size) != AM_OK ||
        am_conf_finish(conf, err, size) != AM_OK ||
        am_tls_check(conf, err, size) != AM_OK ||
        am_venv_check(conf, err, size) != AM_OK) {
        goto failed;
    }
    return conf;

failed:
    am_conf_destroy(conf);
    return NULL;
}

/* -s reload|stop|quit|reopen: signal the master named by the pidfile of
 * the config, as nginx -s does. */
static int
main_signal(const am_cli_t *o)
{
    static const struct {
        const char *name;
        int sig;
    } actions[] = {
        { "reload", SIGHUP },
        { "stop", SIGTERM },
        { "quit", SIGQUIT },
        { "reopen", SIGUSR1 },
    };

    char err[MAIN_ERR_SIZE];
    am_conf_t *conf;
    int sig = 0;
    pid_t pid;

    for (size_t i = 0; i < am_nitems(actions); i++) {
        if (strcmp(o->signal, actions[i].name) == 0) {
            sig = actions[i].sig;
        }
    }
    if (sig == 0) {
        am_cli_usage_error("-s: expected reload, stop, quit or reopen, got "
                           "\"%s\"",
                           o->signal);
    }
    if (o->file == NULL) {
        am_cli_usage_error("-s %s needs the config file (-c FILE) that names "
                           "the pidfile",
                           o->signal);
    }
    conf = am_conf_create();
    if (am_conf_load(conf, o->file, err, sizeof(err)) != AM_OK) {
        fprintf(stderr, "%s\n", err);
        am_conf_destroy(conf);
        return AM_EXIT_CONFIG;
    }
    if (conf->pidfile == NULL) {
        fprintf(stderr,
                "asgimaster: %s sets no \"pidfile\": cannot find the "
                "master\n",
                o->file);
        am_conf_destroy(conf);
        return AM_EXIT_CONFIG;
    }
    pid = am_pidfile_read(conf->pidfile, err, sizeof(err));
    if (pid == -1) {
        fprintf(stderr, "asgimaster: %s\n", err);
        am_conf_destroy(conf);
        return AM_EXIT_CONFIG;
    }
    if (kill(pid, sig) == -1) {
        fprintf(stderr, "asgimaster: kill(%d, %s) failed: %s%s\n", (int)pid,
                strsignal(sig), strerror(errno),
                errno == ESRCH ? " (is the master running?)" : "");
        am_conf_destroy(conf);
        return AM_EXIT_CONFIG;
    }
    am_conf_destroy(conf);
    return AM_EXIT_OK;
}
