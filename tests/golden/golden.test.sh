#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Golden tests for rule generation: each scenario runs `cnibox istio-iptables --dry-run` (iptables
# payload on stdout, Istio's dry-run record in DRY_RUN_FILE_PATH) and the same with
# --native-nftables, in a private network + mount namespace with the interface addresses and
# /etc/resolv.conf the scenario needs, and compares with tests/golden/expected/<name>.{rules,record,nft}.
# These files are the project's own output, reviewed like code. Regenerate: UPDATE_GOLDEN=1.
set -u
CNIBOX=${CNIBOX:-$(dirname "$0")/../../build/cnibox}
HERE=$(cd "$(dirname "$0")" && pwd)
EXP=$HERE/expected

if [ "$(id -u)" != 0 ]; then
        # Without root, a user namespace gives us the private netns and mounts we need.
        if ! unshare -rnm true 2>/dev/null; then echo "SKIP: needs root or user namespaces"; exit 77; fi
        UNSHARE=(unshare -rnm)
else
        UNSHARE=(unshare -nm)
fi

# Runs inside the namespace: lo up, one NIC with a v4 or v6 address, a private resolv.conf.
SETUP='
set -e
mount --make-rprivate / 2>/dev/null || true
mount --bind "$G_RESOLV" /etc/resolv.conf
ip link set lo up
ip link add eth0 type veth peer name eth0p
ip link set eth0 up; ip link set eth0p up
case "$G_IP" in
  4) ip addr add 10.1.0.2/24 dev eth0 ;;
  6) ip -6 addr add fd00::2/64 dev eth0 nodad ;;
  46) ip -6 addr add fd00::2/64 dev eth0 nodad; ip addr add 10.1.0.2/24 dev eth0 ;;
esac
set +e
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DRY_RUN_FILE_PATH="$G_OUT" $G_ENV "$G_BIN" istio-iptables "$@"
'

pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

compare() { # name ext file
        local want=$EXP/$1.$2
        if [ "${UPDATE_GOLDEN:-}" = 1 ]; then cp "$3" "$want"; return 0; fi
        if [ ! -f "$want" ]; then echo "FAIL $1.$2: no expected file (run with UPDATE_GOLDEN=1)"; return 1; fi
        if ! diff -u "$want" "$3" >"$tmp/diff"; then echo "FAIL $1.$2"; sed 's/^/    /' "$tmp/diff" | head -40; return 1; fi
}

run_one() { # name ip resolv env flavor args...
        local name=$1 ip=$2 resolv=$3 env=$4 flavor=$5; shift 5
        local out=$tmp/$name.$flavor.record stdout=$tmp/$name.$flavor.stdout
        printf '' >"$out"
        printf '%s\n' $resolv | sed '/^$/d; s/^/nameserver /' >"$tmp/resolv.conf"
        local extra=()
        [ "$flavor" = nft ] && extra=(--native-nftables)
        G_RESOLV=$tmp/resolv.conf G_IP=$ip G_OUT=$out G_ENV=$env G_BIN=$(readlink -f "$CNIBOX") \
                "${UNSHARE[@]}" sh -c "$SETUP" golden --dry-run "$@" "${extra[@]}" >"$stdout" 2>"$tmp/stderr"
        local rc=$?
        if [ $rc != 0 ]; then echo "FAIL $name.$flavor: exit $rc"; sed 's/^/    /' "$tmp/stderr"; return 1; fi
        if [ "$flavor" = nft ]; then
                compare "$name" nft "$stdout" || return 1
                cmp -s "$stdout" "$out" || { echo "FAIL $name.nft: DRY_RUN_FILE_PATH differs from stdout"; return 1; }
        else
                compare "$name" rules "$stdout" || return 1
                compare "$name" record "$out" || return 1
        fi
}

scenario() { # name ip "resolv servers" "ENV=V …" args...
        local r=0 name=$1 ip=$2 resolv=$3 env=$4; shift 4
        run_one "$name" "$ip" "$resolv" "$env" ipt "$@" || r=1
        run_one "$name" "$ip" "$resolv" "$env" nft "$@" || r=1
        if [ $r = 0 ]; then pass=$((pass + 1)); echo "PASS $name"; else fail=$((fail + 1)); fi
}

# name                      ip  resolv                  env                                           flags
scenario default             4  ""                      ""                                            -u 1337 -g 1337
scenario sidecar-template    4  ""                      ""                                            -p 15001 -z 15006 -u 1337 -m REDIRECT -i '*' -x "" -b '*' -d 15090,15021,15020
scenario ipv6-default        6  ""                      ""                                            -u 1337 -g 1337 -i '*' -b '*'
scenario dual-stack          46 ""                      ""                                            --dual-stack -u 1337 -g 1337 -i '*' -b '*'
scenario tproxy-wildcard     4  ""                      ""                                            -u 1337 -g 1337 -m TPROXY -b '*' -d 15090,15021 -i '*'
scenario tproxy-ipv6         6  ""                      ""                                            -u 1337 -g 1337 -m TPROXY -b 8080,9090 -i '*' -c eth9
scenario tproxy-empty-ports  4  ""                      ""                                            -u 1337 -g 1337 -m TPROXY -b ""
scenario tproxy-mark-table   4  ""                      ""                                            -u 1337 -g 1337 -m TPROXY -b 80 -t 4242 -r 77
scenario dns-servers         4  "10.96.0.10 fd00::a"    ""                                            -u 1337 -g 1337 --redirect-dns -i '*'
scenario dns-servers-ipv6    6  "10.96.0.10 fd00::a"    ""                                            -u 1337 -g 1337 --redirect-dns -i '*'
scenario dns-capture-all     4  ""                      ""                                            -u 1337 -g 1337 --redirect-dns --capture-all-dns -i '*'
scenario dns-capture-all-v6  6  ""                      ""                                            -u 1337 -g 1337 --redirect-dns --capture-all-dns -i '*'
scenario dns-env-alternate   4  "10.96.0.10"            "ISTIO_META_DNS_CAPTURE=true REDIRECT_DNS=false" -u 1337 -g 1337
scenario drop-invalid-v6     6  ""                      "INVALID_DROP=true"                           -u 1337 -g 1337 -i '*'
scenario exclude-interfaces  4  ""                      ""                                            -u 1337 -g 1337 -c eth1,net2 -i '*'
scenario virt-interfaces     4  ""                      ""                                            -u 1337 -g 1337 -k vnet0,vnet1 -i 10.0.0.0/8,172.16.0.0/12
scenario virt-wildcard-v6    6  ""                      ""                                            -u 1337 -g 1337 -k vnet0 -i '*'
scenario owner-groups-incl   4  ""                      "ISTIO_OUTBOUND_OWNER_GROUPS=java,202,ftp"    -u 1337 -g 1337 -i '*'
scenario owner-groups-excl   6  ""                      "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE=888,ftp" -u 1337 -g 1337 -i '*'
scenario owner-groups-empty  4  ""                      "ISTIO_OUTBOUND_OWNER_GROUPS="                -u 1337 -g 1337 -i '*'
scenario ports-and-cidrs     4  ""                      ""                                            -u 1337 -g 1337 -i 10.0.0.0/8 -x 10.1.0.0/16,192.168.1.1/32 -q 3306,5432 -o 22,9000
scenario cidrs-ipv6          6  ""                      ""                                            -u 1337 -g 1337 -i 2001:DB8::/32,10.0.0.0/8 -x 2001:db8:1::/48,::ffff:10.0.0.0/104 -q 3306 -o 22
scenario loopback-include    4  ""                      ""                                            -u 1337 -g 1337 -i 127.0.0.0/8,10.0.0.0/8
scenario loopback-cidr-env   6  ""                      "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=127.0.0.1/8" -u 1337 -g 1337 -i '*'
scenario custom-ports-uids   4  ""                      ""                                            -p 16001 -z 16006 -e 16008 -u 1337,1338 -g 1337 -i '*' -b 80,443
scenario multi-uid-dns-tproxy 6 "10.96.0.10 fd00::a"    ""                                            -u 3,4 -g 1,2 -m TPROXY -b '*' -d 15090 --redirect-dns -i '*' -x 10.2.0.0/16

# Cleanup-only renders Istio's cleanup commands (iptables) and the table deletions (nft).
scenario cleanup-default     4  ""                      ""                                            --cleanup-only -u 1337 -g 1337 -i '*' -b '*'
scenario cleanup-tproxy-v6   6  ""                      ""                                            --cleanup-only -u 1337 -g 1337 -m TPROXY -b '*' -i '*'

echo "golden: $pass passed, $fail failed"
[ $fail = 0 ]
