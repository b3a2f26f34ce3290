/* common/conf_load.c: the YAML configuration loader.
 *
 * libyaml composes the whole file into a document (yaml_parser_load), then
 * the document is walked against the key table in common/conf_schema.c
 * (common/conf_yaml.c): scalar values go through one setter per value type
 * (common/conf_set.c), which am_conf_create() also uses for the defaults
 * and am_conf_set() for command-line flags; lists and maps (pythonpath,
 * env, forwarded_allow_ips here, listen in common/conf_listen.c) have their
 * own walk. Errors name file:line:col, the key, what was expected and what
 * was found; nothing is bound or started from here.
 *
 * A plain empty scalar, `~` or `null` is "not set": the key keeps its
 * default.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "common/conf.h"
#include "common/conf_error.h"
#include "common/conf_listen.h"
#include "common/conf_schema.h"
#include "common/conf_set.h"
#include "common/conf_value.h"
#include "common/conf_yaml.h"
#include "common/core.h"

#define CONF_FILE_MAX_MIB 16
#define CONF_FILE_MAX     ((size_t)CONF_FILE_MAX_MIB * 1024 * 1024)

static int
conf_load_pythonpath(am_conf_yaml_ctx_t *ctx, const am_conf_key_t *k,
                     yaml_node_t *value)
{
    yaml_node_item_t *item;
    yaml_node_t *node;
    char dname[64];
    const char *v;
    size_t i = 0;

    if (value->type == YAML_SCALAR_NODE) {
        return am_conf_yaml_apply_scalar(ctx, k, k->name, ctx->conf, value);
    }
    am_conf_set_clear_pythonpath(ctx->conf);
    for (item = value->data.sequence.items.start;
         item < value->data.sequence.items.top; item++, i++) {
        node = am_conf_yaml_node(ctx, *item);
        snprintf(dname, sizeof(dname), "%s[%zu]", k->name, i);
        if (node->type != YAML_SCALAR_NODE || node->data.scalar.length == 0 ||
            am_conf_yaml_is_null(node)) {
            char found[AM_CONF_QUOTE_SIZE];

            am_conf_yaml_error(ctx, &node->start_mark,
                               "\"%s\": expected a path, found %s", dname,
                               am_conf_yaml_found(found, sizeof(found), node));
            return AM_ERROR;
        }
        if (am_conf_yaml_scalar(ctx, dname, node, &v) != AM_OK) {
            return AM_ERROR;
        }
        am_conf_set_add_pythonpath(ctx->conf, v);
    }
    return AM_OK;
}

static int
conf_load_env(am_conf_yaml_ctx_t *ctx, yaml_node_t *map)
{
    char q[AM_CONF_QUOTE_SIZE], dname[128];
    am_conf_t *conf = ctx->conf;
    yaml_node_pair_t *pair;
    yaml_node_t *value;
    const char *name, *v;

    am_conf_set_clear_env(conf);
    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        if (am_conf_yaml_pair_key(ctx, map, pair, "\"env\"", &name) != AM_OK) {
            return AM_ERROR;
        }
        if (!am_conf_value_is_env_name(name)) {
            am_conf_yaml_error(
                ctx, &am_conf_yaml_node(ctx, pair->key)->start_mark,
                "\"env\": bad variable name %s: expected letters, "
                "digits and '_', not starting with a digit",
                am_conf_error_quote(q, sizeof(q), name, strlen(name)));
            return AM_ERROR;
        }
        value = am_conf_yaml_node(ctx, pair->value);
        snprintf(dname, sizeof(dname), "env.%.100s", name);
        if (value->type != YAML_SCALAR_NODE) {
            am_conf_yaml_error(ctx, &value->start_mark,
                               "\"%s\": expected a string, found %s", dname,
                               am_conf_yaml_found(q, sizeof(q), value));
            return AM_ERROR;
        }
        if (am_conf_yaml_is_null(value)) {
            v = "";
        } else if (am_conf_yaml_scalar(ctx, dname, value, &v) != AM_OK) {
            return AM_ERROR;
        }
        conf->env_names =
            am_realloc(conf->env_names, (conf->nenv + 1) * sizeof(char *));
        conf->env_values =
            am_realloc(conf->env_values, (conf->nenv + 1) * sizeof(char *));
        conf->env_names[conf->nenv] = am_strdup(name);
        conf->env_values[conf->nenv] = am_strdup(v);
        conf->nenv++;
    }
    return AM_OK;
}

/* forwarded_allow_ips: a list of entries, or one string of them. */
static int
conf_load_cidrs(am_conf_yaml_ctx_t *ctx, const am_conf_key_t *k,
                yaml_node_t *value)
{
    char dname[64], sub[512], found[AM_CONF_QUOTE_SIZE];
    yaml_node_item_t *item;
    yaml_node_t *node;
    const char *v;
    size_t i = 0;

    if (value->type == YAML_SCALAR_NODE) {
        return am_conf_yaml_apply_scalar(ctx, k, k->name, ctx->conf, value);
    }
    am_conf_set_clear_cidrs(ctx->conf);
    for (item = value->data.sequence.items.start;
         item < value->data.sequence.items.top; item++, i++) {
        node = am_conf_yaml_node(ctx, *item);
        snprintf(dname, sizeof(dname), "%s[%zu]", k->name, i);
        if (node->type != YAML_SCALAR_NODE || am_conf_yaml_is_null(node)) {
            am_conf_yaml_error(
                ctx, &node->start_mark,
                "\"%s\": expected an IP address, a network such as "
                "\"10.0.0.0/8\" or \"*\", found %s",
                dname, am_conf_yaml_found(found, sizeof(found), node));
            return AM_ERROR;
        }
        if (am_conf_yaml_scalar(ctx, dname, node, &v) != AM_OK) {
            return AM_ERROR;
        }
        if (am_conf_set_add_cidrs(ctx->conf, dname, v, sub, sizeof(sub)) !=
            AM_OK) {
            am_conf_yaml_error(ctx, &node->start_mark, "%s", sub);
            return AM_ERROR;
        }
    }
    return AM_OK;
}

static int
conf_load_map(am_conf_yaml_ctx_t *ctx, yaml_node_t *map, const char *prefix,
              const char *where)
{
    char inner[80];
    const am_conf_key_t *k;
    yaml_node_pair_t *pair;
    yaml_node_t *value;
    const char *key;
    int rc;

    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        if (am_conf_yaml_pair_key(ctx, map, pair, where, &key) != AM_OK) {
            return AM_ERROR;
        }
        k = am_conf_yaml_lookup(ctx, am_conf_yaml_node(ctx, pair->key), prefix,
                                key, where);
        if (k == NULL) {
            return AM_ERROR;
        }
        value = am_conf_yaml_node(ctx, pair->value);
        if (am_conf_yaml_is_null(value)) {
            continue; /* written but empty: keep the default */
        }
        if ((k->kinds & am_conf_yaml_kind(value)) == 0) {
            return am_conf_yaml_expected(ctx, k, k->name, value);
        }
        switch (k->type) {
        case AM_CONF_SECTION:
            snprintf(inner, sizeof(inner), "\"%s\"", k->name);
            rc = conf_load_map(ctx, value, k->name, inner);
            break;
        case AM_CONF_PYTHONPATH:
            rc = conf_load_pythonpath(ctx, k, value);
            break;
        case AM_CONF_ENV:
            rc = conf_load_env(ctx, value);
            break;
        case AM_CONF_LISTEN:
            rc = am_conf_listen_load(ctx, k, value);
            break;
        case AM_CONF_CIDRS:
            rc = conf_load_cidrs(ctx, k, value);
            break;
        default:
            rc = am_conf_yaml_apply_scalar(ctx, k, k->name, ctx->conf, value);
            break;
        }
        if (rc != AM_OK) {
            return AM_ERROR;
        }
    }
    return AM_OK;
}

/* libyaml's own message with its position. */
static void
conf_load_reader_error(am_conf_yaml_ctx_t *ctx, yaml_parser_t *parser)
{
    yaml_mark_t mark;
    size_t i;
    int n;

    switch (parser->error) {
    case YAML_MEMORY_ERROR:
        snprintf(ctx->err, ctx->size, "%s: out of memory", ctx->name);
        return;

    case YAML_READER_ERROR:
        /* The reader knows a byte offset only: count lines up to it. */
        memset(&mark, 0, sizeof(mark));
        for (i = 0; i < parser->problem_offset && i < ctx->len; i++) {
            if (ctx->text[i] == '\n') {
                mark.line++;
                mark.column = 0;
            } else {
                mark.column++;
            }
        }
        if (parser->problem_value != -1) {
            am_conf_yaml_error(ctx, &mark, "%s (byte 0x%02X)", parser->problem,
                               parser->problem_value);
        } else {
            am_conf_yaml_error(ctx, &mark, "%s", parser->problem);
        }
        return;

    default:
        am_conf_yaml_error(ctx, &parser->problem_mark, "%s",
                           parser->problem ? parser->problem
                                           : "YAML syntax error");
        if (parser->context != NULL) {
            n = (int)strlen(ctx->err);
            snprintf(ctx->err + n, ctx->size - (size_t)n, " (%s at %zu:%zu)",
                     parser->context, parser->context_mark.line + 1,
                     parser->context_mark.column + 1);
        }
        return;
    }
}

int
am_conf_load_string(am_conf_t *conf, const char *name, const char *yaml,
                    size_t len, char *err, size_t size)
{
    yaml_document_t doc, next;
    yaml_parser_t parser;
    yaml_node_t *root;
    char found[AM_CONF_QUOTE_SIZE];
    am_conf_yaml_ctx_t ctx;
    int rc = AM_ERROR;

    ctx.conf = conf;
    ctx.name = name;
    ctx.text = yaml;
    ctx.len = len;
    ctx.doc = &doc;
    ctx.err = err;
    ctx.size = size;
    err[0] = '\0';

    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, size, "%s: out of memory", name);
        return AM_ERROR;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        conf_load_reader_error(&ctx, &parser);
        goto release_parser;
    }

    root = yaml_document_get_root_node(&doc);
    if (root == NULL || am_conf_yaml_is_null(root)) {
        rc = AM_OK; /* an empty file: all defaults */
    } else if (root->type != YAML_MAPPING_NODE) {
        am_conf_yaml_error(&ctx, &root->start_mark,
                           "expected a map of keys at the top level, found %s",
                           am_conf_yaml_found(found, sizeof(found), root));
    } else {
        rc = conf_load_map(&ctx, root, "", "the top level");
    }
    if (rc != AM_OK || root == NULL) {
        goto release_doc;
    }

    /* One document per file: a second one would be silently ignored. */
    if (!yaml_parser_load(&parser, &next)) {
        conf_load_reader_error(&ctx, &parser);
        rc = AM_ERROR;
        goto release_doc;
    }
    root = yaml_document_get_root_node(&next);
    if (root != NULL) {
        am_conf_yaml_error(
            &ctx, &next.start_mark,
            "a second YAML document: one file holds one document");
        rc = AM_ERROR;
    }
    yaml_document_delete(&next);

release_doc:
    yaml_document_delete(&doc);
release_parser:
    yaml_parser_delete(&parser);
    return rc;
}

int
am_conf_load(am_conf_t *conf, const char *file, char *err, size_t size)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct stat st;
    ssize_t n;
    int fd, rc;

    do {
        fd = open(file, O_RDONLY | O_CLOEXEC);
    } while (fd == -1 && errno == EINTR);
    if (fd == -1) {
        snprintf(err, size, "%s: cannot open: %s", file, strerror(errno));
        return AM_ERROR;
    }
    if (fstat(fd, &st) == -1 || S_ISDIR(st.st_mode)) {
        snprintf(err, size, "%s: cannot open: %s", file,
                 strerror(S_ISDIR(st.st_mode) ? EISDIR : errno));
        close(fd);
        return AM_ERROR;
    }

    for (;;) {
        if (len == cap) {
            if (cap >= CONF_FILE_MAX) {
                snprintf(err, size, "%s: too large: more than %d MiB", file,
                         CONF_FILE_MAX_MIB);
                goto failed;
            }
            cap = cap ? cap * 2 : 8192;
            buf = am_realloc(buf, cap);
        }
        n = read(fd, buf + len, cap - len);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            snprintf(err, size, "%s: cannot read: %s", file, strerror(errno));
            goto failed;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    close(fd);

    free(conf->file);
    conf->file = am_strdup(file);
    rc = am_conf_load_string(conf, file, buf ? buf : "", len, err, size);
    free(buf);
    return rc;

failed:
    free(buf);
    close(fd);
    return AM_ERROR;
}
