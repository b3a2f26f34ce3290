/* master/app_check.c: `asgimaster -t` also imports the app. The import
 * runs in a forked child, as a worker's does: the master never starts the
 * interpreter. Like a worker, the child runs as user/group when the master
 * is root. It reports its one-line reason through a pipe. */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/core.h"
#include "common/log.h"
#include "common/worker_entry.h"
#include "master/app_check.h"

#define APP_CHECK_ERR 1024

/* As a worker does (master/process.c): root drops to user/group before
 * Python starts, so the check imports with the workers' rights. */
static int
app_check_drop(const am_conf_t *conf, char *err, size_t size)
{
    struct passwd *pw;
    struct group *gr;
    uid_t uid;
    gid_t gid;
    char *end;

    if (geteuid() != 0 || (conf->user == NULL && conf->group == NULL)) {
        return AM_OK;
    }
    uid = getuid();
    gid = getgid();
    if (conf->user != NULL) {
        pw = getpwnam(conf->user);
        if (pw != NULL) {
            uid = pw->pw_uid;
            gid = pw->pw_gid;
        } else {
            uid = (uid_t)strtol(conf->user, &end, 10);
            if (*end != '\0' || end == conf->user) {
                snprintf(err, size, "user \"%s\": no such user", conf->user);
                return AM_ERROR;
            }
        }
    }
    if (conf->group != NULL) {
        gr = getgrnam(conf->group);
        if (gr != NULL) {
            gid = gr->gr_gid;
        } else {
            gid = (gid_t)strtol(conf->group, &end, 10);
            if (*end != '\0' || end == conf->group) {
                snprintf(err, size, "group \"%s\": no such group", conf->group);
                return AM_ERROR;
            }
        }
    }
    if (setgroups(1, &gid) == -1 || setgid(gid) == -1 || setuid(uid) == -1) {
        snprintf(err, size, "cannot become user %d, group %d: %s", (int)uid,
                 (int)gid, strerror(errno));
        return AM_ERROR;
    }
    return AM_OK;
}

int
am_app_check(am_conf_t *conf)
{
    char err[APP_CHECK_ERR] = "";
    int fds[2], status, rc;
    ssize_t n;
    size_t got = 0;
    pid_t pid;

    if (pipe(fds) == -1) {
        fprintf(stderr, "asgimaster: pipe() failed: %s\n", strerror(errno));
        return AM_ERROR;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == -1) {
        fprintf(stderr, "asgimaster: fork() failed: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return AM_ERROR;
    }
    if (pid == 0) {
        close(fds[0]);
        am_log_slot = 1;
        rc = app_check_drop(conf, err, sizeof(err));
        if (rc == AM_OK) {
            rc = am_worker_check(conf, err, sizeof(err));
        }
        if (rc != AM_OK && write(fds[1], err, strlen(err)) == -1) {
            _exit(2);
        }
        _exit(rc == AM_OK ? 0 : 1);
    }
    close(fds[1]);
    for (;;) {
        n = read(fds[0], err + got, sizeof(err) - 1 - got);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || (got += (size_t)n) == sizeof(err) - 1) {
            break;
        }
    }
    err[got] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            fprintf(stderr, "asgimaster: waitpid() failed: %s\n",
                    strerror(errno));
            return AM_ERROR;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return AM_OK;
    }
    if (err[0] == '\0') {
        snprintf(err, sizeof(err), "the check process %s %d",
                 WIFSIGNALED(status) ? "died of signal" : "exited with",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    fprintf(stderr, "asgimaster: cannot import the app \"%s\": %s\n", conf->app,
            err);
    return AM_ERROR;
}
