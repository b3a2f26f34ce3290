/* worker/worker.h: the entry point of a worker process.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The master forks, and the child calls am_worker_main() and exits with what
 * it returns. The worker owns conf (the fork's copy) and the listener fds in
 * conf->listen[i].fd (non-blocking, inherited). ipc_fd is its end of the
 * master channel (common/ipc.h).
 *
 * Lifecycle: set up Python, import the app, run lifespan startup, send
 * AM_IPC_READY, serve. SIGTERM/SIGINT: graceful stop (stop accepting, finish
 * in-flight requests within conf->timeout_graceful, lifespan shutdown, exit
 * 0). SIGQUIT: exit at once. Boot failure: the error goes to the error log
 * and, one line, as AM_IPC_BOOT_ERROR; returns AM_EXIT_BOOT.
 */
#ifndef AM_WORKER_WORKER_H
#define AM_WORKER_WORKER_H

/* am_worker_main() is declared where the master sees it. */
#include "common/worker_entry.h"

#endif
