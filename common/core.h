/* common/core.h: return codes, assertions and small helpers shared by all.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_COMMON_CORE_H
#define AM_COMMON_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define AM_OK       0
#define AM_ERROR    (-1)
#define AM_AGAIN    (-2)
#define AM_DONE     (-3)
#define AM_DECLINED (-4)

/* Exit codes the master acts on (asgimaster(8), EXIT STATUS). */
#define AM_EXIT_OK     0
#define AM_EXIT_CONFIG 1 /* bad config, or the app failed to boot */
#define AM_EXIT_USAGE  2 /* bad command line */
#define AM_EXIT_BOOT   3 /* worker: app import or lifespan startup failed */

#define AM_VERSION "0.1.0"

#define am_nitems(a) (sizeof(a) / sizeof((a)[0]))
#define am_min(a, b) ((a) < (b) ? (a) : (b))
#define am_max(a, b) ((a) > (b) ? (a) : (b))

/* Our bugs only: what a client or the app causes never asserts. */
#define AM_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            am_assert_fail(#cond, __FILE__, __LINE__);                         \
        }                                                                      \
    } while (0)

/* common/alloc.c */
void am_assert_fail(const char *cond, const char *file, int line)
    __attribute__((noreturn));

/* Fixed-size allocations: abort on OOM. Peer-chosen sizes meet a limit
 * first. */
void *am_alloc(size_t size);
void *am_calloc(size_t n, size_t size);
void *am_realloc(void *p, size_t size);
char *am_strdup(const char *s);
char *am_strndup(const char *s, size_t n);

typedef int64_t am_msec_t;

/* Monotonic milliseconds, for deadlines. */
am_msec_t am_now_msec(void);

#endif
