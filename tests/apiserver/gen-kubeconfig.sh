#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# gen-kubeconfig.sh: write a kubeconfig for the fake API server, in the exact layout install-cni
# writes for the plugin (spec istio-cni.md §4.4: cluster "local", user "istio-cni", context
# "istio-cni-context", CA embedded base64, literal bearer token).
# Usage: gen-kubeconfig.sh OUT PORT TLSDIR TOKEN [--client-cert]
#   --client-cert  also embed TLSDIR/client.{crt,key} (client-certificate-data/client-key-data).
#   TOKEN may be "" to produce a kubeconfig without a token (for client-cert-only auth).
set -euo pipefail
out=${1:?usage: gen-kubeconfig.sh OUT PORT TLSDIR TOKEN [--client-cert]}
port=${2:?port}
tls=${3:?tlsdir}
token=${4-}
cert=${5-}
b64() { base64 -w0 < "$1"; }
tmp="$out.tmp.$$"
umask 077
{
    echo "apiVersion: v1"
    echo "clusters:"
    echo "- cluster:"
    echo "    certificate-authority-data: $(b64 "$tls/ca.crt")"
    echo "    server: https://127.0.0.1:$port"
    echo "  name: local"
    echo "contexts:"
    echo "- context:"
    echo "    cluster: local"
    echo "    user: istio-cni"
    echo "  name: istio-cni-context"
    echo "current-context: istio-cni-context"
    echo "kind: Config"
    echo "users:"
    echo "- name: istio-cni"
    echo "  user:"
    if [ "$cert" = "--client-cert" ]; then
        echo "    client-certificate-data: $(b64 "$tls/client.crt")"
        echo "    client-key-data: $(b64 "$tls/client.key")"
    fi
    if [ -n "$token" ]; then
        echo "    token: $token"
    fi
    # A user entry must not be empty YAML; "{}" keeps kubectl happy when neither is set.
    if [ -z "$token" ] && [ "$cert" != "--client-cert" ]; then
        echo "    {}"
    fi
} > "$tmp"
mv -f "$tmp" "$out"
