/* tests/unit/worker/test_http2_mem.c: nghttp2's allocator
 * (worker/http2_mem.c): heap blocks, mapped blocks of 16 KiB and more,
 * realloc across the two keeping the bytes, and the pooled small blocks:
 * reuse, zeroing, the bound on what the lists keep.
 */

#include <string.h>

#include "tests/unit/unit.h"
#include "worker/http2_mem.h"

TEST(calloc_is_zeroed_on_both_sides)
{
    nghttp2_mem *m = am_http2_mem_get();
    unsigned char *a = m->calloc(10, 100, m->mem_user_data);
    unsigned char *b = m->calloc(2, 16384, m->mem_user_data);

    ASSERT_TRUE(a != NULL && b != NULL);
    for (size_t i = 0; i < 1000; i++) {
        ASSERT_EQ(a[i], 0);
    }
    ASSERT_EQ(b[0], 0);
    ASSERT_EQ(b[32767], 0);
    m->free(a, m->mem_user_data);
    m->free(b, m->mem_user_data);
    m->free(NULL, m->mem_user_data);
    ASSERT_TRUE(m->calloc((size_t)-1, 2, m->mem_user_data) == NULL);
}

TEST(realloc_keeps_bytes_across_heap_and_map)
{
    nghttp2_mem *m = am_http2_mem_get();
    char *p = m->realloc(NULL, 100, m->mem_user_data);

    ASSERT_TRUE(p != NULL);
    memset(p, 'a', 100);
    p = m->realloc(p, 20000, m->mem_user_data); /* heap -> mapped */
    ASSERT_TRUE(p != NULL);
    ASSERT_EQ(p[99], 'a');
    memset(p + 100, 'b', 19900);
    p = m->realloc(p, 40000, m->mem_user_data); /* mapped -> mapped */
    ASSERT_EQ(p[0], 'a');
    ASSERT_EQ(p[19999], 'b');
    p = m->realloc(p, 50, m->mem_user_data); /* mapped -> heap */
    ASSERT_EQ(p[49], 'a');
    m->free(p, m->mem_user_data);
}

TEST(a_session_runs_on_it)
{
    nghttp2_session_callbacks *cb;
    nghttp2_session *s;
    const uint8_t *out;

    ASSERT_EQ(nghttp2_session_callbacks_new(&cb), 0);
    ASSERT_EQ(
        nghttp2_session_server_new3(&s, cb, NULL, NULL, am_http2_mem_get()), 0);
    ASSERT_EQ(nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
    ASSERT_EQ(nghttp2_session_mem_send(s, &out), 9); /* an empty SETTINGS */
    nghttp2_session_del(s);
    nghttp2_session_callbacks_del(cb);
}

TEST(small_blocks_are_reused_from_their_class)
{
    nghttp2_mem *m = am_http2_mem_get();
    void *keep = m->malloc(8, m->mem_user_data); /* holds the lists */
    void *a, *b, *c;

    a = m->malloc(100, m->mem_user_data);
    ASSERT_TRUE(a != NULL);
    memset(a, 'x', 100);
    m->free(a, m->mem_user_data);
    ASSERT_TRUE(am_http2_mem_cached() > 0);
    b = m->malloc(90, m->mem_user_data); /* same class: same block */
    ASSERT_TRUE(b == a);
    ASSERT_EQ(am_http2_mem_cached(), 0);
    c = m->calloc(1, 90, m->mem_user_data); /* reused blocks are zeroed */
    m->free(c, m->mem_user_data);
    c = m->calloc(1, 100, m->mem_user_data);
    for (size_t i = 0; i < 100; i++) {
        ASSERT_EQ(((unsigned char *)c)[i], 0);
    }
    m->free(b, m->mem_user_data);
    m->free(c, m->mem_user_data);
    m->free(keep, m->mem_user_data);
}

TEST(every_size_keeps_its_bytes_through_realloc)
{
    nghttp2_mem *m = am_http2_mem_get();
    unsigned char *p = NULL;
    size_t prev = 0;

    /* Through every class, across the pooled/heap/mapped boundaries and
     * back down; ASan checks each write stays inside its block. */
    for (size_t n = 1; n <= 20000; n += n < 1100 ? 1 : 997) {
        p = m->realloc(p, n, m->mem_user_data);
        ASSERT_TRUE(p != NULL);
        for (size_t i = 0; i < prev && i < n; i++) {
            ASSERT_EQ(p[i], (unsigned char)i);
        }
        for (size_t i = 0; i < n; i++) {
            p[i] = (unsigned char)i;
        }
        prev = n;
    }
    p = m->realloc(p, 20000, m->mem_user_data);
    for (size_t i = 0; i < 20000; i++) {
        p[i] = (unsigned char)i;
    }
    for (size_t n = 20000; n > 0; n = n > 1100 ? n - 1499 : n - 1) {
        p = m->realloc(p, n, m->mem_user_data);
        ASSERT_TRUE(p != NULL);
        for (size_t i = 0; i < n; i++) {
            ASSERT_EQ(p[i], (unsigned char)i);
        }
    }
    m->free(p, m->mem_user_data);
}

TEST(the_lists_are_bounded_and_emptied_with_the_last_block)
{
    nghttp2_mem *m = am_http2_mem_get();

    enum {
        N = 4096
    };

    static void *blocks[N];

    ASSERT_EQ(am_http2_mem_live(), 0);
    for (size_t i = 0; i < N; i++) {
        blocks[i] = m->malloc(496, m->mem_user_data); /* 512-byte class */
        ASSERT_TRUE(blocks[i] != NULL);
    }
    ASSERT_EQ(am_http2_mem_live(), N);
    for (size_t i = 1; i < N; i++) {
        m->free(blocks[i], m->mem_user_data);
        ASSERT_TRUE(am_http2_mem_cached() <= (size_t)1024 * 1024);
    }
    ASSERT_EQ(am_http2_mem_cached(), (size_t)1024 * 1024);
    m->free(blocks[0], m->mem_user_data);
    ASSERT_EQ(am_http2_mem_live(), 0);
    ASSERT_EQ(am_http2_mem_cached(), 0);
}
