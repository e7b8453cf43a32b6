/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_toml: libFuzzer target over the TOML subset (lib/agent/toml.c) and the containerd / CRI-O
 * key lookups on top of it (lib/agent/runtimecfg.c). The text is not NUL-terminated, so reads
 * past it are caught. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/runtimecfg.h"
#include "agent/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct toml_doc *d = NULL;
        char err[256];
        char *text = malloc(size + 1); /* +1: malloc(0) may be NULL */

        if (!text)
                return 0;
        memcpy(text, data, size);
        if (toml_parse(text, size, &d, err, sizeof err) == 0) {
                const char *s;
                char *const *v;
                int64_t i;
                (void)toml_get_int(d, (const char *const[]){ "version", NULL }, &i);
                (void)toml_get_string(d, (const char *const[]){ "a", "b", NULL }, &s);
                (void)toml_get_strv(d, (const char *const[]){ "a", NULL }, &v);
                toml_free(d);
        }
        for (int crio = 0; crio < 2; crio++) {
                struct runtimecfg rt = { .conf_dir = strdup("/etc/cni/net.d"), .bin_dirs = calloc(2, sizeof(char *)) };
                if (rt.bin_dirs)
                        rt.bin_dirs[0] = strdup("/opt/cni/bin");
                if (rt.conf_dir && rt.bin_dirs && rt.bin_dirs[0])
                        (void)(crio ? runtimecfg_crio_apply : runtimecfg_containerd_apply)(text, size, &rt, err, sizeof err);
                free(rt.conf_dir);
                for (size_t k = 0; rt.bin_dirs && rt.bin_dirs[k]; k++)
                        free(rt.bin_dirs[k]);
                free(rt.bin_dirs);
                free(rt.netns_dir);
        }
        free(text);
        return 0;
}
