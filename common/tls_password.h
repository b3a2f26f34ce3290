/* common/tls_password.h: the password of an encrypted TLS key, from the
 * config and never from the terminal.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * am_tls_password_cb() has OpenSSL's pem_password_cb shape; its userdata is
 * the listener's am_tls_conf_t. It copies listen[].tls.key_password, or the
 * first line of key_password_file, and returns its length; with neither it
 * returns 0, so OpenSSL fails instead of prompting (workers would race for
 * the terminal). am_tls_password_asked is set when a key asked for one.
 */
#ifndef AM_COMMON_TLS_PASSWORD_H
#define AM_COMMON_TLS_PASSWORD_H

extern int am_tls_password_asked;

int am_tls_password_cb(char *buf, int size, int rwflag, void *userdata);

#endif
