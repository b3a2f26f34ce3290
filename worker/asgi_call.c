/* worker/asgi_call.c: the coroutine of one request's app task, in C. It
 * calls app(scope, receive, send) at its first step, in the task's
 * context, passes every step on to the app's awaitable, and tells the
 * bridge how the app ended (am_asgi_request_app_done()/_failed()): any
 * exception is the app's failure and ends the task normally, except
 * KeyboardInterrupt and SystemExit, which go on to the loop. The type is
 * a collections.abc.Coroutine (runtime.py registers it), so asyncio.Task
 * takes it; Python 3.10 and later step it with am_send, no StopIteration.
 */

#include <Python.h>

#include "worker/asgi.h"
#include "worker/asgi_state.h"

typedef struct {
    PyObject_HEAD am_asgi_request_t *r; /* owned until the app ends */
    PyObject *scope;                    /* owned until the app is called */
    PyObject *it;                       /* owned: the awaitable's iterator */
} asgi_call_t;

/* What one step gave, as PySendResult (3.10) says it. */
enum {
    CALL_RETURN = 0,
    CALL_ERROR = -1,
    CALL_NEXT = 1
};

static PyTypeObject asgi_call_type;
static PyObject *call_send_str, *call_throw_str, *call_close_str;

PyObject *
am_asgi_call_new(am_asgi_request_t *r, PyObject *scope)
{
    asgi_call_t *c = PyObject_GC_New(asgi_call_t, &asgi_call_type);

    if (c == NULL) {
        return NULL;
    }
    Py_INCREF(r);
    c->r = r;
    Py_INCREF(scope);
    c->scope = scope;
    c->it = NULL;
    PyObject_GC_Track(c);
    return (PyObject *)c;
}

/* What "await aw" iterates (the rules of the GET_AWAITABLE opcode). */
static PyObject *
asgi_call_awaitable_iter(PyObject *aw)
{
    unaryfunc am_await;
    PyObject *it;

    if (PyCoro_CheckExact(aw)) {
        Py_INCREF(aw);
        return aw;
    }
    if (PyGen_CheckExact(aw)) {
        /* A @types.coroutine generator. */
        PyObject *code = PyObject_GetAttrString(aw, "gi_code");
        long flags = 0;

        if (code != NULL) {
            flags = ((PyCodeObject *)code)->co_flags;
            Py_DECREF(code);
        }
        if (flags & CO_ITERABLE_COROUTINE) {
            Py_INCREF(aw);
            return aw;
        }
        PyErr_Clear();
    }
    am_await =
        Py_TYPE(aw)->tp_as_async ? Py_TYPE(aw)->tp_as_async->am_await : NULL;
    if (am_await == NULL) {
        return PyErr_Format(PyExc_TypeError,
                            "object %.100s can't be used in 'await' expression",
                            Py_TYPE(aw)->tp_name);
    }
    it = am_await(aw);
    if (it != NULL && (PyCoro_CheckExact(it) || !PyIter_Check(it))) {
        PyErr_Format(PyExc_TypeError,
                     PyCoro_CheckExact(it)
                         ? "__await__() returned a coroutine"
                         : "__await__() returned non-iterator of type '%.100s'",
                     Py_TYPE(it)->tp_name);
        Py_CLEAR(it);
    }
    return it;
}

/* app(scope, receive, send) and its iterator in c->it: 0 or -1. */
static int
asgi_call_start(asgi_call_t *c)
{
    PyObject *args[3], *aw;

    args[0] = c->scope;
    args[1] = am_asgi_request_callable(c->r, 0);
    args[2] = am_asgi_request_callable(c->r, 1);
    aw = args[1] && args[2]
             ? PyObject_Vectorcall(am_asgi_objs.app, args, 3, NULL)
             : NULL;
    Py_XDECREF(args[1]);
    Py_XDECREF(args[2]);
    Py_CLEAR(c->scope);
    if (aw == NULL) {
        return -1;
    }
    c->it = asgi_call_awaitable_iter(aw);
    Py_DECREF(aw);
    return c->it != NULL ? 0 : -1;
}

/* The app's StopIteration as a return: its value in *result. */
static int
asgi_call_stop_value(PyObject **result)
{
    PyObject *type, *value, *tb;

    if (!PyErr_ExceptionMatches(PyExc_StopIteration)) {
        *result = NULL;
        return CALL_ERROR;
    }
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    *result = ((PyStopIterationObject *)value)->value;
    Py_INCREF(*result);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return CALL_RETURN;
}

/* arg sent into the app's awaitable. */
static int
asgi_call_send_it(PyObject *it, PyObject *arg, PyObject **result)
{
#if PY_VERSION_HEX >= 0x030A0000
    return (int)PyIter_Send(it, arg, result);
#else
    *result = arg == Py_None && PyIter_Check(it)
                  ? Py_TYPE(it)->tp_iternext(it)
                  : PyObject_CallMethodOneArg(it, call_send_str, arg);
    if (*result != NULL) {
        return CALL_NEXT;
    }
    if (!PyErr_Occurred()) {
        *result = Py_None; /* a plain iterator's end */
        Py_INCREF(Py_None);
        return CALL_RETURN;
    }
    return asgi_call_stop_value(result);
#endif
}

/* exc thrown into the app's awaitable, as "yield from" does. */
static int
asgi_call_throw_it(PyObject *it, PyObject *exc, PyObject **result)
{
    PyObject *throw = PyObject_GetAttr(it, call_throw_str);

    if (throw == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            *result = NULL;
            return CALL_ERROR;
        }
        PyErr_Clear();
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        *result = NULL;
        return CALL_ERROR;
    }
    *result = PyObject_CallOneArg(throw, exc);
    Py_DECREF(throw);
    return *result != NULL ? CALL_NEXT : asgi_call_stop_value(result);
}

/* The app is over: tell the bridge, drop what the call held. The error
 * set, if failed: cleared unless it must stop the loop (-1). */
static int
asgi_call_end(asgi_call_t *c, int failed)
{
    am_asgi_request_t *r = c->r;
    PyObject *type, *value, *tb;
    int stop = 0;

    c->r = NULL;
    Py_CLEAR(c->scope);
    Py_CLEAR(c->it);
    if (!failed) {
        am_asgi_request_app_done(r);
        Py_DECREF(r);
        return 0;
    }
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL) {
        PyException_SetTraceback(value, tb);
    }
    stop = PyErr_GivenExceptionMatches(value, PyExc_KeyboardInterrupt) ||
           PyErr_GivenExceptionMatches(value, PyExc_SystemExit);
    am_asgi_request_app_failed(r, value);
    Py_DECREF(r);
    if (stop) {
        PyErr_Restore(type, value, tb);
        return -1;
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return 0;
}

/* One step of the task: arg sent in, or exc (not NULL) thrown in. */
static int
asgi_call_step(asgi_call_t *c, PyObject *arg, PyObject *exc, PyObject **result)
{
    int st;

    *result = NULL;
    if (c->r == NULL) {
        if (exc != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        } else {
            PyErr_SetString(PyExc_RuntimeError,
                            "cannot reuse already awaited coroutine");
        }
        return CALL_ERROR;
    }
    if (c->it == NULL) {
        /* Thrown in before the app ran: it fails with that. */
        if (exc != NULL) {
            Py_CLEAR(c->scope);
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            st = CALL_ERROR;
        } else {
            st = asgi_call_start(c) == -1
                     ? CALL_ERROR
                     : asgi_call_send_it(c->it, Py_None, result);
        }
    } else if (exc == NULL) {
        st = asgi_call_send_it(c->it, arg, result);
    } else {
        st = asgi_call_throw_it(c->it, exc, result);
    }
    if (st == CALL_NEXT) {
        return CALL_NEXT;
    }
    if (st == CALL_RETURN) {
        Py_CLEAR(*result); /* an ASGI app returns None */
    }
    if (asgi_call_end(c, st == CALL_ERROR) == -1) {
        return CALL_ERROR;
    }
    Py_INCREF(Py_None);
    *result = Py_None;
    return CALL_RETURN;
}

/* The result of a step as send() and __next__() give it. */
static PyObject *
asgi_call_result(int st, PyObject *result)
{
    if (st != CALL_RETURN) {
        return result;
    }
    Py_DECREF(result);
    PyErr_SetNone(PyExc_StopIteration);
    return NULL;
}

#if PY_VERSION_HEX >= 0x030A0000
static PySendResult
asgi_call_am_send(asgi_call_t *c, PyObject *arg, PyObject **result)
{
    return (PySendResult)asgi_call_step(c, arg, NULL, result);
}
#endif

static PyObject *
asgi_call_next(asgi_call_t *c)
{
    PyObject *result;
    int st = asgi_call_step(c, Py_None, NULL, &result);

    return asgi_call_result(st, result);
}

static PyObject *
asgi_call_send(asgi_call_t *c, PyObject *arg)
{
    PyObject *result;
    int st = asgi_call_step(c, arg, NULL, &result);

    return asgi_call_result(st, result);
}

/* throw(exc) or the old throw(type[, value[, tb]]). */
static PyObject *
asgi_call_throw(asgi_call_t *c, PyObject *args)
{
    PyObject *type, *value = NULL, *tb = NULL, *result;
    int st;

    if (!PyArg_UnpackTuple(args, "throw", 1, 3, &type, &value, &tb)) {
        return NULL;
    }
    if (PyExceptionInstance_Check(type)) {
        Py_INCREF(type);
        value = type;
        type = (PyObject *)Py_TYPE(value);
        Py_INCREF(type);
    } else if (PyExceptionClass_Check(type)) {
        PyObject *t, *v, *tb2;

        PyErr_SetObject(type, value);
        PyErr_Fetch(&t, &v, &tb2);
        PyErr_NormalizeException(&t, &v, &tb2);
        Py_XDECREF(tb2);
        if (v == NULL) {
            Py_XDECREF(t);
            return NULL;
        }
        type = t;
        value = v;
    } else {
        PyErr_SetString(PyExc_TypeError,
                        "exceptions must be classes or instances deriving "
                        "from BaseException");
        return NULL;
    }
    if (tb != NULL && tb != Py_None && PyTraceBack_Check(tb)) {
        PyException_SetTraceback(value, tb);
    }
    st = asgi_call_step(c, NULL, value, &result);
    Py_DECREF(type);
    Py_DECREF(value);
    return asgi_call_result(st, result);
}

/* close(): the app's awaitable closed; a request not yet ended ends as
 * failed, with nothing logged (the task was given up, not the app). */
static PyObject *
asgi_call_close(asgi_call_t *c, PyObject *unused)
{
    PyObject *close, *res = NULL;

    if (c->r == NULL) {
        Py_RETURN_NONE;
    }
    if (c->it != NULL) {
        close = PyObject_GetAttr(c->it, call_close_str);
        if (close == NULL) {
            PyErr_Clear();
        } else {
            res = PyObject_CallNoArgs(close);
            Py_DECREF(close);
            if (res == NULL) {
                PyErr_WriteUnraisable((PyObject *)c);
            }
            Py_XDECREF(res);
        }
    }
    if (c->r != NULL) {
        am_asgi_request_t *r = c->r;

        c->r = NULL;
        Py_CLEAR(c->scope);
        Py_CLEAR(c->it);
        am_asgi_request_app_closed(r);
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}

static PyObject *
asgi_call_await(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

/* A task dropped while pending: as a coroutine's, its end is close(). */
static void
asgi_call_finalize(asgi_call_t *c)
{
    PyObject *type, *value, *tb, *res;

    if (c->r == NULL) {
        return;
    }
    PyErr_Fetch(&type, &value, &tb);
    res = asgi_call_close(c, NULL);
    if (res == NULL) {
        PyErr_WriteUnraisable((PyObject *)c);
    }
    Py_XDECREF(res);
    PyErr_Restore(type, value, tb);
}

static int
asgi_call_traverse(asgi_call_t *c, visitproc visit, void *arg)
{
    Py_VISIT(c->scope);
    Py_VISIT(c->it);
    return 0;
}

static int
asgi_call_clear(asgi_call_t *c)
{
    Py_CLEAR(c->scope);
    Py_CLEAR(c->it);
    return 0;
}

static void
asgi_call_dealloc(asgi_call_t *c)
{
    if (PyObject_CallFinalizerFromDealloc((PyObject *)c) == -1) {
        return; /* resurrected */
    }
    PyObject_GC_UnTrack(c);
    Py_CLEAR(c->scope);
    Py_CLEAR(c->it);
    Py_CLEAR(c->r);
    PyObject_GC_Del(c);
}

/* __qualname__ and __name__: the app's, for asyncio's repr of the task. */
static PyObject *
asgi_call_name(asgi_call_t *c, void *which)
{
    PyObject *name = PyObject_GetAttrString(
        am_asgi_objs.app, which ? "__name__" : "__qualname__");

    if (name == NULL || !PyUnicode_Check(name)) {
        PyErr_Clear();
        Py_XDECREF(name);
        name = PyUnicode_FromString("app");
    }
    return name;
}

static PyGetSetDef asgi_call_getset[] = {
    { "__qualname__", (getter)asgi_call_name, NULL, NULL, NULL },
    { "__name__", (getter)asgi_call_name, NULL, NULL, "" },
    { NULL, NULL, NULL, NULL, NULL },
};

static PyMethodDef asgi_call_methods[] = {
    { "send", (PyCFunction)asgi_call_send, METH_O, NULL },
    { "throw", (PyCFunction)asgi_call_throw, METH_VARARGS, NULL },
    { "close", (PyCFunction)asgi_call_close, METH_NOARGS, NULL },
    { NULL, NULL, 0, NULL },
};

static PyAsyncMethods asgi_call_async = {
    .am_await = asgi_call_await,
#if PY_VERSION_HEX >= 0x030A0000
    .am_send = (sendfunc)asgi_call_am_send,
#endif
};

static PyTypeObject asgi_call_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_asgimaster.AppCall",
    .tp_basicsize = sizeof(asgi_call_t),
    .tp_dealloc = (destructor)asgi_call_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)asgi_call_traverse,
    .tp_clear = (inquiry)asgi_call_clear,
    .tp_as_async = &asgi_call_async,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)asgi_call_next,
    .tp_methods = asgi_call_methods,
    .tp_getset = asgi_call_getset,
    .tp_finalize = (destructor)asgi_call_finalize,
};

int
am_asgi_call_ready(PyObject *module)
{
    call_send_str = PyUnicode_InternFromString("send");
    call_throw_str = PyUnicode_InternFromString("throw");
    call_close_str = PyUnicode_InternFromString("close");
    if (call_send_str == NULL || call_throw_str == NULL ||
        call_close_str == NULL || PyType_Ready(&asgi_call_type) == -1) {
        return -1;
    }
    Py_INCREF(&asgi_call_type);
    if (PyModule_AddObject(module, "AppCall", (PyObject *)&asgi_call_type) ==
        -1) {
        Py_DECREF(&asgi_call_type);
        return -1;
    }
    return 0;
}
