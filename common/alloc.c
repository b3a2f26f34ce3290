/* common/alloc.c: allocation wrappers that abort on exhaustion, and the
 * assertion failure: both log the reason (common/log.c), then abort.
 *
 * Declared in common/core.h, which every file includes; they live apart from
 * common/core.c so that the logger can use core.h without an include cycle.
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/core.h"
#include "common/log.h"

void
am_assert_fail(const char *cond, const char *file, int line)
{
    am_log(AM_LOG_ALERT, 0, "assertion \"%s\" failed at %s:%d", cond, file,
           line);
    abort();
}

static void
core_oom(size_t size)
{
    /* Nothing sane to do: the master respawns the worker. */
    am_log(AM_LOG_EMERG, ENOMEM, "out of memory allocating %zu bytes", size);
    abort();
}

void *
am_alloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL) {
        core_oom(size);
    }
    return p;
}

void *
am_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL) {
        core_oom(n * size);
    }
    return p;
}

void *
am_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);

    if (q == NULL) {
        core_oom(size);
    }
    return q;
}

char *
am_strdup(const char *s)
{
    return am_strndup(s, strlen(s));
}

char *
am_strndup(const char *s, size_t n)
{
    char *p = am_alloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
