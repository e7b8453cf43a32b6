#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/kubeconfig/run.sh [BUILDDIR [OLD_REV [N]]]: time to parse a typical kubeconfig, the
# current parser (BUILDDIR's libcniboxlib.a, libyaml) against lib/kube/kubeconfig.c as of OLD_REV
# (default 4129335, the last commit with the hand-written YAML subset), both in one program.
# Not a test; needs a configured and built BUILDDIR (default build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
B=$(cd "${1:-build}" && pwd)
REV=${2:-4129335}
N=${3:-10000}
[ -f "$B/libcniboxlib.a" ] || { echo "kubeconfig bench: no $B/libcniboxlib.a (build first)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
git -C "$src" show "$REV:lib/kube/kubeconfig.c" > "$T/old.c"
ren=""
for f in parse yaml_parse load in_cluster done base64_decode; do
        ren="$ren -Dkubeconfig_$f=old_kubeconfig_$f"
done
# shellcheck disable=SC2086
cc -O2 -D_GNU_SOURCE -I"$src/lib" $ren -c "$T/old.c" -o "$T/old.o"
cc -O2 -D_GNU_SOURCE -I"$src/lib" "$here/bench.c" "$T/old.o" "$B/libcniboxlib.a" \
        "$(pkg-config --variable=libdir libcjson)/libcjson.so" /usr/lib/x86_64-linux-gnu/libyaml.a -o "$T/bench"
"$T/bench" "$N"
