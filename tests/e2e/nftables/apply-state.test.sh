#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# apply-state.test.sh: lib/nftapply against the real kernel, each step in a fresh netns:
# probe, apply, idempotent re-run, state check, cleanup, and all-or-nothing under an injected
# kernel rejection. Spec: istio-iptables.md §7.
. "$(dirname "$0")/lib.sh"

text_default > "$T/default.nft"
text_capture > "$T/capture.nft"
text_tproxy > "$T/tproxy.nft"

A=$(newns a)
check "probe: nf_tables usable in a fresh netns" inns "$A" "$DRV" probe
check "probe leaves nothing behind" test -z "$(inns "$A" nft list ruleset)"

# Apply: one transaction creating nat + raw (and both families' rules)
check "apply capture transaction" inns "$A" "$DRV" apply "$T/capture.nft"
inns "$A" nft list ruleset > "$T/l1"
check "nat + raw tables present" test "$(inns "$A" "$DRV" present)" = 5
check "output chain hooked" grep -q 'type nat hook output priority -100' "$T/l1"
check "v6 rule present" grep -q 'ip6 daddr != ::1 tcp dport != { 53, 15008 } meta skuid 1337' "$T/l1"
check "DNS redirect present" grep -q 'ip daddr 10.53.0.53 udp dport 53 counter packets 0 bytes 0 redirect to :15053' "$T/l1"
check "ct zone rule present" grep -q 'ct zone set 2' "$T/l1"
check "state: in sync after apply" test "$(inns "$A" "$DRV" state "$T/capture.nft")" = in-sync
check "state: differs from another config" test "$(inns "$A" "$DRV" state "$T/default.nft")" = differs

# Idempotent re-run: identical ruleset (counters are reset by the flush; none moved here)
check "re-apply" inns "$A" "$DRV" apply "$T/capture.nft"
inns "$A" nft list ruleset > "$T/l2"
check "re-run leaves an identical ruleset" cmp -s "$T/l1" "$T/l2"

# Switching config in one transaction: raw disappears only via cleanup (flush keeps the table,
# as Istio does); nat content replaced atomically.
check "apply another config over it" inns "$A" "$DRV" apply "$T/default.nft"
check "nat now holds the default rules only" sh -c "! ip netns exec $A nft list table inet istio-proxy-nat | grep -q 15053"

# Cleanup: exactly our tables, and idempotent
inns "$A" nft add table inet foreign-table
check "cleanup" inns "$A" "$DRV" cleanup
check "cleanup keeps foreign tables" test "$(inns "$A" nft list tables)" = "table inet foreign-table"
check "cleanup with tables absent succeeds" inns "$A" "$DRV" cleanup
inns "$A" nft delete table inet foreign-table
check "empty ruleset after cleanup" test -z "$(inns "$A" nft list ruleset)"

# All or nothing: a kernel-rejected last operation leaves no table in a fresh netns ...
B=$(newns b)
check "injected failure is reported" sh -c "! CNIBOX_FAULT_INJECT=nft-last-rule ip netns exec $B $DRV apply $T/tproxy.nft 2>$T/err"
check "error names the failing line" grep -q 'transaction:[0-9]*:.*istio-fault-missing\|jump istio-fault-missing' "$T/err"
check "nothing partial after the failure (fresh)" test -z "$(inns "$B" nft list ruleset)"
# ... and leaves the previous rules intact, counters included
inns "$B" "$DRV" apply "$T/default.nft"
inns "$B" sh -c 'ip link set lo up; python3 -c "import socket; s=socket.socket(); s.settimeout(0.2)
try: s.connect((\"127.0.0.1\", 9))
except OSError: pass"'
inns "$B" nft list ruleset > "$T/before"
check "injected failure over existing rules is reported" sh -c "! CNIBOX_FAULT_INJECT=nft-last-rule ip netns exec $B $DRV apply $T/tproxy.nft 2>/dev/null"
inns "$B" nft list ruleset > "$T/after"
check "previous rules intact after the failure" cmp -s "$T/before" "$T/after"
check "no mangle table from the failed transaction" test "$(inns "$B" "$DRV" present)" = 1

# Both families in the one transaction: the TPROXY text applies (nat + mangle)
C=$(newns c)
check "tproxy transaction applies" inns "$C" "$DRV" apply "$T/tproxy.nft"
check "nat + mangle present" test "$(inns "$C" "$DRV" present)" = 3
check "inserts landed at the top of mangle istio-inbound" sh -c \
  "ip netns exec $C nft list chain inet istio-proxy-mangle istio-inbound | grep -m1 -E 'meta mark|mark ' | grep -q 'mark 0x00000539 counter'"

if have_native_flag; then
  # dry-run needs a non-loopback interface address (§10.19)
  D=$(newns dry)
  inns "$D" ip link add eth0 type veth peer name eth0p
  inns "$D" ip addr add 10.0.0.2/24 dev eth0
  inns "$D" ip link set eth0 up
  check "binary dry-run renders the default transaction" sh -c \
    "ip netns exec $D env DRY_RUN_FILE_PATH=$T/dry.nft $CNIBOX istio-iptables --native-nftables --dry-run -u 1337 -g 1337 >/dev/null 2>&1 && diff -u $T/default.nft $T/dry.nft"
  check "dry-run applied nothing" test -z "$(inns "$D" nft list ruleset)"
else
  echo "note - ${CNIBOX:-cnibox} istio-iptables has no --native-nftables yet: literal texts only"
fi
finish
