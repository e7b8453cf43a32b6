# SPDX-License-Identifier: Apache-2.0
# lib.sh: shared helpers for the nftables e2e tests (sourced, not run). Spec: istio-iptables.md §7.
# Everything happens in namespaces created here and removed by the EXIT trap; never the host's.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=${SRCDIR:-$(cd "$HERE/../../.." && pwd)}

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in ip nft python3 setpriv timeout cc; do
  command -v $t >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done

T=$(mktemp -d /tmp/cnibox-nft-e2e.XXXXXX)
NS_PREFIX=cnibox-test-$$
NETNS=()
# Deletes by name prefix, not only by the NETNS list: a test that calls `A=$(newns a)` runs newns in
# a subshell, so its `NETNS+=` never reaches this shell (that leaked every namespace before).
cleanup_all() {
  local n
  for n in "${NETNS[@]}" $(ip netns list 2>/dev/null | awk -v p="$NS_PREFIX-" 'index($1, p) == 1 { print $1 }'); do
    ip netns del "$n" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup_all EXIT

FAILS=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
finish() { [ "$FAILS" = 0 ] && { echo "all passed"; exit 0; }; echo "$FAILS failed"; exit 1; }

# The in-process driver over lib/nftapply (built from the same source as the product).
DRV=$T/nftapply-driver
cc -std=gnu11 -O2 -D_GNU_SOURCE -I"$SRCDIR/lib" "$HERE/nftapply-driver.c" "$SRCDIR/lib/kernel/nftapply.c" "$SRCDIR/lib/kernel/nftdump.c" "$SRCDIR/lib/base/netns.c" "$SRCDIR/lib/base/fileio.c" \
   -ldl -o "$DRV" || { echo "cannot build the nftapply driver"; exit 1; }

# The binary renders the transaction itself (--native-nftables --dry-run prints it, spec §7).
have_native_flag() {
  [ -n "${CNIBOX:-}" ] && [ -x "$CNIBOX" ] && "$CNIBOX" istio-iptables --help 2>&1 | grep -q -- '--native-nftables'
}

newns() { # newns NAME: creates ${NS_PREFIX}-NAME with lo up; prints the full name (the EXIT trap
           # deletes it by its prefix, so `X=$(newns x)` is safe)
  local n=$NS_PREFIX-$1
  ip netns add "$n" || exit 1
  NETNS+=("$n")
  ip -n "$n" link set lo up
  echo "$n"
}
inns() { local n=$1; shift; ip netns exec "$n" "$@"; }

# listener NS PORT OUTFILE [v6|tproxy|udp]: accepts one TCP connection (or one datagram) within
# 8s and writes the original destination "ip port" (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST, or the
# local address for tproxy and plain (uncaptured) listeners) to OUTFILE. Background; waits until listening.
cat > "$T/listener.py" <<'PY'
import socket, struct, sys
port, out, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
fam = socket.AF_INET6 if mode in ("v6", "v6plain") else socket.AF_INET
typ = socket.SOCK_DGRAM if mode == "udp" else socket.SOCK_STREAM
s = socket.socket(fam, typ)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if mode == "tproxy":
    s.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT
s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", port))
if typ == socket.SOCK_STREAM:
    s.listen(8)
open(out + ".ready", "w").close()
s.settimeout(8)
try:
    if typ == socket.SOCK_DGRAM:
        data, peer = s.recvfrom(512)
        res = "udp %s" % data.decode()
    else:
        c, peer = s.accept()
        if mode in ("tproxy", "plain", "v6plain"):
            a = c.getsockname(); res = "%s %d" % (a[0], a[1])
        elif mode == "v6":
            raw = c.getsockopt(socket.IPPROTO_IPV6, 80, 28)
            p = struct.unpack("!H", raw[2:4])[0]
            res = "%s %d" % (socket.inet_ntop(socket.AF_INET6, raw[8:24]), p)
        else:
            raw = c.getsockopt(socket.SOL_IP, 80, 16)
            p = struct.unpack("!H", raw[2:4])[0]
            res = "%s %d" % (socket.inet_ntoa(raw[4:8]), p)
        c.close()
except socket.timeout:
    res = "timeout"
open(out, "w").write(res + "\n")
PY
listener() {
  local ns=$1 port=$2 out=$3 mode=${4:-v4} i
  rm -f "$out" "$out.ready"
  inns "$ns" timeout 10 python3 "$T/listener.py" "$port" "$out" "$mode" &
  for i in $(seq 50); do [ -e "$out.ready" ] && return 0; sleep 0.1; done
  return 1
}
# result OUTFILE: waits (bounded) for the listener's verdict and prints it
result() { local i; for i in $(seq 100); do [ -s "$1" ] && { cat "$1"; return; }; sleep 0.1; done; echo none; }

# dial NS UID HOST PORT [tcp|udp]: one connection attempt (1.5s) as UID; never fails the script
dial() {
  local ns=$1 uid=$2 host=$3 port=$4 proto=${5:-tcp}
  inns "$ns" setpriv --reuid "$uid" --regid "$uid" --clear-groups timeout 3 python3 -c '
import socket, sys
h, p, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in h else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
s.settimeout(1.5)
try:
    if proto == "udp":
        s.sendto(b"q", (h, p))
    else:
        s.connect((h, p))
except OSError:
    pass
' "$host" "$port" "$proto" >/dev/null 2>&1 || true
}

# ---- The project's own expected transactions (spec §7 form, one operation per line) ----

# istio-iptables -u 1337 -g 1337 (the default sidecar, IPv4)
text_default() {
  cat "$SRCDIR/tests/golden/expected/default.nft"
}

# istio-iptables -u 1337 -g 1337 -b '*' -d 8086 -o 8081 -i '*' -x 192.0.2.0/24,2001:db8:9::/48
#   --redirect-dns (resolv.conf: 10.53.0.53, fd00:53::53), IPv6 enabled
text_capture() {
  cat <<'NFT'
add table inet istio-proxy-nat
flush table inet istio-proxy-nat
add chain inet istio-proxy-nat prerouting { type nat hook prerouting priority -100 ; }
add chain inet istio-proxy-nat output { type nat hook output priority -100 ; }
add chain inet istio-proxy-nat istio-inbound
add chain inet istio-proxy-nat istio-redirect
add chain inet istio-proxy-nat istio-in-redirect
add chain inet istio-proxy-nat istio-output
add chain inet istio-proxy-nat istio-output-dns
add rule inet istio-proxy-nat istio-inbound meta l4proto tcp tcp dport 15008 counter return
add rule inet istio-proxy-nat istio-redirect meta l4proto tcp counter redirect to :15001
add rule inet istio-proxy-nat istio-in-redirect meta l4proto tcp counter redirect to :15006
add rule inet istio-proxy-nat prerouting meta l4proto tcp counter jump istio-inbound
add rule inet istio-proxy-nat istio-inbound meta l4proto tcp tcp dport 8086 counter return
add rule inet istio-proxy-nat istio-inbound meta l4proto tcp counter jump istio-in-redirect
add rule inet istio-proxy-nat output counter jump istio-output
add rule inet istio-proxy-nat istio-output meta l4proto tcp tcp dport 8081 counter return
add rule inet istio-proxy-nat istio-output meta l4proto udp udp dport 8081 counter return
add rule inet istio-proxy-nat istio-output oifname lo ip saddr 127.0.0.6/32 counter return
add rule inet istio-proxy-nat istio-output oifname lo ip6 saddr ::6/128 counter return
add rule inet istio-proxy-nat istio-output oifname lo meta l4proto tcp ip daddr != 127.0.0.1/32 tcp dport != { 53, 15008 } skuid 1337 counter jump istio-in-redirect
add rule inet istio-proxy-nat istio-output oifname lo meta l4proto tcp ip6 daddr != ::1/128 tcp dport != { 53, 15008 } skuid 1337 counter jump istio-in-redirect
add rule inet istio-proxy-nat istio-output oifname lo meta l4proto tcp tcp dport != 53 skuid != 1337 counter return
add rule inet istio-proxy-nat istio-output skuid 1337 counter return
add rule inet istio-proxy-nat istio-output oifname lo meta l4proto tcp ip daddr != 127.0.0.1/32 tcp dport != 15008 skgid 1337 counter jump istio-in-redirect
add rule inet istio-proxy-nat istio-output oifname lo meta l4proto tcp ip6 daddr != ::1/128 tcp dport != 15008 skgid 1337 counter jump istio-in-redirect
add rule inet istio-proxy-nat istio-output oifname lo meta l4proto tcp tcp dport != 53 skgid != 1337 counter return
add rule inet istio-proxy-nat istio-output skgid 1337 counter return
add rule inet istio-proxy-nat istio-output counter jump istio-output-dns
add rule inet istio-proxy-nat istio-output-dns ip daddr 10.53.0.53/32 tcp dport 53 counter redirect to :15053
add rule inet istio-proxy-nat istio-output-dns ip6 daddr fd00:53::53/128 tcp dport 53 counter redirect to :15053
add rule inet istio-proxy-nat istio-output-dns ip daddr 10.53.0.53/32 udp dport 53 counter redirect to :15053
add rule inet istio-proxy-nat istio-output-dns ip6 daddr fd00:53::53/128 udp dport 53 counter redirect to :15053
add rule inet istio-proxy-nat istio-output ip daddr 127.0.0.1/32 counter return
add rule inet istio-proxy-nat istio-output ip6 daddr ::1/128 counter return
add rule inet istio-proxy-nat istio-output ip daddr 192.0.2.0/24 counter return
add rule inet istio-proxy-nat istio-output ip6 daddr 2001:db8:9::/48 counter return
add rule inet istio-proxy-nat istio-output counter jump istio-redirect
add table inet istio-proxy-raw
flush table inet istio-proxy-raw
add chain inet istio-proxy-raw prerouting { type filter hook prerouting priority -300 ; }
add chain inet istio-proxy-raw output { type filter hook output priority -300 ; }
add chain inet istio-proxy-raw istio-inbound
add chain inet istio-proxy-raw istio-output-dns
add rule inet istio-proxy-raw output counter jump istio-output-dns
add rule inet istio-proxy-raw istio-output-dns udp dport 53 meta skuid 1337 counter ct zone set 1
add rule inet istio-proxy-raw istio-output-dns udp sport 15053 meta skuid 1337 counter ct zone set 2
add rule inet istio-proxy-raw istio-output-dns udp dport 53 meta skgid 1337 counter ct zone set 1
add rule inet istio-proxy-raw istio-output-dns udp sport 15053 meta skgid 1337 counter ct zone set 2
add rule inet istio-proxy-raw prerouting counter jump istio-inbound
add rule inet istio-proxy-raw istio-output-dns udp dport 53 ip daddr 10.53.0.53/32 counter ct zone set 2
add rule inet istio-proxy-raw istio-inbound udp sport 53 ip saddr 10.53.0.53/32 counter ct zone set 1
add rule inet istio-proxy-raw istio-output-dns udp dport 53 ip6 daddr fd00:53::53/128 counter ct zone set 2
add rule inet istio-proxy-raw istio-inbound udp sport 53 ip6 saddr fd00:53::53/128 counter ct zone set 1
NFT
}

# istio-iptables -u 1337 -g 1337 -b '*' -m TPROXY (IPv4)
text_tproxy() {
  text_default
  cat <<'NFT'
add table inet istio-proxy-mangle
flush table inet istio-proxy-mangle
add chain inet istio-proxy-mangle prerouting { type filter hook prerouting priority -150 ; }
add chain inet istio-proxy-mangle output { type route hook output priority -150 ; }
add chain inet istio-proxy-mangle istio-divert
add chain inet istio-proxy-mangle istio-tproxy
add chain inet istio-proxy-mangle istio-inbound
add rule inet istio-proxy-mangle istio-divert counter meta mark set 1337
add rule inet istio-proxy-mangle istio-divert counter accept
add rule inet istio-proxy-mangle istio-tproxy meta l4proto tcp ip daddr != 127.0.0.1/32 tproxy ip to :15006 meta mark set 1337 counter accept
add rule inet istio-proxy-mangle prerouting meta l4proto tcp counter jump istio-inbound
add rule inet istio-proxy-mangle istio-inbound meta l4proto tcp ct state related,established counter jump istio-divert
add rule inet istio-proxy-mangle istio-inbound meta l4proto tcp counter jump istio-tproxy
add rule inet istio-proxy-mangle prerouting meta l4proto tcp mark 1337 counter ct mark set mark
add rule inet istio-proxy-mangle output oifname lo meta l4proto tcp mark 1337 counter return
add rule inet istio-proxy-mangle output oifname lo meta l4proto tcp ip daddr != 127.0.0.1/32 skuid 1337 counter meta mark set 1338
add rule inet istio-proxy-mangle output oifname lo meta l4proto tcp ip daddr != 127.0.0.1/32 skgid 1337 counter meta mark set 1338
add rule inet istio-proxy-mangle output meta l4proto tcp ct mark 1337 counter meta mark set ct mark
insert rule inet istio-proxy-mangle istio-inbound index 0 meta l4proto tcp mark 1337 counter return
insert rule inet istio-proxy-mangle istio-inbound index 1 iifname lo meta l4proto tcp ip saddr 127.0.0.6/32 counter return
insert rule inet istio-proxy-mangle istio-inbound index 2 iifname lo meta l4proto tcp mark != 1338 counter return
NFT
}
