#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# mkimage.py: writes a one-layer OCI image archive (image-layout 1.0.0, as `ctr images import`
# reads it) holding one static binary as its entrypoint. The runtime e2e tests build their pod
# sandbox ("pause") image with it, since nothing can be pulled.
#   mkimage.py BINARY IMAGE-NAME OUT.tar      e.g. mkimage.py pause cnibox.local/pause:1 pause.tar
# The binary goes to /<basename> with mode 0755, owned by root; timestamps are 0 so the same
# binary gives the same image digest.
import hashlib
import io
import json
import os
import platform
import sys
import tarfile

ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
        "s390x": "s390x", "riscv64": "riscv64"}


def add_bytes(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def blob(tar, data):
    digest = hashlib.sha256(data).hexdigest()
    add_bytes(tar, "blobs/sha256/" + digest, data)
    return "sha256:" + digest


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: mkimage.py BINARY IMAGE-NAME OUT.tar\n")
        return 2
    binary, name, out = argv[1:]
    arch = ARCH.get(platform.machine())
    if arch is None:
        sys.stderr.write("mkimage.py: unknown machine '%s'\n" % platform.machine())
        return 1
    with open(binary, "rb") as f:
        exe = f.read()
    base = os.path.basename(binary)

    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w", format=tarfile.PAX_FORMAT) as layer:
        add_bytes(layer, base, exe, 0o755)
    layer = layer_buf.getvalue()
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()

    with tarfile.open(out, "w") as tar:
        add_bytes(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        blob(tar, layer)
        config = json.dumps({
            "architecture": arch, "os": "linux",
            "config": {"Entrypoint": ["/" + base], "User": "0:0",
                       "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }, sort_keys=True).encode()
        config_digest = blob(tar, config)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest, "size": len(layer)}],
        }, sort_keys=True).encode()
        manifest_digest = blob(tar, manifest)
        index = json.dumps({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest, "size": len(manifest),
                "platform": {"architecture": arch, "os": "linux"},
                # containerd names the imported image after this annotation.
                "annotations": {"io.containerd.image.name": name,
                                "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]},
            }],
        }, sort_keys=True).encode()
        add_bytes(tar, "index.json", index)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
