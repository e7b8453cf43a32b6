#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# busy.test.sh: 15001 and 15006 held by another uid without SO_REUSEPORT: bind-failed, at once.
. "$(dirname "$0")/lib.sh"
need_root
[ "$MODE" = driver ] || [ -x "${BUILDDIR:-}/test_validate" ] || { echo "SKIP: needs test_validate --hold"; exit 77; }

run_case "15001+15006 busy (v4)"            126 "bind-failed"       case_busy 4 2000
run_case "15001+15006 busy (v6)"            126 "bind-failed"       case_busy 6 2000
finish
