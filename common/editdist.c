/* common/editdist.c: the edit distance behind "did you mean".
 *
 * Three rows of the optimal string alignment matrix on the stack: no
 * allocation, bounded by 64 x 64 steps whatever the input.
 */

#include <ctype.h>
#include <string.h>

#include "common/core.h"
#include "common/editdist.h"

size_t
am_editdist_compute(const char *a, const char *b)
{
    /* Three rows of the optimal string alignment matrix; words are short
     * (keys, variable names), longer input is compared on its start. */
    size_t rows[3][65], *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    size_t la = am_min(strlen(a), (size_t)64), lb = am_min(strlen(b), 64);
    size_t i, j, cost, v, *t;

    for (j = 0; j <= lb; j++) {
        prev[j] = j;
    }
    for (i = 1; i <= la; i++) {
        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            cost = tolower((unsigned char)a[i - 1]) !=
                   tolower((unsigned char)b[j - 1]);
            v = am_min(prev[j] + 1, cur[j - 1] + 1);
            v = am_min(v, prev[j - 1] + cost);
            if (i > 1 && j > 1 &&
                tolower((unsigned char)a[i - 1]) ==
                    tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) ==
                    tolower((unsigned char)b[j - 1])) {
                v = am_min(v, prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

int
am_editdist_is_close(const char *typed, const char *known, size_t d)
{
    size_t len = am_max(strlen(typed), strlen(known));

    return d <= 3 && d * 3 <= len;
}
