/* common/stats.c: the shared counters and their Prometheus rendering.
 *
 * The master maps one am_stats_t before the first fork; each worker writes
 * only its own am_worker_stats_t (am_stats_self) with plain stores, and the
 * master writes the counters it owns (starts, exits, reloads, generation).
 * Rendering sums the per-worker counters over every slot, so a worker that
 * exited must have its counts folded into the master's totals before its
 * slot is cleared (am_stats_retire()), or counters would go backwards,
 * which Prometheus reads as a reset.
 *
 * Format: the text exposition format 0.0.4 (HELP and TYPE lines, one sample
 * per line, label values escaped).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/core.h"
#include "common/log.h"
#include "common/stats.h"

const double am_stats_bucket_bounds[AM_STATS_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};

const char *const am_stats_abuse_names[AM_ABUSE_CAUSES] = {
    [AM_ABUSE_RESET_BUDGET] = "reset_budget",
    [AM_ABUSE_EMPTY_FRAMES] = "empty_frames",
    [AM_ABUSE_CONTINUATION_FLOOD] = "continuation_flood",
    [AM_ABUSE_HEADER_TIMEOUT] = "header_timeout",
    [AM_ABUSE_BODY_TOO_SLOW] = "body_too_slow",
    [AM_ABUSE_CHUNK_EXTENSIONS] = "chunk_extensions",
    [AM_ABUSE_CONTROL_FLOOD] = "control_flood",
};

am_stats_t *am_stats_shared;
am_worker_stats_t *am_stats_self;

/* An output buffer that counts what did not fit. */
typedef struct stats_render_s {
    char *buf;
    size_t size;
    size_t len; /* may exceed size: the size needed */
} stats_render_t;

static void stats_printf(stats_render_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void stats_header(stats_render_t *r, const char *name, const char *type,
                         const char *help);

static const char *stats_protos[AM_STATS_PROTOS] = { "h1", "h2" };

static const char *stats_exit_reasons[4] = {
    "normal",
    "crash",
    "killed",
    "boot_failure",
};

am_stats_t *
am_stats_create(void)
{
    am_stats_t *s;

    s = mmap(NULL, sizeof(am_stats_t), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) {
        am_log(AM_LOG_EMERG, errno, "mmap() of %zu bytes for stats failed",
               sizeof(am_stats_t));
        return NULL;
    }
    /* MAP_ANONYMOUS memory is zero-filled. */
    return s;
}

void
am_stats_request(int proto, int status, double seconds)
{
    am_worker_stats_t *w = am_stats_self;
    int cls = status / 100;

    if (w == NULL) {
        return;
    }
    if (proto < 0 || proto >= AM_STATS_PROTOS) {
        proto = AM_STATS_H1;
    }
    if (cls < 1 || cls > 5) {
        cls = 5;
    }
    w->requests[proto][cls - 1]++;
    w->requests_total++;
    w->duration_count++;
    w->duration_sum += seconds;
    /* Cumulative buckets, as Prometheus stores them. */
    for (int i = AM_STATS_BUCKETS - 1; i >= 0; i--) {
        if (seconds > am_stats_bucket_bounds[i]) {
            break;
        }
        w->duration_buckets[i]++;
    }
}

void
am_stats_abuse(am_abuse_cause_t cause)
{
    if (am_stats_self != NULL && cause < AM_ABUSE_CAUSES) {
        am_stats_self->abuse[cause]++;
    }
}

static void
stats_printf(stats_render_t *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(r->len < r->size ? r->buf + r->len : NULL,
                  r->len < r->size ? r->size - r->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        r->len += (size_t)n;
    }
}

static void
stats_header(stats_render_t *r, const char *name, const char *type,
             const char *help)
{
    stats_printf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Sum one counter over every slot in use plus the retired totals. */
#define STATS_SUM(s, field, out)                                               \
    do {                                                                       \
        (out) = (s)->retired.field;                                            \
        for (size_t i_ = 0; i_ < AM_STATS_SLOTS; i_++) {                       \
            if ((s)->workers[i_].in_use) {                                     \
                (out) += (s)->workers[i_].field;                               \
            }                                                                  \
        }                                                                      \
    } while (0)

static const char *const stats_ws_close_names[AM_STATS_WS_CLOSES] = {
    "1000", "1001", "1002-1003", "1007-1010", "1011-1014", "other",
};

void
am_stats_close_code(am_worker_stats_t *w, int code)
{
    int i;

    if (code == 1000 || code == 1001) {
        i = code - 1000;
    } else if (code == 1002 || code == 1003) {
        i = 2;
    } else if (code >= 1007 && code <= 1010) {
        i = 3;
    } else if (code >= 1011 && code <= 1014) {
        i = 4;
    } else {
        i = 5;
    }
    w->ws_closes[i]++;
}

size_t
am_stats_render(const am_stats_t *s, char *buf, size_t size,
                uint64_t (*rss_of)(pid_t pid))
{
    stats_render_t r = { .buf = buf, .size = size, .len = 0 };
    uint64_t n, cum;
    int64_t gauge;
    double sum;

    if (size > 0) {
        buf[0] = '\0';
    }

    stats_header(&r, "asgimaster_requests_total", "counter",
                 "Requests answered, by protocol and status class.");
    for (int p = 0; p < AM_STATS_PROTOS; p++) {
        for (int c = 0; c < 5; c++) {
            STATS_SUM(s, requests[p][c], n);
            stats_printf(&r,
                         "asgimaster_requests_total{protocol=\"%s\","
                         "status=\"%dxx\"} %llu\n",
                         stats_protos[p], c + 1, (unsigned long long)n);
        }
    }

    stats_header(&r, "asgimaster_request_duration_seconds", "histogram",
                 "Time from the request head to the end of the response.");
    for (int b = 0; b < AM_STATS_BUCKETS; b++) {
        STATS_SUM(s, duration_buckets[b], cum);
        stats_printf(&r,
                     "asgimaster_request_duration_seconds_bucket{le=\"%g\"} "
                     "%llu\n",
                     am_stats_bucket_bounds[b], (unsigned long long)cum);
    }
    STATS_SUM(s, duration_count, n);
    stats_printf(&r,
                 "asgimaster_request_duration_seconds_bucket{le=\"+Inf\"} "
                 "%llu\n",
                 (unsigned long long)n);
    STATS_SUM(s, duration_sum, sum);
    stats_printf(&r, "asgimaster_request_duration_seconds_sum %.6f\n", sum);
    stats_printf(&r, "asgimaster_request_duration_seconds_count %llu\n",
                 (unsigned long long)n);

    /* Gauges count live workers only: the retired totals hold none. */
    stats_header(&r, "asgimaster_connections", "gauge",
                 "Client connections open now.");
    STATS_SUM(s, connections, gauge);
    stats_printf(&r, "asgimaster_connections %lld\n", (long long)gauge);

    stats_header(&r, "asgimaster_http2_streams", "gauge",
                 "HTTP/2 streams open now.");
    STATS_SUM(s, streams, gauge);
    stats_printf(&r, "asgimaster_http2_streams %lld\n", (long long)gauge);

    stats_header(&r, "asgimaster_connections_total", "counter",
                 "Client connections accepted.");
    STATS_SUM(s, connections_total, n);
    stats_printf(&r, "asgimaster_connections_total %llu\n",
                 (unsigned long long)n);

    stats_header(&r, "asgimaster_bytes_received_total", "counter",
                 "Bytes read from clients.");
    STATS_SUM(s, bytes_in, n);
    stats_printf(&r, "asgimaster_bytes_received_total %llu\n",
                 (unsigned long long)n);

    stats_header(&r, "asgimaster_bytes_sent_total", "counter",
                 "Bytes written to clients.");
    STATS_SUM(s, bytes_out, n);
    stats_printf(&r, "asgimaster_bytes_sent_total %llu\n",
                 (unsigned long long)n);

    stats_header(&r, "asgimaster_h2_resets_sent_total", "counter",
                 "HTTP/2 RST_STREAM frames sent, any cause.");
    STATS_SUM(s, h2_resets_sent, n);
    stats_printf(&r, "asgimaster_h2_resets_sent_total %llu\n",
                 (unsigned long long)n);

    stats_header(&r, "asgimaster_connections_abuse_total", "counter",
                 "Connections (or HTTP/2 streams) ended for abuse, by cause.");
    for (int i = 0; i < AM_ABUSE_CAUSES; i++) {
        STATS_SUM(s, abuse[i], n);
        stats_printf(&r,
                     "asgimaster_connections_abuse_total{cause=\"%s\"} %llu\n",
                     am_stats_abuse_names[i], (unsigned long long)n);
    }

    stats_header(&r, "asgimaster_websockets", "gauge",
                 "WebSocket sessions open now.");
    STATS_SUM(s, ws_open, gauge);
    stats_printf(&r, "asgimaster_websockets %lld\n", (long long)gauge);

    stats_header(&r, "asgimaster_websockets_total", "counter",
                 "WebSocket sessions started.");
    STATS_SUM(s, ws_sessions_total, n);
    stats_printf(&r, "asgimaster_websockets_total %llu\n",
                 (unsigned long long)n);

    stats_header(&r, "asgimaster_websocket_messages_total", "counter",
                 "WebSocket messages, by direction.");
    STATS_SUM(s, ws_messages_in, n);
    stats_printf(&r,
                 "asgimaster_websocket_messages_total{direction=\"in\"} "
                 "%llu\n",
                 (unsigned long long)n);
    STATS_SUM(s, ws_messages_out, n);
    stats_printf(&r,
                 "asgimaster_websocket_messages_total{direction=\"out\"} "
                 "%llu\n",
                 (unsigned long long)n);

    stats_header(&r, "asgimaster_websocket_bytes_total", "counter",
                 "WebSocket frame bytes of ended sessions, by direction.");
    STATS_SUM(s, ws_bytes_in, n);
    stats_printf(&r,
                 "asgimaster_websocket_bytes_total{direction=\"in\"} %llu\n",
                 (unsigned long long)n);
    STATS_SUM(s, ws_bytes_out, n);
    stats_printf(&r,
                 "asgimaster_websocket_bytes_total{direction=\"out\"} "
                 "%llu\n",
                 (unsigned long long)n);

    stats_header(&r, "asgimaster_websocket_closes_total", "counter",
                 "WebSocket close frames, by code class.");
    for (int i = 0; i < AM_STATS_WS_CLOSES; i++) {
        STATS_SUM(s, ws_closes[i], n);
        stats_printf(&r,
                     "asgimaster_websocket_closes_total{code=\"%s\"} "
                     "%llu\n",
                     stats_ws_close_names[i], (unsigned long long)n);
    }

    stats_header(&r, "asgimaster_worker_starts_total", "counter",
                 "Workers forked by the master.");
    stats_printf(&r, "asgimaster_worker_starts_total %llu\n",
                 (unsigned long long)s->worker_starts);

    stats_header(&r, "asgimaster_worker_exits_total", "counter",
                 "Workers that exited, by reason.");
    for (int i = 0; i < 4; i++) {
        stats_printf(&r, "asgimaster_worker_exits_total{reason=\"%s\"} %llu\n",
                     stats_exit_reasons[i],
                     (unsigned long long)s->worker_exits[i]);
    }

    stats_header(&r, "asgimaster_reloads_total", "counter",
                 "Configuration reloads (SIGHUP), by outcome.");
    stats_printf(&r, "asgimaster_reloads_total{outcome=\"ok\"} %llu\n",
                 (unsigned long long)s->reloads[0]);
    stats_printf(&r, "asgimaster_reloads_total{outcome=\"failed\"} %llu\n",
                 (unsigned long long)s->reloads[1]);

    stats_header(&r, "asgimaster_generation", "gauge",
                 "The serving generation of workers (1 at start, one more per "
                 "reload).");
    stats_printf(&r, "asgimaster_generation %llu\n",
                 (unsigned long long)s->generation);

    stats_header(&r, "asgimaster_worker_rss_bytes", "gauge",
                 "Resident memory of each worker.");
    for (size_t i = 0; i < AM_STATS_SLOTS; i++) {
        const am_worker_stats_t *w = &s->workers[i];
        pid_t pid = w->pid;

        if (!w->in_use || pid <= 0) {
            continue;
        }
        stats_printf(&r,
                     "asgimaster_worker_rss_bytes{slot=\"%d\",pid=\"%d\"} "
                     "%llu\n",
                     (int)w->slot, (int)pid,
                     (unsigned long long)(rss_of != NULL ? rss_of(pid) : 0));
    }

    return r.len;
}

void
am_stats_retire(am_stats_t *s, size_t index)
{
    am_worker_stats_t *w = &s->workers[index];
    am_worker_stats_t *t = &s->retired;

    for (int p = 0; p < AM_STATS_PROTOS; p++) {
        for (int c = 0; c < 5; c++) {
            t->requests[p][c] += w->requests[p][c];
        }
    }
    t->duration_count += w->duration_count;
    t->duration_sum += w->duration_sum;
    for (int b = 0; b < AM_STATS_BUCKETS; b++) {
        t->duration_buckets[b] += w->duration_buckets[b];
    }
    t->bytes_in += w->bytes_in;
    t->bytes_out += w->bytes_out;
    t->connections_total += w->connections_total;
    t->requests_total += w->requests_total;
    t->h2_resets_sent += w->h2_resets_sent;
    t->ws_sessions_total += w->ws_sessions_total;
    t->ws_messages_in += w->ws_messages_in;
    t->ws_messages_out += w->ws_messages_out;
    t->ws_bytes_in += w->ws_bytes_in;
    t->ws_bytes_out += w->ws_bytes_out;
    for (int i = 0; i < AM_STATS_WS_CLOSES; i++) {
        t->ws_closes[i] += w->ws_closes[i];
    }
    for (int i = 0; i < AM_ABUSE_CAUSES; i++) {
        t->abuse[i] += w->abuse[i];
    }
    /* connections and streams are gauges: a dead worker holds none. */
    memset(w, 0, sizeof(*w));
}

uint64_t
am_stats_rss(pid_t pid)
{
    char path[64];
    unsigned long long pages = 0, resident = 0;
    long pagesize = 4096;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    f = fopen(path, "re");
    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%llu %llu", &pages, &resident) != 2) {
        resident = 0;
    }
    fclose(f);
    pagesize = sysconf(_SC_PAGESIZE);
    return (uint64_t)resident * (uint64_t)pagesize;
}
