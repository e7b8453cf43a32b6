#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# auto-native.test.sh: on a kernel without legacy iptables and without a usable iptables-nft,
# `istio-iptables` (no --native-nftables) uses the in-process nftables backend instead of failing,
# says so in its log line, and the redirect works (issue 5 item 4; docs/backends.md §3).
# The missing legacy support is simulated with CNIBOX_TEST_DETECT_UNUSABLE=legacy, the missing
# iptables-nft binary with a PATH that lacks it. Runs in a private network namespace.
set -u
CNIBOX=${CNIBOX:?CNIBOX must name the binary}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v nft >/dev/null && command -v setpriv >/dev/null || { echo "SKIP: needs nft and setpriv"; exit 77; }
CNIBOX=$(readlink -f "$CNIBOX")

unshare -n bash -s "$CNIBOX" <<'INNER'
set -u
B=$1 fails=0
ok() { echo "ok - $1"; }
no() { echo "FAIL - $1"; fails=$((fails + 1)); }
ip link set lo up
ip link add eth0 type veth peer name eth0p && ip link set eth0 up && ip link set eth0p up
ip addr add 10.30.0.2/24 dev eth0
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
out=$(env -i PATH="$empty" CNIBOX_TEST_DETECT_UNUSABLE=legacy "$B" istio-iptables -u 1337 -g 1337 -i '*' -b '*' 2>&1)
rc=$?
[ $rc = 0 ] && ok "exit 0 without --native-nftables" || { no "exit $rc"; echo "$out" | sed 's/^/    /'; }
echo "$out" | grep -q 'native' && ok "log names the native backend" || { no "log does not say native:"; echo "$out" | sed 's/^/    /'; }
echo "$out" | grep -q 'nftables: applied' && ok "applied through nftables" || no "not applied through nftables"
nft list table inet istio-proxy-nat >/dev/null 2>&1 && ok "inet istio-proxy-nat exists" || no "no inet istio-proxy-nat table"
[ -z "$(cat /proc/net/ip_tables_names 2>/dev/null)" ] && ok "no legacy table instantiated" || no "a legacy table was instantiated"
if setpriv --reuid=1337 --regid=1337 --clear-groups "$B" istio-validation --probe-timeout=2s >/dev/null 2>&1; then
        ok "istio-validation passes as uid 1337 (the redirect works)"
else
        no "istio-validation failed"
fi
# The automatic choice is stable: a re-run keeps using nftables and changes nothing.
out=$(env -i PATH="$empty" CNIBOX_TEST_DETECT_UNUSABLE=legacy "$B" istio-iptables -u 1337 -g 1337 -i '*' -b '*' 2>&1)
[ $? = 0 ] && ok "re-run exit 0" || { no "re-run failed"; echo "$out" | sed 's/^/    /'; }
echo "auto-native: $((7 - fails)) passed, $fails failed"
[ $fails = 0 ]
INNER
