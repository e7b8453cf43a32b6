#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Spec istio-cni.md §5.6 and §6.3-§6.6 asserted on fresh renders of every case of
# tests/helm/matrix.txt (tests/tools/helm-facts.py): RBAC per repair mode, object names and
# labels, the DaemonSet's env, mounts, security context, tolerations, priority class and probes,
# the ConfigMap keys, platform paths, scopes, legacy cni.* keys. The goldens are our own output;
# this says what they must contain.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
PY=$(command -v /usr/bin/python3 || command -v python3)
chart=$SRCDIR/charts/istio-cni
cases=$SRCDIR/tests/helm
"$PY" -c 'import yaml' 2>/dev/null || { echo "SKIP: python3 without yaml (python3-yaml)"; exit 77; }
rc=0
helm=$("$SRCDIR/tests/tools/fetch-helm.sh") || rc=$?
[ $rc -eq 0 ] || { [ $rc -eq 77 ] && echo "SKIP: no helm"; exit $rc; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HELM_CACHE_HOME=$tmp/cache HELM_CONFIG_HOME=$tmp/config HELM_DATA_HOME=$tmp/data
while read -r name args; do
        case "$name" in '' | \#*) continue ;; esac
        eval "set -- $args"
        (cd "$cases" && "$helm" template istio-cni "$chart" -n istio-system "$@") >"$tmp/$name.yaml"
done <"$cases/matrix.txt"
"$PY" "$SRCDIR/tests/tools/helm-facts.py" "$tmp"
