# SPDX-License-Identifier: Apache-2.0
# lib.sh: shared helpers of the validation e2e tests (spec istio-iptables.md §6).
# Sourced by *.test.sh. Each case runs in its own `unshare -n` namespace, never the host's.
# The probe is `$CNIBOX istio-validation` when the applet exists, else the library driver
# `$BUILDDIR/test_validate --probe` (tests/unit/test_validate.c).

set -u
VLIB=${BASH_SOURCE[0]}
: "${BUILDDIR:=}" "${CNIBOX:=}"
FAILS=0
PROXY_UID=1337

need_root() {
        [ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
        for b in unshare setpriv iptables-legacy-restore ip6tables-legacy-restore ip timeout; do
                command -v "$b" >/dev/null || { echo "SKIP: $b missing"; exit 77; }
        done
        unshare -n true 2>/dev/null || { echo "SKIP: cannot unshare -n"; exit 77; }
        if [ -n "$CNIBOX" ] && [ -x "$CNIBOX" ] && "$CNIBOX" --list 2>/dev/null | grep -qw istio-validation; then
                MODE=applet
        elif [ -n "$BUILDDIR" ] && [ -x "$BUILDDIR/test_validate" ]; then
                MODE=driver
        else
                echo "SKIP: neither \$CNIBOX istio-validation nor \$BUILDDIR/test_validate"; exit 77
        fi
        export MODE
        # uid 1337 must be able to execute the binary (a build tree under /root would not do).
        local bin; [ "$MODE" = applet ] && bin=$CNIBOX || bin=$BUILDDIR/test_validate
        setpriv --reuid=$PROXY_UID --regid=$PROXY_UID --clear-groups test -x "$bin" ||
                { echo "SKIP: uid $PROXY_UID cannot execute $bin"; exit 77; }
}

# payload_v4 [tproxy]: the default sidecar payload (-u 1337 -g 1337, spec §4 / §3.3), from the
# fixtures the legacy backend's tests use. These tests check the probe, not the renderer (the
# goldens in tests/golden/ do that).
payload_v4() {
        local dir
        dir=$(cd "$(dirname "$VLIB")/../iptables/legacy-payloads" && pwd) || return 1
        if [ "${1:-redirect}" = tproxy ]; then cat "$dir/tproxy.v4"; else cat "$dir/default.v4"; fi
}

# The v6 twin (spec §3.1: SRC6 ::6/128, LB6 ::1/128).
payload_v6() {
        payload_v4 "$@" | sed -e 's#127\.0\.0\.6/32#::6/128#g' -e 's#127\.0\.0\.1/32#::1/128#g'
}

# Namespace set-up, run inside the namespace. A veth gives the applet a HostIP to pick the family
# from (spec §2.4); the probe itself only uses lo.
ns_setup() {
        local fam=${1:-4}
        ip link set lo up
        ip link add cnv0 type veth peer name cnv1 2>/dev/null && ip link set cnv0 up && ip link set cnv1 up
        if [ "$fam" = 6 ]; then
                ip -6 addr add fd00:c1b0::2/64 dev cnv0 nodad 2>/dev/null
                ip -6 addr add ::6/128 dev lo nodad
        else
                ip addr add 10.211.0.2/24 dev cnv0 2>/dev/null
        fi
        return 0
}

# probe_cmd FAM TIMEOUT_MS [extra applet/driver args]: prints the argv of one probe run.
probe() {
        local fam=$1 ms=$2; shift 2
        if [ "$MODE" = applet ]; then
                "$CNIBOX" istio-validation --probe-timeout="${ms}ms" "$@"
        else
                local a=(--timeout-ms "$ms")
                [ "$fam" = 6 ] && a+=(--ipv6)
                "$BUILDDIR/test_validate" --probe "${a[@]}" "$@"
        fi
}

as_proxy() { setpriv --reuid=$PROXY_UID --regid=$PROXY_UID --clear-groups "$@"; }

# expect NAME WANT_RC WANT_REASON OUTPUT_FILE RC
expect() {
        local name=$1 want_rc=$2 want=$3 out=$4 rc=$5
        if [ "$rc" != "$want_rc" ] || ! grep -q -- "$want" "$out"; then
                echo "FAIL: $name: rc=$rc (want $want_rc), want '$want' in:"; sed 's/^/    /' "$out"
                FAILS=$((FAILS + 1))
        else
                echo "ok: $name"; sed 's/^/    /' "$out"
        fi
}

# run_case NAME WANT_RC WANT_REASON FUNC [ARGS]: runs FUNC inside a fresh netns; FUNC prints the
# probe output on stdout and returns the probe's exit code.
run_case() {
        local name=$1 want_rc=$2 want=$3; shift 3
        local out; out=$(mktemp)
        timeout 60 unshare -n -- bash -c 'source "$0"; "$@"' "$VLIB" "$@" >"$out" 2>&1
        expect "$name" "$want_rc" "$want" "$out" $?
        rm -f "$out"
}

# ---- cases (each runs inside its own namespace) ----

# case_rules FAM MODE(redirect|tproxy) SED_EXPR RUN_AS(proxy|root) TIMEOUT_MS [probe args]
case_rules() {
        local fam=$1 mode=$2 edit=$3 who=$4 ms=$5; shift 5
        ns_setup "$fam" || return 99
        if [ "$mode" != none ]; then
                if [ "$fam" = 6 ]; then
                        payload_v6 "$mode" | sed -e "$edit" | ip6tables-legacy-restore --noflush || return 98
                else
                        payload_v4 "$mode" | sed -e "$edit" | iptables-legacy-restore --noflush || return 98
                fi
        fi
        if [ "$mode" = tproxy ]; then
                # Spec §5.7: what the applier adds after the rules (mark 1337, table 133).
                local ipf=; [ "$fam" = 6 ] && ipf=-6
                ip $ipf rule add fwmark 1337 lookup 133 || return 97
                if [ "$fam" = 6 ]; then ip -6 route add local ::/0 dev lo table 133 || return 97
                else ip route add local 0.0.0.0/0 dev lo table 133 || return 97; fi
        fi
        if [ "$who" = root ]; then probe "$fam" "$ms" "$@"; else as_proxy bash -c 'source "$0"; probe "$@"' "$VLIB" "$fam" "$ms" "$@"; fi
}

# case_busy FAM TIMEOUT_MS: 15001 and 15006 held by another uid without SO_REUSEPORT.
case_busy() {
        local fam=$1 ms=$2 lo=127.0.0.1 p1 p2 rc
        ns_setup "$fam" || return 99
        [ "$fam" = 6 ] && lo=::1
        payload_v4 redirect | iptables-legacy-restore --noflush || return 98
        exec 3< <(setpriv --reuid=65534 --regid=65534 --clear-groups "$BUILDDIR/test_validate" --hold "$lo" 15001 30)
        p1=$!
        exec 4< <(setpriv --reuid=65534 --regid=65534 --clear-groups "$BUILDDIR/test_validate" --hold "$lo" 15006 30)
        p2=$!
        read -r -t 5 _ <&3 && read -r -t 5 _ <&4 || { kill "$p1" "$p2"; return 96; }
        as_proxy bash -c 'source "$0"; probe "$@"' "$VLIB" "$fam" "$ms"
        rc=$?
        kill "$p1" "$p2" 2>/dev/null
        return $rc
}

# case_elsewhere: ISTIO_IN_REDIRECT sends to 15999 where some other socket listens.
case_elsewhere() {
        local p rc
        ns_setup 4 || return 99
        payload_v4 redirect | sed -e 's/--to-ports 15006/--to-ports 15999/' | iptables-legacy-restore --noflush || return 98
        exec 3< <("$BUILDDIR/test_validate" --hold 127.0.0.1 15999 30)
        p=$!
        read -r -t 5 _ <&3 || { kill "$p"; return 96; }
        as_proxy bash -c 'source "$0"; probe "$@"' "$VLIB" 4 300
        rc=$?
        kill "$p" 2>/dev/null
        return $rc
}

# case_nov6addr: IPv6 rules but ::6 never added to lo.
case_nov6addr() {
        ip link set lo up
        # A HostIP so the applet picks IPv6 (spec §2.4), but no ::6 on lo.
        ip link add cnv0 type veth peer name cnv1 && ip link set cnv0 up && ip link set cnv1 up
        ip -6 addr add fd00:c1b0::2/64 dev cnv0 nodad
        payload_v6 redirect | ip6tables-legacy-restore --noflush || return 98
        as_proxy bash -c 'source "$0"; probe "$@"' "$VLIB" 6 300
}

finish() {
        [ "$FAILS" = 0 ] && { echo "all passed"; exit 0; }
        echo "$FAILS case(s) failed"; exit 1
}
