/* SPDX-License-Identifier: Apache-2.0 */
/* istio-clean-iptables: remove the sidecar capture rules.
 * Spec: ../shared/spec/istio-iptables.md §5.6 (cleanup); Istio removed this binary in 1.24 for --cleanup-only. */
#include <stdio.h>
#include <stdlib.h>

#include "applets.h"
#include "base/exitcode.h"
#include "base/macro.h"

/* istio-clean-iptables:Istio's old cleanup tool, now `istio-iptables --cleanup-only`. */
int istio_clean_iptables_main(int argc, char **argv) {
        _cleanup_free_ char **args = calloc((size_t)argc + 2, sizeof *args);
        if (!args) {
                fprintf(stderr, "istio-clean-iptables: out of memory\n");
                return EXIT_RUNTIME;
        }
        args[0] = argv[0];
        args[1] = (char *)"--cleanup-only";
        for (int i = 1; i < argc; i++)
                args[i + 1] = argv[i];
        return istio_iptables_main(argc + 1, args);
}
