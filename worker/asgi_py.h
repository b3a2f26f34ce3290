/* worker/asgi_py.h: what the bridge (asgi.c) and the embedding (pyembed.c)
 * share; Python types allowed, so only they include it, after <Python.h>.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_WORKER_ASGI_PY_H
#define AM_WORKER_ASGI_PY_H

/* Add the Request type to the _asgimaster module. 0 or -1. */
int am_asgi_types_ready(PyObject *module);

/* Hand the bridge the app, its lifespan state and the loop's methods, after
 * am_asgi_init(). AM_OK or AM_ERROR with a Python exception set. */
int am_asgi_start(PyObject *runtime, PyObject *loop, PyObject *app,
                  PyObject *state);

/* Take the first step of every app task created since the last call,
 * now, from the loop's select() outside any C handler: the number of
 * steps taken, or -1 with the exception set when one raised what must
 * stop the loop (SystemExit, KeyboardInterrupt). */
int am_asgi_start_pending(void);

/* asyncio.CancelledError (borrowed, set by pyembed.c). */
extern PyObject *am_py_cancelled_error;

#endif
