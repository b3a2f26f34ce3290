/* master/reload.c: SIGHUP, nginx's way: new workers before old ones retire.
 *
 * The configuration is read again through start-up's path (master/main.c)
 * into a fresh am_conf_t; an invalid file is logged with its file:line:col
 * and nothing changes. A valid one gets its listeners: those whose address
 * the serving generation already has reuse that fd (no moment without a
 * listening socket, nothing in the backlog lost), new ones are bound now,
 * and removed ones stay open until the old generation is gone. Then a new
 * generation of workers boots beside the serving one; when every one of
 * them has reported READY (after lifespan startup) the old generation gets
 * SIGTERM (stop accepting, finish in-flight requests, GOAWAY,
 * "Connection: close", lifespan shutdown) and SIGKILL after its
 * timeouts.graceful. If any new worker fails to boot, the new generation
 * is abandoned and the serving one goes on untouched.
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/core.h"
#include "common/log.h"
#include "master/generation.h"
#include "master/listen.h"
#include "master/notify.h"
#include "master/process.h"
#include "master/reload.h"
#include "master/state.h"

#define RELOAD_ERR_SIZE 1024

static int reload_listeners(am_master_t *m, am_conf_t *conf);
static void reload_done(am_master_t *m);

void
am_reload_request(am_master_t *m)
{
    if (m->booting != NULL) {
        am_log(AM_LOG_NOTICE, 0,
               "reload in progress, reloading again once it is done");
        m->reload_pending = 1;
        return;
    }
    am_reload_start(m);
}

void
am_reload_start(am_master_t *m)
{
    char err[RELOAD_ERR_SIZE];
    am_generation_t *g;
    am_conf_t *conf;

    am_log(AM_LOG_NOTICE, 0, "reloading configuration");
    am_notify("RELOADING=1\nSTATUS=reloading");

    conf = m->load(err, sizeof(err));
    if (conf == NULL) {
        am_log(AM_LOG_ERROR, 0, "reload failed: %s", err);
        goto failed;
    }
    /* Keep the TLS session ticket keys: a client's ticket from the old
     * generation still resumes on the new one. */
    memcpy(conf->tls_ticket_keys, m->conf->tls_ticket_keys,
           sizeof(conf->tls_ticket_keys));
    if (reload_listeners(m, conf) != AM_OK) {
        am_log(AM_LOG_ERROR, 0,
               "reload failed: cannot bind the new listeners, see above");
        am_conf_destroy(conf);
        goto failed;
    }

    g = am_generation_create(m, conf, AM_GENERATION_BOOTING);
    m->booting = g;
    am_log(AM_LOG_NOTICE, 0, "starting generation %u, %d workers", g->id,
           g->nslots);
    for (int slot = 1; slot <= g->nslots; slot++) {
        am_process_spawn(m, g, slot);
    }
    return;

failed:
    m->stats->reloads[1]++;
    am_notify("READY=1\nSTATUS=reload failed, generation %u serving",
              m->generation->id);
    reload_done(m);
}

/* Listeners of conf: the fd of an equal address the serving generation
 * has, or a new socket. On failure the new ones are closed again. */
static int
reload_listeners(am_master_t *m, am_conf_t *conf)
{
    am_conf_t *old = m->generation->conf;
    am_listen_t *l, *o;

    for (size_t i = 0; i < conf->nlisten; i++) {
        l = &conf->listen[i];
        for (size_t j = 0; j < old->nlisten; j++) {
            o = &old->listen[j];
            if (o->fd != -1 && am_conf_listen_same(l, o)) {
                l->fd = o->fd;
                break;
            }
        }
        if (l->fd != -1) {
            continue;
        }
        if (am_listen_open(l) != AM_OK) {
            goto failed;
        }
        am_log(AM_LOG_NOTICE, 0, "listening on %s", l->address);
    }
    return AM_OK;

failed:
    for (size_t i = 0; i < conf->nlisten; i++) {
        l = &conf->listen[i];
        if (l->fd == -1) {
            continue;
        }
        for (size_t j = 0; j < old->nlisten; j++) {
            if (old->listen[j].fd == l->fd) {
                l->fd = -1; /* the serving generation's: keep it */
                break;
            }
        }
        if (l->fd != -1) {
            am_listen_close(l);
        }
    }
    return AM_ERROR;
}

void
am_reload_on_ready(am_master_t *m)
{
    am_generation_t *g = m->booting, *old = m->generation;
    char names[1024];

    if (g == NULL || g->nready < g->nslots) {
        return;
    }

    am_log(AM_LOG_NOTICE, 0, "generation %u ready, retiring generation %u",
           g->id, old->id);
    g->state = AM_GENERATION_SERVING;
    g->all_ready = 1;
    m->booting = NULL;
    m->generation = g;
    m->conf = g->conf;
    m->stats->generation = g->id;
    m->stats->reloads[0]++;

    /* log.* is reloadable: the new files for the master, and the old
     * workers keep theirs until they exit. */
    am_log_level = g->conf->log_level;
    am_log_open(g->conf->error_log, g->conf->access_log);

    am_process_restart_generation(m, old);
    am_process_stop_generation(m, old, SIGTERM, old->conf->timeout_graceful);
    am_log(AM_LOG_NOTICE, 0, "generation %u serving on %s", g->id,
           am_listen_names(g->conf, names, sizeof(names)));
    am_notify("READY=1\nSTATUS=generation %u serving, %d workers", g->id,
              g->nslots);
    reload_done(m);
}

void
am_reload_abandon(am_master_t *m, const char *reason)
{
    am_generation_t *g = m->booting;

    AM_ASSERT(g != NULL);
    am_log(AM_LOG_ERROR, 0, "reload failed: %s", reason);
    am_log(AM_LOG_NOTICE, 0,
           "abandoning generation %u, generation %u keeps serving", g->id,
           m->generation->id);
    m->booting = NULL;
    m->stats->reloads[1]++;
    /* Booting workers have no requests: no need to wait for them. */
    am_process_stop_generation(m, g, SIGKILL, AM_MASTER_QUIT_TIMEOUT);
    am_notify("READY=1\nSTATUS=reload failed, generation %u serving",
              m->generation->id);
    reload_done(m);
}

/* A SIGHUP that came during the reload asks for another one. */
static void
reload_done(am_master_t *m)
{
    if (m->reload_pending && m->state == AM_MASTER_RUNNING &&
        m->booting == NULL) {
        m->reload_pending = 0;
        am_reload_start(m);
    }
}
