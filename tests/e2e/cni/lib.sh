# SPDX-License-Identifier: Apache-2.0
# lib.sh: shared setup for the istio-cni e2e tests: a private "runtime" netns (the bridge plugin
# creates its bridge there, never in the host netns), the fake API server inside it, a plugin dir
# with bridge + host-local + istio-cni, and named pod netns cleaned up on exit.
set -u
cni_require_root() {
    [ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
    [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] || { echo "SKIP: containernetworking-plugins missing"; exit 77; }
    command -v iptables-legacy-save >/dev/null || { echo "SKIP: iptables-legacy missing"; exit 77; }
}

# Re-executes the calling script inside a fresh netns (once).
cni_enter_private_netns() {
    if [ -z "${CNIBOX_CNI_E2E_INNER:-}" ]; then
        CNIBOX_CNI_E2E_INNER=1 exec unshare -n -- bash "$0" "$@"
    fi
    ip link set lo up
}

# The plugin: $CNI_PLUGIN if set, else a symlink to $CNIBOX once the applet is registered.
cni_setup_plugins() {
    WORK=$(mktemp -d /tmp/cnibox-cni-e2e.XXXXXX)
    PLUGDIR=$WORK/bin
    mkdir -p "$PLUGDIR" "$WORK/run" "$WORK/ipam"
    if [ -n "${CNI_PLUGIN:-}" ]; then
        ln -s "$CNI_PLUGIN" "$PLUGDIR/istio-cni"
    elif "$CNIBOX" --list 2>/dev/null | grep -q '^istio-cni '; then
        ln -s "$CNIBOX" "$PLUGDIR/istio-cni"
    else
        echo "SKIP: istio-cni applet not registered in $CNIBOX (set CNI_PLUGIN)"; exit 77
    fi
    CNI_PATH_DIRS=$PLUGDIR:/usr/lib/cni
    RUNNER="python3 $SRCDIR/tests/cni-runner/cni-runner.py"
    NETNS_LIST=()
}

cni_cleanup() {
    local n
    for n in "${NETNS_LIST[@]:-}"; do [ -n "$n" ] && ip netns del "$n" 2>/dev/null; done
    # Namespaces added from a subshell (x=$(cni_netns_add …)) are only in the list file.
    if [ -n "${WORK:-}" ] && [ -f "$WORK/netns.list" ]; then
        while read -r n; do ip netns del "$n" 2>/dev/null; done <"$WORK/netns.list"
    fi
    apiserver_stop >/dev/null 2>&1
    [ -n "${WORK:-}" ] && [ -z "${KEEP_TMP:-}" ] && rm -rf "$WORK"
}

cni_netns_add() { # NAME (also recorded in a file: a subshell's NETNS_LIST+= is lost)
    ip netns add "$1" && NETNS_LIST+=("$1") && { [ -z "${WORK:-}" ] || echo "$1" >>"$WORK/netns.list"; } &&
        ip -n "$1" link set lo up
}

# cni_conflist VERSION SUBNET-OCTET [EXTRA-ISTIO-JSON]: writes $WORK/net-VERSION.conflist
cni_conflist() {
    local v=$1 oct=$2 extra=${3:-}
    cat >"$WORK/net-$v-$oct.conflist" <<JSON
{ "cniVersion": "$v", "name": "cnibox-test",
  "plugins": [
    { "type": "bridge", "bridge": "cnb$oct", "isGateway": true, "ipMasq": false,
      "ipam": { "type": "host-local", "dataDir": "$WORK/ipam", "ranges": [[{ "subnet": "10.99.$oct.0/24" }]] } },
    { "type": "istio-cni", "cni_agent_run_dir": "$WORK/run", "plugin_log_level": "debug",
      "exclude_namespaces": ["kube-system"], "pod_namespace": "istio-system",
      "k8s_max_attempts": 2, "k8s_retry_interval_ms": 100, "k8s_timeout_ms": 1500 $extra }
  ] }
JSON
    echo "$WORK/net-$v-$oct.conflist"
}

fail() { echo "FAIL: $*" >&2; exit 1; }
