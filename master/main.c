/* master/main.c: the command line, then the one path to a running master:
 * defaults, the config file, flag overrides, am_conf_finish(), logs, and
 * only then listeners and workers (or, with -t, a verdict and exit).
 *
 * Exit codes (asgimaster(8), EXIT STATUS): 0 normal stop or a good -t, 1 bad
 * config, a listener that cannot be bound or an app that cannot boot, 2 bad
 * usage.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/core.h"
#include "common/log.h"
#include "master/listen.h"
#include "master/master.h"
#include "master/pidfile.h"
#include "master/tls_check.h"
#include "master/upgrade.h"

#define MAIN_ERR_SIZE    1024
#define MAIN_WORKERS_MAX 1024 /* as the "workers" key */

/* Long options without a short form. */
enum {
    MAIN_OPT_CHDIR = 256,
    MAIN_OPT_LOG_LEVEL,
    MAIN_OPT_ERROR_LOG,
    MAIN_OPT_ACCESS_LOG,
    MAIN_OPT_FACTORY,
    MAIN_OPT_LIFESPAN,
    MAIN_OPT_ROOT_PATH,
    MAIN_OPT_WS_PING_INTERVAL,
    MAIN_OPT_WS_PING_TIMEOUT,
    MAIN_OPT_WS_MAX_SIZE,
    MAIN_OPT_WS_DEFLATE,
};

/* What the command line asked for; NULL / -1 means "not given". */
typedef struct main_opts_s {
    const char *file;
    int test;
    const char *app;
    const char **binds;
    size_t nbinds;
    int workers;
    const char *chdir;
    int log_level;
    const char *error_log;
    const char *access_log;
    int factory;
    int lifespan;
    const char *root_path;
    const char *signal; /* -s: reload, stop, quit, reopen */
    /* websocket.* (uvicorn's --ws-* flags) */
    am_msec_t ws_ping_interval; /* -1: not given */
    am_msec_t ws_ping_timeout;
    size_t ws_max_size; /* 0: not given */
    int ws_deflate;     /* -1: not given */
} main_opts_t;

/* The command line, kept for SIGHUP: a reload applies the same flags. */
static main_opts_t main_opts;

static void main_parse(int argc, char **argv, main_opts_t *o);
static void main_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void main_help(void);
static void main_apply(am_conf_t *conf, const main_opts_t *o);
static void main_set(char **field, const char *value);
static am_conf_t *main_load(char *err, size_t size);
static int main_signal(const main_opts_t *o);

static const char main_short[] = ":c:ts:b:w:vh"; /* ":": missing argument */

static const struct option main_long[] = {
    { "config", required_argument, NULL, 'c' },
    { "test", no_argument, NULL, 't' },
    { "signal", required_argument, NULL, 's' },
    { "bind", required_argument, NULL, 'b' },
    { "workers", required_argument, NULL, 'w' },
    { "chdir", required_argument, NULL, MAIN_OPT_CHDIR },
    { "log-level", required_argument, NULL, MAIN_OPT_LOG_LEVEL },
    { "error-log", required_argument, NULL, MAIN_OPT_ERROR_LOG },
    { "access-log", required_argument, NULL, MAIN_OPT_ACCESS_LOG },
    { "factory", no_argument, NULL, MAIN_OPT_FACTORY },
    { "lifespan", required_argument, NULL, MAIN_OPT_LIFESPAN },
    { "root-path", required_argument, NULL, MAIN_OPT_ROOT_PATH },
    { "ws-ping-interval", required_argument, NULL, MAIN_OPT_WS_PING_INTERVAL },
    { "ws-ping-timeout", required_argument, NULL, MAIN_OPT_WS_PING_TIMEOUT },
    { "ws-max-size", required_argument, NULL, MAIN_OPT_WS_MAX_SIZE },
    { "ws-per-message-deflate", required_argument, NULL, MAIN_OPT_WS_DEFLATE },
    { "version", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
    main_opts_t o;
    am_conf_t *conf;
    char err[MAIN_ERR_SIZE];
    pid_t parent;
    int rc;

    main_parse(argc, argv, &o);
    main_opts = o;

    if (o.signal != NULL) {
        return main_signal(&o);
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

    if (o.test) {
        /* "FILE: ok" for scripts (BRIEF.md), then nginx's wording. */
        if (o.file != NULL) {
            printf("%s: ok\n", o.file);
            printf("asgimaster: configuration file %s test is successful\n",
                   o.file);
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
    free(o.binds);
    return rc;
}

/* The one path into a configuration, for start-up and SIGHUP: defaults,
 * the file, the flags, am_conf_finish(), the TLS files. */
static am_conf_t *
main_load(char *err, size_t size)
{
    const main_opts_t *o = &main_opts;
    am_conf_t *conf = am_conf_create();

    if (o->file != NULL && am_conf_load(conf, o->file, err, size) != AM_OK) {
        goto failed;
    }
    main_apply(conf, o);
    if (am_conf_finish(conf, err, size) != AM_OK ||
        am_tls_check(conf, err, size) != AM_OK) {
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
main_signal(const main_opts_t *o)
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
        main_usage_error("-s: expected reload, stop, quit or reopen, got "
                         "\"%s\"",
                         o->signal);
    }
    if (o->file == NULL) {
        main_usage_error("-s %s needs the config file (-c FILE) that names "
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

static void
main_parse(int argc, char **argv, main_opts_t *o)
{
    char err[MAIN_ERR_SIZE], *end;
    const char *colon;
    am_conf_t *scratch;
    long n;
    int c;

    memset(o, 0, sizeof(*o));
    o->workers = -1;
    o->log_level = -1;
    o->factory = -1;
    o->lifespan = -1;
    o->ws_ping_interval = -1;
    o->ws_ping_timeout = -1;
    o->ws_deflate = -1;
    o->binds = am_calloc((size_t)argc, sizeof(char *));

    opterr = 0; /* our messages, with "try --help" */
    while ((c = getopt_long(argc, argv, main_short, main_long, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->file = optarg;
            break;
        case 't':
            o->test = 1;
            break;
        case 's':
            o->signal = optarg;
            break;
        case 'b':
            o->binds[o->nbinds++] = optarg;
            break;
        case 'w':
            if (strcmp(optarg, "auto") == 0) {
                o->workers = 0;
                break;
            }
            errno = 0;
            n = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || n < 0 ||
                n > MAIN_WORKERS_MAX) {
                main_usage_error("--workers: expected 0..1024 or \"auto\", "
                                 "got \"%s\"",
                                 optarg);
            }
            o->workers = (int)n;
            break;
        case MAIN_OPT_CHDIR:
            o->chdir = optarg;
            break;
        case MAIN_OPT_LOG_LEVEL:
            o->log_level = am_log_level_parse(optarg);
            if (o->log_level == -1) {
                main_usage_error("--log-level: expected emerg, alert, crit, "
                                 "error, warn, notice, info or debug, got "
                                 "\"%s\"",
                                 optarg);
            }
            break;
        case MAIN_OPT_ERROR_LOG:
        case MAIN_OPT_ACCESS_LOG:
            if (*optarg == '\0') {
                main_usage_error("%s: expected a path, got \"\"",
                                 c == MAIN_OPT_ERROR_LOG ? "--error-log"
                                                         : "--access-log");
            }
            if (c == MAIN_OPT_ERROR_LOG) {
                o->error_log = optarg;
            } else {
                o->access_log = optarg;
            }
            break;
        case MAIN_OPT_FACTORY:
            o->factory = 1;
            break;
        case MAIN_OPT_LIFESPAN:
            if (strcmp(optarg, "auto") == 0) {
                o->lifespan = AM_LIFESPAN_AUTO;
            } else if (strcmp(optarg, "on") == 0) {
                o->lifespan = AM_LIFESPAN_ON;
            } else if (strcmp(optarg, "off") == 0) {
                o->lifespan = AM_LIFESPAN_OFF;
            } else {
                main_usage_error("--lifespan: expected auto, on or off, got "
                                 "\"%s\"",
                                 optarg);
            }
            break;
        case MAIN_OPT_ROOT_PATH:
            o->root_path = optarg;
            break;
        case MAIN_OPT_WS_PING_INTERVAL:
        case MAIN_OPT_WS_PING_TIMEOUT:
            if (am_parse_duration(optarg, c == MAIN_OPT_WS_PING_INTERVAL
                                              ? &o->ws_ping_interval
                                              : &o->ws_ping_timeout) != AM_OK) {
                main_usage_error("%s: expected a duration (20, 500ms, 1m), "
                                 "got \"%s\"",
                                 c == MAIN_OPT_WS_PING_INTERVAL
                                     ? "--ws-ping-interval"
                                     : "--ws-ping-timeout",
                                 optarg);
            }
            break;
        case MAIN_OPT_WS_MAX_SIZE:
            if (am_parse_size(optarg, &o->ws_max_size) != AM_OK ||
                o->ws_max_size == 0 || o->ws_max_size > ((size_t)1 << 30)) {
                main_usage_error("--ws-max-size: expected a size from 1 to "
                                 "1GiB, got \"%s\"",
                                 optarg);
            }
            break;
        case MAIN_OPT_WS_DEFLATE:
            if (strcmp(optarg, "true") == 0 || strcmp(optarg, "on") == 0) {
                o->ws_deflate = 1;
            } else if (strcmp(optarg, "false") == 0 ||
                       strcmp(optarg, "off") == 0) {
                o->ws_deflate = 0;
            } else {
                main_usage_error("--ws-per-message-deflate: expected true or "
                                 "false, got \"%s\"",
                                 optarg);
            }
            break;
        case 'v':
            printf("asgimaster " AM_VERSION "\n");
            exit(AM_EXIT_OK);
        case 'h':
            main_help();
            exit(AM_EXIT_OK);
        case ':':
            main_usage_error("option \"%s\" needs an argument",
                             argv[optind - 1]);
        default:
            if (optopt != 0 && optopt < 256) {
                main_usage_error("unknown option \"-%c\"", optopt);
            }
            main_usage_error("unknown option \"%s\"", argv[optind - 1]);
        }
    }

    if (optind < argc) {
        o->app = argv[optind++];
    }
    if (optind < argc) {
        main_usage_error("unexpected argument \"%s\"", argv[optind]);
    }
    if (o->app != NULL) {
        colon = strchr(o->app, ':');
        if (colon == NULL || colon == o->app || colon[1] == '\0') {
            main_usage_error("expected the app as MODULE:ATTR, got \"%s\"",
                             o->app);
        }
    }
    if (o->file == NULL && o->app == NULL && o->signal == NULL) {
        main_usage_error("give a config file (-c FILE) or an app "
                         "(MODULE:ATTR)");
    }

    /* A bad --bind is bad usage: check it now, before the file is read. */
    scratch = am_conf_create();
    for (size_t i = 0; i < o->nbinds; i++) {
        if (am_conf_add_listen(scratch, o->binds[i], err, sizeof(err)) !=
            AM_OK) {
            main_usage_error("--bind \"%s\": %s", o->binds[i], err);
        }
    }
    am_conf_destroy(scratch);
}

static void
main_usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "asgimaster: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry \"asgimaster --help\" for more information.\n");
    exit(AM_EXIT_USAGE);
}

static void
main_help(void)
{
    printf(
        "Usage: asgimaster -c FILE [flags] [MODULE:ATTR]\n"
        "       asgimaster [flags] MODULE:ATTR\n"
        "       asgimaster -t -c FILE\n"
        "       asgimaster -s reload|stop|quit|reopen -c FILE\n"
        "\n"
        "An ASGI application server: a master process binds the listeners\n"
        "and supervises prefork workers that run the app.\n"
        "\n"
        "  -c, --config FILE      read the YAML config file FILE\n"
        "  -t, --test             check the configuration and exit\n"
        "  -s, --signal SIGNAL    send reload, stop, quit or reopen to the\n"
        "                         master named by the config's pidfile\n"
        "  -b, --bind ADDR        listen on ADDR: host:port, [v6]:port, :port\n"
        "                         or unix:/path (repeatable; replaces listen)\n"
        "  -w, --workers N        number of workers (0 or auto: one per CPU)\n"
        "      --chdir DIR        change to DIR before importing the app\n"
        "      --log-level LEVEL  emerg, alert, crit, error, warn, notice,\n"
        "                         info or debug\n"
        "      --error-log PATH   error log file, or stderr\n"
        "      --access-log DEST  access log: PATH, stdout, stderr or off\n"
        "      --factory          MODULE:ATTR is a factory that returns the "
        "app\n"
        "      --lifespan MODE    auto, on or off\n"
        "      --root-path PATH   the ASGI root_path\n"
        "      --ws-ping-interval DURATION  websocket.ping_interval\n"
        "      --ws-ping-timeout DURATION   websocket.ping_timeout\n"
        "      --ws-max-size SIZE           websocket.max_message_size\n"
        "      --ws-per-message-deflate BOOL  websocket.compression\n"
        "  -v, --version          print the version and exit\n"
        "  -h, --help             print this help and exit\n"
        "\n"
        "MODULE:ATTR overrides the config's app; flags override the\n"
        "same keys of the file. Without -c, the app is served with the\n"
        "defaults on 127.0.0.1:8000, imported from the current directory.\n"
        "\n"
        "Signals to the master: HUP reload, TERM/INT graceful stop, QUIT\n"
        "immediate stop, USR1 reopen logs, USR2 binary upgrade, TTIN/TTOU one\n"
        "worker more/less.\n"
        "Exit status: 0 stopped, 1 bad config, bind or boot failure, 2 bad "
        "usage.\n"
        "See asgimaster(8) and asgimaster.yaml(5).\n");
}

/* Flags override the file. Strings in conf are malloc()ed: conf owns them
 * (am_conf_destroy() frees them). */
static void
main_apply(am_conf_t *conf, const main_opts_t *o)
{
    char err[MAIN_ERR_SIZE];

    if (o->app != NULL) {
        main_set(&conf->app, o->app);
    }
    if (o->workers != -1) {
        conf->workers = o->workers;
    }
    if (o->chdir != NULL) {
        main_set(&conf->chdir, o->chdir);
    }
    if (o->log_level != -1) {
        conf->log_level = o->log_level;
    }
    if (o->error_log != NULL) {
        main_set(&conf->error_log,
                 strcmp(o->error_log, "stderr") == 0 ? NULL : o->error_log);
    }
    if (o->access_log != NULL) {
        main_set(&conf->access_log,
                 strcmp(o->access_log, "off") == 0 ? NULL : o->access_log);
    }
    if (o->factory != -1) {
        conf->factory = o->factory;
    }
    if (o->lifespan != -1) {
        conf->lifespan = o->lifespan;
    }
    if (o->root_path != NULL) {
        main_set(&conf->root_path, o->root_path);
    }
    if (o->ws_ping_interval != -1) {
        conf->ws_ping_interval = o->ws_ping_interval;
    }
    if (o->ws_ping_timeout != -1) {
        conf->ws_ping_timeout = o->ws_ping_timeout > 0 ? o->ws_ping_timeout : 1;
    }
    if (o->ws_max_size != 0) {
        conf->ws_max_message_size = o->ws_max_size;
    }
    if (o->ws_deflate != -1) {
        conf->ws_compression = o->ws_deflate;
    }
    if (o->nbinds > 0) {
        am_conf_clear_listen(conf);
        for (size_t i = 0; i < o->nbinds; i++) {
            /* Checked in main_parse(): cannot fail here. */
            if (am_conf_add_listen(conf, o->binds[i], err, sizeof(err)) !=
                AM_OK) {
                main_usage_error("--bind \"%s\": %s", o->binds[i], err);
            }
        }
    }
}

static void
main_set(char **field, const char *value)
{
    free(*field);
    *field = value != NULL ? am_strdup(value) : NULL;
}
