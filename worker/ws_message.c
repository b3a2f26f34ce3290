/* worker/ws_message.c: the WebSocket message assembler.
 *
 * Chunks go straight into one buffer per session (inflated there when the
 * message is compressed). Text is validated on the bytes just added, so an
 * invalid sequence fails the connection as soon as it arrives (RFC 6455
 * §8.1, "when an endpoint is to interpret a byte stream as UTF-8 but finds
 * that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint
 * MUST _Fail the WebSocket Connection_"), and a split character is carried
 * over in the validator's state across frames.
 */

#include <string.h>

#include "common/core.h"
#include "worker/ws_message.h"

#define MESSAGE_CHUNK 4096
#define MESSAGE_KEEP_SIZE                                                      \
    65536 /* a bigger buffer is freed between messages                         \
           */

static int message_fail(am_ws_message_t *m, uint16_t code);
static int message_grow(am_ws_message_t *m, size_t want, size_t limit);

void
am_ws_message_init(am_ws_message_t *m, size_t max, am_ws_deflate_t *deflate)
{
    memset(m, 0, sizeof(*m));
    m->max = max;
    m->deflate = deflate;
    am_utf8_init(&m->utf8);
}

static int
message_fail(am_ws_message_t *m, uint16_t code)
{
    m->error = code;
    return AM_ERROR;
}

/* Room for at least want bytes in all, never more than limit. */
static int
message_grow(am_ws_message_t *m, size_t want, size_t limit)
{
    size_t cap = m->cap ? m->cap : MESSAGE_CHUNK;

    if (want > limit) {
        return AM_ERROR;
    }
    if (want <= m->cap) {
        return AM_OK;
    }
    while (cap < want) {
        cap = cap > limit / 2 ? limit : cap * 2;
    }
    if (cap > limit) {
        cap = limit;
    }
    m->data = am_realloc(m->data, cap);
    m->cap = cap;
    return AM_OK;
}

int
am_ws_message_feed(am_ws_message_t *m, const am_ws_event_t *ev)
{
    size_t start, in_used, out_len, limit;
    const uint8_t *in = ev->data;
    size_t in_len = ev->len;
    int rc;

    if (ev->first) {
        m->len = 0;
        m->opcode = ev->opcode;
        m->compressed = ev->compressed;
        m->error = 0;
        am_utf8_init(&m->utf8);
    }
    start = m->len;

    if (m->compressed) {
        if (m->deflate == NULL) {
            return message_fail(m, AM_WS_CLOSE_PROTOCOL);
        }
        /* One byte past the limit tells a message of exactly max bytes
         * from a bigger one without inflating further. */
        limit = m->max + 1;
        for (;;) {
            if (m->len == m->cap &&
                message_grow(m, m->len + 1, limit) != AM_OK) {
                return message_fail(m, AM_WS_CLOSE_TOO_BIG);
            }
            rc = am_ws_deflate_inflate(m->deflate, in, in_len, ev->last,
                                       m->data + m->len, m->cap - m->len,
                                       &in_used, &out_len);
            m->len += out_len;
            in += in_used;
            in_len -= in_used;
            if (rc == AM_ERROR) {
                return message_fail(m, AM_WS_CLOSE_INVALID_DATA);
            }
            if (m->len > m->max) {
                return message_fail(m, AM_WS_CLOSE_TOO_BIG);
            }
            if (rc == AM_OK) {
                break;
            }
        }
    } else {
        /* §10.4: a limit on frame and message size; RFC 6455 §7.4.1 1009. */
        if (in_len > m->max - m->len) {
            return message_fail(m, AM_WS_CLOSE_TOO_BIG);
        }
        if (message_grow(m, m->len + in_len, m->max) != AM_OK) {
            return message_fail(m, AM_WS_CLOSE_TOO_BIG);
        }
        if (in_len > 0) {
            memcpy(m->data + m->len, in, in_len);
        }
        m->len += in_len;
    }

    if (m->opcode == AM_WS_OP_TEXT) {
        /* m->data is NULL until a first byte arrives. */
        if ((m->len > start && am_utf8_validate(&m->utf8, m->data + start,
                                                m->len - start) != AM_OK) ||
            (ev->last && am_utf8_finish(&m->utf8) != AM_OK)) {
            return message_fail(m, AM_WS_CLOSE_INVALID_DATA);
        }
    }
    return ev->last ? AM_DONE : AM_OK;
}

void
am_ws_message_reset(am_ws_message_t *m)
{
    m->len = 0;
    if (m->cap > MESSAGE_KEEP_SIZE) {
        free(m->data);
        m->data = NULL;
        m->cap = 0;
    }
    am_utf8_init(&m->utf8);
}

void
am_ws_message_free(am_ws_message_t *m)
{
    free(m->data);
    m->data = NULL;
    m->cap = 0;
    m->len = 0;
}
