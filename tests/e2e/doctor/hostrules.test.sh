#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# hostrules.test.sh: doctor's read-only view of what already runs in the host netns (check 2),
# in a throwaway netns standing in for the host: kube-proxy's KUBE-* chains found per backend,
# both backends at once is a warning with its fix, and doctor changes nothing (the rules are
# byte-identical before and after). Needs root, iptables-legacy and iptables-nft.
. "$(dirname "$0")/lib.sh"
need_cnibox
if [ "${1:-}" != --inside ]; then
        [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null || { echo "SKIP: needs root and unshare -n"; exit 77; }
        for b in iptables-legacy iptables-legacy-save iptables-nft iptables-nft-save; do
                command -v $b >/dev/null || { echo "SKIP: $b missing"; exit 77; }
        done
        exec timeout 300 unshare -n bash "$0" --inside
fi
D=("$CNIBOX" doctor --only node)

expect nothing 0 "no kube-proxy rules in this netns" "${D[@]}"
iptables-nft -t nat -N KUBE-SERVICES && iptables-nft -t nat -A PREROUTING -j KUBE-SERVICES || { fail "iptables-nft"; exit 1; }
expect nft-only 0 "kube-proxy's rules are in nf_tables through iptables-nft" "${D[@]}"
iptables-legacy -t nat -N KUBE-SERVICES && iptables-legacy -t nat -N KUBE-NODEPORTS || { fail "iptables-legacy"; exit 1; }
before=$(iptables-legacy-save -t nat | grep -v '^#'; iptables-nft-save -t nat | grep -v '^#')
expect both 2 "fix: one set is stale (the node switched kube-proxy modes or iptables backends)" "${D[@]}"
printf '%s\n' "$LAST_OUT" | grep -qF "IPv4: legacy iptables: 2 KUBE-* chains" || fail "both: legacy chain count"
printf '%s\n' "$LAST_OUT" | grep -qF "fix: both run on every packet" || fail "both: dual hooks fix"
after=$(iptables-legacy-save -t nat | grep -v '^#'; iptables-nft-save -t nat | grep -v '^#')
[ "$before" = "$after" ] && echo "ok: read-only" || fail "doctor changed the rules"

[ "$FAILS" = 0 ] && echo "all doctor host-rules cases passed" || { echo "$FAILS failure(s)"; exit 1; }
