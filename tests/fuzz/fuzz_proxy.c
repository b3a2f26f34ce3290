/* tests/fuzz/fuzz_proxy.c: libFuzzer target for the PROXY protocol parser
 * (common/proxy.c). Each input is parsed whole and at every split point a
 * reader could see, checking the invariants of am_proxy_parse().
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "common/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_proxy_result_t r, r2;
    size_t consumed, consumed2;
    int rc, rc2;

    /* Copy to an exact-size heap block so ASan catches any overread. */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }
    for (size_t i = 0; i < size; i++) {
        buf[i] = (char)data[i];
    }

    rc = am_proxy_parse(buf, size, &r, &consumed);
    if (rc == AM_OK) {
        if (consumed == 0 || consumed > size || consumed > AM_PROXY_MAX) {
            abort();
        }
        if (r.error != NULL) {
            abort();
        }
        if (!r.local && r.family != AF_INET && r.family != AF_INET6) {
            abort();
        }
        if (!r.local && r.src.ss_family != r.family) {
            abort();
        }
        /* The same header alone parses the same way. */
        rc2 = am_proxy_parse(buf, consumed, &r2, &consumed2);
        if (rc2 != AM_OK || consumed2 != consumed) {
            abort();
        }
    } else if (rc == AM_ERROR) {
        if (r.error == NULL || consumed != 0) {
            abort();
        }
    } else if (rc == AM_AGAIN) {
        if (consumed != 0 || size >= AM_PROXY_MAX) {
            abort();
        }
    } else {
        abort();
    }

    /* Monotonic: a prefix of an accepted or pending input is never an
     * error, and an error stays an error with more bytes. */
    for (size_t n = 0; n < size && n < 256; n++) {
        rc2 = am_proxy_parse(buf, n, &r2, &consumed2);
        if (rc2 == AM_OK) {
            /* a shorter complete header: then the whole input agrees */
            if (rc != AM_OK || consumed2 != consumed) {
                abort();
            }
            break;
        }
        if (rc2 == AM_ERROR && rc != AM_ERROR) {
            abort();
        }
    }

    free(buf);
    return 0;
}
