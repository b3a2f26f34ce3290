/* tests/common/h1_result.h: what an HTTP/1.1 request parsed to, as one
 * comparable string; shared by the parser's unit test and its fuzz target.
 * The includer defines H1_RESULT_TEXT (the text's size) first.
 * SPDX-License-Identifier: BSD-2-Clause
 */

#ifndef AM_TESTS_H1_RESULT_H
#define AM_TESTS_H1_RESULT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "worker/h1_parser.h"

#ifndef H1_RESULT_TEXT
#error "define H1_RESULT_TEXT before including tests/common/h1_result.h"
#endif

typedef struct {
    int rc; /* AM_OK: message complete; AM_AGAIN; AM_ERROR */
    am_h1_error_t error;
    size_t used; /* input bytes of the message */
    char text[H1_RESULT_TEXT];
    size_t len;
} result_t;

/* Body bytes as they are (a NUL too). */
static void
put(result_t *r, const char *d, size_t n)
{
    if (n > sizeof(r->text) - 1 - r->len) {
        n = sizeof(r->text) - 1 - r->len;
    }
    if (n > 0) {
        memcpy(r->text + r->len, d, n);
        r->len += n;
    }
}

static void __attribute__((format(printf, 2, 3)))
say(result_t *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(r->text + r->len, sizeof(r->text) - r->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        r->len += (size_t)n;
        if (r->len >= sizeof(r->text)) {
            r->len = sizeof(r->text) - 1;
        }
    }
}

#endif
