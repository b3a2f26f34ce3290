/* common/conf_listen.c: the "listen" key: each item is an address or a map
 * of "listen.*" keys, whose "tls" map (listen.tls.*) becomes an
 * am_tls_conf_t. The address is parsed first (the listener exists), then
 * the other keys in file order; a TLS block is checked whole (certificate
 * and key, client_ca when client_auth asks for it).
 */

#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "common/conf.h"
#include "common/conf_address.h"
#include "common/conf_error.h"
#include "common/conf_listen.h"
#include "common/conf_schema.h"
#include "common/conf_set.h"
#include "common/conf_yaml.h"
#include "common/core.h"

/* listen[N].tls: a map of "listen.tls.*" keys into a new am_tls_conf_t.
 * keynode is the "tls" key: its position is kept for am_tls_check(). */
static int
conf_load_tls(am_conf_yaml_ctx_t *ctx, am_listen_t *l, const char *dname,
              yaml_node_t *keynode, yaml_node_t *map)
{
    char where[160], kname[192];
    yaml_node_t *value, *client_auth = NULL;
    const am_conf_key_t *k;
    yaml_node_pair_t *pair;
    am_tls_conf_t *t;
    const char *name;

    t = am_calloc(1, sizeof(am_tls_conf_t));
    am_conf_set_defaults(ctx->conf, "listen.tls", t);
    t->line = (int)keynode->start_mark.line + 1;
    t->column = (int)keynode->start_mark.column + 1;
    am_conf_address_free_tls(l->tls);
    l->tls = t;

    snprintf(where, sizeof(where), "\"%s\"", dname);
    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        if (am_conf_yaml_pair_key(ctx, map, pair, where, &name) != AM_OK) {
            return AM_ERROR;
        }
        k = am_conf_yaml_lookup(ctx, am_conf_yaml_node(ctx, pair->key),
                                "listen.tls", name, where);
        if (k == NULL) {
            return AM_ERROR;
        }
        value = am_conf_yaml_node(ctx, pair->value);
        if (am_conf_yaml_is_null(value)) {
            continue;
        }
        snprintf(kname, sizeof(kname), "%s.%s", dname, name);
        if ((k->kinds & am_conf_yaml_kind(value)) == 0) {
            return am_conf_yaml_expected(ctx, k, kname, value);
        }
        if (am_conf_yaml_apply_scalar(ctx, k, kname, t, value) != AM_OK) {
            return AM_ERROR;
        }
        if (k->type == AM_CONF_CLIENT_AUTH) {
            client_auth = value;
        }
    }

    if (t->certificate == NULL || t->key == NULL) {
        am_conf_yaml_error(ctx, &keynode->start_mark, "\"%s\": missing \"%s\"",
                           dname,
                           t->certificate == NULL ? "certificate" : "key");
        return AM_ERROR;
    }
    if (t->client_auth != AM_TLS_CLIENT_AUTH_NONE && t->client_ca == NULL) {
        am_conf_yaml_error(
            ctx, &client_auth->start_mark,
            "\"%s.client_auth\": \"%s\" needs \"client_ca\", the CA "
            "certificates that sign client certificates",
            dname,
            t->client_auth == AM_TLS_CLIENT_AUTH_REQUIRE ? "require"
                                                         : "optional");
        return AM_ERROR;
    }
    return AM_OK;
}

/* One listener: "ADDRESS" or a map of "listen.*" keys. The address is
 * parsed first (the listener exists), then the other keys in file order. */
static int
conf_load_listener(am_conf_yaml_ctx_t *ctx, const char *dname,
                   yaml_node_t *item)
{
    yaml_node_t *address = NULL, *value, *keynode;
    char where[80], sub[512], found[AM_CONF_QUOTE_SIZE], kname[128];
    const am_conf_key_t *k;
    yaml_node_pair_t *pair;
    const char *name, *v;
    am_listen_t *l;

    if (item->type == YAML_SCALAR_NODE && !am_conf_yaml_is_null(item)) {
        address = item;
    } else if (item->type == YAML_MAPPING_NODE) {
        snprintf(where, sizeof(where), "\"%s\"", dname);
        for (pair = item->data.mapping.pairs.start;
             pair < item->data.mapping.pairs.top; pair++) {
            if (am_conf_yaml_pair_key(ctx, item, pair, where, &name) != AM_OK) {
                return AM_ERROR;
            }
            k = am_conf_yaml_lookup(ctx, am_conf_yaml_node(ctx, pair->key),
                                    "listen", name, where);
            if (k == NULL) {
                return AM_ERROR;
            }
            value = am_conf_yaml_node(ctx, pair->value);
            if (am_conf_yaml_is_null(value)) {
                continue;
            }
            snprintf(kname, sizeof(kname), "%s.%s", dname, name);
            if ((k->kinds & am_conf_yaml_kind(value)) == 0) {
                return am_conf_yaml_expected(ctx, k, kname, value);
            }
            if (k->type == AM_CONF_ADDRESS) {
                address = value;
            }
        }
        if (address == NULL) {
            am_conf_yaml_error(ctx, &item->start_mark,
                               "\"%s\": missing \"address\"", dname);
            return AM_ERROR;
        }
    } else {
        am_conf_yaml_error(
            ctx, &item->start_mark,
            "\"%s\": expected an address or a map with \"address\", "
            "found %s",
            dname, am_conf_yaml_found(found, sizeof(found), item));
        return AM_ERROR;
    }

    snprintf(kname, sizeof(kname), "%s%s", dname,
             address == item ? "" : ".address");
    if (am_conf_yaml_scalar(ctx, kname, address, &v) != AM_OK) {
        return AM_ERROR;
    }
    if (am_conf_set_listen(ctx->conf, v, (int)address->start_mark.line + 1,
                           (int)address->start_mark.column + 1, &l, sub,
                           sizeof(sub)) != AM_OK) {
        am_conf_yaml_error(ctx, &address->start_mark, "\"%s\": %s", kname, sub);
        return AM_ERROR;
    }
    if (address == item) {
        return AM_OK;
    }

    /* The keys were checked above: known, once each, of the right kind. */
    for (pair = item->data.mapping.pairs.start;
         pair < item->data.mapping.pairs.top; pair++) {
        keynode = am_conf_yaml_node(ctx, pair->key);
        name = (const char *)keynode->data.scalar.value;
        snprintf(kname, sizeof(kname), "listen.%s", name);
        k = am_conf_schema_find(kname);
        value = am_conf_yaml_node(ctx, pair->value);
        if (am_conf_yaml_is_null(value) || k->type == AM_CONF_ADDRESS) {
            continue;
        }
        snprintf(kname, sizeof(kname), "%s.%s", dname, name);
        if (k->type == AM_CONF_TLS) {
            snprintf(kname, sizeof(kname), "%s.tls", dname);
            if (conf_load_tls(ctx, l, kname, keynode, value) != AM_OK) {
                return AM_ERROR;
            }
            continue;
        }
        if (k->type == AM_CONF_MODE && l->family != AF_UNIX) {
            am_conf_yaml_error(
                ctx, &value->start_mark,
                "\"%s\": only UNIX socket listeners take a mode, %s "
                "is not one",
                kname,
                am_conf_error_quote(found, sizeof(found), l->address,
                                    strlen(l->address)));
            return AM_ERROR;
        }
        if (am_conf_yaml_apply_scalar(ctx, k, kname, l, value) != AM_OK) {
            return AM_ERROR;
        }
    }
    return AM_OK;
}

int
am_conf_listen_load(am_conf_yaml_ctx_t *ctx, const am_conf_key_t *k,
                    yaml_node_t *value)
{
    yaml_node_item_t *item;
    char dname[64];
    size_t i = 0;

    am_conf_clear_listen(ctx->conf);
    if (value->type != YAML_SEQUENCE_NODE) {
        return conf_load_listener(ctx, k->name, value);
    }
    for (item = value->data.sequence.items.start;
         item < value->data.sequence.items.top; item++, i++) {
        snprintf(dname, sizeof(dname), "%s[%zu]", k->name, i);
        if (conf_load_listener(ctx, dname, am_conf_yaml_node(ctx, *item)) !=
            AM_OK) {
            return AM_ERROR;
        }
    }
    return AM_OK;
}
