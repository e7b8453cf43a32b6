#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# faults.test.sh: the fake API server's fault switches seen from curl (delay, fixed status, dropped
# connection, malformed body, path_regex/count scoping, request log). Used to test our kube client.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/apiserver/lib.sh"
apiserver_require
trap apiserver_stop EXIT
trap 'exit 1' INT TERM
apiserver_start --pods "$SRCDIR/tests/fixtures/pods" || exit 1

fails=0
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; fails=$((fails + 1)); }
P=/api/v1/namespaces/default/pods/productpage-v1-6b746f74dc-9rlzx

code=$(apiserver_curl $P -o /dev/null -w '%{http_code}')
[ "$code" = 200 ] && pass "baseline GET 200" || fail "baseline: $code"

apiserver_admin POST /__admin/faults '{"status":500,"count":1,"path_regex":"productpage"}' >/dev/null
c1=$(apiserver_curl $P -o /dev/null -w '%{http_code}')
c2=$(apiserver_curl $P -o /dev/null -w '%{http_code}')
[ "$c1/$c2" = 500/200 ] && pass "status fault with count=1" || fail "status fault: $c1/$c2"

apiserver_admin POST /__admin/faults '{"delay_ms":600,"count":1}' >/dev/null
t=$(apiserver_curl $P -o /dev/null -w '%{time_total}')
python3 -c "import sys; sys.exit(0 if float('$t') >= 0.6 else 1)" && pass "delay fault (${t}s)" \
    || fail "delay: $t"

apiserver_admin POST /__admin/faults '{"drop":true,"count":1}' >/dev/null
apiserver_curl $P -o /dev/null 2>/dev/null; rc=$?
[ $rc -eq 52 ] || [ $rc -eq 56 ] || [ $rc -eq 35 ] && pass "drop fault (curl rc=$rc)" || fail "drop: rc=$rc"

apiserver_admin POST /__admin/faults '{"malformed":true,"count":1}' >/dev/null
apiserver_curl $P | python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null \
    && fail "malformed fault gave valid JSON" || pass "malformed fault"

apiserver_admin POST /__admin/faults '{"status":503,"path_regex":"watch=1"}' >/dev/null
c1=$(apiserver_curl '/api/v1/pods?watch=1&timeoutSeconds=1' -o /dev/null -w '%{http_code}')
c2=$(apiserver_curl '/api/v1/pods' -o /dev/null -w '%{http_code}')
[ "$c1/$c2" = 503/200 ] && pass "path_regex scopes a fault to watches" || fail "regex: $c1/$c2"
apiserver_admin DELETE /__admin/faults >/dev/null

n=$(apiserver_admin GET /__admin/requests | python3 -c \
    'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r.get("fault")))')
[ "$n" = 5 ] && pass "request log records the 5 faulted requests" || fail "log: $n"

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all fault checks passed"
