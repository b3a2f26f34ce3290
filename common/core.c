/* common/core.c: the monotonic clock. The allocation wrappers and the
 * assertion failure declared next to it in common/core.h log before they
 * abort, so they live in common/alloc.c, over common/log.c.
 */

#include <time.h>

#include "common/core.h"

am_msec_t
am_now_msec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (am_msec_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
