/* worker/connlog.h: error-log lines about one connection or stream, with
 * the prefix every such line carries: "*<connection>" and, for an HTTP/2
 * stream, " s<stream>" ("*88 s5 client timed out sending the body").
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_WORKER_CONNLOG_H
#define AM_WORKER_CONNLOG_H

#include <stddef.h>
#include <stdint.h>

/* am_log() with the prefix of connection conn and stream (0: none). */
void am_connlog(int level, int err, uint64_t conn, uint32_t stream,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The prefix alone, NUL-terminated in buf (32 bytes are enough), for
 * messages that are not formatted by am_log() (Python tracebacks). */
const char *am_connlog_prefix(char *buf, size_t size, uint64_t conn,
                              uint32_t stream);

#endif
