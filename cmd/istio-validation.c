/* SPDX-License-Identifier: Apache-2.0 */
/* istio-validation: the Istio CNI init container's check that the redirect works.
 * Spec: ../shared/spec/istio-iptables.md §6 (validation mode), §0.1 (invocation). */
#include <stdio.h>
#include <stdlib.h>

#include "applets.h"
#include "base/exitcode.h"
#include "base/macro.h"

/* istio-validation: the CNI init container's job, `istio-iptables --run-validation --skip-rule-apply`. */
int istio_validation_main(int argc, char **argv) {
        _cleanup_free_ char **args = calloc((size_t)argc + 3, sizeof *args);
        if (!args) {
                fprintf(stderr, "istio-validation: out of memory\n");
                return EXIT_RUNTIME;
        }
        args[0] = argv[0];
        args[1] = (char *)"--run-validation";
        args[2] = (char *)"--skip-rule-apply";
        for (int i = 1; i < argc; i++)
                args[i + 2] = argv[i];
        return istio_iptables_main(argc + 2, args);
}
