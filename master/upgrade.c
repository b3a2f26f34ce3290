/* master/upgrade.c: SIGUSR2 binary upgrade, and listeners inherited from
 * an old master or from systemd.
 *
 * The protocol (asgimaster(8), BINARY UPGRADE), nginx's with our names:
 *  1. The old master renames its pidfile to PIDFILE.oldbin, clears
 *     FD_CLOEXEC on the serving generation's listeners (they never have
 *     it) and fork()s and execve()s the binary at the path it was started
 *     from (it may have been replaced since) with the same argv and two
 *     variables more:
 *       ASGIMASTER_INHERIT="FD:ADDRESS;FD:ADDRESS;..." its listeners;
 *       ASGIMASTER_PARENT_PID=PID the old master.
 *  2. The new master loads its configuration as usual; each listener whose
 *     address equals an inherited socket's (getsockname(), the ADDRESS
 *     text is for people) takes that fd instead of binding; inherited fds
 *     no listener wants are closed with a warning. It writes the pidfile.
 *  3. When all its workers are ready it sends SIGTERM to the old master,
 *     which stops its workers gracefully and exits, leaving the sockets
 *     and their files to the new master and removing PIDFILE.oldbin.
 *  If the new master exits before that, the old one renames
 *  PIDFILE.oldbin back and goes on serving.
 *
 * systemd socket activation: when LISTEN_PID is our pid, fds 3 to
 * 3+LISTEN_FDS-1 are matched the same way.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/core.h"
#include "common/log.h"
#include "master/listen.h"
#include "master/state.h"
#include "master/upgrade.h"

#define UPGRADE_ENV_INHERIT "ASGIMASTER_INHERIT"
#define UPGRADE_ENV_PARENT  "ASGIMASTER_PARENT_PID"
#define UPGRADE_MAX_FDS     256

extern char **environ;

static char upgrade_exe[4096];

static int upgrade_take(am_conf_t *conf, int fd, int own_files);

/* The binary as started: argv[0] resolved now, before anything changes
 * directory; exec'ed by a later SIGUSR2 even if a new file replaced it. */
static void
upgrade_find_exe(char *const *argv)
{
    char *p;

    if (upgrade_exe[0] != '\0') {
        return;
    }
    if (strchr(argv[0], '/') != NULL && (p = realpath(argv[0], NULL))) {
        snprintf(upgrade_exe, sizeof(upgrade_exe), "%s", p);
        free(p);
        return;
    }
    /* Found through $PATH: the running binary's path (without the
     * " (deleted)" a replaced file gets). */
    ssize_t n =
        readlink("/proc/self/exe", upgrade_exe, sizeof(upgrade_exe) - 1);
    if (n > 0) {
        upgrade_exe[n] = '\0';
        p = strstr(upgrade_exe, " (deleted)");
        if (p != NULL) {
            *p = '\0';
        }
    }
}

void
am_upgrade_start(am_master_t *m)
{
    char inherit[8192], parent[32], old[4096], **env;
    am_conf_t *conf = m->conf;
    size_t len = 0, n = 0;
    sigset_t none;
    pid_t pid;
    int flags;

    if (m->upgrade_pid > 0) {
        am_log(AM_LOG_WARN, 0,
               "SIGUSR2: binary upgrade to %d in progress, ignored",
               (int)m->upgrade_pid);
        return;
    }
    upgrade_find_exe(m->argv);
    am_log(AM_LOG_NOTICE, 0, "binary upgrade: starting %s", upgrade_exe);

    inherit[0] = '\0';
    for (size_t i = 0; i < conf->nlisten; i++) {
        am_listen_t *l = &conf->listen[i];

        if (l->fd == -1) {
            continue;
        }
        flags = fcntl(l->fd, F_GETFD);
        if (flags != -1 && (flags & FD_CLOEXEC)) {
            fcntl(l->fd, F_SETFD, flags & ~FD_CLOEXEC);
        }
        len += (size_t)snprintf(inherit + len, sizeof(inherit) - len, "%s%d:%s",
                                len ? ";" : "", l->fd, l->address);
        if (len >= sizeof(inherit)) {
            am_log(AM_LOG_ERROR, 0,
                   "binary upgrade failed: too many listeners");
            return;
        }
    }
    snprintf(parent, sizeof(parent), "%d", (int)m->pid);

    if (m->pidfile != NULL) {
        snprintf(old, sizeof(old), "%s.oldbin", m->pidfile);
        if (rename(m->pidfile, old) == -1) {
            am_log(AM_LOG_ALERT, errno, "rename(\"%s\", \"%s\") failed",
                   m->pidfile, old);
        }
    }

    pid = fork();
    if (pid == -1) {
        am_log(AM_LOG_ALERT, errno, "fork() failed");
        goto failed;
    }
    if (pid == 0) {
        /* The new master starts with our environment plus the two
         * variables, default signal dispositions and nothing blocked. */
        for (env = environ; *env != NULL; env++) {
            n++;
        }
        char **envp = am_calloc(n + 3, sizeof(char *));
        size_t k = 0;

        for (env = environ; *env != NULL; env++) {
            if (strncmp(*env, UPGRADE_ENV_INHERIT "=",
                        sizeof(UPGRADE_ENV_INHERIT)) != 0 &&
                strncmp(*env, UPGRADE_ENV_PARENT "=",
                        sizeof(UPGRADE_ENV_PARENT)) != 0 &&
                strncmp(*env, "LISTEN_FDS=", 11) != 0 &&
                strncmp(*env, "LISTEN_PID=", 11) != 0) {
                envp[k++] = *env;
            }
        }
        size_t isz = strlen(inherit) + sizeof(UPGRADE_ENV_INHERIT) + 1;
        envp[k] = am_alloc(isz);
        snprintf(envp[k++], isz, UPGRADE_ENV_INHERIT "=%s", inherit);
        envp[k] = am_alloc(64);
        snprintf(envp[k++], 64, UPGRADE_ENV_PARENT "=%s", parent);
        envp[k] = NULL;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execve(upgrade_exe, m->argv, envp);
        am_log(AM_LOG_ALERT, errno, "execve(\"%s\") failed", upgrade_exe);
        _exit(127);
    }

    m->upgrade_pid = pid;
    am_log(AM_LOG_NOTICE, 0, "binary upgrade: new master %d started", (int)pid);
    return;

failed:
    if (m->pidfile != NULL) {
        rename(old, m->pidfile);
    }
}

void
am_upgrade_on_exit(am_master_t *m, int status)
{
    char old[4096];

    if (WIFEXITED(status)) {
        am_log(m->state == AM_MASTER_RUNNING ? AM_LOG_ERROR : AM_LOG_NOTICE, 0,
               "binary upgrade: new master %d exited with code %d",
               (int)m->upgrade_pid, WEXITSTATUS(status));
    } else {
        am_log(AM_LOG_ERROR, 0,
               "binary upgrade: new master %d exited on signal %d",
               (int)m->upgrade_pid, WTERMSIG(status));
    }
    m->upgrade_pid = 0;
    if (m->state != AM_MASTER_RUNNING) {
        return;
    }
    /* It never took over: we serve on, under the pidfile again. */
    m->upgraded = 0;
    if (m->pidfile != NULL) {
        snprintf(old, sizeof(old), "%s.oldbin", m->pidfile);
        if (rename(old, m->pidfile) == -1 && errno != ENOENT) {
            am_log(AM_LOG_ALERT, errno, "rename(\"%s\", \"%s\") failed", old,
                   m->pidfile);
        }
    }
}

/* fd is an inherited listener: give it to the listener of the same
 * address. AM_OK, or AM_DECLINED when none wants it. */
static int
upgrade_take(am_conf_t *conf, int fd, int own_files)
{
    int flags;

    for (size_t i = 0; i < conf->nlisten; i++) {
        am_listen_t *l = &conf->listen[i];

        if (l->fd != -1 || !am_listen_matches_fd(l, fd)) {
            continue;
        }
        l->fd = fd;
        flags = fcntl(fd, F_GETFL);
        if (flags != -1 && !(flags & O_NONBLOCK)) {
            fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        }
        if (own_files) {
            am_listen_adopt_file(l);
        }
        am_log(AM_LOG_NOTICE, 0, "using the inherited socket %d for %s", fd,
               l->address);
        return AM_OK;
    }
    return AM_DECLINED;
}

void
am_upgrade_inherit(am_conf_t *conf, pid_t *parent, char *const *argv)
{
    const char *inherit = getenv(UPGRADE_ENV_INHERIT);
    const char *pp = getenv(UPGRADE_ENV_PARENT);
    const char *lpid = getenv("LISTEN_PID");
    const char *lfds = getenv("LISTEN_FDS");
    char *copy, *item, *save, *end;
    long fd, n;

    *parent = 0;
    upgrade_find_exe(argv);

    if (inherit != NULL) {
        copy = am_strdup(inherit);
        for (item = strtok_r(copy, ";", &save); item != NULL;
             item = strtok_r(NULL, ";", &save)) {
            fd = strtol(item, &end, 10);
            if (end == item || *end != ':' || fd < 3 ||
                fd >= UPGRADE_MAX_FDS + 3) {
                am_log(AM_LOG_WARN, 0, UPGRADE_ENV_INHERIT ": ignoring \"%s\"",
                       item);
                continue;
            }
            if (upgrade_take(conf, (int)fd, 1) != AM_OK) {
                am_log(AM_LOG_WARN, 0,
                       "inherited socket %ld (%s) is not in the "
                       "configuration, closing it",
                       fd, end + 1);
                close((int)fd);
            }
        }
        free(copy);
        if (pp != NULL) {
            n = strtol(pp, &end, 10);
            if (*end == '\0' && n > 1 && n == (long)getppid()) {
                *parent = (pid_t)n;
            }
        }
    }
    unsetenv(UPGRADE_ENV_INHERIT);
    unsetenv(UPGRADE_ENV_PARENT);

    /* sd_listen_fds(3): for us only if LISTEN_PID is our pid. */
    if (lpid != NULL && lfds != NULL && strtol(lpid, NULL, 10) == getpid()) {
        n = strtol(lfds, &end, 10);
        for (long i = 0; *end == '\0' && i < n && i < UPGRADE_MAX_FDS; i++) {
            fd = 3 + i;
            fcntl((int)fd, F_SETFD, 0); /* workers inherit it */
            if (upgrade_take(conf, (int)fd, 0) != AM_OK) {
                am_log(AM_LOG_WARN, 0,
                       "socket-activated fd %ld matches no listener, "
                       "closing it",
                       fd);
                close((int)fd);
            }
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
}
