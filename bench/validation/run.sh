#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run.sh: wall time of a successful validation, whole process, as uid 1337, in a private network
# namespace holding the default sidecar rules (spec istio-iptables.md §4 payload, §6 probe).
# Measures bench/validation/probe.c (validate_run() alone) and, when CNIBOX is set, `$CNIBOX
# istio-validation`. Prints "<what>: mean X.XXX ms" lines. Target: <= 10 ms.
# Usage: sudo bench/validation/run.sh [RUNS]   (env CNIBOX=path/to/cnibox optional)
set -eu
[ -n "${BENCH_TRACE:-}" ] && set -x
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
runs=${1:-300}
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (unshare -n, iptables)"; exit 77; }

if [ "${1:-}" != "--inside" ]; then
        tmp=$(mktemp -d /tmp/cnibox-bench-validation.XXXXXX)
        trap 'rm -rf "$tmp"' EXIT
        chmod 755 "$tmp"
        ${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -I"$src/lib" "$here/probe.c" "$src/lib/kernel/validate.c" -o "$tmp/probe"
        unshare -n -- bash "$0" --inside "$tmp" "$runs"
        exit
fi

tmp=$2 runs=$3
. "$src/tests/e2e/validation/lib.sh"
# lo up, plus a veth with 10.211.0.2/24: istio-validation, like Istio's, needs a non-loopback
# address to pick the family from (spec §2.4); without one it fails every run.
ns_setup 4
CNIBOX= payload_v4 redirect | iptables-legacy-restore --noflush
as1337() { setpriv --reuid=1337 --regid=1337 --clear-groups "$@"; }

targets=("probe (validate_run only)|$tmp/probe")
if [ -n "${CNIBOX:-}" ]; then
        # Asked for: measure it or refuse, never skip it silently.
        [ -x "$CNIBOX" ] && "$CNIBOX" --list 2>/dev/null | grep -qw istio-validation ||
                { echo "run.sh: \$CNIBOX=$CNIBOX is not a cnibox with istio-validation, no figures" >&2; exit 1; }
        targets+=("cnibox istio-validation|$CNIBOX istio-validation")
fi

for t in "${targets[@]}"; do
        name=${t%%|*} cmd=${t#*|}
        as1337 $cmd >/dev/null 2>&1 || { echo "$name: validation failed, not benchmarking:" >&2; as1337 $cmd >&2 || true; exit 1; }
        if command -v hyperfine >/dev/null; then
                : >"$tmp/h.json" && chown 1337 "$tmp/h.json"
                # hyperfine fails (and we with it) if any run exits non-zero; its exit_codes are checked too.
                as1337 hyperfine -N --warmup 20 --runs "$runs" --export-json "$tmp/h.json" "$cmd" >"$tmp/h.out" 2>&1 ||
                        { echo "$name: a timed run failed, no figure:" >&2; cat "$tmp/h.out" >&2; exit 1; }
                python3 - "$tmp/h.json" "$runs" <<'PY' || { echo "$name: hyperfine's results are not all successes, no figure" >&2; exit 1; }
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
codes = r.get("exit_codes", [])
sys.exit(0 if len(codes) == int(sys.argv[2]) and not any(codes) else 1)
PY
                mean=$(grep -m1 '"mean"' "$tmp/h.json" | sed 's/.*: *//; s/,.*//')
                sd=$(grep -m1 '"stddev"' "$tmp/h.json" | sed 's/.*: *//; s/,.*//')
                awk -v n="$name" -v m="$mean" -v s="$sd" -v r="$runs" \
                        'BEGIN { printf "%s: mean %.3f ms (sd %.3f ms, %d runs, hyperfine)\n", n, m * 1000, s * 1000, r }'
        else
                t0=$(date +%s%N)
                for ((i = 0; i < runs; i++)); do
                        as1337 $cmd >/dev/null 2>&1 || { echo "$name: run $i failed, no figure" >&2; exit 1; }
                done
                t1=$(date +%s%N)
                awk -v n="$name" -v d=$((t1 - t0)) -v r="$runs" \
                        'BEGIN { printf "%s: mean %.3f ms (%d runs incl. setpriv, date loop)\n", n, d / r / 1e6, r }'
        fi
done
