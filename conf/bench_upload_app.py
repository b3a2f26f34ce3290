"""conf/bench_upload_app.py: the upload app `make bench` serves: reads the
whole request body (1 MiB POSTs in the benchmark), answers its length.
No lifespan.
"""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    n = 0
    more = True
    while more:
        msg = await receive()
        n += len(msg.get("body", b""))
        more = msg.get("more_body", False)
    body = str(n).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
