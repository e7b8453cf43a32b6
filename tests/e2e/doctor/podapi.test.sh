#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# podapi.test.sh: `cnibox doctor --pod NS/NAME`: the pod from the stand-in API server
# (tests/apiserver), its netns found by its IP among this host's processes, its config built
# from its annotations as the plugin builds it. Rules applied by the plugin's own path are not
# available here, so the cases are: an empty pod netns (missing rules: fail with the fix), a pod
# the plugin does not capture (ok, with the reason), a pod that does not exist (fail, with the
# fix). Needs root; runs inside `unshare -n`.
. "$(dirname "$0")/lib.sh"
need_cnibox
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
. "$SRC/tests/apiserver/lib.sh"
if [ "${1:-}" != --inside ]; then
        [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null || { echo "SKIP: needs root and unshare -n"; exit 77; }
        apiserver_require
        command -v nsenter >/dev/null || { echo "SKIP: nsenter missing"; exit 77; }
        exec timeout 300 unshare -n bash "$0" --inside
fi
ip link set lo up
unshare -n sleep 600 &
POD=$!
trap 'kill $POD 2>/dev/null; wait $POD 2>/dev/null; apiserver_stop' EXIT
sleep 0.2
nsenter -t "$POD" -n ip link set lo up
nsenter -t "$POD" -n ip addr add 10.44.7.2/32 dev lo
apiserver_start >/dev/null || { fail "the stand-in API server did not start"; exit 1; }

pod() { # pod NAME IP SIDECAR(yes|no)
        /usr/bin/python3 - "$@" <<'PY'
import json, sys
name, ip, sidecar = sys.argv[1:4]
ann = {"sidecar.istio.io/interceptionMode": "REDIRECT"}
if sidecar == "yes":
    ann["sidecar.istio.io/status"] = json.dumps({"initContainers": ["istio-validation"], "containers": ["istio-proxy"]})
sc = {"runAsUser": 1337, "runAsGroup": 1337}
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"namespace": "shop", "name": name, "uid": "u-" + name, "annotations": ann},
    "spec": {"nodeName": "node-1",
             "initContainers": [{"name": "istio-validation", "image": "proxyv2", "securityContext": sc}],
             "containers": [{"name": "app", "image": "app"},
                            {"name": "istio-proxy", "image": "proxyv2", "securityContext": sc}]},
    "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}))
PY
}
apiserver_admin POST /__admin/pods "$(pod web 10.44.7.2 yes)" >/dev/null
apiserver_admin POST /__admin/pods "$(pod plain 10.44.7.2 no)" >/dev/null
D=("$CNIBOX" doctor --only pod --no-probe --kubeconfig "$KUBECONFIG_FILE")

expect api-missing-rules 1 "fix: re-create the pod (the CNI ADD programs its rules again)" "${D[@]}" --pod shop/web
printf '%s\n' "$LAST_OUT" | grep -qF "pod shop/web from the API server (IP 10.44.7.2)" || fail "api-missing-rules: source"
printf '%s\n' "$LAST_OUT" | grep -qF "netns /proc/$POD/ns/net" || fail "api-missing-rules: netns found by IP"
expect api-not-captured 0 "the plugin does not capture this pod" "${D[@]}" --pod shop/plain
expect api-no-pod 1 "fix: give the pod as NAMESPACE/NAME of a pod on this node" "${D[@]}" --pod shop/nope
expect api-flags 255 "no istio-iptables flags" "${D[@]}" --pod shop/web -- -u 1337

[ "$FAILS" = 0 ] && echo "all doctor pod-API cases passed" || { echo "$FAILS failure(s)"; exit 1; }
