/* common/log.h: the error log and the access log.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * One event, one line: UTC time, [level], pid#slot (0 is the master),
 * message, then " (errno: text)" when err is not 0. Levels are nginx's.
 */
#ifndef AM_COMMON_LOG_H
#define AM_COMMON_LOG_H

#include <stdarg.h>

enum {
    AM_LOG_EMERG = 0, /* cannot start */
    AM_LOG_ALERT,     /* our bug */
    AM_LOG_CRIT,      /* a worker died */
    AM_LOG_ERROR,     /* a request failed on our or the app's side */
    AM_LOG_WARN,      /* degraded */
    AM_LOG_NOTICE,    /* start, stop, generation ready */
    AM_LOG_INFO,      /* the client's fault: 400s, resets, timeouts */
    AM_LOG_DEBUG
};

extern int am_log_level; /* lines above this level are dropped */
extern int am_log_slot;  /* 0 in the master, the worker slot in a worker */

/* "emerg".."debug" -> level, or -1. */
int am_log_level_parse(const char *name);
const char *am_log_level_name(int level);

/* Open (or reopen, on SIGUSR1) the error log and the access log. NULL or
 * "stderr" means stderr; "off" (access log only) or NULL disables the
 * access log. Returns AM_OK or AM_ERROR with a line logged. */
int am_log_open(const char *error_log, const char *access_log);

/* The error log's fd (2 when it is stderr): for faulthandler. */
int am_log_error_fd(void);

/* The access log is on when an access log file is open. */
int am_log_access_enabled(void);

void am_log(int level, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void am_log_va(int level, int err, const char *fmt, va_list ap);

/* Write one already formatted line (with its newline) to the access log. */
void am_log_access(const char *line, size_t len);

/* "2025-06-01T12:00:03.123Z" into buf (at least 32 bytes). */
void am_log_time_iso(char *buf, size_t size);

#define am_log_enabled(level) ((level) <= am_log_level)

#endif
