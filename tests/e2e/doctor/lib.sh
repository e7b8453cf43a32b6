# SPDX-License-Identifier: Apache-2.0
# lib.sh: helpers of the doctor e2e tests (docs/doctor.md). Each test runs doctor against a temp
# root with fake runtime and CNI files (--root), never the host's /etc or /opt.
set -u
: "${CNIBOX:=}"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

need_cnibox() {
        [ -n "$CNIBOX" ] && [ -x "$CNIBOX" ] || { echo "SKIP: \$CNIBOX not set"; exit 77; }
        "$CNIBOX" --list 2>/dev/null | grep -qw doctor || { echo "SKIP: no doctor applet"; exit 77; }
}

# expect NAME CODE NEEDLE CMD...: runs CMD, checks its exit code and that stdout+stderr holds
# NEEDLE (a fixed string); prints the output on failure.
expect() {
        local name=$1 want=$2 needle=$3 code out
        shift 3
        out=$(timeout 60 "$@" 2>&1)
        code=$?
        if [ "$code" != "$want" ]; then
                fail "$name: exit $code, expected $want"; printf '%s\n' "$out" | sed 's/^/    /'
        elif [ -n "$needle" ] && ! printf '%s' "$out" | grep -qF -- "$needle"; then
                fail "$name: output lacks '$needle'"; printf '%s\n' "$out" | sed 's/^/    /'
        else
                echo "ok: $name"
        fi
        LAST_OUT=$out
}

# A JWT whose payload is {"exp": $1} (unsigned: doctor never verifies signatures).
jwt_exp() {
        /usr/bin/python3 - "$1" <<'PY'
import base64, json, sys
b = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
print(b({"alg": "RS256"}) + "." + b({"iss": "kubernetes/serviceaccount", "exp": int(sys.argv[1])}) + ".c2ln")
PY
}

# A minimal static ELF64 executable (one PT_LOAD, no PT_INTERP), without a compiler.
static_elf() {
        /usr/bin/python3 - "$1" <<'PY'
import struct, sys
eh = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + b"\0" * 9, 2, 62, 1, 0x400078, 64, 0, 0, 64, 56, 1, 0, 0, 0)
ph = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, 0x80, 0x80, 0x1000)
code = b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05"  # exit(0)
open(sys.argv[1], "wb").write(eh + ph + code)
PY
        chmod 0755 "$1"
}

# make_root DIR: a containerd node with a primary CNI config, istio-cni chained in, a static
# istio-cni, and a kubeconfig whose token is valid for an hour. Tests then break one thing.
make_root() {
        local r=$1
        mkdir -p "$r/etc/containerd" "$r/etc/cni/net.d" "$r/opt/cni/bin" "$r/var/run/istio-cni"
        cat > "$r/etc/containerd/config.toml" <<'T'
# containerd 1.7, as kubeadm guides write it
version = 2
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/opt/cni/bin"
      conf_dir = "/etc/cni/net.d"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = true
T
        cat > "$r/etc/cni/net.d/10-bridge.conflist" <<'T'
{
  "cniVersion": "0.3.1",
  "name": "k8s-pod-network",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local", "subnet": "10.22.0.0/16"}},
    {"type": "istio-cni", "name": "istio-cni", "cni_agent_run_dir": "/var/run/istio-cni"}
  ]
}
T
        static_elf "$r/opt/cni/bin/bridge"
        static_elf "$r/opt/cni/bin/istio-cni"
        write_kubeconfig "$r" $(( $(date +%s) + 3600 ))
        # The config predates the install, as after a normal install-cni pass.
        touch -d '-1 hour' "$r/etc/cni/net.d/10-bridge.conflist"
}

write_kubeconfig() {
        cat > "$1/var/run/istio-cni/istio-cni-kubeconfig" <<T
apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://10.96.0.1:443
    insecure-skip-tls-verify: true
  name: local
contexts:
- context:
    cluster: local
    user: istio-cni
  name: istio-cni-context
current-context: istio-cni-context
users:
- name: istio-cni
  user:
    token: $(jwt_exp "$2")
T
}
