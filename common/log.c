/* common/log.c: line-oriented error and access logs. Each line is built in a
 * stack buffer and written with one write(2), so lines from several workers
 * appending to the same file (O_APPEND) never interleave.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/core.h"
#include "common/log.h"

int am_log_level = AM_LOG_NOTICE;
int am_log_slot;

static int log_error_fd = 2;
static int log_access_fd = -1;

static const char *const log_names[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
};

int
am_log_level_parse(const char *name)
{
    for (size_t i = 0; i < am_nitems(log_names); i++) {
        if (strcmp(name, log_names[i]) == 0) {
            return (int)i;
        }
    }
    if (strcmp(name, "warning") == 0) {
        return AM_LOG_WARN;
    }
    return -1;
}

const char *
am_log_level_name(int level)
{
    if (level < 0 || level >= (int)am_nitems(log_names)) {
        return "?";
    }
    return log_names[level];
}

static int
log_open_file(const char *path)
{
    int fd;

    do {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    } while (fd == -1 && errno == EINTR);
    return fd;
}

int
am_log_open(const char *error_log, const char *access_log)
{
    int fd;

    if (error_log != NULL && strcmp(error_log, "stderr") != 0) {
        fd = log_open_file(error_log);
        if (fd == -1) {
            am_log(AM_LOG_EMERG, errno, "open(\"%s\") failed", error_log);
            return AM_ERROR;
        }
        if (log_error_fd > 2) {
            close(log_error_fd);
        }
        log_error_fd = fd;
    }

    if (access_log == NULL || strcmp(access_log, "off") == 0) {
        if (log_access_fd > 2) {
            close(log_access_fd);
        }
        log_access_fd = -1;
    } else if (strcmp(access_log, "stderr") == 0) {
        log_access_fd = 2;
    } else if (strcmp(access_log, "stdout") == 0) {
        log_access_fd = 1;
    } else {
        fd = log_open_file(access_log);
        if (fd == -1) {
            am_log(AM_LOG_EMERG, errno, "open(\"%s\") failed", access_log);
            return AM_ERROR;
        }
        if (log_access_fd > 2) {
            close(log_access_fd);
        }
        log_access_fd = fd;
    }
    return AM_OK;
}

int
am_log_error_fd(void)
{
    return log_error_fd;
}

int
am_log_access_enabled(void)
{
    return log_access_fd != -1;
}

void
am_log_time_iso(char *buf, size_t size)
{
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
}

static void
log_write(int fd, const char *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, buf, len);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

void
am_log_va(int level, int err, const char *fmt, va_list ap)
{
    char buf[4096];
    size_t len;
    int n, saved = errno;

    if (level > am_log_level) {
        return;
    }

    am_log_time_iso(buf, sizeof(buf));
    len = strlen(buf);
    n = snprintf(buf + len, sizeof(buf) - len,
                 " [%s] %d#%d: ", am_log_level_name(level), (int)getpid(),
                 am_log_slot);
    len += (size_t)n;

    n = vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
    if (n > 0) {
        len = am_min(len + (size_t)n, sizeof(buf) - 1);
    }
    if (err != 0 && len < sizeof(buf) - 1) {
        n = snprintf(buf + len, sizeof(buf) - len, " (%d: %s)", err,
                     strerror(err));
        if (n > 0) {
            len = am_min(len + (size_t)n, sizeof(buf) - 1);
        }
    }
    if (len > sizeof(buf) - 2) {
        len = sizeof(buf) - 2;
    }
    buf[len++] = '\n';
    log_write(log_error_fd, buf, len);
    errno = saved;
}

void
am_log(int level, int err, const char *fmt, ...)
{
    va_list ap;

    if (level > am_log_level) {
        return;
    }
    va_start(ap, fmt);
    am_log_va(level, err, fmt, ap);
    va_end(ap);
}

void
am_log_access(const char *line, size_t len)
{
    if (log_access_fd != -1) {
        log_write(log_access_fd, line, len);
    }
}
