#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tproxy.test.sh: TPROXY inbound mode (spec §3.3 steps 8-12, 25-31, §5.7): the nat rules still
# redirect the proxy uid's loopback traffic, so validation succeeds; the mangle marks do not break it.
. "$(dirname "$0")/lib.sh"
need_root

run_case "tproxy rules, uid 1337"           0   "^ok:\|passed"      case_rules 4 tproxy '' proxy 2000
run_case "tproxy v6 rules, uid 1337"        0   "^ok:\|passed"      case_rules 6 tproxy '' proxy 2000
run_case "tproxy rules, root"               126 "exempt-uid"        case_rules 4 tproxy '' root 300
finish
