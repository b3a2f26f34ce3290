/* worker/ctx.c: the one worker context (worker/ctx.h). */

#include "worker/ctx.h"

am_ctx_t am_ctx;
