# SPDX-License-Identifier: Apache-2.0
# podman-private.sh: sourced. `podman_private DIR` sets up a podman whose store, run root,
# configuration, events log, temp dir and CNI config dir all live under DIR, and sets PM to the
# podman command line that uses them. Used by tools/image.sh and tests/e2e/image: the caller's
# images and containers, and the node's /etc/cni/net.d (podman writes a cni.lock into its CNI
# config dir), are never touched. Removing DIR (after `"${PM[@]}" system reset`) removes it all.

podman_private() {
    local dir=$1 nofile nproc n
    mkdir -p "$dir/storage" "$dir/runroot" "$dir/tmp" "$dir/net.d"
    # runc sets the default rlimits above the hard ones a (possibly nested) sandbox allows.
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
network_config_dir = "$dir/net.d"
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
        --cgroup-manager cgroupfs --tmpdir "$dir/tmp")
}
