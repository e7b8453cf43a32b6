/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_kubeconfig.c: libFuzzer target for kubeconfig_parse (YAML via libyaml, and JSON; lib/kube/kubeconfig.c,
 * spec istio-cni.md §2.5, §4.4). Also checks invariants of a successful parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kube/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct kubeconfig k = {};
        char err[256];

        /* Not NUL-terminated on purpose: the parser must respect len. Copy to an exact-size heap
         * buffer so ASan catches any read past it. */
        char *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        if (kubeconfig_parse(buf, size, "/base", &k, err, sizeof err) == 0) {
                /* A parsed config always has a server and a context; paths are absolute. */
                if (!k.server || !k.context || !k.cluster_name)
                        abort();
                if (k.ca_file && k.ca_file[0] != '/')
                        abort();
                if (k.insecure_skip_tls_verify && (k.ca_file || k.ca_data))
                        abort();
                kubeconfig_done(&k);
        } else if (!memchr(err, '\0', sizeof err)) {
                abort();
        }
        /* The generic form (install-cni's selectors), printed as install-cni does. */
        cJSON *j = NULL;
        if (kubeconfig_yaml_parse(buf, size, &j, err, sizeof err) == 0) {
                free(cJSON_PrintUnformatted(j));
                cJSON_Delete(j);
        }
        void *p;
        size_t n;
        if (kubeconfig_base64_decode(buf, size, &p, &n) == 0) {
                if (n > size)
                        abort();
                free(p);
        }
        free(buf);
        return 0;
}
