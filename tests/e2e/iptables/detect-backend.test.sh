#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# detect-backend: lib/detect picks the backend from kernel facts (docs/backends.md), in fresh
# `unshare -n` namespaces: clean netns, nft-held rules, legacy-held rules, forced choices, and a
# forced backend the kernel cannot serve. Runs through the driver in the test_detect unit binary.
set -u
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
T="${BUILDDIR:-}/test_detect"
[ -x "$T" ] || { echo "no $T (unit tests not built)"; exit 77; }
NFT=$(command -v iptables-nft) || { echo "no iptables-nft"; exit 77; }
LEG=$(command -v iptables-legacy) || { echo "no iptables-legacy"; exit 77; }
export T NFT LEG
fails=0
# check NAME EXPECTED-BACKEND EXPECTED-RC SETUP DETECT-ARGS [ENV...]
check() {
        local name=$1 want=$2 wantrc=$3 setup=$4 args=$5; shift 5
        local out rc
        out=$(timeout 30 unshare -n env "$@" "$BASH" -c "set -e; $setup
                PATH=\$TPATH \"\$T\" detect $args" 2>/dev/null)
        rc=$?
        if [ "$(head -n1 <<<"$out")" != "$want" ] || [ "$rc" != "$wantrc" ]; then
                echo "FAIL $name: rc=$rc (want $wantrc)"; echo "$out" | sed 's/^/    /'
                fails=$((fails + 1))
        else
                echo "ok   $name: $(sed -n 2p <<<"$out")"
        fi
}
P=$PATH
NOBIN=/nonexistent
check "fresh netns, iptables-nft present (as Istio)" iptables-nft 0 ":" "v4 none" TPATH=$P
check "fresh netns, no iptables-nft in PATH"         legacy 0       ":" "v4 none" TPATH=$NOBIN
check "fresh netns, IPv6, no binary"                 legacy 0       ":" "v6 none" TPATH=$NOBIN
check "iptables-nft holds nat rules"                 iptables-nft 0 "\$NFT -t nat -A OUTPUT -j RETURN" "v4 none" TPATH=$P
check "nft holds rules, binary gone: native"         native-nft 0   "\$NFT -t nat -A OUTPUT -j RETURN" "v4 none" TPATH=$NOBIN
check "legacy holds rules"                           legacy 0       "\$LEG -t nat -A OUTPUT -j RETURN" "v4 none" TPATH=$P
check "empty legacy nat (probe residue) ignored"     iptables-nft 0 "\$LEG -t nat -S >/dev/null" "v4 none" TPATH=$P
check "forced nft"                                   iptables-nft 0 "\$LEG -t nat -A OUTPUT -j RETURN" "v4 nft" TPATH=$P
check "forced legacy"                                legacy 0       "\$NFT -t nat -A OUTPUT -j RETURN" "v4 legacy" TPATH=$P
check "forced nft without the binary"                none 1         ":" "v4 nft" TPATH=$NOBIN
check "forced legacy the kernel cannot serve"        none 1         ":" "v6 legacy" TPATH=$P CNIBOX_TEST_DETECT_UNUSABLE=legacy
check "nothing usable"                               none 1         ":" "v4 none" TPATH=$P CNIBOX_TEST_DETECT_UNUSABLE=legacy,nft

# Quirk 23: choosing iptables-nft in a clean netns must not instantiate the legacy nat table.
left=$(timeout 30 unshare -n bash -c '"$T" detect v4 >/dev/null; cat /proc/net/ip_tables_names')
if [ -n "$left" ]; then echo "FAIL: detection left legacy tables: $left"; fails=$((fails + 1)); else echo "ok   no legacy table instantiated"; fi
# The error names why.
msg=$(timeout 30 unshare -n env CNIBOX_TEST_DETECT_UNUSABLE=legacy "$T" detect v4 legacy 2>/dev/null | sed -n 2p)
grep -q "cannot serve the legacy nat table" <<<"$msg" || { echo "FAIL: error text: $msg"; fails=$((fails + 1)); }
[ "$fails" = 0 ]
