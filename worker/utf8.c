/* worker/utf8.c: incremental UTF-8 validation (RFC 3629, Unicode Table 3-7).
 *
 * A small state machine whose state says what the next byte must be: the
 * lead byte fixes how many continuation bytes follow and, for E0, ED, F0
 * and F4, a narrower range for the first one, which is what rules out
 * overlong forms, surrogates and code points above U+10FFFF. Between
 * characters an 8-byte ASCII fast path skips the machine, so mostly-ASCII
 * text costs a load, a mask and a compare per 8 bytes.
 */

#include <string.h>

#include "common/core.h"
#include "worker/utf8.h"

/* The states: how many continuation bytes are still due and the range of
 * the next one. */
enum {
    UTF8_ACCEPT = AM_UTF8_ACCEPT,
    UTF8_CONT1, /* one more, 80..BF */
    UTF8_CONT2, /* two more, 80..BF */
    UTF8_CONT3, /* three more, 80..BF */
    UTF8_E0,    /* after E0: A0..BF (no overlong 3-byte form) */
    UTF8_ED,    /* after ED: 80..9F (no surrogates) */
    UTF8_F0,    /* after F0: 90..BF (no overlong 4-byte form) */
    UTF8_F4,    /* after F4: 80..8F (nothing above U+10FFFF) */
    UTF8_REJECT = AM_UTF8_REJECT
};

static uint8_t
utf8_lead(uint8_t b)
{
    if (b < 0x80) {
        return UTF8_ACCEPT;
    }
    if (b < 0xc2) {
        return UTF8_REJECT; /* stray continuation, or overlong C0/C1 */
    }
    if (b < 0xe0) {
        return UTF8_CONT1;
    }
    if (b == 0xe0) {
        return UTF8_E0;
    }
    if (b == 0xed) {
        return UTF8_ED;
    }
    if (b < 0xf0) {
        return UTF8_CONT2;
    }
    if (b == 0xf0) {
        return UTF8_F0;
    }
    if (b < 0xf4) {
        return UTF8_CONT3;
    }
    if (b == 0xf4) {
        return UTF8_F4;
    }
    return UTF8_REJECT;
}

static uint8_t
utf8_step(uint8_t state, uint8_t b)
{
    switch (state) {
    case UTF8_ACCEPT:
        return utf8_lead(b);
    case UTF8_CONT1:
        return (b & 0xc0) == 0x80 ? UTF8_ACCEPT : UTF8_REJECT;
    case UTF8_CONT2:
        return (b & 0xc0) == 0x80 ? UTF8_CONT1 : UTF8_REJECT;
    case UTF8_CONT3:
        return (b & 0xc0) == 0x80 ? UTF8_CONT2 : UTF8_REJECT;
    case UTF8_E0:
        return b >= 0xa0 && b <= 0xbf ? UTF8_CONT1 : UTF8_REJECT;
    case UTF8_ED:
        return b >= 0x80 && b <= 0x9f ? UTF8_CONT1 : UTF8_REJECT;
    case UTF8_F0:
        return b >= 0x90 && b <= 0xbf ? UTF8_CONT2 : UTF8_REJECT;
    case UTF8_F4:
        return b >= 0x80 && b <= 0x8f ? UTF8_CONT2 : UTF8_REJECT;
    default:
        return UTF8_REJECT;
    }
}

int
am_utf8_validate(am_utf8_t *u, const uint8_t *p, size_t len)
{
    const uint8_t *end;
    uint8_t state = u->state;
    uint64_t w;

    if (len == 0) {
        return state == UTF8_REJECT ? AM_ERROR : AM_OK; /* p may be NULL */
    }
    end = p + len;
    while (p < end) {
        if (state == UTF8_ACCEPT) {
            /* Whole ASCII words between characters. */
            while (end - p >= 8) {
                memcpy(&w, p, 8);
                if (w & UINT64_C(0x8080808080808080)) {
                    break;
                }
                p += 8;
            }
            while (p < end && *p < 0x80) {
                p++;
            }
            if (p == end) {
                break;
            }
        }
        state = utf8_step(state, *p++);
        if (state == UTF8_REJECT) {
            break;
        }
    }
    u->state = state;
    return state == UTF8_REJECT ? AM_ERROR : AM_OK;
}

int
am_utf8_finish(const am_utf8_t *u)
{
    return u->state == UTF8_ACCEPT ? AM_OK : AM_ERROR;
}

int
am_utf8_check(const uint8_t *p, size_t len)
{
    am_utf8_t u;

    am_utf8_init(&u);
    if (am_utf8_validate(&u, p, len) != AM_OK) {
        return AM_ERROR;
    }
    return am_utf8_finish(&u);
}
