#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# emptyroot.test.sh: the static cnibox where nothing else exists (issue 15 acceptance). A root
# holding only the binary, /proc, /etc/passwd and /etc/group (no /run, no /tmp, no libraries,
# no NSS config), entered with `unshare --root` in a fresh netns: --version, istio-iptables
# --dry-run, a real legacy apply (no /run: no lock file), istio-validation as uid 1337 against
# those rules, istio-cni VERSION. Skips (77) unless $CNIBOX is a static executable.
set -u
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
: "${CNIBOX:=$(dirname "$0")/../../../build/cnibox}"
[ -x "$CNIBOX" ] || { echo "SKIP: no binary at \$CNIBOX ($CNIBOX)"; exit 77; }
command -v readelf >/dev/null || { echo "SKIP: no readelf"; exit 77; }
if readelf -d "$CNIBOX" 2>/dev/null | grep -q NEEDED; then
        echo "SKIP: $CNIBOX is not the static build (cmake -DCNIBOX_STATIC=ON)"; exit 77
fi
for t in unshare iptables-legacy-save ip6tables-legacy-save ip timeout; do
        command -v "$t" >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done
unshare -n -m true 2>/dev/null || { echo "SKIP: cannot unshare -n -m"; exit 77; }

T=$(mktemp -d /tmp/cnibox-emptyroot.XXXXXX)
trap 'rm -rf "$T"' EXIT
R=$T/root
mkdir -m 755 "$R" "$R/proc" "$R/etc"
chmod 755 "$T"
cp "$CNIBOX" "$R/cnibox"
printf 'root:x:0:0:root:/root:/bin/sh\nistio-proxy:x:1337:1337::/home/istio-proxy:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nistio-proxy:x:1337:\n' >"$R/etc/group"
[ -z "$(find "$R" -mindepth 1 -not -path "$R/etc*" -not -path "$R/proc" -not -path "$R/cnibox")" ] || exit 1

PASSES=0 FAILS=0
pass() { echo "ok   - $*"; PASSES=$((PASSES + 1)); }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }

# Everything runs in one throw-away netns + mount namespace (procfs mounted there, gone with
# it). The host side (iptables-legacy-save) inspects the netns between the steps; each step's
# output and exit code land in $T.
export R T
timeout 120 unshare -n -m bash -c '
        in_root() { local n=$1; shift; env -i unshare --root="$R" "$@" >"$T/$n.out" 2>&1; echo $? >"$T/$n.rc"; }
        mount -t proc proc "$R/proc" || exit 1
        ip link set lo up
        # A pod address: istio-iptables wants one non-loopback address (a veth pair, both ends here).
        ip link add v0 type veth peer name v1 && ip addr add 10.99.0.2/24 dev v0 && ip link set v0 up && ip link set v1 up || exit 1
        in_root version /cnibox --version
        in_root dry /cnibox istio-iptables --dry-run -p 15001 -u istio-proxy -g istio-proxy -m REDIRECT -i "*" -b "*"
        { iptables-legacy-save; ip6tables-legacy-save; } >"$T/before.save" 2>&1
        in_root apply /cnibox istio-iptables --force-iptables-binary legacy -p 15001 -u istio-proxy -g istio-proxy \
                -m REDIRECT -i "*" -b "*" -d 15090,15021,15020
        iptables-legacy-save -t nat >"$T/after.save" 2>&1
        in_root valid --setuid 1337 --setgid 1337 /cnibox istio-validation --probe-timeout=2s
        echo "{\"cniVersion\":\"1.0.0\",\"name\":\"k8s\",\"type\":\"istio-cni\"}" >"$T/conf"
        CNI_COMMAND=VERSION env -i CNI_COMMAND=VERSION unshare --root="$R" /cnibox istio-cni <"$T/conf" >"$T/cni.out" 2>&1
        echo $? >"$T/cni.rc"
        ls "$R" >"$T/ls.out"
' || { echo "FAIL - the namespace setup failed"; exit 1; }

rc() { cat "$T/$1.rc" 2>/dev/null || echo none; }
show() { sed 's/^/    /' "$T/$1.out"; }

[ "$(rc version)" = 0 ] && grep -q '^cnibox ' "$T/version.out" && pass "--version: $(cat "$T/version.out")" \
        || { fail "--version exit $(rc version)"; show version; }
if [ "$(rc dry)" = 0 ] && grep -q -- '-A ISTIO_OUTPUT .*--uid-owner istio-proxy' "$T/dry.out"; then
        pass "istio-iptables --dry-run: $(grep -c '^-A' "$T/dry.out") rules (names kept, as Istio prints them)"
else
        fail "istio-iptables --dry-run exit $(rc dry)"; show dry
fi
if [ "$(rc apply)" = 0 ] && grep -q '^-A ISTIO_OUTPUT .*--uid-owner 1337' "$T/after.save" &&
        grep -q '^-A ISTIO_OUTPUT .*--gid-owner 1337' "$T/after.save" && ! grep -q ISTIO "$T/before.save"; then
        pass "legacy apply without /run: $(grep -c '^-A' "$T/after.save") nat rules, istio-proxy → 1337 from /etc/passwd"
else
        fail "legacy apply exit $(rc apply)"; show apply; sed 's/^/    /' "$T/after.save"
fi
[ "$(rc valid)" = 0 ] && grep -q 'Validation passed' "$T/valid.out" && pass "istio-validation as uid 1337 passes" \
        || { fail "istio-validation exit $(rc valid)"; show valid; }
[ "$(rc cni)" = 0 ] && grep -q '"supportedVersions"' "$T/cni.out" && pass "istio-cni VERSION: $(cat "$T/cni.out")" \
        || { fail "istio-cni VERSION exit $(rc cni)"; show cni; }
# Nothing was created in the root: no lock file, no /run, no /tmp.
[ "$(tr '\n' ' ' <"$T/ls.out")" = "cnibox etc proc " ] && pass "the root still holds only cnibox, etc, proc" \
        || fail "the root gained files: $(cat "$T/ls.out")"

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
