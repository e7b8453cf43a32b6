#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# image.test.sh: the cnibox image as Kubernetes would run it, with podman and no registry
# (issue 15). In a private mount + network namespace (tests/e2e/install/lib.sh):
#  1. tools/image.sh builds the image from scratch; its contents: the applet links, pilot-agent as
#     the entrypoint, /opt/cni/bin/istio-cni, istio-proxy 1337, no shell, no iptables, ≤ 4 MB.
#  2. for the current injector template and the 1.7 one: the istio-init container (root,
#     NET_ADMIN + NET_RAW, `pilot-agent istio-iptables …`) in a throwaway netns programs the rules;
#     then the istio-validation container (uid 1337, `--run-validation --skip-rule-apply`) in the
#     same netns passes. In a netns without rules the validation container exits 126.
#  3. install-cni as the DaemonSet's command, with a temp "host" tree bind-mounted at Istio's
#     paths: the conflist gets our entry and the binary is copied byte for byte; on SIGTERM with no
#     istio-cni-node DaemonSet it uninstalls.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/e2e/install/lib.sh"
. "$SRCDIR/tests/e2e/image/lib.sh"
img_require
INSTALL_TEST_TIMEOUT=${INSTALL_TEST_TIMEOUT:-300} install_enter_sandbox "$@"
cleanup() {
    img_cleanup
    for n in img-pod1 img-pod2 img-bare; do ip netns del "$n" 2>/dev/null; done
    install_cleanup
}
trap cleanup EXIT
mkdir -p /run/netns
img_setup

# ---- 1. contents ----
size=$(stat -c %s "$IMG_ARCHIVE")
echo "image archive: $size bytes; binary in it: $(stat -c %s "$IMG_BINARY") bytes"
check "image archive ≤ 4 MB ($size bytes)" test "$size" -le 4194304
cfg=$("${PM[@]}" image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Env}} {{.Config.User}}' "$IMAGE")
check "entrypoint is pilot-agent, PATH is /usr/local/bin ($cfg)" \
    grep -q '^\["/usr/local/bin/pilot-agent"\] \["PATH=/usr/local/bin"\]' <<<"$cfg"
# The one layer's file list, from the archive itself.
layers=$(tar -xOf "$IMG_ARCHIVE" index.json | $PY -c '
import json, sys, tarfile
idx = json.load(sys.stdin)
t = tarfile.open(sys.argv[1])
blob = lambda d: t.extractfile("blobs/sha256/" + d.split(":")[1])
man = json.load(blob(idx["manifests"][0]["digest"]))
for l in man["layers"]:
    for m in tarfile.open(fileobj=blob(l["digest"]), mode="r:gz"):
        kind = "l" if m.issym() else "h" if m.islnk() else "d" if m.isdir() else "f"
        print(kind, m.name, m.linkname)
        if m.name in ("etc/passwd", "etc/group"):
            t2 = tarfile.open(fileobj=blob(l["digest"]), mode="r:gz")
            for line in t2.extractfile(m.name).read().decode().splitlines():
                print("c", m.name, line)' "$IMG_ARCHIVE")
for a in pilot-agent istio-iptables istio-clean-iptables istio-validation install-cni cni-repair; do
    check "link /usr/local/bin/$a -> cnibox" grep -qx "l usr/local/bin/$a cnibox" <<<"$layers"
done
check "/opt/cni/bin/istio-cni is a regular file in the layer" grep -qE '^[fh] opt/cni/bin/istio-cni' <<<"$layers"
check "no shell, no iptables binary, nothing in /bin or /sbin" \
    bash -c '! grep -qE "(^| )(bin|sbin|usr/bin|usr/sbin)/|/(sh|bash|iptables[a-z-]*|nft)( |$)" <<<"$1"' _ "$layers"
check "/etc/passwd has istio-proxy 1337" grep -qx 'c etc/passwd istio-proxy:x:1337:1337:.*' <<<"$layers"
check "/etc/group has istio-proxy 1337" grep -qx 'c etc/group istio-proxy:x:1337:' <<<"$layers"
pw=$(img_run --network none --entrypoint /usr/local/bin/cnibox "$IMAGE" --version 2>&1)
check "the image's binary runs ($pw)" grep -q '^cnibox ' <<<"$pw"

# ---- 2. the injector's init containers ----
# args as the templates emit them (spec istio-iptables.md §0.1); the image's entrypoint makes the
# argv `pilot-agent istio-iptables …`.
CURRENT=(istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT -i '*' -x "" -b '*' -d 15090,15021,15020
         --log_output_level=default:info)
V17=(istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT -i '*' -x "" -b '*' -d 15090,15021,15020 -o "" -q "")
INIT=(--network "ns:/run/netns/NS" --user 0:0 --cap-drop all --cap-add NET_ADMIN,NET_RAW "$IMAGE")
VALID=(--network "ns:/run/netns/NS" --user 1337:1337 --cap-drop all "$IMAGE")
n=1
for t in CURRENT V17; do
    declare -n args=$t
    ns=img-pod$n
    n=$((n + 1))
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # A pod has an address besides loopback (istio-iptables and the validation need one).
    ip -n "$ns" link add eth0 type veth peer name eth1 && ip -n "$ns" addr add "10.89.$n.2/24" dev eth0 && ip -n "$ns" link set eth0 up
    out=$(img_run "${INIT[@]/NS/$ns}" "${args[@]}" 2>&1)
    rc=$?
    check "$t: istio-init exits 0 (exit $rc: $(tail -1 <<<"$out"))" test $rc = 0
    rules=$( (ip netns exec "$ns" iptables-legacy-save -t nat; ip netns exec "$ns" nft list ruleset) 2>/dev/null)
    check "$t: the redirect chains are in the pod's netns" grep -qE 'ISTIO_REDIRECT|istio-redirect|ISTIO_OUTPUT' <<<"$rules"
    out=$(img_run "${VALID[@]/NS/$ns}" "${args[@]}" --run-validation --skip-rule-apply 2>&1)
    rc=$?
    check "$t: istio-validation as 1337 passes (exit $rc: $(tail -1 <<<"$out"))" test $rc = 0
    unset -n args
done
ip netns add img-bare
ip -n img-bare link set lo up
ip -n img-bare link add eth0 type veth peer name eth1 && ip -n img-bare addr add 10.89.9.2/24 dev eth0 && ip -n img-bare link set eth0 up
out=$(img_run "${VALID[@]/NS/img-bare}" "${CURRENT[@]}" --run-validation --skip-rule-apply 2>&1)
rc=$?
check "istio-validation without rules exits 126 ($rc), saying why" \
    bash -c '[ "$1" = 126 ] && grep -q "cni.repair.deletePods" <<<"$2"' _ "$rc" "$out"

# ---- 3. install-cni as the DaemonSet runs it ----
install_setup_api
apiserver_admin POST /__admin/nodes '{"metadata":{"name":"node1","labels":{"kubernetes.io/os":"linux"}}}' >/dev/null
cat >"$NET_DIR/10-bridge.conflist" <<'JSON'
{ "cniVersion": "1.0.0", "name": "k8s-pod-network",
  "plugins": [ { "type": "bridge", "bridge": "cni0", "ipam": { "type": "host-local", "subnet": "10.88.0.0/16" } } ] }
JSON
cp /usr/lib/cni/bridge /usr/lib/cni/host-local "$BIN_DIR/"
img_start agent --network host --user 0:0 --privileged --entrypoint '["install-cni"]' \
    -v "$NET_DIR:/host/etc/cni/net.d" -v "$BIN_DIR:/host/opt/cni/bin" -v "$RUN_DIR:/var/run/istio-cni" \
    -v "$SA_DIR:$SA_DIR:ro" \
    -e KUBERNETES_SERVICE_HOST -e KUBERNETES_SERVICE_PORT -e NODE_NAME=node1 \
    -e POD_NAMESPACE=istio-system -e POD_NAME=istio-cni-node-img01 \
    "$IMAGE" --log_output_level=default:info
installed() {
    grep -q '"type": *"istio-cni"' "$NET_DIR/10-bridge.conflist" && [ -x "$BIN_DIR/istio-cni" ] &&
        [ -s "$RUN_DIR/istio-cni-kubeconfig" ] && cmp -s "$IMG_BINARY" "$BIN_DIR/istio-cni"
}
if wait_until 30 installed; then
    pass "install-cni from the image: the conflist has istio-cni, the kubeconfig is written, the binary copied"
else
    fail "install-cni from the image did not install within 30 s: $("${PM[@]}" logs agent 2>&1 | tail -5)
$(ls -l "$NET_DIR" "$BIN_DIR"; cat "$NET_DIR/10-bridge.conflist")"
    finish
fi
check "the copied plugin is static" bash -c 'readelf -d "$1" | grep -q "no dynamic section"' _ "$BIN_DIR/istio-cni"
ready=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/readyz)
check "the agent's /readyz answers 200 ($ready)" test "$ready" = 200
# doctor from the image (issue 17), with the node's tree mounted at /host as docs/doctor.md says:
# no shell, no iptables binary in there. The primary config names bridge and host-local too.
out=$(img_run --network host --pid host --privileged -v "$NET_DIR:/host/etc/cni/net.d:ro" \
    -v "$BIN_DIR:/host/opt/cni/bin:ro" -v "$RUN_DIR:/host/var/run/istio-cni:ro" \
    "$IMAGE" doctor --root /host --only cni --metrics-url http://127.0.0.1:15014/metrics --json 2>&1)
rc=$?
st=$($PY -c 'import json, sys
d = json.loads(sys.stdin.read())
c = {x["id"]: x["status"] for x in d["checks"]}
print(c.get("cni.config"), c.get("cni.binary"), d["summary"]["status"])' <<<"$out" 2>&1)
check "doctor from the image: the config holds istio-cni, the plugin is there and static (exit $rc: $st)" \
    bash -c '[[ $1 == "ok ok "* ]] && case $2 in 0|1|2) true;; *) false;; esac' _ "$st" "$rc"
timeout 60 "${PM[@]}" stop -t 20 agent >/dev/null
st=$("${PM[@]}" inspect -f '{{.State.ExitCode}}' agent)
check "install-cni exits 0 on SIGTERM ($st)" test "$st" = 0
check "uninstalled: no istio-cni entry, binary or kubeconfig left" \
    bash -c '! grep -q istio-cni "$1/10-bridge.conflist" && [ ! -e "$2/istio-cni" ] && [ ! -e "$3/istio-cni-kubeconfig" ]' \
    _ "$NET_DIR" "$BIN_DIR" "$RUN_DIR"
finish
