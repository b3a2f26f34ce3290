/* worker/pyembed.h: the embedded CPython of a worker, seen from C code that
 * does not include <Python.h> (worker.c).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_WORKER_PYEMBED_H
#define AM_WORKER_PYEMBED_H

#include <stddef.h>

#include "common/conf.h"

/* Start the interpreter (virtualenv, sys.path), import the app, create the
 * asyncio loop over our epoll and run lifespan startup. AM_OK, or AM_ERROR
 * with a one-line reason in err (the traceback is in the error log). */
int am_py_boot(am_conf_t *conf, char *err, size_t size);

/* `asgimaster -t`, in a child of the master: set the workers' environment,
 * change to chdir, start the interpreter and import the app (no lifespan,
 * no loop). AM_OK, or AM_ERROR with err the one-line reason (the traceback
 * is logged). */
int am_py_check(am_conf_t *conf, char *err, size_t size);

/* Run the loop until am_py_stop(). */
int am_py_run(void);
void am_py_stop(void);

/* Lifespan shutdown, cancel leftover tasks, finalize. */
void am_py_shutdown(void);

#endif
