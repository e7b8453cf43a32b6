#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# traffic.test.sh: real traffic through rules applied by lib/nftapply: outbound REDIRECT with the
# proxy uid exempt, inbound REDIRECT from a peer netns over a veth pair, DNS capture (UDP and TCP
# 53), exclusions (-x CIDR, -o port, -d port), IPv4 and IPv6. Spec: istio-iptables.md §3.3/§7.
. "$(dirname "$0")/lib.sh"

A=$(newns pod)
P=$(newns peer)
ip link add "veth$$" netns "$A" type veth peer name "vpeer$$" netns "$P"
inns "$A" ip link set "veth$$" name eth0
inns "$P" ip link set "vpeer$$" name eth0
inns "$A" ip addr add 10.0.0.2/24 dev eth0
inns "$A" ip -6 addr add fd00::2/64 dev eth0 nodad
inns "$P" ip addr add 10.0.0.1/24 dev eth0
inns "$P" ip addr add 192.0.2.9/32 dev eth0
inns "$P" ip -6 addr add fd00::1/64 dev eth0 nodad
inns "$A" ip link set eth0 up
inns "$P" ip link set eth0 up
inns "$A" ip route add default via 10.0.0.1
inns "$A" ip -6 route add default via fd00::1

text_capture > "$T/capture.nft"
check "apply capture rules" inns "$A" "$DRV" apply "$T/capture.nft"

expect() { # expect NAME OUTFILE WANT
  local got; got=$(result "$2")
  if [ "$got" = "$3" ]; then pass "$1"; else fail "$1 (got '$got', want '$3')"; fi
}

# Outbound: app uid 1000 captured to 15001 with the original destination
listener "$A" 15001 "$T/o1" v4
dial "$A" 1000 10.0.0.1 80
expect "outbound uid 1000 → 15001, SO_ORIGINAL_DST 10.0.0.1:80" "$T/o1" "10.0.0.1 80"
wait

# Proxy uid 1337: not captured, reaches the peer
listener "$P" 80 "$T/o2" plain
dial "$A" 1337 10.0.0.1 80
expect "outbound uid 1337 not captured (reaches peer)" "$T/o2" "10.0.0.1 80"
wait

# Exclusions: -x 192.0.2.0/24, -o 8081
listener "$P" 80 "$T/o3" plain
dial "$A" 1000 192.0.2.9 80
expect "excluded CIDR (-x) bypasses capture" "$T/o3" "192.0.2.9 80"
wait
listener "$P" 8081 "$T/o4" plain
dial "$A" 1000 10.0.0.1 8081
expect "excluded port (-o) bypasses capture" "$T/o4" "10.0.0.1 8081"
wait

# Inbound: peer → pod:8080 lands on 15006 with the original destination; -d 8086 bypasses
listener "$A" 15006 "$T/i1" v4
dial "$P" 0 10.0.0.2 8080
expect "inbound → 15006, SO_ORIGINAL_DST 10.0.0.2:8080" "$T/i1" "10.0.0.2 8080"
wait
listener "$A" 8086 "$T/i2" plain
dial "$P" 0 10.0.0.2 8086
expect "inbound excluded port (-d) bypasses capture" "$T/i2" "10.0.0.2 8086"
wait

# DNS: UDP and TCP 53 to a resolv.conf server → 15053
listener "$A" 15053 "$T/d1" udp
dial "$A" 1000 10.53.0.53 53 udp
expect "DNS UDP 53 → 15053" "$T/d1" "udp q"
wait
listener "$A" 15053 "$T/d2" v4
dial "$A" 1000 10.53.0.53 53
expect "DNS TCP 53 → 15053, SO_ORIGINAL_DST 10.53.0.53:53" "$T/d2" "10.53.0.53 53"
wait

# IPv6: outbound and inbound
listener "$A" 15001 "$T/v1" v6
dial "$A" 1000 fd00::1 80
expect "IPv6 outbound → 15001, original [fd00::1]:80" "$T/v1" "fd00::1 80"
wait
listener "$A" 15006 "$T/v2" v6
dial "$P" 0 fd00::2 8080
expect "IPv6 inbound → 15006, original [fd00::2]:8080" "$T/v2" "fd00::2 8080"
wait
listener "$P" 80 "$T/v3" v6plain
dial "$A" 1337 fd00::1 80
expect "IPv6 outbound uid 1337 not captured" "$T/v3" "fd00::1 80"
wait
finish
