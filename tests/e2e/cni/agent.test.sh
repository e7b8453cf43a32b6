#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# agent.test.sh: the node agent's pod cache (cni-podcache, lib/agent/podcache.h) with the istio-cni
# plugin, real rules in throwaway netns: every ADD answered by the agent programs exactly the rules
# the direct API GET path programs; cache hits, UID checks, watch events, live GETs, 410 relists;
# and every agent failure (stopped, stale socket, foreign uid, rogue answer, API down) degrades
# to the direct GET or to a CNI error, never to success without rules; a second agent never takes
# a live agent's socket, and accept() under EMFILE does not spin (issue 11 A10).
# Spec istio-cni.md §2.4, §2.5.
. "$SRCDIR/tests/e2e/cni/lib.sh"
cni_require_root
cni_enter_private_netns "$@"
. "$SRCDIR/tests/apiserver/lib.sh"
apiserver_require
cni_setup_plugins
P=$PLUGDIR/istio-cni
PIDS=()
agent_cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
    cni_cleanup
}
trap agent_cleanup EXIT
T0=$(date +%s)
FIX=$SRCDIR/tests/fixtures/pods
PP=productpage-v1-6b746f74dc-9rlzx
PP_UID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["uid"])' "$FIX/injected-cni.json")
NODE1_PODS=$(python3 -c 'import glob,json,sys
print(sum(json.load(open(f)).get("spec",{}).get("nodeName") == "node1" for f in glob.glob(sys.argv[1] + "/*.json")))' "$FIX")

# --history 3: a burst of more events than that makes the running watch fall out of the history
# and get the 410 ERROR event (step 5), as with the real API server's watch cache. Single changes
# (all the other steps) never do.
apiserver_start --pods "$FIX" --history 3 >/dev/null || fail apiserver
cp "$KUBECONFIG_FILE" "$WORK/run/istio-cni-kubeconfig"
mkdir -p "$WORK/direct" && cp "$KUBECONFIG_FILE" "$WORK/direct/istio-cni-kubeconfig"   # no socket here
SOCK=$WORK/run/cnibox-pods.sock
BIN=$(readlink -f "$P")

# podjson NAME NODE UID: the injected-cni fixture renamed (same annotations, so same rules).
podjson() {
    python3 - "$FIX/injected-cni.json" "$@" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["metadata"].update(name=sys.argv[2], uid=sys.argv[4])
p["spec"]["nodeName"] = sys.argv[3]
print(json.dumps(p))
PY
}

N=0
newns() { # → NS: a fresh pod netns with eth0 10.98.0.2/24
    N=$((N + 1))
    NS=cnibox-ag-$$-$N
    cni_netns_add "$NS" || fail "netns $NS"
    ip link add "ag$N" type veth peer name eth0 netns "$NS" && ip -n "$NS" addr add 10.98.0.2/24 dev eth0 &&
        ip -n "$NS" link set eth0 up || fail "veth $NS"
}
conf() { # RUNDIR
    echo '{"cniVersion":"1.0.0","name":"t","type":"istio-cni","cni_agent_run_dir":"'"$1"'","plugin_log_level":"debug",
      "k8s_max_attempts":2,"k8s_retry_interval_ms":100,"k8s_timeout_ms":1000,
      "prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.98.0.2/24"}]}}'
}
# add TAG RUNDIR NAME [UID]: ADD into a fresh netns; sets NS, RC, OUT, ERRF (the plugin's stderr).
add() {
    local tag=$1 run=$2 name=$3 uid=${4:-} args
    args="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$name"
    [ -n "$uid" ] && args="$args;K8S_POD_UID=$uid"
    newns
    ERRF=$WORK/$tag.err
    OUT=$(conf "$run" | env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID="c-$tag" CNI_NETNS="/run/netns/$NS" \
          CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH_DIRS" CNI_ARGS="$args" timeout 20 "$P" 2>"$ERRF")
    RC=$?
    ! grep -q 'AddressSanitizer\|runtime error' "$ERRF" || fail "$tag: sanitizer report: $(cat "$ERRF")"
}
rules() { ip netns exec "$1" iptables-legacy-save -t nat | sed -e '/^#/d' -e 's/ \[[0-9]*:[0-9]*\]$//'; }
# ref NAME: the rules the direct path (no agent socket) programs for that pod, computed once.
ref() {
    if [ ! -s "$WORK/ref-$1" ]; then
        add "ref-$1" "$WORK/direct" "$1"
        [ $RC = 0 ] || fail "direct ADD of $1: rc $RC $OUT $(tail -3 "$ERRF")"
        grep -q 'pod from API server' "$ERRF" || fail "direct ADD of $1 did not use the API server"
        rules "$NS" >"$WORK/ref-$1"
        grep -q -- '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001' "$WORK/ref-$1" || fail "direct ADD of $1: no redirect"
    fi
    cat "$WORK/ref-$1"
}
# add_ok TAG RUNDIR NAME UID SOURCE: ADD succeeds, logs SOURCE, rules == direct path's
add_ok() {
    ref "$3" >/dev/null   # here, not in the <(…) subshell below: its netns must be cleaned up
    add "$1" "$2" "$3" "$4"
    [ $RC = 0 ] || fail "$1: rc $RC out=$OUT stderr=$(tail -3 "$ERRF")"
    python3 -c 'import json,sys; assert json.loads(sys.argv[1])["cniVersion"] == "1.0.0"' "$OUT" || fail "$1: result $OUT"
    grep -q "redirect rules programmed in .*pod from $5 " "$ERRF" || fail "$1: source is not '$5': $(grep programmed "$ERRF")"
    diff <(ref "$3") <(rules "$NS") >"$WORK/$1.diff" || fail "$1: rules differ from the direct path: $(cat "$WORK/$1.diff")"
}
# add_fails TAG RUNDIR NAME: CNI error JSON on stdout, non-zero exit, no rules in the netns
add_fails() {
    add "$1" "$2" "$3"
    [ $RC != 0 ] || fail "$1: ADD succeeded: $OUT"
    python3 -c 'import json,sys; d = json.loads(sys.argv[1]); assert d["code"] and d["msg"], d' "$OUT" ||
        fail "$1: no CNI error on stdout: $OUT"
    ! ip netns exec "$NS" iptables-legacy-save | grep -q ISTIO || fail "$1: rules installed"
}
warned() { grep -q 'node agent pod cache .* could not be used' "$ERRF"; }

acurl() { curl -s --max-time 3 --unix-socket "${2:-$SOCK}" "http://agent$1"; }
st() { # FIELD [SOCK]
    acurl /v1/status "${2:-}" | python3 -c 'import json,sys; print(str(json.load(sys.stdin)[sys.argv[1]]).lower())' "$1"
}
# wait_for SECONDS CMD...: polls CMD every 0.1 s
wait_for() {
    local i n=$(($1 * 10)); shift
    for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
    return 1
}
status_is() { [ "$(st "$1" "${3:-}")" = "$2" ]; }
readyz() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 --unix-socket "${2:-$SOCK}" http://agent/readyz)" = "$1" ]; }
agent_start() { # NODE SOCK LOG
    "$BIN" cni-podcache --kubeconfig "$KUBECONFIG_FILE" --node-name "$1" --socket "$2" --log-level debug 2>"$3" &
    AGENT=$!
    PIDS+=("$AGENT")
    wait_for 15 readyz 200 "$2" || fail "agent for $1 not ready: $(cat "$3")"
}
agent_logcheck() { ! grep -q 'AddressSanitizer\|runtime error' "$1" || fail "sanitizer report in $1: $(cat "$1")"; }

ref "$PP" >/dev/null

# 1. sync: readyz, pod count = the fixtures' node1 pods; a node without pods syncs 0.
agent_start node1 "$SOCK" "$WORK/agent.log"
status_is synced true && status_is pods "$NODE1_PODS" || fail "1: status $(acurl /v1/status), want $NODE1_PODS pods"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "1: socket mode $(stat -c %a "$SOCK")"
MAIN=$AGENT
agent_start node9 "$WORK/n9.sock" "$WORK/agent9.log"
status_is pods 0 "$WORK/n9.sock" || fail "1: node9 status $(acurl /v1/status "$WORK/n9.sock")"
kill "$AGENT"; wait "$AGENT" 2>/dev/null
AGENT=$MAIN
agent_logcheck "$WORK/agent9.log"
echo "ok 1 agent synced $NODE1_PODS pods (node9: 0)"

# 2. hits: plain, with the right UID; a wrong UID → live GET finds another uid → 404 → direct GET.
h=$(st hits)
add_ok 2a "$WORK/run" "$PP" "" "node agent cache"
! warned || fail "2a: warning"
status_is hits $((h + 1)) || fail "2a: hits $(st hits), want $((h + 1))"
add_ok 2b "$WORK/run" "$PP" "$PP_UID" "node agent cache"
status_is hits $((h + 2)) || fail "2b: hits $(st hits)"
add_ok 2c "$WORK/run" "$PP" "00000000-0000-0000-0000-0000000000ff" "API server"
warned && grep -q 'another UID' "$ERRF" || fail "2c: no fallback warning: $(cat "$ERRF")"
status_is hits $((h + 2)) || fail "2c: counted as a hit"
echo "ok 2 cache hits (uid match), uid mismatch falls back"

# 3. a pod created after the sync arrives by the watch; a node2 pod is a live GET.
apiserver_admin POST /__admin/pods "$(podjson agent-new node1 11111111-2222-3333-4444-555555555555)" >/dev/null
wait_for 5 status_is pods $((NODE1_PODS + 1)) || fail "3: watch event not applied: $(acurl /v1/status)"
add_ok 3a "$WORK/run" agent-new "" "node agent cache"
l=$(st live)
apiserver_admin POST /__admin/pods "$(podjson agent-n2 node2 66666666-2222-3333-4444-555555555555)" >/dev/null
add_ok 3b "$WORK/run" agent-n2 "" "node agent (live GET)"
status_is live $((l + 1)) || fail "3b: live $(st live), want $((l + 1))"
echo "ok 3 watch ADDED → hit; other node → live GET"

# 4. deleted: out of the cache; ADD fails closed after the agent's 404 and the direct GET's 404.
apiserver_admin DELETE /__admin/pods/default/agent-new >/dev/null
wait_for 5 status_is pods "$NODE1_PODS" || fail "4: watch DELETED not applied: $(acurl /v1/status)"
add_fails 4 "$WORK/run" agent-new
warned || fail "4: no fallback warning"
echo "ok 4 deleted pod: CNI error, no rules"

# 5. 410: the running watch falls out of the compacted history → relist; hits still work.
r0=$(st relists)
for try in 1 2 3; do
    apiserver_admin POST /__admin/compact '{}' >/dev/null
    burst=$(python3 -c 'import json,sys
print(json.dumps([{"metadata":{"name":"burst-%s-%d" % (sys.argv[1], i),"namespace":"default"},
                   "spec":{"nodeName":"node3","containers":[{"name":"c"}]}} for i in range(20)]))' "$try")
    apiserver_admin POST /__admin/pods "$burst" >/dev/null
    wait_for 5 status_is relists $((r0 + 1)) && break
done
status_is relists $((r0 + 1)) || fail "5: no relist: $(acurl /v1/status)"
grep -q 'expired; relisting' "$WORK/agent.log" || fail "5: no 410 in the agent log"
wait_for 5 readyz 200 || fail "5: not ready after the relist"
status_is pods "$NODE1_PODS" || fail "5: pods after relist $(acurl /v1/status)"
add_ok 5 "$WORK/run" "$PP" "" "node agent cache"
echo "ok 5 410 → relist ($try burst(s)), hits after it"

# 6. agent stopped: SIGTERM removes the socket (plain direct path, no warning); SIGKILL leaves
#    a stale socket (warning, then the direct path).
kill -TERM "$AGENT"
wait_for 5 test ! -e "$SOCK" || fail "6: socket not removed on SIGTERM"
wait "$AGENT" 2>/dev/null
agent_logcheck "$WORK/agent.log"
add_ok 6a "$WORK/run" "$PP" "" "API server"
! warned || fail "6a: warning without a socket"
agent_start node1 "$SOCK" "$WORK/agent2.log"
kill -KILL "$AGENT"; wait "$AGENT" 2>/dev/null
[ -S "$SOCK" ] || fail "6b: no stale socket after SIGKILL"
add_ok 6b "$WORK/run" "$PP" "" "API server"
warned || fail "6b: no warning for the stale socket"
echo "ok 6 agent stopped / stale socket → direct GET"

# A canned HTTP server on a Unix socket (for steps 7 and 8); gives up after 40 s on its own.
cat >"$WORK/uds.py" <<'PY'
import os, socket, sys
path, body = sys.argv[1], open(sys.argv[2], "rb").read()
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
s.settimeout(40)
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    c.settimeout(2)
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(4096)
            if not d:
                break
            data += d
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n" % len(body) + body)
    except OSError:
        pass
    c.close()
PY
uds_start() { # UIDSPEC SOCK BODYFILE
    local u=$1 s=$2 b=$3
    rm -f "$s"   # e.g. the agent's stale socket: wait for the server's own
    if [ "$u" = 0 ]; then /usr/bin/python3 "$WORK/uds.py" "$s" "$b" & else
        setpriv --reuid "$u" --regid "$u" --clear-groups /usr/bin/python3 "$WORK/uds.py" "$s" "$b" & fi
    UDS=$!
    PIDS+=("$UDS")
    wait_for 5 test -S "$s" || fail "UDS server as uid $u did not start"
}
python3 - "$FIX/injected-cni.json" >"$WORK/rogue.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["metadata"]["name"] = "someone-else"
print(json.dumps({"source": "cache", "pod": p}))
PY
chmod 644 "$WORK/uds.py" "$WORK/rogue.json"

# 7. a socket served by another uid: refused (SO_PEERCRED), direct GET.
chmod 711 "$WORK"
mkdir "$WORK/run7" && chown 65534:65534 "$WORK/run7"
install -m 600 "$KUBECONFIG_FILE" "$WORK/run7/istio-cni-kubeconfig"
uds_start 65534 "$WORK/run7/cnibox-pods.sock" "$WORK/rogue.json"
add_ok 7 "$WORK/run7" "$PP" "" "API server"
warned && grep -q 'runs as uid 65534, not as uid 0' "$ERRF" || fail "7: no uid refusal: $(cat "$ERRF")"
kill "$UDS"; wait "$UDS" 2>/dev/null
echo "ok 7 foreign-uid socket refused"

# 8. a root server answering 200 with another pod: rejected, direct GET, right rules.
uds_start 0 "$SOCK" "$WORK/rogue.json"
add_ok 8 "$WORK/run" "$PP" "" "API server"
warned && grep -q "something other than pod default/$PP" "$ERRF" || fail "8: rogue answer not rejected: $(cat "$ERRF")"
kill "$UDS"; wait "$UDS" 2>/dev/null
echo "ok 8 rogue answer rejected"

# 10. issue 11 A10: a second agent on a live socket refuses with a clear error and leaves the
#     first one's socket alone; an agent that stops unlinks only the socket it bound.
agent_start node1 "$SOCK" "$WORK/agent4.log"
FIRST=$AGENT
ino=$(stat -c %i "$SOCK")
timeout 5 "$BIN" cni-podcache --kubeconfig "$KUBECONFIG_FILE" --node-name node1 --socket "$SOCK" 2>"$WORK/second.log"
rc=$?
[ $rc = 1 ] && grep -q "another pod cache agent is serving $SOCK" "$WORK/second.log" ||
    fail "10: a second agent did not refuse (rc $rc): $(cat "$WORK/second.log")"
[ "$(stat -c %i "$SOCK")" = "$ino" ] && readyz 200 || fail "10: the first agent lost its socket"
rm -f "$SOCK"   # e.g. removed by hand: a successor may bind afresh
agent_start node1 "$SOCK" "$WORK/agent5.log"
SECOND=$AGENT
kill -TERM "$FIRST"; wait "$FIRST" 2>/dev/null
[ -S "$SOCK" ] && readyz 200 || fail "10: the first agent's exit removed its successor's socket"
kill -TERM "$SECOND"; wait "$SECOND" 2>/dev/null
[ ! -e "$SOCK" ] || fail "10: the last agent left its socket behind"
agent_logcheck "$WORK/agent4.log"; agent_logcheck "$WORK/agent5.log"
echo "ok 10 second agent refused; only its own socket unlinked"

# 11. issue 11 A10: out of file descriptors, accept() backs off instead of spinning. 100 idle
#     connections against a 64-fd limit; the agent's CPU over 1 s while they are held.
"$BIN" cni-podcache --kubeconfig "$KUBECONFIG_FILE" --node-name node1 --socket "$SOCK" 2>"$WORK/agent6.log" &
AGENT=$!
PIDS+=("$AGENT")
wait_for 15 readyz 200 || fail "11: agent not ready: $(cat "$WORK/agent6.log")"
prlimit --pid "$AGENT" --nofile=64:64 || fail "11: prlimit"
python3 - "$SOCK" "$WORK/held" <<'PY' &
import socket, sys, time
held = []
for _ in range(100):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    held.append(s)
open(sys.argv[2], "w").close()
time.sleep(1.8)
PY
HOLDER=$!
PIDS+=("$HOLDER")
ticks() { awk '{print $14 + $15}' "/proc/$AGENT/stat"; }
wait_for 10 test -e "$WORK/held" || fail "11: the idle connections were not made"
t1=$(ticks); sleep 1; t2=$(ticks)
wait "$HOLDER"
hz=$(getconf CLK_TCK)
[ $((t2 - t1)) -lt $((hz / 4)) ] || fail "11: the agent used $((t2 - t1))/$hz s of CPU in 1 s while out of fds"
wait_for 10 readyz 200 || fail "11: not serving after the fds came back"
kill -TERM "$AGENT"; wait "$AGENT" 2>/dev/null
agent_logcheck "$WORK/agent6.log"
echo "ok 11 EMFILE: $((t2 - t1)) tick(s) of CPU in 1 s, served afterwards"

# 9. API server failing / gone for the agent and the plugin: a CNI error, never success.
agent_start node1 "$SOCK" "$WORK/agent3.log"
# A slow API server: the agent's live GET gives up after 2 s with a 502, before the plugin's 3 s
# wait for the agent ends, so the plugin gets an answer and falls back on its own.
apiserver_admin POST /__admin/faults '{"delay_ms":4500,"path_regex":"pods/agent-n2"}' >/dev/null
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 6 --unix-socket "$SOCK" http://agent/v1/pods/default/agent-n2)
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$code" = 502 ] && [ "$ms" -ge 1800 ] && [ "$ms" -lt 3000 ] || fail "9: slow API: agent answered $code after $ms ms, want 502 after ≈2 s"
apiserver_admin DELETE /__admin/faults >/dev/null
apiserver_admin POST /__admin/faults '{"status":500}' >/dev/null
add_fails 9a "$WORK/run" agent-n2          # not cached: live GET 502, direct GET 500
warned && grep -q 'HTTP 502' "$ERRF" || fail "9a: no 502 from the agent: $(cat "$ERRF")"
apiserver_stop
wait_for 10 readyz 503 || fail "9: agent still ready with the API server gone"
add_fails 9b "$WORK/run" "$PP"             # cache unsynced: live GET fails, direct GET fails
warned || fail "9b: no fallback warning"
kill -TERM "$AGENT"; wait "$AGENT" 2>/dev/null
agent_logcheck "$WORK/agent3.log"
echo "ok 9 API server down → CNI error"
echo "PASS ($(($(date +%s) - T0)) s)"
