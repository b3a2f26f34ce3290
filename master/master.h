/* master/master.h: the supervisor loop and its signals.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_MASTER_MASTER_H
#define AM_MASTER_MASTER_H

#include <sys/types.h>

#include "common/conf.h"
#include "master/state.h"

/* Run the supervisor until everything stopped; returns
 * the process exit code. conf is finished and its listeners bound; the
 * master owns it from here. load re-reads the configuration on SIGHUP. */
int am_master_run(am_conf_t *conf, am_master_load_pt load, char **argv,
                  pid_t parent);

#endif
