#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# legacy-apply.test.sh: the in-process legacy backend (lib/kernel/iptlegacy.c) against iptables-legacy-restore,
# each case in throw-away `unshare -n` namespaces. Spec: istio-iptables.md §4, §5.4, §5.6.
# Driver: $BUILDDIR/test_iptlegacy {apply|cleanup|compare|probe} V4FILE|- V6FILE|-
set -u
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
DRV=${IPTLEGACY_DRIVER:-${BUILDDIR:-}/test_iptlegacy}
[ -x "$DRV" ] || { echo "SKIP: no driver $DRV"; exit 77; }
command -v iptables-legacy-restore >/dev/null || { echo "SKIP: no iptables-legacy"; exit 77; }
unshare -n true 2>/dev/null || { echo "SKIP: cannot unshare -n"; exit 77; }
P=${SRCDIR:-$(dirname "$0")/../../..}/tests/e2e/iptables/legacy-payloads
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export DRV P TMP
fail=0
ok() { echo "ok - $1"; }
bad() { echo "FAIL - $1"; fail=1; }
# In a namespace: run "$@" (a bash snippet) with helpers available.
ns() { timeout 60 unshare -n bash -c "
        save() { { iptables-legacy-save; ip6tables-legacy-save; } | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; }
        touch_tables() { for t in filter mangle nat raw; do iptables-legacy -t \$t -S >/dev/null; ip6tables-legacy -t \$t -S >/dev/null; done; }
        foreign() { iptables-legacy -t nat -A OUTPUT -p tcp --dport 7 -j RETURN; iptables-legacy -t mangle -I PREROUTING -i eth7 -j ACCEPT
                    iptables-legacy -t filter -A INPUT -p udp -j ACCEPT; ip6tables-legacy -t nat -A OUTPUT -o lo -j RETURN; }
        $1"; }

# 1. Same kernel state as iptables-legacy-restore --noflush, and iptables' own bytes compare identical.
for c in "default.v4 -" "tproxy.v4 -" "all.v4 all.v6"; do
        set -- $c
        ns "\$DRV apply \$P/$1 $([ "$2" = - ] && echo - || echo "\$P/$2") && save" >"$TMP/ours" 2>&1 || bad "apply $c"
        ns "iptables-legacy-restore --noflush <\$P/$1 && { [ $2 = - ] || ip6tables-legacy-restore --noflush <\$P/$2; } && save &&
            \$DRV compare \$P/$1 $([ "$2" = - ] && echo - || echo "\$P/$2") >\$TMP/cmp" >"$TMP/theirs" 2>&1
        if diff -u "$TMP/theirs" "$TMP/ours"; then ok "save output equals iptables-legacy-restore ($c)"; else bad "save differs ($c)"; fi
        if ! grep -qv identical "$TMP/cmp"; then ok "restore's entries are byte-identical to ours ($c)"; else bad "compare: $(cat "$TMP/cmp")"; fi
done

# 2. Re-apply is a no-op in effect; compare says identical; extra built-in rule is not drift; extra ISTIO rule is.
ns '$DRV apply $P/all.v4 $P/all.v6 && save >$TMP/s1 && $DRV apply $P/all.v4 $P/all.v6 && save >$TMP/s2 &&
    $DRV compare $P/all.v4 $P/all.v6 >$TMP/c1 &&
    iptables-legacy -t nat -A OUTPUT -p tcp --dport 9 -j RETURN && $DRV compare $P/all.v4 $P/all.v6 >$TMP/c2 &&
    iptables-legacy -t nat -A ISTIO_OUTPUT -p tcp --dport 9 -j RETURN && $DRV compare $P/all.v4 $P/all.v6 >$TMP/c3 &&
    $DRV compare $P/default.v4 - >$TMP/c4'
cmp -s "$TMP/s1" "$TMP/s2" && ok "re-apply leaves identical state" || bad "re-apply changed state"
[ "$(grep -c identical "$TMP/c1")" = 2 ] && ok "re-run compares identical" || bad "c1: $(cat "$TMP/c1")"
grep -q '^v4 identical residue=1' "$TMP/c2" && ok "extra built-in rule is not drift" || bad "c2: $(cat "$TMP/c2")"
grep -q '^v4 drifted' "$TMP/c3" && ok "extra ISTIO_* rule is drift" || bad "c3: $(cat "$TMP/c3")"
grep -q '^v4 drifted' "$TMP/c4" && ok "changed config is drift" || bad "c4: $(cat "$TMP/c4")"
ns '$DRV compare $P/all.v4 $P/all.v6; foreign; $DRV compare $P/all.v4 $P/all.v6' >"$TMP/c5"
[ "$(head -2 "$TMP/c5" | grep -c 'clean residue=0')" = 2 ] && grep -q '^v4 clean residue=1' "$TMP/c5" \
        && ok "fresh/foreign-only namespace is clean (residue reported)" || bad "c5: $(cat "$TMP/c5")"

# 3. A changed config converges in one apply (reconcile) to what a fresh apply gives. (Like Istio's
#    cleanup, non-jump built-in-chain rules of an *older* config are only known by their bytes, so
#    only those the new config also has are replaced: go from the smaller config to the larger.)
ns 'touch_tables; $DRV apply $P/default.v4 - && $DRV apply $P/all.v4 $P/all.v6 && save' >"$TMP/r1"
ns 'touch_tables; $DRV apply $P/all.v4 $P/all.v6 && save' >"$TMP/r2"
diff -u "$TMP/r2" "$TMP/r1" >/dev/null && ok "apply over another config converges" || bad "reconcile: $(diff "$TMP/r2" "$TMP/r1" | head)"

# 4. Injected mid-apply failures roll back everything this run committed.
for inj in iptlegacy:mangle iptlegacy:raw iptlegacy6:nat iptlegacy6:raw; do
        ns "touch_tables; foreign; \$DRV apply \$P/default.v4 - && save >\$TMP/before &&
            CNIBOX_FAULT_INJECT=$inj \$DRV apply \$P/all.v4 \$P/all.v6 2>\$TMP/err; echo rc=\$? >\$TMP/rc; save >\$TMP/after"
        if grep -q rc=1 "$TMP/rc" && grep -q 'injected fault' "$TMP/err" && cmp -s "$TMP/before" "$TMP/after"; then
                ok "fault $inj: exit 1, $(grep -o 'rolled back [0-9]* table commit(s)' "$TMP/err"), state as before"
        else
                bad "fault $inj: $(cat "$TMP/rc" "$TMP/err"; diff "$TMP/before" "$TMP/after" | head)"
        fi
done

# 5. Cleanup leaves the namespace as it was (foreign rules kept); cleanup without state is a no-op.
for c in "default.v4 -" "all.v4 all.v6"; do
        set -- $c
        a="\$P/$1 $([ "$2" = - ] && echo - || echo "\$P/$2")"
        ns "touch_tables; foreign; save >\$TMP/before; \$DRV cleanup $a && save >\$TMP/noop &&
            \$DRV apply $a && \$DRV cleanup $a && save >\$TMP/after"
        cmp -s "$TMP/before" "$TMP/noop" && cmp -s "$TMP/before" "$TMP/after" && ok "cleanup restores the namespace ($c)" \
                || bad "cleanup ($c): $(diff "$TMP/before" "$TMP/after" | head)"
done

# 6. Probe: a fresh netns has no nat table yet; the probe instantiates it; then it is seen.
ns '$DRV probe - -; $DRV probe - -; foreign; $DRV probe - -' >"$TMP/p"
sed -n 1p "$TMP/p" | grep -q 'v4 available=1 nat_exists=0 instantiated=1' && sed -n 3p "$TMP/p" | grep -q 'nat_exists=1 instantiated=0' \
        && sed -n 5p "$TMP/p" | grep -q 'rules=3' && ok "probe" || bad "probe: $(cat "$TMP/p")"

# 7. The xtables lock is honoured: while another holder has it, apply waits for it.
touch "$TMP/lock"
flock "$TMP/lock" sleep 1.5 &
holder=$!
sleep 0.3
start=$(date +%s%N)
ns "XTABLES_LOCKFILE=\$TMP/lock \$DRV apply \$P/default.v4 -" && waited=$((($(date +%s%N) - start) / 1000000))
wait $holder
[ "${waited:-0}" -ge 900 ] && ok "apply waited ${waited} ms for the xtables lock" || bad "lock not honoured (${waited:-?} ms)"

exit $fail
