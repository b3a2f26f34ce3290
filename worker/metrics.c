/* worker/metrics.c: the metrics: listener (worker/metrics.h). HTTP/1.1
 * hands each request on such a listener here instead of to the app; the
 * answer is an HTTP/1.1 response that closes the connection.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/stats.h"
#include "worker/ctx.h"
#include "worker/http.h"
#include "worker/metrics.h"

int
am_metrics_respond(am_conn_t *c, const char *target, size_t len, int is_get,
                   int is_head)
{
    const char *want = am_ctx.conf->metrics_path, *q;
    size_t need, n;
    char head[256], *body;
    int hlen;

    if (want == NULL) {
        want = "/metrics";
    }
    q = memchr(target, '?', len);
    if (q != NULL) {
        len = (size_t)(q - target);
    }
    if (len != strlen(want) || memcmp(target, want, len) != 0) {
        return 404;
    }
    if (!is_get && !is_head) {
        return 405;
    }
    if (am_stats_shared == NULL) {
        return 503;
    }
    need = am_stats_render(am_stats_shared, NULL, 0, am_stats_rss);
    body = am_alloc(need + 1);
    n = am_stats_render(am_stats_shared, body, need + 1, am_stats_rss);
    n = am_min(n, need);
    hlen = snprintf(head, sizeof(head),
                    "HTTP/1.1 200 OK\r\n"
                    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                    "Content-Length: %zu\r\n"
                    "Connection: close\r\n"
                    "Date: %s\r\n\r\n",
                    n, am_http_date());
    am_conn_write(c, head, (size_t)hlen);
    if (!is_head) {
        am_conn_write(c, body, n);
    }
    free(body);
    am_conn_close_after_flush(c);
    return 0;
}
