#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# image.test.sh: doctor as it runs from the scratch image: a root holding only the static cnibox
# and /proc (no shell, no iptables binary, no libraries), the host's files mounted at /host, an
# empty environment; `unshare --root` in a throwaway netns + mount namespace. A healthy host
# root passes (exit 0), a broken one fails with its fix. Uses $CNIBOX when it is static, else
# $SRCDIR/build-static/cnibox (cmake -DCNIBOX_STATIC=ON); skips (77) without either.
. "$(dirname "$0")/lib.sh"
: "${SRCDIR:=$(cd "$(dirname "$0")/../../.." && pwd)}"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v readelf >/dev/null || { echo "SKIP: no readelf"; exit 77; }
is_static() { [ -x "$1" ] && ! readelf -l "$1" 2>/dev/null | grep -q INTERP; }
if [ -n "$CNIBOX" ] && is_static "$CNIBOX"; then BIN=$CNIBOX
elif is_static "$SRCDIR/build-static/cnibox"; then BIN=$SRCDIR/build-static/cnibox
else echo "SKIP: no static cnibox (cmake -DCNIBOX_STATIC=ON into build-static)"; exit 77; fi
if [ "${1:-}" != --inside ]; then
        unshare -n -m true 2>/dev/null || { echo "SKIP: cannot unshare -n -m"; exit 77; }
        exec timeout 300 unshare -n -m bash "$0" --inside
fi
T=$(mktemp -d /tmp/cnibox-doctor-image.XXXXXX)
trap 'umount "$T/root/proc" 2>/dev/null; rm -rf "$T"' EXIT
R=$T/root
chmod 755 "$T"
mkdir -m 755 "$R" "$R/proc" "$R/host"
cp "$BIN" "$R/cnibox"
mount -t proc proc "$R/proc" || { fail "cannot mount procfs"; exit 1; }
make_root "$R/host"

expect image-healthy 0 "17 ok, 0 warn, 0 fail" env -i unshare --root="$R" /cnibox doctor --root /host --metrics-url ""
printf '%s\n' "$LAST_OUT" | grep -q "^ok    host.shell .*the host has no shell" || fail "image-healthy: host.shell"
cp /bin/true "$R/host/opt/cni/bin/istio-cni"
expect image-dynamic 1 "\"fix\":	\"the plugin runs on the host, whose loader and libraries are not the image's" \
        env -i CNIBOX_DOCTOR_ROOT=/host unshare --root="$R" /cnibox doctor --metrics-url "" --json
printf '%s\n' "$LAST_OUT" | grep -q '"status":	"fail"' || fail "image-dynamic: JSON status"

[ "$FAILS" = 0 ] && echo "all doctor image cases passed" || { echo "$FAILS failure(s)"; exit 1; }
