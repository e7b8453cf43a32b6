#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# containerd.test.sh: the start-up race through containerd's CRI (issue 13 acceptance, "the same
# story through containerd's CRI sandbox"; spec istio-cni.md §5.4 Repair, §5.5). On the
# install tests' throwaway node with containerd in private namespaces (tests/e2e/runtime/lib.sh):
#   1. the node's network plugin only (bridge): no istio-cni yet; RunPodSandbox for the fixture pod
#      gives a pause process in a netns holding the pod IP, without redirect rules;
#   2. istio-validation as uid 1337 in that netns exits 126 (no-redirect);
#   3. the test plays the kubelet: the pod's status (podIP, lastState exit 126, CrashLoopBackOff)
#      goes to the stand-in API server;
#   4. the node agent starts (install-cni, REPAIR_REPAIR_PODS=true, /proc at /host/proc): it
#      installs the plugin and its hosted repair controller programs the rules into the sandbox's
#      netns (found by the pod IP: the pause process);
#   5. istio-validation passes (its probe connection is redirected); the metric counts it.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/e2e/install/lib.sh"
. "$SRCDIR/tests/e2e/runtime/lib.sh"   # second: its fail (exit 1) replaces the counting one
runtime_require
INSTALL_TEST_TIMEOUT=${INSTALL_TEST_TIMEOUT:-360} install_enter_sandbox "$@"
runtime_enter_private_ns 300 "$@"
mkdir -p "$NET_DIR" "$BIN_DIR" /opt/cni/bin "$RUN_DIR" "$SA_DIR"
install_setup_api
CNI_BIN=$BIN_DIR CNI_CONF=$NET_DIR AGENT_RUN=$RUN_DIR
runtime_setup
runtime_traps
trap 'agent_kill; runtime_cleanup' EXIT
cp "$ISTIO_CNI_BIN" /opt/cni/bin/istio-cni
chmod 0755 /opt/cni/bin/istio-cni
mkdir -p /host/proc && mount --rbind /proc /host/proc || fail "cannot mount /proc at /host/proc"
mkdir -p /tmp/vbin && cp "$CNIBOX" /tmp/vbin/cnibox && chmod 0755 /tmp/vbin /tmp/vbin/cnibox

FIXTURE=$SRCDIR/tests/fixtures/pods/injected-cni.json
read -r POD_NAME POD_NS POD_UID <<<"$("$CRI_PY" -c 'import json,sys; m=json.load(open(sys.argv[1]))["metadata"]; print(m["name"], m["namespace"], m["uid"])' "$FIXTURE")"
SUBNET=10.88.78
NET=cnibox-repair
PRIMARY=$CNI_CONF/10-$NET.conflist
cat >"$PRIMARY" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    { "type": "bridge", "bridge": "cnbrep0", "isGateway": true, "ipMasq": false,
      "ipam": { "type": "host-local", "dataDir": "$WORK/ipam",
                "ranges": [[{ "subnet": "$SUBNET.0/24", "gateway": "$SUBNET.1" }]],
                "routes": [{ "dst": "0.0.0.0/0" }] } }
  ]
}
JSON
apiserver_admin POST /__admin/nodes '{"metadata":{"name":"node1","labels":{"kubernetes.io/os":"linux"}}}' >/dev/null
containerd_start
wait_cni_loaded yes bridge

# 1. the pod starts before istio-cni is on the node
cri_run "$POD_NAME" "$POD_NS" "$POD_UID" || fail "RunPodSandbox: $(cat "$WORK/cri.err")"
st=$(cri status "$SANDBOX") || fail "PodSandboxStatus"
IP=$(echo "$st" | sed -n "s/^ip \($SUBNET\.[0-9]*\)$/\1/p")
NETNS=$(echo "$st" | sed -n 's/^netns //p')
PAUSE=$(echo "$st" | sed -n 's/^pid //p')
[ -n "$IP" ] && [ -e "$NETNS" ] && [ -n "$PAUSE" ] || fail "sandbox without IP/netns/pid: $st"
netns_rules "$NETNS" | grep -q ISTIO && fail "rules in the sandbox before any plugin"
echo "ok sandbox ${SANDBOX:0:12}: $IP, pause pid $PAUSE, no ISTIO rules"

validate() {
    nsenter --net="$NETNS" setpriv --reuid=1337 --regid=1337 --clear-groups \
        env TERMINATION_MESSAGE_PATH=/tmp/term.msg /tmp/vbin/cnibox istio-validation --probe-timeout=500ms >/dev/null 2>&1
}
# 2. validation fails there
validate
rc=$?
[ "$rc" = 126 ] || fail "istio-validation before repair: exit $rc, want 126"
grep -q '^no-redirect' /tmp/term.msg || fail "termination message: $(cat /tmp/term.msg)"
echo "ok istio-validation as uid 1337 exits 126: $(cut -c1-60 /tmp/term.msg)…"

# 3. the kubelet's report
PATCH=$("$CRI_PY" -c '
import json, sys
print(json.dumps({"status": {"podIP": sys.argv[1], "podIPs": [{"ip": sys.argv[1]}],
    "initContainerStatuses": [{"name": "istio-validation", "restartCount": 1,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 126, "reason": "Error", "message": open("/tmp/term.msg").read()}}}]}}))' "$IP")
apiserver_admin PATCH "/__admin/pods/$POD_NS/$POD_NAME" "$PATCH" >/dev/null || fail "status patch"

# 4. the agent, with repair in place
AGENT_LOG=$WORK/agent.log
agent_start NODE_NAME=node1 POD_NAMESPACE=istio-system POD_NAME=istio-cni-node-r3pa1 REPAIR_REPAIR_PODS=true
wait_until 15 is_ready || fail "agent not ready: $(tail -20 "$AGENT_LOG")"
wait_until 20 grep -q "pod $POD_NS/$POD_NAME: broken .*redirect rules programmed in /host/proc/$PAUSE/ns/net" "$AGENT_LOG" ||
    fail "not repaired: $(grep -i repair "$AGENT_LOG" | tail -10)"
echo "ok repaired: $(grep -o 'redirect rules programmed in .*' "$AGENT_LOG" | head -1)"
netns_rules "$NETNS" | grep -q ISTIO_OUTPUT || fail "no ISTIO rules in $NETNS after repair"

# 5. validation passes, traffic is captured, the metric says so
validate
rc=$?
[ "$rc" = 0 ] || fail "istio-validation after repair: exit $rc, want 0"
echo "ok istio-validation passes after the repair"
curl -s -m 2 127.0.0.1:15014/metrics | grep -qE '^istio_cni_repair_pods_repaired_total\{(result="success",type="repair"|type="repair",result="success")\} 1$' ||
    fail "metric: $(curl -s -m 2 127.0.0.1:15014/metrics | grep repair)"
echo "ok metric istio_cni_repair_pods_repaired_total{type=repair,result=success} 1"
agent_stop || fail "agent exit on SIGTERM"
cri_remove "$SANDBOX"
echo "PASS"
