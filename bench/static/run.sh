#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/static/run.sh DYNAMIC STATIC [N]: the dynamic and the static cnibox of one commit, side by
# side in one run (issue 15 §3), interleaved sample by sample so both see the same machine load:
#   - start-up: `cnibox --version`, 500 fork+execs each (and /bin/true, the floor), in blocks of 50;
#   - istio-iptables, legacy backend, default sidecar rules, in N fresh namespaces each (timed as
#     one `nsenter --net` as bench/apply does, its /bin/true baseline subtracted);
#   - a successful istio-validation as uid 1337 against those rules, N runs each;
#   - CNI ADD p50/p99 on the agent path and the direct TLS path (bench/cni-add, N_ADD=100), twice
#     each, alternating.
# Root only; every namespace is created here and deleted on exit. Every run must succeed.
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "bench/static: needs root" >&2; exit 1; }
[ $# -ge 2 ] && [ -x "$1" ] && [ -x "$2" ] || { echo "usage: bench/static/run.sh DYNAMIC STATIC [N]" >&2; exit 1; }
DYN=$(readlink -f "$1") STA=$(readlink -f "$2") N=${3:-40}
P=cnibox-bstatic-$$
T=$(mktemp -d /tmp/cnibox-bench-static.XXXXXX)
chmod 755 "$T"
cleanup() { for n in $(ip netns list | awk -v p="$P-" 'index($1, p) == 1 { print $1 }'); do ip netns del "$n"; done; rm -rf "$T"; }
trap cleanup EXIT
ARGS=(-p 15001 -u 1337 -g 1337 -m REDIRECT -i '*' -b '*' -d 15090,15021,15020)
die() { echo "bench/static: $*; no figures" >&2; exit 1; }
mkns() {
        ip netns add "$1" && ip -n "$1" link set lo up &&
        ip -n "$1" link add v0 type veth peer name v1 && ip -n "$1" addr add 10.20.0.2/24 dev v0 &&
        ip -n "$1" link set v0 up && ip -n "$1" link set v1 up || die "cannot create $1"
}
us() { echo $(( ${2/./} - ${1/./} )); }
# stats FILE [BASEFILE]: "mean p50 p99" in ms (the base file's mean subtracted)
stats() {
        local base=0
        [ -n "${2:-}" ] && base=$(awk '{ s += $1 } END { printf "%d", s / NR }' "$2")
        sort -n "$1" | awk -v b="$base" '{ v[NR] = $1 - b; s += $1 - b }
                END { printf "%.3f %.3f %.3f", s / NR / 1000, v[int((NR - 1) * 0.5) + 1] / 1000, v[int((NR - 1) * 0.99) + 1] / 1000 }'
}

# 1. start-up, in blocks of 50, alternating
: >"$T/ver.dyn"; : >"$T/ver.sta"; : >"$T/ver.true"; : >"$T/cpu.dyn"; : >"$T/cpu.sta"; : >"$T/cpu.true"
for blk in $(seq 10); do
        for v in dyn sta true; do
                B=$DYN; [ $v = sta ] && B=$STA; [ $v = true ] && B=/bin/true
                t0=$EPOCHREALTIME
                TIMEFORMAT='%3U %3S'
                { time (for i in $(seq 50); do "$B" --version >/dev/null || exit 1; done) ; } 2>>"$T/cpu.$v" ||
                        die "$B --version failed"
                t1=$EPOCHREALTIME
                echo $(( $(us "$t0" "$t1") / 50 )) >>"$T/ver.$v"
        done
done

# 2. legacy apply in fresh namespaces, alternating
for i in $(seq "$N"); do mkns "$P-d$i"; mkns "$P-s$i"; done
for v in dyn sta; do : >"$T/apply.$v"; : >"$T/base.$v"; done
for i in $(seq "$N"); do
        for v in dyn sta; do
                B=$DYN ns=$P-d$i; [ $v = sta ] && B=$STA ns=$P-s$i
                t0=$EPOCHREALTIME; nsenter --net=/run/netns/"$ns" /bin/true; t1=$EPOCHREALTIME
                us "$t0" "$t1" >>"$T/base.$v"
                t0=$EPOCHREALTIME
                nsenter --net=/run/netns/"$ns" "$B" istio-iptables --force-iptables-binary legacy "${ARGS[@]}" >/dev/null 2>"$T/err" ||
                        die "$v apply in $ns failed: $(cat "$T/err")"
                t1=$EPOCHREALTIME
                us "$t0" "$t1" >>"$T/apply.$v"
        done
done
for i in $(seq "$N"); do
        for ns in "$P-d$i" "$P-s$i"; do
                nsenter --net=/run/netns/"$ns" iptables-legacy-save -t nat | grep -q 'to-ports 15001' || die "$ns lacks the rules"
        done
done

# 3. istio-validation as uid 1337 in one of those namespaces, alternating
cp "$DYN" "$T/dyn"; cp "$STA" "$T/sta" # readable by uid 1337
for v in dyn sta; do : >"$T/val.$v"; done
for i in $(seq "$N"); do
        for v in dyn sta; do
                t0=$EPOCHREALTIME
                nsenter --net=/run/netns/"$P-d1" setpriv --reuid=1337 --regid=1337 --clear-groups \
                        "$T/$v" istio-validation --probe-timeout=2s >"$T/vout" 2>&1 || die "$v validation failed: $(cat "$T/vout")"
                t1=$EPOCHREALTIME
                grep -q 'Validation passed' "$T/vout" || die "$v validation: no 'Validation passed'"
                us "$t0" "$t1" >>"$T/val.$v"
        done
done

# 4. CNI ADD on the agent path and the direct TLS path (bench/cni-add, N_ADD sequential ADDs per
# path and a burst of 110): dynamic, static, dynamic, static, so that both see the same load.
N_ADD=${N_ADD:-100}
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
for round in 1 2; do
        for v in dyn sta; do
                B=$DYN; [ $v = sta ] && B=$STA
                CNI_PLUGIN=$B bash "$SRCDIR/bench/cni-add" "$N_ADD" >"$T/add.$v.$round" 2>&1 ||
                        die "$v: bench/cni-add failed: $(tail -3 "$T/add.$v.$round")"
        done
done

echo "bench/static: dynamic $DYN ($(stat -c %s "$DYN") bytes), static $STA ($(stat -c %s "$STA") bytes), N=$N, $(nproc) CPUs, $(uname -r)"
printf '%-60s %8s %8s %8s\n' "ms" mean p50 p99
printf '%-60s %8s %8s %8s\n' "/bin/true (per run, 500 runs; the fork+exec floor)" $(stats "$T/ver.true")
for v in dyn sta; do
        name=dynamic; [ $v = sta ] && name=static
        printf '%-60s %8s %8s %8s\n' "$name: cnibox --version (per run, 500 runs)" $(stats "$T/ver.$v")
done
# CPU time (user + sys of the 500 runs) does not depend on what else the machine runs.
for v in true dyn sta; do
        name=/bin/true; [ $v = dyn ] && name="dynamic cnibox --version"; [ $v = sta ] && name="static cnibox --version"
        awk -v n="$name" '{ u += $1; s += $2 } END { printf "%-60s user %.3f sys %.3f ms per run\n", n ", CPU time", u * 2, s * 2 }' "$T/cpu.$v"
done
for v in dyn sta; do
        name=dynamic; [ $v = sta ] && name=static
        printf '%-60s %8s %8s %8s\n' "$name: istio-iptables legacy, fresh netns (nsenter subtracted)" $(stats "$T/apply.$v" "$T/base.$v")
done
for v in dyn sta; do
        name=dynamic; [ $v = sta ] && name=static
        printf '%-60s %8s %8s %8s\n' "$name: istio-validation as 1337 (incl. nsenter+setpriv)" $(stats "$T/val.$v")
done
for round in 1 2; do
        for v in dyn sta; do
                name=dynamic; [ $v = sta ] && name=static
                grep -E 'sequential ADD|burst' "$T/add.$v.$round" | sed "s/^/$name, round $round: /"
        done
done
