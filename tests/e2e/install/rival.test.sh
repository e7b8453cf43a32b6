#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# rival.test.sh: another agent rewrites the conflist without our entry every 200 ms, 100 times, half
# by atomic rename and half by truncate-and-write (issue 12 acceptance). The agent restores the
# entry, detects the fight (log, metric, Kubernetes Event), keeps its CPU bounded, never shows a
# reader a torn file of its own, and has the entry back within 5 s of the rival stopping.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/e2e/install/lib.sh"
install_enter_sandbox "$@"
install_setup_api
install_plugin_source
cp "$SRCDIR/tests/fixtures/cni-conf/calico.conflist" "$NET_DIR/10-calico.conflist"
agent_start POD_NAMESPACE=istio-system POD_NAME=istio-cni-node-x7k2p
wait_until 10 is_ready || { fail "not ready"; tail -20 "$AGENT_LOG"; finish; }
cpu() { awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"; }
c0=$(cpu) t0=$(date +%s%N)
"$PY" "$SRCDIR/tests/tools/rival.py" "$NET_DIR/10-calico.conflist" --count "${RIVAL_COUNT:-100}" \
    --period 0.2 --reads 1000 >/tmp/rival.json
c1=$(cpu) t1=$(date +%s%N)
cpu_pct=$(( (c1 - c0) * 1000000000 / $(getconf CLK_TCK) * 100 / (t1 - t0) ))
echo "# rival: $(cat /tmp/rival.json)"
echo "# agent CPU during the fight: ${cpu_pct}% of one core"
field() { "$PY" -c 'import json,sys; v=json.load(open("/tmp/rival.json")); 
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1"; }
check "rival: entry back within 5 s of the rival stopping ($(field final_restore_ms) ms)" \
    [ "$(field final_restore_ms)" != None ]
check "rival: no reader saw a torn file with our entry (of $(field reads.total) reads)" [ "$(field reads.torn_ours)" = 0 ]
check "rival: 1000 reads done" [ "$(field reads.total)" = 1000 ]
check "rival: most rewrites were restored before the next one ($(field restored)/100)" [ "$(field restored)" -ge 50 ]
check "rival: the fight is logged once" [ "$(grep -c 'CNI config fight' "$AGENT_LOG")" = 1 ]
check "rival: the fight names the file" grep -q 'CNI config fight.*10-calico.conflist' "$AGENT_LOG"
check "rival: fights metric" bash -c "curl -s 127.0.0.1:15014/metrics | grep -q '^cnibox_install_config_fights_total 1'"
check "rival: rewrites counted" bash -c "curl -s 127.0.0.1:15014/metrics | grep -Eq '^cnibox_install_rival_rewrites_total [1-9][0-9]'"
check "rival: Kubernetes Event on the agent's pod" bash -c \
    "apiserver_admin() { curl -sS --cacert $APISERVER_DIR/tls/ca.crt https://127.0.0.1:$APISERVER_PORT\$1; }; apiserver_admin /__admin/state | "$PY" -c 'import json,sys; ev=json.load(sys.stdin)[\"events\"]; sys.exit(0 if any(e[\"reason\"]==\"CNIConfigConflict\" and e[\"involvedObject\"][\"name\"]==\"istio-cni-node-x7k2p\" for e in ev) else 1)'"
check "rival: agent CPU bounded (${cpu_pct}% < 25% of a core)" [ "$cpu_pct" -lt 25 ]
check "rival: ready again after the fight" wait_until 5 is_ready
check "rival: SIGTERM exits 0" agent_stop
finish
