#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# exitcodes.test.sh: the cnibox dispatcher and istio-iptables end to end: applet selection
# (name, symlink, `pilot-agent istio-iptables`), --list/--install, and Istio's exit codes for bad
# input (spec istio-iptables.md §1: 255 command line, 1 configuration), each message naming the
# value, and nothing applied. Runs inside its own network namespace (`unshare -n`, else -rn).
set -u
: "${CNIBOX:=}"

if [ "${1:-}" != --inside ]; then
        [ -n "$CNIBOX" ] && [ -x "$CNIBOX" ] || { echo "SKIP: \$CNIBOX not set"; exit 77; }
        command -v unshare >/dev/null && command -v ip >/dev/null || { echo "SKIP: unshare/ip missing"; exit 77; }
        if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
                exec timeout 120 unshare -n bash "$0" --inside
        elif unshare -rn true 2>/dev/null; then
                exec timeout 120 unshare -rn bash "$0" --inside
        fi
        echo "SKIP: cannot create a network namespace"; exit 77
fi

# --- inside the private namespace ------------------------------------------------------------
FAILS=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ip link set lo up

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# run_case NAME CODE NEEDLE CMD...: runs CMD (10 s bound), checks its exit code and that its
# output (stdout+stderr) contains NEEDLE (skipped when NEEDLE is empty).
run_case() {
        local name=$1 want=$2 needle=$3 code out
        shift 3
        out=$(timeout 10 "$@" 2>&1)
        code=$?
        if [ "$code" != "$want" ]; then
                fail "$name: exit $code, expected $want; output: $(printf '%s' "$out" | head -5)"
        elif [ -n "$needle" ] && ! printf '%s' "$out" | grep -qF -- "$needle"; then
                fail "$name: output lacks '$needle': $(printf '%s' "$out" | head -5)"
        else
                echo "ok: $name"
        fi
}

# Istio needs a non-loopback address even in --dry-run (§2.4): none yet in this namespace.
run_case no-address 1 "no valid local IP address" "$CNIBOX" istio-iptables --dry-run -u 1337 -g 1337
# A dummy interface when the kernel has the module, else the address on lo (as Istio's tests do:
# only the address matters, not the interface).
if ip link add d0 type dummy 2>/dev/null; then
        ip addr add 10.9.0.2/24 dev d0 && ip link set d0 up
else
        ip addr add 10.9.0.2/32 dev lo
fi || { echo "SKIP: cannot add an interface address"; exit 77; }

# --- dispatcher ---
run_case list 0 istio-iptables "$CNIBOX" --list
run_case version 0 "cnibox " "$CNIBOX" --version
run_case applet-help 0 "Usage: istio-iptables" "$CNIBOX" istio-iptables --help
run_case applet-help-short 0 "--envoy-port" "$CNIBOX" istio-iptables -h
# Each wrapper describes itself, never as "istio-iptables" (issue 11 A11).
run_case validation-help 0 "Usage: istio-validation" "$CNIBOX" istio-validation --help
run_case validation-help-flags 0 "--iptables-probe-port" "$CNIBOX" istio-validation -h
run_case clean-help 0 "Usage: istio-clean-iptables" "$CNIBOX" istio-clean-iptables --help
run_case clean-help-added 0 "--cleanup-only is always on" "$CNIBOX" istio-clean-iptables --help=true
run_case cni-help 0 "CNI_COMMAND" "$CNIBOX" istio-cni --help
run_case list-doctor 0 "doctor " "$CNIBOX" --list
run_case doctor-help 0 "Usage: doctor" "$CNIBOX" doctor --help
run_case doctor-bad-flag 255 "Try 'doctor --help'" "$CNIBOX" doctor --nope
for a in istio-validation istio-clean-iptables istio-cni; do
        if "$CNIBOX" "$a" --help 2>&1 | grep -q "Usage: istio-iptables"; then
                fail "$a --help prints istio-iptables' usage"
        else
                echo "ok: $a-help-own"
        fi
done
run_case unknown-applet 127 "nosuch" "$CNIBOX" nosuch
run_case no-args 2 "Usage" "$CNIBOX"
run_case install-no-dir 2 "--install" "$CNIBOX" --install
ln -s "$CNIBOX" "$TMP/istio-iptables"
run_case symlink 0 "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001" "$TMP/istio-iptables" --dry-run -u 1337 -g 1337
ln -s "$CNIBOX" "$TMP/pilot-agent"
run_case pilot-agent 0 "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006" \
        "$TMP/pilot-agent" istio-iptables --dry-run -u 1337 -g 1337
cp "$CNIBOX" "$TMP/pilot-agent-copy"
run_case pilot-agent-copy 0 "-A OUTPUT -j ISTIO_OUTPUT" "$TMP/pilot-agent-copy" istio-iptables -n -u 1337 -g 1337
run_case pilot-agent-unknown 127 "nosuch" "$TMP/pilot-agent" nosuch
mkdir "$TMP/bin"
run_case install 0 "" "$CNIBOX" --install "$TMP/bin"
if [ -L "$TMP/bin/istio-iptables" ] && [ "$(readlink -f "$TMP/bin/istio-iptables")" = "$(readlink -f "$CNIBOX")" ]; then
        echo "ok: install-link"
else
        fail "install-link: $TMP/bin/istio-iptables is not a symlink to $CNIBOX"
fi
run_case install-again 0 "" "$CNIBOX" --install "$TMP/bin" # idempotent
run_case installed-runs 0 "COMMIT" "$TMP/bin/istio-iptables" --dry-run -u 1337 -g 1337

# --- a good run writes the dry-run record (§9) ---
rec=$TMP/record
DRY_RUN_FILE_PATH=$rec run_case dry-run-record 0 "" "$CNIBOX" istio-iptables --dry-run -u 1337 -g 1337
if [ "$(head -2 "$rec" 2>/dev/null | tr '\n' ' ')" = "iptables-save ip6tables-save " ]; then
        echo "ok: dry-run-record-format"
else
        fail "dry-run-record-format: $(head -3 "$rec" 2>&1)"
fi

# --- bad input: exit code and the value named; each case with and without --dry-run ---
bad() { # bad NAME CODE NEEDLE ARGS...
        local name=$1 code=$2 needle=$3
        shift 3
        rm -f "$rec"
        DRY_RUN_FILE_PATH=$rec run_case "$name" "$code" "$needle" "$CNIBOX" istio-iptables --dry-run -u 1337 -g 1337 "$@"
        [ -e "$rec" ] && fail "$name: wrote the dry-run record"
        run_case "$name (apply)" "$code" "$needle" "$CNIBOX" istio-iptables -u 1337 -g 1337 "$@"
}
bad unknown-flag 255 "--foo" --foo
bad unknown-shorthand 255 "'y'" -y
bad missing-argument 255 "needs an argument" -p
bad bad-bool 255 "maybe" --dry-run=maybe
bad bad-duration 255 '"5"' --probe-timeout 5
bad bad-probe-port 255 "65536" --iptables-probe-port 65536
bad bad-log-level 255 "loud" --log_output_level=loud
bad restore-format-ok-but-unknown 255 "--iptables-version" --iptables-version 1.8
bad cidr-no-len 1 "10.0.0.0" -i 10.0.0.0
bad cidr-v4-range 1 "10.0.0.0/33" -i 10.0.0.0/33
bad cidr-v6-range 1 "::/129" -x ::/129
bad cidr-leading-zero 1 "010.0.0.0/8" -i 010.0.0.0/8
bad cidr-zone 1 "fe80::1%eth0/64" -i fe80::1%eth0/64
bad exclude-wildcard 1 "OUTBOUND_IP_RANGES_EXCLUDE" -x '*'
bad mode 1 "tproxy" -m tproxy
bad port 1 "65536" -b 65536
bad port-space 1 '"80, 443"' -q "80, 443"
bad uid 1 '"-1"' -u -1
bad iface 1 "eth0 -j ACCEPT" -c "eth0 -j ACCEPT"
bad force-binary 1 "iptables" --force-iptables-binary iptables
REDIRECT_DNS=yes bad env-bool 1 "REDIRECT_DNS" -b 80
ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=10.0.0.0/8 bad loopback-cidr 1 "10.0.0.0/8"
groups=$(seq -s, 1 65)
ISTIO_OUTBOUND_OWNER_GROUPS=$groups bad owner-groups-65 1 "ISTIO_OUTBOUND_OWNER_GROUPS"
ISTIO_OUTBOUND_OWNER_GROUPS=$(seq -s, 1 64) run_case owner-groups-64 0 "--gid-owner 64" \
        "$CNIBOX" istio-iptables --dry-run -u 1337 -g 1337
ENVOY_PORT=1234 run_case envoy-port-env-ignored 0 "--to-ports 15001" "$CNIBOX" istio-iptables --dry-run -u 1337 -g 1337

# --- cni-podcache: bad options and set-up failures name the value (2 usage, 1 runtime) ---
run_case "podcache --help" 0 "--node-name" "$CNIBOX" cni-podcache --help
run_case "podcache bad option" 2 "--bogus" "$CNIBOX" cni-podcache --bogus
run_case "podcache extra arg" 2 "'extra'" "$CNIBOX" cni-podcache extra
run_case "podcache bad log level" 2 "'loud'" "$CNIBOX" cni-podcache --log-level loud
run_case "podcache bad node" 2 "'Node_1'" "$CNIBOX" cni-podcache --node-name Node_1 --kubeconfig /nonexistent
run_case "podcache no kubeconfig" 1 "/nonexistent/kc" "$CNIBOX" cni-podcache --node-name n1 --kubeconfig /nonexistent/kc
run_case "podcache not in cluster" 1 "KUBERNETES_SERVICE_HOST" env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST \
        "$CNIBOX" cni-podcache --node-name n1
printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: t\n' >"$TMP/kc"
: >"$TMP/notasocket"
run_case "podcache socket path is a file" 1 "exists and is not a socket" \
        "$CNIBOX" cni-podcache --node-name n1 --kubeconfig "$TMP/kc" --socket "$TMP/notasocket"
[ -f "$TMP/notasocket" ] || fail "podcache replaced a regular file"

# --- nothing was applied in this namespace ---
if command -v iptables-legacy-save >/dev/null; then
        for save in iptables-legacy-save ip6tables-legacy-save; do
                out=$($save 2>/dev/null)
                if printf '%s\n' "$out" | grep -qE '^-A|ISTIO'; then
                        fail "$save: rules present: $(printf '%s\n' "$out" | grep -E '^-A|ISTIO' | head -3)"
                else
                        echo "ok: $save empty"
                fi
        done
fi
if command -v nft >/dev/null; then
        out=$(nft list ruleset 2>/dev/null)
        if [ -n "$out" ]; then fail "nft ruleset not empty: $(printf '%s' "$out" | head -3)"; else echo "ok: nft ruleset empty"; fi
fi

[ "$FAILS" = 0 ] && echo "all passed" || echo "$FAILS failed"
[ "$FAILS" = 0 ]
