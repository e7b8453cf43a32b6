/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_cniargs: libFuzzer target over CNI_ARGS parsing (spec istio-cni.md §2.3: "K=V;K=V"). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cni/cni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct cni_args args = {};
        struct cni_error err = {};
        char *s = malloc(size + 1);

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        (void)cni_args_parse(s, &args, &err);
        cni_args_done(&args);
        free(s);
        return 0;
}
