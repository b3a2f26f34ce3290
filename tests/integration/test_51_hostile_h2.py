"""Hostile HTTP/2 input (issue 10, items 9-15), RFC 9113.

One test per item, each over h2c (prior knowledge) and over TLS with ALPN
h2, each followed by a check that the worker survived and serves fresh
HTTP/1.1 and HTTP/2 requests; the memory-class tests also bound the
worker's RSS growth. Keys and metrics these tests propose:
  limits.body_min_rate   (see test_50) also applies to a stream's body:
                         408 on that stream
  http2.reset_budget     RST_STREAMs the server may issue on a connection
                         (any cause) before GOAWAY ENHANCE_YOUR_CALM;
                         default 100, refilled at budget/10 per second
  http2.empty_frame_budget  frames with no payload and no state change
                         (empty DATA without END_STREAM, ...) per
                         connection before GOAWAY ENHANCE_YOUR_CALM;
                         default 1000, refilled likewise
  metrics: asgimaster_h2_resets_sent_total (counter),
           asgimaster_connections_abuse_total{cause="reset_budget"|
           "empty_frames"|"continuation_flood"|"header_timeout"|
           "body_too_slow"|"chunk_extensions"} (counter)
SPDX-License-Identifier: BSD-2-Clause
"""

import socket

import pytest

from h2util import (
    DATA, ENHANCE_YOUR_CALM, FLOW_CONTROL_ERROR,
    MAX_WINDOW, NO_ERROR, PADDED, PRIORITY, PROTOCOL_ERROR, RST_STREAM,
    ConnectionClosed, continuation_frame, data_frame, frame,
    headers_frame, hpack_block, window_update_frame)
from hostile import (
    check_alive_h2, check_rss, counts, h1, h2, start, wait_metric,
    worker_rss)
from httpraw import request

pytestmark = pytest.mark.am_timeout(60)

TLS = pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-tls"])


def read_until_goaway_or_close(c, timeout=10.0):
    """Frames until a GOAWAY (returned) or the close (None); a send the
    server refused earlier may have left the GOAWAY in our buffer."""
    try:
        while c.goaway is None:
            c.next_frame(timeout)
    except (ConnectionClosed, socket.timeout):
        pass
    return c.goaway


def send_until_closed(c, data):
    """Send; False when the server has stopped reading (closed/reset)."""
    try:
        c.send(data)
        return True
    except OSError:
        return False


# ------------------------------------------------------------ item 9


@TLS
@pytest.mark.am_timeout(40)
def test_09_h2_dribbled_body_is_cut_off(server, tmp_path, tls):
    """A stream body sent at 4 bytes/s (DATA of one byte every 0.25 s,
    under the per-read timeouts.body_read of 1 s) is answered 408 on its
    stream once below limits.body_min_rate (100 bytes/s); the connection
    stays usable."""
    srv = start(server, tmp_path, tls, {
        "timeouts": {"body_read": "1s"},
        "limits": {"body_min_rate": 100}})
    c = h2(srv)
    try:
        sid = c.request("POST", "/slow", end_stream=False)
        for _ in range(40):
            r = c.responses.get(sid)
            if r and (r.headers or r.reset is not None):
                break
            c.send(data_frame(sid, b"x"))
            c.drain(0.25)
        r = c.responses.get(sid)
        assert r is not None and r.headers, \
            f"a body dribbled for 10 s was never cut off: {r!r}"
        assert r.status == 408, r
        c.expect_no_error()
        # The app, told of the disconnect, ends: that must not reset the
        # stream our 408 answered (only §8.1's NO_ERROR may follow).
        c.drain(0.5)
        assert c.responses[sid].reset in (None, NO_ERROR), c.responses[sid]
    finally:
        c.close()
    check_alive_h2(srv)


# ------------------------------------------------------------ item 10


@TLS
@pytest.mark.am_timeout(90)
def test_10_made_you_reset_budget(server, tmp_path, tls):
    """MadeYouReset (CVE-2025-8671): streams opened and each pushed past
    2^31-1 by WINDOW_UPDATE make the server reset them (FLOW_CONTROL_ERROR,
    RFC 9113 §6.9.1). Past the reset budget (http2.reset_budget, default
    100) the connection ends with GOAWAY ENHANCE_YOUR_CALM, well before
    10,000 streams; the app runs for none of the reset streams beyond the
    budget (at most 128 invocations)."""
    srv = start(server, tmp_path, tls, metrics=True)
    rss = worker_rss(srv)
    c = h2(srv)
    resets = 0
    streams = 0
    try:
        for batch in range(100):          # 100 x 100 = 10,000 streams
            out = []
            for _ in range(100):
                sid = c.alloc_stream()
                out.append(headers_frame(
                    sid, hpack_block(c.request_headers("POST", "/myr")),
                    end_stream=False))
                out.append(window_update_frame(sid, MAX_WINDOW))
            if not send_until_closed(c, b"".join(out)):
                break
            streams += 100
            # read this batch's resets (or the GOAWAY) before the next one
            want = resets + 100
            try:
                while resets < want and c.goaway is None:
                    f = c.next_frame(10)
                    if f.type == RST_STREAM:
                        assert f.error_code == FLOW_CONTROL_ERROR, f
                        resets += 1
            except (ConnectionClosed, socket.timeout):
                break
            if c.goaway is not None:
                break
        g = read_until_goaway_or_close(c)
    finally:
        c.close()
    assert g is not None and g.error_code == ENHANCE_YOUR_CALM, (
        f"no GOAWAY ENHANCE_YOUR_CALM after {streams} streams and "
        f"{resets} resets: {g!r}")
    assert streams < 10000
    n = counts(srv).get("/myr", 0)
    assert n <= 128, f"the app ran for {n} streams reset before completion"
    check_rss(srv, rss)
    check_alive_h2(srv)
    assert wait_metric(srv, "asgimaster_h2_resets_sent_total", 100) >= 100
    assert wait_metric(srv, "asgimaster_connections_abuse_total", 1,
                       {"cause": "reset_budget"}) >= 1


# ------------------------------------------------------------ item 11


@TLS
def test_11_open_header_block_times_out(server, tmp_path, tls):
    """HEADERS without END_HEADERS and then nothing: the request-header
    timeout (timeouts.header_read, here 1 s) covers the open header block
    as it covers a slow preface: GOAWAY, then the close (within 10 s)."""
    srv = start(server, tmp_path, tls, {"timeouts": {"header_read": "1s"}})
    c = h2(srv)
    try:
        sid = c.alloc_stream()
        c.send(headers_frame(sid, hpack_block(c.request_headers()),
                             end_headers=False))
        try:
            c.expect_goaway(tuple(range(14)), timeout=10)
        except AssertionError as e:
            pytest.fail(f"open header block not timed out: {e}")
        with pytest.raises((ConnectionClosed, socket.timeout)):
            while True:
                c.next_frame(5)
        assert c.eof, "connection not closed after the GOAWAY"
    finally:
        c.close()
    check_alive_h2(srv)


# ------------------------------------------------------------ item 12


@TLS
@pytest.mark.am_timeout(90)
def test_12_empty_data_flood(server, tmp_path, tls):
    """CVE-2019-9518: 200,000 zero-length DATA frames without END_STREAM
    on one open stream carry nothing and change nothing: GOAWAY
    ENHANCE_YOUR_CALM past the budget (http2.empty_frame_budget)."""
    srv = start(server, tmp_path, tls, metrics=True)
    rss = worker_rss(srv)
    c = h2(srv)
    try:
        sid = c.request("POST", "/", end_stream=False)
        empty = data_frame(sid, b"") * 10000
        for _ in range(20):
            if not send_until_closed(c, empty):
                break
            c.drain(0)
            if c.goaway is not None:
                break
        g = read_until_goaway_or_close(c)
    finally:
        c.close()
    assert g is not None and g.error_code == ENHANCE_YOUR_CALM, g
    check_rss(srv, rss)
    check_alive_h2(srv)
    assert wait_metric(srv, "asgimaster_connections_abuse_total", 1,
                       {"cause": "empty_frames"}) >= 1


@TLS
@pytest.mark.parametrize("kind", ["priority", "unknown-type"])
def test_12_no_effect_frame_flood(server, tmp_path, tls, kind):
    """The rest of the family: PRIORITY frames (deprecated, RFC 9113
    §5.3.2) and frames of an unknown type (ignored, §5.5) change nothing
    for a request either: the same budget ends a flood of them with
    GOAWAY ENHANCE_YOUR_CALM, here past 50."""
    srv = start(server, tmp_path, tls, {"http2": {"empty_frame_budget": 50}})
    c = h2(srv)
    try:
        if kind == "priority":
            one = frame(PRIORITY, 0, 3, b"\0\0\0\0\x10")
        else:
            one = frame(0x42, 0, 0, b"hello")
        send_until_closed(c, one * 1000)
        g = read_until_goaway_or_close(c)
    finally:
        c.close()
    assert g is not None and g.error_code == ENHANCE_YOUR_CALM, g
    check_alive_h2(srv)


# ------------------------------------------------------------ item 13


@TLS
@pytest.mark.parametrize("when", ["body-after-response",
                                  "body-before-response", "whole-body"])
def test_13_unread_body_returns_connection_window(server, tmp_path, tls,
                                                  when):
    """A stream whose app answered without reading the body gives its
    bytes back to the connection window (RFC 9113 §6.9, also for DATA
    that arrives on a stream the server has closed or reset). With the
    default windows (1 MiB per connection, 256 KiB per stream), five
    streams each leave a full stream window (1.25 MiB in all) unread, sent
    after their response as a client streaming an upload does, or before
    it, or as a whole body (END_STREAM) before the response; then a sixth
    stream still uploads 1.5 MiB and completes."""
    srv = start(server, tmp_path, tls)
    rss = worker_rss(srv)
    c = h2(srv)
    try:
        c.ping_roundtrip()  # the server's SETTINGS and WINDOW_UPDATE are in
        for _ in range(5):
            sid = c.request("POST", "/noread", end_stream=False)
            if when != "body-after-response":
                c.send_body(sid, b"u" * (256 * 1024),
                            end_stream=when == "whole-body", timeout=10)
            r = c.read_response(sid, allow_reset=True)
            assert r.status == 200 and r.data == b"early", r
            if when == "body-after-response":
                c.send_body(sid, b"u" * (256 * 1024), end_stream=False,
                            timeout=10)
        last = c.request("POST", "/len", end_stream=False)
        c.send_body(last, b"v" * (1536 * 1024), timeout=10)
        r = c.read_response(last)
        assert r.status == 200, r
        assert b'"len": 1572864' in r.data, r
    finally:
        c.close()
    check_rss(srv, rss)
    check_alive_h2(srv)


@TLS
def test_13_body_after_response_returns_window_while_app_runs(
        server, tmp_path, tls):
    """The app answers at once and goes on running without reading (a
    background task): the body the client streams after the response is
    thrown away and its bytes given back to the connection window as
    they arrive, while the stream stays open (half-closed (local), not
    reset) and the app still runs. Five such streams each send a full
    stream window (1.25 MiB, more than the 1 MiB connection window);
    then a sixth stream uploads 1.5 MiB and completes."""
    srv = start(server, tmp_path, tls)
    c = h2(srv)
    try:
        c.ping_roundtrip()
        sids = []
        for _ in range(5):
            sid = c.request("POST", "/linger", end_stream=False)
            r = c.read_response(sid, allow_reset=True)
            assert r.status == 200 and r.data == b"early", r
            c.send_body(sid, b"u" * (256 * 1024), end_stream=False,
                        timeout=10)
            sids.append(sid)
        last = c.request("POST", "/len", end_stream=False)
        c.send_body(last, b"v" * (1536 * 1024), timeout=10)
        r = c.read_response(last)
        assert r.status == 200, r
        assert b'"len": 1572864' in r.data, r
        assert c.ping_roundtrip()
        for sid in sids:
            assert c.responses[sid].reset is None, c.responses[sid]
    finally:
        c.close()
    with h1(srv) as c1:
        c1.send(request("GET", "/release"))
        assert c1.read_response().status == 200
    check_alive_h2(srv)


# ------------------------------------------------------------ item 14


def answered_early(c):
    """A stream whose response ended before its request did: the app of
    /noread answers at once, the request body is still open (RFC 9113
    §5.1 half-closed (local))."""
    sid = c.request("POST", "/noread", end_stream=False)
    c.send(data_frame(sid, b"abc"))
    r = c.read_response(sid, allow_reset=True)
    assert r.status == 200 and r.data == b"early", r
    # Everything the server sent before this PING's ACK is in: a reset
    # of the stream would be seen now.
    assert c.ping_roundtrip(), "connection unusable"
    return sid


def still_half_closed_local(c, sid):
    """Issue 10 item 14 wants the answered stream kept half-closed (local)
    (its remaining body discarded) and its frames validated; after an
    RST_STREAM the RFC (§5.1 closed) would have them ignored instead."""
    r = c.responses[sid]
    assert r.reset is None, (
        f"the server reset the answered stream with {r.reset} before its "
        "request ended; frames on it would then be ignored (§5.1) rather "
        "than validated")


@TLS
def test_14_padding_beyond_payload_after_response(server, tmp_path, tls):
    """RFC 9113 §6.1: a pad length >= the frame payload is a connection
    error PROTOCOL_ERROR, also on a stream already answered."""
    srv = start(server, tmp_path, tls)
    c = h2(srv)
    try:
        sid = answered_early(c)
        c.send(frame(DATA, PADDED, sid, bytes([10]) + b"abc"))
        c.expect_goaway(PROTOCOL_ERROR)
    finally:
        c.close()
    check_alive_h2(srv)


@TLS
def test_14_zero_window_update_after_response(server, tmp_path, tls):
    """RFC 9113 §6.9: a WINDOW_UPDATE with increment 0 on a stream is a
    stream error PROTOCOL_ERROR, also on a stream already answered."""
    srv = start(server, tmp_path, tls)
    c = h2(srv)
    try:
        sid = answered_early(c)
        still_half_closed_local(c, sid)
        c.send(window_update_frame(sid, 0))
        f = c.expect_stream_error(sid, PROTOCOL_ERROR)
        if f.type == RST_STREAM:
            c.expect_no_error()
    finally:
        c.close()
    check_alive_h2(srv)


@TLS
def test_14_second_headers_without_end_stream_after_response(
        server, tmp_path, tls):
    """RFC 9113 §8.1: a second HEADERS (trailers) must carry END_STREAM;
    without it the request is malformed, a stream error PROTOCOL_ERROR
    (§8.1.1), also on a stream already answered."""
    srv = start(server, tmp_path, tls)
    c = h2(srv)
    try:
        sid = answered_early(c)
        still_half_closed_local(c, sid)
        c.send(headers_frame(sid, hpack_block([("x-trailer", "1")]),
                             end_stream=False))
        f = c.expect_stream_error(sid, PROTOCOL_ERROR)
        if f.type == RST_STREAM:
            c.expect_no_error()
    finally:
        c.close()
    check_alive_h2(srv)


@TLS
def test_14_discard_after_response_is_bounded(server, tmp_path, tls):
    """The half-closed (local) stream whose body is discarded is not kept
    for ever: RST_STREAM NO_ERROR (RFC 9113 §8.1) timeouts.body_read
    (here 1 s) after the response, even while the client dribbles; the
    connection goes on."""
    srv = start(server, tmp_path, tls, {"timeouts": {"body_read": "1s"}})
    c = h2(srv)
    try:
        sid = answered_early(c)
        still_half_closed_local(c, sid)
        for _ in range(40):
            r = c.responses[sid]
            if r.reset is not None:
                break
            c.send(data_frame(sid, b"x"))
            c.drain(0.25)
        assert c.responses[sid].reset == NO_ERROR, c.responses[sid]
        r = c.read_response(c.request("GET", "/after"))
        assert r.status == 200, r
    finally:
        c.close()
    check_alive_h2(srv)


# ------------------------------------------------------------ item 15


@TLS
def test_15_continuation_flood_goaway_before_close(server, tmp_path, tls):
    """A CONTINUATION flood (an endless header block): the server ends the
    connection with a GOAWAY (ENHANCE_YOUR_CALM or PROTOCOL_ERROR) before
    it closes, never with a bare close."""
    srv = start(server, tmp_path, tls, metrics=True)
    rss = worker_rss(srv)
    c = h2(srv)
    try:
        sid = c.alloc_stream()
        c.send(headers_frame(sid, hpack_block(c.request_headers()),
                             end_headers=False))
        piece = continuation_frame(
            sid, hpack_block([("x-flood", "f" * 1000)]), end_headers=False)
        for _ in range(1000):            # at most ~1 MiB of header block
            if not send_until_closed(c, piece * 10):
                break
            c.drain(0)
            if c.goaway is not None or c.eof:
                break
        g = read_until_goaway_or_close(c)
    finally:
        c.close()
    assert g is not None, "connection closed without a GOAWAY"
    assert g.error_code in (ENHANCE_YOUR_CALM, PROTOCOL_ERROR), g
    check_rss(srv, rss)
    check_alive_h2(srv)
    assert wait_metric(srv, "asgimaster_connections_abuse_total", 1,
                       {"cause": "continuation_flood"}) >= 1
