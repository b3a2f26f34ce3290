/* common/conf_listen.h: the "listen" key of the YAML file: addresses and
 * {address, backlog, mode, tls, ...} maps.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Internal to common/conf_load.c.
 */
#ifndef AM_COMMON_CONF_LISTEN_H
#define AM_COMMON_CONF_LISTEN_H

#include <yaml.h>

#include "common/conf_schema.h"
#include "common/conf_yaml.h"

/* Replace the listeners with those of value (a list, one address or one
 * map). AM_OK, or AM_ERROR with ctx->err filled. */
int am_conf_listen_load(am_conf_yaml_ctx_t *ctx, const am_conf_key_t *k,
                        yaml_node_t *value);

#endif
