#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# conformance.test.sh: the published CNI cases (../shared/conformance/cni/cases.json, spec
# istio-cni.md §3): for each, the pod (annotations, proxy env, securityContext) is served by the
# fake API server, istio-cni ADDs into a fresh netns, the case's golden payload is restored with
# iptables-legacy-restore into a second fresh netns, and the two kernels' iptables-legacy-save
# outputs must be equal. The goldens are read from ../shared at test time (never copied); skip
# (77) when absent.
. "$SRCDIR/tests/e2e/cni/lib.sh"
CASES=${CNI_CONFORMANCE_DIR:-$SRCDIR/../shared/conformance/cni}
[ -f "$CASES/cases.json" ] || { echo "SKIP: $CASES/cases.json not found"; exit 77; }
cni_require_root
cni_enter_private_netns "$@"
. "$SRCDIR/tests/apiserver/lib.sh"
apiserver_require
cni_setup_plugins
trap cni_cleanup EXIT

# Pods + per-case stdin configs + golden restore payloads, from cases.json.
python3 - "$CASES" "$WORK" <<'PY' || fail "case preparation"
import json, os, sys
src, work = sys.argv[1], sys.argv[2]
cases = json.load(open(os.path.join(src, "cases.json")))
pods, names = [], []
for c in cases:
    name = c["name"].lower()
    proxy = {"name": "istio-proxy", "env": [{"name": k, "value": v} for k, v in c.get("proxy_env", {}).items()],
             "securityContext": c.get("proxy_security_context") or {}}
    pods.append({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": name, "namespace": "testns", "annotations": c.get("pod_annotations", {})},
                 "spec": {"containers": [{"name": "test"}, proxy, {"name": "istio-validate"}]}})
    conf = dict(c["config"])
    conf.update({"cni_agent_run_dir": os.path.join(work, "run"), "k8s_max_attempts": 2,
                 "k8s_retry_interval_ms": 100})
    conf.pop("kubernetes", None)
    json.dump(conf, open(os.path.join(work, "conf-" + name), "w"))
    tables, cur = {}, None
    for line in open(os.path.join(src, c["golden"])).read().splitlines():
        if line in ("iptables-save", "ip6tables-save") or not line.strip():
            continue
        if line.startswith("* "):
            cur = line[2:].strip(); tables[cur] = []
        elif line == "COMMIT":
            cur = None
        elif cur:
            tables[cur].append(line)
    with open(os.path.join(work, "golden-" + name), "w") as f:
        for t, lines in sorted(tables.items()):
            f.write("*%s\n%s\nCOMMIT\n" % (t, "\n".join(lines)))
    names.append(name)
json.dump(pods, open(os.path.join(work, "pods.json"), "w"))
open(os.path.join(work, "names"), "w").write("\n".join(names) + "\n")
PY
apiserver_start --pods "$WORK/pods.json" || fail apiserver
cp "$KUBECONFIG_FILE" "$WORK/run/istio-cni-kubeconfig"

norm() { # iptables-legacy-save without comments, counters, and tables that hold nothing of ours,
         # tables sorted by name (save lists them in the order the netns instantiated them)
    python3 -c '
import re, sys
out, cur, body = [], None, []
blocks = []
for l in sys.stdin.read().splitlines():
    if l.startswith("#"): continue
    if l.startswith("*"): cur, body = l, []; continue
    if l == "COMMIT":
        if any(not b.startswith(":") for b in body) or any(not re.match(r":(PREROUTING|INPUT|OUTPUT|FORWARD|POSTROUTING) ", b) for b in body):
            blocks.append([cur] + body + ["COMMIT"])
        continue
    body.append(re.sub(r" \[\d+:\d+\]$", "", l))
for b in sorted(blocks):
    out += b
print("\n".join(out))'
}

i=0 failed=0
while read -r name; do
    i=$((i + 1))
    a=cnibox-cnic-$$-a$i b=cnibox-cnic-$$-b$i
    cni_netns_add "$a"; cni_netns_add "$b"
    ip link add "vc$i-$$" type veth peer name eth0 netns "$a" && ip -n "$a" addr add 10.0.0.2/24 dev eth0 && ip -n "$a" link set eth0 up
    out=$(env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=testContainerID CNI_NETNS=/run/netns/$a CNI_IFNAME=eth0 \
          CNI_PATH="$CNI_PATH_DIRS" CNI_ARGS="K8S_POD_NAMESPACE=testns;K8S_POD_NAME=$name" \
          "$PLUGDIR/istio-cni" <"$WORK/conf-$name" 2>"$WORK/stderr-$name") || { echo "FAIL $name: ADD: $out"; failed=1; continue; }
    ip netns exec "$b" iptables-legacy-restore <"$WORK/golden-$name" || { echo "FAIL $name: golden restore"; failed=1; continue; }
    if diff -u <(ip netns exec "$b" iptables-legacy-save | norm) <(ip netns exec "$a" iptables-legacy-save | norm) >"$WORK/diff-$name"; then
        echo "ok $name"
    else
        echo "FAIL $name (golden vs plugin):"; cat "$WORK/diff-$name"; failed=1
    fi
done <"$WORK/names"
[ $failed = 0 ] || exit 1
echo PASS
