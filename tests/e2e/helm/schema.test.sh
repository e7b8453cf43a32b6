#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# charts/istio-cni/values.schema.json with the real Helm (issue 16): it is what
# tests/tools/gen-helm-schema.py generates; typos fail `helm template` naming the bad key; every key
# of the README's values table (each checked against values.yaml) passes, at the top level and
# under `cni:`; integers and strings alike pass where `--set` may give either; a values file
# shared with Istio's other charts passes. ISTIO_CHART=<Istio's manifests/charts/istio-cni>
# also feeds Istio's own values.yaml through the schema.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
PY=$(command -v /usr/bin/python3 || command -v python3)
chart=$SRCDIR/charts/istio-cni
rc=0
helm=$("$SRCDIR/tests/tools/fetch-helm.sh") || rc=$?
if [ $rc -ne 0 ]; then
        [ $rc -eq 77 ] && echo "SKIP: no helm (tests/tools/fetch-helm.sh)"
        exit $rc
fi
"$PY" -c 'import yaml' 2>/dev/null || { echo "SKIP: python3 without yaml (python3-yaml)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HELM_CACHE_HOME=$tmp/cache HELM_CONFIG_HOME=$tmp/config HELM_DATA_HOME=$tmp/data
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
render() { "$helm" template istio-cni "$chart" -n istio-system "$@" >"$tmp/out" 2>"$tmp/err"; }

# The committed schema is the generated one.
if "$PY" "$SRCDIR/tests/tools/gen-helm-schema.py" | diff -u "$chart/values.schema.json" - >"$tmp/d"; then
        ok
else
        bad "values.schema.json is stale: python3 tests/tools/gen-helm-schema.py > charts/istio-cni/values.schema.json"
        head -20 "$tmp/d"
fi

# Typos and wrong types fail, and the error names the key.
rejects() { # <what the error must contain> <helm args...>
        local want=$1
        shift
        if render "$@"; then
                bad "accepted: $*"
        elif ! grep -qF -- "$want" "$tmp/err"; then
                bad "rejected without naming '$want': $* -> $(head -3 "$tmp/err")"
        else
                ok
        fi
}
rejects "Additional property repairpods is not allowed" --set repair.repairpods=true
rejects "Additional property cniBinDIR is not allowed" --set cniBinDIR=/opt/cni/bin
rejects "Additional property cniBinDIR is not allowed" --set cni.cniBinDIR=/opt/cni/bin
rejects "Additional property enabeld is not allowed" --set ambient.enabeld=false
rejects "Additional property request is not allowed" --set resources.request.cpu=10m
rejects "Additional property hubb is not allowed" --set global.hubb=docker.io/istio
rejects "Additional property enable is not allowed" --set global.networkPolicy.enable=true
rejects "Additional property maxUnavailible is not allowed" --set updateStrategy.rollingUpdate.maxUnavailible=1
rejects "Additional property cniBinDir is not allowed" --set _internal_defaults_do_not_set.repair.cniBinDir=/x
rejects "Additional property levl is not allowed" --set logging.levl=debug
rejects "chained: Invalid type" --set-string chained=false
rejects "resourceScope" --set global.resourceScope=everything
rejects "unknown platform" --set global.platform=k8s
rejects "unknown profile" --set profile=production
rejects "Setting with .default prefix found" --set defaults.hub=x
printf 'cni:\n  repair:\n    repairpods: true\n' >"$tmp/typo.yaml"
rejects "Additional property repairpods is not allowed" -f "$tmp/typo.yaml"

# Every documented key passes with its default, at the top level and under cni:.
if ! "$PY" "$SRCDIR/tests/tools/helm-values-keys.py" "$chart/values.yaml" "$chart/README.md" >"$tmp/keys"; then
        bad "README values table and values.yaml disagree"
        : >"$tmp/keys"
fi
n=0
while IFS=$'\t' read -r key json; do
        n=$((n + 1))
        render --set-json "$key=$json" || bad "documented key rejected: --set-json $key=$json: $(head -3 "$tmp/err")"
        case "$key" in
        global.* | profile | platform | compatibilityVersion) ;;
        *) render --set-json "cni.$key=$json" || bad "documented key rejected under cni: $key: $(head -3 "$tmp/err")" ;;
        esac
        ok
done <"$tmp/keys"
[ "$n" -ge 60 ] || bad "only $n documented keys found in the README"

# Integers and strings alike.
accepts() {
        if render "$@"; then ok; else bad "rejected: $* -> $(head -3 "$tmp/err")"; fi
}
accepts --set env.EXTRA=3 --set env.OTHER=text --set env.FLAG=true
accepts --set-string env.EXTRA=3
accepts --set resources.requests.cpu=0 --set resources.limits.memory=128Mi
accepts --set-string resources.requests.cpu=0
accepts --set updateStrategy.rollingUpdate.maxUnavailable=1
accepts --set updateStrategy.rollingUpdate.maxUnavailable=25%
accepts --set resourceQuotas.enabled=true --set resourceQuotas.pods=100
accepts --set resourceQuotas.enabled=true --set-string resourceQuotas.pods=100
accepts --set tag=1.24 --set global.tag=1.24.2
accepts --set compatibilityVersion=1.25
accepts --set-json 'resources=null'
# The values file of every case of the golden matrix, and a whole values.yaml as user values.
for f in "$SRCDIR"/tests/helm/values/*.yaml; do accepts -f "$f"; done
"$PY" - "$chart/values.yaml" "$tmp" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))["_internal_defaults_do_not_set"]
yaml.safe_dump(d, open(sys.argv[2] + "/top.yaml", "w"))
yaml.safe_dump({"cni": {k: v for k, v in d.items() if k != "global"}}, open(sys.argv[2] + "/cni.yaml", "w"))
PY
accepts -f "$tmp/top.yaml"
accepts -f "$tmp/cni.yaml"
if [ -n "${ISTIO_CHART:-}" ]; then
        "$PY" -c 'import sys, yaml; yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["_internal_defaults_do_not_set"], open(sys.argv[2], "w"))' \
                "$ISTIO_CHART/values.yaml" "$tmp/istio.yaml"
        accepts -f "$tmp/istio.yaml"
        for p in "$ISTIO_CHART"/files/profile-*.yaml; do accepts -f "$p"; done
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
