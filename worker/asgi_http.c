/* worker/asgi_http.c: the HTTP events of the bridge (asgiref
 * specs/www.rst): receive() gives http.request messages from the buffered
 * body or http.disconnect; send() checks http.response.start, .body and
 * .trailers and calls the protocol's ops. A receive() with body buffered
 * and a send() below the high-water mark return a completed awaitable.
 */

#include <Python.h>

#include <string.h>

#include "common/log.h"
#include "worker/asgi.h"
#include "worker/asgi_py.h"
#include "worker/asgi_state.h"
#include "worker/http.h"

/* The next http.request message from what is buffered (new reference). */
PyObject *
am_asgi_http_take_body(am_asgi_request_t *r, size_t *consumed)
{
    PyObject *msg, *body;
    Py_ssize_t n = r->chunks != NULL ? PyList_GET_SIZE(r->chunks) : 0;

    if (n == 0) {
        body = am_asgi_objs.empty_bytes;
        Py_INCREF(body);
    } else if (n == 1) {
        body = PyList_GET_ITEM(r->chunks, 0);
        Py_INCREF(body);
    } else {
        body = _PyBytes_Join(am_asgi_objs.empty_bytes, r->chunks);
        if (body == NULL) {
            return NULL;
        }
    }
    msg = PyDict_New();
    if (msg == NULL ||
        PyDict_SetItem(msg, am_asgi_keys.type, am_asgi_keys.http_request) ==
            -1 ||
        PyDict_SetItem(msg, am_asgi_keys.body, body) == -1 ||
        PyDict_SetItem(msg, am_asgi_keys.more_body,
                       r->body_done ? Py_False : Py_True) == -1) {
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
PyObject *
am_asgi_http_receive(am_asgi_request_t *r, PyObject *unused)
{
    PyObject *msg, *aw;
    size_t consumed = 0;

    if (r->disconnected || (r->body_delivered && r->finished)) {
        msg = am_asgi_disconnect_message();
        goto ready;
    }
    if (r->buffered > 0 || (r->body_done && !r->body_delivered)) {
        msg = am_asgi_http_take_body(r, &consumed);
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
    r->receive_waiter = PyObject_CallNoArgs(am_asgi_objs.create_future);
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
    aw = am_asgi_ready_new(msg);
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
    status_obj = PyDict_GetItemWithError(msg, am_asgi_keys.status);
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
    if (asgi_get_bool(msg, am_asgi_keys.trailers, &trailers) == -1) {
        return NULL;
    }
    if (asgi_headers_from(PyDict_GetItemWithError(msg, am_asgi_keys.headers),
                          &items, &headers, &n, stack,
                          am_nitems(stack)) == -1) {
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
        return am_asgi_disconnected_error();
    }
    r->started = 1;
    r->trailers = trailers ? 1 : 0;
    return am_asgi_ready_new(NULL);
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
    if (asgi_get_bool(msg, am_asgi_keys.more_body, &more) == -1) {
        return NULL;
    }
    body = PyDict_GetItemWithError(msg, am_asgi_keys.body);
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
        return am_asgi_disconnected_error();
    }
    if (!more && !r->trailers) {
        r->finished = 1;
    }
    if (rc == AM_AGAIN && more) {
        r->send_waiter = PyObject_CallNoArgs(am_asgi_objs.create_future);
        if (r->send_waiter == NULL) {
            return NULL;
        }
        Py_INCREF(r->send_waiter);
        return r->send_waiter;
    }
    return am_asgi_ready_new(NULL);
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
    if (asgi_get_bool(msg, am_asgi_keys.more_trailers, &more) == -1) {
        return NULL;
    }
    if (asgi_headers_from(PyDict_GetItemWithError(msg, am_asgi_keys.headers),
                          &items, &headers, &n, stack,
                          am_nitems(stack)) == -1) {
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
        return am_asgi_disconnected_error();
    }
    if (!more) {
        r->finished = 1;
    }
    return am_asgi_ready_new(NULL);
}

/* type equals the interned key: the app's literal is not interned
 * ("http.response.body" is no identifier), so compare the characters. */
static int
asgi_type_is(PyObject *type, PyObject *key)
{
    return type == key ||
           (PyUnicode_GET_LENGTH(type) == PyUnicode_GET_LENGTH(key) &&
            PyUnicode_KIND(type) == PyUnicode_KIND(key) &&
            memcmp(PyUnicode_DATA(type), PyUnicode_DATA(key),
                   (size_t)PyUnicode_GET_LENGTH(key) * PyUnicode_KIND(key)) ==
                0);
}

/* send(): asgiref www.rst "Response Start", "Response Body". */
PyObject *
am_asgi_http_send(am_asgi_request_t *r, PyObject *msg)
{
    PyObject *type;

    if (!PyDict_Check(msg)) {
        PyErr_Format(PyExc_TypeError, "ASGI message must be a dict, got %R",
                     msg);
        return NULL;
    }
    type = PyDict_GetItemWithError(msg, am_asgi_keys.type);
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
        return am_asgi_disconnected_error();
    }
    if (r->send_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "send() called while another send() waits");
        return NULL;
    }
    if (PyUnicode_Check(type)
#if PY_VERSION_HEX < 0x030C0000
        && PyUnicode_READY(type) == 0
#endif
    ) {
        if (asgi_type_is(type, am_asgi_keys.http_response_body)) {
            return asgi_send_body(r, msg);
        }
        if (asgi_type_is(type, am_asgi_keys.http_response_start)) {
            return asgi_send_start(r, msg);
        }
        if (asgi_type_is(type, am_asgi_keys.http_response_trailers)) {
            return asgi_send_trailers(r, msg);
        }
    }
    PyErr_Format(PyExc_RuntimeError, "unexpected ASGI message type %R", type);
    return NULL;
}

void
am_asgi_http_send_500(am_asgi_request_t *r)
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
