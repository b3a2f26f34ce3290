/* tests/unit/worker/test_ws_handshake.c: the opening handshake checks
 * (worker/ws_handshake.c): the key, the accept value of RFC 6455 §1.3 and
 * §4.2.2, token lists in Connection and Upgrade, subprotocols, and the
 * status a request gets (400, 426).
 */

#include <string.h>

#include "common/core.h"
#include "tests/unit/unit.h"
#include "worker/ws_handshake.h"

#define V(s)                                                                   \
    (am_ws_value_t)                                                            \
    {                                                                          \
        s, sizeof(s) - 1                                                       \
    }

/* RFC 6455 §1.3 and §4.2.2's example. */
TEST(accept_rfc_example)
{
    char out[AM_WS_ACCEPT_LEN + 1];

    ASSERT_EQ(am_ws_handshake_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, out),
              AM_OK);
    ASSERT_STR_EQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* OWS around the value is not part of the key. */
    ASSERT_EQ(am_ws_handshake_accept(" dGhlIHNhbXBsZSBub25jZQ==\t", 26, out),
              AM_OK);
    ASSERT_STR_EQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* Another, computed with Python's hashlib and base64. */
    ASSERT_EQ(am_ws_handshake_accept("CSIRmL8dWYxeAdr/XpEHRw==", 24, out),
              AM_OK);
    ASSERT_STR_EQ(out, "Cl08BPHCO6KrG+lBD2wp0+jmtMQ=");
}

TEST(key_validity)
{
    ASSERT_EQ(am_ws_handshake_key_is_valid("dGhlIHNhbXBsZSBub25jZQ==", 24), 1);
    ASSERT_EQ(am_ws_handshake_key_is_valid(" dGhlIHNhbXBsZSBub25jZQ== ", 26),
              1);
    ASSERT_EQ(am_ws_handshake_key_is_valid("", 0), 0);
    ASSERT_EQ(am_ws_handshake_key_is_valid("dGhlIHNhbXBsZSBub25jZQ=", 23), 0);
    ASSERT_EQ(am_ws_handshake_key_is_valid("dGhlIHNhbXBsZSBub25jZQ===", 25), 0);
    /* 18 bytes, base64'd: not 16. */
    ASSERT_EQ(am_ws_handshake_key_is_valid("dGhlIHNhbXBsZSBub25jZTEy", 24), 0);
    ASSERT_EQ(am_ws_handshake_key_is_valid("dGhlIHNhbXBsZSBub25jZ!==", 24), 0);
    ASSERT_EQ(am_ws_handshake_key_is_valid("dGhlIHNhbXB sZSBub25jZ==", 24), 0);
    ASSERT_EQ(am_ws_handshake_key_is_valid("not a key", 9), 0);
}

TEST(token_lists)
{
    ASSERT_EQ(am_ws_handshake_has_token("Upgrade", 7, "upgrade"), 1);
    ASSERT_EQ(am_ws_handshake_has_token("keep-alive, Upgrade", 19, "upgrade"),
              1);
    ASSERT_EQ(am_ws_handshake_has_token("keep-alive,upgrade ,x", 21, "upgrade"),
              1);
    ASSERT_EQ(am_ws_handshake_has_token("keep-alive", 10, "upgrade"), 0);
    ASSERT_EQ(am_ws_handshake_has_token("upgrades", 8, "upgrade"), 0);
    ASSERT_EQ(am_ws_handshake_has_token("", 0, "upgrade"), 0);
    ASSERT_EQ(am_ws_handshake_has_token("WebSocket", 9, "websocket"), 1);
    ASSERT_EQ(am_ws_handshake_has_token("h2c, websocket", 14, "websocket"), 1);
}

TEST(subprotocols)
{
    am_ws_token_t t[4];
    size_t n;

    ASSERT_EQ(am_ws_handshake_subprotocols("chat, superchat", 15, t, 4, &n),
              AM_OK);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(t[0].len, 4);
    ASSERT_EQ(memcmp(t[0].data, "chat", 4), 0);
    ASSERT_EQ(t[1].len, 9);
    ASSERT_EQ(memcmp(t[1].data, "superchat", 9), 0);
    ASSERT_EQ(am_ws_handshake_subprotocols(" , graphql-ws ,", 15, t, 4, &n),
              AM_OK);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(t[0].len, 10);
    ASSERT_EQ(am_ws_handshake_subprotocols("", 0, t, 4, &n), AM_OK);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(am_ws_handshake_subprotocols("a b", 3, t, 4, &n), AM_ERROR);
    ASSERT_EQ(am_ws_handshake_subprotocols("\"chat\"", 6, t, 4, &n), AM_ERROR);
    ASSERT_EQ(am_ws_handshake_subprotocols("a,b,c,d,e", 9, t, 4, &n), AM_ERROR);
}

TEST(check_status)
{
    am_ws_request_t r;

    memset(&r, 0, sizeof(r));
    r.upgrade = V("websocket");
    r.connection = V("Upgrade");
    r.key = V("dGhlIHNhbXBsZSBub25jZQ==");
    r.version = V("13");
    ASSERT_EQ(am_ws_handshake_check(&r), 0);

    r.version = V("8");
    ASSERT_EQ(am_ws_handshake_check(&r), 426);
    r.version = V("13, 8");
    ASSERT_EQ(am_ws_handshake_check(&r), 426);
    r.version.data = NULL;
    ASSERT_EQ(am_ws_handshake_check(&r), 426);
    r.version = V(" 13 ");
    ASSERT_EQ(am_ws_handshake_check(&r), 0);

    r.key = V("short");
    ASSERT_EQ(am_ws_handshake_check(&r), 400);
    r.key.data = NULL;
    ASSERT_EQ(am_ws_handshake_check(&r), 400);
    r.key = V("dGhlIHNhbXBsZSBub25jZQ==");
    r.connection = V("keep-alive");
    ASSERT_EQ(am_ws_handshake_check(&r), 400);
    r.connection = V("keep-alive, Upgrade");
    r.upgrade = V("h2c");
    ASSERT_EQ(am_ws_handshake_check(&r), 400);
    r.upgrade.data = NULL;
    ASSERT_EQ(am_ws_handshake_check(&r), 400);

    /* RFC 8441 §5: on HTTP/2 no key, no Upgrade; the version stays. */
    memset(&r, 0, sizeof(r));
    r.h2 = 1;
    r.version = V("13");
    ASSERT_EQ(am_ws_handshake_check(&r), 0);
    r.version = V("12");
    ASSERT_EQ(am_ws_handshake_check(&r), 426);
}
