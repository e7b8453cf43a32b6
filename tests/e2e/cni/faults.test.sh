#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# faults.test.sh: every failure of issue 6 gives the expected CNI error code on stdout, exit 1,
# no partial rules in the pod netns and no crash (run under an ASan build too). Spec istio-cni.md
# §2.1, §2.4, §2.12.
. "$SRCDIR/tests/e2e/cni/lib.sh"
cni_require_root
cni_enter_private_netns "$@"
. "$SRCDIR/tests/apiserver/lib.sh"
apiserver_require
cni_setup_plugins
trap cni_cleanup EXIT
P=$PLUGDIR/istio-cni

cat >"$WORK/bad.json" <<'JSON'
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad","namespace":"default","annotations":{
  "sidecar.istio.io/status":"{}","traffic.sidecar.istio.io/excludeInterfaces":"eth0 -j ACCEPT"}},
 "spec":{"containers":[{"name":"app"},{"name":"istio-proxy"}]}}
JSON
apiserver_start --pods "$SRCDIR/tests/fixtures/pods/injected-cni.json" --pods "$WORK/bad.json" || fail apiserver
GOOD_KC=$KUBECONFIG_FILE
ns=cnibox-cnif-$$
cni_netns_add "$ns"
ip link add "vf$$" type veth peer name eth0 netns "$ns" && ip -n "$ns" addr add 10.98.0.2/24 dev eth0 && ip -n "$ns" link set eth0 up
POD="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=productpage-v1-6b746f74dc-9rlzx"

conf() { # [cniVersion] → stdin config with prevResult
    local v=${1:-1.0.0}
    echo '{"cniVersion":"'"$v"'","name":"t","type":"istio-cni","cni_agent_run_dir":"'"$WORK/run"'",
      "k8s_max_attempts":2,"k8s_retry_interval_ms":100,"k8s_timeout_ms":800,
      "prevResult":{"cniVersion":"'"$v"'","ips":[{"address":"10.98.0.2/24"}]}}'
}
# expect CODE NAME [env...] : runs ADD with conf on stdin unless STDIN is set
expect() {
    local code=$1 name=$2; shift 2
    local out rc
    out=$(printf '%s' "${STDIN-$(conf)}" | env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/$ns \
          CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH_DIRS" CNI_ARGS="$POD" "$@" "$P" 2>"$WORK/stderr")
    rc=$?
    [ $rc = 1 ] || fail "$name: exit $rc (want 1), out=$out, stderr=$(tail -3 "$WORK/stderr")"
    got=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["code"])' "$out") || fail "$name: not JSON: $out"
    [ "$got" = "$code" ] || fail "$name: code $got, want $code: $out"
    grep -q 'AddressSanitizer\|runtime error' "$WORK/stderr" && fail "$name: sanitizer report"
    ip netns exec "$ns" iptables-legacy-save | grep -q ISTIO && fail "$name: partial rules left"
    echo "ok $name ($code)"
}
kc() { cp "$1" "$WORK/run/istio-cni-kubeconfig"; }

kc "$GOOD_KC"
expect 999 "pod not found" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=nope"
expect 999 "bad annotation" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bad"
grep -q 'excludeInterfaces' "$WORK/stderr" || fail "bad annotation not named in the log"
expect 4 "missing CNI_NETNS" CNI_NETNS=
expect 999 "wrong CNI_NETNS (not a netns)" CNI_NETNS=/tmp
expect 999 "nonexistent CNI_NETNS" CNI_NETNS=/run/netns/does-not-exist-$$
STDIN='not json {' expect 6 "garbage stdin"
STDIN='{"cniVersion":"9.0.0","name":"t"}' expect 1 "unsupported version"
STDIN='{"cniVersion":"1.0.0","name":"t"}' expect 999 "bad CNI_ARGS" CNI_ARGS="K8S_POD_NAME"
# missing CNI_COMMAND: the about text on stderr, exit 0, nothing on stdout
out=$(env -i "$P" 2>"$WORK/stderr" </dev/null) || fail "missing CNI_COMMAND exit"
[ -z "$out" ] && grep -q 'CNI protocol versions supported' "$WORK/stderr" || fail "missing CNI_COMMAND output"
echo "ok missing CNI_COMMAND"
sed 's/^    token: .*/    token: wrong/' "$GOOD_KC" >"$WORK/kc401"; kc "$WORK/kc401"
expect 999 "401"
sed "s|^    token: .*|    tokenFile: $WORK/no-such-token|" "$GOOD_KC" >"$WORK/kctok"; kc "$WORK/kctok"
expect 999 "unreadable token"
rm -f "$WORK/run/istio-cni-kubeconfig"
expect 999 "missing kubeconfig"
out=$(printf '{"cniVersion":"1.1.0","name":"t","cni_agent_run_dir":"%s"}' "$WORK/run" | env -i CNI_COMMAND=STATUS CNI_PATH=/x "$P" 2>/dev/null)
[ "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["code"])' "$out")" = 50 ] || fail "STATUS without kubeconfig: $out"
echo "ok STATUS 50"
kc "$GOOD_KC"
apiserver_stop
expect 999 "API server down"
for f in "--fail-status 500" "--malformed" "--delay-ms 3000"; do
    APISERVER_DIR= apiserver_start --pods "$SRCDIR/tests/fixtures/pods/injected-cni.json" $f || fail "apiserver $f"
    kc "$KUBECONFIG_FILE"
    start=$(date +%s%N)
    expect 999 "API $f"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ $ms -lt 10000 ] || fail "API $f took $ms ms (not bounded)"
    apiserver_stop
done
echo PASS
