/* worker/ws_deflate.h: RFC 7692 permessage-deflate: the offer/response
 * negotiation and per-connection compression with bounded memory.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Negotiation is a pure function of the client's Sec-WebSocket-Extensions
 * value (several header lines joined with ", ") and our limits. The
 * streams (am_ws_deflate_t) belong to one WebSocket session; zlib's state
 * is allocated on first use and sized by the negotiated window bits and
 * the configured memLevel: a deflate stream takes about
 * 2^(window_bits+2) + 2^(mem_level+9) bytes, an inflate stream about
 * 2^window_bits + 7 KiB. Inflate writes into a caller buffer and stops when
 * it is full, so a zip bomb costs the caller's cap, never more.
 */
#ifndef AM_WORKER_WS_DEFLATE_H
#define AM_WORKER_WS_DEFLATE_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

/* What we allow (from the config). */
typedef struct am_ws_deflate_conf_s {
    int server_max_window_bits;     /* 9..15: our compressor's window */
    int client_max_window_bits;     /* 9..15: asked of clients that allow it */
    int server_no_context_takeover; /* 1: reset our compressor per message */
    int client_no_context_takeover; /* 1: ask the client to reset too */
    int mem_level;                  /* 1..9, zlib's memLevel for deflate */
    int level;                      /* 0..9, zlib's compression level */
} am_ws_deflate_conf_t;

/* What was agreed for one session. */
typedef struct am_ws_deflate_params_s {
    int server_no_context_takeover;
    int client_no_context_takeover;
    int server_max_window_bits; /* 9..15: our deflate's windowBits */
    int client_max_window_bits; /* 9..15: our inflate's windowBits */
} am_ws_deflate_params_t;

typedef struct am_ws_deflate_s {
    am_ws_deflate_params_t params;
    int mem_level, level;
    z_stream in, out;
    int in_ready, out_ready; /* zlib state allocated */
    uint8_t tail_fed;        /* bytes of 00 00 ff ff fed to inflate */
} am_ws_deflate_t;

/* Fill conf with our defaults: 15 and 15 bits, context takeover, memLevel
 * 8, level 6 (zlib's default). */
void am_ws_deflate_conf_default(am_ws_deflate_conf_t *conf);

/* Choose the first acceptable permessage-deflate offer in value[0..len)
 * (RFC 7692 §5, §7.1). AM_OK: *params holds the agreement and resp (NUL-
 * terminated, at most resp_size bytes) the Sec-WebSocket-Extensions value
 * to answer with. AM_DECLINED: no offer acceptable (answer without the
 * header, uncompressed). Unknown extensions are skipped; a value that does
 * not parse declines all (RFC 6455 §9.1 grammar). */
int am_ws_deflate_negotiate(const char *value, size_t len,
                            const am_ws_deflate_conf_t *conf,
                            am_ws_deflate_params_t *params, char *resp,
                            size_t resp_size);

void am_ws_deflate_init(am_ws_deflate_t *d, const am_ws_deflate_params_t *p,
                        int mem_level, int level);
/* Free zlib's state; d may be initialised again. */
void am_ws_deflate_free(am_ws_deflate_t *d);

/* Inflate part of a compressed message: in[0..in_len) into
 * out[0..out_cap). *in_used and *out_len say what was consumed and
 * written. last: in is the end of the message, so the 00 00 ff ff tail is
 * fed after it (§7.2.2). AM_OK: all input consumed (with last, the whole
 * message is out). AM_AGAIN: call again with the rest of in (from
 * *in_used on) and, when out is full, more room: more output may follow
 * (the caller's message cap decides whether there may be more room: a zip
 * bomb stops there). AM_ERROR: the data is not DEFLATE (close with 1007). */
int am_ws_deflate_inflate(am_ws_deflate_t *d, const uint8_t *in, size_t in_len,
                          int last, uint8_t *out, size_t out_cap,
                          size_t *in_used, size_t *out_len);

/* Compress a whole message for sending (§7.2.1: sync flush, the trailing
 * 00 00 ff ff removed). *out is allocated (am_alloc) and the caller frees
 * it; *out_len its length. The message goes out with RSV1 set on its first
 * frame. AM_OK or AM_ERROR (zlib failed: send uncompressed). */
int am_ws_deflate_compress(am_ws_deflate_t *d, const uint8_t *in, size_t len,
                           uint8_t **out, size_t *out_len);

#endif
