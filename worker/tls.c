/* worker/tls.c: TLS on a worker's connections, with OpenSSL 3.
 *
 * am_tls_init() builds one SSL_CTX per TLS listener after fork, from the
 * files master/tls_check.c already checked. Handshakes, reads and writes
 * never block: every SSL_* call clears the error queue first (a stale
 * error would be read as this call's), and SSL_ERROR_WANT_READ/WRITE
 * become AM_AGAIN with the readiness to wait for, which conn.c puts in
 * epoll. OpenSSL's buffers are released while a connection is idle
 * (SSL_MODE_RELEASE_BUFFERS), so an idle TLS connection costs little more
 * than a cleartext one.
 *
 * Reads go through a BIO of ours too, with read-ahead: one recv(2) takes
 * every record the socket holds, and a short one tells that the socket is
 * empty (am_tls_drained()), so a read turn needs no recv(2) that fails
 * with EAGAIN. Records read ahead wait inside OpenSSL, where epoll does
 * not see them: conn.c reads again while am_tls_has_pending().
 *
 * Writes go through the same BIO. Outside am_tls_seal() it writes each
 * record to the socket as OpenSSL's socket BIO would (handshake, alerts,
 * close_notify). Inside, it gathers the records one SSL_write() makes in a
 * queue (t->sealed), which am_tls_flush() writes with few sendmsg(2): a
 * 1 MiB response is 64 records, and a system call per record cost more
 * than copying them. A record in the queue is made: a socket that is full
 * leaves it there, so SSL_write() never has to be retried with the same
 * bytes on that path.
 *
 * Session resumption is by tickets only (RFC 5077, RFC 8446 §4.6.1): the
 * ticket keys come from the config (made by the master), so a ticket one
 * worker issued is read by every other; no per-worker session cache.
 *
 * The ASGI TLS extension's facts (asgiref specs/tls.rst) are computed on
 * the first am_tls_info() and kept until the connection closes.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/core.h"
#include "common/log.h"
#include "common/tls_password.h"
#include "worker/tls.h"

#define TLS_TICKET_NAME 16 /* the layout of conf->tls_ticket_keys */
#define TLS_TICKET_HMAC 32
#define TLS_TICKET_AES  32
/* OpenSSL's TLS 1.3 suites, AES-128-GCM first (RFC 8446 §9.1's mandatory
 * suite, first in Mozilla's profiles and h2o's): 10 AES rounds per block
 * instead of AES-256-GCM's 14, which OpenSSL puts first. */
#define TLS_SUITES                                                             \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"                           \
    "TLS_CHACHA20_POLY1305_SHA256"

struct am_tls_conn_s {
    SSL *ssl;
    am_listen_t *listen;
    int fd;
    am_bufq_t sealed;        /* records made and not yet written */
    unsigned gather : 1;     /* in am_tls_seal(): records go to sealed */
    unsigned failed : 1;     /* a fatal error: no close_notify may follow */
    unsigned shutdown : 1;   /* close_notify sent (or given up) */
    unsigned info_done : 1;  /* info is filled */
    unsigned short_read : 1; /* the last recv(2) did not fill its buffer */
    unsigned eof : 1;        /* recv(2) saw the peer's FIN */
    am_tls_info_t info;      /* strings owned, except server_cert and the
                                verification error (static or per listener) */
};

typedef struct {
    SSL_CTX *ctx;      /* NULL for a cleartext listener */
    char *server_cert; /* PEM of the leaf, for every connection's info */
} tls_listener_t;

static int tls_bio_create(void);
static int tls_on_verify(int ok, X509_STORE_CTX *store);
static int tls_on_alpn(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg);
static int tls_on_ticket_key(SSL *ssl, unsigned char *name, unsigned char *iv,
                             EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac, int enc);

static am_conf_t *tls_conf;
static tls_listener_t *tls_listeners; /* one per conf->listen[i] */
static BIO_METHOD *tls_bio_method;    /* see the top */
static unsigned char
    tls_keys[TLS_TICKET_NAME + TLS_TICKET_HMAC + TLS_TICKET_AES];

/* The first reason in OpenSSL's error queue, which it then empties. */
static const char *
tls_reason(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    const char *r;

    if (e == 0) {
        snprintf(buf, size, "no reason given");
    } else if ((r = ERR_reason_error_string(e)) != NULL) {
        snprintf(buf, size, "%s", r);
    } else {
        ERR_error_string_n(e, buf, size);
    }
    ERR_clear_error();
    return buf;
}

/* "PEM" of x as a new string, or NULL. */
static char *
tls_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *s = NULL;
    long len;

    if (b == NULL) {
        return NULL;
    }
    if (PEM_write_bio_X509(b, x) == 1) {
        len = BIO_get_mem_data(b, &data);
        if (len > 0) {
            s = am_alloc((size_t)len + 1);
            memcpy(s, data, (size_t)len);
            s[len] = '\0';
        }
    }
    BIO_free(b);
    return s;
}

/* The subject of x as RFC 4514 writes it (most significant RDN last). */
static char *
tls_subject(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *s = NULL;
    long len;

    if (b == NULL) {
        return NULL;
    }
    if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >=
        0) {
        len = BIO_get_mem_data(b, &data);
        s = am_alloc((size_t)am_max(len, 0) + 1);
        memcpy(s, data, (size_t)am_max(len, 0));
        s[am_max(len, 0)] = '\0';
    }
    BIO_free(b);
    return s;
}

/* Context */

static SSL_CTX *
tls_ctx_create(am_listen_t *l, size_t index)
{
    am_tls_conf_t *tc = l->tls;
    unsigned char sid[32];
    char reason[256];
    const char *what;
    SSL_CTX *ctx;
    int len;

    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        what = "SSL_CTX_new() failed";
        goto failed;
    }
    /* Read-ahead keeps the read buffer only while it holds records. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
                              SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* RFC 9113 §9.2.1: renegotiation is forbidden under HTTP/2; we refuse
     * it for HTTP/1.1 too (a client-initiated one costs us CPU). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_set_min_proto_version(ctx, tc->min_version) != 1) {
        what = "min_version";
        goto failed;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, tc->certificate) != 1) {
        what = "certificate";
        goto failed;
    }
    SSL_CTX_set_default_passwd_cb(ctx, am_tls_password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)tc);
    if (SSL_CTX_use_PrivateKey_file(ctx, tc->key, SSL_FILETYPE_PEM) != 1) {
        what = "key";
        goto failed;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        what = "key does not match the certificate";
        goto failed;
    }
    if (tc->ciphers != NULL && SSL_CTX_set_cipher_list(ctx, tc->ciphers) != 1) {
        what = "ciphers";
        goto failed;
    }
    if (SSL_CTX_set_ciphersuites(ctx, tc->ciphersuites != NULL
                                          ? tc->ciphersuites
                                          : TLS_SUITES) != 1) {
        what = "ciphersuites";
        goto failed;
    }

    if (tc->client_auth != AM_TLS_CLIENT_AUTH_NONE) {
        STACK_OF(X509_NAME) * names;

        if (SSL_CTX_load_verify_locations(ctx, tc->client_ca, NULL) != 1) {
            what = "client_ca";
            goto failed;
        }
        /* The CAs are named in CertificateRequest (RFC 8446 §4.2.4) so a
         * client with several certificates picks the right one. */
        names = SSL_load_client_CA_file(tc->client_ca);
        if (names != NULL) {
            SSL_CTX_set_client_CA_list(ctx, names);
        }
        ERR_clear_error();
        SSL_CTX_set_verify(ctx,
                           tc->client_auth == AM_TLS_CLIENT_AUTH_REQUIRE
                               ? SSL_VERIFY_PEER |
                                     SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                               : SSL_VERIFY_PEER,
                           tls_on_verify);
    }

    /* Tickets only: no server-side cache, tickets sealed with the keys all
     * workers share. The session id context ties a ticket to this
     * listener (and is required to resume with client certificates). */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_on_ticket_key) != 1) {
        what = "session tickets";
        goto failed;
    }
    len = snprintf((char *)sid, sizeof(sid), "asgimaster:%zu", index);
    SSL_CTX_set_session_id_context(ctx, sid, (unsigned)len);

    SSL_CTX_set_alpn_select_cb(ctx, tls_on_alpn, l);
    return ctx;

failed:
    am_log(AM_LOG_EMERG, 0, "listen[%zu].tls (%s): %s: %s", index, l->address,
           what, tls_reason(reason, sizeof(reason)));
    SSL_CTX_free(ctx);
    return NULL;
}

int
am_tls_init(am_conf_t *conf)
{
    am_listen_t *l;

    tls_conf = conf;
    if (tls_bio_method == NULL && tls_bio_create() != AM_OK) {
        am_log(AM_LOG_EMERG, 0, "BIO_meth_new() failed");
        return AM_ERROR;
    }
    tls_listeners = am_calloc(am_max(conf->nlisten, 1), sizeof(*tls_listeners));
    memcpy(tls_keys, conf->tls_ticket_keys, sizeof(tls_keys));
    for (size_t i = 0; i < conf->nlisten; i++) {
        l = &conf->listen[i];
        if (l->tls == NULL) {
            continue;
        }
        tls_listeners[i].ctx = tls_ctx_create(l, i);
        if (tls_listeners[i].ctx == NULL) {
            return AM_ERROR;
        }
        tls_listeners[i].server_cert =
            tls_pem(SSL_CTX_get0_certificate(tls_listeners[i].ctx));
    }
    return AM_OK;
}

/* Callbacks */

/* Runs for each certificate of a client's chain during the handshake.
 * With client_auth "optional" a failure does not end the handshake:
 * OpenSSL keeps the error (SSL_get_verify_result()) for the app to see. */
static int
tls_on_verify(int ok, X509_STORE_CTX *store)
{
    SSL *ssl =
        X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    am_tls_conn_t *t = ssl ? SSL_get_app_data(ssl) : NULL;

    if (ok || t == NULL) {
        return ok;
    }
    return t->listen->tls->client_auth == AM_TLS_CLIENT_AUTH_OPTIONAL;
}

/* Is proto (length-prefixed, as ALPN lists are) in the client's list? */
static int
tls_alpn_find(const unsigned char *in, unsigned int inlen, const char *proto,
              const unsigned char **out, unsigned char *outlen)
{
    size_t plen = strlen(proto);
    unsigned int i = 0;

    while (i < inlen) {
        unsigned int n = in[i];

        if (i + 1 + n > inlen) {
            return 0;
        }
        if (n == plen && memcmp(in + i + 1, proto, plen) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)n;
            return 1;
        }
        i += 1 + n;
    }
    return 0;
}

/* Runs during the handshake when the client offered ALPN. Our order wins:
 * "h2" (if the listener serves HTTP/2), then "http/1.1". No common
 * protocol: go on without ALPN (RFC 7301 §3.2 allows a server to ignore
 * it) and speak HTTP/1.1 rather than fail the handshake. */
static int
tls_on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
            const unsigned char *in, unsigned int inlen, void *arg)
{
    am_listen_t *l = arg;

    if (l->http2 && tls_alpn_find(in, inlen, "h2", out, outlen)) {
        return SSL_TLSEXT_ERR_OK;
    }
    if (tls_alpn_find(in, inlen, "http/1.1", out, outlen)) {
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* Runs when a ticket is issued (enc 1) or presented (enc 0). The keys are
 * the same in every worker. Returns 1 (done), 0 (an unknown key: a full
 * handshake) or -1 (an error). */
static int
tls_on_ticket_key(SSL *ssl, unsigned char *name, unsigned char *iv,
                  EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac, int enc)
{
    unsigned char *hmac = tls_keys + TLS_TICKET_NAME;
    unsigned char *aes = hmac + TLS_TICKET_HMAC;
    OSSL_PARAM params[3];

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, hmac,
                                                  TLS_TICKET_HMAC);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();

    if (enc) {
        memcpy(name, tls_keys, TLS_TICKET_NAME);
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1 ||
            EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, aes, iv) != 1 ||
            EVP_MAC_CTX_set_params(mac, params) != 1) {
            return -1;
        }
        return 1;
    }
    if (memcmp(name, tls_keys, TLS_TICKET_NAME) != 0) {
        return 0;
    }
    if (EVP_MAC_CTX_set_params(mac, params) != 1 ||
        EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, aes, iv) != 1) {
        return -1;
    }
    return 1;
}

/* The BIO */

/* OpenSSL asks for as much as its buffer holds (read-ahead). */
static int
tls_bio_read(BIO *b, char *data, size_t len, size_t *readbytes)
{
    am_tls_conn_t *t = BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    do {
        n = recv(t->fd, data, len, 0);
    } while (n == -1 && errno == EINTR);
    if (n > 0) {
        t->short_read = (size_t)n < len;
        *readbytes = (size_t)n;
        return 1;
    }
    if (n == 0) {
        t->eof = 1; /* BIO_CTRL_EOF: OpenSSL tells an unexpected EOF */
    } else if (errno == EAGAIN) {
        BIO_set_retry_read(b);
    }
    return 0; /* errno tells tls_result() what failed */
}

/* OpenSSL writes a whole record (or what is left of one it retries). */
static int
tls_bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
    am_tls_conn_t *t = BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    if (t->gather) {
        am_bufq_append(&t->sealed, data, len);
        *written = len;
        return 1;
    }
    if (am_bufq_size(&t->sealed) > 0) {
        /* Behind the records queued: the flush must run first. */
        BIO_set_retry_write(b);
        return 0;
    }
    do {
        n = send(t->fd, data, len, MSG_NOSIGNAL);
    } while (n == -1 && errno == EINTR);
    if (n == -1) {
        if (errno == EAGAIN) {
            BIO_set_retry_write(b);
        }
        return 0; /* errno tells tls_result() what failed */
    }
    *written = (size_t)n;
    return 1;
}

static long
tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    am_tls_conn_t *t = BIO_get_data(b);

    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; /* nothing is held back but sealed, which conn.c flushes */
    case BIO_CTRL_EOF:
        return t->eof;
    case BIO_C_GET_FD:
        if (ptr != NULL) {
            *(int *)ptr = t->fd;
        }
        return t->fd;
    default:
        return 0;
    }
}

static int
tls_bio_create(void)
{
    tls_bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                  "asgimaster socket");
    if (tls_bio_method == NULL ||
        BIO_meth_set_write_ex(tls_bio_method, tls_bio_write) != 1 ||
        BIO_meth_set_read_ex(tls_bio_method, tls_bio_read) != 1 ||
        BIO_meth_set_ctrl(tls_bio_method, tls_bio_ctrl) != 1) {
        return AM_ERROR;
    }
    return AM_OK;
}

/* Connections */

am_tls_conn_t *
am_tls_conn_create(am_listen_t *l, int fd)
{
    size_t index = (size_t)(l - tls_conf->listen);
    char reason[256];
    am_tls_conn_t *t;
    BIO *bio = NULL;

    AM_ASSERT(index < tls_conf->nlisten && tls_listeners[index].ctx != NULL);
    t = am_calloc(1, sizeof(am_tls_conn_t));
    t->listen = l;
    t->fd = fd;
    ERR_clear_error();
    t->ssl = SSL_new(tls_listeners[index].ctx);
    if (t->ssl != NULL) {
        bio = BIO_new(tls_bio_method);
    }
    if (t->ssl == NULL || bio == NULL) {
        am_log(AM_LOG_ERROR, 0, "SSL_new() failed: %s",
               tls_reason(reason, sizeof(reason)));
        BIO_free(bio);
        SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    BIO_set_data(bio, t);
    BIO_set_init(bio, 1);
    SSL_set_bio(t->ssl, bio, bio); /* the SSL owns it (one reference) */
    SSL_set_app_data(t->ssl, t);
    SSL_set_accept_state(t->ssl);
    return t;
}

void
am_tls_conn_destroy(am_tls_conn_t *t)
{
    if (t == NULL) {
        return;
    }
    SSL_free(t->ssl);
    am_bufq_free(&t->sealed);
    for (size_t i = 0; i < t->info.nclient_certs; i++) {
        free((char *)t->info.client_certs[i]);
    }
    free(t->info.client_certs);
    free((char *)t->info.client_cert_name);
    free(t);
}

/* Where the peer is, for a log line (getpeername() only on failures). */
static const char *
tls_peer(am_tls_conn_t *t, char *buf, size_t size)
{
    /* Zeroed: clang's analyzer does not model getpeername(). */
    struct sockaddr_storage ss = { 0 };
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    int port;

    if (getpeername(SSL_get_fd(t->ssl), (struct sockaddr *)&ss, &len) == -1) {
        snprintf(buf, size, "a client");
    } else if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        port = ntohs(sin->sin_port);
        snprintf(buf, size, "%s:%d", host, port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        port = ntohs(sin6->sin6_port);
        snprintf(buf, size, "[%s]:%d", host, port);
    } else {
        snprintf(buf, size, "a UNIX socket client");
    }
    return buf;
}

/* After an SSL_* call returned rc <= 0: AM_AGAIN with *want, 0 for the
 * peer's close (a close_notify, or an EOF: HTTP framing, not TLS, tells a
 * truncated message), or AM_ERROR (logged at info). */
static int
tls_result(am_tls_conn_t *t, int rc, uint32_t *want, const char *op)
{
    char reason[256], peer[INET6_ADDRSTRLEN + 16];
    int err = errno; /* before anything else may change it */
    int e = SSL_get_error(t->ssl, rc);
    unsigned long code;

    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want = EPOLLIN;
        return AM_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = EPOLLOUT;
        return AM_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        t->failed = 1;
        if (ERR_peek_error() == 0 && (rc == 0 || err == 0)) {
            return 0; /* EOF without close_notify */
        }
        am_log(AM_LOG_INFO, err, "TLS %s with %s failed", op,
               tls_peer(t, peer, sizeof(peer)));
        ERR_clear_error();
        return AM_ERROR;
    case SSL_ERROR_SSL:
        t->failed = 1;
        code = ERR_peek_error();
        if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
            ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            ERR_clear_error();
            return 0;
        }
        am_log(AM_LOG_INFO, 0, "TLS %s with %s failed: %s", op,
               tls_peer(t, peer, sizeof(peer)),
               tls_reason(reason, sizeof(reason)));
        return AM_ERROR;
    default:
        t->failed = 1;
        am_log(AM_LOG_INFO, 0, "TLS %s with %s failed: SSL error %d", op,
               tls_peer(t, peer, sizeof(peer)), e);
        ERR_clear_error();
        return AM_ERROR;
    }
}

int
am_tls_handshake(am_tls_conn_t *t, uint32_t *want)
{
    int rc;

    ERR_clear_error();
    rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        return AM_OK;
    }
    rc = tls_result(t, rc, want, "handshake");
    if (rc == 0) {
        /* closed by the client before the end of the handshake */
        char peer[INET6_ADDRSTRLEN + 16];

        am_log(AM_LOG_INFO, 0,
               "TLS handshake with %s failed: closed by the "
               "client",
               tls_peer(t, peer, sizeof(peer)));
        return AM_ERROR;
    }
    return rc;
}

int
am_tls_alpn_h2(am_tls_conn_t *t)
{
    const unsigned char *proto;
    unsigned int len;

    SSL_get0_alpn_selected(t->ssl, &proto, &len);
    return len == 2 && memcmp(proto, "h2", 2) == 0;
}

ssize_t
am_tls_recv(am_tls_conn_t *t, void *buf, size_t len, uint32_t *want)
{
    int n;

    ERR_clear_error();
    n = SSL_read(t->ssl, buf, (int)am_min(len, (size_t)INT_MAX));
    if (n > 0) {
        return n;
    }
    return tls_result(t, n, want, "read");
}

ssize_t
am_tls_send(am_tls_conn_t *t, const void *buf, size_t len, uint32_t *want)
{
    int n;

    ERR_clear_error();
    n = SSL_write(t->ssl, buf, (int)am_min(len, (size_t)INT_MAX));
    if (n > 0) {
        return n;
    }
    n = tls_result(t, n, want, "write");
    /* A write cannot see a clean close: the peer went away under us. */
    return n == 0 ? AM_ERROR : n;
}

ssize_t
am_tls_seal(am_tls_conn_t *t, const void *buf, size_t len, uint32_t *want)
{
    const char *p = buf;
    size_t done = 0;
    ssize_t n;

    /* SSL_MODE_ENABLE_PARTIAL_WRITE: one record per SSL_write(). */
    t->gather = 1;
    while (done < len) {
        n = am_tls_send(t, p + done, len - done, want);
        if (n < 0) {
            t->gather = 0;
            return done > 0 ? (ssize_t)done : n;
        }
        done += (size_t)n;
    }
    t->gather = 0;
    return (ssize_t)done;
}

int
am_tls_flush(am_tls_conn_t *t, size_t *sent)
{
    char peer[INET6_ADDRSTRLEN + 16];
    int rc;

    *sent = 0;
    rc = am_bufq_send(&t->sealed, t->fd, sent);
    if (rc == AM_ERROR) {
        t->failed = 1;
        if (errno != EPIPE && errno != ECONNRESET) {
            am_log(AM_LOG_INFO, errno, "TLS write with %s failed",
                   tls_peer(t, peer, sizeof(peer)));
        }
    }
    return rc;
}

size_t
am_tls_pending(const am_tls_conn_t *t)
{
    return am_bufq_size(&t->sealed);
}

int
am_tls_has_pending(const am_tls_conn_t *t)
{
    return SSL_has_pending(t->ssl);
}

int
am_tls_drained(const am_tls_conn_t *t)
{
    return t->short_read && !SSL_has_pending(t->ssl);
}

void
am_tls_shutdown(am_tls_conn_t *t)
{
    if (t->shutdown || t->failed || !SSL_is_init_finished(t->ssl)) {
        return;
    }
    t->shutdown = 1;
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl); /* best effort: the socket may be full */
    ERR_clear_error();
}

/* The ASGI TLS extension */

const am_tls_info_t *
am_tls_info(am_tls_conn_t *t)
{
    am_tls_info_t *info = &t->info;
    STACK_OF(X509) * chain;
    const SSL_CIPHER *cipher;
    X509 *leaf, *x;
    long verify;
    size_t index = (size_t)(t->listen - tls_conf->listen);
    char *pem;
    int n;

    if (t->info_done) {
        return info;
    }
    t->info_done = 1;

    info->server_cert = tls_listeners[index].server_cert;
    info->tls_version = SSL_version(t->ssl);
    cipher = SSL_get_current_cipher(t->ssl);
    info->cipher_suite =
        cipher != NULL ? (int)(SSL_CIPHER_get_protocol_id(cipher) & 0xffff) : 0;

    leaf = SSL_get0_peer_certificate(t->ssl);
    if (leaf == NULL) {
        return info;
    }
    /* On a server the peer chain lacks the leaf: put it first. A resumed
     * session keeps the leaf only. */
    chain = SSL_get_peer_cert_chain(t->ssl);
    n = chain != NULL ? sk_X509_num(chain) : 0;
    info->client_certs = am_calloc((size_t)n + 1, sizeof(char *));
    pem = tls_pem(leaf);
    if (pem != NULL) {
        info->client_certs[info->nclient_certs++] = pem;
    }
    for (int i = 0; i < n; i++) {
        x = sk_X509_value(chain, i);
        if (X509_cmp(x, leaf) == 0) {
            continue;
        }
        pem = tls_pem(x);
        if (pem != NULL) {
            info->client_certs[info->nclient_certs++] = pem;
        }
    }
    info->client_cert_name = tls_subject(leaf);
    verify = SSL_get_verify_result(t->ssl);
    info->client_cert_error =
        verify == X509_V_OK ? NULL : X509_verify_cert_error_string(verify);
    ERR_clear_error();
    return info;
}
