/* common/conf_address.c: listener addresses ("host:port", "[v6]:port",
 * ":port", "unix:/path") into socket addresses, and the listen[] records.
 *
 * IPv4 literals, "", "*" and "localhost" need no resolver; other host names
 * go through getaddrinfo(3) once, at load time.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "common/conf.h"
#include "common/conf_address.h"
#include "common/conf_error.h"
#include "common/conf_value.h"
#include "common/core.h"

static int
conf_parse_port(const char *address, const char *s, in_port_t *port, char *err,
                size_t size)
{
    char q[AM_CONF_QUOTE_SIZE], qp[AM_CONF_QUOTE_SIZE];
    uint64_t n;
    const char *p = s;

    if (am_conf_value_parse_u64(&p, &n) != AM_OK || *p != '\0' || n > 65535) {
        if (*s == '\0') {
            snprintf(
                err, size,
                "missing port in %s: expected host:port, [v6]:port, "
                ":port or unix:/path",
                am_conf_error_quote(q, sizeof(q), address, strlen(address)));
        } else {
            snprintf(
                err, size,
                "bad port %s in %s: expected an integer from 0 to 65535",
                am_conf_error_quote(qp, sizeof(qp), s, strlen(s)),
                am_conf_error_quote(q, sizeof(q), address, strlen(address)));
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
    char q[AM_CONF_QUOTE_SIZE];

    if (len == 0) {
        snprintf(err, size, "missing path in \"unix:\": expected unix:/path");
        return AM_ERROR;
    }
    if (len >= sizeof(sun->sun_path)) {
        snprintf(err, size,
                 "UNIX socket path %s is too long: %zu bytes, at most %zu",
                 am_conf_error_quote(q, sizeof(q), path, len), len,
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
    char q[AM_CONF_QUOTE_SIZE], qh[AM_CONF_QUOTE_SIZE];
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
            snprintf(
                err, size,
                "bad address %s: expected [v6]:port such as "
                "\"[::1]:8000\"",
                am_conf_error_quote(q, sizeof(q), address, strlen(address)));
            return AM_ERROR;
        }
        hlen = (size_t)(close - address - 1);
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL) {
            snprintf(
                err, size,
                "missing port in %s: expected host:port, [v6]:port, "
                ":port or unix:/path",
                am_conf_error_quote(q, sizeof(q), address, strlen(address)));
            return AM_ERROR;
        }
        hlen = (size_t)(colon - address);
        if (memchr(address, ':', hlen) != NULL) {
            snprintf(
                err, size,
                "bad address %s: an IPv6 address takes brackets, as in "
                "\"[::1]:8000\"",
                am_conf_error_quote(q, sizeof(q), address, strlen(address)));
            return AM_ERROR;
        }
    }
    if (conf_parse_port(address, colon + 1, &nport, err, size) != AM_OK) {
        return AM_ERROR;
    }
    if (hlen >= sizeof(host)) {
        snprintf(err, size, "bad host in %s: too long",
                 am_conf_error_quote(q, sizeof(q), address, strlen(address)));
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
            snprintf(
                err, size, "bad host %s in %s",
                am_conf_error_quote(qh, sizeof(qh), host, hlen),
                am_conf_error_quote(q, sizeof(q), address, strlen(address)));
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
            snprintf(
                err, size, "bad IPv6 address %s in %s",
                am_conf_error_quote(qh, sizeof(qh), host, hlen),
                am_conf_error_quote(q, sizeof(q), address, strlen(address)));
        } else {
            snprintf(
                err, size, "cannot resolve %s in %s: %s",
                am_conf_error_quote(qh, sizeof(qh), host, hlen),
                am_conf_error_quote(q, sizeof(q), address, strlen(address)),
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

void
am_conf_address_free_tls(am_tls_conf_t *t)
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

void
am_conf_address_free(am_listen_t *l)
{
    free(l->address);
    l->address = NULL;
    free(l->path);
    l->path = NULL;
    am_conf_address_free_tls(l->tls);
    l->tls = NULL;
}

/* Parse address into a new last listener; refuse one already declared.
 * The caller applies the listen.* defaults (am_conf_set_listen()). */
int
am_conf_address_push(am_conf_t *conf, const char *address, int line, int column,
                     am_listen_t **out, char *err, size_t size)
{
    char q[AM_CONF_QUOTE_SIZE];
    am_listen_t l;

    memset(&l, 0, sizeof(l));
    if (am_conf_parse_address(address, &l, err, size) != AM_OK) {
        return AM_ERROR;
    }
    for (size_t i = 0; i < conf->nlisten; i++) {
        if (!am_conf_listen_same(&conf->listen[i], &l)) {
            continue;
        }
        am_conf_error_quote(q, sizeof(q), address, strlen(address));
        if (conf->listen[i].line != 0) {
            snprintf(err, size,
                     "duplicate listen address %s (first at line %d)", q,
                     conf->listen[i].line);
        } else {
            snprintf(err, size, "duplicate listen address %s", q);
        }
        am_conf_address_free(&l);
        return AM_ERROR;
    }
    l.address = am_strdup(address);
    l.mode = -1;
    l.fd = -1;
    l.line = line;
    l.column = column;

    conf->listen =
        am_realloc(conf->listen, (conf->nlisten + 1) * sizeof(am_listen_t));
    conf->listen[conf->nlisten] = l;
    *out = &conf->listen[conf->nlisten++];
    return AM_OK;
}

void
am_conf_clear_listen(am_conf_t *conf)
{
    for (size_t i = 0; i < conf->nlisten; i++) {
        am_conf_address_free(&conf->listen[i]);
    }
    free(conf->listen);
    conf->listen = NULL;
    conf->nlisten = 0;
}
