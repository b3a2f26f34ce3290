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
#define CONN_DIRECT_MIN                                                        \
    ((size_t)32 * 1024) /* a write this large goes out at once */
#define CONN_TLS_BATCH  ((size_t)256 * 1024) /* records sealed per sendmsg */
#define CONN_SPLICE_MIN ((size_t)4096)       /* a chunk moved, not copied */

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
static size_t conn_write_direct(am_conn_t *c, const char *data, size_t len);
static size_t conn_write_direct_tls(am_conn_t *c, const char *data, size_t len);
static int conn_send_tls(am_conn_t *c, size_t *sent);

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
    if (len >= CONN_DIRECT_MIN && !c->write_blocked && !c->closing &&
        !c->handshaking && !c->read_wants_write) {
        size_t n = conn_write_direct(c, data, len);

        data = (const char *)data + n;
        len -= n;
    }
    if (len > 0) {
        am_bufq_append(&c->wbuf, data, len);
    }
    if (am_conn_pending(c) > 0) {
        conn_mark_dirty(c);
    }
}

size_t
am_conn_pending(const am_conn_t *c)
{
    return am_bufq_size(&c->wbuf) + (c->tls ? am_tls_pending(c->tls) : 0);
}

/* A large write (a response body) goes to the socket at once, behind what
 * is queued, from the caller's bytes: copying a 1 MiB body into the queue
 * only to write it at the end of the turn costs a copy and 64 chunks of
 * cache. This is the one exception to "one write per loop turn" (see
 * docs/ARCHITECTURE.md). Returns how many of data's bytes were written;
 * the caller queues the rest, and the flush meets EAGAIN or the error. */
static size_t
conn_write_direct(am_conn_t *c, const char *data, size_t len)
{
    size_t queued = am_bufq_size(&c->wbuf);
    struct iovec iov[CONN_WRITE_IOV];
    struct msghdr msg = { 0 };
    ssize_t n;
    int i;

    if (c->tls != NULL) {
        return conn_write_direct_tls(c, data, len);
    }
    i = am_bufq_iov(&c->wbuf, iov, CONN_WRITE_IOV);
    if (i == CONN_WRITE_IOV) {
        return 0; /* a long queue: the flush writes it first */
    }
    iov[i].iov_base = (void *)data;
    iov[i].iov_len = len;
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)i + 1;
    do {
        n = sendmsg(c->ev.fd, &msg, MSG_NOSIGNAL);
    } while (n == -1 && errno == EINTR);
    if (n == -1) {
        return 0;
    }
    if (am_stats_self != NULL) {
        am_stats_self->bytes_out += (uint64_t)n;
    }
    if ((size_t)n <= queued) {
        am_bufq_consume(&c->wbuf, (size_t)n);
        return 0;
    }
    am_bufq_consume(&c->wbuf, queued);
    return (size_t)n - queued;
}

/* TLS: seal the queue a batch of records at a time and write each batch
 * with one sendmsg(2). AM_OK: all written; AM_AGAIN: the socket is full
 * (or the session must read first); AM_ERROR. *sent grows by the bytes
 * written. */
static int
conn_send_tls(am_conn_t *c, size_t *sent)
{
    struct iovec iov;
    uint32_t want = 0;
    size_t n;
    ssize_t k;
    int rc, again = 0;

    for (;;) {
        while (!again && am_tls_pending(c->tls) < CONN_TLS_BATCH &&
               am_bufq_size(&c->wbuf) > 0) {
            am_bufq_iov(&c->wbuf, &iov, 1);
            k = am_tls_seal(c->tls, iov.iov_base, iov.iov_len, &want);
            if (k == AM_ERROR) {
                return AM_ERROR;
            }
            if (k == AM_AGAIN) {
                again = 1;
                break;
            }
            am_bufq_consume(&c->wbuf, (size_t)k);
        }
        rc = am_tls_flush(c->tls, &n);
        *sent += n;
        if (rc != AM_OK) {
            return rc;
        }
        if (am_bufq_size(&c->wbuf) == 0) {
            return AM_OK;
        }
        if (again) {
            return AM_AGAIN;
        }
    }
}

/* TLS: the queue is topped up to a whole record from data (no runt record
 * for a chunk header) and sent, then data is sealed from the caller's
 * bytes a batch at a time, each batch written with one sendmsg(2). What
 * is sealed is taken: a full socket keeps the records for the flush, and
 * sealing stops there; the caller queues the rest. */
static size_t
conn_write_direct_tls(am_conn_t *c, const char *data, size_t len)
{
    size_t done = 0, room, sent = 0;
    uint32_t want = 0;
    ssize_t n;
    int rc = AM_OK;

    if (am_bufq_size(&c->wbuf) > 0) {
        room = am_min(am_bufq_tail_room(&c->wbuf), len);
        am_bufq_append(&c->wbuf, data, room);
        done = room;
        rc = conn_send_tls(c, &sent);
    }
    while (rc == AM_OK && done < len) {
        n = am_tls_seal(c->tls, data + done, am_min(len - done, CONN_TLS_BATCH),
                        &want);
        if (n < 0) {
            break; /* the flush meets it again */
        }
        done += (size_t)n;
        rc = am_tls_flush(c->tls, &room);
        sent += room;
    }
    if (am_stats_self != NULL) {
        am_stats_self->bytes_out += sent;
    }
    return done;
}

void
am_conn_write_str(am_conn_t *c, const char *s)
{
    am_conn_write(c, s, strlen(s));
}

void
am_conn_write_bufq(am_conn_t *c, const void *hd, size_t hlen, am_bufq_t *q,
                   size_t n)
{
    if (c->closed) {
        am_bufq_consume(q, n);
        return;
    }
    /* A small frame is copied: small frames of a turn then share a chunk,
     * one TLS record (a chunk is sealed as one), not one each. */
    if (n < CONN_SPLICE_MIN || !am_bufq_splice(&c->wbuf, q, n, hd, hlen)) {
        am_bufq_append(&c->wbuf, hd, hlen);
        am_bufq_move(&c->wbuf, q, n);
    }
    conn_mark_dirty(c);
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
            if (am_tls_drained(c->tls)) {
                break; /* epoll reports what comes next */
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
    if (c->tls != NULL && !c->closed && c->reading && rc != AM_DONE &&
        am_buf_size(&c->rbuf) < c->rbuf_limit && am_tls_has_pending(c->tls)) {
        /* Stopped at rbuf_limit with records inside OpenSSL: epoll will
         * not report them. (A protocol that stops reading gets them back
         * from am_conn_set_reading().) */
        am_post(&c->read_post);
    }
    if (!c->closed && am_buf_size(&c->rbuf) == 0) {
        /* All parsed: an idle connection holds no read buffer. */
        am_buf_shrink(&c->rbuf);
    }
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

/* Plaintext: the queue with sendmsg(2). */
static int
conn_send(am_conn_t *c, size_t *sent)
{
    int rc = am_bufq_send(&c->wbuf, c->ev.fd, sent);

    if (rc == AM_ERROR && errno != EPIPE && errno != ECONNRESET) {
        am_connlog(AM_LOG_INFO, errno, c->id, 0, "sendmsg() failed");
    }
    return rc;
}

static void
conn_flush(am_conn_t *c)
{
    size_t before = am_conn_pending(c), sent = 0;
    int rc;

    rc = c->tls != NULL ? conn_send_tls(c, &sent) : conn_send(c, &sent);
    if (am_stats_self != NULL) {
        am_stats_self->bytes_out += sent;
    }
    if (rc == AM_ERROR) {
        am_conn_close(c);
        return;
    }
    if (rc == AM_AGAIN) {
        if (!c->write_blocked || sent > 0) {
            am_timer_add(&c->write_timer, am_ctx.conf->timeout_write);
        }
        if (!c->write_blocked) {
            c->write_blocked = 1;
            am_conn_update_events(c);
        }
        return;
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
    if (am_conn_pending(c) == 0) {
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
