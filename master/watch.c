/* master/watch.c: --reload, for development. The master watches the app's
 * source tree with inotify and, once the files have been quiet for
 * reload_delay, runs the reload SIGHUP runs (master/reload.c): a new
 * generation imports the new code and takes over only when it is ready,
 * so no request is refused, and code that fails to import leaves the old
 * generation serving.
 *
 * Watched: reload_dirs (default: chdir, else the start directory) and
 * every directory under them but hidden ones and __pycache__, directories
 * created later included. A change counts when the file's name matches one
 * of reload_includes (default "*.py") and none of reload_excludes.
 */

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/core.h"
#include "common/log.h"
#include "master/reload.h"
#include "master/state.h"
#include "master/watch.h"

#define WATCH_MASK                                                             \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |    \
     IN_DELETE_SELF | IN_ONLYDIR)
#define WATCH_DIRS_MAX        4096 /* directories watched at most */
#define WATCH_DEFAULT_INCLUDE "*.py"

typedef struct watch_dir_s {
    int wd;
    char *path;
} watch_dir_t;

static watch_dir_t watch_dirs[WATCH_DIRS_MAX];
static size_t watch_ndirs;
static am_msec_t watch_due = -1; /* reload at this time, -1: none */
static char watch_changed[PATH_MAX];

static void watch_add_tree(am_master_t *m, const char *path, int depth);

/* "a, b,c" -> does name match one of them? */
static int
watch_match(const char *list, const char *name)
{
    const char *p = list;
    char pat[256];
    size_t n;

    while (p != NULL && *p != '\0') {
        p += strspn(p, ", ");
        n = strcspn(p, ",");
        while (n > 0 && p[n - 1] == ' ') {
            n--;
        }
        if (n > 0 && n < sizeof(pat)) {
            memcpy(pat, p, n);
            pat[n] = '\0';
            if (fnmatch(pat, name, 0) == 0) {
                return 1;
            }
        }
        p = strchr(p, ',');
    }
    return 0;
}

static void
watch_add_dir(am_master_t *m, const char *path)
{
    int wd;

    if (watch_ndirs == WATCH_DIRS_MAX) {
        am_log(AM_LOG_WARN, 0,
               "reload: more than %d directories, not watching \"%s\"",
               WATCH_DIRS_MAX, path);
        return;
    }
    wd = inotify_add_watch(m->watch_fd, path, WATCH_MASK);
    if (wd == -1) {
        am_log(AM_LOG_WARN, errno, "reload: inotify_add_watch(\"%s\") failed",
               path);
        return;
    }
    for (size_t i = 0; i < watch_ndirs; i++) {
        if (watch_dirs[i].wd == wd) {
            return; /* already watched (a directory given twice) */
        }
    }
    watch_dirs[watch_ndirs].wd = wd;
    watch_dirs[watch_ndirs++].path = am_strdup(path);
}

static void
watch_add_tree(am_master_t *m, const char *path, int depth)
{
    char sub[PATH_MAX];
    struct dirent *e;
    DIR *d;

    watch_add_dir(m, path);
    if (depth > 32) {
        return;
    }
    d = opendir(path);
    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.' ||
            strcmp(e->d_name, "__pycache__") == 0) {
            continue;
        }
        if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) <
            sizeof(sub)) {
            watch_add_tree(m, sub, depth + 1);
        }
    }
    closedir(d);
}

int
am_watch_start(am_master_t *m, int key)
{
    const am_conf_t *conf = m->conf;
    char cwd[PATH_MAX], dir[PATH_MAX];
    struct epoll_event ev;
    const char *p;
    size_t n;

    m->watch_fd = -1;
    if (!conf->reload) {
        return AM_OK;
    }
    m->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (m->watch_fd == -1) {
        am_log(AM_LOG_EMERG, errno, "reload: inotify_init1() failed");
        return AM_ERROR;
    }
    ev.events = EPOLLIN;
    ev.data.u64 = (uint64_t)key;
    if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->watch_fd, &ev) == -1) {
        am_log(AM_LOG_EMERG, errno, "reload: epoll_ctl(ADD) failed");
        return AM_ERROR;
    }
    if (conf->reload_dirs != NULL && conf->reload_dirs[0] != '\0') {
        for (p = conf->reload_dirs; *p != '\0';) {
            p += strspn(p, ", ");
            n = strcspn(p, ",");
            while (n > 0 && p[n - 1] == ' ') {
                n--;
            }
            if (n > 0 && n < sizeof(dir)) {
                memcpy(dir, p, n);
                dir[n] = '\0';
                watch_add_tree(m, dir, 0);
            }
            p += strcspn(p, ",");
        }
    } else if (conf->chdir != NULL) {
        watch_add_tree(m, conf->chdir, 0);
    } else if (getcwd(cwd, sizeof(cwd)) != NULL) {
        watch_add_tree(m, cwd, 0);
    }
    am_log(AM_LOG_NOTICE, 0,
           "reload: watching %zu directories for %s (development only)",
           watch_ndirs,
           conf->reload_includes != NULL && conf->reload_includes[0] != '\0'
               ? conf->reload_includes
               : WATCH_DEFAULT_INCLUDE);
    return AM_OK;
}

static const char *
watch_dir_path(int wd)
{
    for (size_t i = 0; i < watch_ndirs; i++) {
        if (watch_dirs[i].wd == wd) {
            return watch_dirs[i].path;
        }
    }
    return NULL;
}

void
am_watch_on_readable(am_master_t *m)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    const struct inotify_event *e;
    const char *includes = m->conf->reload_includes, *dir;
    char path[PATH_MAX];
    ssize_t n;

    if (includes == NULL || includes[0] == '\0') {
        includes = WATCH_DEFAULT_INCLUDE;
    }
    for (;;) {
        n = read(m->watch_fd, buf, sizeof(buf));
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN) {
                am_log(AM_LOG_ALERT, errno, "reload: read() of inotify failed");
            }
            return;
        }
        for (char *p = buf; p < buf + n;
             p += sizeof(struct inotify_event) + e->len) {
            e = (const struct inotify_event *)p;
            if (e->mask & IN_Q_OVERFLOW) {
                snprintf(watch_changed, sizeof(watch_changed), "(many files)");
                watch_due = am_now_msec() + m->conf->reload_delay;
                continue;
            }
            if (e->len == 0 || (dir = watch_dir_path(e->wd)) == NULL) {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", dir, e->name);
            if ((e->mask & IN_ISDIR)) {
                if ((e->mask & (IN_CREATE | IN_MOVED_TO)) &&
                    e->name[0] != '.' && strcmp(e->name, "__pycache__") != 0) {
                    watch_add_tree(m, path, 0);
                }
                continue;
            }
            if (!watch_match(includes, e->name) ||
                (m->conf->reload_excludes != NULL &&
                 watch_match(m->conf->reload_excludes, e->name))) {
                continue;
            }
            snprintf(watch_changed, sizeof(watch_changed), "%s", path);
            /* Debounce: an editor's save is several events. */
            watch_due = am_now_msec() + m->conf->reload_delay;
        }
    }
}

int
am_watch_timer(am_master_t *m)
{
    am_msec_t now;

    if (watch_due == -1) {
        return -1;
    }
    now = am_now_msec();
    if (now < watch_due) {
        return (int)(watch_due - now);
    }
    watch_due = -1;
    if (m->state != AM_MASTER_RUNNING) {
        return -1;
    }
    am_log(AM_LOG_NOTICE, 0, "reload: %s changed, reloading", watch_changed);
    am_reload_request(m);
    return -1;
}
