/* common/buf.c: growable byte buffers with a consumed prefix. */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/buf.h"
#include "common/core.h"

/* Buffers of the two common first sizes (a request head, a read) are
 * recycled through small per-process free lists (the worker is
 * single-threaded): an idle connection gives its buffers back, and the
 * next request takes them without a trip through malloc's large bins. */
#define BUF_CACHE_MAX 64 /* per size: at most 1.25 MiB kept */

typedef struct buf_cache_s {
    size_t size;
    size_t n;
    char *list[BUF_CACHE_MAX];
} buf_cache_t;

static buf_cache_t buf_caches[] = { { 4096, 0, { 0 } }, { 16384, 0, { 0 } } };

static buf_cache_t *
buf_cache_find(size_t size)
{
    for (size_t i = 0; i < sizeof(buf_caches) / sizeof(buf_caches[0]); i++) {
        if (buf_caches[i].size == size) {
            return &buf_caches[i];
        }
    }
    return NULL;
}

static void
buf_release(am_buf_t *b)
{
    buf_cache_t *k = buf_cache_find(b->cap);

    if (k != NULL && k->n < BUF_CACHE_MAX) {
        k->list[k->n++] = b->data;
    } else {
        free(b->data);
    }
    b->data = NULL;
    b->cap = b->len = b->pos = 0;
}

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
    if (b->data == NULL) {
        buf_cache_t *k = buf_cache_find(cap);

        if (k != NULL && k->n > 0) {
            b->data = k->list[--k->n];
            b->cap = cap;
            return;
        }
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
        buf_release(b);
    }
}

void
am_buf_free(am_buf_t *b)
{
    if (b->data == NULL) {
        b->cap = b->len = b->pos = 0;
        return;
    }
    buf_release(b);
}

/* Chunk queue. */

struct am_bufq_chunk_s {
    am_bufq_chunk_t *next;
    size_t pos; /* first unconsumed byte */
    size_t len; /* end of data */
    char data[AM_BUFQ_CHUNK];
};

#define BUFQ_FREE_MAX 256 /* chunks kept for reuse: 4 MiB */
#define BUFQ_SEND_IOV 64  /* chunks per sendmsg(2): 1 MiB */

static am_bufq_chunk_t *bufq_free_list;
static size_t bufq_free_count;

static am_bufq_chunk_t *
bufq_chunk_new(void)
{
    am_bufq_chunk_t *k = bufq_free_list;

    if (k != NULL) {
        bufq_free_list = k->next;
        bufq_free_count--;
    } else {
        k = am_alloc(sizeof(*k));
    }
    k->next = NULL;
    k->pos = 0;
    k->len = 0;
    return k;
}

static void
bufq_chunk_release(am_bufq_chunk_t *k)
{
    if (bufq_free_count >= BUFQ_FREE_MAX) {
        free(k);
        return;
    }
    k->next = bufq_free_list;
    bufq_free_list = k;
    bufq_free_count++;
}

void
am_bufq_append(am_bufq_t *q, const void *data, size_t n)
{
    am_bufq_append_framed(q, data, n, 0);
}

int
am_bufq_iov(const am_bufq_t *q, struct iovec *iov, int max)
{
    const am_bufq_chunk_t *k;
    int i = 0;

    for (k = q->head; k != NULL && i < max; k = k->next) {
        iov[i].iov_base = (char *)k->data + k->pos;
        iov[i].iov_len = k->len - k->pos;
        i++;
    }
    return i;
}

void
am_bufq_consume(am_bufq_t *q, size_t n)
{
    am_bufq_chunk_t *k;
    size_t take;

    AM_ASSERT(n <= q->size);
    q->size -= n;
    while (n > 0) {
        k = q->head;
        AM_ASSERT(k != NULL); /* q->size counts only queued chunks */
        take = am_min(k->len - k->pos, n);
        k->pos += take;
        n -= take;
        if (k->pos == k->len) {
            q->head = k->next;
            if (q->head == NULL) {
                q->tail = NULL;
            }
            bufq_chunk_release(k);
        }
    }
}

size_t
am_bufq_tail_room(const am_bufq_t *q)
{
    return q->tail != NULL ? AM_BUFQ_CHUNK - q->tail->len : 0;
}

size_t
am_bufq_read(am_bufq_t *q, void *out, size_t n)
{
    char *p = out;
    am_bufq_chunk_t *k;
    size_t done = 0, take;

    while (done < n && (k = q->head) != NULL) {
        take = am_min(k->len - k->pos, n - done);
        memcpy(p + done, k->data + k->pos, take);
        done += take;
        am_bufq_consume(q, take);
    }
    return done;
}

void
am_bufq_move(am_bufq_t *dst, am_bufq_t *src, size_t n)
{
    am_bufq_chunk_t *k;
    size_t take;

    AM_ASSERT(n <= src->size);
    while (n > 0) {
        k = src->head;
        take = am_min(k->len - k->pos, n);
        am_bufq_append(dst, k->data + k->pos, take);
        am_bufq_consume(src, take);
        n -= take;
    }
}

void
am_bufq_append_framed(am_bufq_t *q, const void *data, size_t n, size_t room)
{
    const char *p = data;
    am_bufq_chunk_t *k;
    size_t take;

    AM_ASSERT(room < AM_BUFQ_CHUNK);
    while (n > 0) {
        k = q->tail;
        if (k == NULL || k->len == AM_BUFQ_CHUNK) {
            k = bufq_chunk_new();
            k->pos = k->len = room;
            if (q->tail != NULL) {
                q->tail->next = k;
            } else {
                q->head = k;
            }
            q->tail = k;
        }
        take = am_min(AM_BUFQ_CHUNK - k->len, n);
        memcpy(k->data + k->len, p, take);
        k->len += take;
        q->size += take;
        p += take;
        n -= take;
    }
}

size_t
am_bufq_head_len(const am_bufq_t *q)
{
    return q->head != NULL ? q->head->len - q->head->pos : 0;
}

int
am_bufq_splice(am_bufq_t *dst, am_bufq_t *src, size_t n, const void *hd,
               size_t hlen)
{
    am_bufq_chunk_t *k = src->head;

    if (k == NULL || k->len - k->pos != n || k->pos < hlen) {
        return 0;
    }
    src->head = k->next;
    if (src->head == NULL) {
        src->tail = NULL;
    }
    src->size -= n;
    k->pos -= hlen;
    memcpy(k->data + k->pos, hd, hlen);
    k->next = NULL;
    if (dst->tail != NULL) {
        dst->tail->next = k;
    } else {
        dst->head = k;
    }
    dst->tail = k;
    dst->size += n + hlen;
    return 1;
}

void
am_bufq_free(am_bufq_t *q)
{
    am_bufq_chunk_t *k, *next;

    for (k = q->head; k != NULL; k = next) {
        next = k->next;
        bufq_chunk_release(k);
    }
    q->head = q->tail = NULL;
    q->size = 0;
}

int
am_bufq_send(am_bufq_t *q, int fd, size_t *sent)
{
    struct iovec iov[BUFQ_SEND_IOV];
    struct msghdr msg = { 0 };
    ssize_t n;

    msg.msg_iov = iov;
    while (am_bufq_size(q) > 0) {
        /* sendmsg(2), not writev(2): MSG_NOSIGNAL. */
        msg.msg_iovlen = (size_t)am_bufq_iov(q, iov, BUFQ_SEND_IOV);
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN ? AM_AGAIN : AM_ERROR;
        }
        am_bufq_consume(q, (size_t)n);
        *sent += (size_t)n;
    }
    return AM_OK;
}
