# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# lib.sh: a real container runtime for the e2e tests: containerd with its CRI plugin, run in a
# private network + mount + pid namespace with private state, driven over its CRI socket the way
# kubelet drives it (tests/tools/cri/cri_client.py). See docs/testing-runtimes.md.
# What the runtime sees is the node's CNI layout: a conf dir and a bin dir of our own, whose
# conflist the tests (or the node agent) edit while containerd runs.
# Source it, then: runtime_require; runtime_enter_private_ns LIMIT "$@"; runtime_setup;
# runtime_traps; containerd_start; then cri, cri_run, cri_remove.
set -u
RUNTIME_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CRI_TOOLS=$(cd "$RUNTIME_SRC/../../tools/cri" && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# Everything this harness needs, or exit 77 naming what is missing. Sets CRI_PY: a python3 that has
# grpc and protobuf (the Debian ones live in /usr/bin/python3, which may not be the first python3
# on PATH).
runtime_require() {
    local c
    [ "$(id -u)" = 0 ] || skip "needs root"
    for c in "${CONTAINERD:-containerd}" ctr containerd-shim-runc-v2 runc unshare nsenter timeout cc ip; do
        command -v "$c" >/dev/null || skip "$c not installed (tests/deps.sh installs containerd, runc)"
    done
    for c in bridge host-local loopback; do
        [ -x "/usr/lib/cni/$c" ] || skip "/usr/lib/cni/$c missing (apt-get install containernetworking-plugins)"
    done
    CRI_PY=
    for c in /usr/bin/python3 python3; do
        if "$c" -c 'import grpc, google.protobuf' 2>/dev/null &&
           { "$c" -c 'import grpc_tools.protoc' 2>/dev/null || command -v protoc >/dev/null; }; then
            CRI_PY=$c
            break
        fi
    done
    [ -n "$CRI_PY" ] || skip "no python3 with grpc + protobuf (apt-get install python3-grpcio python3-grpc-tools)"
}

# Re-executes the calling script (once) in new network, mount and pid namespaces, bounded by
# LIMIT seconds. Network: the bridge, veths and pod netns routes never reach the host. Mount:
# containerd and runc keep state at fixed paths (/run/containerd, /run/netns, /var/lib/cni), here
# on tmpfs that exists only in this namespace. Pid: the script is pid 1, so every process it leaves
# (containerd, a shim, a pause) is killed by the kernel when it exits, whatever happened.
runtime_enter_private_ns() {
    local limit=$1
    shift
    if [ -z "${CNIBOX_RUNTIME_INNER:-}" ]; then
        # -k 30: after the TERM, runtime_cleanup gets time to stop sandboxes and containerd.
        CNIBOX_RUNTIME_INNER=1 exec timeout -k 30 "$limit" \
            unshare -n -m -p -f --propagation private --mount-proc --kill-child=SIGTERM -- bash "$0" "$@"
    fi
    [ -n "${CNIBOX_TEST_TRACE:-}" ] && set -x
    ip link set lo up
    mount -t tmpfs -o mode=0755 cnibox-runtime /run || fail "tmpfs on /run"
    mkdir -p /run/netns /run/lock
    mount -t tmpfs -o mode=0755 cnibox-runtime /var/lib || fail "tmpfs on /var/lib"
}

# Work dirs and the CNI bin dir: bridge, host-local and loopback from /usr/lib/cni. The plugin
# binary the agent installs ($ISTIO_CNI_BIN) is $CNI_PLUGIN or $CNIBOX (the applet dispatches on
# its name). CNI_BIN, CNI_CONF and AGENT_RUN may be set before the call (the node agent's fixed
# paths /host/opt/cni/bin, /host/etc/cni/net.d, /var/run/istio-cni); by default they are in $WORK.
runtime_setup() {
    WORK=$(mktemp -d /tmp/cnibox-runtime.XXXXXX)
    CNI_BIN=${CNI_BIN:-$WORK/cni/bin}
    CNI_CONF=${CNI_CONF:-$WORK/cni/net.d}
    AGENT_RUN=${AGENT_RUN:-$WORK/istio-cni-run}   # the agent's CNI_AGENT_RUN_DIR (kubeconfig, plugin log)
    SOCK=$WORK/containerd/containerd.sock
    # cgroupfs parent of every sandbox, removed on exit; named after $WORK, as $$ is 1 here.
    CGPARENT=/${WORK#/tmp/}
    PAUSE_IMAGE=cnibox.local/pause:1
    SANDBOXES=()
    CONTAINERD_PID=
    mkdir -p "$CNI_BIN" "$CNI_CONF" "$AGENT_RUN" "$WORK/containerd" "$WORK/ipam" "$WORK/image"
    local p
    for p in bridge host-local loopback; do ln -sfn "/usr/lib/cni/$p" "$CNI_BIN/$p"; done
    # shellcheck disable=SC2034 # for install_plugin in the test
    ISTIO_CNI_BIN=${CNI_PLUGIN:-$(realpath "$CNIBOX")}
    if [ -z "${CNI_PLUGIN:-}" ] && ! "$CNIBOX" --list 2>/dev/null | grep -q '^istio-cni '; then
        skip "istio-cni applet not registered in $CNIBOX (set CNI_PLUGIN)"
    fi
}

# runtime_traps: cleanup on exit, and an exit (so cleanup) on the signals a test runner or a closed
# pipe sends; bounded by the -k of runtime_enter_private_ns.
runtime_traps() {
    trap runtime_cleanup EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
    trap 'exit 129' HUP
    trap 'trap "" PIPE; exit 141' PIPE
}

runtime_cleanup() {
    local id m left
    # Sandboxes still there (a failed check): stopped and removed through the CRI, so containerd
    # runs DEL and removes netns, shims and cgroups itself; short timeouts, as this runs on a signal.
    if [ -n "${CONTAINERD_PID:-}" ] && kill -0 "$CONTAINERD_PID" 2>/dev/null; then
        for id in "${SANDBOXES[@]:-}"; do
            [ -n "$id" ] || continue
            cri_quick stop "$id" >/dev/null 2>&1
            cri_quick rm "$id" >/dev/null 2>&1
        done
    fi
    containerd_stop
    # Shims and pause processes containerd could not end: killed by pid. We are pid 1 of this pid
    # namespace, so every process listed here is ours; the kernel would kill them when we exit, but
    # their cgroups must be empty before they can be removed below.
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
        left=
        for m in $(ps -eo pid= 2>/dev/null); do
            [ "$m" = 1 ] && continue
            if grep -qE '^(/usr/bin/)?containerd-shim|^/pause' "/proc/$m/cmdline" 2>/dev/null; then
                kill -9 "$m" 2>/dev/null
                left=1
            fi
        done
        [ -z "$left" ] && break
        sleep 0.1
    done
    # Sandbox netns (bind mounts in /run/netns, a tmpfs of this namespace) and rootfs mounts under
    # $WORK: unmounted so rm -rf below cannot fail on them.
    if [ -n "${WORK:-}" ]; then
        awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null; done
    fi
    for m in /sys/fs/cgroup/*"${CGPARENT:-/nonexistent}" /sys/fs/cgroup"${CGPARENT:-/nonexistent}"; do
        [ -d "$m" ] && find "$m" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    apiserver_stop >/dev/null 2>&1
    # KEEP_LOGS=DIR: the logs and configs, copied out before $WORK goes (inside the node agent's
    # throwaway root, KEEP_TMP cannot help: only the source, build and shared dirs reach the host).
    if [ -n "${KEEP_LOGS:-}" ] && [ -n "${WORK:-}" ]; then
        mkdir -p "$KEEP_LOGS" &&
            find "$WORK" "${AGENT_RUN:-$WORK}" "${CNI_CONF:-$WORK}" -maxdepth 2 -type f \
                \( -name '*.log' -o -name '*.toml' -o -name '*.conflist' \) -exec cp {} "$KEEP_LOGS/" \; 2>/dev/null
    fi
    [ -n "${WORK:-}" ] && [ -z "${KEEP_TMP:-}" ] && rm -rf "$WORK"
    return 0
}

# The pod sandbox image: pause.c compiled static, one layer, imported into containerd's k8s.io
# namespace (the CRI's) and unpacked for the native snapshotter.
pause_image_build() {
    cc -static -O2 -o "$WORK/image/pause" "$CRI_TOOLS/pause.c" 2>"$WORK/image/cc.log" ||
        skip "cannot build a static pause binary (libc6-dev static libc): $(tail -3 "$WORK/image/cc.log")"
    "$CRI_PY" "$CRI_TOOLS/mkimage.py" "$WORK/image/pause" "$PAUSE_IMAGE" "$WORK/image/pause.tar" ||
        fail "mkimage.py"
}

containerd_config() {
    cat >"$WORK/containerd/config.toml" <<TOML
version = 2
root = "$WORK/containerd/root"
state = "$WORK/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.overlayfs", "io.containerd.tracing.processor.v1.otlp",
                    "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  level = "debug"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$WORK/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This machine: no AppArmor, no SELinux, no CAP_SYS_RESOURCE (the CRI lowers the sandbox's
  # oom_score_adj; restricted, it keeps ours), no hugetlb controller.
  disable_apparmor = true
  enable_selinux = false
  restrict_oom_score_adj = true
  disable_hugetlb_controller = true
  tolerate_missing_hugetlb_controller = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$CNI_CONF"
    max_conf_num = 1
TOML
}

cri() {
    CRI_DESCRIPTOR_SET=$WORK/runtime.desc timeout 90 "$CRI_PY" "$CRI_TOOLS/cri_client.py" \
        --socket "$SOCK" --timeout 60 "$@"
}
cri_quick() {
    CRI_DESCRIPTOR_SET=$WORK/runtime.desc timeout 10 "$CRI_PY" "$CRI_TOOLS/cri_client.py" \
        --socket "$SOCK" --timeout 8 "$@"
}

# containerd in the background (log: $WORK/containerd/containerd.log), the pause image imported;
# exits 77 if containerd cannot serve the CRI here.
containerd_start() {
    local o
    containerd_config
    pause_image_build
    # Its own session: the TERM a test runner sends to our process group must leave it alive for
    # runtime_cleanup to stop the sandboxes through it.
    # $CONTAINERD: another containerd build to test (the config is version 2, which 1.x and 2.x read).
    setsid "${CONTAINERD:-containerd}" --config "$WORK/containerd/config.toml" \
        >"$WORK/containerd/containerd.log" 2>&1 &
    CONTAINERD_PID=$!
    for _ in $(seq 1 100); do   # at most 10 s
        [ -S "$SOCK" ] && break
        kill -0 "$CONTAINERD_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -S "$SOCK" ] || skip "containerd did not start here (${CONTAINERD:-containerd}): $(tail -5 "$WORK/containerd/containerd.log")"
    o=$(cri version 2>&1) || skip "containerd serves no CRI here: $o; $(grep -i 'cri\|error' "$WORK/containerd/containerd.log" | tail -5)"
    echo "runtime: $o"
    o=$(timeout 60 ctr --address "$SOCK" -n k8s.io images import --snapshotter native \
        "$WORK/image/pause.tar" 2>&1) || fail "ctr images import: $o"
    timeout 30 ctr --address "$SOCK" -n k8s.io images ls -q | grep -qx "$PAUSE_IMAGE" ||
        fail "$PAUSE_IMAGE not in containerd after import: $o"
}

containerd_stop() {
    [ -n "${CONTAINERD_PID:-}" ] || return 0
    kill "$CONTAINERD_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$CONTAINERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$CONTAINERD_PID" 2>/dev/null
    wait "$CONTAINERD_PID" 2>/dev/null
    CONTAINERD_PID=
}

# cri_run NAME NAMESPACE UID: RunPodSandbox as kubelet would; the id goes to SANDBOX (and to
# SANDBOXES, for cleanup). Not in $(...), so both reach this shell. Returns the client's status;
# its stderr is in $WORK/cri.err.
cri_run() {
    local r
    SANDBOX=
    cri run "$1" "$2" "$3" --cgroup-parent "$CGPARENT" >"$WORK/cri.out" 2>"$WORK/cri.err"
    r=$?
    SANDBOX=$(cat "$WORK/cri.out")
    [ -n "$SANDBOX" ] && SANDBOXES+=("$SANDBOX")
    return $r
}

# cri_remove ID: StopPodSandbox (CNI DEL, netns removed) + RemovePodSandbox.
cri_remove() {
    local o
    o=$(cri stop "$1" 2>&1) || fail "StopPodSandbox $1: $o"
    o=$(cri rm "$1" 2>&1) || fail "RemovePodSandbox $1: $o"
    SANDBOXES=("${SANDBOXES[@]/#$1/}")
}

# cni_loaded: the plugin types of each network containerd has loaded, e.g.
# "cni-loopback: loopback; cnibox-containerd: bridge istio-cni".
cni_loaded() {
    cri cniconfig | "$CRI_PY" -c '
import json, sys
doc = json.loads(sys.stdin.read() or "{}")
print("; ".join("%s: %s" % (n["Config"].get("Name"), " ".join(p.get("Network", {}).get("type", "?")
                                                                for p in n["Config"].get("Plugins") or []))
                for n in doc.get("Networks") or [] if n.get("Config")))'
}

# cni_loaded_has TYPE: does the CNI config containerd has loaded name a plugin of this type?
cni_loaded_has() {
    cni_loaded | grep -qE "[: ]$1( |;|\$)"
}

# wait_cni_loaded yes|no TYPE: until containerd has (or has not) reloaded a conflist naming TYPE
# (it watches the conf dir; a pod started before the reload would run the old chain).
wait_cni_loaded() {
    local want=$1 type=$2
    for _ in $(seq 1 100); do   # at most 10 s
        if cni_loaded_has "$type"; then
            [ "$want" = yes ] && return 0
        else
            [ "$want" = no ] && return 0
        fi
        sleep 0.1
    done
    fail "containerd did not reload its CNI config within 10 s (want $type: $want); loaded: $(cni_loaded)"
}

# Rules in a netns, whichever backend the plugin used: legacy iptables, iptables-nft, nft.
netns_rules() {
    local ns=$1
    {
        nsenter --net="$ns" iptables-legacy-save 2>/dev/null
        nsenter --net="$ns" iptables-nft-save 2>/dev/null
        nsenter --net="$ns" nft list ruleset 2>/dev/null
    } | cat
}
