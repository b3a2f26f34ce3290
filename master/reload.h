/* master/reload.h: SIGHUP: a new generation from a fresh
 * configuration beside the serving one.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_MASTER_RELOAD_H
#define AM_MASTER_RELOAD_H

#include "master/state.h"

/* SIGHUP: load the configuration, bind new listeners, start a generation.
 * A bad file or a failed bind leaves everything as it was. */
void am_reload_start(am_master_t *m);

/* SIGHUP's reload, for a signal or a source change (master/watch.c): a
 * reload already booting makes this one wait for it. */
void am_reload_request(am_master_t *m);

/* A worker of m->booting is ready: when all are, retire the old one. */
void am_reload_on_ready(am_master_t *m);

/* A worker of m->booting failed to boot: abandon the generation. */
void am_reload_abandon(am_master_t *m, const char *reason);

#endif
