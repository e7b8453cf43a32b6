#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# default.test.sh: validation against real iptables-legacy rules, IPv4 REDIRECT mode (spec §6):
# success as uid 1337, and each failure reason (no rules, outbound redirect missing, redirect to
# another port, run as root). Each case in its own network namespace.
. "$(dirname "$0")/lib.sh"
need_root

run_case "default rules, uid 1337"          0   "^ok:\|passed"      case_rules 4 redirect '' proxy 2000
run_case "no rules"                         126 "no-redirect"       case_rules 4 none '' proxy 300
run_case "uid 1337 ISTIO_IN_REDIRECT removed" 126 "no-redirect"     case_rules 4 redirect '/--uid-owner 1337 -j ISTIO_IN_REDIRECT/d' proxy 300
run_case "ISTIO_IN_REDIRECT to 15999 (closed)" 126 "wrong-port"     case_rules 4 redirect 's/--to-ports 15006/--to-ports 15999/' proxy 300
run_case "ISTIO_IN_REDIRECT to 15999 (open)" 126 "wrong-port"       case_elsewhere
run_case "run as root with rules"           126 "exempt-uid"        case_rules 4 redirect '' root 300
run_case "custom ports -z 16006"            0   "^ok:\|passed"      case_rules 4 redirect 's/--to-ports 15006/--to-ports 16006/' proxy 2000 -z 16006
run_case "SYN dropped"                      126 "timeout"           case_rules 4 redirect '$a *filter\n-A OUTPUT -p tcp --dport 15006 -j DROP\nCOMMIT' proxy 500
finish
