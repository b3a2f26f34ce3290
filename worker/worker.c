/* worker/worker.c: a worker process. Sets up the loop (signals on a
 * signalfd, the master channel, the listeners with EPOLLEXCLUSIVE so one
 * connection wakes one worker), boots Python and the app, tells the master
 * it is ready and runs the asyncio loop, in which all server work happens.
 * A graceful stop closes the listeners, lets in-flight requests finish
 * (responses carry "Connection: close"), stops the loop when the last
 * connection is gone or timeouts.graceful passed, and runs lifespan
 * shutdown.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/log.h"
#include "common/stats.h"
#include "worker/accept.h"
#include "worker/conn.h"
#include "worker/ctx.h"
#include "worker/event.h"
#include "worker/http1.h"
#include "worker/http2.h"
#include "worker/pyembed.h"
#include "worker/tls.h"
#include "worker/worker.h"

static am_conf_t *conf;
static am_event_t *worker_listeners;
static am_event_t worker_signal_ev;
static am_event_t worker_ipc_ev;
static am_timer_t worker_graceful_timer;
static am_timer_t worker_heartbeat_timer;
static int worker_recycle_sent;
static int worker_ipc_fd = -1;
static int worker_listeners_paused;
static int worker_loop_stopped;

static void worker_on_signal(am_event_t *ev, uint32_t events);
static void worker_on_ipc(am_event_t *ev, uint32_t events);
static void worker_on_graceful_timeout(am_timer_t *t);

static void
worker_set_listeners(int on)
{
    size_t i;

    for (i = 0; i < conf->nlisten; i++) {
        if (worker_listeners[i].fd == -1) {
            continue;
        }
        if (on) {
            am_event_set(&worker_listeners[i], EPOLLIN | EPOLLEXCLUSIVE);
        } else {
            am_event_del(&worker_listeners[i]);
        }
    }
}

static void
worker_check_stopped(void)
{
    if (am_ctx.stopping && am_conn_count == 0 && !worker_loop_stopped) {
        worker_loop_stopped = 1;
        am_timer_del(&worker_graceful_timer);
        am_py_stop();
    }
}

static void
worker_on_conn_closed(void)
{
    if (worker_listeners_paused && !am_ctx.stopping &&
        am_conn_count < conf->limit_connections) {
        worker_listeners_paused = 0;
        worker_set_listeners(1);
    }
    /* Checked after this close completes: the count drops after on_close. */
}

static void
worker_listeners_pause(void)
{
    if (!worker_listeners_paused) {
        worker_listeners_paused = 1;
        worker_set_listeners(0);
        am_log(AM_LOG_WARN, 0,
               "%zu connections: limits.connections reached, not accepting",
               am_conn_count);
    }
}

static void
worker_stop_graceful(void)
{
    size_t i;

    if (am_ctx.stopping) {
        return;
    }
    am_ctx.stopping = 1;
    am_log(AM_LOG_INFO, 0, "graceful stop: %zu connections open",
           am_conn_count);
    /* Closing our copies leaves the backlog to the other workers (and to
     * the next generation). */
    for (i = 0; i < conf->nlisten; i++) {
        am_event_del(&worker_listeners[i]);
        if (worker_listeners[i].fd != -1) {
            close(worker_listeners[i].fd);
            worker_listeners[i].fd = -1;
        }
    }
    am_conn_shutdown_all();
    am_timer_add(&worker_graceful_timer, conf->timeout_graceful);
}

static void
worker_on_graceful_timeout(am_timer_t *t)
{
    am_log(AM_LOG_WARN, 0,
           "graceful stop: %zu connections still open after %lldms, closing",
           am_conn_count, (long long)conf->timeout_graceful);
    am_conn_close_all();
}

static void
worker_on_signal(am_event_t *ev, uint32_t events)
{
    struct signalfd_siginfo si;
    ssize_t n;

    for (;;) {
        n = read(ev->fd, &si, sizeof(si));
        if (n != (ssize_t)sizeof(si)) {
            return;
        }
        switch (si.ssi_signo) {
        case SIGTERM:
        case SIGINT:
            worker_stop_graceful();
            break;
        case SIGQUIT:
            _exit(0);
        case SIGUSR1:
            am_log_open(conf->error_log, conf->access_log);
            break;
        default:
            break;
        }
    }
}

static void
worker_on_ipc(am_event_t *ev, uint32_t events)
{
    am_ipc_msg_t msg;
    int rc;

    for (;;) {
        rc = am_ipc_recv(ev->fd, &msg);
        if (rc == AM_AGAIN) {
            return;
        }
        if (rc == AM_DONE || rc == AM_ERROR) {
            /* The master is gone: nobody will stop us, so stop. */
            am_event_del(ev);
            am_log(AM_LOG_WARN, 0, "the master is gone, stopping");
            worker_stop_graceful();
            return;
        }
        if (msg.type == AM_IPC_RESTART) {
            am_ctx.restarting = 1; /* a SIGTERM follows */
        }
    }
}

static void
worker_before_wait(void)
{
    am_conn_flush_all();
    worker_check_stopped();
    if (am_stats_self != NULL) {
        am_stats_self->heartbeat_msec = am_event_now;
    }
}

/* The loop turns at least once a second, so an idle worker still beats;
 * one stuck in app code does not (the master's watchdog). */
static void
worker_on_heartbeat(am_timer_t *t)
{
    am_timer_add(t, 1000);
}

static void
worker_on_request_done(void)
{
    if (am_stats_self == NULL || conf->max_requests == 0 ||
        worker_recycle_sent) {
        return;
    }
    if (am_stats_self->requests_total >= conf->max_requests) {
        /* The master starts a replacement and stops us once it is ready. */
        worker_recycle_sent = 1;
        am_log(AM_LOG_NOTICE, 0, "%llu requests served: asking to recycle",
               (unsigned long long)am_stats_self->requests_total);
        am_ipc_send(worker_ipc_fd, AM_IPC_RECYCLE, NULL);
    }
}

static int
worker_setup_signals(void)
{
    sigset_t set;
    int fd;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) == -1) {
        am_log(AM_LOG_EMERG, errno, "sigprocmask() failed");
        return AM_ERROR;
    }
    fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd == -1) {
        am_log(AM_LOG_EMERG, errno, "signalfd() failed");
        return AM_ERROR;
    }
    worker_signal_ev.fd = fd;
    worker_signal_ev.handler = worker_on_signal;
    return AM_OK;
}

static void
worker_apply_env(void)
{
    size_t i;

    for (i = 0; i < conf->nenv; i++) {
        setenv(conf->env_names[i], conf->env_values[i], 1);
    }
}

int
am_worker_main(am_conf_t *c, int slot, int ipc_fd)
{
    char err[AM_IPC_TEXT_MAX];
    size_t i;

    conf = c;
    am_ctx.conf = c;
    am_ctx.conn_closed = worker_on_conn_closed;
    am_ctx.listeners_pause = worker_listeners_pause;
    am_ctx.request_done = worker_on_request_done;
    am_log_slot = slot;
    prctl(PR_SET_PDEATHSIG, SIGTERM);

    if (worker_setup_signals() != AM_OK || am_event_init() != AM_OK) {
        am_ipc_send(ipc_fd, AM_IPC_BOOT_ERROR, "worker set-up failed");
        return AM_EXIT_BOOT;
    }
    worker_apply_env();
    /* The virtualenv is relative to where the master started, as the
     * other paths of the file are; pythonpath is relative to chdir. */
    if (conf->virtualenv != NULL && conf->virtualenv[0] != '/') {
        char *abs = realpath(conf->virtualenv, NULL);

        if (abs != NULL) {
            free(conf->virtualenv);
            conf->virtualenv = abs;
        }
    }
    if (conf->chdir != NULL && chdir(conf->chdir) == -1) {
        snprintf(err, sizeof(err), "chdir(\"%s\") failed: %s", conf->chdir,
                 strerror(errno));
        am_log(AM_LOG_EMERG, 0, "%s", err);
        am_ipc_send(ipc_fd, AM_IPC_BOOT_ERROR, err);
        return AM_EXIT_BOOT;
    }

    am_http1_init(conf);
    if (am_http2_init(conf) != AM_OK || am_tls_init(conf) != AM_OK) {
        am_ipc_send(ipc_fd, AM_IPC_BOOT_ERROR, "TLS or HTTP/2 set-up failed");
        return AM_EXIT_BOOT;
    }
    am_event_set_hooks(worker_before_wait);
    worker_graceful_timer.handler = worker_on_graceful_timeout;
    worker_heartbeat_timer.handler = worker_on_heartbeat;
    worker_ipc_fd = ipc_fd;

    if (am_py_boot(conf, err, sizeof(err)) != AM_OK) {
        /* The master logs the reason, once: here only if it cannot. */
        if (am_ipc_send(ipc_fd, AM_IPC_BOOT_ERROR, err) != AM_OK) {
            am_log(AM_LOG_EMERG, 0, "cannot boot the app: %s", err);
        }
        return AM_EXIT_BOOT;
    }

    worker_listeners = am_calloc(conf->nlisten, sizeof(am_event_t));
    for (i = 0; i < conf->nlisten; i++) {
        worker_listeners[i].fd = conf->listen[i].fd;
        worker_listeners[i].handler = am_accept_on_readable;
        worker_listeners[i].data = &conf->listen[i];
    }
    worker_set_listeners(1);
    am_event_set(&worker_signal_ev, EPOLLIN);
    worker_ipc_ev.fd = ipc_fd;
    worker_ipc_ev.handler = worker_on_ipc;
    am_event_set(&worker_ipc_ev, EPOLLIN);

    am_timer_add(&worker_heartbeat_timer, 1000);
    if (am_stats_self != NULL) {
        am_stats_self->heartbeat_msec = am_now_msec();
    }
    if (am_ipc_send(ipc_fd, AM_IPC_READY, NULL) != AM_OK) {
        return AM_EXIT_BOOT;
    }
    am_log(AM_LOG_NOTICE, 0, "worker ready");

    am_py_run();
    am_conn_close_all();
    am_conn_flush_all();
    am_py_shutdown();
    return AM_EXIT_OK;
}

int
am_worker_check(am_conf_t *c, char *err, size_t size)
{
    return am_py_check(c, err, size);
}
