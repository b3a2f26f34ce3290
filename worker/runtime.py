# worker/runtime.py: the Python half of a worker, compiled into the binary.
# SPDX-License-Identifier: BSD-2-Clause
#
# The C side (worker/pyembed.c, worker/asgi.c) owns the sockets and the
# protocols; this module holds what reads best in Python and is not on the
# per-request hot path: the asyncio selector over the worker's epoll, app
# loading, the lifespan protocol and traceback logging. _asgimaster is the
# C module.

import asyncio
import collections.abc
import functools
import importlib
import inspect
import logging
import operator
import selectors
import sys
import traceback

import _asgimaster as _am

LOG_ERROR = 3
LOG_WARN = 4
LOG_NOTICE = 5
LOG_INFO = 6


# An app task's coroutine (worker/asgi_call.c): asyncio.Task takes it.
collections.abc.Coroutine.register(_am.AppCall)


class ClientDisconnected(OSError):
    """send() on a request whose client has gone away (ASGI: an OSError)."""


def log_boot_error(what, exc):
    """Why a worker could not boot: the traceback of an app's exception
    (a BootError shows its cause's only when it asks to: show_cause)."""
    if isinstance(exc, BootError):
        if getattr(exc, "show_cause", False) and exc.__cause__ is not None:
            log_exception(str(exc), exc.__cause__)
        return
    log_exception(what, exc.with_traceback(_app_frames(exc.__traceback__)))


def _app_frames(tb):
    """The traceback from the first frame that is neither ours nor
    importlib's: an import error shows the app's lines, not the machinery."""
    first = tb
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not (name.startswith(("<asgimaster", "<frozen importlib"))
                or name.endswith("importlib/__init__.py")):
            return tb
        tb = tb.tb_next
    return first


def log_exception(message, exc=None, level=LOG_ERROR):
    """One error-log line for message, then one per traceback line."""
    _am.log(level, message)
    if exc is None:
        exc = sys.exc_info()[1]
    if exc is None:
        return
    for chunk in traceback.format_exception(type(exc), exc, exc.__traceback__):
        for line in chunk.rstrip("\n").split("\n"):
            _am.log(level, "  " + line)


def _fileobj_to_fd(fileobj):
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError("Invalid file object: {!r}".format(fileobj)) from None
    if fd < 0:
        raise ValueError("Invalid file descriptor: {}".format(fd))
    return fd


class _SelectorMapping(collections.abc.Mapping):
    def __init__(self, selector):
        self._selector = selector

    def __len__(self):
        return len(self._selector._keys)

    def __getitem__(self, fileobj):
        fd = self._selector._lookup(fileobj)
        try:
            return self._selector._keys[fd]
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None

    def __iter__(self):
        return iter(self._selector._keys)


class Selector(selectors.BaseSelector):
    """asyncio's selector, over the worker's own epoll fd.

    select() is where the C server runs: _am.poll() flushes output, waits
    once in epoll_wait(), handles every server fd in C and returns only the
    fds registered here (asyncio's self-pipe, add_reader() of libraries).
    """

    def __init__(self):
        self._keys = {}
        self._map = _SelectorMapping(self)

    def _lookup(self, fileobj):
        try:
            return _fileobj_to_fd(fileobj)
        except ValueError:
            # A closed socket object: find it by identity, as the stdlib does.
            for key in self._keys.values():
                if key.fileobj is fileobj:
                    return key.fd
            raise

    def register(self, fileobj, events, data=None):
        if (not events) or (events & ~(selectors.EVENT_READ | selectors.EVENT_WRITE)):
            raise ValueError("Invalid events: {!r}".format(events))
        fd = self._lookup(fileobj)
        if fd in self._keys:
            raise KeyError("{!r} (FD {}) is already registered".format(fileobj, fd))
        key = selectors.SelectorKey(fileobj, fd, events, data)
        _am.fd_set(fd, events)
        self._keys[fd] = key
        return key

    def unregister(self, fileobj):
        try:
            key = self._keys.pop(self._lookup(fileobj))
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None
        try:
            _am.fd_set(key.fd, 0)
        except OSError:
            pass  # already closed: the kernel dropped it from epoll
        return key

    def modify(self, fileobj, events, data=None):
        try:
            key = self._keys[self._lookup(fileobj)]
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None
        if events != key.events:
            if (not events) or (events & ~(selectors.EVENT_READ | selectors.EVENT_WRITE)):
                raise ValueError("Invalid events: {!r}".format(events))
            _am.fd_set(key.fd, events)
        if events != key.events or data is not key.data:
            key = key._replace(events=events, data=data)
            self._keys[key.fd] = key
        return key

    def select(self, timeout=None):
        ready = []
        keys = self._keys
        for fd, events in _am.poll(timeout):
            key = keys.get(fd)
            if key is not None and events & key.events:
                ready.append((key, events & key.events))
        return ready

    def close(self):
        self._keys.clear()

    def get_map(self):
        return self._map


def new_loop():
    loop = asyncio.SelectorEventLoop(Selector())
    # Every Future and Task asks loop.get_debug() (a Python method, "return
    # self._debug") as it is made: the same answer from C callables.
    loop.get_debug = functools.partial(operator.attrgetter("_debug"), loop)
    asyncio.set_event_loop(loop)
    return loop


class BootError(Exception):
    """The app cannot be served: the message goes to the master."""


# Python's logging levels onto ours (common/log.h): emerg 0 .. debug 7.
_PY_TO_AM = ((50, 2), (40, 3), (30, 4), (20, 6), (0, 7))


class _ErrorLogHandler(logging.Handler):
    """The app's records as error-log lines: "logger: message", a
    traceback's lines after it as log_exception() writes them."""

    def emit(self, record):
        try:
            level = next(am for py, am in _PY_TO_AM if record.levelno >= py)
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += "\n" + "".join(traceback.format_exception(
                    *record.exc_info)).rstrip("\n")
            elif record.stack_info:
                text += "\n" + record.stack_info
            lines = text.split("\n")
            _am.log(level, "{}: {}".format(record.name, lines[0]))
            for line in lines[1:]:
                _am.log(level, "  " + line)
        except Exception:  # noqa: BLE001
            self.handleError(record)


def setup_logging(am_level, config):
    """The root logger writes to our error log at our level, or the app's
    own configuration file (log.config / --log-config) takes over."""
    if config:
        from logging import config as logging_config
        try:
            if config.endswith((".yaml", ".yml")):
                try:
                    import yaml
                except ImportError:
                    raise BootError('log.config "{}": reading YAML needs PyYAML (Debian: python3-yaml), or write it as JSON'.format(config)) from None
                with open(config) as f:
                    logging_config.dictConfig(yaml.safe_load(f))
            elif config.endswith(".json"):
                import json
                with open(config) as f:
                    logging_config.dictConfig(json.load(f))
            else:
                logging_config.fileConfig(config, disable_existing_loggers=False)
        except BootError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise BootError('log.config "{}": {}: {}'.format(config, type(exc).__name__, exc)) from None
        return
    py_level = {0: 50, 1: 50, 2: 50, 3: 40, 4: 30, 5: 30, 6: 20}.get(am_level, 10)
    root = logging.getLogger()
    root.addHandler(_ErrorLogHandler())
    root.setLevel(py_level)


def load_app(spec, factory):
    module_name, _, attrs = spec.partition(":")
    if not module_name or not attrs:
        raise BootError('app "{}" must be in the form "module:attribute"'.format(spec))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if getattr(exc, "name", None) != module_name:
            raise  # an import inside the app failed: show its traceback
        raise BootError('could not import module "{}": {}: {}'.format(
            module_name, type(exc).__name__, exc)) from exc
    app = module
    try:
        for attr in attrs.split("."):
            app = getattr(app, attr)
    except AttributeError:
        raise BootError('attribute "{}" not found in module "{}"'.format(
            attrs, module_name)) from None
    if factory:
        try:
            app = app()
        except TypeError as exc:
            raise BootError('app factory "{}" failed: {}'.format(spec, exc)) from exc
    elif inspect.isfunction(app) and not inspect.iscoroutinefunction(app):
        params = inspect.signature(app).parameters
        if len(params) == 0:
            raise BootError('"{}" takes no arguments: an app factory? set factory: true'.format(spec))
    if not callable(app):
        raise BootError('"{}" is not callable'.format(spec))
    return _asgi3(app)


def _asgi3(app):
    """Wrap an ASGI 2 (double-callable) app. A class is ASGI 2 unless its
    instances are awaitable; a coroutine function (or an object whose
    __call__ is one) is ASGI 3; otherwise a single parameter means ASGI 2."""
    if inspect.isclass(app):
        asgi3 = hasattr(app, "__await__")
    else:
        call = app if inspect.isfunction(app) else getattr(app, "__call__", None)
        if asyncio.iscoroutinefunction(call):
            asgi3 = True
        else:
            try:
                asgi3 = len(inspect.signature(app).parameters) != 1
            except (TypeError, ValueError):
                asgi3 = True
    if asgi3:
        return app

    async def asgi2_app(scope, receive, send):
        instance = app(scope)
        return await instance(receive, send)

    return asgi2_app


class Lifespan:
    """The ASGI lifespan protocol (asgiref specs/lifespan.rst)."""

    def __init__(self, app, mode, loop):
        self.app = app
        self.mode = mode  # "auto", "on"
        self.loop = loop
        self.state = {}
        self.queue = asyncio.Queue()
        self.startup_done = loop.create_future()
        self.shutdown_done = loop.create_future()
        self.supported = True
        self.task = None
        self.error = None
        self.received = 0  # messages the app took with receive()
        self.startup_exc = None

    async def receive(self):
        message = await self.queue.get()
        self.received += 1
        return message

    async def send(self, message):
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "lifespan.startup.complete":
            self._resolve(self.startup_done, None)
        elif kind == "lifespan.startup.failed":
            self._resolve(self.startup_done, message.get("message", "") or "lifespan startup failed")
        elif kind == "lifespan.shutdown.complete":
            self._resolve(self.shutdown_done, None)
        elif kind == "lifespan.shutdown.failed":
            self._resolve(self.shutdown_done, message.get("message", "") or "lifespan shutdown failed")
        else:
            raise RuntimeError("unexpected ASGI lifespan message {!r}".format(kind))

    @staticmethod
    def _resolve(fut, value):
        if not fut.done():
            fut.set_result(value)

    async def _main(self):
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException as exc:  # noqa: B902
            if not self.startup_done.done():
                # An app that took lifespan.startup speaks the protocol:
                # raising then is a failed startup, not "unsupported".
                if self.mode == "auto" and self.received == 0:
                    self.supported = False
                    _am.log(LOG_INFO, "the app does not support the lifespan protocol ({}: {}): going on without it".format(type(exc).__name__, exc))
                    self._resolve(self.startup_done, None)
                else:
                    # startup() raises it; the worker's boot logs its
                    # traceback once for the generation (pyembed.c).
                    self.startup_exc = exc
                    self._resolve(self.startup_done, "{}: {}".format(type(exc).__name__, exc))
            else:
                log_exception("exception in lifespan shutdown", exc)
                self._resolve(self.shutdown_done, "{}: {}".format(type(exc).__name__, exc))
        finally:
            self._resolve(self.startup_done, None)
            self._resolve(self.shutdown_done, None)

    async def startup(self):
        self.task = self.loop.create_task(self._main())
        await self.queue.put({"type": "lifespan.startup"})
        failed = await self.startup_done
        if failed is not None:
            err = BootError("lifespan startup failed: {}".format(failed))
            if self.startup_exc is not None:
                err.show_cause = True
                raise err from self.startup_exc
            raise err

    async def shutdown(self):
        if not self.supported or self.task is None or self.task.done():
            return
        await self.queue.put({"type": "lifespan.shutdown"})
        failed = await self.shutdown_done
        if failed is not None:
            _am.log(LOG_ERROR, "lifespan shutdown failed: {}".format(failed))


def finish_loop(loop):
    """Cancel what is left after a stop and close the loop."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=1.0))
    try:
        loop.run_until_complete(loop.shutdown_asyncgens())
    except Exception:  # noqa: BLE001
        pass
    loop.close()
