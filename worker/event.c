/* worker/event.c: the worker's epoll loop. One epoll fd carries the server's
 * fds (listeners, connections, the signalfd, the master channel) and the fds
 * Python registers through the asyncio selector. Timers are a binary heap on
 * the monotonic clock; posted work is a singly linked FIFO run before the
 * next wait, which then does not block.
 */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/event.h"

#define EVENT_BATCH 256

am_msec_t am_event_now;
int am_event_python_pending;

static int event_epfd = -1;
static am_event_hook_pt event_before_wait;

static am_timer_t **timer_heap; /* 1-based */
static size_t timer_count;
static size_t timer_cap;

static am_post_t *post_head;
static am_post_t **post_tail = &post_head;

static am_event_t **python_events; /* by fd */
static size_t python_cap;

int
am_event_init(void)
{
    event_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (event_epfd == -1) {
        am_log(AM_LOG_EMERG, errno, "epoll_create1() failed");
        return AM_ERROR;
    }
    am_event_now = am_now_msec();
    return AM_OK;
}

int
am_event_fd(void)
{
    return event_epfd;
}

void
am_event_set_hooks(am_event_hook_pt before_wait)
{
    event_before_wait = before_wait;
}

int
am_event_set(am_event_t *ev, uint32_t mask)
{
    struct epoll_event ee;
    int op;

    if (mask == 0) {
        am_event_del(ev);
        return AM_OK;
    }
    if (ev->registered && ev->mask == mask) {
        return AM_OK;
    }
    op = ev->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    ee.events = mask;
    ee.data.ptr = ev;
    if (epoll_ctl(event_epfd, op, ev->fd, &ee) == -1) {
        am_log(AM_LOG_ALERT, errno, "epoll_ctl(%d, %d) failed", op, ev->fd);
        return AM_ERROR;
    }
    ev->registered = 1;
    ev->mask = mask;
    return AM_OK;
}

void
am_event_del(am_event_t *ev)
{
    if (!ev->registered) {
        return;
    }
    if (epoll_ctl(event_epfd, EPOLL_CTL_DEL, ev->fd, NULL) == -1 &&
        errno != EBADF && errno != ENOENT) {
        am_log(AM_LOG_ALERT, errno, "epoll_ctl(DEL, %d) failed", ev->fd);
    }
    ev->registered = 0;
    ev->mask = 0;
}

int
am_event_set_python(int fd, uint32_t mask)
{
    struct epoll_event ee;
    am_event_t *ev;
    size_t cap;

    if (fd < 0) {
        errno = EBADF;
        return AM_ERROR;
    }
    if ((size_t)fd >= python_cap) {
        if (mask == 0) {
            errno = ENOENT;
            return AM_ERROR;
        }
        cap = am_max((size_t)fd + 1, python_cap * 2);
        python_events = am_realloc(python_events, cap * sizeof(am_event_t *));
        memset(python_events + python_cap, 0,
               (cap - python_cap) * sizeof(am_event_t *));
        python_cap = cap;
    }
    ev = python_events[fd];
    if (mask == 0) {
        if (ev == NULL) {
            errno = ENOENT;
            return AM_ERROR;
        }
        python_events[fd] = NULL;
        /* The fd may already be closed: the kernel dropped it then. */
        epoll_ctl(event_epfd, EPOLL_CTL_DEL, fd, NULL);
        free(ev);
        return AM_OK;
    }
    if (ev == NULL) {
        ev = am_calloc(1, sizeof(*ev));
        ev->fd = fd;
        python_events[fd] = ev;
    }
    ee.events = mask;
    ee.data.ptr = ev;
    if (epoll_ctl(event_epfd, ev->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                  fd, &ee) == -1) {
        if (ev->registered && errno == ENOENT) {
            /* Closed and reopened under the same number. */
            if (epoll_ctl(event_epfd, EPOLL_CTL_ADD, fd, &ee) == 0) {
                ev->mask = mask;
                return AM_OK;
            }
        }
        if (!ev->registered) {
            python_events[fd] = NULL;
            free(ev);
        }
        return AM_ERROR;
    }
    ev->registered = 1;
    ev->mask = mask;
    return AM_OK;
}

/* Timers: a binary min-heap by deadline, index 1-based so 0 is "unarmed". */

static void
timer_swap(size_t a, size_t b)
{
    am_timer_t *t = timer_heap[a];

    timer_heap[a] = timer_heap[b];
    timer_heap[b] = t;
    timer_heap[a]->index = a;
    timer_heap[b]->index = b;
}

static void
timer_up(size_t i)
{
    while (i > 1 && timer_heap[i / 2]->deadline > timer_heap[i]->deadline) {
        timer_swap(i, i / 2);
        i /= 2;
    }
}

static void
timer_down(size_t i)
{
    size_t c;

    for (;;) {
        c = i * 2;
        if (c > timer_count) {
            return;
        }
        if (c + 1 <= timer_count &&
            timer_heap[c + 1]->deadline < timer_heap[c]->deadline) {
            c++;
        }
        if (timer_heap[i]->deadline <= timer_heap[c]->deadline) {
            return;
        }
        timer_swap(i, c);
        i = c;
    }
}

void
am_timer_add(am_timer_t *t, am_msec_t after)
{
    am_msec_t deadline = am_event_now + after;

    if (am_timer_is_armed(t)) {
        if (t->deadline == deadline) {
            return;
        }
        t->deadline = deadline;
        timer_up(t->index);
        timer_down(t->index);
        return;
    }
    if (timer_count + 1 >= timer_cap) {
        timer_cap = timer_cap ? timer_cap * 2 : 256;
        timer_heap = am_realloc(timer_heap, timer_cap * sizeof(am_timer_t *));
    }
    t->deadline = deadline;
    t->index = ++timer_count;
    timer_heap[t->index] = t;
    timer_up(t->index);
}

void
am_timer_del(am_timer_t *t)
{
    size_t i = t->index;

    if (i == 0) {
        return;
    }
    t->index = 0;
    if (i != timer_count) {
        timer_heap[i] = timer_heap[timer_count];
        timer_heap[i]->index = i;
        timer_count--;
        timer_up(i);
        timer_down(timer_heap[i]->index);
    } else {
        timer_count--;
    }
}

static void
timer_expire(void)
{
    am_timer_t *t;

    while (timer_count > 0 && timer_heap[1]->deadline <= am_event_now) {
        t = timer_heap[1];
        am_timer_del(t);
        t->handler(t);
    }
}

void
am_post(am_post_t *p)
{
    if (p->queued) {
        return;
    }
    p->queued = 1;
    p->next = NULL;
    *post_tail = p;
    post_tail = &p->next;
}

void
am_post_cancel(am_post_t *p)
{
    am_post_t **pp;

    if (!p->queued) {
        return;
    }
    for (pp = &post_head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            if (post_tail == &p->next) {
                post_tail = pp;
            }
            break;
        }
    }
    p->queued = 0;
}

static void
post_run(void)
{
    am_post_t *list, *p;

    /* Work posted while running goes to the next turn. */
    list = post_head;
    post_head = NULL;
    post_tail = &post_head;
    while (list != NULL) {
        p = list;
        list = p->next;
        p->queued = 0;
        p->handler(p);
    }
}

size_t
am_event_poll(am_msec_t timeout_ms, am_ready_fd_t *ready, size_t n,
              am_event_unlock_pt unlock)
{
    struct epoll_event events[EVENT_BATCH];
    am_event_t *ev;
    size_t nready = 0;
    int i, nev, timeout;

    am_event_now = am_now_msec();
    am_event_python_pending = 0;
    post_run();
    if (event_before_wait) {
        event_before_wait();
    }

    if (post_head != NULL || am_event_python_pending) {
        timeout = 0;
    } else {
        timeout = timeout_ms < 0 ? -1 : (int)am_min(timeout_ms, 86400000);
        if (timer_count > 0) {
            am_msec_t t = timer_heap[1]->deadline - am_now_msec();

            if (t < 0) {
                t = 0;
            }
            if (timeout < 0 || t < timeout) {
                timeout = (int)t;
            }
        }
    }

    if (timeout != 0 && unlock) {
        unlock(1);
    }
    nev = epoll_wait(event_epfd, events, EVENT_BATCH, timeout);
    if (timeout != 0 && unlock) {
        unlock(0);
    }
    if (nev == -1) {
        if (errno != EINTR) {
            am_log(AM_LOG_ALERT, errno, "epoll_wait() failed");
        }
        nev = 0;
    }

    am_event_now = am_now_msec();
    for (i = 0; i < nev; i++) {
        ev = events[i].data.ptr;
        if (ev->handler != NULL) {
            ev->handler(ev, events[i].events);
        } else if (nready < n) {
            ready[nready].fd = ev->fd;
            ready[nready].events = events[i].events;
            nready++;
        }
    }
    timer_expire();

    /* Output C produced in this turn (errors, 100 Continue) goes now. */
    post_run();
    if (event_before_wait) {
        event_before_wait();
    }
    return nready;
}
