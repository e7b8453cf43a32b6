#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# upgrade.test.sh: the upgrade-aware cleanup on SIGTERM (issue 12 item 9, docs/install-cni.md): the
# agent reads its DaemonSet istio-cni-node with a fresh GET and keeps the plugin for a restart,
# removes it for an uninstall, and keeps it when the API cannot answer. Plus a second agent on
# the same node (a DaemonSet surge), which must not steal the first one's sockets.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/e2e/install/lib.sh"
install_enter_sandbox "$@"
install_setup_api
install_plugin_source
FIX=$SRCDIR/tests/fixtures/cni-conf
export POD_NAMESPACE=istio-system POD_NAME=istio-cni-node-x7k2p NODE_NAME=node-1

apiserver_admin POST /__admin/nodes \
    '{"metadata":{"name":"node-1","labels":{"kubernetes.io/os":"linux","pool":"a"}}}' >/dev/null
ds() { # ds POOL [FINALIZERS]: the DaemonSet, scheduling onto nodes with label pool=POOL
    apiserver_admin POST /__admin/daemonsets "{\"metadata\":{\"name\":\"istio-cni-node\",\"namespace\":\"istio-system\"${2:+,\"finalizers\":[\"$2\"]}},
      \"spec\":{\"template\":{\"spec\":{\"nodeSelector\":{\"kubernetes.io/os\":\"linux\"},
      \"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":[
      {\"matchExpressions\":[{\"key\":\"pool\",\"operator\":\"In\",\"values\":[\"$1\"]}]}]}}}}}}}" >/dev/null
}
ds_gone() { apiserver_admin DELETE /__admin/daemonsets/istio-system/istio-cni-node >/dev/null; }
installed() { has_istio "$NET_DIR/10-calico.conflist" && [ -e "$BIN_DIR/istio-cni" ] && [ -e "$RUN_DIR/istio-cni-kubeconfig" ]; }
removed() { no_istio "$NET_DIR/10-calico.conflist" && [ ! -e "$BIN_DIR/istio-cni" ] && [ ! -e "$RUN_DIR/istio-cni-kubeconfig" ]; }

# stop_case NAME WANT(kept|removed) [MAX-SECONDS]: install, SIGTERM, check what is left and how long.
stop_case() {
    local name=$1 want=$2 max=${3:-5} t0 ms
    install_reset
    cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
    agent_start
    if ! wait_until 10 is_ready; then fail "$name: not ready"; tail -20 "$AGENT_LOG"; agent_kill; return; fi
    [ -n "${BEFORE_STOP:-}" ] && eval "$BEFORE_STOP"
    t0=$(date +%s%N)
    check "$name: SIGTERM exits 0" agent_stop
    ms=$((($(date +%s%N) - t0) / 1000000))
    check "$name: exited within ${max} s (${ms} ms)" [ "$ms" -lt $((max * 1000)) ]
    if [ "$want" = kept ]; then
        check "$name: entry, binary and kubeconfig kept" installed
    else
        check "$name: entry, binary and kubeconfig removed" removed
    fi
    check "$name: no .tmp left" no_tmp_left
    grep 'terminating:' "$AGENT_LOG" | sed 's/^/#   /'
}

ds a
stop_case "DaemonSet present, selects this node (rolling update)" kept
ds b
stop_case "DaemonSet present, affinity no longer selects this node" removed
ds a cnibox.test/hold
BEFORE_STOP='apiserver_curl /apis/apps/v1/namespaces/istio-system/daemonsets/istio-cni-node -X DELETE >/dev/null'
stop_case "DaemonSet being deleted (deletionTimestamp)" removed
BEFORE_STOP=
ds_gone
stop_case "DaemonSet gone (404)" removed
ds a
BEFORE_STOP="apiserver_admin POST /__admin/faults '{\"path_regex\":\"daemonsets\",\"status\":403}' >/dev/null"
stop_case "DaemonSet forbidden (403: RBAC removed with the uninstall)" removed
BEFORE_STOP="apiserver_admin POST /__admin/faults '{\"path_regex\":\"daemonsets\",\"delay_ms\":20000}' >/dev/null"
stop_case "API server does not answer (kept, decided within 5 s)" kept 9
apiserver_admin DELETE /__admin/faults >/dev/null
BEFORE_STOP="apiserver_admin POST /__admin/faults '{\"path_regex\":\"daemonsets\",\"status\":503}' >/dev/null"
stop_case "API server 503 (kept)" kept
apiserver_admin DELETE /__admin/faults >/dev/null
BEFORE_STOP=

# A second agent on the same node (surge): its own netns, the same host dirs. It must not take
# over the first agent's sockets, and the first agent's exit must not remove the second's.
install_reset
cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
agent_start
wait_until 10 is_ready
ino=$(stat -c %i "$RUN_DIR/log.sock")
unshare -n bash -c "ip link set lo up; exec env NODE_NAME=node-1 $CNIBOX install-cni" >/tmp/agent2.log 2>&1 &
A2=$!
check "second agent: refuses the live log socket" wait_until 10 grep -q 'another agent serves it' /tmp/agent2.log
check "second agent: the first agent's socket is untouched" [ "$(stat -c %i "$RUN_DIR/log.sock")" = "$ino" ]
check "second agent: the config is not rewritten (valid)" has_istio "$NET_DIR/10-calico.conflist"
kill -TERM $A2; wait $A2
check "second agent exit: the first agent's log socket survives" [ "$(stat -c %i "$RUN_DIR/log.sock" 2>/dev/null)" = "$ino" ]
check "second agent exit: still ready" is_ready
agent_stop
finish
