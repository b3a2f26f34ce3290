/* common/conf_error.h: the config loader's error text: quoted values,
 * "file:line:col: " positions, "expected ..." for a key, "did you mean".
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Internal to common/conf*.c. Every function writes into a caller's buffer
 * and never fails: a message too long is cut.
 */
#ifndef AM_COMMON_CONF_ERROR_H
#define AM_COMMON_CONF_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include "common/conf_schema.h"

/* Bytes of a found value shown in errors, and the buffer that holds one
 * quoted (each byte may become \xHH, plus quotes and "..."). */
#define AM_CONF_QUOTE_MAX  48
#define AM_CONF_QUOTE_SIZE (AM_CONF_QUOTE_MAX * 4 + 8)

/* s (len bytes) as "text" into buf (AM_CONF_QUOTE_SIZE bytes): control
 * bytes, '"' and '\\' as \xHH, cut after AM_CONF_QUOTE_MAX bytes with
 * "...". Returns buf. */
const char *am_conf_error_quote(char *buf, size_t size, const char *s,
                                size_t len);

/* "name:line:column: " then fmt into err; line and column count from 1. */
void am_conf_error_vat(char *err, size_t size, const char *name, size_t line,
                       size_t column, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

/* "expected ..." for row k: its type and bounds ("a size from 1KiB to
 * 1GiB"). Returns buf or a constant string. */
const char *am_conf_error_describe(const am_conf_key_t *k, char *buf,
                                   size_t size);

/* The nearest known key to an unknown key in the map prefix ("" at the top
 * level): "; did you mean ...?" into buf, or "" for none. */
void am_conf_error_suggest(const char *prefix, const char *key, char *buf,
                           size_t size);

#endif
