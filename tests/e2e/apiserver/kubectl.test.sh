#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kubectl.test.sh: fidelity proof for the fake API server, driven by the real kubectl
# (spec istio-cni.md §2.5 GET pod, §5.2 list+watch by spec.nodeName, §5.4 DELETE/PATCH, 410 Expired).
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/apiserver/lib.sh"
apiserver_require kubectl timeout

FIX=$SRCDIR/tests/fixtures/pods
WATCH_PID=
cleanup() {
    [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
    apiserver_stop
}
trap cleanup EXIT
trap 'exit 1' INT TERM

apiserver_start --pods "$FIX" --bookmark-interval 1 || exit 1
export KUBECONFIG=$KUBECONFIG_FILE
export HOME=$APISERVER_DIR            # kubectl's discovery cache goes here, not into the real $HOME
T=$APISERVER_DIR

fails=0
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; fails=$((fails + 1)); }
k() { timeout 15 kubectl --request-timeout=10s "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

PP=productpage-v1-6b746f74dc-9rlzx
LEGACY=legacy-7c9d8b6f5-qw2er

# 1. get pods -A: all six fixtures, as a server-side Table.
out=$(k get pods -A --no-headers 2>&1)
n=$(printf '%s\n' "$out" | grep -c .)
[ "$n" -eq 6 ] && printf '%s\n' "$out" | grep -q "ratings-v1-85c74b6cb4-brk9n .*Init:CrashLoopBackOff" \
    && pass "get pods -A lists 6 pods with server-side status" || fail "get pods -A: $out"

# 2. get one pod as JSON.
uid=$(k get pod -n default $PP -o json | json 'd["metadata"]["uid"]')
[ "$uid" = "3f1c9d52-6e1a-4f0e-9b1a-1a2b3c4d5e01" ] && pass "get pod -o json" || fail "get pod -o json: $uid"

# 2b. missing pod: NotFound, non-zero exit.
out=$(k get pod -n default nope 2>&1) && fail "missing pod exit 0" || {
    echo "$out" | grep -q 'pods "nope" not found' && pass "missing pod -> NotFound" || fail "missing: $out"; }

# 3. field selector: only node1 pods (the gateway is on node2); also a != selector.
out=$(k get pods -A --field-selector spec.nodeName=node1 -o name | sort | tr '\n' ' ')
want="pod/coredns-7db6d8ff4d-4vq8m pod/$LEGACY pod/$PP pod/ratings-v1-85c74b6cb4-brk9n pod/reviews-v1-5fd6d4f8f8-x7b2k "
[ "$out" = "$want" ] && pass "field selector spec.nodeName=node1" || fail "field selector: $out"
out=$(k get pods -A --field-selector 'spec.nodeName!=node1,metadata.namespace=istio-system' -o name)
[ "$out" = "pod/istio-ingressgateway-6c7b9d8f5-zz9kq" ] && pass "field selector != and AND" \
    || fail "field selector !=: $out"
out=$(k get pods -A --field-selector spec.bogus=x 2>&1) && fail "bad field label accepted" || {
    echo "$out" | grep -q "field label not supported: spec.bogus" && pass "unsupported field label -> 400" \
        || fail "bad field: $out"; }

# 4. label selectors.
out=$(k get pods -l app=productpage -o name)
[ "$out" = "pod/$PP" ] && pass "label selector app=productpage" || fail "label selector: $out"
out=$(k get pods -l 'app in (legacy,ratings),version notin (v2)' -o name | sort | tr '\n' ' ')
[ "$out" = "pod/$LEGACY pod/ratings-v1-85c74b6cb4-brk9n " ] && pass "label selector in/notin" \
    || fail "label in/notin: $out"
out=$(k get pods -A -l '!version,sidecar.istio.io/inject' -o name | sort | tr '\n' ' ')
[ "$out" = "pod/istio-ingressgateway-6c7b9d8f5-zz9kq pod/$LEGACY " ] && pass "label selector !k,k" \
    || fail "label !k: $out"

# 5. pagination as kubectl does it (--chunk-size): all pods arrive through continue tokens.
n=$(k get pods -A --chunk-size=2 -o name | grep -c .)
[ "$n" -eq 6 ] && pass "pagination via --chunk-size=2" || fail "pagination: $n"

# 6. watch: kubectl sees a MODIFIED event caused by an admin change.
timeout 20 kubectl get pods -A --watch --output-watch-events >"$T/watch.out" 2>"$T/watch.err" &
WATCH_PID=$!
for i in $(seq 1 100); do grep -q "$PP" "$T/watch.out" 2>/dev/null && break; sleep 0.1; done
apiserver_admin PATCH /__admin/pods/default/$LEGACY '{"status":{"phase":"Failed"}}' >/dev/null
for i in $(seq 1 100); do grep -q "MODIFIED .*$LEGACY .*Failed" "$T/watch.out" && break; sleep 0.1; done
grep -q "MODIFIED .*$LEGACY .*Failed" "$T/watch.out" && pass "watch receives MODIFIED" \
    || { fail "watch: $(cat "$T/watch.out" "$T/watch.err")"; }
apiserver_admin POST /__admin/pods '{"metadata":{"name":"newpod","namespace":"default"},"spec":{"nodeName":"node1","containers":[{"name":"c","image":"i"}]}}' >/dev/null
for i in $(seq 1 100); do grep -q "ADDED .*newpod" "$T/watch.out" && break; sleep 0.1; done
grep -q "ADDED .*newpod" "$T/watch.out" && pass "watch receives ADDED" || fail "watch ADDED"
kill $WATCH_PID 2>/dev/null; wait $WATCH_PID 2>/dev/null; WATCH_PID=

# 7. label / annotate (merge patches), then GET shows them.
k label pod $LEGACY cni.istio.io/uninitialized=true >/dev/null && k annotate pod $LEGACY note=hello >/dev/null
out=$(k get pod $LEGACY -o jsonpath='{.metadata.labels.cni\.istio\.io/uninitialized} {.metadata.annotations.note}')
[ "$out" = "true hello" ] && pass "label + annotate" || fail "label/annotate: $out"
ct=$(apiserver_admin GET /__admin/requests | json \
    '[r["headers"].get("Content-Type") for r in d if r["method"]=="PATCH"][-1]')
[ "$ct" = "application/merge-patch+json" ] && pass "request log shows kubectl's PATCH content type" \
    || fail "request log: $ct"
k label pod $LEGACY cni.istio.io/uninitialized- >/dev/null
out=$(k get pods -l cni.istio.io/uninitialized -o name)
[ -z "$out" ] && pass "label removal (null in merge patch)" || fail "unlabel: $out"

# 8. kubectl patch with all three patch types.
k patch pod $PP --type=strategic -p '{"metadata":{"labels":{"s":"1"}}}' >/dev/null &&
k patch pod $PP --type=merge -p '{"metadata":{"labels":{"m":"2"}}}' >/dev/null &&
k patch pod $PP --type=json -p '[{"op":"add","path":"/metadata/labels/j","value":"3"},{"op":"remove","path":"/metadata/labels/s"}]' >/dev/null
out=$(k get pods -l 'm=2,j=3,!s' -o name)
[ "$out" = "pod/$PP" ] && pass "kubectl patch strategic/merge/json" || fail "patch: $out"

# 9. delete; the pod is gone and kubectl's wait loop finishes.
out=$(k delete pod $LEGACY 2>&1)
echo "$out" | grep -q "pod \"$LEGACY\" deleted" && ! k get pod $LEGACY >/dev/null 2>&1 \
    && pass "delete pod" || fail "delete: $out"

# 10. wrong token: Unauthorized, non-zero exit.
"$APISERVER_SRC/gen-kubeconfig.sh" "$T/kc-bad" "$APISERVER_PORT" "$T/tls" wrong-token
out=$(KUBECONFIG=$T/kc-bad k get pods 2>&1) && fail "wrong token exit 0" || {
    echo "$out" | grep -q "Unauthorized" && pass "wrong token -> Unauthorized" || fail "wrong token: $out"; }
out=$(curl -sS --max-time 10 --cacert "$T/tls/ca.crt" -w ' %{http_code}' \
    "https://127.0.0.1:$APISERVER_PORT/api/v1/pods" | tr -d '\n')
echo "$out" | grep -q '"reason":"Unauthorized".*401$' && pass "no token -> 401 Status" || fail "no token: $out"

# 11. client certificate auth (no token).
"$APISERVER_SRC/gen-kubeconfig.sh" "$T/kc-cert" "$APISERVER_PORT" "$T/tls" "" --client-cert
out=$(KUBECONFIG=$T/kc-cert k get pods -n kube-system -o name 2>&1)
[ "$out" = "pod/coredns-7db6d8ff4d-4vq8m" ] && pass "client certificate auth" || fail "client cert: $out"

# 12. 410 Expired: watch from a compacted resourceVersion (ERROR event) and an expired continue token.
old_rv=$(apiserver_curl '/api/v1/pods?limit=1' | json 'd["metadata"]["resourceVersion"]')
cont=$(apiserver_curl '/api/v1/pods?limit=1' | json 'd["metadata"]["continue"]')
apiserver_admin POST /__admin/pods '{"metadata":{"name":"bump","namespace":"default"}}' >/dev/null
apiserver_admin POST /__admin/compact '{}' >/dev/null
out=$(apiserver_curl "/api/v1/pods?watch=1&resourceVersion=$old_rv&timeoutSeconds=3")
echo "$out" | json 'd["type"]+" "+str(d["object"]["code"])+" "+d["object"]["reason"]' | grep -q "ERROR 410 Expired" \
    && echo "$out" | grep -q "too old resource version: $old_rv" \
    && pass "watch from compacted rv -> ERROR 410 Expired" || fail "410 watch: $out"
code=$(apiserver_curl "/api/v1/pods?limit=1&continue=$cont" -o /dev/null -w '%{http_code}')
[ "$code" = 410 ] && pass "expired continue token -> HTTP 410" || fail "410 continue: $code"
# kubectl itself reports the expired continue token as an Expired server error.
out=$(k get --raw "/api/v1/pods?limit=1&continue=$cont" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "Error from server (Expired)" \
    && pass "kubectl get --raw with expired continue -> Expired (rc=$rc)" || fail "kubectl expired: $out"

# apps/v1 DaemonSets (install-cni's upgrade check): discovery, get, and delete with a finalizer,
# which only marks the object (deletionTimestamp) as the real API server does.
apiserver_admin POST /__admin/daemonsets '{"metadata":{"name":"istio-cni-node","namespace":"istio-system","finalizers":["cnibox.test/hold"]},"spec":{}}' >/dev/null
out=$(k get ds -n istio-system -o name 2>&1)
[ "$out" = "daemonset.apps/istio-cni-node" ] && pass "kubectl get ds" || fail "kubectl get ds: $out"
out=$(k delete ds istio-cni-node -n istio-system --wait=false 2>&1)
echo "$out" | grep -q 'daemonset.apps "istio-cni-node" deleted' && pass "kubectl delete ds" || fail "kubectl delete ds: $out"
out=$(k get ds istio-cni-node -n istio-system -o jsonpath='{.metadata.deletionTimestamp}' 2>&1)
[ -n "$out" ] && pass "finalizer: deletionTimestamp set, object kept" || fail "deletionTimestamp: $out"
apiserver_admin POST /__admin/nodes '{"metadata":{"name":"node-9","labels":{"pool":"a"}}}' >/dev/null
out=$(k get node node-9 -o jsonpath='{.metadata.labels.pool}' 2>&1)
[ "$out" = a ] && pass "stored node labels" || fail "node labels: $out"

if [ $fails -ne 0 ]; then
    echo "server log:"; tail -20 "$T/server.log"
    echo "$fails check(s) failed"
    exit 1
fi
echo "all kubectl fidelity checks passed"
