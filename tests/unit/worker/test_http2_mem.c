/* tests/unit/worker/test_http2_mem.c: nghttp2's allocator
 * (worker/http2_mem.c): heap blocks, mapped blocks of 16 KiB and more,
 * and realloc across the two keeping the bytes.
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
