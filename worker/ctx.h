/* worker/ctx.h: the worker context: the config every worker file reads,
 * the graceful-stop flag, and the hooks by which lower layers (the
 * connection, the request layer) tell the worker's process code what
 * happened without including it (no include cycle).
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * worker.c fills it once at boot; a test or the fuzzer may fill it with
 * its own config and leave the hooks NULL (then they are not called).
 */
#ifndef AM_WORKER_CTX_H
#define AM_WORKER_CTX_H

#include "common/conf.h"

typedef struct am_ctx_s {
    am_conf_t *conf; /* the worker's copy, owned by worker.c */
    int stopping;    /* a graceful stop began: "Connection: close", GOAWAY */
    int restarting;  /* the stop is a reload or recycle: WebSocket 1012 */

    /* A connection closed: re-arm paused listeners, maybe finish a stop. */
    void (*conn_closed)(void);
    /* limits.connections reached: stop accepting until one closes. */
    void (*listeners_pause)(void);
    /* A request finished and was counted: check max_requests. */
    void (*request_done)(void);
} am_ctx_t;

extern am_ctx_t am_ctx;

#endif
