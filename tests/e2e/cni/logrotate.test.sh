#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# logrotate.test.sh: the plugin's rolling log (spec istio-cni.md §2.14: 10 MB, one backup) under
# concurrent plugins (issue 11 A8). Each round fills istio-cni.log past 10 MB with marked filler,
# then starts 30 plugins at once (DEL: no API server, no netns needed). Exactly one of them may
# rotate: the backup must hold all the filler, and every plugin's line must be in one of the two
# files. Before the fix two plugins both rotated and the second renamed the fresh file over the
# backup, losing it. Needs no root.
set -u
: "${CNIBOX:?}"
"$CNIBOX" --list 2>/dev/null | grep -q '^istio-cni ' || { echo "SKIP: istio-cni applet missing"; exit 77; }
WORK=$(mktemp -d /tmp/cnibox-logrotate.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
N=30
# Rounds 3-4 widen the race window the way a loaded node does: strace delays plugin i's rename by
# i × 5 ms, so all of them have seen the full file before the first rotation, and each later
# rename comes after an earlier plugin has already created the fresh file.
slow_for() { # ROUND I
    if [ "$1" -ge 3 ] && command -v strace >/dev/null && strace -qq -o /dev/null true 2>/dev/null; then
        echo "strace -qq -f -o /dev/null -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:delay_enter=$(($2 * 5000))"
    fi
}
line='{"time":"2026-01-01T00:00:00.000000Z","level":"info","msg":"filler-ROUND padding padding padding padding padding padding padding padding","scope":"istio-cni"}'
for round in 1 2 3 4; do
    run=$WORK/run$round
    mkdir -p "$run"
    l=${line/ROUND/$round}
    # 10 MiB + a bit, in whole lines.
    want=$(( (10 * 1024 * 1024) / (${#l} + 1) + 10 ))
    yes "$l" | head -n "$want" >"$run/istio-cni.log"
    conf='{"cniVersion":"1.0.0","name":"t","type":"istio-cni","cni_agent_run_dir":"'"$run"'"}'
    # A gate: every plugin's stdin waits on a FIFO, so all of them reach the rotation together.
    gate=$WORK/gate$round
    mkfifo "$gate"
    pids=()
    for i in $(seq 1 $N); do
        SLOW=$(slow_for "$round" "$i")
        # LeakSanitizer cannot run under ptrace: an ASan build skips the leak check in those rounds.
        { cat "$gate" >/dev/null; printf '%s' "$conf"; } | env -i CNI_COMMAND=DEL CNI_CONTAINERID="c$round-$i" \
            CNI_IFNAME=eth0 CNI_PATH=/x ${SLOW:+ASAN_OPTIONS=detect_leaks=0} $SLOW "$CNIBOX" istio-cni \
            >/dev/null 2>"$run/stderr-$i" &
        pids+=($!)
    done
    sleep 0.5
    exec 3>"$gate"
    exec 3>&-
    i=0
    for p in "${pids[@]}"; do
        i=$((i + 1))
        wait "$p" || fail "round $round: DEL $i failed: $(tail -3 "$run/stderr-$i")"
    done
    [ -f "$run/istio-cni.log.1" ] || fail "round $round: no backup"
    got=$(grep -c "filler-$round" "$run/istio-cni.log.1")
    [ "$got" = "$want" ] || fail "round $round: backup holds $got filler lines of $want (a second rotation replaced it)"
    grep -q "filler" "$run/istio-cni.log" && fail "round $round: filler in the new file"
    dels=$(cat "$run/istio-cni.log" "$run/istio-cni.log.1" | grep -c 'DEL: nothing to remove')
    [ "$dels" = "$N" ] || fail "round $round: $dels of $N plugin lines kept"
    echo "ok round $round: one rotation, $want filler lines in the backup, $N plugin lines kept"
done
