#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cli.test.sh: install-cni's command line and environment (spec istio-cni.md §4.2): --help, bad
# values named with exit 1, and flag > env > default, observed in what the agent writes.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/e2e/install/lib.sh"
install_enter_sandbox "$@"

# run_bad WHAT EXPECTED-SUBSTRING [VAR=value...] -- [ARGS...]: must exit 1 and name the bad value.
run_bad() {
    local what=$1 want=$2 out rc
    shift 2
    local vars=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
    shift
    out=$(env "${vars[@]}" timeout 10 "$CNIBOX" install-cni "$@" 2>&1); rc=$?
    if [ "$rc" = 1 ] && grep -qF -- "$want" <<<"$out"; then pass "$what"; else fail "$what (rc=$rc): $out"; fi
}
out=$("$CNIBOX" install-cni --help); rc=$?
check "--help exits 0" [ "$rc" = 0 ]
for f in mounted-cni-net-dir cni-conf-name chained-cni-plugin cni-agent-run-dir kubeconfig-mode cni-conf-group-read \
    kube-ca-file skip-tls-verify monitoring-port repair-enabled log_output_level log_as_json bin-source-dir; do
    grep -q -- "--$f" <<<"$out" || fail "--help lists --$f"
done
pass "--help lists the flags"
run_bad "bad boolean in env" 'invalid boolean "maybe" for CHAINED_CNI_PLUGIN' CHAINED_CNI_PLUGIN=maybe --
run_bad "bad boolean flag" 'invalid boolean "yes" for --skip-tls-verify=yes' -- --skip-tls-verify=yes
run_bad "bad integer" 'invalid integer "0x1g" for KUBECONFIG_MODE' KUBECONFIG_MODE=0x1g --
run_bad "mode out of range" 'invalid integer "070000" for --kubeconfig-mode' -- --kubeconfig-mode 070000
run_bad "bad port" 'invalid integer "65536" for MONITORING_PORT' MONITORING_PORT=65536 --
run_bad "unknown flag" "unknown flag '--cni-net-dir=/x'" -- --cni-net-dir=/x
run_bad "flag without value" "flag '--cni-conf-name' needs a value" -- --cni-conf-name
run_bad "bad log level" 'invalid level "loud"' -- --log_output_level=default:info,cni-plugin:loud
run_bad "ambient refused" 'ambient mode is not supported' AMBIENT_ENABLED=true --
run_bad "a path as the config name" 'invalid CNI config name "../x.conflist"' CNI_CONF_NAME=../x.conflist --
run_bad "bad REPAIR_REPAIR_PODS" 'invalid boolean "sure" for REPAIR_REPAIR_PODS' REPAIR_REPAIR_PODS=sure --
run_bad "bad enablement selector" 'invalid AMBIENT_ENABLEMENT_SELECTOR' 'AMBIENT_ENABLEMENT_SELECTOR=podSelector: {a' --
run_bad "stray argument" "unexpected argument 'now'" -- now

# Precedence, seen in the entry the agent writes: flag > env > default.
install_setup_api
install_plugin_source
cp "$SRCDIR/tests/fixtures/cni-conf/calico.conflist" "$NET_DIR/10-calico.conflist"
cp "$SRCDIR/tests/fixtures/cni-conf/calico.conflist" "$NET_DIR/20-other.conflist"
entry() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d["plugins"][-1], sort_keys=True))' "$1"; }
: >"$AGENT_LOG"
CNI_CONF_NAME=10-calico.conflist EXCLUDE_NAMESPACES=' a, ,b ' POD_NAMESPACE=istio-system NATIVE_NFTABLES=1 \
AMBIENT_ENABLEMENT_SELECTOR='- podSelector:
    matchLabels:
      istio.io/dataplane-mode: ambient' \
    "$CNIBOX" install-cni --cni-conf-name=20-other.conflist --log_output_level=info,cni-plugin:debug \
    --kubeconfig-mode 0640 >>"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
wait_until 10 is_ready || { fail "not ready"; tail "$AGENT_LOG"; }
check "flag beats env (--cni-conf-name over CNI_CONF_NAME)" has_istio "$NET_DIR/20-other.conflist"
check "the env-named file is untouched" no_istio "$NET_DIR/10-calico.conflist"
e=$(entry "$NET_DIR/20-other.conflist")
check "cni-plugin scope level -> plugin_log_level" grep -q '"plugin_log_level": "debug"' <<<"$e"
check "EXCLUDE_NAMESPACES trimmed, empties dropped" grep -q '"exclude_namespaces": \["a", "b"\]' <<<"$e"
check "POD_NAMESPACE -> pod_namespace" grep -q '"pod_namespace": "istio-system"' <<<"$e"
check "NATIVE_NFTABLES (Go boolean 1) -> native_nftables" grep -q '"native_nftables": true' <<<"$e"
check "AMBIENT_ENABLEMENT_SELECTOR YAML -> enablement_selectors" \
    grep -q '"enablement_selectors": \[{"podSelector": {"matchLabels": {"istio.io/dataplane-mode": "ambient"}}}\]' <<<"$e"
check "KUBECONFIG_MODE 0640 (octal, as Go parses it)" [ "$(stat -c %a "$RUN_DIR/istio-cni-kubeconfig")" = 640 ]
check "the agent logs at the default scope's level (info: no debug lines)" bash -c "! grep -q '	debug	' $AGENT_LOG"
agent_stop
# JSON logs, and the log socket (§2.14): a plugin's batch is re-emitted under the cni-plugin scope,
# its latency labels feed the ADD histograms, and malformed entries are dropped.
: >"$AGENT_LOG"
"$CNIBOX" install-cni --log_as_json >>"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
wait_until 10 is_ready
body='["{\"time\":\"2026-12-04T10:00:00.123456Z\",\"level\":\"info\",\"scope\":\"cni\",\"msg\":\"pod default/p: redirect rules programmed\",\"pod\":\"default/p\",\"latency_setup_ms\":0.4,\"latency_pod_lookup_ms\":0.6,\"latency_rules_ms\":0.7,\"latency_total_ms\":1.7}","{\"level\":\"info\",\"msg\":\"no time\"}","not json"]'
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$RUN_DIR/log.sock" -H 'Content-Type: application/json' \
    --data "$body" http://unix/log)
check "log socket: 200" [ "$code" = 200 ]
check "log socket: socket mode 0666" [ "$(stat -c %a "$RUN_DIR/log.sock")" = 666 ]
check "log socket: re-emitted as JSON under cni-plugin with its labels" wait_until 2 grep -q \
    '"msg":"pod default/p: redirect rules programmed","scope":"cni-plugin","pod":"default/p"' "$AGENT_LOG"
check "log socket: agent lines are JSON" grep -q '^{"time":"[0-9T:.-]*Z","level":"info",.*"scope":"install-cni"' "$AGENT_LOG"
curl -s 127.0.0.1:15014/metrics >/tmp/metrics.txt
check "metrics: ADD stage histogram (rules 0.7 ms)" grep -q '^cnibox_plugin_add_stage_seconds_count{stage="rules"} 1' /tmp/metrics.txt
check "metrics: accepted plugin lines" grep -q '^cnibox_plugin_log_entries_total{result="accepted"} 1' /tmp/metrics.txt
check "metrics: dropped plugin lines" grep -q '^cnibox_plugin_log_entries_total{result="dropped"} 2' /tmp/metrics.txt
agent_stop
finish
