#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# node.test.sh: `cnibox doctor` on a temp root (--root) with fake runtime and CNI files, one broken
# thing per case, each asserting the status, the exit code (0 ok, 1 fail, 2 warn) and the fix text
# (docs/doctor.md). Kernel checks run in a private netns; the legacy-only kernel is simulated with
# detection's own test hook. Runs as root inside `unshare -n`.
. "$(dirname "$0")/lib.sh"
need_cnibox
if [ "${1:-}" != --inside ]; then
        [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null || { echo "SKIP: needs root and unshare -n"; exit 77; }
        exec timeout 300 unshare -n bash "$0" --inside
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
D=("$CNIBOX" doctor --metrics-url "")

# --- healthy-ish: every cni check ok ---
make_root "$TMP/ok"
expect healthy 0 "ok    cni.binary" "${D[@]}" --root "$TMP/ok" --only cni
for id in cni.runtime cni.paths cni.config cni.kubeconfig cni.rival_writer; do
        printf '%s\n' "$LAST_OUT" | grep -q "^ok    $id " || fail "healthy: $id not ok"
done
expect healthy-static 0 "istio-cni: /opt/cni/bin/istio-cni, static ELF64" "${D[@]}" --root "$TMP/ok" --only cni
"${D[@]}" --root "$TMP/ok" --json > "$TMP/ok.json"
/usr/bin/python3 - "$TMP/ok.json" <<'PY' && echo "ok: json-schema" || fail "json-schema"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == 1 and set(d) == {"version", "checks", "summary"}
for c in d["checks"]:
    assert set(c) == {"id", "status", "summary", "evidence", "fix"}, c
    assert c["status"] in ("ok", "warn", "fail")
    assert (c["fix"] is None) == (c["status"] == "ok"), c
    assert all(isinstance(e, str) for e in c["evidence"])
s = d["summary"]
assert s["ok"] + s["warn"] + s["fail"] == len(d["checks"])
PY

# --- a legacy-only kernel (detection's facts forced: nf_tables unusable) ---
expect legacy-only 2 "fix: capture works with legacy iptables, but distributions are dropping it (EKS 1.33, RHEL 10): load nf_tables (modprobe nf_tables nft_chain_nat)" \
        env CNIBOX_TEST_DETECT_UNUSABLE=nft "${D[@]}" --only kernel
printf '%s\n' "$LAST_OUT" | grep -q "^warn  kernel.nftables" || fail "legacy-only: kernel.nftables not warn"
# Nothing usable at all: fail.
expect no-backend 1 "fix: the kernel has neither a usable legacy nat table nor nf_tables" \
        env CNIBOX_TEST_DETECT_UNUSABLE=legacy,nft "${D[@]}" --only kernel

# --- a missing conf dir ---
make_root "$TMP/noconf"
rm -rf "$TMP/noconf/etc/cni/net.d"
expect missing-conf-dir 1 "fix: install the primary CNI first (it creates /etc/cni/net.d)" "${D[@]}" --root "$TMP/noconf" --only cni

# --- a config without our plugin ---
make_root "$TMP/noplugin"
cat > "$TMP/noplugin/etc/cni/net.d/10-bridge.conflist" <<'T'
{"cniVersion": "0.3.1", "name": "k8s-pod-network", "plugins": [{"type": "bridge"}]}
T
expect no-plugin 1 "fix: install-cni has not chained istio-cni into /etc/cni/net.d/10-bridge.conflist" \
        "${D[@]}" --root "$TMP/noplugin" --only cni

# --- a dynamic binary in the bin dir ---
make_root "$TMP/dynamic"
cp /bin/true "$TMP/dynamic/opt/cni/bin/istio-cni"
expect dynamic-binary 1 "fix: the plugin runs on the host, whose loader and libraries are not the image's: install the static istio-cni" \
        "${D[@]}" --root "$TMP/dynamic" --only cni
printf '%s\n' "$LAST_OUT" | grep -q "is dynamically linked (PT_INTERP /lib" || fail "dynamic-binary: no PT_INTERP evidence"

# --- an expired token ---
make_root "$TMP/expired"
write_kubeconfig "$TMP/expired" $(( $(date +%s) - 60 ))
expect expired-token 1 "rotates: it is not running or not watching; restart it (kubectl -n istio-system rollout restart ds/istio-cni-node)" \
        "${D[@]}" --root "$TMP/expired" --only cni
printf '%s\n' "$LAST_OUT" | grep -q "^fail  cni.kubeconfig .*expired" || fail "expired-token: summary"

# --- runtime paths: k3s moves the dirs; install-cni's defaults then miss them ---
make_root "$TMP/k3s"
mkdir -p "$TMP/k3s/var/lib/rancher/k3s/agent/etc/containerd"
cat > "$TMP/k3s/var/lib/rancher/k3s/agent/etc/containerd/config.toml" <<'T'
version = 3
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["/var/lib/rancher/k3s/data/cni"]
  conf_dir = "/var/lib/rancher/k3s/agent/etc/cni/net.d"
T
expect k3s-paths 1 "--reuse-values --set cniConfDir=/var/lib/rancher/k3s/agent/etc/cni/net.d" "${D[@]}" --root "$TMP/k3s" --only cni
printf "%s\n" "$LAST_OUT" | grep -qF -- "--set cniConfDir=/var/lib/rancher/k3s/agent/etc/cni/net.d --set cniBinDir=/var/lib/rancher/k3s/data/cni" || fail "k3s-paths: not one helm command for both"
# CRI-O with a drop-in that moves the plugin dir.
make_root "$TMP/crio"
rm "$TMP/crio/etc/containerd/config.toml"
mkdir -p "$TMP/crio/etc/crio/crio.conf.d"
printf '[crio.network]\nnetwork_dir = "/etc/cni/net.d/"\nplugin_dirs = ["/opt/cni/bin/"]\n' > "$TMP/crio/etc/crio/crio.conf"
printf '[crio.network]\nplugin_dirs = [\n  "/usr/libexec/cni",  # RHCOS\n]\n' > "$TMP/crio/etc/crio/crio.conf.d/10-rhcos.conf"
expect crio-dropin 1 "--set cniBinDir=/usr/libexec/cni" "${D[@]}" --root "$TMP/crio" --only cni
# A broken runtime config is a warning naming the line, and the defaults are assumed.
make_root "$TMP/badtoml"
printf 'version = 2\n[plugins\n' > "$TMP/badtoml/etc/containerd/config.toml"
expect bad-toml 2 "/etc/containerd/config.toml: line 2: expected ']' after a table name" "${D[@]}" --root "$TMP/badtoml" --only cni

# --- a rival writer: the config changed after the install ---
make_root "$TMP/rival"
touch -d '-10 minutes' "$TMP/rival/opt/cni/bin/istio-cni" "$TMP/rival/var/run/istio-cni/istio-cni-kubeconfig"
touch "$TMP/rival/etc/cni/net.d/10-bridge.conflist"
expect rival-mtime 2 "fix: another writer may be rewriting /etc/cni/net.d/10-bridge.conflist" "${D[@]}" --root "$TMP/rival" --only cni

# --- a rival writer: the agent's own counters, served as its /metrics would be ---
ip link set lo up
mkdir -p "$TMP/metrics"
printf '# TYPE cnibox_install_rival_rewrites_total counter\ncnibox_install_rival_rewrites_total 3\ncnibox_install_config_fights_total 0\n' \
        > "$TMP/metrics/metrics"
(cd "$TMP/metrics" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 15914 >/dev/null 2>&1) &
HTTPD=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/15914) 2>/dev/null && break; sleep 0.1; done
expect rival-metrics 2 "fix: two agents fight over /etc/cni/net.d/10-bridge.conflist" \
        "$CNIBOX" doctor --root "$TMP/ok" --only cni --metrics-url http://127.0.0.1:15914
printf '%s\n' "$LAST_OUT" | grep -qF "cnibox_install_rival_rewrites_total 3" || fail "rival-metrics: evidence"
kill $HTTPD; wait $HTTPD 2>/dev/null

# --- exhausted inotify limits, in a user namespace of our own (never /proc/sys/fs/inotify) ---
if unshare -U -r true 2>/dev/null; then
        expect inotify-exhausted 1 "fix: sysctl -w user.max_inotify_instances=1024" \
                unshare -U -r sh -c 'echo 0 > /proc/sys/user/max_inotify_instances && exec "$@"' sh "${D[@]}" --only limits
else
        echo "skip: inotify-exhausted (no unshare -U)"
fi

# --- without privileges: "cannot tell", never a kernel verdict ---
if command -v setpriv >/dev/null && setpriv --reuid=1337 --regid=1337 --clear-groups test -x "$CNIBOX"; then
        expect unprivileged 2 "fix: run doctor as root (CAP_NET_ADMIN to read netfilter, CAP_SYS_ADMIN for the scratch netns)" \
                setpriv --reuid=1337 --regid=1337 --clear-groups "${D[@]}" --only kernel,node
        printf '%s\n' "$LAST_OUT" | grep -q "^fail" && fail "unprivileged: a fail verdict without the rights to ask"
else
        echo "skip: unprivileged (uid 1337 cannot run $CNIBOX)"
fi

# --- command line ---
expect bad-only 255 'unknown section "nope"' "${D[@]}" --only nope
expect pod-needs-netns 255 "need --pod-netns" "${D[@]}" --only pod
expect help 0 "Usage: doctor" "$CNIBOX" doctor --help

[ "$FAILS" = 0 ] && echo "all doctor node cases passed" || { echo "$FAILS failure(s)"; exit 1; }
