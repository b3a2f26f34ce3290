/* worker/ws_message.h: joins a WebSocket message from the frame parser's
 * chunks: inflates compressed messages, validates text as UTF-8 as it
 * arrives and enforces the message size limit.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The buffer is the assembler's own (malloc'd, freed by reset/free); it
 * grows by doubling and never beyond the limit, plus one byte that tells
 * "exactly the limit" from "over it" when inflating. So a zip bomb costs
 * at most max + 1 bytes here, then 1009.
 */
#ifndef AM_WORKER_WS_MESSAGE_H
#define AM_WORKER_WS_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "worker/utf8.h"
#include "worker/ws_deflate.h"
#include "worker/ws_frame.h"

typedef struct am_ws_message_s {
    uint8_t *data; /* owned: the message, len bytes */
    size_t len, cap;
    size_t max;     /* the limit on a message's (inflated) size */
    int opcode;     /* AM_WS_OP_TEXT or AM_WS_OP_BINARY */
    int compressed; /* RSV1 on its first frame */
    am_utf8_t utf8;
    am_ws_deflate_t *deflate; /* borrowed: NULL when not negotiated */
    uint16_t error;           /* the close code after AM_ERROR */
} am_ws_message_t;

/* max: the message size limit (1009 above it); deflate: the session's
 * streams when permessage-deflate was negotiated, else NULL. */
void am_ws_message_init(am_ws_message_t *m, size_t max,
                        am_ws_deflate_t *deflate);

/* Feed one DATA event from am_ws_parser_next(). AM_OK: more to come;
 * AM_DONE: the message is whole in m->data[0..m->len) (until the next
 * feed with a first chunk, or reset); AM_ERROR: m->error is the close
 * code (1007 invalid UTF-8 or DEFLATE data, 1009 too big). */
int am_ws_message_feed(am_ws_message_t *m, const am_ws_event_t *ev);

/* Forget the message; keep a small buffer for the next one. */
void am_ws_message_reset(am_ws_message_t *m);
void am_ws_message_free(am_ws_message_t *m);

#endif
