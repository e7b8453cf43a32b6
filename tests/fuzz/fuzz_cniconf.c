/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_cniconf: libFuzzer target over the CNI plugin's stdin configuration (spec istio-cni.md
 * §2.2) including prevResult of every version (CNI SPEC 1.1.0 "Result" and conversion), and the
 * result formatting in the config's version. Byte 0 picks the CNI command. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cni/cni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const enum cni_command cmds[] = { CNI_CMD_ADD, CNI_CMD_DEL, CNI_CMD_CHECK, CNI_CMD_STATUS, CNI_CMD_GC };
        struct cni_conf conf = {};
        struct cni_error err = {};

        if (size < 1)
                return 0;
        if (cni_conf_parse((const char *)data + 1, size - 1, cmds[data[0] % 5], &conf, &err) == 0) {
                char *out = cni_result_format(conf.prev_result, conf.version, &err);
                free(out);
        }
        char *e = cni_error_format(&err, NULL);
        free(e);
        cni_conf_done(&conf);
        return 0;
}
