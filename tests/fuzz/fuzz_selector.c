/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_selector: libFuzzer target over lib/kube/selector.c. The first byte picks label ('L' or
 * anything but 'F') or field ('F') syntax; the rest is the selector, matched against a fixed Pod
 * when it parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static cJSON *pod;
        struct selector *sel = NULL;
        char err[256], *s;
        int r;

        if (size < 1)
                return 0;
        if (!pod)
                pod = cJSON_Parse("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"labels\":{\"app\":\"web\",\"n\":\"5\"}},"
                                  "\"spec\":{\"hostNetwork\":true},\"status\":{\"phase\":\"Running\"}}");
        s = malloc(size);
        if (!s)
                return 0;
        memcpy(s, data + 1, size - 1);
        s[size - 1] = '\0';
        r = data[0] == 'F' ? selector_parse_fields(s, &sel, err, sizeof err) : selector_parse_labels(s, &sel, err, sizeof err);
        if (r == 0) {
                (void)selector_matches(sel, pod);
                selector_free(sel);
        }
        free(s);
        return 0;
}
