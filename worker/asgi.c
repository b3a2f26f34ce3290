/* worker/asgi.c: the ASGI bridge (asgiref specs/www.rst, HTTP). One
 * am_asgi_request_t per request of any protocol: the scope is built in C
 * (asgi_scope.c), the app runs as an asyncio task (asgi_call.c)
 * and its send() events (asgi_http.c) become calls of the protocol's
 * am_asgi_ops_t. The task's first step is taken at once from the loop's
 * select() (am_asgi_start_pending()), as CPython 3.12's eager tasks do:
 * a hello-world app completes in it, with no loop turn or handle. This
 * file holds the request object, its life and the bridge's set-up.
 * receive() and a send() that need not wait return an already-completed
 * awaitable; only a receive() with no body buffered, or a send() above the
 * output high-water mark, waits on an asyncio future.
 */

#include <Python.h>

#include <string.h>

#include "common/log.h"
#include "worker/asgi.h"
#include "worker/asgi_py.h"
#include "worker/asgi_state.h"
#include "worker/connlog.h"
#include "worker/event.h"

/* An awaitable that is already done: await gives value at once. */
typedef struct {
    PyObject_HEAD PyObject *value; /* owned; NULL means None */
} asgi_ready_t;

size_t am_asgi_running;

static am_conf_t *conf;

am_asgi_keys_t am_asgi_keys;
am_asgi_objs_t am_asgi_objs;

static PyTypeObject asgi_request_type;
static PyTypeObject asgi_ready_type;

/* Requests whose task takes its first step in am_asgi_start_pending(). */
static am_asgi_request_t *start_head, **start_tail = &start_head;
static size_t start_count;
/* From this many requests waiting for their first steps on, the next ones
 * build their scopes then (am_asgi_request_create()): up to it, some 600
 * Python objects, below the young generation's threshold of 700. */
#define ASGI_DEFER_SCOPES 64
/* What asgi_capture_call_soon() took: the task's step and its context. */
static int capturing;         /* asgi_task_create() is in Task() */
static PyObject *context_str; /* "context", interned */
static PyObject *start_step, *start_ctx;

/* The done awaitable. */

PyObject *
am_asgi_ready_new(PyObject *value)
{
    asgi_ready_t *r;

    if (value == NULL || value == Py_None) {
        Py_INCREF(am_asgi_objs.ready_none);
        return am_asgi_objs.ready_none;
    }
    r = PyObject_New(asgi_ready_t, &asgi_ready_type);
    if (r == NULL) {
        return NULL;
    }
    Py_INCREF(value);
    r->value = value;
    return (PyObject *)r;
}

static void
asgi_ready_dealloc(asgi_ready_t *r)
{
    Py_CLEAR(r->value);
    PyObject_Free(r);
}

static PyObject *
asgi_ready_await(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static PyObject *
asgi_ready_next(asgi_ready_t *r)
{
    PyObject *e;

    if (r->value == NULL) {
        PyErr_SetNone(PyExc_StopIteration);
        return NULL;
    }
    /* An instance, so a tuple value is not taken as arguments. */
    e = PyObject_CallOneArg(PyExc_StopIteration, r->value);
    if (e != NULL) {
        PyErr_SetObject(PyExc_StopIteration, e);
        Py_DECREF(e);
    }
    return NULL;
}

static PyObject *
asgi_ready_send(asgi_ready_t *r, PyObject *arg)
{
    return asgi_ready_next(r);
}

#if PY_VERSION_HEX >= 0x030A0000
/* await in a coroutine (the SEND opcode, PyIter_Send(), Python 3.10 and
 * later): the value with no StopIteration to create and catch. */
static PySendResult
asgi_ready_am_send(asgi_ready_t *r, PyObject *arg, PyObject **result)
{
    *result = r->value != NULL ? r->value : Py_None;
    Py_INCREF(*result);
    return PYGEN_RETURN;
}
#endif

static PyObject *
asgi_ready_throw(asgi_ready_t *r, PyObject *args)
{
    PyObject *type, *value = NULL, *tb = NULL;

    if (!PyArg_UnpackTuple(args, "throw", 1, 3, &type, &value, &tb)) {
        return NULL;
    }
    if (PyExceptionInstance_Check(type)) {
        PyErr_SetObject((PyObject *)Py_TYPE(type), type);
    } else {
        PyErr_SetObject(type, value);
    }
    return NULL;
}

static PyObject *
asgi_ready_close(asgi_ready_t *r, PyObject *unused)
{
    Py_RETURN_NONE;
}

static PyMethodDef asgi_ready_methods[] = {
    { "send", (PyCFunction)asgi_ready_send, METH_O, NULL },
    { "throw", (PyCFunction)asgi_ready_throw, METH_VARARGS, NULL },
    { "close", (PyCFunction)asgi_ready_close, METH_NOARGS, NULL },
    { NULL, NULL, 0, NULL },
};

static PyAsyncMethods asgi_ready_async = {
    .am_await = asgi_ready_await,
#if PY_VERSION_HEX >= 0x030A0000
    .am_send = (sendfunc)asgi_ready_am_send,
#endif
};

static PyTypeObject asgi_ready_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_asgimaster.Ready",
    .tp_basicsize = sizeof(asgi_ready_t),
    .tp_dealloc = (destructor)asgi_ready_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_as_async = &asgi_ready_async,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)asgi_ready_next,
    .tp_methods = asgi_ready_methods,
};

/* Futures: resolve only a pending one (the app may have cancelled it). */

void
am_asgi_future_resolve(PyObject **slot, PyObject *method, PyObject *value)
{
    PyObject *fut = *slot, *r;

    if (fut == NULL) {
        return;
    }
    *slot = NULL;
    am_event_wake_python();
    r = PyObject_CallMethodNoArgs(fut, am_asgi_keys.done);
    if (r == NULL) {
        PyErr_WriteUnraisable(fut);
    } else if (r == Py_False) {
        Py_DECREF(r);
        r = PyObject_CallMethodOneArg(fut, method, value);
        if (r == NULL) {
            PyErr_WriteUnraisable(fut);
        }
        Py_XDECREF(r);
    } else {
        Py_DECREF(r);
    }
    Py_DECREF(fut);
}

PyObject *
am_asgi_disconnect_message(void)
{
    return PyDict_Copy(am_asgi_objs.msg_disconnect);
}

PyObject *
am_asgi_disconnected_error(void)
{
    PyErr_SetString(am_asgi_objs.disconnected_exc,
                    "the client has disconnected");
    return NULL;
}

/* The app's task ended (asgi_call.c). */
static void
asgi_request_ended(am_asgi_request_t *r, int failed)
{
    if (r->app_ended) {
        return;
    }
    r->app_ended = 1;
    am_asgi_running--;
    if (r->stream == NULL) {
        return;
    }
    if (r->websocket) {
        am_asgi_ws_ended(r, failed);
        return;
    }
    if (!r->started) {
        if (!failed && !r->disconnected) {
            am_connlog(AM_LOG_ERROR, 0, r->conn_id, r->stream_id,
                       "the app returned without starting a response");
        }
        if (!r->disconnected) {
            am_asgi_http_send_500(r);
        }
    } else if (!r->finished && !failed) {
        am_connlog(AM_LOG_ERROR, 0, r->conn_id, r->stream_id,
                   "the app returned without completing the response");
    }
    if (r->stream) {
        r->ops->finish(r->stream, r->finished);
    }
}

void
am_asgi_request_app_done(am_asgi_request_t *r)
{
    asgi_request_ended(r, 0);
}

void
am_asgi_request_app_closed(am_asgi_request_t *r)
{
    asgi_request_ended(r, 1);
}

void
am_asgi_request_app_failed(am_asgi_request_t *r, PyObject *exc)
{
    PyObject *msg, *res;
    int quiet;

    /* The app's own reaction to a disconnect is no error of its own. */
    quiet = (r->disconnected || r->stream == NULL) &&
            (PyErr_GivenExceptionMatches(exc, am_asgi_objs.disconnected_exc) ||
             PyErr_GivenExceptionMatches(exc, am_py_cancelled_error));
    if (!quiet) {
        char prefix[48];

        msg = PyUnicode_FromFormat("%s exception in ASGI application",
                                   am_connlog_prefix(prefix, sizeof(prefix),
                                                     r->conn_id, r->stream_id));
        if (msg != NULL) {
            res = PyObject_CallFunctionObjArgs(am_asgi_objs.log_exception, msg,
                                               exc, NULL);
            Py_XDECREF(res);
            Py_DECREF(msg);
        }
        if (PyErr_Occurred()) {
            PyErr_Print();
        }
    }
    asgi_request_ended(r, 1);
}

static void
asgi_request_dealloc(am_asgi_request_t *r)
{
    Py_CLEAR(r->chunks);
    Py_CLEAR(r->receive_waiter);
    Py_CLEAR(r->send_waiter);
    Py_CLEAR(r->close_reason);
    Py_CLEAR(r->coro);
    PyMem_Free(r->head);
    PyObject_Free(r);
}

/* receive() and send() of either scope type. */
static PyObject *
asgi_request_receive(am_asgi_request_t *r, PyObject *unused)
{
    return r->websocket ? am_asgi_ws_receive(r, unused)
                        : am_asgi_http_receive(r, unused);
}

static PyObject *
asgi_request_send(am_asgi_request_t *r, PyObject *msg)
{
    return r->websocket ? am_asgi_ws_send(r, msg) : am_asgi_http_send(r, msg);
}

static PyMethodDef asgi_request_methods[] = {
    { "receive", (PyCFunction)asgi_request_receive, METH_NOARGS,
      "ASGI receive()" },
    { "send", (PyCFunction)asgi_request_send, METH_O, "ASGI send(message)" },
    { NULL, NULL, 0, NULL },
};

static PyTypeObject asgi_request_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_asgimaster.Request",
    .tp_basicsize = sizeof(am_asgi_request_t),
    .tp_dealloc = (destructor)asgi_request_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = asgi_request_methods,
};

PyObject *
am_asgi_request_callable(am_asgi_request_t *r, int send)
{
    return PyCFunction_NewEx(&asgi_request_methods[send ? 1 : 0], (PyObject *)r,
                             NULL);
}

/* A copy of head in one block of PyMem memory, or NULL (no exception). */
static am_asgi_head_t *
asgi_head_copy(const am_asgi_head_t *h)
{
    size_t size, i, ver = strlen(h->http_version) + 1,
                    scheme = strlen(h->scheme) + 1,
                    client = h->client_host ? strlen(h->client_host) + 1 : 0,
                    server = h->server_host ? strlen(h->server_host) + 1 : 0;
    am_asgi_head_t *c;
    am_header_t *hd;
    char *p;

    size = sizeof(*c) + h->nheaders * sizeof(am_header_t) + h->method_len +
           h->path_len + h->query_len + ver + scheme + client + server;
    for (i = 0; i < h->nheaders; i++) {
        size += h->headers[i].name_len + h->headers[i].value_len;
    }
    c = PyMem_Malloc(size);
    if (c == NULL) {
        return NULL;
    }
    *c = *h;
    hd = (am_header_t *)(c + 1);
    p = (char *)(hd + h->nheaders);
#define ASGI_COPY(dst, src, len)                                               \
    do {                                                                       \
        memcpy(p, (src), (len));                                               \
        (dst) = p;                                                             \
        p += (len);                                                            \
    } while (0)
    for (i = 0; i < h->nheaders; i++) {
        hd[i] = h->headers[i];
        ASGI_COPY(hd[i].name, h->headers[i].name, h->headers[i].name_len);
        ASGI_COPY(hd[i].value, h->headers[i].value, h->headers[i].value_len);
    }
    c->headers = hd;
    ASGI_COPY(c->method, h->method, h->method_len);
    ASGI_COPY(c->path, h->path, h->path_len);
    ASGI_COPY(c->query, h->query, h->query_len);
    ASGI_COPY(c->http_version, h->http_version, ver);
    ASGI_COPY(c->scheme, h->scheme, scheme);
    if (client) {
        ASGI_COPY(c->client_host, h->client_host, client);
    }
    if (server) {
        ASGI_COPY(c->server_host, h->server_host, server);
    }
#undef ASGI_COPY
    return c;
}

am_asgi_request_t *
am_asgi_request_create(const am_asgi_head_t *head, const am_asgi_ops_t *ops,
                       void *stream, uint64_t conn_id, uint32_t stream_id)
{
    am_asgi_head_t *copy;
    am_asgi_request_t *r;

    if (head->tls != NULL || start_count < ASGI_DEFER_SCOPES) {
        return am_asgi_request_start(am_asgi_scope_build(head), head, ops, NULL,
                                     stream, conn_id, stream_id);
    }
    /* Many requests in one poll (HTTP/2 streams, pipelining): the scope is
     * built at the task's first step, from a copy. They wait with no
     * Python objects, so fewer collections of the young generation run,
     * and each finds few objects. A few requests are cheaper built now,
     * and the TLS facts are the connection's: read now. */
    copy = asgi_head_copy(head);
    if (copy == NULL) {
        am_connlog(AM_LOG_ALERT, 0, conn_id, stream_id,
                   "cannot start the app task: out of memory");
        return NULL;
    }
    Py_INCREF(Py_None);
    r = am_asgi_request_start(Py_None, copy, ops, NULL, stream, conn_id,
                              stream_id);
    if (r == NULL) {
        PyMem_Free(copy);
    } else {
        r->head = copy;
    }
    return r;
}

am_asgi_request_t *
am_asgi_request_start(PyObject *scope, const am_asgi_head_t *head,
                      const am_asgi_ops_t *ops, const am_asgi_ws_ops_t *ws_ops,
                      void *stream, uint64_t conn_id, uint32_t stream_id)
{
    am_asgi_request_t *r;

    if (scope == NULL) {
        goto error;
    }
    r = PyObject_New(am_asgi_request_t, &asgi_request_type);
    if (r == NULL) {
        Py_DECREF(scope);
        goto error;
    }
    r->stream = stream;
    r->ops = ops;
    r->conn_id = conn_id;
    r->stream_id = stream_id;
    r->receive_waiter = NULL;
    r->send_waiter = NULL;
    r->buffered = 0;
    r->body_done = !head->has_body;
    r->body_delivered = 0;
    r->disconnected = r->started = r->finished = r->trailers = 0;
    r->app_ended = r->released = 0;
    r->websocket = ws_ops != NULL;
    r->connected = r->accepted = r->responding = 0;
    r->ws_ops = ws_ops;
    r->close_code = 1006; /* RFC 6455 §7.1.5: no close frame (yet) */
    r->close_reason = NULL;
    r->coro = NULL;
    r->head = NULL;
    r->next = NULL;
    /* A WebSocket session queues messages; a request's body list is
     * made with its first chunk (am_asgi_request_body()). */
    r->chunks = r->websocket ? PyList_New(0) : NULL;
    if (r->websocket && r->chunks == NULL) {
        Py_DECREF(scope);
        Py_DECREF(r);
        goto error;
    }

    /* The app is called at the task's first step; a scope of None is
     * built then (am_asgi_request_create()). */
    if (scope != Py_None) {
        r->coro = am_asgi_call_new(r, scope);
        if (r->coro == NULL) {
            Py_DECREF(scope);
            Py_DECREF(r);
            goto error;
        }
    }
    Py_DECREF(scope);
    /* The first step runs when the server's poll is over
     * (am_asgi_start_pending()): never inside the protocol's call, which
     * has not stored r yet, nor inside its posted work. */
    Py_INCREF(r); /* the list's */
    *start_tail = r;
    start_tail = &r->next;
    start_count++;
    /* Created by posted work, the poll's wait must not block. */
    am_event_wake_python();
    am_asgi_running++;
    return r; /* the protocol's reference */

error:
    am_connlog(AM_LOG_ALERT, 0, conn_id, stream_id,
               "cannot start the app task");
    PyErr_Print();
    return NULL;
}

/* The loop's call_soon (an instance attribute from am_asgi_start() on):
 * while asgi_task_create() builds a task, the task's first step is taken,
 * not scheduled. Anything else goes to the loop. */
static PyObject *
asgi_capture_call_soon(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames)
{
    PyObject *ctx = NULL;
    Py_ssize_t i, nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    for (i = 0; i < nkw; i++) {
        if (PyTuple_GET_ITEM(kwnames, i) == context_str ||
            (PyUnicode_Check(PyTuple_GET_ITEM(kwnames, i)) &&
             PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i),
                                              "context") == 0)) {
            ctx = args[nargs + i];
        } else {
            break;
        }
    }
    /* Task() passes its step and context=; anything else is not ours. */
    if (capturing && start_step == NULL && nargs == 1 && i == nkw &&
        ctx != NULL) {
        Py_INCREF(args[0]);
        start_step = args[0];
        Py_XINCREF(ctx);
        start_ctx = ctx == Py_None ? NULL : ctx;
        if (ctx == Py_None) {
            Py_DECREF(ctx);
        }
        Py_RETURN_NONE;
    }
    return PyObject_Vectorcall(am_asgi_objs.call_soon, args, (size_t)nargs,
                               kwnames);
}

static PyMethodDef asgi_capture_def = {
    "call_soon", (PyCFunction)(void (*)(void))asgi_capture_call_soon,
    METH_FASTCALL | METH_KEYWORDS, NULL
};

/* The task's name, "request <conn>:<stream>" (the error log's prefix);
 * asyncio's own "Task-<n>" costs a PyUnicode_FromFormat() per task. */
static PyObject *
asgi_task_name(am_asgi_request_t *r)
{
    char buf[64], *p = buf + sizeof(buf);
    PyObject *name;
    uint64_t v = r->stream_id;
    int pass;

    for (pass = 0; pass < 2; pass++) {
        do {
            *--p = (char)('0' + v % 10);
            v /= 10;
        } while (v != 0);
        if (pass == 0) {
            *--p = ':';
            v = r->conn_id;
        }
    }
    p -= 8;
    memcpy(p, "request ", 8);
    /* ASCII: no UTF-8 decoding to scan it. */
    name = PyUnicode_New(buf + sizeof(buf) - p, 127);
    if (name != NULL) {
        memcpy(PyUnicode_DATA(name), p, (size_t)(buf + sizeof(buf) - p));
    }
    return name;
}

/* An asyncio task for coro whose first step, if taken, is in start_step
 * and start_ctx (the task's context). New reference or NULL. */
static PyObject *
asgi_task_create(am_asgi_request_t *r, PyObject *coro)
{
    PyObject *task = NULL, *args, *name, *factory;
#if PY_VERSION_HEX >= 0x030A0000
    int gc;
#endif

    factory = PyDict_GetItemWithError(am_asgi_objs.loop_dict,
                                      am_asgi_objs.task_factory_key);
    if ((factory != NULL && factory != Py_None) || PyErr_Occurred() ||
        PyDict_GetItemWithError(am_asgi_objs.loop_dict,
                                am_asgi_objs.call_soon_key) !=
            am_asgi_objs.capture) {
        /* A task factory of the app's, or call_soon replaced: the plain
         * way, the task scheduled. */
        PyErr_Clear();
        return PyObject_CallOneArg(am_asgi_objs.create_task, coro);
    }
    /* asyncio.Task(coro, loop=loop, name=...), as loop.create_task()
     * does. Task has no vectorcall: with a tuple and a kwargs dict of
     * our own, the call makes neither. The name stays in the dict until
     * the next task's replaces it. */
    name = asgi_task_name(r);
    args = name != NULL ? PyTuple_Pack(1, coro) : NULL;
    if (args == NULL || PyDict_SetItem(am_asgi_objs.task_kwargs,
                                       am_asgi_objs.name_key, name) == -1) {
        goto done;
    }
    capturing = 1;
#if PY_VERSION_HEX >= 0x030A0000
    /* No collection in Task(): a finalizer calling loop.call_soon() would
     * meet the capture. */
    gc = PyGC_Disable();
#endif
    task =
        PyObject_Call(am_asgi_objs.task_type, args, am_asgi_objs.task_kwargs);
#if PY_VERSION_HEX >= 0x030A0000
    if (gc) {
        PyGC_Enable();
    }
#endif
    capturing = 0;

done:
    Py_XDECREF(args);
    Py_XDECREF(name);
    return task;
}

/* The first step of one app task, now, in the task's context: what the
 * loop would do with the handle of call_soon(), minus the handle and the
 * turn (CPython 3.12's eager tasks, asyncio.eager_task_factory). The task
 * is the current one during the step, as in any task step. */
static int
asgi_request_first_step(am_asgi_request_t *r)
{
    PyObject *coro = r->coro, *task, *step, *ctx, *res, *scope;
    int rc = 0;

    r->coro = NULL;
    if (coro == NULL) {
        scope = am_asgi_scope_build(r->head);
        PyMem_Free(r->head);
        r->head = NULL;
        coro = scope != NULL ? am_asgi_call_new(r, scope) : NULL;
        Py_XDECREF(scope);
    }
    task = coro != NULL ? asgi_task_create(r, coro) : NULL;
    Py_XDECREF(coro);
    if (task == NULL) {
        Py_CLEAR(start_step);
        Py_CLEAR(start_ctx);
        am_connlog(AM_LOG_ALERT, 0, r->conn_id, r->stream_id,
                   "cannot start the app task");
        PyErr_Print();
        /* The app never ran: end it as if it raised at once. */
        asgi_request_ended(r, 1);
        return 0;
    }
    step = start_step;
    ctx = start_ctx;
    start_step = start_ctx = NULL;
    if (step == NULL) {
        /* Scheduled instead: the loop runs it this turn. */
        Py_DECREF(task);
        return 0;
    }
    if (ctx == NULL) {
        ctx = PyContext_CopyCurrent();
    }
    if (ctx == NULL || PyContext_Enter(ctx) == -1) {
        res = NULL;
    } else {
        res = PyObject_CallNoArgs(step);
        if (PyContext_Exit(ctx) == -1 && res != NULL) {
            Py_CLEAR(res);
        }
    }
    if (res == NULL) {
        /* The call catches all but what stops the loop. */
        if (PyErr_ExceptionMatches(PyExc_SystemExit) ||
            PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
            rc = -1;
        } else {
            am_connlog(AM_LOG_ALERT, 0, r->conn_id, r->stream_id,
                       "the first step of the app task failed");
            PyErr_Print();
        }
    }
    Py_XDECREF(res);
    Py_XDECREF(ctx);
    Py_DECREF(step);
    Py_DECREF(task);
    return rc;
}

int
am_asgi_start_pending(void)
{
    am_asgi_request_t *r;
    int n = 0, rc;

    while (start_head != NULL) {
        r = start_head;
        start_head = r->next;
        start_count--;
        if (start_head == NULL) {
            start_tail = &start_head;
        }
        r->next = NULL;
        rc = asgi_request_first_step(r);
        Py_DECREF(r);
        if (rc == -1) {
            return -1; /* the others wait for the next turn, if any */
        }
        n++;
    }
    return n;
}

void
am_asgi_request_body(am_asgi_request_t *r, const char *data, size_t len,
                     int more)
{
    PyObject *chunk, *msg;
    size_t consumed = 0;

    if (r->body_done || r->disconnected) {
        return;
    }
    if (len > 0) {
        if (r->chunks == NULL && (r->chunks = PyList_New(0)) == NULL) {
            PyErr_Print();
            am_asgi_request_disconnect(r);
            return;
        }
        chunk = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
        if (chunk == NULL || PyList_Append(r->chunks, chunk) == -1) {
            Py_XDECREF(chunk);
            PyErr_Print();
            am_asgi_request_disconnect(r);
            return;
        }
        Py_DECREF(chunk);
        r->buffered += len;
    }
    if (!more) {
        r->body_done = 1;
    }
    if (r->receive_waiter != NULL) {
        msg = am_asgi_http_take_body(r, &consumed);
        if (msg == NULL) {
            PyErr_Print();
            return;
        }
        am_asgi_future_resolve(&r->receive_waiter, am_asgi_keys.set_result,
                               msg);
        Py_DECREF(msg);
        if (r->stream) {
            r->ops->consumed(r->stream, consumed);
        }
    }
}

size_t
am_asgi_request_buffered(am_asgi_request_t *r)
{
    return r->buffered;
}

void
am_asgi_request_disconnect(am_asgi_request_t *r)
{
    PyObject *msg, *exc;

    if (r->disconnected) {
        return;
    }
    r->disconnected = 1;
    if (r->receive_waiter != NULL) {
        msg = r->websocket ? am_asgi_ws_disconnect_message(r)
                           : am_asgi_disconnect_message();
        if (msg != NULL) {
            am_asgi_future_resolve(&r->receive_waiter, am_asgi_keys.set_result,
                                   msg);
            Py_DECREF(msg);
        } else {
            PyErr_Print();
        }
    }
    if (r->send_waiter != NULL) {
        exc = PyObject_CallFunction(am_asgi_objs.disconnected_exc, "s",
                                    "the client has disconnected");
        if (exc != NULL) {
            am_asgi_future_resolve(&r->send_waiter, am_asgi_keys.set_exception,
                                   exc);
            Py_DECREF(exc);
        } else {
            PyErr_Print();
        }
    }
}

void
am_asgi_request_writable(am_asgi_request_t *r)
{
    if (r->send_waiter != NULL) {
        am_asgi_future_resolve(&r->send_waiter, am_asgi_keys.set_result,
                               Py_None);
    }
}

void
am_asgi_request_release(am_asgi_request_t *r)
{
    AM_ASSERT(!r->released);
    r->released = 1;
    if (!r->finished || !r->app_ended) {
        /* The stream is gone under a running app: it sees a disconnect. */
        am_asgi_request_disconnect(r);
    }
    r->stream = NULL;
    Py_DECREF(r);
}

/* Set-up. */

static PyObject *
asgi_intern(const char *s)
{
    PyObject *o = PyUnicode_InternFromString(s);

    if (o == NULL) {
        PyErr_Print();
        abort();
    }
    return o;
}

int
am_asgi_types_ready(PyObject *module)
{
    if (PyType_Ready(&asgi_request_type) == -1 ||
        PyType_Ready(&asgi_ready_type) == -1 ||
        am_asgi_call_ready(module) == -1) {
        return -1;
    }
    Py_INCREF(&asgi_request_type);
    if (PyModule_AddObject(module, "Request", (PyObject *)&asgi_request_type) ==
        -1) {
        Py_DECREF(&asgi_request_type);
        return -1;
    }
    return 0;
}

int
am_asgi_init(am_conf_t *c)
{
    conf = c;
    am_asgi_keys.type = asgi_intern("type");
    am_asgi_keys.http = asgi_intern("http");
    am_asgi_keys.asgi = asgi_intern("asgi");
    am_asgi_keys.http_version = asgi_intern("http_version");
    am_asgi_keys.method = asgi_intern("method");
    am_asgi_keys.scheme = asgi_intern("scheme");
    am_asgi_keys.path = asgi_intern("path");
    am_asgi_keys.raw_path = asgi_intern("raw_path");
    am_asgi_keys.query_string = asgi_intern("query_string");
    am_asgi_keys.root_path = asgi_intern("root_path");
    am_asgi_keys.headers = asgi_intern("headers");
    am_asgi_keys.client = asgi_intern("client");
    am_asgi_keys.server = asgi_intern("server");
    am_asgi_keys.state = asgi_intern("state");
    am_asgi_keys.extensions = asgi_intern("extensions");
    am_asgi_keys.body = asgi_intern("body");
    am_asgi_keys.more_body = asgi_intern("more_body");
    am_asgi_keys.more_trailers = asgi_intern("more_trailers");
    am_asgi_keys.tls = asgi_intern("tls");
    am_asgi_keys.server_cert = asgi_intern("server_cert");
    am_asgi_keys.client_cert_chain = asgi_intern("client_cert_chain");
    am_asgi_keys.client_cert_name = asgi_intern("client_cert_name");
    am_asgi_keys.client_cert_error = asgi_intern("client_cert_error");
    am_asgi_keys.tls_version = asgi_intern("tls_version");
    am_asgi_keys.cipher_suite = asgi_intern("cipher_suite");
    am_asgi_keys.status = asgi_intern("status");
    am_asgi_keys.trailers = asgi_intern("trailers");
    am_asgi_keys.http_request = asgi_intern("http.request");
    am_asgi_keys.http_disconnect = asgi_intern("http.disconnect");
    am_asgi_keys.http_response_start = asgi_intern("http.response.start");
    am_asgi_keys.http_response_body = asgi_intern("http.response.body");
    am_asgi_keys.http_response_trailers = asgi_intern("http.response.trailers");
    am_asgi_keys.http_response_trailers_ext =
        asgi_intern("http.response.trailers");
    am_asgi_keys.set_result = asgi_intern("set_result");
    am_asgi_keys.set_exception = asgi_intern("set_exception");
    am_asgi_keys.done = asgi_intern("done");
    am_asgi_keys.cancelled = asgi_intern("cancelled");
    am_asgi_keys.version = asgi_intern("version");
    am_asgi_keys.spec_version = asgi_intern("spec_version");
    am_asgi_ws_keys_init(asgi_intern);

    am_asgi_objs.scheme_http = asgi_intern("http");
    am_asgi_objs.scheme_https = asgi_intern("https");
    am_asgi_objs.ver_10 = asgi_intern("1.0");
    am_asgi_objs.ver_11 = asgi_intern("1.1");
    am_asgi_objs.ver_2 = asgi_intern("2");
    am_asgi_objs.empty_bytes = PyBytes_FromStringAndSize(NULL, 0);
    am_asgi_objs.scope_asgi =
        Py_BuildValue("{OsOs}", am_asgi_keys.version, "3.0",
                      am_asgi_keys.spec_version, "2.4");
    am_asgi_objs.root_path =
        PyUnicode_FromString(conf->root_path ? conf->root_path : "");
    am_asgi_objs.msg_disconnect =
        Py_BuildValue("{OO}", am_asgi_keys.type, am_asgi_keys.http_disconnect);
    am_asgi_objs.ready_none =
        (PyObject *)PyObject_New(asgi_ready_t, &asgi_ready_type);
    if (am_asgi_objs.empty_bytes == NULL || am_asgi_objs.scope_asgi == NULL ||
        am_asgi_objs.root_path == NULL || am_asgi_objs.msg_disconnect == NULL ||
        am_asgi_objs.ready_none == NULL) {
        return AM_ERROR;
    }
    ((asgi_ready_t *)am_asgi_objs.ready_none)->value = NULL;
    if (am_asgi_scope_init() == -1) {
        return AM_ERROR;
    }
    return AM_OK;
}

int
am_asgi_start(PyObject *runtime, PyObject *loop, PyObject *app, PyObject *state)
{
    PyObject *asyncio;

    am_asgi_objs.app = app;
    Py_INCREF(app);
    am_asgi_objs.state = state;
    Py_INCREF(state);
    am_asgi_objs.log_exception =
        PyObject_GetAttrString(runtime, "log_exception");
    am_asgi_objs.disconnected_exc =
        PyObject_GetAttrString(runtime, "ClientDisconnected");
    am_asgi_objs.create_task = PyObject_GetAttrString(loop, "create_task");
    am_asgi_objs.create_future = PyObject_GetAttrString(loop, "create_future");
    am_asgi_objs.call_soon = PyObject_GetAttrString(loop, "call_soon");
    am_asgi_objs.loop = loop;
    Py_INCREF(loop);
    am_asgi_objs.loop_dict = PyObject_GenericGetDict(loop, NULL);
    asyncio = PyImport_ImportModule("asyncio");
    am_asgi_objs.task_type =
        asyncio ? PyObject_GetAttrString(asyncio, "Task") : NULL;
    Py_XDECREF(asyncio);
    am_asgi_objs.call_soon_key = PyUnicode_InternFromString("call_soon");
    am_asgi_objs.task_factory_key = PyUnicode_InternFromString("_task_factory");
    am_asgi_objs.name_key = PyUnicode_InternFromString("name");
    am_asgi_objs.task_kwargs =
        Py_BuildValue("{sOsO}", "loop", loop, "name", Py_None);
    am_asgi_objs.capture = PyCFunction_NewEx(&asgi_capture_def, NULL, NULL);
    context_str = PyUnicode_InternFromString("context");
    if (am_asgi_objs.call_soon == NULL || am_asgi_objs.loop_dict == NULL ||
        am_asgi_objs.task_type == NULL || am_asgi_objs.call_soon_key == NULL ||
        am_asgi_objs.task_factory_key == NULL ||
        am_asgi_objs.name_key == NULL || am_asgi_objs.task_kwargs == NULL ||
        am_asgi_objs.capture == NULL || context_str == NULL) {
        return AM_ERROR;
    }
    /* loop.call_soon is the capture for good, unless the app's already
     * replaced it; setting and deleting it per task cost more. */
    if (PyDict_GetItemWithError(am_asgi_objs.loop_dict,
                                am_asgi_objs.call_soon_key) == NULL &&
        (PyErr_Occurred() ||
         PyDict_SetItem(am_asgi_objs.loop_dict, am_asgi_objs.call_soon_key,
                        am_asgi_objs.capture) == -1)) {
        return AM_ERROR;
    }
    if (am_asgi_objs.log_exception == NULL ||
        am_asgi_objs.disconnected_exc == NULL ||
        am_asgi_objs.create_task == NULL ||
        am_asgi_objs.create_future == NULL) {
        return AM_ERROR;
    }
    return AM_OK;
}
