/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_elfcheck: libFuzzer target over the ELF header / program header walk
 * (lib/agent/elfcheck.c); the buffer is exactly the input, so reads past it are caught. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/elfcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct elfcheck_info i;
        char err[128];
        void *b = malloc(size + 1);

        if (!b)
                return 0;
        memcpy(b, data, size);
        (void)elfcheck_parse(b, size, &i, err, sizeof err);
        free(b);
        return 0;
}
