#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/size/run.sh [BUILDDIR]: the static cnibox's stripped size, and what each library puts in
# it (issue 15 §4). Sums the kept input sections (.text, .rodata, .data, .bss and the like; no
# debug info) of the link map the static build writes (BUILDDIR/cnibox.map), per archive; then
# `size` of the stripped binary and the largest symbols (`nm --size-sort`).
set -euo pipefail
B=${1:-build}
[ -f "$B/cnibox.map" ] || { echo "size bench: no $B/cnibox.map (configure with -DCNIBOX_STATIC=ON and build)" >&2; exit 1; }
S=$(mktemp)
trap 'rm -f "$S"' EXIT
strip -o "$S" "$B/cnibox"
printf 'stripped %s: %d bytes (%.2f MB)\n' "$B/cnibox" "$(stat -c %s "$S")" "$(echo "$(stat -c %s "$S") / 1000000" | bc -l)"
size "$S" | sed 's/^/  /'
python3 - "$B/cnibox.map" <<'PY'
import re, sys, collections
sizes = collections.Counter()
inmap = False
pending = None
sec_re = re.compile(r'^ (\.(?:text|rodata|data|bss|tbss|tdata|init_array|fini_array|data\.rel\.ro|gcc_except_table|eh_frame)\S*)\s*(.*)$')
ent_re = re.compile(r'^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$')
def owner(path):
    m = re.search(r'([^/]+\.a)\(', path)
    if m:
        return m.group(1)
    if 'CMakeFiles' in path or path.endswith('.o'):
        return 'cnibox (own code)' if 'CMakeFiles' in path else path.rsplit('/', 1)[-1]
    return path.rsplit('/', 1)[-1]
for line in open(sys.argv[1], errors='replace'):
    if line.startswith('Linker script and memory map'):
        inmap = True
        continue
    if not inmap:
        continue
    m = sec_re.match(line)
    if m:
        rest = m.group(2)
        if not rest:
            pending = m.group(1)
            continue
        e = ent_re.match(' ' + rest)
        if e:
            sizes[owner(e.group(3))] += int(e.group(2), 16)
        pending = None
        continue
    if pending:
        e = ent_re.match(line)
        if e:
            sizes[owner(e.group(3))] += int(e.group(2), 16)
        pending = None
total = sum(sizes.values())
print(f'loaded sections by library (link map), total {total} bytes:')
for k, v in sizes.most_common():
    if v * 1000 >= total:
        print(f'  {k:28s} {v:9d}  {100 * v / total:5.1f} %')
print(f'  {"(others < 0.1 %)":28s} {sum(v for v in sizes.values() if v * 1000 < total):9d}')
PY
echo "largest symbols (nm --size-sort, unstripped):"
nm --size-sort -S -r "$B/cnibox" | head -12 | sed 's/^/  /'
