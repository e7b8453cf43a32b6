#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# equivalence.test.sh: the netlink builder (lib/kernel/nftbatch) and the text renderer
# (lib/rules/rules-nft) load the same ruleset. For every scenario of tests/golden/golden.test.sh:
# `cnibox istio-iptables --native-nftables` applies through netlink in one fresh netns, `nft -f`
# loads the --dry-run text of the same run in another fresh netns, and `nft list ruleset` must be
# identical (`nft -s`: counter values aside); so must the kernel's expressions (`nft --debug=netlink
# list ruleset`, handles, counter values and anonymous set numbers aside). Spec: istio-iptables.md §7; issue 14 item 2.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${SRCDIR:-$(cd "$HERE/../../.." && pwd)}
CNIBOX=${CNIBOX:-$SRCDIR/build/cnibox}
GOLDEN=$SRCDIR/tests/golden/golden.test.sh

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v nft >/dev/null || { echo "SKIP: nft missing"; exit 77; }
[ -x "$CNIBOX" ] || { echo "cannot run $CNIBOX"; exit 1; }

tmp=$(mktemp -d /tmp/cnibox-nft-equiv.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Runs inside a private net + mount namespace (as golden.test.sh): lo up, one NIC with the
# scenario's addresses, a private resolv.conf; then G_CMD.
SETUP='
set -e
mount --make-rprivate / 2>/dev/null || true
mount --bind "$G_RESOLV" /etc/resolv.conf
mount --bind "$G_GROUP" /etc/group
ip link set lo up
ip link add eth0 type veth peer name eth0p
ip link set eth0 up; ip link set eth0p up
case "$G_IP" in
  4) ip addr add 10.1.0.2/24 dev eth0 ;;
  6) ip -6 addr add fd00::2/64 dev eth0 nodad ;;
  46) ip -6 addr add fd00::2/64 dev eth0 nodad; ip addr add 10.1.0.2/24 dev eth0 ;;
esac
set +e
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin $G_ENV "$G_BIN" istio-iptables "$@" >"$G_OUT" 2>"$G_ERR" || exit 10
nft -s list ruleset >"$G_LIST" || exit 11
nft --debug=netlink list ruleset >"$G_DEBUG" || exit 12
'
# Loads a text with nft -f in a fresh netns and lists it.
ORACLE='
set -e
mount --make-rprivate / 2>/dev/null || true
mount --bind "$G_GROUP" /etc/group
nft -f "$G_TEXT"
nft -s list ruleset >"$G_LIST"
nft --debug=netlink list ruleset >"$G_DEBUG"
'
# Rule handles ("inet T C 12 11") and anonymous set numbers depend on creation order only;
# counters on traffic (IPv6 neighbour discovery on the veth) in the netns.
normalize() { sed -E 's/^(inet [^ ]+ [^ ]+)( [0-9]+)+$/\1/; s/__set[0-9]+/__setN/g; s/counter pkts [0-9]+ bytes [0-9]+/counter/; s/counter packets [0-9]+ bytes [0-9]+/counter/' "$1"; }

# The owner-group scenarios name groups (java, ftp) that nft and cnibox resolve through NSS:
# a private /etc/group (bind-mounted in each namespace) holds them.
cp /etc/group "$tmp/group"
for g in java:5001 ftp:5002; do
        grep -q "^${g%%:*}:" "$tmp/group" || echo "${g%%:*}:x:${g#*:}:" >>"$tmp/group"
done
export G_GROUP=$tmp/group

pass=0 fail=0 n=0
scenario() { # name ip "resolv servers" "ENV=V …" args...  (golden.test.sh's signature)
        local name=$1 ip=$2 resolv=$3 env=$4 rc; shift 4
        local d=$tmp/$name
        mkdir -p "$d"
        n=$((n + 1))
        printf '%s\n' $resolv | sed '/^$/d; s/^/nameserver /' >"$d/resolv.conf"
        export G_RESOLV=$d/resolv.conf G_IP=$ip G_ENV=$env G_BIN=$(readlink -f "$CNIBOX")
        # 1. The text (dry-run applies nothing), 2. the netlink apply, in fresh namespaces.
        G_OUT=$d/text.nft G_ERR=$d/dry.err G_LIST=$d/dry.list G_DEBUG=/dev/null \
                unshare -nm sh -c "$SETUP" equiv --dry-run --native-nftables "$@"
        rc=$?
        if [ $rc != 0 ] || [ -s "$d/dry.list" ]; then
                echo "FAIL $name: dry-run rc=$rc or it applied something"; sed 's/^/    /' "$d/dry.err"
                fail=$((fail + 1)); return
        fi
        G_OUT=/dev/null G_ERR=$d/apply.err G_LIST=$d/netlink.list G_DEBUG=$d/netlink.debug \
                unshare -nm sh -c "$SETUP" equiv --native-nftables "$@"
        rc=$?
        if [ $rc != 0 ]; then
                echo "FAIL $name: netlink apply rc=$rc"; sed 's/^/    /' "$d/apply.err"
                fail=$((fail + 1)); return
        fi
        G_TEXT=$d/text.nft G_LIST=$d/text.list G_DEBUG=$d/text.debug unshare -nm sh -c "$ORACLE" 2>"$d/nft.err"
        rc=$?
        if [ $rc != 0 ]; then
                echo "FAIL $name: nft -f of the dry-run text rc=$rc"; sed 's/^/    /' "$d/nft.err"
                fail=$((fail + 1)); return
        fi
        if ! diff -u "$d/text.list" "$d/netlink.list" >"$d/diff"; then
                echo "FAIL $name: nft list ruleset differs (- nft -f text, + netlink)"; sed 's/^/    /' "$d/diff" | head -30
                fail=$((fail + 1)); return
        fi
        if ! diff -u <(normalize "$d/text.debug") <(normalize "$d/netlink.debug") >"$d/diff"; then
                echo "FAIL $name: kernel expressions differ (- nft -f text, + netlink)"; sed 's/^/    /' "$d/diff" | head -30
                fail=$((fail + 1)); return
        fi
        # A scenario whose listing is empty proves little unless it is a cleanup.
        case "$*" in
        *--cleanup-only*) ;;
        *) if ! grep -q 'table inet istio-proxy-nat' "$d/netlink.list"; then
                   echo "FAIL $name: no nat table was applied"; fail=$((fail + 1)); return
           fi ;;
        esac
        pass=$((pass + 1))
        echo "PASS $name ($(grep -c 'counter' "$d/netlink.list") rules)"
}

# Every scenario line of the golden test, with its own quoting.
grep -E '^scenario ' "$GOLDEN" >"$tmp/scenarios"
[ -s "$tmp/scenarios" ] || { echo "no scenarios found in $GOLDEN"; exit 1; }
while IFS= read -r line; do
        eval "$line"
done <"$tmp/scenarios"

echo "equivalence: $pass passed, $fail failed (of $n golden scenarios)"
[ "$fail" = 0 ] && [ "$pass" = "$n" ]
