/* tests/unit/worker/test_ws_deflate.c: RFC 7692 permessage-deflate
 * (worker/ws_deflate.c) and compressed messages through the parser and
 * the assembler: offer parsing and the answer, the §7.2.3 examples,
 * context takeover on and off, and a zip bomb that must stop at the
 * message limit without the buffer growing past it.
 */

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "common/core.h"
#include "tests/unit/unit.h"
#include "worker/ws_deflate.h"
#include "worker/ws_frame.h"
#include "worker/ws_message.h"

static am_ws_deflate_conf_t conf;
static am_ws_deflate_params_t params;
static char resp[256];

static int
negotiate(const char *offer)
{
    memset(resp, 0, sizeof(resp));
    return am_ws_deflate_negotiate(offer, strlen(offer), &conf, &params, resp,
                                   sizeof(resp));
}

TEST(negotiate_plain)
{
    am_ws_deflate_conf_default(&conf);
    ASSERT_EQ(negotiate("permessage-deflate"), AM_OK);
    ASSERT_STR_EQ(resp, "permessage-deflate");
    ASSERT_EQ(params.server_max_window_bits, 15);
    ASSERT_EQ(params.client_max_window_bits, 15);
    ASSERT_EQ(params.server_no_context_takeover, 0);
    ASSERT_EQ(params.client_no_context_takeover, 0);
    /* Chrome's and Firefox's offers; websockets' (python3-websockets). */
    ASSERT_EQ(negotiate("permessage-deflate; client_max_window_bits"), AM_OK);
    ASSERT_STR_EQ(resp, "permessage-deflate; client_max_window_bits=15");
    ASSERT_EQ(negotiate("permessage-deflate; server_max_window_bits=12; "
                        "client_max_window_bits=12"),
              AM_OK);
    ASSERT_STR_EQ(resp, "permessage-deflate; server_max_window_bits=12; "
                        "client_max_window_bits=12");
    ASSERT_EQ(params.server_max_window_bits, 12);
    ASSERT_EQ(params.client_max_window_bits, 12);
}

TEST(negotiate_our_limits)
{
    am_ws_deflate_conf_default(&conf);
    conf.server_max_window_bits = 10;
    conf.client_max_window_bits = 11;
    conf.client_no_context_takeover = 1;
    /* Without client_max_window_bits in the offer we may not limit the
     * client (§7.1.2.2), and inflate takes 15 bits. */
    ASSERT_EQ(negotiate("permessage-deflate"), AM_OK);
    ASSERT_STR_EQ(resp, "permessage-deflate; client_no_context_takeover");
    ASSERT_EQ(params.server_max_window_bits, 10);
    ASSERT_EQ(params.client_max_window_bits, 15);
    ASSERT_EQ(negotiate("permessage-deflate; client_max_window_bits; "
                        "server_max_window_bits=13"),
              AM_OK);
    ASSERT_STR_EQ(resp, "permessage-deflate; client_no_context_takeover; "
                        "server_max_window_bits=10; client_max_window_bits=11");
    ASSERT_EQ(params.client_max_window_bits, 11);
}

TEST(negotiate_choice)
{
    am_ws_deflate_conf_default(&conf);
    /* zlib cannot deflate with 8 bits: that offer is declined, the next
     * one taken. */
    ASSERT_EQ(negotiate("permessage-deflate; server_max_window_bits=8"),
              AM_DECLINED);
    ASSERT_EQ(negotiate("permessage-deflate; server_max_window_bits=8, "
                        "permessage-deflate; server_no_context_takeover"),
              AM_OK);
    ASSERT_STR_EQ(resp, "permessage-deflate; server_no_context_takeover");
    ASSERT_EQ(params.server_no_context_takeover, 1);
    /* A client window of 8 bits is read with 9. */
    ASSERT_EQ(negotiate("permessage-deflate; client_max_window_bits=8"), AM_OK);
    ASSERT_STR_EQ(resp, "permessage-deflate; client_max_window_bits=8");
    ASSERT_EQ(params.client_max_window_bits, 9);
    /* Other extensions are skipped. */
    ASSERT_EQ(negotiate("x-webkit-deflate-frame, permessage-deflate; "
                        "client_no_context_takeover"),
              AM_OK);
    ASSERT_STR_EQ(resp, "permessage-deflate; client_no_context_takeover");
    ASSERT_EQ(negotiate("foo; bar=\"a,b\"; baz,permessage-deflate"), AM_OK);
    ASSERT_EQ(negotiate("x-webkit-deflate-frame"), AM_DECLINED);
    ASSERT_EQ(negotiate(""), AM_DECLINED);
    /* Quoted values (RFC 6455 §9.1). */
    ASSERT_EQ(negotiate("permessage-deflate; server_max_window_bits=\"10\""),
              AM_OK);
    ASSERT_EQ(params.server_max_window_bits, 10);
    ASSERT_EQ(negotiate("Permessage-Deflate ; Client_Max_Window_Bits = 9"),
              AM_OK);
    ASSERT_EQ(params.client_max_window_bits, 9);
}

/* §7: unknown, repeated and bad parameters decline the offer; a value
 * that does not parse declines them all. */
TEST(negotiate_declines)
{
    static const char *bad[] = {
        "permessage-deflate; foo",
        "permessage-deflate; server_no_context_takeover=1",
        /* one literal each: a split literal reads as a missing comma */
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=1x",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; client_max_window_bits=",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; client_max_window_bits=\"15",
        "permessage-deflate;",
        "permessage-deflate; ;",
        "permessage-deflate x",
        "permessage-deflate, ;",
        "permessage-deflate, @",
        "=permessage-deflate",
    };

    am_ws_deflate_conf_default(&conf);
    for (size_t i = 0; i < am_nitems(bad); i++) {
        if (negotiate(bad[i]) != AM_DECLINED) {
            fprintf(stderr, "  offer: %s\n", bad[i]);
        }
        ASSERT_EQ(negotiate(bad[i]), AM_DECLINED);
    }
}

/* A response buffer too small declines rather than truncating. */
TEST(negotiate_small_buffer)
{
    char small[20];

    am_ws_deflate_conf_default(&conf);
    ASSERT_EQ(am_ws_deflate_negotiate("permessage-deflate; "
                                      "client_max_window_bits",
                                      42, &conf, &params, small, sizeof(small)),
              AM_DECLINED);
}

/* Inflate a whole message at once into out; returns the rc. */
static int
inflate_all(am_ws_deflate_t *d, const uint8_t *in, size_t len, uint8_t *out,
            size_t cap, size_t *out_len)
{
    size_t used, n, total = 0;
    int rc;

    for (;;) {
        rc = am_ws_deflate_inflate(d, in, len, 1, out + total, cap - total,
                                   &used, &n);
        total += n;
        in += used;
        len -= used;
        if (rc != AM_AGAIN || total == cap) {
            break;
        }
    }
    *out_len = total;
    return rc;
}

static void
init_streams(am_ws_deflate_t *d, int no_takeover)
{
    am_ws_deflate_params_t p = { no_takeover, no_takeover, 15, 15 };

    am_ws_deflate_init(d, &p, 8, Z_DEFAULT_COMPRESSION);
}

/* RFC 7692 §7.2.3.1 to §7.2.3.4. */
TEST(rfc_examples)
{
    am_ws_deflate_t d;
    uint8_t out[64];
    size_t n;

    init_streams(&d, 0);
    ASSERT_EQ(inflate_all(
                  &d,
                  (const uint8_t[]){ 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 },
                  7, out, sizeof(out), &n),
              AM_OK);
    ASSERT_EQ(n, 5);
    ASSERT_EQ(memcmp(out, "Hello", 5), 0);
    /* §7.2.3.2: the second "Hello" refers to the first. */
    ASSERT_EQ(inflate_all(&d, (const uint8_t[]){ 0xf2, 0x00, 0x11, 0x00, 0x00 },
                          5, out, sizeof(out), &n),
              AM_OK);
    ASSERT_EQ(n, 5);
    ASSERT_EQ(memcmp(out, "Hello", 5), 0);
    /* §7.2.3.3: a stored block. */
    ASSERT_EQ(inflate_all(&d,
                          (const uint8_t[]){ 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48,
                                             0x65, 0x6c, 0x6c, 0x6f, 0x00 },
                          11, out, sizeof(out), &n),
              AM_OK);
    ASSERT_EQ(n, 5);
    ASSERT_EQ(memcmp(out, "Hello", 5), 0);
    am_ws_deflate_free(&d);

    /* §7.2.3.4: a block with BFINAL set. */
    init_streams(&d, 0);
    ASSERT_EQ(inflate_all(&d,
                          (const uint8_t[]){ 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07,
                                             0x00, 0x00 },
                          8, out, sizeof(out), &n),
              AM_OK);
    ASSERT_EQ(n, 5);
    ASSERT_EQ(memcmp(out, "Hello", 5), 0);
    am_ws_deflate_free(&d);
}

/* Our compressor's output, tail stripped (§7.2.1), inflates back, with
 * and without context takeover, message after message. Random bytes do
 * not compress alone; sent twice, the second copy refers to the first
 * only with context takeover. */
TEST(round_trip)
{
    static const size_t lens[] = { 20000, 20000, 5000, 0 };
    static uint8_t msg[20000], out[20001];
    am_ws_deflate_t tx, rx;
    uint32_t x = 12345;
    uint8_t *z;
    size_t zlen, n;

    for (size_t i = 0; i < sizeof(msg); i++) {
        x = x * 1103515245 + 12345;
        msg[i] = (uint8_t)(x >> 16);
    }
    for (int no_takeover = 0; no_takeover <= 1; no_takeover++) {
        init_streams(&tx, no_takeover);
        init_streams(&rx, no_takeover);
        for (size_t k = 0; k < am_nitems(lens); k++) {
            ASSERT_EQ(am_ws_deflate_compress(&tx, msg, lens[k], &z, &zlen),
                      AM_OK);
            ASSERT_TRUE(zlen < 4 ||
                        memcmp(z + zlen - 4, "\0\0\xff\xff", 4) != 0);
            if (k == 1) {
                ASSERT_EQ(zlen < 1000, !no_takeover);
            }
            ASSERT_EQ(inflate_all(&rx, z, zlen, out, sizeof(out), &n), AM_OK);
            ASSERT_EQ(n, lens[k]);
            ASSERT_EQ(memcmp(out, msg, lens[k]), 0);
            free(z);
        }
        am_ws_deflate_free(&tx);
        am_ws_deflate_free(&rx);
    }
}

TEST(corrupt_data)
{
    am_ws_deflate_t d;
    uint8_t out[64];
    size_t n;

    init_streams(&d, 0);
    ASSERT_EQ(inflate_all(&d, (const uint8_t[]){ 0xff, 0xff, 0xff, 0xff }, 4,
                          out, sizeof(out), &n),
              AM_ERROR);
    am_ws_deflate_free(&d);
}

/* Compress with plain zlib, raw, sync flush, tail stripped. */
static uint8_t *
zip(const uint8_t *in, size_t len, size_t *out_len)
{
    z_stream z;
    size_t cap = len / 100 + 1024;
    uint8_t *out = malloc(cap);

    ASSERT_TRUE(out != NULL);
    memset(&z, 0, sizeof(z));
    ASSERT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY),
              Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ASSERT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    ASSERT_EQ(z.avail_in, 0);
    *out_len = cap - z.avail_out - 4;
    deflateEnd(&z);
    return out;
}

/* Frame a compressed payload as nframes masked frames, RSV1 on the first. */
static uint8_t *
frames(const uint8_t *z, size_t zlen, size_t nframes, size_t *len)
{
    static const uint8_t key[4] = { 1, 2, 3, 4 };
    uint8_t *out = malloc(zlen + nframes * AM_WS_HEADER_MAX);
    size_t off = 0, per = zlen / nframes + 1, done = 0;

    ASSERT_TRUE(out != NULL);
    for (size_t i = 0; i < nframes; i++) {
        size_t n = am_min(per, zlen - done);
        int last = i + 1 == nframes;

        if (last) {
            n = zlen - done;
        }
        off += am_ws_frame_header_masked(
            out + off, i == 0 ? AM_WS_OP_BINARY : AM_WS_OP_CONT, last, i == 0,
            n, key);
        memcpy(out + off, z + done, n);
        am_ws_frame_mask(out + off, n, key, 0);
        off += n;
        done += n;
    }
    *len = off;
    return out;
}

/* Parse wire bytes with deflate into an assembler; returns its rc. */
static int
receive(uint8_t *in, size_t len, size_t chunk, size_t max, am_ws_message_t *m,
        am_ws_deflate_t *d)
{
    am_ws_parser_t p;
    am_ws_event_t ev;
    size_t off = 0, used, n;
    int rc = AM_OK;

    am_ws_parser_init(&p, AM_WS_PARSE_SERVER | AM_WS_PARSE_DEFLATE);
    am_ws_message_init(m, max, d);
    while (off < len) {
        n = am_min(chunk, len - off);
        rc = am_ws_parser_next(&p, in + off, n, &used, &ev);
        off += used;
        if (rc == AM_ERROR) {
            return AM_ERROR;
        }
        if (rc == AM_AGAIN) {
            continue;
        }
        rc = am_ws_message_feed(m, &ev);
        if (rc != AM_OK) {
            return rc;
        }
    }
    return rc;
}

/* 10 MB of zeros compress to about 10 KB; with a 1 MiB limit the
 * assembler answers 1009 and its buffer never passed the limit + 1. */
TEST(zip_bomb)
{
    size_t big = (size_t)10 * 1000 * 1000, zlen, wlen;
    uint8_t *zeros = calloc(1, big), *z, *wire;
    am_ws_message_t m;
    am_ws_deflate_t d;

    ASSERT_TRUE(zeros != NULL);
    z = zip(zeros, big, &zlen);
    ASSERT_TRUE(zlen < 20000);
    for (size_t nframes = 1; nframes <= 16; nframes *= 4) {
        wire = frames(z, zlen, nframes, &wlen);
        init_streams(&d, 0);
        ASSERT_EQ(receive(wire, wlen, 4096, 1 << 20, &m, &d), AM_ERROR);
        ASSERT_EQ(m.error, 1009);
        ASSERT_TRUE(m.cap <= (1 << 20) + 1);
        am_ws_message_free(&m);
        am_ws_deflate_free(&d);
        free(wire);
    }
    /* With room for it all, the same message comes out whole. */
    wire = frames(z, zlen, 3, &wlen);
    init_streams(&d, 0);
    ASSERT_EQ(receive(wire, wlen, 65536, big, &m, &d), AM_DONE);
    ASSERT_EQ(m.len, big);
    ASSERT_EQ(memcmp(m.data, zeros, big), 0);
    am_ws_message_free(&m);
    am_ws_deflate_free(&d);
    free(wire);
    free(z);
    free(zeros);
}

/* A message of exactly the limit passes; one byte less fails. */
TEST(limit_exact)
{
    static uint8_t text[1000];
    am_ws_message_t m;
    am_ws_deflate_t d;
    uint8_t *z, *wire;
    size_t zlen, wlen;

    memset(text, 'a', sizeof(text));
    z = zip(text, sizeof(text), &zlen);
    wire = frames(z, zlen, 2, &wlen);
    init_streams(&d, 0);
    ASSERT_EQ(receive(wire, wlen, 1, 1000, &m, &d), AM_DONE);
    ASSERT_EQ(m.len, 1000);
    am_ws_message_free(&m);
    am_ws_deflate_free(&d);
    free(wire);

    wire = frames(z, zlen, 2, &wlen);
    init_streams(&d, 0);
    ASSERT_EQ(receive(wire, wlen, 7, 999, &m, &d), AM_ERROR);
    ASSERT_EQ(m.error, 1009);
    am_ws_message_free(&m);
    am_ws_deflate_free(&d);
    free(wire);
    free(z);
}

/* Compressed text is checked after inflating: 1007. */
TEST(compressed_invalid_text)
{
    am_ws_message_t m;
    am_ws_deflate_t d;
    uint8_t *z, *wire;
    size_t zlen, wlen;

    z = zip((const uint8_t *)"ok \xed\xa0\x80", 6, &zlen);
    wire = frames(z, zlen, 1, &wlen);
    wire[0] = (wire[0] & 0xf0) | AM_WS_OP_TEXT;
    init_streams(&d, 0);
    ASSERT_EQ(receive(wire, wlen, 3, 100, &m, &d), AM_ERROR);
    ASSERT_EQ(m.error, 1007);
    am_ws_message_free(&m);
    am_ws_deflate_free(&d);
    free(wire);
    free(z);
}
