/* worker/conn.h: one client connection: socket, buffers, timers, close.
 * Protocol code (http1.c, http2.c) hangs its state on it; accept.c
 * creates it and runs the PROXY header and TLS handshake.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Closing takes two steps: am_conn_close() stops all I/O, tells the protocol
 * and queues c; the loop frees it after the current turn, so a handler never
 * sees freed memory.
 */
#ifndef AM_WORKER_CONN_H
#define AM_WORKER_CONN_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "common/buf.h"
#include "common/conf.h"
#include "worker/event.h"

typedef struct am_conn_s am_conn_t;

/* A request header field as offsets into a protocol's head buffer. */
typedef struct am_field_s {
    uint32_t name_off, name_len, value_off, value_len;
} am_field_t;

typedef struct am_proto_s {
    const char *name;
    /* New bytes are in c->rbuf (or EOF with eof set). */
    void (*on_read)(am_conn_t *c, int eof);
    /* Output fell below the low-water mark. */
    void (*on_drain)(am_conn_t *c);
    /* The connection is closing: drop requests, free protocol state. */
    void (*on_close)(am_conn_t *c);
    /* Graceful stop began: finish what is in flight, then close. */
    void (*on_shutdown)(am_conn_t *c);
} am_proto_t;

struct am_conn_s {
    am_event_t ev;
    uint64_t id;
    am_listen_t *listen;

    am_buf_t rbuf;
    am_bufq_t wbuf;
    size_t rbuf_limit; /* stop reading when this much is unparsed */

    am_timer_t read_timer;  /* owned by the protocol */
    am_timer_t write_timer; /* no write progress for timeout_write */
    am_timer_t linger_timer;
    am_post_t post; /* protocol's deferred work */

    const am_proto_t *proto;
    void *proto_data;
    /* PROXY header or TLS handshake step (worker/accept.c), called on
     * events while proxy_pending or handshaking is set. */
    void (*on_handshake)(am_conn_t *c);

    struct am_tls_conn_s *tls; /* NULL on cleartext listeners */
    uint32_t tls_want;         /* readiness the handshake waits for */
    am_post_t read_post;       /* TLS: decrypted bytes may be pending */

    struct sockaddr_storage peer; /* the direct peer (or the PROXY source) */
    char *proxy_buf; /* PROXY header bytes read so far (proxy listeners) */
    size_t proxy_len;

    char client_host[INET6_ADDRSTRLEN];
    int client_port;
    char server_host[INET6_ADDRSTRLEN];
    int server_port;

    unsigned reading : 1;   /* EPOLLIN wanted by the protocol */
    unsigned closing : 1;   /* close once wbuf is flushed */
    unsigned lingering : 1; /* write side shut, draining input */
    unsigned closed : 1;
    unsigned dirty : 1; /* on the flush list */
    unsigned write_blocked : 1;
    unsigned handshaking : 1;      /* TLS handshake in progress */
    unsigned read_wants_write : 1; /* TLS read needs EPOLLOUT first */
    unsigned proxy_pending : 1;    /* waiting for the PROXY header */
    unsigned peer_trusted : 1;     /* forwarded_allow_ips matched the peer */
    unsigned proxy_ssl : 1;        /* PROXY v2: the client used TLS */

    am_conn_t *next_dirty;
    am_conn_t *prev, *next; /* all live connections */
};

extern size_t am_conn_count;

/* A connection on fd, accepted from l, counted and linked; the caller
 * (worker/accept.c) fills the addresses and starts it. */
am_conn_t *am_conn_create(int fd, am_listen_t *l);

/* Re-register c's epoll interest after a state change. */
void am_conn_update_events(am_conn_t *c);

/* Queue output; it is written once per loop turn. */
void am_conn_write(am_conn_t *c, const void *data, size_t len);
void am_conn_write_str(am_conn_t *c, const char *s);
/* Queue hd (hlen bytes, a frame header), then the first n bytes of q,
 * taken from q: without a copy when they are q's whole first chunk, at
 * least 4 KiB, and the header fits before them (am_bufq_splice()). */
void am_conn_write_bufq(am_conn_t *c, const void *hd, size_t hlen, am_bufq_t *q,
                        size_t n);
/* Bytes queued and not yet written (on TLS, sealed records included). */
size_t am_conn_pending(const am_conn_t *c);

/* Start or stop reading the socket. */
void am_conn_set_reading(am_conn_t *c, int on);

/* Close once queued output is written (with a lingering read so the
 * client sees the response, not a reset). */
void am_conn_close_after_flush(am_conn_t *c);
/* Stop I/O now; the memory goes after this loop turn. */
void am_conn_close(am_conn_t *c);

/* Graceful stop: stop accepting is done by the worker; tell every
 * connection to finish up. */
void am_conn_shutdown_all(void);
void am_conn_close_all(void);

/* Flush every connection with queued output (the loop's before-wait hook),
 * and free connections closed in this turn. */
void am_conn_flush_all(void);

#endif
