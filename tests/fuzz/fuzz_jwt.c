/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_jwt: libFuzzer target over a token's "exp" (lib/kube/jwt.c): split, base64url, JSON. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int64_t exp;
        char err[128];
        char *t = malloc(size + 1);

        if (!t)
                return 0;
        memcpy(t, data, size);
        (void)jwt_exp(t, size, &exp, err, sizeof err);
        free(t);
        return 0;
}
