#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every object that charts/istio-cni renders, for every case of tests/helm/matrix.txt, is valid
# Kubernetes, checked offline against the API's schema (tests/tools/k8s-validate.py with the
# models of tests/tools/fetch-k8s-models.sh; docs/helm.md "Valid Kubernetes, offline"). The
# validator must also refuse each broken object of tests/helm/invalid/, with the error it names.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
PY=$(command -v /usr/bin/python3 || command -v python3)
chart=$SRCDIR/charts/istio-cni
cases=$SRCDIR/tests/helm
"$PY" -c 'import yaml' 2>/dev/null || { echo "SKIP: python3 without yaml (python3-yaml)"; exit 77; }
rc=0
helm=$("$SRCDIR/tests/tools/fetch-helm.sh") || rc=$?
[ $rc -eq 0 ] || { [ $rc -eq 77 ] && echo "SKIP: no helm"; exit $rc; }
models=$("$SRCDIR/tests/tools/fetch-k8s-models.sh") || rc=$?
[ $rc -eq 0 ] || { [ $rc -eq 77 ] && echo "SKIP: no Kubernetes models"; exit $rc; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HELM_CACHE_HOME=$tmp/cache HELM_CONFIG_HOME=$tmp/config HELM_DATA_HOME=$tmp/data
pass=0 fail=0

files=()
while read -r name args; do
        case "$name" in '' | \#*) continue ;; esac
        eval "set -- $args"
        if (cd "$cases" && "$helm" template istio-cni "$chart" -n istio-system "$@") >"$tmp/$name.yaml" 2>"$tmp/err"; then
                files+=("$tmp/$name.yaml")
        else
                fail=$((fail + 1)); echo "FAIL $name: helm template: $(cat "$tmp/err")"
        fi
done <"$cases/matrix.txt"
for f in "${files[@]}"; do
        if "$PY" "$SRCDIR/tests/tools/k8s-validate.py" "$models" "$f" >"$tmp/out" 2>"$tmp/sum"; then
                pass=$((pass + 1)); echo "ok   $(basename "$f" .yaml): $(sed 's/k8s-validate: //' "$tmp/sum")"
        else
                fail=$((fail + 1)); echo "FAIL $(basename "$f" .yaml)"; cat "$tmp/out"
        fi
done

for f in "$cases"/invalid/*.yaml; do
        want=$(sed -n '1s/^# want: //p' "$f")
        if "$PY" "$SRCDIR/tests/tools/k8s-validate.py" "$models" "$f" >"$tmp/out" 2>/dev/null; then
                fail=$((fail + 1)); echo "FAIL invalid/$(basename "$f") accepted"
        elif [ -n "$want" ] && grep -qF -- "$want" "$tmp/out"; then
                pass=$((pass + 1)); echo "ok   invalid/$(basename "$f") refused: $want"
        else
                fail=$((fail + 1)); echo "FAIL invalid/$(basename "$f") refused for another reason: $(cat "$tmp/out")"
        fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
