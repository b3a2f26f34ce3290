/* worker/ws_deflate.c: RFC 7692 permessage-deflate.
 *
 * Negotiation walks the Sec-WebSocket-Extensions grammar (RFC 6455 §9.1:
 * comma-separated extensions, each a token with ";"-separated params whose
 * values are tokens or quoted strings) and takes the first permessage-deflate
 * offer we can honour (§5.1), after §7's rules for each parameter.
 *
 * zlib's raw deflate cannot use a 256-byte window (zlib >= 1.2.9 refuses
 * windowBits -8 for deflate), and §7.1.2.1 allows the server to answer
 * server_max_window_bits only with the offered value or less, so an offer
 * of server_max_window_bits=8 is declined (the next offer, if any, wins).
 * Our inflate never uses fewer than 9 bits: a larger window than the
 * client's reads its data all the same.
 *
 * The streams are zlib's, created on first use so a session that never
 * sends a compressed message never pays for them.
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/core.h"
#include "worker/ws_deflate.h"

#define DEFLATE_BITS_MIN 9          /* zlib's smallest raw deflate window */
#define DEFLATE_CALL_MAX (1u << 30) /* bytes per zlib call, fits a uInt */

static const uint8_t deflate_tail[4] = { 0x00, 0x00, 0xff, 0xff };

/* One parsed offer. */
typedef struct {
    int server_no_context_takeover;
    int client_no_context_takeover;
    int server_max_window_bits; /* 0: absent */
    int client_max_window_bits; /* 0: absent, -1: present without value */
    int invalid;                /* an unknown, repeated or bad parameter */
} deflate_offer_t;

typedef struct {
    const char *p, *end;
} deflate_lexer_t;

static void
deflate_skip_ows(deflate_lexer_t *l)
{
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t')) {
        l->p++;
    }
}

static int
deflate_is_tchar(unsigned char c)
{
    /* RFC 9110 §5.6.2 tchar. */
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z')) {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A token into [*s, *s + *n); AM_ERROR when none is there. */
static int
deflate_token(deflate_lexer_t *l, const char **s, size_t *n)
{
    const char *start = l->p;

    while (l->p < l->end && deflate_is_tchar((unsigned char)*l->p)) {
        l->p++;
    }
    *s = start;
    *n = (size_t)(l->p - start);
    return *n > 0 ? AM_OK : AM_ERROR;
}

/* A token or a quoted string, unquoted into buf (NUL-terminated). */
static int
deflate_value(deflate_lexer_t *l, char *buf, size_t size)
{
    const char *s;
    size_t n = 0;

    if (l->p < l->end && *l->p == '"') {
        l->p++;
        while (l->p < l->end && *l->p != '"') {
            if (*l->p == '\\' && l->p + 1 < l->end) {
                l->p++;
            }
            if (n + 1 < size) {
                buf[n] = *l->p;
            }
            n++;
            l->p++;
        }
        if (l->p == l->end) {
            return AM_ERROR;
        }
        l->p++;
    } else {
        if (deflate_token(l, &s, &n) != AM_OK) {
            return AM_ERROR;
        }
        if (n < size) {
            memcpy(buf, s, n);
        }
    }
    if (n >= size) {
        buf[0] = '\0'; /* too long to be a valid value */
        return AM_OK;
    }
    buf[n] = '\0';
    return AM_OK;
}

/* §7.1.2: 8..15, decimal, no leading zero. 0 when not that. */
static int
deflate_bits(const char *v)
{
    if (v[0] == '8' || v[0] == '9') {
        return v[1] == '\0' ? v[0] - '0' : 0;
    }
    if (v[0] == '1' && v[1] >= '0' && v[1] <= '5' && v[2] == '\0') {
        return 10 + v[1] - '0';
    }
    return 0;
}

static void
deflate_param(deflate_offer_t *o, const char *name, size_t n, int has_value,
              const char *value)
{
#define IS(s) (n == sizeof(s) - 1 && strncasecmp(name, s, n) == 0)
    if (IS("server_no_context_takeover")) {
        /* §7.1.1.1: no value; §7: a repeated parameter declines. */
        if (has_value || o->server_no_context_takeover) {
            o->invalid = 1;
        }
        o->server_no_context_takeover = 1;
    } else if (IS("client_no_context_takeover")) {
        if (has_value || o->client_no_context_takeover) {
            o->invalid = 1;
        }
        o->client_no_context_takeover = 1;
    } else if (IS("server_max_window_bits")) {
        /* §7.1.2.1: a value is required. */
        if (!has_value || o->server_max_window_bits != 0 ||
            deflate_bits(value) == 0) {
            o->invalid = 1;
        }
        o->server_max_window_bits = has_value ? deflate_bits(value) : 0;
    } else if (IS("client_max_window_bits")) {
        /* §7.1.2.2: the value is optional. */
        if (o->client_max_window_bits != 0 ||
            (has_value && deflate_bits(value) == 0)) {
            o->invalid = 1;
        }
        o->client_max_window_bits = has_value ? deflate_bits(value) : -1;
    } else {
        /* §7: a parameter not defined for an offer declines it. */
        o->invalid = 1;
    }
#undef IS
}

/* Choose the parameters for one valid offer; AM_DECLINED when we cannot. */
static int
deflate_accept(const deflate_offer_t *o, const am_ws_deflate_conf_t *conf,
               am_ws_deflate_params_t *p, char *resp, size_t size)
{
    int n, len = 0;

    memset(p, 0, sizeof(*p));
    p->server_no_context_takeover =
        o->server_no_context_takeover || conf->server_no_context_takeover;
    p->client_no_context_takeover =
        o->client_no_context_takeover || conf->client_no_context_takeover;

    p->server_max_window_bits = conf->server_max_window_bits;
    if (o->server_max_window_bits != 0) {
        if (o->server_max_window_bits < DEFLATE_BITS_MIN) {
            return AM_DECLINED; /* see the top of this file */
        }
        p->server_max_window_bits =
            am_min(o->server_max_window_bits, conf->server_max_window_bits);
    }

    /* §7.1.2.2: without the parameter in the offer the client may use
     * any window: inflate with 15 bits, and never answer it. */
    p->client_max_window_bits = 15;
    if (o->client_max_window_bits == -1) {
        p->client_max_window_bits = conf->client_max_window_bits;
    } else if (o->client_max_window_bits > 0) {
        p->client_max_window_bits =
            am_min(o->client_max_window_bits, conf->client_max_window_bits);
    }

    n = snprintf(resp, size, "permessage-deflate");
    if (n < 0 || (size_t)n >= size) {
        return AM_ERROR;
    }
    len = n;
    if (p->server_no_context_takeover) {
        n = snprintf(resp + len, size - (size_t)len,
                     "; server_no_context_takeover");
        if (n < 0 || (size_t)n >= size - (size_t)len) {
            return AM_ERROR;
        }
        len += n;
    }
    if (p->client_no_context_takeover) {
        n = snprintf(resp + len, size - (size_t)len,
                     "; client_no_context_takeover");
        if (n < 0 || (size_t)n >= size - (size_t)len) {
            return AM_ERROR;
        }
        len += n;
    }
    if (o->server_max_window_bits != 0) {
        n = snprintf(resp + len, size - (size_t)len,
                     "; server_max_window_bits=%d", p->server_max_window_bits);
        if (n < 0 || (size_t)n >= size - (size_t)len) {
            return AM_ERROR;
        }
        len += n;
    }
    if (o->client_max_window_bits != 0) {
        n = snprintf(resp + len, size - (size_t)len,
                     "; client_max_window_bits=%d", p->client_max_window_bits);
        if (n < 0 || (size_t)n >= size - (size_t)len) {
            return AM_ERROR;
        }
    }
    /* Our inflate reads any window up to its own; 8 is read as 9. */
    p->client_max_window_bits =
        am_max(p->client_max_window_bits, DEFLATE_BITS_MIN);
    return AM_OK;
}

void
am_ws_deflate_conf_default(am_ws_deflate_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->server_max_window_bits = 15;
    conf->client_max_window_bits = 15;
    conf->mem_level = 8;
    conf->level = Z_DEFAULT_COMPRESSION;
}

int
am_ws_deflate_negotiate(const char *value, size_t len,
                        const am_ws_deflate_conf_t *conf,
                        am_ws_deflate_params_t *params, char *resp,
                        size_t resp_size)
{
    deflate_lexer_t l = { value, value + len };
    deflate_offer_t o;
    const char *name, *pname;
    size_t n, pn;
    char v[16];
    int chosen = 0, is_deflate, has_value, rc;

    for (;;) {
        /* RFC 9110 §5.6.1: empty list elements are allowed. */
        while (l.p < l.end && (*l.p == ',' || *l.p == ' ' || *l.p == '\t')) {
            l.p++;
        }
        if (l.p == l.end) {
            break;
        }
        if (deflate_token(&l, &name, &n) != AM_OK) {
            return AM_DECLINED;
        }
        is_deflate = n == sizeof("permessage-deflate") - 1 &&
                     strncasecmp(name, "permessage-deflate", n) == 0;
        memset(&o, 0, sizeof(o));
        for (;;) {
            deflate_skip_ows(&l);
            if (l.p == l.end || *l.p == ',') {
                break;
            }
            if (*l.p != ';') {
                return AM_DECLINED;
            }
            l.p++;
            deflate_skip_ows(&l);
            if (deflate_token(&l, &pname, &pn) != AM_OK) {
                return AM_DECLINED;
            }
            deflate_skip_ows(&l);
            has_value = 0;
            v[0] = '\0';
            if (l.p < l.end && *l.p == '=') {
                l.p++;
                deflate_skip_ows(&l);
                if (deflate_value(&l, v, sizeof(v)) != AM_OK) {
                    return AM_DECLINED;
                }
                has_value = 1;
            }
            deflate_param(&o, pname, pn, has_value, v);
        }
        if (!is_deflate || o.invalid || chosen) {
            continue; /* parse the rest: a malformed tail declines all */
        }
        rc = deflate_accept(&o, conf, params, resp, resp_size);
        if (rc == AM_ERROR) {
            return AM_DECLINED;
        }
        chosen = rc == AM_OK;
    }
    return chosen ? AM_OK : AM_DECLINED;
}

void
am_ws_deflate_init(am_ws_deflate_t *d, const am_ws_deflate_params_t *p,
                   int mem_level, int level)
{
    memset(d, 0, sizeof(*d));
    d->params = *p;
    d->mem_level = mem_level;
    d->level = level;
}

void
am_ws_deflate_free(am_ws_deflate_t *d)
{
    if (d->in_ready) {
        inflateEnd(&d->in);
        d->in_ready = 0;
    }
    if (d->out_ready) {
        deflateEnd(&d->out);
        d->out_ready = 0;
    }
    d->tail_fed = 0;
}

int
am_ws_deflate_inflate(am_ws_deflate_t *d, const uint8_t *in, size_t in_len,
                      int last, uint8_t *out, size_t out_cap, size_t *in_used,
                      size_t *out_len)
{
    z_stream *z = &d->in;
    size_t all_in;
    int rc;

    *in_used = 0;
    *out_len = 0;
    if (!d->in_ready) {
        memset(z, 0, sizeof(*z));
        if (inflateInit2(z, -d->params.client_max_window_bits) != Z_OK) {
            return AM_ERROR;
        }
        d->in_ready = 1;
        d->tail_fed = 0;
    }
    /* zlib counts in uInt: take at most 1 GiB a call (AM_AGAIN). */
    all_in = in_len;
    in_len = am_min(in_len, (size_t)DEFLATE_CALL_MAX);
    out_cap = am_min(out_cap, (size_t)DEFLATE_CALL_MAX);
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)in_len;
    z->next_out = out;
    z->avail_out = (uInt)out_cap;

    while (z->avail_in > 0 && z->avail_out > 0) {
        rc = inflate(z, Z_SYNC_FLUSH);
        if (rc == Z_STREAM_END) {
            /* A block with BFINAL set ends zlib's stream; the message may
             * go on with a new one (RFC 7692 §7.2.3.3). */
            inflateReset(z);
            continue;
        }
        if (rc == Z_BUF_ERROR) {
            break;
        }
        if (rc != Z_OK) {
            goto fail;
        }
    }
    *in_used = in_len - z->avail_in;
    *out_len = out_cap - z->avail_out;
    if (*in_used < all_in) {
        return AM_AGAIN;
    }
    if (!last) {
        return AM_OK;
    }

    /* §7.2.2: append 00 00 ff ff to the message's payload and inflate. */
    for (;;) {
        if (z->avail_out == 0) {
            return AM_AGAIN;
        }
        z->next_in = (Bytef *)(uintptr_t)(deflate_tail + d->tail_fed);
        z->avail_in = 4 - d->tail_fed;
        rc = inflate(z, Z_SYNC_FLUSH);
        d->tail_fed = (uint8_t)(4 - z->avail_in);
        *out_len = out_cap - z->avail_out;
        if (rc == Z_STREAM_END) {
            inflateReset(z);
            continue;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            goto fail;
        }
        if (z->avail_out > 0 && d->tail_fed == 4) {
            break; /* all output is out */
        }
        if (rc == Z_BUF_ERROR && z->avail_out > 0) {
            goto fail; /* no progress with room: cannot happen on data */
        }
    }
    d->tail_fed = 0;
    /* §7.1.1.2: without context takeover each message starts afresh. */
    if (d->params.client_no_context_takeover) {
        inflateReset(z);
    }
    return AM_OK;

fail:
    inflateReset(z);
    d->tail_fed = 0;
    return AM_ERROR;
}

int
am_ws_deflate_compress(am_ws_deflate_t *d, const uint8_t *in, size_t len,
                       uint8_t **out, size_t *out_len)
{
    z_stream *z = &d->out;
    size_t cap, done;
    uint8_t *buf;
    int rc;

    *out = NULL;
    *out_len = 0;
    if (len > DEFLATE_CALL_MAX) {
        return AM_ERROR; /* zlib counts in uInt: send it uncompressed */
    }
    if (!d->out_ready) {
        memset(z, 0, sizeof(*z));
        if (deflateInit2(z, d->level, Z_DEFLATED,
                         -d->params.server_max_window_bits, d->mem_level,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            return AM_ERROR;
        }
        d->out_ready = 1;
    }
    /* The bound plus a sync flush's empty stored block and spare bits. */
    cap = deflateBound(z, (uLong)len) + 16;
    buf = am_alloc(cap);
    done = 0;
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)len;
    for (;;) {
        z->next_out = buf + done;
        z->avail_out = (uInt)(cap - done);
        rc = deflate(z, Z_SYNC_FLUSH);
        done = cap - z->avail_out;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            free(buf);
            deflateReset(z);
            return AM_ERROR;
        }
        if (z->avail_out > 0) {
            break; /* sync flush done: all input and output are out */
        }
        cap *= 2;
        buf = am_realloc(buf, cap);
    }
    /* §7.2.1: remove the 4 octets 00 00 ff ff at the tail end. */
    if (done >= 4 && memcmp(buf + done - 4, deflate_tail, 4) == 0) {
        done -= 4;
    }
    if (d->params.server_no_context_takeover) {
        deflateReset(z);
    }
    *out = buf;
    *out_len = done;
    return AM_OK;
}
