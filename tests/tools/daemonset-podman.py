#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""daemonset-podman.py: the istio-cni-node DaemonSet of a `helm template` output, as the kubelet
would run its one container on a node, turned into `podman run` arguments (tests/e2e/helm/
daemonset.test.sh). Usage:

    daemonset-podman.py RENDERED.yaml --node NAME --pod NAME --sa-dir DIR --env K=V ... > plan.json

The plan: {"image", "run": [podman run args, without the image], "command", "args",
"hostPaths": [{"path", "type", "mountPath"}], "readiness": {"port", "path"}, "rbacRules": [PolicyRule...]}.

What the kubelet does and this reproduces: `command` replaces the image's entrypoint and `args`
its cmd; env is envFrom (ConfigMaps, in order) then env (later wins); the downward API
(metadata.name, metadata.namespace, spec.nodeName, limits.*); KUBERNETES_SERVICE_HOST/PORT; the
service account's token dir; securityContext (user, group, privileged, capabilities); hostPath
volumes with their type (Directory must exist, DirectoryOrCreate is created). Anything in the pod
spec this script does not know how to reproduce is an error, not a silent skip: a chart change
then fails the test instead of being left untested.
"""
import argparse
import json
import sys

import yaml

KNOWN_CONTAINER_KEYS = {"name", "image", "command", "args", "ports", "readinessProbe", "securityContext",
                        "envFrom", "env", "volumeMounts", "resources", "imagePullPolicy"}
# The pod-level keys that do not change how the container runs on one node.
SCHEDULING_KEYS = {"nodeSelector", "tolerations", "priorityClassName", "serviceAccountName", "affinity",
                   "terminationGracePeriodSeconds", "containers", "volumes", "imagePullSecrets", "hostNetwork",
                   "dnsPolicy", "securityContext"}


def die(msg):
    sys.stderr.write("daemonset-podman: %s\n" % msg)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rendered")
    ap.add_argument("--node", required=True)
    ap.add_argument("--pod", required=True)
    ap.add_argument("--sa-dir", required=True)
    ap.add_argument("--env", action="append", default=[], help="K=V the kubelet adds (service host/port)")
    ap.add_argument("--memory", default="25769803776", help="node allocatable memory (limits.memory default)")
    o = ap.parse_args()

    with open(o.rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    ds = [d for d in by_kind.get("DaemonSet", []) if d["metadata"]["name"] == "istio-cni-node"]
    if len(ds) != 1:
        die("want one DaemonSet istio-cni-node, found %d" % len(ds))
    ds = ds[0]
    ns = ds["metadata"]["namespace"]
    spec = ds["spec"]["template"]["spec"]
    for k in spec:
        if k not in SCHEDULING_KEYS:
            die("pod spec key %r is not reproduced" % k)
    if spec.get("securityContext"):
        die("pod securityContext %r is not reproduced" % spec["securityContext"])
    if len(spec["containers"]) != 1 or spec.get("initContainers"):
        die("want exactly one container")
    c = spec["containers"][0]
    for k in c:
        if k not in KNOWN_CONTAINER_KEYS:
            die("container key %r is not reproduced" % k)
    configmaps = {d["metadata"]["name"]: d.get("data") or {} for d in by_kind.get("ConfigMap", [])
                  if d["metadata"].get("namespace") == ns}

    env = {}
    for src in c.get("envFrom", []):
        ref = src.get("configMapRef")
        if not ref or set(src) != {"configMapRef"}:
            die("envFrom %r is not reproduced" % src)
        if ref["name"] not in configmaps:
            die("envFrom names ConfigMap %r, which the chart does not render" % ref["name"])
        env.update(configmaps[ref["name"]])
    limits = (c.get("resources") or {}).get("limits") or {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        vf = e.get("valueFrom") or die("env %r has neither value nor valueFrom" % e["name"])
        if "fieldRef" in vf:
            fp = vf["fieldRef"]["fieldPath"]
            val = {"metadata.name": o.pod, "metadata.namespace": ns, "spec.nodeName": o.node}.get(fp)
            if val is None:
                die("env %s: fieldRef %r is not reproduced" % (e["name"], fp))
            env[e["name"]] = val
        elif "resourceFieldRef" in vf:
            r = vf["resourceFieldRef"]
            if r.get("resource") != "limits.memory" or str(r.get("divisor", "1")) != "1":
                die("env %s: resourceFieldRef %r is not reproduced" % (e["name"], r))
            if "memory" in limits:
                die("env %s: a memory limit is set; not reproduced" % e["name"])
            env[e["name"]] = o.memory  # no limit: the node's allocatable memory
        else:
            die("env %s: valueFrom %r is not reproduced" % (e["name"], vf))
    for kv in o.env:
        k, _, v = kv.partition("=")
        env[k] = v

    run = []
    sc = c.get("securityContext") or {}
    known_sc = {"privileged", "runAsUser", "runAsGroup", "runAsNonRoot", "capabilities", "readOnlyRootFilesystem",
                "allowPrivilegeEscalation", "seLinuxOptions"}
    for k in sc:
        if k not in known_sc:
            die("securityContext key %r is not reproduced" % k)
    uid, gid = sc.get("runAsUser", 0), sc.get("runAsGroup", 0)
    if sc.get("runAsNonRoot") and uid == 0:
        die("runAsNonRoot with uid 0: the kubelet would refuse to start the container")
    run += ["--user", "%d:%d" % (uid, gid)]
    if sc.get("privileged"):
        run.append("--privileged")
    caps = sc.get("capabilities") or {}
    for cap in caps.get("drop", []):
        run += ["--cap-drop", cap.lower()]
    for cap in caps.get("add", []):
        run += ["--cap-add", cap]
    if sc.get("readOnlyRootFilesystem"):
        run.append("--read-only")
    if sc.get("allowPrivilegeEscalation") is False:
        run += ["--security-opt", "no-new-privileges"]
    # The pod network is the test's own netns (the sandbox's, where the stand-in API server listens
    # on loopback), with or without hostNetwork: the probe and metrics are reached there.
    run += ["--network", "host"]
    for k in sorted(env):
        run += ["--env", "%s=%s" % (k, env[k])]

    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    host_paths = []
    for m in c.get("volumeMounts", []):
        v = volumes.get(m["name"]) or die("volumeMount %r names no volume" % m["name"])
        hp = v.get("hostPath") or die("volume %r is not a hostPath; not reproduced" % m["name"])
        t = hp.get("type", "")
        if t not in ("", "Directory", "DirectoryOrCreate"):
            die("hostPath type %r is not reproduced" % t)
        host_paths.append({"path": hp["path"], "type": t, "mountPath": m["mountPath"]})
        run += ["--volume", "%s:%s%s" % (hp["path"], m["mountPath"], ":ro" if m.get("readOnly") else "")]
    # automountServiceAccountToken: the kubelet's projected token, CA and namespace.
    run += ["--volume", "%s:/var/run/secrets/kubernetes.io/serviceaccount:ro" % o.sa_dir]

    probe = (c.get("readinessProbe") or {}).get("httpGet") or die("no readinessProbe.httpGet")

    # The rights the chart binds to the DaemonSet's service account: every ClusterRole a
    # ClusterRoleBinding gives to it.
    sa = spec.get("serviceAccountName") or die("no serviceAccountName")
    roles = {d["metadata"]["name"]: d for d in by_kind.get("ClusterRole", [])}
    rules = []
    for b in by_kind.get("ClusterRoleBinding", []):
        if any(s.get("kind") == "ServiceAccount" and s.get("name") == sa and s.get("namespace") == ns
               for s in b.get("subjects", [])):
            role = roles.get(b["roleRef"]["name"]) or die("binding %s names a ClusterRole the chart does not render"
                                                        % b["metadata"]["name"])
            rules += role.get("rules") or []

    json.dump({"image": c["image"], "run": run, "command": c.get("command"), "args": c.get("args") or [],
               "hostPaths": host_paths, "readiness": {"port": probe["port"], "path": probe["path"]},
               "metricsPort": next((p["containerPort"] for p in c.get("ports", []) if p.get("name") == "metrics"),
                                   None),
               "namespace": ns, "serviceAccount": sa, "rbacRules": rules}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
