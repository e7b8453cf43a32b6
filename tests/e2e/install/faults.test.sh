#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# faults.test.sh: install-cni under faults (issue 12 acceptance): each gives a clear log line, the
# right readiness, no crash, and recovery once the fault is gone.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/e2e/install/lib.sh"
install_enter_sandbox "$@"
install_setup_api
install_plugin_source
FIX=$SRCDIR/tests/fixtures/cni-conf
alive() { kill -0 "$AGENT_PID" 2>/dev/null; }
metric() { curl -s 127.0.0.1:15014/metrics | grep -v '^#' | grep -F "$1 " | awk '{print $2}'; }
metric_pos() { local v; v=$(metric "$1"); [ -n "$v" ] && [ "${v%.*}" -gt 0 ]; }

# Read-only bin dir: the platform hint, COPY_BINARIES_FAILURE, not ready, recovery.
install_reset
cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
mount --bind "$BIN_DIR" "$BIN_DIR" && mount -o remount,bind,ro "$BIN_DIR"
agent_start
check "read-only bin dir: logged with the platform hint" wait_until 5 grep -q 'read-only file system.*global.platform' "$AGENT_LOG"
check "read-only bin dir: not ready" not_ready
check "read-only bin dir: COPY_BINARIES_FAILURE counted" metric_pos 'istio_cni_installs_total{result="COPY_BINARIES_FAILURE"}'
check "read-only bin dir: the config is untouched" no_istio "$NET_DIR/10-calico.conflist"
check "read-only bin dir: alive" alive
umount "$BIN_DIR"
check "read-only bin dir: recovers when writable" wait_until 40 is_ready
agent_stop

# Missing conf dir: waits (not ready), installs once it exists.
install_reset
rmdir "$NET_DIR"
agent_start
sleep 1
check "missing conf dir: waiting, not ready" not_ready
check "missing conf dir: logged" grep -q "no valid CNI config in $NET_DIR" "$AGENT_LOG"
mkdir -p "$NET_DIR" && cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
check "missing conf dir: installed once it appears" wait_until 5 has_istio "$NET_DIR/10-calico.conflist"
agent_stop

# A primary that is not JSON: skipped when auto-detecting (waits); named explicitly, a clear error.
install_reset
cp "$FIX/non_json.conf" "$NET_DIR/10-bad.conflist"
agent_start
sleep 1
check "non-JSON primary (auto): skipped, waiting" not_ready
agent_stop
agent_start CNI_CONF_NAME=10-bad.conflist
check "non-JSON primary (named): error names the file" wait_until 5 grep -q 'cannot insert istio-cni into /host/etc/cni/net.d/10-bad.conflist' "$AGENT_LOG"
check "non-JSON primary (named): CREATE_CNI_CONFIG_FAILURE counted" metric_pos 'istio_cni_installs_total{result="CREATE_CNI_CONFIG_FAILURE"}'
check "non-JSON primary (named): not ready, alive" bash -c "$(declare -f not_ready http_code); not_ready && kill -0 $AGENT_PID"
check "non-JSON primary (named): the file is untouched" cmp -s "$FIX/non_json.conf" "$NET_DIR/10-bad.conflist"
agent_stop

# Unwritable run dir: CREATE_KUBECONFIG_FAILURE, not ready, recovers.
install_reset
cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
mount --bind "$RUN_DIR" "$RUN_DIR" && mount -o remount,bind,ro "$RUN_DIR"
agent_start
check "unwritable run dir: logged" wait_until 5 grep -q "cannot write $RUN_DIR/istio-cni-kubeconfig" "$AGENT_LOG"
check "unwritable run dir: CREATE_KUBECONFIG_FAILURE counted" metric_pos 'istio_cni_installs_total{result="CREATE_KUBECONFIG_FAILURE"}'
check "unwritable run dir: not ready" not_ready
check "unwritable run dir: alive" alive
umount "$RUN_DIR"
check "unwritable run dir: recovers" wait_until 40 is_ready
check "unwritable run dir: the log socket comes up too" wait_until 5 test -S "$RUN_DIR/log.sock"
agent_stop

# API server down at start: the install still happens (it never waits for the API).
install_reset
cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
t0=$(date +%s%N)
agent_start KUBERNETES_SERVICE_PORT=1 NODE_NAME=node-1 POD_NAMESPACE=istio-system
check "API down at start: installed and ready" wait_until 10 is_ready
echo "#   ready in $((($(date +%s%N) - t0) / 1000000)) ms with the API server unreachable"
check "API down: SIGTERM keeps the plugin (cannot ask the DaemonSet)" agent_stop
check "API down: entry kept" has_istio "$NET_DIR/10-calico.conflist"
check "API down: said why" grep -q 'keeping the plugin' "$AGENT_LOG"

# SIGTERM in the middle of a pass: whatever point it lands on, exit 0 and a consistent node.
# The delays count from the moment the agent catches SIGTERM (SigCgt bit 15), so that they land in
# its first pass and not in process start-up (before main(), no program can catch a signal).
catches_term() { [ $((0x$(awk '/^SigCgt/ {print $2}' "/proc/$AGENT_PID/status") & 0x4000)) != 0 ]; }
for delay in 0 0.001 0.002 0.004 0.008 0.016; do
    install_reset
    cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
    agent_start
    wait_until 10 catches_term
    sleep "$delay"
    check "SIGTERM after ${delay}s: exits 0" agent_stop
    check "SIGTERM after ${delay}s: config valid, without istio-cni" no_istio "$NET_DIR/10-calico.conflist"
    check "SIGTERM after ${delay}s: no .tmp left" no_tmp_left
done

# No inotify to be had: a user namespace with max_inotify_instances = 0 (a per-user-namespace limit;
# the host's /proc/sys/fs/inotify is never written). The agent polls, says so, and still repairs.
install_reset
cp "$FIX/calico.conflist" "$NET_DIR/10-calico.conflist"
: >"$AGENT_LOG"
unshare -U --map-root-user bash -c '
    echo 0 >/proc/sys/user/max_inotify_instances && echo 0 >/proc/sys/user/max_inotify_watches || exit 3
    exec "$0" install-cni' "$CNIBOX" >>"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
check "no inotify: ready" wait_until 10 is_ready
check "no inotify: says it polls" grep -q 'inotify unavailable.*polling' "$AGENT_LOG"
check "no inotify: gauge 0" [ "$(metric cnibox_install_inotify_available)" = 0 ]
strip_istio "$NET_DIR/10-calico.conflist"
check "no inotify: a removed entry is restored by polling" wait_until 5 has_istio "$NET_DIR/10-calico.conflist"
check "no inotify: SIGTERM exits 0" agent_stop
finish
