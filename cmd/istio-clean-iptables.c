/* SPDX-License-Identifier: Apache-2.0 */
/* istio-clean-iptables: remove the sidecar capture rules.
 * Spec: ../shared/spec/istio-iptables.md §5.6 (cleanup); Istio removed this binary in 1.24 for --cleanup-only. */

#include <stddef.h>

#include "applets.h"

static const char help_text[] =
        "Usage: istio-clean-iptables [flags]\n"
        "Remove Istio's sidecar capture rules from this network namespace (Istio's old cleanup tool,\n"
        "removed in Istio 1.24). Same as `istio-iptables --cleanup-only`. It accepts every\n"
        "istio-iptables flag, so the command line that applied the rules can remove them.\n\n"
        "Exit status: 0 removed (or nothing to remove); 1 failure or bad configuration;\n"
        "255 bad command line.\n\n"
        "Flags that matter here (each also read from its env var, as in istio-iptables):\n"
        "  -m, --istio-inbound-interception-mode M  REDIRECT or TPROXY (TPROXY also uses mangle)\n"
        "      --redirect-dns                     the DNS capture rules (raw table) were applied\n"
        "      --native-nftables                  remove the nftables tables instead\n"
        "      --force-iptables-binary legacy|nft override backend detection\n"
        "  -n, --dry-run                          print what would be removed, remove nothing\n"
        "      --network-namespace PATH, --cni-mode  as in istio-iptables\n"
        "      --log_output_level LEVEL, --log_as_json  logging, as in istio-iptables\n"
        "  -h, --help                             this text\n\n"
        "Added: --cleanup-only is always on.\n"
        "Ignored: --reconcile, --force-apply (nothing is applied). Do not pass --skip-rule-apply:\n"
        "it skips the cleanup too. See `istio-iptables --help` for the full list.\n";

/* istio-clean-iptables: Istio's old cleanup tool, now `istio-iptables --cleanup-only`. */
int istio_clean_iptables_main(int argc, char **argv) {
        static const char *const extra[] = { "--cleanup-only", NULL };
        return istio_iptables_run_as(argc, argv, help_text, extra);
}
