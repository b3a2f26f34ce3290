/* worker/http2_mem.c: nghttp2's allocator. Every block carries a 16-byte
 * header with its size and kind, so free and realloc know how it was made:
 *
 * - Small blocks (the per-stream and per-frame objects nghttp2 makes and
 *   drops for every request: streams, outbound items, header copies,
 *   rcbufs) come from size classes with a free list each, per worker (the
 *   worker is single-threaded). Under h2load -c64 -m16 a thousand streams
 *   are open in one loop turn, far past malloc's per-thread cache, and
 *   every miss was a trip through its bins (14% of the worker's time).
 *   What the lists keep is bounded (H2MEM_CACHE_MAX, per worker, not per
 *   connection), and all of it goes back to malloc once the worker holds
 *   no block at all (its last HTTP/2 connection closed).
 * - Blocks of 16 KiB and more (a session's outbound frame buffer, one per
 *   connection, 16 KiB + 10 bytes) are mapped with mmap(2), so their pages
 *   cost memory only once touched: carved from the heap, the block lands
 *   on pages an earlier TLS handshake touched and counts whole toward
 *   every idle HTTP/2 connection.
 * - The rest comes from malloc.
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "worker/http2_mem.h"

/* Under ASan a block on a free list is poisoned past its link, so a use
 * after free is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define H2MEM_POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define H2MEM_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define H2MEM_POISON(p, n)   ((void)(p), (void)(n))
#define H2MEM_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define H2MEM_MAP_MIN ((size_t)16 * 1024)
/* Classes 32, 48, 64, 96 ... 768, 1024 bytes, header included: a
 * session's own large structures stay exact-size malloc blocks (idle
 * connections pay no rounding). */
#define H2MEM_CLASS_MAX ((size_t)1024)
#define H2MEM_CLASSES   11
#define H2MEM_CACHE_MAX ((size_t)1024 * 1024) /* bytes the lists keep */

enum {
    H2MEM_HEAP,
    H2MEM_MAPPED,
    H2MEM_POOLED
};

typedef struct h2mem_hdr_s {
    size_t size;   /* asked for */
    uint32_t kind; /* H2MEM_* */
    uint32_t cls;  /* class index (pooled) */
} h2mem_hdr_t;

typedef struct h2mem_free_s h2mem_free_t;

struct h2mem_free_s {
    h2mem_free_t *next;
};

static size_t h2mem_class_size(size_t cls);
static void *h2mem_malloc(size_t size, void *data);
static void h2mem_free(void *p, void *data);
static void *h2mem_calloc(size_t n, size_t size, void *data);
static void *h2mem_realloc(void *p, size_t size, void *data);

static nghttp2_mem h2mem = { NULL, h2mem_malloc, h2mem_free, h2mem_calloc,
                             h2mem_realloc };

static h2mem_free_t *h2mem_lists[H2MEM_CLASSES];
static size_t h2mem_cached; /* bytes on the lists */
static size_t h2mem_live;   /* blocks handed out, all kinds */

nghttp2_mem *
am_http2_mem_get(void)
{
    return &h2mem;
}

size_t
am_http2_mem_cached(void)
{
    return h2mem_cached;
}

size_t
am_http2_mem_live(void)
{
    return h2mem_live;
}

void
am_http2_mem_trim(void)
{
    h2mem_free_t *f;

    for (size_t i = 0; i < H2MEM_CLASSES; i++) {
        while ((f = h2mem_lists[i]) != NULL) {
            h2mem_lists[i] = f->next;
            H2MEM_UNPOISON(f, h2mem_class_size(i));
            free(f);
        }
    }
    h2mem_cached = 0;
}

/* The class of a block of total bytes (header included): 32, 48, 64, 96,
 * 128 ... each power of two and the half-way point above it. */
static size_t
h2mem_class(size_t total)
{
    unsigned b;

    if (total <= 32) {
        return 0;
    }
    b = 64 - (unsigned)__builtin_clzll((unsigned long long)(total - 1));
    /* 2^(b-1) < total <= 2^b */
    if (total <= ((size_t)3 << (b - 2))) {
        return (2 * (size_t)(b - 6)) + 1;
    }
    return 2 * (size_t)(b - 5);
}

static size_t
h2mem_class_size(size_t cls)
{
    size_t base = (size_t)32 << (cls / 2);

    return cls & 1 ? base + base / 2 : base;
}

static void *
h2mem_malloc(size_t size, void *data)
{
    h2mem_hdr_t *h;
    size_t total, cls;

    (void)data;
    if (size > SIZE_MAX - sizeof(*h)) {
        return NULL;
    }
    total = size + sizeof(*h);
    if (total <= H2MEM_CLASS_MAX) {
        cls = h2mem_class(total);
        h = (h2mem_hdr_t *)h2mem_lists[cls];
        if (h != NULL) {
            H2MEM_UNPOISON(h, h2mem_class_size(cls));
            h2mem_lists[cls] = ((h2mem_free_t *)h)->next;
            if (h2mem_lists[cls] != NULL) {
                /* The next block's link is read on the next pop: under
                 * load the list is long and cold. */
                __builtin_prefetch(h2mem_lists[cls], 1);
            }
            h2mem_cached -= h2mem_class_size(cls);
        } else {
            h = malloc(h2mem_class_size(cls));
            if (h == NULL) {
                return NULL;
            }
        }
        h->kind = H2MEM_POOLED;
        h->cls = (uint32_t)cls;
    } else if (size >= H2MEM_MAP_MIN) {
        h = mmap(NULL, total, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (h == MAP_FAILED) {
            return NULL;
        }
        h->kind = H2MEM_MAPPED;
    } else {
        h = malloc(total);
        if (h == NULL) {
            return NULL;
        }
        h->kind = H2MEM_HEAP;
    }
    h->size = size;
    h2mem_live++;
    return h + 1;
}

static void
h2mem_free(void *p, void *data)
{
    h2mem_hdr_t *h;
    size_t csize;

    (void)data;
    if (p == NULL) {
        return;
    }
    h = (h2mem_hdr_t *)p - 1;
    h2mem_live--;
    switch (h->kind) {
    case H2MEM_POOLED:
        csize = h2mem_class_size(h->cls);
        if (h2mem_cached + csize <= H2MEM_CACHE_MAX) {
            ((h2mem_free_t *)h)->next = h2mem_lists[h->cls];
            h2mem_lists[h->cls] = (h2mem_free_t *)h;
            h2mem_cached += csize;
            H2MEM_POISON((char *)h + sizeof(h2mem_free_t),
                         csize - sizeof(h2mem_free_t));
        } else {
            free(h);
        }
        break;
    case H2MEM_MAPPED:
        (void)munmap(h, h->size + sizeof(*h));
        break;
    default:
        free(h);
        break;
    }
    if (h2mem_live == 0) {
        am_http2_mem_trim(); /* no session left: give it all back */
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
    if (p != NULL && ((h2mem_hdr_t *)p - 1)->kind != H2MEM_MAPPED) {
        memset(p, 0, n * size); /* mapped pages come zeroed */
    }
    return p;
}

static void *
h2mem_realloc(void *p, size_t size, void *data)
{
    h2mem_hdr_t *h;
    size_t old;
    void *q;

    if (p == NULL) {
        return h2mem_malloc(size, data);
    }
    h = (h2mem_hdr_t *)p - 1;
    old = h->size;
    if (h->kind == H2MEM_POOLED && size <= SIZE_MAX - sizeof(*h) &&
        size + sizeof(*h) <= h2mem_class_size(h->cls) &&
        size + sizeof(*h) > h2mem_class_size(h->cls) / 2) {
        h->size = size; /* still fits its class */
        return p;
    }
    if (h->kind == H2MEM_HEAP && size > H2MEM_CLASS_MAX &&
        size < H2MEM_MAP_MIN) {
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
    memcpy(q, p, old < size ? old : size);
    h2mem_free(p, data);
    return q;
}
