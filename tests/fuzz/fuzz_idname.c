/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_idname: libFuzzer target over the passwd / group line parser (lib/base/idname.c). The
 * first byte picks the format and the name length; the name is the next bytes, the line the rest
 * (not NUL-terminated, so reads past it are caught). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/idname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char name[32];
        size_t nlen;
        uint32_t id;
        char *line;

        if (size < 1)
                return 0;
        nlen = (data[0] >> 1) % sizeof name;
        if (size < 1 + nlen)
                return 0;
        memcpy(name, data + 1, nlen);
        name[nlen] = 0;
        line = malloc(size - 1 - nlen + 1); /* +1: malloc(0) may be NULL */
        if (!line)
                return 0;
        memcpy(line, data + 1 + nlen, size - 1 - nlen);
        (void)idname_parse_line(line, size - 1 - nlen, name, data[0] & 1, &id);
        free(line);
        return 0;
}
