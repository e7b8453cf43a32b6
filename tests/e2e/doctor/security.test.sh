#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# security.test.sh: doctor's SELinux and AppArmor checks. In a private mount namespace
# (`unshare -m`), tmpfs over /sys/fs and /sys/module stands in for an SELinux-enforcing and an
# AppArmor-enabled kernel; the process context comes from the CNIBOX_TEST_SELF_CONTEXT hook (no
# test can relabel itself). Asserts each status and fix text. Needs root.
. "$(dirname "$0")/lib.sh"
need_cnibox
if [ "${1:-}" != --inside ]; then
        [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null || { echo "SKIP: needs root and unshare -m"; exit 77; }
        exec timeout 120 unshare -m bash "$0" --inside
fi
D=("$CNIBOX" doctor --only limits)

mount -t tmpfs doctor-selinux /sys/fs && mount -t tmpfs doctor-apparmor /sys/module || { echo "SKIP: cannot mount over /sys"; exit 77; }
mkdir -p /sys/fs/selinux /sys/module/apparmor/parameters
echo 1 > /sys/fs/selinux/enforce
echo Y > /sys/module/apparmor/parameters/enabled

expect selinux-confined 2 "fix: the istio-cni DaemonSet must run as spc_t to write the host's CNI dirs: keep the chart's seLinuxOptions (type spc_t;" \
        env CNIBOX_TEST_SELF_CONTEXT=system_u:system_r:container_t:s0:c1,c2 "${D[@]}"
expect selinux-spc 0 "ok    security.selinux           SELinux enforcing; the DaemonSet needs seLinuxOptions type spc_t" \
        env CNIBOX_TEST_SELF_CONTEXT=system_u:system_r:spc_t:s0 "${D[@]}"
echo 0 > /sys/fs/selinux/enforce
expect selinux-permissive 0 "SELinux permissive" env CNIBOX_TEST_SELF_CONTEXT=unconfined "${D[@]}"
expect apparmor-confined 2 "fix: run the istio-cni DaemonSet unconfined (securityContext.appArmorProfile type Unconfined)" \
        env "CNIBOX_TEST_SELF_CONTEXT=cri-containerd.apparmor.d (enforce)" "${D[@]}"
expect apparmor-unconfined 0 "AppArmor enabled; this process is unconfined" env CNIBOX_TEST_SELF_CONTEXT=unconfined "${D[@]}"

[ "$FAILS" = 0 ] && echo "all doctor security cases passed" || { echo "$FAILS failure(s)"; exit 1; }
