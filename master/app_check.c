/* master/app_check.c: `asgimaster -t` also imports the app. The import
 * runs in a forked child, as a worker's does: the master never starts the
 * interpreter. The child reports its one-line reason through a pipe. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/core.h"
#include "common/log.h"
#include "master/app_check.h"
#include "worker/pyembed.h"

#define APP_CHECK_ERR 1024

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
        rc = am_py_check(conf, err, sizeof(err));
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
