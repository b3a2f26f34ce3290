/* worker/connlog.c: the connection/stream prefix of error-log lines
 * (worker/connlog.h), written in one place.
 */

#include <stdarg.h>
#include <stdio.h>

#include "common/log.h"
#include "worker/connlog.h"

const char *
am_connlog_prefix(char *buf, size_t size, uint64_t conn, uint32_t stream)
{
    if (stream != 0) {
        snprintf(buf, size, "*%llu s%u", (unsigned long long)conn,
                 (unsigned)stream);
    } else {
        snprintf(buf, size, "*%llu", (unsigned long long)conn);
    }
    return buf;
}

void
am_connlog(int level, int err, uint64_t conn, uint32_t stream, const char *fmt,
           ...)
{
    char prefix[48], msg[2048];
    va_list ap;

    if (!am_log_enabled(level)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    am_log(level, err, "%s %s",
           am_connlog_prefix(prefix, sizeof(prefix), conn, stream), msg);
}
