/* master/master.c: the supervisor loop.
 *
 * One epoll set holds a signalfd and each worker's IPC channel; deadlines
 * (respawn backoff, boot and stop timeouts) become the epoll_wait() timeout.
 * Every signal the master acts on is blocked and read from the signalfd, so
 * no code runs in a signal handler and a signal never interrupts a half-done
 * update of the process table.
 *
 * Signals (asgimaster(8), SIGNALS):
 *   SIGTERM, SIGINT  graceful stop: workers get SIGTERM and
 *                    timeouts.graceful, then SIGKILL. A second SIGINT
 *                    (Ctrl-C twice) turns it into an immediate stop; a second
 *                    SIGTERM keeps waiting.
 *   SIGQUIT          immediate stop: SIGQUIT, SIGKILL after 1s.
 *   SIGCHLD          reap, log, respawn or give up (master/process.c).
 *   SIGUSR1          reopen the log files, and tell the workers to.
 *   SIGTTIN/SIGTTOU  one worker more/less.
 *   SIGHUP, SIGUSR2  reload and binary upgrade: not implemented yet, logged.
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/core.h"
#include "common/log.h"
#include "master/listen.h"
#include "master/master.h"

#define MASTER_EVENTS 64

/* epoll key of the signalfd; processes count from 1. */
#define MASTER_SIGNAL_KEY 0

static int master_init(am_master_t *m, am_conf_t *conf);
static void master_on_signals(am_master_t *m);
static void master_on_signal(am_master_t *m, int sig);
static void master_stop(am_master_t *m, int sig);

static const int master_signals[] = {
    SIGCHLD, SIGTERM, SIGINT,  SIGQUIT, SIGHUP,
    SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU,
};

int
am_master_run(am_conf_t *conf)
{
    static am_master_t master;
    am_master_t *m = &master;
    struct epoll_event events[MASTER_EVENTS];
    char names[1024];
    int n, timeout;

    if (master_init(m, conf) != AM_OK) {
        am_listen_close_all(conf);
        return AM_EXIT_CONFIG;
    }

    am_log(AM_LOG_NOTICE, 0,
           "asgimaster " AM_VERSION " started, %d workers, listening on %s",
           m->nslots, am_listen_names(conf, names, sizeof(names)));

    for (int slot = 1; slot <= m->nslots; slot++) {
        am_process_spawn(m, slot);
    }

    for (;;) {
        timeout = am_process_timers(m);
        if (m->state != AM_MASTER_RUNNING && m->nprocesses == 0) {
            break;
        }

        n = epoll_wait(m->epfd, events, MASTER_EVENTS, timeout);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            am_log(AM_LOG_ALERT, errno, "epoll_wait() failed");
            sleep(1);
            continue;
        }

        for (int i = 0; i < n; i++) {
            if (events[i].data.u64 == MASTER_SIGNAL_KEY) {
                master_on_signals(m);
                continue;
            }
            /* Looked up by id: an earlier event of this batch may have
             * reaped the process. */
            am_process_t *p = am_process_find(m, events[i].data.u64);

            if (p != NULL) {
                am_process_on_ipc(m, p);
            }
        }
    }

    am_listen_close_all(conf);
    am_log(AM_LOG_NOTICE, 0, "exiting");
    return m->exit_code;
}

static int
master_init(am_master_t *m, am_conf_t *conf)
{
    struct epoll_event ev;
    struct sigaction sa;

    memset(m, 0, sizeof(*m));
    m->conf = conf;
    m->pid = getpid();
    m->epfd = -1;
    m->sigfd = -1;
    m->state = AM_MASTER_RUNNING;
    m->exit_code = AM_EXIT_OK;

    /* Writes to a closed stderr pipe must not kill the master. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);

    sigemptyset(&m->sigset);
    for (size_t i = 0; i < am_nitems(master_signals); i++) {
        sigaddset(&m->sigset, master_signals[i]);
    }
    if (sigprocmask(SIG_BLOCK, &m->sigset, NULL) == -1) {
        am_log(AM_LOG_EMERG, errno, "sigprocmask() failed");
        return AM_ERROR;
    }

    m->sigfd = signalfd(-1, &m->sigset, SFD_NONBLOCK | SFD_CLOEXEC);
    if (m->sigfd == -1) {
        am_log(AM_LOG_EMERG, errno, "signalfd() failed");
        return AM_ERROR;
    }

    m->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (m->epfd == -1) {
        am_log(AM_LOG_EMERG, errno, "epoll_create1() failed");
        return AM_ERROR;
    }
    ev.events = EPOLLIN;
    ev.data.u64 = MASTER_SIGNAL_KEY;
    if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->sigfd, &ev) == -1) {
        am_log(AM_LOG_EMERG, errno, "epoll_ctl(ADD) of the signalfd failed");
        return AM_ERROR;
    }

    m->generation = am_calloc(1, sizeof(am_generation_t));
    m->generation->id = 1;
    m->generation->conf = conf;

    AM_ASSERT(conf->workers > 0);
    m->nslots = conf->workers;
    m->slots_size = conf->workers;
    m->slots = am_calloc((size_t)m->slots_size, sizeof(am_slot_t));
    for (int i = 0; i < m->nslots; i++) {
        m->slots[i].respawn_at = -1;
    }
    return AM_OK;
}

static void
master_on_signals(am_master_t *m)
{
    struct signalfd_siginfo si[16];
    ssize_t n;

    for (;;) {
        n = read(m->sigfd, si, sizeof(si));
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN) {
                am_log(AM_LOG_ALERT, errno, "read() of the signalfd failed");
            }
            return;
        }
        for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
            master_on_signal(m, (int)si[i].ssi_signo);
        }
    }
}

static void
master_on_signal(am_master_t *m, int sig)
{
    switch (sig) {
    case SIGCHLD:
        am_process_reap(m);
        break;

    case SIGTERM:
    case SIGINT:
        if (m->state == AM_MASTER_RUNNING) {
            master_stop(m, SIGTERM);
        } else if (m->state == AM_MASTER_GRACEFUL && sig == SIGINT) {
            /* Ctrl-C twice: the operator does not want to wait. */
            master_stop(m, SIGQUIT);
        } else if (m->state == AM_MASTER_GRACEFUL) {
            am_log(AM_LOG_NOTICE, 0, "graceful stop in progress");
        }
        break;

    case SIGQUIT:
        if (m->state != AM_MASTER_IMMEDIATE) {
            master_stop(m, SIGQUIT);
        }
        break;

    case SIGUSR1:
        am_log(AM_LOG_NOTICE, 0, "reopening logs");
        am_log_open(m->conf->error_log, m->conf->access_log);
        am_process_signal_all(m, SIGUSR1);
        break;

    case SIGTTIN:
    case SIGTTOU:
        if (m->state != AM_MASTER_RUNNING) {
            am_log(AM_LOG_NOTICE, 0, "%s ignored while stopping",
                   sig == SIGTTIN ? "SIGTTIN" : "SIGTTOU");
            break;
        }
        am_process_scale(m, sig == SIGTTIN ? 1 : -1);
        break;

    case SIGHUP:
        am_log(AM_LOG_WARN, 0,
               "SIGHUP received: reload is not implemented yet, ignored");
        break;

    case SIGUSR2:
        am_log(AM_LOG_WARN, 0,
               "SIGUSR2 received: binary upgrade is not implemented yet, "
               "ignored");
        break;

    default:
        break;
    }
}

/* SIGTERM: graceful, SIGQUIT: immediate. No respawn after this. */
static void
master_stop(am_master_t *m, int sig)
{
    am_msec_t timeout;

    if (sig == SIGTERM) {
        am_log(AM_LOG_NOTICE, 0, "graceful stop");
        m->state = AM_MASTER_GRACEFUL;
        timeout = m->conf->timeout_graceful;
    } else {
        am_log(AM_LOG_NOTICE, 0, "immediate stop");
        m->state = AM_MASTER_IMMEDIATE;
        timeout = AM_MASTER_QUIT_TIMEOUT;
    }
    for (int i = 0; i < m->nslots; i++) {
        m->slots[i].respawn_at = -1;
    }
    for (am_process_t *p = m->processes; p != NULL; p = p->next) {
        am_process_stop(m, p, sig, timeout);
    }
}
