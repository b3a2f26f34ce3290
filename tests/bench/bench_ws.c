/* tests/bench/bench_ws.c: throughput of the WebSocket receive path: the
 * frame parser (unmasking in place), the message assembler and the UTF-8
 * check (worker/ws_frame.c, ws_message.c, utf8.c), and inflate. Not a
 * test: it prints MB/s of wire bytes for a few message shapes.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 *   make bench-ws            (build/bench/bench_ws [seconds per case])
 *
 * The input is a buffer of masked client frames built once and copied
 * back before each pass (the parser unmasks in place); the copy is timed
 * apart and subtracted.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "common/core.h"
#include "worker/ws_deflate.h"
#include "worker/ws_frame.h"
#include "worker/ws_message.h"

#define BENCH_WIRE (8 << 20) /* bytes of frames per pass */

static double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fill wire with masked frames of one message shape; returns its length
 * and the number of messages. */
static size_t
bench_build(uint8_t *wire, int opcode, size_t msg_len, size_t frames_per,
            int compress, size_t *nmsg)
{
    static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
    uint8_t *payload = malloc(msg_len + 1), *z = NULL;
    size_t off = 0, plen = msg_len;
    z_stream zs;

    for (size_t i = 0; i < msg_len; i++) {
        payload[i] = (uint8_t)("lorem ipsum dolor sit amet, "[i % 28]);
    }
    if (compress) {
        memset(&zs, 0, sizeof(zs));
        deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        z = malloc(msg_len + 64);
        zs.next_in = payload;
        zs.avail_in = (uInt)msg_len;
        zs.next_out = z;
        zs.avail_out = (uInt)(msg_len + 64);
        deflate(&zs, Z_SYNC_FLUSH);
        plen = msg_len + 64 - zs.avail_out - 4;
        deflateEnd(&zs);
    }
    *nmsg = 0;
    for (;;) {
        size_t per = plen / frames_per, done = 0;

        if (off + plen + frames_per * AM_WS_HEADER_MAX > BENCH_WIRE) {
            break;
        }
        for (size_t f = 0; f < frames_per; f++) {
            size_t n = f + 1 == frames_per ? plen - done : per;

            off += am_ws_frame_header_masked(
                wire + off, f == 0 ? opcode : AM_WS_OP_CONT,
                f + 1 == frames_per, compress && f == 0, n, key);
            memcpy(wire + off, (compress ? z : payload) + done, n);
            am_ws_frame_mask(wire + off, n, key, 0);
            off += n;
            done += n;
        }
        (*nmsg)++;
        if (compress) {
            break; /* context takeover off: one message repeated below */
        }
    }
    free(payload);
    free(z);
    return off;
}

static void
bench_case(const char *name, int opcode, size_t msg_len, size_t frames_per,
           int compress, double seconds)
{
    uint8_t *wire = malloc(BENCH_WIRE), *copy = malloc(BENCH_WIRE);
    am_ws_deflate_params_t params = { 1, 1, 15, 15 };
    am_ws_deflate_t d;
    am_ws_message_t m;
    am_ws_parser_t p;
    am_ws_event_t ev;
    size_t len, nmsg, used, off, total = 0, msgs = 0;
    double t0, t, copy_time = 0, c0;
    int rc;

    len = bench_build(wire, opcode, msg_len, frames_per, compress, &nmsg);
    am_ws_deflate_init(&d, &params, 8, 6);
    am_ws_message_init(&m, 16 << 20, compress ? &d : NULL);
    am_ws_parser_init(&p, AM_WS_PARSE_SERVER |
                              (compress ? AM_WS_PARSE_DEFLATE : 0));
    t0 = bench_now();
    do {
        c0 = bench_now();
        memcpy(copy, wire, len);
        copy_time += bench_now() - c0;
        off = 0;
        while (off < len) {
            rc = am_ws_parser_next(&p, copy + off, len - off, &used, &ev);
            off += used;
            if (rc != AM_OK) {
                fprintf(stderr, "%s: parser rc %d\n", name, rc);
                exit(1);
            }
            if (ev.type != AM_WS_EVENT_DATA) {
                continue;
            }
            rc = am_ws_message_feed(&m, &ev);
            if (rc == AM_ERROR) {
                fprintf(stderr, "%s: message error %u\n", name, m.error);
                exit(1);
            }
            if (rc == AM_DONE) {
                msgs++;
                am_ws_message_reset(&m);
            }
        }
        total += len;
        t = bench_now() - t0;
    } while (t < seconds);
    t -= copy_time;
    printf("%-26s %7.0f MB/s wire %7.0f MB/s payload %9.0f msg/s\n", name,
           (double)total / t / 1e6, (double)msgs * (double)msg_len / t / 1e6,
           (double)msgs / t);
    am_ws_message_free(&m);
    am_ws_deflate_free(&d);
    free(wire);
    free(copy);
}

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;

    bench_case("text 16 B, 1 frame", AM_WS_OP_TEXT, 16, 1, 0, seconds);
    bench_case("text 1 KiB, 1 frame", AM_WS_OP_TEXT, 1024, 1, 0, seconds);
    bench_case("text 64 KiB, 1 frame", AM_WS_OP_TEXT, 65536, 1, 0, seconds);
    bench_case("binary 64 KiB, 1 frame", AM_WS_OP_BINARY, 65536, 1, 0, seconds);
    bench_case("binary 1 MiB, 16 frames", AM_WS_OP_BINARY, 1 << 20, 16, 0,
               seconds);
    bench_case("text 64 KiB deflated", AM_WS_OP_TEXT, 65536, 1, 1, seconds);
    return 0;
}
