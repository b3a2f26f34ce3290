/* master/process.h: worker processes: fork, read their messages,
 * reap, respawn, stop; events go up through m->hooks.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_MASTER_PROCESS_H
#define AM_MASTER_PROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "common/core.h"
#include "master/state.h"

/* Fork a worker into slot (1..nslots) of g. AM_OK, or AM_ERROR (logged;
 * the slot is scheduled for a respawn). */
int am_process_spawn(am_master_t *m, am_generation_t *g, int slot);

/* Read what the worker sent (READY, BOOT_ERROR). */
void am_process_on_ipc(am_master_t *m, am_process_t *p);

/* waitpid() every exited child, log it, respawn or give up. */
void am_process_reap(am_master_t *m);

/* Send sig to p and give it timeout ms before SIGKILL. */
void am_process_stop(am_master_t *m, am_process_t *p, int sig,
                     am_msec_t timeout);

/* Send sig to every process (SIGUSR1 on log reopen). */
void am_process_signal_all(am_master_t *m, int sig);

/* Handle the deadlines that passed (respawns, boot and stop deadlines) and
 * return the ms until the next one, -1 for none. */
int am_process_timers(am_master_t *m);

/* One worker more (+1) or less (-1): SIGTTIN, SIGTTOU. */
void am_process_scale(am_master_t *m, int delta);

am_process_t *am_process_find(am_master_t *m, uint64_t id);

/* "30s", "250ms" into buf, for log lines. */
const char *am_process_duration(am_msec_t ms, char *buf, size_t size);

/* Every process of g: sig, then SIGKILL after timeout. The generation
 * retires, and is destroyed at once when it has no process. */
/* Tell g's workers that the stop that follows is a restart (reload):
 * their WebSockets close with 1012, not 1001. */
void am_process_restart_generation(am_master_t *m, am_generation_t *g);
void am_process_stop_generation(am_master_t *m, am_generation_t *g, int sig,
                                am_msec_t timeout);

#endif
