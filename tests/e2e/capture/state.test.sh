#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# state.test.sh: kernel state after real runs of `cnibox istio-iptables`, for each backend (issue 3/5
# acceptance; spec istio-iptables.md §5.4 state, §5.5 reconcile, §5.6 cleanup, §5.7 routes, §7).
#  - the rules in the kernel equal the --dry-run payload restored with iptables-legacy-restore /
#    ip[6]tables-nft-restore (or the nft text loaded with `nft -f`) into another fresh namespace;
#  - an identical re-run is a no-op; a changed config fails without --reconcile (iptables backends;
#    native nftables rewrites its tables on every run, spec §7) and converges with it;
#  - --cleanup-only and the istio-clean-iptables applet leave the namespace as a fresh one.
. "$(dirname "$0")/lib.sh"

# Configurations: name fam resolv-servers args…
CONFIGS=(default tpdns6 all)
cfg() {
        case $1 in
        default) FAM=4 DNSS=() ARGS=(-u 1337 -g 1337) ;;
        tpdns6) FAM=46 DNSS=(10.20.0.53 fd00::53)
                ARGS=(--dual-stack -u 1337 -g 1337 -m TPROXY -b '*' -d 15090 --redirect-dns) ;;
        all) FAM=46 DNSS=(10.20.0.53 fd00::53)
             ARGS=(--dual-stack -p 15001 -z 15006 -e 15008 -u 1337,1338 -g 1337 -m TPROXY -t 1337 -r 133
                   -b '*' -d 15090,15021 -i 10.0.0.0/8,fd00:1::/64 -x 10.20.0.6/32,fd00::6/128 -q 8081
                   -o 8082 -k virt0 -c ext0 --redirect-dns --capture-all-dns --drop-invalid) ;;
        esac
}
# mkpod: a pod namespace for the current config (PEER is not needed here)
mkpod() {
        pod "$FAM" # PEER stays: deleting it would delete the veth pair
        if [ ${#DNSS[@]} -gt 0 ]; then resolv "${DNSS[@]}"; else RESOLV=; fi
}
show() { sed 's/^/    /' "$T/out" | head -20; }

# restore_into NS BACKEND: loads $T/dry (the dry-run of the same config) with the peer tool
restore_into() {
        local ns=$1 b=$2
        case $b in
        legacy) dry_family v4 | inns "$ns" iptables-legacy-restore --noflush || return 1
                [ -z "$(dry_family v6)" ] || dry_family v6 | inns "$ns" ip6tables-legacy-restore --noflush ;;
        nft) dry_family v4 | inns "$ns" iptables-nft-restore --noflush || return 1
             [ -z "$(dry_family v6)" ] || dry_family v6 | inns "$ns" ip6tables-nft-restore --noflush ;;
        native) inns "$ns" nft -f "$T/dry" ;;
        esac
}

# 5. the kernel holds what the dry-run says
dryrun_equiv() {
        local b=$1 c=$2 w="$1 $2: kernel state equals the restored --dry-run payload" A
        cfg "$c"; mkpod; A=$POD
        dryrun "$A" $(bflags "$b") "${ARGS[@]}" || { fail "$w: dry-run exit $?"; cat "$T/dry.err"; return; }
        cap "$A" $(bflags "$b") "${ARGS[@]}" || { fail "$w: apply exit $?"; show; return; }
        save "$A" "$b" raw >"$T/real"
        newns
        restore_into "$NS" "$b" 2>"$T/restore.err" || { fail "$w: restore failed"; cat "$T/restore.err"; return; }
        save "$NS" "$b" raw >"$T/restored"
        same "$w" "$T/restored" "$T/real"
        [ -s "$T/real" ] || fail "$w: empty state"
        delns "$A"; delns "$NS"; delns "$PEER"
}

# fresh_state BACKEND ARGS…: state of a new pod namespace after one run with ARGS (or none)
fresh_state() {
        local b=$1; shift
        mkpod
        [ $# = 0 ] || cap "$POD" $(bflags "$b") "$@" || { echo "fresh apply failed: $(cat "$T/out")"; }
        state "$POD"
        delns "$POD"; delns "$PEER"
}

# 6. re-run, changed config, reconcile, cleanup
lifecycle() {
        local b=$1 c=$2 w="$1 $2" A rc
        cfg "$c"
        local NEW=("${ARGS[@]}" -o 9999)
        [ "$c" = all ] && NEW=("${ARGS[@]/8082/8082,9999}")
        fresh_state "$b" "${NEW[@]}" >"$T/want-new"
        fresh_state "$b" >"$T/want-clean"
        mkpod; A=$POD
        cap "$A" $(bflags "$b") "${ARGS[@]}" || { fail "$w: apply exit $?"; show; return; }
        state "$A" >"$T/s1"
        cap "$A" $(bflags "$b") "${ARGS[@]}"; rc=$?
        [ $rc = 0 ] && pass "$w: re-run exits 0" || { fail "$w: re-run exit $rc"; show; }
        state "$A" >"$T/s2"
        same "$w: re-run leaves the state identical" "$T/s1" "$T/s2"

        cap "$A" $(bflags "$b") "${NEW[@]}"; rc=$?
        state "$A" >"$T/s3"
        if [ "$b" = native ]; then
                # Spec §7: the nftables path rewrites its tables on every run; --reconcile has no effect.
                [ $rc = 0 ] && pass "$w: changed config (native) exits 0" || { fail "$w: changed config (native) exit $rc"; show; }
                same "$w: changed config (native) converges" "$T/want-new" "$T/s3"
                cap "$A" $(bflags "$b") "${ARGS[@]}" || { fail "$w: re-apply exit $?"; show; }
        else
                if [ $rc = 1 ] && grep -q -- '--reconcile' "$T/out"; then
                        pass "$w: changed config without --reconcile exits 1 naming --reconcile"
                else
                        fail "$w: changed config without --reconcile: exit $rc"; show
                fi
                same "$w: changed config without --reconcile leaves the state unchanged" "$T/s1" "$T/s3"
        fi
        cap "$A" $(bflags "$b") --reconcile "${NEW[@]}"; rc=$?
        [ $rc = 0 ] && pass "$w: --reconcile exits 0" || { fail "$w: --reconcile exit $rc"; show; }
        state "$A" >"$T/s4"
        same "$w: --reconcile converges to the new config's state" "$T/want-new" "$T/s4"

        cap "$A" $(bflags "$b") --cleanup-only "${NEW[@]}"; rc=$?
        [ $rc = 0 ] && pass "$w: --cleanup-only exits 0" || { fail "$w: --cleanup-only exit $rc"; show; }
        state "$A" >"$T/s5"
        same "$w: --cleanup-only leaves the namespace as a fresh one" "$T/want-clean" "$T/s5"
        delns "$A"; delns "$PEER"

        mkpod; A=$POD
        cap "$A" $(bflags "$b") "${ARGS[@]}" || { fail "$w: apply exit $?"; show; }
        capx "$A" istio-clean-iptables $(bflags "$b") "${ARGS[@]}"; rc=$?
        [ $rc = 0 ] && pass "$w: istio-clean-iptables exits 0" || { fail "$w: istio-clean-iptables exit $rc"; show; }
        state "$A" >"$T/s6"
        same "$w: istio-clean-iptables leaves the namespace as a fresh one" "$T/want-clean" "$T/s6"
        delns "$A"; delns "$PEER"
}

for b in "${BACKENDS[@]}"; do
        for c in "${CONFIGS[@]}"; do
                dryrun_equiv "$b" "$c"
                lifecycle "$b" "$c"
        done
done
finish
