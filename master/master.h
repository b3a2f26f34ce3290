/* master/master.h: the supervisor's state: generations, the slot table and
 * the worker processes, shared by master/master.c (the loop and signals) and
 * master/process.c (fork, reap, respawn).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A slot is a place for one worker (1..nslots, the number logged as
 * "#N"); SIGTTIN/SIGTTOU grow and shrink the table. A generation is the set
 * of workers started from one am_conf_t: today there is one, SIGHUP reload
 * (a later issue) starts a new one in the same slots and retires the old one
 * once the new workers are ready. A process is one live child, found in the
 * master's list until it is reaped; slot->process points at the current
 * generation's worker of that slot.
 */
#ifndef AM_MASTER_MASTER_H
#define AM_MASTER_MASTER_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/conf.h"
#include "common/core.h"
#include "common/ipc.h"

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

typedef struct am_generation_s {
    unsigned id;
    am_conf_t *conf; /* borrowed: the master's conf */
    int nready;      /* workers of this generation ready now */
    int ever_ready;  /* one of its workers has been ready once */
    int all_ready;   /* "all N workers ready" was logged */
} am_generation_t;

typedef struct am_process_s am_process_t;

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
    int killed;           /* SIGKILL sent */
    int boot_timed_out;   /* killed for missing the boot deadline */
    int boot_error;       /* AM_IPC_BOOT_ERROR received */
    char reason[AM_IPC_TEXT_MAX];
};

typedef struct am_slot_s {
    am_process_t *process; /* current worker, NULL while none runs */
    am_msec_t respawn_at;  /* pending respawn, -1 for none */
    am_msec_t backoff;     /* delay of the next quick respawn */
    int boot_failures;     /* consecutive, reset by READY */
} am_slot_t;

typedef struct am_master_s {
    am_conf_t *conf;
    int epfd;
    int sigfd;
    sigset_t sigset; /* the signals read from sigfd, blocked */
    pid_t pid;

    am_generation_t *generation; /* the current one */
    am_slot_t *slots;            /* slots[0] is slot 1 */
    int nslots;
    int slots_size; /* allocated; never shrinks */

    am_process_t *processes; /* every child not reaped yet */
    int nprocesses;
    uint64_t next_id;

    int state;     /* AM_MASTER_* */
    int exit_code; /* AM_EXIT_* once stopping */
} am_master_t;

/* master/master.c: run the supervisor until everything stopped; returns
 * the process exit code. conf is finished and its listeners bound. */
int am_master_run(am_conf_t *conf);

/* master/process.c */

/* Fork a worker into slot (1..nslots) for the current generation. AM_OK, or
 * AM_ERROR (logged; the slot is scheduled for a respawn). */
int am_process_spawn(am_master_t *m, int slot);

/* Read what the worker sent (READY, BOOT_ERROR). */
void am_process_on_ipc(am_master_t *m, am_process_t *p);

/* waitpid() every exited child, log it, respawn or give up. */
void am_process_reap(am_master_t *m);

/* Send sig to p and give it timeout ms before SIGKILL. */
void am_process_stop(am_master_t *m, am_process_t *p, int sig,
                     am_msec_t timeout);

/* Send sig to every process (SIGUSR1 on log reopen). */
void am_process_signal_all(am_master_t *m, int sig);

/* Handle the deadlines that passed (respawns, boot and stop deadlines) and
 * return the ms until the next one, -1 for none. */
int am_process_timers(am_master_t *m);

/* One worker more (+1) or less (-1): SIGTTIN, SIGTTOU. */
void am_process_scale(am_master_t *m, int delta);

am_process_t *am_process_find(am_master_t *m, uint64_t id);

/* "30s", "250ms" into buf, for log lines. */
const char *am_process_duration(am_msec_t ms, char *buf, size_t size);

#endif
