#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# hardening.test.sh: regression tests of issue 11 section A (items 1-5, 7) against the real
# `cnibox istio-iptables` in throwaway namespaces (spec istio-iptables.md §5.1 apply, §5.5
# reconcile, §5.6 cleanup, §5.7 routes, §7 nftables). Each case names the item it covers.
. "$(dirname "$0")/lib.sh"

show() { sed 's/^/    /' "$T/out" | head -20; }
# run_ok WHAT NS ARGS…: cap must exit 0
run_ok() {
        local what=$1 ns=$2 rc; shift 2
        cap "$ns" "$@"; rc=$?
        [ $rc = 0 ] && pass "$what: exit 0" || { fail "$what: exit $rc"; show; }
}
# fresh BACKEND FAM ARGS…: state of a new pod namespace after one apply of ARGS (none: untouched)
fresh() {
        local b=$1 fam=$2; shift 2
        pod "$fam"
        [ $# = 0 ] || cap "$POD" $(bflags "$b") "$@" || { echo "fresh apply failed:"; show; }
        state "$POD"
        delns "$POD"; delns "$PEER"
}
nft_view_out() { awk '/^### / { skip = ($0 == "### nft") } !skip'; }
# view BACKEND: for iptables-nft, its own view (iptables-nft-save) without nft's listing of the
# same tables, which orders tables and base chains by creation (a replaced table is a new one).
view() { if [ "$1" = nft ]; then nft_view_out; else cat; fi; }
has_backend() { local b; for b in "${BACKENDS[@]}"; do [ "$b" = "$1" ] && return 0; done; return 1; }

TPROXY=(--dual-stack -u 1337 -g 1337 -m TPROXY -b '*' -d 15090)
REDIR=(--dual-stack -u 1337 -g 1337 -m REDIRECT -b '*' -d 15090)

# --- item 1: native nftables drops the tables the new configuration does not render ----------
if has_backend native; then
        fresh native 46 "${REDIR[@]}" >"$T/want-redir"
        pod 46; A=$POD
        run_ok "1 native TPROXY apply" "$A" --native-nftables "${TPROXY[@]}"
        run_ok "1 native TPROXY -> REDIRECT" "$A" --native-nftables "${REDIR[@]}"
        if inns "$A" nft list table inet istio-proxy-mangle >/dev/null 2>&1; then
                fail "1 native TPROXY -> REDIRECT: inet istio-proxy-mangle still exists"
                inns "$A" nft list table inet istio-proxy-mangle | head -8 | sed 's/^/    /'
        else
                pass "1 native TPROXY -> REDIRECT: inet istio-proxy-mangle removed"
        fi
        state "$A" >"$T/got"
        same "1 native TPROXY -> REDIRECT equals a fresh REDIRECT apply (rules and routes)" "$T/want-redir" "$T/got"
        delns "$A"; delns "$PEER"

        resolv 10.20.0.53
        fresh native 4 -u 1337 -g 1337 >"$T/want-nodns"
        pod 4; A=$POD
        run_ok "1 native --redirect-dns on" "$A" --native-nftables -u 1337 -g 1337 --redirect-dns
        inns "$A" nft list ruleset | grep -q 'ct zone set' && pass "1 native: ct zone rules present with DNS" ||
                fail "1 native: no ct zone rule with --redirect-dns"
        run_ok "1 native --redirect-dns off" "$A" --native-nftables -u 1337 -g 1337
        n=$(inns "$A" nft list ruleset | grep -c 'ct zone')
        [ "$n" = 0 ] && pass "1 native: no ct zone rule after DNS capture is switched off" ||
                fail "1 native: $n ct zone rules left after DNS capture is switched off"
        state "$A" >"$T/got"
        same "1 native DNS on -> off equals a fresh apply without DNS" "$T/want-nodns" "$T/got"
        delns "$A"; delns "$PEER"
        RESOLV=
fi

# --- item 2: cleanup and reconcile remove the TPROXY routing found in the netns ----------------
for b in "${BACKENDS[@]}"; do
        fresh "$b" 46 >"$T/want-clean"
        pod 46; A=$POD
        run_ok "2 $b TPROXY apply" "$A" $(bflags "$b") "${TPROXY[@]}"
        [ "$(inns "$A" ip -6 rule | grep -c 'fwmark 0x539 lookup 133')" = 1 ] &&
                pass "2 $b: IPv6 TPROXY rule present after apply" || fail "2 $b: no IPv6 TPROXY rule after apply"
        # No configuration flags at all: what to remove comes from the netns.
        capx "$A" istio-clean-iptables $(bflags "$b"); rc=$?
        [ $rc = 0 ] && pass "2 $b: istio-clean-iptables (no flags) exit 0" || { fail "2 $b: istio-clean-iptables exit $rc"; show; }
        view "$b" <"$T/want-clean" >"$T/want"; mv "$T/want" "$T/want-clean"
        state "$A" | view "$b" >"$T/got"
        same "2 $b: istio-clean-iptables (no flags) leaves a fresh namespace, routes included" "$T/want-clean" "$T/got"
        delns "$A"; delns "$PEER"

        fresh "$b" 46 "${REDIR[@]}" >"$T/want-redir"
        pod 46; A=$POD
        run_ok "2 $b TPROXY apply" "$A" $(bflags "$b") "${TPROXY[@]}"
        r=--reconcile; [ "$b" = native ] && r=
        run_ok "2 $b TPROXY -> REDIRECT $r" "$A" $(bflags "$b") $r "${REDIR[@]}"
        view "$b" <"$T/want-redir" >"$T/want"; mv "$T/want" "$T/want-redir"
        state "$A" | view "$b" >"$T/got"
        same "2 $b: TPROXY -> REDIRECT $r equals a fresh REDIRECT apply (no ip rule, no table 133)" "$T/want-redir" "$T/got"
        delns "$A"; delns "$PEER"
done

# --- item 3: interface names that look like numbers or nft keywords ----------------------------
for b in "${BACKENDS[@]}"; do
        for ifn in 1eth 0x1f counter accept ip lo eth0.100 _x; do
                pod 4; A=$POD
                cap "$A" $(bflags "$b") -u 1337 -g 1337 -b '*' -c "$ifn" -k "$ifn"; rc=$?
                [ $rc = 0 ] && pass "3 $b -c/-k '$ifn': exit 0" || { fail "3 $b -c/-k '$ifn': exit $rc"; show; }
                if [ "$b" = native ]; then
                        n=$(inns "$A" nft list ruleset | grep -cE "iifname \"?$ifn\"? ")
                        [ "$n" -ge 2 ] && pass "3 native '$ifn': iifname matches in the kernel ($n)" ||
                                fail "3 native '$ifn': $n iifname matches in the kernel"
                        # The dry-run text loads as is (what the applied transaction is).
                        dryrun "$A" --native-nftables -u 1337 -g 1337 -b '*' -c "$ifn" -k "$ifn"
                        newns; B=$NS
                        inns "$B" nft -f "$T/dry" 2>"$T/nft.err" && pass "3 native '$ifn': --dry-run text loads with nft -f" ||
                                { fail "3 native '$ifn': nft -f of the --dry-run text:"; sed 's/^/    /' "$T/nft.err" | head -5; }
                        delns "$B"
                fi
                delns "$A"; delns "$PEER"
        done
done

# --- item 4: iptables-nft re-run with many owner groups (no argv cap, no truncation) -----------
if has_backend nft; then
        # 14 groups: a 74-word rule. Re-runs check every rule with `iptables-nft -C`, whose argv
        # used to be capped at 64 entries ("Argument list too long").
        pod 4; A=$POD
        CAP_ENV=(ISTIO_OUTBOUND_OWNER_GROUPS="$(seq -s, 2001 2014)")
        run_ok "4 nft 14 owner groups: apply" "$A" --force-iptables-binary nft -u 1337 -g 1337
        state "$A" >"$T/s1"
        run_ok "4 nft 14 owner groups: re-run (state check runs -C on every rule)" "$A" \
                --force-iptables-binary nft -u 1337 -g 1337
        grep -q 'already in place' "$T/out" && pass "4 nft 14 groups: re-run sees the rules in place" ||
                { fail "4 nft 14 groups: re-run did not see the rules in place"; show; }
        state "$A" >"$T/s2"
        same "4 nft 14 groups: re-run leaves the state identical" "$T/s1" "$T/s2"
        CAP_ENV=()
        delns "$A"; delns "$PEER"
        # 64 groups (Istio's maximum): a 324-word rule, more than iptables-restore parses in one
        # line (251 words). Refused up front with a clear error, nothing changed.
        pod 4; A=$POD
        state "$A" >"$T/s1"
        CAP_ENV=(ISTIO_OUTBOUND_OWNER_GROUPS="$(seq -s, 3001 3064)")
        cap "$A" --force-iptables-binary nft -u 1337 -g 1337; rc=$?
        CAP_ENV=()
        [ $rc = 1 ] && grep -q '324 words.*251 words per line' "$T/out" &&
                pass "4 nft 64 groups: refused, naming the iptables-restore limit" || { fail "4 nft 64 groups: exit $rc"; show; }
        state "$A" >"$T/s2"
        same "4 nft 64 groups: refusal changes nothing" "$T/s1" "$T/s2"
        delns "$A"; delns "$PEER"
fi

# --- item 5: every early return undoes what it did; each family is restored ------------------
# a) TPROXY routing fails half-way (the IPv6 local route needs lo up): the IPv4 rule and route
#    and the IPv6 rule this run added are removed again, on every backend.
for b in "${BACKENDS[@]}"; do
        pod 46; A=$POD
        ip -n "$A" link set lo down
        state "$A" >"$T/before"
        cap "$A" $(bflags "$b") "${TPROXY[@]}"; rc=$?
        [ $rc = 1 ] && grep -q 'IPv6 local route' "$T/out" && pass "5a $b: half-done routing fails (exit 1)" ||
                { fail "5a $b: exit $rc"; show; }
        state "$A" >"$T/after"
        same "5a $b: failed routing set-up leaves no ip rule or route" "$T/before" "$T/after"
        delns "$A"; delns "$PEER"
done
# b) iptables-nft: IPv6 fails after IPv4 was replaced (--reconcile over a previous config):
#    IPv4 goes back to the previous rules, not "IPv4 new, IPv6 old".
if has_backend nft; then
        mkdir -p "$T/bin"
        printf '#!/bin/sh\necho "ip6tables-nft-restore: injected failure" >&2\nexit 4\n' >"$T/bin/ip6tables-nft-restore"
        chmod 755 "$T/bin/ip6tables-nft-restore"
        for from in clean prev; do
                pod 46; A=$POD
                [ $from = prev ] && run_ok "5b nft previous config" "$A" --force-iptables-binary nft "${REDIR[@]}"
                # The iptables-nft view is the authority here; nft's own listing orders the tables
                # by creation, and a restored table is a recreated one.
                state "$A" | nft_view_out >"$T/before"
                CAP_ENV=(PATH="$T/bin:/usr/sbin:/usr/bin:/sbin:/bin")
                cap "$A" --force-iptables-binary nft --reconcile "${TPROXY[@]}" -o 8082; rc=$?
                CAP_ENV=()
                [ $rc = 1 ] && grep -q 'injected failure' "$T/out" && pass "5b nft from $from: IPv6 failure reported (exit 1)" ||
                        { fail "5b nft from $from: exit $rc"; show; }
                state "$A" | nft_view_out >"$T/after"
                same "5b nft from $from: both families (and routes) as before the failed run" "$T/before" "$T/after"
                delns "$A"; delns "$PEER"
        done
fi

# --- item 7: the xtables lock is the netns itself, never a file created by path ---------------
if has_backend legacy; then
        pod 4; A=$POD
        gone=/run/netns/cnibox-e2e-$$-gone
        cap "$A" --force-iptables-binary legacy --cni-mode --network-namespace "$gone" -u 1337 -g 1337; rc=$?
        if [ -e "$gone" ]; then
                fail "7: a stray file $gone was created (exit $rc)"; rm -f "$gone"
        else
                pass "7: no file created for a netns path that is gone"
        fi
        [ $rc = 1 ] && grep -q "$gone" "$T/out" && pass "7: a missing --network-namespace is refused, naming it" ||
                { fail "7: missing netns: exit $rc"; show; }
        # The lock is taken on the netns inode: a holder of that lock makes the run wait.
        flock /run/netns/"$A" sleep 2 &
        PIDS+=($!)
        sleep 0.3
        t0=$(date +%s%N)
        run_ok "7: --cni-mode apply under a held netns lock" "$A" --force-iptables-binary legacy --cni-mode \
                --network-namespace /run/netns/"$A" -u 1337 -g 1337
        ms=$((($(date +%s%N) - t0) / 1000000))
        [ "$ms" -ge 1200 ] && pass "7: waited for the netns lock (${ms} ms)" || fail "7: did not wait for the netns lock (${ms} ms)"
        stop_servers
        delns "$A"; delns "$PEER"
fi
finish
