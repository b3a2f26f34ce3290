/* tests/unit/common/test_editdist.c: the edit distance behind "did you
 * mean" (common/editdist.c).
 */

#include <string.h>

#include "common/editdist.h"
#include "tests/unit/unit.h"

TEST(distance)
{
    ASSERT_EQ(am_editdist_compute("workers", "workers"), 0);
    ASSERT_EQ(am_editdist_compute("workrs", "workers"), 1);
    ASSERT_EQ(am_editdist_compute("wokrers", "workers"), 1); /* transposition */
    ASSERT_EQ(am_editdist_compute("WORKERS", "workers"), 0);
    ASSERT_EQ(am_editdist_compute("", "abc"), 3);
    ASSERT_EQ(am_editdist_compute("kitten", "sitting"), 3);
    ASSERT_TRUE(am_editdist_is_close("workrs", "workers", 1));
    ASSERT_TRUE(!am_editdist_is_close("env", "app", 3));
    ASSERT_TRUE(!am_editdist_is_close("color", "chdir", 4));
}

TEST(distance_is_symmetric_and_bounded)
{
    char a[200], b[200];

    ASSERT_EQ(am_editdist_compute("abc", ""), 3);
    ASSERT_EQ(am_editdist_compute("ab", "ba"), 1);
    ASSERT_EQ(am_editdist_compute("ca", "abc"),
              am_editdist_compute("abc", "ca"));
    /* Longer words are compared on their first 64 bytes. */
    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[150] = 'y';
    ASSERT_EQ(am_editdist_compute(a, b), 0);
    b[10] = 'y';
    ASSERT_EQ(am_editdist_compute(a, b), 1);
}

TEST(is_close_thresholds)
{
    /* at most 3 edits, and at most a third of the longer word */
    ASSERT_TRUE(am_editdist_is_close("timeout", "timeouts", 1));
    ASSERT_TRUE(am_editdist_is_close("abcdefghi", "abcxyzghi", 3));
    ASSERT_TRUE(!am_editdist_is_close("abcdefghijkl", "abcdwxyzijkl", 4));
    ASSERT_TRUE(!am_editdist_is_close("ab", "xy", 2));
}
