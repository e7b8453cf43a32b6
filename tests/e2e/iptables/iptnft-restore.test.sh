#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# iptnft-restore: lib/iptnft feeds a payload to ip[6]tables-nft-restore --noflush on stdin (no
# shell, no temp file) and reads it back with -save; a bad payload fails with the tool's stderr;
# a missing binary is ENOENT. In `unshare -n`, through the driver in the test_detect unit binary.
set -u
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
T="${BUILDDIR:-}/test_detect"
[ -x "$T" ] || { echo "no $T (unit tests not built)"; exit 77; }
command -v iptables-nft-restore >/dev/null || { echo "no iptables-nft-restore"; exit 77; }
export T CNIBOX="${CNIBOX:-}" PAYLOADS="$(cd "$(dirname "$0")" && pwd)/legacy-payloads"

exec timeout 120 unshare -n bash -s <<'INNER'
set -u
fail() { echo "FAIL: $*"; exit 1; }
# The default sidecar payload (spec §4), the same fixture the legacy backend's tests use.
payload=$(cat "$PAYLOADS/default.v4") || fail "no fixture $PAYLOADS/default.v4"
printf '%s\n' "$payload" | "$T" restore v4 || fail "restore"
saved=$("$T" save v4) || fail "save"
# The kernel state equals what the iptables-nft-restore binary itself makes of the same payload in
# another fresh netns (save canonicalises option order, so compare save to save).
want=$(printf '%s\n' "$payload" | unshare -n bash -c 'iptables-nft-restore --noflush && iptables-nft-save') ||
        fail "reference restore"
diff <(grep -v '^#' <<<"$want") <(grep -v '^#' <<<"$saved") || fail "state differs from the reference restore"
[ "$(grep -c '^-A' <<<"$saved")" = "$(grep -c '^-A' <<<"$payload")" ] || fail "rule count differs"
echo "ok   restore + save ($(grep -c '^-A' <<<"$saved") rules)"

# Re-applying hits -N of an existing chain, as in Istio (spec §4): error with stderr.
err=$(printf '%s\n' "$payload" | "$T" restore v4 2>&1) && fail "second restore succeeded"
grep -q 'errno=EIO exit=[1-9]' <<<"$err" || fail "second restore: $err"
echo "ok   re-apply fails: $err"

# A bad payload: non-zero exit, the tool's message captured.
err=$(printf '* nat\n-A NOPE -j FROB\nCOMMIT\n' | "$T" restore v6 2>&1) && fail "bad payload accepted"
grep -q 'errno=EIO exit=[1-9].*stderr=.\+' <<<"$err" || fail "bad payload: $err"
echo "ok   bad payload: $err"

# Single commands (cleanup style).
"$T" run v4 -t nat -D OUTPUT -j ISTIO_OUTPUT || fail "run -D"
"$T" run v4 -t nat -F ISTIO_OUTPUT || fail "run -F"
"$T" run v4 -t nat -X ISTIO_OUTPUT || fail "run -X"
iptables-nft-save -t nat | grep -q ISTIO_OUTPUT && fail "ISTIO_OUTPUT still there"
echo "ok   run -D/-F/-X"

# Missing binary.
err=$(printf '%s\n' "$payload" | PATH=/nonexistent "$T" restore v4 2>&1) && fail "ran without binary"
grep -q 'errno=ENOENT' <<<"$err" || fail "missing binary: $err"
echo "ok   missing binary: ENOENT"
INNER
