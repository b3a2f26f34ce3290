/* common/conf_yaml.c: walking a libyaml document against the key table.
 *
 * Every map key must be a known row (else "unknown key" with the nearest
 * known name), appear once, and hold the node kind its row takes. Errors
 * name file:line:col of the node (libyaml counts from 0: we add 1).
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "common/conf.h"
#include "common/conf_error.h"
#include "common/conf_schema.h"
#include "common/conf_set.h"
#include "common/conf_yaml.h"
#include "common/core.h"

yaml_node_t *
am_conf_yaml_node(am_conf_yaml_ctx_t *ctx, int index)
{
    yaml_node_t *node = yaml_document_get_node(ctx->doc, index);

    AM_ASSERT(node != NULL);
    return node;
}

int
am_conf_yaml_is_null(yaml_node_t *node)
{
    const char *v = (const char *)node->data.scalar.value;

    if (node->type != YAML_SCALAR_NODE ||
        node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return 0;
    }
    return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

unsigned
am_conf_yaml_kind(yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SEQUENCE_NODE:
        return AM_CONF_LIST;
    case YAML_MAPPING_NODE:
        return AM_CONF_MAP;
    default:
        return AM_CONF_SCALAR;
    }
}

/* What a node is, for "found ...". */
const char *
am_conf_yaml_found(char *buf, size_t size, yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a map";
    default:
        if (node->data.scalar.length == 0 &&
            node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            return "nothing";
        }
        return am_conf_error_quote(buf, size,
                                   (const char *)node->data.scalar.value,
                                   node->data.scalar.length);
    }
}

void
am_conf_yaml_error(am_conf_yaml_ctx_t *ctx, const yaml_mark_t *mark,
                   const char *fmt, ...)
{
    va_list ap;

    /* libyaml counts from 0, people from 1. */
    va_start(ap, fmt);
    am_conf_error_vat(ctx->err, ctx->size, ctx->name, mark->line + 1,
                      mark->column + 1, fmt, ap);
    va_end(ap);
}

/* "KEY": expected ..., found ... at the value. */
int
am_conf_yaml_expected(am_conf_yaml_ctx_t *ctx, const am_conf_key_t *k,
                      const char *dname, yaml_node_t *value)
{
    char what[128], found[AM_CONF_QUOTE_SIZE];

    am_conf_yaml_error(ctx, &value->start_mark, "\"%s\": expected %s, found %s",
                       dname, am_conf_error_describe(k, what, sizeof(what)),
                       am_conf_yaml_found(found, sizeof(found), value));
    return AM_ERROR;
}

/* A scalar with an embedded NUL ("\0" in double quotes) would be cut by
 * every C string user: refuse it. */
int
am_conf_yaml_scalar(am_conf_yaml_ctx_t *ctx, const char *dname,
                    yaml_node_t *value, const char **out)
{
    const char *v = (const char *)value->data.scalar.value;

    if (strlen(v) != value->data.scalar.length) {
        am_conf_yaml_error(ctx, &value->start_mark,
                           "\"%s\": a NUL byte in the value", dname);
        return AM_ERROR;
    }
    *out = v;
    return AM_OK;
}

int
am_conf_yaml_apply_scalar(am_conf_yaml_ctx_t *ctx, const am_conf_key_t *k,
                          const char *dname, void *base, yaml_node_t *value)
{
    char sub[512];
    const char *v;

    if (am_conf_yaml_scalar(ctx, dname, value, &v) != AM_OK) {
        return AM_ERROR;
    }
    if (am_conf_set_value(ctx->conf, k, dname, base, v, sub, sizeof(sub)) ==
        AM_OK) {
        return AM_OK;
    }
    if (sub[0] != '\0') {
        am_conf_yaml_error(ctx, &value->start_mark, "%s", sub);
        return AM_ERROR;
    }
    return am_conf_yaml_expected(ctx, k, dname, value);
}

/* The key of pair i of map: a scalar, not seen before in this map. */
int
am_conf_yaml_pair_key(am_conf_yaml_ctx_t *ctx, yaml_node_t *map,
                      yaml_node_pair_t *pair, const char *where,
                      const char **out)
{
    yaml_node_t *key = am_conf_yaml_node(ctx, pair->key), *prev;
    char found[AM_CONF_QUOTE_SIZE];
    yaml_node_pair_t *p;
    const char *name;

    if (key->type != YAML_SCALAR_NODE) {
        am_conf_yaml_error(ctx, &key->start_mark,
                           "expected a key name in %s, found %s", where,
                           am_conf_yaml_found(found, sizeof(found), key));
        return AM_ERROR;
    }
    if (am_conf_yaml_scalar(ctx, where, key, &name) != AM_OK) {
        return AM_ERROR;
    }
    for (p = map->data.mapping.pairs.start; p < pair; p++) {
        prev = am_conf_yaml_node(ctx, p->key);
        if (prev->type == YAML_SCALAR_NODE &&
            strcmp((const char *)prev->data.scalar.value, name) == 0) {
            am_conf_yaml_error(
                ctx, &key->start_mark,
                "duplicate key %s in %s (first at line %zu)",
                am_conf_error_quote(found, sizeof(found), name, strlen(name)),
                where, prev->start_mark.line + 1);
            return AM_ERROR;
        }
    }
    *out = name;
    return AM_OK;
}

/* The row of key in the map named prefix ("" at the top level). */
const am_conf_key_t *
am_conf_yaml_lookup(am_conf_yaml_ctx_t *ctx, yaml_node_t *keynode,
                    const char *prefix, const char *key, const char *where)
{
    char full[256], q[AM_CONF_QUOTE_SIZE], hint[128];
    const am_conf_key_t *k = NULL;

    if (strchr(key, '.') == NULL &&
        (size_t)snprintf(full, sizeof(full), "%s%s%s", prefix,
                         *prefix ? "." : "", key) < sizeof(full)) {
        k = am_conf_schema_find(full);
    }
    if (k != NULL) {
        return k;
    }
    am_conf_error_suggest(prefix, key, hint, sizeof(hint));
    am_conf_yaml_error(ctx, &keynode->start_mark, "unknown key %s in %s%s",
                       am_conf_error_quote(q, sizeof(q), key, strlen(key)),
                       where, hint);
    return NULL;
}
