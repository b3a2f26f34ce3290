/* worker/event.h: the worker's one epoll loop, its timers and its queue of
 * posted work. C only: Python reaches it through the selector in pyembed.c.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * An am_event_t is owned by whoever embeds it (a connection, a listener);
 * epoll_event.data.ptr points at it. Fds that Python registers (asyncio's
 * self-pipe, app libraries' add_reader) get an am_event_t with handler NULL
 * and are reported back to Python by am_event_poll().
 */
#ifndef AM_WORKER_EVENT_H
#define AM_WORKER_EVENT_H

#include <stdint.h>
#include <sys/epoll.h>

#include "common/core.h"

typedef struct am_event_s am_event_t;
typedef void (*am_event_handler_pt)(am_event_t *ev, uint32_t events);

struct am_event_s {
    int fd;
    uint32_t mask; /* EPOLL* interest currently registered */
    int registered;
    am_event_handler_pt handler; /* NULL: a Python fd */
    void *data;
};

typedef struct am_timer_s am_timer_t;
typedef void (*am_timer_handler_pt)(am_timer_t *t);

struct am_timer_s {
    am_msec_t deadline;
    size_t index; /* position in the heap, 0 when not armed */
    am_timer_handler_pt handler;
    void *data;
};

/* Posted work runs at the start of the next poll, before epoll_wait(),
 * which then does not block. */
typedef struct am_post_s am_post_t;
typedef void (*am_post_handler_pt)(am_post_t *p);

struct am_post_s {
    am_post_t *next;
    int queued;
    am_post_handler_pt handler;
    void *data;
};

/* A Python fd ready after a poll: what am_event_poll() reports. */
typedef struct am_ready_fd_s {
    int fd;
    uint32_t events; /* EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP */
} am_ready_fd_t;

int am_event_init(void);
int am_event_fd(void);

/* Add, change or remove the interest of ev (mask 0 removes it). */
int am_event_set(am_event_t *ev, uint32_t mask);
void am_event_del(am_event_t *ev);

/* Python fds: register/modify (mask 0 unregisters). AM_OK or AM_ERROR with
 * errno set. */
int am_event_set_python(int fd, uint32_t mask);

void am_timer_add(am_timer_t *t, am_msec_t after);
void am_timer_del(am_timer_t *t);
#define am_timer_is_armed(t) ((t)->index != 0)

void am_post(am_post_t *p);
void am_post_cancel(am_post_t *p);

/* Hooks run at every poll: before_wait flushes output. */
typedef void (*am_event_hook_pt)(void);
void am_event_set_hooks(am_event_hook_pt before_wait);

/* One loop turn: run posted work and the before-wait hook, wait at most
 * timeout_ms (-1: forever) with unblock() called around the wait (it drops
 * the GIL), dispatch C handlers and timers, and fill ready[] with Python
 * fds. Returns the number of entries in ready[] (at most n). */
typedef void (*am_event_unlock_pt)(int unlock);
size_t am_event_poll(am_msec_t timeout_ms, am_ready_fd_t *ready, size_t n,
                     am_event_unlock_pt unlock);

/* Set by code that queued Python work (resolved a future, created a task)
 * while inside a poll: the wait that follows must not block. */
extern int am_event_python_pending;
#define am_event_wake_python() (am_event_python_pending = 1)

/* Cached once per poll. */
extern am_msec_t am_event_now;

#endif
