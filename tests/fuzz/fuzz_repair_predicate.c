/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_repair_predicate.c: libFuzzer target for pod JSON → the repair controller's broken-pod
 * predicate (lib/agent/repair.c; spec istio-cni.md §5.3) under three configurations (Istio's
 * defaults, every filter off, a termination-message filter), plus the reason-code extraction. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/repair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct repair_config cfg[3];
static int ready;

static void setup(void) {
        char *d[] = { NULL };
        char *open[] = { "REPAIR_SIDECAR_ANNOTATION=", "REPAIR_INIT_CONTAINER_NAME=", "REPAIR_INIT_CONTAINER_EXIT_CODE=0", NULL };
        char *msg[] = { "REPAIR_INIT_CONTAINER_TERMINATION_MESSAGE= no-redirect ", NULL };
        char err[256];
        if (repair_config_from_env(d, &cfg[0], err, sizeof err) < 0 ||
            repair_config_from_env(open, &cfg[1], err, sizeof err) < 0 ||
            repair_config_from_env(msg, &cfg[2], err, sizeof err) < 0)
                abort();
        ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!ready)
                setup();
        cJSON *pod = cJSON_ParseWithLength((const char *)data, size);
        char m[512], code[64];
        for (int i = 0; i < 3; i++) {
                bool b = repair_pod_is_broken(&cfg[i], pod, m, sizeof m);
                if (!b && m[0])
                        abort(); /* the message is only given for a broken pod */
                if (b) {
                        /* whatever the defaults find broken, the open configuration does too */
                        if (i == 0 && !repair_pod_is_broken(&cfg[1], pod, NULL, 0))
                                abort();
                        repair_reason_code(m, code, sizeof code);
                        if (strlen(code) >= sizeof code || strchr(code, ':'))
                                abort();
                }
        }
        cJSON_Delete(pod);
        return 0;
}
