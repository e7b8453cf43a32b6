#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ipv6.test.sh: validation in an IPv6-only namespace over [::1] and [::6] (spec §6, §3.1 SRC6/LB6).
. "$(dirname "$0")/lib.sh"
need_root
unshare -n bash -c 'ip link set lo up && ip -6 addr add ::6/128 dev lo nodad' 2>/dev/null ||
        { echo "SKIP: no IPv6 on lo"; exit 77; }

run_case "v6 default rules, uid 1337"       0   "^ok:\|passed"      case_rules 6 redirect '' proxy 2000
run_case "v6 no rules"                      126 "no-redirect"       case_rules 6 none '' proxy 300
run_case "v6 run as root"                   126 "exempt-uid"        case_rules 6 redirect '' root 300
run_case "v6 without ::6 on lo"             126 "no-probe-address"  case_nov6addr
finish
