/* common/access.h: access-log lines from a format with $variables.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Pure formatting: the worker fills an am_access_entry_t when a request
 * ends, formats it and hands the line to am_log_access(). The config loader
 * checks log.access_format with am_access_format_check() so that a typo is
 * a config error, not a silent "-" in every line.
 *
 * fmt is "combined", "common" or a string with variables, written $name or
 * ${name} (to glue a variable to following letters):
 *   remote_addr time_local time_iso8601 request method uri protocol status
 *   body_bytes_sent http_referer http_user_agent request_time pid
 * "combined" is
 *   $remote_addr - - [$time_local] "$request" $status $body_bytes_sent
 *   "$http_referer" "$http_user_agent" $request_time
 * and "common" stops after $body_bytes_sent. A '$' not followed by a name is
 * written as is. In string values '"', '\\', control bytes and bytes above
 * 0x7e are written as \xHH, as nginx does.
 */
#ifndef AM_COMMON_ACCESS_H
#define AM_COMMON_ACCESS_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

typedef struct am_access_entry_s {
    const char *remote_addr; /* "127.0.0.1", "::1", "unix:" ... */
    time_t time;             /* wall clock when the request started */
    const char *method;      /* "GET" */
    const char *target;      /* the raw request target, with the query */
    const char *protocol;    /* "HTTP/1.1", "HTTP/2" */
    int status;
    size_t body_bytes_sent;
    const char *referer;    /* NULL: "-" */
    const char *user_agent; /* NULL: "-" */
    double request_time;    /* seconds from first byte to last byte sent */
    pid_t pid;
} am_access_entry_t;

/* AM_OK, or AM_ERROR with err holding what is wrong, e.g.
 * unknown variable "$stauts" in the access log format; did you mean
 * "$status"? */
int am_access_format_check(const char *fmt, char *err, size_t size);

/* One line ending in '\n' into buf, NUL-terminated when room is left.
 * Returns the line's length with the '\n' (at most size - 1 when size > 1;
 * a line that does not fit is cut and still ends in '\n'). NULL strings in
 * e print as "-". Unknown variables print as "-". */
size_t am_access_format(const char *fmt, const am_access_entry_t *e, char *buf,
                        size_t size);

#endif
