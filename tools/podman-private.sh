# SPDX-License-Identifier: Apache-2.0
# podman-private.sh: sourced. `podman_private DIR [NET_DIR [PLUGIN_DIR...]]` sets up a podman
# whose store, run root, configuration, events log and temp dir live under DIR, and sets PM to
# the podman command line that uses them. Its CNI backend reads NET_DIR (default DIR/net.d: podman
# writes a cni.lock there, so never the node's /etc/cni/net.d) and execs plugins from the
# PLUGIN_DIRs. Used by tools/image.sh and the podman tests: the caller's images and containers are
# never touched. Removing DIR (after `"${PM[@]}" system reset`) removes it all.

podman_private() {
    local dir=$1 netdir=${2:-$1/net.d} nofile nproc n plugins=""
    shift $(($# < 2 ? $# : 2))
    for n in "$@"; do plugins+="${plugins:+, }\"$n\""; done
    mkdir -p "$dir/storage" "$dir/runroot" "$dir/tmp" "$netdir"
    # Root podman asks runc for RLIMIT_NOFILE and RLIMIT_NPROC 1048576 but lowers its own NPROC to
    # 32768 first; without CAP_SYS_RESOURCE runc then fails with "error setting rlimit type 7"
    # (or 6). So the container gets limits no higher than podman's own.
    nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
    [ "$nofile" = unlimited ] && nofile=1048576
    for n in "$(cat /proc/sys/kernel/pid_max)" 32768; do
        if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$n" ]; then nproc=$n; fi
    done
    cat >"$dir/containers.conf" <<CONF
[containers]
log_driver = "k8s-file"
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
tmp_dir = "$dir/tmp"
runtime = "runc"
[network]
network_backend = "cni"
network_config_dir = "$netdir"
${plugins:+cni_plugin_dirs = [$plugins]}
CONF
    cat >"$dir/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$dir/storage"
runroot = "$dir/runroot"
CONF
    export CONTAINERS_CONF=$dir/containers.conf CONTAINERS_STORAGE_CONF=$dir/storage.conf
    export CONTAINERS_REGISTRIES_CONF=/dev/null
    # podman and buildah put their scratch files under $TMPDIR, which may name a dir of another
    # mount namespace (a test sandbox has its own /tmp).
    export TMPDIR=$dir/tmp
    PM=(podman --root "$dir/storage" --runroot "$dir/runroot" --storage-driver vfs
        --cgroup-manager cgroupfs --network-backend cni --network-config-dir "$netdir" --tmpdir "$dir/tmp")
}
