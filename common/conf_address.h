/* common/conf_address.h: listener addresses and the listen[] records.
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Internal to common/conf*.c; the public half (am_conf_parse_address(),
 * am_conf_listen_same(), am_conf_clear_listen()) is in common/conf.h.
 */
#ifndef AM_COMMON_CONF_ADDRESS_H
#define AM_COMMON_CONF_ADDRESS_H

#include <stddef.h>

#include "common/conf.h"

/* Parse address into a new last listener of conf (*out points at it) and
 * refuse one already declared. line/column: where it was written, 0 for a
 * flag. The listen.* defaults are the caller's (am_conf_set_listen()).
 * AM_OK, or AM_ERROR with err holding what is wrong. */
int am_conf_address_push(am_conf_t *conf, const char *address, int line,
                         int column, am_listen_t **out, char *err, size_t size);

/* Free what l owns (address, path, tls), not l. */
void am_conf_address_free(am_listen_t *l);

/* Free t and what it owns; NULL is allowed. */
void am_conf_address_free_tls(am_tls_conf_t *t);

#endif
