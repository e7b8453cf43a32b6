# SPDX-License-Identifier: Apache-2.0
# lib.sh: a throwaway "node" for the install-cni tests. The calling script re-executes itself in a
# private mount + network namespace whose root is an overlay of / with every write going to a
# tmpfs (so Istio's fixed paths /host/etc/cni/net.d, /host/opt/cni/bin, /opt/cni/bin,
# /var/run/istio-cni and the service-account dir exist only in there), with fresh tmpfs on /run
# and /tmp, and loopback only. Nothing reaches the machine's /etc/cni, /opt/cni or network, and
# everything goes away with the namespace. The overlay becomes the root by pivot_root.
set -u
# Debian's interpreter: a pyenv shim on PATH costs about 1.5 s per start, and the checks start many.
PY=$(command -v /usr/bin/python3 || command -v python3)
SA_DIR=/var/run/secrets/kubernetes.io/serviceaccount
NET_DIR=/host/etc/cni/net.d
BIN_DIR=/host/opt/cni/bin
RUN_DIR=/var/run/istio-cni
FAILS=0
PASSES=0
pass() { PASSES=$((PASSES + 1)); echo "ok   - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
finish() { echo "$PASSES passed, $FAILS failed"; [ "$FAILS" = 0 ]; exit $?; }

install_enter_sandbox() {
    [ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
    if [ -z "${CNIBOX_INSTALL_SANDBOX:-}" ]; then
        local t rc src bld shared
        t=$(mktemp -d /tmp/cnibox-install.XXXXXX)
        src=$(cd "$SRCDIR" && pwd) bld=$(cd "$(dirname "$CNIBOX")" && pwd)
        shared=$(cd "$src/../shared" 2>/dev/null && pwd || true)
        timeout -k 10 "${INSTALL_TEST_TIMEOUT:-600}" unshare -m -n --propagation private -- bash -c '
            set -e
            t=$1 src=$2 bld=$3 shared=$4; shift 4
            mount -t tmpfs -o mode=0755 cnibox-install "$t"
            mkdir "$t/u" "$t/w" "$t/r"
            mount -t overlay cnibox-install -o "lowerdir=/,upperdir=$t/u,workdir=$t/w" "$t/r"
            for m in proc sys dev; do mount --rbind "/$m" "$t/r/$m"; done
            mount -t tmpfs -o mode=0755 cnibox-run "$t/r/run"
            mount -t tmpfs -o mode=1777 cnibox-tmp "$t/r/tmp"
            # The sources, the build and shared/ may live on other filesystems than /.
            for d in "$src" "$bld" $shared; do mkdir -p "$t/r$d" && mount --bind "$d" "$t/r$d"; done
            # pivot_root, not chroot: a chrooted process may not create user namespaces, and the
            # no-inotify case needs one.
            cd "$t/r" && mkdir -p .oldroot && pivot_root . .oldroot && umount -l /.oldroot && cd /
            exec /usr/bin/env CNIBOX_INSTALL_SANDBOX=1 "$@"' _ "$t" "$src" "$bld" "$shared" \
            bash "$(realpath "$0")" "$@"
        rc=$?
        rmdir "$t" 2>/dev/null
        exit $rc
    fi
    ip link set lo up
    mkdir -p "$NET_DIR" "$BIN_DIR" /opt/cni/bin "$RUN_DIR" "$SA_DIR"
    trap install_cleanup EXIT
}

AGENT_PID=
install_cleanup() {
    agent_kill
    [ -n "${APISERVER_PID:-}" ] && apiserver_stop >/dev/null 2>&1
    return 0
}

# The stand-in API server, and a service-account dir that points at it.
install_setup_api() {
    . "$SRCDIR/tests/apiserver/lib.sh"
    apiserver_require
    APISERVER_DIR=/tmp/apiserver
    mkdir -p "$APISERVER_DIR"
    apiserver_start --pods "$SRCDIR/tests/fixtures/pods" || { echo "cannot start the stand-in API server"; exit 1; }
    cp "$APISERVER_DIR/tls/ca.crt" "$SA_DIR/ca.crt"
    printf %s "$APISERVER_TOKEN" >"$SA_DIR/token"
    printf istio-system >"$SA_DIR/namespace"
    export KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$APISERVER_PORT
}

# The image's plugin binary (what install-cni copies): the cnibox binary, as istio-cni.
install_plugin_source() {
    cp "$CNIBOX" /opt/cni/bin/istio-cni
    chmod 0755 /opt/cni/bin/istio-cni
}

# Empties the node's dirs between scenarios.
install_reset() {
    agent_kill
    rm -rf "${NET_DIR:?}"/* "${BIN_DIR:?}"/* "${RUN_DIR:?}"/*
}

# agent_start [VAR=value...]: runs install-cni in the background, log in $AGENT_LOG.
AGENT_LOG=/tmp/agent.log
agent_start() {
    : >"$AGENT_LOG"
    env "$@" "$CNIBOX" install-cni --log_output_level=default:debug >>"$AGENT_LOG" 2>&1 &
    AGENT_PID=$!
}

# agent_stop: SIGTERM, and wait (bounded) for exit; returns the exit code.
agent_stop() {
    local rc
    [ -n "$AGENT_PID" ] || return 0
    kill -TERM "$AGENT_PID" 2>/dev/null
    timeout 30 tail --pid="$AGENT_PID" -f /dev/null
    wait "$AGENT_PID"
    rc=$?
    AGENT_PID=
    return $rc
}

agent_kill() {
    [ -n "$AGENT_PID" ] || return 0
    kill -KILL "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
    AGENT_PID=
}

# wait_until SECONDS CMD...: polls CMD every 50 ms.
wait_until() {
    local end=$(($(date +%s%N) + $1 * 1000000000))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep 0.05
    done
}

http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1"; }
is_ready() { [ "$(http_code http://127.0.0.1:8000/readyz)" = 200 ]; }
not_ready() { [ "$(http_code http://127.0.0.1:8000/readyz)" = 503 ]; }

# has_istio FILE: a conflist whose LAST plugin is our entry, and only one of them.
has_istio() {
    "$PY" - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
types = [p.get("type") for p in d.get("plugins", [])]
sys.exit(0 if types.count("istio-cni") == 1 and types[-1] == "istio-cni" else 1)
PY
}
no_istio() {
    "$PY" - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if all(p.get("type") != "istio-cni" for p in d.get("plugins", [])) else 1)
PY
}
# strip_istio FILE: what a rival (or an operator) does: rewrite the file without our entry.
strip_istio() {
    "$PY" - "$1" <<'PY'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
d["plugins"] = [x for x in d["plugins"] if x.get("type") != "istio-cni"]
tmp = p + ".rival"
open(tmp, "w").write(json.dumps(d, indent=2))
os.rename(tmp, p)
PY
}
# same_json A B: equal as JSON values (the agent re-serialises with sorted keys).
same_json() { "$PY" -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))==json.load(open(sys.argv[2])) else 1)' "$1" "$2"; }
no_tmp_left() { ! ls -a "$NET_DIR" "$BIN_DIR" "$RUN_DIR" 2>/dev/null | grep -q '\.tmp'; }
