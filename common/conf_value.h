/* common/conf_value.h: the config's scalar parsers: integers, sizes,
 * durations, booleans, file modes, names from a table, application and
 * environment names.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Internal to common/conf*.c (am_parse_size() and am_parse_duration() are
 * public, in common/conf.h). Pure functions: the text is NUL-terminated and
 * read to its end; AM_OK or AM_ERROR, out untouched on error.
 */
#ifndef AM_COMMON_CONF_VALUE_H
#define AM_COMMON_CONF_VALUE_H

#include <stddef.h>
#include <stdint.h>

/* One accepted name of an enumerated value ("on" -> AM_LIFESPAN_ON). */
typedef struct am_conf_enum_s {
    const char *name;
    int value;
} am_conf_enum_t;

/* Decimal digits at *sp (at least one) into out; *sp moves past them.
 * AM_ERROR on overflow or no digit. */
int am_conf_value_parse_u64(const char **sp, uint64_t *out);

/* An optional '-' then decimal digits, the whole string. */
int am_conf_value_parse_int(const char *s, int64_t *out);

/* true/yes/on -> 1, false/no/off -> 0 (any case), anything else -1. */
int am_conf_value_parse_bool(const char *s);

/* "0660", "660", "0o660": always octal, at most 0777. */
int am_conf_value_parse_mode(const char *s, int *out);

/* The value of the entry of table[0..n) whose name is s (any case). */
int am_conf_value_parse_enum(const char *s, const am_conf_enum_t *table,
                             size_t n, int *out);

/* "module:attr" with dotted identifiers on both sides? 1 or 0. */
int am_conf_value_is_app(const char *app);

/* A POSIX environment variable name ([A-Za-z_][A-Za-z0-9_]*)? 1 or 0. */
int am_conf_value_is_env_name(const char *s);

#endif
