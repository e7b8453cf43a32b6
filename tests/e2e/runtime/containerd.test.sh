#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# containerd.test.sh: containerd's CRI runs pod sandboxes through the CNI conflist that the real
# node agent (`cnibox install-cni`) wrote, as kubelet would ask it to (issue 12, "real runtimes
# use what the agent wrote"; spec istio-cni.md §2.4, §4.6, §4.7, §4.11, §8.3, §8.17).
# The node is the install tests' throwaway one (tests/e2e/install/lib.sh: an overlay root with
# Istio's fixed paths /host/etc/cni/net.d, /host/opt/cni/bin, /opt/cni/bin, /var/run/istio-cni
# and the service-account dir); inside it, containerd runs in private namespaces with private
# state (tests/e2e/runtime/lib.sh), its CRI conf_dir and bin_dir being the agent's. The pod is
# the fixture tests/fixtures/pods/injected-cni.json, served by the stand-in API server.
# The test writes only the primary conflist (bridge + host-local), as a node's network plugin
# would; the agent adds istio-cni, copies the plugin and writes its kubeconfig.
#  1. agent running: RunPodSandbox (metadata = the fixture's name/namespace/uid, which containerd
#     passes as K8S_POD_* CNI_ARGS) gives a ready sandbox whose netns holds our ISTIO_* redirect
#     rules, and TCP from that netns to the gateway lands on port 15001 there;
#     StopPodSandbox + RemovePodSandbox run DEL, release the address and remove the netns.
#  2. uninstall: SIGTERM with no istio-cni-node DaemonSet in the API; the agent removes its entry,
#     the kubeconfig and the binary; once containerd has reloaded the conflist, a new sandbox of
#     the same pod starts without error and without ISTIO rules.
#  3. restart (§4.11, field note 19): the DaemonSet exists and selects this node; after SIGTERM
#     the entry, binary and kubeconfig stay, and a new sandbox started while the agent is down
#     still gets our rules (the plugin's direct API path, its log in the file fallback).
#  4. fail closed (§8.3): the agent is SIGKILLed (no cleanup) and the kubeconfig is gone, as on a
#     rebooted node whose tmpfs run dir is gone before the agent runs: RunPodSandbox fails naming
#     the kubeconfig, and the runtime leaves no sandbox, netns or address behind.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/e2e/install/lib.sh"
. "$SRCDIR/tests/e2e/runtime/lib.sh"   # second: its fail (exit 1) replaces the counting one
runtime_require
# The throwaway node (mount + net namespace, overlay root), then containerd's private namespaces
# inside it (a new net, mount and pid namespace: /run and /var/lib become tmpfs there).
INSTALL_TEST_TIMEOUT=${INSTALL_TEST_TIMEOUT:-360} install_enter_sandbox "$@"
runtime_enter_private_ns 300 "$@"
mkdir -p "$NET_DIR" "$BIN_DIR" /opt/cni/bin "$RUN_DIR" "$SA_DIR"   # /run is a fresh tmpfs here
install_setup_api
CNI_BIN=$BIN_DIR CNI_CONF=$NET_DIR AGENT_RUN=$RUN_DIR
runtime_setup
runtime_traps
trap 'agent_kill; runtime_cleanup' EXIT
# The image's plugin binary, which the agent copies into $BIN_DIR.
cp "$ISTIO_CNI_BIN" /opt/cni/bin/istio-cni
chmod 0755 /opt/cni/bin/istio-cni

FIXTURE=$SRCDIR/tests/fixtures/pods/injected-cni.json
POD=$("$CRI_PY" -c 'import json,sys; m=json.load(open(sys.argv[1]))["metadata"]; print(m["name"], m["namespace"], m["uid"])' "$FIXTURE")
read -r POD_NAME POD_NS POD_UID <<<"$POD"
SUBNET=10.88.77
NET=cnibox-containerd
PRIMARY=$CNI_CONF/10-$NET.conflist

# What the cluster's network plugin would have written: bridge + host-local. containerd adds
# loopback itself (from the bin dir).
write_primary_conflist() {
    cat >"$PRIMARY" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cnbcri0",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "$WORK/ipam",
        "ranges": [[{ "subnet": "$SUBNET.0/24", "gateway": "$SUBNET.1" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    }
  ]
}
JSON
}

# The node agent, as the istio-cni-node DaemonSet runs it (NODE_NAME = the fixture pod's node, so
# the plugin's pod lookup goes through the agent's pod cache). Each run logs to its own file.
AGENT_RUNS=0
agent_up() {
    AGENT_RUNS=$((AGENT_RUNS + 1))
    AGENT_LOG=$WORK/agent-$AGENT_RUNS.log
    local t0
    t0=$(date +%s%N)
    agent_start NODE_NAME=node1 POD_NAMESPACE=istio-system POD_NAME=istio-cni-node-t3st1
    wait_until 15 is_ready || fail "agent not ready within 15 s: $(tail -20 "$AGENT_LOG")"
    has_istio "$PRIMARY" || fail "agent ready, but $PRIMARY has no istio-cni entry: $(cat "$PRIMARY")"
    [ -x "$CNI_BIN/istio-cni" ] || fail "agent ready, but no $CNI_BIN/istio-cni"
    [ -s "$AGENT_RUN/istio-cni-kubeconfig" ] || fail "agent ready, but no kubeconfig"
    echo "agent ready in $(ms_since "$t0") ms (log $AGENT_LOG)"
}
# agent_exit_ms T0: from T0 (date +%s%N, just before the SIGTERM) to the agent's last log line
# ("stopped"); agent_stop's wait (tail --pid) polls only once a second, so it cannot tell.
agent_exit_ms() {
    local ts
    ts=$(tail -1 "$AGENT_LOG" | cut -f1)
    echo $(( ($(date -d "$ts" +%s%N) - $1) / 1000000 ))
}
# agent_down: SIGTERM; the agent decides restart or uninstall from its DaemonSet (§4.11).
agent_down() {
    local t0 rc
    t0=$(date +%s%N)
    agent_stop
    rc=$?
    [ "$rc" = 0 ] || fail "agent exited $rc on SIGTERM: $(tail -20 "$AGENT_LOG")"
    echo "agent stopped in $(agent_exit_ms "$t0") ms: $(grep -o 'terminating:.*' "$AGENT_LOG" | head -1)"
}
installed() { has_istio "$PRIMARY" && [ -e "$CNI_BIN/istio-cni" ] && [ -e "$AGENT_RUN/istio-cni-kubeconfig" ]; }
removed() { no_istio "$PRIMARY" && [ ! -e "$CNI_BIN/istio-cni" ] && [ ! -e "$AGENT_RUN/istio-cni-kubeconfig" ]; }

# What the plugin logged: over the log socket into the agent's log while the agent runs, else into
# its file fallback in the run dir (§2.14).
# plugin_log_reset marks where both logs end; plugin_log then prints only what came after.
plugin_log_reset() {
    MARK_FILE=$(stat -c %s "$AGENT_RUN/istio-cni.log" 2>/dev/null || echo 0)
    MARK_AGENT=$(stat -c %s "$AGENT_LOG" 2>/dev/null || echo 0)
}
plugin_log() {
    tail -c +$((MARK_FILE + 1)) "$AGENT_RUN/istio-cni.log" 2>/dev/null
    tail -c +$((MARK_AGENT + 1)) "$AGENT_LOG" 2>/dev/null
}
log_lines() { plugin_log | wc -l; }

# The node the fixture pod runs on, for the agent's restart check (its DaemonSet must select it).
apiserver_admin POST /__admin/nodes '{"metadata":{"name":"node1","labels":{"kubernetes.io/os":"linux"}}}' >/dev/null ||
    fail "cannot add node1 to the stand-in API server"
write_primary_conflist
t0=$(date +%s%N)
containerd_start
echo "containerd up, pause image imported in $(ms_since "$t0") ms"
wait_cni_loaded yes bridge
cri conditions | grep -qx 'NetworkReady true' || fail "CRI network not ready: $(cri conditions)"

# sandbox_check ID: ready, an address in the subnet, a netns the pause process is in. Sets NETNS, IP.
sandbox_check() {
    local id=$1 st pid
    st=$(cri status "$id") || fail "PodSandboxStatus $id"
    echo "$st" | grep -qx 'state SANDBOX_READY' || fail "sandbox $id not ready: $st"
    IP=$(echo "$st" | sed -n "s/^ip \($SUBNET\.[0-9]*\)$/\1/p")
    [ -n "$IP" ] || fail "sandbox $id has no address in $SUBNET.0/24: $st"
    [ -e "$WORK/ipam/$NET/$IP" ] || fail "host-local did not record $IP"
    NETNS=$(echo "$st" | sed -n 's/^netns //p')
    pid=$(echo "$st" | sed -n 's/^pid //p')
    { [ -n "$NETNS" ] && [ -e "$NETNS" ]; } || fail "sandbox $id: no netns path: $st"
    [ "$(stat -L -c %i "$NETNS")" = "$(stat -L -c %i "/proc/$pid/ns/net")" ] ||
        fail "sandbox $id: pause (pid $pid) is not in $NETNS"
    grep -q '^/pause' "/proc/$pid/cmdline" || fail "sandbox $id: pid $pid is not our pause"
    grep -q ":$CGPARENT/$id\$" "/proc/$pid/cgroup" || fail "sandbox $id: not in $CGPARENT: $(cat "/proc/$pid/cgroup")"
}

# sandbox_gone ID NETNS IP: after Stop + Remove, DEL ran: netns and address released.
sandbox_gone() {
    [ -e "$2" ] && fail "sandbox $1: netns $2 still exists after StopPodSandbox"
    [ -e "$WORK/ipam/$NET/$3" ] && fail "sandbox $1: DEL did not release $3 (host-local)"
    cri status "$1" >/dev/null 2>&1 && fail "sandbox $1 still known after RemovePodSandbox"
    return 0
}

# redirect_probe NETNS: prints what TCP from NETNS to the gateway's port 18080 gets, with a
# "sidecar" listening on 15001 in NETNS: "sidecar" if the rules redirected it; otherwise an error
# (nothing listens on the gateway, so the connection is refused).
redirect_probe() {
    local ns=$1 listener o
    rm -f "$WORK/sidecar.ready"
    nsenter --net="$ns" "$CRI_PY" - "$WORK/sidecar.ready" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 15001)); s.listen(1); s.settimeout(15)
open(sys.argv[1], "w").close()
c, _ = s.accept(); c.sendall(b"sidecar\n"); c.close()
PY
    listener=$!
    for _ in $(seq 1 100); do [ -e "$WORK/sidecar.ready" ] && break; sleep 0.1; done
    o=$(nsenter --net="$ns" timeout 10 "$CRI_PY" -c '
import socket, sys
c = socket.create_connection((sys.argv[1], 18080), timeout=5)
print(c.recv(100).decode().strip())' "$SUBNET.1" 2>&1 | tail -1)
    kill "$listener" 2>/dev/null
    wait "$listener" 2>/dev/null
    echo "$o"
}

# 1. The agent installs istio-cni into the chain.
agent_up
wait_cni_loaded yes istio-cni
plugin_log_reset
t0=$(date +%s%N)
cri_run "$POD_NAME" "$POD_NS" "$POD_UID" || fail "RunPodSandbox (plugin installed): $(cat "$WORK/cri.err")"
echo "RunPodSandbox (istio-cni in the chain) took $(ms_since "$t0") ms"
id=$SANDBOX
sandbox_check "$id"
plugin_said() { plugin_log | grep -q "pod $POD_NS/$POD_NAME: redirect rules programmed"; }
wait_until 5 plugin_said ||
    fail "plugin did not program the pod: $(plugin_log)"
# The deployed fast path: the pod came from the agent's pod cache, not from the API server.
plugin_log | grep -q "pod $POD_NS/$POD_NAME: redirect rules programmed.*pod from node agent cache" ||
    fail "agent running: the plugin did not get the pod from the agent's cache: $(plugin_log | grep 'rules programmed')"
if tail -c +$((MARK_AGENT + 1)) "$AGENT_LOG" | grep -q 'redirect rules programmed'; then
    echo "plugin log lines reached the agent's log (log socket)"
else
    echo "NOTE: plugin log lines are only in the file fallback, not in the agent's log"
fi
rules=$(netns_rules "$NETNS")
# iptables (legacy or nft) or native nftables (chains istio-output, ... in table istio-proxy-nat).
echo "$rules" | grep -q -- '-A OUTPUT -j ISTIO_OUTPUT\|jump ISTIO_OUTPUT\|jump istio-output' ||
    fail "no ISTIO_OUTPUT jump in the sandbox netns: $rules"
echo "$rules" | grep -q -- '-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\|redirect to :15006' ||
    fail "no inbound redirect in the sandbox netns: $rules"
echo "$rules" | grep -q -- '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\|redirect to :15001' ||
    fail "no outbound redirect in the sandbox netns: $rules"
o=$(redirect_probe "$NETNS")
[ "$o" = sidecar ] || fail "outbound TCP from the sandbox was not redirected to 15001: $o"
echo "ok installed: sandbox ${id:0:12} ready, $IP, ISTIO rules in $NETNS, outbound TCP redirected to 15001"
t0=$(date +%s%N)
cri_remove "$id"
echo "Stop+RemovePodSandbox took $(ms_since "$t0") ms"
sandbox_gone "$id" "$NETNS" "$IP"
echo "ok installed: Stop+Remove released $IP and removed the netns"

# 2. Uninstall: SIGTERM, and no istio-cni-node DaemonSet in the API (404).
agent_down
removed || fail "uninstall: the agent left its entry, binary or kubeconfig: $(ls -l "$CNI_BIN" "$AGENT_RUN"; cat "$PRIMARY")"
grep -q 'terminating: DaemonSet istio-system/istio-cni-node is gone: uninstall' "$AGENT_LOG" ||
    fail "uninstall: no 'terminating: ... is gone: uninstall' log line: $(tail -5 "$AGENT_LOG")"
wait_cni_loaded no istio-cni
plugin_log_reset
t0=$(date +%s%N)
cri_run "$POD_NAME" "$POD_NS" "$POD_UID" || fail "RunPodSandbox (plugin uninstalled): $(cat "$WORK/cri.err")"
echo "RunPodSandbox (no istio-cni) took $(ms_since "$t0") ms"
id=$SANDBOX
sandbox_check "$id"
rules=$(netns_rules "$NETNS")
echo "$rules" | grep -qi istio && fail "uninstalled: the sandbox netns has ISTIO rules: $rules"
o=$(redirect_probe "$NETNS")
[ "$o" = sidecar ] && fail "uninstalled: outbound TCP from the sandbox was still redirected"
[ "$(log_lines)" = 0 ] || fail "uninstalled: the plugin still ran: $(plugin_log)"
echo "ok uninstalled: sandbox ${id:0:12} ready, $IP, no ISTIO rules, outbound TCP not redirected ($o)"
cri_remove "$id"
sandbox_gone "$id" "$NETNS" "$IP"
echo "ok uninstalled: Stop+Remove released $IP"

grep -q '"level":"error"' "$AGENT_RUN/istio-cni.log" && fail "errors in istio-cni.log: $(plugin_log)"
# Errors containerd logged, but for the PodSandboxStatus calls on removed sandboxes (sandbox_gone).
grep 'level=error' "$WORK/containerd/containerd.log" | grep -v 'msg="PodSandboxStatus for .* failed" error=".*NotFound' &&
    fail "containerd logged errors (above)"

# 3. Restart: the DaemonSet is there and selects this node; the plugin stays while the agent is down.
apiserver_admin POST /__admin/daemonsets '{"metadata":{"name":"istio-cni-node","namespace":"istio-system"},"spec":{}}' >/dev/null ||
    fail "cannot add the DaemonSet"
agent_up
wait_cni_loaded yes istio-cni
agent_down
installed || fail "restart: the agent removed its entry, binary or kubeconfig: $(ls -l "$CNI_BIN" "$AGENT_RUN"; cat "$PRIMARY")"
grep -q 'terminating: DaemonSet istio-system/istio-cni-node is still present and selects node node1' "$AGENT_LOG" ||
    fail "restart: no 'terminating: ... still present and selects node node1' log line: $(grep terminating "$AGENT_LOG")"
has_istio "$PRIMARY" || fail "restart: entry gone"
cni_loaded_has istio-cni || fail "restart: containerd dropped istio-cni: $(cni_loaded)"
plugin_log_reset
t0=$(date +%s%N)
cri_run "$POD_NAME" "$POD_NS" "$POD_UID" || fail "RunPodSandbox (agent down): $(cat "$WORK/cri.err")"
echo "RunPodSandbox (agent down, direct API) took $(ms_since "$t0") ms"
id=$SANDBOX
sandbox_check "$id"
tail -c +$((MARK_FILE + 1)) "$AGENT_RUN/istio-cni.log" | grep -q "pod $POD_NS/$POD_NAME: redirect rules programmed.*pod from API server" ||
    fail "agent down: the plugin did not program the pod from the API server (file log): $(plugin_log)"
rules=$(netns_rules "$NETNS")
echo "$rules" | grep -q -- '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\|redirect to :15001' ||
    fail "agent down: no outbound redirect in the sandbox netns: $rules"
o=$(redirect_probe "$NETNS")
[ "$o" = sidecar ] || fail "agent down: outbound TCP from the sandbox was not redirected to 15001: $o"
echo "ok restart: agent down, entry kept, sandbox ${id:0:12} ready, $IP, ISTIO rules, outbound TCP redirected"
cri_remove "$id"
sandbox_gone "$id" "$NETNS" "$IP"
echo "ok restart: Stop+Remove (DEL with the agent down) released $IP"

grep -q '"level":"error"' "$AGENT_RUN/istio-cni.log" && fail "errors in istio-cni.log: $(cat "$AGENT_RUN/istio-cni.log")"
grep -P '\t(error|warn)\t' "$WORK"/agent-*.log && fail "the agent logged errors or warnings (above)"
grep 'level=error' "$WORK/containerd/containerd.log" | grep -v 'msg="PodSandboxStatus for .* failed" error=".*NotFound' &&
    fail "containerd logged errors (above)"

# 4. The entry without its kubeconfig: the plugin fails ADD, the runtime starts no sandbox. The
# agent is SIGKILLed, so it cannot clean up (or write the kubeconfig again).
agent_up
agent_kill
has_istio "$PRIMARY" || fail "SIGKILL: entry gone"
rm "$AGENT_RUN/istio-cni-kubeconfig"
wait_cni_loaded yes istio-cni
t0=$(date +%s%N)
cri_run "$POD_NAME" "$POD_NS" "$POD_UID" && fail "RunPodSandbox without a kubeconfig succeeded: sandbox $SANDBOX"
echo "RunPodSandbox (no kubeconfig) failed in $(ms_since "$t0") ms"
err=$(cat "$WORK/cri.err")
echo "$err" | grep -q "istio-cni-kubeconfig" || fail "no kubeconfig error from RunPodSandbox: $err"
echo "$err" | grep -q "plugin type=\"istio-cni\"" || fail "RunPodSandbox error does not name istio-cni: $err"
leftover=$(ls /run/netns)
[ -z "$leftover" ] || fail "failed RunPodSandbox left netns: $leftover"
leftover=$(find "$WORK/ipam/$NET" -name "$SUBNET.*" 2>/dev/null)
[ -z "$leftover" ] || fail "failed RunPodSandbox left addresses allocated: $leftover"
leftover=$(timeout 30 ctr --address "$SOCK" -n k8s.io containers ls -q)
[ -z "$leftover" ] || fail "failed RunPodSandbox left containers: $leftover"
echo "ok no kubeconfig: RunPodSandbox failed closed (${err:0:160}...), nothing left behind"
echo PASS
