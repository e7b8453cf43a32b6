#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# routes-idempotent: the TPROXY policy rule and local route (spec §5.7) are added once however
# often setup runs (unlike Istio, quirk 22), ::6 lands on lo, and cleanup removes exactly ours.
# Runs lib/routes through the driver in the test_routes unit binary, inside `unshare -n`.
set -u
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
T="${BUILDDIR:-}/test_routes"
[ -x "$T" ] || { echo "no $T (unit tests not built)"; exit 77; }
command -v ip >/dev/null || { echo "no ip(8) to check with"; exit 77; }

exec timeout 60 unshare -n bash -s "$T" <<'INNER'
set -eu
T=$1
fail() { echo "FAIL: $*"; ip rule; ip -6 rule; exit 1; }
ip link set lo up
"$T" setup 1337 133 v6
"$T" setup 1337 133 v6
"$T" addlo
"$T" addlo
n4=$(ip rule show | grep -c 'fwmark 0x539 lookup 133' || true)
n6=$(ip -6 rule show | grep -c 'fwmark 0x539 lookup 133' || true)
[ "$n4" = 1 ] || fail "IPv4 rules: $n4"
[ "$n6" = 1 ] || fail "IPv6 rules: $n6"
[ "$(ip route show table 133 type local)" = "local default dev lo scope host " ] ||
        [ "$(ip route show table 133 type local | sed 's/ *$//')" = "local default dev lo scope host" ] ||
        fail "IPv4 route: $(ip route show table 133 type local)"
ip -6 route show table 133 type local | grep -q '^local default dev lo' || fail "IPv6 route missing"
ip -6 addr show dev lo | grep -q 'inet6 ::6/128' || fail "::6 not on lo"

# A duplicate left by an Istio run and someone else's more specific rule: cleanup removes both
# copies of ours and keeps theirs.
ip rule add fwmark 1337 lookup 133
ip rule add fwmark 1337 iif eth0 lookup 133
[ "$("$T" count v4 1337 133)" = 2 ] || fail "count after duplicate"
"$T" cleanup 1337 133 v6
"$T" cleanup 1337 133 v6
[ "$(ip rule show | grep -c "fwmark 0x539 lookup 133" || true)" = 0 ] || fail "cleanup v4"
ip rule show | grep -q 'fwmark 0x539 iif eth0' || fail "foreign rule removed"
[ "$(ip -6 rule show | grep -c 'fwmark 0x539' || true)" = 0 ] || fail "cleanup v6"
[ -z "$(ip route show table 133 type local)" ] || fail "IPv4 route left"
[ -z "$(ip -6 route show table 133 type local 2>/dev/null)" ] || fail "IPv6 route left"
echo "ok"
INNER
