#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The quick start's main job: in a throwaway network namespace standing in for a pod, apply the
# default sidecar rules (the flags Istio's injector generates), send real traffic through them
# (outbound from an app uid, inbound from a peer namespace) to a stand-in proxy that prints each
# connection's original destination, then run the live validation as the proxy uid (1337).
# Installs what is missing and builds first. Usage (as root): tests/demo.sh [extra istio-iptables flags]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
bash tests/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
B=$PWD/build/cnibox
# Debian's interpreter: a per-user one (pyenv under /root) is not readable by uid 1337/1000.
PY=/usr/bin/python3
pod=cnibox-demo-pod-$$ peer=cnibox-demo-peer-$$
proxy=
# Also the veth, if a step failed before it moved into the namespaces, and the stand-in proxy.
cleanup() {
        if [ -n "$proxy" ]; then kill "$proxy" 2>/dev/null || true; fi
        ip link del "cnibox-d$$" 2>/dev/null || true
        ip netns del "$pod" 2>/dev/null || true
        ip netns del "$peer" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
in_pod() { ip netns exec "$pod" "$@"; }

echo "== 1. a throwaway pod network namespace ($pod) and a peer ($peer)"
ip netns add "$pod"; ip netns add "$peer"
ip link add cnibox-d$$ type veth peer name cnibox-p$$
ip link set cnibox-d$$ netns "$pod"; ip link set cnibox-p$$ netns "$peer"
in_pod ip link set lo up
in_pod ip link set cnibox-d$$ name eth0
in_pod ip addr add 10.244.0.10/24 dev eth0; in_pod ip link set eth0 up
in_pod ip route add default via 10.244.0.1
ip netns exec "$peer" ip link set lo up
ip netns exec "$peer" ip addr add 10.244.0.1/24 dev cnibox-p$$; ip netns exec "$peer" ip link set cnibox-p$$ up

echo "== 2. istio-iptables with the injector's default flags"
in_pod "$B" istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT -i '*' -x "" -b '*' -d 15090,15021,15020 "$@"
echo "-- the rules in the pod namespace:"
{ in_pod iptables-legacy-save 2>/dev/null; in_pod iptables-nft-save 2>/dev/null; in_pod nft list table inet istio-proxy-nat 2>/dev/null; true; } |
        grep -E 'ISTIO|istio' | grep -v '^#' | sed 's/^/   /' || true

echo "== 3. real traffic to a stand-in proxy (uid 1337) that prints SO_ORIGINAL_DST"
in_pod setpriv --reuid=1337 --regid=1337 --clear-groups "$PY" tests/tools/standin-proxy.py --count 2 --timeout 10 &
proxy=$!
sleep 0.5
echo "-- app (uid 1000) connects to the service 10.96.0.1:80:"
in_pod setpriv --reuid=1000 --regid=1000 --clear-groups "$PY" -c '
import socket; s = socket.create_connection(("10.96.0.1", 80), timeout=5); print("   app got:", s.recv(100).decode().strip())'
echo "-- a peer connects to the pod at 10.244.0.10:8080:"
ip netns exec "$peer" "$PY" -c '
import socket; s = socket.create_connection(("10.244.0.10", 8080), timeout=5); print("   peer got:", s.recv(100).decode().strip())'
wait "$proxy"
proxy=

echo "== 4. live validation as the proxy uid (what the istio-validation init container does)"
in_pod setpriv --reuid=1337 --regid=1337 --clear-groups "$B" istio-validation
echo "== done: the namespaces are removed on exit"
