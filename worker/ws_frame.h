/* worker/ws_frame.h: RFC 6455 §5 framing: an incremental frame parser, a
 * frame header encoder and the close frame payload.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Pure functions over byte buffers: no connection, no allocation. The
 * parser takes bytes in any segmentation and hands back events: a chunk
 * of a data message's payload (unmasked in place in the caller's buffer)
 * or a whole control frame (its payload, at most 125 bytes, copied into
 * the parser). Every MUST of §5 it can see is enforced; a violation sets
 * p->error to the close code to send (1002) and the parser stays failed.
 * The message assembler (worker/ws_message.h) joins the chunks, inflates
 * and validates text.
 */
#ifndef AM_WORKER_WS_FRAME_H
#define AM_WORKER_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Opcodes, RFC 6455 §5.2. */
#define AM_WS_OP_CONT   0x0
#define AM_WS_OP_TEXT   0x1
#define AM_WS_OP_BINARY 0x2
#define AM_WS_OP_CLOSE  0x8
#define AM_WS_OP_PING   0x9
#define AM_WS_OP_PONG   0xa

/* Close codes, RFC 6455 §7.4.1 and the IANA registry. */
#define AM_WS_CLOSE_NORMAL       1000
#define AM_WS_CLOSE_GOING_AWAY   1001
#define AM_WS_CLOSE_PROTOCOL     1002
#define AM_WS_CLOSE_UNSUPPORTED  1003
#define AM_WS_CLOSE_NO_STATUS    1005 /* never on the wire */
#define AM_WS_CLOSE_ABNORMAL     1006 /* never on the wire */
#define AM_WS_CLOSE_INVALID_DATA 1007
#define AM_WS_CLOSE_POLICY       1008
#define AM_WS_CLOSE_TOO_BIG      1009
#define AM_WS_CLOSE_EXTENSION    1010
#define AM_WS_CLOSE_INTERNAL     1011
#define AM_WS_CLOSE_RESTART      1012
#define AM_WS_CLOSE_TRY_LATER    1013

#define AM_WS_CONTROL_MAX      125 /* §5.5 */
#define AM_WS_HEADER_MAX       14  /* 2 + 8 (length) + 4 (mask) */
#define AM_WS_CLOSE_REASON_MAX 123 /* 125 - the 2-byte code */

/* Parser options. */
#define AM_WS_PARSE_SERVER  0x1 /* we are the server: frames must be masked */
#define AM_WS_PARSE_DEFLATE 0x2 /* permessage-deflate negotiated: RSV1 ok */

typedef enum {
    AM_WS_PARSE_HEADER = 0, /* collecting a frame header */
    AM_WS_PARSE_PAYLOAD,    /* inside a frame's payload */
    AM_WS_PARSE_FAILED      /* a protocol error; p->error says which */
} am_ws_parse_state_t;

typedef enum {
    AM_WS_EVENT_DATA = 1, /* a chunk of a text or binary message */
    AM_WS_EVENT_CONTROL   /* a whole close, ping or pong frame */
} am_ws_event_type_t;

typedef struct am_ws_event_s {
    am_ws_event_type_t type;
    int opcode;     /* the message's opcode (TEXT/BINARY) or the control's */
    int first;      /* DATA: first chunk of the message */
    int last;       /* DATA: last chunk of the message (FIN frame, its end) */
    int compressed; /* DATA: RSV1 was set on the message's first frame */
    const uint8_t *data; /* DATA: into the caller's buffer; CONTROL: into p */
    size_t len;
} am_ws_event_t;

typedef struct am_ws_parser_s {
    am_ws_parse_state_t state;
    unsigned options; /* AM_WS_PARSE_* */
    uint16_t error;   /* the close code once state is FAILED */
    uint8_t hdr[AM_WS_HEADER_MAX];
    uint8_t hdr_len; /* header bytes collected */
    uint8_t mask[4];
    uint8_t fin, rsv1, masked, opcode;
    uint64_t remaining; /* payload bytes left in this frame */
    uint64_t offset;    /* payload bytes of this frame seen (mask index) */
    int in_message;     /* a fragmented data message is open (§5.4) */
    int message_opcode; /* its opcode */
    int message_compressed;
    int message_started; /* a DATA event with first=1 was returned */
    uint8_t control[AM_WS_CONTROL_MAX];
    uint8_t control_len;
} am_ws_parser_t;

/* options: AM_WS_PARSE_*. */
void am_ws_parser_init(am_ws_parser_t *p, unsigned options);

/* Parse from buf[0..len); buf is writable (payload is unmasked in place).
 * *used is set to the bytes consumed. Returns AM_OK with *ev filled (call
 * again with the rest), AM_AGAIN when all input is consumed and no event
 * is complete, AM_ERROR on a protocol violation (p->error: the close code;
 * every later call returns AM_ERROR too). A DATA event's data points into
 * buf and stays valid while buf does; a CONTROL event's into p, valid
 * until the next call. */
int am_ws_parser_next(am_ws_parser_t *p, uint8_t *buf, size_t len, size_t *used,
                      am_ws_event_t *ev);

/* Write a server frame header (unmasked, §5.1) for a payload of len bytes
 * into out (at least AM_WS_HEADER_MAX bytes); returns its length. The
 * caller writes the header and the payload with writev(), no copy. */
size_t am_ws_frame_header(uint8_t *out, int opcode, int fin, int rsv1,
                          uint64_t len);

/* Same with a masking key (a client's frame; tests and benchmarks). */
size_t am_ws_frame_header_masked(uint8_t *out, int opcode, int fin, int rsv1,
                                 uint64_t len, const uint8_t mask[4]);

/* XOR data with the key, starting at payload offset (§5.3). */
void am_ws_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4],
                      uint64_t offset);

/* A close payload (§5.5.1): an empty one has no code (*code = 1005, as
 * §7.1.5 says to report it); else a 2-byte code and a UTF-8 reason.
 * AM_OK with *code, *reason (into p) and *reason_len; AM_ERROR with *code
 * set to the close code to answer with: 1002 for a 1-byte payload or a
 * code not allowed on the wire, 1007 for a reason that is not UTF-8. */
int am_ws_close_parse(const uint8_t *p, size_t len, uint16_t *code,
                      const uint8_t **reason, size_t *reason_len);

/* 1 when code may appear in a close frame (§7.4.1, §7.4.2, IANA). */
int am_ws_close_code_is_valid(unsigned code);

/* Build a close payload into out (at least 125 bytes): the code and the
 * reason, cut to 123 bytes on a UTF-8 character boundary. code 0 or 1005
 * gives an empty payload. Returns its length. */
size_t am_ws_close_build(uint8_t *out, unsigned code, const char *reason,
                         size_t reason_len);

#endif
