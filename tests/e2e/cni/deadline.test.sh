#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# deadline.test.sh: one deadline for a whole ADD (issue 11 A6; docs/istio-cni.md "Deadline").
# Each stage that can hang gets what remains of add_timeout_ms, and an expired deadline is a CNI
# error that names the stage, well before the kubelet's 2 min runtime timeout:
#   - an API server that accepts and never answers (stand-in --delay-ms);
#   - a server name whose DNS lookup never answers (resolv.conf pointing at a loopback UDP port
#     that swallows queries, in a private mount namespace; glibc alone would wait minutes);
#   - the pod's xtables lock held by someone else;
# plus ISTIO_CNI_ADD_TIMEOUT_MS overriding the config, and a bad value of it named in the error.
. "$SRCDIR/tests/e2e/cni/lib.sh"
cni_require_root
command -v unshare >/dev/null || { echo "SKIP: unshare missing"; exit 77; }
cni_enter_private_netns "$@"
. "$SRCDIR/tests/apiserver/lib.sh"
apiserver_require
cni_setup_plugins
BG=()
trap 'for p in "${BG[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; cni_cleanup' EXIT
P=$PLUGDIR/istio-cni
POD="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=productpage-v1-6b746f74dc-9rlzx"
ns=cnibox-deadline-$$
cni_netns_add "$ns"
ip link add "vd$$" type veth peer name eth0 netns "$ns" && ip -n "$ns" addr add 10.95.0.2/24 dev eth0 &&
    ip -n "$ns" link set eth0 up || fail "veth"

# conf TIMEOUT_MS: the plugin's defaults for the API (30 attempts, 5 s each), only the deadline set.
conf() {
    echo '{"cniVersion":"1.0.0","name":"t","type":"istio-cni","cni_agent_run_dir":"'"$WORK/run"'",
      "add_timeout_ms":'"$1"',"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.95.0.2/24"}]}}'
}
# expect_timeout NAME TIMEOUT_MS MAX_MS NEEDLE... [-- WRAPPER...]: an ADD that must fail with code 999
# within MAX_MS, its message naming the deadline and each NEEDLE.
expect_timeout() {
    local name=$1 tmo=$2 max=$3 start out rc ms msg
    shift 3
    local needles=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do needles+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    start=$(date +%s%N)
    out=$(conf "$tmo" | timeout 60 env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS="/run/netns/$ns" \
          CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH_DIRS" CNI_ARGS="$POD" ${ENVX:-} "$@" "$P" 2>"$WORK/stderr")
    rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ $rc = 1 ] || fail "$name: exit $rc after $ms ms (want 1): $out $(tail -2 "$WORK/stderr")"
    msg=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["code"]==999, d; print(d["msg"])' "$out") ||
        fail "$name: not a CNI error 999: $out"
    for n in "timed out after $tmo ms" "${needles[@]}"; do
        case $msg in *"$n"*) ;; *) fail "$name: message lacks '$n': $msg" ;; esac
    done
    [ "$ms" -le "$max" ] || fail "$name: took $ms ms (deadline $tmo ms, limit $max ms)"
    ip netns exec "$ns" iptables-legacy-save | grep -q ISTIO && fail "$name: rules left behind"
    echo "ok $name: $ms ms: $msg"
}

# 1. An API server that never answers.
apiserver_start --pods "$SRCDIR/tests/fixtures/pods/injected-cni.json" --delay-ms 60000 >/dev/null || fail apiserver
cp "$KUBECONFIG_FILE" "$WORK/run/istio-cni-kubeconfig"
expect_timeout "hanging API server" 1500 5000 "getting the pod from the API server"
# The runtime's environment overrides the config.
ENVX="ISTIO_CNI_ADD_TIMEOUT_MS=800" expect_timeout "env override" 800 4000 "getting the pod from the API server"
out=$(conf 1500 | env -i CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS="/run/netns/$ns" CNI_IFNAME=eth0 CNI_PATH=/x \
      CNI_ARGS="$POD" ISTIO_CNI_ADD_TIMEOUT_MS=soon "$P" 2>/dev/null)
case $out in *'"code": 4'*'ISTIO_CNI_ADD_TIMEOUT_MS'*'soon'*) echo "ok bad env value named" ;;
    *) fail "bad ISTIO_CNI_ADD_TIMEOUT_MS: $out" ;; esac
apiserver_stop

# 2. A name that never resolves: a UDP port on loopback that reads queries and never replies.
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
while True:
    s.recvfrom(4096)' &
BG+=($!)
printf 'nameserver 127.0.0.1\noptions timeout:30 attempts:5\n' >"$WORK/resolv.conf"
APISERVER_DIR= apiserver_start --pods "$SRCDIR/tests/fixtures/pods/injected-cni.json" >/dev/null || fail apiserver
sed -E 's#server: https://[^:]+:#server: https://apiserver.cnibox-deadline.test:#' "$KUBECONFIG_FILE" >"$WORK/run/istio-cni-kubeconfig"
grep -q 'apiserver.cnibox-deadline.test' "$WORK/run/istio-cni-kubeconfig" || fail "kubeconfig rewrite"
expect_timeout "DNS never answers" 1500 5000 "getting the pod from the API server" "resolving 'apiserver.cnibox-deadline.test' timed out" \
    -- unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$WORK/resolv.conf"

# 3. The pod's xtables lock held by another writer.
cp "$KUBECONFIG_FILE" "$WORK/run/istio-cni-kubeconfig"
# One process holds it (flock(1) would leave its child holding the lock after a kill).
python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)' "/run/netns/$ns" "$WORK/locked" &
BG+=($!)
for _ in $(seq 50); do [ -f "$WORK/locked" ] && break; sleep 0.1; done
[ -f "$WORK/locked" ] || fail "lock holder did not start"
expect_timeout "xtables lock held" 1500 5000 "programming the rules" "xtables lock"
kill "${BG[-1]}" 2>/dev/null
wait "${BG[-1]}" 2>/dev/null
# With the lock free again the same ADD works, within the default deadline.
out=$(conf 0 | env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS="/run/netns/$ns" CNI_IFNAME=eth0 \
      CNI_PATH="$CNI_PATH_DIRS" CNI_ARGS="$POD" "$P" 2>"$WORK/stderr") || fail "ADD after the lock: $out"
ip netns exec "$ns" iptables-legacy-save -t nat | grep -q ISTIO_REDIRECT || fail "no rules after the lock was freed"
echo "ok ADD once the lock is free"
