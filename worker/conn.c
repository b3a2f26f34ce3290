/* worker/conn.c: socket I/O of accepted connections (worker/accept.c
 * accepts them and chooses the protocol). Reads go into c->rbuf and are handed
 * to the protocol; writes are queued in c->wbuf and flushed once per loop
 * turn from the before-wait hook, so all the output a turn produced leaves
 * in one write(2). A connection that must close after its response lingers:
 * its write side is shut and input drained for a moment, so the peer reads
 * the response instead of a reset.
 */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/stats.h"
#include "worker/conn.h"
#include "worker/connlog.h"
#include "worker/ctx.h"
#include "worker/tls.h"

#define CONN_READ_CHUNK  16384
#define CONN_LINGER_MSEC 2000
#define CONN_WRITE_IOV   64 /* chunks per sendmsg(2): 1 MiB */

size_t am_conn_count;

static uint64_t conn_next_id = 1;
static am_conn_t *conn_list;
static am_conn_t *conn_dirty;
static am_conn_t *conn_free_list;

static void conn_on_event(am_event_t *ev, uint32_t events);
static void conn_flush(am_conn_t *c);
static void conn_linger(am_conn_t *c);
static void conn_on_write_timeout(am_timer_t *t);
static void conn_on_linger_timeout(am_timer_t *t);
static void conn_on_read_post(am_post_t *p);
static void conn_do_read(am_conn_t *c);

am_conn_t *
am_conn_create(int fd, am_listen_t *l)
{
    am_conn_t *c;

    c = am_calloc(1, sizeof(*c));
    c->id = conn_next_id++;
    c->listen = l;
    c->ev.fd = fd;
    c->ev.handler = conn_on_event;
    c->ev.data = c;
    c->rbuf_limit = am_max(am_ctx.conf->limit_body_buffer, CONN_READ_CHUNK);
    c->write_timer.handler = conn_on_write_timeout;
    c->write_timer.data = c;
    c->linger_timer.handler = conn_on_linger_timeout;
    c->linger_timer.data = c;
    c->read_post.handler = conn_on_read_post;
    c->read_post.data = c;

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
    am_conn_update_events(c);
}

void
am_conn_update_events(am_conn_t *c)
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
                    am_conn_update_events(c);
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
                am_connlog(AM_LOG_INFO, errno, c->id, 0, "recv() failed");
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
    if (c->proxy_pending || c->handshaking) {
        c->on_handshake(c); /* worker/accept.c */
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
        am_conn_update_events(c);
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
                am_connlog(AM_LOG_INFO, errno, c->id, 0, "sendmsg() failed");
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
            am_timer_add(&c->write_timer, am_ctx.conf->timeout_write);
        }
        if (!c->write_blocked) {
            c->write_blocked = 1;
            am_conn_update_events(c);
        }
        return;
    }

    if (am_stats_self != NULL) {
        am_stats_self->bytes_out += before - am_bufq_size(&c->wbuf);
    }
    am_timer_del(&c->write_timer);
    if (c->write_blocked) {
        c->write_blocked = 0;
        am_conn_update_events(c);
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

    am_connlog(AM_LOG_INFO, 0, c->id, 0,
               "client timed out reading the response");
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
        am_conn_update_events(c);
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
    am_conn_update_events(c);
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
        am_connlog(AM_LOG_DEBUG, 0, c->id, 0, "closed");
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
    if (am_ctx.conn_closed != NULL) {
        am_ctx.conn_closed();
    }

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
