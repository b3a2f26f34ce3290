"""RFC 6455 over raw sockets: the opening handshake (§4.2: 101 and the
accept value, 400 for a bad or missing key, 426 with
Sec-WebSocket-Version: 13), and the framing MUSTs that fail the
connection (§5: masking, reserved bits and opcodes, control frames,
continuation rules; §7.4 close codes; §8.1 UTF-8), ping/pong and the
close echo (issue 9).
"""

import base64
import os

import pytest

from wsraw import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                   WsRaw, accept_for, close_payload, frame)
from conftest import running


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with running(tmp_path_factory.mktemp("wsrfc"),
                 {"app": "ws_raw:app"}, strict_errors=True) as s:
        yield s


def addr(srv):
    return ("127.0.0.1", srv.port)


def opened(srv, path="/echo", headers=None):
    c, status, head = WsRaw.handshake(addr(srv), path, headers)
    assert status == 101, head
    return c


# ---------------------------------------------------------------- §4.2


def test_handshake_101_and_accept(srv):
    key = base64.b64encode(os.urandom(16)).decode()
    c, status, head = WsRaw.handshake(addr(srv), key=key)
    with c:
        assert status == 101
        assert c.header("upgrade").lower() == "websocket"
        assert "upgrade" in c.header("connection").lower()
        assert c.header("sec-websocket-accept") == accept_for(key)
        assert c.header("sec-websocket-extensions") is None


@pytest.mark.parametrize("key", ["", "short", "dGhlIHNhbXBsZSBub25jZTEy",
                                 "!!!!!!!!!!!!!!!!!!!!!!=="])
def test_bad_or_missing_key_is_400(srv, key):
    c, status, head = WsRaw.handshake(addr(srv), key=key)
    with c:
        assert status == 400, head


@pytest.mark.parametrize("version", ["8", "12", "14", ""])
def test_other_version_is_426(srv, version):
    c, status, head = WsRaw.handshake(addr(srv), version=version)
    with c:
        assert status == 426, head
        assert c.header("sec-websocket-version") == "13"


def test_compression_offer_answered(srv):
    c, status, head = WsRaw.handshake(
        addr(srv), headers=["Sec-WebSocket-Extensions: permessage-deflate; "
                            "client_max_window_bits"])
    with c:
        assert status == 101
        assert c.header("sec-websocket-extensions").startswith(
            "permessage-deflate")


def test_unknown_extension_not_answered(srv):
    c, status, head = WsRaw.handshake(
        addr(srv), headers=["Sec-WebSocket-Extensions: x-unknown"])
    with c:
        assert status == 101
        assert c.header("sec-websocket-extensions") is None


# ---------------------------------------------------------------- §5


def expect_close(srv, code, *frames, path="/echo"):
    with opened(srv, path) as c:
        for f in frames:
            c.send(f)
        assert c.recv_close() == code
        c.read_to_eof()  # §7.1.1: the server closes the TCP connection


def test_echo_masked_text(srv):
    with opened(srv) as c:
        c.send(frame(OP_TEXT, b"Hello"))
        assert c.recv_frame() == (True, 0, OP_TEXT, b"Hello")


def test_unmasked_client_frame_is_1002(srv):
    expect_close(srv, 1002, frame(OP_TEXT, b"Hello", mask=False))


@pytest.mark.parametrize("rsv", [1, 2, 4])
def test_reserved_bits_are_1002(srv, rsv):
    expect_close(srv, 1002, frame(OP_TEXT, b"x", rsv=rsv))


@pytest.mark.parametrize("op", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_are_1002(srv, op):
    expect_close(srv, 1002, frame(op, b"x"))


def test_control_frame_over_125_is_1002(srv):
    expect_close(srv, 1002, frame(OP_PING, b"x" * 126))


def test_fragmented_control_frame_is_1002(srv):
    expect_close(srv, 1002, frame(OP_PING, b"x", fin=False))


def test_continuation_without_start_is_1002(srv):
    expect_close(srv, 1002, frame(OP_CONT, b"x"))


def test_new_message_inside_fragmented_is_1002(srv):
    expect_close(srv, 1002, frame(OP_TEXT, b"a", fin=False),
                 frame(OP_TEXT, b"b"))


def test_64bit_length_top_bit_is_1002(srv):
    with opened(srv) as c:
        c.send(bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]) +
               b"\x11\x22\x33\x44")
        assert c.recv_close() == 1002


def test_ping_answered_with_same_payload(srv):
    with opened(srv) as c:
        c.send(frame(OP_PING, b"are you there"))
        assert c.recv_frame() == (True, 0, OP_PONG, b"are you there")


def test_ping_between_fragments(srv):
    with opened(srv) as c:
        c.send(frame(OP_TEXT, b"Hel", fin=False))
        c.send(frame(OP_PING, b"p"))
        c.send(frame(OP_CONT, b"lo"))
        assert c.recv_frame() == (True, 0, OP_PONG, b"p")
        assert c.recv_frame() == (True, 0, OP_TEXT, b"Hello")


def test_unsolicited_pong_ignored(srv):
    with opened(srv) as c:
        c.send(frame(OP_PONG, b"x"))
        c.send(frame(OP_BINARY, b"\x00\x01"))
        assert c.recv_frame() == (True, 0, OP_BINARY, b"\x00\x01")


def test_one_byte_at_a_time(srv):
    with opened(srv) as c:
        for b in frame(OP_TEXT, "é€𝄞".encode()):
            c.send(bytes([b]))
        assert c.recv_frame() == (True, 0, OP_TEXT, "é€𝄞".encode())


# ---------------------------------------------------------------- §7, §8.1


def test_close_echoed(srv):
    with opened(srv) as c:
        c.send(frame(OP_CLOSE, close_payload(1000, b"bye")))
        assert c.recv_close() == 1000
        c.read_to_eof()


def test_empty_close_answered(srv):
    with opened(srv) as c:
        c.send(frame(OP_CLOSE, b""))
        fin, rsv, op, payload = c.recv_frame()
        assert op == OP_CLOSE
        assert payload in (b"", close_payload(1000))


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016,
                                  2999, 5000])
def test_invalid_close_code_is_1002(srv, code):
    expect_close(srv, 1002, frame(OP_CLOSE, close_payload(code)))


def test_one_byte_close_is_1002(srv):
    expect_close(srv, 1002, frame(OP_CLOSE, b"\x03"))


def test_close_reason_not_utf8_is_1007(srv):
    expect_close(srv, 1007, frame(OP_CLOSE, close_payload(1000, b"\xff")))


def test_text_not_utf8_is_1007(srv):
    expect_close(srv, 1007, frame(OP_TEXT, b"ok \xed\xa0\x80"))


def test_text_not_utf8_across_fragments_is_1007(srv):
    # A valid first fragment ends mid-character; the second breaks it.
    expect_close(srv, 1007, frame(OP_TEXT, b"\xce", fin=False),
                 frame(OP_CONT, b"\x41"))


def test_utf8_split_across_fragments_is_fine(srv):
    with opened(srv) as c:
        c.send(frame(OP_TEXT, b"\xf0\x9d", fin=False))
        c.send(frame(OP_CONT, b"\x84\x9e"))
        assert c.recv_frame() == (True, 0, OP_TEXT, "𝄞".encode())


# ---------------------------------------------------------------- RFC 7692


def test_compressed_frame_without_negotiation_is_1002(srv):
    expect_close(srv, 1002, frame(OP_TEXT, b"\xf2\x48\xcd\xc9\xc9\x07\x00",
                                  rsv=4))


def test_compressed_hello(srv):
    c, status, head = WsRaw.handshake(
        addr(srv), headers=["Sec-WebSocket-Extensions: permessage-deflate"])
    with c:
        assert status == 101
        # RFC 7692 7.2.3.1: "Hello" compressed.
        c.send(frame(OP_TEXT, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv=4))
        fin, rsv, op, payload = c.recv_frame()
        assert op == OP_TEXT and fin
        import zlib
        if rsv & 4:
            d = zlib.decompressobj(-15)
            payload = d.decompress(payload + b"\x00\x00\xff\xff")
        assert payload == b"Hello"


def test_zip_bomb_is_1009(srv):
    import zlib
    c, status, head = WsRaw.handshake(
        addr(srv), headers=["Sec-WebSocket-Extensions: permessage-deflate"])
    with c:
        assert status == 101
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = z.compress(b"\x00" * (64 << 20)) + z.flush(zlib.Z_SYNC_FLUSH)
        c.send(frame(OP_BINARY, data[:-4], rsv=4))
        assert c.recv_close() == 1009


def test_close_echo_reaches_a_half_closed_client(srv):
    import socket
    with opened(srv) as c:
        c.send(frame(OP_CLOSE, close_payload(1000, b"bye")))
        c.sock.shutdown(socket.SHUT_WR)  # FIN right after the close frame
        assert c.recv_close() == 1000
        c.read_to_eof()
