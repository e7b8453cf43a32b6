#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# emptyroot.test.sh: the static cnibox where nothing else exists (issue 15 acceptance). A root
# holding only the binary, /proc, /etc/passwd and /etc/group (no /run, no /tmp, no libraries,
# no NSS config), entered with `unshare --root`, in a fresh netns and mount namespace:
#   --version; istio-iptables --dry-run; a real legacy apply (no /run: no lock file; names from
#   /etc/passwd); a real --native-nftables apply;
#   istio-validation as uid 1337 against those rules; istio-cni VERSION; the root
#   unchanged; then an ADD over TLS to the stand-in API server named "localhost" in the
#   kubeconfig: it fails naming the name without /etc/hosts, and programs the pod with it.
# Skips (77) unless $CNIBOX is a static executable (cmake -DCNIBOX_STATIC=ON).
set -u
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
: "${SRCDIR:=$(cd "$(dirname "$0")/../../.." && pwd)}"
: "${CNIBOX:=$SRCDIR/build/cnibox}"
[ -x "$CNIBOX" ] || { echo "SKIP: no binary at \$CNIBOX ($CNIBOX)"; exit 77; }
command -v readelf >/dev/null || { echo "SKIP: no readelf"; exit 77; }
if readelf -d "$CNIBOX" 2>/dev/null | grep -q NEEDED; then
        echo "SKIP: $CNIBOX is not the static build (cmake -DCNIBOX_STATIC=ON)"; exit 77
fi
for t in unshare nsenter iptables-legacy-save ip timeout; do
        command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done
if [ -z "${CNIBOX_EMPTYROOT_INNER:-}" ]; then
        unshare -n -m true 2>/dev/null || { echo "SKIP: cannot unshare -n -m"; exit 77; }
        # Everything below runs in a throw-away netns + mount namespace: the procfs mount, the API
        # server and the addresses go away with it.
        CNIBOX_EMPTYROOT_INNER=1 exec timeout 300 unshare -n -m -- bash "$0" "$@"
fi
CNIBOX=$(readlink -f "$CNIBOX")
ip link set lo up

T=$(mktemp -d /tmp/cnibox-emptyroot.XXXXXX)
SLEEPER=
cleanup() {
        [ -n "$SLEEPER" ] && kill "$SLEEPER" 2>/dev/null
        declare -F apiserver_stop >/dev/null && apiserver_stop
        umount "$T/root/proc" 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT
R=$T/root
chmod 755 "$T"
mkdir -m 755 "$R" "$R/proc" "$R/etc"
cp "$CNIBOX" "$R/cnibox"
printf 'root:x:0:0:root:/root:/bin/sh\nistio-proxy:x:1337:1337::/home/istio-proxy:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nistio-proxy:x:1337:\n' >"$R/etc/group"
mount -t proc proc "$R/proc" || { echo "FAIL - cannot mount procfs"; exit 1; }
# A pod address: istio-iptables wants one non-loopback address (a veth pair, both ends here).
ip link add v0 type veth peer name v1 && ip addr add 10.99.0.2/24 dev v0 && ip link set v0 up && ip link set v1 up ||
        { echo "FAIL - veth"; exit 1; }

PASSES=0 FAILS=0
pass() { echo "ok   - $*"; PASSES=$((PASSES + 1)); }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
# in_root NAME [unshare options] CMD…: runs CMD in the root with an empty environment; output in
# $T/NAME.out, exit code in $T/NAME.rc
in_root() { local n=$1; shift; env -i unshare --root="$R" "$@" >"$T/$n.out" 2>&1; echo $? >"$T/$n.rc"; }
rc() { cat "$T/$1.rc"; }
show() { sed 's/^/    /' "$T/$1.out"; }

in_root version /cnibox --version
[ "$(rc version)" = 0 ] && grep -q '^cnibox ' "$T/version.out" && pass "--version: $(cat "$T/version.out")" \
        || { fail "--version exit $(rc version)"; show version; }

in_root dry /cnibox istio-iptables --dry-run -p 15001 -u istio-proxy -g istio-proxy -m REDIRECT -i "*" -b "*"
if [ "$(rc dry)" = 0 ] && grep -q -- '-A ISTIO_OUTPUT .*--uid-owner istio-proxy' "$T/dry.out"; then
        pass "istio-iptables --dry-run: $(grep -c '^-A' "$T/dry.out") rules (names kept, as Istio prints them)"
else
        fail "istio-iptables --dry-run exit $(rc dry)"; show dry
fi

{ iptables-legacy-save; ip6tables-legacy-save; } >"$T/before.save" 2>&1
in_root apply /cnibox istio-iptables --force-iptables-binary legacy -p 15001 -u istio-proxy -g istio-proxy \
        -m REDIRECT -i "*" -b "*" -d 15090,15021,15020
iptables-legacy-save -t nat >"$T/after.save" 2>&1
if [ "$(rc apply)" = 0 ] && grep -q '^-A ISTIO_OUTPUT .*--uid-owner 1337' "$T/after.save" &&
        grep -q '^-A ISTIO_OUTPUT .*--gid-owner 1337' "$T/after.save" && ! grep -q ISTIO "$T/before.save"; then
        pass "legacy apply without /run: $(grep -c '^-A' "$T/after.save") nat rules, istio-proxy → 1337 from /etc/passwd"
else
        fail "legacy apply exit $(rc apply)"; show apply; sed 's/^/    /' "$T/after.save"
fi

# The native backend is the netlink builder (libnftnl.a over lib/kernel/mnl.c): it must really apply.
in_root native /cnibox istio-iptables --native-nftables -p 15001 -u 1337 -g 1337
[ "$(rc native)" = 0 ] && nft list table inet istio-proxy-nat 2>/dev/null | grep -q 'redirect to :15001' &&
        pass "--native-nftables: applied through netlink" || { fail "--native-nftables exit $(rc native)"; show native; }

in_root valid --setuid 1337 --setgid 1337 /cnibox istio-validation --probe-timeout=2s
[ "$(rc valid)" = 0 ] && grep -q 'Validation passed' "$T/valid.out" && pass "istio-validation as uid 1337 passes" \
        || { fail "istio-validation exit $(rc valid)"; show valid; }

echo '{"cniVersion":"1.0.0","name":"k8s","type":"istio-cni"}' >"$T/conf"
env -i CNI_COMMAND=VERSION unshare --root="$R" /cnibox istio-cni <"$T/conf" >"$T/cni.out" 2>&1
echo $? >"$T/cni.rc"
[ "$(rc cni)" = 0 ] && grep -q '"supportedVersions"' "$T/cni.out" && pass "istio-cni VERSION: $(cat "$T/cni.out")" \
        || { fail "istio-cni VERSION exit $(rc cni)"; show cni; }

# Nothing was created in the root: no lock file, no /run, no /tmp.
[ "$(ls "$R" | tr '\n' ' ')" = "cnibox etc proc " ] && [ "$(ls "$R/etc" | tr '\n' ' ')" = "group passwd " ] &&
        pass "the root still holds only cnibox, etc/{group,passwd}, proc" || fail "the root gained files: $(ls -R "$R" | head)"

# ---- an ADD over TLS, the API server's name resolved from /etc/hosts ----
. "$SRCDIR/tests/apiserver/lib.sh"
for c in python3 openssl curl; do
        command -v "$c" >/dev/null || { echo "SKIP: the ADD part needs $c"; echo "$PASSES passed, $FAILS failed"; [ "$FAILS" = 0 ]; exit; }
done
apiserver_start --pods "$SRCDIR/tests/fixtures/pods/injected-cni.json" >/dev/null || { fail "stand-in API server"; exit 1; }
# The stand-in's certificate names localhost and 127.0.0.1; ask for localhost by name.
mkdir -m 755 "$R/k"
sed -E 's#server: https://127\.0\.0\.1:#server: https://localhost:#' "$KUBECONFIG_FILE" >"$R/k/istio-cni-kubeconfig"
grep -q 'server: https://localhost:' "$R/k/istio-cni-kubeconfig" || fail "kubeconfig rewrite"
# The pod: a netns held by a sleeper, reached in the root as /proc/PID/ns/net (no /run/netns).
unshare -n sleep 300 &
SLEEPER=$!
for i in $(seq 50); do [ "$(readlink /proc/$SLEEPER/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.05; done
ip link add vp0 type veth peer name eth0 netns "$SLEEPER" &&
        nsenter --net=/proc/$SLEEPER/ns/net sh -c 'ip addr add 10.95.0.2/24 dev eth0 && ip link set eth0 up && ip link set lo up' ||
        fail "pod netns"
POD="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=productpage-v1-6b746f74dc-9rlzx"
add() { # add NAME: one ADD from the root; output and exit code as in_root
        echo '{"cniVersion":"1.0.0","name":"t","type":"istio-cni","cni_agent_run_dir":"/k","add_timeout_ms":3000,
               "prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.95.0.2/24"}]}}' |
                env -i CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/proc/$SLEEPER/ns/net CNI_IFNAME=eth0 CNI_PATH=/ \
                CNI_ARGS="$POD" unshare --root="$R" /cnibox istio-cni >"$T/$1.out" 2>"$T/$1.err"
        echo $? >"$T/$1.rc"
}
add add1
if [ "$(rc add1)" = 1 ] && grep -q "cannot resolve 'localhost': not in /etc/hosts" "$T/add1.out" &&
        ! nsenter --net=/proc/$SLEEPER/ns/net iptables-legacy-save | grep -q ISTIO; then
        pass "ADD without /etc/hosts: a CNI error naming 'localhost', no rules"
else
        fail "ADD without /etc/hosts: exit $(rc add1)"; show add1
fi
echo '127.0.0.1 localhost' >"$R/etc/hosts"
add add2
if [ "$(rc add2)" = 0 ] && grep -q '"address": "10.95.0.2/24"' "$T/add2.out" &&
        nsenter --net=/proc/$SLEEPER/ns/net iptables-legacy-save -t nat | grep -q '^-A ISTIO_OUTPUT .*--uid-owner 1337'; then
        pass "ADD over TLS to https://localhost (from /etc/hosts): pod programmed, $(grep -o '"pod_source":"[a-z]*"' "$T/add2.err")"
else
        fail "ADD with /etc/hosts: exit $(rc add2)"; show add2; sed 's/^/    /' "$T/add2.err" | tail -5
fi

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
