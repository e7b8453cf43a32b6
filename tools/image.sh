#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# image.sh: builds the `cnibox` container image from `scratch` with podman (buildah) and writes it
# as an OCI archive. docs/building.md says what is in it and why.
#
#   tools/image.sh BINARY OUT.tar [TAG]      (TAG default: localhost/cnibox:<version>)
#
# BINARY must be the static cnibox (no dynamic section): the image holds nothing else to load.
# podman runs with a private, throwaway storage and configuration, so the caller's own images and
# containers are never touched; `podman load -i OUT.tar` (or `skopeo copy oci-archive:OUT.tar …`)
# brings the result into a store or a registry. The build is reproducible: file times and the
# image's creation time are the epoch (--timestamp 0), so the same binary gives the same digest.
set -euo pipefail

die() { printf 'image: %s\n' "$*" >&2; exit 1; }
[[ $# -ge 2 && $# -le 3 ]] || die "usage: tools/image.sh BINARY OUT.tar [TAG]"
bin=$1 out=$2
command -v podman >/dev/null || die "podman is not installed (apt-get install podman)"
[[ -x $bin ]] || die "$bin: not an executable"
readelf -d "$bin" 2>/dev/null | grep -q 'There is no dynamic section' ||
        die "$bin is not a static executable (configure with the default -DCNIBOX_STATIC=ON)"
version=$("$bin" --version | sed -n '1s/^cnibox \([^ :]*\).*/\1/p')
[[ -n $version ]] || die "$bin --version printed no version"
tag=${3:-localhost/cnibox:$version}

# In /tmp, not $TMPDIR: podman refuses a run root path longer than 50 characters, and $TMPDIR
# may name a dir of another mount namespace (a test sandbox has its own /tmp).
work=$(mktemp -d /tmp/cnibox-image.XXXXXX)
# The vfs store holds plain directories; podman's own files are removed with it.
PM=()
trap '[ ${#PM[@]} -gt 0 ] && "${PM[@]}" system reset --force >/dev/null 2>&1; rm -rf "$work"' EXIT

# ---- the root file system ----
r=$work/ctx/rootfs
mkdir -p "$r/usr/local/bin" "$r/opt/cni/bin" "$r/etc" "$r/run" "$r/tmp" "$r/var"
strip -o "$r/usr/local/bin/cnibox" "$bin"
chmod 0755 "$r/usr/local/bin/cnibox"
# One link per applet, plus pilot-agent (the entrypoint Istio's injector templates expect).
for a in pilot-agent $("$bin" --list | cut -d" " -f1); do
        [[ $a =~ ^[a-z][a-z0-9-]*$ ]] || die "unexpected applet name '$a' from $bin --list"
        ln -s cnibox "$r/usr/local/bin/$a"
done
# What install-cni copies onto the node: a hard link, so it is a regular file in the image and
# the layer carries the bytes once.
ln "$r/usr/local/bin/cnibox" "$r/opt/cni/bin/istio-cni"
# Owner names for istio-iptables' -u/-g and the validation container's uid (no NSS: read as Go
# does). No shell: the login shell field names one only because the format needs a value.
cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
istio-proxy:x:1337:1337:istio-proxy:/tmp:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
cat >"$r/etc/group" <<'EOF'
root:x:0:
istio-proxy:x:1337:
nogroup:x:65534:
EOF
chmod 1777 "$r/tmp"
ln -s ../run "$r/var/run"

cat >"$work/ctx/Containerfile" <<EOF
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin
LABEL org.opencontainers.image.title="cnibox" \\
      org.opencontainers.image.description="Istio's sidecar traffic capture (istio-iptables, istio-validation, istio-cni, install-cni, cni-repair) as one static binary" \\
      org.opencontainers.image.version="$version" \\
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["/usr/local/bin/pilot-agent"]
EOF

# ---- build and save, in a private store ----
. "$(dirname "$0")/podman-private.sh"
podman_private "$work/podman"
"${PM[@]}" build --quiet --timestamp 0 --format oci -f "$work/ctx/Containerfile" -t "$tag" "$work/ctx" >/dev/null ||
        die "podman build failed"
mkdir -p "$(dirname "$out")"
rm -f "$out.tmp"
"${PM[@]}" save --quiet --format oci-archive -o "$out.tmp" "$tag" || die "podman save failed"
mv "$out.tmp" "$out"
printf 'image: %s -> %s (%s bytes)\n' "$tag" "$out" "$(stat -c %s "$out")" >&2
