# SPDX-License-Identifier: Apache-2.0
# lib.sh: helpers for the cni-repair tests (spec istio-cni.md §5): pods in the states the broken-pod
# predicate tells apart, the stand-in API server (tests/apiserver) and cni-repair run in the
# background. Source it from a test; $CNIBOX, $SRCDIR are set by CTest.
set -u
# Debian's interpreter: a pyenv shim costs about 1.5 s per start (tests/apiserver/lib.sh runs
# whatever python3 is first on PATH).
export PATH=/usr/bin:$PATH
PY=$(command -v /usr/bin/python3 || command -v python3)
. "$SRCDIR/tests/apiserver/lib.sh"
FAILS=0
PASSES=0
pass() { PASSES=$((PASSES + 1)); echo "ok   - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
finish() { echo "$PASSES passed, $FAILS failed"; [ "$FAILS" = 0 ]; exit $?; }

# pod_json NS NAME NODE KIND [IP]: one pod. KIND: broken (istio-validation exit 126 last time,
# CrashLoopBackOff now), healthy (validation Completed), noann (broken but without the
# sidecar.istio.io/status annotation), exit1 (validation exit 1 last time), labelled (broken,
# already labelled cni.istio.io/uninitialized), pending (sidecar pod whose validation has not
# failed yet).
pod_json() {
    "$PY" - "$@" <<'PYEOF'
import json, sys, uuid
ns, name, node, kind = sys.argv[1:5]
ip = sys.argv[5] if len(sys.argv) > 5 else ""
msg = "no-redirect: a connection from 127.0.0.1 as uid 1337 reached 127.0.0.6:15002 unchanged\n"
ann = {"sidecar.istio.io/status": json.dumps({"initContainers": ["istio-validation"], "containers": ["istio-proxy"]}),
       "sidecar.istio.io/interceptionMode": "REDIRECT",
       "traffic.sidecar.istio.io/includeOutboundIPRanges": "*",
       "traffic.sidecar.istio.io/excludeInboundPorts": "15020",
       "traffic.sidecar.istio.io/includeInboundPorts": "*"}
labels = {"app": name}
if kind == "noann":
    del ann["sidecar.istio.io/status"]
if kind == "labelled":
    labels["cni.istio.io/uninitialized"] = "true"
sc = {"runAsUser": 1337, "runAsGroup": 1337}
spec = {"nodeName": node,
        "initContainers": [{"name": "istio-validation", "image": "proxyv2", "securityContext": sc,
                            "args": ["istio-iptables", "--run-validation", "--skip-rule-apply"]}],
        "containers": [{"name": "app", "image": "app"},
                       {"name": "istio-proxy", "image": "proxyv2", "args": ["proxy", "sidecar"],
                        "securityContext": sc}]}
waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}}
last = {"terminated": {"exitCode": 126, "reason": "Error", "message": msg,
                       "startedAt": "2026-01-10T10:01:00Z", "finishedAt": "2026-01-10T10:01:05Z"}}
if kind == "healthy":
    st = {"name": "istio-validation", "ready": True, "restartCount": 1,
          "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}, "lastState": last}
elif kind == "exit1":
    st = {"name": "istio-validation", "restartCount": 1, "state": waiting,
          "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "message": "boom"}}}
elif kind == "pending":
    st = {"name": "istio-validation", "restartCount": 0, "state": {"running": {"startedAt": "2026-01-10T10:01:00Z"}},
          "lastState": {}}
else:
    st = {"name": "istio-validation", "restartCount": 1, "state": waiting, "lastState": last}
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"namespace": ns, "name": name, "uid": str(uuid.uuid4()), "labels": labels, "annotations": ann},
       "spec": spec,
       "status": {"phase": "Pending", "podIP": ip, "podIPs": [{"ip": ip}] if ip else [],
                  "initContainerStatuses": [st]}}
print(json.dumps(pod))
PYEOF
}

# jq-free JSON queries over the admin state: state_py 'EXPR using s (state) and reqs (request log)'.
state_py() {
    # through files: a state of hundreds of pods is past the 128 kB limit of one argument
    local d=${APISERVER_DIR:-/tmp}
    apiserver_admin GET /__admin/state >"$d/state.json" || return 1
    apiserver_admin GET /__admin/requests >"$d/requests.json" || return 1
    "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1])); reqs = json.load(open(sys.argv[2]))
pods = {p["metadata"]["namespace"] + "/" + p["metadata"]["name"]: p for p in s["pods"]}
events = s["events"]
r = eval(sys.argv[3])
if isinstance(r, bool):
    sys.exit(0 if r else 1)
print(r)' "$d/state.json" "$d/requests.json" "$1"
}

REPAIR_PID=
REPAIR_LOG=
# repair_start LOG [VAR=VALUE...]: cni-repair in the background with the stand-in's kubeconfig.
repair_start() {
    REPAIR_LOG=$1
    shift
    env KUBECONFIG="$KUBECONFIG_FILE" "$@" "$CNIBOX" cni-repair --log-level debug >"$REPAIR_LOG" 2>&1 &
    REPAIR_PID=$!
}

# repair_stop: SIGTERM, then the exit status in REPAIR_RC.
repair_stop() {
    REPAIR_RC=
    [ -n "$REPAIR_PID" ] || return 0
    kill -TERM "$REPAIR_PID" 2>/dev/null
    local i
    for i in $(seq 1 100); do kill -0 "$REPAIR_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$REPAIR_PID" 2>/dev/null
    wait "$REPAIR_PID"
    REPAIR_RC=$?
    REPAIR_PID=
}

# wait_for SECONDS CMD...: polls CMD every 50 ms.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    while [ $SECONDS -le $end ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}
