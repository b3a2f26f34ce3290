/* worker/asgi.c: the ASGI bridge (asgiref specs/www.rst, HTTP). One
 * am_asgi_request_t per request of any protocol: it builds the scope in C,
 * runs the app as an asyncio task (runtime.run_request) and turns the app's
 * send() events into calls of the protocol's am_asgi_ops_t. receive() and a
 * send() that need not wait return an already-completed awaitable; only a
 * receive() with no body buffered, or a send() above the output high-water
 * mark, waits on an asyncio future.
 */

#include <Python.h>

#include <string.h>

#include "common/log.h"
#include "worker/asgi.h"
#include "worker/asgi_py.h"
#include "worker/event.h"
#include "worker/http.h"
#include "worker/tls.h"

struct am_asgi_request_s {
    PyObject_HEAD void *stream; /* the protocol's; NULL once released */
    const am_asgi_ops_t *ops;
    uint64_t conn_id;
    uint32_t stream_id;
    PyObject *chunks;         /* owned: list of bytes not yet received */
    PyObject *receive_waiter; /* owned future or NULL */
    PyObject *send_waiter;    /* owned future or NULL */
    size_t buffered;
    unsigned body_done : 1;      /* the last body byte is in chunks */
    unsigned body_delivered : 1; /* more_body=False was received */
    unsigned disconnected : 1;
    unsigned started : 1;
    unsigned finished : 1; /* the response is complete */
    unsigned trailers : 1; /* the app announced trailers */
    unsigned app_ended : 1;
    unsigned released : 1;
};

/* An awaitable that is already done: await gives value at once. */
typedef struct {
    PyObject_HEAD PyObject *value; /* owned; NULL means None */
} asgi_ready_t;

size_t am_asgi_running;

static am_conf_t *conf;
static PyObject *asgi_app;              /* owned */
static PyObject *asgi_state;            /* owned: lifespan state dict */
static PyObject *asgi_run_request;      /* owned: runtime.run_request */
static PyObject *asgi_create_task;      /* owned: loop.create_task */
static PyObject *asgi_create_future;    /* owned: loop.create_future */
static PyObject *asgi_disconnected_exc; /* owned: ClientDisconnected */
static PyObject *asgi_log_exception;    /* owned: runtime.log_exception */
static PyObject *asgi_scope_asgi;       /* owned: {"version": "3.0", ...} */
static PyObject *asgi_root_path;        /* owned */
static PyObject *asgi_scheme_http, *asgi_scheme_https;
static PyObject *asgi_ver_10, *asgi_ver_11, *asgi_ver_2;
static PyObject *asgi_ready_none;     /* owned: the shared done awaitable */
static PyObject *asgi_msg_disconnect; /* owned template */
static PyObject *asgi_empty_bytes;

/* Interned keys and values. */
static PyObject *s_type, *s_http, *s_asgi, *s_http_version, *s_method,
    *s_scheme, *s_path, *s_raw_path, *s_query_string, *s_root_path, *s_headers,
    *s_client, *s_server, *s_state, *s_extensions, *s_body, *s_more_body,
    *s_status, *s_trailers, *s_http_request, *s_http_disconnect,
    *s_http_response_start, *s_http_response_body, *s_http_response_trailers,
    *s_set_result, *s_set_exception, *s_done, *s_cancelled, *s_version,
    *s_spec_version, *s_http_response_trailers_ext, *s_more_trailers, *s_tls;

static PyTypeObject asgi_request_type;
static PyTypeObject asgi_ready_type;

/* The done awaitable. */

static PyObject *
asgi_ready_new(PyObject *value)
{
    asgi_ready_t *r;

    if (value == NULL || value == Py_None) {
        Py_INCREF(asgi_ready_none);
        return asgi_ready_none;
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

static void
asgi_future_resolve(PyObject **slot, PyObject *method, PyObject *value)
{
    PyObject *fut = *slot, *r;

    if (fut == NULL) {
        return;
    }
    *slot = NULL;
    am_event_wake_python();
    r = PyObject_CallMethodNoArgs(fut, s_done);
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

static PyObject *
asgi_disconnect_message(void)
{
    return PyDict_Copy(asgi_msg_disconnect);
}

static PyObject *
asgi_disconnected_error(void)
{
    PyErr_SetString(asgi_disconnected_exc, "the client has disconnected");
    return NULL;
}

/* The next http.request message from what is buffered (new reference). */
static PyObject *
asgi_take_body(am_asgi_request_t *r, size_t *consumed)
{
    PyObject *msg, *body;
    Py_ssize_t n = PyList_GET_SIZE(r->chunks);

    if (n == 0) {
        body = asgi_empty_bytes;
        Py_INCREF(body);
    } else if (n == 1) {
        body = PyList_GET_ITEM(r->chunks, 0);
        Py_INCREF(body);
    } else {
        body = _PyBytes_Join(asgi_empty_bytes, r->chunks);
        if (body == NULL) {
            return NULL;
        }
    }
    msg = PyDict_New();
    if (msg == NULL || PyDict_SetItem(msg, s_type, s_http_request) == -1 ||
        PyDict_SetItem(msg, s_body, body) == -1 ||
        PyDict_SetItem(msg, s_more_body, r->body_done ? Py_False : Py_True) ==
            -1) {
        Py_XDECREF(msg);
        Py_DECREF(body);
        return NULL;
    }
    Py_DECREF(body);
    if (n > 0 && PyList_SetSlice(r->chunks, 0, n, NULL) == -1) {
        Py_DECREF(msg);
        return NULL;
    }
    *consumed = r->buffered;
    r->buffered = 0;
    if (r->body_done) {
        r->body_delivered = 1;
    }
    return msg;
}

/* receive(): asgiref www.rst "Request - receive event". */
static PyObject *
asgi_request_receive(am_asgi_request_t *r, PyObject *unused)
{
    PyObject *msg, *aw;
    size_t consumed = 0;

    if (r->disconnected || (r->body_delivered && r->finished)) {
        msg = asgi_disconnect_message();
        goto ready;
    }
    if (r->buffered > 0 || (r->body_done && !r->body_delivered)) {
        msg = asgi_take_body(r, &consumed);
        if (msg == NULL) {
            return NULL;
        }
        if (r->stream) {
            r->ops->consumed(r->stream, consumed);
        }
        goto ready;
    }
    if (r->receive_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "receive() called while another receive() waits");
        return NULL;
    }
    r->receive_waiter = PyObject_CallNoArgs(asgi_create_future);
    if (r->receive_waiter == NULL) {
        return NULL;
    }
    if (r->stream && !r->body_done) {
        r->ops->consumed(r->stream, 0); /* e.g. 100 Continue */
    }
    Py_INCREF(r->receive_waiter);
    return r->receive_waiter;

ready:
    if (msg == NULL) {
        return NULL;
    }
    aw = asgi_ready_new(msg);
    Py_DECREF(msg);
    return aw;
}

/* Convert an iterable of [name, value] byte pairs. items keeps them alive
 * while headers point into them. */
static int
asgi_headers_from(PyObject *list, PyObject **items, am_header_t **out,
                  size_t *n, am_header_t *stack, size_t stack_n)
{
    PyObject *seq, *pair, *name, *value;
    Py_ssize_t i, len;
    am_header_t *h;

    *items = NULL;
    if (list == NULL || list == Py_None) {
        *out = stack;
        *n = 0;
        return 0;
    }
    seq = PySequence_Fast(list, "headers must be an iterable of pairs");
    if (seq == NULL) {
        return -1;
    }
    len = PySequence_Fast_GET_SIZE(seq);
    h = (size_t)len <= stack_n ? stack : PyMem_Malloc(len * sizeof(*h));
    if (h == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < len; i++) {
        pair = PySequence_Fast_GET_ITEM(seq, i);
        if (!(PyTuple_Check(pair) || PyList_Check(pair)) ||
            PySequence_Fast_GET_SIZE(pair) != 2) {
            PyErr_Format(PyExc_TypeError,
                         "header %zd must be a [name, value] pair, got %R", i,
                         pair);
            goto fail;
        }
        name = PySequence_Fast_GET_ITEM(pair, 0);
        value = PySequence_Fast_GET_ITEM(pair, 1);
        if (!PyBytes_Check(name) || !PyBytes_Check(value)) {
            PyErr_Format(PyExc_TypeError,
                         "header %zd: name and value must be bytes, got %R", i,
                         pair);
            goto fail;
        }
        h[i].name = PyBytes_AS_STRING(name);
        h[i].name_len = (size_t)PyBytes_GET_SIZE(name);
        h[i].value = PyBytes_AS_STRING(value);
        h[i].value_len = (size_t)PyBytes_GET_SIZE(value);
    }
    *items = seq;
    *out = h;
    *n = (size_t)len;
    return 0;

fail:
    if (h != stack) {
        PyMem_Free(h);
    }
    Py_DECREF(seq);
    return -1;
}

static int
asgi_get_bool(PyObject *msg, PyObject *key, int *out)
{
    PyObject *v = PyDict_GetItemWithError(msg, key);

    if (v == NULL) {
        if (PyErr_Occurred()) {
            return -1;
        }
        *out = 0;
        return 0;
    }
    *out = PyObject_IsTrue(v);
    return *out == -1 ? -1 : 0;
}

static PyObject *
asgi_send_start(am_asgi_request_t *r, PyObject *msg)
{
    am_header_t stack[32], *headers;
    PyObject *status_obj, *items;
    const char *err = NULL;
    size_t n;
    long status;
    int rc, trailers;

    if (r->started) {
        PyErr_SetString(PyExc_RuntimeError, "http.response.start sent twice");
        return NULL;
    }
    status_obj = PyDict_GetItemWithError(msg, s_status);
    if (status_obj == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError,
                            "http.response.start without \"status\"");
        }
        return NULL;
    }
    if (!PyLong_Check(status_obj) || PyBool_Check(status_obj)) {
        PyErr_Format(PyExc_TypeError, "status must be an int, got %R",
                     status_obj);
        return NULL;
    }
    status = PyLong_AsLong(status_obj);
    if (status == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (asgi_get_bool(msg, s_trailers, &trailers) == -1) {
        return NULL;
    }
    if (asgi_headers_from(PyDict_GetItemWithError(msg, s_headers), &items,
                          &headers, &n, stack, am_nitems(stack)) == -1) {
        return NULL;
    }
    rc = r->ops->start(r->stream, (int)am_min(am_max(status, -1), 100000),
                       headers, n, trailers, &err);
    if (headers != stack) {
        PyMem_Free(headers);
    }
    Py_XDECREF(items);
    if (rc == AM_DECLINED) {
        PyErr_Format(PyExc_RuntimeError, "invalid http.response.start: %s",
                     err ? err : "refused");
        return NULL;
    }
    if (rc == AM_ERROR) {
        return asgi_disconnected_error();
    }
    r->started = 1;
    r->trailers = trailers ? 1 : 0;
    return asgi_ready_new(NULL);
}

static PyObject *
asgi_send_body(am_asgi_request_t *r, PyObject *msg)
{
    PyObject *body;
    Py_buffer view;
    int more, rc;

    if (!r->started) {
        PyErr_SetString(PyExc_RuntimeError,
                        "http.response.body sent before http.response.start");
        return NULL;
    }
    if (r->finished) {
        PyErr_SetString(PyExc_RuntimeError,
                        "http.response.body sent after the response completed");
        return NULL;
    }
    if (asgi_get_bool(msg, s_more_body, &more) == -1) {
        return NULL;
    }
    body = PyDict_GetItemWithError(msg, s_body);
    if (body == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (body == NULL) {
        view.buf = "";
        view.len = 0;
        view.obj = NULL;
    } else if (PyBytes_Check(body)) {
        view.buf = PyBytes_AS_STRING(body);
        view.len = PyBytes_GET_SIZE(body);
        view.obj = NULL;
    } else if (PyObject_GetBuffer(body, &view, PyBUF_SIMPLE) == -1) {
        PyErr_Format(PyExc_TypeError, "body must be bytes, got %.100s",
                     Py_TYPE(body)->tp_name);
        return NULL;
    }
    rc = r->ops->body(r->stream, view.buf, (size_t)view.len,
                      more || r->trailers);
    if (view.obj) {
        PyBuffer_Release(&view);
    }
    if (rc == AM_DECLINED) {
        PyErr_SetString(PyExc_RuntimeError,
                        "invalid http.response.body (see the error log)");
        return NULL;
    }
    if (rc == AM_ERROR) {
        return asgi_disconnected_error();
    }
    if (!more && !r->trailers) {
        r->finished = 1;
    }
    if (rc == AM_AGAIN && more) {
        r->send_waiter = PyObject_CallNoArgs(asgi_create_future);
        if (r->send_waiter == NULL) {
            return NULL;
        }
        Py_INCREF(r->send_waiter);
        return r->send_waiter;
    }
    return asgi_ready_new(NULL);
}

static PyObject *
asgi_send_trailers(am_asgi_request_t *r, PyObject *msg)
{
    am_header_t stack[16], *headers;
    PyObject *items;
    const char *err = NULL;
    size_t n;
    int rc, more;

    if (!r->started || !r->trailers || r->finished) {
        PyErr_SetString(PyExc_RuntimeError,
                        "http.response.trailers not announced by "
                        "http.response.start or sent twice");
        return NULL;
    }
    if (asgi_get_bool(msg, s_more_trailers, &more) == -1) {
        return NULL;
    }
    if (asgi_headers_from(PyDict_GetItemWithError(msg, s_headers), &items,
                          &headers, &n, stack, am_nitems(stack)) == -1) {
        return NULL;
    }
    rc = r->ops->trailers(r->stream, headers, n, more, &err);
    if (headers != stack) {
        PyMem_Free(headers);
    }
    Py_XDECREF(items);
    if (rc == AM_DECLINED) {
        PyErr_Format(PyExc_RuntimeError, "invalid http.response.trailers: %s",
                     err ? err : "refused");
        return NULL;
    }
    if (rc == AM_ERROR) {
        return asgi_disconnected_error();
    }
    if (!more) {
        r->finished = 1;
    }
    return asgi_ready_new(NULL);
}

/* send(): asgiref www.rst "Response Start", "Response Body". */
static PyObject *
asgi_request_send(am_asgi_request_t *r, PyObject *msg)
{
    PyObject *type;

    if (!PyDict_Check(msg)) {
        PyErr_Format(PyExc_TypeError, "ASGI message must be a dict, got %R",
                     msg);
        return NULL;
    }
    type = PyDict_GetItemWithError(msg, s_type);
    if (type == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError,
                            "ASGI message without \"type\"");
        }
        return NULL;
    }
    if (r->disconnected || r->stream == NULL) {
        if (r->finished) {
            PyErr_Format(PyExc_RuntimeError,
                         "unexpected ASGI message %R after the response "
                         "completed",
                         type);
            return NULL;
        }
        return asgi_disconnected_error();
    }
    if (r->send_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "send() called while another send() waits");
        return NULL;
    }
    if (PyUnicode_Check(type)) {
        if (PyUnicode_Compare(type, s_http_response_body) == 0) {
            return asgi_send_body(r, msg);
        }
        if (PyUnicode_Compare(type, s_http_response_start) == 0) {
            return asgi_send_start(r, msg);
        }
        if (PyUnicode_Compare(type, s_http_response_trailers) == 0) {
            return asgi_send_trailers(r, msg);
        }
    }
    PyErr_Format(PyExc_RuntimeError, "unexpected ASGI message type %R", type);
    return NULL;
}

static void
asgi_send_500(am_asgi_request_t *r)
{
    am_header_t h[2] = {
        { "content-type", 12, "text/plain; charset=utf-8", 25 },
        { "content-length", 14, NULL, 0 },
    };
    char body[64], length[24];
    const char *err;
    size_t len;

    len = am_http_error_body(500, body, sizeof(body));
    h[1].value = length;
    h[1].value_len = (size_t)snprintf(length, sizeof(length), "%zu", len);
    if (r->ops->start(r->stream, 500, h, 2, 0, &err) == AM_OK) {
        r->started = 1;
        if (r->ops->body(r->stream, body, len, 0) != AM_ERROR) {
            r->finished = 1;
        }
    }
}

/* The app's task ended: runtime.run_request calls app_done()/app_failed(). */
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
    if (!r->started) {
        if (!failed && !r->disconnected) {
            am_log(AM_LOG_ERROR, 0,
                   "*%llu the app returned without starting a response",
                   (unsigned long long)r->conn_id);
        }
        if (!r->disconnected) {
            asgi_send_500(r);
        }
    } else if (!r->finished && !failed) {
        am_log(AM_LOG_ERROR, 0,
               "*%llu the app returned without completing the response",
               (unsigned long long)r->conn_id);
    }
    if (r->stream) {
        r->ops->finish(r->stream, r->finished);
    }
}

static PyObject *
asgi_request_app_done(am_asgi_request_t *r, PyObject *unused)
{
    asgi_request_ended(r, 0);
    Py_RETURN_NONE;
}

static PyObject *
asgi_request_app_failed(am_asgi_request_t *r, PyObject *exc)
{
    PyObject *msg, *res;
    int quiet;

    /* The app's own reaction to a disconnect is no error of its own. */
    quiet = (r->disconnected || r->stream == NULL) &&
            (PyErr_GivenExceptionMatches(exc, asgi_disconnected_exc) ||
             PyErr_GivenExceptionMatches(exc, am_py_cancelled_error));
    if (!quiet) {
        msg = PyUnicode_FromFormat("*%llu exception in ASGI application",
                                   (unsigned long long)r->conn_id);
        if (msg != NULL) {
            res = PyObject_CallFunctionObjArgs(asgi_log_exception, msg, exc,
                                               NULL);
            Py_XDECREF(res);
            Py_DECREF(msg);
        }
        if (PyErr_Occurred()) {
            PyErr_Print();
        }
    }
    asgi_request_ended(r, 1);
    Py_RETURN_NONE;
}

static void
asgi_request_dealloc(am_asgi_request_t *r)
{
    Py_CLEAR(r->chunks);
    Py_CLEAR(r->receive_waiter);
    Py_CLEAR(r->send_waiter);
    PyObject_Free(r);
}

static PyMethodDef asgi_request_methods[] = {
    { "receive", (PyCFunction)asgi_request_receive, METH_NOARGS,
      "ASGI receive()" },
    { "send", (PyCFunction)asgi_request_send, METH_O, "ASGI send(message)" },
    { "app_done", (PyCFunction)asgi_request_app_done, METH_NOARGS, NULL },
    { "app_failed", (PyCFunction)asgi_request_app_failed, METH_O, NULL },
    { NULL, NULL, 0, NULL },
};

static PyTypeObject asgi_request_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_asgimaster.Request",
    .tp_basicsize = sizeof(am_asgi_request_t),
    .tp_dealloc = (destructor)asgi_request_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = asgi_request_methods,
};

static int
asgi_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decode a path and decode it as UTF-8 (invalid sequences become
 * U+FFFD, as urllib.parse.unquote does). */
static PyObject *
asgi_decode_path(const char *p, size_t len)
{
    char stack[1024] = { 0 }, *buf;
    size_t i, n = 0;
    PyObject *s;

    if (memchr(p, '%', len) == NULL) {
        return PyUnicode_DecodeUTF8(p, (Py_ssize_t)len, "replace");
    }
    buf = len <= sizeof(stack) ? stack : PyMem_Malloc(len);
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    for (i = 0; i < len; i++) {
        if (p[i] == '%' && i + 2 < len && asgi_hex(p[i + 1]) >= 0 &&
            asgi_hex(p[i + 2]) >= 0) {
            buf[n++] = (char)(asgi_hex(p[i + 1]) * 16 + asgi_hex(p[i + 2]));
            i += 2;
        } else {
            buf[n++] = p[i];
        }
    }
    s = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)n, "replace");
    if (buf != stack) {
        PyMem_Free(buf);
    }
    return s;
}

static PyObject *
asgi_addr(const char *host, int port)
{
    if (host == NULL) {
        Py_RETURN_NONE;
    }
    if (port < 0) {
        /* A unix socket: [path, None] (asgiref www.rst, "server"). */
        return Py_BuildValue("[sO]", host, Py_None);
    }
    return Py_BuildValue("(si)", host, port);
}

static int
asgi_set(PyObject *d, PyObject *k, PyObject *v)
{
    int rc;

    if (v == NULL) {
        return -1;
    }
    rc = PyDict_SetItem(d, k, v);
    Py_DECREF(v);
    return rc;
}

static PyObject *
asgi_str_or_none(const char *s)
{
    if (s == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(s);
}

/* asgiref specs/tls.rst: the "tls" extension. */
static PyObject *
asgi_tls_extension(struct am_tls_conn_s *t)
{
    const am_tls_info_t *info = am_tls_info(t);
    PyObject *d, *chain;
    size_t i;

    if (info == NULL) {
        Py_RETURN_NONE;
    }
    chain = PyList_New((Py_ssize_t)info->nclient_certs);
    if (chain == NULL) {
        return NULL;
    }
    for (i = 0; i < info->nclient_certs; i++) {
        PyObject *pem = PyUnicode_FromString(info->client_certs[i]);

        if (pem == NULL) {
            Py_DECREF(chain);
            return NULL;
        }
        PyList_SET_ITEM(chain, (Py_ssize_t)i, pem);
    }
    d = Py_BuildValue(
        "{sNsNsNsNsisi}", "server_cert", asgi_str_or_none(info->server_cert),
        "client_cert_chain", chain, "client_cert_name",
        asgi_str_or_none(info->client_cert_name), "client_cert_error",
        asgi_str_or_none(info->client_cert_error), "tls_version",
        info->tls_version, "cipher_suite", info->cipher_suite);
    return d;
}

static PyObject *
asgi_build_scope(const am_asgi_head_t *head)
{
    PyObject *scope, *headers, *pair, *name, *value, *ver;
    size_t i;

    scope = PyDict_New();
    if (scope == NULL) {
        return NULL;
    }
    if (PyDict_SetItem(scope, s_type, s_http) == -1 ||
        PyDict_SetItem(scope, s_asgi, asgi_scope_asgi) == -1) {
        goto fail;
    }
    ver = head->http_version[0] == '2'   ? asgi_ver_2
          : head->http_version[2] == '0' ? asgi_ver_10
                                         : asgi_ver_11;
    if (PyDict_SetItem(scope, s_http_version, ver) == -1 ||
        asgi_set(scope, s_method,
                 PyUnicode_FromStringAndSize(
                     head->method, (Py_ssize_t)head->method_len)) == -1 ||
        PyDict_SetItem(scope, s_scheme,
                       head->scheme[4] == 's' ? asgi_scheme_https
                                              : asgi_scheme_http) == -1 ||
        asgi_set(scope, s_path, asgi_decode_path(head->path, head->path_len)) ==
            -1 ||
        asgi_set(scope, s_raw_path,
                 PyBytes_FromStringAndSize(head->path,
                                           (Py_ssize_t)head->path_len)) == -1 ||
        asgi_set(scope, s_query_string,
                 PyBytes_FromStringAndSize(
                     head->query, (Py_ssize_t)head->query_len)) == -1 ||
        PyDict_SetItem(scope, s_root_path, asgi_root_path) == -1) {
        goto fail;
    }

    headers = PyList_New((Py_ssize_t)head->nheaders);
    if (headers == NULL) {
        goto fail;
    }
    for (i = 0; i < head->nheaders; i++) {
        name = PyBytes_FromStringAndSize(head->headers[i].name,
                                         (Py_ssize_t)head->headers[i].name_len);
        value = PyBytes_FromStringAndSize(
            head->headers[i].value, (Py_ssize_t)head->headers[i].value_len);
        if (name == NULL || value == NULL) {
            Py_XDECREF(name);
            Py_XDECREF(value);
            Py_DECREF(headers);
            goto fail;
        }
        pair = PyTuple_Pack(2, name, value);
        Py_DECREF(name);
        Py_DECREF(value);
        if (pair == NULL) {
            Py_DECREF(headers);
            goto fail;
        }
        PyList_SET_ITEM(headers, (Py_ssize_t)i, pair); /* steals */
    }
    if (asgi_set(scope, s_headers, headers) == -1 ||
        asgi_set(scope, s_client,
                 asgi_addr(head->client_host, head->client_port)) == -1 ||
        asgi_set(scope, s_server,
                 asgi_addr(head->server_host, head->server_port)) == -1 ||
        asgi_set(scope, s_state, PyDict_Copy(asgi_state)) == -1) {
        goto fail;
    }
    if (head->trailers_allowed || head->tls != NULL) {
        PyObject *ext = PyDict_New();

        if (ext == NULL) {
            goto fail;
        }
        if (asgi_set(scope, s_extensions, ext) == -1) {
            goto fail;
        }
        if (head->trailers_allowed &&
            asgi_set(ext, s_http_response_trailers_ext, PyDict_New()) == -1) {
            goto fail;
        }
        if (head->tls != NULL &&
            asgi_set(ext, s_tls, asgi_tls_extension(head->tls)) == -1) {
            goto fail;
        }
    }
    return scope;

fail:
    Py_DECREF(scope);
    return NULL;
}

am_asgi_request_t *
am_asgi_request_create(const am_asgi_head_t *head, const am_asgi_ops_t *ops,
                       void *stream, uint64_t conn_id, uint32_t stream_id)
{
    am_asgi_request_t *r;
    PyObject *scope, *coro, *task;

    scope = asgi_build_scope(head);
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
    r->chunks = PyList_New(0);
    if (r->chunks == NULL) {
        Py_DECREF(scope);
        Py_DECREF(r);
        goto error;
    }

    coro = PyObject_CallFunctionObjArgs(asgi_run_request, asgi_app, scope,
                                        (PyObject *)r, NULL);
    Py_DECREF(scope);
    if (coro == NULL) {
        Py_DECREF(r);
        goto error;
    }
    task = PyObject_CallOneArg(asgi_create_task, coro);
    Py_DECREF(coro);
    if (task == NULL) {
        Py_DECREF(r);
        goto error;
    }
    /* The loop keeps a reference to scheduled tasks. */
    Py_DECREF(task);
    am_event_wake_python();
    am_asgi_running++;
    return r; /* the protocol's reference */

error:
    am_log(AM_LOG_ALERT, 0, "*%llu cannot start the app task",
           (unsigned long long)conn_id);
    PyErr_Print();
    return NULL;
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
        msg = asgi_take_body(r, &consumed);
        if (msg == NULL) {
            PyErr_Print();
            return;
        }
        asgi_future_resolve(&r->receive_waiter, s_set_result, msg);
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
        msg = asgi_disconnect_message();
        if (msg != NULL) {
            asgi_future_resolve(&r->receive_waiter, s_set_result, msg);
            Py_DECREF(msg);
        } else {
            PyErr_Print();
        }
    }
    if (r->send_waiter != NULL) {
        exc = PyObject_CallFunction(asgi_disconnected_exc, "s",
                                    "the client has disconnected");
        if (exc != NULL) {
            asgi_future_resolve(&r->send_waiter, s_set_exception, exc);
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
        asgi_future_resolve(&r->send_waiter, s_set_result, Py_None);
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
        PyType_Ready(&asgi_ready_type) == -1) {
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
    s_type = asgi_intern("type");
    s_http = asgi_intern("http");
    s_asgi = asgi_intern("asgi");
    s_http_version = asgi_intern("http_version");
    s_method = asgi_intern("method");
    s_scheme = asgi_intern("scheme");
    s_path = asgi_intern("path");
    s_raw_path = asgi_intern("raw_path");
    s_query_string = asgi_intern("query_string");
    s_root_path = asgi_intern("root_path");
    s_headers = asgi_intern("headers");
    s_client = asgi_intern("client");
    s_server = asgi_intern("server");
    s_state = asgi_intern("state");
    s_extensions = asgi_intern("extensions");
    s_body = asgi_intern("body");
    s_more_body = asgi_intern("more_body");
    s_more_trailers = asgi_intern("more_trailers");
    s_tls = asgi_intern("tls");
    s_status = asgi_intern("status");
    s_trailers = asgi_intern("trailers");
    s_http_request = asgi_intern("http.request");
    s_http_disconnect = asgi_intern("http.disconnect");
    s_http_response_start = asgi_intern("http.response.start");
    s_http_response_body = asgi_intern("http.response.body");
    s_http_response_trailers = asgi_intern("http.response.trailers");
    s_http_response_trailers_ext = asgi_intern("http.response.trailers");
    s_set_result = asgi_intern("set_result");
    s_set_exception = asgi_intern("set_exception");
    s_done = asgi_intern("done");
    s_cancelled = asgi_intern("cancelled");
    s_version = asgi_intern("version");
    s_spec_version = asgi_intern("spec_version");

    asgi_scheme_http = asgi_intern("http");
    asgi_scheme_https = asgi_intern("https");
    asgi_ver_10 = asgi_intern("1.0");
    asgi_ver_11 = asgi_intern("1.1");
    asgi_ver_2 = asgi_intern("2");
    asgi_empty_bytes = PyBytes_FromStringAndSize(NULL, 0);
    asgi_scope_asgi =
        Py_BuildValue("{OsOs}", s_version, "3.0", s_spec_version, "2.4");
    asgi_root_path =
        PyUnicode_FromString(conf->root_path ? conf->root_path : "");
    asgi_msg_disconnect = Py_BuildValue("{OO}", s_type, s_http_disconnect);
    asgi_ready_none = (PyObject *)PyObject_New(asgi_ready_t, &asgi_ready_type);
    if (asgi_empty_bytes == NULL || asgi_scope_asgi == NULL ||
        asgi_root_path == NULL || asgi_msg_disconnect == NULL ||
        asgi_ready_none == NULL) {
        return AM_ERROR;
    }
    ((asgi_ready_t *)asgi_ready_none)->value = NULL;
    return AM_OK;
}

int
am_asgi_start(PyObject *runtime, PyObject *loop, PyObject *app, PyObject *state)
{
    asgi_app = app;
    Py_INCREF(app);
    asgi_state = state;
    Py_INCREF(state);
    asgi_run_request = PyObject_GetAttrString(runtime, "run_request");
    asgi_log_exception = PyObject_GetAttrString(runtime, "log_exception");
    asgi_disconnected_exc =
        PyObject_GetAttrString(runtime, "ClientDisconnected");
    asgi_create_task = PyObject_GetAttrString(loop, "create_task");
    asgi_create_future = PyObject_GetAttrString(loop, "create_future");
    if (asgi_run_request == NULL || asgi_log_exception == NULL ||
        asgi_disconnected_exc == NULL || asgi_create_task == NULL ||
        asgi_create_future == NULL) {
        return AM_ERROR;
    }
    return AM_OK;
}
