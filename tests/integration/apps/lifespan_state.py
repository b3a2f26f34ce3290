"""Lifespan with state: startup fills scope["state"], requests see a shallow
copy, shutdown writes the lifespan's own state to $AM_TEST_DIR.

  /state    JSON: the request's state (items list identity checked)
  /mutate   assigns top-level keys and appends to the shared list
  /slow     answers after 1.5 s (shutdown must come after it); creates
            $AM_TEST_DIR/slow-started when it begins (the test waits for
            it before stopping the server)
"""

import asyncio
import json
import os

SHARED_LIST = []
EVENTS = []  # "slow-done", "shutdown" in the order they happened


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        state = scope.get("state")
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                if state is not None:
                    state["name"] = "lifespan"
                    state["items"] = SHARED_LIST
                    state["pid"] = os.getpid()
                    state["lifespan_asgi"] = scope.get("asgi")
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                EVENTS.append("shutdown")
                path = os.path.join(os.environ["AM_TEST_DIR"],
                                    f"shutdown-{os.getpid()}.json")
                with open(path, "w") as f:
                    json.dump({"state": {k: v for k, v in (state or {}).items()
                                         if k != "items"},
                               "items": list(SHARED_LIST),
                               "events": EVENTS,
                               "had_state": state is not None}, f)
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/slow":
        with open(os.path.join(os.environ["AM_TEST_DIR"], "slow-started"),
                  "w") as f:
            f.write(str(os.getpid()))
    while True:
        m = await receive()
        if not m.get("more_body"):
            break
    state = scope.get("state")
    if scope["path"] == "/slow":
        await asyncio.sleep(1.5)
        EVENTS.append("slow-done")
    if scope["path"] == "/mutate":
        state["name"] = "changed-by-request"
        state["added"] = "by-request"
        state["items"].append("x")
    body = json.dumps({
        "has_state": state is not None,
        "name": state.get("name") if state is not None else None,
        "added": state.get("added") if state is not None else None,
        "items_is_shared": state is not None
        and state.get("items") is SHARED_LIST,
        "items": list(SHARED_LIST),
        "lifespan_asgi": state.get("lifespan_asgi") if state else None,
    }).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
