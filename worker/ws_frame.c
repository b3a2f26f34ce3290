/* worker/ws_frame.c: the RFC 6455 §5 frame parser, the frame header
 * encoder and close payloads.
 *
 * The parser is a two-state machine (header, payload) fed whatever bytes a
 * read returned. A header is collected into p->hdr (at most 14 bytes, so a
 * header split anywhere costs a copy of a few bytes); the first two bytes
 * are checked as soon as they are in, so a bad frame fails before its
 * length arrives. Data payload is unmasked in place and handed out as it
 * comes, never buffered here; control payload (at most 125 bytes) is
 * gathered so the caller sees a control frame whole, which lets it answer a
 * ping or a close in one step even between fragments of a message (§5.4).
 */

#include <string.h>

#include "common/core.h"
#include "worker/utf8.h"
#include "worker/ws_frame.h"

#define WS_FIN  0x80
#define WS_RSV1 0x40
#define WS_RSV2 0x20
#define WS_RSV3 0x10
#define WS_MASK 0x80

static int frame_fail(am_ws_parser_t *p, uint16_t code);
static int frame_check_start(am_ws_parser_t *p);
static int frame_check_length(am_ws_parser_t *p);
static size_t frame_header_size(const uint8_t *hdr);

void
am_ws_parser_init(am_ws_parser_t *p, unsigned options)
{
    memset(p, 0, sizeof(*p));
    p->state = AM_WS_PARSE_HEADER;
    p->options = options;
}

static int
frame_fail(am_ws_parser_t *p, uint16_t code)
{
    p->state = AM_WS_PARSE_FAILED;
    p->error = code;
    return AM_ERROR;
}

static size_t
frame_header_size(const uint8_t *hdr)
{
    size_t n = 2;
    uint8_t len7 = hdr[1] & 0x7f;

    if (len7 == 126) {
        n += 2;
    } else if (len7 == 127) {
        n += 8;
    }
    if (hdr[1] & WS_MASK) {
        n += 4;
    }
    return n;
}

/* The first two header bytes: every check that needs no length. */
static int
frame_check_start(am_ws_parser_t *p)
{
    uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
    int opcode = b0 & 0x0f, control = opcode & 0x8;

    /* §5.2: RSV2 and RSV3 are never negotiated here; RSV1 only with
     * permessage-deflate (RFC 7692 §6). */
    if (b0 & (WS_RSV2 | WS_RSV3)) {
        return frame_fail(p, AM_WS_CLOSE_PROTOCOL);
    }
    if ((b0 & WS_RSV1) && !(p->options & AM_WS_PARSE_DEFLATE)) {
        return frame_fail(p, AM_WS_CLOSE_PROTOCOL);
    }
    /* §5.2: reserved opcodes fail the connection. */
    switch (opcode) {
    case AM_WS_OP_CONT:
    case AM_WS_OP_TEXT:
    case AM_WS_OP_BINARY:
    case AM_WS_OP_CLOSE:
    case AM_WS_OP_PING:
    case AM_WS_OP_PONG:
        break;
    default:
        return frame_fail(p, AM_WS_CLOSE_PROTOCOL);
    }
    /* §5.1: a server closes on an unmasked client frame; a client on a
     * masked server frame. */
    if (!(b1 & WS_MASK) != !(p->options & AM_WS_PARSE_SERVER)) {
        return frame_fail(p, AM_WS_CLOSE_PROTOCOL);
    }
    if (control) {
        /* §5.5: control frames carry at most 125 bytes and are never
         * fragmented; RFC 7692 §6: RSV1 is for data messages only. */
        if (!(b0 & WS_FIN) || (b1 & 0x7f) > AM_WS_CONTROL_MAX ||
            (b0 & WS_RSV1)) {
            return frame_fail(p, AM_WS_CLOSE_PROTOCOL);
        }
        return AM_OK;
    }
    /* §5.4: a continuation needs an open message and a new message needs
     * none open. RFC 7692 §6.1: RSV1 only on a message's first frame. */
    if (opcode == AM_WS_OP_CONT) {
        if (!p->in_message || (b0 & WS_RSV1)) {
            return frame_fail(p, AM_WS_CLOSE_PROTOCOL);
        }
    } else if (p->in_message) {
        return frame_fail(p, AM_WS_CLOSE_PROTOCOL);
    }
    return AM_OK;
}

/* The whole header is in: the payload length and the mask. */
static int
frame_check_length(am_ws_parser_t *p)
{
    uint8_t len7 = p->hdr[1] & 0x7f;
    uint64_t len = len7;
    size_t off = 2;

    if (len7 == 126) {
        len = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
        off = 4;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) {
            len = len << 8 | p->hdr[2 + i];
        }
        off = 10;
        /* §5.2: the most significant bit of a 64-bit length MUST be 0. */
        if (len >> 63) {
            return frame_fail(p, AM_WS_CLOSE_PROTOCOL);
        }
    }
    /* §5.2: "the minimal number of bytes MUST be used to encode the
     * length". It binds the sender; we treat a longer form as a malformed
     * frame (§7.1.7) rather than accept two encodings of one frame. */
    if ((len7 == 126 && len < 126) || (len7 == 127 && len <= 0xffff)) {
        return frame_fail(p, AM_WS_CLOSE_PROTOCOL);
    }
    if (p->hdr[1] & WS_MASK) {
        memcpy(p->mask, p->hdr + off, 4);
    } else {
        memset(p->mask, 0, 4);
    }
    p->fin = (p->hdr[0] & WS_FIN) != 0;
    p->rsv1 = (p->hdr[0] & WS_RSV1) != 0;
    p->masked = (p->hdr[1] & WS_MASK) != 0;
    p->opcode = p->hdr[0] & 0x0f;
    p->remaining = len;
    p->offset = 0;
    if (p->opcode & 0x8) {
        p->control_len = 0;
    } else if (p->opcode != AM_WS_OP_CONT) {
        p->in_message = 1;
        p->message_opcode = p->opcode;
        p->message_compressed = p->rsv1;
        p->message_started = 0;
    }
    return AM_OK;
}

int
am_ws_parser_next(am_ws_parser_t *p, uint8_t *buf, size_t len, size_t *used,
                  am_ws_event_t *ev)
{
    size_t pos = 0, need, n;

    for (;;) {
        switch (p->state) {
        case AM_WS_PARSE_FAILED:
            *used = pos;
            return AM_ERROR;

        case AM_WS_PARSE_HEADER:
            need = p->hdr_len < 2 ? 2 : frame_header_size(p->hdr);
            while (p->hdr_len < need) {
                if (pos == len) {
                    *used = pos;
                    return AM_AGAIN;
                }
                p->hdr[p->hdr_len++] = buf[pos++];
                if (p->hdr_len == 2) {
                    if (frame_check_start(p) != AM_OK) {
                        *used = pos;
                        return AM_ERROR;
                    }
                    need = frame_header_size(p->hdr);
                }
            }
            if (frame_check_length(p) != AM_OK) {
                *used = pos;
                return AM_ERROR;
            }
            p->hdr_len = 0;
            p->state = AM_WS_PARSE_PAYLOAD;
            break;

        case AM_WS_PARSE_PAYLOAD:
            n = len - pos;
            if (p->remaining < n) {
                n = (size_t)p->remaining;
            }
            if (p->opcode & 0x8) {
                memcpy(p->control + p->control_len, buf + pos, n);
                if (p->masked) {
                    am_ws_frame_mask(p->control + p->control_len, n, p->mask,
                                     p->offset);
                }
                p->control_len += (uint8_t)n;
                p->offset += n;
                p->remaining -= n;
                pos += n;
                if (p->remaining > 0) {
                    *used = pos;
                    return AM_AGAIN;
                }
                p->state = AM_WS_PARSE_HEADER;
                memset(ev, 0, sizeof(*ev));
                ev->type = AM_WS_EVENT_CONTROL;
                ev->opcode = p->opcode;
                ev->data = p->control;
                ev->len = p->control_len;
                *used = pos;
                return AM_OK;
            }
            if (n == 0 && p->remaining > 0) {
                *used = pos;
                return AM_AGAIN;
            }
            if (p->masked) {
                am_ws_frame_mask(buf + pos, n, p->mask, p->offset);
            }
            memset(ev, 0, sizeof(*ev));
            ev->type = AM_WS_EVENT_DATA;
            ev->opcode = p->message_opcode;
            ev->compressed = p->message_compressed;
            ev->first = !p->message_started;
            ev->last = p->fin && p->remaining == n;
            ev->data = buf + pos;
            ev->len = n;
            p->remaining -= n;
            p->offset += n;
            pos += n;
            if (p->remaining == 0) {
                p->state = AM_WS_PARSE_HEADER;
            }
            if (n == 0 && !ev->first && !ev->last) {
                break; /* an empty middle fragment: nothing to tell */
            }
            p->message_started = 1;
            if (ev->last) {
                p->in_message = 0;
            }
            *used = pos;
            return AM_OK;
        }
    }
}

void
am_ws_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4],
                 uint64_t offset)
{
    uint8_t key[8];
    uint64_t k, w;
    size_t i = 0;

    for (int j = 0; j < 8; j++) {
        key[j] = mask[(offset + (uint64_t)j) & 3];
    }
    memcpy(&k, key, 8);
    for (; len - i >= 8; i += 8) {
        memcpy(&w, data + i, 8);
        w ^= k;
        memcpy(data + i, &w, 8);
    }
    for (; i < len; i++) {
        data[i] ^= key[i & 7];
    }
}

static size_t
frame_header_put(uint8_t *out, int opcode, int fin, int rsv1, uint64_t len,
                 uint8_t mask_bit)
{
    size_t n = 2;

    out[0] =
        (uint8_t)((fin ? WS_FIN : 0) | (rsv1 ? WS_RSV1 : 0) | (opcode & 0x0f));
    if (len < 126) {
        out[1] = mask_bit | (uint8_t)len;
    } else if (len <= 0xffff) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = mask_bit | 127;
        for (int i = 0; i < 8; i++) {
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        }
        n = 10;
    }
    return n;
}

size_t
am_ws_frame_header(uint8_t *out, int opcode, int fin, int rsv1, uint64_t len)
{
    /* §5.1: a server MUST NOT mask its frames. */
    return frame_header_put(out, opcode, fin, rsv1, len, 0);
}

size_t
am_ws_frame_header_masked(uint8_t *out, int opcode, int fin, int rsv1,
                          uint64_t len, const uint8_t mask[4])
{
    size_t n = frame_header_put(out, opcode, fin, rsv1, len, WS_MASK);

    memcpy(out + n, mask, 4);
    return n + 4;
}

int
am_ws_close_code_is_valid(unsigned code)
{
    /* §7.4.1: 1004 is reserved; 1005, 1006 and 1015 are never sent. IANA
     * "WebSocket Close Code Number Registry": 1012 Service Restart, 1013
     * Try Again Later, 1014 Bad Gateway. §7.4.2: 0-999 unused, 1016-2999
     * for future RFCs, 3000-4999 for libraries, frameworks and apps. */
    if (code >= 1000 && code <= 1003) {
        return 1;
    }
    if (code >= 1007 && code <= 1014) {
        return 1;
    }
    return code >= 3000 && code <= 4999;
}

int
am_ws_close_parse(const uint8_t *p, size_t len, uint16_t *code,
                  const uint8_t **reason, size_t *reason_len)
{
    *reason = p;
    *reason_len = 0;
    if (len == 0) {
        *code = AM_WS_CLOSE_NO_STATUS; /* §7.1.5 */
        return AM_OK;
    }
    /* §5.5.1: a body starts with a 2-byte code; one byte cannot. */
    if (len == 1) {
        *code = AM_WS_CLOSE_PROTOCOL;
        return AM_ERROR;
    }
    *code = (uint16_t)(p[0] << 8 | p[1]);
    if (!am_ws_close_code_is_valid(*code)) {
        *code = AM_WS_CLOSE_PROTOCOL;
        return AM_ERROR;
    }
    /* §5.5.1: the reason is UTF-8; §8.1 fails the connection with 1007. */
    if (am_utf8_check(p + 2, len - 2) != AM_OK) {
        *code = AM_WS_CLOSE_INVALID_DATA;
        return AM_ERROR;
    }
    *reason = p + 2;
    *reason_len = len - 2;
    return AM_OK;
}

size_t
am_ws_close_build(uint8_t *out, unsigned code, const char *reason,
                  size_t reason_len)
{
    if (code == 0 || code == AM_WS_CLOSE_NO_STATUS) {
        return 0;
    }
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (reason_len > AM_WS_CLOSE_REASON_MAX) {
        /* Cut on a character boundary: back over continuation bytes. */
        reason_len = AM_WS_CLOSE_REASON_MAX;
        while (reason_len > 0 && ((uint8_t)reason[reason_len] & 0xc0) == 0x80) {
            reason_len--;
        }
    }
    if (reason_len > 0) {
        memcpy(out + 2, reason, reason_len);
    }
    return 2 + reason_len;
}
