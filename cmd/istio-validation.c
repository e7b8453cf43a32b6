/* SPDX-License-Identifier: Apache-2.0 */
/* istio-validation: the Istio CNI init container's check that the redirect works.
 * Spec: ../shared/spec/istio-iptables.md §6 (validation mode), §0.1 (invocation). */

#include <stddef.h>

#include "applets.h"

/* The flags that change what this applet does; every other istio-iptables flag is accepted and
 * checked, so the injector's command line works unchanged, but no rule is programmed. */
static const char help_text[] =
        "Usage: istio-validation [flags]\n"
        "Prove that the pod's traffic redirect works, without programming any rule: the Istio CNI\n"
        "init container (run as the proxy uid, 1337). It listens on 127.0.0.1 (or ::1) at the\n"
        "outbound and inbound capture ports, connects to 127.0.0.6:<probe port>, and passes when\n"
        "the connection arrives redirected. Same as `istio-iptables --run-validation --skip-rule-apply`.\n\n"
        "Exit status: 0 validation passed; 126 it failed or timed out (the repair controller looks\n"
        "for this code); 1 bad configuration; 255 bad command line.\n\n"
        "Flags that matter here (each also read from its env var, as in istio-iptables):\n"
        "  -p, --envoy-port PORT              outbound capture listener (default 15001)\n"
        "  -z, --inbound-capture-port PORT    inbound capture listener (default 15006)\n"
        "      --iptables-probe-port PORT     port the probe connects to (default 15002)\n"
        "      --probe-timeout DURATION       give up after this long (default 5s)\n"
        "      --dual-stack                   use IPv6 when the first pod address is IPv6\n"
        "      --log_output_level LEVEL       debug, info, warn, error, none (or scope:level,…)\n"
        "      --log_as_json                  JSON log lines\n"
        "  -h, --help                         this text\n\n"
        "Added: --run-validation and --skip-rule-apply are always on.\n"
        "Ignored: every other istio-iptables flag (ports, CIDRs, interfaces, mode, DNS, backend,\n"
        "--dry-run, --cleanup-only, --reconcile) is parsed and validated, then unused: the CNI\n"
        "plugin has already programmed the rules. See `istio-iptables --help` for the full list.\n";

/* istio-validation: the CNI init container's job, `istio-iptables --run-validation --skip-rule-apply`. */
int istio_validation_main(int argc, char **argv) {
        static const char *const extra[] = { "--run-validation", "--skip-rule-apply", NULL };
        return istio_iptables_run_as(argc, argv, help_text, extra);
}
