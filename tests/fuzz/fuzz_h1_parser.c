/* tests/fuzz/fuzz_h1_parser.c: libFuzzer target for the HTTP/1.1 request
 * parser (worker/h1_parser.c), differential on segmentation: each input is
 * parsed whole, then arriving in three pieces cut at points the first
 * bytes choose, then byte by byte (short inputs); the verdict, the error,
 * the bytes used and every field, body byte and trailer must be the same.
 * Each piece is given in a buffer of its exact size, so ASan sees a read
 * past what has arrived. Invariants of a parsed head are checked too.
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/h1_parser.h"

#define H1_RESULT_TEXT 16384
#include "tests/common/h1_result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFIELDS 32

static am_h1_limits_t limits;

/* in[0, len) arrives in pieces ending at cuts[]; each call sees a copy of
 * exactly what has arrived. */
static void
run(const char *all, size_t len, const size_t *cuts, size_t ncuts, result_t *r)
{
    am_h1_parser_t p;
    am_h1_field_t fields[NFIELDS], trailers[8];
    size_t avail, k = 0, pos, used, dlen, i;
    const char *d;
    char *in = NULL;
    int rc;

    memset(r, 0, sizeof(*r));
    am_h1_parser_init(&p, &limits);
    p.trailers = trailers;
    p.trailers_cap = 4; /* fewer than allowed: the rest is dropped */
    avail = ncuts ? cuts[0] : len;
    in = malloc(avail ? avail : 1);
    memcpy(in, all, avail);
    for (;;) {
        rc = am_h1_parser_head(&p, in, avail, fields, NFIELDS);
        if (rc != AM_AGAIN || avail == len) {
            break;
        }
        avail = ++k < ncuts ? cuts[k] : len;
        free(in);
        in = malloc(avail);
        memcpy(in, all, avail);
    }
    r->rc = rc;
    r->error = p.error;
    if (rc != AM_OK) {
        free(in);
        return;
    }
    /* Invariants of a head. */
    if (p.head_len > avail || p.req.nfields > NFIELDS ||
        p.req.method_len == 0 || p.req.target_len == 0 ||
        memchr(in + p.req.target_off, '#', p.req.target_len) ||
        (p.req.minor != 0 && p.req.minor != 1) ||
        (p.req.minor == 1 && p.req.host == -1)) {
        abort();
    }
    for (i = 0; i < p.req.nfields; i++) {
        const am_h1_field_t *f = &fields[i];

        if (f->name_len == 0 || f->name_off + f->name_len > p.head_len ||
            f->value_off + f->value_len > p.head_len ||
            memchr(in + f->value_off, '\r', f->value_len) ||
            memchr(in + f->value_off, '\n', f->value_len) ||
            memchr(in + f->value_off, '\0', f->value_len) ||
            memchr(in + f->name_off, ':', f->name_len)) {
            abort();
        }
        say(r, "[%.*s=%.*s:%d]", (int)f->name_len, in + f->name_off,
            (int)f->value_len, in + f->value_off, f->token);
    }
    say(r, "%.*s|%.*s|%d|%d|%u,%u|%d,%u,%u|%u,%u|%u|%d/%llu|%d%d%d%zu<",
        (int)p.req.method_len, in + p.req.method_off, (int)p.req.target_len,
        in + p.req.target_off, p.req.minor, p.req.form, p.req.path_off,
        p.req.path_len, p.req.has_query, p.req.query_off, p.req.query_len,
        p.req.authority_off, p.req.authority_len, p.req.flags, p.req.body,
        (unsigned long long)p.req.content_length, p.req.host, p.req.upgrade,
        p.req.http2_settings, p.req.nhttp2_settings);
    pos = p.head_len;
    for (;;) {
        rc = am_h1_parser_body(&p, in + pos, avail - pos, &used, &d, &dlen);
        if (used > avail - pos ||
            (dlen > 0 && (d < in + pos || d + dlen > in + pos + used))) {
            abort();
        }
        put(r, d, dlen);
        if (rc == AM_DONE) {
            say(r, ">");
            for (i = 0; i < p.ntrailers; i++) {
                if (trailers[i].name_off + trailers[i].name_len > used ||
                    trailers[i].value_off + trailers[i].value_len > used) {
                    abort();
                }
                say(r, "{%.*s=%.*s}", (int)trailers[i].name_len,
                    in + pos + trailers[i].name_off, (int)trailers[i].value_len,
                    in + pos + trailers[i].value_off);
            }
        }
        pos += used;
        if (rc == AM_OK) {
            continue;
        }
        if (rc == AM_AGAIN && avail < len) {
            avail = ++k < ncuts ? cuts[k] : len;
            /* A fresh exact-size copy: the buffer may move, as a
             * connection's does; positions stay those of all[]. */
            free(in);
            in = malloc(avail);
            memcpy(in, all, avail);
            continue;
        }
        break;
    }
    free(in);
    r->rc = rc == AM_DONE ? AM_OK : rc;
    r->error = p.error;
    r->used = pos;
}

static void
same(const result_t *a, const result_t *b)
{
    if (a->rc != b->rc || a->error != b->error || a->used != b->used ||
        a->len != b->len || memcmp(a->text, b->text, a->len) != 0) {
        fprintf(stderr, "whole: rc %d err %d used %zu %s\n", a->rc, a->error,
                a->used, a->text);
        fprintf(stderr, "split: rc %d err %d used %zu %s\n", b->rc, b->error,
                b->used, b->text);
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static result_t whole, split;
    const char *in;
    size_t len, cuts[2], one[512], i;

    if (size < 3) {
        return 0;
    }
    /* Small limits so that each is reached; the first byte varies them. */
    limits.max_method = 4 + (data[0] & 7) * 4;
    limits.max_target = 16 + (data[0] >> 3) * 16;
    limits.max_fields = 1 + (data[0] & 15);
    limits.max_fields_size = 64 + (size_t)(data[0] >> 4) * 64;
    limits.max_chunk_ext = 8 + (data[0] & 31);
    limits.max_chunk_ext_total = 32 + (data[0] & 63) * 4;
    limits.max_trailer_size = 32 + (data[0] & 127);
    limits.max_trailer_fields = 1 + (data[0] & 7);
    in = (const char *)data + 3;
    len = size - 3;
    cuts[0] = len ? data[1] % (len + 1) : 0;
    cuts[1] = len ? data[2] % (len + 1) : 0;
    if (cuts[0] > cuts[1]) {
        size_t t = cuts[0];

        cuts[0] = cuts[1];
        cuts[1] = t;
    }
    run(in, len, NULL, 0, &whole);
    run(in, len, cuts, 2, &split);
    same(&whole, &split);
    if (len > 1 && len <= sizeof(one) / sizeof(one[0])) {
        for (i = 1; i < len; i++) {
            one[i - 1] = i;
        }
        run(in, len, one, len - 1, &split);
        same(&whole, &split);
    }
    return 0;
}
