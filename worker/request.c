/* worker/request.c: the protocol-neutral request layer: what every
 * protocol (an HTTP/1.1 message, an HTTP/2 stream, later a WebSocket
 * session) does the same way around the ASGI bridge: the trusted proxies'
 * facts applied once to the request head, and the "request done" record
 * (counters, max_requests, the access log line).
 */

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/access.h"
#include "common/forwarded.h"
#include "common/log.h"
#include "common/stats.h"
#include "worker/ctx.h"
#include "worker/http.h"
#include "worker/request.h"

/* Copy len bytes of p into buf as a C string (cut to fit); NULL if none. */
static const char *
request_cstr(char *buf, size_t size, const char *p, size_t len)
{
    if (p == NULL || len == 0) {
        return NULL;
    }
    len = am_min(len, size - 1);
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

/* The access log line of a request; its buffers (8 KiB) live in this
 * frame only, so a request with the log off never touches them. */
static void __attribute__((noinline))
request_log_access(am_conn_t *c, const am_request_done_t *r, double rt)
{
    char line[4096], method[32], target[2048], ref[1024], ua[1024];
    am_access_entry_t e;
    const am_field_t *f;
    size_t i, n;

    memset(&e, 0, sizeof(e));
    e.remote_addr = c->client_host[0] ? c->client_host : "unix:";
    e.time = r->start_time ? r->start_time : time(NULL);
    e.method = request_cstr(method, sizeof(method), r->method, r->method_len);
    e.target = request_cstr(target, sizeof(target), r->target, r->target_len);
    e.protocol = r->protocol;
    e.status = r->status;
    e.body_bytes_sent = (size_t)r->body_bytes;
    e.request_time = rt;
    e.pid = getpid();
    for (i = 0; i < r->nfields; i++) {
        f = &r->fields[i];
        switch (am_http_token_find(r->head + f->name_off, f->name_len)) {
        case AM_HTTP_TOKEN_REFERER:
            e.referer = request_cstr(ref, sizeof(ref), r->head + f->value_off,
                                     f->value_len);
            break;
        case AM_HTTP_TOKEN_USER_AGENT:
            e.user_agent = request_cstr(ua, sizeof(ua), r->head + f->value_off,
                                        f->value_len);
            break;
        default:
            break;
        }
    }
    n = am_access_format(am_ctx.conf->access_format, &e, line, sizeof(line));
    am_log_access(line, n);
}

/* Per request: counters and max_requests; the access log line only when
 * the log is on. */
void
am_request_done(am_conn_t *c, const am_request_done_t *r)
{
    double rt;

    rt = r->start_msec ? (double)(am_now_msec() - r->start_msec) / 1000.0 : 0;
    if (am_stats_self != NULL) {
        am_stats_request(r->proto, r->status, rt);
        if (am_ctx.request_done != NULL) {
            am_ctx.request_done();
        }
    }
    if (am_log_access_enabled()) {
        request_log_access(c, r, rt);
    }
}

int
am_request_check_status(int status, const char **err)
{
    if (status < 200 || status > 999) {
        *err = "status must be an integer from 200 to 999";
        return AM_DECLINED;
    }
    return AM_OK;
}

int
am_request_check_field(const am_header_t *hd, const char **err)
{
    if (hd->name_len == 0) {
        *err = "empty header name";
        return AM_DECLINED;
    }
    if (!am_http_is_token(hd->name, hd->name_len)) {
        *err = "invalid character in a header name";
        return AM_DECLINED;
    }
    if (!am_http_is_field_value(hd->value, hd->value_len)) {
        *err = "invalid character in a header value";
        return AM_DECLINED;
    }
    return AM_OK;
}

void
am_request_apply_forwarded(am_conn_t *c, am_asgi_head_t *head,
                           am_forwarded_out_t *out)
{
    am_forwarded_in_t in;
    am_buf_t joined[3] = { { 0 }, { 0 }, { 0 } };
    size_t i, k;
    int found = 0;

    if (!c->peer_trusted) {
        return;
    }
    /* Several lines of one field are one list (RFC 9110 §5.3). */
    for (i = 0; i < head->nheaders; i++) {
        const am_header_t *h = &head->headers[i];

        switch (am_http_token_find(h->name, h->name_len)) {
        case AM_HTTP_TOKEN_FORWARDED:
            k = 0;
            break;
        case AM_HTTP_TOKEN_X_FORWARDED_FOR:
            k = 1;
            break;
        case AM_HTTP_TOKEN_X_FORWARDED_PROTO:
            k = 2;
            break;
        default:
            continue;
        }
        if (am_buf_size(&joined[k]) > 0) {
            am_buf_append(&joined[k], ", ", 2);
        }
        am_buf_append(&joined[k], h->value, h->value_len);
        found = 1;
    }
    if (!found) {
        return;
    }
    memset(&in, 0, sizeof(in));
    in.forwarded = joined[0].data;
    in.forwarded_len = am_buf_size(&joined[0]);
    in.xff = joined[1].data;
    in.xff_len = am_buf_size(&joined[1]);
    in.xfp = joined[2].data;
    in.xfp_len = am_buf_size(&joined[2]);
    memset(out, 0, sizeof(*out));
    if (am_forwarded_resolve(&in, am_ctx.conf->forwarded_allow,
                             am_ctx.conf->nforwarded_allow,
                             am_ctx.conf->forwarded_all, out) == AM_OK) {
        if (out->has_host) {
            head->client_host = out->host;
            head->client_port = out->port;
        }
        if (out->has_scheme) {
            /* An http scope's scheme: ws/wss name the same transports. */
            head->scheme = (strcmp(out->scheme, "https") == 0 ||
                            strcmp(out->scheme, "wss") == 0)
                               ? "https"
                               : "http";
        }
    }
    for (k = 0; k < 3; k++) {
        am_buf_free(&joined[k]);
    }
}
