/* tests/unit/common/test_buf.c: the byte buffer and the output chunk
 * queue (common/buf.c): an emptied buffer holds no memory, and the queue's
 * tail room is what a direct TLS write tops up to a whole record
 * (worker/conn.c).
 */

#include <string.h>
#include <sys/uio.h>

#include "common/buf.h"
#include "tests/unit/unit.h"

TEST(shrink_frees_an_empty_buffer_only)
{
    am_buf_t b = { 0 };

    am_buf_append(&b, "abc", 3);
    am_buf_shrink(&b);
    ASSERT_TRUE(b.data != NULL); /* bytes still unread */
    am_buf_consume(&b, 3);
    am_buf_shrink(&b);
    ASSERT_TRUE(b.data == NULL);
    ASSERT_EQ(b.cap, 0);
    am_buf_free(&b);
}

TEST(tail_room_is_the_last_chunk_free_space)
{
    static char big[AM_BUFQ_CHUNK + 100];
    am_bufq_t q = { 0 };
    struct iovec iov[4];

    ASSERT_EQ(am_bufq_tail_room(&q), 0);
    am_bufq_append(&q, "head", 4);
    ASSERT_EQ(am_bufq_tail_room(&q), AM_BUFQ_CHUNK - 4);
    /* Topped up to one whole chunk: one iovec of a full record. */
    am_bufq_append(&q, big, am_bufq_tail_room(&q));
    ASSERT_EQ(am_bufq_tail_room(&q), 0);
    ASSERT_EQ(am_bufq_iov(&q, iov, 4), 1);
    ASSERT_EQ(iov[0].iov_len, AM_BUFQ_CHUNK);
    am_bufq_append(&q, big, sizeof(big));
    ASSERT_EQ(am_bufq_tail_room(&q), AM_BUFQ_CHUNK - 100);
    /* Consuming the head does not change the tail's room. */
    am_bufq_consume(&q, AM_BUFQ_CHUNK + 10);
    ASSERT_EQ(am_bufq_tail_room(&q), AM_BUFQ_CHUNK - 100);
    am_bufq_free(&q);
    ASSERT_EQ(am_bufq_tail_room(&q), 0);
}

TEST(released_buffers_of_common_sizes_are_reused)
{
    am_buf_t a = { 0 }, b = { 0 };
    char *p;

    am_buf_reserve(&a, 16384); /* a read buffer */
    p = a.data;
    am_buf_shrink(&a);
    am_buf_reserve(&b, 16384);
    ASSERT_TRUE(b.data == p);
    am_buf_append(&b, "x", 1);
    am_buf_reserve(&b, 40000); /* grown past the cached sizes */
    ASSERT_EQ(b.cap, 65536);
    ASSERT_EQ(b.data[0], 'x');
    am_buf_free(&b);
    am_buf_free(&a); /* already empty */
    ASSERT_TRUE(a.data == NULL);
}

TEST(move_takes_a_prefix_across_chunks_in_order)
{
    static char src_bytes[AM_BUFQ_CHUNK * 2 + 500];
    static char out[sizeof(src_bytes) + 9];
    am_bufq_t src = { 0 }, dst = { 0 };
    size_t i;

    for (i = 0; i < sizeof(src_bytes); i++) {
        src_bytes[i] = (char)(i * 7);
    }
    am_bufq_append(&src, src_bytes, sizeof(src_bytes));
    am_bufq_consume(&src, 100); /* the head chunk is partly read */
    am_bufq_append(&dst, "framehead", 9);
    /* A DATA frame's body: across the head chunk's end. */
    am_bufq_move(&dst, &src, AM_BUFQ_CHUNK);
    ASSERT_EQ(am_bufq_size(&dst), AM_BUFQ_CHUNK + 9);
    ASSERT_EQ(am_bufq_size(&src), sizeof(src_bytes) - 100 - AM_BUFQ_CHUNK);
    ASSERT_EQ(am_bufq_read(&dst, out, sizeof(out)), AM_BUFQ_CHUNK + 9);
    ASSERT_TRUE(memcmp(out, "framehead", 9) == 0);
    ASSERT_TRUE(memcmp(out + 9, src_bytes + 100, AM_BUFQ_CHUNK) == 0);
    /* The rest, then nothing. */
    am_bufq_move(&dst, &src, am_bufq_size(&src));
    ASSERT_EQ(am_bufq_size(&src), 0);
    ASSERT_TRUE(src.head == NULL && src.tail == NULL);
    ASSERT_EQ(am_bufq_read(&dst, out, sizeof(out)),
              sizeof(src_bytes) - 100 - AM_BUFQ_CHUNK);
    ASSERT_TRUE(memcmp(out, src_bytes + 100 + AM_BUFQ_CHUNK,
                       sizeof(src_bytes) - 100 - AM_BUFQ_CHUNK) == 0);
    am_bufq_move(&dst, &src, 0);
    ASSERT_EQ(am_bufq_size(&dst), 0);
    am_bufq_free(&dst);
}

TEST(a_whole_framed_chunk_is_spliced_with_its_header)
{
    static char body[AM_BUFQ_CHUNK * 2];
    static char out[AM_BUFQ_CHUNK];
    am_bufq_t src = { 0 }, dst = { 0 };
    size_t payload = AM_BUFQ_CHUNK - 9;
    const void *first;
    struct iovec iov[4];

    memset(body, 'b', sizeof(body));
    am_bufq_append_framed(&src, body, payload + 10, 9);
    am_bufq_append_framed(&src, body, 20, 9); /* fills the second chunk */
    ASSERT_EQ(am_bufq_size(&src), payload + 30);
    ASSERT_EQ(am_bufq_head_len(&src), payload);
    am_bufq_append(&dst, "x", 1);
    first = src.head;
    /* Not the whole chunk: refused, nothing moved. */
    ASSERT_EQ(am_bufq_splice(&dst, &src, payload - 1, "HHHHHHHHH", 9), 0);
    ASSERT_EQ(am_bufq_size(&src), payload + 30);
    ASSERT_EQ(am_bufq_size(&dst), 1);
    /* The whole chunk: it moves, the header in its room. */
    ASSERT_EQ(am_bufq_splice(&dst, &src, payload, "HHHHHHHHH", 9), 1);
    ASSERT_TRUE((const void *)dst.tail == first);
    ASSERT_EQ(am_bufq_size(&dst), 1 + 9 + payload);
    ASSERT_EQ(am_bufq_size(&src), 30);
    ASSERT_EQ(am_bufq_iov(&dst, iov, 4), 2);
    ASSERT_EQ(iov[1].iov_len, AM_BUFQ_CHUNK); /* one whole TLS record */
    ASSERT_EQ(am_bufq_read(&dst, out, 10), 10);
    ASSERT_TRUE(memcmp(out, "xHHHHHHHHH", 10) == 0);
    /* A chunk read into leaves room before its rest: spliced too. */
    am_bufq_consume(&src, 12);
    ASSERT_EQ(am_bufq_splice(&dst, &src, 18, "hhhhhhhhh", 9), 1);
    ASSERT_EQ(am_bufq_size(&src), 0);
    ASSERT_TRUE(src.head == NULL && src.tail == NULL);
    am_bufq_consume(&dst, payload);
    ASSERT_EQ(am_bufq_read(&dst, out, sizeof(out)), 27);
    ASSERT_TRUE(memcmp(out, "hhhhhhhhhbbbbbbbbbbbbbbbbbb", 27) == 0);
    am_bufq_free(&dst);
}
