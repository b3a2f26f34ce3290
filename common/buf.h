/* common/buf.h: a byte buffer with a read position: data[pos..len) holds
 * unconsumed bytes. Capacity grows on demand; callers check their config
 * limit before appending peer-chosen amounts.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_COMMON_BUF_H
#define AM_COMMON_BUF_H

#include <stddef.h>

typedef struct am_buf_s {
    char *data;
    size_t pos; /* first unconsumed byte */
    size_t len; /* end of data */
    size_t cap;
} am_buf_t;

#define am_buf_size(b) ((b)->len - (b)->pos)

/* Make room for at least n more bytes after len (compacting first). */
void am_buf_reserve(am_buf_t *b, size_t n);
void am_buf_append(am_buf_t *b, const void *data, size_t n);
void am_buf_append_str(am_buf_t *b, const char *s);
void am_buf_consume(am_buf_t *b, size_t n);
/* Release the memory when empty (idle connections stay small). */
void am_buf_shrink(am_buf_t *b);
void am_buf_free(am_buf_t *b);

#endif
