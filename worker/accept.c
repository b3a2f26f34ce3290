/* worker/accept.c: a connection's way in, before any HTTP: accept4() on a
 * listener, the PROXY protocol header, the TLS handshake, then the choice
 * of protocol (ALPN "h2" -> HTTP/2; otherwise HTTP/1.1, which itself
 * recognises the HTTP/2 preface and "Upgrade: h2c"). From then on the
 * connection belongs to its protocol and worker/conn.c does its I/O.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/forwarded.h"
#include "common/log.h"
#include "common/proxy.h"
#include "worker/accept.h"
#include "worker/conn.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/http1.h"
#include "worker/http2.h"
#include "worker/tls.h"

#define ACCEPT_BATCH 64

static void accept_start(am_conn_t *c);
static void accept_read_proxy(am_conn_t *c);
static void accept_handshake(am_conn_t *c);
static void accept_on_handshake_timeout(am_timer_t *t);

/* The protocol once the transport is ready: ALPN "h2" on TLS, else
 * HTTP/1.1 (which sniffs the h2 preface and handles Upgrade: h2c). */
static void
accept_choose_protocol(am_conn_t *c)
{
    if (c->tls != NULL && c->listen->http2 && am_tls_alpn_h2(c->tls)) {
        am_http2_attach(c);
    } else {
        am_http1_attach(c);
    }
}

/* conn.c calls this on socket events until the way in is done. */
static void
accept_on_handshake_event(am_conn_t *c)
{
    if (c->proxy_pending) {
        accept_read_proxy(c);
    } else {
        accept_handshake(c);
    }
}

static void
accept_addr_string(const struct sockaddr_storage *ss, char *host, size_t size,
                   int *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

        inet_ntop(AF_INET, &sin->sin_addr, host, size);
        *port = ntohs(sin->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

        inet_ntop(AF_INET6, &sin6->sin6_addr, host, size);
        *port = ntohs(sin6->sin6_port);
    } else {
        host[0] = '\0';
        *port = -1;
    }
}

/* The direct peer and the local address; forwarded_allow_ips decides
 * whether the peer's Forwarded headers are believed. */
static void
accept_set_peer(am_conn_t *c, struct sockaddr_storage *peer)
{
    /* Zeroed: clang's analyzer does not model getsockname(). */
    struct sockaddr_storage local = { 0 };
    socklen_t len = sizeof(local);
    am_listen_t *l = c->listen;
    am_conf_t *conf = am_ctx.conf;
    int one = 1;

    memcpy(&c->peer, peer, sizeof(c->peer));
    c->peer_trusted =
        l->family == AF_UNIX || conf->forwarded_all ||
        am_cidr_match(conf->forwarded_allow, conf->nforwarded_allow,
                      (struct sockaddr *)peer);
    if (l->family != AF_UNIX) {
        setsockopt(c->ev.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        accept_addr_string(peer, c->client_host, sizeof(c->client_host),
                           &c->client_port);
        if (getsockname(c->ev.fd, (struct sockaddr *)&local, &len) == 0) {
            accept_addr_string(&local, c->server_host, sizeof(c->server_host),
                               &c->server_port);
        }
    } else {
        c->client_port = -1;
        c->server_port = -1;
    }
}

void
am_accept_on_readable(am_event_t *ev, uint32_t events)
{
    am_listen_t *l = ev->data;
    struct sockaddr_storage peer = { 0 }; /* zeroed for the analyzer */
    socklen_t len;
    am_conn_t *c;
    int fd, i;

    if (ev->fd == -1) {
        return; /* closed by a graceful stop earlier in this batch */
    }
    for (i = 0; i < ACCEPT_BATCH; i++) {
        if (am_conn_count >= am_ctx.conf->limit_connections) {
            /* The worker re-arms listeners when connections close. */
            if (am_ctx.listeners_pause != NULL) {
                am_ctx.listeners_pause();
            }
            return;
        }
        len = sizeof(peer);
        fd = accept4(ev->fd, (struct sockaddr *)&peer, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) {
                return;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                am_log(AM_LOG_CRIT, errno, "accept4() failed");
                return;
            }
            am_log(AM_LOG_ALERT, errno, "accept4() failed");
            return;
        }
        c = am_conn_create(fd, l);
        c->on_handshake = accept_on_handshake_event;
        accept_set_peer(c, &peer);
        if (am_log_enabled(AM_LOG_DEBUG)) {
            am_connlog(AM_LOG_DEBUG, 0, c->id, 0, "accepted from %s:%d on %s",
                       c->client_host[0] ? c->client_host : "unix",
                       c->client_port, l->address);
        }
        if (l->proxy_protocol) {
            /* The PROXY header comes first, before TLS and HTTP. */
            c->proxy_pending = 1;
            c->proxy_buf = am_alloc(AM_PROXY_MAX);
            c->read_timer.handler = accept_on_handshake_timeout;
            c->read_timer.data = c;
            am_timer_add(&c->read_timer, am_ctx.conf->timeout_header_read);
            am_conn_update_events(c);
            continue;
        }
        accept_start(c);
    }
}

/* TLS handshake or protocol, once the peer is known. */
static void
accept_start(am_conn_t *c)
{
    am_listen_t *l = c->listen;

    if (l->tls != NULL) {
        c->tls = am_tls_conn_create(l, c->ev.fd);
        if (c->tls == NULL) {
            am_conn_close(c);
            return;
        }
        c->handshaking = 1;
        c->tls_want = EPOLLIN;
        c->read_timer.handler = accept_on_handshake_timeout;
        c->read_timer.data = c;
        am_timer_add(&c->read_timer, am_ctx.conf->timeout_tls_handshake);
        am_conn_update_events(c);
        return;
    }
    accept_choose_protocol(c);
}

/* PROXY protocol v1/v2 (HAProxy's proxy-protocol.txt). Bytes are peeked and
 * only the header's own are taken off the socket, so what follows (a TLS
 * ClientHello) stays there for OpenSSL. */
static void
accept_read_proxy(am_conn_t *c)
{
    am_proxy_result_t r;
    char buf[AM_PROXY_MAX];
    size_t consumed = 0, take;
    ssize_t n;
    int rc;

    n = recv(c->ev.fd, buf, AM_PROXY_MAX - c->proxy_len, MSG_PEEK);
    if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        am_conn_close(c);
        return;
    }
    memcpy(c->proxy_buf + c->proxy_len, buf, (size_t)n);
    rc = am_proxy_parse(c->proxy_buf, c->proxy_len + (size_t)n, &r, &consumed);
    if (rc == AM_ERROR) {
        am_connlog(AM_LOG_INFO, 0, c->id, 0,
                   "invalid PROXY protocol header: %s",
                   r.error ? r.error : "?");
        am_conn_close(c);
        return;
    }
    /* AGAIN: every byte so far belongs to the header. */
    take = rc == AM_AGAIN ? (size_t)n : consumed - c->proxy_len;
    do {
        n = recv(c->ev.fd, buf, take, 0);
    } while (n == -1 && errno == EINTR);
    if (n != (ssize_t)take) {
        am_conn_close(c);
        return;
    }
    c->proxy_len += take;
    if (rc == AM_AGAIN) {
        if (c->proxy_len >= AM_PROXY_MAX) {
            am_conn_close(c);
        }
        return;
    }

    c->proxy_pending = 0;
    free(c->proxy_buf);
    c->proxy_buf = NULL;
    am_timer_del(&c->read_timer);
    if (!r.local && (r.family == AF_INET || r.family == AF_INET6)) {
        /* The client is the peer now: its own Forwarded headers are
         * believed only if it is itself a trusted proxy. */
        memcpy(&c->peer, &r.src, sizeof(c->peer));
        c->peer_trusted = am_ctx.conf->forwarded_all ||
                          am_cidr_match(am_ctx.conf->forwarded_allow,
                                        am_ctx.conf->nforwarded_allow,
                                        (struct sockaddr *)&r.src);
        c->proxy_ssl = r.ssl ? 1 : 0;
        accept_addr_string(&r.src, c->client_host, sizeof(c->client_host),
                           &c->client_port);
        accept_addr_string(&r.dst, c->server_host, sizeof(c->server_host),
                           &c->server_port);
    }
    accept_start(c);
}

static void
accept_on_handshake_timeout(am_timer_t *t)
{
    am_conn_t *c = t->data;

    am_connlog(AM_LOG_INFO, 0, c->id, 0, "%s timed out",
               c->proxy_pending ? "PROXY protocol header" : "TLS handshake");
    am_conn_close(c);
}

static void
accept_handshake(am_conn_t *c)
{
    int rc = am_tls_handshake(c->tls, &c->tls_want);

    if (rc == AM_AGAIN) {
        am_conn_update_events(c);
        return;
    }
    if (rc != AM_OK) {
        am_conn_close(c);
        return;
    }
    c->handshaking = 0;
    am_timer_del(&c->read_timer);
    accept_choose_protocol(c);
    /* Application data may have come with the last handshake flight. */
    if (!c->closed && c->reading) {
        am_post(&c->read_post);
    }
}
