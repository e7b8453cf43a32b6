#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# validation.test.sh: `cnibox istio-validation` (spec istio-iptables.md §6) against rules the real
# `cnibox istio-iptables` applied with each backend (issue 5 acceptance: validation succeeds
# against the native backend too). As the proxy uid 1337 → exit 0 "Validation passed"; as root
# → exit 126 with reason exempt-uid (root's traffic is not redirected, so it proves nothing).
. "$(dirname "$0")/lib.sh"

setpriv --reuid=$PROXY_UID --regid=$PROXY_UID --clear-groups test -x "$CNIBOX" ||
        { echo "SKIP: uid $PROXY_UID cannot execute $CNIBOX"; exit 77; }

# validate NS UID: runs the applet in NS as UID; output in $T/out, rc returned
validate() {
        local ns=$1 uid=$2
        inns "$ns" setpriv --reuid="$uid" --regid="$uid" --clear-groups \
                timeout 30 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin TERMINATION_MESSAGE_PATH= \
                "$CNIBOX" istio-validation --probe-timeout=2s >"$T/out" 2>&1
}
expect() { # expect WHAT RC WANT_RC WANT_TEXT
        if [ "$2" = "$3" ] && grep -q -- "$4" "$T/out"; then pass "$1: exit $2, '$4'"
        else fail "$1: exit $2 (want $3), want '$4' in:"; sed 's/^/    /' "$T/out"; fi
}

for b in "${BACKENDS[@]}"; do
        for f in 4 6; do
                for mode in REDIRECT TPROXY; do
                        w="$b v$f $mode"
                        pod "$f"
                        if cap "$POD" $(bflags "$b") -u 1337 -g 1337 -m $mode -i '*' -b '*' -d 15090,15021,15020; then
                                validate "$POD" $PROXY_UID; expect "$w: as uid 1337" $? 0 "Validation passed"
                                validate "$POD" 0; expect "$w: as root" $? 126 "exempt-uid"
                        else
                                fail "$w: istio-iptables exit $?"; sed 's/^/    /' "$T/out"
                        fi
                        delns "$POD"; delns "$PEER"
                done
        done
done
finish
