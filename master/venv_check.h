/* master/venv_check.h: a virtualenv must come from the Python asgimaster
 * embeds, checked at start-up, on SIGHUP and by `asgimaster -t`.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_MASTER_VENV_CHECK_H
#define AM_MASTER_VENV_CHECK_H

#include <stddef.h>

#include "common/conf.h"

/* conf->virtualenv (the key, --virtualenv or $VIRTUAL_ENV), if set: its
 * pyvenv.cfg must name the embedded Python's version (major.minor) and, for
 * a venv, the same interpreter build (its "home" is the directory of the
 * interpreter asgimaster was built with): another version's packages do not
 * import, and another build's standard library mixed into ours breaks in
 * odd ways. AM_OK, or AM_ERROR with err naming both interpreters and the
 * rebuild command. Reads files only: the master stays free of Python. */
int am_venv_check(const am_conf_t *conf, char *err, size_t size);

/* "Python 3.11.2 (/usr/bin/python3)": the interpreter built in. */
const char *am_venv_python(void);

#endif
