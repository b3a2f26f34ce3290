/* worker/asgi_ws.c: the WebSocket events of the bridge (asgiref
 * specs/www.rst, "WebSocket", spec_version 2.4): the websocket scope
 * (built from the http one), receive() giving websocket.connect, queued
 * websocket.receive messages and websocket.disconnect, and send()
 * checking websocket.accept, .send, .close and the
 * websocket.http.response.* denial before calling the session's
 * am_asgi_ws_ops_t. A message the app may not send now raises in the app;
 * if it lets the error escape, the session closes with 1011.
 */

#include <Python.h>

#include <string.h>

#include "common/log.h"
#include "worker/asgi.h"
#include "worker/asgi_py.h"
#include "worker/asgi_state.h"
#include "worker/connlog.h"
#include "worker/ws_handshake.h"

#define ASGI_WS_MAX_SUBPROTOCOLS 32

void
am_asgi_ws_keys_init(PyObject *(*intern)(const char *))
{
    am_asgi_keys.websocket = intern("websocket");
    am_asgi_keys.subprotocols = intern("subprotocols");
    am_asgi_keys.subprotocol = intern("subprotocol");
    am_asgi_keys.code = intern("code");
    am_asgi_keys.reason = intern("reason");
    am_asgi_keys.text = intern("text");
    am_asgi_keys.bytes = intern("bytes");
    am_asgi_keys.ws_connect = intern("websocket.connect");
    am_asgi_keys.ws_accept = intern("websocket.accept");
    am_asgi_keys.ws_receive = intern("websocket.receive");
    am_asgi_keys.ws_send = intern("websocket.send");
    am_asgi_keys.ws_close = intern("websocket.close");
    am_asgi_keys.ws_disconnect = intern("websocket.disconnect");
    am_asgi_keys.ws_http_response_start =
        intern("websocket.http.response.start");
    am_asgi_keys.ws_http_response_body = intern("websocket.http.response.body");
    am_asgi_keys.ws_http_response = intern("websocket.http.response");
}

/* Sec-WebSocket-Protocol values, in the client's order of preference. */
static PyObject *
asgi_ws_subprotocols(const am_asgi_head_t *head)
{
    am_ws_token_t tokens[ASGI_WS_MAX_SUBPROTOCOLS];
    PyObject *list, *s;
    size_t i, k, n;

    list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (i = 0; i < head->nheaders; i++) {
        const am_header_t *h = &head->headers[i];

        if (h->name_len != 22 ||
            strncasecmp(h->name, "sec-websocket-protocol", 22) != 0) {
            continue;
        }
        if (am_ws_handshake_subprotocols(h->value, h->value_len, tokens,
                                         am_nitems(tokens), &n) != AM_OK) {
            continue; /* the handshake check refused it already */
        }
        for (k = 0; k < n; k++) {
            s = PyUnicode_DecodeLatin1(tokens[k].data,
                                       (Py_ssize_t)tokens[k].len, NULL);
            if (s == NULL || PyList_Append(list, s) == -1) {
                Py_XDECREF(s);
                Py_DECREF(list);
                return NULL;
            }
            Py_DECREF(s);
        }
    }
    return list;
}

/* The websocket scope: the http one without "method", with a ws scheme,
 * the subprotocols and the websocket.http.response extension. */
static PyObject *
asgi_ws_scope(const am_asgi_head_t *head)
{
    PyObject *scope, *ext, *v;
    int secure;

    scope = am_asgi_scope_build(head);
    if (scope == NULL) {
        return NULL;
    }
    secure = strncmp(head->scheme, "https", 5) == 0 ||
             strncmp(head->scheme, "wss", 3) == 0;
    if (PyDict_SetItem(scope, am_asgi_keys.type, am_asgi_keys.websocket) ==
            -1 ||
        PyDict_DelItem(scope, am_asgi_keys.method) == -1) {
        goto fail;
    }
    v = PyUnicode_FromString(secure ? "wss" : "ws");
    if (v == NULL || PyDict_SetItem(scope, am_asgi_keys.scheme, v) == -1) {
        Py_XDECREF(v);
        goto fail;
    }
    Py_DECREF(v);
    v = asgi_ws_subprotocols(head);
    if (v == NULL ||
        PyDict_SetItem(scope, am_asgi_keys.subprotocols, v) == -1) {
        Py_XDECREF(v);
        goto fail;
    }
    Py_DECREF(v);
    ext = PyDict_GetItemWithError(scope, am_asgi_keys.extensions);
    if (ext == NULL) {
        if (PyErr_Occurred()) {
            goto fail;
        }
        ext = PyDict_New();
        if (ext == NULL ||
            PyDict_SetItem(scope, am_asgi_keys.extensions, ext) == -1) {
            Py_XDECREF(ext);
            goto fail;
        }
        Py_DECREF(ext);
    }
    /* Trailers are an HTTP response extension only. */
    if (PyDict_Contains(ext, am_asgi_keys.http_response_trailers_ext) == 1 &&
        PyDict_DelItem(ext, am_asgi_keys.http_response_trailers_ext) == -1) {
        goto fail;
    }
    v = PyDict_New();
    if (v == NULL ||
        PyDict_SetItem(ext, am_asgi_keys.ws_http_response, v) == -1) {
        Py_XDECREF(v);
        goto fail;
    }
    Py_DECREF(v);
    return scope;

fail:
    Py_DECREF(scope);
    return NULL;
}

am_asgi_request_t *
am_asgi_ws_create(const am_asgi_head_t *head, const am_asgi_ws_ops_t *ops,
                  void *session, uint64_t conn_id, uint32_t stream_id)
{
    return am_asgi_request_start(asgi_ws_scope(head), head, NULL, ops, session,
                                 conn_id, stream_id);
}

PyObject *
am_asgi_ws_disconnect_message(am_asgi_request_t *r)
{
    PyObject *reason = r->close_reason;

    if (reason == NULL) {
        reason = PyUnicode_FromStringAndSize("", 0);
        if (reason == NULL) {
            return NULL;
        }
    } else {
        Py_INCREF(reason);
    }
    return Py_BuildValue("{OOOiON}", am_asgi_keys.type,
                         am_asgi_keys.ws_disconnect, am_asgi_keys.code,
                         r->close_code, am_asgi_keys.reason, reason);
}

static PyObject *
asgi_ws_receive_message(int binary, const char *data, size_t len)
{
    PyObject *payload;

    payload = binary ? PyBytes_FromStringAndSize(data, (Py_ssize_t)len)
                     : PyUnicode_DecodeUTF8(data, (Py_ssize_t)len, "strict");
    if (payload == NULL) {
        return NULL;
    }
    return Py_BuildValue("{OOON}", am_asgi_keys.type, am_asgi_keys.ws_receive,
                         binary ? am_asgi_keys.bytes : am_asgi_keys.text,
                         payload);
}

void
am_asgi_ws_message(am_asgi_request_t *r, int binary, const char *data,
                   size_t len)
{
    PyObject *msg;

    if (r->disconnected) {
        return;
    }
    msg = asgi_ws_receive_message(binary, data, len);
    if (msg == NULL) {
        PyErr_Print();
        return;
    }
    if (r->receive_waiter != NULL && r->connected &&
        PyList_GET_SIZE(r->chunks) == 0) {
        am_asgi_future_resolve(&r->receive_waiter, am_asgi_keys.set_result,
                               msg);
        Py_DECREF(msg);
        return;
    }
    if (PyList_Append(r->chunks, msg) == -1) {
        PyErr_Print();
    } else {
        r->buffered++;
    }
    Py_DECREF(msg);
}

void
am_asgi_ws_disconnect(am_asgi_request_t *r, int code, const char *reason,
                      size_t len)
{
    if (r->disconnected) {
        return;
    }
    r->close_code = code;
    Py_CLEAR(r->close_reason);
    if (len > 0) {
        r->close_reason =
            PyUnicode_DecodeUTF8(reason, (Py_ssize_t)len, "replace");
        if (r->close_reason == NULL) {
            PyErr_Print();
        }
    }
    /* receive() gives the queued messages first, then the disconnect; a
     * waiting send() raises now. */
    am_asgi_request_disconnect(r);
}

/* receive(): websocket.connect first, then queued messages, then
 * websocket.disconnect (again on every later call). */
PyObject *
am_asgi_ws_receive(am_asgi_request_t *r, PyObject *unused)
{
    PyObject *msg, *aw;

    if (r->receive_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "receive() called while another receive() waits");
        return NULL;
    }
    if (!r->connected) {
        r->connected = 1;
        msg = Py_BuildValue("{OO}", am_asgi_keys.type, am_asgi_keys.ws_connect);
    } else if (PyList_GET_SIZE(r->chunks) > 0) {
        msg = PyList_GET_ITEM(r->chunks, 0);
        Py_INCREF(msg);
        if (PySequence_DelItem(r->chunks, 0) == -1) {
            Py_DECREF(msg);
            return NULL;
        }
        r->buffered--;
        if (r->stream != NULL) {
            r->ws_ops->consumed(r->stream);
        }
    } else if (r->disconnected || r->stream == NULL) {
        msg = am_asgi_ws_disconnect_message(r);
    } else {
        r->receive_waiter = PyObject_CallNoArgs(am_asgi_objs.create_future);
        if (r->receive_waiter == NULL) {
            return NULL;
        }
        Py_INCREF(r->receive_waiter);
        return r->receive_waiter;
    }
    if (msg == NULL) {
        return NULL;
    }
    aw = am_asgi_ready_new(msg);
    Py_DECREF(msg);
    return aw;
}

/* An optional str key of msg: *out (borrowed) and its UTF-8 bytes. */
static int
asgi_ws_get_str(PyObject *msg, PyObject *key, const char **out, size_t *len)
{
    PyObject *v = PyDict_GetItemWithError(msg, key);
    Py_ssize_t n;

    *out = NULL;
    *len = 0;
    if (v == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (v == Py_None) {
        return 0;
    }
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%U must be a str, got %R", key, v);
        return -1;
    }
    *out = PyUnicode_AsUTF8AndSize(v, &n);
    if (*out == NULL) {
        return -1;
    }
    *len = (size_t)n;
    return 0;
}

/* Headers as [name, value] byte pairs into h (at most max). */
static int
asgi_ws_headers(PyObject *msg, am_header_t *h, size_t max, size_t *n)
{
    PyObject *list = PyDict_GetItemWithError(msg, am_asgi_keys.headers);
    PyObject *seq, *pair, *name, *value;
    Py_ssize_t i, len;

    *n = 0;
    if (list == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    seq = PySequence_Fast(list, "headers must be an iterable of pairs");
    if (seq == NULL) {
        return -1;
    }
    len = PySequence_Fast_GET_SIZE(seq);
    if ((size_t)len > max) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "more than %zu headers", max);
        return -1;
    }
    for (i = 0; i < len; i++) {
        pair = PySequence_Fast_GET_ITEM(seq, i);
        if (!(PyTuple_Check(pair) || PyList_Check(pair)) ||
            PySequence_Fast_GET_SIZE(pair) != 2) {
            goto bad;
        }
        name = PySequence_Fast_GET_ITEM(pair, 0);
        value = PySequence_Fast_GET_ITEM(pair, 1);
        if (!PyBytes_Check(name) || !PyBytes_Check(value)) {
            goto bad;
        }
        /* The message dict keeps the bytes alive during the call. */
        h[i].name = PyBytes_AS_STRING(name);
        h[i].name_len = (size_t)PyBytes_GET_SIZE(name);
        h[i].value = PyBytes_AS_STRING(value);
        h[i].value_len = (size_t)PyBytes_GET_SIZE(value);
    }
    Py_DECREF(seq);
    *n = (size_t)len;
    return 0;

bad:
    PyErr_Format(PyExc_TypeError,
                 "header %zd must be a [name, value] pair of bytes", i);
    Py_DECREF(seq);
    return -1;
}

/* The result of an op as what send() returns. */
static PyObject *
asgi_ws_result(am_asgi_request_t *r, int rc, const char *what, const char *err)
{
    if (rc == AM_DECLINED) {
        PyErr_Format(PyExc_RuntimeError, "invalid %s: %s", what,
                     err ? err : "refused");
        return NULL;
    }
    if (rc == AM_ERROR) {
        return am_asgi_disconnected_error();
    }
    if (rc == AM_AGAIN) {
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
asgi_ws_send_accept(am_asgi_request_t *r, PyObject *msg)
{
    am_header_t h[64];
    const char *sub, *err = NULL;
    size_t sublen, n;
    int rc;

    if (asgi_ws_get_str(msg, am_asgi_keys.subprotocol, &sub, &sublen) == -1 ||
        asgi_ws_headers(msg, h, am_nitems(h), &n) == -1) {
        return NULL;
    }
    rc = r->ws_ops->accept(r->stream, sub, sublen, h, n, &err);
    if (rc == AM_OK || rc == AM_AGAIN) {
        r->accepted = 1;
    }
    return asgi_ws_result(r, rc, "websocket.accept", err);
}

static PyObject *
asgi_ws_send_data(am_asgi_request_t *r, PyObject *msg)
{
    PyObject *bytes, *text;
    const char *data;
    Py_ssize_t len;

    bytes = PyDict_GetItemWithError(msg, am_asgi_keys.bytes);
    if (bytes == NULL && PyErr_Occurred()) {
        return NULL;
    }
    text = PyDict_GetItemWithError(msg, am_asgi_keys.text);
    if (text == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (bytes == Py_None) {
        bytes = NULL;
    }
    if (text == Py_None) {
        text = NULL;
    }
    /* asgiref www.rst "Send - send event": exactly one of the two. */
    if ((bytes == NULL) == (text == NULL)) {
        PyErr_SetString(PyExc_RuntimeError,
                        "websocket.send needs exactly one of \"bytes\" and "
                        "\"text\"");
        return NULL;
    }
    if (bytes != NULL) {
        if (!PyBytes_Check(bytes)) {
            PyErr_Format(PyExc_TypeError, "bytes must be bytes, got %.100s",
                         Py_TYPE(bytes)->tp_name);
            return NULL;
        }
        data = PyBytes_AS_STRING(bytes);
        len = PyBytes_GET_SIZE(bytes);
    } else {
        if (!PyUnicode_Check(text)) {
            PyErr_Format(PyExc_TypeError, "text must be a str, got %.100s",
                         Py_TYPE(text)->tp_name);
            return NULL;
        }
        data = PyUnicode_AsUTF8AndSize(text, &len);
        if (data == NULL) {
            return NULL;
        }
    }
    return asgi_ws_result(
        r, r->ws_ops->send(r->stream, bytes != NULL, data, (size_t)len),
        "websocket.send", NULL);
}

static PyObject *
asgi_ws_send_close(am_asgi_request_t *r, PyObject *msg)
{
    PyObject *code_obj;
    const char *reason;
    size_t len;
    long code = 1000;

    code_obj = PyDict_GetItemWithError(msg, am_asgi_keys.code);
    if (code_obj == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (code_obj != NULL && code_obj != Py_None) {
        if (!PyLong_Check(code_obj) || PyBool_Check(code_obj)) {
            PyErr_Format(PyExc_TypeError, "code must be an int, got %R",
                         code_obj);
            return NULL;
        }
        code = PyLong_AsLong(code_obj);
        if (code == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    if (asgi_ws_get_str(msg, am_asgi_keys.reason, &reason, &len) == -1) {
        return NULL;
    }
    r->finished = 1;
    return asgi_ws_result(
        r,
        r->ws_ops->close(r->stream, (int)am_min(am_max(code, 0), 65535), reason,
                         len),
        "websocket.close", "a code RFC 6455 §7.4 does not allow");
}

static PyObject *
asgi_ws_send_http_start(am_asgi_request_t *r, PyObject *msg)
{
    am_header_t h[64];
    PyObject *status_obj;
    const char *err = NULL;
    size_t n;
    long status;
    int rc;

    status_obj = PyDict_GetItemWithError(msg, am_asgi_keys.status);
    if (status_obj == NULL || !PyLong_Check(status_obj) ||
        PyBool_Check(status_obj)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError,
                            "websocket.http.response.start needs an int "
                            "\"status\"");
        }
        return NULL;
    }
    status = PyLong_AsLong(status_obj);
    if (status == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (asgi_ws_headers(msg, h, am_nitems(h), &n) == -1) {
        return NULL;
    }
    rc = r->ws_ops->http_start(r->stream, (int)am_min(am_max(status, -1), 1000),
                               h, n, &err);
    if (rc == AM_OK) {
        r->responding = 1;
        r->started = 1;
    }
    return asgi_ws_result(r, rc, "websocket.http.response.start", err);
}

static PyObject *
asgi_ws_send_http_body(am_asgi_request_t *r, PyObject *msg)
{
    PyObject *body;
    int more;

    body = PyDict_GetItemWithError(msg, am_asgi_keys.body);
    if (body == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (body != NULL && !PyBytes_Check(body)) {
        PyErr_Format(PyExc_TypeError, "body must be bytes, got %.100s",
                     Py_TYPE(body)->tp_name);
        return NULL;
    }
    more = 0;
    {
        PyObject *v = PyDict_GetItemWithError(msg, am_asgi_keys.more_body);

        if (v == NULL && PyErr_Occurred()) {
            return NULL;
        }
        if (v != NULL && (more = PyObject_IsTrue(v)) == -1) {
            return NULL;
        }
    }
    if (!more) {
        r->finished = 1;
    }
    return asgi_ws_result(
        r,
        r->ws_ops->http_body(r->stream, body ? PyBytes_AS_STRING(body) : "",
                             body ? (size_t)PyBytes_GET_SIZE(body) : 0, more),
        "websocket.http.response.body", NULL);
}

static int
asgi_ws_is(PyObject *type, PyObject *key)
{
    return type == key || PyUnicode_Compare(type, key) == 0;
}

/* send(): asgiref www.rst "Accept", "Send", "Close", "WebSocket Denial
 * Response". Order: accept, or a denial response, or close first. */
PyObject *
am_asgi_ws_send(am_asgi_request_t *r, PyObject *msg)
{
    PyObject *type;

    if (!PyDict_Check(msg)) {
        PyErr_Format(PyExc_TypeError, "ASGI message must be a dict, got %R",
                     msg);
        return NULL;
    }
    type = PyDict_GetItemWithError(msg, am_asgi_keys.type);
    if (type == NULL || !PyUnicode_Check(type)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError,
                            "ASGI message without a str \"type\"");
        }
        return NULL;
    }
    if (r->send_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "send() called while another send() waits");
        return NULL;
    }
    if (r->finished) {
        if (r->disconnected || r->stream == NULL) {
            return am_asgi_disconnected_error();
        }
        PyErr_Format(PyExc_RuntimeError,
                     "unexpected ASGI message %R after websocket.close or "
                     "the end of the response",
                     type);
        return NULL;
    }
    if (r->disconnected || r->stream == NULL) {
        return am_asgi_disconnected_error();
    }
    if (r->responding) {
        if (asgi_ws_is(type, am_asgi_keys.ws_http_response_body)) {
            return asgi_ws_send_http_body(r, msg);
        }
    } else if (!r->accepted) {
        if (asgi_ws_is(type, am_asgi_keys.ws_accept)) {
            return asgi_ws_send_accept(r, msg);
        }
        if (asgi_ws_is(type, am_asgi_keys.ws_close)) {
            return asgi_ws_send_close(r, msg);
        }
        if (asgi_ws_is(type, am_asgi_keys.ws_http_response_start)) {
            return asgi_ws_send_http_start(r, msg);
        }
    } else {
        if (asgi_ws_is(type, am_asgi_keys.ws_send)) {
            return asgi_ws_send_data(r, msg);
        }
        if (asgi_ws_is(type, am_asgi_keys.ws_close)) {
            return asgi_ws_send_close(r, msg);
        }
    }
    PyErr_Format(PyExc_RuntimeError,
                 "unexpected ASGI message %R in this WebSocket state (%s)",
                 type,
                 r->responding ? "denial response started"
                 : r->accepted ? "accepted"
                               : "not accepted yet");
    return NULL;
}

void
am_asgi_ws_ended(am_asgi_request_t *r, int failed)
{
    if (!failed && !r->accepted && !r->finished && !r->responding &&
        !r->disconnected) {
        am_connlog(AM_LOG_ERROR, 0, r->conn_id, r->stream_id,
                   "the app returned without accepting or closing the "
                   "WebSocket");
    }
    if (r->stream != NULL) {
        r->ws_ops->finish(r->stream, failed);
    }
}
