/* master/listen.c: bind every listener before the first fork.
 *
 * TCP sockets get SO_REUSEADDR (a restart must not wait for TIME_WAIT) and
 * IPv6 ones IPV6_V6ONLY, so "[::]:8000" and "0.0.0.0:8000" can be listed
 * together. A UNIX socket path left behind by a dead server is removed, but
 * only when it is a socket nobody accepts on: connect() tells a stale file
 * from a live server. Files this master created are remembered by inode and
 * removed at exit, unless something else replaced them meanwhile.
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/core.h"
#include "common/log.h"
#include "master/listen.h"

/* The TCP port of l, in host order (0 for a UNIX socket). */
static unsigned
listen_port(const am_listen_t *l)
{
    if (l->family == AF_INET) {
        return ntohs(((const struct sockaddr_in *)&l->addr)->sin_port);
    }
    if (l->family == AF_INET6) {
        return ntohs(((const struct sockaddr_in6 *)&l->addr)->sin6_port);
    }
    return 0;
}

/* The socket files this process created: removed by am_listen_close(). */
typedef struct listen_file_s {
    char *path;
    dev_t dev;
    ino_t ino;
} listen_file_t;

static int listen_unix_prepare(am_listen_t *l);
static void listen_file_add(const char *path);
static int listen_file_find(const char *path);

static listen_file_t *listen_files;
static size_t listen_nfiles;

int
am_listen_open_all(am_conf_t *conf)
{
    for (size_t i = 0; i < conf->nlisten; i++) {
        if (conf->listen[i].fd != -1) {
            continue; /* inherited (master/upgrade.c) */
        }
        if (am_listen_open(&conf->listen[i]) != AM_OK) {
            am_listen_close_all(conf);
            return AM_ERROR;
        }
    }
    return AM_OK;
}

int
am_listen_open(am_listen_t *l)
{
    int fd, one = 1;

    if (l->family == AF_UNIX && listen_unix_prepare(l) != AM_OK) {
        return AM_ERROR;
    }

    /* No SOCK_CLOEXEC: workers and a future upgraded master inherit it. */
    fd = socket(l->family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd == -1) {
        am_log(AM_LOG_EMERG, errno, "socket() for %s failed", l->address);
        return AM_ERROR;
    }

    if (l->family != AF_UNIX &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1) {
        am_log(AM_LOG_EMERG, errno, "setsockopt(SO_REUSEADDR) for %s failed",
               l->address);
        goto failed;
    }

    if (l->family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) {
        am_log(AM_LOG_EMERG, errno, "setsockopt(IPV6_V6ONLY) for %s failed",
               l->address);
        goto failed;
    }

    if (bind(fd, (struct sockaddr *)&l->addr, l->addrlen) == -1) {
        /* Name the way out of the common one: a privileged port. */
        if (errno == EACCES && l->family != AF_UNIX && listen_port(l) != 0 &&
            listen_port(l) < 1024) {
            am_log(AM_LOG_EMERG, errno,
                   "bind() to %s failed: ports below 1024 need root: start "
                   "asgimaster as root and set \"user:\" (and \"group:\") "
                   "so the workers drop to them, or use a port of 1024 or "
                   "more",
                   l->address);
            goto failed;
        }
        am_log(AM_LOG_EMERG, errno, "bind() to %s failed", l->address);
        goto failed;
    }

    if (l->family == AF_UNIX) {
        listen_file_add(l->path);
        if (l->mode != -1 && chmod(l->path, (mode_t)l->mode) == -1) {
            am_log(AM_LOG_EMERG, errno, "chmod(\"%s\", %04o) failed", l->path,
                   (unsigned)l->mode);
            goto failed;
        }
    }

    if (listen(fd, l->backlog > 0 ? l->backlog : 1024) == -1) {
        am_log(AM_LOG_EMERG, errno, "listen() on %s failed", l->address);
        goto failed;
    }

    l->fd = fd;
    return AM_OK;

failed:
    close(fd);
    if (l->family == AF_UNIX) {
        l->fd = -1;
        am_listen_close(l);
    }
    return AM_ERROR;
}

void
am_listen_close(am_listen_t *l)
{
    struct stat st;
    int i;

    if (l->fd != -1) {
        close(l->fd);
        l->fd = -1;
    }
    if (l->family != AF_UNIX || l->path == NULL) {
        return;
    }
    i = listen_file_find(l->path);
    if (i == -1) {
        return;
    }
    if (stat(l->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_dev == listen_files[i].dev && st.st_ino == listen_files[i].ino &&
        unlink(l->path) == -1) {
        am_log(AM_LOG_WARN, errno, "unlink(\"%s\") failed", l->path);
    }
    free(listen_files[i].path);
    listen_files[i] = listen_files[--listen_nfiles];
}

void
am_listen_close_all(am_conf_t *conf)
{
    for (size_t i = 0; i < conf->nlisten; i++) {
        am_listen_close(&conf->listen[i]);
    }
}

const char *
am_listen_names(const am_conf_t *conf, char *buf, size_t size)
{
    size_t len = 0;
    int n;

    buf[0] = '\0';
    for (size_t i = 0; i < conf->nlisten && len < size; i++) {
        n = snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
                     conf->listen[i].address);
        if (n < 0) {
            break;
        }
        len += (size_t)n;
    }
    return buf;
}

int
am_listen_matches_fd(const am_listen_t *l, int fd)
{
    am_listen_t bound;
    socklen_t len = sizeof(bound.addr);
    int type = 0, listening = 0;
    socklen_t olen = sizeof(type);

    memset(&bound, 0, sizeof(bound));
    if (getsockname(fd, (struct sockaddr *)&bound.addr, &len) == -1) {
        return 0;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) == -1 ||
        type != SOCK_STREAM) {
        return 0;
    }
    olen = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) == -1 ||
        !listening) {
        return 0;
    }
    bound.family = bound.addr.ss_family;
    bound.addrlen = len;
    if (bound.family == AF_UNIX) {
        bound.path = ((struct sockaddr_un *)&bound.addr)->sun_path;
    }
    return am_conf_listen_same(l, &bound);
}

void
am_listen_adopt_file(const am_listen_t *l)
{
    if (l->family == AF_UNIX && l->path != NULL &&
        listen_file_find(l->path) == -1) {
        listen_file_add(l->path);
    }
}

/* A path that exists is removed only if it is a socket with no listener;
 * anything else is EADDRINUSE, reported as bind() would. */

static int
listen_unix_prepare(am_listen_t *l)
{
    struct stat st;
    int fd, rc;

    if (lstat(l->path, &st) == -1) {
        if (errno == ENOENT) {
            return AM_OK;
        }
        am_log(AM_LOG_EMERG, errno, "stat(\"%s\") failed", l->path);
        return AM_ERROR;
    }

    if (!S_ISSOCK(st.st_mode)) {
        am_log(AM_LOG_EMERG, EADDRINUSE,
               "bind() to %s failed: the file exists and is not a socket",
               l->address);
        return AM_ERROR;
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1) {
        am_log(AM_LOG_EMERG, errno, "socket() for %s failed", l->address);
        return AM_ERROR;
    }
    do {
        rc = connect(fd, (struct sockaddr *)&l->addr, l->addrlen);
    } while (rc == -1 && errno == EINTR);
    if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS) {
        /* Someone accepts there (EAGAIN: its backlog is full). */
        close(fd);
        am_log(AM_LOG_EMERG, EADDRINUSE,
               "bind() to %s failed: another server listens there", l->address);
        return AM_ERROR;
    }
    close(fd);
    if (errno != ECONNREFUSED) {
        am_log(AM_LOG_EMERG, errno, "connect() to %s failed", l->address);
        return AM_ERROR;
    }

    if (unlink(l->path) == -1 && errno != ENOENT) {
        am_log(AM_LOG_EMERG, errno, "unlink(\"%s\") of a stale socket failed",
               l->path);
        return AM_ERROR;
    }
    am_log(AM_LOG_NOTICE, 0, "removed the stale socket file \"%s\"", l->path);
    return AM_OK;
}

static void
listen_file_add(const char *path)
{
    struct stat st;

    if (stat(path, &st) == -1) {
        return;
    }
    listen_files =
        am_realloc(listen_files, (listen_nfiles + 1) * sizeof(listen_file_t));
    listen_files[listen_nfiles].path = am_strdup(path);
    listen_files[listen_nfiles].dev = st.st_dev;
    listen_files[listen_nfiles].ino = st.st_ino;
    listen_nfiles++;
}

static int
listen_file_find(const char *path)
{
    for (size_t i = 0; i < listen_nfiles; i++) {
        if (strcmp(listen_files[i].path, path) == 0) {
            return (int)i;
        }
    }
    return -1;
}
