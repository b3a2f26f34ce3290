/* worker/h2c.c: HTTP/2 over cleartext by Upgrade (RFC 7540 §3.2): the
 * offer an HTTP/1.1 request makes (Upgrade: h2c, Connection: Upgrade,
 * HTTP2-Settings, one of each), its HTTP2-Settings decoded and checked,
 * and the switch: 101, then HTTP/2 serves the request as stream 1.
 */

#include <string.h>
#include <sys/types.h>

#include "worker/h2c.h"
#include "worker/http.h"
#include "worker/http2.h"

/* RFC 4648 §5 base64url without padding (HTTP2-Settings, RFC 7540
 * §3.2.1). Returns the decoded length or -1. */
static ssize_t
h2c_base64url(const char *in, size_t len, uint8_t *out, size_t size)
{
    uint32_t acc = 0;
    size_t i, n = 0;
    int bits = 0, v;

    while (len > 0 && in[len - 1] == '=') {
        len--;
    }
    for (i = 0; i < len; i++) {
        char ch = in[i];

        if (ch >= 'A' && ch <= 'Z') {
            v = ch - 'A';
        } else if (ch >= 'a' && ch <= 'z') {
            v = ch - 'a' + 26;
        } else if (ch >= '0' && ch <= '9') {
            v = ch - '0' + 52;
        } else if (ch == '-' || ch == '+') {
            v = 62;
        } else if (ch == '_' || ch == '/') {
            v = 63;
        } else {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == size) {
                return -1;
            }
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (ssize_t)n;
}

/* The SETTINGS entries HTTP/2 accepts in one frame (http2.c's option). */
#define H2C_MAX_SETTINGS 32

/* RFC 9113 §6.5.2: values a SETTINGS frame may not carry. */
static int
h2c_settings_valid(const uint8_t *p, size_t len)
{
    size_t i;

    if (len / 6 > H2C_MAX_SETTINGS) {
        return 0; /* more than nghttp2 accepts: serve HTTP/1.1 instead */
    }
    for (i = 0; i + 6 <= len; i += 6) {
        uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
        uint32_t v = (uint32_t)p[i + 2] << 24 | (uint32_t)p[i + 3] << 16 |
                     (uint32_t)p[i + 4] << 8 | p[i + 5];

        if ((id == 0x2 && v > 1) || (id == 0x4 && v > 0x7fffffffu) ||
            (id == 0x5 && (v < 16384 || v > 16777215))) {
            return 0;
        }
    }
    return 1;
}

void
am_h2c_offer_field(am_h2c_offer_t *o, am_http_token_t t, const char *v,
                   size_t len)
{
    switch (t) {
    case AM_HTTP_TOKEN_UPGRADE:
        o->upgrade = am_http_value_has_token(v, len, "h2c");
        break;
    case AM_HTTP_TOKEN_CONNECTION:
        o->connection |=
            (am_http_value_has_token(v, len, "upgrade") ? 1 : 0) |
            (am_http_value_has_token(v, len, "http2-settings") ? 2 : 0);
        break;
    case AM_HTTP_TOKEN_HTTP2_SETTINGS:
        o->settings = v;
        o->settings_len = len;
        o->nsettings++;
        break;
    default:
        break;
    }
}

ssize_t
am_h2c_offer_settings(const am_h2c_offer_t *o, uint8_t *payload, size_t size)
{
    ssize_t len;

    /* Exactly one HTTP2-Settings, named in Connection with Upgrade. */
    if (!o->upgrade || o->connection != 3 || o->nsettings != 1) {
        return -1;
    }
    len = h2c_base64url(o->settings, o->settings_len, payload, size);
    if (len < 0 || len % 6 != 0 || !h2c_settings_valid(payload, (size_t)len)) {
        return -1; /* a bad HTTP2-Settings is no upgrade either */
    }
    return len;
}

int
am_h2c_switch(am_conn_t *c, const uint8_t *settings, size_t len,
              am_asgi_head_t *head, am_header_t *headers)
{
    size_t i, k = 0;

    /* The h2 request carries no connection-specific fields. */
    for (i = 0; i < head->nheaders; i++) {
        if (!am_http_token_is(
                am_http_token_find(headers[i].name, headers[i].name_len),
                AM_HTTP_TOKEN_HOP_BY_HOP)) {
            headers[k++] = headers[i];
        }
    }
    head->headers = headers;
    head->nheaders = k;
    am_conn_write_str(c, "HTTP/1.1 101 Switching Protocols\r\n"
                         "Connection: Upgrade\r\n"
                         "Upgrade: h2c\r\n\r\n");
    return am_http2_upgrade(c, settings, len, head);
}
