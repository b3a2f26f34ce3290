/* common/buf.c: growable byte buffers with a consumed prefix. */

#include <string.h>

#include "common/buf.h"
#include "common/core.h"

void
am_buf_reserve(am_buf_t *b, size_t n)
{
    size_t need, cap;

    if (b->cap - b->len >= n) {
        return;
    }
    if (b->pos > 0) {
        memmove(b->data, b->data + b->pos, b->len - b->pos);
        b->len -= b->pos;
        b->pos = 0;
        if (b->cap - b->len >= n) {
            return;
        }
    }
    need = b->len + n;
    cap = b->cap ? b->cap : 4096;
    while (cap < need) {
        cap *= 2;
    }
    b->data = am_realloc(b->data, cap);
    b->cap = cap;
}

void
am_buf_append(am_buf_t *b, const void *data, size_t n)
{
    if (n == 0) {
        return;
    }
    am_buf_reserve(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

void
am_buf_append_str(am_buf_t *b, const char *s)
{
    am_buf_append(b, s, strlen(s));
}

void
am_buf_consume(am_buf_t *b, size_t n)
{
    AM_ASSERT(n <= b->len - b->pos);
    b->pos += n;
    if (b->pos == b->len) {
        b->pos = 0;
        b->len = 0;
    }
}

void
am_buf_shrink(am_buf_t *b)
{
    if (b->len == b->pos && b->cap > 0) {
        free(b->data);
        b->data = NULL;
        b->cap = b->len = b->pos = 0;
    }
}

void
am_buf_free(am_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->cap = b->len = b->pos = 0;
}
