/* master/process.c: worker processes: fork, read their messages, reap,
 * respawn with backoff, detect boot failures, enforce deadlines.
 *
 * Everything here runs from the master's loop (master/master.c), never from a
 * signal handler. A child is only forgotten when waitpid() returns it; its
 * IPC channel is drained first, so a READY or BOOT_ERROR sent just before
 * exiting is never lost to the race between SIGCHLD and the socket.
 *
 * Boot failures (exit code 3, or any exit before READY) stop the master with
 * exit code 1 while the generation has never been ready: the app cannot
 * start, and respawning would only fill the log. Once it has served, a boot
 * failure is retried with backoff (a database may be down for a moment), up
 * to AM_MASTER_BOOT_RETRIES in a row for one slot.
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/core.h"
#include "common/ipc.h"
#include "common/log.h"
#include "master/master.h"
#include "worker/worker.h"

static void process_child(am_master_t *m, int slot, int ipc_fd)
    __attribute__((noreturn));
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
am_process_spawn(am_master_t *m, int slot)
{
    am_slot_t *s = &m->slots[slot - 1];
    am_process_t *p;
    struct epoll_event ev;
    int fds[2];
    pid_t pid;

    AM_ASSERT(s->process == NULL);
    s->respawn_at = -1;

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
        process_child(m, slot, fds[1]);
    }
    close(fds[1]);

    p = am_calloc(1, sizeof(*p));
    p->id = ++m->next_id;
    p->pid = pid;
    p->slot = slot;
    p->state = AM_PROCESS_STARTING;
    p->ipc_fd = fds[0];
    p->generation = m->generation;
    p->started = am_now_msec();
    p->deadline =
        m->conf->timeout_boot > 0 ? p->started + m->conf->timeout_boot : -1;
    p->next = m->processes;
    m->processes = p;
    m->nprocesses++;
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

/* The child: leave nothing of the master's behind, then become a worker. */
static void
process_child(am_master_t *m, int slot, int ipc_fd)
{
    struct sigaction sa;
    sigset_t mask;
    int rc;

    am_log_slot = slot;

    /* Fork copied the master's fds; none has FD_CLOEXEC effect without an
     * exec, so close them by hand. Listeners stay: they are the point. */
    close(m->epfd);
    close(m->sigfd);
    for (am_process_t *p = m->processes; p != NULL; p = p->next) {
        if (p->ipc_fd != -1) {
            close(p->ipc_fd);
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

    rc = am_worker_main(m->conf, slot, ipc_fd);
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
            m->slots[p->slot - 1].boot_failures = 0;
            g->nready++;
            g->ever_ready = 1;
            am_log(AM_LOG_NOTICE, 0, "worker %d (slot %d) ready", (int)p->pid,
                   p->slot);
            if (!g->all_ready && g == m->generation && g->nready >= m->nslots) {
                g->all_ready = 1;
                am_log(AM_LOG_NOTICE, 0, "all %d workers ready", m->nslots);
            }
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
            continue; /* not a worker of ours */
        }

        /* What it sent before exiting is still queued in the socket. */
        am_process_on_ipc(m, p);
        process_ipc_close(m, p);
        process_unlink(m, p);
        process_exited(m, p, status);
        free(p);
    }
}

static void
process_exited(am_master_t *m, am_process_t *p, int status)
{
    am_slot_t *s = &m->slots[p->slot - 1];
    am_generation_t *g = p->generation;
    am_msec_t now = am_now_msec();
    char buf[128], reason[AM_IPC_TEXT_MAX + 64];
    am_msec_t delay;
    int boot;

    if (p->state == AM_PROCESS_READY) {
        g->nready--;
    }
    if (p->slot <= m->nslots && s->process == p) {
        s->process = NULL;
    }

    process_status(status, buf, sizeof(buf));

    if (p->state == AM_PROCESS_STOPPING || m->state != AM_MASTER_RUNNING) {
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
                 am_process_duration(m->conf->timeout_boot, buf, sizeof(buf)));
    } else {
        snprintf(reason, sizeof(reason), "%s", buf);
    }
    process_boot_failed(m, p, reason);
}

static void
process_boot_failed(am_master_t *m, am_process_t *p, const char *reason)
{
    am_slot_t *s = &m->slots[p->slot - 1];
    am_msec_t delay;
    char buf[32];

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
    am_slot_t *s = &m->slots[p->slot - 1];
    am_msec_t delay;

    if (p->slot > m->nslots || s->process != NULL || s->respawn_at != -1) {
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
    for (int i = 0; i < m->nslots; i++) {
        m->slots[i].respawn_at = -1;
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
    if (p->slot <= m->nslots && m->slots[p->slot - 1].process == p) {
        m->slots[p->slot - 1].process = NULL;
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
            am_log(
                AM_LOG_WARN, 0, "worker %d (slot %d) not ready in %s, killing",
                (int)p->pid, p->slot,
                am_process_duration(m->conf->timeout_boot, buf, sizeof(buf)));
            p->boot_timed_out = 1;
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
        for (int i = 0; i < m->nslots; i++) {
            am_slot_t *s = &m->slots[i];

            if (s->respawn_at == -1 || s->process != NULL) {
                continue;
            }
            if (s->respawn_at <= now) {
                am_process_spawn(m, i + 1);
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
    am_slot_t *s;

    if (delta > 0) {
        /* The table never shrinks: workers of a removed slot may still be
         * stopping and look their slot up when reaped. */
        if (m->nslots == m->slots_size) {
            m->slots_size *= 2;
            m->slots = am_realloc(m->slots, m->slots_size * sizeof(am_slot_t));
        }
        s = &m->slots[m->nslots++];
        memset(s, 0, sizeof(*s));
        s->respawn_at = -1;
        am_log(AM_LOG_NOTICE, 0, "SIGTTIN received: %d workers", m->nslots);
        m->generation->all_ready = 0;
        am_process_spawn(m, m->nslots);
        return;
    }

    if (m->nslots <= 1) {
        am_log(AM_LOG_WARN, 0, "SIGTTOU received: already at one worker");
        return;
    }
    s = &m->slots[m->nslots - 1];
    if (s->process != NULL) {
        am_process_stop(m, s->process, SIGTERM, m->conf->timeout_graceful);
    }
    m->nslots--;
    am_log(AM_LOG_NOTICE, 0, "SIGTTOU received: %d workers", m->nslots);
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
