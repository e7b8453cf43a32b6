#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# podman.test.sh: istio-cni chained after bridge + host-local, run by a real runtime: podman's CNI
# backend with runc (issue 6 acceptance; spec istio-cni.md §2.4, §2.11, §2.13).
# Podman runs inside a private network + mount namespace made here, with private storage, run
# dirs, CNI config dir and CNI cache, so neither the host netns nor the host's podman state is
# touched. No image is pulled: the container runs busybox from a rootfs dir (--rootfs).
#  1. plain `podman run`: podman passes only K8S_POD_NAME (the container name), so the plugin logs
#     "not a kubernetes pod" and passes the bridge result through: eth0 has an address in the
#     subnet, real TCP from the container reaches the gateway, no ISTIO rules; `podman rm` runs DEL.
#  2. podman appends the CNI_ARGS of its own environment (containers/common getRuntimeConfig):
#     CNI_ARGS=K8S_POD_NAMESPACE=default plus a container named like the fixture pod makes it a
#     Kubernetes pod with a sidecar: the container's netns holds our rules; `podman rm` runs DEL
#     (from podman's CNI cache, so with the same args) and releases the address.
. "$SRCDIR/tests/e2e/cni/lib.sh"
cni_require_root
for c in podman runc unshare nsenter timeout; do
    command -v "$c" >/dev/null || { echo "SKIP: $c not installed (apt-get install podman runc)"; exit 77; }
done
BUSYBOX=${BUSYBOX:-/bin/busybox}
# Static, so the rootfs needs nothing but this one file (plus applet symlinks).
if ! [ -x "$BUSYBOX" ] || ! LC_ALL=C ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic executable'; then
    echo "SKIP: no static busybox at $BUSYBOX (apt-get install busybox-static)"; exit 77
fi

# Private netns (bridge, veths, iptables of the runtime side) + private mounts (below, and the
# container mounts), bounded in time.
if [ -z "${CNIBOX_PODMAN_INNER:-}" ]; then
    CNIBOX_PODMAN_INNER=1 exec timeout -k 10 300 unshare -n -m --propagation private -- bash "$0" "$@"
fi
[ -n "${CNIBOX_TEST_TRACE:-}" ] && set -x
ip link set lo up
# Root podman and runc keep state at fixed paths: netns bind mounts in /run/netns, runc's state
# in /run/runc, libcni's cache in /var/lib/cni. /run and /var/lib get a tmpfs that only exists in
# this mount namespace, so nothing of it reaches (or survives on) the host.
mount -t tmpfs -o mode=0755 cnibox-podman /run || fail "tmpfs on /run"
mkdir -p /run/netns /run/lock
mount -t tmpfs -o mode=0755 cnibox-podman /var/lib || fail "tmpfs on /var/lib"

. "$SRCDIR/tests/apiserver/lib.sh"
# shellcheck disable=SC2119 # no extra commands to require
apiserver_require
CNIBOX=$(realpath "$CNIBOX") # the istio-cni symlink must not dangle
cni_setup_plugins

POD=productpage-v1-6b746f74dc-9rlzx # tests/fixtures/pods/injected-cni.json (namespace default)
NET=cnibox-podman
SUBNET=10.89.77
PM=()         # podman with the private configuration
PIDS=()       # container init + conmon pids, killed on exit if podman rm could not
# cgroupfs (cgroup v1 here, no systemd): the container and conmon cgroups go under a parent of
# our own, removed on exit, instead of podman's shared libpod_parent.
CGPARENT=/cnibox-podman-$$
CONTAINERS=()

podman_cleanup() {
    local c m
    [ -n "${GW_PID:-}" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
    for c in "${CONTAINERS[@]:-}"; do
        [ -n "$c" ] && timeout 30 "${PM[@]}" rm -f -t 0 "$c" >/dev/null 2>&1
    done
    # Only if podman rm failed: conmon first (so it cannot start its exit command on our deleted
    # dirs), then the container's init (pid 1 of its pid ns: ignores TERM), by pid, each still
    # checked to be a process of this test.
    local killed=()
    for c in "${PIDS[@]:-}"; do
        [ -n "$c" ] && [ "$c" != 0 ] && grep -qE 'conmon|busybox' "/proc/$c/cmdline" 2>/dev/null &&
            grep -q "$WORK\|sleep" "/proc/$c/cmdline" 2>/dev/null && kill -9 "$c" 2>/dev/null && killed+=("$c")
    done
    local alive
    for _ in $(seq 1 30); do # at most 3 s for them to exit (their cgroups are removed below)
        alive=
        for c in "${killed[@]:-}"; do
            [ -n "$c" ] && grep -q '^State:[[:space:]]*[^Z]' "/proc/$c/status" 2>/dev/null && alive=1
        done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    # Mounts podman left under $WORK (shm, rootfs) would make rm -rf fail; they are ours only.
    if [ -n "${WORK:-}" ]; then
        awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null; done
    fi
    # Container cgroups are gone with the containers; only our (empty) parent dirs remain.
    for m in /sys/fs/cgroup/*"$CGPARENT" /sys/fs/cgroup"$CGPARENT"; do
        [ -d "$m" ] && find "$m" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    cni_cleanup
}
trap podman_cleanup EXIT
trap 'exit 143' TERM INT

apiserver_start --pods "$SRCDIR/tests/fixtures/pods/injected-cni.json" || fail "apiserver"
cp "$KUBECONFIG_FILE" "$WORK/run/istio-cni-kubeconfig"
mkdir -p "$WORK/net.d" "$WORK/rootfs/bin"

cat >"$WORK/net.d/$NET.conflist" <<JSON
{ "cniVersion": "1.0.0", "name": "$NET",
  "plugins": [
    { "type": "bridge", "bridge": "cnbpod$$", "isGateway": true, "ipMasq": false,
      "ipam": { "type": "host-local", "dataDir": "$WORK/ipam",
                "ranges": [[{ "subnet": "$SUBNET.0/24", "gateway": "$SUBNET.1" }]],
                "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "istio-cni", "cni_agent_run_dir": "$WORK/run", "plugin_log_level": "debug",
      "exclude_namespaces": ["kube-system"], "pod_namespace": "istio-system",
      "k8s_max_attempts": 2, "k8s_retry_interval_ms": 100, "k8s_timeout_ms": 1500 }
  ] }
JSON
. "$SRCDIR/tools/podman-private.sh"
podman_private "$WORK" "$WORK/net.d" "$PLUGDIR" /usr/lib/cni

cp "$BUSYBOX" "$WORK/rootfs/bin/busybox"
for a in sh ip nc sleep cat; do ln -s busybox "$WORK/rootfs/bin/$a"; done

if ! o=$(timeout 60 "${PM[@]}" info 2>&1); then
    echo "SKIP: podman cannot run here: $(echo "$o" | tail -3)"
    exit 77
fi
echo "$o" | grep -qi 'networkBackend: cni' || fail "podman is not using the CNI backend: $(echo "$o" | grep -i network)"
# A container without networking first: if that cannot start (runc, cgroups, rlimits of this
# machine), the runtime is unusable here and says nothing about the CNI chain.
if ! o=$(timeout 60 "${PM[@]}" run --rm --network none --cgroup-parent "$CGPARENT" --rootfs "$WORK/rootfs" \
         /bin/busybox true 2>&1); then
    echo "SKIP: podman cannot start a container here: $(echo "$o" | tail -3)"
    exit 77
fi

# podman_run NAME [podman run flags...]: a long-running busybox container on our network.
# Not in $(...): the name must reach CONTAINERS (and its pids PIDS) in this shell for cleanup.
podman_run() {
    local name=$1 r
    shift
    CONTAINERS+=("$name")
    timeout 60 "${PM[@]}" run -d --name "$name" --network "$NET" --cgroup-parent "$CGPARENT" "$@" \
        --rootfs "$WORK/rootfs" /bin/busybox sleep 300 >"$WORK/run.out" 2>&1
    r=$?
    local p
    read -r -a p < <(timeout 30 "${PM[@]}" inspect -f '{{.State.ConmonPid}} {{.State.Pid}}' "$name" 2>/dev/null)
    PIDS+=("${p[@]}")
    return $r
}
container_pid() { timeout 30 "${PM[@]}" inspect -f '{{.State.Pid}}' "$1"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
log_lines() { wc -l <"$WORK/run/istio-cni.log" 2>/dev/null || echo 0; }
# podman_rm NAME: `podman rm` runs the chain's DEL (istio-cni first, then bridge + host-local).
# istio-cni logs DEL at debug level on stderr only, which podman does not keep; libcni stops at
# the first failing DEL, so host-local releasing the address proves istio-cni's DEL succeeded.
podman_rm() {
    local name=$1 ip=$2 o
    o=$(timeout 60 "${PM[@]}" rm -f -t 0 "$name" 2>&1) || fail "podman rm $name: $o"
    echo "$o" | grep -qiE 'error|warn' && fail "podman rm $name complained: $o"
    [ -e "$WORK/ipam/$NET/$ip" ] && fail "$name: DEL did not release $ip (host-local)"
    compgen -G "/var/lib/cni/results/*" >/dev/null && fail "$name: libcni cache still holds a result after DEL"
    CONTAINERS=("${CONTAINERS[@]/#$name/}")
}

# A listener on the gateway (the bridge, in this test's netns): what reaches it, is in gw.txt.
gateway_listener() {
    python3 - "$SUBNET.1" 18080 "$WORK/gw.txt" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(8); s.settimeout(240)
open(sys.argv[3] + ".ready", "w").close()
while True:
    c, _ = s.accept(); c.settimeout(5)
    with open(sys.argv[3], "ab") as f: f.write(c.recv(100))
    c.sendall(b"gateway\n"); c.close()
PY
    GW_PID=$!
    for _ in $(seq 1 50); do [ -e "$WORK/gw.txt.ready" ] && return 0; sleep 0.1; done
    fail "gateway listener did not start"
}

# 1. Plain podman: K8S_POD_NAME only, so the plugin passes the bridge result through.
t0=$(date +%s%N)
podman_run plain || fail "podman run (plain): $(cat "$WORK/run.out")"
echo "podman run (plain) took $(ms_since "$t0") ms"
pid=$(container_pid plain) || fail "inspect plain"
addr=$(timeout 30 "${PM[@]}" exec plain ip -4 -o addr show eth0) || fail "exec ip: $addr"
ip=$(echo "$addr" | sed -n "s|.* inet \($SUBNET\.[0-9]*\)/24 .*|\1|p")
[ -n "$ip" ] || fail "plain: eth0 has no address in $SUBNET.0/24: $addr"
[ -e "$WORK/ipam/$NET/$ip" ] || fail "plain: host-local did not record $ip"
grep -q 'pod /plain: skipped: not a kubernetes pod' "$WORK/run/istio-cni.log" ||
    fail "plain: no skip reason in istio-cni.log: $(cat "$WORK/run/istio-cni.log" 2>&1)"
nsenter -t "$pid" -n iptables-legacy-save | grep -q ISTIO && fail "plain: container got ISTIO rules"
gateway_listener
o=$(echo plain-hello | timeout 20 "${PM[@]}" exec -i plain nc -w 3 "$SUBNET.1" 18080 2>&1)
{ [ "$o" = gateway ] && grep -q plain-hello "$WORK/gw.txt"; } || fail "plain: no TCP to the gateway: $o"
echo "ok plain: eth0 $ip, gateway reached, passed through"
t0=$(date +%s%N)
podman_rm plain "$ip"
echo "ok plain: podman rm (DEL) in $(ms_since "$t0") ms, $ip released"

# 2. CNI_ARGS from podman's environment adds the namespace; the name is the container's.
n0=$(log_lines)
t0=$(date +%s%N)
CNI_ARGS="K8S_POD_NAMESPACE=default" podman_run "$POD" || fail "podman run ($POD): $(cat "$WORK/run.out")"
echo "podman run (sidecar pod) took $(ms_since "$t0") ms"
pid=$(container_pid "$POD") || fail "inspect $POD"
grep -q "pod default/$POD: redirect rules programmed" "$WORK/run/istio-cni.log" ||
    fail "$POD: rules not programmed: $(tail -n +$((n0 + 1)) "$WORK/run/istio-cni.log")"
save=$(nsenter -t "$pid" -n iptables-legacy-save -t nat)
echo "$save" | grep -q -- '-A OUTPUT -j ISTIO_OUTPUT' || fail "$POD: no ISTIO_OUTPUT jump: $save"
echo "$save" | grep -q -- '-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006' || fail "$POD: no inbound redirect: $save"
echo "$save" | grep -q -- '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001' || fail "$POD: no outbound redirect: $save"
ip=$(timeout 30 "${PM[@]}" exec "$POD" ip -4 -o addr show eth0 | sed -n "s|.* inet \($SUBNET\.[0-9]*\)/24 .*|\1|p")
[ -n "$ip" ] || fail "$POD: eth0 has no address in $SUBNET.0/24"
# The rules act on real traffic: a connection to the gateway lands on the "sidecar" at 15001.
# shellcheck disable=SC2016 # $l is for the container's shell
timeout 20 "${PM[@]}" exec -d "$POD" nc -l -p 15001 -e /bin/busybox sh -c 'read l; echo "got:$l" >/tmp/got; echo sidecar' >/dev/null ||
    fail "$POD: cannot start the 15001 listener"
for _ in $(seq 1 30); do
    nsenter -t "$pid" -n ss -ltnH 'sport = :15001' 2>/dev/null | grep -q . && break
    sleep 0.1
done
o=$(echo pod-hello | timeout 20 "${PM[@]}" exec -i "$POD" nc -w 3 "$SUBNET.1" 18080 2>&1)
[ "$o" = sidecar ] || fail "$POD: outbound TCP not redirected to 15001: $o"
grep -q pod-hello "$WORK/gw.txt" && fail "$POD: outbound TCP bypassed the redirect"
echo "ok $POD: eth0 $ip, rules in the container netns, outbound TCP redirected to 15001"
t0=$(date +%s%N)
podman_rm "$POD" "$ip"
echo "ok $POD: podman rm (DEL) in $(ms_since "$t0") ms, $ip released"
grep -q '"level":"error"' "$WORK/run/istio-cni.log" && fail "errors in istio-cni.log: $(cat "$WORK/run/istio-cni.log")"
echo PASS
