/* worker/http2_mem.c: nghttp2's allocator. Blocks of 16 KiB and more (a
 * session's outbound frame buffer, one per connection, 16 KiB + 10 bytes)
 * are mapped with mmap(2), so their pages cost memory only once touched:
 * carved from the heap, the block lands on pages an earlier TLS handshake
 * touched and counts whole toward every idle HTTP/2 connection. Smaller
 * blocks come from malloc. Every block carries a 16-byte header with its
 * size, so free and realloc know how it was made.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "worker/http2_mem.h"

#define H2MEM_MAP_MIN ((size_t)16 * 1024)

typedef struct h2mem_hdr_s {
    size_t size;
    size_t mapped; /* 1: from mmap(2) */
} h2mem_hdr_t;

static void *h2mem_malloc(size_t size, void *data);
static void h2mem_free(void *p, void *data);
static void *h2mem_calloc(size_t n, size_t size, void *data);
static void *h2mem_realloc(void *p, size_t size, void *data);

static nghttp2_mem h2mem = { NULL, h2mem_malloc, h2mem_free, h2mem_calloc,
                             h2mem_realloc };

nghttp2_mem *
am_http2_mem_get(void)
{
    return &h2mem;
}

static void *
h2mem_malloc(size_t size, void *data)
{
    h2mem_hdr_t *h;

    if (size > SIZE_MAX - sizeof(*h)) {
        return NULL;
    }
    if (size >= H2MEM_MAP_MIN) {
        h = mmap(NULL, size + sizeof(*h), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (h == MAP_FAILED) {
            return NULL;
        }
        h->mapped = 1;
    } else {
        h = malloc(size + sizeof(*h));
        if (h == NULL) {
            return NULL;
        }
        h->mapped = 0;
    }
    h->size = size;
    return h + 1;
}

static void
h2mem_free(void *p, void *data)
{
    h2mem_hdr_t *h;

    if (p == NULL) {
        return;
    }
    h = (h2mem_hdr_t *)p - 1;
    if (h->mapped) {
        (void)munmap(h, h->size + sizeof(*h));
    } else {
        free(h);
    }
}

static void *
h2mem_calloc(size_t n, size_t size, void *data)
{
    void *p;

    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    p = h2mem_malloc(n * size, data);
    if (p != NULL && n * size < H2MEM_MAP_MIN) {
        memset(p, 0, n * size); /* mapped pages come zeroed */
    }
    return p;
}

static void *
h2mem_realloc(void *p, size_t size, void *data)
{
    h2mem_hdr_t *h;
    void *q;

    if (p == NULL) {
        return h2mem_malloc(size, data);
    }
    h = (h2mem_hdr_t *)p - 1;
    if (!h->mapped && size < H2MEM_MAP_MIN) {
        h = realloc(h, size + sizeof(*h));
        if (h == NULL) {
            return NULL;
        }
        h->size = size;
        return h + 1;
    }
    q = h2mem_malloc(size, data);
    if (q == NULL) {
        return NULL;
    }
    memcpy(q, p, h->size < size ? h->size : size);
    h2mem_free(p, data);
    return q;
}
