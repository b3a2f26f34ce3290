"""conf/bench_app.py: the app `make bench` serves with asgimaster and with
uvicorn: the smallest useful ASGI 3 response, "Hello, world!" as text/plain
with a Content-Length. No lifespan (servers in "auto" mode skip it).
"""

BODY = b"Hello, world!"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"text/plain"),
        (b"content-length", str(len(BODY)).encode()),
    ],
}
END = {"type": "http.response.body", "body": BODY}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send(START)
    await send(END)
