#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# layers.test.sh: every "layer/module.h" include in lib/ respects the layer rule of
# docs/ARCHITECTURE.md, so the tree keeps showing which subsystem may use which.
set -uo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
declare -A ALLOWED=(
        [base]="base"
        [rules]="base rules"
        [kernel]="base rules kernel"
        [kube]="base kube"
        [cni]="base rules kube cni"
        [agent]="base rules kernel kube cni agent"
)
fails=0 checked=0
for dir in "$SRCDIR"/lib/*/; do
        layer=$(basename "$dir")
        if [ -z "${ALLOWED[$layer]+x}" ]; then
                echo "FAIL - lib/$layer/ is not a layer of docs/ARCHITECTURE.md"; fails=$((fails + 1)); continue
        fi
        for f in "$dir"*.[ch]; do
                [ -e "$f" ] || continue
                while IFS= read -r inc; do
                        checked=$((checked + 1))
                        case $inc in
                        */*) ;;
                        *) echo "FAIL - ${f#"$SRCDIR"/}: #include \"$inc\" names no layer"; fails=$((fails + 1)); continue ;;
                        esac
                        want=${inc%%/*}
                        case " ${ALLOWED[$layer]} " in
                        *" $want "*) ;;
                        *) echo "FAIL - ${f#"$SRCDIR"/}: $layer/ may not include $inc"; fails=$((fails + 1)) ;;
                        esac
                done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
        done
done
[ -e "$SRCDIR"/lib/*.c ] 2>/dev/null && { echo "FAIL - source files directly under lib/"; fails=$((fails + 1)); }
echo "$checked includes checked"
echo "$((checked - fails)) passed, $fails failed"
[ "$fails" = 0 ]
