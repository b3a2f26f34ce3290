/* worker/utf8.h: an incremental UTF-8 validator for WebSocket text.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * RFC 6455 §8.1: a text message is UTF-8 (RFC 3629), checked as it arrives,
 * so a sequence may be split across reads, frames and fragments. The state
 * is one byte; am_utf8_validate() may be called on any split of the input.
 * Rejected: overlong forms, surrogates (U+D800..U+DFFF), code points above
 * U+10FFFF, stray continuation bytes, C0, C1, F5..FF (Unicode 15, Table 3-7).
 */
#ifndef AM_WORKER_UTF8_H
#define AM_WORKER_UTF8_H

#include <stddef.h>
#include <stdint.h>

typedef struct am_utf8_s {
    uint8_t state; /* AM_UTF8_ACCEPT between whole characters */
} am_utf8_t;

#define AM_UTF8_ACCEPT 0
#define AM_UTF8_REJECT 8

static inline void
am_utf8_init(am_utf8_t *u)
{
    u->state = AM_UTF8_ACCEPT;
}

/* Feed len bytes. AM_OK: valid so far (a character may be incomplete);
 * AM_ERROR: invalid, and the state stays rejected. */
int am_utf8_validate(am_utf8_t *u, const uint8_t *p, size_t len);

/* AM_OK when the input fed so far ends on a whole character (the end of a
 * message), AM_ERROR otherwise. */
int am_utf8_finish(const am_utf8_t *u);

/* One-shot: AM_OK when p[0..len) is complete, valid UTF-8. */
int am_utf8_check(const uint8_t *p, size_t len);

#endif
