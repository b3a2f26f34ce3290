"""tests/integration/apps/stream_app.py: 1 MiB streamed as 16 x 64 KiB
sends with more_body (like conf/bench_stream_app.py), each chunk filled
with its own byte so a client can check order and completeness.
"""

CHUNKS = [bytes([ord("A") + i]) * (64 * 1024) for i in range(16)]
BODY = b"".join(CHUNKS)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")]})
    for i, chunk in enumerate(CHUNKS):
        await send({"type": "http.response.body", "body": chunk,
                    "more_body": i < len(CHUNKS) - 1})
