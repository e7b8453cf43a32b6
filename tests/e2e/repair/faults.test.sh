#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# faults.test.sh: cni-repair's watch and queue under API faults (issue 13 acceptance; spec
# istio-cni.md §5.2): a 410 means relist, and the controller goes on; the API down (500), refusing
# the token (401) or slow: back-off without a busy loop, no crash, recovery afterwards; a pod
# deleted while it waits in the queue is dropped.
. "$SRCDIR/tests/e2e/repair/lib.sh"
apiserver_require
TMP=$(mktemp -d /tmp/cnibox-repair-faults.XXXXXX)
cleanup() { [ "$FAILS" = 0 ] || grep -v "^$" "$TMP/r.log" | grep -E "pod cache|watch|LIST" | tail -20; repair_stop; apiserver_stop >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
cpu_ticks() { awk '{print $14 + $15}' "/proc/$REPAIR_PID/stat"; }
labelled() { state_py '"cni.istio.io/uninitialized" in pods["default/'"$1"'"]["metadata"].get("labels", {})'; }
add_pod() { apiserver_admin POST /__admin/pods "$(pod_json default "$1" n1 "${2:-broken}" 10.1.0.5)" >/dev/null; }

# The server keeps its pods in a state file, so it can go down and come back on the same port
# (its watch history is not saved: every older resourceVersion is then expired, a 410).
apiserver_start --rbac label --state "$TMP/state.json" || exit 1
server_down() { kill "$APISERVER_PID"; wait "$APISERVER_PID" 2>/dev/null; APISERVER_PID=; }
server_up() { # TOKEN
    rm -f "$APISERVER_DIR/ready"
    "$PY" "$SRCDIR/tests/apiserver/fake_apiserver.py" --port "$APISERVER_PORT" --tls-dir "$APISERVER_DIR/tls" \
        --token "$1" --ready-file "$APISERVER_DIR/ready" --parent-pid $$ --state "$TMP/state.json" --rbac label \
        >>"$APISERVER_DIR/server.log" 2>&1 &
    APISERVER_PID=$!
    wait_for 10 test -s "$APISERVER_DIR/ready"
}
repair_start "$TMP/r.log" REPAIR_NODE_NAME=n1 REPAIR_LABEL_PODS=true
check "synced" wait_for 20 grep -q 'synced 0 pod(s)' "$REPAIR_LOG"

# ---- API down for 5 s: back-off, no busy loop, no crash ----
server_down
c0=$(cpu_ticks)
sleep 5
c1=$(cpu_ticks)
n=$(grep -c 'LIST failed' "$REPAIR_LOG")
echo "# API down for 5 s: $n LIST attempts, $((c1 - c0)) CPU ticks"
check "API down: backs off (2..4 LIST attempts in 5 s: 1 s, 2 s, 4 s; got $n)" [ "$n" -ge 2 -a "$n" -le 4 ]
check "API down: no busy loop (< 20 CPU ticks in 5 s, got $((c1 - c0)))" [ $((c1 - c0)) -lt 20 ]
check "API down: still running" kill -0 "$REPAIR_PID"

# ---- back with a token it refuses (401): still backing off ----
server_up wrong-token || { echo "server did not come back"; exit 1; }
c0=$(cpu_ticks)
sleep 4
c1=$(cpu_ticks)
n=$(state_py 'sum(1 for r in reqs if "/pods" in r["path"])')
echo "# HTTP 401 for 4 s: $n pod requests, $((c1 - c0)) CPU ticks"
check "HTTP 401: backs off (≤ 4 pod requests in 4 s, got $n)" [ "$n" -le 4 ]
check "HTTP 401: every one refused" state_py 'all(r.get("code") == 401 for r in reqs if "/pods" in r["path"])'
check "HTTP 401: no busy loop (< 20 CPU ticks in 4 s, got $((c1 - c0)))" [ $((c1 - c0)) -lt 20 ]
check "HTTP 401: still running" kill -0 "$REPAIR_PID"
server_down

# ---- back for real: relist (410 for the old resourceVersion, or a fresh LIST), recover ----
server_up "$APISERVER_TOKEN" || { echo "server did not come back"; exit 1; }
add_pod back
check "recovery: a broken pod is handled after the outage" wait_for 40 labelled back
# a 410 on a live watch: the stand-in drops its watchers as after a compaction
apiserver_admin POST /__admin/expire-watches >/dev/null
check "410: the controller relists after its resourceVersion expired" wait_for 30 grep -q 'expired; relisting' "$REPAIR_LOG"
add_pod p410
check "410: a pod broken after the relist is handled" wait_for 30 labelled p410

# ---- slow API: every answer 1.5 s late ----
apiserver_admin POST /__admin/faults '{"delay_ms":1500}' >/dev/null
add_pod slow
check "slow API: the broken pod is still handled" wait_for 40 labelled slow
apiserver_admin DELETE /__admin/faults >/dev/null
repair_stop
check "SIGTERM exits 0 after the faults" [ "$REPAIR_RC" = 0 ]
check "no crash, no sanitizer report" sh -c "! grep -qE 'AddressSanitizer|LeakSanitizer|Segmentation' '$TMP/r.log'"

# ---- a pod deleted while it waits in the queue is dropped ----
apiserver_admin DELETE /__admin/requests >/dev/null
repair_start "$TMP/q.log" REPAIR_NODE_NAME=n1 REPAIR_LABEL_PODS=true REPAIR_ACTION_RATE=0.5 REPAIR_ACTION_BURST=1
check "queue: synced" wait_for 20 grep -q 'synced' "$REPAIR_LOG"
apiserver_admin POST /__admin/pods "[$(pod_json default q1 n1 broken 10.1.0.7),$(pod_json default q2 n1 broken 10.1.0.8),$(pod_json default q3 n1 broken 10.1.0.9)]" >/dev/null
sleep 0.5
apiserver_admin DELETE /__admin/pods/default/q3 >/dev/null
check "queue: the others are handled at 0.5/s" wait_for 20 sh -c "$(declare -f state_py apiserver_admin); PY=$PY APISERVER_DIR=$APISERVER_DIR APISERVER_PORT=$APISERVER_PORT; state_py 'sum(1 for r in reqs if r[\"method\"] == \"PATCH\" and \"/pods/\" in r[\"path\"]) == 2'"
sleep 3
check "queue: the deleted pod was dropped (never patched, no error)" \
    state_py 'not any(r["method"] == "PATCH" and r["path"].endswith("/q3/status") for r in reqs)'
check "queue: no failure logged for it" sh -c "! grep -q 'q3.*fail' '$REPAIR_LOG'"
repair_stop
finish
