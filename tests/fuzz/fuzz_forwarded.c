/* tests/fuzz/fuzz_forwarded.c: libFuzzer target for forwarded_allow_ips
 * and the Forwarded / X-Forwarded-* walk (common/forwarded.c). The first
 * byte picks the trust settings and mode, the rest is split into the three
 * header values at two 0xff bytes; CIDR strings are fuzzed too.
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/forwarded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
copy(const uint8_t *p, size_t n)
{
    char *s = malloc(n ? n : 1); /* exact size: ASan sees overreads */

    if (s != NULL && n > 0) {
        memcpy(s, p, n);
    }
    return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *nets[] = { "127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8",
                                  "192.0.2.0/25" };
    am_cidr_t trusted[5], c;
    am_forwarded_in_t in;
    am_forwarded_out_t out;
    const uint8_t *p, *end, *cut[2];
    char *part[3], cidr[64];
    size_t ntrusted = 0, len[3];
    int rc, flags, k = 0;

    if (size == 0) {
        return 0;
    }
    flags = data[0];
    p = data + 1;
    end = data + size;

    for (size_t i = 0; i < 5; i++) {
        if (flags & (1 << i) &&
            am_cidr_parse(nets[i], strlen(nets[i]), &trusted[ntrusted]) == AM_OK) {
            ntrusted++;
        }
    }

    /* The input as a CIDR string too (NUL-terminated, bounded). */
    if ((size_t)(end - p) < sizeof(cidr)) {
        memcpy(cidr, p, (size_t)(end - p));
        cidr[end - p] = '\0';
        if (am_cidr_parse(cidr, strlen(cidr), &c) == AM_OK) {
            if ((c.family != AF_INET && c.family != AF_INET6) || c.prefix < 0 ||
                c.prefix > (c.family == AF_INET ? 32 : 128)) {
                abort();
            }
        }
    }

    for (const uint8_t *q = p; q < end && k < 2; q++) {
        if (*q == 0xff) {
            cut[k++] = q;
        }
    }
    if (k < 2) {
        part[0] = copy(p, (size_t)(end - p));
        len[0] = (size_t)(end - p);
        part[1] = copy(p, (size_t)(end - p));
        len[1] = len[0];
        part[2] = copy(p, 0);
        len[2] = 0;
    } else {
        part[0] = copy(p, (size_t)(cut[0] - p));
        len[0] = (size_t)(cut[0] - p);
        part[1] = copy(cut[0] + 1, (size_t)(cut[1] - cut[0] - 1));
        len[1] = (size_t)(cut[1] - cut[0] - 1);
        part[2] = copy(cut[1] + 1, (size_t)(end - cut[1] - 1));
        len[2] = (size_t)(end - cut[1] - 1);
    }
    if (part[0] == NULL || part[1] == NULL || part[2] == NULL) {
        goto done;
    }

    memset(&in, 0, sizeof(in));
    in.forwarded = (flags & 0x20) ? NULL : part[0];
    in.forwarded_len = (flags & 0x20) ? 0 : len[0];
    in.xff = part[1];
    in.xff_len = len[1];
    in.xfp = part[2];
    in.xfp_len = len[2];
    in.mode = (flags >> 6) % 3;

    rc = am_forwarded_resolve(&in, trusted, ntrusted, flags & 0x10, &out);
    if (rc != AM_OK && rc != AM_ERROR) {
        abort();
    }
    if (rc == AM_ERROR && (out.has_host || out.has_scheme)) {
        abort();
    }
    if (out.has_host) {
        unsigned char a[16];

        if (memchr(out.host, '\0', sizeof(out.host)) == NULL ||
            (inet_pton(AF_INET, out.host, a) != 1 &&
             inet_pton(AF_INET6, out.host, a) != 1) ||
            out.port < 0 || out.port > 65535) {
            abort();
        }
    }
    if (out.has_scheme && strcmp(out.scheme, "http") != 0 &&
        strcmp(out.scheme, "https") != 0 && strcmp(out.scheme, "ws") != 0 &&
        strcmp(out.scheme, "wss") != 0) {
        abort();
    }

done:
    free(part[0]);
    free(part[1]);
    free(part[2]);
    return 0;
}
