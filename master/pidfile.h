/* master/pidfile.h: the master's pid file.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_MASTER_PIDFILE_H
#define AM_MASTER_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Write the master's pid; AM_ERROR (logged) when a live process holds the
 * file. */
int am_pidfile_write(const char *path);

/* Remove it if it still holds our pid. */
void am_pidfile_remove(const char *path);

/* The pid in path, or -1 (err says why). */
pid_t am_pidfile_read(const char *path, char *err, size_t size);

#endif
