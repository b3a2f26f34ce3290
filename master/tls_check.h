/* master/tls_check.h: the TLS files of every listener, checked at start-up
 * and by `asgimaster -t`, before anything is bound or forked.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_MASTER_TLS_CHECK_H
#define AM_MASTER_TLS_CHECK_H

#include <stddef.h>

#include "common/conf.h"

/* For each listener with tls: load its certificate chain, key and client
 * CAs into a throwaway SSL_CTX, check that the key matches the
 * certificate and that OpenSSL takes min_version, ciphers and
 * ciphersuites. Call after am_conf_finish(). AM_OK, or AM_ERROR with err
 * holding "FILE:line:col: listen[N].tls: what: reason" (the position of
 * the tls key). Logs nothing. */
int am_tls_check(am_conf_t *conf, char *err, size_t size);

#endif
