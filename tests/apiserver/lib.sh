# SPDX-License-Identifier: Apache-2.0
# lib.sh: shell helpers to run the fake API server in a test (see tests/apiserver/README.md).
# Source it, then: apiserver_start [extra server flags...]; it sets APISERVER_PORT, APISERVER_DIR,
# APISERVER_TOKEN, KUBECONFIG_FILE and registers cleanup via apiserver_stop (call it from your trap).

APISERVER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

apiserver_require() {
    local c
    for c in python3 openssl curl "$@"; do
        command -v "$c" >/dev/null 2>&1 || { echo "SKIP: $c not found"; exit 77; }
    done
}

# Every directory apiserver_start created (it holds a test CA key and a token). apiserver_stop
# removes them all: a caller's `APISERVER_DIR= apiserver_start` scopes APISERVER_DIR to that one
# call, so apiserver_stop cannot rely on it naming the directory (that leaked one per call).
APISERVER_DIRS_MADE=()

# apiserver_start [server flags...]: certs + server on a free loopback port + kubeconfig.
apiserver_start() {
    if [ -z "${APISERVER_DIR:-}" ]; then
        APISERVER_DIR=$(mktemp -d /tmp/cnibox-apiserver.XXXXXX) || return 1
        APISERVER_DIRS_MADE+=("$APISERVER_DIR")
    fi
    APISERVER_TOKEN=${APISERVER_TOKEN:-tok-$$-$RANDOM}
    "$APISERVER_SRC/gen-certs.sh" "$APISERVER_DIR/tls" || return 1
    rm -f "$APISERVER_DIR/ready"
    # --port 0: the kernel picks a free port, the server writes it to the ready file (no race).
    python3 "$APISERVER_SRC/fake_apiserver.py" --port 0 --tls-dir "$APISERVER_DIR/tls" \
        --token "$APISERVER_TOKEN" --ready-file "$APISERVER_DIR/ready" --parent-pid $$ "$@" \
        >"$APISERVER_DIR/server.log" 2>&1 &
    APISERVER_PID=$!
    local i
    for i in $(seq 1 100); do   # at most 10 s
        [ -s "$APISERVER_DIR/ready" ] && break
        kill -0 "$APISERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -s "$APISERVER_DIR/ready" ]; then
        echo "fake apiserver did not start:" >&2
        cat "$APISERVER_DIR/server.log" >&2
        return 1
    fi
    APISERVER_PORT=$(cat "$APISERVER_DIR/ready")
    KUBECONFIG_FILE=$APISERVER_DIR/kubeconfig
    "$APISERVER_SRC/gen-kubeconfig.sh" "$KUBECONFIG_FILE" "$APISERVER_PORT" "$APISERVER_DIR/tls" \
        "$APISERVER_TOKEN"
}

apiserver_stop() {
    if [ -n "${APISERVER_PID:-}" ]; then
        kill "$APISERVER_PID" 2>/dev/null
        local i
        for i in $(seq 1 30); do kill -0 "$APISERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$APISERVER_PID" 2>/dev/null
        wait "$APISERVER_PID" 2>/dev/null
        APISERVER_PID=
    fi
    if [ -z "${KEEP_TMP:-}" ]; then
        local d
        for d in "${APISERVER_DIR:-}" "${APISERVER_DIRS_MADE[@]}"; do [ -n "$d" ] && rm -rf "$d"; done
        APISERVER_DIRS_MADE=()
        APISERVER_DIR=
    fi
    return 0
}

# apiserver_curl PATH [curl args...]: authenticated request; prints the body.
apiserver_curl() {
    local path=$1
    shift
    curl -sS --max-time 10 --cacert "$APISERVER_DIR/tls/ca.crt" \
        -H "Authorization: Bearer $APISERVER_TOKEN" "$@" "https://127.0.0.1:$APISERVER_PORT$path"
}

# apiserver_admin METHOD PATH [JSON]: admin endpoint (no token needed).
apiserver_admin() {
    local m=$1 path=$2 body=${3:-}
    if [ -n "$body" ]; then
        curl -sS --max-time 10 --cacert "$APISERVER_DIR/tls/ca.crt" -X "$m" \
            -H 'Content-Type: application/json' --data "$body" "https://127.0.0.1:$APISERVER_PORT$path"
    else
        curl -sS --max-time 10 --cacert "$APISERVER_DIR/tls/ca.crt" -X "$m" \
            "https://127.0.0.1:$APISERVER_PORT$path"
    fi
}
