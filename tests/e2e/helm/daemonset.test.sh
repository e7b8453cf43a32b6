#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# daemonset.test.sh: the chart's DaemonSet run as the kubelet would run it, from the cnibox image,
# with podman and no registry (issue 16). For the defaults and for global.platform=k3s:
#  - `helm template` (the real Helm 3) renders the chart; tests/tools/daemonset-podman.py turns the
#    istio-cni-node DaemonSet into `podman run` arguments: the image and command, env from the
#    ConfigMap and the downward API, the securityContext (root, capabilities only), the hostPath
#    volumes at their mount paths, the service-account dir; it fails on anything it cannot
#    reproduce;
#  - the stand-in API server enforces exactly the rules of the ClusterRoles the chart binds to the
#    service account;
#  - the agent becomes ready (/readyz), inserts istio-cni into the platform's primary conflist,
#    copies the binary into the platform's bin dir, writes the kubeconfig, serves /metrics, and no
#    request of its is forbidden; on SIGTERM (no istio-cni-node DaemonSet: uninstall) it removes
#    all three. Host paths are fresh tmpfs inside the private sandbox (tests/e2e/install/lib.sh).
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/e2e/install/lib.sh"
. "$SRCDIR/tests/e2e/image/lib.sh"
img_require
helm=$("$SRCDIR/tests/tools/fetch-helm.sh") || { rc=$?; [ $rc = 77 ] && echo "SKIP: no helm"; exit $rc; }
INSTALL_TEST_TIMEOUT=${INSTALL_TEST_TIMEOUT:-400} install_enter_sandbox "$@"
cleanup() {
    img_cleanup
    awk '$2 ~ /^\/(etc\/cni|opt\/cni|var\/lib\/rancher|run\/istio-cni)/ { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    install_cleanup
}
trap cleanup EXIT
img_setup
install_setup_api
apiserver_admin POST /__admin/nodes '{"metadata":{"name":"node1","labels":{"kubernetes.io/os":"linux"}}}' >/dev/null
export HELM_CACHE_HOME=$IMG_WORK/helm/cache HELM_CONFIG_HOME=$IMG_WORK/helm/config HELM_DATA_HOME=$IMG_WORK/helm/data

# host_path MOUNTPATH: the hostPath the plan mounts at MOUNTPATH.
host_path() { $PY -c 'import json,sys; print(next(h["path"] for h in json.load(open(sys.argv[1]))["hostPaths"] if h["mountPath"] == sys.argv[2]))' "$PLAN" "$1"; }

for case in defaults k3s; do
    set_args=()
    [ "$case" = k3s ] && set_args=(--set global.platform=k3s)
    R=$IMG_WORK/$case.yaml PLAN=$IMG_WORK/$case.json
    "$helm" template istio-cni "$SRCDIR/charts/istio-cni" -n istio-system "${set_args[@]}" >"$R" ||
        { fail "$case: helm template"; continue; }
    if ! $PY "$SRCDIR/tests/tools/daemonset-podman.py" "$R" --node node1 --pod "istio-cni-node-$case" \
            --sa-dir "$SA_DIR" --env KUBERNETES_SERVICE_HOST=127.0.0.1 \
            --env "KUBERNETES_SERVICE_PORT=$APISERVER_PORT" >"$PLAN"; then
        fail "$case: the DaemonSet cannot be reproduced"; continue
    fi
    image=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["image"])' "$PLAN")
    "${PM[@]}" tag "$IMAGE" "$image" || { fail "$case: podman tag $image"; continue; }
    # The node's paths: a fresh tmpfs each (never what this machine has there); /proc is the node's.
    while IFS=$'\t' read -r p t; do
        [ "$p" = /proc ] && continue
        mkdir -p "$p" && mount -t tmpfs -o mode=0755 "cnibox-$case" "$p"
    done < <($PY -c 'import json,sys
for h in json.load(open(sys.argv[1]))["hostPaths"]: print(h["path"] + "\t" + h["type"])' "$PLAN")
    conf=$(host_path /host/etc/cni/net.d) bin=$(host_path /host/opt/cni/bin) run=$(host_path /var/run/istio-cni)
    echo "$case: conf dir $conf, bin dir $bin, run dir $run, image $image"
    if [ "$case" = k3s ]; then
        check "k3s: the platform's conf and bin dirs" test "$conf:$bin" = \
            /var/lib/rancher/k3s/agent/etc/cni/net.d:/var/lib/rancher/k3s/data/cni
        # The default dirs, empty, to show that nothing lands there.
        for d in /etc/cni/net.d /opt/cni/bin; do mkdir -p "$d" && mount -t tmpfs "cnibox-$case" "$d"; done
    fi
    cat >"$conf/10-flannel.conflist" <<'JSON'
{ "cniVersion": "1.0.0", "name": "cbr0",
  "plugins": [ { "type": "flannel", "delegate": { "hairpinMode": true, "isDefaultGateway": true } },
               { "type": "portmap", "capabilities": { "portMappings": true } } ] }
JSON
    cp "$conf/10-flannel.conflist" "$IMG_WORK/$case.primary"
    rules=$($PY -c 'import json,sys; print(json.dumps({"rules": json.load(open(sys.argv[1]))["rbacRules"]}))' "$PLAN")
    apiserver_admin POST /__admin/rbac "$rules" >/dev/null
    apiserver_admin DELETE /__admin/requests >/dev/null
    # NUL-separated: ConfigMap values hold newlines (AMBIENT_ENABLEMENT_SELECTOR).
    nul_list() { $PY -c 'import json,sys; sys.stdout.write("".join(a + "\0" for a in json.load(open(sys.argv[1]))[sys.argv[2]]))' "$PLAN" "$1"; }
    mapfile -d '' -t run_args < <(nul_list run)
    mapfile -d '' -t cmd_args < <(nul_list args)
    entry=$($PY -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["command"]))' "$PLAN")
    img_start "ds-$case" "${run_args[@]}" --entrypoint "$entry" "$image" "${cmd_args[@]}" ||
        { fail "$case: podman run"; continue; }
    # The probe's port and path and the metrics port, as the chart renders them (the kubelet
    # probes what the pod spec says, not a number this test knows).
    rport=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["readiness"]["port"])' "$PLAN")
    rpath=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["readiness"]["path"])' "$PLAN")
    mport=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["metricsPort"] or "")' "$PLAN")
    check "$case: the chart's ports are numbers (readiness $rport, metrics $mport)" \
        bash -c '[[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]]' _ "$rport" "$mport"
    ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$rport$rpath")" = 200 ]; }
    if wait_until 30 ready; then pass "$case: ready ($rpath on $rport: 200)"; else
        fail "$case: not ready in 30 s: $("${PM[@]}" logs "ds-$case" 2>&1 | tail -5)"
    fi
    check "$case: istio-cni inserted into $conf/10-flannel.conflist" \
        grep -q '"type": "istio-cni"' "$conf/10-flannel.conflist"
    check "$case: the binary copied into $bin, byte for byte" cmp -s "$IMG_BINARY" "$bin/istio-cni"
    check "$case: the kubeconfig written into $run" test -s "$run/istio-cni-kubeconfig"
    if [ "$case" = k3s ]; then
        left=$(ls -A /etc/cni/net.d/ /opt/cni/bin/ 2>&1 | grep -v -e ":$" -e "^$")
        check "k3s: nothing in the default dirs ($left)" test -z "$left"
    fi
    metrics=$(curl -s "http://127.0.0.1:$mport/metrics")
    check "$case: /metrics on the chart's metrics port" grep -q '^istio_cni_install_ready 1' <<<"$metrics"
    forb=$(apiserver_admin GET /__admin/requests | $PY -c 'import json,sys
print(sum(1 for r in json.load(sys.stdin) if r.get("forbidden")))')
    check "$case: no request forbidden by the chart's RBAC ($forb)" test "$forb" = 0
    timeout 60 "${PM[@]}" stop -t 20 "ds-$case" >/dev/null
    st=$("${PM[@]}" inspect -f '{{.State.ExitCode}}' "ds-$case")
    check "$case: exits 0 on SIGTERM ($st)" test "$st" = 0
    check "$case: uninstalled (no entry, binary or kubeconfig)" bash -c \
        '! grep -q istio-cni "$1/10-flannel.conflist" && [ ! -e "$2/istio-cni" ] && [ ! -e "$3/istio-cni-kubeconfig" ]' \
        _ "$conf" "$bin" "$run"
    # The whole tree is as before: only the primary conflist, with the same JSON.
    left=$(find "$conf" "$bin" "$run" -mindepth 1 | grep -vx "$conf/10-flannel.conflist")
    check "$case: the host tree is clean after uninstall (${left:-nothing else left})" test -z "$left"
    check "$case: the primary conflist holds what it held before" $PY -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
sys.exit(a != b)' "$IMG_WORK/$case.primary" "$conf/10-flannel.conflist"
    "${PM[@]}" rm -f "ds-$case" >/dev/null 2>&1
    apiserver_admin POST /__admin/rbac '{"mode": null}' >/dev/null
    while read -r m; do umount -l "$m"; done < <(awk '$1 == "cnibox-'"$case"'" { print $2 }' /proc/self/mounts)
done
finish
