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

/* A queue of output bytes in fixed-size chunks: appending never moves or
 * re-allocates what is already queued, consuming a prefix frees whole
 * chunks, and the queue hands out iovecs for writev(2). Short writes on a
 * large queue therefore cost nothing but the bytes actually written.
 * Chunks are recycled through a small per-process free list (the worker
 * is single-threaded), so a busy connection does not page-fault fresh heap
 * for every response. */
#define AM_BUFQ_CHUNK ((size_t)16 * 1024) /* one TLS record's worth */

typedef struct am_bufq_chunk_s am_bufq_chunk_t;

typedef struct am_bufq_s {
    am_bufq_chunk_t *head, *tail;
    size_t size; /* bytes queued */
} am_bufq_t;

struct iovec;

#define am_bufq_size(q) ((q)->size)

void am_bufq_append(am_bufq_t *q, const void *data, size_t n);
/* Up to max iovecs covering the queue's first bytes; returns how many. */
int am_bufq_iov(const am_bufq_t *q, struct iovec *iov, int max);
void am_bufq_consume(am_bufq_t *q, size_t n);
/* Bytes the last chunk can still take without a new chunk (0 if empty). */
size_t am_bufq_tail_room(const am_bufq_t *q);
/* Copy up to n queued bytes to out and consume them; returns the count. */
size_t am_bufq_read(am_bufq_t *q, void *out, size_t n);
/* Move the first n bytes of src (n <= its size) to the end of dst. */
void am_bufq_move(am_bufq_t *dst, am_bufq_t *src, size_t n);
/* Write the queue to socket fd with sendmsg(2) (MSG_NOSIGNAL), up to 64
 * chunks a call, until it is empty (AM_OK), the socket is full (AM_AGAIN)
 * or the call failed (AM_ERROR, errno says why). *sent grows by the bytes
 * written. */
int am_bufq_send(am_bufq_t *q, int fd, size_t *sent);

/* Framed queues (an HTTP/2 stream's body): each chunk starts room bytes
 * in, so a frame header fits before its bytes and the chunk can leave
 * whole. am_bufq_append_framed() appends so; am_bufq_head_len() is how
 * many bytes the first chunk holds (a frame never crosses chunks). */
void am_bufq_append_framed(am_bufq_t *q, const void *data, size_t n,
                           size_t room);
size_t am_bufq_head_len(const am_bufq_t *q);
/* If src's first chunk holds exactly n bytes with hlen bytes free before
 * them: write hd there and move the chunk to the end of dst, no byte
 * copied (returns 1). Otherwise nothing changes (returns 0). */
int am_bufq_splice(am_bufq_t *dst, am_bufq_t *src, size_t n, const void *hd,
                   size_t hlen);
void am_bufq_free(am_bufq_t *q);

#endif
