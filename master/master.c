/* master/master.c: the supervisor loop.
 *
 * One epoll set holds a signalfd and each worker's IPC channel; deadlines
 * (respawn backoff, boot and stop timeouts, the watchdog tick) become the
 * epoll_wait() timeout. Every signal the master acts on is blocked and read
 * from the signalfd, so no code runs in a signal handler and a signal never
 * interrupts a half-done update of the process table.
 *
 * Signals (asgimaster(8), SIGNALS):
 *   SIGTERM, SIGINT  graceful stop: workers get SIGTERM and
 *                    timeouts.graceful, then SIGKILL. A second SIGINT
 *                    (Ctrl-C twice) turns it into an immediate stop; a second
 *                    SIGTERM keeps waiting.
 *   SIGQUIT          immediate stop: SIGQUIT, SIGKILL after 1s.
 *   SIGCHLD          reap, log, respawn or give up (master/process.c).
 *   SIGHUP           reload: a new generation, then the old one drains
 *                    (master/reload.c).
 *   SIGUSR1          reopen the log files, and tell the workers to.
 *   SIGUSR2          binary upgrade (master/upgrade.c).
 *   SIGTTIN/SIGTTOU  one worker more/less.
 */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/core.h"
#include "common/log.h"
#include "common/stats.h"
#include "master/generation.h"
#include "master/listen.h"
#include "master/master.h"
#include "master/notify.h"
#include "master/pidfile.h"
#include "master/process.h"
#include "master/reload.h"
#include "master/state.h"
#include "master/upgrade.h"
#include "master/watch.h"

#define MASTER_EVENTS 64

/* epoll keys of the signalfd and of --reload's inotify fd; processes
 * count from 1. */
#define MASTER_SIGNAL_KEY 0
#define MASTER_WATCH_KEY  (-1)

static int master_init(am_master_t *m, am_conf_t *conf);
static void master_on_signals(am_master_t *m);
static void master_on_signal(am_master_t *m, int sig);
static void master_stop(am_master_t *m, int sig);
static int master_resolve_user(am_master_t *m, am_conf_t *conf);
static void master_on_all_ready(am_master_t *m);

static const int master_signals[] = {
    SIGCHLD, SIGTERM, SIGINT,  SIGQUIT, SIGHUP,
    SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU,
};

int
am_master_run(am_conf_t *conf, am_master_load_pt load, char **argv,
              pid_t parent)
{
    static am_master_t master;
    am_master_t *m = &master;
    struct epoll_event events[MASTER_EVENTS];
    char names[1024];
    int n, timeout, wt;

    if (master_init(m, conf) != AM_OK) {
        am_listen_close_all(conf);
        am_conf_destroy(conf);
        return AM_EXIT_CONFIG;
    }
    m->load = load;
    m->argv = argv;
    m->parent_pid = parent;

    am_log(AM_LOG_NOTICE, 0,
           "asgimaster " AM_VERSION " started, %d workers, listening on %s",
           m->generation->nslots, am_listen_names(conf, names, sizeof(names)));
    am_notify("STATUS=starting %d workers", m->generation->nslots);

    for (int slot = 1; slot <= m->generation->nslots; slot++) {
        am_process_spawn(m, m->generation, slot);
    }
    if (am_watch_start(m, MASTER_WATCH_KEY) != AM_OK) {
        master_stop(m, SIGTERM);
    }

    for (;;) {
        timeout = am_process_timers(m);
        wt = am_watch_timer(m);
        if (wt != -1 && (timeout == -1 || wt < timeout)) {
            timeout = wt;
        }
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
            if (events[i].data.u64 == (uint64_t)MASTER_WATCH_KEY) {
                am_watch_on_readable(m);
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

    /* Every generation is gone by now but the serving one (and a booting
     * one that never served). After a binary upgrade the new master owns
     * the sockets: close our fds, leave the files. */
    while (m->generations != NULL) {
        am_generation_t *g = m->generations;

        if (m->upgraded) {
            for (size_t i = 0; i < g->conf->nlisten; i++) {
                am_listen_t *l = &g->conf->listen[i];

                if (l->fd != -1) {
                    close(l->fd);
                    l->fd = -1;
                }
            }
        }
        g->state = AM_GENERATION_RETIRING;
        am_generation_destroy(m, g);
    }
    if (m->pidfile != NULL) {
        am_pidfile_remove(m->pidfile);
        if (m->upgraded) {
            char old[4096];

            snprintf(old, sizeof(old), "%s.oldbin", m->pidfile);
            am_pidfile_remove(old);
        }
    }
    am_log(AM_LOG_NOTICE, 0, "exiting");
    return m->exit_code;
}

static int
master_init(am_master_t *m, am_conf_t *conf)
{
    struct epoll_event ev;
    struct sigaction sa;

    memset(m, 0, sizeof(*m));
    m->hooks.booting_ready = am_reload_on_ready;
    m->hooks.booting_failed = am_reload_abandon;
    m->hooks.all_ready = master_on_all_ready;
    m->hooks.upgrade_exited = am_upgrade_on_exit;
    m->conf = conf;
    m->pid = getpid();
    m->epfd = -1;
    m->sigfd = -1;
    m->watch_fd = -1;
    m->state = AM_MASTER_RUNNING;
    m->exit_code = AM_EXIT_OK;
    m->watchdog_at = am_now_msec() + AM_MASTER_WATCHDOG_TICK;
    srandom((unsigned)time(NULL) ^ ((unsigned)getpid() << 16));

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

    m->stats = am_stats_create();
    if (m->stats == NULL) {
        return AM_ERROR;
    }
    am_stats_shared = m->stats;

    AM_ASSERT(conf->workers > 0);
    m->generation = am_generation_create(m, conf, AM_GENERATION_SERVING);
    m->stats->generation = m->generation->id;
    if (conf->pidfile != NULL) {
        m->pidfile = am_strdup(conf->pidfile);
    }
    return master_resolve_user(m, conf);
}

/* user and group, by name or number, resolved once: a worker cannot read
 * /etc/passwd after it dropped privileges, and a typo must stop the start,
 * not every worker. */
static int
master_resolve_user(am_master_t *m, am_conf_t *conf)
{
    struct passwd *pw = NULL;
    struct group *gr;
    char *end;
    long n;

    if (conf->user != NULL && conf->user[0] != '\0') {
        pw = getpwnam(conf->user);
        if (pw == NULL) {
            n = strtol(conf->user, &end, 10);
            if (*end == '\0' && end != conf->user && n >= 0) {
                pw = getpwuid((uid_t)n);
                if (pw == NULL) {
                    m->uid = (uid_t)n;
                    m->gid = getgid();
                }
            } else {
                am_log(AM_LOG_EMERG, 0, "user \"%s\": no such user",
                       conf->user);
                return AM_ERROR;
            }
        }
        if (pw != NULL) {
            m->uid = pw->pw_uid;
            m->gid = pw->pw_gid;
        }
        m->drop = 1;
        m->user = am_strdup(conf->user);
    }
    if (conf->group != NULL && conf->group[0] != '\0') {
        gr = getgrnam(conf->group);
        if (gr != NULL) {
            m->gid = gr->gr_gid;
        } else {
            n = strtol(conf->group, &end, 10);
            if (*end != '\0' || end == conf->group || n < 0) {
                am_log(AM_LOG_EMERG, 0, "group \"%s\": no such group",
                       conf->group);
                return AM_ERROR;
            }
            m->gid = (gid_t)n;
        }
        if (!m->drop) {
            m->drop = 1;
            m->uid = getuid();
            m->user = am_strdup("(unchanged)");
        }
    }
    return AM_OK;
}

static void
master_on_all_ready(am_master_t *m)
{
    static int first = 1;

    am_notify("READY=1\nSTATUS=generation %u serving, %d workers",
              m->generation->id, m->generation->nslots);
    if (!first) {
        return;
    }
    first = 0;
    if (m->parent_pid > 0) {
        /* A binary upgrade: our workers serve, the old master may drain
         * its own and exit (it leaves the sockets to us). */
        am_log(AM_LOG_NOTICE, 0,
               "binary upgrade: workers ready, stopping the old master %d",
               (int)m->parent_pid);
        if (kill(m->parent_pid, SIGTERM) == -1 && errno != ESRCH) {
            am_log(AM_LOG_ALERT, errno, "kill(%d, SIGTERM) failed",
                   (int)m->parent_pid);
        }
        m->parent_pid = 0;
    }
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
        if (m->state != AM_MASTER_RUNNING) {
            am_log(AM_LOG_NOTICE, 0, "SIGHUP ignored while stopping");
            break;
        }
        am_reload_request(m);
        break;

    case SIGUSR2:
        if (m->state != AM_MASTER_RUNNING) {
            am_log(AM_LOG_NOTICE, 0, "SIGUSR2 ignored while stopping");
            break;
        }
        am_upgrade_start(m);
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
    am_notify("STOPPING=1");
    if (m->upgrade_pid > 0) {
        /* The new master we exec'ed holds the listeners now (if it is
         * still starting and fails, the sockets go with us). */
        m->upgraded = 1;
    }
    for (am_generation_t *g = m->generations; g != NULL; g = g->next) {
        for (int i = 0; i < g->nslots; i++) {
            g->slots[i].respawn_at = -1;
        }
    }
    for (am_process_t *p = m->processes; p != NULL; p = p->next) {
        am_process_stop(m, p, sig, timeout);
    }
}
