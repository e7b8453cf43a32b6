#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# traffic.test.sh: real traffic through rules the real `cnibox istio-iptables` applied, for each
# backend (legacy, iptables-nft, native nftables) and each family (issue 3/5 acceptance; spec
# istio-iptables.md §3 rules, §5.7 routes, §7): outbound REDIRECT with uid exemption, -x/-o
# bypass, -i/-q capture; inbound REDIRECT and TPROXY from a peer namespace with -d bypass; DNS
# (UDP and TCP 53) to 15053. A stand-in proxy reads SO_ORIGINAL_DST (or, for TPROXY, the local
# address) and logs where each tagged connection was headed; bypassing traffic must arrive at
# the real destination in the peer namespace.
. "$(dirname "$0")/lib.sh"

end_case() { stop_servers; delns "$POD"; delns "$PEER"; echo "# $(date +%T.%N | cut -c1-12) case done"; }

# Per family: the pod's address, the peer's targets, the DNS server.
fam_addrs() {
        if [ "$1" = 6 ]; then P=fd00::2 D5=fd00::5 D6=fd00::6 DNS=fd00::53 X6=fd00::6/128 I5=fd00::5/128
        else P=10.20.0.2 D5=10.20.0.5 D6=10.20.0.6 DNS=10.20.0.53 X6=10.20.0.6/32 I5=10.20.0.5/32; fi
}

capok() { # capok WHAT NS ARGS…: applies, fails the case on a non-zero exit
        local what=$1; shift
        if cap "$@"; then return 0; fi
        fail "$what: istio-iptables exit $?"; sed 's/^/    /' "$T/out"; return 1
}

outbound() { # exclusions (-x, -o) and uid exemption with -i '*'
        local b=$1 f=$2 w="$1 v$2 outbound"
        pod "$f"; fam_addrs "$f"; LOGS="$L/pod $L/peer"
        serve "$POD" "$L/pod" $PROXY_UID tcp:15001:orig || { fail "$w: server"; end_case; return; }
        serve "$PEER" "$L/peer" 0 tcp:8080:local tcp:8082:local || { fail "$w: server"; end_case; return; }
        if capok "$w" "$POD" $(bflags "$b") -u 1337 -g 1337 -i '*' -x "$X6" -o 8082; then
                expect_flow "$w: app uid captured" "pod tcp:15001 $D5 8080" "$POD" $APP_UID "$D5" 8080
                expect_flow "$w: proxy uid not captured" "peer tcp:8080 $D5 8080" "$POD" $PROXY_UID "$D5" 8080
                expect_flow "$w: -x CIDR bypasses" "peer tcp:8080 $D6 8080" "$POD" $APP_UID "$D6" 8080
                expect_flow "$w: -o port bypasses" "peer tcp:8082 $D5 8082" "$POD" $APP_UID "$D5" 8082
        fi
        end_case
}

include() { # -i CIDR and -q port capture, nothing else does
        local b=$1 f=$2 w="$1 v$2 include"
        pod "$f"; fam_addrs "$f"; LOGS="$L/pod $L/peer"
        serve "$POD" "$L/pod" $PROXY_UID tcp:15001:orig || { fail "$w: server"; end_case; return; }
        serve "$PEER" "$L/peer" 0 tcp:8080:local tcp:8081:local || { fail "$w: server"; end_case; return; }
        if capok "$w" "$POD" $(bflags "$b") -u 1337 -g 1337 -i "$I5" -q 8081; then
                expect_flow "$w: -i CIDR captures" "pod tcp:15001 $D5 8080" "$POD" $APP_UID "$D5" 8080
                expect_flow "$w: outside -i not captured" "peer tcp:8080 $D6 8080" "$POD" $APP_UID "$D6" 8080
                expect_flow "$w: -q port captures" "pod tcp:15001 $D6 8081" "$POD" $APP_UID "$D6" 8081
        fi
        end_case
}

inbound() { # inbound REDIRECT or TPROXY from the peer, -d bypass
        local b=$1 f=$2 mode=$3 w="$1 v$2 inbound $3" n rule=rule
        pod "$f"; fam_addrs "$f"; LOGS="$L/pod $L/peer"
        if [ "$mode" = TPROXY ]; then
                # IP_TRANSPARENT needs CAP_NET_ADMIN: the proxy runs with it, here as root.
                serve "$POD" "$L/pod" 0 tcp:15006:transparent tcp:15090:local || { fail "$w: server"; end_case; return; }
        else
                serve "$POD" "$L/pod" $PROXY_UID tcp:15006:orig tcp:15090:local || { fail "$w: server"; end_case; return; }
        fi
        local args=($(bflags "$b") -u 1337 -g 1337 -m "$mode" -b '*' -d 15090)
        if capok "$w" "$POD" "${args[@]}" && capok "$w (second run)" "$POD" "${args[@]}"; then
                expect_flow "$w: captured with original destination" "pod tcp:15006 $P 9080" "$PEER" 0 "$P" 9080
                expect_flow "$w: -d port bypasses" "pod tcp:15090 $P 15090" "$PEER" 0 "$P" 15090
                if [ "$mode" = TPROXY ]; then
                        [ "$f" = 6 ] && rule="-6 rule"
                        n=$(inns "$POD" ip $rule | grep -c 'fwmark 0x539 lookup 133')
                        [ "$n" = 1 ] && pass "$w: one fwmark rule after two runs" ||
                                { fail "$w: $n fwmark rules after two runs"; inns "$POD" ip $rule | sed 's/^/    /'; }
                fi
        fi
        end_case
}

dns() { # --redirect-dns (servers from resolv.conf) and --capture-all-dns
        local b=$1 f=$2 all=$3 w="$1 v$2 dns${3:+ $3}"
        pod "$f"; fam_addrs "$f"; LOGS="$L/pod $L/peer"
        resolv "$DNS"
        serve "$POD" "$L/pod" $PROXY_UID tcp:15053:orig udp:15053:- || { fail "$w: server"; end_case; RESOLV=; return; }
        serve "$PEER" "$L/peer" 0 tcp:53:local udp:53:- || { fail "$w: server"; end_case; RESOLV=; return; }
        if capok "$w" "$POD" $(bflags "$b") -u 1337 -g 1337 --redirect-dns $all; then
                expect_flow "$w: UDP 53 captured" "pod udp:15053 - -" "$POD" $APP_UID "$DNS" 53 udp
                expect_flow "$w: TCP 53 captured" "pod tcp:15053 $DNS 53" "$POD" $APP_UID "$DNS" 53 tcp
                expect_flow "$w: proxy uid UDP 53 not captured" "peer udp:53 - -" "$POD" $PROXY_UID "$DNS" 53 udp
                if [ -n "$all" ]; then
                        expect_flow "$w: UDP 53 to any server captured" "pod udp:15053 - -" "$POD" $APP_UID "$D5" 53 udp
                else
                        expect_flow "$w: UDP 53 to another server not captured" "peer udp:53 - -" "$POD" $APP_UID "$D5" 53 udp
                fi
        fi
        RESOLV=
        end_case
}

for b in "${BACKENDS[@]}"; do
        for f in 4 6; do
                outbound "$b" "$f"
                include "$b" "$f"
                inbound "$b" "$f" REDIRECT
                inbound "$b" "$f" TPROXY
                dns "$b" "$f" ""
                dns "$b" "$f" --capture-all-dns
        done
done
finish
