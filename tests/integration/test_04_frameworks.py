"""Real frameworks and asyncio on the worker's loop: Starlette (streaming,
sync route, upload, lifespan state), FastAPI (sync and async routes,
pydantic body), asyncio/anyio features, an httpx client inside the app."""

import hashlib
import json
import os
import threading
import time

import httpx
import pytest

from conftest import running
from h2util import H2Conn
from httpraw import request


# Any [error] line fails a test unless it sets allow_errors.
AM_STRICT_ERRORS = True


@pytest.fixture(scope="module")
def star(tmp_path_factory):
    with running(tmp_path_factory.mktemp("star"),
                 {"app": "starlette_app:app"}, strict_errors=True) as s:
        yield s


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    with running(tmp_path_factory.mktemp("fast"),
                 {"app": "fastapi_app:app"}, strict_errors=True) as s:
        yield s


@pytest.fixture(scope="module")
def aio(tmp_path_factory):
    with running(tmp_path_factory.mktemp("aio"),
                 {"app": "asyncio_app:app"}, strict_errors=True) as s:
        yield s


# ------------------------------------------------------------ Starlette


def test_starlette_hello(star):
    r = httpx.get(f"{star.url}/", timeout=10)
    assert r.status_code == 200
    assert r.text == "hello from starlette"


def test_starlette_streaming_response(star):
    from conftest import raw
    with raw(star) as c:
        c.send(request("GET", "/stream?n=5"))
        r = c.read_response()
    assert r.status == 200
    assert r.chunked
    assert r.body == b"".join(f"chunk {i}\n".encode() for i in range(5))
    # Streamed: the generator's pieces were sent as they came.
    assert len(r.chunks) >= 2


def test_starlette_streaming_with_httpx(star):
    with httpx.stream("GET", f"{star.url}/stream?n=20", timeout=10) as r:
        lines = [line.rstrip("\n") for line in r.iter_lines()]
    assert lines == [f"chunk {i}" for i in range(20)]


def test_starlette_sync_route_runs_in_threadpool(star):
    r = httpx.get(f"{star.url}/sync", timeout=10)
    assert r.status_code == 200
    assert r.json()["main"] is False


def test_starlette_upload_10mb_sha256(star):
    data = os.urandom(10 * 1024 * 1024)
    r = httpx.post(f"{star.url}/upload", content=data, timeout=30)
    assert r.status_code == 200
    d = r.json()
    assert d["size"] == len(data)
    assert d["sha256"] == hashlib.sha256(data).hexdigest()


def test_starlette_upload_chunked_generator(star):
    parts = [os.urandom(100_000) for _ in range(20)]

    def gen():
        for p in parts:
            yield p

    r = httpx.post(f"{star.url}/upload", content=gen(), timeout=30)
    d = r.json()
    assert d["size"] == sum(map(len, parts))
    assert d["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()


def test_starlette_lifespan_state(star):
    a = httpx.get(f"{star.url}/state", timeout=10).json()
    b = httpx.get(f"{star.url}/state", timeout=10).json()
    assert a["db"] == "connected"
    # The counter list is shared (shallow copy): the second request sees
    # the first one's increment.
    assert b["counter"] == a["counter"] + 1


def test_starlette_concurrent_clients(star):
    errors = []

    def worker():
        try:
            with httpx.Client(timeout=10) as c:
                for _ in range(20):
                    assert c.get(f"{star.url}/").status_code == 200
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert not errors


# ------------------------------------------------------------ FastAPI


def test_fastapi_sync_route(fast):
    r = httpx.get(f"{fast.url}/sync", timeout=10)
    assert r.status_code == 200
    assert r.json() == {"kind": "sync", "main_thread": False}


def test_fastapi_async_route(fast):
    r = httpx.get(f"{fast.url}/async", timeout=10)
    assert r.json() == {"kind": "async", "task": True}


def test_fastapi_pydantic_body(fast):
    r = httpx.post(f"{fast.url}/items",
                   json={"name": "pen", "price": 1.5, "tags": ["a"]},
                   timeout=10)
    assert r.status_code == 200
    assert r.json() == {"name": "pen", "total": 3.0, "tags": ["a"]}


def test_fastapi_validation_error(fast):
    r = httpx.post(f"{fast.url}/items", json={"name": "pen"}, timeout=10)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "price"


def test_fastapi_path_and_query(fast):
    r = httpx.get(f"{fast.url}/items/42?q=x%20y", timeout=10)
    assert r.json() == {"item_id": 42, "q": "x y"}


def test_fastapi_openapi(fast):
    r = httpx.get(f"{fast.url}/openapi.json", timeout=10)
    assert r.status_code == 200
    assert "/items" in r.json()["paths"]


# ------------------------------------------------------------ asyncio


def test_asyncio_create_task_and_current_task(aio):
    d = httpx.get(f"{aio.url}/task", timeout=10).json()
    assert d["task_result"] == 42
    assert d["gathered"] == [2, 4]
    assert d["current_task"] is True


@pytest.mark.parametrize("sleep", [False, True])
def test_first_step_is_a_task_with_its_own_context(aio, sleep):
    # The app's first step runs eagerly from C (no loop turn): it is still
    # a step of a real asyncio task, and context variables set in one
    # request never leak into the next, whether it awaited or not.
    with httpx.Client(timeout=10) as c:
        for i in range(3):
            q = f"{i}-sleep" if sleep else str(i)
            d = c.get(f"{aio.url}/first-step?{q}").json()
            assert d["task"] is True
            assert d["in_all_tasks"] is True
            assert d["done"] is False
            assert d["name"].startswith("request ")
            assert d["before"] is None
            assert d["after"] == q
            assert d["same_task"] is True


def test_app_replacing_loop_call_soon_is_served_through_it(aio):
    # The bridge's own loop.call_soon (worker/asgi.c) gives way to the
    # app's: tasks are then scheduled through it, and served.
    with httpx.Client(timeout=10) as c:
        assert c.get(f"{aio.url}/wrap-call-soon").json() == {"wrapped": True}
        for i in range(3):
            d = c.get(f"{aio.url}/first-step?w{i}").json()
            assert d["task"] is True and d["after"] == f"w{i}"
        calls = c.get(f"{aio.url}/unwrap-call-soon").json()["calls"]
        assert calls >= 3, calls
        d = c.get(f"{aio.url}/first-step?unwrapped").json()
        assert d["task"] is True and d["before"] is None


def test_first_step_exception_gives_500_and_traceback(aio):
    aio.allow_errors_in_this_test()
    r = httpx.get(f"{aio.url}/raise-first-step", timeout=10)
    assert r.status_code == 500
    aio.wait_log(r"\[error\] .*ValueError: boom-in-first-step")
    assert "Traceback (most recent call last)" in aio.log_text()
    # Its context died with it; the worker goes on serving.
    d = httpx.get(f"{aio.url}/first-step?after-raise", timeout=10).json()
    assert d["before"] is None


def test_first_steps_of_concurrent_requests_h2(aio):
    # Many streams of one HTTP/2 connection start in one loop turn; each
    # first step is its own task with its own context.
    qs = [f"s{i}" for i in range(20)]
    with H2Conn.open(aio) as h:
        h.handshake()
        sids = [h.request("GET", f"/first-step?{q}") for q in qs]
        for q, sid in zip(qs, sids):
            r = h.read_response(sid)
            assert r.status == 200, r
            d = json.loads(r.data)
            assert d["task"] is True and d["before"] is None
            assert d["after"] == q


def test_scope_fresh_after_an_app_mutated_it(aio):
    # The scope is a copy of a per-worker template filled per request:
    # what one app changes in it never reaches the next request.
    with httpx.Client(timeout=10) as c:
        first = c.get(f"{aio.url}/mutate-scope").json()
        second = c.get(f"{aio.url}/mutate-scope?q=1",
                       headers={"X-Test": "a"}).json()
    for d in (first, second):
        assert d["method"] == "GET"
        assert d["scheme"] == "http"
        assert d["http_version"] == "1.1"
        assert d["root_path"] == ""
        assert d["state"] == {}
        assert d["extra"] is None
        assert d["header_types"] == ["bytes"]
        assert "x-stale" not in [n for n, _ in d["headers"]]
    assert first["query_string"] == ""
    assert second["query_string"] == "q=1"
    assert ["x-test", "a"] in second["headers"]
    assert ["host", f"127.0.0.1:{aio.port}"] in second["headers"]


def test_asyncio_timer(aio):
    d = httpx.get(f"{aio.url}/timer", timeout=10).json()
    assert d["value"] == "fired"


def test_asyncio_run_in_executor(aio):
    d = httpx.get(f"{aio.url}/executor", timeout=10).json()
    assert d["executor_thread"] != "MainThread"
    assert d["to_thread_main"] is False


def test_anyio(aio):
    d = httpx.get(f"{aio.url}/anyio", timeout=10).json()
    assert d == {"results": [0, 1, 2], "thread": "from thread"}


def test_httpx_client_inside_app_on_one_worker(aio):
    # One worker: the inner request is served by the same loop while the
    # outer one awaits it, so the loop must not block.
    d = httpx.get(f"{aio.url}/httpx?port={aio.port}", timeout=20).json()
    assert d["status"] == 200
    assert d["inner"]["task_result"] == 42


def test_concurrent_sleeps_overlap_on_one_worker(aio):
    results = []

    def one():
        results.append(httpx.get(f"{aio.url}/sleep-gather",
                                 timeout=10).json())

    t0 = time.monotonic()
    ts = [threading.Thread(target=one) for _ in range(5)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    elapsed = time.monotonic() - t0
    assert len(results) == 5
    assert len({r["pid"] for r in results}) == 1
    # Generous bound: 5 sequential sleeps would take 5 s.
    assert elapsed < 4.5
