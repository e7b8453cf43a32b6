#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# cni-native.test.sh: istio-cni with "native_nftables": true, chained after the real bridge +
# host-local plugins (tests/cni-runner): ADD programs our inet tables through the netlink batch
# (no iptables rules), CHECK reads them back over netlink and passes, CHECK fails on drift made
# with nft, DEL succeeds. (A second ADD cannot run: the bridge plugin refuses an existing veth.)
# Spec: istio-cni.md §2.11, istio-iptables.md §7; issue 14.
. "$SRCDIR/tests/e2e/cni/lib.sh"
cni_require_root
command -v nft >/dev/null || { echo "SKIP: nft missing"; exit 77; }
cni_enter_private_netns "$@"
. "$SRCDIR/tests/apiserver/lib.sh"
apiserver_require
cni_setup_plugins
trap cni_cleanup EXIT

apiserver_start --pods "$SRCDIR/tests/fixtures/pods/injected-cni.json" || fail "apiserver"
cp "$KUBECONFIG_FILE" "$WORK/run/istio-cni-kubeconfig"
POD_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=productpage-v1-6b746f74dc-9rlzx"

oct=41
ns=cnibox-cnft-$$
cni_netns_add "$ns" || fail "netns"
cl=$(cni_conflist 1.0.0 "$oct" ', "native_nftables": true')
common=(--conflist "$cl" --cni-path "$CNI_PATH_DIRS" --netns "/run/netns/$ns" --container-id "c$oct" --cache "$WORK/cache")

out=$($RUNNER add "${common[@]}" --args "$POD_ARGS") || fail "ADD: $out"
ip netns exec "$ns" nft -s list ruleset >"$WORK/l1"
grep -q 'table inet istio-proxy-nat' "$WORK/l1" || fail "no istio-proxy-nat table: $(cat "$WORK/l1")"
grep -q 'redirect to :15001' "$WORK/l1" || fail "no outbound redirect"
grep -q 'redirect to :15006' "$WORK/l1" || fail "no inbound redirect"
! ip netns exec "$ns" iptables-legacy-save 2>/dev/null | grep -q ISTIO || fail "iptables rules were written too"
echo "ok ADD through the native backend"

o=$($RUNNER check "${common[@]}" --args "$POD_ARGS") || fail "CHECK on fresh rules: $o"
echo "ok CHECK passes"

ip netns exec "$ns" nft flush chain inet istio-proxy-nat istio-output || fail "cannot make drift"
o=$($RUNNER check "${common[@]}" --args "$POD_ARGS") && fail "CHECK passed on drifted rules"
echo "$o" | grep -q '"plugin": "istio-cni"' || fail "drift not reported by istio-cni: $o"
echo "ok CHECK reports drift"

o=$($RUNNER del "${common[@]}" --args "$POD_ARGS") || fail "DEL: $o"
echo "ok DEL"
echo PASS
