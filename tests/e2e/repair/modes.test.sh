#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# modes.test.sh: cni-repair's label, delete and detect modes against the stand-in API server with
# the chart's RBAC for the mode enforced (spec istio-cni.md §5.3, §5.4, §5.6): any other verb is a
# 403 and fails the test. Exactly the broken pods are touched, never a healthy one, one without
# the sidecar annotation, one whose exit code is not 126, or one on another node; the right Events
# carry the validation's reason; a DELETE carries uid + resourceVersion preconditions and a 409 is
# retried; a mode whose right is missing exits 1 naming it before touching anything.
. "$SRCDIR/tests/e2e/repair/lib.sh"
apiserver_require
TMP=$(mktemp -d /tmp/cnibox-repair-modes.XXXXXX)
cleanup() { repair_stop; apiserver_stop >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT

seed_pods() {
    {
        echo '['
        pod_json default broken-a n1 broken 10.1.0.5; echo ','
        pod_json other broken-b n1 broken 10.1.0.6; echo ','
        pod_json default healthy n1 healthy 10.1.0.7; echo ','
        pod_json default noann n1 noann 10.1.0.8; echo ','
        pod_json default exit1 n1 exit1 10.1.0.9; echo ','
        pod_json default far n2 broken 10.2.0.5; echo ','
        pod_json default labelled n1 labelled 10.1.0.10; echo ','
        pod_json default going n1 broken 10.1.0.11 | "$PY" -c 'import json,sys; p=json.load(sys.stdin); p["metadata"]["deletionTimestamp"]="2026-01-10T10:05:00Z"; print(json.dumps(p))'
        echo ']'
    } >"$TMP/pods.json"
    apiserver_admin POST /__admin/pods "$(cat "$TMP/pods.json")" >/dev/null
}

no_403() { state_py 'not any(r.get("code") == 403 for r in reqs)'; }
log_has() { grep -q -- "$1" "$REPAIR_LOG"; }

# ---------------- label ----------------
apiserver_start --rbac label || exit 1
seed_pods
# broken-b's first two label PATCHes fail the same way: one Event, its count patched to 2
apiserver_admin POST /__admin/faults '{"method":"PATCH","path_regex":"/pods/broken-b/status$","status":500,"count":2,"message":"etcdserver: request timed out"}' >/dev/null
repair_start "$TMP/label.log" REPAIR_NODE_NAME=n1 REPAIR_LABEL_PODS=true
labelled() { state_py 'all(pods[k]["metadata"].get("labels", {}).get("cni.istio.io/uninitialized") == "true" for k in ("default/broken-a", "other/broken-b"))'; }
check "label: the broken pods get the label" wait_for 20 labelled
sleep 1 # room for a wrong action to show
check "label: exactly the broken pods carry the label (healthy, noann, exit1, far untouched)" \
    state_py 'sorted(k for k, p in pods.items() if "cni.istio.io/uninitialized" in p["metadata"].get("labels", {})) == ["default/broken-a", "default/labelled", "other/broken-b"]'
check "label: PATCH only of the broken pods' status subresource, as a merge patch (broken-b: 2 failures, then success)" \
    state_py 'sorted((r["path"], r["headers"].get("Content-Type")) for r in reqs if r["method"] == "PATCH" and "/pods/" in r["path"]) == [("/api/v1/namespaces/default/pods/broken-a/status", "application/merge-patch+json")] + [("/api/v1/namespaces/other/pods/broken-b/status", "application/merge-patch+json")] * 3'
check "label: the patch body is the label only" \
    state_py 'all(r["body"] == {"metadata": {"labels": {"cni.istio.io/uninitialized": "true"}}} for r in reqs if r["method"] == "PATCH" and "/pods/" in r["path"])'
check "label: no DELETE, no 403" state_py 'not any(r["method"] == "DELETE" or r.get("code") == 403 for r in reqs)'
check "label: the watch is node-scoped" \
    state_py 'any(r["query"].get("watch") in ("1", "true") and r["query"].get("fieldSelector") == "spec.nodeName=n1" for r in reqs)'
check "label: Events LabelBrokenPod for exactly the broken pods, with the validation's reason" \
    state_py 'sorted((e["involvedObject"]["namespace"] + "/" + e["involvedObject"]["name"], e["reason"], e["type"], e["source"]["component"], e["message"].split(";")[0].split(":")[0]) for e in events) == [("default/broken-a", "LabelBrokenPod", "Warning", "cni-repair", "pod detected as broken, labeled"), ("other/broken-b", "LabelBrokenPod", "Warning", "cni-repair", "pod detected as broken, but failed to label"), ("other/broken-b", "LabelBrokenPod", "Warning", "cni-repair", "pod detected as broken, labeled")] and all("no-redirect" in e["message"] for e in events)'
check "label: a repeated Event is aggregated (count 2 by PATCH, not a second Event)" \
    state_py '[e["count"] for e in events if "failed to label" in e["message"]] == [2] and sum(1 for r in reqs if r["method"] == "PATCH" and "/events/" in r["path"]) == 1 and all(e["count"] == 1 for e in events if "failed" not in e["message"])'
check "label: Events name the pod's uid" \
    state_py 'all(e["involvedObject"]["uid"] == pods[e["involvedObject"]["namespace"] + "/" + e["involvedObject"]["name"]]["metadata"]["uid"] for e in events)'
check "label: the log line names the reason code" log_has "broken (istio-validation reason no-redirect"
check "label: an already labelled pod is skipped" log_has "default/labelled: broken but already labelled"
# a repeat update of a labelled pod: skipped, no second PATCH
apiserver_admin PATCH /__admin/pods/default/broken-a '{"metadata":{"annotations":{"touch":"1"}}}' >/dev/null
sleep 1
check "label: a repeat event does not patch again" \
    state_py 'sum(1 for r in reqs if r["method"] == "PATCH" and "/pods/" in r["path"]) == 4'
repair_stop
check "label: SIGTERM exits 0" [ "$REPAIR_RC" = 0 ]
apiserver_stop >/dev/null

# ---------------- delete, with one 409 ----------------
apiserver_start --rbac delete || exit 1
seed_pods
apiserver_admin POST /__admin/faults '{"method":"DELETE","path_regex":"/pods/broken-a$","status":409,"count":1,"message":"Operation cannot be fulfilled on Pod \"broken-a\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (2). The object might have been modified"}' >/dev/null
UIDS=$(state_py '{k: (p["metadata"]["uid"], p["metadata"]["resourceVersion"]) for k, p in pods.items()}')
repair_start "$TMP/delete.log" REPAIR_NODE_NAME=n1 REPAIR_DELETE_PODS=true REPAIR_LABEL_PODS=true
deleted() { state_py '"default/broken-a" not in pods and "other/broken-b" not in pods and "default/labelled" not in pods'; }
check "delete: the broken pods are deleted (delete wins over label)" wait_for 20 deleted
sleep 1
check "delete: healthy, noann, exit1, the other node's pod and the terminating one remain" \
    state_py 'sorted(pods) == ["default/exit1", "default/far", "default/going", "default/healthy", "default/noann"]'
check "delete: every DELETE carries the pod's uid and resourceVersion as preconditions" \
    state_py 'all(r["body"]["preconditions"] == {"uid": u, "resourceVersion": rv} for r in reqs if r["method"] == "DELETE" for (u, rv) in [('"$UIDS"')[r["path"].split("/")[4] + "/" + r["path"].split("/")[6]]])'
check "delete: the 409 was retried (2 DELETEs of broken-a)" \
    state_py 'sum(1 for r in reqs if r["method"] == "DELETE" and r["path"].endswith("/broken-a")) == 2 and any(r.get("code") == 409 for r in reqs)'
check "delete: no PATCH of a pod, no 403" state_py 'not any((r["method"] == "PATCH" and "/pods/" in r["path"]) or r.get("code") == 403 for r in reqs)'
check "delete: Events DeleteBrokenPod (the failure, then the deletion) with the reason" \
    state_py 'sorted((e["involvedObject"]["name"], e["message"].split(";")[0].split(":")[0]) for e in events) == [("broken-a", "pod detected as broken, but failed to delete"), ("broken-a", "pod detected as broken, deleted"), ("broken-b", "pod detected as broken, deleted"), ("labelled", "pod detected as broken, deleted")] and all(e["reason"] == "DeleteBrokenPod" and "no-redirect" in e["message"] for e in events)'
repair_stop
check "delete: SIGTERM exits 0" [ "$REPAIR_RC" = 0 ]
apiserver_stop >/dev/null

# ---------------- a mode without its right: exit 1 naming it, nothing touched ----------------
apiserver_start --rbac label || exit 1
seed_pods
env KUBECONFIG="$KUBECONFIG_FILE" REPAIR_NODE_NAME=n1 REPAIR_DELETE_PODS=true timeout 20 "$CNIBOX" cni-repair >"$TMP/rights.log" 2>&1
rc=$?
check "rights: delete mode without 'delete pods' exits 1 (got $rc)" [ "$rc" = 1 ]
check "rights: the error names the missing verb" grep -q "mode delete needs the right to delete pods" "$TMP/rights.log"
check "rights: no pod was touched, nothing was listed" \
    state_py 'len(pods) == 8 and not any(r["method"] in ("DELETE", "PATCH") or "/pods" in r["path"] for r in reqs)'
apiserver_stop >/dev/null

# ---------------- detect only: no right beyond reading, nothing written ----------------
apiserver_start --rbac readonly || exit 1
seed_pods
repair_start "$TMP/detect.log" REPAIR_NODE_NAME=n1
detected() { [ "$(grep -c 'detect-only, no action' "$REPAIR_LOG")" -ge 4 ]; }
check "detect: the four broken pods on n1 are reported (the terminating one too)" wait_for 20 detected
sleep 1
check "detect: exactly those" [ "$(grep 'detect-only, no action' "$REPAIR_LOG" | grep -oE 'pod [a-z-]+/[a-z-]+' | sort | tr '\n' ' ')" = "pod default/broken-a pod default/going pod default/labelled pod other/broken-b " ]
check "detect: nothing written (no Event, no PATCH, no DELETE), no 403" \
    state_py 'not any(r["method"] != "GET" and not r["path"].endswith("selfsubjectaccessreviews") for r in reqs) and not events and not any(r.get("code") == 403 for r in reqs)'
repair_stop
check "detect: SIGTERM exits 0" [ "$REPAIR_RC" = 0 ]

# ---------------- configuration errors ----------------
for bad in "REPAIR_NODE_NAME=" "REPAIR_NODE_NAME=n1 REPAIR_DELETE_PODS=maybe" "REPAIR_NODE_NAME=n1 REPAIR_ACTION_RATE=fast" \
    "REPAIR_NODE_NAME=n1 REPAIR_INIT_CONTAINER_EXIT_CODE=x"; do
    env $bad "$CNIBOX" cni-repair >"$TMP/bad.log" 2>&1
    rc=$?
    check "config: '$bad' exits 1 (got $rc) naming the value: $(tail -1 "$TMP/bad.log" | cut -f3-)" \
        [ "$rc" = 1 -a -n "$(grep -E 'REPAIR_NODE_NAME is empty|maybe|fast|EXIT_CODE .x.' "$TMP/bad.log")" ]
done
env REPAIR_ENABLED=false "$CNIBOX" cni-repair >/dev/null 2>&1
check "config: REPAIR_ENABLED=false exits 0" [ $? = 0 ]
"$CNIBOX" cni-repair --help | grep -q REPAIR_ACTION_RATE
check "--help lists the REPAIR_* variables" [ $? = 0 ]
"$CNIBOX" cni-repair --bogus >/dev/null 2>&1
check "a bad option exits 2 (usage)" [ $? = 2 ]
"$CNIBOX" cni-repair --log-level loud 2>&1 | grep -q "'loud'"
check "a bad --log-level names the value" [ $? = 0 ]
finish
