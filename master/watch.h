/* master/watch.h: --reload, the sources watched with inotify(7).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_MASTER_WATCH_H
#define AM_MASTER_WATCH_H

#include "master/state.h"

/* Add the inotify fd (m->watch_fd) to epoll under key when conf->reload is
 * set; AM_OK when it is not. AM_ERROR (logged) when nothing can be
 * watched. */
int am_watch_start(am_master_t *m, int key);

/* Read the inotify events: a change to a matching file arms the timer. */
void am_watch_on_readable(am_master_t *m);

/* Run the reload (am_reload_request()) once the files were quiet for
 * reload_delay; returns the ms until it is due, or -1. */
int am_watch_timer(am_master_t *m);

#endif
