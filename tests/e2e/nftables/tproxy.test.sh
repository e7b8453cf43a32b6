#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tproxy.test.sh: inbound TPROXY (-m TPROXY -b '*') through rules applied by lib/nftapply: a peer's
# connection to pod:8080 reaches a transparent listener on 15006 with the original destination
# as its local address. Spec: istio-iptables.md §3.3 steps 8-12, 25-31, §5.7, §7.
. "$(dirname "$0")/lib.sh"

A=$(newns pod)
P=$(newns peer)
ip link add "veth$$" netns "$A" type veth peer name "vpeer$$" netns "$P"
inns "$A" ip link set "veth$$" name eth0
inns "$P" ip link set "vpeer$$" name eth0
inns "$A" ip addr add 10.0.0.2/24 dev eth0
inns "$P" ip addr add 10.0.0.1/24 dev eth0
inns "$A" ip link set eth0 up
inns "$P" ip link set eth0 up
# The TPROXY route of §5.7 (done by istio-iptables after the apply)
inns "$A" ip rule add fwmark 1337 lookup 133
inns "$A" ip route add local 0.0.0.0/0 dev lo table 133

text_tproxy > "$T/tproxy.nft"
check "apply TPROXY rules" inns "$A" "$DRV" apply "$T/tproxy.nft"

listener "$A" 15006 "$T/t1" tproxy
dial "$P" 0 10.0.0.2 8080
got=$(result "$T/t1")
if [ "$got" = "10.0.0.2 8080" ]; then pass "TPROXY inbound → 15006, original 10.0.0.2:8080"; else fail "TPROXY inbound (got '$got')"; fi
wait
check "tproxy rule counted the packets" sh -c \
  "ip netns exec $A nft list chain inet istio-proxy-mangle istio-tproxy | grep -q 'counter packets [1-9]'"
finish
