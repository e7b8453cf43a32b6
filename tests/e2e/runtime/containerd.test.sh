#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# containerd.test.sh: containerd's CRI runs pod sandboxes through a CNI conflist that holds
# istio-cni, as kubelet would ask it to (issue 12, "real runtimes use what the agent wrote"; spec
# istio-cni.md §2.4, §4.6, §4.7, §4.11, §8.17).
# containerd runs in private namespaces with private state (tests/e2e/runtime/lib.sh); the pod is
# the fixture tests/fixtures/pods/injected-cni.json, served by the stand-in API server.
#  1. plugin installed: the conflist = bridge + host-local + the istio-cni entry as the installer
#     writes it. RunPodSandbox (metadata = the fixture's name/namespace/uid, which containerd passes
#     as K8S_POD_* CNI_ARGS) gives a ready sandbox whose netns holds our ISTIO_* redirect rules,
#     and TCP from that netns to the gateway lands on port 15001 there;
#     StopPodSandbox + RemovePodSandbox run DEL, release the address and remove the netns.
#  2. plugin uninstalled (the entry, kubeconfig and binary removed, as the agent does on SIGTERM):
#     once containerd has reloaded the conflist, a new sandbox of the same pod starts without error
#     and without ISTIO rules.
#  3. fail closed (§8.3): the entry is back but the kubeconfig is not (a node rebooted, its tmpfs
#     run dir gone, the agent not yet up): RunPodSandbox fails naming the kubeconfig, and the
#     runtime leaves no sandbox, netns or address behind; no pod runs uncaptured.
# install_plugin / uninstall_plugin are the node agent's job; they are the only functions that
# touch the conflist, so the agent can replace them.
. "$(dirname "$0")/lib.sh"
runtime_require
runtime_enter_private_ns 300 "$@"
. "$SRCDIR/tests/apiserver/lib.sh"
# shellcheck disable=SC2119 # no extra commands to require
apiserver_require
runtime_setup
runtime_traps

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

# The node agent's install (spec §4.4, §4.6, §4.7), done by hand: the plugin binary in the bin dir,
# its kubeconfig in the run dir, and the entry appended to the primary conflist (any earlier
# istio-cni entry removed first, its cniVersion dropped, keys sorted at every depth, 2-space
# indentation, trailing newline, file mode kept, written atomically).
install_plugin() {
    cp "$KUBECONFIG_FILE" "$AGENT_RUN/istio-cni-kubeconfig"
    chmod 0600 "$AGENT_RUN/istio-cni-kubeconfig"
    cp "$ISTIO_CNI_BIN" "$CNI_BIN/istio-cni.tmp" && mv "$CNI_BIN/istio-cni.tmp" "$CNI_BIN/istio-cni"
    conflist_edit install "$PRIMARY" "$AGENT_RUN" || fail "install_plugin: cannot edit $PRIMARY"
}

# The node agent's cleanup on SIGTERM in sidecar mode (spec §4.11): the first istio-cni entry
# removed from the conflist (re-serialised the same way), then the kubeconfig, then the binary.
uninstall_plugin() {
    conflist_edit uninstall "$PRIMARY" || fail "uninstall_plugin: cannot edit $PRIMARY"
    rm -f "$AGENT_RUN/istio-cni-kubeconfig" "$CNI_BIN/istio-cni"
}

# conflist_edit install|uninstall FILE [RUN-DIR]
conflist_edit() {
    "$CRI_PY" - "$@" <<'PY'
import json, os, sys, tempfile
op, path = sys.argv[1], sys.argv[2]
with open(path) as f:
    doc = json.load(f)
plugins = doc["plugins"]
for i, p in enumerate(plugins):
    if p.get("type") == "istio-cni":
        del plugins[i]
        break
if op == "install":
    # The entry of spec §4.6 (sidecar mode, chart defaults), cniVersion removed by the merge.
    entry = {"cniVersion": "0.3.1", "name": "istio-cni", "type": "istio-cni", "ipam": {}, "dns": {},
             "plugin_log_level": "debug", "cni_agent_run_dir": sys.argv[3], "ambient_enabled": False,
             "enablement_selectors": [], "exclude_namespaces": ["kube-system"],
             "pod_namespace": "istio-system", "native_nftables": False,
             "enable_ambient_detection_retry": False}
    del entry["cniVersion"]
    plugins.append(entry)
text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)
for c, e in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
    text = text.replace(c, e)
mode = os.stat(path).st_mode & 0o7777
fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=os.path.dirname(path))
os.fchmod(fd, mode)
with os.fdopen(fd, "w") as f:
    f.write(text + "\n")
os.rename(tmp, path)
PY
}

plugin_log() { cat "$AGENT_RUN/istio-cni.log" 2>/dev/null; }
log_lines() { plugin_log | wc -l; }

apiserver_start --pods "$FIXTURE" || fail "apiserver"
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

# 1. istio-cni in the chain.
install_plugin
wait_cni_loaded yes istio-cni
n0=$(log_lines)
t0=$(date +%s%N)
cri_run "$POD_NAME" "$POD_NS" "$POD_UID" || fail "RunPodSandbox (plugin installed): $(cat "$WORK/cri.err")"
echo "RunPodSandbox (istio-cni in the chain) took $(ms_since "$t0") ms"
id=$SANDBOX
sandbox_check "$id"
plugin_log | tail -n +$((n0 + 1)) | grep -q "pod $POD_NS/$POD_NAME: redirect rules programmed" ||
    fail "plugin did not program the pod: $(plugin_log | tail -n +$((n0 + 1)))"
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

# 2. istio-cni removed from the chain, as after an uninstall.
uninstall_plugin
grep -q istio-cni "$PRIMARY" && fail "uninstall_plugin left istio-cni in $PRIMARY"
wait_cni_loaded no istio-cni
n0=$(log_lines)
t0=$(date +%s%N)
cri_run "$POD_NAME" "$POD_NS" "$POD_UID" || fail "RunPodSandbox (plugin uninstalled): $(cat "$WORK/cri.err")"
echo "RunPodSandbox (no istio-cni) took $(ms_since "$t0") ms"
id=$SANDBOX
sandbox_check "$id"
rules=$(netns_rules "$NETNS")
echo "$rules" | grep -qi istio && fail "uninstalled: the sandbox netns has ISTIO rules: $rules"
o=$(redirect_probe "$NETNS")
[ "$o" = sidecar ] && fail "uninstalled: outbound TCP from the sandbox was still redirected"
[ "$(log_lines)" = "$n0" ] || fail "uninstalled: the plugin still ran: $(plugin_log | tail -n +$((n0 + 1)))"
echo "ok uninstalled: sandbox ${id:0:12} ready, $IP, no ISTIO rules, outbound TCP not redirected ($o)"
cri_remove "$id"
sandbox_gone "$id" "$NETNS" "$IP"
echo "ok uninstalled: Stop+Remove released $IP"

grep -q '"level":"error"' "$AGENT_RUN/istio-cni.log" && fail "errors in istio-cni.log: $(plugin_log)"
# Errors containerd logged, but for the PodSandboxStatus calls on removed sandboxes (sandbox_gone).
grep 'level=error' "$WORK/containerd/containerd.log" | grep -v 'msg="PodSandboxStatus for .* failed" error=".*NotFound' &&
    fail "containerd logged errors (above)"

# 3. The entry without its kubeconfig: the plugin fails ADD, the runtime starts no sandbox.
install_plugin
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
