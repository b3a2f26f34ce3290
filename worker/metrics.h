/* worker/metrics.h: the metrics: listener's one endpoint (issue 5): the
 * shared counters in Prometheus text format, answered in C, no app.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_WORKER_METRICS_H
#define AM_WORKER_METRICS_H

#include <stddef.h>

#include "worker/conn.h"

/* Answer the request for target (len bytes, the query is ignored) with
 * method is_get/is_head on c and close c after the response: returns 0.
 * Or returns the status the caller answers with instead: 404 for another
 * path, 405 for another method, 503 when no counters are shared. */
int am_metrics_respond(am_conn_t *c, const char *target, size_t len, int is_get,
                       int is_head);

#endif
