/* tests/fuzz/fuzz_ws.c: libFuzzer target for the WebSocket codec: the
 * frame parser (worker/ws_frame.c), the message assembler with UTF-8 and
 * permessage-deflate (worker/ws_message.c, worker/utf8.c,
 * worker/ws_deflate.c), close payloads, and the offer and handshake
 * parsers (worker/ws_deflate.c, worker/ws_handshake.c).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The first byte picks the options: bit 0 deflate negotiated, bit 1 no
 * context takeover, bit 2 client mode (unmasked frames), bits 3-4 the
 * message limit, bits 5-7 the read size. The rest is the byte stream, cut
 * into reads of that size; the same bytes are also an extension offer and
 * a Sec-WebSocket-Key / -Protocol value, and UTF-8 text checked against
 * a slow reference decoder. Invariants are checked with
 * abort(): every byte consumed or an error, a close code on error, whole
 * messages within the limit and valid UTF-8 when text.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/core.h"
#include "worker/utf8.h"
#include "worker/ws_deflate.h"
#include "worker/ws_frame.h"
#include "worker/ws_handshake.h"
#include "worker/ws_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t fuzz_limits[4] = { 0, 16, 4096, 1 << 20 };
static const size_t fuzz_reads[8] = { 1, 2, 3, 7, 64, 1000, 4096, 1 << 20 };

/* A slow reference: decode each code point and check its range. */
static int
fuzz_utf8_reference(const uint8_t *p, size_t len)
{
    size_t i = 0, n;
    uint32_t c, min;

    while (i < len) {
        c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            c &= 0x1f;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            c &= 0x0f;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            c &= 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (len - i <= n) {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            c = c << 6 | (p[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return 0;
        }
        i += n + 1;
    }
    return 1;
}

/* The validator agrees with the reference, whole and split in two. */
static void
fuzz_utf8(const uint8_t *data, size_t size)
{
    int valid = fuzz_utf8_reference(data, size);
    size_t cut = size ? data[0] % (size + 1) : 0;
    am_utf8_t u;
    int ok;

    if ((am_utf8_check(data, size) == AM_OK) != valid) {
        abort();
    }
    am_utf8_init(&u);
    ok = am_utf8_validate(&u, data, cut) == AM_OK &&
         am_utf8_validate(&u, data + cut, size - cut) == AM_OK &&
         am_utf8_finish(&u) == AM_OK;
    if (ok != valid) {
        abort();
    }
}

static void
fuzz_headers(const uint8_t *data, size_t size)
{
    am_ws_deflate_conf_t conf;
    am_ws_deflate_params_t params;
    am_ws_token_t tokens[8];
    char resp[256], accept[AM_WS_ACCEPT_LEN + 1];
    size_t n;

    am_ws_deflate_conf_default(&conf);
    if (am_ws_deflate_negotiate((const char *)data, size, &conf, &params, resp,
                                sizeof(resp)) == AM_OK) {
        if (params.server_max_window_bits < 9 ||
            params.server_max_window_bits > 15 ||
            params.client_max_window_bits < 9 ||
            params.client_max_window_bits > 15 ||
            strncmp(resp, "permessage-deflate", 18) != 0) {
            abort();
        }
    }
    if (am_ws_handshake_subprotocols((const char *)data, size, tokens,
                                     am_nitems(tokens), &n) == AM_OK) {
        for (size_t i = 0; i < n; i++) {
            if (tokens[i].len == 0 || tokens[i].data < (const char *)data ||
                tokens[i].data + tokens[i].len > (const char *)data + size) {
                abort();
            }
        }
    }
    if (am_ws_handshake_key_is_valid((const char *)data, size) &&
        am_ws_handshake_accept((const char *)data, size, accept) != AM_OK) {
        abort();
    }
    (void)am_ws_handshake_has_token((const char *)data, size, "upgrade");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_ws_deflate_params_t params = { 0, 0, 15, 15 };
    am_ws_deflate_t deflate;
    am_ws_message_t m;
    am_ws_parser_t p;
    am_ws_event_t ev;
    const uint8_t *reason;
    size_t off = 0, n, used, reason_len, limit, step;
    unsigned options = AM_WS_PARSE_SERVER;
    uint16_t code;
    uint8_t *buf;
    int flags, rc;

    if (size == 0) {
        return 0;
    }
    flags = data[0];
    data++;
    size--;
    fuzz_headers(data, size);
    fuzz_utf8(data, size);

    if (flags & 0x1) {
        options |= AM_WS_PARSE_DEFLATE;
    }
    if (flags & 0x4) {
        options &= ~(unsigned)AM_WS_PARSE_SERVER;
    }
    params.server_no_context_takeover = params.client_no_context_takeover =
        (flags & 0x2) != 0;
    limit = fuzz_limits[(flags >> 3) & 3];
    step = fuzz_reads[(flags >> 5) & 7];

    buf = malloc(size ? size : 1); /* exact size: ASan sees overreads */
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data, size);
    am_ws_deflate_init(&deflate, &params, 8, 6);
    am_ws_parser_init(&p, options);
    am_ws_message_init(&m, limit, (flags & 0x1) ? &deflate : NULL);

    while (off < size) {
        n = am_min(step, size - off);
        rc = am_ws_parser_next(&p, buf + off, n, &used, &ev);
        if (used > n) {
            abort();
        }
        off += used;
        if (rc == AM_ERROR) {
            if (p.error != AM_WS_CLOSE_PROTOCOL) {
                abort();
            }
            break;
        }
        if (rc == AM_AGAIN) {
            if (used != n) {
                abort();
            }
            continue;
        }
        if (ev.type == AM_WS_EVENT_CONTROL) {
            if (ev.len > AM_WS_CONTROL_MAX) {
                abort();
            }
            if (ev.opcode == AM_WS_OP_CLOSE &&
                am_ws_close_parse(ev.data, ev.len, &code, &reason,
                                  &reason_len) == AM_OK &&
                (code != AM_WS_CLOSE_NO_STATUS &&
                 !am_ws_close_code_is_valid(code))) {
                abort();
            }
            continue;
        }
        if (ev.data < buf || ev.data + ev.len > buf + size) {
            abort();
        }
        rc = am_ws_message_feed(&m, &ev);
        if (rc == AM_ERROR) {
            if (m.error != AM_WS_CLOSE_INVALID_DATA &&
                m.error != AM_WS_CLOSE_TOO_BIG) {
                abort();
            }
            break;
        }
        if (rc == AM_DONE) {
            if (m.len > limit || (m.opcode == AM_WS_OP_TEXT &&
                                  am_utf8_check(m.data, m.len) != AM_OK)) {
                abort();
            }
            /* Echo it compressed, as a server would, and read it back. */
            if ((flags & 0x1) && m.len > 0) {
                uint8_t *z;
                size_t zlen;

                if (am_ws_deflate_compress(&deflate, m.data, m.len, &z,
                                           &zlen) != AM_OK) {
                    abort();
                }
                free(z);
            }
            am_ws_message_reset(&m);
        }
        if (m.cap > limit + 1 && m.cap > 4096) {
            abort(); /* the buffer never outgrows the limit */
        }
    }
    am_ws_message_free(&m);
    am_ws_deflate_free(&deflate);
    free(buf);
    return 0;
}
