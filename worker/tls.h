/* worker/tls.h: TLS (OpenSSL 3) on a connection: non-blocking handshakes in
 * the worker's loop, ALPN ("h2", then "http/1.1"), the ASGI TLS extension's
 * facts. conn.c calls these; protocol code never sees OpenSSL.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Flow: conn.c accepts on a listener whose l->tls is set, calls
 * am_tls_conn_create(); while the handshake runs conn.c calls
 * am_tls_handshake() on every readiness event; AM_OK means done, and
 * am_tls_alpn_h2() says which protocol to attach. Then am_tls_recv() and
 * am_tls_send() replace recv(2)/send(2).
 */
#ifndef AM_WORKER_TLS_H
#define AM_WORKER_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/conf.h"

typedef struct am_tls_conn_s am_tls_conn_t;

/* Per worker, after fork: one SSL_CTX per TLS listener (conf->listen[i].tls
 * set), session tickets with the keys the master made (shared by all
 * workers). AM_OK or AM_ERROR (logged). */
int am_tls_init(am_conf_t *conf);

/* NULL on failure (logged). */
am_tls_conn_t *am_tls_conn_create(am_listen_t *l, int fd);
void am_tls_conn_destroy(am_tls_conn_t *t);

/* AM_OK: done. AM_AGAIN: call again when *want (EPOLLIN/EPOLLOUT) is
 * ready. AM_ERROR: failed (logged at info, the client's fault). */
int am_tls_handshake(am_tls_conn_t *t, uint32_t *want);

/* 1 when ALPN chose "h2". */
int am_tls_alpn_h2(am_tls_conn_t *t);

/* Like recv(2)/send(2): bytes, 0 at a clean close (recv only), AM_AGAIN
 * with *want set, or AM_ERROR. */
ssize_t am_tls_recv(am_tls_conn_t *t, void *buf, size_t len, uint32_t *want);
ssize_t am_tls_send(am_tls_conn_t *t, const void *buf, size_t len,
                    uint32_t *want);

/* Like am_tls_send(), but the records go to the connection's queue of
 * sealed records instead of the socket: all of buf is taken (the rest of a
 * chunk-sized partial write) unless the session must read first (AM_AGAIN
 * with *want) or failed (AM_ERROR). Write the queue with am_tls_flush(). */
ssize_t am_tls_seal(am_tls_conn_t *t, const void *buf, size_t len,
                    uint32_t *want);

/* Write the sealed records with sendmsg(2). AM_OK: the queue is empty;
 * AM_AGAIN: the socket is full (wait for EPOLLOUT); AM_ERROR: the peer is
 * gone (logged at info unless a reset). *sent: bytes written. While
 * records wait, other writes of the session (alerts, close_notify) wait
 * behind them: am_tls_send() and reads may then want EPOLLOUT. */
int am_tls_flush(am_tls_conn_t *t, size_t *sent);

/* Bytes of sealed records not yet written. */
size_t am_tls_pending(const am_tls_conn_t *t);

/* 1 when OpenSSL holds bytes read from the socket (records read ahead,
 * or decrypted and not yet returned): epoll will not report them. */
int am_tls_has_pending(const am_tls_conn_t *t);

/* 1 when the last recv(2) emptied the socket and OpenSSL holds nothing:
 * another am_tls_recv() would only meet EAGAIN. */
int am_tls_drained(const am_tls_conn_t *t);

/* Send close_notify (best effort, non-blocking). */
void am_tls_shutdown(am_tls_conn_t *t);

/* The ASGI TLS extension (asgiref specs/tls.rst). Strings are valid until
 * the connection closes; NULL when absent. */
typedef struct am_tls_info_s {
    const char *server_cert;   /* PEM of the server certificate */
    const char **client_certs; /* PEM strings, leaf first */
    size_t nclient_certs;
    const char *client_cert_name;  /* RFC 4514 subject, or NULL */
    const char *client_cert_error; /* NULL when verified or none */
    int tls_version;               /* 0x0303 for TLS 1.2, 0x0304 1.3 */
    int cipher_suite;              /* IANA 16-bit id */
} am_tls_info_t;

const am_tls_info_t *am_tls_info(am_tls_conn_t *t);

#endif
