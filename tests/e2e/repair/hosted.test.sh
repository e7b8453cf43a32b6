#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# hosted.test.sh: the repair controller inside install-cni (issue 13; spec istio-cni.md §5, §4.10).
# On the install tests' throwaway node with the stand-in API server enforcing the chart's RBAC:
#   - REPAIR_ENABLED + label mode: the broken pods of this node are labelled through the pod
#     cache's one watch (no second pod watch), the install is ready, and /metrics carries
#     istio_cni_repair_pods_repaired_total{type,result} and the queue depth;
#   - REPAIR_LABEL_SELECTORS / REPAIR_FIELD_SELECTORS: applied to each event, the watch stays
#     node-wide; a bad selector is named in one error line, repair off, the install goes on;
#   - no node name: one error line, repair off, the install goes on;
#   - a mode whose right is missing: the rights check names the verb, repair off, nothing touched,
#     the install goes on.
. "$SRCDIR/tests/e2e/install/lib.sh"
install_enter_sandbox "$@"
install_setup_api
. "$SRCDIR/tests/e2e/repair/lib.sh"   # after the set-up: it reuses the running stand-in server
install_plugin_source
export EXCLUDE_NAMESPACES=istio-system POD_NAMESPACE=istio-system
FIX=$SRCDIR/tests/fixtures/cni-conf

seed() {
    apiserver_admin POST /__admin/pods "[$(pod_json default brk node1 broken 10.1.0.5),$(pod_json default ok node1 healthy 10.1.0.6),$(pod_json default far node2 broken 10.2.0.5)]" >/dev/null
}
metrics() { curl -s -m 2 127.0.0.1:15014/metrics; }
run_agent() { install_reset; cp "$FIX/calico.conflist" "$NET_DIR/00-calico.conflist"; apiserver_admin DELETE /__admin/requests >/dev/null; agent_start "$@"; }

# ---- label mode, hosted ----
apiserver_admin POST /__admin/rbac '{"mode":"label"}' >/dev/null
seed
run_agent NODE_NAME=node1 REPAIR_LABEL_PODS=true
check "label: the install is ready" wait_until 10 is_ready
# node1's broken pods: the fixture ratings-v1-… and brk
both_labelled() { state_py 'all("cni.istio.io/uninitialized" in pods[k]["metadata"].get("labels", {}) for k in ("default/brk", "default/ratings-v1-85c74b6cb4-brk9n"))'; }
check "label: node1's broken pods are labelled" wait_until 20 both_labelled
sleep 0.5
check "label: the healthy pod and node2's pod are untouched" \
    state_py 'not any("cni.istio.io/uninitialized" in pods[k]["metadata"].get("labels", {}) for k in ("default/ok", "default/far"))'
check "label: one pod watch only (the pod cache's), node-scoped" \
    state_py 'sum(1 for r in reqs if r["path"] == "/api/v1/pods" and r["query"].get("watch") not in ("1", "true")) == 1 and all(r["query"].get("fieldSelector") == "spec.nodeName=node1" for r in reqs if "/pods" in r["path"] and r["method"] == "GET")'
check "label: no 403" state_py 'not any(r.get("code") == 403 for r in reqs)'
metrics >/tmp/m.txt
check "metrics: istio_cni_repair_pods_repaired_total{type=label,result=success} 2" \
    grep -qE '^istio_cni_repair_pods_repaired_total\{(result="success",type="label"|type="label",result="success")\} 2$' /tmp/m.txt
check "metrics: the queue depth gauge" grep -qE '^istio_cni_repair_queue_depth 0$' /tmp/m.txt
check "label: SIGTERM exits 0" agent_stop

# ---- selectors, hosted: applied to each event; the one watch stays node-wide ----
apiserver_admin POST /__admin/pods "[$(pod_json default sel-in node1 broken 10.1.0.7),$(pod_json default sel-out node1 broken 10.1.0.8)]" >/dev/null
run_agent NODE_NAME=node1 REPAIR_LABEL_PODS=true REPAIR_LABEL_SELECTORS='app in (sel-in, other)' \
    REPAIR_FIELD_SELECTORS='metadata.namespace=default,status.phase!=Succeeded'
check "selectors: the install is ready" wait_until 10 is_ready
check "selectors: the selected broken pod is labelled" \
    wait_until 20 state_py '"cni.istio.io/uninitialized" in pods["default/sel-in"]["metadata"].get("labels", {})'
sleep 0.5
check "selectors: the broken pod they leave out is untouched" \
    state_py '"cni.istio.io/uninitialized" not in pods["default/sel-out"]["metadata"].get("labels", {})'
check "selectors: still one node-wide pod watch, no selector on it" \
    state_py 'all(r["query"].get("fieldSelector") == "spec.nodeName=node1" and "labelSelector" not in r["query"] for r in reqs if "/pods" in r["path"] and r["method"] == "GET")'
check "selectors: no error line about repair" sh -c "! grep -q 'error.*repair' '$AGENT_LOG'"
check "selectors: SIGTERM exits 0" agent_stop

# ---- a bad selector: named in one error line, repair off, the install goes on ----
run_agent NODE_NAME=node1 REPAIR_LABEL_PODS=true REPAIR_LABEL_SELECTORS='app in sel-in'
check "bad selector: the install is ready" wait_until 10 is_ready
check "bad selector: named, repair off" grep -q "REPAIR_LABEL_SELECTORS: invalid label selector: 'app in' needs '(' values ')'.*repair is off" "$AGENT_LOG"
check "bad selector: exactly one error line about repair" [ "$(grep -c 'error.*repair' "$AGENT_LOG")" = 1 ]
check "bad selector: SIGTERM exits 0" agent_stop

# ---- no node name: one error line, repair off, the install goes on ----
run_agent REPAIR_LABEL_PODS=true
check "no node: the install is ready" wait_until 10 is_ready
check "no node: exactly one error line about repair" [ "$(grep -c 'error.*repair' "$AGENT_LOG")" = 1 ]
check "no node: it says repair is off" grep -q 'repair is off (the install goes on)' "$AGENT_LOG"
check "no node: SIGTERM exits 0" agent_stop

# ---- delete mode without the right to delete: named, repair off, nothing touched ----
apiserver_admin POST /__admin/rbac '{"mode":"repair"}' >/dev/null
run_agent NODE_NAME=node1 REPAIR_DELETE_PODS=true
check "rights: the install is ready" wait_until 10 is_ready
check "rights: the missing verb is named" wait_until 10 grep -q 'mode delete needs the right to delete pods.*repair is off' "$AGENT_LOG"
sleep 0.5
check "rights: no pod deleted, no DELETE sent" \
    state_py '"default/brk" in pods and not any(r["method"] == "DELETE" for r in reqs)'
check "rights: SIGTERM exits 0" agent_stop

# ---- cni-repair alone with the in-cluster config (KUBERNETES_SERVICE_HOST/PORT + the SA dir) ----
apiserver_admin POST /__admin/rbac '{"mode":"readonly"}' >/dev/null
env -u KUBECONFIG REPAIR_NODE_NAME=node1 "$CNIBOX" cni-repair --log-level debug >/tmp/alone.log 2>&1 &
ALONE=$!
check "alone, in-cluster: synced node1's pods" wait_until 20 grep -q 'synced [0-9]* pod(s) on node node1' /tmp/alone.log
check "alone, in-cluster: reports the broken pods (detect)" wait_until 20 grep -q 'pod default/brk: broken .*detect-only' /tmp/alone.log
kill -TERM "$ALONE"; wait "$ALONE"
check "alone: SIGTERM exits 0" [ $? = 0 ]
finish
