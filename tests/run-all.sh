#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite: install what is missing, build, run every test (unit, golden, end-to-end)
# with CTest, again under ASan+UBSan, then each libFuzzer target for a short fixed time.
# Tests that program rules run only in namespaces they create. Everything after installing the
# dependencies runs under tests/leakcheck.sh, which compares the host's namespaces, temp dirs,
# `ip rule`, routes, iptables and nft state before and after, and fails with a diff on any
# difference. Usage (as root): [LEAKCHECK_PRIVATE=1] tests/run-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != --inside-leak-check ]; then
        [ "$(id -u)" = 0 ] || { echo "run-all: run as root (the end-to-end tests create namespaces)" >&2; exit 1; }
        bash tests/deps.sh
        start=$(date +%s)
        rc=0
        # LEAKCHECK_PRIVATE=1: see only what this run creates (tests/leakcheck.sh --private).
        bash tests/leakcheck.sh ${LEAKCHECK_PRIVATE:+--private} bash "$0" --inside-leak-check || rc=$?
        echo "run-all: $([ $rc = 0 ] && echo PASSED || echo "FAILED (exit $rc)") in $(( $(date +%s) - start )) s"
        exit $rc
fi
jobs=$(nproc 2>/dev/null || echo 2)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}

echo "== build (RelWithDebInfo; the static binary, the default: docs/building.md) =="
# The static binary is what a node runs and what the image ships (issue 15), so the whole suite
# runs against it: unit, golden, conformance, end-to-end, the image and the chart's DaemonSet.
# Its archives come from Debian and from tools/static-deps.sh (pinned source packages, cached).
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
readelf -d build/cnibox | grep -q 'There is no dynamic section' || { echo "run-all: build/cnibox is not static" >&2; exit 1; }
echo "== tests =="
(cd build && ctest --output-on-failure -j1)

echo "== tests under ASan+UBSan (a dynamic build: the sanitizers' runtimes need one) =="
cmake -S . -B build-asan -DCNIBOX_SANITIZE=ON -DCNIBOX_STATIC=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        ctest --output-on-failure -j1)

echo "== fuzz (${FUZZ_SECONDS}s per target) =="
CC=clang cmake -S . -B build-fuzz -DCNIBOX_FUZZ=ON -DCNIBOX_STATIC=OFF -DCNIBOX_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$jobs"
fuzz_pass=0 fuzz_fail=0
for f in build-fuzz/fuzz_*; do
        [ -x "$f" ] || continue
        name=$(basename "$f"); corpus=tests/fuzz/corpus/${name#fuzz_}
        work=$(mktemp -d)
        [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
        if "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/" "$work" \
                >"$work/log" 2>&1; then
                fuzz_pass=$((fuzz_pass + 1)); echo "fuzz $name: ok ($(grep -c . "$work/log") log lines)"
        else
                fuzz_fail=$((fuzz_fail + 1)); echo "fuzz $name: FAILED"; tail -40 "$work/log"
        fi
        rm -rf "$work"
done
echo "fuzz: $fuzz_pass passed, $fuzz_fail failed"
[ "$fuzz_fail" = 0 ]
