/* worker/ws_handshake.c: the opening handshake's checks and the accept key.
 *
 * No state and no I/O: the protocol code (HTTP/1.1 Upgrade, HTTP/2
 * extended CONNECT) hands the values in and sends the answer. SHA-1 and
 * base64 come from OpenSSL, which the server links for TLS anyway.
 */

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "common/core.h"
#include "worker/ws_handshake.h"

/* §1.3: the GUID a server appends to the key. */
#define WS_GUID    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24 /* base64 of 16 bytes: 22 characters and "==" */

static void
handshake_trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) {
        (*len)--;
    }
}

static int
handshake_is_base64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static int
handshake_is_tchar(unsigned char c)
{
    /* RFC 9110 §5.6.2 tchar. */
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z')) {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int
am_ws_handshake_key_is_valid(const char *key, size_t len)
{
    handshake_trim(&key, &len);
    /* §4.2.1 item 5: decoded, the key is 16 bytes long. */
    if (len != WS_KEY_LEN || key[22] != '=' || key[23] != '=') {
        return 0;
    }
    for (size_t i = 0; i < 22; i++) {
        if (!handshake_is_base64((unsigned char)key[i])) {
            return 0;
        }
    }
    return 1;
}

int
am_ws_handshake_accept(const char *key, size_t len, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char buf[WS_KEY_LEN + sizeof(WS_GUID)];
    EVP_MD_CTX *ctx;
    int ok;

    handshake_trim(&key, &len);
    if (len > WS_KEY_LEN) {
        return AM_ERROR; /* never valid: see am_ws_handshake_key_is_valid() */
    }
    memcpy(buf, key, len);
    memcpy(buf + len, WS_GUID, sizeof(WS_GUID) - 1);

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return AM_ERROR;
    }
    ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, buf, len + sizeof(WS_GUID) - 1) == 1 &&
         EVP_DigestFinal_ex(ctx, md, &md_len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok || md_len != 20) {
        return AM_ERROR;
    }
    if (EVP_EncodeBlock((unsigned char *)out, md, (int)md_len) !=
        AM_WS_ACCEPT_LEN) {
        return AM_ERROR;
    }
    return AM_OK;
}

int
am_ws_handshake_has_token(const char *value, size_t len, const char *token)
{
    size_t tlen = strlen(token), i = 0, start, n;
    const char *s;

    while (i < len) {
        start = i;
        while (i < len && value[i] != ',') {
            i++;
        }
        s = value + start;
        n = i - start;
        handshake_trim(&s, &n);
        if (n == tlen && strncasecmp(s, token, n) == 0) {
            return 1;
        }
        i++; /* past the comma */
    }
    return 0;
}

int
am_ws_handshake_subprotocols(const char *value, size_t len,
                             am_ws_token_t *tokens, size_t max, size_t *n)
{
    size_t i = 0, start, k;
    const char *s;

    *n = 0;
    while (i < len) {
        start = i;
        while (i < len && value[i] != ',') {
            i++;
        }
        s = value + start;
        k = i - start;
        handshake_trim(&s, &k);
        i++;
        if (k == 0) {
            continue; /* RFC 9110 §5.6.1: empty elements are allowed */
        }
        for (size_t j = 0; j < k; j++) {
            if (!handshake_is_tchar((unsigned char)s[j])) {
                return AM_ERROR;
            }
        }
        if (*n == max) {
            return AM_ERROR;
        }
        tokens[*n].data = s;
        tokens[*n].len = k;
        (*n)++;
    }
    return AM_OK;
}

int
am_ws_handshake_check(const am_ws_request_t *r)
{
    const char *v = r->version.data;
    size_t vlen = r->version.len;

    if (!r->h2) {
        /* §4.2.1 items 3, 4, 5: Upgrade names websocket, Connection names
         * Upgrade, and a valid key. */
        if (r->upgrade.data == NULL ||
            !am_ws_handshake_has_token(r->upgrade.data, r->upgrade.len,
                                       "websocket") ||
            r->connection.data == NULL ||
            !am_ws_handshake_has_token(r->connection.data, r->connection.len,
                                       "upgrade") ||
            r->key.data == NULL ||
            !am_ws_handshake_key_is_valid(r->key.data, r->key.len)) {
            return 400;
        }
    }
    /* §4.2.1 item 6 and §4.2.2: a missing or other version gets 426 and
     * the versions we speak. RFC 8441 §5 keeps the header on HTTP/2. */
    if (v != NULL) {
        handshake_trim(&v, &vlen);
    }
    if (v == NULL || vlen != 2 || memcmp(v, AM_WS_VERSION, 2) != 0) {
        return 426;
    }
    return 0;
}
