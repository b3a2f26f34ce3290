/* common/worker_entry.h: the entry point of a worker process: the one call
 * from master/ into worker/.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * master/process.c forks and the child calls am_worker_main() and exits
 * with what it returns; worker/worker.c defines it (worker/worker.h says
 * what a worker does). Declared here, under both, so the master needs no
 * worker/ header: conf is the fork's copy, owned by the worker, with the
 * listener fds in conf->listen[i].fd; slot is 1..nslots; ipc_fd is the
 * worker's end of the master channel (common/ipc.h). Returns an AM_EXIT_*
 * code (AM_EXIT_BOOT when the app failed to boot).
 */
#ifndef AM_COMMON_WORKER_ENTRY_H
#define AM_COMMON_WORKER_ENTRY_H

#include "common/conf.h"

int am_worker_main(am_conf_t *conf, int slot, int ipc_fd);

/* `asgimaster -t` (master/app_check.c), in a child of the master already
 * running as the workers' user: set the workers' environment, change to
 * chdir, start the interpreter and import the app (no lifespan, no loop).
 * AM_OK, or AM_ERROR with err the one-line reason (the traceback is
 * logged). */
int am_worker_check(am_conf_t *conf, char *err, size_t size);

#endif
