/* common/conf_yaml.h: walking a libyaml document against the key table:
 * nodes, keys, node kinds, scalars, and errors at a node's position.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Internal to common/conf_load.c and common/conf_listen.c. Functions that
 * fail write the whole message into ctx->err and return AM_ERROR.
 */
#ifndef AM_COMMON_CONF_YAML_H
#define AM_COMMON_CONF_YAML_H

#include <stddef.h>

#include <yaml.h>

#include "common/conf.h"
#include "common/conf_schema.h"

typedef struct am_conf_yaml_ctx_s {
    am_conf_t *conf;
    const char *name; /* the file, for messages */
    const char *text; /* the input, to place reader errors */
    size_t len;
    yaml_document_t *doc;
    char *err;
    size_t size;
} am_conf_yaml_ctx_t;

yaml_node_t *am_conf_yaml_node(am_conf_yaml_ctx_t *ctx, int index);

/* A plain empty scalar, "~" or "null": the key keeps its default. */
int am_conf_yaml_is_null(yaml_node_t *node);

/* AM_CONF_SCALAR, AM_CONF_LIST or AM_CONF_MAP. */
unsigned am_conf_yaml_kind(yaml_node_t *node);

/* What a node is, for "found ...": "a list", "a map", "nothing" or the
 * quoted scalar (buf: AM_CONF_QUOTE_SIZE bytes). */
const char *am_conf_yaml_found(char *buf, size_t size, yaml_node_t *node);

/* "file:line:col: " (of mark) then fmt into ctx->err. */
void am_conf_yaml_error(am_conf_yaml_ctx_t *ctx, const yaml_mark_t *mark,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "KEY": expected ..., found ... at the value; returns AM_ERROR. */
int am_conf_yaml_expected(am_conf_yaml_ctx_t *ctx, const am_conf_key_t *k,
                          const char *dname, yaml_node_t *value);

/* The text of a scalar, refused when it holds a NUL byte. */
int am_conf_yaml_scalar(am_conf_yaml_ctx_t *ctx, const char *dname,
                        yaml_node_t *value, const char **out);

/* Set row k of base from a scalar node (am_conf_set_value()). */
int am_conf_yaml_apply_scalar(am_conf_yaml_ctx_t *ctx, const am_conf_key_t *k,
                              const char *dname, void *base,
                              yaml_node_t *value);

/* The key of pair of map: a scalar, not seen before in this map. where
 * names the map in messages. */
int am_conf_yaml_pair_key(am_conf_yaml_ctx_t *ctx, yaml_node_t *map,
                          yaml_node_pair_t *pair, const char *where,
                          const char **out);

/* The row of key in the map named prefix ("" at the top level), or NULL
 * with "unknown key ... did you mean ..." in ctx->err. */
const am_conf_key_t *am_conf_yaml_lookup(am_conf_yaml_ctx_t *ctx,
                                         yaml_node_t *keynode,
                                         const char *prefix, const char *key,
                                         const char *where);

#endif
