/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_dnsanswer: libFuzzer target over the DNS response parser (lib/kube/resolve.c): any bytes
 * as the answer to an A or an AAAA query for a fixed name and id (names with compression
 * pointers, counts, lengths are all attacker-controlled on the wire). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct resolve_addr a[4];
        size_t n = 0;
        int rcode;
        bool tc;
        uint8_t *m;

        if (size < 1)
                return 0;
        m = malloc(size - 1 + 1);
        if (!m)
                return 0;
        memcpy(m, data + 1, size - 1);
        if (resolve_dns_answer(m, size - 1, "api.cluster.test", data[0] & 1 ? 28 : 1, 0x4242, a, 4, &n, &rcode, &tc) == 0 &&
            n > 4)
                abort();
        free(m);
        return 0;
}
