#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# leakcheck.sh: runs a command and fails if it left state behind on the host (the "tests leave
# nothing behind" rule; issue 11 B). tests/run-all.sh runs the whole suite through it; a developer
# can run it around one ctest invocation:
#
#   tests/leakcheck.sh ctest --test-dir build -R nftables --output-on-failure
#
# It only reads the host's state, before and after the command, and compares:
#   - named network namespaces (/run/netns), top-level /run entries, /tmp/cnibox*, and what is left
#     in a private TMPDIR it gives the command (so a plain `mktemp` that is never removed shows up);
#   - anything under /etc/cni, /opt/cni and /var/run/istio-cni, and cgroups named *cnibox*;
#   - the host netns: link names, `ip rule` and `ip route show table all` (IPv4 and IPv6),
#     iptables-legacy-save, ip6tables-legacy-save, iptables-nft-save, ip6tables-nft-save and
#     `nft list ruleset`, with packet counters and timestamps masked.
# Exit status: the command's, if it failed; otherwise 1 with a diff if anything differs, else 0.
# Root only (it reads the host's rules). Other work on the machine that changes these (another
# test run, a container starting) shows up as a difference too: run it on a quiet machine, or
# with --private on a shared one:
#
#   tests/leakcheck.sh --private COMMAND [ARGS...]
#
# runs the check and COMMAND in a mount namespace of their own, with an empty tmpfs on /run/netns
# and on /tmp, so only what COMMAND creates there is seen (and it goes away with the namespace).
# The host's network state is still the real one. COMMAND's files must then not be under /tmp.
set -uo pipefail
if [ "${1:-}" = --private ] && [ -z "${CNIBOX_LEAKCHECK_PRIVATE:-}" ]; then
        shift
        [ "$(id -u)" = 0 ] || { echo "leak-check: needs root" >&2; exit 2; }
        case $PWD/ in /tmp/*) echo "leak-check: --private hides /tmp; run from elsewhere" >&2; exit 2 ;; esac
        exec env CNIBOX_LEAKCHECK_PRIVATE=1 unshare -m --propagation private -- bash "$0" --private "$@"
fi
if [ "${1:-}" = --private ]; then
        shift
        mkdir -p /run/netns && mount -t tmpfs -o mode=755 cnibox-leakcheck /run/netns &&
                mount -t tmpfs -o mode=1777 cnibox-leakcheck /tmp ||
                { echo "leak-check: cannot mount the private /run/netns and /tmp" >&2; exit 2; }
fi
[ $# -ge 1 ] || { echo "usage: tests/leakcheck.sh [--private] COMMAND [ARGS...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "leak-check: needs root (it reads the host's iptables and nft state)" >&2; exit 2; }

# snapshot: the host's state as text, one section per source, on stdout. Read-only: no `-t TABLE`
# for the iptables tools (that could instantiate a table), no modprobe.
snapshot() {
        local t
        echo "## /run/netns"; ls -1A /run/netns 2>/dev/null | sort
        echo "## /run"; ls -1A /run 2>/dev/null | sort
        echo "## /tmp/cnibox*"; find /tmp -maxdepth 1 -name 'cnibox*' 2>/dev/null | sort
        echo "## TMPDIR ($LEAK_TMPDIR)"; (cd "$LEAK_TMPDIR" && find . -mindepth 1 -maxdepth 2 | sort)
        echo "## /etc/cni /opt/cni /var/run/istio-cni"
        find /etc/cni /opt/cni /var/run/istio-cni 2>/dev/null | sort
        echo "## cgroups *cnibox*"; find /sys/fs/cgroup -maxdepth 4 -type d -name '*cnibox*' 2>/dev/null | sort
        echo "## links"; ip -o link show 2>&1 | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
        echo "## ip -4 rule"; ip -4 rule show 2>&1
        echo "## ip -6 rule"; ip -6 rule show 2>&1
        # `expires` (RA routes, PMTU exceptions) counts down on its own.
        echo "## ip -4 route"; ip -4 route show table all 2>&1 | sed 's/ expires [0-9]*sec//' | sort
        echo "## ip -6 route"; ip -6 route show table all 2>&1 | sed 's/ expires [0-9]*sec//' | sort
        for t in iptables-legacy-save ip6tables-legacy-save iptables-nft-save ip6tables-nft-save; do
                echo "## $t"
                if command -v "$t" >/dev/null; then
                        "$t" 2>&1 | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]/[0:0]/g'
                else
                        echo "(not installed)"
                fi
        done
        echo "## nft list ruleset"
        if command -v nft >/dev/null; then
                nft list ruleset 2>&1 | sed -e 's/counter packets [0-9]* bytes [0-9]*/counter/g' \
                        -e 's/ expires [0-9hms.]*//g'
        else
                echo "(not installed)"
        fi
}

LEAK_TMPDIR=$(mktemp -d /tmp/cnibox-leakcheck.XXXXXX) || exit 2
chmod 1777 "$LEAK_TMPDIR" # like /tmp: the tests run helpers as other uids
before=$LEAK_TMPDIR.before after=$LEAK_TMPDIR.after
cleanup() { rm -rf "$LEAK_TMPDIR"; rm -f "$before" "$after"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Our own files are in the snapshot's /tmp/cnibox* listing, before and after alike.
: >"$after"
snapshot >"$before"
TMPDIR=$LEAK_TMPDIR "$@"
rc=$?
snapshot >"$after"

if ! diff -u --label before --label after "$before" "$after" >"$LEAK_TMPDIR.diff"; then
        echo "leak-check: FAILED: the host's state differs after: $*" >&2
        cat "$LEAK_TMPDIR.diff" >&2
        rm -f "$LEAK_TMPDIR.diff"
        [ "$rc" = 0 ] && rc=1
        exit "$rc"
fi
rm -f "$LEAK_TMPDIR.diff"
echo "leak-check: nothing left behind (netns, temp dirs, links, ip rules, routes, iptables, nft) by: $*"
exit "$rc"
