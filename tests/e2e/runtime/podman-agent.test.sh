#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# podman-agent.test.sh: podman's CNI backend runs a container through the conflist that the real
# node agent (`cnibox install-cni`) wrote (issue 12, "real runtimes use what the agent wrote";
# spec istio-cni.md §2.4, §4.6, §4.7, §4.11).
# The node is the install tests' throwaway one (tests/e2e/install/lib.sh: private mount + net
# namespace, an overlay root with Istio's fixed paths). The test writes only the primary conflist
# (bridge + host-local) into /host/etc/cni/net.d; the agent adds istio-cni and copies the plugin to
# /host/opt/cni/bin. podman's --network-config-dir is the agent's conf dir, and its plugin dirs
# are /host/opt/cni/bin and /usr/lib/cni. Storage, run dirs and cgroups are private
# (as in tests/e2e/cni/podman.test.sh); no image is pulled: busybox runs from a rootfs dir.
#  1. agent running: a container named like the fixture pod, with CNI_ARGS=K8S_POD_NAMESPACE=default
#     (podman appends its own environment's CNI_ARGS), gets our redirect rules in its netns, the
#     pod from the agent's pod cache, and TCP to the gateway lands on its port 15001;
#     `podman rm` runs DEL and releases the address.
#  2. uninstall (SIGTERM, no istio-cni-node DaemonSet): the entry, binary and kubeconfig are gone,
#     and the same container starts without error and without rules.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/e2e/install/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

[ "$(id -u)" = 0 ] || skip "needs root"
for c in podman runc unshare nsenter timeout curl iptables-legacy-save; do
    command -v "$c" >/dev/null || skip "$c not installed (apt-get install podman runc iptables curl)"
done
for c in bridge host-local loopback; do
    [ -x "/usr/lib/cni/$c" ] || skip "/usr/lib/cni/$c missing (apt-get install containernetworking-plugins)"
done
BUSYBOX=${BUSYBOX:-/bin/busybox}
if ! [ -x "$BUSYBOX" ] || ! LC_ALL=C ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic executable'; then
    skip "no static busybox at $BUSYBOX (apt-get install busybox-static)"
fi
if [ -z "${CNI_PLUGIN:-}" ] && ! "$CNIBOX" --list 2>/dev/null | grep -q '^install-cni '; then
    skip "install-cni applet not registered in $CNIBOX"
fi

INSTALL_TEST_TIMEOUT=${INSTALL_TEST_TIMEOUT:-240} install_enter_sandbox "$@"
[ -n "${CNIBOX_TEST_TRACE:-}" ] && set -x
# libcni's cache: /var/lib is the overlay of the host's; a tmpfs keeps the host's entries out.
mkdir -p /var/lib/cni /run/netns /run/lock
mount -t tmpfs -o mode=0755 cnibox-podman /var/lib/cni || fail "tmpfs on /var/lib/cni"

WORK=$(mktemp -d /tmp/cnibox-podman-agent.XXXXXX)
POD=productpage-v1-6b746f74dc-9rlzx # tests/fixtures/pods/injected-cni.json (namespace default)
NET=cnibox-podman
SUBNET=10.89.78
PRIMARY=$NET_DIR/10-$NET.conflist
CGPARENT=/${WORK#/tmp/}
PM=()
PIDS=()       # conmon + container init pids, killed on exit if podman rm could not
CONTAINERS=()
AGENT_LOG=$WORK/agent.log

podman_agent_cleanup() {
    local c m alive killed=()
    agent_kill
    for c in "${CONTAINERS[@]:-}"; do
        [ -n "$c" ] && timeout 30 "${PM[@]}" rm -f -t 0 "$c" >/dev/null 2>&1
    done
    # Only if podman rm failed: conmon and the container's init, by pid, each checked to be ours.
    for c in "${PIDS[@]:-}"; do
        [ -n "$c" ] && [ "$c" != 0 ] && grep -qE 'conmon|busybox' "/proc/$c/cmdline" 2>/dev/null &&
            grep -q "$WORK\|sleep" "/proc/$c/cmdline" 2>/dev/null && kill -9 "$c" 2>/dev/null && killed+=("$c")
    done
    for _ in $(seq 1 30); do
        alive=
        for c in "${killed[@]:-}"; do
            [ -n "$c" ] && grep -q '^State:[[:space:]]*[^Z]' "/proc/$c/status" 2>/dev/null && alive=1
        done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    for m in /sys/fs/cgroup/*"$CGPARENT" /sys/fs/cgroup"$CGPARENT"; do
        [ -d "$m" ] && find "$m" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    if [ -n "${KEEP_LOGS:-}" ]; then
        mkdir -p "$KEEP_LOGS" && cp "$AGENT_LOG" "$RUN_DIR/istio-cni.log" "$PRIMARY" "$KEEP_LOGS/" 2>/dev/null
    fi
    [ -n "${APISERVER_PID:-}" ] && apiserver_stop >/dev/null 2>&1
    rm -rf "$WORK"
    return 0
}
trap podman_agent_cleanup EXIT
trap 'exit 143' TERM INT

install_setup_api
apiserver_admin POST /__admin/nodes '{"metadata":{"name":"node1","labels":{"kubernetes.io/os":"linux"}}}' >/dev/null ||
    fail "cannot add node1 to the stand-in API server"
cp "${CNI_PLUGIN:-$CNIBOX}" /opt/cni/bin/istio-cni   # the image's plugin, which the agent copies
chmod 0755 /opt/cni/bin/istio-cni
mkdir -p "$WORK/rootfs/bin" "$WORK/ipam"

# What the cluster's network plugin would have written.
cat >"$PRIMARY" <<JSON
{ "cniVersion": "1.0.0", "name": "$NET",
  "plugins": [
    { "type": "bridge", "bridge": "cnbpoda0", "isGateway": true, "ipMasq": false,
      "ipam": { "type": "host-local", "dataDir": "$WORK/ipam",
                "ranges": [[{ "subnet": "$SUBNET.0/24", "gateway": "$SUBNET.1" }]],
                "routes": [{ "dst": "0.0.0.0/0" }] } }
  ] }
JSON

# podman's private configuration (see tests/e2e/cni/podman.test.sh for the why of each line).
. "$SRCDIR/tools/podman-private.sh"
podman_private "$WORK" "$NET_DIR" "$BIN_DIR" /usr/lib/cni
cp "$BUSYBOX" "$WORK/rootfs/bin/busybox"
for a in sh ip nc sleep cat; do ln -s busybox "$WORK/rootfs/bin/$a"; done

o=$(timeout 60 "${PM[@]}" info 2>&1) || skip "podman cannot run here: $(echo "$o" | tail -3)"
echo "$o" | grep -qi 'networkBackend: cni' || fail "podman is not using the CNI backend: $(echo "$o" | grep -i network)"
o=$(timeout 60 "${PM[@]}" run --rm --network none --cgroup-parent "$CGPARENT" --rootfs "$WORK/rootfs" \
    /bin/busybox true 2>&1) || skip "podman cannot start a container here: $(echo "$o" | tail -3)"

# podman_run NAME: a long-running busybox container on $NET, as the fixture pod (namespace from
# podman's CNI_ARGS). Not in $(...): CONTAINERS and PIDS must reach this shell.
podman_run() {
    local name=$1 r p
    CONTAINERS+=("$name")
    CNI_ARGS="K8S_POD_NAMESPACE=default" timeout 60 "${PM[@]}" run -d --name "$name" --network "$NET" \
        --cgroup-parent "$CGPARENT" --rootfs "$WORK/rootfs" /bin/busybox sleep 300 >"$WORK/run.out" 2>&1
    r=$?
    read -r -a p < <(timeout 30 "${PM[@]}" inspect -f '{{.State.ConmonPid}} {{.State.Pid}}' "$name" 2>/dev/null)
    PIDS+=("${p[@]}")
    return $r
}
container_ip() {
    timeout 30 "${PM[@]}" exec "$1" ip -4 -o addr show eth0 | sed -n "s|.* inet \($SUBNET\.[0-9]*\)/24 .*|\1|p"
}
podman_rm() {
    local name=$1 ip=$2 o
    o=$(timeout 60 "${PM[@]}" rm -f -t 0 "$name" 2>&1) || fail "podman rm $name: $o"
    echo "$o" | grep -qiE 'error|warn' && fail "podman rm $name complained: $o"
    [ -e "$WORK/ipam/$NET/$ip" ] && fail "$name: DEL did not release $ip (host-local)"
    CONTAINERS=("${CONTAINERS[@]/#$name/}")
}
# redirect_probe NAME: what TCP from the container to the gateway's port 18080 gets, with a
# "sidecar" listening on 15001 in the container: "sidecar" if redirected, else an error (nothing
# listens on the gateway).
redirect_probe() {
    local name=$1 pid o
    pid=$(timeout 30 "${PM[@]}" inspect -f '{{.State.Pid}}' "$name")
    # shellcheck disable=SC2016 # $l is for the container's shell
    timeout 20 "${PM[@]}" exec -d "$name" nc -l -p 15001 -e /bin/busybox sh -c 'read l; echo sidecar' >/dev/null ||
        fail "$name: cannot start the 15001 listener"
    for _ in $(seq 1 30); do
        nsenter -t "$pid" -n ss -ltnH 'sport = :15001' 2>/dev/null | grep -q . && break
        sleep 0.1
    done
    o=$(echo hello | timeout 20 "${PM[@]}" exec -i "$name" nc -w 3 "$SUBNET.1" 18080 2>&1)
    echo "${o:-no answer}"
}
# agent_exit_ms T0: from T0 (date +%s%N, just before the SIGTERM) to the agent's last log line
# ("stopped"); agent_stop's wait (tail --pid) polls only once a second, so it cannot tell.
agent_exit_ms() {
    local ts
    ts=$(tail -1 "$AGENT_LOG" | cut -f1)
    echo $(( ($(date -d "$ts" +%s%N) - $1) / 1000000 ))
}
plugin_log_mark() { MARK=$(stat -c %s "$RUN_DIR/istio-cni.log" 2>/dev/null || echo 0); }
plugin_log() { tail -c +$((MARK + 1)) "$RUN_DIR/istio-cni.log" 2>/dev/null; }

# 1. The agent installs istio-cni; podman runs the fixture pod through the conflist it wrote.
t0=$(date +%s%N)
agent_start NODE_NAME=node1 POD_NAMESPACE=istio-system POD_NAME=istio-cni-node-t3st2
wait_until 15 is_ready || fail "agent not ready within 15 s: $(tail -20 "$AGENT_LOG")"
echo "agent ready in $(ms_since "$t0") ms"
has_istio "$PRIMARY" || fail "agent ready, but no istio-cni entry in $PRIMARY: $(cat "$PRIMARY")"
[ -x "$BIN_DIR/istio-cni" ] || fail "agent ready, but no $BIN_DIR/istio-cni"
plugin_log_mark
t0=$(date +%s%N)
podman_run "$POD" || fail "podman run ($POD): $(cat "$WORK/run.out")"
echo "podman run (istio-cni in the chain) took $(ms_since "$t0") ms"
pid=$(timeout 30 "${PM[@]}" inspect -f '{{.State.Pid}}' "$POD") || fail "inspect $POD"
plugin_log | grep -q "pod default/$POD: redirect rules programmed.*pod from node agent cache" ||
    fail "$POD: rules not programmed from the agent's pod cache: $(plugin_log)"
save=$(nsenter -t "$pid" -n iptables-legacy-save -t nat)
echo "$save" | grep -q -- '-A OUTPUT -j ISTIO_OUTPUT' || fail "$POD: no ISTIO_OUTPUT jump: $save"
echo "$save" | grep -q -- '-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006' || fail "$POD: no inbound redirect: $save"
echo "$save" | grep -q -- '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001' || fail "$POD: no outbound redirect: $save"
ip=$(container_ip "$POD")
[ -n "$ip" ] || fail "$POD: eth0 has no address in $SUBNET.0/24"
o=$(redirect_probe "$POD")
[ "$o" = sidecar ] || fail "$POD: outbound TCP not redirected to 15001: $o"
echo "ok installed: $POD eth0 $ip, rules in the container netns, outbound TCP redirected to 15001"
t0=$(date +%s%N)
podman_rm "$POD" "$ip"
echo "ok installed: podman rm (DEL) in $(ms_since "$t0") ms, $ip released"

# 2. Uninstall: SIGTERM with no istio-cni-node DaemonSet in the API.
t0=$(date +%s%N)
agent_stop || fail "agent exited $? on SIGTERM: $(tail -20 "$AGENT_LOG")"
echo "agent stopped in $(agent_exit_ms "$t0") ms: $(grep -o 'terminating:.*' "$AGENT_LOG")"
grep -q 'terminating: DaemonSet istio-system/istio-cni-node is gone: uninstall' "$AGENT_LOG" ||
    fail "uninstall: no 'terminating: ... is gone: uninstall' line: $(tail -5 "$AGENT_LOG")"
no_istio "$PRIMARY" || fail "uninstall: entry left in $PRIMARY"
{ [ ! -e "$BIN_DIR/istio-cni" ] && [ ! -e "$RUN_DIR/istio-cni-kubeconfig" ]; } ||
    fail "uninstall: binary or kubeconfig left: $(ls -l "$BIN_DIR" "$RUN_DIR")"
plugin_log_mark
podman_run "$POD" || fail "podman run after the uninstall: $(cat "$WORK/run.out")"
pid=$(timeout 30 "${PM[@]}" inspect -f '{{.State.Pid}}' "$POD") || fail "inspect $POD"
nsenter -t "$pid" -n iptables-legacy-save | grep -q ISTIO && fail "uninstalled: the container got ISTIO rules"
[ -z "$(plugin_log)" ] || fail "uninstalled: the plugin still ran: $(plugin_log)"
ip=$(container_ip "$POD")
[ -n "$ip" ] || fail "uninstalled: eth0 has no address in $SUBNET.0/24"
o=$(redirect_probe "$POD")
[ "$o" = sidecar ] && fail "uninstalled: outbound TCP still redirected"
echo "ok uninstalled: $POD eth0 $ip, no ISTIO rules, outbound TCP not redirected ($o)"
podman_rm "$POD" "$ip"
grep -q '"level":"error"' "$RUN_DIR/istio-cni.log" && fail "errors in istio-cni.log: $(cat "$RUN_DIR/istio-cni.log")"
# Known agent issue, reported, not ours to fix here: podman's CNI backend opens (and closes for
# writing) a cni.lock in the conf dir on every command; the agent's watch counts that as a change
# (IN_CLOSE_WRITE on the dir) and after 6 such passes warns of a rival. Shown, not failed on.
grep -P '\t(error|warn)\t' "$AGENT_LOG" | grep -v 'reconciled multiple times in a short period' &&
    fail "the agent logged errors or warnings (above)"
if grep -q 'reconciled multiple times in a short period' "$AGENT_LOG"; then
    echo "NOTE: the agent warned of a rival with only podman at work (conf dir: $(cd "$NET_DIR" && echo *)):"
    grep 'reconciled multiple times' "$AGENT_LOG" | cut -c1-200
fi
echo PASS
