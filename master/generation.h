/* master/generation.h: the workers started from one am_conf_t, and
 * their slot table (master/state.h says what a generation is).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_MASTER_GENERATION_H
#define AM_MASTER_GENERATION_H

#include "common/conf.h"
#include "master/state.h"

/* A generation of nslots empty slots for conf (owned from here), linked
 * into m->generations. */
am_generation_t *am_generation_create(am_master_t *m, am_conf_t *conf,
                                      int state);

/* Forget a generation whose last process was reaped: close the listeners
 * no other generation shares, destroy its conf. */
void am_generation_destroy(am_master_t *m, am_generation_t *g);

#endif
