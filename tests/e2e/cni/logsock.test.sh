#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# logsock.test.sh: the plugin side of the node agent's log socket (spec istio-cni.md §2.14, issue
# 12 item 7). A tiny HTTP server on <run dir>/log.sock records what the plugin POSTs: one
# POST /log, Content-Type application/json, a JSON array of strings, each a complete JSON log line
# (time in UTC with microseconds, level, msg, scope), and the ADD summary line carrying the
# latency labels the agent turns into metrics. Then a socket nobody listens on, and a server that
# accepts and never answers: the ADD succeeds, and the socket costs at most its 1 s timeout.
. "$SRCDIR/tests/e2e/cni/lib.sh"
cni_require_root
cni_enter_private_netns "$@"
. "$SRCDIR/tests/apiserver/lib.sh"
apiserver_require
cni_setup_plugins
SRV_PID=
trap '[ -n "$SRV_PID" ] && kill $SRV_PID 2>/dev/null; cni_cleanup' EXIT
P=$PLUGDIR/istio-cni
apiserver_start --pods "$SRCDIR/tests/fixtures/pods/injected-cni.json" >/dev/null || fail apiserver
cp "$KUBECONFIG_FILE" "$WORK/run/istio-cni-kubeconfig"
POD="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=productpage-v1-6b746f74dc-9rlzx"

# log_server MODE: ok (record and answer 200) | hang (accept, never answer)
log_server() {
    rm -f "$WORK/run/log.sock" "$WORK/posts"
    python3 - "$WORK/run/log.sock" "$WORK/posts" "$1" <<'PY' &
import http.server, json, os, socketserver, sys, time
path, out, mode = sys.argv[1:4]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        if mode == "hang":
            time.sleep(30)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(out, "a") as f:
            f.write(json.dumps({"path": self.path, "ctype": self.headers.get("Content-Type"),
                                "body": body.decode()}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    def get_request(self):
        req, _ = self.socket.accept()
        return req, ("local", 0)
s = S(path, H)
s.serve_forever()
PY
    SRV_PID=$!
    for _ in $(seq 50); do [ -S "$WORK/run/log.sock" ] && return 0; sleep 0.1; done
    fail "log server did not start"
}

n=0
# add NAME: one ADD into a fresh netns; prints its wall time in ms; fails on a non-0 exit.
add() {
    n=$((n + 1))
    local ns=cnibox-logsock-$$-$n start out ms
    cni_netns_add "$ns"
    ip link add "vl$n-$$" type veth peer name eth0 netns "$ns"
    ip -n "$ns" addr add 10.96.$n.2/24 dev eth0 && ip -n "$ns" link set eth0 up
    start=$(date +%s%N)
    out=$(printf '%s' '{"cniVersion":"1.0.0","name":"t","type":"istio-cni","cni_agent_run_dir":"'"$WORK/run"'",
        "plugin_log_level":"warn","prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.96.'$n'.2/24"}]}}' |
        env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID="c$n" CNI_NETNS="/run/netns/$ns" CNI_IFNAME=eth0 \
        CNI_PATH="$CNI_PATH_DIRS" CNI_ARGS="$POD" "$P" 2>"$WORK/stderr-$n") || fail "$1: ADD failed: $out $(tail -3 "$WORK/stderr-$n")"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    ip netns exec "$ns" iptables-legacy-save -t nat | grep -q ISTIO_REDIRECT || fail "$1: no rules"
    echo "$ms"
}

# 1. A live agent: exactly one POST with the documented body.
log_server ok
ms=$(add live) || exit 1
kill $SRV_PID; wait $SRV_PID 2>/dev/null; SRV_PID=
python3 - "$WORK/posts" <<'PY' || fail "log socket POST format"
import json, re, sys
posts = [json.loads(l) for l in open(sys.argv[1])]
assert len(posts) == 1, "want exactly one POST per plugin run, got %d" % len(posts)
p = posts[0]
assert p["path"] == "/log", p["path"]
assert p["ctype"] == "application/json", p["ctype"]
lines = json.loads(p["body"])
assert isinstance(lines, list) and lines, "body is not a non-empty JSON array"
summary = None
for s in lines:
    assert isinstance(s, str), "array element is not a string: %r" % (s,)
    e = json.loads(s)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", e["time"]), e["time"]
    assert e["level"] in ("debug", "info", "warn", "error"), e["level"]
    assert isinstance(e["msg"], str) and e["msg"]
    assert e["scope"] == "istio-cni", e["scope"]
    if "redirect rules programmed in" in e["msg"]:
        summary = e
# plugin_log_level warn: the agent still gets the info summary (its metrics depend on it).
assert summary, "no ADD summary line among %d lines" % len(lines)
# Issue 11 section B: the backend line names the command that shows the pod's rules.
backend = [json.loads(s)["msg"] for s in lines if "backend IPv4: legacy:" in json.loads(s)["msg"]]
assert backend and "inspect: nsenter --net=/run/netns/" in backend[0] and backend[0].endswith("iptables-legacy-save -t nat)"), backend
for k in ("latency_setup_ms", "latency_pod_lookup_ms", "latency_rules_ms", "latency_total_ms"):
    v = summary[k]
    assert isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0, (k, v)
t = summary["latency_total_ms"]
parts = summary["latency_setup_ms"] + summary["latency_pod_lookup_ms"] + summary["latency_rules_ms"]
assert abs(t - parts) < 0.01, (t, parts)
assert summary["pod"] == "default/productpage-v1-6b746f74dc-9rlzx", summary["pod"]
assert summary["pod_source"] == "api", summary["pod_source"]
print("ok live agent: one POST, %d lines, summary labels %s" % (len(lines),
      {k: summary[k] for k in summary if k.startswith("latency_") or k.startswith("pod")}))
PY
grep -q '"latency_total_ms":' "$WORK/run/istio-cni.log" || fail "the rolling file lost the labels"
echo "ok rolling file kept"

# 2. A socket file with nobody behind it (a crashed agent): no delay, no failure.
rm -f "$WORK/run/log.sock"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$WORK/run/log.sock"
ms=$(add dead) || exit 1
[ "$ms" -lt 1000 ] || fail "dead socket: ADD took $ms ms"
echo "ok dead socket: ADD in $ms ms"

# 3. An agent that accepts and never answers: bounded by the 1 s timeout.
log_server hang
ms=$(add hang) || exit 1
kill $SRV_PID; wait $SRV_PID 2>/dev/null; SRV_PID=
[ "$ms" -lt 2500 ] || fail "hanging agent: ADD took $ms ms (timeout 1 s)"
[ "$ms" -ge 900 ] || fail "hanging agent: ADD took only $ms ms: was the POST sent at all?"
echo "ok hanging agent: ADD in $ms ms"
