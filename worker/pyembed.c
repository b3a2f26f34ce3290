/* worker/pyembed.c: CPython inside a worker. Initialises the interpreter
 * after fork (so each generation imports the app afresh), provides the
 * _asgimaster module (poll over the worker's epoll, fd registration for the
 * asyncio selector, logging), loads worker/runtime.py compiled into the
 * binary, and drives the asyncio loop. The GIL is held all the time except
 * around epoll_wait(), so executor threads (sync routes) run meanwhile.
 */

#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/stats.h"
#include "worker/asgi.h"
#include "worker/asgi_py.h"
#include "worker/event.h"
#include "worker/pyembed.h"

#ifndef AM_PYTHON_EXE
#define AM_PYTHON_EXE "/usr/bin/python3"
#endif

#define PY_READY_MAX 512

static const char py_runtime_source[] =
#include "worker/runtime_py.h"
    ;

PyObject *am_py_cancelled_error;

static PyObject *py_runtime;  /* owned: the runtime module */
static PyObject *py_loop;     /* owned */
static PyObject *py_lifespan; /* owned, or NULL with lifespan off */
static PyThreadState *py_saved;

static void
py_unlock(int unlock)
{
    if (unlock) {
        py_saved = PyEval_SaveThread();
    } else {
        PyEval_RestoreThread(py_saved);
    }
}

/* _asgimaster.poll(timeout): one loop turn of the server; returns the ready
 * Python fds as [(fd, selectors mask)]. */
static PyObject *
py_poll(PyObject *self, PyObject *arg)
{
    am_ready_fd_t ready[PY_READY_MAX];
    am_msec_t timeout = -1;
    PyObject *list, *item;
    size_t n, i;
    double t;
    int mask, steps;

    if (arg != Py_None) {
        t = PyFloat_AsDouble(arg);
        if (t == -1.0 && PyErr_Occurred()) {
            return NULL;
        }
        /* Round up: waking early makes asyncio spin until its timer. */
        timeout = t <= 0 ? 0 : (am_msec_t)ceil(t * 1000.0);
    }
    /* Tasks created between two polls (by a task's step): theirs first;
     * what they queued for the loop must not wait for the epoll. */
    steps = am_asgi_start_pending();
    if (steps == -1) {
        return NULL;
    }
    if (steps > 0) {
        timeout = 0;
    }
    n = am_event_poll(timeout, ready, PY_READY_MAX, py_unlock);
    if (PyErr_Occurred()) {
        /* A C handler left one: it is our bug, not the app's. */
        am_log(AM_LOG_ALERT, 0, "exception left set by a server handler");
        PyErr_Print();
    }
    /* First steps of the tasks the handlers created: no C handler on
     * the stack (the protocol stored its request), no posted work
     * running. */
    if (am_asgi_start_pending() == -1) {
        return NULL;
    }
    list = PyList_New((Py_ssize_t)n);
    if (list == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        mask = 0;
        if (ready[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            mask |= 1; /* selectors.EVENT_READ */
        }
        if (ready[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
            mask |= 2; /* selectors.EVENT_WRITE */
        }
        item = Py_BuildValue("(ii)", ready[i].fd, mask);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

/* _asgimaster.fd_set(fd, selectors mask): 0 unregisters. */
static PyObject *
py_fd_set(PyObject *self, PyObject *args)
{
    uint32_t mask = 0;
    int fd, events;

    if (!PyArg_ParseTuple(args, "ii", &fd, &events)) {
        return NULL;
    }
    if (events & 1) {
        mask |= EPOLLIN;
    }
    if (events & 2) {
        mask |= EPOLLOUT;
    }
    if (am_event_set_python(fd, mask) != AM_OK) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

/* _asgimaster.log(level, message) */
static PyObject *
py_log(PyObject *self, PyObject *args)
{
    const char *msg;
    int level;

    if (!PyArg_ParseTuple(args, "is", &level, &msg)) {
        return NULL;
    }
    am_log(level, 0, "%s", msg);
    Py_RETURN_NONE;
}

static PyMethodDef py_methods[] = {
    { "poll", py_poll, METH_O, "one server loop turn" },
    { "fd_set", py_fd_set, METH_VARARGS, "register a Python fd" },
    { "log", py_log, METH_VARARGS, "write an error-log line" },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef py_module = {
    PyModuleDef_HEAD_INIT,
    "_asgimaster",
    NULL,
    -1,
    py_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

static PyObject *
py_module_init(void)
{
    PyObject *m = PyModule_Create(&py_module);

    if (m == NULL) {
        return NULL;
    }
    if (am_asgi_types_ready(m) == -1) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* The exception as one line, "Type: message", for the master. */
static void
py_error_line(char *err, size_t size)
{
    PyObject *type, *value, *tb, *s = NULL, *name = NULL;
    const char *msg = NULL, *tname = "error";

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL) {
        s = PyObject_Str(value);
        msg = s ? PyUnicode_AsUTF8(s) : NULL;
        name = PyObject_GetAttrString((PyObject *)Py_TYPE(value), "__name__");
        tname = name ? PyUnicode_AsUTF8(name) : "error";
    }
    PyErr_Clear();
    if (type != NULL && value != NULL && tname != NULL &&
        strcmp(tname, "BootError") == 0) {
        snprintf(err, size, "%s", msg ? msg : "?");
    } else {
        snprintf(err, size, "%s: %s", tname ? tname : "error", msg ? msg : "?");
    }
    Py_XDECREF(s);
    Py_XDECREF(name);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* Log the pending exception's traceback (runtime.log_boot_error(): a
 * BootError is its one line) and reduce it to one line for the master. */
static void
py_boot_error(const char *what, char *err, size_t size)
{
    PyObject *type, *value, *tb, *res, *msg;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && py_runtime != NULL) {
        if (tb != NULL) {
            PyException_SetTraceback(value, tb);
        }
        /* One traceback per generation (common/stats.h), not one per
         * worker. */
        if (am_stats_shared == NULL ||
            __atomic_exchange_n(&am_stats_shared->boot_traceback, 1,
                                __ATOMIC_SEQ_CST) == 0) {
            msg = PyUnicode_FromString(what);
            res = msg ? PyObject_CallMethod(py_runtime, "log_boot_error", "OO",
                                            msg, value)
                      : NULL;
            Py_XDECREF(res);
            Py_XDECREF(msg);
            PyErr_Clear();
        }
    }
    PyErr_Restore(type, value, tb);
    py_error_line(err, size);
}

static int
py_init_interpreter(am_conf_t *conf, char *err, size_t size)
{
    PyConfig config;
    PyStatus status;
    char exe[PATH_MAX];
    static char *argv[] = { "asgimaster", NULL };

    if (PyImport_AppendInittab("_asgimaster", py_module_init) == -1) {
        snprintf(err, size, "cannot register the _asgimaster module");
        return AM_ERROR;
    }
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    config.buffered_stdio = 0;

    /* A virtualenv is found as Python finds it: pyvenv.cfg beside the
     * executable sets sys.prefix and the site-packages. */
    if (conf->virtualenv != NULL) {
        snprintf(exe, sizeof(exe), "%s/bin/python3", conf->virtualenv);
        if (access(exe, F_OK) == -1) {
            snprintf(err, size, "virtualenv \"%s\": %s not found",
                     conf->virtualenv, exe);
            PyConfig_Clear(&config);
            return AM_ERROR;
        }
    } else {
        snprintf(exe, sizeof(exe), "%s", AM_PYTHON_EXE);
    }
    status = PyConfig_SetBytesString(&config, &config.program_name, exe);
    if (PyStatus_Exception(status)) {
        goto fail;
    }
    status = PyConfig_SetBytesArgv(&config, 1, argv);
    if (PyStatus_Exception(status)) {
        goto fail;
    }
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status)) {
        goto fail;
    }
    PyConfig_Clear(&config);
    return AM_OK;

fail:
    snprintf(err, size, "cannot start Python: %s",
             status.err_msg ? status.err_msg : "?");
    PyConfig_Clear(&config);
    return AM_ERROR;
}

/* sys.path: the pythonpath entries, then the app directory, first. */
static int
py_set_path(am_conf_t *conf)
{
    PyObject *path, *s;
    char cwd[PATH_MAX];
    size_t i;

    path = PySys_GetObject("path"); /* borrowed */
    if (path == NULL || getcwd(cwd, sizeof(cwd)) == NULL) {
        return -1;
    }
    s = PyUnicode_DecodeFSDefault(cwd);
    if (s == NULL || PyList_Insert(path, 0, s) == -1) {
        Py_XDECREF(s);
        return -1;
    }
    Py_DECREF(s);
    for (i = conf->npythonpath; i > 0; i--) {
        s = PyUnicode_DecodeFSDefault(conf->pythonpath[i - 1]);
        if (s == NULL || PyList_Insert(path, 0, s) == -1) {
            Py_XDECREF(s);
            return -1;
        }
        Py_DECREF(s);
    }
    return 0;
}

static PyObject *
py_load_runtime(void)
{
    PyObject *code, *mod;

    code = Py_CompileString(py_runtime_source, "<asgimaster runtime>",
                            Py_file_input);
    if (code == NULL) {
        return NULL;
    }
    mod = PyImport_ExecCodeModule("asgimaster_runtime", code);
    Py_DECREF(code);
    return mod;
}

/* Logging as the config says, then the app: what a worker's boot and
 * the master's app check (am_py_check()) both do. NULL: err says why. */
static PyObject *
py_load_app(am_conf_t *conf, char *err, size_t size)
{
    PyObject *r, *app;

    /* The app's logging records go to the error log, unless log.config
     * configures logging itself. */
    r = PyObject_CallMethod(py_runtime, "setup_logging", "iz", am_log_level,
                            conf->log_config);
    if (r == NULL) {
        py_boot_error("cannot configure logging", err, size);
        return NULL;
    }
    Py_DECREF(r);
    app = PyObject_CallMethod(py_runtime, "load_app", "sO", conf->app,
                              conf->factory ? Py_True : Py_False);
    if (app == NULL) {
        py_boot_error("cannot load the app", err, size);
    }
    return app;
}

int
am_py_boot(am_conf_t *conf, char *err, size_t size)
{
    PyObject *app = NULL, *state, *asyncio, *r;
    const char *mode;

    if (py_init_interpreter(conf, err, size) != AM_OK) {
        return AM_ERROR;
    }
    if (py_set_path(conf) == -1) {
        py_boot_error("cannot set sys.path", err, size);
        return AM_ERROR;
    }
    asyncio = PyImport_ImportModule("asyncio");
    if (asyncio == NULL) {
        py_boot_error("cannot import asyncio", err, size);
        return AM_ERROR;
    }
    am_py_cancelled_error = PyObject_GetAttrString(asyncio, "CancelledError");
    Py_DECREF(asyncio);
    /* A worker the watchdog aborts dumps its Python stacks into the error
     * log (issue 5). */
    {
        PyObject *fh = PyImport_ImportModule("faulthandler");
        PyObject *ok = fh ? PyObject_CallMethod(fh, "enable", "(iO)",
                                                am_log_error_fd(), Py_True)
                          : NULL;

        if (ok == NULL) {
            PyErr_Clear();
        }
        Py_XDECREF(ok);
        Py_XDECREF(fh);
    }
    py_runtime = py_load_runtime();
    if (py_runtime == NULL || am_py_cancelled_error == NULL) {
        py_boot_error("cannot load the asgimaster runtime", err, size);
        return AM_ERROR;
    }
    if (am_asgi_init(conf) != AM_OK) {
        py_boot_error("cannot set up the ASGI bridge", err, size);
        return AM_ERROR;
    }

    app = py_load_app(conf, err, size);
    if (app == NULL) {
        return AM_ERROR;
    }
    py_loop = PyObject_CallMethod(py_runtime, "new_loop", NULL);
    if (py_loop == NULL) {
        Py_DECREF(app);
        py_boot_error("cannot create the event loop", err, size);
        return AM_ERROR;
    }

    if (conf->lifespan != AM_LIFESPAN_OFF) {
        mode = conf->lifespan == AM_LIFESPAN_ON ? "on" : "auto";
        py_lifespan = PyObject_CallMethod(py_runtime, "Lifespan", "OsO", app,
                                          mode, py_loop);
        if (py_lifespan == NULL) {
            Py_DECREF(app);
            py_boot_error("cannot create the lifespan", err, size);
            return AM_ERROR;
        }
        r = PyObject_CallMethod(py_lifespan, "startup", NULL);
        if (r != NULL) {
            PyObject *done =
                PyObject_CallMethod(py_loop, "run_until_complete", "O", r);

            Py_DECREF(r);
            r = done;
        }
        if (r == NULL) {
            Py_DECREF(app);
            py_boot_error("lifespan startup failed", err, size);
            return AM_ERROR;
        }
        Py_DECREF(r);
        state = PyObject_GetAttrString(py_lifespan, "state");
    } else {
        state = PyDict_New();
    }
    if (state == NULL ||
        am_asgi_start(py_runtime, py_loop, app, state) != AM_OK) {
        Py_XDECREF(state);
        Py_DECREF(app);
        py_boot_error("cannot start the ASGI bridge", err, size);
        return AM_ERROR;
    }
    Py_DECREF(state);
    Py_DECREF(app);
    return AM_OK;
}

int
am_py_check(am_conf_t *conf, char *err, size_t size)
{
    PyObject *app;
    char *abs;

    for (size_t i = 0; i < conf->nenv; i++) {
        setenv(conf->env_names[i], conf->env_values[i], 1);
    }
    if (conf->virtualenv != NULL && conf->virtualenv[0] != '/' &&
        (abs = realpath(conf->virtualenv, NULL)) != NULL) {
        free(conf->virtualenv);
        conf->virtualenv = abs;
    }
    if (conf->chdir != NULL && chdir(conf->chdir) == -1) {
        snprintf(err, size, "chdir(\"%s\") failed: %s", conf->chdir,
                 strerror(errno));
        return AM_ERROR;
    }
    if (py_init_interpreter(conf, err, size) != AM_OK) {
        return AM_ERROR;
    }
    if (py_set_path(conf) == -1) {
        py_boot_error("cannot set sys.path", err, size);
        return AM_ERROR;
    }
    py_runtime = py_load_runtime();
    if (py_runtime == NULL) {
        py_boot_error("cannot load the asgimaster runtime", err, size);
        return AM_ERROR;
    }
    app = py_load_app(conf, err, size);
    if (app == NULL) {
        return AM_ERROR;
    }
    Py_DECREF(app);
    return AM_OK;
}

int
am_py_run(void)
{
    PyObject *r = PyObject_CallMethod(py_loop, "run_forever", NULL);

    if (r == NULL) {
        am_log(AM_LOG_ALERT, 0, "the event loop stopped with an exception");
        PyErr_Print();
        return AM_ERROR;
    }
    Py_DECREF(r);
    return AM_OK;
}

void
am_py_stop(void)
{
    PyObject *r = PyObject_CallMethod(py_loop, "stop", NULL);

    am_event_wake_python(); /* the loop checks the flag after select() */
    if (r == NULL) {
        PyErr_Print();
        return;
    }
    Py_DECREF(r);
}

void
am_py_shutdown(void)
{
    PyObject *r, *coro;

    if (py_lifespan != NULL) {
        coro = PyObject_CallMethod(py_lifespan, "shutdown", NULL);
        r = coro ? PyObject_CallMethod(py_loop, "run_until_complete", "O", coro)
                 : NULL;
        Py_XDECREF(coro);
        if (r == NULL) {
            am_log(AM_LOG_ERROR, 0, "lifespan shutdown failed");
            PyErr_Print();
        }
        Py_XDECREF(r);
    }
    r = PyObject_CallMethod(py_runtime, "finish_loop", "O", py_loop);
    if (r == NULL) {
        PyErr_Print();
    }
    Py_XDECREF(r);
    if (Py_FinalizeEx() == -1) {
        am_log(AM_LOG_WARN, 0, "Py_FinalizeEx() failed");
    }
}
