/* master/notify.h: sd_notify(3) without libsystemd.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_MASTER_NOTIFY_H
#define AM_MASTER_NOTIFY_H

/* Send "READY=1", "STATUS=...", ... to $NOTIFY_SOCKET, if set. */
void am_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
