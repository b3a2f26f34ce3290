/* common/stats.h: counters the workers publish and the master reads, in one
 * shared anonymous mapping made by the master before the first fork.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Each worker owns one am_worker_stats_t (its stats slot, given at fork)
 * and is its only writer: plain stores of monotonic counters, no lock on
 * the request path. Readers (the master, the metrics endpoint) may see a
 * counter one update behind, never a torn 64-bit value on x86-64/arm64
 * (aligned 64-bit stores). The master clears a slot before handing it to a
 * new worker.
 */
#ifndef AM_COMMON_STATS_H
#define AM_COMMON_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AM_STATS_SLOTS 2048 /* live + draining workers, all generations */

enum {
    AM_STATS_H1 = 0,
    AM_STATS_H2,
    AM_STATS_PROTOS
};

/* Why a connection (or an HTTP/2 stream) was ended for abuse: the
 * "cause" label of asgimaster_connections_abuse_total. One enum, one name
 * table (am_stats_abuse_names); add a cause at the end of both. */
typedef enum am_abuse_cause_e {
    AM_ABUSE_RESET_BUDGET = 0,   /* HTTP/2: past http2.reset_budget */
    AM_ABUSE_EMPTY_FRAMES,       /* HTTP/2: past http2.empty_frame_budget */
    AM_ABUSE_CONTINUATION_FLOOD, /* HTTP/2: an endless header block */
    AM_ABUSE_HEADER_TIMEOUT,     /* a head (or header block) too slow */
    AM_ABUSE_BODY_TOO_SLOW,      /* under limits.body_min_rate */
    AM_ABUSE_CHUNK_EXTENSIONS,   /* HTTP/1.1: chunk extension bytes */
    AM_ABUSE_CONTROL_FLOOD,      /* HTTP/2: PING/SETTINGS acks unread */
    AM_ABUSE_CAUSES
} am_abuse_cause_t;

extern const char *const am_stats_abuse_names[AM_ABUSE_CAUSES];

/* Request duration histogram upper bounds, seconds (Prometheus "le"). */
#define AM_STATS_BUCKETS 12
extern const double am_stats_bucket_bounds[AM_STATS_BUCKETS];

#define AM_STATS_WS_CLOSES 6

typedef struct am_worker_stats_s {
    volatile int64_t heartbeat_msec; /* CLOCK_MONOTONIC ms, each loop turn */
    volatile int32_t pid;            /* 0: slot free */
    volatile int32_t slot;           /* the worker's slot, as in the log */
    volatile uint32_t generation;
    volatile int32_t in_use;
    volatile int32_t ready;
    /* requests[proto][status class 1..5 at index 0..4] */
    volatile uint64_t requests[AM_STATS_PROTOS][5];
    volatile uint64_t duration_count;
    volatile double duration_sum;                         /* seconds */
    volatile uint64_t duration_buckets[AM_STATS_BUCKETS]; /* cumulative */
    volatile uint64_t bytes_in;
    volatile uint64_t bytes_out;
    volatile int64_t connections; /* open now */
    volatile int64_t streams;     /* open HTTP/2 streams now */
    volatile uint64_t connections_total;
    volatile uint64_t requests_total; /* for max_requests */
    volatile uint64_t h2_resets_sent; /* RST_STREAM frames we sent */
    /* WebSocket (issue 9) */
    volatile int64_t ws_open; /* sessions open now */
    volatile uint64_t ws_sessions_total;
    volatile uint64_t ws_messages_in;
    volatile uint64_t ws_messages_out;
    volatile uint64_t ws_bytes_in; /* frame bytes, counted at session end */
    volatile uint64_t ws_bytes_out;
    /* close codes: 1000, 1001, 1002-1003, 1007-1010, 1011-1014, app 3000+ */
    volatile uint64_t ws_closes[AM_STATS_WS_CLOSES];
    /* connections (or streams) ended for abuse, by cause */
    volatile uint64_t abuse[AM_ABUSE_CAUSES];
} am_worker_stats_t;

typedef struct am_stats_s {
    am_worker_stats_t workers[AM_STATS_SLOTS];
    /* master-owned counters */
    volatile uint64_t worker_starts;
    volatile uint64_t worker_exits[4]; /* normal, crash, killed, boot failure */
    volatile uint64_t reloads[2];      /* ok, failed */
    volatile uint64_t generation;      /* current */
    /* Set by the first worker that logs why it could not boot (import
     * error, lifespan startup): the others of the generation only report
     * the one-line reason, which the master logs once. Cleared by the
     * master for each new generation. */
    volatile uint32_t boot_traceback;
    /* The counters of exited workers (am_stats_retire()), so sums never
     * go backwards when a worker is replaced. Gauges stay 0 here. */
    am_worker_stats_t retired;
} am_stats_t;

/* The master maps it once (MAP_SHARED | MAP_ANONYMOUS); children inherit.
 * NULL on failure (logged). */
am_stats_t *am_stats_create(void);

/* The mapping (master and workers), and in a worker its own slot (set
 * after fork, before am_worker_main()). NULL when not set up. */
extern am_stats_t *am_stats_shared;
extern am_worker_stats_t *am_stats_self;

/* A process's resident set in bytes from /proc/PID/statm (0 if gone). */
uint64_t am_stats_rss(pid_t pid);

/* Record one finished request (called by the protocols). */
void am_stats_request(int proto, int status, double seconds);

/* Count a WebSocket close code in its bucket. */
void am_stats_close_code(am_worker_stats_t *w, int code);
/* Count one connection (or stream) ended for abuse (called by the
 * protocols). */
void am_stats_abuse(am_abuse_cause_t cause);

/* Master: fold the counters of slot index into s->retired and clear the
 * slot for the next worker. */
void am_stats_retire(am_stats_t *s, size_t index);

/* Render the Prometheus text exposition (version 0.0.4) into buf; returns
 * the length, or the size needed when it does not fit. rss_of(pid) gives
 * a worker's resident set in bytes (the master reads /proc); may be NULL. */
size_t am_stats_render(const am_stats_t *s, char *buf, size_t size,
                       uint64_t (*rss_of)(pid_t pid));

#endif
