/* worker/conn.c: accepted connections. Reads go into c->rbuf and are handed
 * to the protocol; writes are queued in c->wbuf and flushed once per loop
 * turn from the before-wait hook, so all the output a turn produced leaves
 * in one write(2). A connection that must close after its response lingers:
 * its write side is shut and input drained for a moment, so the peer reads
 * the response instead of a reset.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/access.h"
#include "common/forwarded.h"
#include "common/log.h"
#include "common/proxy.h"
#include "common/stats.h"
#include "worker/asgi.h"
#include "worker/conn.h"
#include "worker/http1.h"
#include "worker/http2.h"
#include "worker/tls.h"
#include "worker/worker.h"

#define CONN_READ_CHUNK   16384
#define CONN_ACCEPT_BATCH 64
#define CONN_LINGER_MSEC  2000
#define CONN_WRITE_IOV    64 /* chunks per sendmsg(2): 1 MiB */

am_conf_t *am_conn_conf;
size_t am_conn_count;

static uint64_t conn_next_id = 1;
static am_conn_t *conn_list;
static am_conn_t *conn_dirty;
static am_conn_t *conn_free_list;

static void conn_on_event(am_event_t *ev, uint32_t events);
static void conn_update_events(am_conn_t *c);
static void conn_flush(am_conn_t *c);
static void conn_linger(am_conn_t *c);
static void conn_on_write_timeout(am_timer_t *t);
static void conn_on_linger_timeout(am_timer_t *t);
static void conn_on_handshake_timeout(am_timer_t *t);
static void conn_on_read_post(am_post_t *p);
static void conn_do_read(am_conn_t *c);
static void conn_start(am_conn_t *c);
static void conn_read_proxy(am_conn_t *c);

void
am_conn_init(am_conf_t *conf)
{
    am_conn_conf = conf;
}

static void
conn_addr_string(const struct sockaddr_storage *ss, char *host, size_t size,
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

static am_conn_t *
conn_create(int fd, am_listen_t *l, struct sockaddr_storage *peer)
{
    struct sockaddr_storage local;
    socklen_t len = sizeof(local);
    am_conn_t *c;
    int one = 1;

    c = am_calloc(1, sizeof(*c));
    c->id = conn_next_id++;
    c->listen = l;
    c->ev.fd = fd;
    c->ev.handler = conn_on_event;
    c->ev.data = c;
    c->rbuf_limit = am_max(am_conn_conf->limit_body_buffer, CONN_READ_CHUNK);
    c->write_timer.handler = conn_on_write_timeout;
    c->write_timer.data = c;
    c->linger_timer.handler = conn_on_linger_timeout;
    c->linger_timer.data = c;
    c->read_post.handler = conn_on_read_post;
    c->read_post.data = c;

    memcpy(&c->peer, peer, sizeof(c->peer));
    c->peer_trusted =
        l->family == AF_UNIX || am_conn_conf->forwarded_all ||
        am_cidr_match(am_conn_conf->forwarded_allow,
                      am_conn_conf->nforwarded_allow, (struct sockaddr *)peer);
    if (l->family != AF_UNIX) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_addr_string(peer, c->client_host, sizeof(c->client_host),
                         &c->client_port);
        if (getsockname(fd, (struct sockaddr *)&local, &len) == 0) {
            conn_addr_string(&local, c->server_host, sizeof(c->server_host),
                             &c->server_port);
        }
    } else {
        c->client_port = -1;
        c->server_port = -1;
    }

    c->next = conn_list;
    if (conn_list) {
        conn_list->prev = c;
    }
    conn_list = c;
    am_conn_count++;
    if (am_stats_self != NULL) {
        am_stats_self->connections++;
        am_stats_self->connections_total++;
    }
    return c;
}

void
am_conn_on_accept(am_event_t *ev, uint32_t events)
{
    am_listen_t *l = ev->data;
    struct sockaddr_storage peer;
    socklen_t len;
    am_conn_t *c;
    int fd, i;

    if (ev->fd == -1) {
        return; /* closed by a graceful stop earlier in this batch */
    }
    for (i = 0; i < CONN_ACCEPT_BATCH; i++) {
        if (am_conn_count >= am_conn_conf->limit_connections) {
            /* The worker re-arms listeners when connections close. */
            am_worker_listeners_pause();
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
        c = conn_create(fd, l, &peer);
        if (am_log_enabled(AM_LOG_DEBUG)) {
            am_log(AM_LOG_DEBUG, 0, "*%llu accepted from %s:%d on %s",
                   (unsigned long long)c->id,
                   c->client_host[0] ? c->client_host : "unix", c->client_port,
                   l->address);
        }
        if (l->proxy_protocol) {
            /* The PROXY header comes first, before TLS and HTTP. */
            c->proxy_pending = 1;
            c->proxy_buf = am_alloc(AM_PROXY_MAX);
            c->read_timer.handler = conn_on_handshake_timeout;
            c->read_timer.data = c;
            am_timer_add(&c->read_timer, am_conn_conf->timeout_header_read);
            conn_update_events(c);
            continue;
        }
        conn_start(c);
    }
}

/* TLS handshake or protocol, once the peer is known. */
static void
conn_start(am_conn_t *c)
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
        c->read_timer.handler = conn_on_handshake_timeout;
        c->read_timer.data = c;
        am_timer_add(&c->read_timer, am_conn_conf->timeout_tls_handshake);
        conn_update_events(c);
        return;
    }
    am_http1_attach(c);
}

/* PROXY protocol v1/v2 (HAProxy's proxy-protocol.txt). Bytes are peeked and
 * only the header's own are taken off the socket, so what follows (a TLS
 * ClientHello) stays there for OpenSSL. */
static void
conn_read_proxy(am_conn_t *c)
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
        am_log(AM_LOG_INFO, 0, "*%llu invalid PROXY protocol header: %s",
               (unsigned long long)c->id, r.error ? r.error : "?");
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
        c->peer_trusted = am_conn_conf->forwarded_all ||
                          am_cidr_match(am_conn_conf->forwarded_allow,
                                        am_conn_conf->nforwarded_allow,
                                        (struct sockaddr *)&r.src);
        c->proxy_ssl = r.ssl ? 1 : 0;
        conn_addr_string(&r.src, c->client_host, sizeof(c->client_host),
                         &c->client_port);
        conn_addr_string(&r.dst, c->server_host, sizeof(c->server_host),
                         &c->server_port);
    }
    conn_start(c);
}

/* Copy len bytes of p into buf as a C string (cut to fit); NULL if none. */
static const char *
conn_cstr(char *buf, size_t size, const char *p, size_t len)
{
    if (p == NULL || len == 0) {
        return NULL;
    }
    len = am_min(len, size - 1);
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

void
am_conn_request_done(am_conn_t *c, const am_request_done_t *r)
{
    char line[4096], method[32], target[2048], ref[1024], ua[1024];
    am_access_entry_t e;
    const am_field_t *f;
    const char *name;
    double rt;
    size_t i, n;

    rt = r->start_msec ? (double)(am_now_msec() - r->start_msec) / 1000.0 : 0;
    if (am_stats_self != NULL) {
        am_stats_request(r->proto, r->status, rt);
        am_worker_request_done();
    }
    if (!am_log_access_enabled()) {
        return;
    }
    memset(&e, 0, sizeof(e));
    e.remote_addr = c->client_host[0] ? c->client_host : "unix:";
    e.time = r->start_time ? r->start_time : time(NULL);
    e.method = conn_cstr(method, sizeof(method), r->method, r->method_len);
    e.target = conn_cstr(target, sizeof(target), r->target, r->target_len);
    e.protocol = r->protocol;
    e.status = r->status;
    e.body_bytes_sent = (size_t)r->body_bytes;
    e.request_time = rt;
    e.pid = getpid();
    for (i = 0; i < r->nfields; i++) {
        f = &r->fields[i];
        name = r->head + f->name_off;
        if (f->name_len == 7 && memcmp(name, "referer", 7) == 0) {
            e.referer = conn_cstr(ref, sizeof(ref), r->head + f->value_off,
                                  f->value_len);
        } else if (f->name_len == 10 && memcmp(name, "user-agent", 10) == 0) {
            e.user_agent =
                conn_cstr(ua, sizeof(ua), r->head + f->value_off, f->value_len);
        }
    }
    n = am_access_format(am_conn_conf->access_format, &e, line, sizeof(line));
    am_log_access(line, n);
}

void
am_conn_apply_forwarded(am_conn_t *c, am_asgi_head_t *head,
                        am_forwarded_out_t *out)
{
    am_forwarded_in_t in;
    am_buf_t joined[3] = { { 0 }, { 0 }, { 0 } };
    static const char *const names[3] = { "forwarded", "x-forwarded-for",
                                          "x-forwarded-proto" };
    size_t i, k, len;
    int found = 0;

    if (!c->peer_trusted) {
        return;
    }
    /* Several lines of one field are one list (RFC 9110 §5.3). */
    for (i = 0; i < head->nheaders; i++) {
        const am_header_t *h = &head->headers[i];

        for (k = 0; k < 3; k++) {
            len = strlen(names[k]);
            if (h->name_len == len && memcmp(h->name, names[k], len) == 0) {
                if (am_buf_size(&joined[k]) > 0) {
                    am_buf_append(&joined[k], ", ", 2);
                }
                am_buf_append(&joined[k], h->value, h->value_len);
                found = 1;
            }
        }
    }
    if (!found) {
        return;
    }
    memset(&in, 0, sizeof(in));
    in.forwarded = joined[0].data;
    in.forwarded_len = am_buf_size(&joined[0]);
    in.xff = joined[1].data;
    in.xff_len = am_buf_size(&joined[1]);
    in.xfp = joined[2].data;
    in.xfp_len = am_buf_size(&joined[2]);
    memset(out, 0, sizeof(*out));
    if (am_forwarded_resolve(&in, am_conn_conf->forwarded_allow,
                             am_conn_conf->nforwarded_allow,
                             am_conn_conf->forwarded_all, out) == AM_OK) {
        if (out->has_host) {
            head->client_host = out->host;
            head->client_port = out->port;
        }
        if (out->has_scheme) {
            /* An http scope's scheme: ws/wss name the same transports. */
            head->scheme = (strcmp(out->scheme, "https") == 0 ||
                            strcmp(out->scheme, "wss") == 0)
                               ? "https"
                               : "http";
        }
    }
    for (k = 0; k < 3; k++) {
        am_buf_free(&joined[k]);
    }
}

static void
conn_on_handshake_timeout(am_timer_t *t)
{
    am_conn_t *c = t->data;

    am_log(AM_LOG_INFO, 0, "*%llu %s timed out", (unsigned long long)c->id,
           c->proxy_pending ? "PROXY protocol header" : "TLS handshake");
    am_conn_close(c);
}

static void
conn_handshake(am_conn_t *c)
{
    int rc = am_tls_handshake(c->tls, &c->tls_want);

    if (rc == AM_AGAIN) {
        conn_update_events(c);
        return;
    }
    if (rc != AM_OK) {
        am_conn_close(c);
        return;
    }
    c->handshaking = 0;
    am_timer_del(&c->read_timer);
    if (c->listen->http2 && am_tls_alpn_h2(c->tls)) {
        am_http2_attach(c);
    } else {
        am_http1_attach(c);
    }
    /* Application data may have come with the last handshake flight. */
    if (!c->closed && c->reading) {
        am_post(&c->read_post);
    }
}

static void
conn_on_read_post(am_post_t *p)
{
    am_conn_t *c = p->data;

    if (!c->closed && c->reading && !c->lingering) {
        conn_do_read(c);
    }
}

void
am_conn_set_reading(am_conn_t *c, int on)
{
    if (on && !c->reading && c->tls != NULL && !c->handshaking) {
        /* OpenSSL may hold decrypted bytes the socket will not signal. */
        am_post(&c->read_post);
    }
    c->reading = on ? 1 : 0;
    conn_update_events(c);
}

static void
conn_update_events(am_conn_t *c)
{
    uint32_t mask = 0;

    if (c->closed) {
        return;
    }
    if (c->proxy_pending) {
        if (am_event_set(&c->ev, EPOLLIN | EPOLLRDHUP) != AM_OK) {
            am_conn_close(c);
        }
        return;
    }
    if (c->handshaking) {
        mask = c->tls_want | EPOLLRDHUP;
        if (am_event_set(&c->ev, mask) != AM_OK) {
            am_conn_close(c);
        }
        return;
    }
    if (c->reading || c->lingering) {
        mask |= EPOLLIN | EPOLLRDHUP;
    }
    if (c->write_blocked || c->read_wants_write) {
        mask |= EPOLLOUT;
    }
    if (mask == 0) {
        /* Registered for errors and hang-ups only (always reported). */
        mask = EPOLLERR;
    }
    if (am_event_set(&c->ev, mask) != AM_OK) {
        am_conn_close(c);
    }
}

static void
conn_mark_dirty(am_conn_t *c)
{
    if (!c->dirty && !c->closed) {
        c->dirty = 1;
        c->next_dirty = conn_dirty;
        conn_dirty = c;
    }
}

void
am_conn_write(am_conn_t *c, const void *data, size_t len)
{
    if (c->closed || len == 0) {
        return;
    }
    am_bufq_append(&c->wbuf, data, len);
    conn_mark_dirty(c);
}

void
am_conn_write_str(am_conn_t *c, const char *s)
{
    am_conn_write(c, s, strlen(s));
}

static int
conn_read(am_conn_t *c)
{
    ssize_t n;
    int eof = 0;

    for (;;) {
        if (am_buf_size(&c->rbuf) >= c->rbuf_limit) {
            break;
        }
        am_buf_reserve(&c->rbuf, CONN_READ_CHUNK);
        if (c->tls != NULL) {
            uint32_t want = 0;

            n = am_tls_recv(c->tls, c->rbuf.data + c->rbuf.len,
                            c->rbuf.cap - c->rbuf.len, &want);
            if (n == AM_AGAIN) {
                if (want & EPOLLOUT) {
                    c->read_wants_write = 1;
                    conn_update_events(c);
                }
                break;
            }
            if (n == AM_ERROR) {
                return AM_ERROR;
            }
            if (n == 0) {
                eof = 1;
                break;
            }
            c->rbuf.len += (size_t)n;
            if (am_stats_self != NULL) {
                am_stats_self->bytes_in += (uint64_t)n;
            }
            continue;
        }
        n = recv(c->ev.fd, c->rbuf.data + c->rbuf.len,
                 c->rbuf.cap - c->rbuf.len, 0);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            if (errno != ECONNRESET) {
                am_log(AM_LOG_INFO, errno, "*%llu recv() failed",
                       (unsigned long long)c->id);
            }
            return AM_ERROR;
        }
        if (n == 0) {
            eof = 1;
            break;
        }
        c->rbuf.len += (size_t)n;
        if (am_stats_self != NULL) {
            am_stats_self->bytes_in += (uint64_t)n;
        }
        if ((size_t)n < CONN_READ_CHUNK) {
            break;
        }
    }
    if (am_buf_size(&c->rbuf) == 0) {
        am_buf_shrink(&c->rbuf);
    }
    return eof ? AM_DONE : AM_OK;
}

static void
conn_do_read(am_conn_t *c)
{
    int rc = conn_read(c);

    if (rc == AM_ERROR) {
        am_conn_close(c);
        return;
    }
    c->proto->on_read(c, rc == AM_DONE);
}

static void
conn_on_event(am_event_t *ev, uint32_t events)
{
    am_conn_t *c = ev->data;

    if (c->closed) {
        return;
    }
    if (c->proxy_pending) {
        conn_read_proxy(c);
        return;
    }
    if (c->handshaking) {
        conn_handshake(c);
        return;
    }
    if (c->write_blocked &&
        ((events & EPOLLOUT) || (c->tls != NULL && (events & EPOLLIN)))) {
        conn_flush(c);
        if (c->closed) {
            return;
        }
    }
    if ((events & EPOLLOUT) && c->read_wants_write) {
        c->read_wants_write = 0;
        conn_update_events(c);
        events |= EPOLLIN;
    }
    if (c->lingering) {
        char buf[4096];
        ssize_t n;

        /* Raw bytes: after close_notify nothing more is decrypted. */
        do {
            n = recv(c->ev.fd, buf, sizeof(buf), 0);
        } while (n > 0);
        if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
            am_conn_close(c);
        }
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if (!c->reading) {
            if (events & (EPOLLHUP | EPOLLERR)) {
                c->proto->on_read(c, 1);
            }
            return;
        }
        conn_do_read(c);
    }
}

static void
conn_flush(am_conn_t *c)
{
    size_t before = am_bufq_size(&c->wbuf);
    struct iovec iov[CONN_WRITE_IOV];
    struct msghdr msg = { 0 };
    ssize_t n;

    while (am_bufq_size(&c->wbuf) > 0) {
        if (c->tls != NULL) {
            uint32_t want = 0;

            /* One chunk per SSL_write: a chunk is one TLS record. */
            am_bufq_iov(&c->wbuf, iov, 1);
            n = am_tls_send(c->tls, iov[0].iov_base, iov[0].iov_len, &want);
            if (n == AM_AGAIN) {
                break;
            }
            if (n == AM_ERROR) {
                am_conn_close(c);
                return;
            }
            am_bufq_consume(&c->wbuf, (size_t)n);
            continue;
        }
        /* sendmsg(2), not writev(2): MSG_NOSIGNAL. */
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)am_bufq_iov(&c->wbuf, iov, CONN_WRITE_IOV);
        n = sendmsg(c->ev.fd, &msg, MSG_NOSIGNAL);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            if (errno != EPIPE && errno != ECONNRESET) {
                am_log(AM_LOG_INFO, errno, "*%llu sendmsg() failed",
                       (unsigned long long)c->id);
            }
            am_conn_close(c);
            return;
        }
        am_bufq_consume(&c->wbuf, (size_t)n);
    }

    if (am_bufq_size(&c->wbuf) > 0) {
        if (am_stats_self != NULL) {
            am_stats_self->bytes_out += before - am_bufq_size(&c->wbuf);
        }
        if (!c->write_blocked || am_bufq_size(&c->wbuf) < before) {
            am_timer_add(&c->write_timer, am_conn_conf->timeout_write);
        }
        if (!c->write_blocked) {
            c->write_blocked = 1;
            conn_update_events(c);
        }
        return;
    }

    if (am_stats_self != NULL) {
        am_stats_self->bytes_out += before - am_bufq_size(&c->wbuf);
    }
    am_timer_del(&c->write_timer);
    if (c->write_blocked) {
        c->write_blocked = 0;
        conn_update_events(c);
    }
    if (c->closing) {
        conn_linger(c);
        return;
    }
    if (before > 0 && c->proto->on_drain) {
        c->proto->on_drain(c);
    }
}

static void
conn_on_write_timeout(am_timer_t *t)
{
    am_conn_t *c = t->data;

    am_log(AM_LOG_INFO, 0, "*%llu client timed out reading the response",
           (unsigned long long)c->id);
    am_conn_close(c);
}

void
am_conn_close_after_flush(am_conn_t *c)
{
    if (c->closed) {
        return;
    }
    c->closing = 1;
    c->reading = 0;
    if (am_bufq_size(&c->wbuf) == 0) {
        conn_linger(c);
    } else {
        conn_update_events(c);
        conn_mark_dirty(c);
    }
}

static void
conn_linger(am_conn_t *c)
{
    if (c->lingering || c->closed) {
        return;
    }
    /* Unread input at close(2) makes the kernel send RST, which can destroy
     * the response in flight: shut the write side and drain for a while. */
    if (c->tls != NULL) {
        am_tls_shutdown(c->tls);
    }
    if (shutdown(c->ev.fd, SHUT_WR) == -1) {
        am_conn_close(c);
        return;
    }
    c->lingering = 1;
    am_timer_del(&c->read_timer);
    am_timer_add(&c->linger_timer, CONN_LINGER_MSEC);
    conn_update_events(c);
}

static void
conn_on_linger_timeout(am_timer_t *t)
{
    am_conn_close(t->data);
}

void
am_conn_close(am_conn_t *c)
{
    if (c->closed) {
        return;
    }
    if (am_log_enabled(AM_LOG_DEBUG)) {
        am_log(AM_LOG_DEBUG, 0, "*%llu closed", (unsigned long long)c->id);
    }
    if (c->proto && c->proto->on_close) {
        c->proto->on_close(c);
    }
    c->closed = 1;
    am_event_del(&c->ev);
    close(c->ev.fd);
    c->ev.fd = -1;
    am_timer_del(&c->read_timer);
    am_timer_del(&c->write_timer);
    am_timer_del(&c->linger_timer);
    am_post_cancel(&c->post);
    am_post_cancel(&c->read_post);

    if (c->prev) {
        c->prev->next = c->next;
    } else {
        conn_list = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    am_conn_count--;
    if (am_stats_self != NULL) {
        am_stats_self->connections--;
    }
    am_worker_conn_closed();

    /* Freed after this turn: other events of the batch may point at it. */
    c->next = conn_free_list;
    conn_free_list = c;
}

void
am_conn_shutdown_all(void)
{
    am_conn_t *c, *next;

    for (c = conn_list; c != NULL; c = next) {
        next = c->next;
        if (c->proto && c->proto->on_shutdown) {
            c->proto->on_shutdown(c);
        } else if (c->proto == NULL) {
            am_conn_close(c); /* still in its TLS handshake */
        }
    }
}

void
am_conn_close_all(void)
{
    while (conn_list != NULL) {
        am_conn_close(conn_list);
    }
}

void
am_conn_flush_all(void)
{
    am_conn_t *c;

    while (conn_dirty != NULL) {
        c = conn_dirty;
        conn_dirty = c->next_dirty;
        c->dirty = 0;
        if (!c->closed && !c->write_blocked) {
            conn_flush(c);
        }
    }
    while (conn_free_list != NULL) {
        c = conn_free_list;
        conn_free_list = c->next;
        am_buf_free(&c->rbuf);
        am_bufq_free(&c->wbuf);
        if (c->tls != NULL) {
            am_tls_conn_destroy(c->tls);
        }
        free(c->proxy_buf);
        free(c);
    }
}
