/* master/upgrade.h: SIGUSR2 binary upgrade, inherited listeners.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_MASTER_UPGRADE_H
#define AM_MASTER_UPGRADE_H

#include <sys/types.h>

#include "common/conf.h"
#include "master/state.h"

/* Rename the pidfile to pidfile.oldbin and exec a new master with the
 * listeners, ASGIMASTER_INHERIT and ASGIMASTER_PARENT_PID. */
void am_upgrade_start(am_master_t *m);

/* The new master exited: take the pidfile back. */
void am_upgrade_on_exit(am_master_t *m, int status);

/* At start-up: take listeners from ASGIMASTER_INHERIT (binary upgrade) or
 * LISTEN_PID/LISTEN_FDS (systemd socket activation) for the conf's
 * matching addresses; close the rest with a warning. Sets *parent to the
 * old master's pid (0 for none). */
void am_upgrade_inherit(am_conf_t *conf, pid_t *parent, char *const *argv);

#endif
