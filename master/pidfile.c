/* master/pidfile.c: the master's pid file and `asgimaster -s`.
 *
 * Written once the listeners are bound (a start that fails to bind leaves
 * the old file alone), created with O_EXCL after a stale file (naming no
 * live process) is removed, so two masters never both believe they own it.
 * Removed at exit only while it still names us: after a binary upgrade the
 * file is the new master's.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/core.h"
#include "common/log.h"
#include "master/pidfile.h"

pid_t
am_pidfile_read(const char *path, char *err, size_t size)
{
    char buf[32], *end;
    ssize_t n;
    long pid;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, size, "cannot open the pidfile \"%s\": %s", path,
                 strerror(errno));
        return -1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        snprintf(err, size, "the pidfile \"%s\" is empty", path);
        return -1;
    }
    buf[n] = '\0';
    pid = strtol(buf, &end, 10);
    if (end == buf || (*end != '\n' && *end != '\0') || pid <= 1) {
        snprintf(err, size, "the pidfile \"%s\" holds no pid", path);
        return -1;
    }
    return (pid_t)pid;
}

int
am_pidfile_write(const char *path)
{
    char buf[32], err[512];
    pid_t pid;
    int fd, len;

    pid = am_pidfile_read(path, err, sizeof(err));
    if (pid > 0 && pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM)) {
        am_log(AM_LOG_EMERG, 0,
               "the pidfile \"%s\" names the running process %d: is "
               "another asgimaster running?",
               path, (int)pid);
        return AM_ERROR;
    }
    if (unlink(path) == -1 && errno != ENOENT) {
        am_log(AM_LOG_EMERG, errno, "unlink(\"%s\") failed", path);
        return AM_ERROR;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd == -1) {
        am_log(AM_LOG_EMERG, errno, "open(\"%s\") failed", path);
        return AM_ERROR;
    }
    len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (write(fd, buf, (size_t)len) != len) {
        am_log(AM_LOG_EMERG, errno, "write() to \"%s\" failed", path);
        close(fd);
        unlink(path);
        return AM_ERROR;
    }
    close(fd);
    return AM_OK;
}

void
am_pidfile_remove(const char *path)
{
    char err[512];

    if (am_pidfile_read(path, err, sizeof(err)) == getpid() &&
        unlink(path) == -1) {
        am_log(AM_LOG_WARN, errno, "unlink(\"%s\") failed", path);
    }
}
