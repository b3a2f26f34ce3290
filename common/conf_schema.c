/* common/conf_schema.c: every configuration key, one row each.
 *
 * Adding a key: add its field to am_conf_t (common/conf.h), its row here,
 * and its entry to man/asgimaster.yaml.5 and conf/server.yaml. Defaults are
 * written as in the file and go through the same parser as the file does,
 * so a default can never be a value the loader would refuse.
 */

#include <string.h>

#include "common/conf.h"
#include "common/conf_schema.h"

#define S AM_CONF_SCALAR
#define L AM_CONF_LIST
#define M AM_CONF_MAP

#define KiB  ((int64_t)1024)
#define MiB  (1024 * KiB)
#define GiB  (1024 * MiB)
#define SEC  ((int64_t)1000)
#define HOUR (3600 * SEC)

#define CONF(field)   offsetof(am_conf_t, field)
#define LISTEN(field) offsetof(am_listen_t, field)
#define TLS(field)    offsetof(am_tls_conf_t, field)
#define INT31         ((int64_t)0x7fffffff) /* 2^31-1, RFC 9113 §6.9.1 */

const am_conf_key_t am_conf_keys[] = {
    /* application */
    { "app", S, AM_CONF_APP, CONF(app), 0, 0, NULL, 1 },
    { "factory", S, AM_CONF_BOOL, CONF(factory), 0, 1, "false", 1 },
    { "chdir", S, AM_CONF_PATH, CONF(chdir), 0, 0, NULL, 1 },
    { "pythonpath", S | L, AM_CONF_PYTHONPATH, CONF(pythonpath), 0, 0, NULL,
      1 },
    { "virtualenv", S, AM_CONF_PATH, CONF(virtualenv), 0, 0, NULL, 1 },
    { "env", M, AM_CONF_ENV, CONF(env_names), 0, 0, NULL, 1 },
    { "workers", S, AM_CONF_WORKERS, CONF(workers), 1, 1024, "auto", 1 },
    { "lifespan", S, AM_CONF_LIFESPAN, CONF(lifespan), 0, 0, "auto", 1 },
    { "root_path", S, AM_CONF_STRING, CONF(root_path), 0, 0, "", 1 },
    { "server_header", S, AM_CONF_BOOL, CONF(server_header), 0, 1, "true", 1 },

    /* --reload, for development (master/watch.c) */
    { "reload", S, AM_CONF_BOOL, CONF(reload), 0, 1, "false", 0 },
    { "reload_dirs", S, AM_CONF_STRING, CONF(reload_dirs), 0, 0, NULL, 0 },
    { "reload_includes", S, AM_CONF_STRING, CONF(reload_includes), 0, 0, NULL,
      0 },
    { "reload_excludes", S, AM_CONF_STRING, CONF(reload_excludes), 0, 0, NULL,
      0 },
    { "reload_delay", S, AM_CONF_MSEC, CONF(reload_delay), 0, 60 * SEC, "250ms",
      0 },

    /* listeners; the default (127.0.0.1:8000) comes from am_conf_finish() */
    { "listen", S | L | M, AM_CONF_LISTEN, CONF(listen), 0, 0, NULL, 1 },
    { "listen.address", S, AM_CONF_ADDRESS, LISTEN(address), 0, 0, NULL, 0 },
    { "listen.backlog", S, AM_CONF_BACKLOG, LISTEN(backlog), 1, 65535, "1024",
      0 },
    { "listen.mode", S, AM_CONF_MODE, LISTEN(mode), 0, 0777, NULL, 0 },
    { "listen.http2", S, AM_CONF_BOOL, LISTEN(http2), 0, 1, "true", 0 },
    { "listen.proxy_protocol", S, AM_CONF_BOOL, LISTEN(proxy_protocol), 0, 1,
      "false", 0 },
    { "listen.tls", M, AM_CONF_TLS, LISTEN(tls), 0, 0, NULL, 0 },
    { "listen.tls.certificate", S, AM_CONF_PATH, TLS(certificate), 0, 0, NULL,
      0 },
    { "listen.tls.key", S, AM_CONF_PATH, TLS(key), 0, 0, NULL, 0 },
    { "listen.tls.key_password", S, AM_CONF_STRING, TLS(key_password), 0, 0,
      NULL, 0 },
    { "listen.tls.key_password_file", S, AM_CONF_PATH, TLS(key_password_file),
      0, 0, NULL, 0 },
    { "listen.tls.client_ca", S, AM_CONF_PATH, TLS(client_ca), 0, 0, NULL, 0 },
    { "listen.tls.client_auth", S, AM_CONF_CLIENT_AUTH, TLS(client_auth), 0, 0,
      "none", 0 },
    { "listen.tls.min_version", S, AM_CONF_TLS_VERSION, TLS(min_version), 0, 0,
      "1.2", 0 },
    { "listen.tls.ciphers", S, AM_CONF_STRING, TLS(ciphers), 0, 0, NULL, 0 },
    { "listen.tls.ciphersuites", S, AM_CONF_STRING, TLS(ciphersuites), 0, 0,
      NULL, 0 },

    /* proxies: whose Forwarded / X-Forwarded-* headers are believed */
    { "forwarded_allow_ips", S | L, AM_CONF_CIDRS, CONF(forwarded_allow), 0, 0,
      "127.0.0.1 ::1", 1 },

    /* logs */
    { "log", M, AM_CONF_SECTION, 0, 0, 0, NULL, 1 },
    { "log.level", S, AM_CONF_LOG_LEVEL, CONF(log_level), 0, 0, "notice", 1 },
    { "log.error_log", S, AM_CONF_ERROR_LOG, CONF(error_log), 0, 0, "stderr",
      1 },
    { "log.access_log", S, AM_CONF_ACCESS_LOG, CONF(access_log), 0, 0, "auto",
      1 },
    { "log.config", S, AM_CONF_PATH, CONF(log_config), 0, 0, NULL, 1 },
    { "log.access_format", S, AM_CONF_ACCESS_FMT, CONF(access_format), 0, 0,
      "combined", 1 },

    /* limits */
    { "limits", M, AM_CONF_SECTION, 0, 0, 0, NULL, 1 },
    { "limits.request_line", S, AM_CONF_SIZE, CONF(limit_request_line), 256,
      1 * MiB, "8KiB", 1 },
    { "limits.header_size", S, AM_CONF_SIZE, CONF(limit_header_size), 1 * KiB,
      16 * MiB, "64KiB", 1 },
    { "limits.header_count", S, AM_CONF_COUNT, CONF(limit_header_count), 1,
      10000, "100", 1 },
    { "limits.body_size", S, AM_CONF_SIZE, CONF(limit_body_size), 0, INT64_MAX,
      "100MiB", 1 },
    { "limits.body_buffer", S, AM_CONF_SIZE, CONF(limit_body_buffer), 1 * KiB,
      1 * GiB, "64KiB", 1 },
    { "limits.write_buffer", S, AM_CONF_SIZE, CONF(limit_write_buffer), 1 * KiB,
      1 * GiB, "256KiB", 1 },
    { "limits.connections", S, AM_CONF_COUNT, CONF(limit_connections), 1,
      1000000, "10000", 1 },
    { "limits.chunk_extensions", S, AM_CONF_SIZE, CONF(limit_chunk_extensions),
      0, 16 * MiB, "4KiB", 1 },
    { "limits.body_min_rate", S, AM_CONF_SIZE, CONF(limit_body_min_rate), 0,
      1 * GiB, "500", 1 },

    /* http2: the SETTINGS we advertise (RFC 9113 §6.5.2) */
    { "http2", M, AM_CONF_SECTION, 0, 0, 0, NULL, 1 },
    { "http2.max_concurrent_streams", S, AM_CONF_COUNT,
      CONF(h2_max_concurrent_streams), 1, INT31, "100", 1 },
    { "http2.initial_window_size", S, AM_CONF_SIZE,
      CONF(h2_initial_window_size), 1 * KiB, INT31, "256KiB", 1 },
    { "http2.connection_window", S, AM_CONF_SIZE, CONF(h2_connection_window),
      65535, INT31, "1MiB", 1 },
    { "http2.max_frame_size", S, AM_CONF_SIZE, CONF(h2_max_frame_size), 16384,
      16777215, "16KiB", 1 },
    { "http2.header_table_size", S, AM_CONF_SIZE, CONF(h2_header_table_size), 0,
      16 * MiB, "4KiB", 1 },
    { "http2.max_header_list_size", S, AM_CONF_SIZE,
      CONF(h2_max_header_list_size), 1 * KiB, 16 * MiB, "64KiB", 1 },
    { "http2.reset_budget", S, AM_CONF_COUNT, CONF(h2_reset_budget), 0, 1000000,
      "100", 1 },
    { "http2.empty_frame_budget", S, AM_CONF_COUNT, CONF(h2_empty_frame_budget),
      0, 1000000, "1000", 1 },

    /* websocket (issue 9) */
    { "websocket", M, AM_CONF_SECTION, 0, 0, 0, NULL, 1 },
    { "websocket.enabled", S, AM_CONF_BOOL, CONF(ws_enabled), 0, 1, "true", 1 },
    { "websocket.compression", S, AM_CONF_BOOL, CONF(ws_compression), 0, 1,
      "true", 1 },
    { "websocket.max_message_size", S, AM_CONF_SIZE, CONF(ws_max_message_size),
      1, 1 * GiB, "16MiB", 1 },
    { "websocket.max_queue", S, AM_CONF_COUNT, CONF(ws_max_queue), 1, 100000,
      "32", 1 },
    { "websocket.ping_interval", S, AM_CONF_MSEC, CONF(ws_ping_interval), 0,
      24 * HOUR, "20s", 1 },
    { "websocket.ping_timeout", S, AM_CONF_MSEC, CONF(ws_ping_timeout), 1,
      24 * HOUR, "20s", 1 },
    { "websocket.close_timeout", S, AM_CONF_MSEC, CONF(ws_close_timeout), 1,
      24 * HOUR, "5s", 1 },
    { "websocket.compression_window_bits", S, AM_CONF_INT, CONF(ws_window_bits),
      9, 15, "15", 1 },
    { "websocket.compression_mem_level", S, AM_CONF_INT, CONF(ws_mem_level), 1,
      9, "8", 1 },

    /* timeouts */
    { "timeouts", M, AM_CONF_SECTION, 0, 0, 0, NULL, 1 },
    { "timeouts.keepalive", S, AM_CONF_MSEC, CONF(timeout_keepalive), 0,
      24 * HOUR, "5s", 1 },
    { "timeouts.header_read", S, AM_CONF_MSEC, CONF(timeout_header_read), 1,
      24 * HOUR, "10s", 1 },
    { "timeouts.body_read", S, AM_CONF_MSEC, CONF(timeout_body_read), 1,
      24 * HOUR, "60s", 1 },
    { "timeouts.write", S, AM_CONF_MSEC, CONF(timeout_write), 1, 24 * HOUR,
      "60s", 1 },
    { "timeouts.graceful", S, AM_CONF_MSEC, CONF(timeout_graceful), 0,
      24 * HOUR, "30s", 1 },
    { "timeouts.boot", S, AM_CONF_MSEC, CONF(timeout_boot), 1, 24 * HOUR, "60s",
      1 },
    { "timeouts.tls_handshake", S, AM_CONF_MSEC, CONF(timeout_tls_handshake), 1,
      24 * HOUR, "10s", 1 },
    { "timeouts.h2_idle", S, AM_CONF_MSEC, CONF(timeout_h2_idle), 1, 24 * HOUR,
      "60s", 1 },
    { "timeouts.worker", S, AM_CONF_MSEC, CONF(timeout_worker), 1, 24 * HOUR,
      "30s", 1 },

    /* operations (issue 5): the master's process, worker recycling */
    { "pidfile", S, AM_CONF_PATH, CONF(pidfile), 0, 0, NULL, 0 },
    { "user", S, AM_CONF_STRING, CONF(user), 0, 0, NULL, 0 },
    { "group", S, AM_CONF_STRING, CONF(group), 0, 0, NULL, 0 },
    { "umask", S, AM_CONF_MODE, CONF(umask), 0, 0777, NULL, 0 },
    { "max_requests", S, AM_CONF_COUNT, CONF(max_requests), 0, INT31, "0", 1 },
    { "max_requests_jitter", S, AM_CONF_COUNT, CONF(max_requests_jitter), 0,
      INT31, "0", 1 },

    /* the Prometheus endpoint, served by the workers on its own listener */
    { "metrics", M, AM_CONF_SECTION, 0, 0, 0, NULL, 1 },
    { "metrics.address", S, AM_CONF_HOSTPORT, CONF(metrics_address), 0, 0, NULL,
      1 },
    { "metrics.path", S, AM_CONF_STRING, CONF(metrics_path), 0, 0, "/metrics",
      1 },
};

const size_t am_conf_nkeys = sizeof(am_conf_keys) / sizeof(am_conf_keys[0]);

const am_conf_key_t *
am_conf_schema_find(const char *name)
{
    for (size_t i = 0; i < am_conf_nkeys; i++) {
        if (strcmp(am_conf_keys[i].name, name) == 0) {
            return &am_conf_keys[i];
        }
    }
    return NULL;
}
