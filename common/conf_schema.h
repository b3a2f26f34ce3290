/* common/conf_schema.h: the table of configuration keys.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Each key of asgimaster.yaml(5) is one row: its dotted name, the YAML node
 * kind it takes, how its value is parsed, where it lands (offsetof into
 * am_conf_t, or into am_listen_t for "listen.*"), its bounds, its default as
 * it would be written in the file, and whether SIGHUP may change it.
 * common/conf_load.c walks the YAML document against this table; the table is
 * the single list of keys (man page checks and "did you mean" read it too).
 */
#ifndef AM_COMMON_CONF_SCHEMA_H
#define AM_COMMON_CONF_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

/* YAML node kinds a key accepts (a bit set). */
#define AM_CONF_SCALAR 0x1
#define AM_CONF_LIST   0x2
#define AM_CONF_MAP    0x4

typedef enum {
    AM_CONF_SECTION = 0, /* a map of "name.*" keys */
    AM_CONF_STRING,      /* char *, may be "" */
    AM_CONF_PATH,        /* char *, "" and null leave it unset (NULL) */
    AM_CONF_APP,         /* char *, MODULE:ATTR */
    AM_CONF_BOOL,        /* int 0/1: true false yes no on off */
    AM_CONF_INT,         /* int within [min, max] */
    AM_CONF_COUNT,       /* size_t within [min, max] */
    AM_CONF_SIZE,        /* size_t bytes, am_parse_size() */
    AM_CONF_MSEC,        /* am_msec_t, am_parse_duration() */
    AM_CONF_WORKERS,     /* int: 1..max, or 0 / "auto" */
    AM_CONF_LIFESPAN,    /* int AM_LIFESPAN_* */
    AM_CONF_LOG_LEVEL,   /* int AM_LOG_* */
    AM_CONF_ERROR_LOG,   /* char *: a path; "stderr" is NULL */
    AM_CONF_ACCESS_LOG,  /* char *: path, "stdout", "stderr"; "off" is NULL */
    AM_CONF_ACCESS_FMT,  /* char *: checked by am_access_format_check() */
    AM_CONF_PYTHONPATH,  /* a list of paths, or one path */
    AM_CONF_ENV,         /* a map of NAME: value */
    AM_CONF_LISTEN,      /* a list of addresses or listener maps */
    AM_CONF_ADDRESS,     /* listen[].address */
    AM_CONF_BACKLOG,     /* listen[].backlog: int within [min, max] */
    AM_CONF_MODE,        /* listen[].mode: octal, UNIX sockets only */
    AM_CONF_TLS,         /* listen[].tls: a map of "listen.tls.*" keys */
    AM_CONF_CLIENT_AUTH, /* int AM_TLS_CLIENT_AUTH_* */
    AM_CONF_TLS_VERSION, /* int 0x0303 or 0x0304: "1.2", "TLSv1.3" */
    AM_CONF_CIDRS,       /* forwarded_allow_ips: addresses, networks, "*" */
    AM_CONF_HOSTPORT     /* char *: one address as listen[].address takes */
} am_conf_type_t;

typedef struct am_conf_key_s {
    const char *name; /* dotted: "limits.body_size", "listen.mode" */
    unsigned kinds;   /* AM_CONF_SCALAR | AM_CONF_LIST | AM_CONF_MAP */
    am_conf_type_t type;
    size_t offset;    /* into am_conf_t; "listen.*" into am_listen_t,
                         "listen.tls.*" into am_tls_conf_t */
    int64_t min, max; /* numbers, sizes (bytes), durations (ms) */
    const char *dflt; /* as written in YAML; NULL: unset / computed */
    int reloadable;   /* 1: SIGHUP applies it; 0: restart-only */
} am_conf_key_t;

extern const am_conf_key_t am_conf_keys[];
extern const size_t am_conf_nkeys;

/* The row of a dotted name, or NULL. */
const am_conf_key_t *am_conf_schema_find(const char *name);

#endif
