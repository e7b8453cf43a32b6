/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_podnetns.c: libFuzzer target for the netns finder's parsers (lib/agent/podnetns.c; spec
 * istio-cni.md §5.5): /proc/<pid>/net/fib_trie and if_inet6 text → "holds this address", and
 * /proc/<pid>/stat → start time. The kernel writes these files, but a finder that walks every
 * process on the node must never crash on one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/podnetns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const unsigned char v4[4] = { 10, 44, 0, 5 };
        static const unsigned char v6[16] = { 0xfd, 0, 0xc1, 0xb0, [15] = 2 };
        char *text = malloc(size + 1);
        unsigned long long st;

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        int a = podnetns_text_has_addr(text, AF_INET, v4), b = podnetns_text_has_addr(text, AF_INET6, v6);
        if (a < 0 || a > 1 || b < 0 || b > 1)
                abort();
        (void)podnetns_stat_start_time(text, &st);
        free(text);
        return 0;
}
