/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_resolvconf: libFuzzer target over the resolv.conf and hosts parsers (lib/kube/resolve.c).
 * The input is both files' text (not NUL-terminated); the hosts lookup asks for a fixed name. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct resolve_conf c;
        struct resolve_addr a[4];
        char *t = malloc(size + 1);

        if (!t)
                return 0;
        memcpy(t, data, size);
        if (resolve_conf_parse(t, size, &c) == 0) {
                if (c.n_ns == 0 || c.n_ns > RESOLVE_MAX_NS || c.n_search > RESOLVE_MAX_SEARCH || c.attempts < 1)
                        abort();
                resolve_conf_done(&c);
        }
        (void)resolve_hosts_parse(t, size, "api.cluster.test", a, 4);
        free(t);
        return 0;
}
