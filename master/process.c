/* master/process.c: worker processes: fork, read their messages, reap,
 * respawn with backoff, detect boot failures, enforce deadlines.
 *
 * Everything here runs from the master's loop (master/master.c), never from a
 * signal handler. A child is only forgotten when waitpid() returns it; its
 * IPC channel is drained first, so a READY or BOOT_ERROR sent just before
 * exiting is never lost to the race between SIGCHLD and the socket.
 *
 * Boot failures (exit code 3, or any exit before READY) stop the master with
 * exit code 1 while the first generation has never been ready: the app
 * cannot start, and respawning would only fill the log. A reload's
 * generation that fails to boot is abandoned instead and the serving one
 * goes on (master/reload.c). Once it has served, a boot failure is retried
 * with backoff (a database may be down for a moment), up to
 * AM_MASTER_BOOT_RETRIES in a row for one slot.
 *
 * The watchdog: a ready worker writes its heartbeat into the shared stats
 * each loop turn; one whose heartbeat is older than timeouts.worker gets
 * SIGABRT (faulthandler writes its Python stack to the error log), SIGKILL
 * 2s later, and a replacement at once. max_requests: a worker that sends
 * RECYCLE keeps serving while its replacement boots in its slot, and gets
 * SIGTERM when the replacement is ready.
 */

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/core.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/worker_entry.h"
#include "master/generation.h"
#include "master/process.h"
#include "master/state.h"

static void process_child(am_master_t *m, am_generation_t *g, int slot,
                          int ipc_fd, int stats_index, size_t max_requests)
    __attribute__((noreturn));
static int process_stats_slot(am_master_t *m);
static void process_on_ready(am_master_t *m, am_process_t *p);
static void process_on_recycle(am_master_t *m, am_process_t *p);
static am_msec_t process_watchdog(am_master_t *m, am_msec_t now);
static void process_count_exit(am_master_t *m, am_process_t *p, int status);
static void process_ipc_close(am_master_t *m, am_process_t *p);
static void process_exited(am_master_t *m, am_process_t *p, int status);
static void process_boot_failed(am_master_t *m, am_process_t *p,
                                const char *reason);
static am_msec_t process_respawn_later(am_master_t *m, am_process_t *p,
                                       int quick);
static void process_fatal(am_master_t *m);
static void process_unlink(am_master_t *m, am_process_t *p);
static const char *process_status(int status, char *buf, size_t size);

int
am_process_spawn(am_master_t *m, am_generation_t *g, int slot)
{
    am_slot_t *s = &g->slots[slot - 1];
    am_conf_t *conf = g->conf;
    am_process_t *p;
    struct epoll_event ev;
    size_t max_requests;
    int fds[2], index;
    pid_t pid;

    AM_ASSERT(s->process == NULL);
    s->respawn_at = -1;

    index = process_stats_slot(m);
    if (index == -1) {
        am_log(AM_LOG_ALERT, 0, "all %d stats slots are in use",
               AM_STATS_SLOTS);
        goto failed;
    }

    /* Each worker draws its own jitter, so they do not recycle at once. */
    max_requests = conf->max_requests;
    if (max_requests > 0 && conf->max_requests_jitter > 0) {
        max_requests += (size_t)random() % (conf->max_requests_jitter + 1);
    }

    if (am_ipc_pair(fds) != AM_OK) {
        goto failed;
    }

    pid = fork();
    if (pid == -1) {
        am_log(AM_LOG_ALERT, errno, "fork() failed");
        close(fds[0]);
        close(fds[1]);
        goto failed;
    }
    if (pid == 0) {
        close(fds[0]);
        process_child(m, g, slot, fds[1], index, max_requests);
    }
    close(fds[1]);
    m->stats->workers[index].pid = pid;
    m->stats->workers[index].slot = slot; /* as the log's "#N" */
    m->stats->worker_starts++;

    p = am_calloc(1, sizeof(*p));
    p->id = ++m->next_id;
    p->pid = pid;
    p->slot = slot;
    p->state = AM_PROCESS_STARTING;
    p->ipc_fd = fds[0];
    p->generation = g;
    p->stats_index = index;
    p->started = am_now_msec();
    p->deadline = conf->timeout_boot > 0 ? p->started + conf->timeout_boot : -1;
    p->next = m->processes;
    m->processes = p;
    m->nprocesses++;
    g->nprocesses++;
    s->process = p;

    ev.events = EPOLLIN;
    ev.data.u64 = p->id;
    if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, p->ipc_fd, &ev) == -1) {
        /* Not fatal: READY is still read when the worker is reaped. */
        am_log(AM_LOG_ALERT, errno,
               "epoll_ctl(ADD) of a worker channel failed");
    }

    am_log(AM_LOG_NOTICE, 0, "worker %d (slot %d) started", (int)pid, slot);
    return AM_OK;

failed:
    s->respawn_at = am_now_msec() + AM_MASTER_BACKOFF_MAX;
    return AM_ERROR;
}

/* A free stats slot, cleared and marked in use before the fork so the
 * worker starts from zero and its counters are summed at once. */
static int
process_stats_slot(am_master_t *m)
{
    am_worker_stats_t *w;

    for (int i = 0; i < AM_STATS_SLOTS; i++) {
        w = &m->stats->workers[i];
        if (!w->in_use) {
            memset((void *)w, 0, sizeof(*w));
            w->in_use = 1;
            return i;
        }
    }
    return -1;
}

/* The child: leave nothing of the master's behind, then become a worker. */
static void
process_child(am_master_t *m, am_generation_t *g, int slot, int ipc_fd,
              int stats_index, size_t max_requests)
{
    am_conf_t *conf = g->conf;
    char err[AM_IPC_TEXT_MAX];
    struct sigaction sa;
    sigset_t mask;
    int rc, mine;

    am_log_slot = slot;
    am_stats_shared = m->stats;
    am_stats_self = &m->stats->workers[stats_index];
    conf->max_requests = max_requests;

    /* Fork copied the master's fds; none has FD_CLOEXEC effect without an
     * exec, so close them by hand. Its own generation's listeners stay:
     * they are the point; another generation's must go, or a listener the
     * master closes would live on in this worker with nobody accepting. */
    close(m->epfd);
    close(m->sigfd);
    if (m->watch_fd != -1) {
        close(m->watch_fd);
    }
    for (am_process_t *p = m->processes; p != NULL; p = p->next) {
        if (p->ipc_fd != -1) {
            close(p->ipc_fd);
        }
    }
    for (am_generation_t *o = m->generations; o != NULL; o = o->next) {
        for (size_t i = 0; o != g && i < o->conf->nlisten; i++) {
            mine = 0;
            for (size_t j = 0; j < conf->nlisten; j++) {
                mine |= conf->listen[j].fd == o->conf->listen[i].fd;
            }
            if (!mine && o->conf->listen[i].fd != -1) {
                close(o->conf->listen[i].fd);
            }
        }
    }

    /* The worker starts from default dispositions and sets up what it
     * needs (its own signalfd, SIGPIPE). SIGUSR1 (and SIGHUP, later) stay
     * blocked: the master forwards them to booting workers too, and a
     * signal that arrives before the worker's signalfd exists must wait
     * for it, not kill the worker. Nothing else stays blocked. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            sigaction(sig, &sa, NULL);
        }
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_SETMASK, &mask, NULL);

    /* A worker must not outlive its master. The master may have died
     * before prctl() ran: then we have been reparented already. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1) {
        am_log(AM_LOG_ALERT, errno, "prctl(PR_SET_PDEATHSIG) failed");
    }
    if (getppid() != m->pid) {
        _exit(AM_EXIT_OK);
    }

    /* user/group: the listeners are bound, Python is not running yet. */
    if (m->drop) {
        if (setgroups(1, &m->gid) == -1 || setgid(m->gid) == -1 ||
            setuid(m->uid) == -1) {
            snprintf(err, sizeof(err),
                     "cannot run as user %s (uid %d, gid %d): %s", m->user,
                     (int)m->uid, (int)m->gid, strerror(errno));
            am_log(AM_LOG_EMERG, 0, "%s", err);
            am_ipc_send(ipc_fd, AM_IPC_BOOT_ERROR, err);
            _exit(AM_EXIT_BOOT);
        }
    }

    rc = am_worker_main(conf, slot, ipc_fd);
    fflush(NULL);
    _exit(rc);
}

void
am_process_on_ipc(am_master_t *m, am_process_t *p)
{
    am_ipc_msg_t msg;
    am_generation_t *g = p->generation;
    int rc;

    while (p->ipc_fd != -1) {
        rc = am_ipc_recv(p->ipc_fd, &msg);
        if (rc == AM_AGAIN) {
            return;
        }
        if (rc != AM_OK) {
            /* EOF: the worker is exiting; waitpid() tells the rest. */
            process_ipc_close(m, p);
            return;
        }

        switch (msg.type) {
        case AM_IPC_READY:
            if (p->state != AM_PROCESS_STARTING) {
                break;
            }
            p->state = AM_PROCESS_READY;
            p->ready_at = am_now_msec();
            p->deadline = -1;
            g->slots[p->slot - 1].boot_failures = 0;
            g->nready++;
            g->ever_ready = 1;
            if (m->stats != NULL && p->stats_index != -1) {
                m->stats->workers[p->stats_index].ready = 1;
            }
            am_log(AM_LOG_NOTICE, 0, "worker %d (slot %d) ready", (int)p->pid,
                   p->slot);
            process_on_ready(m, p);
            break;

        case AM_IPC_RECYCLE:
            process_on_recycle(m, p);
            break;

        case AM_IPC_BOOT_ERROR:
            p->boot_error = 1;
            memcpy(p->reason, msg.text, msg.len + 1);
            break;

        default:
            am_log(AM_LOG_ALERT, 0, "unknown message %u from worker %d",
                   (unsigned)msg.type, (int)p->pid);
            break;
        }
    }
}

static void
process_on_ready(am_master_t *m, am_process_t *p)
{
    am_generation_t *g = p->generation;
    am_process_t *old;

    if (p->replaces != 0) {
        /* A recycled worker's replacement: now the old one may go. */
        old = am_process_find(m, p->replaces);
        p->replaces = 0;
        if (old != NULL && old->state != AM_PROCESS_STOPPING) {
            am_log(AM_LOG_NOTICE, 0, "worker %d (slot %d) replaced, stopping",
                   (int)old->pid, old->slot);
            am_ipc_send(old->ipc_fd, AM_IPC_RESTART, NULL);
            am_process_stop(m, old, SIGTERM, g->conf->timeout_graceful);
        }
    }

    if (g == m->booting) {
        m->hooks.booting_ready(m);
        return;
    }
    if (!g->all_ready && g == m->generation && g->nready >= g->nslots) {
        g->all_ready = 1;
        am_log(AM_LOG_NOTICE, 0, "all %d workers ready", g->nslots);
        m->hooks.all_ready(m);
    }
}

/* max_requests reached: a replacement boots in the same slot while p keeps
 * serving; p gets SIGTERM once the replacement is ready. */
static void
process_on_recycle(am_master_t *m, am_process_t *p)
{
    am_generation_t *g = p->generation;
    am_slot_t *s;
    am_process_t *r;

    if (p->recycling || p->state != AM_PROCESS_READY ||
        m->state != AM_MASTER_RUNNING || g->state != AM_GENERATION_SERVING ||
        p->slot > g->nslots || g->slots[p->slot - 1].process != p) {
        return;
    }
    s = &g->slots[p->slot - 1];
    p->recycling = 1;
    am_log(AM_LOG_NOTICE, 0,
           "worker %d (slot %d) reached max_requests, starting its "
           "replacement",
           (int)p->pid, p->slot);
    s->process = NULL;
    if (am_process_spawn(m, g, p->slot) != AM_OK) {
        /* Keep serving with the old one; the respawn timer retries. */
        s->respawn_at = -1;
        s->process = p;
        p->recycling = 0;
        return;
    }
    r = s->process;
    AM_ASSERT(r != NULL); /* am_process_spawn() filled the slot */
    r->replaces = p->id;
}

void
am_process_reap(am_master_t *m)
{
    am_process_t *p;
    pid_t pid;
    int status;

    /* A READY sent before a sibling died must count when that death is
     * judged ("has this generation ever been ready?"). */
    for (p = m->processes; p != NULL; p = p->next) {
        am_process_on_ipc(m, p);
    }

    for (;;) {
        do {
            pid = waitpid(-1, &status, WNOHANG);
        } while (pid == -1 && errno == EINTR);
        if (pid == 0 || (pid == -1 && errno == ECHILD)) {
            return;
        }
        if (pid == -1) {
            am_log(AM_LOG_ALERT, errno, "waitpid() failed");
            return;
        }

        for (p = m->processes; p != NULL; p = p->next) {
            if (p->pid == pid) {
                break;
            }
        }
        if (p == NULL) {
            if (pid == m->upgrade_pid) {
                m->hooks.upgrade_exited(m, status);
            }
            continue; /* not a worker of ours */
        }

        /* What it sent before exiting is still queued in the socket. */
        am_process_on_ipc(m, p);
        process_ipc_close(m, p);
        process_unlink(m, p);
        process_count_exit(m, p, status);
        process_exited(m, p, status);
        if (p->stats_index != -1) {
            am_stats_retire(m->stats, (size_t)p->stats_index);
        }
        if (--p->generation->nprocesses == 0 &&
            p->generation->state == AM_GENERATION_RETIRING) {
            am_generation_destroy(m, p->generation);
        }
        free(p);
    }
}

/* asgimaster_worker_exits_total{reason}: normal (exit 0, or the signal we
 * stopped it with), killed (SIGKILL or SIGABRT from us), boot_failure,
 * crash (anything else). */
static void
process_count_exit(am_master_t *m, am_process_t *p, int status)
{
    int reason;

    if (p->killed || p->stuck) {
        reason = 2;
    } else if (p->state == AM_PROCESS_STARTING ||
               (WIFEXITED(status) && WEXITSTATUS(status) == AM_EXIT_BOOT)) {
        reason = 3;
    } else if ((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
               (p->state == AM_PROCESS_STOPPING && WIFSIGNALED(status) &&
                WTERMSIG(status) == p->stop_signal)) {
        reason = 0;
    } else {
        reason = 1;
    }
    m->stats->worker_exits[reason]++;
}

static void
process_exited(am_master_t *m, am_process_t *p, int status)
{
    am_generation_t *g = p->generation;
    am_slot_t *s = &g->slots[p->slot - 1];
    am_msec_t now = am_now_msec();
    char buf[128], reason[AM_IPC_TEXT_MAX + 64];
    am_msec_t delay;
    int boot;

    if (p->state == AM_PROCESS_READY) {
        g->nready--;
    }
    if (p->slot <= g->nslots && s->process == p) {
        s->process = NULL;
    }

    process_status(status, buf, sizeof(buf));

    if (p->state == AM_PROCESS_STOPPING || m->state != AM_MASTER_RUNNING ||
        g->state == AM_GENERATION_RETIRING) {
        /* We asked for it (stop, SIGTTOU) or everything is stopping. */
        int clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                    (WIFSIGNALED(status) &&
                     (WTERMSIG(status) == p->stop_signal ||
                      (p->killed && WTERMSIG(status) == SIGKILL)));

        am_log(clean ? AM_LOG_NOTICE : AM_LOG_WARN, 0, "worker %d (slot %d) %s",
               (int)p->pid, p->slot, buf);
        return;
    }

    boot = p->state == AM_PROCESS_STARTING ||
           (WIFEXITED(status) && WEXITSTATUS(status) == AM_EXIT_BOOT);
    if (!boot) {
        am_log(AM_LOG_CRIT, 0, "worker %d (slot %d) %s", (int)p->pid, p->slot,
               buf);
        delay =
            process_respawn_later(m, p, now - p->ready_at < AM_MASTER_STABLE);
        if (delay > 0) {
            am_log(AM_LOG_WARN, 0, "slot %d keeps failing, respawning in %s",
                   p->slot, am_process_duration(delay, buf, sizeof(buf)));
        }
        return;
    }

    if (p->boot_error && p->reason[0] != '\0') {
        snprintf(reason, sizeof(reason), "%s", p->reason);
    } else if (p->boot_timed_out) {
        snprintf(reason, sizeof(reason), "not ready within %s",
                 am_process_duration(g->conf->timeout_boot, buf, sizeof(buf)));
    } else {
        snprintf(reason, sizeof(reason), "%s", buf);
    }
    process_boot_failed(m, p, reason);
}

static void
process_boot_failed(am_master_t *m, am_process_t *p, const char *reason)
{
    am_slot_t *s = &p->generation->slots[p->slot - 1];
    char buf[32], text[AM_IPC_TEXT_MAX + 256];
    am_msec_t delay;

    if (p->generation == m->booting) {
        /* A reload: the serving generation goes on. */
        snprintf(text, sizeof(text), "worker %d (slot %d) failed to boot: %s",
                 (int)p->pid, p->slot, reason);
        m->hooks.booting_failed(m, text);
        return;
    }

    s->boot_failures++;
    if (!p->generation->ever_ready ||
        s->boot_failures >= AM_MASTER_BOOT_RETRIES) {
        am_log(AM_LOG_EMERG, 0, "worker %d (slot %d) failed to boot: %s",
               (int)p->pid, p->slot, reason);
        process_fatal(m);
        return;
    }

    delay = process_respawn_later(m, p, 1);
    am_log(AM_LOG_CRIT, 0,
           "worker %d (slot %d) failed to boot: %s (%d of %d, retrying in %s)",
           (int)p->pid, p->slot, reason, s->boot_failures,
           AM_MASTER_BOOT_RETRIES,
           am_process_duration(delay, buf, sizeof(buf)));
}

/* quick: it died soon after starting, so the next respawn waits longer.
 * Returns the delay, or -1 when the slot needs no respawn. */
static am_msec_t
process_respawn_later(am_master_t *m, am_process_t *p, int quick)
{
    am_generation_t *g = p->generation;
    am_slot_t *s = &g->slots[p->slot - 1];
    am_msec_t delay;

    if (p->slot > g->nslots || s->process != NULL || s->respawn_at != -1) {
        return -1; /* the slot is gone (SIGTTOU) or already taken */
    }
    if (!quick) {
        s->backoff = 0;
    }
    delay = s->backoff;
    s->respawn_at = am_now_msec() + delay;
    s->backoff = s->backoff == 0
                     ? AM_MASTER_BACKOFF_FIRST
                     : am_min(s->backoff * 2, AM_MASTER_BACKOFF_MAX);
    return delay;
}

/* The app cannot start: stop everything now and exit 1. */
static void
process_fatal(am_master_t *m)
{
    if (m->state == AM_MASTER_RUNNING) {
        m->exit_code = AM_EXIT_CONFIG;
    }
    m->state = AM_MASTER_IMMEDIATE;
    for (am_process_t *p = m->processes; p != NULL; p = p->next) {
        am_process_stop(m, p, SIGQUIT, AM_MASTER_QUIT_TIMEOUT);
    }
    for (am_generation_t *g = m->generations; g != NULL; g = g->next) {
        for (int i = 0; i < g->nslots; i++) {
            g->slots[i].respawn_at = -1;
        }
    }
}

void
am_process_stop(am_master_t *m, am_process_t *p, int sig, am_msec_t timeout)
{
    am_msec_t deadline = am_now_msec() + timeout;

    if (p->killed || (p->state == AM_PROCESS_STOPPING &&
                      (p->stop_signal == SIGQUIT || p->stop_signal == sig))) {
        return;
    }
    if (p->state != AM_PROCESS_STOPPING || deadline < p->deadline) {
        p->deadline = deadline;
        p->stop_limit = timeout;
    }
    if (p->state == AM_PROCESS_READY) {
        p->generation->nready--;
    }
    p->state = AM_PROCESS_STOPPING;
    p->stop_signal = sig;
    if (p->slot <= p->generation->nslots &&
        p->generation->slots[p->slot - 1].process == p) {
        p->generation->slots[p->slot - 1].process = NULL;
    }
    if (kill(p->pid, sig) == -1 && errno != ESRCH) {
        am_log(AM_LOG_ALERT, errno, "kill(%d, %d) failed", (int)p->pid, sig);
    }
}

void
am_process_signal_all(am_master_t *m, int sig)
{
    for (am_process_t *p = m->processes; p != NULL; p = p->next) {
        if (kill(p->pid, sig) == -1 && errno != ESRCH) {
            am_log(AM_LOG_ALERT, errno, "kill(%d, %d) failed", (int)p->pid,
                   sig);
        }
    }
}

int
am_process_timers(am_master_t *m)
{
    am_msec_t now = am_now_msec(), next = -1;
    char buf[32];

    for (am_process_t *p = m->processes; p != NULL; p = p->next) {
        if (p->deadline == -1 || p->killed) {
            continue;
        }
        if (p->deadline > now) {
            next = next == -1 ? p->deadline : am_min(next, p->deadline);
            continue;
        }
        if (p->state == AM_PROCESS_STARTING) {
            am_log(AM_LOG_WARN, 0,
                   "worker %d (slot %d) not ready in %s, killing", (int)p->pid,
                   p->slot,
                   am_process_duration(p->generation->conf->timeout_boot, buf,
                                       sizeof(buf)));
            p->boot_timed_out = 1;
        } else if (p->stuck) {
            am_log(AM_LOG_CRIT, 0,
                   "worker %d (slot %d) still running %s after SIGABRT, "
                   "killing",
                   (int)p->pid, p->slot,
                   am_process_duration(p->stop_limit, buf, sizeof(buf)));
        } else {
            am_log(AM_LOG_WARN, 0, "worker %d did not stop in %s, killing",
                   (int)p->pid,
                   am_process_duration(p->stop_limit, buf, sizeof(buf)));
        }
        p->killed = 1;
        p->deadline = -1;
        if (kill(p->pid, SIGKILL) == -1 && errno != ESRCH) {
            am_log(AM_LOG_ALERT, errno, "kill(%d, SIGKILL) failed",
                   (int)p->pid);
        }
    }

    if (m->state == AM_MASTER_RUNNING) {
        am_msec_t w = process_watchdog(m, now);

        if (w != -1) {
            next = next == -1 ? w : am_min(next, w);
        }
    }

    for (am_generation_t *g = m->generations;
         g != NULL && m->state == AM_MASTER_RUNNING; g = g->next) {
        if (g->state == AM_GENERATION_RETIRING) {
            continue;
        }
        for (int i = 0; i < g->nslots; i++) {
            am_slot_t *s = &g->slots[i];

            if (s->respawn_at == -1 || s->process != NULL) {
                continue;
            }
            if (s->respawn_at <= now) {
                am_process_spawn(m, g, i + 1);
                now = am_now_msec();
            }
            if (s->respawn_at != -1) {
                next = next == -1 ? s->respawn_at : am_min(next, s->respawn_at);
            }
            if (s->process != NULL && s->process->deadline != -1) {
                next = next == -1 ? s->process->deadline
                                  : am_min(next, s->process->deadline);
            }
        }
    }

    if (next == -1) {
        return -1;
    }
    return (int)am_max(next - now, 0);
}

void
am_process_scale(am_master_t *m, int delta)
{
    am_generation_t *g = m->generation;
    am_slot_t *s;

    if (delta > 0) {
        /* The table never shrinks: workers of a removed slot may still be
         * stopping and look their slot up when reaped. */
        if (g->nslots == g->slots_size) {
            g->slots_size *= 2;
            g->slots = am_realloc(g->slots, g->slots_size * sizeof(am_slot_t));
        }
        s = &g->slots[g->nslots++];
        memset(s, 0, sizeof(*s));
        s->respawn_at = -1;
        am_log(AM_LOG_NOTICE, 0, "SIGTTIN received: %d workers", g->nslots);
        g->all_ready = 0;
        am_process_spawn(m, g, g->nslots);
        return;
    }

    if (g->nslots <= 1) {
        am_log(AM_LOG_WARN, 0, "SIGTTOU received: already at one worker");
        return;
    }
    s = &g->slots[g->nslots - 1];
    if (s->process != NULL) {
        am_process_stop(m, s->process, SIGTERM, g->conf->timeout_graceful);
    }
    s->respawn_at = -1;
    g->nslots--;
    am_log(AM_LOG_NOTICE, 0, "SIGTTOU received: %d workers", g->nslots);
}

/* Once a second: a ready worker whose loop has not turned for
 * timeouts.worker is stuck (a blocking call, an endless loop). SIGABRT
 * first: the worker's faulthandler writes every thread's Python stack to
 * the error log; SIGKILL after AM_MASTER_ABORT_TIMEOUT. Its slot gets a
 * new worker at once. Returns when to look again. */
static am_msec_t
process_watchdog(am_master_t *m, am_msec_t now)
{
    am_worker_stats_t *w;
    am_generation_t *g;
    am_msec_t beat, stuck;
    am_slot_t *s;

    if (now < m->watchdog_at) {
        return m->watchdog_at;
    }
    m->watchdog_at = now + AM_MASTER_WATCHDOG_TICK;

    for (am_process_t *p = m->processes; p != NULL; p = p->next) {
        if (p->state != AM_PROCESS_READY || p->stats_index == -1) {
            continue;
        }
        g = p->generation;
        w = &m->stats->workers[p->stats_index];
        beat = w->heartbeat_msec;
        if (beat == 0) {
            continue; /* a worker that does not beat is not watched */
        }
        stuck = now - am_max(beat, p->ready_at);
        if (g->conf->timeout_worker <= 0 || stuck <= g->conf->timeout_worker) {
            continue;
        }

        am_log(AM_LOG_CRIT, 0, "worker %d (slot %d) stuck for %.1fs, aborting",
               (int)p->pid, p->slot, (double)stuck / 1000.0);
        s = p->slot <= g->nslots ? &g->slots[p->slot - 1] : NULL;
        am_process_stop(m, p, SIGABRT, AM_MASTER_ABORT_TIMEOUT);
        p->stuck = 1;
        if (s != NULL && s->process == NULL && s->respawn_at == -1 &&
            g->state != AM_GENERATION_RETIRING) {
            s->respawn_at = now; /* replaced at once, no backoff */
        }
    }
    return m->watchdog_at;
}

am_process_t *
am_process_find(am_master_t *m, uint64_t id)
{
    for (am_process_t *p = m->processes; p != NULL; p = p->next) {
        if (p->id == id) {
            return p;
        }
    }
    return NULL;
}

const char *
am_process_duration(am_msec_t ms, char *buf, size_t size)
{
    if (ms < 0) {
        ms = 0;
    }
    if (ms % 1000 == 0) {
        snprintf(buf, size, "%llds", (long long)(ms / 1000));
    } else {
        snprintf(buf, size, "%lldms", (long long)ms);
    }
    return buf;
}

static void
process_ipc_close(am_master_t *m, am_process_t *p)
{
    if (p->ipc_fd == -1) {
        return;
    }
    /* close() removes it from the epoll set. */
    close(p->ipc_fd);
    p->ipc_fd = -1;
}

static void
process_unlink(am_master_t *m, am_process_t *p)
{
    for (am_process_t **pp = &m->processes; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            m->nprocesses--;
            return;
        }
    }
}

/* "exited with code 1", "exited on signal 9 (Killed)" */
static const char *
process_status(int status, char *buf, size_t size)
{
    if (WIFEXITED(status)) {
        snprintf(buf, size, "exited with code %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(buf, size, "exited on signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)),
                 WCOREDUMP(status) ? ", core dumped" : "");
    } else {
        snprintf(buf, size, "exited with status 0x%x", (unsigned)status);
    }
    return buf;
}

void
am_process_restart_generation(am_master_t *m, am_generation_t *g)
{
    for (am_process_t *p = m->processes; p != NULL; p = p->next) {
        if (p->generation == g && p->ipc_fd != -1) {
            am_ipc_send(p->ipc_fd, AM_IPC_RESTART, NULL);
        }
    }
}

void
am_process_stop_generation(am_master_t *m, am_generation_t *g, int sig,
                           am_msec_t timeout)
{
    g->state = AM_GENERATION_RETIRING;
    for (int i = 0; i < g->nslots; i++) {
        g->slots[i].respawn_at = -1;
    }
    for (am_process_t *p = m->processes; p != NULL; p = p->next) {
        if (p->generation == g) {
            am_process_stop(m, p, sig, timeout);
        }
    }
    if (g->nprocesses == 0) {
        am_generation_destroy(m, g);
    }
}
