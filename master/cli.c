/* master/cli.c: the command line and the environment, one table.
 *
 * Each row maps a flag onto a configuration key and goes through
 * am_conf_set(), the setter the YAML file uses, so a flag takes exactly
 * what the key takes. Uvicorn's names are ours (asgimaster serves what
 * `uvicorn main:app --http2` would); Gunicorn's and Hypercorn's common
 * spellings are rows too, or refusals that name our flag. Listener flags
 * (--bind, --host/--port, --uds, --fd, --ssl-*, --no-http2, --backlog) are
 * gathered first and then make the listener list, as listen: does.
 *
 * Precedence, lowest first: defaults, the file, the environment
 * (WEB_CONCURRENCY, FORWARDED_ALLOW_IPS, ASGIMASTER_<FLAG>), the flags.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/conf.h"
#include "common/core.h"
#include "common/editdist.h"
#include "master/cli.h"
#include "master/venv_check.h"

#define CLI_ERR_SIZE 1024
#define CLI_ENV_MAX  64 /* "ASGIMASTER_" and the longest flag name */

typedef enum {
    CLI_CONFIG = 0, /* -c FILE */
    CLI_TEST,       /* -t */
    CLI_SIGNAL,     /* -s SIGNAL */
    CLI_HELP,
    CLI_VERSION,
    CLI_KEY,        /* am_conf_set(key, value) */
    CLI_BOOL,       /* on/off: --name, --no-name: am_conf_set(key, bool) */
    CLI_LIST,       /* repeatable: the values joined by "," into key */
    CLI_NOTHING,    /* accepted, no effect (a default we already have) */
    CLI_CHOICE,     /* accepted when the value is in key ("a|b"), else
                       refused with help */
    CLI_REFUSE,     /* refused with help as the message */
    CLI_LOG_LEVEL,  /* log.level, with Uvicorn's names */
    CLI_ACCESS_LOG, /* log.access_log: bare is on (stderr), or a DEST */
    CLI_PROXY,      /* --proxy-headers / --no-proxy-headers */
    CLI_APP_DIR,    /* pythonpath, first */
    CLI_ENV_FILE,   /* NAME=value lines added to env */
    CLI_BIND,       /* listener flags, gathered into cli_listen_t */
    CLI_HOST,
    CLI_PORT,
    CLI_UDS,
    CLI_FD,
    CLI_BACKLOG,
    CLI_HTTP2,
    CLI_TLS_CERT,
    CLI_TLS_KEY,
    CLI_TLS_PASSWORD,
    CLI_TLS_CA,
    CLI_TLS_REQS
} cli_action_t;

enum {
    CLI_ARG_NONE = 0,
    CLI_ARG_REQUIRED,
    CLI_ARG_OPTIONAL /* --access-log [DEST] */
};

/* Whose spelling a row is: ours and Uvicorn's get ASGIMASTER_<FLAG>. */
enum {
    CLI_OURS = 0,
    CLI_PEER /* Gunicorn's or Hypercorn's: accepted, no variable */
};

struct am_cli_flag_s {
    const char *name; /* long name without "--" */
    const char *key;  /* the config key, or CLI_CHOICE's values */
    const char *meta; /* the value's name in --help */
    const char *help; /* NULL: not listed in --help */
    int short_name;   /* 'b', or 0 */
    int arg;          /* CLI_ARG_* */
    cli_action_t action;
    int origin; /* CLI_OURS or CLI_PEER */
};

/* The listener flags of one source (environment or command line). */
typedef struct cli_listen_s {
    const char *binds[16];
    size_t nbinds;
    const char *host, *port, *uds, *fd, *backlog;
    const char *cert, *key, *password, *ca, *reqs;
    const char *cert_src, *key_src;
    int http2;                     /* -1: not given */
    int addresses;                 /* any of bind/host/port/uds/fd given */
    const am_cli_flag_t *lists[8]; /* CLI_LIST flags seen */
    size_t nlists;
} cli_listen_t;

static const am_cli_flag_t *cli_find_long(const char *name);
static const am_cli_flag_t *cli_find_short(int c);
static void cli_help(void);
static int cli_apply_one(am_conf_t *conf, const am_cli_arg_t *a,
                         cli_listen_t *ls, char *err, size_t size);
static int cli_apply_listen(am_conf_t *conf, const cli_listen_t *ls, char *err,
                            size_t size);
static int cli_fd_address(const char *v, char *buf, size_t bufsize, char *err,
                          size_t size);
static void cli_unknown(const char *typed) __attribute__((noreturn));

/* A row in the order of the columns below (designated: the struct's
 * fields are in the order that packs them). */
#define ROW(n, s, a, act, k, m, h, o)                                          \
    {                                                                          \
        .name = (n), .key = (k), .meta = (m), .help = (h), .short_name = (s),  \
        .arg = (a), .action = (act), .origin = (o)                             \
    }
#define KEY(n, s, k, meta, help)                                               \
    ROW(n, s, CLI_ARG_REQUIRED, CLI_KEY, k, meta, help, CLI_OURS)
#define PEER(n, s, k)                                                          \
    ROW(n, s, CLI_ARG_REQUIRED, CLI_KEY, k, NULL, NULL, CLI_PEER)
#define ACT(n, s, arg, act, meta, help)                                        \
    ROW(n, s, arg, act, NULL, meta, help, CLI_OURS)
#define PEER_ACT(n, s, act)                                                    \
    ROW(n, s, CLI_ARG_REQUIRED, act, NULL, NULL, NULL, CLI_PEER)
#define REFUSE(n, s, arg, why)                                                 \
    ROW(n, s, arg, CLI_REFUSE, NULL, NULL, why, CLI_PEER)

static const am_cli_flag_t cli_flags[] = {
    /* the command */
    ACT("config", 'c', CLI_ARG_REQUIRED, CLI_CONFIG, "FILE",
        "read the YAML config file FILE"),
    ACT("test", 't', CLI_ARG_NONE, CLI_TEST, NULL,
        "check the configuration and exit"),
    ACT("signal", 's', CLI_ARG_REQUIRED, CLI_SIGNAL, "SIGNAL",
        "send reload, stop, quit or reopen to the master named by the "
        "config's pidfile"),
    ACT("version", 'v', CLI_ARG_NONE, CLI_VERSION, NULL,
        "print the version and exit"),
    ACT("help", 'h', CLI_ARG_NONE, CLI_HELP, NULL, "print this help and exit"),

    /* where to listen */
    ACT("bind", 'b', CLI_ARG_REQUIRED, CLI_BIND, "ADDR",
        "listen on ADDR: host:port, [v6]:port or unix:/path (repeatable; "
        "replaces listen)"),
    ACT("host", 0, CLI_ARG_REQUIRED, CLI_HOST, "HOST",
        "listen on HOST (with --port; default 127.0.0.1)"),
    ACT("port", 0, CLI_ARG_REQUIRED, CLI_PORT, "PORT",
        "listen on PORT (with --host; default 8000)"),
    ACT("uds", 0, CLI_ARG_REQUIRED, CLI_UDS, "PATH",
        "listen on the UNIX socket PATH"),
    ACT("fd", 0, CLI_ARG_REQUIRED, CLI_FD, "FD",
        "serve on the listening socket inherited as FD"),
    ACT("backlog", 0, CLI_ARG_REQUIRED, CLI_BACKLOG, "N",
        "listen(2) backlog of every listener"),
    ACT("http2", 0, CLI_ARG_NONE, CLI_HTTP2, NULL,
        "serve HTTP/2 (the default; --no-http2: HTTP/1.1 only)"),
    ACT("ssl-certfile", 0, CLI_ARG_REQUIRED, CLI_TLS_CERT, "FILE",
        "TLS: the PEM certificate chain (h2 by ALPN)"),
    ACT("ssl-keyfile", 0, CLI_ARG_REQUIRED, CLI_TLS_KEY, "FILE",
        "TLS: the PEM private key"),
    ACT("ssl-keyfile-password", 0, CLI_ARG_REQUIRED, CLI_TLS_PASSWORD, "PW",
        "TLS: the password of an encrypted key"),
    ACT("ssl-ca-certs", 0, CLI_ARG_REQUIRED, CLI_TLS_CA, "FILE",
        "TLS: CA bundle for client certificates"),
    ACT("ssl-cert-reqs", 0, CLI_ARG_REQUIRED, CLI_TLS_REQS, "N",
        "TLS: client certificates: 0 none, 1 optional, 2 required"),
    ACT("proxy-headers", 0, CLI_ARG_NONE, CLI_PROXY, NULL,
        "believe Forwarded/X-Forwarded-* from forwarded_allow_ips (the "
        "default; --no-proxy-headers: from nobody)"),
    KEY("forwarded-allow-ips", 0, "forwarded_allow_ips", "IPS",
        "comma-separated trusted proxy addresses or networks, or *"),

    /* the app */
    KEY("workers", 'w', "workers", "N",
        "number of workers (auto: one per usable CPU)"),
    KEY("chdir", 0, "chdir", "DIR", "change to DIR before importing the app"),
    ACT("app-dir", 0, CLI_ARG_REQUIRED, CLI_APP_DIR, "DIR",
        "import the app from DIR (first on sys.path)"),
    ACT("env-file", 0, CLI_ARG_REQUIRED, CLI_ENV_FILE, "FILE",
        "add the NAME=value lines of FILE to the workers' environment"),
    ROW("factory", 0, CLI_ARG_NONE, CLI_BOOL, "factory", NULL,
        "MODULE:ATTR is a factory that returns the app", CLI_OURS),
    KEY("lifespan", 0, "lifespan", "MODE", "auto, on or off"),
    KEY("root-path", 0, "root_path", "PATH", "the ASGI root_path"),
    KEY("virtualenv", 0, "virtualenv", "DIR", "the virtualenv to import from"),
    ROW("server-header", 0, CLI_ARG_NONE, CLI_BOOL, "server_header", NULL,
        "send \"Server: asgimaster\" (--no-server-header: do not)", CLI_OURS),

    /* limits and timeouts */
    KEY("timeout-keep-alive", 0, "timeouts.keepalive", "SECS",
        "close an idle keep-alive connection after SECS"),
    KEY("timeout-graceful-shutdown", 0, "timeouts.graceful", "SECS",
        "graceful stop: in-flight requests get SECS"),
    KEY("timeout-worker", 0, "timeouts.worker", "SECS",
        "a worker silent for SECS is replaced"),
    KEY("limit-concurrency", 0, "limits.connections", "N",
        "connections per worker"),
    KEY("limit-max-requests", 0, "max_requests", "N",
        "recycle a worker after N requests"),
    KEY("max-requests-jitter", 0, "max_requests_jitter", "N",
        "add up to N to each worker's limit-max-requests"),

    /* WebSocket (Uvicorn's names) */
    KEY("ws-max-size", 0, "websocket.max_message_size", "SIZE",
        "largest WebSocket message (1009 beyond)"),
    KEY("ws-ping-interval", 0, "websocket.ping_interval", "SECS",
        "ping an idle WebSocket every SECS (0: never)"),
    KEY("ws-ping-timeout", 0, "websocket.ping_timeout", "SECS",
        "close a WebSocket whose pong is SECS late"),
    KEY("ws-per-message-deflate", 0, "websocket.compression", "BOOL",
        "accept permessage-deflate (true or false)"),

    /* development */
    ROW("reload", 0, CLI_ARG_NONE, CLI_BOOL, "reload", NULL,
        "reload when a source file changes (development)", CLI_OURS),
    ROW("reload-dir", 0, CLI_ARG_REQUIRED, CLI_LIST, "reload_dirs", "DIR",
        "watch DIR (repeatable; default: chdir or the current directory)",
        CLI_OURS),
    ROW("reload-include", 0, CLI_ARG_REQUIRED, CLI_LIST, "reload_includes",
        "GLOB", "reload on files matching GLOB (repeatable; default *.py)",
        CLI_OURS),
    ROW("reload-exclude", 0, CLI_ARG_REQUIRED, CLI_LIST, "reload_excludes",
        "GLOB", "ignore files matching GLOB (repeatable)", CLI_OURS),
    KEY("reload-delay", 0, "reload_delay", "SECS",
        "reload once the files were quiet for SECS (default 0.25s: 250ms)"),

    /* logs */
    ACT("log-level", 0, CLI_ARG_REQUIRED, CLI_LOG_LEVEL, "LEVEL",
        "emerg, alert, crit, error, warn, notice, info or debug"),
    KEY("error-log", 0, "log.error_log", "PATH", "error log file, or stderr"),
    ACT("access-log", 0, CLI_ARG_OPTIONAL, CLI_ACCESS_LOG, "[DEST]",
        "access log on stderr, or to DEST: PATH, stdout, stderr, off "
        "(--no-access-log: off)"),
    KEY("access-format", 0, "log.access_format", "FMT",
        "combined, json, or a format string"),
    KEY("log-config", 0, "log.config", "FILE",
        "the app's logging config: dictConfig YAML/JSON or INI"),

    /* operations */
    KEY("pid", 0, "pidfile", "PATH", "write the master's pid to PATH"),
    KEY("user", 0, "user", "USER", "workers run as USER (start as root)"),
    KEY("group", 0, "group", "GROUP", "workers run as GROUP"),
    KEY("umask", 0, "umask", "MODE", "the master's umask"),

    /* Uvicorn's choices of implementation: asgimaster has one of each. */
    ROW("loop", 0, CLI_ARG_REQUIRED, CLI_CHOICE, "auto|asyncio", NULL,
        "asgimaster runs asyncio over its own epoll loop: --loop takes only "
        "auto or asyncio",
        CLI_OURS),
    ROW("http", 0, CLI_ARG_REQUIRED, CLI_CHOICE, "auto", NULL,
        "asgimaster parses HTTP itself: --http takes only auto", CLI_OURS),
    ROW("ws", 0, CLI_ARG_REQUIRED, CLI_CHOICE, "auto|none", NULL,
        "--ws takes only auto or none", CLI_OURS),
    ROW("interface", 0, CLI_ARG_REQUIRED, CLI_CHOICE, "auto|asgi3", NULL,
        "asgimaster serves ASGI 3 apps: --interface takes only auto or asgi3",
        CLI_OURS),

    /* Gunicorn's and Hypercorn's spellings of the same keys */
    PEER_ACT("certfile", 0, CLI_TLS_CERT),
    PEER_ACT("keyfile", 0, CLI_TLS_KEY),
    PEER_ACT("keyfile-password", 0, CLI_TLS_PASSWORD),
    PEER_ACT("ca-certs", 0, CLI_TLS_CA),
    PEER("graceful-timeout", 0, "timeouts.graceful"),
    PEER("keep-alive", 0, "timeouts.keepalive"),
    PEER("timeout", 0, "timeouts.worker"),
    PEER("max-requests", 0, "max_requests"),
    PEER("worker-connections", 0, "limits.connections"),
    PEER("pid", 'p', "pidfile"),
    PEER("user", 'u', "user"),
    PEER("group", 'g', "group"),
    PEER("access-logfile", 0, "log.access_log"),
    PEER("error-logfile", 0, "log.error_log"),
    PEER("log-file", 0, "log.error_log"),
    PEER("access-logformat", 0, "log.access_format"),
    PEER("limit-request-line", 0, "limits.request_line"),
    PEER("limit-request-fields", 0, "limits.header_count"),

    /* ... and those we refuse, naming the way */
    REFUSE("worker-class", 'k', CLI_ARG_REQUIRED,
           "asgimaster runs ASGI apps in its own workers; there is no worker "
           "class to choose: drop it"),
    REFUSE("daemon", 'D', CLI_ARG_NONE,
           "asgimaster stays in the foreground: run it under systemd "
           "(conf/asgimaster.service) instead"),
    REFUSE("preload", 0, CLI_ARG_NONE,
           "workers import the app themselves after the fork; did you mean "
           "\"asgimaster -t\" to check that it imports?"),
    REFUSE("insecure-bind", 0, CLI_ARG_REQUIRED, "did you mean \"--bind\"?"),
    REFUSE("quic-bind", 0, CLI_ARG_REQUIRED,
           "HTTP/3 is not served: did you mean \"--bind\" (HTTP/1.1 and "
           "HTTP/2)?"),
    REFUSE("ssl-version", 0, CLI_ARG_REQUIRED,
           "set listen[].tls.min_version in the config file (TLS 1.2 or 1.3)"),
    REFUSE("ssl-ciphers", 0, CLI_ARG_REQUIRED,
           "set listen[].tls.ciphers in the config file"),
};

static void cli_usage_verror(const char *fmt, va_list ap)
    __attribute__((noreturn));

static void
cli_usage_verror(const char *fmt, va_list ap)
{
    fprintf(stderr, "asgimaster: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry \"asgimaster --help\" for more information.\n");
    exit(AM_EXIT_USAGE);
}

void
am_cli_usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cli_usage_verror(fmt, ap); /* exits; va_end() not reached */
}

static const am_cli_flag_t *
cli_find_long(const char *name)
{
    for (size_t i = 0; i < am_nitems(cli_flags); i++) {
        if (strcmp(cli_flags[i].name, name) == 0) {
            return &cli_flags[i];
        }
    }
    return NULL;
}

static const am_cli_flag_t *
cli_find_short(int c)
{
    for (size_t i = 0; i < am_nitems(cli_flags); i++) {
        if (cli_flags[i].short_name == c) {
            return &cli_flags[i];
        }
    }
    return NULL;
}

/* On/off flags take a --no- form. */
static int
cli_is_bool(const am_cli_flag_t *f)
{
    return f->action == CLI_BOOL || f->action == CLI_HTTP2 ||
           f->action == CLI_PROXY || f->action == CLI_ACCESS_LOG;
}

static int
cli_parse_bool(const char *v)
{
    static const char *const yes[] = { "1", "true", "yes", "on" };
    static const char *const no[] = { "0", "false", "no", "off" };

    for (size_t i = 0; i < am_nitems(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            return 1;
        }
        if (strcasecmp(v, no[i]) == 0) {
            return 0;
        }
    }
    return -1;
}

static void
cli_unknown(const char *typed)
{
    const char *name = typed + strspn(typed, "-");
    const am_cli_flag_t *best = NULL;
    size_t d, bestd = (size_t)-1;

    for (size_t i = 0; i < am_nitems(cli_flags); i++) {
        d = am_editdist_compute(name, cli_flags[i].name);
        if (d < bestd && am_editdist_is_close(name, cli_flags[i].name, d)) {
            best = &cli_flags[i];
            bestd = d;
        }
    }
    if (best != NULL) {
        am_cli_usage_error("unknown option \"%s\"; did you mean \"--%s\"?",
                           typed, best->name);
    }
    am_cli_usage_error("unknown option \"%s\"", typed);
}

/* "MODULE:ATTR"? Then it is the app, not an optional flag value. */
static int
cli_is_app(const char *s)
{
    char err[64];

    return am_conf_check_app(s, err, sizeof(err)) == AM_OK;
}

static void
cli_push(am_cli_t *cli, const am_cli_flag_t *f, const char *value,
         const char *source)
{
    am_cli_arg_t *a = &cli->args[cli->nargs++];

    a->flag = f;
    a->value = value;
    a->source = source;
}

/* ASGIMASTER_<FLAG> for our rows that set something; WEB_CONCURRENCY and
 * FORWARDED_ALLOW_IPS as the peers read them (ASGIMASTER_ wins). */
static void
cli_read_env(am_cli_t *cli)
{
    static char names[am_nitems(cli_flags)][CLI_ENV_MAX];
    const am_cli_flag_t *f;
    const char *v;
    size_t n = 0, j;

    cli->env = am_calloc(am_nitems(cli_flags) + 2, sizeof(am_cli_arg_t));

    v = getenv("WEB_CONCURRENCY");
    if (v != NULL && *v != '\0') {
        cli->env[n++] =
            (am_cli_arg_t){ cli_find_long("workers"), v, "WEB_CONCURRENCY" };
    }
    v = getenv("FORWARDED_ALLOW_IPS");
    if (v != NULL) {
        cli->env[n++] = (am_cli_arg_t){ cli_find_long("forwarded-allow-ips"), v,
                                        "FORWARDED_ALLOW_IPS" };
    }
    for (size_t i = 0; i < am_nitems(cli_flags); i++) {
        f = &cli_flags[i];
        if (f->origin != CLI_OURS || f->action <= CLI_VERSION ||
            f->action == CLI_CHOICE) {
            continue;
        }
        j = (size_t)snprintf(names[i], CLI_ENV_MAX, "ASGIMASTER_");
        for (const char *p = f->name; *p != '\0' && j + 1 < CLI_ENV_MAX; p++) {
            names[i][j++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        }
        names[i][j] = '\0';
        v = getenv(names[i]);
        if (v == NULL) {
            continue;
        }
        if (cli_is_bool(f) && f->action != CLI_ACCESS_LOG &&
            cli_parse_bool(v) == -1) {
            am_cli_usage_error("%s: expected true or false, got \"%s\"",
                               names[i], v);
        }
        cli->env[n++] = (am_cli_arg_t){ f, v, names[i] };
    }
    cli->nenv = n;
}

/* --fd N: the listener takes the inherited socket as after a binary
 * upgrade (master/upgrade.c reads ASGIMASTER_INHERIT once, at start). */
static void
cli_inherit_fds(const am_cli_t *cli)
{
    const char *old = getenv("ASGIMASTER_INHERIT"), *fd = NULL;
    char addr[256], err[256], *v;

    if (old != NULL) {
        return; /* a binary upgrade: the old master passes its sockets */
    }
    for (size_t i = 0; i < cli->nenv; i++) {
        if (cli->env[i].flag->action == CLI_FD) {
            fd = cli->env[i].value;
        }
    }
    for (size_t i = 0; i < cli->nargs; i++) {
        if (cli->args[i].flag->action == CLI_FD) {
            fd = cli->args[i].value;
        }
    }
    if (fd == NULL ||
        cli_fd_address(fd, addr, sizeof(addr), err, sizeof(err)) != AM_OK) {
        return;
    }
    v = am_alloc(strlen(fd) + strlen(addr) + 2);
    sprintf(v, "%s:%s", fd, addr);
    setenv("ASGIMASTER_INHERIT", v, 1);
    free(v);
}

void
am_cli_parse(am_cli_t *cli, int argc, char **argv)
{
    char err[CLI_ERR_SIZE];
    const am_cli_flag_t *f;
    const char *a, *value, *eq;
    char name[128], *src;
    am_conf_t *scratch;
    int i, negated;
    size_t len;

    memset(cli, 0, sizeof(*cli));
    cli->args = am_calloc((size_t)argc + 1, sizeof(am_cli_arg_t));

    for (i = 1; i < argc; i++) {
        a = argv[i];
        value = NULL;
        negated = 0;

        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (cli->app != NULL) {
                am_cli_usage_error("unexpected argument \"%s\"", a);
            }
            cli->app = a;
            continue;
        }

        if (a[1] == '-') {
            eq = strchr(a + 2, '=');
            len = eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (len >= sizeof(name)) {
                cli_unknown(a);
            }
            memcpy(name, a + 2, len);
            name[len] = '\0';
            f = cli_find_long(name);
            if (f == NULL && strncmp(name, "no-", 3) == 0) {
                f = cli_find_long(name + 3);
                if (f != NULL && !cli_is_bool(f)) {
                    f = NULL;
                }
                negated = 1;
            }
            if (f == NULL) {
                cli_unknown(a);
            }
            if (eq != NULL) {
                value = eq + 1;
            }
            src = am_strdup(a);
            if (eq != NULL) {
                src[len + 2] = '\0';
            }
        } else {
            f = cli_find_short(a[1]);
            if (f == NULL) {
                cli_unknown(a);
            }
            /* "-tc FILE": short flags without a value may be bundled. */
            if (a[2] != '\0') {
                if (f->arg == CLI_ARG_NONE) {
                    argv[i] = (char *)a + 1;
                    ((char *)a)[1] = '-';
                    i--;
                    value = NULL;
                    src = am_strdup("-t");
                    src[1] = (char)f->short_name;
                    goto got;
                }
                value = a + 2;
            }
            src = am_strdup("-x");
            src[1] = (char)f->short_name;
        }

        /* Gunicorn's -t SECONDS is our --timeout-worker. */
        if (f->action == CLI_TEST && value == NULL && i + 1 < argc &&
            argv[i + 1][0] != '\0' &&
            strspn(argv[i + 1], "0123456789") == strlen(argv[i + 1])) {
            am_cli_usage_error("\"-t %s\": -t checks the configuration; for "
                               "a worker timeout (Gunicorn's -t) use "
                               "\"--timeout-worker %s\"",
                               argv[i + 1], argv[i + 1]);
        }

        if (f->arg == CLI_ARG_REQUIRED && value == NULL) {
            if (i + 1 >= argc) {
                am_cli_usage_error("option \"%s\" needs an argument", src);
            }
            value = argv[++i];
        } else if (f->arg == CLI_ARG_OPTIONAL && value == NULL && !negated &&
                   i + 1 < argc && argv[i + 1][0] != '-' &&
                   !cli_is_app(argv[i + 1])) {
            value = argv[++i];
        } else if (f->arg == CLI_ARG_NONE && value != NULL && !cli_is_bool(f)) {
            am_cli_usage_error("option \"%s\" takes no value", src);
        }
        if (cli_is_bool(f) && value != NULL && f->arg == CLI_ARG_NONE) {
            if (cli_parse_bool(value) == -1) {
                am_cli_usage_error("%s: expected true or false, got \"%s\"",
                                   src, value);
            }
        }
        if (negated) {
            if (value != NULL) {
                am_cli_usage_error("option \"%s\" takes no value", src);
            }
            value = "false";
        } else if (value == NULL && f->arg != CLI_ARG_REQUIRED) {
            value = "true";
        }

got:
        switch (f->action) {
        case CLI_CONFIG:
            cli->file = value;
            break;
        case CLI_TEST:
            cli->test = 1;
            break;
        case CLI_SIGNAL:
            cli->signal = value;
            break;
        case CLI_VERSION:
            printf("asgimaster " AM_VERSION ", %s\n", am_venv_python());
            exit(AM_EXIT_OK);
        case CLI_HELP:
            cli_help();
            exit(AM_EXIT_OK);
        case CLI_REFUSE:
            am_cli_usage_error("\"%s\" is not an asgimaster option: %s", src,
                               f->help);
        default:
            cli_push(cli, f, value, src);
        }
    }
    for (; i < argc; i++) {
        if (cli->app != NULL) {
            am_cli_usage_error("unexpected argument \"%s\"", argv[i]);
        }
        cli->app = argv[i];
    }

    if (cli->app != NULL && !cli_is_app(cli->app)) {
        am_cli_usage_error("expected the app as MODULE:ATTR, got \"%s\"",
                           cli->app);
    }
    if (cli->file == NULL && cli->app == NULL && cli->signal == NULL) {
        am_cli_usage_error("give a config file (-c FILE) or an app "
                           "(MODULE:ATTR)");
    }
    cli_read_env(cli);

    /* A bad flag is bad usage: check them now, before the file is read. */
    scratch = am_conf_create();
    if (am_cli_apply(scratch, cli, err, sizeof(err)) != AM_OK) {
        am_cli_usage_error("%s", err);
    }
    am_conf_destroy(scratch);
    cli_inherit_fds(cli);
}

/* "  -b, --bind ADDR   help" with the help wrapped at 79 columns. */
static void
cli_help_line(const char *left, const char *help)
{
    const int indent = 33, width = 79;
    const char *p = help, *end;
    int first = 1;
    size_t n;

    if (strlen(left) > (size_t)indent - 3) {
        printf("  %s\n", left);
        first = 0;
    }
    while (*p != '\0') {
        n = strlen(p);
        if (n > (size_t)(width - indent)) {
            for (end = p + (width - indent); end > p && *end != ' '; end--) {
            }
            n = end > p ? (size_t)(end - p) : (size_t)(width - indent);
        }
        printf("  %-*s %.*s\n", indent - 3, first ? left : "", (int)n, p);
        first = 0;
        p += n;
        p += strspn(p, " ");
    }
}

static void
cli_help(void)
{
    const am_cli_flag_t *f;
    char left[64];

    printf("Usage: asgimaster [flags] MODULE:ATTR\n"
           "       asgimaster -c FILE [flags] [MODULE:ATTR]\n"
           "       asgimaster -t -c FILE\n"
           "       asgimaster -s reload|stop|quit|reopen -c FILE\n"
           "\n"
           "An ASGI application server: a master process binds the "
           "listeners\n"
           "and supervises prefork workers that run the app.\n"
           "\n");
    for (size_t i = 0; i < am_nitems(cli_flags); i++) {
        f = &cli_flags[i];
        if (f->help == NULL || f->origin != CLI_OURS ||
            f->action == CLI_CHOICE) {
            continue;
        }
        snprintf(left, sizeof(left), "%c%c%s --%s%s%s",
                 f->short_name ? '-' : ' ', f->short_name ? f->short_name : ' ',
                 f->short_name ? "," : " ", f->name, f->meta ? " " : "",
                 f->meta ? f->meta : "");
        cli_help_line(left, f->help);
    }
    printf("\n"
           "Each flag can also be set as ASGIMASTER_<FLAG> in the environment\n"
           "(--ssl-keyfile: ASGIMASTER_SSL_KEYFILE); WEB_CONCURRENCY sets\n"
           "--workers and FORWARDED_ALLOW_IPS --forwarded-allow-ips.\n"
           "Precedence: flag, then environment, then file, then default.\n"
           "Uvicorn's flags are ours; Gunicorn's --certfile, --keyfile,\n"
           "--graceful-timeout, --keep-alive, --timeout, -p are taken too.\n"
           "Without -c, the app is served on 127.0.0.1:8000, imported from\n"
           "the current directory.\n"
           "\n"
           "Signals to the master: HUP reload, TERM/INT graceful stop, QUIT\n"
           "immediate stop, USR1 reopen logs, USR2 binary upgrade, TTIN/TTOU\n"
           "one worker more/less.\n"
           "Exit status: 0 stopped, 1 bad config, bind or boot failure, 2 "
           "bad usage.\n"
           "See asgimaster(8) and asgimaster.yaml(5).\n");
}

/* Apply */

static int
cli_set(am_conf_t *conf, const am_cli_arg_t *a, const char *key,
        const char *value, char *err, size_t size)
{
    char sub[CLI_ERR_SIZE - 64];

    if (am_conf_set(conf, key, value, sub, sizeof(sub)) != AM_OK) {
        snprintf(err, size, "%s: %s", a->source, sub);
        return AM_ERROR;
    }
    return AM_OK;
}

/* --env-file: NAME=value lines, "#" comments, "export " and quotes
 * allowed (the dotenv habit); the config's env: wins over the file. */
static int
cli_env_file(am_conf_t *conf, const am_cli_arg_t *a, char *err, size_t size)
{
    char line[4096], *p, *eq, *v, *end;
    FILE *fp = fopen(a->value, "re");
    int n = 0, found;

    if (fp == NULL) {
        snprintf(err, size, "%s: cannot open \"%s\": %s", a->source, a->value,
                 strerror(errno));
        return AM_ERROR;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        n++;
        line[strcspn(line, "\r\n")] = '\0';
        p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\0') {
            continue;
        }
        if (strncmp(p, "export ", 7) == 0) {
            p += 7 + strspn(p + 7, " \t");
        }
        eq = strchr(p, '=');
        if (eq == NULL || eq == p) {
            snprintf(err, size, "%s:%d: expected NAME=value", a->value, n);
            fclose(fp);
            return AM_ERROR;
        }
        for (end = eq; end > p && (end[-1] == ' ' || end[-1] == '\t');) {
            end--;
        }
        *end = '\0';
        v = eq + 1 + strspn(eq + 1, " \t");
        end = v + strlen(v);
        if (end - v >= 2 && (*v == '"' || *v == '\'') && end[-1] == *v) {
            v++;
            end[-1] = '\0';
        }
        found = 0;
        for (size_t i = 0; i < conf->nenv; i++) {
            found |= strcmp(conf->env_names[i], p) == 0;
        }
        if (found) {
            continue;
        }
        conf->env_names =
            am_realloc(conf->env_names, (conf->nenv + 1) * sizeof(char *));
        conf->env_values =
            am_realloc(conf->env_values, (conf->nenv + 1) * sizeof(char *));
        conf->env_names[conf->nenv] = am_strdup(p);
        conf->env_values[conf->nenv++] = am_strdup(v);
    }
    fclose(fp);
    return AM_OK;
}

/* The char * of a CLI_LIST key. */
static char **
cli_list_field(am_conf_t *conf, const char *key)
{
    if (strcmp(key, "reload_dirs") == 0) {
        return &conf->reload_dirs;
    }
    if (strcmp(key, "reload_includes") == 0) {
        return &conf->reload_includes;
    }
    AM_ASSERT(strcmp(key, "reload_excludes") == 0);
    return &conf->reload_excludes;
}

static int
cli_apply_one(am_conf_t *conf, const am_cli_arg_t *a, cli_listen_t *ls,
              char *err, size_t size)
{
    const am_cli_flag_t *f = a->flag;
    const char *v = a->value;
    char *pp[1];
    int b;

    switch (f->action) {
    case CLI_KEY:
    case CLI_BOOL:
        return cli_set(conf, a, f->key, v, err, size);

    case CLI_LIST: {
        char **cur = cli_list_field(conf, f->key), *joined;
        int rc;
        size_t j;

        /* The first value of a source replaces the file's, the next
         * ones add to it. */
        for (j = 0; j < ls->nlists && ls->lists[j] != f; j++) {
        }
        if (j == ls->nlists || *cur == NULL) {
            if (j == ls->nlists && ls->nlists < am_nitems(ls->lists)) {
                ls->lists[ls->nlists++] = f;
            }
            return cli_set(conf, a, f->key, v, err, size);
        }
        joined = am_alloc(strlen(*cur) + strlen(v) + 2);
        sprintf(joined, "%s,%s", *cur, v);
        rc = cli_set(conf, a, f->key, joined, err, size);
        free(joined);
        return rc;
    }

    case CLI_NOTHING:
        return AM_OK;

    case CLI_CHOICE: {
        char choices[64], *save, *c;

        snprintf(choices, sizeof(choices), "%s", f->key);
        for (c = strtok_r(choices, "|", &save); c != NULL;
             c = strtok_r(NULL, "|", &save)) {
            if (strcmp(c, v) == 0) {
                return AM_OK;
            }
        }
        snprintf(err, size, "%s %s: %s", a->source, v, f->help);
        return AM_ERROR;
    }

    case CLI_LOG_LEVEL:
        if (strcmp(v, "critical") == 0) {
            v = "crit";
        } else if (strcmp(v, "trace") == 0) {
            v = "debug";
        }
        return cli_set(conf, a, "log.level", v, err, size);

    case CLI_ACCESS_LOG:
        b = cli_parse_bool(v);
        return cli_set(conf, a, "log.access_log",
                       b == 1 ? "stderr" : (b == 0 ? "off" : v), err, size);

    case CLI_PROXY:
        b = cli_parse_bool(v);
        if (b == 0) {
            return cli_set(conf, a, "forwarded_allow_ips", "", err, size);
        }
        return AM_OK;

    case CLI_APP_DIR:
        /* pythonpath with DIR first, the file's paths after it */
        pp[0] = am_strdup(v);
        conf->pythonpath = am_realloc(conf->pythonpath,
                                      (conf->npythonpath + 1) * sizeof(char *));
        memmove(conf->pythonpath + 1, conf->pythonpath,
                conf->npythonpath * sizeof(char *));
        conf->pythonpath[0] = pp[0];
        conf->npythonpath++;
        return AM_OK;

    case CLI_ENV_FILE:
        return cli_env_file(conf, a, err, size);

    case CLI_BIND:
        if (ls->nbinds == am_nitems(ls->binds)) {
            snprintf(err, size, "%s: at most %zu", a->source,
                     am_nitems(ls->binds));
            return AM_ERROR;
        }
        ls->binds[ls->nbinds++] = v;
        ls->addresses = 1;
        return AM_OK;
    case CLI_HOST:
        ls->host = v;
        ls->addresses = 1;
        return AM_OK;
    case CLI_PORT:
        ls->port = v;
        ls->addresses = 1;
        return AM_OK;
    case CLI_UDS:
        ls->uds = v;
        ls->addresses = 1;
        return AM_OK;
    case CLI_FD:
        ls->fd = v;
        ls->addresses = 1;
        return AM_OK;
    case CLI_BACKLOG:
        ls->backlog = v;
        return AM_OK;
    case CLI_HTTP2:
        ls->http2 = cli_parse_bool(v);
        return AM_OK;
    case CLI_TLS_CERT:
        ls->cert = v;
        ls->cert_src = a->source;
        return AM_OK;
    case CLI_TLS_KEY:
        ls->key = v;
        ls->key_src = a->source;
        return AM_OK;
    case CLI_TLS_PASSWORD:
        ls->password = v;
        return AM_OK;
    case CLI_TLS_CA:
        ls->ca = v;
        return AM_OK;
    case CLI_TLS_REQS:
        ls->reqs = v;
        return AM_OK;

    default:
        break;
    }
    AM_ASSERT(0);
    return AM_ERROR;
}

/* The address of an inherited listening socket, as listen: writes it. */
static int
cli_fd_address(const char *v, char *buf, size_t bufsize, char *err, size_t size)
{
    struct sockaddr_storage ss = { 0 };
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN], *end;
    int accepting = 0;
    socklen_t olen = sizeof(accepting);
    long fd;

    errno = 0;
    fd = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || fd < 0 || fd > 65535) {
        snprintf(err, size,
                 "--fd: expected a file descriptor number, got "
                 "\"%s\"",
                 v);
        return AM_ERROR;
    }
    if (getsockname((int)fd, (struct sockaddr *)&ss, &len) == -1 ||
        getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &olen) ==
            -1 ||
        !accepting) {
        snprintf(err, size,
                 "--fd %ld: not a listening socket (%s): pass a socket the "
                 "parent bound and listen()ed on",
                 fd, errno != 0 ? strerror(errno) : "not listening");
        return AM_ERROR;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(buf, bufsize, "%s:%u", host, ntohs(sin->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(buf, bufsize, "[%s]:%u", host, ntohs(sin6->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        snprintf(buf, bufsize, "unix:%s",
                 ((struct sockaddr_un *)&ss)->sun_path);
    } else {
        snprintf(err, size, "--fd %ld: not a TCP or UNIX socket", fd);
        return AM_ERROR;
    }
    return AM_OK;
}

/* "8000" alone says the host is missing, not that the port is wrong. */
static int
cli_add_listen(am_conf_t *conf, const char *source, const char *address,
               char *err, size_t size)
{
    char sub[512];

    if (*address != '\0' && strspn(address, "0123456789") == strlen(address)) {
        snprintf(err, size,
                 "%s \"%s\": the host is missing: write \"127.0.0.1:%s\" "
                 "(this machine only) or \"0.0.0.0:%s\" (every interface)",
                 source, address, address, address);
        return AM_ERROR;
    }
    if (am_conf_add_listen(conf, address, sub, sizeof(sub)) != AM_OK) {
        snprintf(err, size, "%s \"%s\": %s", source, address, sub);
        return AM_ERROR;
    }
    return AM_OK;
}

static int
cli_apply_listen(am_conf_t *conf, const cli_listen_t *ls, char *err,
                 size_t size)
{
    char addr[256], sub[512];
    const char *host;
    am_tls_conf_t *t;
    am_listen_t *l;
    long n;
    char *end;

    if (ls->addresses) {
        am_conf_clear_listen(conf);
        for (size_t i = 0; i < ls->nbinds; i++) {
            if (cli_add_listen(conf, "--bind", ls->binds[i], err, size) !=
                AM_OK) {
                return AM_ERROR;
            }
        }
        if (ls->host != NULL || ls->port != NULL) {
            host = ls->host != NULL ? ls->host : "127.0.0.1";
            snprintf(addr, sizeof(addr),
                     strchr(host, ':') != NULL ? "[%s]:%s" : "%s:%s", host,
                     ls->port != NULL ? ls->port : "8000");
            if (am_conf_add_listen(conf, addr, sub, sizeof(sub)) != AM_OK) {
                snprintf(err, size, "--host/--port \"%s\": %s", addr, sub);
                return AM_ERROR;
            }
        }
        if (ls->uds != NULL) {
            snprintf(addr, sizeof(addr), "unix:%s", ls->uds);
            if (cli_add_listen(conf, "--uds", addr, err, size) != AM_OK) {
                return AM_ERROR;
            }
        }
        if (ls->fd != NULL) {
            if (cli_fd_address(ls->fd, addr, sizeof(addr), err, size) !=
                    AM_OK ||
                cli_add_listen(conf, "--fd", addr, err, size) != AM_OK) {
                return AM_ERROR;
            }
        }
    }

    if ((ls->cert != NULL) != (ls->key != NULL)) {
        snprintf(err, size, "%s needs %s too",
                 ls->cert != NULL ? ls->cert_src : ls->key_src,
                 ls->cert != NULL ? "--ssl-keyfile" : "--ssl-certfile");
        return AM_ERROR;
    }
    if (ls->cert == NULL &&
        (ls->password != NULL || ls->ca != NULL || ls->reqs != NULL)) {
        snprintf(err, size,
                 "--ssl-keyfile-password, --ssl-ca-certs and "
                 "--ssl-cert-reqs need --ssl-certfile and "
                 "--ssl-keyfile");
        return AM_ERROR;
    }
    if ((ls->cert != NULL || ls->http2 != -1 || ls->backlog != NULL) &&
        conf->nlisten == 0 &&
        am_conf_add_listen(conf, "127.0.0.1:8000", err, size) != AM_OK) {
        return AM_ERROR;
    }

    for (size_t i = 0; i < conf->nlisten; i++) {
        l = &conf->listen[i];
        if (l->metrics) {
            continue;
        }
        if (ls->http2 != -1) {
            l->http2 = ls->http2;
        }
        if (ls->backlog != NULL) {
            errno = 0;
            n = strtol(ls->backlog, &end, 10);
            if (errno != 0 || end == ls->backlog || *end != '\0' || n < 1 ||
                n > 65535) {
                snprintf(err, size, "--backlog: expected 1..65535, got \"%s\"",
                         ls->backlog);
                return AM_ERROR;
            }
            l->backlog = (int)n;
        }
        if (ls->cert == NULL) {
            continue;
        }
        t = l->tls;
        if (t == NULL) {
            t = am_calloc(1, sizeof(*t));
            t->min_version = 0x0303; /* as listen.tls.min_version's default */
            t->client_auth = AM_TLS_CLIENT_AUTH_NONE;
            l->tls = t;
        }
        free(t->certificate);
        t->certificate = am_strdup(ls->cert);
        free(t->key);
        t->key = am_strdup(ls->key);
        if (ls->password != NULL) {
            free(t->key_password);
            t->key_password = am_strdup(ls->password);
        }
        if (ls->ca != NULL) {
            free(t->client_ca);
            t->client_ca = am_strdup(ls->ca);
        }
        if (ls->reqs != NULL) {
            if (strcmp(ls->reqs, "0") == 0 || strcmp(ls->reqs, "none") == 0) {
                t->client_auth = AM_TLS_CLIENT_AUTH_NONE;
            } else if (strcmp(ls->reqs, "1") == 0 ||
                       strcmp(ls->reqs, "optional") == 0) {
                t->client_auth = AM_TLS_CLIENT_AUTH_OPTIONAL;
            } else if (strcmp(ls->reqs, "2") == 0 ||
                       strcmp(ls->reqs, "required") == 0 ||
                       strcmp(ls->reqs, "require") == 0) {
                t->client_auth = AM_TLS_CLIENT_AUTH_REQUIRE;
            } else {
                snprintf(err, size,
                         "--ssl-cert-reqs: expected 0 (none), 1 (optional) "
                         "or 2 (required), got \"%s\"",
                         ls->reqs);
                return AM_ERROR;
            }
        }
    }
    return AM_OK;
}

int
am_cli_apply(am_conf_t *conf, const am_cli_t *cli, char *err, size_t size)
{
    cli_listen_t env, flags, *ls;

    memset(&env, 0, sizeof(env));
    memset(&flags, 0, sizeof(flags));
    env.http2 = -1;
    flags.http2 = -1;

    for (size_t i = 0; i < cli->nenv; i++) {
        if (cli_apply_one(conf, &cli->env[i], &env, err, size) != AM_OK) {
            return AM_ERROR;
        }
    }
    if (cli->app != NULL &&
        cli_set(conf, &(am_cli_arg_t){ NULL, NULL, "MODULE:ATTR" }, "app",
                cli->app, err, size) != AM_OK) {
        return AM_ERROR;
    }
    for (size_t i = 0; i < cli->nargs; i++) {
        if (cli_apply_one(conf, &cli->args[i], &flags, err, size) != AM_OK) {
            return AM_ERROR;
        }
    }

    /* Flags win over the environment, field by field; addresses as a
     * whole. */
    ls = &flags;
    if (!flags.addresses) {
        memcpy(flags.binds, env.binds, sizeof(env.binds));
        flags.nbinds = env.nbinds;
        flags.host = env.host;
        flags.port = env.port;
        flags.uds = env.uds;
        flags.fd = env.fd;
        flags.addresses = env.addresses;
    }
#define CLI_INHERIT(field)                                                     \
    if (flags.field == NULL) {                                                 \
        flags.field = env.field;                                               \
    }
    CLI_INHERIT(backlog)
    CLI_INHERIT(password)
    CLI_INHERIT(ca)
    CLI_INHERIT(reqs)
    if (flags.cert == NULL) {
        flags.cert = env.cert;
        flags.cert_src = env.cert_src;
    }
    if (flags.key == NULL) {
        flags.key = env.key;
        flags.key_src = env.key_src;
    }
#undef CLI_INHERIT
    if (flags.http2 == -1) {
        flags.http2 = env.http2;
    }
    return cli_apply_listen(conf, ls, err, size);
}
