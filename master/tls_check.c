/* master/tls_check.c: refuse a TLS listener whose files do not work.
 *
 * A certificate that cannot be read, a key that is not the certificate's
 * or a cipher list OpenSSL refuses must stop `asgimaster -t` and the
 * start, with the position of the "tls" key, not fail the first client's
 * handshake in every worker. The checks build the SSL_CTX as
 * worker/tls.c does and throw it away. Files are opened first with
 * fopen(3) so a missing or unreadable one is named with errno's words
 * rather than OpenSSL's.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/conf.h"
#include "common/core.h"
#include "common/tls_password.h"
#include "master/tls_check.h"

typedef struct {
    const am_conf_t *conf;
    const am_listen_t *l;
    size_t index;
    char *err;
    size_t size;
} tls_check_t;

static int tls_check_fail(tls_check_t *tc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "FILE:line:col: listen[N].tls: " then the message; always AM_ERROR. */
static int
tls_check_fail(tls_check_t *tc, const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(tc->err, tc->size, "%s:%d:%d: listen[%zu].tls: ",
                 tc->conf->file ? tc->conf->file : "asgimaster",
                 tc->l->tls->line, tc->l->tls->column, tc->index);
    if (n >= 0 && (size_t)n < tc->size) {
        va_start(ap, fmt);
        vsnprintf(tc->err + n, tc->size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    ERR_clear_error();
    return AM_ERROR;
}

/* OpenSSL's reason for the last failure: the first error queued. */
static const char *
tls_check_reason(char *buf, size_t size)
{
    unsigned long e = ERR_peek_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    if (e == 0) {
        snprintf(buf, size, "no reason given");
    } else if (r != NULL) {
        snprintf(buf, size, "%s", r);
    } else {
        ERR_error_string_n(e, buf, size);
    }
    return buf;
}

/* Open and read a byte: a directory opens but does not read. */
static int
tls_check_readable(tls_check_t *tc, const char *what, const char *path)
{
    FILE *f = fopen(path, "r");
    int c;

    if (f == NULL) {
        return tls_check_fail(tc, "cannot read %s \"%s\": %s", what, path,
                              strerror(errno));
    }
    errno = 0;
    c = fgetc(f);
    if (c == EOF) {
        int e = ferror(f) ? errno : 0;

        fclose(f);
        return tls_check_fail(tc, "cannot read %s \"%s\": %s", what, path,
                              e ? strerror(e) : "the file is empty");
    }
    fclose(f);
    return AM_OK;
}

/* Did the last call fail because the key is not the certificate's? */
static int
tls_check_is_mismatch(void)
{
    unsigned long e = ERR_peek_error();

    return ERR_GET_LIB(e) == ERR_LIB_X509 &&
           ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
}

static int
tls_check_listener(tls_check_t *tc, SSL_CTX *ctx)
{
    const am_tls_conf_t *t = tc->l->tls;
    char r[256];

    if (tls_check_readable(tc, "certificate", t->certificate) != AM_OK ||
        tls_check_readable(tc, "key", t->key) != AM_OK ||
        (t->client_ca != NULL &&
         tls_check_readable(tc, "client_ca", t->client_ca) != AM_OK)) {
        return AM_ERROR;
    }
    if (SSL_CTX_set_min_proto_version(ctx, t->min_version) != 1) {
        return tls_check_fail(tc, "min_version: %s",
                              tls_check_reason(r, sizeof(r)));
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, t->certificate) != 1) {
        return tls_check_fail(tc, "certificate \"%s\": %s", t->certificate,
                              tls_check_reason(r, sizeof(r)));
    }
    SSL_CTX_set_default_passwd_cb(ctx, am_tls_password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)t);
    am_tls_password_asked = 0;
    if (SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1 &&
        !tls_check_is_mismatch()) {
        if (am_tls_password_asked) {
            return tls_check_fail(tc,
                                  "key \"%s\" is encrypted and %s: set "
                                  "listen[].tls.key_password or "
                                  "key_password_file "
                                  "(--ssl-keyfile-password)",
                                  t->key,
                                  t->key_password != NULL ||
                                          t->key_password_file != NULL
                                      ? "the password is wrong"
                                      : "no password is set");
        }
        return tls_check_fail(tc, "key \"%s\": %s", t->key,
                              tls_check_reason(r, sizeof(r)));
    }
    if (tls_check_is_mismatch() || SSL_CTX_check_private_key(ctx) != 1) {
        return tls_check_fail(tc,
                              "key \"%s\" does not match the certificate "
                              "\"%s\": %s",
                              t->key, t->certificate,
                              tls_check_reason(r, sizeof(r)));
    }
    if (t->client_ca != NULL &&
        SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) != 1) {
        return tls_check_fail(tc, "client_ca \"%s\": %s", t->client_ca,
                              tls_check_reason(r, sizeof(r)));
    }
    if (t->ciphers != NULL && SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1) {
        return tls_check_fail(tc, "ciphers \"%s\": %s", t->ciphers,
                              tls_check_reason(r, sizeof(r)));
    }
    if (t->ciphersuites != NULL &&
        SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1) {
        return tls_check_fail(tc, "ciphersuites \"%s\": %s", t->ciphersuites,
                              tls_check_reason(r, sizeof(r)));
    }
    return AM_OK;
}

int
am_tls_check(am_conf_t *conf, char *err, size_t size)
{
    tls_check_t tc = { .conf = conf, .err = err, .size = size };
    SSL_CTX *ctx;
    int rc;

    for (size_t i = 0; i < conf->nlisten; i++) {
        if (conf->listen[i].tls == NULL) {
            continue;
        }
        tc.l = &conf->listen[i];
        tc.index = i;
        ERR_clear_error();
        ctx = SSL_CTX_new(TLS_server_method());
        if (ctx == NULL) {
            char r[256];

            return tls_check_fail(&tc, "SSL_CTX_new() failed: %s",
                                  tls_check_reason(r, sizeof(r)));
        }
        rc = tls_check_listener(&tc, ctx);
        SSL_CTX_free(ctx);
        if (rc != AM_OK) {
            return AM_ERROR;
        }
    }
    ERR_clear_error();
    return AM_OK;
}
