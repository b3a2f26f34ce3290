/* worker/http2_mem.h: the allocator nghttp2 sessions use (nghttp2_mem).
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_WORKER_HTTP2_MEM_H
#define AM_WORKER_HTTP2_MEM_H

#include <nghttp2/nghttp2.h>

/* The allocator to pass to nghttp2_session_server_new3(); static, valid
 * for the life of the process. */
nghttp2_mem *am_http2_mem_get(void);

#endif
