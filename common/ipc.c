/* common/ipc.c: the master <-> worker message channel. */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/core.h"
#include "common/ipc.h"
#include "common/log.h"

int
am_ipc_pair(int fds[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == -1) {
        am_log(AM_LOG_EMERG, errno, "socketpair() failed");
        return AM_ERROR;
    }
    return AM_OK;
}

int
am_ipc_send(int fd, uint32_t type, const char *text)
{
    am_ipc_msg_t msg;
    size_t len = text ? strlen(text) : 0;
    ssize_t n;

    if (len > sizeof(msg.text) - 1) {
        len = sizeof(msg.text) - 1;
    }
    msg.type = type;
    msg.len = (uint32_t)len;
    if (len) {
        memcpy(msg.text, text, len);
    }
    do {
        n = send(fd, &msg, offsetof(am_ipc_msg_t, text) + len, MSG_NOSIGNAL);
    } while (n == -1 && errno == EINTR);
    if (n == -1) {
        am_log(AM_LOG_ALERT, errno, "send() to the master failed");
        return AM_ERROR;
    }
    return AM_OK;
}

int
am_ipc_recv(int fd, am_ipc_msg_t *msg)
{
    ssize_t n;

    do {
        n = recv(fd, msg, sizeof(*msg) - 1, MSG_DONTWAIT);
    } while (n == -1 && errno == EINTR);
    if (n == -1) {
        if (errno == EAGAIN) {
            return AM_AGAIN;
        }
        if (errno == ECONNRESET) {
            return AM_DONE;
        }
        am_log(AM_LOG_ALERT, errno, "recv() from a worker failed");
        return AM_ERROR;
    }
    if (n == 0) {
        return AM_DONE;
    }
    if ((size_t)n < offsetof(am_ipc_msg_t, text) ||
        msg->len != (size_t)n - offsetof(am_ipc_msg_t, text)) {
        am_log(AM_LOG_ALERT, 0, "short message from a worker (%zd bytes)", n);
        return AM_ERROR;
    }
    msg->text[msg->len] = '\0';
    return AM_OK;
}
