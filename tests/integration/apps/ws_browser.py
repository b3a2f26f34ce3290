"""The app of the headless Chromium test (issue 9,
tests/integration/test_64_websocket_chromium.py). GET / serves a page
that opens wss://<host>/ws, sends "hello", writes the echo and the
server's http_version into the DOM, then answers "got"; GET /wait.js is
held until the socket said "got", so the page's load event (when
Chromium's --dump-dom prints the DOM) comes after the exchange.
"""

import asyncio
import json

PAGE = b"""<!doctype html>
<html><head><title>ws</title></head><body>
<pre id="out">pending</pre>
<script>
var ws = new WebSocket("wss://" + location.host + "/ws");
ws.onmessage = function (e) {
  document.getElementById("out").textContent = e.data;
  ws.send("got");
};
ws.onerror = function () {
  document.getElementById("out").textContent = "error";
};
ws.onopen = function () { ws.send("hello"); };
</script>
<script src="/wait.js"></script>
</body></html>
"""

done = None


async def app(scope, receive, send):
    global done
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if done is None:
        done = asyncio.Event()
    if scope["type"] == "http":
        if scope["path"] == "/wait.js":
            try:
                await asyncio.wait_for(done.wait(), 20)
            except asyncio.TimeoutError:
                pass
            body, ctype = b"/* done */", b"text/javascript"
        elif scope["path"] == "/":
            body, ctype = PAGE, b"text/html; charset=utf-8"
        else:
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body"})
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", ctype),
                                (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})
        return
    m = await receive()
    await send({"type": "websocket.accept"})
    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            return
        if m.get("text") == "hello":
            await send({"type": "websocket.send", "text": json.dumps({
                "echo": m["text"], "http_version": scope["http_version"],
                "scheme": scope["scheme"]})})
        elif m.get("text") == "got":
            done.set()
