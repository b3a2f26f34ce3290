/* master/listen.h: binding the listening sockets in the master.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Listeners are opened once, before any worker is forked, non-blocking and
 * without FD_CLOEXEC: workers inherit them through fork(), and a binary
 * upgrade (SIGUSR2, later) will hand them to a new master through exec().
 * The fd lives in conf->listen[i].fd.
 */
#ifndef AM_MASTER_LISTEN_H
#define AM_MASTER_LISTEN_H

#include "common/conf.h"

/* Bind and listen on every conf->listen[i]. AM_OK, or AM_ERROR with an
 * [emerg] line naming the address and errno; then nothing stays open and no
 * socket file is left behind. */
int am_listen_open_all(am_conf_t *conf);

/* Bind one listener; sets l->fd. AM_OK or AM_ERROR (logged). */
int am_listen_open(am_listen_t *l);

/* Close l->fd and remove a UNIX socket file this process created. */
void am_listen_close(am_listen_t *l);

void am_listen_close_all(am_conf_t *conf);

/* Does the bound socket fd listen on l's address? (getsockname()) */
int am_listen_matches_fd(const am_listen_t *l, int fd);

/* A UNIX socket file that came with an inherited fd (binary upgrade):
 * this process removes it at exit as if it had created it. */
void am_listen_adopt_file(const am_listen_t *l);

/* "127.0.0.1:8000, unix:/run/app.sock" into buf, for the start line. */
const char *am_listen_names(const am_conf_t *conf, char *buf, size_t size);

#endif
