"""conf/bench_stream_app.py: the streamed-response app `make bench` serves:
1 MiB of body sent as 16 chunks of 64 KiB with more_body, no Content-Length
(chunked on HTTP/1.1, DATA frames on HTTP/2). Measures how fast the server
moves a large body the app produces piece by piece. No lifespan.
"""

CHUNK = b"x" * (64 * 1024)
CHUNKS = 16  # 16 x 64 KiB = 1 MiB
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/octet-stream")],
}
MORE = {"type": "http.response.body", "body": CHUNK, "more_body": True}
LAST = {"type": "http.response.body", "body": CHUNK, "more_body": False}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send(START)
    for _ in range(CHUNKS - 1):
        await send(MORE)
    await send(LAST)
