/* tests/unit/worker/test_utf8.c: the incremental UTF-8 validator
 * (worker/utf8.c): valid text of every length, the invalid forms of
 * Unicode Table 3-7 (overlongs, surrogates, above U+10FFFF, stray and
 * missing continuation bytes), and Autobahn-style fragmented input: every
 * case split at every point, and fed byte by byte.
 */

#include <stdint.h>
#include <string.h>

#include "common/core.h"
#include "tests/unit/unit.h"
#include "worker/utf8.h"

typedef struct {
    const char *s;
    size_t len;
    int valid;
} utf8_case_t;

#define CASE(lit, v)                                                           \
    {                                                                          \
        lit, sizeof(lit) - 1, v                                                \
    }

static const utf8_case_t cases[] = {
    CASE("", 1),
    CASE(
        "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
        1),
    CASE("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1), /* Autobahn 6.2 */
    CASE("\x7f", 1),
    CASE("\xc2\x80", 1),         /* U+0080 */
    CASE("\xdf\xbf", 1),         /* U+07FF */
    CASE("\xe0\xa0\x80", 1),     /* U+0800 */
    CASE("\xed\x9f\xbf", 1),     /* U+D7FF */
    CASE("\xee\x80\x80", 1),     /* U+E000 */
    CASE("\xef\xbf\xbd", 1),     /* U+FFFD */
    CASE("\xef\xbf\xbf", 1),     /* U+FFFF: a noncharacter, valid */
    CASE("\xf0\x90\x80\x80", 1), /* U+10000 */
    CASE("\xf4\x8f\xbf\xbf", 1), /* U+10FFFF */
    CASE("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
         "edited",
         0),         /* Autobahn 6.3: a surrogate */
    CASE("\x80", 0), /* a lone continuation byte */
    CASE("\xbf", 0),
    CASE("\xc0\xaf", 0), /* overlong '/' */
    CASE("\xc1\xbf", 0),
    CASE("\xe0\x80\xaf", 0), /* overlong, 3 bytes */
    CASE("\xe0\x9f\xbf", 0),
    CASE("\xf0\x80\x80\xaf", 0), /* overlong, 4 bytes */
    CASE("\xf0\x8f\xbf\xbf", 0),
    CASE("\xf8\x88\x80\x80\x80", 0),     /* 5-byte form */
    CASE("\xfc\x84\x80\x80\x80\x80", 0), /* 6-byte form */
    CASE("\xed\xa0\x80", 0),             /* U+D800 */
    CASE("\xed\xbf\xbf", 0),             /* U+DFFF */
    CASE("\xed\xa0\x80\xed\xb0\x80", 0), /* a surrogate pair */
    CASE("\xf4\x90\x80\x80", 0),         /* U+110000 */
    CASE("\xf5\x80\x80\x80", 0),
    CASE("\xfe", 0),
    CASE("\xff", 0),
    CASE("\xc2", 0), /* truncated */
    CASE("\xe1\x80", 0),
    CASE("\xf1\x80\x80", 0),
    CASE("\xc2\x41", 0), /* continuation missing */
    CASE("\xe1\x41\x80", 0),
    CASE("abcdefghijklmnop\xc3\x28qrstuvwxyz", 0),
    CASE("abcdefghijklmnopqrstuvwx\xff", 0),
    CASE("abcdefghijklmnopqrstuvw\xe2\x82\xac", 1),
};

TEST(whole)
{
    for (size_t i = 0; i < am_nitems(cases); i++) {
        int rc = am_utf8_check((const uint8_t *)cases[i].s, cases[i].len);

        if ((rc == AM_OK) != cases[i].valid) {
            fprintf(stderr, "  case %zu\n", i);
        }
        ASSERT_EQ(rc == AM_OK, cases[i].valid);
    }
}

/* Fed in two pieces at every split point, the verdict is the same; for
 * invalid input it comes no later than the piece with the bad byte. */
TEST(every_split)
{
    for (size_t i = 0; i < am_nitems(cases); i++) {
        const uint8_t *s = (const uint8_t *)cases[i].s;
        size_t len = cases[i].len;

        for (size_t cut = 0; cut <= len; cut++) {
            am_utf8_t u;
            int ok;

            am_utf8_init(&u);
            ok = am_utf8_validate(&u, s, cut) == AM_OK &&
                 am_utf8_validate(&u, s + cut, len - cut) == AM_OK &&
                 am_utf8_finish(&u) == AM_OK;
            if (ok != cases[i].valid) {
                fprintf(stderr, "  case %zu cut %zu\n", i, cut);
            }
            ASSERT_EQ(ok, cases[i].valid);
        }
    }
}

TEST(byte_by_byte)
{
    for (size_t i = 0; i < am_nitems(cases); i++) {
        const uint8_t *s = (const uint8_t *)cases[i].s;
        am_utf8_t u;
        int ok = 1;

        am_utf8_init(&u);
        for (size_t j = 0; j < cases[i].len && ok; j++) {
            ok = am_utf8_validate(&u, s + j, 1) == AM_OK;
        }
        ok = ok && am_utf8_finish(&u) == AM_OK;
        ASSERT_EQ(ok, cases[i].valid);
    }
}

/* A rejected state stays rejected. */
TEST(reject_sticks)
{
    am_utf8_t u;

    am_utf8_init(&u);
    ASSERT_EQ(am_utf8_validate(&u, (const uint8_t *)"\xff", 1), AM_ERROR);
    ASSERT_EQ(am_utf8_validate(&u, (const uint8_t *)"abc", 3), AM_ERROR);
    ASSERT_EQ(am_utf8_finish(&u), AM_ERROR);
}

/* An incomplete character is valid so far but not at the message end. */
TEST(incomplete_at_end)
{
    am_utf8_t u;

    am_utf8_init(&u);
    ASSERT_EQ(am_utf8_validate(&u, (const uint8_t *)"ab\xf0\x9f", 4), AM_OK);
    ASSERT_EQ(am_utf8_finish(&u), AM_ERROR);
    ASSERT_EQ(am_utf8_validate(&u, (const uint8_t *)"\x98\x80", 2), AM_OK);
    ASSERT_EQ(am_utf8_finish(&u), AM_OK);
}

/* Every code point, encoded by hand, against the rule that U+0000 to
 * U+10FFFF except surrogates is valid. */
TEST(all_code_points)
{
    uint8_t b[4];
    size_t n;

    for (uint32_t c = 0; c <= 0x10ffff; c++) {
        if (c < 0x80) {
            b[0] = (uint8_t)c;
            n = 1;
        } else if (c < 0x800) {
            b[0] = (uint8_t)(0xc0 | c >> 6);
            b[1] = (uint8_t)(0x80 | (c & 0x3f));
            n = 2;
        } else if (c < 0x10000) {
            b[0] = (uint8_t)(0xe0 | c >> 12);
            b[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
            b[2] = (uint8_t)(0x80 | (c & 0x3f));
            n = 3;
        } else {
            b[0] = (uint8_t)(0xf0 | c >> 18);
            b[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
            b[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
            b[3] = (uint8_t)(0x80 | (c & 0x3f));
            n = 4;
        }
        ASSERT_EQ(am_utf8_check(b, n) == AM_OK, c < 0xd800 || c > 0xdfff);
    }
}

/* All two-byte inputs against a simple reference: only the valid 2-byte
 * sequences and pairs of ASCII pass. */
TEST(all_byte_pairs)
{
    uint8_t b[2];

    for (int x = 0; x < 256; x++) {
        for (int y = 0; y < 256; y++) {
            int ascii = x < 0x80 && y < 0x80;
            int two = x >= 0xc2 && x <= 0xdf && (y & 0xc0) == 0x80;

            b[0] = (uint8_t)x;
            b[1] = (uint8_t)y;
            ASSERT_EQ(am_utf8_check(b, 2) == AM_OK, ascii || two);
        }
    }
}

/* fuzz_ws: an empty message has no buffer yet; NULL with length 0 is
 * valid input (UBSan saw arithmetic on NULL). */
TEST(empty_null)
{
    am_utf8_t u;

    ASSERT_EQ(am_utf8_check(NULL, 0), AM_OK);
    am_utf8_init(&u);
    ASSERT_EQ(am_utf8_validate(&u, NULL, 0), AM_OK);
}
