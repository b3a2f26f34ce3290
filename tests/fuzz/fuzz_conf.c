/* tests/fuzz/fuzz_conf.c: libFuzzer target for the config loader
 * (common/conf_*.c on libyaml). Any input must end in AM_OK or AM_ERROR with
 * a message that names a position, never a crash, a leak or an overread;
 * a file that loads must also pass or fail am_conf_finish() cleanly.
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    am_conf_t *conf;
    char *yaml;

    am_log_level = -1; /* quiet: errors come back in err */
    yaml = malloc(size + 1);
    if (yaml == NULL) {
        return 0;
    }
    memcpy(yaml, data, size);
    yaml[size] = '\0';

    conf = am_conf_create();
    err[0] = '\0';
    if (am_conf_load_string(conf, "fuzz.yaml", yaml, size, err,
                            sizeof(err)) == AM_OK) {
        if (am_conf_finish(conf, err, sizeof(err)) != AM_OK &&
            err[0] == '\0') {
            abort(); /* an error must say what is wrong */
        }
    } else if (err[0] == '\0') {
        abort();
    }
    am_conf_destroy(conf);
    free(yaml);
    return 0;
}
