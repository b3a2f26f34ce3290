"""Fails to import: the worker cannot boot."""

import does_not_exist_asgimaster_test  # noqa: F401


async def app(scope, receive, send):
    pass
