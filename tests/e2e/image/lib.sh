# SPDX-License-Identifier: Apache-2.0
# lib.sh: the cnibox image in a private podman, for tests/e2e/image and tests/e2e/helm/daemonset.
# Sourced after tests/e2e/install/lib.sh's install_enter_sandbox: everything below lives in the
# sandbox's /tmp and /run (tmpfs), and podman's store, configuration and cgroups are private to
# the test. No registry is asked: the image is built from the static $CNIBOX by tools/image.sh
# and loaded from its OCI archive.

IMAGE=localhost/cnibox:test
PM=()
IMG_WORK=
IMG_CONTAINERS=()

img_skip() { echo "SKIP: $*"; exit 77; }

# img_require: skips unless $CNIBOX is static and podman + runc exist (before the sandbox).
img_require() {
    [ "$(id -u)" = 0 ] || img_skip "needs root"
    for c in podman runc readelf strip; do
        command -v "$c" >/dev/null || img_skip "$c not installed (apt-get install podman runc binutils)"
    done
    readelf -d "$CNIBOX" 2>/dev/null | grep -q 'There is no dynamic section' ||
        img_skip "$CNIBOX is not the static build (the image ships only the static binary)"
}

# img_setup: the private podman, and the image built and loaded (IMG_ARCHIVE, IMG_BINARY: the
# stripped binary that is in it).
img_setup() {
    IMG_WORK=$(mktemp -d /tmp/cnibox-image.XXXXXX)
    IMG_CGPARENT=/${IMG_WORK#/tmp/}
    . "$SRCDIR/tools/podman-private.sh"
    podman_private "$IMG_WORK/podman"
    IMG_ARCHIVE=$IMG_WORK/cnibox-image.tar
    bash "$SRCDIR/tools/image.sh" "$CNIBOX" "$IMG_ARCHIVE" "$IMAGE" || { echo "FAIL - tools/image.sh"; exit 1; }
    timeout 120 "${PM[@]}" load -q -i "$IMG_ARCHIVE" >/dev/null || { echo "FAIL - podman load"; exit 1; }
    IMG_BINARY=$IMG_WORK/cnibox.stripped
    strip -o "$IMG_BINARY" "$CNIBOX"
}

# img_run ARGS...: podman run in the test's cgroup parent (foreground, --rm); prints its output.
img_run() {
    timeout 120 "${PM[@]}" run --rm --cgroup-parent "$IMG_CGPARENT" "$@"
}

# img_start NAME ARGS...: a detached container, removed by img_cleanup.
img_start() {
    local name=$1
    shift
    IMG_CONTAINERS+=("$name")
    timeout 120 "${PM[@]}" run -d --name "$name" --cgroup-parent "$IMG_CGPARENT" "$@" >/dev/null
}

img_cleanup() {
    local c m
    [ -n "$IMG_WORK" ] || return 0
    for c in "${IMG_CONTAINERS[@]:-}"; do
        [ -n "$c" ] && timeout 30 "${PM[@]}" rm -f -t 0 "$c" >/dev/null 2>&1
    done
    awk -v w="$IMG_WORK" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    for m in /sys/fs/cgroup/*"$IMG_CGPARENT" /sys/fs/cgroup"$IMG_CGPARENT"; do
        [ -d "$m" ] && find "$m" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    rm -rf "$IMG_WORK"
    IMG_WORK=
}
