#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# race.test.sh: the start-up race, end to end, in repair mode (spec istio-cni.md §5.4 Repair, §5.5).
# In a throwaway node (private mount + network namespace, tests/e2e/install/lib.sh):
#   1. a "pod" netns is made before any plugin ran: a long-lived process in it, the pod IP on a veth;
#   2. istio-validation as uid 1337 fails there: exit 126, reason no-redirect;
#   3. the test plays the kubelet: that result goes into the pod's status on the stand-in API
#      server (lastState.terminated.exitCode 126 + message, state.waiting CrashLoopBackOff), which
#      enforces the chart's RBAC for repair mode: no pod-mutating right at all;
#   4. cni-repair (REPAIR_REPAIR_PODS, the host's /proc at /host/proc) finds the netns by the pod
#      IP without entering any netns and programs the rules with the plugin's library code;
#   5. istio-validation now passes.
# Then: a repeat event does not repair again (same UID); the pod re-created under the same name
# (new UID) is repaired again; nothing was written to the API and nothing was refused.
. "$SRCDIR/tests/e2e/install/lib.sh"
install_enter_sandbox "$@"
. "$SRCDIR/tests/e2e/repair/lib.sh"
apiserver_require
for b in unshare nsenter setpriv ip; do command -v $b >/dev/null || { echo "SKIP: $b not found"; exit 77; }; done

POD_IP=10.44.0.5
PODPID=
LATE=
cleanup() {
    [ -n "$LATE" ] && kill "$LATE" 2>/dev/null
    [ "$FAILS" = 0 ] || { echo "--- cni-repair log"; tail -n 40 /tmp/repair.log 2>/dev/null; }
    repair_stop
    [ -n "$PODPID" ] && kill "$PODPID" 2>/dev/null && wait "$PODPID" 2>/dev/null
    apiserver_stop >/dev/null 2>&1
    return 0
}
trap cleanup EXIT

# the host's /proc where the DaemonSet mounts it
mkdir -p /host/proc && mount --rbind /proc /host/proc
# uid 1337 must be able to run the binary (a build tree under /root would not do)
mkdir -p /tmp/bin && cp "$CNIBOX" /tmp/bin/cnibox && chmod 0755 /tmp/bin /tmp/bin/cnibox
BIN=/tmp/bin/cnibox

# 1. the pod: its sandbox process first, then its interface and IP
unshare -n -- sleep 600 &
PODPID=$!
own_netns() { [ "$(readlink /proc/$PODPID/ns/net)" != "$(readlink /proc/self/ns/net)" ]; }
wait_for 5 own_netns || { echo "no pod netns"; exit 1; }
ip link add rv-h type veth peer name eth0 netns "$PODPID"
ip addr add 10.44.0.1/24 dev rv-h && ip link set rv-h up
nsenter -t "$PODPID" -n sh -c "ip link set lo up && ip addr add $POD_IP/24 dev eth0 && ip link set eth0 up"
# a second process in the same netns, started later (as istio-validation would be): the oldest wins
nsenter -t "$PODPID" -n sleep 600 &
LATE=$!

validate() {
    nsenter -t "$PODPID" -n setpriv --reuid=1337 --regid=1337 --clear-groups \
        env TERMINATION_MESSAGE_PATH=/tmp/term.msg "$BIN" istio-validation --probe-timeout=500ms >/tmp/validation.out 2>&1
}

# 2. validation fails: no rules
rm -f /tmp/term.msg
validate
rc=$?
check "before repair: istio-validation as uid 1337 exits 126 (got $rc)" [ "$rc" = 126 ]
check "before repair: its termination message says no-redirect" grep -q '^no-redirect' /tmp/term.msg

# the API server with repair mode's RBAC: pods get/list/watch, events create/patch, nothing else
apiserver_start --rbac repair || exit 1
pod_json default web n1 pending "$POD_IP" >/tmp/pod.json
apiserver_admin POST /__admin/pods "$(cat /tmp/pod.json)" >/dev/null
repair_start /tmp/repair.log REPAIR_NODE_NAME=n1 REPAIR_REPAIR_PODS=true
check "the controller syncs its node-scoped watch" wait_for 20 grep -q 'synced 1 pod(s) on node n1' /tmp/repair.log
sleep 0.3
check "a pod whose validation has not failed is left alone" \
    sh -c "! grep -q 'redirect rules programmed' /tmp/repair.log"

# 3. the kubelet reports the failure (restarted once: lastState 126, waiting in CrashLoopBackOff)
status_patch() {
    "$PY" -c '
import json, sys
msg = open("/tmp/term.msg").read()
print(json.dumps({"status": {"initContainerStatuses": [{"name": "istio-validation", "restartCount": 1,
    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
    "lastState": {"terminated": {"exitCode": 126, "reason": "Error", "message": msg}}}]}}))'
}
T0=$(date +%s.%N)
apiserver_admin PATCH /__admin/pods/default/web "$(status_patch)" >/dev/null

# 4. the controller programs the rules
check "repair: the rules are programmed" wait_for 20 grep -q 'pod default/web: broken .*redirect rules programmed' /tmp/repair.log
LINE=$(grep 'redirect rules programmed' /tmp/repair.log | head -1)
echo "# $LINE"
check "repair: the log line names the validation's reason code" grep -q 'istio-validation reason no-redirect' <<<"$LINE"
check "repair: the netns is the sandbox process's (the oldest in it), not the later one's" \
    grep -q "in /host/proc/$PODPID/ns/net " <<<"$LINE"
check "repair: no netns was entered to find it (addresses read from /proc/<pid>/net)" grep -q ', 0 entered)' <<<"$LINE"
LAT=$("$PY" -c '
import sys, datetime
line, t0 = sys.argv[1], float(sys.argv[2])
ts = line.split()[0].rstrip("Z")
t = datetime.datetime.fromisoformat(ts).replace(tzinfo=datetime.timezone.utc).timestamp()
print("%.1f" % ((t - t0) * 1000))' "$LINE" "$T0")
echo "# status update → rules programmed: ${LAT} ms"

# 5. validation passes now
validate
rc=$?
check "after repair: istio-validation as uid 1337 passes (got $rc)" [ "$rc" = 0 ]

# a repeat event for the same pod (same UID): not repaired twice
apiserver_admin PATCH /__admin/pods/default/web '{"metadata":{"annotations":{"touch":"1"}}}' >/dev/null
sleep 1
check "same UID: a repeat event does not repair again" [ "$(grep -c 'redirect rules programmed' /tmp/repair.log)" = 1 ]

# the pod re-created under the same name (new UID), its netns without rules again: repaired again
nsenter -t "$PODPID" -n "$BIN" istio-clean-iptables >/dev/null 2>&1
validate
check "cleaned: validation fails again" [ $? = 126 ]
apiserver_admin DELETE /__admin/pods/default/web >/dev/null
pod_json default web n1 broken "$POD_IP" >/tmp/pod2.json
apiserver_admin POST /__admin/pods "$(cat /tmp/pod2.json)" >/dev/null
check "new UID under the same name: repaired again" wait_for 20 sh -c "[ \$(grep -c 'redirect rules programmed' /tmp/repair.log) = 2 ]"
validate
check "new UID: validation passes" [ $? = 0 ]

# bench: time from the status update to the rules in place, over N fresh pods (new UID each)
N=${REPAIR_BENCH_N:-20}
: >/tmp/lat.txt
: >/tmp/lat-agent.txt
for i in $(seq 1 "$N"); do
    nsenter -t "$PODPID" -n "$BIN" istio-clean-iptables >/dev/null 2>&1
    apiserver_admin DELETE /__admin/pods/default/web >/dev/null
    pod_json default web n1 pending "$POD_IP" >/tmp/podb.json
    apiserver_admin POST /__admin/pods "$(cat /tmp/podb.json)" >/dev/null
    sleep 0.2 # the pending pod reaches the cache first, as it would in a cluster
    before=$(grep -c 'redirect rules programmed' /tmp/repair.log)
    T0=$(date +%s.%N)
    apiserver_admin PATCH /__admin/pods/default/web "$(status_patch)" >/dev/null
    more() { [ "$(grep -c 'redirect rules programmed' /tmp/repair.log)" -gt "$before" ]; }
    wait_for 10 more || { fail "bench: pod $i not repaired"; break; }
    "$PY" -c '
import sys, datetime
line, t0 = sys.argv[1], float(sys.argv[2])
t = datetime.datetime.fromisoformat(line.split()[0].rstrip("Z")).replace(tzinfo=datetime.timezone.utc).timestamp()
print("%.2f" % ((t - t0) * 1000))' "$(grep 'redirect rules programmed' /tmp/repair.log | tail -1)" "$T0" >>/tmp/lat.txt
    "$PY" -c '
import sys, datetime
ts = lambda l: datetime.datetime.fromisoformat(l.split()[0].rstrip("Z")).replace(tzinfo=datetime.timezone.utc).timestamp()
print("%.2f" % ((ts(sys.argv[1]) - ts(sys.argv[2])) * 1000))' "$(grep 'redirect rules programmed' /tmp/repair.log | tail -1)" \
        "$(grep 'queued pod default/web (MODIFIED)' /tmp/repair.log | tail -1)" >>/tmp/lat-agent.txt
done
STATS=$("$PY" -c '
import sys
v = sorted(float(x) for x in open("/tmp/lat.txt") if x.strip())
q = lambda p: v[min(len(v) - 1, int(round(p * (len(v) - 1))))]
print("n=%d p50=%.1f p99=%.1f max=%.1f" % (len(v), q(0.5), q(0.99), v[-1]))')
echo "# bench: status update → rules programmed (ms): $STATS"
STATS2=$("$PY" -c '
v = sorted(float(x) for x in open("/tmp/lat-agent.txt") if x.strip())
q = lambda p: v[min(len(v) - 1, int(round(p * (len(v) - 1))))]
print("n=%d p50=%.1f p99=%.1f max=%.1f" % (len(v), q(0.5), q(0.99), v[-1]))')
echo "# bench: of which in the agent, watch event received → rules programmed (ms): $STATS2"
check "bench: all $N repaired" [ "$(wc -l </tmp/lat.txt)" = "$N" ]
# end to end includes the test's curl (≈ 150 ms: process start + TLS) and the Python stand-in
check "bench: end to end p99 under 3 s" "$PY" -c 'import sys; v=sorted(float(x) for x in open("/tmp/lat.txt")); sys.exit(0 if v and v[min(len(v)-1, int(round(0.99*(len(v)-1))))] < 3000 else 1)'
check "bench: in the agent, p99 under 500 ms" "$PY" -c 'import sys; v=sorted(float(x) for x in open("/tmp/lat-agent.txt")); sys.exit(0 if len(v) == '"$N"' and v[min(len(v)-1, int(round(0.99*(len(v)-1))))] < 500 else 1)'
validate
check "bench: validation passes after the last repair" [ $? = 0 ]

# repair mode wrote nothing to the API (not even an Event) and was refused nothing
check "no API write at all (only GET, and the SelfSubjectAccessReview POSTs), no 403" \
    state_py 'not any((r["method"] != "GET" and not r["path"].endswith("selfsubjectaccessreviews")) or r.get("code") == 403 for r in reqs) and not events'
repair_stop
check "SIGTERM exits 0" [ "$REPAIR_RC" = 0 ]
kill "$LATE" 2>/dev/null
finish
