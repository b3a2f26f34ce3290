/* master/state.h: the supervisor's state: generations, the slot table and
 * the worker processes, shared by master/master.c (the loop and signals),
 * master/process.c (fork, reap, respawn), master/generation.c,
 * master/reload.c and master/upgrade.c. Types only: each file's functions
 * are declared in its own header.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A generation is the set of workers started from one am_conf_t, with its
 * own slot table: a slot is a place for one worker (1..nslots, the number
 * logged as "#N"); SIGTTIN/SIGTTOU grow and shrink the serving generation's
 * table. SIGHUP (master/reload.c) loads a fresh am_conf_t into a new
 * generation that boots beside the serving one ("next"); once every new
 * worker is ready it becomes the serving one and the old one drains
 * ("retiring") until its last worker is reaped, when its listeners that no
 * live generation shares are closed. A process is one live child, found in
 * the master's list until it is reaped; slot->process points at the worker
 * of that slot. Each process also owns a slot of the shared stats mapping
 * (common/stats.h), cleared before the fork and folded into the totals when
 * it is reaped.
 */
#ifndef AM_MASTER_STATE_H
#define AM_MASTER_STATE_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/conf.h"
#include "common/core.h"
#include "common/ipc.h"
#include "common/stats.h"

/* Backoff of a slot whose workers keep dying: the first respawn is at once,
 * then 250ms, doubling up to 5s. A worker that stayed ready for
 * AM_MASTER_STABLE resets it. */
#define AM_MASTER_BACKOFF_FIRST 250
#define AM_MASTER_BACKOFF_MAX   5000
#define AM_MASTER_STABLE        5000

/* Consecutive boot failures of one slot, once the generation has been
 * ready, before the master gives up. */
#define AM_MASTER_BOOT_RETRIES 5

/* SIGQUIT, then SIGKILL after this long. */
#define AM_MASTER_QUIT_TIMEOUT 1000

/* A stuck worker gets SIGABRT (faulthandler dumps its Python stack), then
 * SIGKILL after this long. */
#define AM_MASTER_ABORT_TIMEOUT 2000

/* How often the watchdog reads the heartbeats. */
#define AM_MASTER_WATCHDOG_TICK 1000

enum {
    AM_PROCESS_STARTING = 0, /* forked, READY not received yet */
    AM_PROCESS_READY,        /* serving */
    AM_PROCESS_STOPPING      /* asked to stop (SIGTERM/SIGQUIT sent) */
};

enum {
    AM_MASTER_RUNNING = 0,
    AM_MASTER_GRACEFUL, /* SIGTERM/SIGINT: waiting for workers to finish */
    AM_MASTER_IMMEDIATE /* SIGQUIT or a fatal boot failure */
};

enum {
    AM_GENERATION_BOOTING = 0, /* started by a reload, not serving yet */
    AM_GENERATION_SERVING,
    AM_GENERATION_RETIRING /* replaced or abandoned: draining */
};

typedef struct am_process_s am_process_t;
typedef struct am_slot_s am_slot_t;
typedef struct am_generation_s am_generation_t;
typedef struct am_master_s am_master_t;

struct am_generation_s {
    am_generation_t *next; /* m->generations, newest first */
    unsigned id;
    int state;        /* AM_GENERATION_* */
    am_conf_t *conf;  /* owned: destroyed with the generation */
    am_slot_t *slots; /* slots[0] is slot 1 */
    int nslots;
    int slots_size; /* allocated; never shrinks */
    int nprocesses; /* live children of this generation */
    int nready;     /* workers of this generation ready now */
    int ever_ready; /* one of its workers has been ready once */
    int all_ready;  /* "all N workers ready" was logged */
};

struct am_process_s {
    am_process_t *next;
    uint64_t id; /* epoll key: never reused, unlike pids and fds */
    pid_t pid;
    int slot;
    int state;  /* AM_PROCESS_* */
    int ipc_fd; /* the master's end, -1 once the worker closed its end */
    am_generation_t *generation;
    am_msec_t started;
    am_msec_t ready_at;   /* 0 until READY */
    am_msec_t deadline;   /* boot or stop deadline, -1 for none */
    int stop_signal;      /* signal sent to stop it, 0 if none */
    am_msec_t stop_limit; /* the timeout the stop deadline came from */
    int stats_index;      /* its am_worker_stats_t, -1 for none */
    uint64_t replaces;    /* id of the worker it recycles, 0 for none */
    int recycling;        /* sent RECYCLE: a replacement is booting */
    int stuck;            /* the watchdog sent SIGABRT */
    int killed;           /* SIGKILL sent */
    int boot_timed_out;   /* killed for missing the boot deadline */
    int boot_error;       /* AM_IPC_BOOT_ERROR received */
    char reason[AM_IPC_TEXT_MAX];
};

struct am_slot_s {
    am_process_t *process; /* current worker, NULL while none runs */
    am_msec_t respawn_at;  /* pending respawn, -1 for none */
    am_msec_t backoff;     /* delay of the next quick respawn */
    int boot_failures;     /* consecutive, reset by READY */
};

/* Loads the configuration again, as at start-up (master/main.c): defaults,
 * the file, the command-line overrides, am_conf_finish(), the TLS check.
 * Returns a finished conf with no listener bound, or NULL with err set. */
typedef am_conf_t *(*am_master_load_pt)(char *err, size_t size);

/* What master/process.c reports to the layers over it. master/master.c
 * sets them at start, so the process table calls no file over it by name
 * (no include cycle between master.c, process.c and reload.c). */
typedef struct am_master_hooks_s {
    /* a worker of m->booting is ready (am_reload_on_ready()) */
    void (*booting_ready)(am_master_t *m);
    /* a worker of m->booting failed to boot (am_reload_abandon()) */
    void (*booting_failed)(am_master_t *m, const char *reason);
    /* the serving generation has all its workers ready */
    void (*all_ready)(am_master_t *m);
    /* the new master of a binary upgrade exited (am_upgrade_on_exit()) */
    void (*upgrade_exited)(am_master_t *m, int status);
} am_master_hooks_t;

struct am_master_s {
    am_conf_t *conf; /* the serving generation's */
    int epfd;
    int sigfd;
    sigset_t sigset; /* the signals read from sigfd, blocked */
    pid_t pid;
    am_master_load_pt load;
    am_master_hooks_t hooks;
    char *pidfile; /* conf's pidfile (restart-only), removed at exit */
    char **argv;   /* as started: exec'ed again by a binary upgrade */
    am_stats_t *stats;

    am_generation_t *generation;  /* the serving one */
    am_generation_t *booting;     /* a reload's, until ready or abandoned */
    am_generation_t *generations; /* all with live processes, newest first */
    unsigned next_generation;
    int reload_pending; /* SIGHUP during a reload: reload again after */

    /* binary upgrade (master/upgrade.c) */
    pid_t upgrade_pid; /* the new master we started, 0 for none */
    pid_t parent_pid;  /* the old master to retire once ready, 0: none */
    int upgraded;      /* a new master took over: keep its sockets */

    /* workers' identity (user, group), resolved at start */
    int drop;
    uid_t uid;
    gid_t gid;
    char *user;

    am_msec_t watchdog_at; /* next heartbeat check */
    int watch_fd;          /* --reload's inotify fd, -1 for none */

    am_process_t *processes; /* every child not reaped yet */
    int nprocesses;
    uint64_t next_id;

    int state;     /* AM_MASTER_* */
    int exit_code; /* AM_EXIT_* once stopping */
};

#endif
