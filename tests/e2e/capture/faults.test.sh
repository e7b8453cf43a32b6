#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# faults.test.sh: bad input and faults leave no half-configured pod (issue 3 "No half-configured
# pod", issue 5 "all or nothing"; spec istio-iptables.md §1 exit codes, §5.1, §7). Each case: exit
# code, a message naming the failure, and the kernel state (legacy + iptables-nft + nft views +
# ip rules) exactly as before the run, from a clean namespace and from one holding a previous
# configuration. Empty built-in tables are ignored (they cannot be unregistered; see lib.sh).
. "$(dirname "$0")/lib.sh"

PREV=(--dual-stack -u 1337 -g 1337 -b '*' -d 15090)
NEWC=(--dual-stack -u 1337 -g 1337 -m TPROXY -b '*' -d 15090,15021 -o 8082)

# fault WHAT BACKEND FROM(clean|prev) WANT_RC WANT_MSG ENV… -- ARGS…
fault() {
        local what=$1 b=$2 from=$3 want_rc=$4 msg=$5 rc; shift 5
        local env=()
        while [ "$1" != -- ]; do env+=("$1"); shift; done; shift
        local w="$b from $from: $what"
        pod 46
        if [ "$from" = prev ]; then
                cap "$POD" $(bflags "$b") "${PREV[@]}" || { fail "$w: previous config exit $?"; sed 's/^/    /' "$T/out"; }
        fi
        state "$POD" >"$T/before"
        CAP_ENV=("${env[@]}")
        cap "$POD" "$@"; rc=$?
        CAP_ENV=()
        if [ $rc = "$want_rc" ] && grep -q -- "$msg" "$T/out"; then
                pass "$w: exit $rc, '$msg'"
        else
                fail "$w: exit $rc (want $want_rc), want '$msg' in:"; sed 's/^/    /' "$T/out"
        fi
        state "$POD" >"$T/after"
        same "$w: state unchanged" "$T/before" "$T/after"
        delns "$POD"; delns "$PEER"
}

for from in clean prev; do
        for b in "${BACKENDS[@]}"; do
                # A changed config needs --reconcile on the iptables backends.
                r=; [ "$from" = prev ] && r=--reconcile
                case $b in
                legacy)
                        fault "forced legacy, kernel cannot serve it" legacy $from 1 "cannot serve the legacy nat table" \
                                CNIBOX_TEST_DETECT_UNUSABLE=legacy -- --force-iptables-binary legacy $r "${NEWC[@]}"
                        fault "IPv6 nat commit fails after IPv4" legacy $from 1 "IPv6 table nat: commit: injected fault" \
                                CNIBOX_FAULT_INJECT=iptlegacy6:nat -- --force-iptables-binary legacy $r "${NEWC[@]}"
                        fault "mangle commit fails after nat" legacy $from 1 "table mangle: commit: injected fault" \
                                CNIBOX_FAULT_INJECT=iptlegacy:mangle -- --force-iptables-binary legacy $r "${NEWC[@]}"
                        fault "the nat table cannot be committed (first table)" legacy $from 1 "table nat: commit: injected fault" \
                                CNIBOX_FAULT_INJECT=iptlegacy4:nat -- --force-iptables-binary legacy $r "${NEWC[@]}"
                        ;;
                nft)
                        fault "forced iptables-nft, kernel cannot serve it" nft $from 1 "forced nft" \
                                CNIBOX_TEST_DETECT_UNUSABLE=nft -- --force-iptables-binary nft $r "${NEWC[@]}"
                        ;;
                native)
                        fault "transaction fails at its last operation" native $from 1 "nothing was changed" \
                                CNIBOX_FAULT_INJECT=nft-last-rule -- --native-nftables "${NEWC[@]}"
                        ;;
                esac
                # A group name that does not resolve: syntactically valid, so it reaches the backend
                # (libiptc encoder, iptables-nft-restore, nft), which must refuse it as a whole.
                fault "owner group that does not resolve" $b $from 1 "cnibox-no-such-group" \
                        ISTIO_OUTBOUND_OWNER_GROUPS=cnibox-no-such-group -- $(bflags "$b") $r "${NEWC[@]}"
                # Bad values: command-line errors are 255, configuration errors 1; nothing applied.
                fault "bad --force-iptables-binary" $b $from 1 "FORCE_IPTABLES_BINARY" -- --force-iptables-binary iptables $r "${NEWC[@]}"
                fault "-x '*'" $b $from 1 "" -- $(bflags "$b") $r "${NEWC[@]}" -x '*'
                fault "bad CIDR" $b $from 1 "10.0.0.0/33" -- $(bflags "$b") $r "${NEWC[@]}" -i 10.0.0.0/33
                fault "bad port" $b $from 1 "70000" -- $(bflags "$b") $r "${NEWC[@]}" -q 70000
                fault "unknown flag" $b $from 255 "unknown" -- $(bflags "$b") $r "${NEWC[@]}" --no-such-flag
        done
done
finish
