/* common/ipc.h: messages between the master and one worker over the
 * worker's socketpair (AF_UNIX, SOCK_SEQPACKET: one message per read).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Worker -> master: READY once the app is imported and lifespan startup is
 * done; BOOT_ERROR with a one-line reason just before exiting with
 * AM_EXIT_BOOT. Later issues add HEARTBEAT and counters here.
 */
#ifndef AM_COMMON_IPC_H
#define AM_COMMON_IPC_H

#include <stddef.h>
#include <stdint.h>

enum {
    AM_IPC_READY = 1,
    AM_IPC_BOOT_ERROR = 2,
    AM_IPC_RECYCLE = 3, /* max_requests reached: replace me when ready */
    AM_IPC_RESTART = 4, /* master: the stop that follows replaces you
                           (reload, recycle): WebSockets get 1012 */
};

#define AM_IPC_TEXT_MAX 1024

typedef struct am_ipc_msg_s {
    uint32_t type;
    uint32_t len; /* bytes used in text, no NUL counted */
    char text[AM_IPC_TEXT_MAX];
} am_ipc_msg_t;

/* socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC). AM_OK or AM_ERROR. */
int am_ipc_pair(int fds[2]);

/* Send one message; text may be NULL. Blocking is fine: messages are tiny.
 * AM_OK or AM_ERROR (errno logged). */
int am_ipc_send(int fd, uint32_t type, const char *text);

/* Receive one message (fd non-blocking). AM_OK, AM_AGAIN, AM_DONE on EOF,
 * AM_ERROR. msg->text is NUL-terminated. */
int am_ipc_recv(int fd, am_ipc_msg_t *msg);

#endif
