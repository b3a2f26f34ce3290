/* common/conf_set.h: one setter for a key's value, used by the file, the
 * defaults and the command-line flags; the list keys' helpers.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Internal to common/conf*.c; am_conf_set(), am_conf_create() and
 * am_conf_add_listen() are public, in common/conf.h.
 */
#ifndef AM_COMMON_CONF_SET_H
#define AM_COMMON_CONF_SET_H

#include <stddef.h>

#include "common/conf.h"
#include "common/conf_schema.h"

/* Set row k of base (conf, a listener or a tls block) from the text v.
 * dname names the key in messages ("listen[0].backlog"). AM_OK, or
 * AM_ERROR with err holding a whole message, or empty for the caller's
 * "KEY: expected ..., found ...". */
int am_conf_set_value(am_conf_t *conf, const am_conf_key_t *k,
                      const char *dname, void *base, const char *v, char *err,
                      size_t size);

/* The defaults of the rows "prefix.name" (one level down) into base. */
void am_conf_set_defaults(am_conf_t *conf, const char *prefix, void *base);

/* am_conf_address_push() and the listen.* defaults on the new listener. */
int am_conf_set_listen(am_conf_t *conf, const char *address, int line,
                       int column, am_listen_t **out, char *err, size_t size);

void am_conf_set_clear_pythonpath(am_conf_t *conf);
void am_conf_set_add_pythonpath(am_conf_t *conf, const char *path);
void am_conf_set_clear_env(am_conf_t *conf);
void am_conf_set_clear_cidrs(am_conf_t *conf);

/* Add the entries of s, separated by commas or blanks, to
 * forwarded_allow_ips; "*" trusts every peer. */
int am_conf_set_add_cidrs(am_conf_t *conf, const char *dname, const char *s,
                          char *err, size_t size);

#endif
