#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scenarios.test.sh: Istio's install scenarios (spec istio-cni.md §4.12, cni/test/install_k8s_test.go)
# against the real install-cni agent on a throwaway node (lib.sh): each scenario installs, has its
# entry removed and re-added, then gets SIGTERM with no istio-cni-node DaemonSet in the API (an
# uninstall) and must leave the primary config as it was, no kubeconfig, no binary, no .tmp files.
# Plus: the binary and kubeconfig contents, token rotation, and the re-target DECISION (§4.8).
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/e2e/install/lib.sh"
install_enter_sandbox "$@"
install_setup_api
install_plugin_source
FIX=$SRCDIR/tests/fixtures/cni-conf
export EXCLUDE_NAMESPACES=istio-system POD_NAMESPACE=istio-system

# scenario NAME RESULT-FILE [VAR=value...] -- FILES...: files are copied as 0<i>-<name> (as Istio's
# test does) unless given as NAME=SRC.
scenario() {
    local name=$1 result=$2 i=0 f
    shift 2
    local vars=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
    shift
    install_reset
    for f in "$@"; do
        case $f in
        *=*) cp "$FIX/${f#*=}" "$NET_DIR/${f%%=*}" ;;
        *) cp "$FIX/$f" "$NET_DIR/0$i-$f" ;;
        esac
        i=$((i + 1))
    done
    local before=/tmp/before.json
    agent_start "${vars[@]}"
    if ! wait_until 10 is_ready; then
        fail "$name: not ready within 10 s"; tail -20 "$AGENT_LOG"; agent_kill; return
    fi
    check "$name: $result holds istio-cni, last" has_istio "$NET_DIR/$result"
    check "$name: only $result was touched" [ "$(grep -l istio-cni "$NET_DIR"/* | wc -l)" = 1 ]
    cp "$NET_DIR/$result" "$before"
    strip_istio "$NET_DIR/$result"
    check "$name: entry re-added after removal" wait_until 5 has_istio "$NET_DIR/$result"
    check "$name: re-added content equals the first install" same_json "$before" "$NET_DIR/$result"
    check "$name: ready again" wait_until 5 is_ready
    check "$name: SIGTERM exits 0" agent_stop
    check "$name: cleanup removed the entry" no_istio "$NET_DIR/$result"
    check "$name: cleanup removed the kubeconfig" [ ! -e "$RUN_DIR/istio-cni-kubeconfig" ]
    check "$name: cleanup removed the binary" [ ! -e "$BIN_DIR/istio-cni" ]
    check "$name: no .tmp file left" no_tmp_left
}

scenario "preset conflist" 00-calico.conflist CNI_CONF_NAME=00-calico.conflist -- calico.conflist
check "preset conflist: cleanup restores the original" same_json "$FIX/calico.conflist" "$NET_DIR/00-calico.conflist"

scenario "preset conf" 00-minikube_cni.conflist CNI_CONF_NAME=00-minikube_cni.conf -- minikube_cni.conf
check "preset conf: the .conf is gone (converted)" [ ! -e "$NET_DIR/00-minikube_cni.conf" ]
check "preset conf: list named k8s-pod-network, cniVersion 0.3.1" "$PY" -c '
import json,sys; d=json.load(open(sys.argv[1]))
sys.exit(0 if d["name"]=="k8s-pod-network" and d["cniVersion"]=="0.3.1" and d["plugins"][0]["type"]=="bridge" else 1)' \
    "$NET_DIR/00-minikube_cni.conflist"

scenario "auto: first is a conflist" 00-calico.conflist -- calico.conflist minikube_cni.conf
scenario "auto: first is a conf" 00-minikube_cni.conflist -- minikube_cni.conf calico.conflist
scenario "skip non-JSON conf" 01-minikube_cni.conflist -- non_json.conf minikube_cni.conf calico.conflist
scenario "skip conf without type" 01-minikube_cni.conflist -- bad_minikube.conf minikube_cni.conf calico.conflist
scenario "skip conflists without name or plugins" 02-calico.conflist -- noname.conflist noplugins.conflist calico.conflist minikube_cni.conf
scenario "twin: .conf name exists as .conflist" 00-calico.conflist CNI_CONF_NAME=00-calico.conf -- calico.conflist
scenario "twin: .conflist name exists as .conf" 00-minikube_cni.conflist CNI_CONF_NAME=00-minikube_cni.conflist -- minikube_cni.conf

# Preset name missing at start: waits, ignoring the other valid files, until it appears.
install_reset
cp "$FIX/calico.conflist" "$NET_DIR/00-calico.conflist"
agent_start CNI_CONF_NAME=missing_initially.conflist
sleep 1
check "missing preset: not ready while waiting" not_ready
check "missing preset: other files untouched" no_istio "$NET_DIR/00-calico.conflist"
cp "$FIX/calico.conflist" "$NET_DIR/missing_initially.conflist"
check "missing preset: installed once it appears" wait_until 5 has_istio "$NET_DIR/missing_initially.conflist"
check "missing preset: ready" wait_until 5 is_ready
check "missing preset: SIGTERM exits 0" agent_stop
check "missing preset: cleaned" no_istio "$NET_DIR/missing_initially.conflist"

# No file at all at start: waits for the first valid file.
install_reset
agent_start
sleep 1
check "no files: not ready while waiting" not_ready
cp "$FIX/calico.conflist" "$NET_DIR/calico.conflist"
check "no files: installed into the first file that appears" wait_until 5 has_istio "$NET_DIR/calico.conflist"
check "no files: SIGTERM exits 0" agent_stop

# Standalone: the entry as a file of its own, removed at cleanup.
for name in "" user-defined.conf; do
    install_reset
    want=${name:-YYY-istio-cni.conf}
    if [ -n "$name" ]; then agent_start CHAINED_CNI_PLUGIN=false CNI_CONF_NAME="$name"; else agent_start CHAINED_CNI_PLUGIN=false; fi
    check "standalone $want: ready" wait_until 10 is_ready
    check "standalone $want: written, mode 0600" [ "$(stat -c %a "$NET_DIR/$want" 2>/dev/null)" = 600 ]
    check "standalone $want: a plugin entry of type istio-cni" "$PY" -c '
import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["type"]=="istio-cni" and d["name"]=="istio-cni" else 1)' "$NET_DIR/$want"
    check "standalone $want: SIGTERM exits 0" agent_stop
    check "standalone $want: removed at cleanup" [ ! -e "$NET_DIR/$want" ]
done

# The binary and the kubeconfig (§4.3, §4.4), and token rotation within 1 s.
install_reset
cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
agent_start
wait_until 10 is_ready
check "binary: copied byte for byte" cmp -s /opt/cni/bin/istio-cni "$BIN_DIR/istio-cni"
check "binary: the source's mode (0755)" [ "$(stat -c %a "$BIN_DIR/istio-cni")" = 755 ]
check "kubeconfig: mode 0600" [ "$(stat -c %a "$RUN_DIR/istio-cni-kubeconfig")" = 600 ]
check "kubeconfig: the service account token" grep -qx "    token: $APISERVER_TOKEN" "$RUN_DIR/istio-cni-kubeconfig"
check "kubeconfig: the server" grep -qx "    server: https://127.0.0.1:$APISERVER_PORT" "$RUN_DIR/istio-cni-kubeconfig"
check "kubeconfig: the token is not in the log" bash -c "! grep -q '$APISERVER_TOKEN' $AGENT_LOG"
ino=$(stat -c %i "$BIN_DIR/istio-cni")
# kubelet's projected volume: the token is a symlink into ..data, which is swapped atomically.
mkdir -p "$SA_DIR/..2026_01" && printf rotated-token-1 >"$SA_DIR/..2026_01/token"
ln -sfn ..2026_01 "$SA_DIR/..data" && rm -f "$SA_DIR/token" && ln -s ..data/token "$SA_DIR/token"
t0=$(date +%s%N)
check "token rotation: kubeconfig rewritten" wait_until 3 grep -qx "    token: rotated-token-1" "$RUN_DIR/istio-cni-kubeconfig"
echo "#   token rotation picked up in $((($(date +%s%N) - t0) / 1000000)) ms"
mkdir -p "$SA_DIR/..2026_02" && printf rotated-token-2 >"$SA_DIR/..2026_02/token"
ln -sfn ..2026_02 "$SA_DIR/..data.tmp" && mv -T "$SA_DIR/..data.tmp" "$SA_DIR/..data"
t0=$(date +%s%N)
check "token rotation (..data swap): rewritten within 1 s" wait_until 1 grep -qx "    token: rotated-token-2" "$RUN_DIR/istio-cni-kubeconfig"
echo "#   ..data swap picked up in $((($(date +%s%N) - t0) / 1000000)) ms"
check "binary: an unchanged binary is not rewritten" [ "$(stat -c %i "$BIN_DIR/istio-cni")" = "$ino" ]
printf 'tampered' >"$BIN_DIR/istio-cni"
check "binary: a tampered binary is restored" wait_until 5 cmp -s /opt/cni/bin/istio-cni "$BIN_DIR/istio-cni"
check "metrics: ready gauge and SUCCESS count" bash -c "curl -s 127.0.0.1:15014/metrics | grep -q '^istio_cni_install_ready 1' && curl -s 127.0.0.1:15014/metrics | grep -Eq '^istio_cni_installs_total\{result=\"SUCCESS\"\} [1-9]'"
check "healthz: 200" [ "$(http_code http://127.0.0.1:8000/healthz)" = 200 ]
agent_stop

# DECISION §4.8: an auto-detected primary follows a file that appears later and sorts first; the
# entry moves there and leaves the old file. An explicit CNI_CONF_NAME stays put (Istio).
install_reset
cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
agent_start
wait_until 10 is_ready
cp "$FIX/minikube_cni.conf" "$NET_DIR/05-cilium.conf"
check "re-target: the entry moves to the new first file" wait_until 5 has_istio "$NET_DIR/05-cilium.conflist"
check "re-target: the old file no longer holds it" wait_until 5 no_istio "$NET_DIR/10-calico.conflist"
check "re-target: logged" grep -q 'now sorts before' "$AGENT_LOG"
agent_stop
check "re-target: cleanup cleans the new file" no_istio "$NET_DIR/05-cilium.conflist"
install_reset
cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
agent_start CNI_CONF_NAME=10-calico.conflist
wait_until 10 is_ready
cp "$FIX/calico.conflist" "$NET_DIR/05-other.conflist"
check "explicit name: preempted is only warned about" wait_until 5 grep -q 'preempted by' "$AGENT_LOG"
check "explicit name: the entry stays" has_istio "$NET_DIR/10-calico.conflist"
check "explicit name: the new file is left alone" no_istio "$NET_DIR/05-other.conflist"
agent_stop
finish
