#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# api.test.sh: protocol and fault-switch tests of the fake API server (tests/apiserver/api_test.py).
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
for c in python3 openssl timeout; do
    command -v "$c" >/dev/null 2>&1 || { echo "SKIP: $c not found"; exit 77; }
done
exec timeout 120 python3 "$SRCDIR/tests/apiserver/api_test.py"
