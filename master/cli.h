/* master/cli.h: the command line and the environment, as one table of flags
 * mapped onto configuration keys.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Every flag is a row of master/cli.c: its spelling (ours, and Uvicorn's,
 * Gunicorn's or Hypercorn's where they differ), the config key it sets (the
 * same setter the YAML file goes through) and its help line. Each flag may
 * also come from the environment as ASGIMASTER_<FLAG> (--ssl-keyfile is
 * ASGIMASTER_SSL_KEYFILE), and WEB_CONCURRENCY / FORWARDED_ALLOW_IPS are
 * read as their peers read them. Precedence: flag > environment > file >
 * default (am_cli_apply() runs after am_conf_load()).
 */
#ifndef AM_MASTER_CLI_H
#define AM_MASTER_CLI_H

#include <stddef.h>

#include "common/conf.h"

typedef struct am_cli_flag_s am_cli_flag_t;

/* One flag given: the row and its value ("true" for an on/off flag given
 * bare, "false" for its --no- form). */
typedef struct am_cli_arg_s {
    const am_cli_flag_t *flag;
    const char *value;
    const char *source; /* "--workers" or "ASGIMASTER_WORKERS" */
} am_cli_arg_t;

typedef struct am_cli_s {
    const char *file;   /* -c */
    int test;           /* -t */
    const char *signal; /* -s */
    const char *app;    /* MODULE:ATTR */
    am_cli_arg_t *env;  /* from the environment, in table order */
    size_t nenv;
    am_cli_arg_t *args; /* from argv, in order */
    size_t nargs;
} am_cli_t;

/* Parse argv and the environment into cli. Bad usage (an unknown flag, a
 * missing or bad value, a peer's spelling we do not take) prints one line
 * and "Try --help" on stderr and exits AM_EXIT_USAGE. -h and -v print and
 * exit 0. The strings stay owned by argv / environ. */
void am_cli_parse(am_cli_t *cli, int argc, char **argv);

/* Apply the environment, then the flags, on top of a loaded file. AM_OK, or
 * AM_ERROR with err naming the flag or variable. */
int am_cli_apply(am_conf_t *conf, const am_cli_t *cli, char *err, size_t size);

/* Print a usage error as am_cli_parse() does and exit AM_EXIT_USAGE. */
void am_cli_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
