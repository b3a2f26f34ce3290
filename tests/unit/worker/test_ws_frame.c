/* tests/unit/worker/test_ws_frame.c: the RFC 6455 frame parser, encoder
 * and close payloads (worker/ws_frame.c) with the message assembler
 * (worker/ws_message.c): the §5.7 examples fed in every segmentation, each
 * MUST of §5 that fails the connection, control frames between fragments,
 * text validated across frames, the size limit, and close codes (§7.4).
 */

#include <stdint.h>
#include <string.h>

#include "common/core.h"
#include "tests/unit/unit.h"
#include "worker/ws_frame.h"
#include "worker/ws_message.h"

/* What one run of the parser and the assembler saw. */
typedef struct {
    char log[1 << 18]; /* "T:Hello|P:Hello|" per message and control */
    size_t log_len;
    int rc;         /* AM_OK, or AM_ERROR at the first failure */
    uint16_t error; /* its close code */
} run_t;

static void
run_log(run_t *r, char tag, const uint8_t *p, size_t n)
{
    ASSERT_TRUE(r->log_len + n + 3 < sizeof(r->log));
    r->log[r->log_len++] = tag;
    r->log[r->log_len++] = ':';
    if (n > 0) {
        memcpy(r->log + r->log_len, p, n);
    }
    r->log_len += n;
    r->log[r->log_len++] = '|';
    r->log[r->log_len] = '\0';
}

/* Parse in[0..len) handed over chunk bytes at a time (a copy: the parser
 * unmasks in place) with parser options and a message limit. */
static void
run(run_t *r, unsigned options, const uint8_t *in, size_t len, size_t chunk,
    size_t max)
{
    static uint8_t buf[1 << 17];
    am_ws_parser_t p;
    am_ws_message_t m;
    am_ws_event_t ev;
    size_t off = 0, used, n;
    int rc;

    ASSERT_TRUE(len <= sizeof(buf));
    memcpy(buf, in, len);
    memset(r, 0, sizeof(*r));
    am_ws_parser_init(&p, options);
    am_ws_message_init(&m, max, NULL);
    while (off < len) {
        n = am_min(chunk, len - off);
        while (n > 0) {
            rc = am_ws_parser_next(&p, buf + off, n, &used, &ev);
            off += used;
            n -= used;
            if (rc == AM_ERROR) {
                r->rc = AM_ERROR;
                r->error = p.error;
                goto done;
            }
            if (rc == AM_AGAIN) {
                ASSERT_EQ(n, 0);
                break;
            }
            if (ev.type == AM_WS_EVENT_CONTROL) {
                run_log(r,
                        ev.opcode == AM_WS_OP_PING   ? 'P'
                        : ev.opcode == AM_WS_OP_PONG ? 'O'
                                                     : 'C',
                        ev.data, ev.len);
                continue;
            }
            rc = am_ws_message_feed(&m, &ev);
            if (rc == AM_ERROR) {
                r->rc = AM_ERROR;
                r->error = m.error;
                goto done;
            }
            if (rc == AM_DONE) {
                run_log(r, m.opcode == AM_WS_OP_TEXT ? 'T' : 'B', m.data,
                        m.len);
                am_ws_message_reset(&m);
            }
        }
    }
done:
    am_ws_message_free(&m);
}

#define SERVER     AM_WS_PARSE_SERVER
#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ })

/* Every chunk size gives the same result. */
static void
expect(unsigned options, const uint8_t *in, size_t len, const char *log,
       uint16_t error)
{
    static run_t r;

    for (size_t chunk = 1; chunk <= len; chunk++) {
        run(&r, options, in, len, chunk, 1 << 20);
        if (strcmp(r.log, log) != 0 || r.error != error) {
            fprintf(stderr, "  chunk %zu\n", chunk);
        }
        ASSERT_STR_EQ(r.log, log);
        ASSERT_EQ(r.error, error);
        ASSERT_EQ(r.rc, error ? AM_ERROR : AM_OK);
    }
}

#define EXPECT(options, log, error, ...)                                       \
    expect(options, BYTES(__VA_ARGS__), sizeof(BYTES(__VA_ARGS__)), log, error)

/* RFC 6455 §5.7. */
TEST(rfc_examples)
{
    /* A single-frame unmasked text message (as a client reads it). */
    EXPECT(0, "T:Hello|", 0, 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
    /* A single-frame masked text message. */
    EXPECT(SERVER, "T:Hello|", 0, 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
           0x9f, 0x4d, 0x51, 0x58);
    /* A fragmented unmasked text message. */
    EXPECT(0, "T:Hello|", 0, 0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c,
           0x6f);
    /* Unmasked ping, masked pong. */
    EXPECT(0, "P:Hello|", 0, 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
    EXPECT(SERVER, "O:Hello|", 0, 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
           0x9f, 0x4d, 0x51, 0x58);
}

/* §5.7: 256 bytes and 64 KiB of binary data in one unmasked frame. */
TEST(rfc_example_lengths)
{
    static uint8_t in[10 + 65536];
    static run_t r;

    memset(in, 'x', sizeof(in));
    memcpy(in, BYTES(0x82, 0x7e, 0x01, 0x00), 4);
    run(&r, 0, in, 4 + 256, 7, 1 << 20);
    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_EQ(r.log_len, 256 + 3);
    memcpy(in, BYTES(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0), 10);
    run(&r, 0, in, sizeof(in), 4096, 1 << 20);
    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_EQ(r.log_len, 65536 + 3);
}

/* §5.1: a server fails an unmasked frame; a client a masked one. */
TEST(masking_required)
{
    EXPECT(SERVER, "", 1002, 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
    EXPECT(0, "", 1002, 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d,
           0x51, 0x58);
}

/* §5.2: reserved bits, reserved opcodes. */
TEST(reserved_bits_and_opcodes)
{
    EXPECT(SERVER, "", 1002, 0xc1, 0x80, 1, 2, 3, 4); /* RSV1 */
    EXPECT(SERVER, "", 1002, 0xa1, 0x80, 1, 2, 3, 4); /* RSV2 */
    EXPECT(SERVER, "", 1002, 0x91, 0x80, 1, 2, 3, 4); /* RSV3 */
    EXPECT(SERVER | AM_WS_PARSE_DEFLATE, "", 1002, 0xa1, 0x80, 1, 2, 3, 4);
    for (int op = 3; op <= 0xf; op++) {
        uint8_t in[6] = { (uint8_t)(0x80 | op), 0x80, 1, 2, 3, 4 };

        if (op >= 8 && op <= 0xa) {
            continue;
        }
        expect(SERVER, in, sizeof(in), "", 1002);
    }
}

/* RFC 7692 §6: RSV1 on a control frame or a continuation fails too. */
TEST(rsv1_with_deflate)
{
    EXPECT(SERVER | AM_WS_PARSE_DEFLATE, "", 1002, 0xc9, 0x80, 1, 2, 3, 4);
    EXPECT(SERVER | AM_WS_PARSE_DEFLATE, "", 1002, 0x41, 0x80, 1, 2, 3, 4, 0xc0,
           0x80, 1, 2, 3, 4);
}

/* §5.5: control frames: at most 125 bytes, never fragmented. */
TEST(control_frames)
{
    static uint8_t in[2 + 4 + 126];
    static run_t r;

    EXPECT(SERVER, "", 1002, 0x09, 0x80, 1, 2, 3, 4); /* ping without FIN */
    EXPECT(SERVER, "", 1002, 0x88, 0xfe, 0x00, 0x7e); /* close of 126 */
    EXPECT(SERVER, "", 1002, 0x89, 0xfe, 0x00, 0x7d); /* and non-minimal */
    memset(in, 0, sizeof(in));
    in[0] = 0x89;
    in[1] = 0x80 | 125;
    run(&r, SERVER, in, 2 + 4 + 125, 3, 1 << 20);
    ASSERT_EQ(r.rc, AM_OK);
    ASSERT_EQ(r.log_len, 125 + 3);
    EXPECT(SERVER, "P:|", 0, 0x89, 0x80, 1, 2, 3, 4); /* empty ping */
}

/* §5.4: control frames between fragments; continuation rules. */
TEST(fragmentation)
{
    /* "Hel", ping "x", "lo": the ping comes out first. */
    EXPECT(0, "P:x|T:Hello|", 0, 0x01, 0x03, 'H', 'e', 'l', 0x89, 0x01, 'x',
           0x80, 0x02, 'l', 'o');
    /* Continuation with nothing open. */
    EXPECT(0, "", 1002, 0x80, 0x01, 'x');
    /* A new message while one is open. */
    EXPECT(0, "", 1002, 0x01, 0x01, 'a', 0x01, 0x01, 'b');
    EXPECT(0, "", 1002, 0x02, 0x01, 'a', 0x81, 0x01, 'b');
    /* A finished message lets the next start; empty frames count. */
    EXPECT(0, "T:ab|B:|T:c|", 0, 0x01, 0x00, 0x00, 0x01, 'a', 0x80, 0x01, 'b',
           0x82, 0x00, 0x01, 0x00, 0x00, 0x00, 0x80, 0x01, 'c');
}

/* §5.2: the 64-bit length's top bit, and our choice on non-minimal
 * lengths (see worker/ws_frame.c). */
TEST(lengths)
{
    EXPECT(0, "", 1002, 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1);
    EXPECT(0, "", 1002, 0x82, 0x7e, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e');
    EXPECT(0, "", 1002, 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0x00, 0xc8);
    EXPECT(0, "", 1002, 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff);
}

/* §8.1: text is UTF-8, checked across frames; a split character is fine. */
TEST(text_utf8)
{
    EXPECT(0, "T:\xce\xba\xe1\xbd\xb9|", 0, 0x01, 0x03, 0xce, 0xba, 0xe1, 0x80,
           0x02, 0xbd, 0xb9);
    EXPECT(0, "", 1007, 0x01, 0x02, 0xce, 0xba, 0x80, 0x02, 0xed, 0xa0);
    EXPECT(0, "", 1007, 0x81, 0x02, 0xce, 0xce);
    EXPECT(0, "", 1007, 0x81, 0x01, 0xce); /* ends mid-character */
    /* Binary is not checked. */
    EXPECT(0, "B:\xff|", 0, 0x82, 0x01, 0xff);
}

/* §10.4, §7.4.1: a message over the limit gets 1009, also in pieces. */
TEST(message_limit)
{
    static run_t r;

    run(&r, 0, BYTES(0x81, 0x04, 'a', 'b', 'c', 'd'), 6, 6, 4);
    ASSERT_EQ(r.rc, AM_OK);
    run(&r, 0, BYTES(0x81, 0x05, 'a', 'b', 'c', 'd', 'e'), 7, 7, 4);
    ASSERT_EQ(r.error, 1009);
    run(&r, 0, BYTES(0x01, 0x03, 'a', 'b', 'c', 0x80, 0x02, 'd', 'e'), 9, 1, 4);
    ASSERT_EQ(r.error, 1009);
}

/* The encoder's header lengths and a round trip through the parser. */
TEST(encoder_round_trip)
{
    static const uint64_t lens[] = { 0, 1, 125, 126, 65535, 65536, 100000 };
    static uint8_t in[AM_WS_HEADER_MAX + 100000];
    static const uint8_t key[4] = { 0x11, 0x22, 0x33, 0x44 };
    uint8_t h[AM_WS_HEADER_MAX];
    static run_t r;
    size_t n;

    ASSERT_EQ(am_ws_frame_header(h, AM_WS_OP_TEXT, 1, 0, 125), 2);
    ASSERT_EQ(h[0], 0x81);
    ASSERT_EQ(h[1], 125);
    ASSERT_EQ(am_ws_frame_header(h, AM_WS_OP_BINARY, 0, 1, 126), 4);
    ASSERT_EQ(h[0], 0x42);
    ASSERT_EQ(h[1], 126);
    ASSERT_EQ(am_ws_frame_header(h, AM_WS_OP_BINARY, 1, 0, 65536), 10);
    ASSERT_EQ(h[1], 127);
    ASSERT_EQ(h[7], 1);

    for (size_t i = 0; i < am_nitems(lens); i++) {
        n = am_ws_frame_header_masked(in, AM_WS_OP_BINARY, 1, 0, lens[i], key);
        memset(in + n, 'z', lens[i]);
        am_ws_frame_mask(in + n, lens[i], key, 0);
        run(&r, SERVER, in, n + lens[i], 1000, 1 << 20);
        ASSERT_EQ(r.rc, AM_OK);
        ASSERT_EQ(r.log[0], 'B');
        for (size_t j = 2; j < am_min(r.log_len - 1, 2 + lens[i]); j++) {
            ASSERT_EQ(r.log[j], 'z');
        }
    }
}

/* Masking from any offset equals the byte-by-byte definition (§5.3). */
TEST(mask_offsets)
{
    static const uint8_t key[4] = { 0xde, 0xad, 0xbe, 0xef };
    uint8_t a[100], b[100];

    for (uint64_t off = 0; off < 8; off++) {
        for (size_t len = 0; len <= sizeof(a); len += 7) {
            for (size_t i = 0; i < len; i++) {
                a[i] = b[i] = (uint8_t)(i * 31);
            }
            am_ws_frame_mask(a, len, key, off);
            for (size_t i = 0; i < len; i++) {
                b[i] ^= key[(off + i) % 4];
            }
            ASSERT_EQ(memcmp(a, b, len), 0);
        }
    }
}

/* §7.4: which codes may be on the wire. */
TEST(close_codes)
{
    static const unsigned valid[] = { 1000, 1001, 1002, 1003, 1007, 1008,
                                      1009, 1010, 1011, 1012, 1013, 1014,
                                      3000, 3999, 4000, 4999 };
    static const unsigned invalid[] = { 0,    999,  1004, 1005, 1006, 1015,
                                        1016, 1100, 2000, 2999, 5000, 65535 };

    for (size_t i = 0; i < am_nitems(valid); i++) {
        ASSERT_EQ(am_ws_close_code_is_valid(valid[i]), 1);
    }
    for (size_t i = 0; i < am_nitems(invalid); i++) {
        ASSERT_EQ(am_ws_close_code_is_valid(invalid[i]), 0);
    }
}

TEST(close_parse)
{
    static const uint8_t one[] = { 0x03 };
    static const uint8_t ok[] = { 0x03, 0xe8, 'o', 'k' };
    static const uint8_t no_status[] = { 0x03, 0xed };
    static const uint8_t bad_reason[] = { 0x03, 0xe8, 0xce };
    static const uint8_t app[] = { 0x0f, 0xa0, 0xc3, 0xa9 };
    const uint8_t *reason;
    size_t reason_len;
    uint16_t code;

    ASSERT_EQ(am_ws_close_parse(NULL, 0, &code, &reason, &reason_len), AM_OK);
    ASSERT_EQ(code, 1005);
    ASSERT_EQ(am_ws_close_parse(one, 1, &code, &reason, &reason_len), AM_ERROR);
    ASSERT_EQ(code, 1002);
    ASSERT_EQ(am_ws_close_parse(ok, 4, &code, &reason, &reason_len), AM_OK);
    ASSERT_EQ(code, 1000);
    ASSERT_EQ(reason_len, 2);
    ASSERT_EQ(memcmp(reason, "ok", 2), 0);
    ASSERT_EQ(am_ws_close_parse(no_status, 2, &code, &reason, &reason_len),
              AM_ERROR);
    ASSERT_EQ(code, 1002);
    ASSERT_EQ(am_ws_close_parse(bad_reason, 3, &code, &reason, &reason_len),
              AM_ERROR);
    ASSERT_EQ(code, 1007);
    ASSERT_EQ(am_ws_close_parse(app, 4, &code, &reason, &reason_len), AM_OK);
    ASSERT_EQ(code, 4000);
    ASSERT_EQ(reason_len, 2);
}

/* A long reason is cut to 123 bytes on a character boundary. */
TEST(close_build)
{
    uint8_t out[AM_WS_CONTROL_MAX];
    char reason[200];
    size_t n;

    ASSERT_EQ(am_ws_close_build(out, 1005, "x", 1), 0);
    ASSERT_EQ(am_ws_close_build(out, 1000, "bye", 3), 5);
    ASSERT_EQ(out[0], 0x03);
    ASSERT_EQ(out[1], 0xe8);
    reason[0] = 'a';
    for (size_t i = 1; i + 1 < sizeof(reason); i += 2) {
        reason[i] = (char)0xc3; /* é */
        reason[i + 1] = (char)0xa9;
    }
    n = am_ws_close_build(out, 1011, reason, sizeof(reason) - 1);
    ASSERT_TRUE(n <= AM_WS_CONTROL_MAX);
    ASSERT_EQ(n, 2 + 123);
    ASSERT_EQ(am_utf8_check(out + 2, n - 2), AM_OK);
    n = am_ws_close_build(out, 1011, reason + 1, sizeof(reason) - 2);
    ASSERT_EQ(n, 2 + 122);
    ASSERT_EQ(am_utf8_check(out + 2, n - 2), AM_OK);
}

/* After a failure every call fails and consumes nothing. */
TEST(failure_sticks)
{
    am_ws_parser_t p;
    am_ws_event_t ev;
    uint8_t in[] = { 0x81, 0x05, 'h', 'e', 'l', 'l', 'o' };
    size_t used;

    am_ws_parser_init(&p, SERVER);
    ASSERT_EQ(am_ws_parser_next(&p, in, sizeof(in), &used, &ev), AM_ERROR);
    ASSERT_EQ(p.error, 1002);
    ASSERT_EQ(am_ws_parser_next(&p, in, sizeof(in), &used, &ev), AM_ERROR);
    ASSERT_EQ(used, 0);
}

/* fuzz_ws: an empty text message before any payload byte had arrived
 * did pointer arithmetic on the still-NULL buffer (UBSan). */
TEST(empty_text_first)
{
    EXPECT(0, "T:|", 0, 0x81, 0x00);
    EXPECT(0, "T:|T:a|", 0, 0x01, 0x00, 0x80, 0x00, 0x81, 0x01, 'a');
}
