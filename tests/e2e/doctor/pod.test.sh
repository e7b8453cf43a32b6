#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# pod.test.sh: `cnibox doctor --pid` on a throwaway pod netns (unshare -n): the sidecar rules
# applied by `cnibox istio-iptables` check out and the live redirect probe passes; with one rule
# deleted, doctor reports the drift as a fail with its fix. Needs root; runs inside `unshare -n`.
. "$(dirname "$0")/lib.sh"
need_cnibox
if [ "${1:-}" != --inside ]; then
        [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null || { echo "SKIP: needs root and unshare -n"; exit 77; }
        for b in ip nsenter iptables-legacy setpriv; do
                command -v $b >/dev/null || { echo "SKIP: $b missing"; exit 77; }
        done
        exec timeout 300 unshare -n bash "$0" --inside
fi
setpriv --reuid=1337 --regid=1337 --clear-groups test -x "$CNIBOX" || { echo "SKIP: uid 1337 cannot run $CNIBOX"; exit 77; }
unshare -n sleep 600 &
POD=$!
trap 'kill $POD 2>/dev/null; wait $POD 2>/dev/null' EXIT
sleep 0.2
in_pod() { nsenter -t "$POD" -n "$@"; }
in_pod ip link set lo up
in_pod ip addr add 10.44.0.2/32 dev lo
# The legacy backend, so the test can delete a rule with iptables-legacy whatever the host's default.
in_pod "$CNIBOX" istio-iptables -u 1337 -g 1337 --force-iptables-binary legacy >/dev/null 2>&1 ||
        { fail "istio-iptables could not apply"; exit 1; }

D=("$CNIBOX" doctor --only pod --metrics-url "" --pid "$POD")
expect pod-in-sync 0 "ok    pod.rules" "${D[@]}"
printf '%s\n' "$LAST_OUT" | grep -q "^ok    pod.redirect_probe" || fail "pod-in-sync: the probe did not pass"
expect pod-netns-path 0 "ok    pod.rules" "$CNIBOX" doctor --only pod --no-probe --pod-netns /proc/$POD/ns/net

# Drift: one rule gone (the inbound redirect).
in_pod iptables-legacy -t nat -F ISTIO_IN_REDIRECT
expect pod-drift 1 "fix: re-create the pod (the CNI ADD programs its rules again), or let cni-repair repair it" "${D[@]}"
printf '%s\n' "$LAST_OUT" | grep -q "^fail  pod.rules .*drifted" || fail "pod-drift: summary"
printf '%s\n' "$LAST_OUT" | grep -q "^fail  pod.redirect_probe" || fail "pod-drift: the probe should fail too"
# The pod's config given by istio-iptables flags: a different inbound port is drift as well.
in_pod "$CNIBOX" istio-iptables -u 1337 -g 1337 --force-iptables-binary legacy >/dev/null 2>&1
expect pod-flags 1 "redirect rules missing or drifted" "${D[@]}" --no-probe -- -u 1337 -g 1337 -z 15999

[ "$FAILS" = 0 ] && echo "all doctor pod cases passed" || { echo "$FAILS failure(s)"; exit 1; }
