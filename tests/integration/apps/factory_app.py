"""An app factory (factory: true / --factory): create_app() returns the
app. /made tells how many times the factory ran in this worker."""

MADE = {"count": 0}


def create_app():
    MADE["count"] += 1

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b"factory %d" % MADE["count"]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    return app


class Holder:
    """For a dotted attribute: factory_app:Holder.inner.app."""

    class inner:
        @staticmethod
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"6")]})
            await send({"type": "http.response.body", "body": b"dotted"})
