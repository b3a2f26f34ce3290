/* tests/unit/common/test_conf.c: the YAML config loader (common/conf_*.c):
 * every key, the defaults, listener addresses and the exact text of every kind
 * of error, position included.
 */

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cidr.h"
#include "common/conf.h"
#include "common/conf_schema.h"
#include "common/log.h"
#include "tests/unit/unit.h"

static char err[1024];

/* Load yaml on the defaults; the test owns the result. */
static am_conf_t *
load(const char *yaml)
{
    am_conf_t *conf = am_conf_create();
    int rc;

    err[0] = '\0';
    rc = am_conf_load_string(conf, "server.yaml", yaml, strlen(yaml), err,
                             sizeof(err));
    if (rc != AM_OK) {
        fprintf(stderr, "  unexpected error: %s\n", err);
    }
    ASSERT_EQ(rc, AM_OK);
    return conf;
}

/* The error yaml gives. */
static const char *
load_error(const char *yaml)
{
    am_conf_t *conf = am_conf_create();
    int rc;

    err[0] = '\0';
    rc = am_conf_load_string(conf, "server.yaml", yaml, strlen(yaml), err,
                             sizeof(err));
    am_conf_destroy(conf);
    ASSERT_EQ(rc, AM_ERROR);
    return err;
}

static const char *
write_file(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/test_conf.%d.yaml", (int)getpid());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_TRUE(fd != -1);
    ASSERT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    return path;
}

static const char full_yaml[] =
    "# every key, none at its default\n"
    "app: pkg.main:make.app\n"
    "factory: yes\n"
    "chdir: /srv/app\n"
    "pythonpath: [src, lib]\n"
    "virtualenv: /srv/venv\n"
    "env: {MODE: prod, PORT: 8000, EMPTY: }\n"
    "workers: 3\n"
    "lifespan: off\n"
    "root_path: /api\n"
    "server_header: false\n"
    "listen:\n"
    "  - address: 127.0.0.1:8001\n"
    "    backlog: 511\n"
    "  - address: unix:/run/app.sock\n"
    "    mode: \"0660\"\n"
    "  - \"[::1]:8002\"\n"
    "  - :8003\n"
    "  - address: 127.0.0.1:8443\n"
    "    http2: off\n"
    "    proxy_protocol: true\n"
    "    tls:\n"
    "      certificate: /etc/am/chain.pem\n"
    "      key: key.pem\n"
    "      key_password: s3cret\n"
    "      key_password_file: /etc/am/keypass\n"
    "      client_ca: /etc/am/ca.pem\n"
    "      client_auth: optional\n"
    "      min_version: TLSv1.3\n"
    "      ciphers: ECDHE+AESGCM\n"
    "      ciphersuites: TLS_AES_256_GCM_SHA384\n"
    "forwarded_allow_ips: [10.0.0.0/8, \"fd00::/8\", 192.168.1.7]\n"
    "http2:\n"
    "  max_concurrent_streams: 250\n"
    "  initial_window_size: 1MiB\n"
    "  connection_window: 16MiB\n"
    "  max_frame_size: 1MiB\n"
    "  header_table_size: 0\n"
    "  max_header_list_size: 32KiB\n"
    "  reset_budget: 50\n"
    "  empty_frame_budget: 0\n"
    "log:\n"
    "  level: debug\n"
    "  error_log: /var/log/am/error.log\n"
    "  access_log: /var/log/am/access.log\n"
    "  access_format: \"$remote_addr $status ${request_time}s\"\n"
    "  config: /etc/am/logging.json\n"
    "limits:\n"
    "  request_line: 4KiB\n"
    "  header_size: 32KB\n"
    "  header_count: 50\n"
    "  body_size: 0\n"
    "  body_buffer: 1MiB\n"
    "  write_buffer: 2M\n"
    "  connections: 500\n"
    "  chunk_extensions: 2KiB\n"
    "  body_min_rate: 1KiB\n"
    "timeouts:\n"
    "  keepalive: 250ms\n"
    "  header_read: 2\n"
    "  body_read: 1m30s\n"
    "  write: 1h\n"
    "  graceful: 0\n"
    "  boot: 2m\n"
    "  tls_handshake: 3s\n"
    "  h2_idle: 5m\n"
    "  worker: 45s\n"
    "pidfile: /run/am.pid\n"
    "user: www-data\n"
    "group: www-data\n"
    "umask: \"027\"\n"
    "max_requests: 1000\n"
    "max_requests_jitter: 50\n"
    "reload: true\n"
    "reload_dirs: src, lib\n"
    "reload_includes: \"*.py, *.html\"\n"
    "reload_excludes: \"test_*.py\"\n"
    "reload_delay: 1s\n"
    "metrics:\n"
    "  address: 127.0.0.1:9100\n"
    "  path: /m\n"
    "websocket:\n"
    "  enabled: false\n"
    "  compression: off\n"
    "  max_message_size: 1MiB\n"
    "  max_queue: 4\n"
    "  ping_interval: 0\n"
    "  ping_timeout: 3s\n"
    "  close_timeout: 2s\n"
    "  compression_window_bits: 10\n"
    "  compression_mem_level: 2\n";

TEST(full_file_every_key)
{
    am_conf_t *c = load(full_yaml);
    struct sockaddr_in *sin;
    struct sockaddr_in6 *sin6;
    struct sockaddr_un *sun;

    ASSERT_STR_EQ(c->app, "pkg.main:make.app");
    ASSERT_EQ(c->factory, 1);
    ASSERT_EQ(c->ws_enabled, 0);
    ASSERT_EQ(c->ws_compression, 0);
    ASSERT_EQ(c->ws_max_message_size, 1 << 20);
    ASSERT_EQ(c->ws_max_queue, 4);
    ASSERT_EQ(c->ws_ping_interval, 0);
    ASSERT_EQ(c->ws_ping_timeout, 3000);
    ASSERT_EQ(c->ws_close_timeout, 2000);
    ASSERT_EQ(c->ws_window_bits, 10);
    ASSERT_EQ(c->ws_mem_level, 2);
    ASSERT_STR_EQ(c->chdir, "/srv/app");
    ASSERT_EQ(c->npythonpath, 2);
    ASSERT_STR_EQ(c->pythonpath[0], "src");
    ASSERT_STR_EQ(c->pythonpath[1], "lib");
    ASSERT_STR_EQ(c->virtualenv, "/srv/venv");
    ASSERT_EQ(c->nenv, 3);
    ASSERT_STR_EQ(c->env_names[0], "MODE");
    ASSERT_STR_EQ(c->env_values[0], "prod");
    ASSERT_STR_EQ(c->env_names[1], "PORT");
    ASSERT_STR_EQ(c->env_values[1], "8000");
    ASSERT_STR_EQ(c->env_names[2], "EMPTY");
    ASSERT_STR_EQ(c->env_values[2], "");
    ASSERT_EQ(c->workers, 3);
    ASSERT_EQ(c->lifespan, AM_LIFESPAN_OFF);
    ASSERT_STR_EQ(c->root_path, "/api");
    ASSERT_EQ(c->server_header, 0);

    ASSERT_EQ(c->nlisten, 5);
    ASSERT_STR_EQ(c->listen[0].address, "127.0.0.1:8001");
    ASSERT_EQ(c->listen[0].family, AF_INET);
    sin = (struct sockaddr_in *)&c->listen[0].addr;
    ASSERT_EQ(ntohs(sin->sin_port), 8001);
    ASSERT_EQ(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
    ASSERT_EQ(c->listen[0].addrlen, sizeof(struct sockaddr_in));
    ASSERT_EQ(c->listen[0].backlog, 511);
    ASSERT_EQ(c->listen[0].mode, -1);
    ASSERT_EQ(c->listen[0].fd, -1);
    ASSERT_EQ(c->listen[0].line, 13);
    ASSERT_EQ(c->listen[0].column, 14);
    ASSERT_TRUE(c->listen[0].path == NULL);

    ASSERT_EQ(c->listen[1].family, AF_UNIX);
    ASSERT_STR_EQ(c->listen[1].path, "/run/app.sock");
    sun = (struct sockaddr_un *)&c->listen[1].addr;
    ASSERT_EQ(sun->sun_family, AF_UNIX);
    ASSERT_STR_EQ(sun->sun_path, "/run/app.sock");
    ASSERT_EQ(c->listen[1].mode, 0660);
    ASSERT_EQ(c->listen[1].backlog, 1024);

    ASSERT_EQ(c->listen[2].family, AF_INET6);
    ASSERT_STR_EQ(c->listen[2].address, "[::1]:8002");
    sin6 = (struct sockaddr_in6 *)&c->listen[2].addr;
    ASSERT_EQ(ntohs(sin6->sin6_port), 8002);
    ASSERT_TRUE(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    ASSERT_EQ(c->listen[2].line, 17);
    ASSERT_EQ(c->listen[2].column, 5);

    ASSERT_EQ(c->listen[3].family, AF_INET);
    sin = (struct sockaddr_in *)&c->listen[3].addr;
    ASSERT_EQ(ntohl(sin->sin_addr.s_addr), INADDR_ANY);
    ASSERT_EQ(ntohs(sin->sin_port), 8003);
    ASSERT_EQ(c->listen[3].http2, 1);
    ASSERT_EQ(c->listen[3].proxy_protocol, 0);
    ASSERT_TRUE(c->listen[3].tls == NULL);

    ASSERT_EQ(c->listen[4].backlog, 1024);
    ASSERT_EQ(c->listen[4].http2, 0);
    ASSERT_EQ(c->listen[4].proxy_protocol, 1);
    ASSERT_TRUE(c->listen[4].tls != NULL);
    ASSERT_EQ(c->listen[4].tls->line, 22);
    ASSERT_EQ(c->listen[4].tls->column, 5);
    ASSERT_STR_EQ(c->listen[4].tls->certificate, "/etc/am/chain.pem");
    ASSERT_STR_EQ(c->listen[4].tls->key, "key.pem");
    ASSERT_STR_EQ(c->listen[4].tls->key_password, "s3cret");
    ASSERT_STR_EQ(c->listen[4].tls->key_password_file, "/etc/am/keypass");
    ASSERT_STR_EQ(c->listen[4].tls->client_ca, "/etc/am/ca.pem");
    ASSERT_EQ(c->listen[4].tls->client_auth, AM_TLS_CLIENT_AUTH_OPTIONAL);
    ASSERT_EQ(c->listen[4].tls->min_version, 0x0304);
    ASSERT_STR_EQ(c->listen[4].tls->ciphers, "ECDHE+AESGCM");
    ASSERT_STR_EQ(c->listen[4].tls->ciphersuites, "TLS_AES_256_GCM_SHA384");

    ASSERT_EQ(c->forwarded_all, 0);
    ASSERT_EQ(c->nforwarded_allow, 3);
    ASSERT_EQ(c->forwarded_allow[0].family, AF_INET);
    ASSERT_EQ(c->forwarded_allow[0].prefix, 8);
    ASSERT_EQ(c->forwarded_allow[0].addr[0], 10);
    ASSERT_EQ(c->forwarded_allow[1].family, AF_INET6);
    ASSERT_EQ(c->forwarded_allow[1].prefix, 8);
    ASSERT_EQ(c->forwarded_allow[1].addr[0], 0xfd);
    ASSERT_EQ(c->forwarded_allow[2].prefix, 32);
    ASSERT_EQ(c->forwarded_allow[2].addr[3], 7);

    ASSERT_EQ(c->h2_max_concurrent_streams, 250);
    ASSERT_EQ(c->h2_initial_window_size, 1024 * 1024);
    ASSERT_EQ(c->h2_connection_window, 16 * 1024 * 1024);
    ASSERT_EQ(c->h2_max_frame_size, 1024 * 1024);
    ASSERT_EQ(c->h2_header_table_size, 0);
    ASSERT_EQ(c->h2_max_header_list_size, 32 * 1024);
    ASSERT_EQ(c->h2_reset_budget, 50);
    ASSERT_EQ(c->h2_empty_frame_budget, 0);
    ASSERT_EQ(c->limit_body_min_rate, 1024);

    ASSERT_EQ(c->log_level, AM_LOG_DEBUG);
    ASSERT_STR_EQ(c->error_log, "/var/log/am/error.log");
    ASSERT_STR_EQ(c->access_log, "/var/log/am/access.log");
    ASSERT_STR_EQ(c->access_format, "$remote_addr $status ${request_time}s");
    ASSERT_STR_EQ(c->log_config, "/etc/am/logging.json");
    ASSERT_EQ(c->reload, 1);
    ASSERT_STR_EQ(c->reload_dirs, "src, lib");
    ASSERT_STR_EQ(c->reload_includes, "*.py, *.html");
    ASSERT_STR_EQ(c->reload_excludes, "test_*.py");
    ASSERT_EQ(c->reload_delay, 1000);

    ASSERT_EQ(c->limit_request_line, 4096);
    ASSERT_EQ(c->limit_header_size, 32000);
    ASSERT_EQ(c->limit_header_count, 50);
    ASSERT_EQ(c->limit_body_size, 0);
    ASSERT_EQ(c->limit_body_buffer, 1024 * 1024);
    ASSERT_EQ(c->limit_write_buffer, 2000000);
    ASSERT_EQ(c->limit_connections, 500);
    ASSERT_EQ(c->limit_chunk_extensions, 2048);
    ASSERT_EQ(c->limit_body_min_rate, 1024);

    ASSERT_EQ(c->timeout_keepalive, 250);
    ASSERT_EQ(c->timeout_header_read, 2000);
    ASSERT_EQ(c->timeout_body_read, 90000);
    ASSERT_EQ(c->timeout_write, 3600000);
    ASSERT_EQ(c->timeout_graceful, 0);
    ASSERT_EQ(c->timeout_boot, 120000);
    ASSERT_EQ(c->timeout_tls_handshake, 3000);
    ASSERT_EQ(c->timeout_h2_idle, 300000);
    ASSERT_EQ(c->timeout_worker, 45000);
    ASSERT_STR_EQ(c->pidfile, "/run/am.pid");
    ASSERT_STR_EQ(c->user, "www-data");
    ASSERT_STR_EQ(c->group, "www-data");
    ASSERT_EQ(c->umask, 027);
    ASSERT_EQ(c->max_requests, 1000);
    ASSERT_EQ(c->max_requests_jitter, 50);
    ASSERT_STR_EQ(c->metrics_address, "127.0.0.1:9100");
    ASSERT_STR_EQ(c->metrics_path, "/m");
    am_conf_destroy(c);
}

/* The full file exercises every row of the schema. */
TEST(full_file_names_every_schema_key)
{
    const char *dot;
    char word[64];

    for (size_t i = 0; i < am_conf_nkeys; i++) {
        dot = strrchr(am_conf_keys[i].name, '.');
        snprintf(word, sizeof(word),
                 "%s:", dot ? dot + 1 : am_conf_keys[i].name);
        if (strstr(full_yaml, word) == NULL) {
            fprintf(stderr, "  key %s not in full_yaml\n",
                    am_conf_keys[i].name);
        }
        ASSERT_TRUE(strstr(full_yaml, word) != NULL);
    }
}

TEST(defaults)
{
    am_conf_t *c = am_conf_create();

    ASSERT_TRUE(c->file == NULL);
    ASSERT_TRUE(c->app == NULL);
    ASSERT_EQ(c->factory, 0);
    ASSERT_TRUE(c->chdir == NULL);
    ASSERT_EQ(c->npythonpath, 0);
    ASSERT_TRUE(c->virtualenv == NULL);
    ASSERT_EQ(c->nenv, 0);
    ASSERT_EQ(c->workers, 0);
    ASSERT_EQ(c->lifespan, AM_LIFESPAN_AUTO);
    ASSERT_STR_EQ(c->root_path, "");
    ASSERT_EQ(c->server_header, 1);
    ASSERT_EQ(c->nlisten, 0);
    ASSERT_EQ(c->log_level, AM_LOG_NOTICE);
    ASSERT_TRUE(c->error_log == NULL);
    ASSERT_STR_EQ(c->access_log, "auto"); /* am_conf_finish(): tty or off */
    ASSERT_STR_EQ(c->access_format, "combined");
    ASSERT_TRUE(c->log_config == NULL);
    ASSERT_EQ(c->reload, 0);
    ASSERT_EQ(c->reload_delay, 250);
    ASSERT_EQ(c->limit_request_line, 8 * 1024);
    ASSERT_EQ(c->limit_header_size, 64 * 1024);
    ASSERT_EQ(c->limit_header_count, 100);
    ASSERT_EQ(c->limit_body_size, 100 * 1024 * 1024);
    ASSERT_EQ(c->limit_body_buffer, 64 * 1024);
    ASSERT_EQ(c->limit_write_buffer, 256 * 1024);
    ASSERT_EQ(c->limit_connections, 10000);
    ASSERT_EQ(c->limit_chunk_extensions, 4096);
    ASSERT_EQ(c->limit_body_min_rate, 500);
    ASSERT_EQ(c->timeout_keepalive, 5000);
    ASSERT_EQ(c->timeout_header_read, 10000);
    ASSERT_EQ(c->timeout_body_read, 60000);
    ASSERT_EQ(c->timeout_write, 60000);
    ASSERT_EQ(c->timeout_graceful, 30000);
    ASSERT_EQ(c->timeout_boot, 60000);
    ASSERT_EQ(c->timeout_tls_handshake, 10000);
    ASSERT_EQ(c->timeout_h2_idle, 60000);
    ASSERT_EQ(c->h2_max_concurrent_streams, 100);
    ASSERT_EQ(c->h2_initial_window_size, 256 * 1024);
    ASSERT_EQ(c->h2_connection_window, 1024 * 1024);
    ASSERT_EQ(c->h2_max_frame_size, 16384);
    ASSERT_EQ(c->h2_header_table_size, 4096);
    ASSERT_EQ(c->h2_max_header_list_size, 64 * 1024);
    ASSERT_EQ(c->h2_reset_budget, 100);
    ASSERT_EQ(c->h2_empty_frame_budget, 1000);
    ASSERT_EQ(c->forwarded_all, 0);
    ASSERT_EQ(c->nforwarded_allow, 2);
    ASSERT_EQ(c->forwarded_allow[0].family, AF_INET);
    ASSERT_EQ(c->forwarded_allow[0].prefix, 32);
    ASSERT_EQ(c->forwarded_allow[0].addr[0], 127);
    ASSERT_EQ(c->forwarded_allow[0].addr[3], 1);
    ASSERT_EQ(c->forwarded_allow[1].family, AF_INET6);
    ASSERT_EQ(c->forwarded_allow[1].prefix, 128);
    ASSERT_EQ(c->forwarded_allow[1].addr[15], 1);
    am_conf_destroy(c);
}

TEST(empty_file_is_all_defaults)
{
    am_conf_t *c = load(""), *d = load("# only a comment\n"),
              *e = load("---\n");

    ASSERT_EQ(c->workers, 0);
    ASSERT_STR_EQ(d->access_format, "combined");
    ASSERT_EQ(e->timeout_boot, 60000);
    am_conf_destroy(c);
    am_conf_destroy(d);
    am_conf_destroy(e);
}

TEST(null_values_keep_defaults)
{
    am_conf_t *c = load("workers:\nvirtualenv: ~\nlog:\nlimits: null\n"
                        "listen:\n");

    ASSERT_EQ(c->workers, 0);
    ASSERT_TRUE(c->virtualenv == NULL);
    ASSERT_EQ(c->limit_body_size, 100 * 1024 * 1024);
    ASSERT_EQ(c->nlisten, 0);
    am_conf_destroy(c);
}

TEST(scalar_spellings)
{
    am_conf_t *c = load("factory: TRUE\nserver_header: off\nworkers: auto\n"
                        "lifespan: on\npythonpath: src\nvirtualenv: \"\"\n"
                        "log: {error_log: stderr, access_log: stdout, "
                        "access_format: common, level: warning}\n"
                        "listen: localhost:9000\n");

    ASSERT_EQ(c->factory, 1);
    ASSERT_EQ(c->server_header, 0);
    ASSERT_EQ(c->workers, 0);
    ASSERT_EQ(c->lifespan, AM_LIFESPAN_ON);
    ASSERT_EQ(c->npythonpath, 1);
    ASSERT_STR_EQ(c->pythonpath[0], "src");
    ASSERT_TRUE(c->virtualenv == NULL);
    ASSERT_TRUE(c->error_log == NULL);
    ASSERT_STR_EQ(c->access_log, "stdout");
    ASSERT_STR_EQ(c->access_format, "common");
    ASSERT_EQ(c->log_level, AM_LOG_WARN);
    ASSERT_EQ(c->nlisten, 1);
    ASSERT_STR_EQ(c->listen[0].address, "localhost:9000");
    am_conf_destroy(c);

    c = load("workers: 0\nlog: {access_log: off}\nlisten: {address: \":1\"}\n");
    ASSERT_EQ(c->workers, 0);
    ASSERT_TRUE(c->access_log == NULL);
    ASSERT_EQ(c->nlisten, 1);
    am_conf_destroy(c);
}

TEST(relative_paths_kept_as_written)
{
    am_conf_t *c = load("chdir: app\npythonpath: [., ../lib]\n"
                        "virtualenv: .venv\nlog: {error_log: logs/e.log}\n"
                        "listen: [unix:run/app.sock]\n");

    ASSERT_STR_EQ(c->chdir, "app");
    ASSERT_STR_EQ(c->pythonpath[0], ".");
    ASSERT_STR_EQ(c->pythonpath[1], "../lib");
    ASSERT_STR_EQ(c->virtualenv, ".venv");
    ASSERT_STR_EQ(c->error_log, "logs/e.log");
    ASSERT_STR_EQ(c->listen[0].path, "run/app.sock");
    am_conf_destroy(c);
}

TEST(anchors_and_aliases)
{
    am_conf_t *c = load("limits: {body_buffer: &b 128KiB, write_buffer: *b}\n");

    ASSERT_EQ(c->limit_body_buffer, 128 * 1024);
    ASSERT_EQ(c->limit_write_buffer, 128 * 1024);
    am_conf_destroy(c);
}

TEST(example_server_yaml_loads)
{
    am_conf_t *c = am_conf_create();

    if (access("conf/server.yaml", R_OK) == 0) {
        if (am_conf_load(c, "conf/server.yaml", err, sizeof(err)) != AM_OK) {
            fprintf(stderr, "  %s\n", err);
        }
        ASSERT_STR_EQ(err[0] ? err : NULL, NULL);
        ASSERT_STR_EQ(c->file, "conf/server.yaml");
        ASSERT_TRUE(c->app != NULL);
    }
    am_conf_destroy(c);
}

/* Files */

TEST(file_load)
{
    am_conf_t *c = am_conf_create();
    const char *path = write_file("workers: 7\n");

    ASSERT_EQ(am_conf_load(c, path, err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->workers, 7);
    ASSERT_STR_EQ(c->file, path);
    unlink(path);
    am_conf_destroy(c);
}

TEST(file_empty)
{
    am_conf_t *c = am_conf_create();
    const char *path = write_file("");

    ASSERT_EQ(am_conf_load(c, path, err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->timeout_keepalive, 5000);
    unlink(path);
    am_conf_destroy(c);
}

TEST(file_error_names_the_file)
{
    am_conf_t *c = am_conf_create();
    const char *path = write_file("workers: 2\nworkrs: 3\n");
    char want[256];

    ASSERT_EQ(am_conf_load(c, path, err, sizeof(err)), AM_ERROR);
    snprintf(want, sizeof(want),
             "%s:2:1: unknown key \"workrs\" in the top level; did you mean "
             "\"workers\"?",
             path);
    ASSERT_STR_EQ(err, want);
    unlink(path);
    am_conf_destroy(c);
}

TEST(file_missing)
{
    am_conf_t *c = am_conf_create();

    ASSERT_EQ(am_conf_load(c, "/nonexistent/server.yaml", err, sizeof(err)),
              AM_ERROR);
    ASSERT_STR_EQ(err, "/nonexistent/server.yaml: cannot open: No such file or "
                       "directory");
    am_conf_destroy(c);
}

TEST(file_is_a_directory)
{
    am_conf_t *c = am_conf_create();

    ASSERT_EQ(am_conf_load(c, "/tmp", err, sizeof(err)), AM_ERROR);
    ASSERT_STR_EQ(err, "/tmp: cannot open: Is a directory");
    am_conf_destroy(c);
}

TEST(file_unreadable)
{
    am_conf_t *c = am_conf_create();
    const char *path = write_file("workers: 1\n");
    char want[256];

    if (geteuid() == 0) {
        /* root reads anything: nothing to test */
        unlink(path);
        am_conf_destroy(c);
        return;
    }
    chmod(path, 0);
    ASSERT_EQ(am_conf_load(c, path, err, sizeof(err)), AM_ERROR);
    snprintf(want, sizeof(want), "%s: cannot open: Permission denied", path);
    ASSERT_STR_EQ(err, want);
    unlink(path);
    am_conf_destroy(c);
}

/* Error messages, exact text and position */

TEST(error_unknown_key_did_you_mean)
{
    ASSERT_STR_EQ(load_error("app: main:app\nworkrs: 4\n"),
                  "server.yaml:2:1: unknown key \"workrs\" in the top level; "
                  "did you mean \"workers\"?");
    ASSERT_STR_EQ(load_error("log:\n  levl: info\n"),
                  "server.yaml:2:3: unknown key \"levl\" in \"log\"; did you "
                  "mean \"level\"?");
    ASSERT_STR_EQ(load_error("timeouts:\n  keep_alive: 5s\n"),
                  "server.yaml:2:3: unknown key \"keep_alive\" in "
                  "\"timeouts\"; did you mean \"keepalive\"?");
    ASSERT_STR_EQ(load_error("Workers: 2\n"),
                  "server.yaml:1:1: unknown key \"Workers\" in the top level; "
                  "did you mean \"workers\"?");
    ASSERT_STR_EQ(load_error("listen:\n  - adress: 127.0.0.1:80\n"),
                  "server.yaml:2:5: unknown key \"adress\" in \"listen[0]\"; "
                  "did you mean \"address\"?");
}

TEST(error_unknown_key_in_another_section)
{
    ASSERT_STR_EQ(load_error("keepalive: 5s\n"),
                  "server.yaml:1:1: unknown key \"keepalive\" in the top "
                  "level; did you mean \"keepalive\" in \"timeouts\"?");
    ASSERT_STR_EQ(load_error("log:\n  workers: 2\n"),
                  "server.yaml:2:3: unknown key \"workers\" in \"log\"; did "
                  "you mean \"workers\" in the top level?");
    ASSERT_STR_EQ(load_error("backlog: 5\n"),
                  "server.yaml:1:1: unknown key \"backlog\" in the top level; "
                  "did you mean \"backlog\" in a \"listen\" item?");
    ASSERT_STR_EQ(load_error("log.level: info\n"),
                  "server.yaml:1:1: unknown key \"log.level\" in the top "
                  "level; did you mean \"level\" in \"log\"?");
}

TEST(error_unknown_key_no_suggestion)
{
    ASSERT_STR_EQ(load_error("color: blue\n"),
                  "server.yaml:1:1: unknown key \"color\" in the top level");
}

TEST(error_bad_integer)
{
    ASSERT_STR_EQ(load_error("app: main:app\nworkers: lots\n"),
                  "server.yaml:2:10: \"workers\": expected an integer from 1 "
                  "to 1024 or \"auto\", found \"lots\"");
    ASSERT_STR_EQ(load_error("workers: 1025\n"),
                  "server.yaml:1:10: \"workers\": expected an integer from 1 "
                  "to 1024 or \"auto\", found \"1025\"");
    ASSERT_STR_EQ(load_error("workers: -1\n"),
                  "server.yaml:1:10: \"workers\": expected an integer from 1 "
                  "to 1024 or \"auto\", found \"-1\"");
    ASSERT_STR_EQ(load_error("limits:\n  header_count: 0\n"),
                  "server.yaml:2:17: \"limits.header_count\": expected an "
                  "integer from 1 to 10000, found \"0\"");
    ASSERT_STR_EQ(load_error("limits:\n  connections: 99999999999999999999\n"),
                  "server.yaml:2:16: \"limits.connections\": expected an "
                  "integer from 1 to 1000000, found "
                  "\"99999999999999999999\"");
    ASSERT_STR_EQ(load_error("listen: [{address: ':80', backlog: 0}]\n"),
                  "server.yaml:1:36: \"listen[0].backlog\": expected an "
                  "integer from 1 to 65535, found \"0\"");
}

TEST(error_bad_enums)
{
    ASSERT_STR_EQ(load_error("factory: maybe\n"),
                  "server.yaml:1:10: \"factory\": expected a boolean (true, "
                  "false, yes, no, on, off), found \"maybe\"");
    ASSERT_STR_EQ(load_error("lifespan: sometimes\n"),
                  "server.yaml:1:11: \"lifespan\": expected one of auto, on, "
                  "off, found \"sometimes\"");
    ASSERT_STR_EQ(load_error("log: {level: verbose}\n"),
                  "server.yaml:1:14: \"log.level\": expected one of emerg, "
                  "alert, crit, error, warn, notice, info, debug, found "
                  "\"verbose\"");
    ASSERT_STR_EQ(load_error("log: {error_log: ''}\n"),
                  "server.yaml:1:18: \"log.error_log\": expected a path or "
                  "\"stderr\", found \"\"");
}

TEST(error_bad_size)
{
    ASSERT_STR_EQ(load_error("limits:\n  body_size: 10XB\n"),
                  "server.yaml:2:14: bad size \"10XB\" for "
                  "\"limits.body_size\": expected a number with an optional "
                  "unit (B, KB, KiB, MB, MiB, GB, GiB)");
    ASSERT_STR_EQ(load_error("limits:\n  request_line: 2MiB\n"),
                  "server.yaml:2:17: \"limits.request_line\": expected a "
                  "size from 256B to 1MiB, found \"2MiB\"");
    ASSERT_STR_EQ(load_error("limits:\n  body_size: [1]\n"),
                  "server.yaml:2:14: \"limits.body_size\": expected a size, "
                  "found a list");
}

TEST(error_bad_duration)
{
    ASSERT_STR_EQ(load_error("timeouts:\n  keepalive: 5x\n"),
                  "server.yaml:2:14: bad duration \"5x\" for "
                  "\"timeouts.keepalive\": expected a number with an optional "
                  "unit (ms, s, m, h) such as 250ms, 5s or 1h30m");
    ASSERT_STR_EQ(load_error("timeouts:\n  boot: 25h\n"),
                  "server.yaml:2:9: \"timeouts.boot\": expected a duration "
                  "from 1ms to 24h, found \"25h\"");
    ASSERT_STR_EQ(load_error("timeouts:\n  header_read: 0\n"),
                  "server.yaml:2:16: \"timeouts.header_read\": expected a "
                  "duration from 1ms to 24h, found \"0\"");
}

TEST(error_wrong_node_kind)
{
    ASSERT_STR_EQ(load_error("log:\n  - level: info\n"),
                  "server.yaml:2:3: \"log\": expected a map, found a list");
    ASSERT_STR_EQ(load_error("limits: 100\n"),
                  "server.yaml:1:9: \"limits\": expected a map, found \"100\"");
    ASSERT_STR_EQ(load_error("workers: [1, 2]\n"),
                  "server.yaml:1:10: \"workers\": expected an integer from 1 "
                  "to 1024 or \"auto\", found a list");
    ASSERT_STR_EQ(load_error("env: [A, B]\n"),
                  "server.yaml:1:6: \"env\": expected a map of variable names "
                  "to values, found a list");
    ASSERT_STR_EQ(load_error("pythonpath: {a: b}\n"),
                  "server.yaml:1:13: \"pythonpath\": expected a list of paths "
                  "or a path, found a map");
    ASSERT_STR_EQ(load_error("pythonpath: [src, [lib]]\n"),
                  "server.yaml:1:19: \"pythonpath[1]\": expected a path, "
                  "found a list");
    ASSERT_STR_EQ(load_error("pythonpath:\n  - src\n  -\n"),
                  "server.yaml:3:4: \"pythonpath[1]\": expected a path, "
                  "found nothing");
    ASSERT_STR_EQ(load_error("env: {A: {b: c}}\n"),
                  "server.yaml:1:10: \"env.A\": expected a string, found a "
                  "map");
    ASSERT_STR_EQ(load_error("listen: [[1]]\n"),
                  "server.yaml:1:10: \"listen[0]\": expected an address or a "
                  "map with \"address\", found a list");
    ASSERT_STR_EQ(load_error("- workers: 1\n"),
                  "server.yaml:1:1: expected a map of keys at the top level, "
                  "found a list");
    ASSERT_STR_EQ(load_error("just text\n"),
                  "server.yaml:1:1: expected a map of keys at the top level, "
                  "found \"just text\"");
    ASSERT_STR_EQ(load_error("? [a]\n: b\n"),
                  "server.yaml:1:3: expected a key name in the top level, "
                  "found a list");
}

TEST(error_duplicate_key)
{
    ASSERT_STR_EQ(load_error("workers: 2\napp: a:b\nworkers: 3\n"),
                  "server.yaml:3:1: duplicate key \"workers\" in the top "
                  "level (first at line 1)");
    ASSERT_STR_EQ(load_error("log:\n  level: info\n  level: debug\n"),
                  "server.yaml:3:3: duplicate key \"level\" in \"log\" (first "
                  "at line 2)");
    ASSERT_STR_EQ(load_error("env:\n  A: 1\n  A: 2\n"),
                  "server.yaml:3:3: duplicate key \"A\" in \"env\" (first at "
                  "line 2)");
    ASSERT_STR_EQ(load_error("listen:\n  - {address: ':1', address: ':2'}\n"),
                  "server.yaml:2:21: duplicate key \"address\" in "
                  "\"listen[0]\" (first at line 2)");
}

TEST(error_yaml_syntax)
{
    ASSERT_STR_EQ(load_error("app: main:app\nworkers: 2: 3\n"),
                  "server.yaml:2:11: mapping values are not allowed in this "
                  "context");
    ASSERT_STR_EQ(load_error("workers: 2\nlisten: [a\n"),
                  "server.yaml:3:1: did not find expected ',' or ']' (while "
                  "parsing a flow sequence at 2:9)");
    ASSERT_STR_EQ(load_error("\tworkers: 1\n"),
                  "server.yaml:1:1: found character that cannot start any "
                  "token (while scanning for the next token at 1:1)");
    ASSERT_STR_EQ(load_error("workers: *nope\n"),
                  "server.yaml:1:10: found undefined alias");
    ASSERT_STR_EQ(load_error("workers: 1\nroot_path: \"\xff\"\n"),
                  "server.yaml:2:13: invalid leading UTF-8 octet (byte 0xFF)");
}

TEST(error_second_document)
{
    ASSERT_STR_EQ(load_error("workers: 1\n---\nworkers: 2\n"),
                  "server.yaml:2:1: a second YAML document: one file holds "
                  "one document");
}

TEST(error_nul_byte)
{
    ASSERT_STR_EQ(load_error("root_path: \"a\\0b\"\n"),
                  "server.yaml:1:12: \"root_path\": a NUL byte in the value");
}

TEST(error_found_is_quoted_and_cut)
{
    ASSERT_STR_EQ(load_error("workers: \"x\\ty\\\"z\"\n"),
                  "server.yaml:1:10: \"workers\": expected an integer from 1 "
                  "to 1024 or \"auto\", found \"x\\x09y\\x22z\"");
    ASSERT_STR_EQ(
        load_error("workers: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaa\n"),
        "server.yaml:1:10: \"workers\": expected an integer from 1 "
        "to 1024 or \"auto\", found "
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"");
}

TEST(error_app)
{
    ASSERT_STR_EQ(load_error("app: main\n"),
                  "server.yaml:1:6: \"app\": expected MODULE:ATTR such as "
                  "\"main:app\" (names may be dotted), found \"main\"");
    ASSERT_STR_EQ(load_error("app: \"main:\"\n"),
                  "server.yaml:1:6: \"app\": expected MODULE:ATTR such as "
                  "\"main:app\" (names may be dotted), found \"main:\"");
    ASSERT_STR_EQ(load_error("app: \"1x:app\"\n"),
                  "server.yaml:1:6: \"app\": expected MODULE:ATTR such as "
                  "\"main:app\" (names may be dotted), found \"1x:app\"");
    ASSERT_STR_EQ(load_error("app: \"a..b:app\"\n"),
                  "server.yaml:1:6: \"app\": expected MODULE:ATTR such as "
                  "\"main:app\" (names may be dotted), found \"a..b:app\"");
}

TEST(error_env_name)
{
    ASSERT_STR_EQ(load_error("env:\n  1ABC: x\n"),
                  "server.yaml:2:3: \"env\": bad variable name \"1ABC\": "
                  "expected letters, digits and '_', not starting with a "
                  "digit");
    ASSERT_STR_EQ(load_error("env: {\"A=B\": x}\n"),
                  "server.yaml:1:7: \"env\": bad variable name \"A=B\": "
                  "expected letters, digits and '_', not starting with a "
                  "digit");
}

TEST(error_access_format)
{
    ASSERT_STR_EQ(
        load_error("log:\n  access_format: \"$remote_adr $status\"\n"),
        "server.yaml:2:18: \"log.access_format\": unknown variable "
        "\"$remote_adr\" in the access log format; did you mean "
        "\"$remote_addr\"?");
    ASSERT_STR_EQ(load_error("log: {access_format: \"$foo\"}\n"),
                  "server.yaml:1:22: \"log.access_format\": unknown variable "
                  "\"$foo\" in the access log format");
}

TEST(error_listen)
{
    ASSERT_STR_EQ(load_error("listen:\n  - address: 127.0.0.1:80\n"
                             "    mode: \"0660\"\n"),
                  "server.yaml:3:11: \"listen[0].mode\": only UNIX socket "
                  "listeners take a mode, \"127.0.0.1:80\" is not one");
    ASSERT_STR_EQ(load_error("listen:\n  - address: unix:/tmp/a.sock\n"
                             "    mode: rw\n"),
                  "server.yaml:3:11: \"listen[0].mode\": expected an octal "
                  "file mode from 0 to 0777 such as \"0660\", found \"rw\"");
    ASSERT_STR_EQ(load_error("listen:\n  - 127.0.0.1:80\n  - 127.0.0.1:80\n"),
                  "server.yaml:3:5: \"listen[1]\": duplicate listen address "
                  "\"127.0.0.1:80\" (first at line 2)");
    ASSERT_STR_EQ(load_error("listen:\n  - unix:/tmp/a.sock\n"
                             "  - address: unix:/tmp/a.sock\n"),
                  "server.yaml:3:14: \"listen[1].address\": duplicate listen "
                  "address \"unix:/tmp/a.sock\" (first at line 2)");
    ASSERT_STR_EQ(load_error("listen:\n  - backlog: 10\n"),
                  "server.yaml:2:5: \"listen[0]\": missing \"address\"");
    ASSERT_STR_EQ(load_error("listen: [127.0.0.1]\n"),
                  "server.yaml:1:10: \"listen[0]\": missing port in "
                  "\"127.0.0.1\": expected host:port, [v6]:port, :port or "
                  "unix:/path");
    ASSERT_STR_EQ(load_error("listen: \"127.0.0.1:http\"\n"),
                  "server.yaml:1:9: \"listen\": bad port \"http\" in "
                  "\"127.0.0.1:http\": expected an integer from 0 to 65535");
}

/* Addresses */

static const char *
address_error(const char *address)
{
    am_listen_t l;

    memset(&l, 0, sizeof(l));
    err[0] = '\0';
    ASSERT_EQ(am_conf_parse_address(address, &l, err, sizeof(err)), AM_ERROR);
    ASSERT_TRUE(l.path == NULL);
    return err;
}

TEST(address_ipv4)
{
    struct sockaddr_in *sin;
    am_listen_t l;

    memset(&l, 0, sizeof(l));
    ASSERT_EQ(am_conf_parse_address("10.1.2.3:0", &l, err, sizeof(err)), AM_OK);
    sin = (struct sockaddr_in *)&l.addr;
    ASSERT_EQ(l.family, AF_INET);
    ASSERT_EQ(sin->sin_family, AF_INET);
    ASSERT_EQ(ntohl(sin->sin_addr.s_addr), 0x0a010203);
    ASSERT_EQ(ntohs(sin->sin_port), 0);

    ASSERT_EQ(am_conf_parse_address(":65535", &l, err, sizeof(err)), AM_OK);
    ASSERT_EQ(ntohl(sin->sin_addr.s_addr), INADDR_ANY);
    ASSERT_EQ(ntohs(sin->sin_port), 65535);

    ASSERT_EQ(am_conf_parse_address("*:80", &l, err, sizeof(err)), AM_OK);
    ASSERT_EQ(ntohl(sin->sin_addr.s_addr), INADDR_ANY);

    ASSERT_EQ(am_conf_parse_address("localhost:8000", &l, err, sizeof(err)),
              AM_OK);
    ASSERT_EQ(l.family, AF_INET);
    ASSERT_EQ(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
    ASSERT_EQ(ntohs(sin->sin_port), 8000);
}

TEST(address_ipv6)
{
    struct sockaddr_in6 *sin6;
    am_listen_t l;

    memset(&l, 0, sizeof(l));
    ASSERT_EQ(am_conf_parse_address("[::]:443", &l, err, sizeof(err)), AM_OK);
    sin6 = (struct sockaddr_in6 *)&l.addr;
    ASSERT_EQ(l.family, AF_INET6);
    ASSERT_EQ(l.addrlen, sizeof(struct sockaddr_in6));
    ASSERT_TRUE(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
    ASSERT_EQ(ntohs(sin6->sin6_port), 443);

    ASSERT_EQ(am_conf_parse_address("[2001:db8::1]:8080", &l, err, sizeof(err)),
              AM_OK);
    ASSERT_EQ(sin6->sin6_addr.s6_addr[0], 0x20);
    ASSERT_EQ(sin6->sin6_addr.s6_addr[15], 1);
    ASSERT_EQ(ntohs(sin6->sin6_port), 8080);
}

TEST(address_unix)
{
    struct sockaddr_un *sun;
    char path[200];
    am_listen_t l;

    memset(&l, 0, sizeof(l));
    ASSERT_EQ(am_conf_parse_address("unix:/run/a.sock", &l, err, sizeof(err)),
              AM_OK);
    sun = (struct sockaddr_un *)&l.addr;
    ASSERT_EQ(l.family, AF_UNIX);
    ASSERT_STR_EQ(l.path, "/run/a.sock");
    ASSERT_STR_EQ(sun->sun_path, "/run/a.sock");
    ASSERT_EQ(l.addrlen, offsetof(struct sockaddr_un, sun_path) + 12);
    free(l.path);

    /* 107 bytes fit sun_path with its NUL; 108 do not */
    memcpy(path, "unix:/", 6);
    memset(path + 6, 'a', 106);
    path[112] = '\0';
    ASSERT_EQ(am_conf_parse_address(path, &l, err, sizeof(err)), AM_OK);
    ASSERT_EQ(strlen(l.path), 107);
    free(l.path);
    path[112] = 'a';
    path[113] = '\0';
    ASSERT_STR_EQ(address_error(path),
                  "UNIX socket path \"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                  "aaaaaaaa...\" is too long: 108 bytes, at most 107");
}

TEST(address_errors)
{
    ASSERT_STR_EQ(address_error("unix:"),
                  "missing path in \"unix:\": expected unix:/path");
    ASSERT_STR_EQ(address_error(""),
                  "missing port in \"\": expected host:port, [v6]:port, "
                  ":port or unix:/path");
    ASSERT_STR_EQ(address_error("127.0.0.1:"),
                  "missing port in \"127.0.0.1:\": expected host:port, "
                  "[v6]:port, :port or unix:/path");
    ASSERT_STR_EQ(address_error("127.0.0.1:65536"),
                  "bad port \"65536\" in \"127.0.0.1:65536\": expected an "
                  "integer from 0 to 65535");
    ASSERT_STR_EQ(address_error("127.0.0.1:-1"),
                  "bad port \"-1\" in \"127.0.0.1:-1\": expected an integer "
                  "from 0 to 65535");
    ASSERT_STR_EQ(address_error("::1:80"),
                  "bad address \"::1:80\": an IPv6 address takes brackets, as "
                  "in \"[::1]:8000\"");
    ASSERT_STR_EQ(address_error("[::1]80"),
                  "bad address \"[::1]80\": expected [v6]:port such as "
                  "\"[::1]:8000\"");
    ASSERT_STR_EQ(address_error("[::1"),
                  "bad address \"[::1\": expected [v6]:port such as "
                  "\"[::1]:8000\"");
    ASSERT_STR_EQ(address_error("[1.2.3.4]:80"),
                  "bad IPv6 address \"1.2.3.4\" in \"[1.2.3.4]:80\"");
    ASSERT_STR_EQ(address_error("[::g]:80"),
                  "bad IPv6 address \"::g\" in \"[::g]:80\"");
    ASSERT_STR_EQ(address_error("a b:80"), "bad host \"a b\" in \"a b:80\"");
    ASSERT_STR_EQ(address_error("-x:80"), "bad host \"-x\" in \"-x:80\"");
}

TEST(add_listen_and_duplicates)
{
    am_conf_t *c = am_conf_create();

    ASSERT_EQ(am_conf_add_listen(c, "127.0.0.1:8000", err, sizeof(err)), AM_OK);
    ASSERT_EQ(am_conf_add_listen(c, "[::1]:8000", err, sizeof(err)), AM_OK);
    ASSERT_EQ(am_conf_add_listen(c, ":0", err, sizeof(err)), AM_OK);
    ASSERT_EQ(am_conf_add_listen(c, ":0", err, sizeof(err)), AM_OK);
    ASSERT_EQ(am_conf_add_listen(c, "localhost:8000", err, sizeof(err)),
              AM_ERROR);
    ASSERT_STR_EQ(err, "duplicate listen address \"localhost:8000\"");
    ASSERT_EQ(am_conf_add_listen(c, "[0:0::1]:8000", err, sizeof(err)),
              AM_ERROR);
    ASSERT_EQ(am_conf_add_listen(c, "bad", err, sizeof(err)), AM_ERROR);
    ASSERT_EQ(c->nlisten, 4);
    ASSERT_EQ(c->listen[0].backlog, 1024);
    ASSERT_EQ(c->listen[0].mode, -1);
    ASSERT_EQ(c->listen[0].fd, -1);
    ASSERT_EQ(c->listen[0].line, 0);
    am_conf_clear_listen(c);
    ASSERT_EQ(c->nlisten, 0);
    ASSERT_TRUE(c->listen == NULL);
    ASSERT_EQ(am_conf_add_listen(c, "unix:/tmp/x", err, sizeof(err)), AM_OK);
    am_conf_destroy(c);
}

TEST(listen_replaces_previous)
{
    am_conf_t *c = am_conf_create();
    const char *yaml = "listen: [':9001']\n";

    ASSERT_EQ(am_conf_add_listen(c, "127.0.0.1:1", err, sizeof(err)), AM_OK);
    ASSERT_EQ(am_conf_load_string(c, "x", yaml, strlen(yaml), err, sizeof(err)),
              AM_OK);
    ASSERT_EQ(c->nlisten, 1);
    ASSERT_STR_EQ(c->listen[0].address, ":9001");
    am_conf_destroy(c);
}

/* Sizes and durations */

/* TLS, HTTP/2 and proxy keys (issue 4) */

TEST(listen_defaults_for_new_keys)
{
    am_conf_t *c = load("listen: [':1', {address: ':2'}]\n");

    ASSERT_EQ(c->listen[0].http2, 1);
    ASSERT_EQ(c->listen[0].proxy_protocol, 0);
    ASSERT_TRUE(c->listen[0].tls == NULL);
    ASSERT_EQ(c->listen[1].http2, 1);
    ASSERT_TRUE(c->listen[1].tls == NULL);
    am_conf_destroy(c);

    c = am_conf_create();
    ASSERT_EQ(am_conf_add_listen(c, ":3", err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->listen[0].http2, 1);
    ASSERT_EQ(c->listen[0].backlog, 1024);
    am_conf_destroy(c);
}

TEST(tls_defaults)
{
    am_conf_t *c = load("listen:\n  address: ':443'\n  tls: {certificate: "
                        "c.pem, key: k.pem}\n");

    ASSERT_EQ(c->nlisten, 1);
    ASSERT_TRUE(c->listen[0].tls != NULL);
    ASSERT_EQ(c->listen[0].tls->line, 3);
    ASSERT_EQ(c->listen[0].tls->column, 3);
    ASSERT_EQ(c->listen[0].tls->client_auth, AM_TLS_CLIENT_AUTH_NONE);
    ASSERT_EQ(c->listen[0].tls->min_version, 0x0303);
    ASSERT_TRUE(c->listen[0].tls->client_ca == NULL);
    ASSERT_TRUE(c->listen[0].tls->ciphers == NULL);
    ASSERT_TRUE(c->listen[0].tls->ciphersuites == NULL);
    am_conf_destroy(c);

    /* "tls:" with nothing is no TLS */
    c = load("listen:\n  - address: ':443'\n    tls:\n");
    ASSERT_TRUE(c->listen[0].tls == NULL);
    am_conf_destroy(c);
}

TEST(tls_spellings)
{
    static const struct {
        const char *v;
        int version;
    } versions[] = { { "1.2", 0x0303 },
                     { "\"1.3\"", 0x0304 },
                     { "TLSv1.2", 0x0303 },
                     { "tlsv1.3", 0x0304 } };

    static const struct {
        const char *v;
        int auth;
    } auths[] = { { "none", AM_TLS_CLIENT_AUTH_NONE },
                  { "optional", AM_TLS_CLIENT_AUTH_OPTIONAL },
                  { "Require", AM_TLS_CLIENT_AUTH_REQUIRE } };

    char yaml[256];
    am_conf_t *c;

    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        snprintf(yaml, sizeof(yaml),
                 "listen: {address: ':1', tls: {certificate: c, key: k, "
                 "min_version: %s}}\n",
                 versions[i].v);
        c = load(yaml);
        ASSERT_EQ(c->listen[0].tls->min_version, versions[i].version);
        am_conf_destroy(c);
    }
    for (size_t i = 0; i < sizeof(auths) / sizeof(auths[0]); i++) {
        snprintf(yaml, sizeof(yaml),
                 "listen: {address: ':1', tls: {certificate: c, key: k, "
                 "client_ca: ca, client_auth: %s}}\n",
                 auths[i].v);
        c = load(yaml);
        ASSERT_EQ(c->listen[0].tls->client_auth, auths[i].auth);
        am_conf_destroy(c);
    }
}

TEST(error_tls)
{
    ASSERT_STR_EQ(load_error("listen:\n  - address: ':1'\n    tls: {key: "
                             "k.pem}\n"),
                  "server.yaml:3:5: \"listen[0].tls\": missing "
                  "\"certificate\"");
    ASSERT_STR_EQ(load_error("listen:\n  - address: ':1'\n    tls:\n"
                             "      certificate: c.pem\n"),
                  "server.yaml:3:5: \"listen[0].tls\": missing \"key\"");
    ASSERT_STR_EQ(
        load_error("listen:\n  - address: ':1'\n    tls:\n"
                   "      certificate: c.pem\n      key: k.pem\n"
                   "      client_auth: require\n"),
        "server.yaml:6:20: \"listen[0].tls.client_auth\": \"require\" needs "
        "\"client_ca\", the CA certificates that sign client certificates");
    ASSERT_STR_EQ(
        load_error("listen:\n  - address: ':1'\n    tls:\n"
                   "      certificate: c.pem\n      key: k.pem\n"
                   "      client_auth: sometimes\n"),
        "server.yaml:6:20: \"listen[0].tls.client_auth\": expected one of "
        "none, optional, require, found \"sometimes\"");
    ASSERT_STR_EQ(
        load_error("listen: {address: ':1', tls: {certificate: c, key: k, "
                   "min_version: 1.1}}\n"),
        "server.yaml:1:68: \"listen.tls.min_version\": expected one of 1.2, "
        "1.3 (or TLSv1.2, TLSv1.3), found \"1.1\"");
    ASSERT_STR_EQ(load_error("listen:\n  - address: ':1'\n    tls: on\n"),
                  "server.yaml:3:10: \"listen[0].tls\": expected a map with "
                  "\"certificate\" and \"key\", found \"on\"");
    ASSERT_STR_EQ(load_error("listen:\n  - address: ':1'\n    tls:\n"
                             "      certficate: c.pem\n"),
                  "server.yaml:4:7: unknown key \"certficate\" in "
                  "\"listen[0].tls\"; did you mean \"certificate\"?");
    ASSERT_STR_EQ(load_error("listen:\n  - address: ':1'\n    key: k\n"),
                  "server.yaml:3:5: unknown key \"key\" in \"listen[0]\"; "
                  "did you mean \"key\" in the \"tls\" map of a \"listen\" "
                  "item?");
    ASSERT_STR_EQ(load_error("listen:\n  - address: ':1'\n    http2: maybe\n"),
                  "server.yaml:3:12: \"listen[0].http2\": expected a boolean "
                  "(true, false, yes, no, on, off), found \"maybe\"");
    ASSERT_STR_EQ(load_error("listen:\n  - address: ':1'\n"
                             "    proxy_protocol: [v2]\n"),
                  "server.yaml:3:21: \"listen[0].proxy_protocol\": expected a "
                  "boolean (true, false, yes, no, on, off), found a list");
    /* the listener order does not matter: tls before address */
    ASSERT_STR_EQ(load_error("listen:\n  - tls: {certificate: c}\n"
                             "    address: ':1'\n"),
                  "server.yaml:2:5: \"listen[0].tls\": missing \"key\"");
}

TEST(forwarded_allow_ips_forms)
{
    am_conf_t *c = load("forwarded_allow_ips: \"*\"\n");

    ASSERT_EQ(c->forwarded_all, 1);
    ASSERT_EQ(c->nforwarded_allow, 0);
    am_conf_destroy(c);

    c = load("forwarded_allow_ips: 127.0.0.1,10.1.2.3/16 ::1\n");
    ASSERT_EQ(c->forwarded_all, 0);
    ASSERT_EQ(c->nforwarded_allow, 3);
    ASSERT_EQ(c->forwarded_allow[1].prefix, 16);
    /* host bits below the prefix are cleared */
    ASSERT_EQ(c->forwarded_allow[1].addr[1], 1);
    ASSERT_EQ(c->forwarded_allow[1].addr[2], 0);
    ASSERT_EQ(c->forwarded_allow[1].addr[3], 0);
    am_conf_destroy(c);

    c = load("forwarded_allow_ips: []\n");
    ASSERT_EQ(c->forwarded_all, 0);
    ASSERT_EQ(c->nforwarded_allow, 0);
    am_conf_destroy(c);

    c = load("forwarded_allow_ips: [\"2001:db8::1/127\", \"*\"]\n");
    ASSERT_EQ(c->forwarded_all, 1);
    ASSERT_EQ(c->nforwarded_allow, 1);
    ASSERT_EQ(c->forwarded_allow[0].prefix, 127);
    ASSERT_EQ(c->forwarded_allow[0].addr[15], 0);
    am_conf_destroy(c);

    c = am_conf_create();
    ASSERT_EQ(
        am_conf_set(c, "forwarded_allow_ips", "10.0.0.0/8", err, sizeof(err)),
        AM_OK);
    ASSERT_EQ(c->nforwarded_allow, 1);
    am_conf_destroy(c);
}

TEST(error_forwarded_allow_ips)
{
    ASSERT_STR_EQ(load_error("forwarded_allow_ips: [127.0.0.1, 10.0.0.0/33]\n"),
                  "server.yaml:1:34: \"forwarded_allow_ips[1]\": bad address "
                  "or network \"10.0.0.0/33\": expected an IP address, a "
                  "network such as \"10.0.0.0/8\" or \"fd00::/8\", or \"*\"");
    ASSERT_STR_EQ(load_error("\nforwarded_allow_ips: 127.0.0.1, localhost\n"),
                  "server.yaml:2:22: \"forwarded_allow_ips\": bad address or "
                  "network \"localhost\": expected an IP address, a network "
                  "such as \"10.0.0.0/8\" or \"fd00::/8\", or \"*\"");
    ASSERT_STR_EQ(load_error("forwarded_allow_ips: [\"fd00::/\"]\n"),
                  "server.yaml:1:23: \"forwarded_allow_ips[0]\": bad address "
                  "or network \"fd00::/\": expected an IP address, a network "
                  "such as \"10.0.0.0/8\" or \"fd00::/8\", or \"*\"");
    ASSERT_STR_EQ(load_error("forwarded_allow_ips: [[a]]\n"),
                  "server.yaml:1:23: \"forwarded_allow_ips[0]\": expected an "
                  "IP address, a network such as \"10.0.0.0/8\" or \"*\", "
                  "found a list");
    ASSERT_STR_EQ(load_error("forwarded_allow_ips: {a: 1}\n"),
                  "server.yaml:1:22: \"forwarded_allow_ips\": expected a list "
                  "of IP addresses or networks such as \"10.0.0.0/8\", or "
                  "\"*\", found a map");
}

TEST(error_http2_bounds)
{
    ASSERT_STR_EQ(load_error("http2:\n  max_frame_size: 8KiB\n"),
                  "server.yaml:2:19: \"http2.max_frame_size\": expected a "
                  "size from 16KiB to 16777215B, found \"8KiB\"");
    ASSERT_STR_EQ(load_error("http2:\n  connection_window: 65534\n"),
                  "server.yaml:2:22: \"http2.connection_window\": expected a "
                  "size from 65535B to 2147483647B, found \"65534\"");
    ASSERT_STR_EQ(load_error("http2:\n  initial_window_size: 2GiB\n"),
                  "server.yaml:2:24: \"http2.initial_window_size\": expected "
                  "a size from 1KiB to 2147483647B, found \"2GiB\"");
    ASSERT_STR_EQ(load_error("http2:\n  max_concurrent_streams: 0\n"),
                  "server.yaml:2:27: \"http2.max_concurrent_streams\": "
                  "expected an integer from 1 to 2147483647, found \"0\"");
    ASSERT_STR_EQ(load_error("max_frame_size: 1MiB\n"),
                  "server.yaml:1:1: unknown key \"max_frame_size\" in the top "
                  "level; did you mean \"max_frame_size\" in \"http2\"?");
    ASSERT_STR_EQ(load_error("http2:\n  max_streams: 10\n"),
                  "server.yaml:2:3: unknown key \"max_streams\" in "
                  "\"http2\"");
    ASSERT_STR_EQ(load_error("timeouts:\n  tls_handshake: 0\n"),
                  "server.yaml:2:18: \"timeouts.tls_handshake\": expected a "
                  "duration from 1ms to 24h, found \"0\"");
}

TEST(finish_tls_paths_and_ticket_keys)
{
    am_conf_t *c = load("app: m:a\nlisten: {address: ':1', tls: "
                        "{certificate: c.pem, key: /k.pem, client_ca: "
                        "d/ca.pem}}\n");
    static const unsigned char zero[80];
    char cwd[4096], want[4200];

    ASSERT_TRUE(getcwd(cwd, sizeof(cwd)) != NULL);
    ASSERT_EQ(memcmp(c->tls_ticket_keys, zero, 80), 0);
    ASSERT_EQ(am_conf_finish(c, err, sizeof(err)), AM_OK);
    snprintf(want, sizeof(want), "%s/c.pem", cwd);
    ASSERT_STR_EQ(c->listen[0].tls->certificate, want);
    ASSERT_STR_EQ(c->listen[0].tls->key, "/k.pem");
    snprintf(want, sizeof(want), "%s/d/ca.pem", cwd);
    ASSERT_STR_EQ(c->listen[0].tls->client_ca, want);
    ASSERT_TRUE(memcmp(c->tls_ticket_keys, zero, 80) != 0);
    am_conf_destroy(c);

    /* no TLS listener: no keys made */
    c = load("app: m:a\n");
    ASSERT_EQ(am_conf_finish(c, err, sizeof(err)), AM_OK);
    ASSERT_EQ(memcmp(c->tls_ticket_keys, zero, 80), 0);
    am_conf_destroy(c);
}

/* am_conf_finish */

TEST(finish_fills_defaults)
{
    am_conf_t *c = load("app: main:app\n");
    struct sockaddr_in *sin;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    setenv("VIRTUAL_ENV", "/opt/venv", 1);
    ASSERT_EQ(am_conf_finish(c, err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->nlisten, 1);
    ASSERT_STR_EQ(c->listen[0].address, "127.0.0.1:8000");
    sin = (struct sockaddr_in *)&c->listen[0].addr;
    ASSERT_EQ(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
    ASSERT_EQ(ntohs(sin->sin_port), 8000);
    ASSERT_EQ(c->workers, ncpu < 1 ? 1 : ncpu > 1024 ? 1024 : ncpu);
    ASSERT_STR_EQ(c->virtualenv, "/opt/venv");
    am_conf_destroy(c);
}

TEST(finish_keeps_what_is_set)
{
    am_conf_t *c = load("app: main:app\nworkers: 5\nvirtualenv: /v\n"
                        "listen: [':9000']\n");

    setenv("VIRTUAL_ENV", "/opt/venv", 1);
    ASSERT_EQ(am_conf_finish(c, err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->workers, 5);
    ASSERT_STR_EQ(c->virtualenv, "/v");
    ASSERT_EQ(c->nlisten, 1);
    ASSERT_STR_EQ(c->listen[0].address, ":9000");
    am_conf_destroy(c);

    c = load("app: main:app\n");
    unsetenv("VIRTUAL_ENV");
    ASSERT_EQ(am_conf_finish(c, err, sizeof(err)), AM_OK);
    ASSERT_TRUE(c->virtualenv == NULL);
    am_conf_destroy(c);
}

TEST(finish_needs_an_app)
{
    am_conf_t *c = load("workers: 1\n");

    ASSERT_EQ(am_conf_finish(c, err, sizeof(err)), AM_ERROR);
    ASSERT_STR_EQ(err, "no application: set \"app\" in the config or give "
                       "MODULE:ATTR");
    am_conf_destroy(c);
}

TEST(finish_checks_an_app_from_the_command_line)
{
    am_conf_t *c = am_conf_create();

    c->app = strdup("main.py");
    ASSERT_EQ(am_conf_finish(c, err, sizeof(err)), AM_ERROR);
    ASSERT_STR_EQ(err, "bad application \"main.py\": expected MODULE:ATTR "
                       "such as \"main:app\" (names may be dotted)");
    am_conf_destroy(c);
}

/* am_conf_set, am_conf_check_app */

TEST(set_from_flags)
{
    am_conf_t *c = am_conf_create();

    ASSERT_EQ(am_conf_set(c, "workers", "4", err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->workers, 4);
    ASSERT_EQ(am_conf_set(c, "log.level", "debug", err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->log_level, AM_LOG_DEBUG);
    ASSERT_EQ(am_conf_set(c, "log.access_log", "stderr", err, sizeof(err)),
              AM_OK);
    ASSERT_STR_EQ(c->access_log, "stderr");
    ASSERT_EQ(am_conf_set(c, "log.access_log", "off", err, sizeof(err)), AM_OK);
    ASSERT_TRUE(c->access_log == NULL);
    ASSERT_EQ(am_conf_set(c, "factory", "true", err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->factory, 1);
    ASSERT_EQ(am_conf_set(c, "chdir", "/srv", err, sizeof(err)), AM_OK);
    ASSERT_STR_EQ(c->chdir, "/srv");
    ASSERT_EQ(am_conf_set(c, "lifespan", "off", err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->lifespan, AM_LIFESPAN_OFF);
    ASSERT_EQ(am_conf_set(c, "root_path", "/x", err, sizeof(err)), AM_OK);
    ASSERT_STR_EQ(c->root_path, "/x");
    ASSERT_EQ(am_conf_set(c, "app", "m:a", err, sizeof(err)), AM_OK);
    ASSERT_STR_EQ(c->app, "m:a");
    ASSERT_EQ(am_conf_set(c, "timeouts.graceful", "1m", err, sizeof(err)),
              AM_OK);
    ASSERT_EQ(c->timeout_graceful, 60000);
    ASSERT_EQ(am_conf_set(c, "listen", "[::1]:1", err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->nlisten, 1);
    ASSERT_EQ(am_conf_set(c, "pythonpath", "src", err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->npythonpath, 1);

    ASSERT_EQ(am_conf_set(c, "workers", "many", err, sizeof(err)), AM_ERROR);
    ASSERT_STR_EQ(err, "\"workers\": expected an integer from 1 to 1024 or "
                       "\"auto\", found \"many\"");
    ASSERT_EQ(am_conf_set(c, "limits.body_size", "1ZB", err, sizeof(err)),
              AM_ERROR);
    ASSERT_STR_EQ(err, "bad size \"1ZB\" for \"limits.body_size\": expected a "
                       "number with an optional unit (B, KB, KiB, MB, MiB, "
                       "GB, GiB)");
    ASSERT_EQ(am_conf_set(c, "listen", "x", err, sizeof(err)), AM_ERROR);
    ASSERT_STR_EQ(err, "\"listen\": missing port in \"x\": expected "
                       "host:port, [v6]:port, :port or unix:/path");
    ASSERT_EQ(am_conf_set(c, "env", "A=1", err, sizeof(err)), AM_ERROR);
    ASSERT_STR_EQ(err, "\"env\" cannot be set from the command line");
    ASSERT_EQ(am_conf_set(c, "nope", "1", err, sizeof(err)), AM_ERROR);
    ASSERT_EQ(am_conf_set(c, "listen.backlog", "1", err, sizeof(err)),
              AM_ERROR);
    am_conf_destroy(c);
}

TEST(check_app)
{
    static const char *const good[] = {
        "main:app", "a.b.c:d.e", "_m:_a", "m1:a2", "pkg.mod:App.factory",
    };
    static const char *const bad[] = {
        "main", ":app", "main:", "a:b:c", "a-b:c", ".a:b",
        "a.:b", "a:b.", "1a:b",  "a:1b",  "a b:c", "",
    };

    for (size_t i = 0; i < am_nitems(good); i++) {
        ASSERT_EQ(am_conf_check_app(good[i], err, sizeof(err)), AM_OK);
    }
    for (size_t i = 0; i < am_nitems(bad); i++) {
        if (am_conf_check_app(bad[i], err, sizeof(err)) != AM_ERROR) {
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
        }
        ASSERT_EQ(am_conf_check_app(bad[i], err, sizeof(err)), AM_ERROR);
    }
}

/* Every error path frees what it built (run under ASan to see leaks). */
TEST(errors_after_partial_load_do_not_leak)
{
    ASSERT_STR_EQ(load_error("app: m:a\npythonpath: [a, b]\nenv: {A: 1}\n"
                             "listen: [':1', {address: unix:/x, mode: 9}]\n"),
                  "server.yaml:4:41: \"listen[1].mode\": expected an octal "
                  "file mode from 0 to 0777 such as \"0660\", found \"9\"");
}

/* asgimaster.yaml(5) describes every key of the table, and only those, and
 * agrees on which keys are restart-only (STYLE.md section 13). */
TEST(man_page_lists_every_key)
{
    const am_conf_key_t *k;
    const char *dot, *shortname, *p, *next;
    char *man = NULL, word[80], *para;
    size_t len = 0;
    FILE *f = fopen("man/asgimaster.yaml.5", "r");
    int restart;

    if (f == NULL) {
        return; /* not run from the repository root */
    }
    man = malloc(1 << 20);
    len = fread(man, 1, (1 << 20) - 1, f);
    man[len] = '\0';
    fclose(f);

    for (size_t i = 0; i < am_conf_nkeys; i++) {
        k = &am_conf_keys[i];
        dot = strrchr(k->name, '.');
        shortname = dot ? dot + 1 : k->name;
        if (k->type == AM_CONF_SECTION) {
            snprintf(word, sizeof(word), ".Ic %s\n", shortname);
        } else {
            snprintf(word, sizeof(word), "\n.It Ic %s ", shortname);
        }
        p = strstr(man, word);
        if (p == NULL) {
            fprintf(stderr, "  \"%s\" is not in man/asgimaster.yaml.5\n",
                    k->name);
        }
        ASSERT_TRUE(p != NULL);
        if (k->type == AM_CONF_SECTION || dot != NULL) {
            continue;
        }
        /* top-level keys say "Restart-only." in their paragraph */
        next = strstr(p + 1, "\n.It ");
        para = strndup(p, next ? (size_t)(next - p) : strlen(p));
        restart = strstr(para, "Restart-only") != NULL;
        if (restart != !k->reloadable) {
            fprintf(stderr, "  \"%s\": man says %s, the table %s\n", k->name,
                    restart ? "restart-only" : "reloadable",
                    k->reloadable ? "reloadable" : "restart-only");
        }
        ASSERT_EQ(restart, !k->reloadable);
        free(para);
    }

    /* and no key the table does not have */
    for (p = strstr(man, "\n.It Ic "); p != NULL;
         p = strstr(p + 1, "\n.It Ic ")) {
        size_t n = strcspn(p + 8, " \n");
        int found = 0;

        snprintf(word, sizeof(word), "%.*s", (int)am_min(n, 60), p + 8);
        for (size_t i = 0; i < am_conf_nkeys && !found; i++) {
            dot = strrchr(am_conf_keys[i].name, '.');
            found = strcmp(dot ? dot + 1 : am_conf_keys[i].name, word) == 0;
        }
        if (!found) {
            fprintf(stderr,
                    "  man/asgimaster.yaml.5 has \"%s\", the table "
                    "does not\n",
                    word);
        }
        ASSERT_TRUE(found);
    }
    free(man);
}

/* Operations keys (issue 5): defaults, spellings, errors, the metrics
 * listener am_conf_finish() adds. */
#define ASSERT_STR_CONTAINS(s, sub) ASSERT_TRUE(strstr((s), (sub)) != NULL)

TEST(operations_defaults)
{
    am_conf_t *c = am_conf_create();

    ASSERT_TRUE(c->pidfile == NULL);
    ASSERT_TRUE(c->user == NULL);
    ASSERT_TRUE(c->group == NULL);
    ASSERT_EQ(c->umask, -1);
    ASSERT_EQ(c->max_requests, 0);
    ASSERT_EQ(c->max_requests_jitter, 0);
    ASSERT_EQ(c->timeout_worker, 30000);
    ASSERT_TRUE(c->metrics_address == NULL);
    ASSERT_STR_EQ(c->metrics_path, "/metrics");
    am_conf_destroy(c);
}

TEST(operations_spellings)
{
    am_conf_t *c = load("umask: 0\npidfile: ''\ntimeouts: {worker: 2s}\n");

    ASSERT_EQ(c->umask, 0);
    ASSERT_TRUE(c->pidfile == NULL);
    ASSERT_EQ(c->timeout_worker, 2000);
    am_conf_destroy(c);

    c = load("umask: \"0077\"\nmax_requests: 5\n");
    ASSERT_EQ(c->umask, 077);
    ASSERT_EQ(c->max_requests, 5);
    am_conf_destroy(c);
}

TEST(error_operations)
{
    ASSERT_TRUE(strstr(load_error("umask: 0999\n"), "server.yaml:1:8:") !=
                NULL);
    ASSERT_TRUE(strstr(load_error("umask: 0999\n"), "octal") != NULL);
    ASSERT_TRUE(strstr(load_error("max_requests: -1\n"), "max_requests") !=
                NULL);
    ASSERT_STR_CONTAINS(load_error("timeouts: {worker: 0}\n"),
                        "server.yaml:1:20:");
    ASSERT_STR_CONTAINS(load_error("metrics: {address: nowhere}\n"),
                        "server.yaml:1:20:");
    ASSERT_STR_CONTAINS(load_error("metrics: {address: nowhere}\n"),
                        "missing port");
    ASSERT_STR_CONTAINS(load_error("metrics: {adress: \":9100\"}\n"),
                        "did you mean \"address\"");
    ASSERT_TRUE(strstr(load_error("metrics: :9100\n"), "server.yaml:1:10:") !=
                NULL);
}

TEST(finish_metrics_listener)
{
    am_conf_t *c = load("app: main:app\nlisten: ['127.0.0.1:8000']\n"
                        "metrics: {address: '127.0.0.1:9100'}\n");

    ASSERT_EQ(am_conf_finish(c, err, sizeof(err)), AM_OK);
    ASSERT_EQ(c->nlisten, 2);
    ASSERT_EQ(c->listen[0].metrics, 0);
    ASSERT_EQ(c->listen[1].metrics, 1);
    ASSERT_STR_EQ(c->listen[1].address, "127.0.0.1:9100");
    ASSERT_EQ(c->listen[1].fd, -1);
    am_conf_destroy(c);

    c = load("app: main:app\nlisten: ['127.0.0.1:8000']\n"
             "metrics: {address: '127.0.0.1:8000'}\n");
    ASSERT_EQ(am_conf_finish(c, err, sizeof(err)), AM_ERROR);
    ASSERT_TRUE(strstr(err, "metrics.address") != NULL);
    ASSERT_TRUE(strstr(err, "duplicate") != NULL);
    am_conf_destroy(c);

    c = load("app: main:app\nmetrics: {path: metrics}\n");
    ASSERT_EQ(am_conf_finish(c, err, sizeof(err)), AM_ERROR);
    ASSERT_TRUE(strstr(err, "metrics.path") != NULL);
    am_conf_destroy(c);
}

/* The networks forwarded_allow_ips loads are the ones am_cidr_match() sees:
 * an IPv4-mapped IPv6 network covers the IPv4 peers it maps, and an IPv4
 * network covers a dual-stack socket's ::ffff:a.b.c.d peer (issue 8). */
static int
conf_matches(const am_conf_t *c, int family, const char *addr)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = (sa_family_t)family;
    if (family == AF_INET) {
        ASSERT_EQ(
            inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr),
            1);
    } else {
        ASSERT_EQ(
            inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr),
            1);
    }
    return am_cidr_match(c->forwarded_allow, c->nforwarded_allow,
                         (struct sockaddr *)&ss);
}

TEST(forwarded_allow_ips_mapped_networks)
{
    am_conf_t *c = load("forwarded_allow_ips: [\"::ffff:10.0.0.0/104\"]\n");

    ASSERT_EQ(conf_matches(c, AF_INET, "10.1.2.3"), 1);
    ASSERT_EQ(conf_matches(c, AF_INET6, "::ffff:10.1.2.3"), 1);
    ASSERT_EQ(conf_matches(c, AF_INET, "11.1.2.3"), 0);
    am_conf_destroy(c);

    c = load("forwarded_allow_ips: [10.0.0.0/8]\n");
    ASSERT_EQ(conf_matches(c, AF_INET6, "::ffff:10.9.8.7"), 1);
    ASSERT_EQ(conf_matches(c, AF_INET6, "::1"), 0);
    am_conf_destroy(c);

    /* The config takes the tested parser's rules: no leading zero. */
    ASSERT_STR_CONTAINS(load_error("forwarded_allow_ips: [10.0.0.0/08]\n"),
                        "bad address or network");
}
