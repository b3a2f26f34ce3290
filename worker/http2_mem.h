/* worker/http2_mem.h: the allocator nghttp2 sessions use (nghttp2_mem).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_WORKER_HTTP2_MEM_H
#define AM_WORKER_HTTP2_MEM_H

#include <stddef.h>

#include <nghttp2/nghttp2.h>

/* The allocator to pass to nghttp2_session_server_new3(); static, valid
 * for the life of the process. */
nghttp2_mem *am_http2_mem_get(void);

/* Bytes the worker's free lists keep for reuse (at most 1 MiB). */
size_t am_http2_mem_cached(void);
/* Blocks handed out and not yet freed. */
size_t am_http2_mem_live(void);
/* Give every kept block back to malloc; done by itself when the last
 * block handed out is freed. */
void am_http2_mem_trim(void);

#endif
