/* master/app_check.h: `asgimaster -t` imports the app, in a child.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_MASTER_APP_CHECK_H
#define AM_MASTER_APP_CHECK_H

#include "common/conf.h"

/* Fork a child that imports conf->app as a worker would (environment,
 * chdir, virtualenv, pythonpath, log.config; no lifespan, nothing bound)
 * while the master stays free of Python. AM_OK when it imports, else
 * AM_ERROR after printing the reason on stderr (the child logged the
 * traceback). */
int am_app_check(am_conf_t *conf);

#endif
