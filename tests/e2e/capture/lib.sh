# SPDX-License-Identifier: Apache-2.0
# lib.sh: helpers of the end-to-end capture tests that drive the real `cnibox istio-iptables`
# (issues 3 and 5; spec istio-iptables.md §5 apply/state/cleanup/routes, §7 nftables).
# Sourced by tests/e2e/capture/*.test.sh, never run. Every rule and every packet lives in
# namespaces created here (`ip netns add cnibox-e2e-$$-N`) and deleted by the EXIT trap.
#
# Backends (one script per area loops over them; CAPTURE_BACKENDS="legacy nft native" narrows):
#   legacy  --force-iptables-binary legacy   in-process libiptc
#   nft     --force-iptables-binary nft      iptables-nft-restore (exec)
#   native  --native-nftables                in-process libnftables
set -u
CLIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CNIBOX:=$CLIB_DIR/../../../build/cnibox}"
CNIBOX=$(readlink -f "$CNIBOX")
BACKENDS=(${CAPTURE_BACKENDS:-legacy nft native})
APP_UID=1000
PROXY_UID=1337

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$CNIBOX" ] || { echo "SKIP: no binary at \$CNIBOX ($CNIBOX)"; exit 77; }
for t in ip nft python3 setpriv timeout unshare iptables-legacy-save ip6tables-legacy-save \
         iptables-legacy-restore iptables-nft-save iptables-nft-restore ip6tables-nft-save; do
        command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done
ip netns add "cnibox-e2e-$$-probe" 2>/dev/null || { echo "SKIP: cannot create a netns"; exit 77; }
ip netns del "cnibox-e2e-$$-probe"

T=$(mktemp -d /tmp/cnibox-capture-e2e.XXXXXX)
chmod 755 "$T" # the app and proxy uids run the python helpers from here
L=$T/logs; mkdir -m 1777 "$L" # servers of any uid write their logs here
NSN=0
NETNS=()
PIDS=()
_capture_cleanup() {
        local p n
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
        rm -rf "$T"
}
trap _capture_cleanup EXIT
trap 'exit 130' INT TERM

FAILS=0 PASSES=0
pass() { echo "ok   - $*"; PASSES=$((PASSES + 1)); }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
finish() {
        echo "$PASSES passed, $FAILS failed"
        [ "$FAILS" = 0 ]
        exit $?
}

# bflags BACKEND: the flags that select it
bflags() {
        case $1 in
        legacy) echo --force-iptables-binary legacy ;;
        nft) echo --force-iptables-binary nft ;;
        native) echo --native-nftables ;;
        esac
}

# newns: a fresh netns with lo up; sets NS to its name (no subshell, so the trap knows it)
newns() {
        NSN=$((NSN + 1))
        NS=cnibox-e2e-$$-$NSN
        ip netns add "$NS" || { echo "cannot create netns $NS"; exit 1; }
        NETNS+=("$NS")
        ip -n "$NS" link set lo up
}
delns() {
        local n=$1 i
        ip netns del "$n" 2>/dev/null
        for i in "${!NETNS[@]}"; do [ "${NETNS[$i]}" = "$n" ] && unset 'NETNS[i]'; done
}
inns() { local n=$1; shift; ip netns exec "$n" "$@"; }

# pod FAM(4|6|46): sets POD (the namespace the binary programs) and PEER, joined by a veth pair.
#   POD  v0 10.20.0.2/24      fd00::2/64
#   PEER v1 10.20.0.1,.5,.6,.53/24   fd00::1,::5,::6,::53/64
# Outbound destinations (.5, .6) and the DNS server (.53) are addresses of PEER, so a connection
# that bypasses capture really arrives somewhere we can see.
pod() {
        local fam=$1 a
        newns; POD=$NS
        newns; PEER=$NS
        ip -n "$POD" link add v0 type veth peer name v1 netns "$PEER" || exit 1
        ip -n "$POD" link set v0 up
        ip -n "$PEER" link set v1 up
        if [ "$fam" != 6 ]; then
                ip -n "$POD" addr add 10.20.0.2/24 dev v0
                for a in 1 5 6 53; do ip -n "$PEER" addr add 10.20.0.$a/24 dev v1; done
        fi
        if [ "$fam" != 4 ]; then
                ip -n "$POD" -6 addr add fd00::2/64 dev v0 nodad
                for a in 1 5 6 53; do ip -n "$PEER" -6 addr add fd00::$a/64 dev v1 nodad; done
        fi
}

# A private resolv.conf for --redirect-dns: RESOLV=path makes cap() bind-mount it.
RESOLV=
resolv() { RESOLV=$T/resolv.$NSN; printf 'nameserver %s\n' "$@" >"$RESOLV"; }

# cap NS ARGS…: runs `$CNIBOX istio-iptables ARGS` in NS (with $RESOLV over /etc/resolv.conf in a
# private mount namespace when set, and the env in CAP_ENV). Output in $T/out, rc returned.
CAP_ENV=()
cap() {
        local ns=$1; shift
        capx "$ns" istio-iptables "$@"
}
capx() {
        local ns=$1; shift
        inns "$ns" timeout 60 unshare -m -- env R="$RESOLV" sh -c '
                [ -n "$R" ] && { mount --bind "$R" /etc/resolv.conf || exit 99; }
                exec "$@"' sh env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${CAP_ENV[@]}" \
                "$CNIBOX" "$@" >"$T/out" 2>&1
}
# dryrun NS ARGS…: the --dry-run stdout (no log lines) into $T/dry
dryrun() {
        local ns=$1; shift
        inns "$ns" timeout 60 unshare -m -- env R="$RESOLV" sh -c '
                [ -n "$R" ] && { mount --bind "$R" /etc/resolv.conf || exit 99; }
                exec "$@"' sh env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                "$CNIBOX" istio-iptables --dry-run "$@" >"$T/dry" 2>"$T/dry.err"
}
# dry_family v4|v6: the part of $T/dry after '# IPv4 …' / '# IPv6 …'
dry_family() {
        local want=IPv4; [ "$1" = v6 ] && want=IPv6
        awk -v w="# $want " 'index($0, "# IPv") == 1 { on = index($0, w) == 1; next } on' "$T/dry"
}

# ---- kernel state ----------------------------------------------------------------------------

_strip_save() { sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]/[0:0]/'; }
# Drops table blocks that hold nothing but built-in chains with ACCEPT policies and no rules:
# legacy tables cannot be unregistered from a live netns, so "as found" means "no rule, no chain".
_drop_empty_tables() {
        awk '/^\*/ { blk = $0 "\n"; keep = 0; inb = 1; next }
             inb && /^COMMIT/ { blk = blk $0 "\n"; if (keep) printf "%s", blk; inb = 0; next }
             inb { blk = blk $0 "\n"; if ($0 !~ /^:[A-Z]+ ACCEPT \[0:0\]$/) keep = 1; next }
             { print }'
}
# Empty nf_tables tables (base chains, no rule) are what iptables-nft leaves after a cleanup too.
_drop_empty_nft_tables() {
        awk '/^table / { blk = $0 "\n"; keep = 0; inb = 1; next }
             inb && /^}/ { blk = blk $0 "\n"; if (keep) printf "%s", blk; inb = 0; next }
             inb { blk = blk $0 "\n"
                   if ($0 !~ /^(\t(chain [^ ]+ \{|\ttype .* policy accept;|\}))?$/) keep = 1; next }
             { print }'
}
# Sorts the table blocks of *-save output by name: the kernel lists legacy tables in the order they
# were first used, which says nothing about the rules.
_sort_tables() {
        awk '/^\*/ { name = $0 } name != "" { print name "\t" $0 } /^COMMIT/ { name = "" }' |
                LC_ALL=C sort -s -t "$(printf '\t')" -k1,1 | cut -f2-
}
# save NS BACKEND [raw]: the backend's view of the kernel (both families), counters zeroed.
# raw: tables in name order, nothing else changed (for the dry-run equivalence); otherwise tables
# that hold no rule and no chain of ours are dropped (they cannot be unregistered, see above).
save() {
        local ns=$1 b=$2 mode=${3:-norm} f
        case $b in
        legacy|nft)
                for f in "" 6; do
                        echo "## v${f:-4}"
                        inns "$ns" ip${f}tables-$b-save 2>/dev/null | _strip_save | _sort_tables |
                                if [ "$mode" = raw ]; then cat; else _drop_empty_tables; fi
                done ;;
        # Counters are zeroed in raw mode too: neighbour discovery on the veth can hit the raw
        # table between apply and listing, which says nothing about the rules.
        native) if [ "$mode" = raw ]; then inns "$ns" nft list ruleset 2>/dev/null |
                        sed 's/counter packets [0-9]* bytes [0-9]*/counter/'
                else inns "$ns" nft list ruleset 2>/dev/null | sed 's/counter packets [0-9]* bytes [0-9]*/counter/' |
                        _drop_empty_nft_tables; fi ;;
        esac
}
# routes NS: policy rules and the TPROXY table
routes() {
        inns "$1" ip rule; inns "$1" ip -6 rule
        inns "$1" ip route show table 133 2>/dev/null; inns "$1" ip -6 route show table 133 2>/dev/null
}
# state NS BACKEND: everything a run may change, for before/after comparisons. The legacy and
# iptables-nft views are both included whatever the backend, so a run that writes to the wrong
# backend is caught too. ::6 on lo is not included (left on purpose, docs/backends.md §6).
state() {
        local ns=$1
        echo "### legacy"; save "$ns" legacy
        echo "### iptables-nft"; save "$ns" nft
        echo "### nft"; save "$ns" native
        echo "### routes"; routes "$ns"
}
# same WHAT FILE_A FILE_B
same() {
        if cmp -s "$2" "$3"; then pass "$1"; else fail "$1"; diff -u "$2" "$3" | head -30 | sed 's/^/    /'; fi
}

# ---- traffic -----------------------------------------------------------------------------------

# srv.py LOG SPEC…: one process serving every SPEC = proto:port:mode (mode orig = SO_ORIGINAL_DST,
# local = getsockname, i.e. the destination TPROXY preserved or a plain listener's address;
# transparent = local + IP_TRANSPARENT), each on IPv4 and IPv6. Each connection (or datagram)
# carries a tag; the server appends "TAG proto:port DEST-IP DEST-PORT" to LOG. Exits after 120s.
cat >"$T/srv.py" <<'PY'
import os, select, socket, struct, sys, time
log, specs = sys.argv[1], sys.argv[2:]
socks = {}
for spec in specs:
    proto, port, mode = spec.split(":")
    for fam in (socket.AF_INET, socket.AF_INET6):
        s = socket.socket(fam, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if mode == "transparent":
            if fam == socket.AF_INET:
                s.setsockopt(socket.SOL_IP, 19, 1)       # IP_TRANSPARENT
            else:
                s.setsockopt(socket.IPPROTO_IPV6, 75, 1) # IPV6_TRANSPARENT
        s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", int(port)))
        if proto == "tcp":
            s.listen(16)
        socks[s.fileno()] = (s, proto, port, mode, fam)
out = open(log, "a", buffering=1)
open(log + ".ready", "w").close()
end = time.time() + 120
while time.time() < end:
    r, _, _ = select.select(list(socks), [], [], 1)
    for fd in r:
        s, proto, port, mode, fam = socks[fd]
        try:
            if proto == "udp":
                data, peer = s.recvfrom(128)
                out.write("%s udp:%s - -\n" % (data.decode(errors="replace"), port))
                continue
            c, peer = s.accept()
            c.settimeout(1)
            if mode == "orig" and fam == socket.AF_INET:
                raw = c.getsockopt(socket.SOL_IP, 80, 16)
                dst = "%s %d" % (socket.inet_ntoa(raw[4:8]), struct.unpack("!H", raw[2:4])[0])
            elif mode == "orig":
                raw = c.getsockopt(socket.IPPROTO_IPV6, 80, 28)
                dst = "%s %d" % (socket.inet_ntop(socket.AF_INET6, raw[8:24]), struct.unpack("!H", raw[2:4])[0])
            else:
                a = c.getsockname(); dst = "%s %d" % (a[0], a[1])
            try:
                tag = c.recv(128).decode(errors="replace")
            except OSError:
                tag = "?"
            out.write("%s tcp:%s %s\n" % (tag, port, dst))
            c.close()
        except OSError as e:
            out.write("error %s:%s %s\n" % (proto, port, e))
PY
cat >"$T/dial.py" <<'PY'
import socket, sys
tag, host, port, proto = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
s.settimeout(1.5)
try:
    if proto == "udp":
        s.sendto(tag.encode(), (host, port))
    else:
        s.connect((host, port)); s.sendall(tag.encode())
    print("sent")
except OSError as e:
    print("error", e)
PY

# serve NS LOG UID SPEC…: starts srv.py in NS as UID (root for 0) in the background, waits (5s)
serve() {
        local ns=$1 log=$2 uid=$3 i; shift 3
        local as=()
        [ "$uid" != 0 ] && as=(setpriv --reuid="$uid" --regid="$uid" --clear-groups)
        : >"$log"; chmod 666 "$log"; rm -f "$log.ready"
        ip netns exec "$ns" "${as[@]}" timeout 130 python3 "$T/srv.py" "$log" "$@" 2>>"$log.err" &
        PIDS+=($!)
        for i in $(seq 50); do [ -e "$log.ready" ] && return 0; sleep 0.1; done
        echo "server in $ns did not start:"; cat "$log.err"; return 1
}
stop_servers() {
        local p
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        PIDS=()
}

# dial NS UID TAG HOST PORT [tcp|udp]: one attempt (1.5s) as UID
dial() {
        local ns=$1 uid=$2 tag=$3 host=$4 port=$5 proto=${6:-tcp}
        inns "$ns" setpriv --reuid="$uid" --regid="$uid" --clear-groups timeout 5 \
                python3 "$T/dial.py" "$tag" "$host" "$port" "$proto" >/dev/null 2>&1 || true
}
# arrived TAG LOG…: waits (3s) for TAG in any LOG; prints "LOGNAME rest-of-line" or "nowhere"
arrived() {
        local tag=$1 i l line; shift
        for i in $(seq 30); do
                for l in "$@"; do
                        line=$(grep -m1 "^$tag " "$l" 2>/dev/null) &&
                                { echo "$(basename "$l") ${line#"$tag "}"; return; }
                done
                sleep 0.1
        done
        echo nowhere
}
TAGN=0
# expect_flow WHAT WANT NS UID HOST PORT PROTO: dials and checks where it arrived; WANT is the
# "LOGNAME proto:port dest" line (LOGNAME pod or peer), or "nowhere". Uses $LOGS.
expect_flow() {
        local what=$1 want=$2 ns=$3 uid=$4 host=$5 port=$6 proto=${7:-tcp} got
        TAGN=$((TAGN + 1))
        dial "$ns" "$uid" "t$TAGN" "$host" "$port" "$proto"
        got=$(arrived "t$TAGN" $LOGS)
        if [ "$got" = "$want" ]; then pass "$what: $got"; else fail "$what: got '$got', want '$want'"; fi
}
