#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/install-cni/run.sh [N]: the node agent's costs, on a throwaway node (tests/e2e/install/lib.sh):
#   - start to ready (N runs; the API server is up, but the install does not wait for it);
#   - restore latency under a rival agent rewriting the conflist every 200 ms (100 rewrites);
#   - idle CPU over 10 s once ready;
#   - RSS with 250 pods of this node in the pod cache (target <= 8 MB; Istio's agent requests 100 Mi).
# No peer can run here (Istio's install-cni is a Go program that cannot be built offline), so the
# figures are absolute, against the targets. Every timed run must succeed, or no figure is printed.
set -uo pipefail
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
CNIBOX=${CNIBOX:-$SRCDIR/build/cnibox}
[ -x "$CNIBOX" ] || { echo "install-cni bench: no $CNIBOX (build first or set CNIBOX)" >&2; exit 1; }
CNIBOX=$(cd "$(dirname "$CNIBOX")" && pwd)/$(basename "$CNIBOX")
export SRCDIR CNIBOX
. "$SRCDIR/tests/e2e/install/lib.sh"
install_enter_sandbox "$@"
N=${1:-20}
PROBE="$PY $SRCDIR/bench/install-cni/probe.py"
die() { echo "install-cni bench: $*; no figures" >&2; exit 1; }
install_setup_api
install_plugin_source
FIX=$SRCDIR/tests/fixtures/cni-conf
stop_bench_agent() {
    local pid
    pid=$(cat /tmp/bench-agent.pid 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null
    timeout 30 tail --pid="$pid" -f /dev/null || die "agent $pid did not stop"
    rm -f /tmp/bench-agent.pid
}
trap 'stop_bench_agent; install_cleanup' EXIT

# 1. start to ready
times=()
for i in $(seq 1 "$N"); do
    install_reset
    cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
    ms=$($PROBE ready "$CNIBOX" install-cni) || die "run $i did not become ready ($(tail -3 /tmp/bench-agent.log))"
    has_istio "$NET_DIR/10-calico.conflist" || die "run $i: ready but the entry is missing"
    times+=("$ms")
    stop_bench_agent
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$N" '{a[NR]=$1} END {
    printf "start to ready: N=%d p50 %.1f ms, p90 %.1f ms, max %.1f ms\n", n, a[int((n+1)/2)], a[int(n*0.9+0.5)], a[n] }'

# 2. + 3. idle CPU, then restore latency under a rival
install_reset
cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
$PROBE ready "$CNIBOX" install-cni >/dev/null || die "not ready"
pid=$(cat /tmp/bench-agent.pid)
idle=$($PROBE cpu "$pid" 10) || die "cannot read the agent's CPU time"
echo "idle CPU: ${idle} ms over 10 s ($(awk -v c="$idle" 'BEGIN{printf "%.3f", c/100}')% of one core)"
"$PY" "$SRCDIR/tests/tools/rival.py" "$NET_DIR/10-calico.conflist" --count 100 --period 0.2 --reads 1000 \
    >/tmp/rival.json || die "rival failed"
"$PY" - /tmp/rival.json <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
if r["final_restore_ms"] is None or r["reads"]["torn_ours"] or not r["restored"]:
    sys.exit("install-cni bench: restore failed (%s); no figures" % r)
print("restore under a rival (100 rewrites / 200 ms): restored %d before the next rewrite, p50 %.1f ms, "
      "p99 %.1f ms, max %.1f ms; back %.1f ms after the rival stopped; torn reads of ours: %d of %d"
      % (r["restored"], r["p50_ms"], r["p99_ms"], r["max_ms"], r["final_restore_ms"],
         r["reads"]["torn_ours"], r["reads"]["total"]))
PY
stop_bench_agent

# 4. RSS with 250 pods of this node in the cache
install_reset
cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
"$PY" - "$SRCDIR/tests/fixtures/pods/injected-cni.json" >/tmp/pods250.json <<'PY'
import copy, json, sys
base = json.load(open(sys.argv[1]))
base = base["items"][0] if "items" in base else (base[0] if isinstance(base, list) else base)
items = []
for i in range(250):
    p = copy.deepcopy(base)
    p["metadata"]["name"] = "bench-pod-%03d" % i
    p["metadata"]["uid"] = "00000000-0000-4000-8000-%012d" % i
    p["metadata"].pop("resourceVersion", None)
    p["spec"]["nodeName"] = "bench-node"
    items.append(p)
json.dump(items, sys.stdout)
PY
curl -sSf --max-time 30 --cacert "$APISERVER_DIR/tls/ca.crt" -H 'Content-Type: application/json' \
    --data @/tmp/pods250.json "https://127.0.0.1:$APISERVER_PORT/__admin/pods" >/dev/null || die "cannot load 250 pods"
$PROBE ready env NODE_NAME=bench-node "$CNIBOX" install-cni >/dev/null || die "not ready"
pid=$(cat /tmp/bench-agent.pid)
wait_until 20 bash -c "curl -s 127.0.0.1:15014/metrics | grep -q '^cnibox_podcache_pods 250'" ||
    die "the pod cache did not hold 250 pods"
read -r rss hwm < <($PROBE rss "$pid") || die "cannot read the RSS"
echo "RSS with 250 pods cached: ${rss} KiB (peak ${hwm} KiB); target <= 8192 KiB: $([ "$rss" -le 8192 ] && echo met || echo MISSED)"
