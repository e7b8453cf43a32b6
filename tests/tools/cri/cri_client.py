#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# cri_client.py: a minimal CRI (k8s.io/cri-api runtime.v1) client for the runtime e2e tests, the
# few calls kubelet makes for a pod sandbox: Version, RunPodSandbox, PodSandboxStatus,
# StopPodSandbox, RemovePodSandbox.
# The messages come from runtime.proto beside this file, compiled at run time into a descriptor
# set (grpc_tools.protoc, else protoc) in a temporary directory and loaded with the protobuf
# runtime: no generated code is kept, and no protoc/protobuf version pairing matters.
# $CRI_SOCKET is the default --socket; $CRI_DESCRIPTOR_SET, if set, caches the compiled set.
#
#   cri_client.py [--socket PATH] [--timeout S] version
#   cri_client.py ... conditions       (lines: "RuntimeReady true", "NetworkReady false REASON: MSG")
#   cri_client.py ... cniconfig        (the CNI config the runtime has loaded, JSON; containerd)
#   cri_client.py ... run NAME NAMESPACE UID [--cgroup-parent P] [--log-dir D] [--hostname H]
#   cri_client.py ... status ID        (lines: "state ...", "ip ...", "netns ...", "pid ...")
#   cri_client.py ... stop ID
#   cri_client.py ... rm ID
# Exit 0 on success, 1 when the runtime answers with an error (printed on stderr), 2 on usage.
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = "runtime.proto"
SERVICE = "runtime.v1.RuntimeService"


def compile_proto():
    """runtime.proto compiled to a serialised FileDescriptorSet."""
    with tempfile.TemporaryDirectory(prefix="cnibox-cri-") as tmp:
        out = os.path.join(tmp, "runtime.desc")
        args = ["-I" + HERE, "--descriptor_set_out=" + out, PROTO]
        try:
            from grpc_tools import protoc  # python3-grpc-tools
            rc = protoc.main(["protoc"] + args)
        except ImportError:
            exe = shutil.which("protoc")  # protobuf-compiler
            if exe is None:
                sys.exit("cri_client: neither grpc_tools (python3-grpc-tools) nor protoc is installed")
            rc = subprocess.run([exe] + args).returncode
        if rc != 0:
            sys.exit("cri_client: cannot compile %s (exit %d)" % (os.path.join(HERE, PROTO), rc))
        with open(out, "rb") as f:
            return f.read()


def compile_descriptors():
    """The message classes of runtime.proto by name. $CRI_DESCRIPTOR_SET, if set, caches the
    compiled set (a test makes many calls; compiling takes longer than the call)."""
    cache = os.environ.get("CRI_DESCRIPTOR_SET")
    data = None
    if cache and os.path.exists(cache) and \
            os.path.getmtime(cache) >= os.path.getmtime(os.path.join(HERE, PROTO)):
        with open(cache, "rb") as f:
            data = f.read()
    if not data:
        data = compile_proto()
        if cache:
            tmp = "%s.tmp.%d" % (cache, os.getpid())
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, cache)
    fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    classes = {}
    for fd in fds.file:
        for m in fd.message_type:
            desc = pool.FindMessageTypeByName("%s.%s" % (fd.package, m.name))
            if hasattr(message_factory, "GetMessageClass"):
                classes[m.name] = message_factory.GetMessageClass(desc)
            else:
                classes[m.name] = message_factory.MessageFactory(pool).GetPrototype(desc)
    return classes


class Runtime:
    def __init__(self, socket, timeout):
        self.msg = compile_descriptors()
        self.timeout = timeout
        self.channel = grpc.insecure_channel("unix://" + socket)

    def call(self, method, request):
        reply = self.msg[method + "Response"]
        rpc = self.channel.unary_unary("/%s/%s" % (SERVICE, method),
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=reply.FromString)
        try:
            return rpc(request, timeout=self.timeout, wait_for_ready=True)
        except grpc.RpcError as e:
            sys.stderr.write("cri_client: %s: %s: %s\n" % (method, e.code().name, e.details()))
            sys.exit(1)


def netns_and_pid(info):
    """containerd's verbose status: info["info"] is JSON holding the sandbox's OCI spec and pid."""
    try:
        doc = json.loads(info.get("info", "{}"))
    except ValueError:
        return "", 0
    path = ""
    for ns in doc.get("runtimeSpec", {}).get("linux", {}).get("namespaces", []) or []:
        if ns.get("type") == "network":
            path = ns.get("path", "")
    return path, doc.get("pid", 0)


def main():
    p = argparse.ArgumentParser(prog="cri_client.py", description="minimal CRI runtime.v1 client")
    p.add_argument("--socket", default=os.environ.get("CRI_SOCKET", "/run/containerd/containerd.sock"))
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per call")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("version")
    sub.add_parser("conditions")
    sub.add_parser("cniconfig")
    r = sub.add_parser("run")
    r.add_argument("name")
    r.add_argument("namespace")
    r.add_argument("uid")
    r.add_argument("--cgroup-parent", default="")
    r.add_argument("--log-dir", default="")
    r.add_argument("--hostname", default="")
    for c in ("status", "stop", "rm"):
        sub.add_parser(c).add_argument("id")
    a = p.parse_args()

    rt = Runtime(a.socket, a.timeout)
    m = rt.msg
    if a.cmd == "version":
        v = rt.call("Version", m["VersionRequest"](version="v1"))
        print("%s %s (CRI %s)" % (v.runtime_name, v.runtime_version, v.runtime_api_version))
    elif a.cmd in ("conditions", "cniconfig"):
        st = rt.call("Status", m["StatusRequest"](verbose=True))
        if a.cmd == "cniconfig":
            print(st.info.get("cniconfig", ""))
        for c in st.status.conditions if a.cmd == "conditions" else []:
            extra = " %s: %s" % (c.reason, c.message) if c.reason or c.message else ""
            print("%s %s%s" % (c.type, "true" if c.status else "false", extra))
    elif a.cmd == "run":
        # What kubelet sends for a pod on the pod network: the pod's name/namespace/uid (containerd
        # turns them into K8S_POD_* CNI_ARGS), its own network namespace (mode POD).
        cfg = m["PodSandboxConfig"](
            metadata=m["PodSandboxMetadata"](name=a.name, namespace=a.namespace, uid=a.uid, attempt=0),
            hostname=a.hostname or a.name[:63],
            log_directory=a.log_dir,
            linux=m["LinuxPodSandboxConfig"](
                cgroup_parent=a.cgroup_parent,
                security_context=m["LinuxSandboxSecurityContext"](
                    namespace_options=m["NamespaceOption"](network=0, pid=0, ipc=0))))
        cfg.labels["io.kubernetes.pod.name"] = a.name
        cfg.labels["io.kubernetes.pod.namespace"] = a.namespace
        cfg.labels["io.kubernetes.pod.uid"] = a.uid
        print(rt.call("RunPodSandbox", m["RunPodSandboxRequest"](config=cfg)).pod_sandbox_id)
    elif a.cmd == "status":
        s = rt.call("PodSandboxStatus", m["PodSandboxStatusRequest"](pod_sandbox_id=a.id, verbose=True))
        state = {0: "SANDBOX_READY", 1: "SANDBOX_NOTREADY"}.get(s.status.state, str(s.status.state))
        path, pid = netns_and_pid(s.info)
        print("state %s" % state)
        print("ip %s" % s.status.network.ip)
        print("netns %s" % path)
        print("pid %d" % pid)
    elif a.cmd == "stop":
        rt.call("StopPodSandbox", m["StopPodSandboxRequest"](pod_sandbox_id=a.id))
    elif a.cmd == "rm":
        rt.call("RemovePodSandbox", m["RemovePodSandboxRequest"](pod_sandbox_id=a.id))
    return 0


if __name__ == "__main__":
    sys.exit(main())
