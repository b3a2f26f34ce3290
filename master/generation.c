/* master/generation.c: the workers started from one am_conf_t: their slot
 * table, and what is released when the last of them is reaped (the
 * listeners no other live generation shares, the configuration).
 */

#include <stdlib.h>

#include "common/conf.h"
#include "common/core.h"
#include "common/stats.h"
#include "master/generation.h"
#include "master/listen.h"
#include "master/state.h"

static int generation_listener_shared(am_master_t *m, am_generation_t *g,
                                      am_listen_t *l);

am_generation_t *
am_generation_create(am_master_t *m, am_conf_t *conf, int state)
{
    am_generation_t *g = am_calloc(1, sizeof(am_generation_t));

    g->id = ++m->next_generation;
    if (m->stats != NULL) {
        m->stats->boot_traceback = 0; /* one traceback per generation */
    }
    g->state = state;
    g->conf = conf;
    g->nslots = conf->workers;
    g->slots_size = conf->workers;
    g->slots = am_calloc((size_t)g->slots_size, sizeof(am_slot_t));
    for (int i = 0; i < g->nslots; i++) {
        g->slots[i].respawn_at = -1;
    }
    g->next = m->generations;
    m->generations = g;
    return g;
}

/* A listener fd another live generation still uses must stay open, and
 * a UNIX socket file another one listens on must stay. */
static int
generation_listener_shared(am_master_t *m, am_generation_t *g, am_listen_t *l)
{
    for (am_generation_t *o = m->generations; o != NULL; o = o->next) {
        if (o == g) {
            continue;
        }
        for (size_t i = 0; i < o->conf->nlisten; i++) {
            if (o->conf->listen[i].fd != -1 && o->conf->listen[i].fd == l->fd) {
                return 1;
            }
        }
    }
    return 0;
}

void
am_generation_destroy(am_master_t *m, am_generation_t *g)
{
    AM_ASSERT(g->nprocesses == 0);

    for (am_generation_t **gp = &m->generations; *gp != NULL;
         gp = &(*gp)->next) {
        if (*gp == g) {
            *gp = g->next;
            break;
        }
    }
    for (size_t i = 0; i < g->conf->nlisten; i++) {
        am_listen_t *l = &g->conf->listen[i];

        if (l->fd == -1 || !generation_listener_shared(m, g, l)) {
            am_listen_close(l);
        }
    }
    if (m->booting == g) {
        m->booting = NULL;
    }
    if (m->generation == g) {
        m->generation = NULL;
    }
    am_conf_destroy(g->conf);
    free(g->slots);
    free(g);
}
