/* common/conf.h: the configuration, loaded from YAML (libyaml), validated
 * completely before anything is bound or forked.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * One path into a fresh am_conf_t serves start-up, `asgimaster -t` and (later)
 * SIGHUP: am_conf_create() gives the defaults, am_conf_load() applies a file,
 * the master applies command-line overrides, am_conf_finish() fills what
 * depends on the rest (worker count, default listener, resolved addresses).
 * Errors are written into err as "file:line:col: what is wrong".
 *
 * This header is the loader's public API; common/conf_*.c implement it,
 * one job per file (docs/ARCHITECTURE.md has the map): conf_load.c walks
 * the file, conf_set.c sets values and owns am_conf_t's lifetime,
 * conf_address.c parses listener addresses, conf_value.c the scalars,
 * conf_finish.c am_conf_finish().
 */
#ifndef AM_COMMON_CONF_H
#define AM_COMMON_CONF_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "common/cidr.h"
#include "common/core.h"

enum {
    AM_LIFESPAN_AUTO = 0,
    AM_LIFESPAN_ON,
    AM_LIFESPAN_OFF
};

enum {
    AM_TLS_CLIENT_AUTH_NONE = 0,
    AM_TLS_CLIENT_AUTH_OPTIONAL,
    AM_TLS_CLIENT_AUTH_REQUIRE
};

/* listen[].tls (issue 4). Paths relative to the master's start directory;
 * am_conf_finish() makes them absolute, so a worker that changed to chdir
 * still finds them. */
typedef struct am_tls_conf_s {
    char *certificate;       /* PEM chain, leaf first (required) */
    char *key;               /* PEM private key (required) */
    char *key_password;      /* of an encrypted key; never asked on a tty */
    char *key_password_file; /* its first line is the password */
    char *client_ca;         /* PEM CA bundle for client certificates */
    int client_auth;         /* AM_TLS_CLIENT_AUTH_*, default none */
    int min_version;         /* 0x0303 (TLS 1.2, default) or 0x0304 */
    char *ciphers;           /* TLS <= 1.2 cipher list, NULL: OpenSSL's */
    char *ciphersuites;      /* TLS 1.3 suites, NULL: OpenSSL's */
    int line, column;        /* of the "tls" key, for errors */
} am_tls_conf_t;

typedef struct am_listen_s {
    char *address; /* as written: "127.0.0.1:8000", "[::1]:8000", "unix:/p" */
    struct sockaddr_storage addr; /* resolved by am_conf_parse_address() */
    socklen_t addrlen;
    int family;         /* AF_INET, AF_INET6 or AF_UNIX */
    char *path;         /* AF_UNIX: the socket path, else NULL */
    int backlog;        /* listen(2) backlog, default 1024 */
    int mode;           /* AF_UNIX: chmod of the socket, -1 for the umask's */
    int fd;             /* set by the master once bound, -1 before */
    int line, column;   /* where it was declared, for errors; 0 from a flag */
    am_tls_conf_t *tls; /* listen[].tls, NULL for cleartext (owned) */
    int http2;          /* listen[].http2, default 1 */
    int proxy_protocol; /* listen[].proxy_protocol, default 0 */
    int metrics;        /* the metrics.address listener, added last by
                           am_conf_finish(): workers serve metrics there */
} am_listen_t;

typedef struct am_conf_s {
    char *file; /* the config file, NULL with no -c */

    /* application */
    char *app;         /* "module:attr" (attr may be dotted) */
    int factory;       /* app is a factory: call it with no arguments */
    char *chdir;       /* chdir before import; default: the cwd */
    char **pythonpath; /* prepended to sys.path, in order */
    size_t npythonpath;
    char *virtualenv; /* default: $VIRTUAL_ENV when set */
    char **env_names; /* set in the workers' environment */
    char **env_values;
    size_t nenv;
    int workers;       /* 0 in the file means: number of CPUs */
    int lifespan;      /* AM_LIFESPAN_* */
    char *root_path;   /* ASGI root_path, "" by default */
    int server_header; /* send "Server: asgimaster", default 1 */

    /* --reload (development): master/watch.c */
    int reload;             /* watch the sources, reload on a change */
    char *reload_dirs;      /* comma-separated; NULL: chdir or the cwd */
    char *reload_includes;  /* comma-separated globs; NULL: "*.py" */
    char *reload_excludes;  /* comma-separated globs */
    am_msec_t reload_delay; /* quiet time before reloading, 250ms */

    am_listen_t *listen; /* default: one listener on 127.0.0.1:8000 */
    size_t nlisten;

    /* log */
    int log_level;       /* AM_LOG_*, default notice */
    char *error_log;     /* path; NULL is stderr */
    char *access_log;    /* path, "stdout", "stderr"; NULL is off */
    char *access_format; /* "combined" (default) or a format string */
    char *log_config;    /* the app's logging: a dictConfig YAML/JSON file
                            or a fileConfig INI file; NULL: ours */

    /* limits (bytes or counts) */
    size_t limit_request_line; /* 8KiB: longer -> 414 */
    size_t limit_header_size;  /* 64KiB, all header fields: -> 431 */
    size_t limit_header_count; /* 100 fields: more -> 431 */
    size_t limit_body_size;    /* 100MiB; 0 is unlimited: more -> 413 */
    size_t limit_body_buffer;  /* 64KiB of request body buffered before
                                  reading the socket pauses */
    size_t limit_write_buffer; /* 256KiB of response output queued before
                                  send() waits for the socket */
    size_t limit_connections;  /* per worker, default 10000 */
    /* issue 10: chunk-ext bytes per request (all chunk lines), 4KiB: more
     * -> 400; the bytes/s a request body must average once
     * timeouts.body_read has passed since its head, 500: less -> 408 */
    size_t limit_chunk_extensions;
    size_t limit_body_min_rate;

    /* http2 (RFC 9113 §6.5.2 SETTINGS we advertise) */
    size_t h2_max_concurrent_streams; /* 100 */
    size_t h2_initial_window_size;    /* 256KiB per stream (max 2^31-1) */
    size_t h2_connection_window; /* 1MiB per connection: the bound on buffered
                                    request bodies */
    size_t h2_max_frame_size;    /* 16KiB (16384..16777215) */
    size_t h2_header_table_size; /* 4KiB */
    size_t h2_max_header_list_size; /* 64KiB */
    /* RST_STREAMs we send on a connection (100), refilled budget/10 a
     * second, then GOAWAY ENHANCE_YOUR_CALM; 0: off */
    size_t h2_reset_budget;
    /* frames without payload or effect (1000), refilled likewise */
    size_t h2_empty_frame_budget;

    /* Peers whose Forwarded / X-Forwarded-* headers are believed.
     * Default: 127.0.0.1 and ::1. "*" trusts everyone (nforwarded = 0,
     * forwarded_all = 1). */
    am_cidr_t *forwarded_allow;
    size_t nforwarded_allow;
    int forwarded_all;

    /* TLS session ticket keys, made once by am_conf_finish() (random) and
     * inherited by every worker so a ticket works on any of them. */
    unsigned char tls_ticket_keys[80];

    /* operations (issue 5) */
    char *pidfile;
    char *user; /* workers drop to this user after binding */
    char *group;
    int umask;           /* -1: leave as inherited */
    size_t max_requests; /* 0: never recycle. In a worker's copy the
                            master stores the value with its jitter. */
    size_t max_requests_jitter;
    char *metrics_address; /* metrics.address; NULL: no metrics listener */
    char *metrics_path;    /* "/metrics" */

    /* websocket (issue 9) */
    int ws_enabled;             /* 1: serve WebSocket handshakes */
    int ws_compression;         /* 1: accept permessage-deflate offers */
    size_t ws_max_message_size; /* 16MiB: a larger message gets 1009 */
    size_t ws_max_queue;        /* 32 messages toward the app, then reading
                                   pauses */
    am_msec_t ws_ping_interval; /* 20s between keep-alive pings; 0: off */
    am_msec_t ws_ping_timeout;  /* 20s without a pong: close 1011 */
    am_msec_t ws_close_timeout; /* 5s for the client's closing frame */
    int ws_window_bits;         /* 15: permessage-deflate window, 9..15 */
    int ws_mem_level;           /* 8: zlib memLevel, 1..9 */

    /* timeouts (milliseconds) */
    am_msec_t timeout_keepalive;     /* 5s idle between requests */
    am_msec_t timeout_header_read;   /* 10s to receive a request head: 408 */
    am_msec_t timeout_body_read;     /* 60s without body bytes: close */
    am_msec_t timeout_write;         /* 60s without write progress: close */
    am_msec_t timeout_graceful;      /* 30s for a graceful stop */
    am_msec_t timeout_boot;          /* 60s for import + lifespan startup */
    am_msec_t timeout_tls_handshake; /* 10s */
    am_msec_t timeout_h2_idle;       /* 60s without streams: GOAWAY */
    am_msec_t timeout_worker;        /* 30s without a heartbeat: abort */
} am_conf_t;

/* Defaults only; never NULL. */
am_conf_t *am_conf_create(void);
void am_conf_destroy(am_conf_t *conf);

/* Apply a YAML file (or a string, for tests: name is used in messages) on
 * top of conf. Returns AM_OK, or AM_ERROR with err filled. Unknown keys are
 * errors with a "did you mean" suggestion. */
int am_conf_load(am_conf_t *conf, const char *file, char *err, size_t size);
int am_conf_load_string(am_conf_t *conf, const char *name, const char *yaml,
                        size_t len, char *err, size_t size);

/* Fill defaults that depend on the rest (workers from the CPU count, the
 * default listener, $VIRTUAL_ENV) and check cross-key rules. AM_OK or
 * AM_ERROR with err filled. */
int am_conf_finish(am_conf_t *conf, char *err, size_t size);

/* Add a listener from "host:port", "[v6]:port", ":port", "unix:/path"
 * (a --bind flag or a listen[].address). AM_OK or AM_ERROR with err
 * holding what is wrong (without a position). */
int am_conf_add_listen(am_conf_t *conf, const char *address, char *err,
                       size_t size);
int am_conf_parse_address(const char *address, am_listen_t *l, char *err,
                          size_t size);
void am_conf_clear_listen(am_conf_t *conf);

/* 1 when two listeners name the same socket address (a port of 0 never
 * matches: the kernel picks a fresh one each time). */
int am_conf_listen_same(const am_listen_t *a, const am_listen_t *b);

/* "64KiB", "10MB", "1024" -> bytes; "5s", "250ms", "2m", "1h" -> ms.
 * AM_OK or AM_ERROR. */
int am_parse_size(const char *s, size_t *out);
int am_parse_duration(const char *s, am_msec_t *out);

/* Set one key from a string as the file would (a command-line flag):
 * am_conf_set(conf, "workers", "4", ...), "log.level", "lifespan",
 * "log.access_log", "chdir", "root_path", "factory" ("true"), "pythonpath"
 * (one path), "listen" (replaces the listeners with one address). Lists
 * and maps other than those cannot be set so. AM_OK or AM_ERROR with err
 * naming the key, what was expected and what was found (no position). */
int am_conf_set(am_conf_t *conf, const char *key, const char *value, char *err,
                size_t size);

/* "module:attr" with dotted identifiers on both sides? AM_OK, or AM_ERROR
 * with err saying what is wrong. */
int am_conf_check_app(const char *app, char *err, size_t size);

#endif
