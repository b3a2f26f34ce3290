"""tests/integration/test_09_django.py: a Django app (django.core.asgi) on
HTTP/1.1 and HTTP/2: sync views run in asgiref's thread executor on the
worker's asyncio loop, async views, request bodies, streaming responses.
SPDX-License-Identifier: BSD-2-Clause
"""

import subprocess

import httpx

from conftest import APPS


def test_django_sync_async_and_streaming(server):
    s = server({"app": "django_app:app", "chdir": str(APPS)})
    r = httpx.get(f"{s.url}/", timeout=10)
    assert r.status_code == 200 and r.text == "hello django sync"
    r = httpx.post(f"{s.url}/a?q=1", content=b"hello", timeout=10)
    assert r.json() == {"method": "POST", "path": "/a", "q": "1", "body": 5}
    r = httpx.get(f"{s.url}/s", timeout=10)
    assert r.text == "".join(f"line {i}\n" for i in range(5))
    out = subprocess.run(
        ["curl", "-s", "--http2-prior-knowledge", f"{s.url}/a?q=2"],
        capture_output=True, text=True, timeout=20).stdout
    assert '"q": "2"' in out, out
    # Many sync requests at once: the executor threads and the loop agree.
    with httpx.Client(timeout=20) as c:
        for _ in range(50):
            assert c.get(f"{s.url}/").status_code == 200
