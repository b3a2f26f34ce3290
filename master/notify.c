/* master/notify.c: systemd's readiness protocol (sd_notify(3)) without
 * libsystemd: one datagram of "KEY=value" lines to the AF_UNIX socket in
 * $NOTIFY_SOCKET, a path or, with a leading "@", an abstract name.
 *
 * The master sends READY=1 once the first generation's workers are all
 * ready (Type=notify), RELOADING=1 then READY=1 around a SIGHUP reload,
 * STOPPING=1 on stop, and STATUS= lines saying what it does. Nothing is
 * sent when the variable is unset; a failed send is logged at debug level.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/core.h"
#include "common/log.h"
#include "master/notify.h"

void
am_notify(const char *fmt, ...)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun;
    char msg[1024];
    socklen_t len;
    va_list ap;
    size_t n;
    int fd;

    if (path == NULL || (path[0] != '/' && path[0] != '@') ||
        strlen(path) >= sizeof(sun.sun_path)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    n = strlen(path);
    memcpy(sun.sun_path, path, n);
    if (path[0] == '@') {
        sun.sun_path[0] = '\0'; /* abstract namespace */
    }
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        am_log(AM_LOG_DEBUG, errno, "socket() for NOTIFY_SOCKET failed");
        return;
    }
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
               len) == -1) {
        am_log(AM_LOG_DEBUG, errno, "sendto(\"%s\") failed", path);
    }
    close(fd);
}
